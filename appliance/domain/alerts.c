#include "alerts.h"

#include "core/isotime.h"
#include "core/config.h"
#include "core/db.h"
#include "core/live.h"
#include "core/log.h"
#include "jobs/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLS "id, kind, severity, tenant_id, subject, details, created_at, acknowledged_at, acknowledged_by, " \
	     "resolved_at, resolved_by, resolution, occurrences, last_seen_at, dedupe_key"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int alert_severity_rank(const char *severity)
{
	static const char *const names[] = {"info", "warning", "critical"};

	for (int i = 0; severity && i < 3; i++)
		if (strcmp(severity, names[i]) == 0)
			return i;
	return -1;
}

int alert_channel_wants(const char *channel, const char *severity)
{
	enum config_key k = strcmp(channel, "email") == 0 ? CFG_ALERTS_EMAIL_MIN_SEVERITY : CFG_ALERTS_WEBHOOK_MIN_SEVERITY;

	return alert_severity_rank(severity) >= alert_severity_rank(cfg_str(k));
}

/* --- deliveries owed ----------------------------------------------------------------- */

static int add_delivery(int64_t alert, const char *notice, const char *channel, const char *target)
{
	sqlite3_stmt *st = db_stmt("INSERT OR IGNORE INTO alert_deliveries (alert_id, notice, channel, target, "
				   "next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, alert);
	sqlite3_bind_text(st, 2, notice, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, target, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One row per configured channel that takes this severity: "email", and
 * "webhook:N" for the Nth URL of webhook.urls (its URL kept as target, so
 * a later change of the list never sends to the wrong receiver). */
static int queue_deliveries(int64_t alert, const char *notice, const char *severity)
{
	const char *urls = cfg_str(CFG_WEBHOOK_URLS);
	int n = 0, rc = 0;

	if (*cfg_str(CFG_SMTP_RELAY) && alert_channel_wants("email", severity))
		rc |= add_delivery(alert, notice, "email", cfg_str(CFG_SMTP_TO));
	if (!alert_channel_wants("webhook", severity))
		return rc;
	for (const char *p = urls; *p;) {
		size_t len = strcspn(p, ",");
		const char *s = p, *e = p + len;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			char channel[24], url[1024];
			snprintf(channel, sizeof channel, "webhook:%d", ++n);
			snprintf(url, sizeof url, "%.*s", (int)(e - s), s);
			rc |= add_delivery(alert, notice, channel, url);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return rc;
}

struct announce {
	int64_t tenant, id;
};

/* After commit: the stream shows it, and delivery starts now rather than
 * at the job's next tick. */
static void announce(void *arg, int committed)
{
	struct announce *a = arg;

	if (committed) {
		live_publish(LIVE_ALERT, a->tenant, a->id);
		scheduler_kick("alerts-deliver");
	}
	free(a);
}

static void announce_after_commit(int64_t tenant, int64_t id)
{
	struct announce *a = malloc(sizeof *a);

	if (!a)
		return; /* the job's next tick delivers it anyway */
	a->tenant = tenant;
	a->id = id;
	db_after_commit(announce, a);
}

/* --- raising and resolving ----------------------------------------------------------- */

/* Count one more occurrence of an open (kind, key) alert. 1 if there was one. */
static int count_again(const char *kind, const char *key)
{
	sqlite3_stmt *st = db_stmt("UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = unixepoch() "
				   "WHERE kind = ? AND dedupe_key = ? AND resolved_at IS NULL");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(db_get()) > 0;
}

static int64_t insert_alert(const char *kind, const char *key, const char *severity, int64_t tenant,
			    const char *subject, const char *details)
{
	sqlite3_stmt *st = db_stmt("INSERT OR IGNORE INTO alerts (kind, severity, tenant_id, subject, details, "
				   "created_at, last_seen_at, dedupe_key) VALUES (?, ?, ?, ?, ?, unixepoch(), unixepoch(), ?)");
	int64_t id = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, severity, -1, SQLITE_STATIC);
	if (tenant)
		sqlite3_bind_int64(st, 3, tenant);
	sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, details, -1, SQLITE_STATIC);
	if (key)
		sqlite3_bind_text(st, 6, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_changes(db_get()) ? sqlite3_last_insert_rowid(db_get()) : 0;
	sqlite3_reset(st);
	return id;
}

int64_t alert_raise_keyed(const char *kind, const char *key, const char *severity, int64_t tenant,
			  const char *subject, const cJSON *details)
{
	char *text = details ? cJSON_PrintUnformatted(details) : NULL;
	int own = sqlite3_get_autocommit(db_get());
	int64_t id = -1;
	int again = 0;

	/* The occurrence count and the new row with its deliveries go
	 * together, in the caller's transaction or in one of our own. */
	if (own && db_begin() < 0)
		goto out;
	if (key && (again = count_again(kind, key)) != 0) {
		id = again > 0 ? 0 : -1;
	} else {
		id = insert_alert(kind, key, severity, tenant, subject, text ? text : "{}");
		if (id > 0 && queue_deliveries(id, "raised", severity) < 0)
			id = -1;
		if (id == 0 && count_again(kind, key) < 0) /* raised by another thread just now */
			id = -1;
	}
	if (id > 0)
		announce_after_commit(tenant, id);
	if (own && (id < 0 || db_commit() < 0)) {
		db_rollback();
		id = -1;
	}
out:
	cJSON_free(text);
	if (id < 0)
		log_err("alerts: cannot record %s alert: %s", kind, sqlite3_errmsg(db_get()));
	else if (id > 0)
		log_warn("alert %s: %s", kind, subject);
	else
		log_debug("alert %s (%s) is open already: occurrence counted", kind, key);
	return id;
}

int64_t alert_raise(const char *kind, const char *severity, int64_t tenant, const char *subject,
		    const cJSON *details)
{
	return alert_raise_keyed(kind, NULL, severity, tenant, subject, details);
}

/* Mark resolved; returns the alert's id, 0 if there was none, -1. */
static int64_t mark_resolved(const char *kind, const char *key, const char *actor, const char *why,
			     char severity[16], int64_t *tenant)
{
	sqlite3_stmt *st = db_stmt("UPDATE alerts SET resolved_at = unixepoch(), resolved_by = ?3, resolution = ?4 "
				   "WHERE kind = ?1 AND dedupe_key = ?2 AND resolved_at IS NULL "
				   "RETURNING id, severity, coalesce(tenant_id, 0)");
	int64_t id = 0;
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, why, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		snprintf(severity, 16, "%s", sqlite3_column_text(st, 1));
		*tenant = sqlite3_column_int64(st, 2);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? id : -1;
}

int alert_resolve_key(const char *kind, const char *key, const char *why)
{
	int own = sqlite3_get_autocommit(db_get());
	char severity[16] = "";
	int64_t id, tenant = 0;

	if (own && db_begin() < 0)
		return -1;
	id = mark_resolved(kind, key, "system", why, severity, &tenant);
	/* Whoever heard of the trouble also hears that it is over. */
	if (id > 0 && queue_deliveries(id, "resolved", severity) < 0)
		id = -1;
	if (id > 0)
		announce_after_commit(tenant, id);
	if (own && (id < 0 || db_commit() < 0)) {
		db_rollback();
		return -1;
	}
	if (id > 0)
		log_notice("alert %s (%s) resolved: %s", kind, key, why);
	return id > 0 ? 1 : (int)id;
}

cJSON *alert_open_keys(const char *kind)
{
	sqlite3_stmt *st = db_stmt("SELECT dedupe_key FROM alerts WHERE kind = ? AND resolved_at IS NULL "
				   "AND dedupe_key IS NOT NULL");
	cJSON *keys;

	if (!st)
		return NULL;
	keys = cJSON_CreateArray();
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(keys, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return keys;
}

/* --- views --------------------------------------------------------------------------- */

static void add_text(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, col));
}

static void add_int(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(st, col));
}

/* A row of COLS as JSON. */
static cJSON *row_json(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject(), *d;
	int resolved = sqlite3_column_type(st, 9) != SQLITE_NULL, acked = sqlite3_column_type(st, 7) != SQLITE_NULL;

	cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
	add_text(o, "kind", st, 1);
	add_text(o, "severity", st, 2);
	add_int(o, "tenant_id", st, 3);
	add_text(o, "subject", st, 4);
	d = cJSON_Parse((const char *)sqlite3_column_text(st, 5));
	cJSON_AddItemToObject(o, "details", cJSON_IsObject(d) ? d : (cJSON_Delete(d), cJSON_CreateObject()));
	cJSON_AddStringToObject(o, "state", resolved ? "resolved" : acked ? "acknowledged" : "open");
	add_text(o, "key", st, 14);
	cJSON_AddNumberToObject(o, "occurrences", (double)sqlite3_column_int64(st, 12));
	json_add_utc_column(o, "created_at", st, 6, 0);
	json_add_utc_column(o, "last_seen_at", st, 13, 0);
	json_add_utc_column(o, "acknowledged_at", st, 7, 0);
	add_int(o, "acknowledged_by", st, 8);
	json_add_utc_column(o, "resolved_at", st, 9, 0);
	add_text(o, "resolved_by", st, 10);
	add_text(o, "resolution", st, 11);
	return o;
}

int alert_list(const struct alert_filter *f, cJSON *out, int64_t *next)
{
	sqlite3_stmt *st = db_stmt(
		"SELECT " COLS " FROM alerts WHERE (?1 < 0 OR tenant_id = ?1) AND (?2 = 0 OR id < ?2) "
		"AND (?3 IS NULL OR (?3 = 'open' AND acknowledged_at IS NULL AND resolved_at IS NULL) "
		"  OR (?3 = 'acknowledged' AND acknowledged_at IS NOT NULL AND resolved_at IS NULL) "
		"  OR (?3 = 'unresolved' AND resolved_at IS NULL) OR (?3 = 'resolved' AND resolved_at IS NOT NULL)) "
		"AND (CASE severity WHEN 'info' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END) >= ?4 "
		"AND (?5 IS NULL OR kind = ?5 OR (substr(?5, -1) = '.' AND substr(kind, 1, length(?5)) = ?5)) "
		"ORDER BY id DESC LIMIT ?6");
	int n = 0;
	int64_t last = 0;

	*next = 0;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, f->tenant);
	sqlite3_bind_int64(st, 2, f->cursor);
	if (f->state)
		sqlite3_bind_text(st, 3, f->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, f->severity ? alert_severity_rank(f->severity) : 0);
	if (f->kind)
		sqlite3_bind_text(st, 5, f->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, f->limit + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == f->limit) {
			*next = last;
			break;
		}
		last = sqlite3_column_int64(st, 0);
		cJSON_AddItemToArray(out, row_json(st));
		n++;
	}
	sqlite3_reset(st);
	return n;
}

cJSON *alert_get(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT " COLS " FROM alerts WHERE id = ?2 AND (?1 < 0 OR tenant_id = ?1)");
	cJSON *o = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = row_json(st);
	sqlite3_reset(st);
	return o;
}

cJSON *alert_json_by_id(int64_t id)
{
	return alert_get(-1, id);
}

int alert_acknowledge(int64_t tenant, int64_t id, int64_t admin_id)
{
	cJSON *a = alert_get(tenant, id);
	sqlite3_stmt *st;
	int rc;

	if (!a)
		return 1;
	rc = strcmp(cJSON_GetObjectItem(a, "state")->valuestring, "open") != 0;
	cJSON_Delete(a);
	if (rc)
		return 2;
	st = db_stmt("UPDATE alerts SET acknowledged_at = unixepoch(), acknowledged_by = ? WHERE id = ?");
	if (!st)
		return -1;
	if (admin_id)
		sqlite3_bind_int64(st, 1, admin_id);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int alert_resolve(int64_t tenant, int64_t id, const char *actor, const char *note)
{
	cJSON *a = alert_get(tenant, id);
	sqlite3_stmt *st;
	int rc;

	if (!a)
		return 1;
	rc = strcmp(cJSON_GetObjectItem(a, "state")->valuestring, "resolved") == 0;
	cJSON_Delete(a);
	if (rc)
		return 2;
	st = db_stmt("UPDATE alerts SET resolved_at = unixepoch(), resolved_by = ?, resolution = ? WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, note && *note ? note : "resolved by an admin", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

cJSON *alert_deliveries(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st;
	cJSON *a = alert_get(tenant, id), *items;

	if (!a)
		return NULL;
	cJSON_Delete(a);
	st = db_stmt("SELECT id, notice, channel, state, attempts, next_attempt_at, last_error, created_at, sent_at "
		     "FROM alert_deliveries WHERE alert_id = ? ORDER BY id");
	if (!st)
		return NULL;
	items = cJSON_CreateArray();
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		int pending = strcmp((const char *)sqlite3_column_text(st, 3), "pending") == 0;
		cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
		add_text(o, "notice", st, 1);
		add_text(o, "channel", st, 2);
		add_text(o, "state", st, 3);
		cJSON_AddNumberToObject(o, "attempts", sqlite3_column_int(st, 4));
		/* ms columns, shown like every other time */
		for (int c = 5; c <= 8; c++) {
			static const char *const names[] = {"next_attempt_at", "last_error", "created_at", "sent_at"};
			if (c == 6) {
				add_text(o, names[1], st, 6);
			} else if (sqlite3_column_type(st, c) == SQLITE_NULL || (c == 5 && !pending)) {
				cJSON_AddNullToObject(o, names[c - 5]);
			} else {
				char when[40];
				long long ms = sqlite3_column_int64(st, c);
				time_t t = (time_t)(ms / 1000);
				struct tm tm;
				gmtime_r(&t, &tm);
				strftime(when, 24, "%Y-%m-%dT%H:%M:%S", &tm);
				snprintf(when + strlen(when), sizeof when - strlen(when), ".%03lldZ", ms % 1000);
				cJSON_AddStringToObject(o, names[c - 5], when);
			}
		}
		cJSON_AddItemToArray(items, o);
	}
	sqlite3_reset(st);
	return items;
}
