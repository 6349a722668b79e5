/* audit: the tamper-evident log of every authentication event and every
 * change made through the API or the command line (and reads that reveal
 * personal data in bulk).
 *
 * Each entry has a unique id (uid), time, tenant, actor, source address,
 * action, target, outcome, details without personal values, and personal
 * values (before/after of a correction, say) sealed by the vault, never in
 * clear. Entries are hash-chained: hash = BLAKE2b-256(prev_hash || canonical
 * form), so editing, removing or reordering one breaks the chain at that
 * entry. The chain head is signed at intervals with the appliance's Ed25519
 * audit key (vault_audit_sign) into audit_anchors, so the chain cannot be
 * rewritten wholesale either. `gatehouse audit verify` checks it all,
 * offline, and names the first bad entry. */
#ifndef GH_AUDIT_H
#define GH_AUDIT_H

#include <cJSON.h>
#include <sodium.h>
#include <stdint.h>

struct audit_event {
	int64_t tenant;         /* 0: the appliance itself (stored as NULL) */
	const char *actor_type; /* "admin", "token", "terminal", "system", "anonymous" */
	const char *actor_id;   /* "admin:5", "token:3", "cli:root", "user:<name tried>" ... */
	const char *source;     /* client address, or "cli" */
	const char *action;     /* dotted: "auth.login", "admin.create", "people.export" ... */
	const char *target;     /* "admin:5", "" when none */
	const char *outcome;    /* "ok", "denied", "failed" */
	const cJSON *details;   /* object without personal values, or NULL */
	const cJSON *personal;  /* personal values to seal, or NULL */
	int64_t person;         /* > 0: seal `personal` under this person's key (shredded
				 * with them); 0: under the tenant's data key */
};

/* Append one entry. Inside the caller's write transaction when one is open
 * (so a change and its entry commit together or not at all), otherwise in
 * a transaction of its own. Returns 0, or -1 (logged). */
int audit_append(const struct audit_event *ev);

/* Sign the chain head into audit_anchors if it moved since the last
 * signature. Returns 1 if signed, 0 if nothing to sign, -1 on error. */
int audit_sign_head(void);

struct audit_report {
	int ok;                 /* 1 when every check passed */
	long long entries;      /* entries checked */
	long long anchors;      /* signatures checked */
	long long unsigned_tail;/* entries after the last signed head (normal: signed soon) */
	int64_t first_bad_id;   /* 0 when ok */
	char first_bad_uid[40];
	char reason[256];       /* what is wrong with the first bad entry or anchor */
};

/* Retention: remove the oldest entries, up to and including upto_id, at
 * most batch per transaction. Each transaction removes a prefix of the
 * chain, signs a 'cut' anchor at the last entry it removed (the chain then
 * verifies from the first remaining entry) and drops the anchors that only
 * spoke of removed entries, so a crash between batches leaves a valid
 * chain. stop(arg), if given, is asked between batches. Returns the number
 * of entries removed, or -1. */
long long audit_cut(int64_t upto_id, int batch, int (*stop)(void *), void *arg);

/* Check the whole chain and every signature. public_key: the key to trust
 * (for a check against a key exported earlier), or NULL for the key store's.
 * Returns 0 when the check could run (see r->ok), -1 if it could not. */
int audit_verify(const unsigned char *public_key, struct audit_report *r);

/* Listing for the API: newest first, after cursor (an entry id; 0 = from
 * the newest), at most limit entries, filtered. tenant < 0: all tenants
 * (system scope); otherwise only that tenant's entries. Appends objects
 * {id, uid, at (ISO 8601 UTC), tenant_id, actor_type, actor_id, source,
 * action, target, outcome, details} to out; sets *next to the cursor of the
 * next page or 0. Returns the count, or -1. */
struct audit_filter {
	int64_t tenant;
	long long from_ms, to_ms;   /* 0: unbounded */
	const char *actor;          /* exact actor_id, or NULL */
	const char *action;         /* exact action, or prefix ending in '.' ("auth."), or NULL */
	const char *target;         /* exact target, or NULL */
	int64_t cursor;
	int limit;
};
int audit_list(const struct audit_filter *f, cJSON *out, int64_t *next);

#endif
