/* bundle: site sync without a network (docs/sync.md). A bundle file holds
 * the changesets one side owes the other after the positions the other
 * side acknowledged, at least one (it carries the sender's own
 * acknowledgements). Importing one applies its changesets in order, each
 * in its own transaction, after checking all of them; then a reply bundle
 * is written for the way back: the acknowledgement of what was applied,
 * and whatever this side owes the other. */
#ifndef GH_SYNC_BUNDLE_H
#define GH_SYNC_BUNDLE_H

#include "apply.h"
#include "peer.h"

#include <stddef.h>

struct sync_bundle_stats {
	int changesets, applied, already;
	long long rows, raw, bytes; /* raw: the rows' raw size (outbox.h) */
	char path[4200];            /* the file written */
};

/* Everything pending for p, as a bundle in memory (malloc'd). */
int sync_bundle_make(const struct sync_peer *p, unsigned char **buf, size_t *len, struct sync_bundle_stats *st,
		     char *err, size_t errlen);
/* The same written to dir under a new name (st->path), atomically, and
 * audited as sync.export. */
int sync_bundle_write(const struct sync_peer *p, const char *dir, const struct sync_actor *who,
		      struct sync_bundle_stats *st, char *err, size_t errlen);
/* Check every changeset of a bundle, then apply them in order. *p is the
 * peer it came from. 0 (st says how many were new), or -1 with err. */
int sync_bundle_apply(const unsigned char *buf, size_t len, const struct sync_actor *who, struct sync_peer *p,
		      struct sync_bundle_stats *st, char *err, size_t errlen);

#endif
