#include "devices.h"

#include "core/db.h"
#include "core/vault.h"
#include "devlink/ca.h"
#include "entity.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEVICE_COLUMNS                                                                        \
	"id, tenant_id, coalesce(site_id, 0), uid, name, model, status, coalesce(cert_serial, ''), " \
	"firmware_version, online, coalesce(last_seen_at, 0), coalesce(clock_offset_ms, 0), "       \
	"coalesce(cert_not_after, 0), version"

static void from_row(sqlite3_stmt *st, struct device *d)
{
	memset(d, 0, sizeof *d);
	d->id = sqlite3_column_int64(st, 0);
	d->tenant = sqlite3_column_int64(st, 1);
	d->site = sqlite3_column_int64(st, 2);
	snprintf(d->uid, sizeof d->uid, "%s", sqlite3_column_text(st, 3));
	snprintf(d->name, sizeof d->name, "%s", sqlite3_column_text(st, 4));
	snprintf(d->model, sizeof d->model, "%s", sqlite3_column_text(st, 5));
	snprintf(d->status, sizeof d->status, "%s", sqlite3_column_text(st, 6));
	snprintf(d->serial, sizeof d->serial, "%s", sqlite3_column_text(st, 7));
	snprintf(d->firmware, sizeof d->firmware, "%s", sqlite3_column_text(st, 8));
	d->online = sqlite3_column_int(st, 9);
	d->last_seen = sqlite3_column_int64(st, 10);
	d->clock_offset_ms = sqlite3_column_int64(st, 11);
	d->cert_not_after = sqlite3_column_int64(st, 12);
	d->version = sqlite3_column_int64(st, 13);
}

static int fetch(sqlite3_stmt *st, struct device *d)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		from_row(st, d);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int device_get(int64_t tenant, int64_t id, struct device *d)
{
	sqlite3_stmt *st = db_stmt("SELECT " DEVICE_COLUMNS " FROM devices WHERE id = ? AND tenant_id = ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	return fetch(st, d);
}

int device_by_uid(const char *uid, struct device *d)
{
	sqlite3_stmt *st = db_stmt("SELECT " DEVICE_COLUMNS " FROM devices WHERE uid = ?");

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	return fetch(st, d);
}

void device_body_check(struct jv *v, int64_t tenant, const cJSON *body, int partial)
{
	long long site;

	(void)body;
	jv_string(v, "name", !partial, 1, 200);
	jv_not_null(v, "name");
	jv_string(v, "model", 0, 0, 64);
	jv_not_null(v, "model");
	site = jv_int(v, "site_id", 0, 1, 1LL << 53, 0); /* null: no site */
	if (site && !entity_exists("sites", tenant, site))
		jv_error(v, "site_id", "is not a site of this tenant");
	if (!partial)
		jv_enum(v, "enrollment", 0, "token|bundle");
	jv_no_others(v);
}

int device_create(int64_t tenant, const cJSON *body, int64_t *id, char uid[DEVICE_UID_LEN])
{
	const cJSON *name = cJSON_GetObjectItem(body, "name"), *model = cJSON_GetObjectItem(body, "model"),
		    *site = cJSON_GetObjectItem(body, "site_id");
	unsigned char rnd[8];
	sqlite3_stmt *st = db_stmt("INSERT INTO devices (tenant_id, site_id, uid, name, model, created_at, updated_at) "
				   "VALUES (?, ?, ?, ?, ?, unixepoch(), unixepoch())");
	int rc;

	if (!st)
		return -1;
	/* A random uid: it names the terminal in topics and certificates and
	 * reveals nothing about the tenant or the order of enrolment. */
	randombytes_buf(rnd, sizeof rnd);
	snprintf(uid, DEVICE_UID_LEN, "t");
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(uid + 1 + 2 * i, 3, "%02x", rnd[i]);
	sqlite3_bind_int64(st, 1, tenant);
	if (cJSON_IsNumber(site))
		sqlite3_bind_int64(st, 2, (int64_t)site->valuedouble);
	sqlite3_bind_text(st, 3, uid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, name->valuestring, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, cJSON_IsString(model) ? model->valuestring : "", -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	*id = sqlite3_last_insert_rowid(db_get());
	return rc;
}

int device_new_enroll_token(int64_t tenant, int64_t id, long long ttl_s, char token[ENROLL_TOKEN_LEN])
{
	unsigned char raw[24], d[VAULT_TOKEN_DIGEST_BYTES];
	char b64[40];
	sqlite3_stmt *st;
	int rc;

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(token, ENROLL_TOKEN_LEN, "ghe_%s", b64);
	if (vault_token_digest(token, strlen(token), d) != VAULT_OK)
		return -1;
	st = db_stmt("UPDATE devices SET enroll_digest = ?, enroll_expires_at = unixepoch() + ?, updated_at = unixepoch() "
		     "WHERE id = ? AND tenant_id = ?");
	if (!st)
		return -1;
	sqlite3_bind_blob(st, 1, d, sizeof d, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, ttl_s);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db_get()) ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int store_cert(int64_t id, const char *serial, long long not_after)
{
	sqlite3_stmt *st = db_stmt("UPDATE devices SET cert_serial = ?, cert_not_after = ?, status = 'active', "
				   "enroll_digest = NULL, enroll_expires_at = NULL, version = version + 1, "
				   "updated_at = unixepoch() WHERE id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, not_after);
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

char *device_enroll(const char *token, const char *csr_pem, struct device *d, const char **field, char *why,
		    size_t whylen)
{
	unsigned char digest[VAULT_TOKEN_DIGEST_BYTES];
	char serial[40];
	long long not_after;
	sqlite3_stmt *st;
	char *cert;

	*field = "token";
	snprintf(why, whylen, "is unknown, used or expired");
	if (vault_token_digest(token, strlen(token), digest) != VAULT_OK)
		return NULL;
	st = db_stmt("SELECT " DEVICE_COLUMNS " FROM devices WHERE enroll_digest = ? AND enroll_expires_at > unixepoch() "
		     "AND status != 'disabled'");
	if (!st)
		return NULL;
	sqlite3_bind_blob(st, 1, digest, sizeof digest, SQLITE_TRANSIENT);
	if (fetch(st, d) != 0)
		return NULL;
	*field = "csr";
	cert = devca_sign_csr(csr_pem, d->uid, serial, &not_after, why, whylen);
	if (!cert)
		return NULL;
	if (store_cert(d->id, serial, not_after) < 0) {
		free(cert);
		snprintf(why, whylen, "cannot be stored");
		return NULL;
	}
	snprintf(d->serial, sizeof d->serial, "%s", serial);
	snprintf(d->status, sizeof d->status, "active");
	return cert;
}

int device_issue_bundle(int64_t tenant, int64_t id, char **key_pem, char **cert_pem)
{
	struct device d;
	char serial[40];
	long long not_after;

	if (device_get(tenant, id, &d) != 0 || devca_issue_bundle(d.uid, key_pem, cert_pem, serial, &not_after) < 0)
		return -1;
	if (store_cert(id, serial, not_after) < 0) {
		devca_free_secret(*key_pem);
		free(*cert_pem);
		return -1;
	}
	return 0;
}

static void add_time(cJSON *o, const char *name, long long t)
{
	char when[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, name, when);
}

cJSON *device_json(const struct device *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)d->id);
	cJSON_AddStringToObject(o, "uid", d->uid);
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddStringToObject(o, "model", d->model);
	if (d->site)
		cJSON_AddNumberToObject(o, "site_id", (double)d->site);
	else
		cJSON_AddNullToObject(o, "site_id");
	cJSON_AddStringToObject(o, "status", d->status);
	cJSON_AddBoolToObject(o, "online", d->online);
	add_time(o, "last_seen_at", d->last_seen);
	cJSON_AddStringToObject(o, "firmware_version", d->firmware);
	cJSON_AddNumberToObject(o, "clock_offset_ms", (double)d->clock_offset_ms);
	cJSON_AddStringToObject(o, "certificate_serial", d->serial);
	add_time(o, "certificate_expires_at", d->cert_not_after);
	cJSON_AddNumberToObject(o, "version", (double)d->version);
	return o;
}

int device_list(int64_t tenant, int64_t cursor, int limit, cJSON *out, int64_t *next)
{
	sqlite3_stmt *st = db_stmt("SELECT " DEVICE_COLUMNS " FROM devices WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?");
	struct device d;
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int(st, 3, limit + 1);
	*next = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		from_row(st, &d);
		if (n == limit) {
			*next = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(out, n - 1), "id"));
			break;
		}
		cJSON_AddItemToArray(out, device_json(&d));
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int device_update(int64_t tenant, int64_t id, long long version, const cJSON *body)
{
	const cJSON *name = cJSON_GetObjectItem(body, "name"), *model = cJSON_GetObjectItem(body, "model"),
		    *site = cJSON_GetObjectItem(body, "site_id");
	sqlite3_stmt *st = db_stmt("UPDATE devices SET name = coalesce(?, name), model = coalesce(?, model), "
				   "site_id = CASE WHEN ?3 THEN ?4 ELSE site_id END, version = version + 1, "
				   "updated_at = unixepoch() WHERE id = ?5 AND tenant_id = ?6 AND version = ?7");
	int rc;

	if (!st)
		return -1;
	if (cJSON_IsString(name))
		sqlite3_bind_text(st, 1, name->valuestring, -1, SQLITE_TRANSIENT);
	if (cJSON_IsString(model))
		sqlite3_bind_text(st, 2, model->valuestring, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, site != NULL);
	if (cJSON_IsNumber(site))
		sqlite3_bind_int64(st, 4, (int64_t)site->valuedouble);
	sqlite3_bind_int64(st, 5, id);
	sqlite3_bind_int64(st, 6, tenant);
	sqlite3_bind_int64(st, 7, version);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 2) : -1;
	sqlite3_reset(st);
	if (rc == 2 && !entity_exists("devices", tenant, id))
		rc = 1;
	return rc;
}

int device_set_status(int64_t tenant, int64_t id, const char *status)
{
	sqlite3_stmt *st = db_stmt("UPDATE devices SET status = ?, version = version + 1, updated_at = unixepoch() "
				   "WHERE id = ? AND tenant_id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

int device_delete(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM devices WHERE id = ? AND tenant_id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

int device_seen(int64_t id, int online, const char *firmware, const long long *clock_offset_ms)
{
	sqlite3_stmt *st = db_stmt("UPDATE devices SET online = ?, last_seen_at = unixepoch(), "
				   "firmware_version = coalesce(?, firmware_version), "
				   "clock_offset_ms = coalesce(?, clock_offset_ms) WHERE id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, online);
	if (firmware)
		sqlite3_bind_text(st, 2, firmware, -1, SQLITE_TRANSIENT);
	if (clock_offset_ms)
		sqlite3_bind_int64(st, 3, *clock_offset_ms);
	sqlite3_bind_int64(st, 4, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int devices_all_offline(void)
{
	/* On a central, terminals of a paired site connect to the site, which
	 * reports their status (docs/sync.md): this start changes nothing of it. */
	return db_exec(db_get(), "UPDATE devices SET online = 0 WHERE online != 0 AND (site_id IS NULL OR site_id "
				 "NOT IN (SELECT site_id FROM sync_pairings WHERE state = 'active'))") == SQLITE_OK ? 0 : -1;
}
