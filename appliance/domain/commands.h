/* commands: what admins ask terminals to do (unlock a door for N seconds,
 * lock down, resync, reboot, set the time, update firmware), one row each
 * with its state: queued -> sent -> done | failed, or expired when its time
 * ran out first. A command queued while the terminal is offline is
 * delivered when it returns, unless expired; an expired command is never
 * sent (an unlock is never replayed late). */
#ifndef GH_COMMANDS_H
#define GH_COMMANDS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct jv;

/* Validate {kind, params, ttl_seconds} from the API. */
void command_check(struct jv *v, int64_t tenant, const cJSON *body);

/* Queue a command. params is a JSON object (may be NULL). ttl_ms after now. */
int command_create(int64_t tenant, int64_t device_id, const char *kind, const cJSON *params, long long ttl_ms,
		   const char *created_by, int64_t *id);

/* Expire what is past its time; then the devices that have queued,
 * unexpired commands, ascending, in *ids (malloc'd; free it). Returns the
 * count, or -1. One query whatever the number of terminals online. */
int commands_due_devices(int64_t **ids);

/* The queued, unexpired commands of a device, oldest first, as {id, kind,
 * params, expires_at}; they are marked sent. Returns the count, or -1. */
int commands_take_due(int64_t device_id, cJSON *out);

/* The terminal reports a command's end: state "done" or "failed". 0, 1
 * unknown command for this device, -1. */
int command_finish(int64_t device_id, int64_t id, const char *state, const char *result);

/* A terminal went away: its sent-but-unfinished commands go back to queued
 * (delivered again when it returns, unless expired by then). device_id 0:
 * every terminal's (at start, after a crash left some 'sent'). */
int commands_requeue(int64_t device_id);

/* Views for the API. */
cJSON *command_get(int64_t tenant, int64_t id);
int command_list(int64_t tenant, int64_t device_id, int64_t cursor, int limit, cJSON *out, int64_t *next);

/* Queued commands exist for some device? (the link checks cheaply) */
int commands_pending_any(void);

#endif
