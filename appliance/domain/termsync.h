/* termsync: what a door terminal needs to decide on its own, and the
 * changes to it since the terminal last asked (docs/device-protocol.md).
 *
 * A terminal's world is its doors (doors.terminal_id), the access levels
 * covering them, those levels' schedules (windows and holiday dates), the
 * people in those levels' groups, and their credentials of every kind:
 * cards and mobile tokens as keyed hashes (never numbers), PINs as their
 * Argon2id strings, face and fingerprint templates as they were enrolled
 * (a terminal matches them itself). Changes come from sync_log after the
 * terminal's cursor; each
 * changed thing is sent as it is now ("upsert") if the terminal should have
 * it, or as "delete" if it should not (any more). A cursor of 0, or one
 * older than the log's start, gets everything ("full"). */
#ifndef GH_TERMSYNC_H
#define GH_TERMSYNC_H

#include "devices.h"

#include <cJSON.h>

#define TERMSYNC_BATCH 400           /* changes per message, at most */
#define TERMSYNC_MAX_BYTES (256 << 10) /* a message is sent once its changes reach this (templates are large) */

/* Called for each message of the answer: {"full": bool, "changes": [...],
 * "done": bool, "cursor": N (on the last), "terminal_key": base64 (full
 * only)}. Return 0 to go on, -1 to stop. */
typedef int (*termsync_emit)(void *arg, cJSON *msg);

/* Build the answer to a sync request of device d with its cursor, in one
 * read transaction, calling emit for each message. 0 or -1. */
int termsync_answer(const struct device *d, long long cursor, termsync_emit emit, void *arg);

#endif
