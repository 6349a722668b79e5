/* exchange: a site's network sync with its central (docs/sync.md). The
 * site connects out (only the central needs to be reachable), with the
 * central's certificate pinned and its site credential:
 *
 *   POST /api/v1/sync/pull   {"cursors": the site's applied positions of the
 *                            central's streams}; the answer is the next
 *                            changeset (X-Gatehouse-Sync-More: 1 when more
 *                            waits), or 204 when the site is up to date
 *   POST /api/v1/sync/push   a changeset of the site's streams; the answer
 *                            gives the central's applied positions, which
 *                            become the site's acknowledged ones
 *
 * Pulling comes first: applying the central's changes writes audit entries
 * here, which the push then carries, so an exchange leaves nothing behind.
 *
 * Each changeset is applied in its own transaction, so a cut link loses at
 * most the one in flight, and the next exchange starts from the cursors
 * that were committed. */
#ifndef GH_SYNC_EXCHANGE_H
#define GH_SYNC_EXCHANGE_H

#include <stddef.h>

struct sync_stats {
	long long pushed, pulled;            /* changesets */
	long long rows_sent, rows_received;
	long long bytes_sent, bytes_received;
};

enum { SYNC_DONE = 0, SYNC_LINK = 1, SYNC_STOPPED = 2, SYNC_REFUSED = -1 };

/* Pull everything new, then push everything pending. stop(arg), if given,
 * is asked between changesets. Returns SYNC_DONE; SYNC_LINK when the
 * central could not be reached or failed (try again later); SYNC_STOPPED;
 * or SYNC_REFUSED when one side refused what the other sent (a revoked
 * pairing, a changeset that does not check): an admin must look. err says
 * why. */
int sync_exchange(struct sync_stats *st, int (*stop)(void *), void *arg, char *err, size_t errlen);

#endif
