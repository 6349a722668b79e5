/* pairing: how a site appliance becomes a site of a central (docs/sync.md).
 *
 * On the central an admin creates a pairing for one site of one tenant and
 * gets a one-time code (100 random bits, "GHP-XXXXX-XXXXX-XXXXX-XXXXX",
 * valid sync.pairing_ttl, stored only as a keyed digest). On the site a
 * system admin gives the central's address, its certificate's fingerprint
 * and the code; the site connects with that certificate pinned and claims
 * the pairing with its public keys; the central answers with its own
 * public keys, the tenant and site, the tenant's keys sealed to the site,
 * and the site credential (shown to nobody, stored as a digest there and
 * sealed here). A code serves one site: the same site may claim it again
 * until it expires (a lost answer), another site never.
 *
 * A site must be newly installed: nothing of its own but admins. It holds
 * the central's rows under the central's ids and tenant id. */
#ifndef GH_SYNC_PAIRING_H
#define GH_SYNC_PAIRING_H

#include "apply.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Outcomes for callers that answer HTTP. */
enum sync_outcome {
	SYNC_OK = 0,
	SYNC_E_NOTFOUND = 1, /* 404 */
	SYNC_E_CONFLICT = 2, /* 409 */
	SYNC_E_INVALID = 3,  /* 400 */
	SYNC_E_DENIED = 4,   /* 401: a wrong or expired code */
	SYNC_E_LINK = 5,     /* 502: the central could not be reached or refused */
	SYNC_E_INTERNAL = -1,
};

/* --- the central --------------------------------------------------------------- */

/* A new pairing for site_id of tenant. *out: {pairing, code, expires_at,
 * fingerprint, central_id}. */
enum sync_outcome sync_pairing_create(int64_t tenant, int64_t site_id, const struct sync_actor *who, cJSON **out,
				      char *err, size_t errlen);
/* A site's claim (the JSON it POSTs to /api/v1/sync/claim), answered with
 * what the site needs. */
enum sync_outcome sync_pairing_claim(const cJSON *req, const char *source, cJSON **out, char *err, size_t errlen);
/* Revoke: the credential stops working at once. tenant < 0: any. */
enum sync_outcome sync_pairing_revoke(int64_t tenant, int64_t id, const struct sync_actor *who);
/* One pairing (tenant < 0: any) or all of a tenant (tenant < 0: every
 * tenant) as JSON; NULL when not found. */
cJSON *sync_pairing_get(int64_t tenant, int64_t id);
cJSON *sync_pairing_list(int64_t tenant);
/* A site credential from an Authorization header: its active pairing and
 * tenant. 0, or -1. */
int sync_site_auth(const char *token, int64_t *pairing, int64_t *tenant);
/* The web server's certificate fingerprint, "AA:BB:...". 0 or -1. */
int sync_own_fingerprint(char out[96]);

/* --- the site ------------------------------------------------------------------ */

/* Pair this appliance with the central at url (pinned to fingerprint)
 * using code. *out: the site's status. */
enum sync_outcome sync_pair(const char *url, const char *fingerprint, const char *code, const struct sync_actor *who,
			    cJSON **out, char *err, size_t errlen);
/* The two halves of sync_pair around the request to the central, for a
 * claim carried another way (the benchmark): the claim to send, and
 * taking the central's answer. */
cJSON *sync_pair_request(const char *code, char *err, size_t errlen);
enum sync_outcome sync_pair_finish(const cJSON *answer, const char *url, const char *fingerprint,
				   const struct sync_actor *who, char *err, size_t errlen);

/* A pairing code as typed (case, blanks, dashes and the "GHP-" prefix do
 * not matter; I, L and O read as 1, 1 and 0) in its 20-character form. 0 or
 * -1. */
int sync_code_normalize(const char *in, char out[21]);

#endif
