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

/* Prepared statements of this thread, by the address of their SQL text (a
 * string literal at each call site): an open-addressing table that grows
 * and never evicts, because an evicted statement may still be stepping in
 * a caller up the stack. The number of call sites bounds its size. */
struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
};
static _Thread_local struct stmt_slot *stmts;
static _Thread_local size_t stmts_cap, stmts_used;

static size_t slot_of(const char *sql, size_t cap)
{
	uintptr_t h = (uintptr_t)sql;

	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (cap - 1);
}

/* Double the table (0 ok, -1 out of memory: the caller just does not cache). */
static int stmts_grow(void)
{
	size_t cap = stmts_cap ? stmts_cap * 2 : 256;
	struct stmt_slot *bigger = calloc(cap, sizeof *bigger);

	if (!bigger)
		return -1;
	for (size_t i = 0; i < stmts_cap; i++)
		if (stmts[i].sql) {
			size_t j = slot_of(stmts[i].sql, cap);
			while (bigger[j].sql)
				j = (j + 1) & (cap - 1);
			bigger[j] = stmts[i];
		}
	free(stmts);
	stmts = bigger;
	stmts_cap = cap;
	return 0;
}

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
	sqlite3_stmt *st;
	size_t i;

	if (!db)
		return NULL;
	if ((stmts_used + 1) * 10 > stmts_cap * 7 && stmts_grow() < 0)
		return NULL;
	for (i = slot_of(sql, stmts_cap); stmts[i].sql; i = (i + 1) & (stmts_cap - 1))
		if (stmts[i].sql == sql) {
			sqlite3_reset(stmts[i].st);
			sqlite3_clear_bindings(stmts[i].st);
			return stmts[i].st;
		}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_err("db: cannot prepare \"%.80s\": %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	stmts[i].sql = sql;
	stmts[i].st = st;
	stmts_used++;
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
	for (size_t i = 0; i < stmts_cap; i++)
		if (stmts[i].st)
			sqlite3_finalize(stmts[i].st);
	free(stmts);
	stmts = NULL;
	stmts_cap = stmts_used = 0;
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
