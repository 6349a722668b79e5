#include "db.h"

#include "log.h"
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *path;
static long long busy_ms;
static _Thread_local sqlite3 *conn;

static int setup(sqlite3 *db)
{
	char sql[128];
	static const char *const pragmas[] = {
		"PRAGMA foreign_keys = ON",
		"PRAGMA secure_delete = ON",
		"PRAGMA synchronous = FULL",
		"PRAGMA trusted_schema = OFF",
		/* Keep a checkpointed WAL from staying large (and holding old pages). */
		"PRAGMA journal_size_limit = 67108864",
	};

	snprintf(sql, sizeof sql, "PRAGMA busy_timeout = %lld", busy_ms);
	if (db_exec(db, sql) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++)
		if (db_exec(db, pragmas[i]) != SQLITE_OK)
			return -1;
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	return 0;
}

static sqlite3 *open_conn(char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db, 1);
	if (setup(db) < 0) {
		snprintf(err, errlen, "cannot configure database %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		log_debug("db: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc;
}

int db_open(const char *file, long long busy_timeout_ms, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int applied;

	free(path);
	path = strdup(file);
	busy_ms = busy_timeout_ms;
	if (!path) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	conn = open_conn(err, errlen);
	if (!conn)
		return -1;
	/* WAL is a property of the file: set once, kept by every connection. */
	if (sqlite3_prepare_v2(conn, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		snprintf(err, errlen, "cannot switch %s to WAL: %s", path, sqlite3_errmsg(conn));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	applied = migrate_apply(conn, err, errlen);
	if (applied < 0)
		return -1;
	if (applied > 0)
		log_notice("db: applied %d migration(s), schema version %d", applied,
			   migrate_current(conn));
	return 0;
}

sqlite3 *db_get(void)
{
	char err[512];

	if (conn || !path)
		return conn;
	conn = open_conn(err, sizeof err);
	if (!conn)
		log_err("db: %s", err);
	return conn;
}

void db_thread_done(void)
{
	if (conn) {
		sqlite3_close_v2(conn);
		conn = NULL;
	}
}

void db_close(void)
{
	sqlite3 *db = db_get();

	if (db && sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
			  SQLITE_OK)
		log_warn("db: final checkpoint: %s", sqlite3_errmsg(db));
	db_thread_done();
}

int db_ready(void)
{
	sqlite3 *db = db_get();

	return db && migrate_current(db) == migrate_latest();
}

const char *db_path(void) { return path; }
