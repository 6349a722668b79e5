/* apply: check a changeset from the peer and apply it (docs/sync.md).
 *
 * Checked before anything is written: the format, that it comes from the
 * peer (sender, pairing, direction), that it is for this appliance
 * (receiver), the sender's signature, and that it decrypts. Then, in one
 * write transaction: for each stream it carries, a range at or below what
 * was applied changes nothing (already applied), a range starting beyond
 * it is refused (an earlier changeset is missing); the rows of the new
 * streams are applied, each only to what the sender owns (a site takes the
 * central's tenant and site and nothing else; a central takes the site's
 * events, audit entries and terminal status); the cursors move; the
 * acknowledgements it carries are recorded; one audit entry is written.
 *
 * A site applies with foreign keys off: a changeset holds each changed
 * thing as it is now, so a row may arrive before the row it refers to
 * (which comes in the same or a later changeset). Deletes therefore remove
 * children themselves. */
#ifndef GH_SYNC_APPLY_H
#define GH_SYNC_APPLY_H

#include "cset.h"
#include "peer.h"

#include <stddef.h>

struct sync_actor {
	const char *type;   /* audit actor_type: "admin", "system" ... */
	const char *id;     /* "admin:3", "cli:root", "site:2", "job:sync" */
	const char *source; /* address, or "cli" */
	int64_t tenant;     /* for the audit entry */
};

#define SYNC_GONE_MAX 64

struct sync_result {
	int applied;            /* 1: new rows applied; 0: nothing new (already applied, or only acknowledgements) */
	long long rows, deleted, skipped, unreadable;
	int gap;                /* refused: an earlier changeset is missing */
	struct cset_header h;
	/* Terminals the central deleted (or moved to another site): their
	 * certificates must stop working now. */
	char gone[SYNC_GONE_MAX][24];
	int ngone;
};

/* Called after a changeset that deleted terminals was committed, once per
 * terminal uid, so that the device link cuts it at once. The service sets
 * it (serve.c); elsewhere (a bundle imported on the command line) the
 * device link reads the terminals again at its next start. */
extern void (*sync_terminal_gone)(const char *uid);

/* The peer a changeset is from, as this appliance knows it: a site's
 * central, or the central's pairing it names. 0, or -1 with a message for
 * people ("this bundle is for another site", "from a central this site is
 * not paired with" ...). */
int sync_peer_of(const unsigned char *cs, size_t len, struct sync_peer *p, char *err, size_t errlen);

/* Check and apply. 0 (res->applied says whether anything was new), or -1
 * with err. */
int sync_apply(const struct sync_peer *p, const unsigned char *cs, size_t len, const struct sync_actor *who,
	       struct sync_result *res, char *err, size_t errlen);

#endif
