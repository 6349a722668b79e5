#include "status.h"

#include "core/isotime.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "domain/alerts.h"
#include "outbox.h"
#include "pairing.h"
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_FIRST_S 30

static void site_streams(cJSON *o, const struct sync_peer *p)
{
	cJSON *s = cJSON_AddObjectToObject(o, "streams");
	long long pending[SYNC_NSTREAMS];
	int have = sync_pending(p, pending) == 0;

	for (int i = 0; sync_central_streams[i]; i++)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(s, sync_central_streams[i]), "applied",
					(double)sync_cursor(p->pairing, sync_central_streams[i], 0));
	for (int i = 0; sync_site_streams[i]; i++) {
		cJSON *x = cJSON_AddObjectToObject(s, sync_site_streams[i]);
		cJSON_AddNumberToObject(x, "acked", (double)sync_cursor(p->pairing, sync_site_streams[i], 1));
		cJSON_AddNumberToObject(x, "pending", have ? (double)pending[i] : 0);
	}
}

static cJSON *site_status(void)
{
	sqlite3_stmt *st = db_stmt("SELECT central_url, fingerprint, central_appliance_id, pairing_id, tenant_id, site_id, "
				   "paired_at, coalesce(last_ok_at, 0), coalesce(last_attempt_at, 0), "
				   "coalesce(next_attempt_at, 0), failures, last_error FROM sync_central WHERE id = 1");
	struct sync_peer p;
	cJSON *o = cJSON_CreateObject(), *c;
	long long last_ok = 0;

	cJSON_AddStringToObject(o, "role", "site");
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		if (st)
			sqlite3_reset(st);
		return o;
	}
	c = cJSON_AddObjectToObject(o, "central");
	cJSON_AddStringToObject(c, "url", (const char *)sqlite3_column_text(st, 0));
	cJSON_AddStringToObject(c, "fingerprint", (const char *)sqlite3_column_text(st, 1));
	cJSON_AddStringToObject(c, "appliance_id", (const char *)sqlite3_column_text(st, 2));
	cJSON_AddNumberToObject(o, "pairing_id", (double)sqlite3_column_int64(st, 3));
	cJSON_AddNumberToObject(o, "tenant_id", (double)sqlite3_column_int64(st, 4));
	cJSON_AddNumberToObject(o, "site_id", (double)sqlite3_column_int64(st, 5));
	json_add_utc(o, "paired_at", sqlite3_column_int64(st, 6));
	last_ok = sqlite3_column_int64(st, 7);
	json_add_utc(o, "last_sync_at", last_ok);
	if (last_ok)
		cJSON_AddNumberToObject(o, "minutes_since_sync", (double)((time(NULL) - last_ok) / 60));
	else
		cJSON_AddNullToObject(o, "minutes_since_sync");
	json_add_utc(o, "last_attempt_at", sqlite3_column_int64(st, 8));
	json_add_utc(o, "next_attempt_at", sqlite3_column_int64(st, 9));
	cJSON_AddNumberToObject(o, "failures", sqlite3_column_int(st, 10));
	if (sqlite3_column_type(st, 11) == SQLITE_NULL)
		cJSON_AddNullToObject(o, "last_error");
	else
		cJSON_AddStringToObject(o, "last_error", (const char *)sqlite3_column_text(st, 11));
	sqlite3_reset(st);
	if (sync_site_peer(&p) == 0)
		site_streams(o, &p);
	return o;
}

cJSON *sync_status_json(int64_t tenant)
{
	cJSON *o;

	switch (sync_role_here()) {
	case SYNC_SITE:
		if (tenant >= 0 && tenant != sync_default_tenant()) {
			/* Another tenant on this box: not synced, nothing of the pairing to see. */
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "role", "site");
			return o;
		}
		return site_status();
	case SYNC_CENTRAL:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "role", "central");
		cJSON_AddItemToObject(o, "pairings", sync_pairing_list(tenant));
		return o;
	default:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "role", "none");
		return o;
	}
}

int sync_site_credential(char *out, size_t len)
{
	struct vault_ref ref = {0, "sync_central", "credential", 1};
	sqlite3_stmt *st = db_stmt("SELECT credential FROM sync_central WHERE id = 1");
	unsigned char *plain = NULL;
	size_t n = 0;
	int rc = -1;

	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &plain, &n) == VAULT_OK &&
	    n < len) {
		memcpy(out, plain, n);
		out[n] = '\0';
		rc = 0;
	}
	sqlite3_reset(st);
	vault_free(plain, n);
	return rc;
}

int sync_site_record(int ok, const char *error)
{
	sqlite3_stmt *st;
	int rc;

	if (ok)
		st = db_stmt("UPDATE sync_central SET last_ok_at = unixepoch(), last_attempt_at = unixepoch(), "
			     "failures = 0, next_attempt_at = NULL, last_error = NULL WHERE id = 1");
	else
		st = db_stmt("UPDATE sync_central SET last_attempt_at = unixepoch(), failures = failures + 1, "
			     "next_attempt_at = unixepoch() + min(?1 << min(failures, 20), ?2), last_error = ?3 WHERE id = 1");
	if (!st)
		return -1;
	if (!ok) {
		sqlite3_bind_int64(st, 1, BACKOFF_FIRST_S);
		sqlite3_bind_int64(st, 2, cfg_int(CFG_SYNC_RETRY_MAX) / 1000 > 0 ? cfg_int(CFG_SYNC_RETRY_MAX) / 1000 : 1);
		sqlite3_bind_text(st, 3, error ? error : "", -1, SQLITE_TRANSIENT);
	}
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int sync_site_due(long long *until)
{
	sqlite3_stmt *st = db_stmt("SELECT coalesce(next_attempt_at, 0) FROM sync_central WHERE id = 1");
	int due = 1;

	*until = 0;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		*until = sqlite3_column_int64(st, 0);
		due = *until <= (long long)time(NULL);
	}
	if (st)
		sqlite3_reset(st);
	return due;
}

int sync_stale_rule(void)
{
	sqlite3_stmt *st = db_stmt("SELECT central_url, coalesce(last_ok_at, paired_at), last_error FROM sync_central "
				   "WHERE id = 1");
	char url[512] = "", error[300] = "", subject[700];
	long long last = 0, now = (long long)time(NULL), after = cfg_int(CFG_SYNC_ALERT_AFTER) / 1000;
	int site = 0;

	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		site = 1;
		snprintf(url, sizeof url, "%s", sqlite3_column_text(st, 0));
		last = sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			snprintf(error, sizeof error, "%s", sqlite3_column_text(st, 2));
	}
	sqlite3_reset(st);
	if (!site)
		return 0;
	if (now - last < after)
		return alert_resolve_key("sync.stale", "central", "synced with the central again") < 0 ? -1 : 0;
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "central", url);
	cJSON_AddNumberToObject(d, "minutes_since_sync", (double)((now - last) / 60));
	if (*error)
		cJSON_AddStringToObject(d, "last_error", error);
	snprintf(subject, sizeof subject, "Not synced with the central appliance (%s) for %lld minutes", url,
		 (now - last) / 60);
	int64_t id = alert_raise_keyed("sync.stale", "central", "warning", 0, subject, d);
	cJSON_Delete(d);
	return id < 0 ? -1 : 0;
}

int sync_owned_by_central(char *url, size_t len)
{
	sqlite3_stmt *st = db_stmt("SELECT central_url FROM sync_central WHERE id = 1");
	int site = 0;

	if (!st)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(url, len, "%s", sqlite3_column_text(st, 0));
		site = 1;
	}
	sqlite3_reset(st);
	return site;
}

int64_t sync_default_tenant(void)
{
	sqlite3_stmt *st = db_stmt("SELECT tenant_id FROM sync_central WHERE id = 1");
	int64_t t = 1;

	if (!st)
		return 1;
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t;
}
