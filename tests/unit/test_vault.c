#include "t.h"

#include "core/masterkey.h"
#include "core/vault_rotate.h"
#include "domain/audit.h"
#include "vault_fixture.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[400];

static int fresh_store(const char *name)
{
	snprintf(dir, sizeof dir, "%s/%s", t_tmpdir(), name);
	return store_open(dir);
}

static int roundtrip(const struct vault_ref *ref, int64_t person, const void *data, size_t len)
{
	unsigned char *sealed, *plain;
	size_t slen, plen;
	int rc = person ? vault_seal_person(ref, person, data, len, &sealed, &slen)
			: vault_seal(ref, data, len, &sealed, &slen);

	if (rc != VAULT_OK)
		return rc;
	if (slen != len + VAULT_OVERHEAD) {
		free(sealed);
		return -100;
	}
	rc = vault_open_field(ref, sealed, slen, &plain, &plen);
	if (rc == VAULT_OK) {
		rc = plen == len && memcmp(plain, data, len) == 0 ? VAULT_OK : -101;
		vault_free(plain, plen);
	}
	free(sealed);
	return rc;
}

TEST(vault_first_start_creates_private_keys)
{
	char path[600];
	struct stat st;

	CHECK_INT(fresh_store("first"), 0);
	snprintf(path, sizeof path, "%s/keys/master.key", dir);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(st.st_size, 32);
	snprintf(path, sizeof path, "%s/keys", dir);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0700);
	CHECK_INT(vault_person_key_exists(VAULT_DEFAULT_TENANT, 1), 0);
	store_close();
	/* Reopening finds everything and creates nothing new. */
	CHECK_INT(store_open(dir), 0);
	store_close();
}

TEST(vault_round_trips_every_size_and_kind)
{
	struct vault_ref ref = {VAULT_DEFAULT_TENANT, "people", "name", 7};
	unsigned char *big = malloc(1 << 20);

	CHECK_INT(fresh_store("rt"), 0);
	CHECK_INT(vault_person_key_create(VAULT_DEFAULT_TENANT, 7), VAULT_OK);
	CHECK_INT(vault_person_key_create(VAULT_DEFAULT_TENANT, 7), VAULT_OK); /* idempotent */
	randombytes_buf(big, 1 << 20);
	CHECK_INT(roundtrip(&ref, 0, "", 0), VAULT_OK);
	CHECK_INT(roundtrip(&ref, 7, "", 0), VAULT_OK);
	CHECK_INT(roundtrip(&ref, 0, "山田 太郎", strlen("山田 太郎")), VAULT_OK);
	CHECK_INT(roundtrip(&ref, 7, "taro@example.jp", 15), VAULT_OK);
	CHECK_INT(roundtrip(&ref, 7, big, 1 << 20), VAULT_OK);
	CHECK_INT(roundtrip(&ref, 0, big, 1 << 20), VAULT_OK);
	/* Appliance-scope secrets (tenant 0) too. */
	struct vault_ref sys = {0, "settings", "smtp_password", 1};
	CHECK_INT(roundtrip(&sys, 0, "hunter2", 7), VAULT_OK);
	/* A person without a key cannot be sealed for. */
	CHECK_INT(roundtrip(&ref, 999, "x", 1), VAULT_E_SHREDDED);
	free(big);
	store_close();
}

TEST(vault_binding_swaps_and_bit_flips_fail)
{
	struct vault_ref ref = {VAULT_DEFAULT_TENANT, "people", "email", 42};
	unsigned char *sealed, *plain;
	size_t slen, plen;
	int64_t t2;
	char err[200];

	CHECK_INT(fresh_store("swap"), 0);
	CHECK_INT(vault_tenant_create("second", "Second tenant", &t2, err, sizeof err), VAULT_OK);
	CHECK_INT(vault_person_key_create(VAULT_DEFAULT_TENANT, 42), VAULT_OK);
	for (int person = 0; person <= 42; person += 42) {
		int rc = person ? vault_seal_person(&ref, person, "a@b.example", 11, &sealed, &slen)
				: vault_seal(&ref, "a@b.example", 11, &sealed, &slen);
		CHECK_INT(rc, VAULT_OK);
		struct vault_ref other_row = ref, other_col = ref, other_table = ref, other_tenant = ref;
		other_row.row = 43;
		other_col.column = "name";
		other_table.table = "visitors";
		other_tenant.tenant = t2;
		CHECK_INT(vault_open_field(&other_row, sealed, slen, &plain, &plen), VAULT_E_AUTH);
		CHECK_INT(vault_open_field(&other_col, sealed, slen, &plain, &plen), VAULT_E_AUTH);
		CHECK_INT(vault_open_field(&other_table, sealed, slen, &plain, &plen), VAULT_E_AUTH);
		CHECK_INT(vault_open_field(&other_tenant, sealed, slen, &plain, &plen), VAULT_E_TENANT);
		/* Every single-bit flip anywhere fails, with an error naming why. */
		int opened = 0;
		for (size_t i = 0; i < slen; i++)
			for (int bit = 0; bit < 8; bit++) {
				sealed[i] ^= (unsigned char)(1 << bit);
				rc = vault_open_field(&ref, sealed, slen, &plain, &plen);
				if (rc == VAULT_OK) {
					opened++;
					vault_free(plain, plen);
				}
				CHECK(rc == VAULT_E_FORMAT || rc == VAULT_E_AUTH || rc == VAULT_E_NOKEY ||
				      rc == VAULT_E_TENANT || rc == VAULT_E_SHREDDED || rc == VAULT_OK);
				sealed[i] ^= (unsigned char)(1 << bit);
			}
		CHECK_INT(opened, 0);
		CHECK_INT(vault_open_field(&ref, sealed, slen, &plain, &plen), VAULT_OK);
		vault_free(plain, plen);
		CHECK_INT(vault_open_field(&ref, sealed, 20, &plain, &plen), VAULT_E_FORMAT);
		free(sealed);
	}
	store_close();
}

TEST(vault_refuses_wrong_missing_or_exposed_master_key)
{
	char key[600], err[700], saved[600];
	unsigned char other[32];

	CHECK_INT(fresh_store("mk"), 0);
	store_close();
	snprintf(key, sizeof key, "%s/keys/master.key", dir);
	snprintf(saved, sizeof saved, "%s/saved.key", t_tmpdir());
	CHECK_INT(rename(key, saved), 0);

	/* Missing while the database is initialised. */
	CHECK_INT(store_open(dir), -1);
	store_close();
	CHECK_INT(vault_open(dir, err, sizeof err), -1);
	CHECK_CONTAINS(err, "is initialised but its master key");
	CHECK_CONTAINS(err, "is missing");
	store_close();

	/* A different key. */
	randombytes_buf(other, sizeof other);
	CHECK_INT(masterkey_write(key, other, err, sizeof err), 0);
	CHECK_INT(store_open(dir), -1);
	CHECK_INT(vault_open(dir, err, sizeof err), -1);
	CHECK_CONTAINS(err, "does not match this database");
	store_close();

	/* The right key, but readable by others. */
	CHECK_INT(rename(saved, key), 0);
	chmod(key, 0644);
	CHECK_INT(store_open(dir), -1);
	CHECK_INT(vault_open(dir, err, sizeof err), -1);
	CHECK_CONTAINS(err, "is accessible to other users (mode 0644)");
	store_close();
	chmod(key, 0600);
	CHECK_INT(store_open(dir), 0);
	store_close();
}

TEST(vault_blind_index_normalises)
{
	unsigned char a[32], b[32], c[32];
	char out[64];
	int64_t t2;
	char err[200];

	CHECK_INT(vault_normalize(VI_EMAIL, "  Taro.Yamada@Example.JP \t", out, sizeof out), 22);
	CHECK_STR(out, "taro.yamada@example.jp");
	CHECK_INT(vault_normalize(VI_CARD, "0012-3456 78", out, sizeof out), 10);
	CHECK_STR(out, "0012345678");
	CHECK(vault_normalize(VI_CARD, "０１２３", out, sizeof out) == 4);
	CHECK_STR(out, "0123");
	CHECK(vault_normalize(VI_EMPLOYEE_NO, "\xe3\x80\x80" "E-100 ", out, sizeof out) == 5);
	CHECK_STR(out, "E-100");
	CHECK_INT(vault_normalize(VI_TEXT, "   ", out, sizeof out), -1);
	CHECK_INT(vault_normalize(VI_CARD, "no digits", out, sizeof out), -1);

	CHECK_INT(fresh_store("bi"), 0);
	CHECK_INT(vault_blind_index(1, VI_EMAIL, "Taro@Example.jp", a), VAULT_OK);
	CHECK_INT(vault_blind_index(1, VI_EMAIL, " taro@example.JP", b), VAULT_OK);
	CHECK(memcmp(a, b, 32) == 0);
	CHECK_INT(vault_blind_index(1, VI_EMAIL, "jiro@example.jp", c), VAULT_OK);
	CHECK(memcmp(a, c, 32) != 0);
	/* Kinds and tenants are separated. */
	CHECK_INT(vault_blind_index(1, VI_TEXT, "taro@example.jp", c), VAULT_OK);
	CHECK(memcmp(a, c, 32) != 0);
	CHECK_INT(vault_tenant_create("other", "Other", &t2, err, sizeof err), VAULT_OK);
	CHECK_INT(vault_blind_index(t2, VI_EMAIL, "taro@example.jp", c), VAULT_OK);
	CHECK(memcmp(a, c, 32) != 0);
	CHECK_INT(vault_blind_index(1, VI_CARD, "--", c), VAULT_E_INPUT);
	store_close();
}

TEST(vault_secrets_and_tokens)
{
	char hash[crypto_pwhash_STRBYTES];
	unsigned char d1[32], d2[32];

	CHECK_INT(vault_secret_hash("Corr3ct-Horse", hash), VAULT_OK);
	CHECK(strncmp(hash, "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0);
	CHECK_INT(vault_secret_verify(hash, "Corr3ct-Horse"), 0);
	CHECK_INT(vault_secret_verify(hash, "corr3ct-Horse"), -1);
	CHECK_INT(vault_secret_verify("garbage", "x"), -1);

	CHECK_INT(fresh_store("tok"), 0);
	CHECK_INT(vault_token_digest("abc", 3, d1), VAULT_OK);
	CHECK_INT(vault_token_digest("abc", 3, d2), VAULT_OK);
	CHECK(memcmp(d1, d2, 32) == 0);
	CHECK_INT(vault_token_digest("abd", 3, d2), VAULT_OK);
	CHECK(memcmp(d1, d2, 32) != 0);
	store_close();
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;

	if (!in || !out)
		return -1;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	return fclose(out);
}

TEST(vault_shredding_is_final_even_for_old_copies)
{
	struct vault_ref ref = {VAULT_DEFAULT_TENANT, "people", "name", 5};
	unsigned char *sealed, *plain;
	size_t slen, plen;
	char db[600], copy[600], ks[600], err[700];
	sqlite3 *c;

	CHECK_INT(fresh_store("shred"), 0);
	CHECK_INT(vault_person_key_create(1, 5), VAULT_OK);
	CHECK_INT(vault_seal_person(&ref, 5, "Hanako Suzuki", 13, &sealed, &slen), VAULT_OK);
	/* A copy of the database, with the sealed value in it, taken before. */
	c = db_get();
	CHECK_INT(sqlite3_exec(c, "CREATE TABLE t (v BLOB)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(c, "INSERT INTO t VALUES (?)", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, sealed, (int)slen, SQLITE_STATIC);
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(copy, sizeof copy, "%s/before.db", t_tmpdir());
	CHECK_INT(copy_file(db, copy), 0);

	CHECK_INT(vault_person_key_shred(1, 5), VAULT_OK);
	CHECK_INT(vault_person_key_shred(1, 5), VAULT_E_SHREDDED);
	CHECK_INT(vault_open_field(&ref, sealed, slen, &plain, &plen), VAULT_E_SHREDDED);
	free(sealed);
	store_close();

	/* Open the old copy with the current key store and master key: the
	 * value it holds cannot be opened either. */
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	CHECK_INT(db_open(copy, ks, 5000, err, sizeof err), 0);
	CHECK_INT(vault_open(dir, err, sizeof err), 0);
	c = db_get();
	sqlite3_prepare_v2(c, "SELECT v FROM t", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
				   &plain, &plen), VAULT_E_SHREDDED);
	sqlite3_finalize(st);
	store_close();
}

/* --- rotation under concurrent writes -------------------------------------- */

#define WRITERS 3
#define PER_WRITER 300

static volatile int writers_go;

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg;

	while (!writers_go)
		usleep(100);
	for (int i = 0; i < PER_WRITER; i++) {
		int64_t id = (int64_t)w * 100000 + i + 1;
		char text[64];
		unsigned char *note = NULL, *name = NULL;
		size_t nlen = 0, mlen = 0;

		snprintf(text, sizeof text, "writer %d value %d", w, i);
		if (db_begin() < 0) {
			t_fail(__FILE__, __LINE__, "begin failed");
			break;
		}
		struct vault_ref rn = {1, "rot_fields", "note", id}, rm = {1, "rot_fields", "name", id};
		if (vault_person_key_create(1, id) != VAULT_OK ||
		    vault_seal(&rn, text, strlen(text), &note, &nlen) != VAULT_OK ||
		    vault_seal_person(&rm, id, text, strlen(text), &name, &mlen) != VAULT_OK) {
			t_fail(__FILE__, __LINE__, "seal failed");
			db_rollback();
			break;
		}
		sqlite3_stmt *st = db_stmt("INSERT INTO rot_fields (id, tenant_id, note, name, plain) VALUES (?, 1, ?, ?, ?)");
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_blob(st, 2, note, (int)nlen, free);
		sqlite3_bind_blob(st, 3, name, (int)mlen, free);
		sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE || db_commit() < 0) {
			t_fail(__FILE__, __LINE__, "insert failed: %s", sqlite3_errmsg(db_get()));
			db_rollback();
		}
		sqlite3_reset(st);
	}
	vault_thread_done();
	db_thread_done();
	return NULL;
}

static long long verify_all(void)
{
	sqlite3_stmt *st;
	long long ok = 0;

	sqlite3_prepare_v2(db_get(), "SELECT id, note, name, plain FROM rot_fields", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		struct vault_ref rn = {1, "rot_fields", "note", id}, rm = {1, "rot_fields", "name", id};
		unsigned char *p1 = NULL, *p2 = NULL;
		size_t l1, l2;
		const char *plain = (const char *)sqlite3_column_text(st, 3);

		if (vault_open_field(&rn, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), &p1, &l1) == VAULT_OK &&
		    vault_open_field(&rm, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &p2, &l2) == VAULT_OK &&
		    strcmp((char *)p1, plain) == 0 && strcmp((char *)p2, plain) == 0)
			ok++;
		vault_free(p1, p1 ? l1 : 0);
		vault_free(p2, p2 ? l2 : 0);
	}
	sqlite3_finalize(st);
	return ok;
}

TEST(vault_rotation_under_concurrent_writes)
{
	pthread_t th[WRITERS];
	struct vault_rotation_status s;
	char err[300];
	int resumed;

	CHECK_INT(fresh_store("rot"), 0);
	CHECK_INT(sqlite3_exec(db_get(),
			       "CREATE TABLE rot_fields (id INTEGER PRIMARY KEY, tenant_id INTEGER, note BLOB, name BLOB, plain TEXT);"
			       "INSERT INTO sealed_columns VALUES ('rot_fields', 'note', 'tenant_id', 'tenant'),"
			       " ('rot_fields', 'name', 'tenant_id', 'person');",
			       NULL, NULL, NULL), SQLITE_OK);
	for (int w = 0; w < WRITERS; w++)
		pthread_create(&th[w], NULL, writer, (void *)(intptr_t)w);
	writers_go = 1;
	/* Rotate twice while the writers run. */
	for (int round = 0; round < 2; round++) {
		usleep(20000);
		if (vault_rotate_begin(1, &resumed, err, sizeof err) != 0)
			t_fail(__FILE__, __LINE__, "rotate_begin: %s", err);
		CHECK_INT(resumed, 0);
		CHECK_INT(vault_rotate_run(1, 50, NULL, NULL, err, sizeof err), 0);
	}
	for (int w = 0; w < WRITERS; w++)
		pthread_join(th[w], NULL);
	/* One more after the writers: everything under one key again. */
	CHECK_INT(vault_rotate_begin(1, &resumed, err, sizeof err), 0);
	CHECK_INT(vault_rotate_run(1, 64, NULL, NULL, err, sizeof err), 0);

	CHECK_INT(verify_all(), WRITERS * PER_WRITER);
	CHECK_INT(vault_rotation_status(1, &s), 0);
	CHECK_INT(s.active_version, 4);
	CHECK_INT(s.in_progress, 0);
	CHECK_INT(s.retired_versions, 3);
	CHECK_INT(s.retiring_versions, 0);
	CHECK_INT(s.person_keys, WRITERS * PER_WRITER);
	CHECK_INT(s.person_keys_pending, 0);
	CHECK_INT(s.fields_pending, 0);
	/* Retired keys are gone from the key store, not just marked. */
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db_get(), "SELECT count(*) FROM ks.tenant_keys WHERE state = 'retired' AND wrapped IS NOT NULL", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	store_close();
}

TEST(vault_rewrap_master_keeps_fields)
{
	struct vault_ref ref = {1, "people", "name", 3};
	unsigned char *sealed, *plain, old_mk[32], new_mk[32];
	size_t slen, plen;
	char key[600], err[700];

	CHECK_INT(fresh_store("rewrap"), 0);
	CHECK_INT(vault_person_key_create(1, 3), VAULT_OK);
	CHECK_INT(vault_seal_person(&ref, 3, "Kenji", 5, &sealed, &slen), VAULT_OK);
	snprintf(key, sizeof key, "%s/keys/master.key", dir);
	CHECK_INT(masterkey_read(key, old_mk, err, sizeof err), 0);
	randombytes_buf(new_mk, sizeof new_mk);
	CHECK_INT(vault_rewrap_master(new_mk, old_mk, err, sizeof err), -1); /* wrong "old" */
	CHECK_CONTAINS(err, "old master key does not match");
	CHECK(vault_rewrap_master(old_mk, new_mk, err, sizeof err) >= 4);
	store_close();
	/* The old key no longer opens the store; the new one does, and the
	 * field sealed before is intact. */
	CHECK_INT(store_open(dir), -1);
	store_close();
	CHECK_INT(masterkey_write(key, new_mk, err, sizeof err), 0);
	CHECK_INT(store_open(dir), 0);
	CHECK_INT(vault_open_field(&ref, sealed, slen, &plain, &plen), VAULT_OK);
	CHECK(plen == 5 && memcmp(plain, "Kenji", 5) == 0);
	vault_free(plain, plen);
	free(sealed);
	store_close();
}

TEST(vault_rotation_keeps_keys_archived_values_need)
{
	struct vault_ref ref = {1, "audit_log", "sealed", 0};
	cJSON *personal = cJSON_CreateObject();
	struct audit_event ev = {1, "anonymous", "unknown", "127.0.0.1", "auth.login_failed", "", "failed",
				 NULL, personal, 0};
	unsigned char *plain;
	size_t plen;
	char err[300];
	int resumed;
	sqlite3_stmt *st;

	CHECK_INT(fresh_store("archive"), 0);
	cJSON_AddStringToObject(personal, "username", "typed-a-password-here");
	CHECK_INT(audit_append(&ev), 0);
	cJSON_Delete(personal);
	CHECK_INT(vault_rotate_begin(1, &resumed, err, sizeof err), 0);
	CHECK_INT(vault_rotate_run(1, 100, NULL, NULL, err, sizeof err), 0);
	/* The hash-chained entry was not re-sealed, and still opens. */
	sqlite3_prepare_v2(db_get(), "SELECT id, sealed FROM audit_log WHERE sealed IS NOT NULL", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	ref.row = sqlite3_column_int64(st, 0);
	CHECK_INT(vault_open_field(&ref, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), &plain, &plen), VAULT_OK);
	CHECK(plain && strstr((char *)plain, "typed-a-password-here"));
	vault_free(plain, plen);
	sqlite3_finalize(st);
	CHECK_INT(sqlite3_exec(db_get(), "SELECT 1", NULL, NULL, NULL), SQLITE_OK);
	/* Once retention deletes the entry, the old key is destroyed. */
	CHECK_INT(sqlite3_exec(db_get(), "DELETE FROM audit_log", NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(vault_purge_retired(1), 1);
	sqlite3_prepare_v2(db_get(), "SELECT count(*) FROM ks.tenant_keys WHERE state = 'retired' AND wrapped IS NOT NULL", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	store_close();
}
