/* status: site sync as seen from here, for the API, the command line, the
 * sync job's back-off, the stale-sync alert and the ownership rule. */
#ifndef GH_SYNC_STATUS_H
#define GH_SYNC_STATUS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* {role: "none"|"site"|"central", ...}: a site's central, last sync, next
 * attempt, last error, streams with cursors and pending counts; a
 * central's pairings. Scoped to `tenant` (-1: every tenant, for a system
 * admin and the command line): a central lists that tenant's pairings
 * only, and a site shows its central only to its paired tenant. */
cJSON *sync_status_json(int64_t tenant);

/* The site credential, opened from its seal. 0 or -1. Wipe it after use. */
int sync_site_credential(char *out, size_t len);

/* After an exchange (site): ok clears the failures and records the time;
 * a failure counts, records why and when to try again (30 s, doubling, at
 * most sync.retry_max). */
int sync_site_record(int ok, const char *error);
/* May a scheduled exchange run now? 1 yes, 0 not before *until (Unix s). */
int sync_site_due(long long *until);
/* The alert rule: a site not synced for sync.alert_after raises
 * sync.stale (once), resolved by the next complete exchange. 0 or -1. */
int sync_stale_rule(void);

/* On a paired site: 1 and the central's address (for refusals such as
 * "change it on the central appliance (URL)"); 0 elsewhere. */
int sync_owned_by_central(char *url, size_t len);
/* The tenant a system admin acts on by default: a site's paired tenant,
 * else the default tenant (1). */
int64_t sync_default_tenant(void);

#endif
