#include "migrate.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char create_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" applied_at INTEGER NOT NULL)";

static void sha256_hex(const char *sql, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)sql, strlen(sql));
	sodium_bin2hex(hex, 65, h, sizeof h);
}

int migrate_latest(void) { return (int)migrations_count; }

int migrate_current(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
			       &st, NULL) != SQLITE_OK)
		return sqlite3_errcode(db) == SQLITE_ERROR ? 0 : -1; /* no table yet */
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Every migration already applied must be the one we carry: a mismatch means
 * the database came from a different build of the same version number, and
 * applying later migrations on top of it could corrupt it. */
static int check_applied(sqlite3 *db, const struct migration *table, unsigned count, char *err,
			 size_t errlen)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "SELECT version, name, sha256 FROM schema_migrations ORDER BY version",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read schema_migrations: %s", sqlite3_errmsg(db));
		return -1;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		int v = sqlite3_column_int(st, 0);
		const char *hash = (const char *)sqlite3_column_text(st, 2);
		char want[65];

		if (v < 1 || (unsigned)v > count) {
			snprintf(err, errlen,
				 "database schema version %d is newer than this program (it knows up to %u): "
				 "install the newer gatehouse or restore a backup made by this version",
				 v, count);
			rc = -1;
			break;
		}
		sha256_hex(table[v - 1].sql, want);
		if (!hash || strcmp(hash, want) != 0) {
			snprintf(err, errlen,
				 "migration %04d_%s recorded in the database differs from the one in this "
				 "program: refusing to continue",
				 v, table[v - 1].name);
			rc = -1;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int apply_one(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char hex[65];
	char *msg = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	/* Another process (a CLI command next to the service) may have applied
	 * it between our check and our write lock. */
	if (migrate_current(db) >= m->version) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK)
		goto rollback;
	sha256_hex(m->sql, hex);
	if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		goto rollback;
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		goto rollback;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto rollback;
	return 0;

rollback:
	snprintf(err, errlen, "migration %04d_%s failed: %s", m->version, m->name,
		 msg ? msg : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_free(msg);
	return -1;
fail:
	snprintf(err, errlen, "cannot start migration %04d_%s: %s", m->version, m->name,
		 msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

int migrate_apply_table(sqlite3 *db, const struct migration *table, unsigned count, char *err,
			size_t errlen)
{
	int current, applied = 0;

	if (sqlite3_exec(db, create_table, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot create schema_migrations: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (check_applied(db, table, count, err, errlen) < 0)
		return -1;
	current = migrate_current(db);
	if (current < 0) {
		snprintf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	for (unsigned i = (unsigned)current; i < count; i++) {
		int rc = apply_one(db, &table[i], err, errlen);
		if (rc < 0)
			return -1;
		if (rc == 0)
			applied++;
	}
	return applied;
}

int migrate_apply(sqlite3 *db, char *err, size_t errlen)
{
	return migrate_apply_table(db, migrations_table, migrations_count, err, errlen);
}
