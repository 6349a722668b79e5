/* vault-fixture: seeds and checks sealed personal data in a real state
 * directory through the real vault, for the end-to-end tests of the key
 * commands and the plaintext-leak test while the service runs beside it.
 *
 *   vault-fixture seed STATE N PREFIX [FIRST_ID]   N people: person-sealed name
 *                                                  and e-mail, blind-indexed e-mail,
 *                                                  tenant-sealed note
 *   vault-fixture verify STATE PREFIX              every row opens to its value
 *   vault-fixture shred STATE ID                   destroy one person's key
 *   vault-fixture open-field STATE DBFILE TENANT TABLE COLUMN ROW
 *                                                  open one sealed value from a
 *                                                  copy of a database file with
 *                                                  the state's key store: prints
 *                                                  it, or the vault's error (exit 1)
 *
 * It is a client of the library, like a CLI command: it obeys the vault's
 * rule of sealing inside the write transaction that stores the value. */
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_store(const char *dir)
{
	char err[700], db[4200], ks[4200];

	if (sodium_init() < 0 || state_open(dir, err, sizeof err) < 0 ||
	    state_mkdir("keys", err, sizeof err) < 0)
		goto fail;
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (db_open(db, ks, 30000, err, sizeof err) < 0 || vault_open(dir, err, sizeof err) < 0)
		goto fail;
	return db_exec(db_get(),
		       "CREATE TABLE IF NOT EXISTS fixture_people (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL,"
		       " name BLOB, email BLOB, email_idx BLOB, note BLOB);"
		       "INSERT OR IGNORE INTO sealed_columns VALUES"
		       " ('fixture_people', 'name', 'tenant_id', 'person'),"
		       " ('fixture_people', 'email', 'tenant_id', 'person'),"
		       " ('fixture_people', 'note', 'tenant_id', 'tenant');") == SQLITE_OK ? 0 : -1;
fail:
	fprintf(stderr, "vault-fixture: %s\n", err);
	return -1;
}

static void values(const char *prefix, long long id, char *name, char *email, char *note, size_t len)
{
	snprintf(name, len, "%s-名前-%lld", prefix, id);
	snprintf(email, len, "%s-%lld@example.jp", prefix, id);
	snprintf(note, len, "%s-note-%lld", prefix, id);
}

static int seal_row(long long id, const char *prefix)
{
	char name[128], email[128], note[128];
	unsigned char *s1 = NULL, *s2 = NULL, *s3 = NULL, idx[VAULT_INDEX_BYTES];
	size_t l1, l2, l3;
	struct vault_ref rn = {1, "fixture_people", "name", id}, re = {1, "fixture_people", "email", id},
			 rt = {1, "fixture_people", "note", id};
	sqlite3_stmt *st;

	values(prefix, id, name, email, note, sizeof name);
	if (vault_person_key_create(1, id) != VAULT_OK ||
	    vault_seal_person(&rn, id, name, strlen(name), &s1, &l1) != VAULT_OK ||
	    vault_seal_person(&re, id, email, strlen(email), &s2, &l2) != VAULT_OK ||
	    vault_seal(&rt, note, strlen(note), &s3, &l3) != VAULT_OK ||
	    vault_blind_index(1, VI_EMAIL, email, idx) != VAULT_OK) {
		free(s1);
		free(s2);
		free(s3);
		return -1;
	}
	st = db_stmt("INSERT INTO fixture_people VALUES (?, 1, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, s1, (int)l1, free);
	sqlite3_bind_blob(st, 3, s2, (int)l2, free);
	sqlite3_bind_blob(st, 4, idx, sizeof idx, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 5, s3, (int)l3, free);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int seed(long long n, const char *prefix, long long first)
{
	for (long long done = 0; done < n;) {
		if (db_begin() < 0)
			return -1;
		for (int i = 0; i < 500 && done < n; i++, done++)
			if (seal_row(first + done, prefix) < 0) {
				fprintf(stderr, "vault-fixture: row %lld: %s\n", first + done,
					sqlite3_errmsg(db_get()));
				db_rollback();
				return -1;
			}
		if (db_commit() < 0)
			return -1;
	}
	printf("seeded %lld\n", n);
	return 0;
}

static int check_field(const struct vault_ref *ref, sqlite3_stmt *st, int col, const char *want)
{
	unsigned char *plain;
	size_t len;
	int rc = vault_open_field(ref, sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col),
				  &plain, &len);

	if (rc != VAULT_OK) {
		fprintf(stderr, "vault-fixture: %s row %lld: %s\n", ref->column, (long long)ref->row,
			vault_strerror(rc));
		return rc;
	}
	rc = strcmp((char *)plain, want) == 0 ? 0 : -1;
	if (rc)
		fprintf(stderr, "vault-fixture: %s row %lld: wrong value\n", ref->column, (long long)ref->row);
	vault_free(plain, len);
	return rc;
}

static int verify(const char *prefix)
{
	sqlite3_stmt *st = db_stmt("SELECT id, name, email, note, email_idx FROM fixture_people ORDER BY id");
	long long ok = 0, bad = 0, shredded = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		char name[128], email[128], note[128];
		unsigned char idx[VAULT_INDEX_BYTES];
		struct vault_ref rn = {1, "fixture_people", "name", id}, re = {1, "fixture_people", "email", id},
				 rt = {1, "fixture_people", "note", id};
		int r1, r2, r3;

		values(prefix, id, name, email, note, sizeof name);
		r1 = check_field(&rn, st, 1, name);
		r2 = check_field(&re, st, 2, email);
		r3 = check_field(&rt, st, 3, note);
		if (r1 == VAULT_E_SHREDDED && r2 == VAULT_E_SHREDDED && r3 == 0) {
			shredded++;
			continue;
		}
		if (r1 || r2 || r3 || vault_blind_index(1, VI_EMAIL, email, idx) != VAULT_OK ||
		    memcmp(idx, sqlite3_column_blob(st, 4), sizeof idx) != 0)
			bad++;
		else
			ok++;
	}
	sqlite3_reset(st);
	printf("verified %lld, shredded %lld, failed %lld\n", ok, shredded, bad);
	return bad ? -1 : 0;
}

/* Open a value from another database file (e.g. a copy taken before an
 * erasure), using this state directory's key store and master key. */
static int open_field(const char *dir, const char *file, char **argv)
{
	char err[700], ks[4200];
	struct vault_ref ref = {strtoll(argv[0], NULL, 10), argv[1], argv[2], strtoll(argv[3], NULL, 10)};
	char sql[200];
	sqlite3_stmt *st;
	unsigned char *plain;
	size_t len;
	int rc = -1;

	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (sodium_init() < 0 || state_open(dir, err, sizeof err) < 0 || db_open(file, ks, 30000, err, sizeof err) < 0 ||
	    vault_open(dir, err, sizeof err) < 0) {
		fprintf(stderr, "vault-fixture: %s\n", err);
		return -1;
	}
	snprintf(sql, sizeof sql, "SELECT \"%s\" FROM \"%s\" WHERE rowid = ?", ref.column, ref.table);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "vault-fixture: %s\n", sqlite3_errmsg(db_get()));
		return -1;
	}
	sqlite3_bind_int64(st, 1, ref.row);
	if (sqlite3_step(st) != SQLITE_ROW) {
		printf("no such row\n");
	} else {
		rc = vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &plain, &len);
		if (rc == VAULT_OK) {
			printf("%s\n", plain);
			vault_free(plain, len);
		} else {
			printf("%s\n", vault_strerror(rc));
		}
	}
	sqlite3_finalize(st);
	vault_close();
	db_close();
	return rc == VAULT_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	int rc = -1;

	log_set_level(LOG_WARN);
	if (argc == 8 && strcmp(argv[1], "open-field") == 0)
		return open_field(argv[2], argv[3], argv + 4) == 0 ? 0 : 1;
	if (argc < 3 || open_store(argv[2]) < 0) {
		fprintf(stderr, "usage: vault-fixture seed|verify|shred STATE ...\n");
		return 2;
	}
	if (strcmp(argv[1], "seed") == 0 && argc >= 5)
		rc = seed(strtoll(argv[3], NULL, 10), argv[4], argc > 5 ? strtoll(argv[5], NULL, 10) : 1);
	else if (strcmp(argv[1], "verify") == 0 && argc >= 4)
		rc = verify(argv[3]);
	else if (strcmp(argv[1], "shred") == 0 && argc >= 4)
		rc = vault_person_key_shred(1, strtoll(argv[3], NULL, 10)) == VAULT_OK ? 0 : -1;
	vault_close();
	db_close();
	return rc == 0 ? 0 : 1;
}
