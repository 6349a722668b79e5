#include "vault.h"

#include "db.h"
#include "log.h"
#include "masterkey.h"
#include "vault_escrow.h"
#include "vault_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY_BYTES 32
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HEADER_BYTES (1 + 1 + 8 + NONCE_BYTES)
#define FORMAT_V1 0x01

/* --- the master key ------------------------------------------------------- */

/* Lives in a guarded, locked page (sodium_malloc), readable only while a
 * key is being wrapped or unwrapped. */
static unsigned char *master;
static char master_file[4200];
static pthread_mutex_t master_mu = PTHREAD_MUTEX_INITIALIZER;

static const unsigned char *master_use(void)
{
	pthread_mutex_lock(&master_mu);
	if (!master) {
		pthread_mutex_unlock(&master_mu);
		return NULL;
	}
	sodium_mprotect_readonly(master);
	return master;
}

static void master_done(void)
{
	sodium_mprotect_noaccess(master);
	pthread_mutex_unlock(&master_mu);
}

/* After `keys rewrap-master` ran in another process the key file holds a
 * new key: read it again. */
static int master_reload(void)
{
	unsigned char key[KEY_BYTES];
	char err[512];
	int rc = masterkey_read(master_file, key, err, sizeof err);

	if (rc != 0) {
		log_err("vault: %s", rc > 0 ? "master key file disappeared" : err);
		return -1;
	}
	pthread_mutex_lock(&master_mu);
	sodium_mprotect_readwrite(master);
	memcpy(master, key, KEY_BYTES);
	sodium_mprotect_noaccess(master);
	pthread_mutex_unlock(&master_mu);
	sodium_memzero(key, sizeof key);
	log_notice("vault: master key reloaded from %s", master_file);
	return 0;
}

/* --- wrapping -------------------------------------------------------------- */

/* The check value proves that the master key in hand is the one the key
 * store was made with: 32 zero bytes sealed under it. */
static const char check_ad[] = "gatehouse/master-check/v1";

struct adbuf {
	unsigned char b[320];
	size_t n;
};

static void ad_bytes(struct adbuf *a, const void *p, size_t n)
{
	if (a->n + n <= sizeof a->b) {
		memcpy(a->b + a->n, p, n);
		a->n += n;
	}
}

static void ad_u64(struct adbuf *a, uint64_t v)
{
	unsigned char be[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		be[i] = (unsigned char)v;
	ad_bytes(a, be, 8);
}

static void ad_str(struct adbuf *a, const char *s)
{
	ad_bytes(a, s, strlen(s) + 1); /* with the NUL, so "ab"+"c" != "a"+"bc" */
}

int vault_wrap(const unsigned char *kek, const unsigned char key[32], const unsigned char *ad,
	       size_t adlen, unsigned char out[VAULT_WRAPPED_BYTES])
{
	unsigned long long clen;

	randombytes_buf(out, NONCE_BYTES);
	return crypto_aead_xchacha20poly1305_ietf_encrypt(out + NONCE_BYTES, &clen, key, KEY_BYTES, ad,
							   adlen, NULL, out, kek);
}

int vault_unwrap(const unsigned char *kek, const unsigned char *in, size_t inlen,
		 const unsigned char *ad, size_t adlen, unsigned char key[32])
{
	unsigned long long mlen;

	if (inlen != VAULT_WRAPPED_BYTES)
		return -1;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &mlen, NULL, in + NONCE_BYTES,
						       inlen - NONCE_BYTES, ad, adlen, in, kek) != 0 ||
	    mlen != KEY_BYTES)
		return -1;
	return 0;
}

static void tenant_key_ad(struct adbuf *a, int64_t tenant, const char *purpose, int64_t version)
{
	a->n = 0;
	ad_str(a, "gatehouse/tenant-key/v1");
	ad_u64(a, (uint64_t)tenant);
	ad_str(a, purpose);
	ad_u64(a, (uint64_t)version);
}

size_t vault_tenant_key_ad(int64_t tenant, const char *purpose, int64_t version, unsigned char *out,
			   size_t cap)
{
	struct adbuf a;

	tenant_key_ad(&a, tenant, purpose, version);
	if (a.n > cap)
		return 0;
	memcpy(out, a.b, a.n);
	return a.n;
}

int vault_master_copy(unsigned char out[32])
{
	const unsigned char *mk = master_use();

	if (!mk)
		return VAULT_E_MASTER;
	memcpy(out, mk, KEY_BYTES);
	master_done();
	return VAULT_OK;
}

int vault_master_kdf(uint64_t id, const char ctx[8], unsigned char out[32])
{
	const unsigned char *mk = master_use();
	int rc;

	if (!mk)
		return VAULT_E_MASTER;
	rc = crypto_kdf_derive_from_key(out, 32, id, ctx, mk);
	master_done();
	return rc == 0 ? VAULT_OK : VAULT_E_MASTER;
}

static void person_key_ad(struct adbuf *a, int64_t tenant, int64_t person, int64_t tenant_key_id)
{
	a->n = 0;
	ad_str(a, "gatehouse/person-key/v1");
	ad_u64(a, (uint64_t)tenant);
	ad_u64(a, (uint64_t)person);
	ad_u64(a, (uint64_t)tenant_key_id);
}

/* Wrap or unwrap a tenant key with the master key. An unwrap that fails is
 * retried once after re-reading the key file (see master_reload). */
int vault_master_wrap(int64_t tenant, const char *purpose, int64_t version,
		      const unsigned char key[32], unsigned char out[VAULT_WRAPPED_BYTES])
{
	struct adbuf a;
	const unsigned char *mk = master_use();
	int rc;

	if (!mk)
		return VAULT_E_MASTER;
	tenant_key_ad(&a, tenant, purpose, version);
	rc = vault_wrap(mk, key, a.b, a.n, out);
	master_done();
	return rc == 0 ? VAULT_OK : VAULT_E_MASTER;
}

int vault_master_unwrap(int64_t tenant, const char *purpose, int64_t version,
			const unsigned char *wrapped, size_t len, unsigned char key[32])
{
	struct adbuf a;
	const unsigned char *mk;
	int rc;

	tenant_key_ad(&a, tenant, purpose, version);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!(mk = master_use()))
			return VAULT_E_MASTER;
		rc = vault_unwrap(mk, wrapped, len, a.b, a.n, key);
		master_done();
		if (rc == 0)
			return VAULT_OK;
		if (attempt == 0 && master_reload() < 0)
			break;
	}
	return VAULT_E_MASTER;
}

int vault_person_key_rewrap(int64_t tenant, int64_t person, int64_t old_tkid, const void *wrapped,
			    size_t len, int64_t new_tkid, unsigned char out[VAULT_WRAPPED_BYTES])
{
	unsigned char old_kek[KEY_BYTES], new_kek[KEY_BYTES], key[KEY_BYTES];
	struct adbuf a;
	int rc;

	if ((rc = vault_tenant_key(old_tkid, tenant, old_kek)) != VAULT_OK)
		return rc;
	if ((rc = vault_tenant_key(new_tkid, tenant, new_kek)) != VAULT_OK)
		goto done;
	person_key_ad(&a, tenant, person, old_tkid);
	if (vault_unwrap(old_kek, wrapped, len, a.b, a.n, key) != 0) {
		rc = VAULT_E_AUTH;
		goto done;
	}
	person_key_ad(&a, tenant, person, new_tkid);
	rc = vault_wrap(new_kek, key, a.b, a.n, out) == 0 ? VAULT_OK : VAULT_E_AUTH;
done:
	sodium_memzero(old_kek, sizeof old_kek);
	sodium_memzero(new_kek, sizeof new_kek);
	sodium_memzero(key, sizeof key);
	return rc;
}

int vault_tenant_key_rewrap(const unsigned char *old_mk, const unsigned char *new_mk, int64_t tenant,
			    const char *purpose, int64_t version, const void *wrapped, size_t len,
			    unsigned char out[VAULT_WRAPPED_BYTES])
{
	unsigned char key[KEY_BYTES];
	struct adbuf a;
	int rc = VAULT_E_MASTER;

	tenant_key_ad(&a, tenant, purpose, version);
	if (vault_unwrap(old_mk, wrapped, len, a.b, a.n, key) == 0)
		rc = vault_wrap(new_mk, key, a.b, a.n, out) == 0 ? VAULT_OK : VAULT_E_MASTER;
	sodium_memzero(key, sizeof key);
	return rc;
}

int vault_master_check_with(const unsigned char *mk)
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM ks.vault_meta WHERE key = 'master_check'");
	unsigned char zero[KEY_BYTES];
	int rc = VAULT_E_MASTER;

	if (!st)
		return VAULT_E_DB;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    vault_unwrap(mk, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			 (const unsigned char *)check_ad, sizeof check_ad, zero) == 0)
		rc = VAULT_OK;
	sqlite3_reset(st);
	return rc;
}

/* --- the per-thread key cache ---------------------------------------------- */

#define CACHE_SLOTS 256
#define ACTIVE_SLOTS 32

struct cache {
	struct {
		int64_t id, tenant, aux;
		/* 0 empty; 'T' tenant key by key id; 'P' person key by key id;
		 * 'Q' person key by person id, with its key id in aux. */
		char kind;
		unsigned char key[KEY_BYTES];
	} slot[CACHE_SLOTS];
	struct {
		int64_t tenant, key_id;
		char purpose[12]; /* "" empty; purposes are told apart whole ("sync-sign", "sync-box") */
	} active[ACTIVE_SLOTS];
	long long data_version;
};

static _Thread_local struct cache *tc;

/* The key store changed in another connection (a rotation, a shred, a new
 * tenant): drop everything cached. Own writes flush explicitly. */
static struct cache *cache_get(void)
{
	sqlite3_stmt *st = db_stmt("PRAGMA ks.data_version");
	long long v = -1;

	if (!tc) {
		tc = sodium_malloc(sizeof *tc);
		if (!tc)
			return NULL;
		sodium_memzero(tc, sizeof *tc);
		tc->data_version = -1;
	}
	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	if (v != tc->data_version || v < 0) {
		sodium_memzero(tc, sizeof *tc);
		tc->data_version = v;
	}
	return tc;
}

void vault_cache_flush(void)
{
	if (tc) {
		long long v = tc->data_version;
		sodium_memzero(tc, sizeof *tc);
		tc->data_version = v;
	}
}

void vault_thread_done(void)
{
	if (tc) {
		sodium_free(tc);
		tc = NULL;
	}
}

static unsigned slot_of(char kind, int64_t id)
{
	return (unsigned)(((uint64_t)id * 0x9E3779B97F4A7C15ULL + (unsigned char)kind) >> 56) % CACHE_SLOTS;
}

/* 1 and the key when cached; 0 when not; VAULT_E_TENANT when the key is
 * cached for another tenant (the same answer the key store would give). */
static int cache_find(struct cache *c, char kind, int64_t id, int64_t tenant, unsigned char key[KEY_BYTES],
		      int64_t *aux)
{
	unsigned s = slot_of(kind, id);

	if (!c || c->slot[s].kind != kind || c->slot[s].id != id)
		return 0;
	if (c->slot[s].tenant != tenant)
		return VAULT_E_TENANT;
	memcpy(key, c->slot[s].key, KEY_BYTES);
	if (aux)
		*aux = c->slot[s].aux;
	return 1;
}

static void cache_put(struct cache *c, char kind, int64_t id, int64_t tenant,
		      const unsigned char key[KEY_BYTES], int64_t aux)
{
	unsigned s = slot_of(kind, id);

	if (!c)
		return;
	c->slot[s].kind = kind;
	c->slot[s].id = id;
	c->slot[s].tenant = tenant;
	c->slot[s].aux = aux;
	memcpy(c->slot[s].key, key, KEY_BYTES);
}

static void cache_drop(char kind, int64_t id)
{
	unsigned s = slot_of(kind, id);

	if (tc && tc->slot[s].kind == kind && tc->slot[s].id == id)
		sodium_memzero(&tc->slot[s], sizeof tc->slot[s]);
}

/* --- key lookups ------------------------------------------------------------ */

/* The key lookups below take the cache their caller checked once (one
 * data_version query per vault call, not one per lookup: the query costs
 * more than the cipher on small fields). */
static int active_key_id(struct cache *c, int64_t tenant, const char *purpose, int64_t *id)
{
	sqlite3_stmt *st;
	int rc = VAULT_E_NOKEY;

	for (int i = 0; c && i < ACTIVE_SLOTS; i++)
		if (c->active[i].tenant == tenant && strcmp(c->active[i].purpose, purpose) == 0) {
			*id = c->active[i].key_id;
			return VAULT_OK;
		}
	st = db_stmt("SELECT id FROM ks.tenant_keys WHERE tenant_id = ? AND purpose = ? AND state = 'active'");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, purpose, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = VAULT_OK;
		for (int i = 0; c && i < ACTIVE_SLOTS; i++)
			if (!c->active[i].purpose[0] && strlen(purpose) < sizeof c->active[i].purpose) {
				snprintf(c->active[i].purpose, sizeof c->active[i].purpose, "%s", purpose);
				c->active[i].tenant = tenant;
				c->active[i].key_id = *id;
				break;
			}
	}
	sqlite3_reset(st);
	return rc;
}

int vault_active_key_id(int64_t tenant, const char *purpose, int64_t *id)
{
	return active_key_id(cache_get(), tenant, purpose, id);
}

static int tenant_key(struct cache *c, int64_t key_id, int64_t tenant, unsigned char key[KEY_BYTES])
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = cache_find(c, 'T', key_id, tenant, key, NULL)) != 0)
		return rc > 0 ? VAULT_OK : rc;
	st = db_stmt("SELECT tenant_id, purpose, version, wrapped FROM ks.tenant_keys WHERE id = ?");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, key_id);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 3) == SQLITE_NULL) {
		rc = VAULT_E_NOKEY;
	} else if (sqlite3_column_int64(st, 0) != tenant) {
		rc = VAULT_E_TENANT;
	} else {
		rc = vault_master_unwrap(tenant, (const char *)sqlite3_column_text(st, 1),
					 sqlite3_column_int64(st, 2), sqlite3_column_blob(st, 3),
					 (size_t)sqlite3_column_bytes(st, 3), key);
		if (rc == VAULT_OK)
			cache_put(c, 'T', key_id, tenant, key, 0);
	}
	sqlite3_reset(st);
	return rc;
}

int vault_tenant_key(int64_t key_id, int64_t tenant, unsigned char key[KEY_BYTES])
{
	return tenant_key(cache_get(), key_id, tenant, key);
}

/* A person key by its own id (opening) or by person (sealing). */
static int person_key_load(struct cache *c, sqlite3_stmt *st, int64_t tenant, int64_t *key_id,
			   unsigned char key[KEY_BYTES])
{
	unsigned char kek[KEY_BYTES];
	struct adbuf a;
	int64_t row_tenant, person, tkid;
	int rc;

	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return VAULT_E_SHREDDED;
	}
	*key_id = sqlite3_column_int64(st, 0);
	row_tenant = sqlite3_column_int64(st, 1);
	person = sqlite3_column_int64(st, 2);
	tkid = sqlite3_column_int64(st, 3);
	if (row_tenant != tenant) {
		sqlite3_reset(st);
		return VAULT_E_TENANT;
	}
	rc = tenant_key(c, tkid, tenant, kek);
	if (rc == VAULT_OK) {
		person_key_ad(&a, tenant, person, tkid);
		if (vault_unwrap(kek, sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4), a.b,
				 a.n, key) != 0)
			rc = VAULT_E_AUTH;
	}
	sodium_memzero(kek, sizeof kek);
	sqlite3_reset(st);
	return rc;
}

static int person_key_by_id(struct cache *c, int64_t key_id, int64_t tenant, unsigned char key[KEY_BYTES])
{
	sqlite3_stmt *st;
	int64_t id;
	int rc;

	if ((rc = cache_find(c, 'P', key_id, tenant, key, NULL)) != 0)
		return rc > 0 ? VAULT_OK : rc;
	st = db_stmt("SELECT id, tenant_id, person_id, tenant_key_id, wrapped FROM ks.person_keys WHERE id = ?");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, key_id);
	rc = person_key_load(c, st, tenant, &id, key);
	if (rc == VAULT_OK)
		cache_put(c, 'P', key_id, tenant, key, 0);
	return rc;
}

static int person_key_by_person(struct cache *c, int64_t tenant, int64_t person, int64_t *key_id,
				unsigned char key[KEY_BYTES])
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = cache_find(c, 'Q', person, tenant, key, key_id)) != 0)
		return rc > 0 ? VAULT_OK : rc;
	st = db_stmt("SELECT id, tenant_id, person_id, tenant_key_id, wrapped "
		     "FROM ks.person_keys WHERE tenant_id = ? AND person_id = ?");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	rc = person_key_load(c, st, tenant, key_id, key);
	if (rc == VAULT_OK) {
		cache_put(c, 'P', *key_id, tenant, key, 0);
		cache_put(c, 'Q', person, tenant, key, *key_id);
	}
	return rc;
}

/* --- sealing ------------------------------------------------------------- */

static void field_ad(struct adbuf *a, const unsigned char *header, const struct vault_ref *ref)
{
	a->n = 0;
	ad_bytes(a, header, HEADER_BYTES);
	ad_str(a, "gatehouse/field/v1");
	ad_u64(a, (uint64_t)ref->tenant);
	ad_u64(a, (uint64_t)ref->row);
	ad_str(a, ref->table);
	ad_str(a, ref->column);
}

static int ref_ok(const struct vault_ref *ref)
{
	return ref && ref->table && ref->column && strlen(ref->table) < 100 && strlen(ref->column) < 100;
}

static int seal_with(char kind, int64_t key_id, const unsigned char key[KEY_BYTES],
		     const struct vault_ref *ref, const void *plain, size_t len, unsigned char **out,
		     size_t *outlen)
{
	unsigned char *buf;
	unsigned long long clen;
	struct adbuf a;
	uint64_t id = (uint64_t)key_id;

	if (len > (size_t)1 << 30)
		return VAULT_E_INPUT;
	buf = malloc(len + VAULT_OVERHEAD);
	if (!buf)
		return VAULT_E_NOMEM;
	buf[0] = FORMAT_V1;
	buf[1] = (unsigned char)kind;
	for (int i = 9; i >= 2; i--, id >>= 8)
		buf[i] = (unsigned char)id;
	randombytes_buf(buf + 10, NONCE_BYTES);
	field_ad(&a, buf, ref);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + HEADER_BYTES, &clen, plain, len, a.b, a.n,
						   NULL, buf + 10, key);
	*out = buf;
	*outlen = HEADER_BYTES + (size_t)clen;
	return VAULT_OK;
}

int vault_seal(const struct vault_ref *ref, const void *plain, size_t len, unsigned char **out,
	       size_t *outlen)
{
	unsigned char key[KEY_BYTES];
	int64_t kid;
	int rc;

	struct cache *c;

	if (!ref_ok(ref))
		return VAULT_E_INPUT;
	c = cache_get();
	rc = active_key_id(c, ref->tenant, "data", &kid);
	if (rc == VAULT_OK)
		rc = tenant_key(c, kid, ref->tenant, key);
	if (rc == VAULT_OK)
		rc = seal_with('T', kid, key, ref, plain, len, out, outlen);
	sodium_memzero(key, sizeof key);
	return rc;
}

int vault_seal_person(const struct vault_ref *ref, int64_t person, const void *plain, size_t len,
		      unsigned char **out, size_t *outlen)
{
	unsigned char key[KEY_BYTES];
	int64_t kid;
	int rc;

	if (!ref_ok(ref))
		return VAULT_E_INPUT;
	rc = person_key_by_person(cache_get(), ref->tenant, person, &kid, key);
	if (rc == VAULT_OK)
		rc = seal_with('P', kid, key, ref, plain, len, out, outlen);
	sodium_memzero(key, sizeof key);
	return rc;
}

int vault_parse_header(const unsigned char *sealed, size_t len, char *kind, int64_t *key_id)
{
	uint64_t id = 0;

	if (!sealed || len < VAULT_OVERHEAD || sealed[0] != FORMAT_V1 ||
	    (sealed[1] != 'T' && sealed[1] != 'P'))
		return VAULT_E_FORMAT;
	for (int i = 2; i < 10; i++)
		id = id << 8 | sealed[i];
	*kind = (char)sealed[1];
	*key_id = (int64_t)id;
	return VAULT_OK;
}

int vault_open_field(const struct vault_ref *ref, const unsigned char *sealed, size_t len,
		     unsigned char **plain, size_t *plainlen)
{
	unsigned char key[KEY_BYTES], *buf;
	unsigned long long mlen;
	struct adbuf a;
	int64_t kid;
	char kind;
	int rc;

	if (!ref_ok(ref))
		return VAULT_E_INPUT;
	if ((rc = vault_parse_header(sealed, len, &kind, &kid)) != VAULT_OK)
		return rc;
	struct cache *c = cache_get();
	rc = kind == 'T' ? tenant_key(c, kid, ref->tenant, key) : person_key_by_id(c, kid, ref->tenant, key);
	if (rc != VAULT_OK)
		return rc;
	buf = malloc(len - VAULT_OVERHEAD + 1);
	if (!buf) {
		sodium_memzero(key, sizeof key);
		return VAULT_E_NOMEM;
	}
	field_ad(&a, sealed, ref);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &mlen, NULL, sealed + HEADER_BYTES,
						       len - HEADER_BYTES, a.b, a.n, sealed + 10, key) != 0) {
		sodium_memzero(key, sizeof key);
		free(buf);
		return VAULT_E_AUTH;
	}
	sodium_memzero(key, sizeof key);
	buf[mlen] = '\0';
	*plain = buf;
	*plainlen = (size_t)mlen;
	return VAULT_OK;
}

void vault_free(void *p, size_t len)
{
	if (p) {
		sodium_memzero(p, len);
		free(p);
	}
}

/* --- person keys ------------------------------------------------------------ */

int vault_person_key_exists(int64_t tenant, int64_t person)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM ks.person_keys WHERE tenant_id = ? AND person_id = ?");
	int found;

	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

int vault_person_key_create(int64_t tenant, int64_t person)
{
	unsigned char kek[KEY_BYTES], key[KEY_BYTES], wrapped[VAULT_WRAPPED_BYTES];
	struct adbuf a;
	sqlite3_stmt *st;
	int64_t tkid, kid;
	int rc;

	rc = vault_person_key_exists(tenant, person);
	if (rc != 0)
		return rc > 0 ? VAULT_OK : rc;
	if ((rc = vault_active_key_id(tenant, "data", &tkid)) != VAULT_OK ||
	    (rc = vault_tenant_key(tkid, tenant, kek)) != VAULT_OK)
		return rc;
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	person_key_ad(&a, tenant, person, tkid);
	vault_wrap(kek, key, a.b, a.n, wrapped);
	sodium_memzero(kek, sizeof kek);
	sodium_memzero(key, sizeof key);
	if ((rc = vault_next_key_id(1, &kid)) != VAULT_OK)
		return rc;
	st = db_stmt("INSERT INTO ks.person_keys (tenant_id, person_id, tenant_key_id, wrapped, created_at, id) "
		     "VALUES (?, ?, ?, ?, ?, ?)");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	sqlite3_bind_int64(st, 3, tkid);
	sqlite3_bind_blob(st, 4, wrapped, sizeof wrapped, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 6, kid);
	rc = sqlite3_step(st) == SQLITE_DONE ? VAULT_OK : VAULT_E_DB;
	sqlite3_reset(st);
	return rc;
}

int vault_person_key_shred(int64_t tenant, int64_t person)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM ks.person_keys WHERE tenant_id = ? AND person_id = ? RETURNING id");
	int rc = VAULT_E_SHREDDED;

	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cache_drop('P', sqlite3_column_int64(st, 0));
		cache_drop('Q', person);
		rc = VAULT_OK;
	}
	sqlite3_reset(st);
	/* The erasure ledger, in the same transaction as the shredding: a
	 * restore of an older backup replays it (docs/backup.md). */
	if (rc == VAULT_OK && vault_erasure_record(tenant, person, (int64_t)time(NULL)) < 0)
		rc = VAULT_E_DB;
	return rc;
}

/* --- blind indexes, secrets and tokens -------------------------------------- */

/* Blanks to trim: ASCII whitespace and the ideographic space U+3000 that
 * Japanese input methods produce. Returns the blank's length at p, or 0. */
static size_t blank_at(const unsigned char *p, size_t left)
{
	if (left >= 1 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		return 1;
	if (left >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

static size_t blank_before(const unsigned char *start, const unsigned char *end)
{
	size_t left = (size_t)(end - start);

	if (left >= 1 && blank_at(end - 1, 1))
		return 1;
	if (left >= 3 && blank_at(end - 3, 3) == 3)
		return 3;
	return 0;
}

int vault_normalize(enum vault_index_kind kind, const char *value, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)value, *end = p + strlen(value);
	size_t n = 0, b;

	if (kind == VI_CARD) {
		/* Digits only, full-width digits (U+FF10..U+FF19) included. */
		for (; p < end; p++) {
			char d = 0;
			if (*p >= '0' && *p <= '9')
				d = (char)*p;
			else if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBC && p[2] >= 0x90 && p[2] <= 0x99)
				d = (char)('0' + p[2] - 0x90), p += 2;
			if (d) {
				if (n + 1 >= outlen)
					return -1;
				out[n++] = d;
			}
		}
	} else {
		while (p < end && (b = blank_at(p, (size_t)(end - p))))
			p += b;
		while (end > p && (b = blank_before(p, end)))
			end -= b;
		if ((size_t)(end - p) + 1 > outlen)
			return -1;
		for (; p < end; p++)
			out[n++] = (char)(kind == VI_EMAIL && *p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	}
	out[n] = '\0';
	return n ? (int)n : -1;
}

int vault_blind_index(int64_t tenant, enum vault_index_kind kind, const char *value,
		      unsigned char out[VAULT_INDEX_BYTES])
{
	unsigned char key[KEY_BYTES];
	crypto_generichash_state h;
	unsigned char k = (unsigned char)kind;
	char norm[1024];
	int64_t kid;
	int n, rc;

	struct cache *c;

	n = vault_normalize(kind, value, norm, sizeof norm);
	if (n < 0)
		return VAULT_E_INPUT;
	c = cache_get();
	if ((rc = active_key_id(c, tenant, "index", &kid)) != VAULT_OK ||
	    (rc = tenant_key(c, kid, tenant, key)) != VAULT_OK)
		return rc;
	/* The kind is hashed too, so an e-mail and a card number that normalise
	 * to the same text still index differently. */
	crypto_generichash_init(&h, key, KEY_BYTES, VAULT_INDEX_BYTES);
	crypto_generichash_update(&h, &k, 1);
	crypto_generichash_update(&h, (const unsigned char *)norm, (unsigned long long)n);
	crypto_generichash_final(&h, out, VAULT_INDEX_BYTES);
	sodium_memzero(key, sizeof key);
	sodium_memzero(norm, sizeof norm);
	return VAULT_OK;
}

int vault_secret_hash(const char *secret, char out[crypto_pwhash_STRBYTES])
{
	return crypto_pwhash_str(out, secret, strlen(secret), VAULT_PWHASH_OPSLIMIT,
				 VAULT_PWHASH_MEMLIMIT) == 0 ? VAULT_OK : VAULT_E_NOMEM;
}

int vault_secret_verify(const char *hash, const char *secret)
{
	return crypto_pwhash_str_verify(hash, secret, strlen(secret)) == 0 ? 0 : -1;
}

int vault_token_digest(const char *token, size_t len, unsigned char out[VAULT_TOKEN_DIGEST_BYTES])
{
	unsigned char key[KEY_BYTES];
	int64_t kid;
	int rc;

	struct cache *c = cache_get();

	if ((rc = active_key_id(c, 0, "token", &kid)) != VAULT_OK ||
	    (rc = tenant_key(c, kid, 0, key)) != VAULT_OK)
		return rc;
	crypto_generichash(out, VAULT_TOKEN_DIGEST_BYTES, (const unsigned char *)token, len, key, KEY_BYTES);
	sodium_memzero(key, sizeof key);
	return VAULT_OK;
}

/* The audit key's seed is stored like any tenant key; the Ed25519 key pair
 * is derived from it when needed and wiped afterwards. */
static int audit_keypair(unsigned char pk[crypto_sign_PUBLICKEYBYTES],
			 unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
	unsigned char seed[KEY_BYTES];
	struct cache *c = cache_get();
	int64_t kid;
	int rc;

	if ((rc = active_key_id(c, 0, "audit", &kid)) != VAULT_OK ||
	    (rc = tenant_key(c, kid, 0, seed)) != VAULT_OK)
		return rc;
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof seed);
	return VAULT_OK;
}

int vault_audit_sign(const unsigned char *msg, size_t len, unsigned char sig[crypto_sign_BYTES])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int rc = audit_keypair(pk, sk);

	if (rc == VAULT_OK)
		crypto_sign_detached(sig, NULL, msg, len, sk);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

int vault_audit_public_key(unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int rc = audit_keypair(pk, sk);

	sodium_memzero(sk, sizeof sk);
	return rc;
}

int vault_terminal_key(int64_t tenant, unsigned char key[KEY_BYTES])
{
	struct cache *c = cache_get();
	int64_t kid;
	int rc = active_key_id(c, tenant, "terminal", &kid);

	if (rc == VAULT_E_NOKEY) {
		/* First terminal of this tenant: make its key. */
		int own = sqlite3_get_autocommit(db_get());
		if (own && db_begin() < 0)
			return VAULT_E_DB;
		rc = active_key_id(c, tenant, "terminal", &kid);
		if (rc == VAULT_E_NOKEY)
			rc = vault_create_tenant_key(tenant, "terminal", 1, &kid);
		if (own && (rc != VAULT_OK || db_commit() < 0)) {
			db_rollback();
			return rc != VAULT_OK ? rc : VAULT_E_DB;
		}
		c = cache_get();
	}
	if (rc != VAULT_OK)
		return rc;
	return tenant_key(c, kid, tenant, key);
}

int vault_card_hash(const unsigned char key[KEY_BYTES], const char *card, unsigned char out[32])
{
	char norm[128];
	int n = vault_normalize(VI_CARD, card, norm, sizeof norm);

	if (n < 0)
		return VAULT_E_INPUT;
	crypto_generichash(out, 32, (const unsigned char *)norm, (size_t)n, key, KEY_BYTES);
	return VAULT_OK;
}

void vault_token_hash(const unsigned char key[KEY_BYTES], const char *token, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)token, len, key, KEY_BYTES);
}

/* --- tenants and set-up ---------------------------------------------------- */

int vault_create_tenant_key(int64_t tenant, const char *purpose, int64_t version, int64_t *id)
{
	unsigned char key[KEY_BYTES], wrapped[VAULT_WRAPPED_BYTES];
	sqlite3_stmt *st;
	int rc;

	unsigned char escrow[VAULT_ESCROW_BYTES];
	int64_t kid;
	int escrowed;

	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	rc = vault_master_wrap(tenant, purpose, version, key, wrapped);
	/* The second wrap, for the recovery key (none yet at the very first
	 * start: vault_escrow_start adds it a moment later). */
	escrowed = rc == VAULT_OK ? vault_escrow_seal(tenant, purpose, version, key, escrow) : 0;
	sodium_memzero(key, sizeof key);
	if (rc != VAULT_OK)
		return rc;
	if (escrowed < 0)
		return VAULT_E_DB;
	if (vault_next_key_id(0, &kid) != VAULT_OK)
		return VAULT_E_DB;
	st = db_stmt("INSERT INTO ks.tenant_keys (tenant_id, purpose, version, state, wrapped, created_at, "
		     "recovery_wrapped, id) VALUES (?, ?, ?, 'active', ?, ?, ?, ?)");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_int64(st, 7, kid);
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, version);
	sqlite3_bind_blob(st, 4, wrapped, sizeof wrapped, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	if (escrowed)
		sqlite3_bind_blob(st, 6, escrow, sizeof escrow, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? VAULT_OK : VAULT_E_DB;
	if (rc == VAULT_OK && id)
		*id = kid;
	sqlite3_reset(st);
	vault_cache_flush();
	return rc;
}

/* Called inside a write transaction. */
static int tenant_insert(const char *slug, const char *name, int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO tenants (slug, name, created_at) VALUES (?, ?, ?)");
	int rc;

	if (!st) {
		snprintf(err, errlen, "database unavailable");
		return VAULT_E_DB;
	}
	sqlite3_bind_text(st, 1, slug, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "cannot create tenant '%s': %s", slug, sqlite3_errmsg(db_get()));
		sqlite3_reset(st);
		return VAULT_E_INPUT;
	}
	*id = sqlite3_last_insert_rowid(db_get());
	sqlite3_reset(st);
	if (vault_create_tenant_key(*id, "data", 1, NULL) != VAULT_OK ||
	    vault_create_tenant_key(*id, "index", 1, NULL) != VAULT_OK) {
		snprintf(err, errlen, "cannot create keys for tenant '%s'", slug);
		return VAULT_E_DB;
	}
	return VAULT_OK;
}

int vault_tenant_create(const char *slug, const char *name, int64_t *id, char *err, size_t errlen)
{
	int rc;

	if (db_begin() < 0) {
		snprintf(err, errlen, "database busy");
		return VAULT_E_DB;
	}
	rc = vault_master_check();
	if (rc != VAULT_OK) {
		snprintf(err, errlen, "master key does not match the key store");
	} else {
		rc = tenant_insert(slug, name, id, err, errlen);
	}
	if (rc == VAULT_OK && db_commit() == 0)
		return VAULT_OK;
	db_rollback();
	return rc == VAULT_OK ? VAULT_E_DB : rc;
}


int vault_master_check(void)
{
	const unsigned char *mk;
	int rc = VAULT_E_MASTER;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!(mk = master_use()))
			return VAULT_E_MASTER;
		rc = vault_master_check_with(mk);
		master_done();
		if (rc != VAULT_E_MASTER || attempt > 0 || master_reload() < 0)
			break;
	}
	return rc;
}

int vault_master_check_on(sqlite3 *db, const char *schema, const unsigned char *mk)
{
	char sql[128];
	sqlite3_stmt *st;
	unsigned char zero[KEY_BYTES];
	int rc = VAULT_E_MASTER;

	snprintf(sql, sizeof sql, "SELECT value FROM \"%s\".vault_meta WHERE key = 'master_check'", schema);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return VAULT_E_DB;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    vault_unwrap(mk, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			 (const unsigned char *)check_ad, sizeof check_ad, zero) == 0)
		rc = VAULT_OK;
	sqlite3_finalize(st);
	return rc;
}

int vault_master_check_write_on(sqlite3 *db, const char *schema, const unsigned char *mk)
{
	unsigned char zero[KEY_BYTES] = {0}, wrapped[VAULT_WRAPPED_BYTES];
	char sql[160];
	sqlite3_stmt *st;
	int rc;

	vault_wrap(mk, zero, (const unsigned char *)check_ad, sizeof check_ad, wrapped);
	snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO \"%s\".vault_meta (key, value) VALUES ('master_check', ?)",
		 schema);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return VAULT_E_DB;
	sqlite3_bind_blob(st, 1, wrapped, sizeof wrapped, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? VAULT_OK : VAULT_E_DB;
	sqlite3_finalize(st);
	return rc;
}

int vault_master_check_write(const unsigned char *mk)
{
	unsigned char zero[KEY_BYTES] = {0}, wrapped[VAULT_WRAPPED_BYTES];
	sqlite3_stmt *st;
	int rc;

	vault_wrap(mk, zero, (const unsigned char *)check_ad, sizeof check_ad, wrapped);
	st = db_stmt("INSERT OR REPLACE INTO ks.vault_meta (key, value) VALUES ('master_check', ?)");
	if (!st)
		return VAULT_E_DB;
	sqlite3_bind_blob(st, 1, wrapped, sizeof wrapped, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? VAULT_OK : VAULT_E_DB;
	sqlite3_reset(st);
	return rc;
}

static long long count(const char *sql)
{
	sqlite3_stmt *st = db_stmt(sql);
	long long n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

/* First start: check value, appliance keys, default tenant, in one
 * transaction so a crash leaves either nothing or everything. */
static int initialise(char *err, size_t errlen)
{
	const unsigned char *mk;
	int64_t id;
	int rc;

	if (db_begin() < 0) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	mk = master_use();
	rc = mk ? vault_master_check_write(mk) : VAULT_E_MASTER;
	if (mk)
		master_done();
	if (rc == VAULT_OK)
		rc = vault_create_tenant_key(0, "data", 1, NULL);
	if (rc == VAULT_OK)
		rc = vault_create_tenant_key(0, "token", 1, NULL);
	if (rc == VAULT_OK)
		rc = vault_create_tenant_key(0, "audit", 1, NULL);
	if (rc == VAULT_OK)
		rc = tenant_insert("default", "Default", &id, err, errlen);
	if (rc == VAULT_OK && db_commit() == 0) {
		log_notice("vault: key store initialised with the master key %s; default tenant created",
			   master_file);
		return 0;
	}
	db_rollback();
	if (!*err)
		snprintf(err, errlen, "cannot initialise the key store: %s", vault_strerror(rc));
	return -1;
}

void vault_master_path(const char *state_dir, char *path, size_t len)
{
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	char p[4200];

	if (cred && *cred) {
		snprintf(p, sizeof p, "%s/master.key", cred);
		if (access(p, F_OK) == 0) {
			snprintf(path, len, "%s", p);
			return;
		}
	}
	snprintf(path, len, "%s/keys/master.key", state_dir);
}

int vault_open(const char *state_dir, char *err, size_t errlen)
{
	unsigned char key[KEY_BYTES];
	long long tenants, checks;
	int rc;

	err[0] = '\0';
	vault_master_path(state_dir, master_file, sizeof master_file);
	tenants = count("SELECT count(*) FROM tenants");
	if (count("SELECT count(*) FROM ks.sqlite_master WHERE name = 'vault_meta'") == 0) {
		/* The key store file was replaced by an empty one (deleted, or a
		 * database restored without it). */
		snprintf(err, errlen,
			 "the key store %s/keys/keystore.db is missing or empty but the database is "
			 "initialised: restore the key store (and its master key) that belong to it",
			 state_dir);
		return -1;
	}
	checks = count("SELECT count(*) FROM ks.vault_meta WHERE key = 'master_check'");
	if (tenants < 0 || checks < 0) {
		snprintf(err, errlen, "cannot read the key store: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	if (checks == 0 && tenants > 0) {
		snprintf(err, errlen,
			 "the database holds tenants but the key store %s/keys/keystore.db has no keys: "
			 "restore it from the backup it came with",
			 state_dir);
		return -1;
	}
	rc = masterkey_read(master_file, key, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		if (checks > 0) {
			snprintf(err, errlen,
				 "the database is initialised but its master key %s is missing: restore the "
				 "key file (without it the data cannot be read)",
				 master_file);
			return -1;
		}
		if (masterkey_create(master_file, key, err, errlen) < 0)
			return -1;
	}
	if (!master && !(master = sodium_malloc(KEY_BYTES))) {
		snprintf(err, errlen, "cannot allocate locked memory for the master key");
		return -1;
	}
	memcpy(master, key, KEY_BYTES);
	sodium_memzero(key, sizeof key);
	sodium_mprotect_noaccess(master);

	if (checks == 0) {
		if (initialise(err, errlen) < 0)
			return -1;
	} else if (vault_master_check() != VAULT_OK) {
		snprintf(err, errlen, "the master key %s does not match this database (wrong key file?)",
			 master_file);
		vault_close();
		return -1;
	}
	return vault_escrow_start(state_dir, err, errlen);
}

void vault_close(void)
{
	vault_thread_done();
	pthread_mutex_lock(&master_mu);
	if (master) {
		sodium_free(master); /* wipes */
		master = NULL;
	}
	pthread_mutex_unlock(&master_mu);
}

const char *vault_strerror(int err)
{
	switch (err) {
	case VAULT_OK: return "ok";
	case VAULT_E_FORMAT: return "not a sealed value";
	case VAULT_E_AUTH: return "cannot authenticate: altered, or moved from another row, column or tenant";
	case VAULT_E_TENANT: return "sealed under another tenant's key";
	case VAULT_E_SHREDDED: return "the person key was destroyed";
	case VAULT_E_NOKEY: return "key unknown or retired";
	case VAULT_E_DB: return "key store unavailable";
	case VAULT_E_NOMEM: return "out of memory";
	case VAULT_E_INPUT: return "bad input";
	case VAULT_E_MASTER: return "master key missing or wrong";
	}
	return "unknown vault error";
}
