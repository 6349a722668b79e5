/* alerts: alert rows raised by any module (an admin locked out, an address
 * blocked, a job failed, a door forced open, a terminal offline ...), their
 * life as portal notices (open -> acknowledged -> resolved) and the
 * deliveries they owe to the configured channels.
 *
 * Raising an alert records it and, in the same transaction, one delivery
 * row per channel whose severity filter it passes (e-mail, each webhook);
 * once that transaction commits the alerts-deliver job is woken and the
 * live stream is told. An alert raised with a dedupe key is open at most
 * once per (kind, key): raising it again while unresolved only counts an
 * occurrence, so a flapping condition or a door forced ten times in a row
 * gives one notice, not ten.
 *
 * Visibility: system admins see every alert (or one tenant's with
 * X-Tenant); the roles of a tenant see that tenant's alerts only.
 * Appliance-wide alerts (tenant 0: jobs, disk, certificates, the audit
 * chain, blocked addresses) are for system admins. */
#ifndef GH_ALERTS_H
#define GH_ALERTS_H

#include <cJSON.h>
#include <stdint.h>

/* "info" 0, "warning" 1, "critical" 2; -1 if unknown. */
int alert_severity_rank(const char *severity);

/* severity: "info", "warning" or "critical". details may be NULL. Returns
 * the alert id, or -1. Works inside or outside a transaction. */
int64_t alert_raise(const char *kind, const char *severity, int64_t tenant, const char *subject,
		    const cJSON *details);

/* The same with a dedupe key ("device:12", "web"): returns the new id, 0
 * when an alert of that kind and key is open already (its occurrences and
 * last_seen_at are updated), or -1. */
int64_t alert_raise_keyed(const char *kind, const char *key, const char *severity, int64_t tenant,
			  const char *subject, const cJSON *details);

/* The condition behind an open (kind, key) alert has cleared: resolve it
 * by "system" with why, and owe the channels a "resolved" notice. Returns
 * 1 when one was resolved, 0 when none was open, -1 on error. */
int alert_resolve_key(const char *kind, const char *key, const char *why);

/* The keys of the open alerts of a kind (a JSON array of strings), for the
 * rules that check whether a condition still holds. NULL on error. */
cJSON *alert_open_keys(const char *kind);

/* Which alerts a caller sees: one tenant's (tenant > 0), or every alert
 * (tenant < 0, system admins without X-Tenant). */
struct alert_filter {
	int64_t tenant;
	const char *state;     /* open, acknowledged, resolved, unresolved, or NULL */
	const char *severity;  /* this or more severe, or NULL */
	const char *kind;      /* exact, or a prefix ending in '.' ("door."), or NULL */
	int64_t cursor;        /* ids below this; 0: newest */
	int limit;
};
int alert_list(const struct alert_filter *f, cJSON *out, int64_t *next);
/* One alert as JSON, or NULL when not found or not visible (tenant as above). */
cJSON *alert_get(int64_t tenant, int64_t id);

/* An admin acknowledges (seen, being handled) or resolves an alert. Inside
 * the caller's transaction. 0 done, 1 not found, 2 already in that state,
 * -1 error. */
int alert_acknowledge(int64_t tenant, int64_t id, int64_t admin_id);
int alert_resolve(int64_t tenant, int64_t id, const char *actor, const char *note);

/* The deliveries of one alert, as a JSON array; NULL when not visible. */
cJSON *alert_deliveries(int64_t tenant, int64_t id);

/* Alert JSON for a delivery or the stream: {id, kind, severity, subject,
 * tenant, created_at, details, ...} of any alert, whatever the scope. */
cJSON *alert_json_by_id(int64_t id);

/* Whether a channel ("email", "webhook") takes alerts of this severity. */
int alert_channel_wants(const char *channel, const char *severity);

#endif
