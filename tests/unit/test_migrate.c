#include "t.h"

#include "core/migrate.h"

#include <sodium.h>

static sqlite3 *open_db(const char *name)
{
	char path[512];
	sqlite3 *db;

	snprintf(path, sizeof path, "%s/%s", t_tmpdir(), name);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return NULL;
	return db;
}

static int count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static const struct migration two[] = {
	{1, "one", "CREATE TABLE a (x INTEGER);"},
	{2, "two", "CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (1);"},
};

TEST(migrate_applies_in_order_once)
{
	sqlite3 *db = open_db("m1.db");
	char err[256] = "";

	CHECK(sodium_init() >= 0);
	CHECK_INT(migrate_apply_table(db, two, 1, err, sizeof err), 1);
	CHECK_INT(migrate_current(db), 1);
	CHECK_INT(migrate_apply_table(db, two, 2, err, sizeof err), 1);
	CHECK_INT(migrate_current(db), 2);
	CHECK_INT(migrate_apply_table(db, two, 2, err, sizeof err), 0);
	CHECK_INT(count_rows(db, "SELECT count(*) FROM b"), 1);
	CHECK_INT(count_rows(db, "SELECT count(*) FROM schema_migrations"), 2);
	sqlite3_close(db);
}

TEST(migrate_failure_rolls_back_that_migration)
{
	static const struct migration bad[] = {
		{1, "one", "CREATE TABLE a (x INTEGER);"},
		{2, "broken", "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);"},
	};
	sqlite3 *db = open_db("m2.db");
	char err[256] = "";

	CHECK_INT(migrate_apply_table(db, bad, 2, err, sizeof err), -1);
	CHECK_CONTAINS(err, "migration 0002_broken failed: no such table: nowhere");
	CHECK_INT(migrate_current(db), 1);
	/* The failed migration left nothing behind. */
	CHECK_INT(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'c'"), 0);
	sqlite3_close(db);
}

TEST(migrate_refuses_newer_database)
{
	sqlite3 *db = open_db("m3.db");
	char err[256] = "";

	CHECK_INT(migrate_apply_table(db, two, 2, err, sizeof err), 2);
	CHECK_INT(migrate_apply_table(db, two, 1, err, sizeof err), -1);
	CHECK_CONTAINS(err, "database schema version 2 is newer than this program (it knows up to 1)");
	sqlite3_close(db);
}

TEST(migrate_refuses_changed_migration)
{
	static const struct migration changed[] = {
		{1, "one", "CREATE TABLE a (x INTEGER, extra TEXT);"},
	};
	sqlite3 *db = open_db("m4.db");
	char err[256] = "";

	CHECK_INT(migrate_apply_table(db, two, 1, err, sizeof err), 1);
	CHECK_INT(migrate_apply_table(db, changed, 1, err, sizeof err), -1);
	CHECK_CONTAINS(err, "migration 0001_one recorded in the database differs");
	sqlite3_close(db);
}

TEST(migrate_embedded_schema_applies)
{
	sqlite3 *db = open_db("m5.db");
	char err[256] = "", attach[600];

	/* The schema spans the database and its key store. */
	snprintf(attach, sizeof attach, "ATTACH DATABASE '%s/m5-ks.db' AS ks", t_tmpdir());
	CHECK_INT(sqlite3_exec(db, attach, NULL, NULL, NULL), SQLITE_OK);

	CHECK(migrate_latest() >= 1);
	CHECK_INT(migrate_apply(db, err, sizeof err), migrate_latest());
	CHECK_STR(err, "");
	CHECK_INT(migrate_current(db), migrate_latest());
	CHECK_INT(count_rows(db, "SELECT length(value) FROM meta WHERE key = 'appliance_id'"), 32);
	for (unsigned i = 0; i < migrations_count; i++)
		CHECK_INT(migrations_table[i].version, (int)i + 1);
	sqlite3_close(db);
}
