#include "db.h"

#include "log.h"
#include "migrate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *path, *ks_path;
static long long busy_ms;
static _Thread_local sqlite3 *conn;

/* Statements are cached per thread, keyed by the address of their SQL
 * literal, in an open-addressed table. It must never evict: a caller may
 * hold a statement while calling code that prepares others (a loop over
 * rows that looks something up), and an evicted statement would be
 * finalized under its feet. The table is sized well above the number of
 * distinct statements in the program (about 200); a full table is a bug,
 * logged, and the statement is refused. */
#define STMT_CACHE 1024
static _Thread_local struct {
	const char *sql;
	sqlite3_stmt *st;
} stmts[STMT_CACHE];

/* Work to do once the current transaction commits (or to drop when it
 * rolls back): see db_after_commit. */
struct after_commit {
	db_commit_fn fn;
	void *arg;
};
static _Thread_local struct after_commit *pending;
static _Thread_local size_t npending, cappending;

static int attach_keystore(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "ATTACH DATABASE ? AS ks", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, ks_path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int setup(sqlite3 *db)
{
	char sql[128];
	static const char *const pragmas[] = {
		"PRAGMA foreign_keys = ON",
		"PRAGMA trusted_schema = OFF",
		"PRAGMA main.secure_delete = ON",
		"PRAGMA main.synchronous = FULL",
		/* Keep a checkpointed WAL from staying large (and holding old pages). */
		"PRAGMA main.journal_size_limit = 67108864",
		"PRAGMA ks.secure_delete = ON",
		"PRAGMA ks.synchronous = FULL",
		"PRAGMA ks.journal_size_limit = 1048576",
	};

	snprintf(sql, sizeof sql, "PRAGMA busy_timeout = %lld", busy_ms);
	if (db_exec(db, sql) != SQLITE_OK || attach_keystore(db) < 0)
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

/* WAL is a property of the file: set once, kept by every connection. */
static int set_wal(sqlite3 *db, const char *schema, char *err, size_t errlen)
{
	char sql[64];
	sqlite3_stmt *st;
	int ok;

	snprintf(sql, sizeof sql, "PRAGMA %s.journal_mode = WAL", schema);
	ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	     strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!ok)
		snprintf(err, errlen, "cannot switch %s to WAL: %s", schema, sqlite3_errmsg(db));
	return ok ? 0 : -1;
}

int db_open(const char *file, const char *keystore, long long busy_timeout_ms, char *err,
	    size_t errlen)
{
	int applied;

	db_thread_done();
	free(path);
	free(ks_path);
	path = strdup(file);
	ks_path = strdup(keystore);
	busy_ms = busy_timeout_ms;
	if (!path || !ks_path) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	conn = open_conn(err, errlen);
	if (!conn)
		return -1;
	if (set_wal(conn, "main", err, errlen) < 0 || set_wal(conn, "ks", err, errlen) < 0)
		return -1;
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

sqlite3_stmt *db_stmt(const char *sql)
{
	sqlite3 *db = db_get();
	size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;

	if (!db)
		return NULL;
	for (size_t n = 0; n < STMT_CACHE; n++, h = (h + 1) % STMT_CACHE) {
		if (stmts[h].sql == sql) {
			sqlite3_reset(stmts[h].st);
			sqlite3_clear_bindings(stmts[h].st);
			return stmts[h].st;
		}
		if (!stmts[h].sql)
			break;
	}
	if (stmts[h].sql) {
		log_err("db: statement cache full; \"%.80s\" refused", sql);
		return NULL;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_err("db: cannot prepare \"%.80s\": %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	stmts[h].sql = sql;
	stmts[h].st = st;
	return st;
}

static void run_pending(int committed)
{
	/* A callback may itself register more (it runs after the commit, so
	 * outside a transaction they run at once): take the list first. */
	struct after_commit *list = pending;
	size_t n = npending;

	pending = NULL;
	npending = cappending = 0;
	for (size_t i = 0; i < n; i++)
		list[i].fn(list[i].arg, committed);
	free(list);
}

int db_after_commit(db_commit_fn fn, void *arg)
{
	sqlite3 *db = db_get();

	if (!db || sqlite3_get_autocommit(db)) {
		fn(arg, 1); /* no transaction: what the caller wrote is committed */
		return 0;
	}
	if (npending == cappending) {
		size_t cap = cappending ? cappending * 2 : 16;
		struct after_commit *bigger = realloc(pending, cap * sizeof *bigger);
		if (!bigger) {
			fn(arg, 0);
			return -1;
		}
		pending = bigger;
		cappending = cap;
	}
	pending[npending].fn = fn;
	pending[npending].arg = arg;
	npending++;
	return 0;
}

int db_begin(void)
{
	sqlite3 *db = db_get();

	return db && db_exec(db, "BEGIN IMMEDIATE") == SQLITE_OK ? 0 : -1;
}

int db_commit(void)
{
	sqlite3 *db = db_get();

	if (!db || db_exec(db, "COMMIT") != SQLITE_OK)
		return -1; /* the caller rolls back, which drops the pending work */
	if (npending)
		run_pending(1);
	return 0;
}

void db_rollback(void)
{
	sqlite3 *db = db_get();

	if (db && !sqlite3_get_autocommit(db))
		db_exec(db, "ROLLBACK");
	if (npending)
		run_pending(0);
}

void db_thread_done(void)
{
	if (npending)
		run_pending(0);
	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmts[i].st)
			sqlite3_finalize(stmts[i].st);
		stmts[i].sql = NULL;
		stmts[i].st = NULL;
	}
	if (conn) {
		sqlite3_close_v2(conn);
		conn = NULL;
	}
}

void db_close(void)
{
	sqlite3 *db = db_get();

	if (db && (sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK ||
		   sqlite3_wal_checkpoint_v2(db, "ks", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK))
		log_warn("db: final checkpoint: %s", sqlite3_errmsg(db));
	db_thread_done();
}

int db_ready(void)
{
	sqlite3 *db = db_get();

	return db && migrate_current(db) == migrate_latest();
}

const char *db_path(void) { return path; }
