#include "vault_sync.h"

#include "db.h"
#include "log.h"
#include "vault.h"
#include "vault_escrow.h"
#include "vault_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RANGE_MASK 0x3FFFFF

/* --- key ids ------------------------------------------------------------------- */

int vault_key_range(int64_t *range)
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM ks.vault_meta WHERE key = 'key_range'");
	int rc = VAULT_E_DB;

	if (!st)
		return VAULT_E_DB;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) >= 3) {
		const unsigned char *b = sqlite3_column_blob(st, 0);
		*range = ((int64_t)b[0] << 16 | (int64_t)b[1] << 8 | b[2]) & RANGE_MASK;
		if (*range == 0)
			*range = 1; /* 0 would be the range of the keys made before 0011 */
		rc = VAULT_OK;
	}
	sqlite3_reset(st);
	return rc;
}

int vault_next_key_id(int which, int64_t *id)
{
	sqlite3_stmt *st = db_stmt(which == 0 ? "SELECT coalesce(max(id), ?1) + 1 FROM ks.tenant_keys "
						"WHERE id > ?1 AND id < ?2"
					      : "SELECT coalesce(max(id), ?1) + 1 FROM ks.person_keys "
						"WHERE id > ?1 AND id < ?2");
	int64_t range;
	int rc;

	if ((rc = vault_key_range(&range)) != VAULT_OK)
		return rc;
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, range << VAULT_KEY_RANGE_SHIFT);
	sqlite3_bind_int64(st, 2, (range + 1) << VAULT_KEY_RANGE_SHIFT);
	rc = VAULT_E_DB;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = VAULT_OK;
	}
	sqlite3_reset(st);
	return rc;
}

/* --- identity -------------------------------------------------------------------- */

/* An appliance key's 32 bytes, made on first use (inside the caller's write
 * transaction when there is one, else in one of its own). */
static int appliance_key(const char *purpose, unsigned char key[32])
{
	int64_t kid;
	int rc = vault_active_key_id(0, purpose, &kid);

	if (rc == VAULT_E_NOKEY) {
		int own = sqlite3_get_autocommit(db_get());
		if (own && db_begin() < 0)
			return VAULT_E_DB;
		rc = vault_active_key_id(0, purpose, &kid);
		if (rc == VAULT_E_NOKEY)
			rc = vault_create_tenant_key(0, purpose, 1, &kid);
		if (own && (rc != VAULT_OK || db_commit() < 0)) {
			db_rollback();
			return rc != VAULT_OK ? rc : VAULT_E_DB;
		}
		if (rc == VAULT_OK)
			log_notice("vault: sync key '%s' made", purpose);
	}
	if (rc != VAULT_OK)
		return rc;
	return vault_tenant_key(kid, 0, key);
}

static int sign_keypair(unsigned char pk[crypto_sign_PUBLICKEYBYTES], unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
	unsigned char seed[32];
	int rc = appliance_key("sync-sign", seed);

	if (rc == VAULT_OK)
		crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

static int box_keypair(unsigned char pk[crypto_box_PUBLICKEYBYTES], unsigned char sk[crypto_box_SECRETKEYBYTES])
{
	unsigned char seed[32];
	int rc = appliance_key("sync-box", seed);

	if (rc == VAULT_OK)
		crypto_box_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

int vault_sync_identity(unsigned char sign_pk[32], unsigned char box_pk[32])
{
	unsigned char ssk[crypto_sign_SECRETKEYBYTES], bsk[crypto_box_SECRETKEYBYTES];
	int rc = sign_keypair(sign_pk, ssk);

	if (rc == VAULT_OK)
		rc = box_keypair(box_pk, bsk);
	sodium_memzero(ssk, sizeof ssk);
	sodium_memzero(bsk, sizeof bsk);
	return rc;
}

int vault_sync_sign(const unsigned char *msg, size_t len, unsigned char sig[crypto_sign_BYTES])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int rc = sign_keypair(pk, sk);

	if (rc == VAULT_OK)
		crypto_sign_detached(sig, NULL, msg, len, sk);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

int vault_sync_unseal(const unsigned char *sealed, size_t len, unsigned char *out)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	int rc;

	if (len < crypto_box_SEALBYTES)
		return VAULT_E_FORMAT;
	rc = box_keypair(pk, sk);
	if (rc == VAULT_OK && crypto_box_seal_open(out, sealed, len, pk, sk) != 0)
		rc = VAULT_E_AUTH;
	sodium_memzero(sk, sizeof sk);
	return rc;
}

/* --- sharing tenant keys ----------------------------------------------------------- */

/* What a shared key is: its name, hashed. Inside the sealed box, so that a
 * sealed key moved to another key's row does not open as that key. */
static void shared_tag(int64_t tenant, const char *purpose, int64_t version, unsigned char tag[32])
{
	static const unsigned char ctx[] = "gatehouse/sync-key/v1";
	unsigned char ad[256];
	size_t n = vault_tenant_key_ad(tenant, purpose, version, ad, sizeof ad);

	crypto_generichash(tag, 32, ad, n, ctx, sizeof ctx - 1);
}

static int shareable(const char *purpose)
{
	return strcmp(purpose, "data") == 0 || strcmp(purpose, "index") == 0 || strcmp(purpose, "terminal") == 0;
}

int vault_sync_tenant_key(int64_t key_id, int64_t tenant, const unsigned char peer_box_pk[32],
			  struct vault_shared_key *out)
{
	sqlite3_stmt *st = db_stmt("SELECT purpose, version, state, wrapped IS NOT NULL, created_at, "
				   "coalesce(retired_at, 0) FROM ks.tenant_keys WHERE id = ? AND tenant_id = ?");
	unsigned char plain[64];
	int rc = 1;

	memset(out, 0, sizeof *out);
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, key_id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW && shareable((const char *)sqlite3_column_text(st, 0))) {
		out->id = key_id;
		out->tenant = tenant;
		snprintf(out->purpose, sizeof out->purpose, "%s", sqlite3_column_text(st, 0));
		out->version = sqlite3_column_int64(st, 1);
		snprintf(out->state, sizeof out->state, "%s", sqlite3_column_text(st, 2));
		out->has_key = sqlite3_column_int(st, 3);
		out->created_at = sqlite3_column_int64(st, 4);
		out->retired_at = sqlite3_column_int64(st, 5);
		rc = VAULT_OK;
	}
	sqlite3_reset(st);
	if (rc != VAULT_OK || !out->has_key)
		return rc;
	shared_tag(tenant, out->purpose, out->version, plain);
	if ((rc = vault_tenant_key(key_id, tenant, plain + 32)) == VAULT_OK)
		crypto_box_seal(out->sealed, plain, sizeof plain, peer_box_pk);
	sodium_memzero(plain, sizeof plain);
	return rc;
}

int vault_sync_tenant_keys(int64_t tenant, const unsigned char peer_box_pk[32], struct vault_shared_key **list,
			   size_t *n)
{
	unsigned char tk[32];
	sqlite3_stmt *st;
	int64_t ids[64];
	size_t count = 0;
	int rc = vault_terminal_key(tenant, tk);

	sodium_memzero(tk, sizeof tk);
	*list = NULL;
	*n = 0;
	if (rc != VAULT_OK)
		return rc;
	if (!(st = db_stmt("SELECT id FROM ks.tenant_keys WHERE tenant_id = ? "
			   "AND purpose IN ('data', 'index', 'terminal') ORDER BY id")))
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, tenant);
	while (count < 64 && sqlite3_step(st) == SQLITE_ROW)
		ids[count++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (!(*list = calloc(count ? count : 1, sizeof **list)))
		return VAULT_E_NOMEM;
	for (size_t i = 0; i < count; i++)
		if ((rc = vault_sync_tenant_key(ids[i], tenant, peer_box_pk, &(*list)[*n])) == VAULT_OK)
			(*n)++;
		else if (rc < 0)
			break;
	if (rc < 0) {
		free(*list);
		*list = NULL;
		*n = 0;
		return rc;
	}
	return VAULT_OK;
}

static int demote_active(int64_t tenant, const char *purpose, int64_t except)
{
	sqlite3_stmt *st = db_stmt("UPDATE ks.tenant_keys SET state = 'retiring' WHERE tenant_id = ? AND purpose = ? "
				   "AND state = 'active' AND id != ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, purpose, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, except);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* The key's bytes out of its box, checked against its name. */
static int open_shared(const struct vault_shared_key *k, unsigned char key[32])
{
	unsigned char plain[64], tag[32];
	int rc = vault_sync_unseal(k->sealed, sizeof k->sealed, plain);

	if (rc == VAULT_OK) {
		shared_tag(k->tenant, k->purpose, k->version, tag);
		if (sodium_memcmp(tag, plain, 32) != 0)
			rc = VAULT_E_AUTH;
		else
			memcpy(key, plain + 32, 32);
	}
	sodium_memzero(plain, sizeof plain);
	return rc;
}

/* Is a row here with this id, and is it the same key (name)? 1 same, 0 none, -1 another. */
static int existing_key(const struct vault_shared_key *k, int *has_bytes)
{
	sqlite3_stmt *st = db_stmt("SELECT tenant_id, purpose, version, wrapped IS NOT NULL FROM ks.tenant_keys "
				   "WHERE id = ?");
	int rc = 0;

	if (!st)
		return -2;
	sqlite3_bind_int64(st, 1, k->id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		rc = sqlite3_column_int64(st, 0) == k->tenant && sqlite3_column_int64(st, 2) == k->version &&
				     strcmp((const char *)sqlite3_column_text(st, 1), k->purpose) == 0
			     ? 1
			     : -1;
		*has_bytes = sqlite3_column_int(st, 3);
	}
	sqlite3_reset(st);
	return rc;
}

static int update_key(const struct vault_shared_key *k, const unsigned char *wrapped, const unsigned char *escrow)
{
	sqlite3_stmt *st = db_stmt("UPDATE ks.tenant_keys SET state = ?2, retired_at = nullif(?3, 0), "
				   "wrapped = CASE WHEN ?4 THEN coalesce(?5, wrapped) ELSE NULL END, "
				   "recovery_wrapped = CASE WHEN ?4 THEN coalesce(?6, recovery_wrapped) ELSE NULL END "
				   "WHERE id = ?1");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, k->id);
	sqlite3_bind_text(st, 2, k->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, k->retired_at);
	sqlite3_bind_int(st, 4, k->has_key);
	if (wrapped)
		sqlite3_bind_blob(st, 5, wrapped, VAULT_WRAPPED_BYTES, SQLITE_TRANSIENT);
	if (escrow)
		sqlite3_bind_blob(st, 6, escrow, VAULT_ESCROW_BYTES, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int insert_key(const struct vault_shared_key *k, const unsigned char *wrapped, const unsigned char *escrow)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO ks.tenant_keys (id, tenant_id, purpose, version, state, wrapped, "
				   "created_at, retired_at, recovery_wrapped) VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, 0), ?)");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, k->id);
	sqlite3_bind_int64(st, 2, k->tenant);
	sqlite3_bind_text(st, 3, k->purpose, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, k->version);
	sqlite3_bind_text(st, 5, k->state, -1, SQLITE_TRANSIENT);
	if (wrapped)
		sqlite3_bind_blob(st, 6, wrapped, VAULT_WRAPPED_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, k->created_at);
	sqlite3_bind_int64(st, 8, k->retired_at);
	if (escrow)
		sqlite3_bind_blob(st, 9, escrow, VAULT_ESCROW_BYTES, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int vault_sync_tenant_key_put(const struct vault_shared_key *k, char *err, size_t errlen)
{
	unsigned char key[32], wrapped[VAULT_WRAPPED_BYTES], escrow[VAULT_ESCROW_BYTES];
	int have_wrap = 0, escrowed = 0, has_bytes = 0, rc;
	int found = existing_key(k, &has_bytes);

	if (!shareable(k->purpose) || k->tenant <= 0 ||
	    (strcmp(k->state, "active") && strcmp(k->state, "retiring") && strcmp(k->state, "retired"))) {
		snprintf(err, errlen, "key %lld is not a key a site may hold", (long long)k->id);
		return -1;
	}
	if (found == -1) {
		snprintf(err, errlen, "key id %lld is another key on this appliance", (long long)k->id);
		return -1;
	}
	if (found < -1)
		goto db;
	/* The bytes are needed only for a key this appliance does not have yet. */
	if (k->has_key && (found == 0 || !has_bytes)) {
		if (open_shared(k, key) != VAULT_OK) {
			snprintf(err, errlen, "key %lld cannot be opened with this appliance's sync key", (long long)k->id);
			return -1;
		}
		have_wrap = vault_master_wrap(k->tenant, k->purpose, k->version, key, wrapped) == VAULT_OK;
		escrowed = have_wrap ? vault_escrow_seal(k->tenant, k->purpose, k->version, key, escrow) : 0;
		sodium_memzero(key, sizeof key);
		if (!have_wrap || escrowed < 0)
			goto db;
	}
	rc = strcmp(k->state, "active") == 0 ? demote_active(k->tenant, k->purpose, k->id) : 0;
	if (rc == 0)
		rc = found ? update_key(k, have_wrap ? wrapped : NULL, escrowed > 0 ? escrow : NULL)
			   : insert_key(k, have_wrap ? wrapped : NULL, escrowed > 0 ? escrow : NULL);
	vault_cache_flush();
	if (rc == 0)
		return 0;
db:
	snprintf(err, errlen, "cannot store key %lld: %s", (long long)k->id, sqlite3_errmsg(db_get()));
	return -1;
}

/* --- room for the central's keys on a new site --------------------------------------- */

static void key_header(int64_t kid, unsigned char h[10])
{
	uint64_t v = (uint64_t)kid;

	h[0] = 0x01;
	h[1] = 'T';
	for (int i = 9; i >= 2; i--, v >>= 8)
		h[i] = (unsigned char)v;
}

/* Is anything sealed with this tenant key, or a person key wrapped by it?
 * Every registered column is searched (a fresh site has little). */
static int key_used(int64_t kid)
{
	sqlite3_stmt *cols = db_stmt("SELECT table_name, column_name FROM sealed_columns");
	unsigned char h[10];
	char names[64][2][64];
	int n = 0, used = 0;

	key_header(kid, h);
	if (!cols)
		return -1;
	while (n < 64 && sqlite3_step(cols) == SQLITE_ROW) {
		snprintf(names[n][0], 64, "%s", sqlite3_column_text(cols, 0));
		snprintf(names[n][1], 64, "%s", sqlite3_column_text(cols, 1));
		n++;
	}
	sqlite3_reset(cols);
	for (int i = 0; i < n && !used; i++) {
		char sql[300];
		sqlite3_stmt *st;

		/* Names come from sealed_columns, whose CHECK allows [a-z0-9_] only. */
		snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE substr(\"%s\", 1, 10) = ? LIMIT 1", names[i][0],
			 names[i][1]);
		if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
			continue; /* a fixture table of the tests that is gone */
		sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_STATIC);
		used = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	if (!used) {
		sqlite3_stmt *st = db_stmt("SELECT 1 FROM ks.person_keys WHERE tenant_key_id = ? LIMIT 1");
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, kid);
		used = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
	}
	return used;
}

static int ids_of(const char *sql, int64_t arg, int64_t *ids, int max)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, arg);
	while (n < max && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int move_key(int64_t from, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t to;
	int rc;

	if (vault_next_key_id(0, &to) != VAULT_OK || !(st = db_stmt("UPDATE ks.tenant_keys SET id = ? WHERE id = ?"))) {
		snprintf(err, errlen, "cannot move key %lld", (long long)from);
		return -1;
	}
	sqlite3_bind_int64(st, 1, to);
	sqlite3_bind_int64(st, 2, from);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	if (rc < 0)
		snprintf(err, errlen, "cannot move key %lld: %s", (long long)from, sqlite3_errmsg(db_get()));
	else
		log_notice("vault: key %lld moved to id %lld to make room for the central's keys", (long long)from,
			   (long long)to);
	return rc;
}

int vault_sync_make_room(int64_t tenant, const struct vault_shared_key *keys, size_t n, int64_t peer_range,
			 char *err, size_t errlen)
{
	int64_t range, own[64];
	int count;

	if (vault_key_range(&range) != VAULT_OK) {
		snprintf(err, errlen, "the key store has no key-id range");
		return -1;
	}
	if (range == peer_range) {
		snprintf(err, errlen, "this appliance and the central use the same key-id range (one chance in four "
			 "million): reinstall this appliance and pair again");
		return -1;
	}
	/* The site's own keys of the paired tenant make way for the central's. */
	count = ids_of("SELECT id FROM ks.tenant_keys WHERE tenant_id = ?", tenant, own, 64);
	for (int i = 0; i < count; i++)
		if (key_used(own[i])) {
			snprintf(err, errlen, "this appliance already holds data of tenant %lld sealed under its own keys: "
				 "pair a newly installed appliance", (long long)tenant);
			return -1;
		}
	if (count < 0 || ids_of("DELETE FROM ks.tenant_keys WHERE tenant_id = ? RETURNING id", tenant, own, 64) < 0) {
		snprintf(err, errlen, "cannot replace the keys of tenant %lld", (long long)tenant);
		return -1;
	}
	/* Keys of other tenants that sit on one of the central's ids move. */
	for (size_t i = 0; i < n; i++) {
		int64_t who;
		if (ids_of("SELECT tenant_id FROM ks.tenant_keys WHERE id = ?", keys[i].id, &who, 1) != 1)
			continue;
		if (who == 0 || key_used(keys[i].id)) {
			snprintf(err, errlen, "key id %lld of the central is in use on this appliance: pair a newly "
				 "installed appliance", (long long)keys[i].id);
			return -1;
		}
		if (move_key(keys[i].id, err, errlen) < 0)
			return -1;
	}
	vault_cache_flush();
	return 0;
}

/* --- person keys ----------------------------------------------------------------------- */

int vault_sync_person_key_get(int64_t key_id, int64_t tenant, struct vault_person_key_row *out)
{
	sqlite3_stmt *st = db_stmt("SELECT person_id, tenant_key_id, wrapped, created_at FROM ks.person_keys "
				   "WHERE id = ? AND tenant_id = ?");
	int rc = 1;

	memset(out, 0, sizeof *out);
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, key_id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 2) == VAULT_PERSON_WRAPPED_BYTES) {
		out->id = key_id;
		out->tenant = tenant;
		out->person = sqlite3_column_int64(st, 0);
		out->tenant_key_id = sqlite3_column_int64(st, 1);
		memcpy(out->wrapped, sqlite3_column_blob(st, 2), VAULT_PERSON_WRAPPED_BYTES);
		out->created_at = sqlite3_column_int64(st, 3);
		rc = VAULT_OK;
	}
	sqlite3_reset(st);
	return rc;
}

int vault_sync_person_key_put(const struct vault_person_key_row *r, char *err, size_t errlen)
{
	/* REPLACE: by id (a re-wrapped key) or by (tenant, person). The key
	 * itself never changes, so what this thread has cached stays right. */
	sqlite3_stmt *st = db_stmt("INSERT OR REPLACE INTO ks.person_keys (id, tenant_id, person_id, tenant_key_id, "
				   "wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)");
	int rc;

	if (r->tenant <= 0 || r->person <= 0 || r->id <= 0) {
		snprintf(err, errlen, "person key %lld is malformed", (long long)r->id);
		return -1;
	}
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, r->id);
	sqlite3_bind_int64(st, 2, r->tenant);
	sqlite3_bind_int64(st, 3, r->person);
	sqlite3_bind_int64(st, 4, r->tenant_key_id);
	sqlite3_bind_blob(st, 5, r->wrapped, VAULT_PERSON_WRAPPED_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, r->created_at);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	if (rc < 0)
		snprintf(err, errlen, "cannot store person key %lld: %s", (long long)r->id, sqlite3_errmsg(db_get()));
	return rc;
}

/* --- the key log ------------------------------------------------------------------------ */

int vault_sync_key_changes(int64_t tenant, long long after, int max, struct vault_key_change *out, long long *last)
{
	sqlite3_stmt *st = db_stmt("SELECT seq, kind, key_id, coalesce(person_id, 0) FROM ks.key_log k "
				   "WHERE tenant_id = ?1 AND seq > ?2 AND NOT EXISTS (SELECT 1 FROM ks.key_log n "
				   "WHERE n.tenant_id = k.tenant_id AND n.kind = k.kind AND n.key_id = k.key_id "
				   "AND n.seq > k.seq) ORDER BY seq LIMIT ?3");
	int n = 0;

	*last = after;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int(st, 3, max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		*last = sqlite3_column_int64(st, 0);
		out[n].kind = *(const char *)sqlite3_column_text(st, 1) == 't' ? 'T' : 'P';
		out[n].key_id = sqlite3_column_int64(st, 2);
		out[n].person = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	if (n < max) {
		/* Everything after `after` was seen: the stream is at the head. */
		st = db_stmt("SELECT coalesce(max(seq), 0) FROM ks.key_log");
		if (!st)
			return -1;
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > *last)
			*last = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return n;
}

long long vault_sync_key_pending(int64_t tenant, long long after)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM ks.key_log k WHERE tenant_id = ?1 AND seq > ?2 AND NOT EXISTS "
				   "(SELECT 1 FROM ks.key_log n WHERE n.tenant_id = k.tenant_id AND n.kind = k.kind "
				   "AND n.key_id = k.key_id AND n.seq > k.seq)");
	long long v = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, after);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

int64_t vault_sync_key_head(void)
{
	sqlite3_stmt *st = db_stmt("SELECT coalesce(max(seq), 0) FROM ks.key_log");
	int64_t v = 0;

	if (!st)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}
