/* outbox: the next changeset this appliance owes its peer (docs/sync.md).
 *
 * A central sends the tenant's keys that changed ("keys") and every thing
 * it owns that changed ("changes"), each as it is now: a row with all its
 * columns (sealed ones as their ciphertext) or a delete; a site sends its
 * terminals' status ("status"), its audit entries ("audit") and their
 * anchors ("anchors"), and its events ("events"). Everything is read in one
 * read transaction, so the rows and the ranges agree. A changeset holds
 * about `budget` bytes of rows; when more is pending it says so (CSET_MORE)
 * and the next one starts where it stopped. */
#ifndef GH_SYNC_OUTBOX_H
#define GH_SYNC_OUTBOX_H

#include "peer.h"

#include <stddef.h>
#include <stdint.h>

struct sync_built {
	unsigned char *cs;        /* the changeset (malloc'd), or NULL when there was nothing to send */
	size_t len;
	int more;                 /* more was pending than fitted */
	long long rows, raw;      /* rows carried, and their raw size in bytes */
	int64_t from[SYNC_NSTREAMS], to[SYNC_NSTREAMS]; /* per sent stream, in sync_streams_sent order */
};

/* Build the changeset after the positions from[] of this side's streams
 * (sync_streams_sent(p->role) order). With always, one is built even when
 * nothing is new (it carries this side's acknowledgements). 0, or -1 with
 * err. */
int sync_build(const struct sync_peer *p, const int64_t *from, size_t budget, int always, struct sync_built *out,
	       char *err, size_t errlen);

/* sync_log's head (its last position), or 0. */
int64_t sync_log_head(void);

/* Things (rows) pending after the peer's acknowledged positions, per sent
 * stream (for the status page). */
int sync_pending(const struct sync_peer *p, long long counts[SYNC_NSTREAMS]);

#endif
