/* The central's side of pairing (pairing.h). */
#include "pairing.h"

#include "core/isotime.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault.h"
#include "core/vault_sync.h"
#include "cset.h"
#include "domain/audit.h"
#include "domain/entity.h"
#include "httpc.h"
#include "outbox.h"
#include "peer.h"
#include "tls/certgen.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int sync_code_normalize(const char *in, char out[21])
{
	char buf[24];
	size_t n = 0;

	/* Blanks and dashes anywhere, any case; then 20 digits, or 23 with the
	 * GHP prefix (G, H and P are digits too, so the length tells). */
	for (; *in; in++) {
		char c = *in >= 'a' && *in <= 'z' ? (char)(*in - 32) : *in;
		if (c == '-' || c == ' ')
			continue;
		if (c == 'I' || c == 'L')
			c = '1';
		else if (c == 'O')
			c = '0';
		if (c == '\0' || !strchr(crockford, c) || n == sizeof buf - 1)
			return -1;
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (n == 23 && strncmp(buf, "GHP", 3) == 0) {
		memmove(buf, buf + 3, 21);
		n = 20;
	}
	if (n != 20)
		return -1;
	memcpy(out, buf, 21);
	return 0;
}

/* 100 random bits as 20 Crockford base-32 digits. */
static void new_code(char code[21], char shown[30])
{
	unsigned char r[13];

	randombytes_buf(r, sizeof r);
	for (int i = 0; i < 20; i++) {
		int bit = i * 5, v = 0;
		for (int b = 0; b < 5; b++, bit++)
			v = v << 1 | (r[bit / 8] >> (7 - bit % 8) & 1);
		code[i] = crockford[v];
	}
	code[20] = '\0';
	snprintf(shown, 30, "GHP-%.5s-%.5s-%.5s-%.5s", code, code + 5, code + 10, code + 15);
	sodium_memzero(r, sizeof r);
}

int sync_own_fingerprint(char out[96])
{
	char cert[4200];

	if (*cfg_str(CFG_WEB_TLS_CERT))
		snprintf(cert, sizeof cert, "%s", cfg_str(CFG_WEB_TLS_CERT));
	else
		state_path("tls/server.crt", cert, sizeof cert);
	return certgen_fingerprint(cert, out, 96);
}

/* Where a pairing's streams stand, and what is pending for the site. */
static void add_streams(cJSON *o, int64_t id, int active)
{
	cJSON *s = cJSON_AddObjectToObject(o, "streams");
	struct sync_peer p;
	long long pending[SYNC_NSTREAMS];
	int have = active && sync_central_peer(id, &p) == 0 && sync_pending(&p, pending) == 0;

	for (int i = 0; sync_central_streams[i]; i++) {
		cJSON *x = cJSON_AddObjectToObject(s, sync_central_streams[i]);
		cJSON_AddNumberToObject(x, "acked", (double)sync_cursor(id, sync_central_streams[i], 1));
		cJSON_AddNumberToObject(x, "pending", have ? (double)pending[i] : 0);
	}
	for (int i = 0; sync_site_streams[i]; i++) {
		cJSON *x = cJSON_AddObjectToObject(s, sync_site_streams[i]);
		cJSON_AddNumberToObject(x, "applied", (double)sync_cursor(id, sync_site_streams[i], 0));
	}
}

#define PAIRING_COLS                                                                                   \
	"p.id, p.tenant_id, p.site_id, coalesce(s.name, ''), p.state, p.created_by, p.created_at, "  \
	"p.code_expires_at, p.claimed_at, p.site_appliance_id, p.last_contact_at, p.revoked_at"

static cJSON *pairing_row(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();
	const char *state = (const char *)sqlite3_column_text(st, 4);
	int64_t id = sqlite3_column_int64(st, 0);

	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddNumberToObject(o, "tenant_id", (double)sqlite3_column_int64(st, 1));
	cJSON_AddNumberToObject(o, "site_id", (double)sqlite3_column_int64(st, 2));
	cJSON_AddStringToObject(o, "site_name", (const char *)sqlite3_column_text(st, 3));
	cJSON_AddStringToObject(o, "state", state);
	cJSON_AddStringToObject(o, "created_by", (const char *)sqlite3_column_text(st, 5));
	json_add_utc_column(o, "created_at", st, 6, 0);
	json_add_utc_column(o, "code_expires_at", st, 7, 0);
	json_add_utc_column(o, "paired_at", st, 8, 0);
	if (sqlite3_column_type(st, 9) == SQLITE_NULL)
		cJSON_AddNullToObject(o, "site_appliance_id");
	else
		cJSON_AddStringToObject(o, "site_appliance_id", (const char *)sqlite3_column_text(st, 9));
	json_add_utc_column(o, "last_contact_at", st, 10, 0);
	json_add_utc_column(o, "revoked_at", st, 11, 0);
	add_streams(o, id, strcmp(state, "active") == 0);
	return o;
}

cJSON *sync_pairing_get(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT " PAIRING_COLS " FROM sync_pairings p LEFT JOIN sites s ON s.id = p.site_id "
				   "WHERE p.id = ?1 AND (?2 < 0 OR p.tenant_id = ?2)");
	cJSON *o = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		/* add_streams runs statements of its own: take the row first. */
		o = pairing_row(st);
	}
	sqlite3_reset(st);
	return o;
}

cJSON *sync_pairing_list(int64_t tenant)
{
	sqlite3_stmt *st = db_stmt("SELECT p.id FROM sync_pairings p WHERE ?1 < 0 OR p.tenant_id = ?1 ORDER BY p.id");
	cJSON *items = cJSON_CreateArray();
	int64_t ids[1000];
	int n = 0;

	if (!st)
		return items;
	sqlite3_bind_int64(st, 1, tenant);
	while (n < 1000 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		cJSON *o = sync_pairing_get(-1, ids[i]);
		if (o)
			cJSON_AddItemToArray(items, o);
	}
	return items;
}

static void audit_pairing(const char *action, int64_t tenant, const char *actor_type, const char *actor,
			  const char *source, int64_t id, const char *outcome, cJSON *details)
{
	char target[40];

	snprintf(target, sizeof target, "pairing:%lld", (long long)id);
	struct audit_event ev = {tenant, actor_type, actor, source, action, target, outcome, details, NULL, 0};
	audit_append(&ev);
}

static enum sync_outcome insert_pairing(int64_t tenant, int64_t site_id, const char *created_by, const char *code,
					long long expires, int64_t *id, char *err, size_t errlen)
{
	unsigned char digest[VAULT_TOKEN_DIGEST_BYTES];
	sqlite3_stmt *st = db_stmt("INSERT INTO sync_pairings (tenant_id, site_id, code_digest, code_expires_at, "
				   "created_by, created_at) VALUES (?, ?, ?, ?, ?, unixepoch())");
	int rc;

	if (!st || vault_token_digest(code, strlen(code), digest) != VAULT_OK)
		return SYNC_E_INTERNAL;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, site_id);
	sqlite3_bind_blob(st, 3, digest, sizeof digest, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, expires);
	sqlite3_bind_text(st, 5, created_by, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(db_get());
		return SYNC_OK;
	}
	if (sqlite3_extended_errcode(db_get()) == SQLITE_CONSTRAINT_UNIQUE) {
		snprintf(err, errlen, "site %lld is paired already (or a pairing waits for it): revoke that pairing first",
			 (long long)site_id);
		return SYNC_E_CONFLICT;
	}
	return SYNC_E_INTERNAL;
}

enum sync_outcome sync_pairing_create(int64_t tenant, int64_t site_id, const struct sync_actor *who, cJSON **out,
				      char *err, size_t errlen)
{
	unsigned char pk[32], bpk[32], self[16];
	char code[21], shown[30], fp[96], hex[33];
	long long expires = (long long)time(NULL) + cfg_int(CFG_SYNC_PAIRING_TTL) / 1000;
	enum sync_outcome rc;
	int64_t id = 0;

	*out = NULL;
	if (sync_role_here() == SYNC_SITE) {
		snprintf(err, errlen, "this appliance is a site of a central: only a central pairs sites");
		return SYNC_E_CONFLICT;
	}
	if (sync_own_fingerprint(fp) < 0 || sync_self_id(self) < 0 || vault_sync_identity(pk, bpk) != VAULT_OK) {
		snprintf(err, errlen, "cannot read this appliance's certificate or sync keys");
		return SYNC_E_INTERNAL;
	}
	if (db_begin() < 0)
		return SYNC_E_INTERNAL;
	if (!entity_exists("sites", tenant, site_id)) {
		db_rollback();
		snprintf(err, errlen, "no site %lld in this tenant", (long long)site_id);
		return SYNC_E_INVALID;
	}
	new_code(code, shown);
	rc = insert_pairing(tenant, site_id, who->id, code, expires, &id, err, errlen);
	sodium_memzero(code, sizeof code);
	if (rc == SYNC_OK) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "site_id", (double)site_id);
		audit_pairing("sync.pairing.create", tenant, who->type, who->id, who->source, id, "ok", d);
		cJSON_Delete(d);
	}
	if (rc != SYNC_OK || db_commit() < 0) {
		db_rollback();
		return rc == SYNC_OK ? SYNC_E_INTERNAL : rc;
	}
	*out = cJSON_CreateObject();
	cJSON_AddItemToObject(*out, "pairing", sync_pairing_get(-1, id));
	cJSON_AddStringToObject(*out, "code", shown);
	sodium_memzero(shown, sizeof shown);
	cJSON_AddItemToObject(*out, "expires_at", cJSON_Duplicate(cJSON_GetObjectItem(cJSON_GetObjectItem(*out, "pairing"),
										      "code_expires_at"), 1));
	cJSON_AddStringToObject(*out, "fingerprint", fp);
	cset_id_to_hex(self, hex);
	cJSON_AddStringToObject(*out, "central_id", hex);
	log_notice("sync: pairing %lld made for site %lld of tenant %lld (code valid until %lld)", (long long)id,
		   (long long)site_id, (long long)tenant, expires);
	return SYNC_OK;
}

/* --- the claim -------------------------------------------------------------------------- */

struct claim {
	char code[21], appliance[33];
	unsigned char sign_pk[32], box_pk[32], audit_pk[32];
	int64_t key_range;
};

static int b64_field(const cJSON *req, const char *name, unsigned char out[32])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	size_t n = 0;

	return cJSON_IsString(v) &&
			       sodium_base642bin(out, 32, v->valuestring, strlen(v->valuestring), NULL, &n, NULL,
						 sodium_base64_VARIANT_ORIGINAL) == 0 && n == 32
		       ? 0
		       : -1;
}

static int parse_claim(const cJSON *req, struct claim *c, char *err, size_t errlen)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(req, "code");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "appliance_id");
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(req, "key_range");
	unsigned char bin[16];

	if (!cJSON_IsString(code) || sync_code_normalize(code->valuestring, c->code) < 0) {
		snprintf(err, errlen, "code: not a pairing code (GHP- and 20 letters and digits)");
		return -1;
	}
	if (!cJSON_IsString(id) || cset_id_from_hex(id->valuestring, bin) < 0 || b64_field(req, "sign_pk", c->sign_pk) < 0 ||
	    b64_field(req, "box_pk", c->box_pk) < 0 || b64_field(req, "audit_pk", c->audit_pk) < 0 ||
	    !cJSON_IsNumber(range) || range->valuedouble < 1 || range->valuedouble > 0x3FFFFF) {
		snprintf(err, errlen, "the claim lacks the site's appliance_id, sign_pk, box_pk, audit_pk or key_range");
		return -1;
	}
	cset_id_to_hex(bin, c->appliance);
	c->key_range = (int64_t)range->valuedouble;
	return 0;
}

struct pairing_row {
	int64_t id, tenant, site;
	char state[12], appliance[33];
	int claimed_by_same;
};

static enum sync_outcome find_code(const struct claim *c, struct pairing_row *r, char *err, size_t errlen)
{
	unsigned char digest[VAULT_TOKEN_DIGEST_BYTES];
	sqlite3_stmt *st = db_stmt("SELECT id, tenant_id, site_id, state, coalesce(site_appliance_id, ''), "
				   "site_sign_pk = ?2 FROM sync_pairings WHERE code_digest = ?1 "
				   "AND code_expires_at > unixepoch() AND state != 'revoked'");
	enum sync_outcome rc = SYNC_E_DENIED;

	if (!st || vault_token_digest(c->code, strlen(c->code), digest) != VAULT_OK)
		return SYNC_E_INTERNAL;
	sqlite3_bind_blob(st, 1, digest, sizeof digest, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, c->sign_pk, 32, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r->id = sqlite3_column_int64(st, 0);
		r->tenant = sqlite3_column_int64(st, 1);
		r->site = sqlite3_column_int64(st, 2);
		snprintf(r->state, sizeof r->state, "%s", sqlite3_column_text(st, 3));
		snprintf(r->appliance, sizeof r->appliance, "%s", sqlite3_column_text(st, 4));
		r->claimed_by_same = strcmp(r->appliance, c->appliance) == 0 && sqlite3_column_int(st, 5) == 1;
		rc = SYNC_OK;
	}
	sqlite3_reset(st);
	if (rc == SYNC_E_DENIED)
		snprintf(err, errlen, "the pairing code is wrong, expired or revoked");
	else if (strcmp(r->state, "active") == 0 && !r->claimed_by_same) {
		snprintf(err, errlen, "this pairing code was used by another site already");
		rc = SYNC_E_CONFLICT;
	}
	return rc;
}

static int activate(const struct pairing_row *r, const struct claim *c, const char *credential)
{
	unsigned char digest[VAULT_TOKEN_DIGEST_BYTES];
	sqlite3_stmt *st = db_stmt("UPDATE sync_pairings SET state = 'active', claimed_at = unixepoch(), "
				   "site_appliance_id = ?, site_sign_pk = ?, site_box_pk = ?, site_audit_pk = ?, "
				   "token_digest = ? WHERE id = ?");
	int rc;

	if (!st || vault_token_digest(credential, strlen(credential), digest) != VAULT_OK)
		return -1;
	sqlite3_bind_text(st, 1, c->appliance, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 2, c->sign_pk, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, c->box_pk, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 4, c->audit_pk, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 5, digest, sizeof digest, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, r->id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static void add_b64(cJSON *o, const char *name, const unsigned char *p, size_t n)
{
	char b64[200];

	sodium_bin2base64(b64, sizeof b64, p, n, sodium_base64_VARIANT_ORIGINAL);
	cJSON_AddStringToObject(o, name, b64);
}

static void add_id(cJSON *o, const char *name, int64_t v)
{
	char text[24];

	/* Key ids use 62 bits: more than a JSON number holds exactly. */
	snprintf(text, sizeof text, "%lld", (long long)v);
	cJSON_AddStringToObject(o, name, text);
}

static int add_keys(cJSON *out, const struct pairing_row *r, const struct claim *c)
{
	struct vault_shared_key *keys;
	cJSON *list = cJSON_AddArrayToObject(out, "keys");
	size_t n;

	if (vault_sync_tenant_keys(r->tenant, c->box_pk, &keys, &n) != VAULT_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cJSON *k = cJSON_CreateObject();
		add_id(k, "id", keys[i].id);
		cJSON_AddStringToObject(k, "purpose", keys[i].purpose);
		cJSON_AddNumberToObject(k, "version", (double)keys[i].version);
		cJSON_AddStringToObject(k, "state", keys[i].state);
		cJSON_AddNumberToObject(k, "created_at", (double)keys[i].created_at);
		cJSON_AddNumberToObject(k, "retired_at", (double)keys[i].retired_at);
		if (keys[i].has_key)
			add_b64(k, "sealed", keys[i].sealed, sizeof keys[i].sealed);
		cJSON_AddItemToArray(list, k);
	}
	sodium_memzero(keys, n * sizeof *keys);
	free(keys);
	return 0;
}

static int add_site(cJSON *out, const struct pairing_row *r)
{
	sqlite3_stmt *st = db_stmt("SELECT t.slug, t.name, s.name, s.timezone, s.version, s.created_at, s.updated_at "
				   "FROM tenants t JOIN sites s ON s.tenant_id = t.id WHERE t.id = ? AND s.id = ?");
	int rc = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, r->tenant);
	sqlite3_bind_int64(st, 2, r->site);
	if (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *t = cJSON_AddObjectToObject(out, "tenant"), *s = cJSON_AddObjectToObject(out, "site");
		cJSON_AddNumberToObject(t, "id", (double)r->tenant);
		cJSON_AddStringToObject(t, "slug", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddStringToObject(t, "name", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddNumberToObject(s, "id", (double)r->site);
		cJSON_AddStringToObject(s, "name", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddStringToObject(s, "timezone", (const char *)sqlite3_column_text(st, 3));
		cJSON_AddNumberToObject(s, "version", (double)sqlite3_column_int64(st, 4));
		cJSON_AddNumberToObject(s, "created_at", (double)sqlite3_column_int64(st, 5));
		cJSON_AddNumberToObject(s, "updated_at", (double)sqlite3_column_int64(st, 6));
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* Everything the site needs, in the claim's transaction. */
static cJSON *claim_answer(const struct pairing_row *r, const struct claim *c, const char *credential)
{
	unsigned char self[16], spk[32], bpk[32];
	int64_t range;
	char hex[33];
	cJSON *out = cJSON_CreateObject();

	if (sync_self_id(self) < 0 || vault_sync_identity(spk, bpk) != VAULT_OK || vault_key_range(&range) != VAULT_OK ||
	    add_site(out, r) < 0 || add_keys(out, r, c) < 0) {
		cJSON_Delete(out);
		return NULL;
	}
	cJSON_AddNumberToObject(out, "pairing_id", (double)r->id);
	cset_id_to_hex(self, hex);
	cJSON_AddStringToObject(out, "central_id", hex);
	add_b64(out, "central_sign_pk", spk, 32);
	add_b64(out, "central_box_pk", bpk, 32);
	cJSON_AddNumberToObject(out, "key_range", (double)range);
	cJSON_AddStringToObject(out, "credential", credential);
	return out;
}

enum sync_outcome sync_pairing_claim(const cJSON *req, const char *source, cJSON **out, char *err, size_t errlen)
{
	struct claim c;
	struct pairing_row r;
	unsigned char self[16], raw[32];
	char credential[64], b64[48], own[33];
	enum sync_outcome rc;

	*out = NULL;
	memset(&r, 0, sizeof r);
	if (parse_claim(req, &c, err, errlen) < 0)
		return SYNC_E_INVALID;
	if (sync_self_id(self) < 0)
		return SYNC_E_INTERNAL;
	cset_id_to_hex(self, own);
	if (strcmp(own, c.appliance) == 0) {
		snprintf(err, errlen, "an appliance cannot be a site of itself");
		return SYNC_E_CONFLICT;
	}
	if (db_begin() < 0)
		return SYNC_E_INTERNAL;
	if ((rc = find_code(&c, &r, err, errlen)) != SYNC_OK)
		goto done;
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(credential, sizeof credential, "ghs_%s", b64);
	rc = SYNC_E_INTERNAL;
	if (activate(&r, &c, credential) == 0 && (*out = claim_answer(&r, &c, credential))) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "site_appliance_id", c.appliance);
		audit_pairing("sync.pairing.claim", r.tenant, "anonymous", "anonymous", source, r.id, "ok", d);
		cJSON_Delete(d);
		rc = db_commit() == 0 ? SYNC_OK : SYNC_E_INTERNAL;
	}
done:
	if (rc != SYNC_OK) {
		db_rollback();
		cJSON_Delete(*out);
		*out = NULL;
	}
	sodium_memzero(credential, sizeof credential);
	sodium_memzero(b64, sizeof b64);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(c.code, sizeof c.code);
	if (rc == SYNC_OK)
		log_notice("sync: pairing %lld claimed by site appliance %s from %s", (long long)r.id, c.appliance, source);
	return rc;
}

enum sync_outcome sync_pairing_revoke(int64_t tenant, int64_t id, const struct sync_actor *who)
{
	sqlite3_stmt *st = db_stmt("UPDATE sync_pairings SET state = 'revoked', revoked_at = unixepoch(), "
				   "token_digest = NULL, code_digest = NULL WHERE id = ?1 AND (?2 < 0 OR tenant_id = ?2) "
				   "AND state != 'revoked' RETURNING tenant_id");
	enum sync_outcome rc = SYNC_E_NOTFOUND;
	int64_t t = 0;

	if (!st || db_begin() < 0)
		return SYNC_E_INTERNAL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		t = sqlite3_column_int64(st, 0);
		rc = SYNC_OK;
	}
	sqlite3_reset(st);
	if (rc == SYNC_OK)
		audit_pairing("sync.pairing.revoke", t, who->type, who->id, who->source, id, "ok", NULL);
	if (rc != SYNC_OK || db_commit() < 0) {
		db_rollback();
		return rc == SYNC_OK ? SYNC_E_INTERNAL : rc;
	}
	log_notice("sync: pairing %lld revoked", (long long)id);
	return SYNC_OK;
}

int sync_site_auth(const char *token, int64_t *pairing, int64_t *tenant)
{
	unsigned char digest[VAULT_TOKEN_DIGEST_BYTES];
	sqlite3_stmt *st;
	int rc = -1;

	if (strncmp(token, "ghs_", 4) != 0 || strlen(token) > 100 ||
	    vault_token_digest(token, strlen(token), digest) != VAULT_OK ||
	    !(st = db_stmt("SELECT id, tenant_id FROM sync_pairings WHERE token_digest = ? AND state = 'active'")))
		return -1;
	sqlite3_bind_blob(st, 1, digest, sizeof digest, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*pairing = sqlite3_column_int64(st, 0);
		*tenant = sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}
