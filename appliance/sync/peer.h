/* peer: who this appliance exchanges changesets with, and where each
 * stream stands (docs/sync.md).
 *
 * A site has one peer, its central (table sync_central). A central has one
 * peer per active pairing (table sync_pairings). Streams:
 *   central -> site: "keys" (the tenant's key log), "changes" (sync_log
 *                    things the central owns)
 *   site -> central: "status" (terminal status), "audit" (audit entries),
 *                    "anchors" (their signed anchors), "events"
 * For a stream this appliance receives, the cursor is the position it
 * applied; for one it sends, the position the peer acknowledged. */
#ifndef GH_SYNC_PEER_H
#define GH_SYNC_PEER_H

#include <stddef.h>
#include <stdint.h>

enum sync_role { SYNC_NONE, SYNC_SITE, SYNC_CENTRAL };

struct sync_peer {
	enum sync_role role;      /* this appliance's role towards the peer */
	int64_t pairing, tenant, site;
	unsigned char self_id[16], peer_id[16];
	unsigned char peer_sign_pk[32], peer_box_pk[32];
	char url[512];            /* site: the central's address */
	char fingerprint[100];    /* site: the central's certificate, pinned */
};

#define SYNC_NSTREAMS 4
/* The streams this role sends and the ones it receives, in the order
 * changesets carry them; NULL-terminated. */
extern const char *const sync_central_streams[];  /* keys, changes */
extern const char *const sync_site_streams[];     /* status, audit, anchors, events */
const char *const *sync_streams_sent(enum sync_role role);
const char *const *sync_streams_received(enum sync_role role);

/* This appliance's id (meta.appliance_id). 0 or -1. */
int sync_self_id(unsigned char id[16]);

/* This appliance as a site: its central. 0, 1 when not a site, -1. */
int sync_site_peer(struct sync_peer *p);
/* This appliance as a central: an active pairing. 0, 1 none such, -1. */
int sync_central_peer(int64_t pairing, struct sync_peer *p);
/* Which role this appliance has: SYNC_SITE when paired to a central,
 * SYNC_CENTRAL when it has pairings, else SYNC_NONE. */
enum sync_role sync_role_here(void);

/* A central heard from the site of a pairing now (last_contact_at). */
void sync_pairing_touch(int64_t pairing);

/* Cursors. applied: of a received stream; acked: of a sent one. */
int64_t sync_cursor(int64_t pairing, const char *stream, int acked);
/* Move a cursor forward to v (never back, unless force). 0 or -1. */
int sync_cursor_set(int64_t pairing, const char *stream, int acked, int64_t v, int force);

#endif
