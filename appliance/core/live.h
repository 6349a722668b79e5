/* live: what just happened, for the console's live view (GET
 * /api/v1/stream). Stored events and alerts are announced here after their
 * transaction commits; each stream waits on the ring for what follows its
 * position and reads the rows themselves from the database, so the ring
 * holds only (kind, tenant, row id) and a stream that falls behind the
 * ring can catch up from the database by id.
 *
 * Also counts the open streams, so that they never take more than their
 * share of the web server's worker threads (each stream holds one). */
#ifndef GH_LIVE_H
#define GH_LIVE_H

#include <stdint.h>

enum live_kind { LIVE_EVENT = 1, LIVE_ALERT = 2 };

struct live_item {
	uint64_t seq;     /* position in the ring, from 1 */
	int kind;         /* LIVE_* */
	int64_t tenant;   /* 0: the appliance */
	int64_t id;       /* events.id or alerts.id */
};

#define LIVE_RING 4096

/* Announce a committed row now. Safe from any thread. */
void live_publish(int kind, int64_t tenant, int64_t id);
/* Announce it when the caller's transaction commits (db_after_commit). */
void live_publish_after_commit(int kind, int64_t tenant, int64_t id);

/* The position after the newest item: where a new stream starts. */
uint64_t live_head(void);

/* Copy up to n items after *pos into out, waiting up to timeout_ms for one
 * to arrive. Returns the number copied (*pos advanced past them), 0 on
 * timeout, -1 when items after *pos were overwritten already (*pos moves to
 * the oldest kept; the caller catches up from the database), -2 when the
 * service is stopping. */
int live_wait(uint64_t *pos, struct live_item *out, int n, int timeout_ms);

/* Take a stream slot: 0, or -1 when max are open. live_leave gives it back. */
int live_enter(int max);
void live_leave(void);
int live_streams(void);

/* Shutdown: wake every stream and make live_wait return -2 from now on. */
void live_stop(void);

#endif
