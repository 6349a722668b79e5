/* The site's side of pairing (pairing.h): claim the central's code over
 * the pinned channel and take what it answers, in one transaction. */
#include "pairing.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "core/vault_sync.h"
#include "cset.h"
#include "domain/audit.h"
#include "httpc.h"
#include "peer.h"
#include "status.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 64

/* What the central answered. */
struct answer {
	int64_t pairing, tenant, site, key_range;
	char central_id[33], credential[100];
	unsigned char sign_pk[32], box_pk[32];
	const cJSON *tenant_obj, *site_obj;
	struct vault_shared_key keys[MAX_KEYS];
	size_t nkeys;
};

/* Nothing here but admins: a site holds the central's rows under the
 * central's ids, which rows of its own could collide with. */
static int fresh(char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt("SELECT (SELECT count(*) FROM people) + (SELECT count(*) FROM credentials) + "
				   "(SELECT count(*) FROM doors) + (SELECT count(*) FROM devices) + "
				   "(SELECT count(*) FROM events) + (SELECT count(*) FROM access_groups) + "
				   "(SELECT count(*) FROM access_levels) + (SELECT count(*) FROM schedules) + "
				   "(SELECT count(*) FROM holiday_sets) + (SELECT count(*) FROM sites), "
				   "(SELECT count(*) FROM tenants WHERE id != 1)");
	long long rows = -1, tenants = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW) {
		rows = sqlite3_column_int64(st, 0);
		tenants = sqlite3_column_int64(st, 1);
	}
	if (st)
		sqlite3_reset(st);
	if (rows == 0 && tenants == 0)
		return 0;
	snprintf(err, errlen, rows < 0 ? "cannot read the database"
				       : "only a newly installed appliance can become a site: this one already has "
					 "people, doors, terminals, events, rules or tenants of its own");
	return -1;
}

static int role_ok(char *err, size_t errlen)
{
	switch (sync_role_here()) {
	case SYNC_SITE:
		snprintf(err, errlen, "this appliance is a site of a central already");
		return -1;
	case SYNC_CENTRAL:
		snprintf(err, errlen, "this appliance is a central with sites of its own: it cannot become a site");
		return -1;
	default:
		return 0;
	}
}

static cJSON *claim_request(const char *code, char *err, size_t errlen)
{
	unsigned char self[16], spk[32], bpk[32], apk[32];
	char hex[33], b64[64];
	int64_t range;
	cJSON *req;

	if (sync_self_id(self) < 0 || vault_sync_identity(spk, bpk) != VAULT_OK || vault_audit_public_key(apk) != VAULT_OK ||
	    vault_key_range(&range) != VAULT_OK) {
		snprintf(err, errlen, "cannot read this appliance's identity and keys");
		return NULL;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "code", code);
	cset_id_to_hex(self, hex);
	cJSON_AddStringToObject(req, "appliance_id", hex);
	sodium_bin2base64(b64, sizeof b64, spk, 32, sodium_base64_VARIANT_ORIGINAL);
	cJSON_AddStringToObject(req, "sign_pk", b64);
	sodium_bin2base64(b64, sizeof b64, bpk, 32, sodium_base64_VARIANT_ORIGINAL);
	cJSON_AddStringToObject(req, "box_pk", b64);
	sodium_bin2base64(b64, sizeof b64, apk, 32, sodium_base64_VARIANT_ORIGINAL);
	cJSON_AddStringToObject(req, "audit_pk", b64);
	cJSON_AddNumberToObject(req, "key_range", (double)range);
	return req;
}

static int b64_32(const cJSON *o, const char *name, unsigned char *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t n = 0;

	return cJSON_IsString(v) &&
			       sodium_base642bin(out, cap, v->valuestring, strlen(v->valuestring), NULL, &n, NULL,
						 sodium_base64_VARIANT_ORIGINAL) == 0 && n == cap
		       ? 0
		       : -1;
}

static int64_t num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int parse_key(const cJSON *k, int64_t tenant, struct vault_shared_key *out)
{
	const char *id = str(k, "id"), *purpose = str(k, "purpose"), *state = str(k, "state");
	char *end;

	memset(out, 0, sizeof *out);
	if (!id || !purpose || !state || strlen(purpose) >= sizeof out->purpose || strlen(state) >= sizeof out->state)
		return -1;
	out->id = strtoll(id, &end, 10);
	if (*end || out->id <= 0)
		return -1;
	out->tenant = tenant;
	snprintf(out->purpose, sizeof out->purpose, "%s", purpose);
	snprintf(out->state, sizeof out->state, "%s", state);
	out->version = num(k, "version");
	out->created_at = num(k, "created_at");
	out->retired_at = num(k, "retired_at");
	if (cJSON_GetObjectItemCaseSensitive(k, "sealed")) {
		if (b64_32(k, "sealed", out->sealed, sizeof out->sealed) < 0)
			return -1;
		out->has_key = 1;
	}
	return 0;
}

static int parse_answer(const cJSON *doc, struct answer *a, char *err, size_t errlen)
{
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys"), *k;
	const char *cid = str(doc, "central_id"), *cred = str(doc, "credential");
	unsigned char bin[16];

	memset(a, 0, sizeof *a);
	a->pairing = num(doc, "pairing_id");
	a->key_range = num(doc, "key_range");
	a->tenant_obj = cJSON_GetObjectItemCaseSensitive(doc, "tenant");
	a->site_obj = cJSON_GetObjectItemCaseSensitive(doc, "site");
	a->tenant = num(a->tenant_obj, "id");
	a->site = num(a->site_obj, "id");
	if (a->pairing <= 0 || a->tenant <= 0 || a->site <= 0 || !cid || cset_id_from_hex(cid, bin) < 0 || !cred ||
	    strncmp(cred, "ghs_", 4) != 0 || strlen(cred) >= sizeof a->credential || !str(a->tenant_obj, "slug") ||
	    !str(a->tenant_obj, "name") || !str(a->site_obj, "name") || !str(a->site_obj, "timezone") ||
	    b64_32(doc, "central_sign_pk", a->sign_pk, 32) < 0 || b64_32(doc, "central_box_pk", a->box_pk, 32) < 0 ||
	    !cJSON_IsArray(keys) || cJSON_GetArraySize(keys) > MAX_KEYS) {
		snprintf(err, errlen, "the central's answer to the claim is incomplete");
		return -1;
	}
	snprintf(a->central_id, sizeof a->central_id, "%s", cid);
	snprintf(a->credential, sizeof a->credential, "%s", cred);
	cJSON_ArrayForEach(k, keys)
	{
		if (parse_key(k, a->tenant, &a->keys[a->nkeys]) < 0) {
			snprintf(err, errlen, "a key in the central's answer is malformed");
			return -1;
		}
		a->nkeys++;
	}
	return 0;
}

/* The tenant under the central's id (the default tenant when the ids
 * agree, otherwise a new row). */
static int store_tenant(const struct answer *a, char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO tenants (id, slug, name, created_at) VALUES (?1, ?2, ?3, unixepoch()) "
				   "ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name = excluded.name");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, a->tenant);
	sqlite3_bind_text(st, 2, str(a->tenant_obj, "slug"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, str(a->tenant_obj, "name"), -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	if (rc < 0)
		snprintf(err, errlen, "cannot take the central's tenant %s: %s", str(a->tenant_obj, "slug"),
			 sqlite3_errmsg(db_get()));
	return rc;
}

static int store_site(const struct answer *a)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO sites (id, tenant_id, name, timezone, version, created_at, updated_at) "
				   "VALUES (?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, a->site);
	sqlite3_bind_int64(st, 2, a->tenant);
	sqlite3_bind_text(st, 3, str(a->site_obj, "name"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, str(a->site_obj, "timezone"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, num(a->site_obj, "version") > 0 ? num(a->site_obj, "version") : 1);
	sqlite3_bind_int64(st, 6, num(a->site_obj, "created_at"));
	sqlite3_bind_int64(st, 7, num(a->site_obj, "updated_at"));
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int store_central(const struct answer *a, const char *url, const char *fp)
{
	struct vault_ref ref = {0, "sync_central", "credential", 1};
	unsigned char *sealed = NULL;
	size_t slen;
	sqlite3_stmt *st;
	int rc;

	if (vault_seal(&ref, a->credential, strlen(a->credential), &sealed, &slen) != VAULT_OK)
		return -1;
	st = db_stmt("INSERT INTO sync_central (id, pairing_id, tenant_id, site_id, central_url, fingerprint, "
		     "central_appliance_id, central_sign_pk, central_box_pk, credential, paired_at) "
		     "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, unixepoch())");
	if (!st) {
		free(sealed);
		return -1;
	}
	sqlite3_bind_int64(st, 1, a->pairing);
	sqlite3_bind_int64(st, 2, a->tenant);
	sqlite3_bind_int64(st, 3, a->site);
	sqlite3_bind_text(st, 4, url, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, fp, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, a->central_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 7, a->sign_pk, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 8, a->box_pk, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 9, sealed, (int)slen, free);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	if (rc < 0)
		return -1;
	/* Terminals' status is logged only once paired: the central starts
	 * from every terminal's status as it is now. */
	st = db_stmt("INSERT INTO sync_log (tenant_id, entity, entity_id, op) "
		     "SELECT tenant_id, 'device_status', id, 'upsert' FROM devices WHERE tenant_id = ? ORDER BY id");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, a->tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static enum sync_outcome store(const struct answer *a, const char *url, const char *fp, const struct sync_actor *who,
			       char *err, size_t errlen)
{
	char target[40];

	if (db_begin() < 0) {
		snprintf(err, errlen, "the database is busy; try again");
		return SYNC_E_INTERNAL;
	}
	if (role_ok(err, errlen) < 0 || fresh(err, errlen) < 0) {
		db_rollback();
		return SYNC_E_CONFLICT;
	}
	if (store_tenant(a, err, errlen) < 0 || vault_sync_make_room(a->tenant, a->keys, a->nkeys, a->key_range, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < a->nkeys; i++)
		if (vault_sync_tenant_key_put(&a->keys[i], err, errlen) < 0)
			goto fail;
	if (store_site(a) < 0 || store_central(a, url, fp) < 0) {
		snprintf(err, errlen, "cannot record the pairing: %s", sqlite3_errmsg(db_get()));
		goto fail;
	}
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "central", url);
	cJSON_AddStringToObject(d, "central_id", a->central_id);
	cJSON_AddNumberToObject(d, "site_id", (double)a->site);
	snprintf(target, sizeof target, "pairing:%lld", (long long)a->pairing);
	struct audit_event ev = {a->tenant, who->type, who->id, who->source, "sync.pair", target, "ok", d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
	if (db_commit() == 0)
		return SYNC_OK;
	snprintf(err, errlen, "cannot commit the pairing");
fail:
	db_rollback();
	return SYNC_E_CONFLICT;
}

/* The central's error message, for the site admin. */
static void central_said(const struct httpc_resp *r, char *out, size_t len)
{
	cJSON *doc = r->body ? cJSON_Parse((const char *)r->body) : NULL;
	const char *m = str(cJSON_GetObjectItemCaseSensitive(doc, "error"), "message");

	snprintf(out, len, "%s", m ? m : "no reason given");
	cJSON_Delete(doc);
}

cJSON *sync_pair_request(const char *code, char *err, size_t errlen)
{
	char norm[21];

	if (sync_code_normalize(code, norm) < 0) {
		snprintf(err, errlen, "code: not a pairing code (GHP- and 20 letters and digits)");
		return NULL;
	}
	if (role_ok(err, errlen) < 0 || fresh(err, errlen) < 0)
		return NULL;
	return claim_request(norm, err, errlen);
}

enum sync_outcome sync_pair_finish(const cJSON *answer, const char *url, const char *fingerprint,
				   const struct sync_actor *who, char *err, size_t errlen)
{
	struct answer *a = calloc(1, sizeof *a);
	unsigned char pin[32];
	char fp[96];
	enum sync_outcome rc;

	if (httpc_fingerprint_parse(fingerprint, pin) < 0) {
		free(a);
		snprintf(err, errlen, "the fingerprint must be 64 hex digits");
		return SYNC_E_INVALID;
	}
	httpc_fingerprint_text(pin, fp);
	if (!a || parse_answer(answer, a, err, errlen) < 0)
		rc = SYNC_E_LINK;
	else
		rc = store(a, url, fp, who, err, errlen);
	if (a)
		sodium_memzero(a, sizeof *a);
	free(a);
	if (rc == SYNC_OK)
		log_notice("sync: this appliance is now a site of the central at %s", url);
	return rc;
}

enum sync_outcome sync_pair(const char *url, const char *fingerprint, const char *code, const struct sync_actor *who,
			    cJSON **out, char *err, size_t errlen)
{
	struct httpc_target t;
	struct httpc_resp r;
	char why[300];
	cJSON *req, *doc;
	char *body;
	enum sync_outcome rc;

	*out = NULL;
	if (httpc_target_init(&t, url, fingerprint, cfg_int(CFG_SYNC_TIMEOUT), err, errlen) < 0)
		return SYNC_E_INVALID;
	if (!(req = sync_pair_request(code, err, errlen)))
		return strncmp(err, "code:", 5) == 0 ? SYNC_E_INVALID : SYNC_E_CONFLICT;
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	rc = httpc_post(&t, "/api/v1/sync/claim", NULL, "application/json", body, strlen(body), 1 << 20, &r, err, errlen) < 0
		     ? SYNC_E_LINK
		     : SYNC_OK;
	cJSON_free(body);
	if (rc != SYNC_OK)
		return rc;
	if (r.status != 200) {
		central_said(&r, why, sizeof why);
		snprintf(err, errlen, "the central refused the pairing (%d): %s", r.status, why);
		httpc_resp_free(&r);
		return r.status == 401 ? SYNC_E_DENIED : r.status == 409 ? SYNC_E_CONFLICT : SYNC_E_LINK;
	}
	doc = cJSON_Parse((const char *)r.body);
	sodium_memzero(r.body, r.len);
	httpc_resp_free(&r);
	rc = sync_pair_finish(doc, url, fingerprint, who, err, errlen);
	cJSON_Delete(doc);
	if (rc == SYNC_OK)
		*out = sync_status_json(-1); /* a system admin's call */
	return rc;
}
