/* db: the SQLite database file, one connection per thread.
 *
 * Every connection is set up the same way: WAL, foreign keys on, secure
 * delete on, a busy timeout, and synchronous=FULL so that a commit that
 * returned is on disk (device events are acknowledged only after commit).
 * Threads call db_get() and never share a connection. */
#ifndef GH_DB_H
#define GH_DB_H

#include <sqlite3.h>
#include <stddef.h>

/* Remember the database and key store paths and settings, open them once,
 * switch both to WAL and apply pending migrations. The key store (see
 * vault.h) is attached to every connection as schema "ks". Returns 0, or -1
 * with the reason in err. */
int db_open(const char *path, const char *keystore_path, long long busy_timeout_ms, char *err,
	    size_t errlen);

/* This thread's connection, opened on first use; NULL if it cannot be opened
 * (the reason is logged). */
sqlite3 *db_get(void);

/* Close this thread's connection (thread exit). */
void db_thread_done(void);

/* Checkpoint the WAL into the main file and truncate it, then close this
 * thread's connection. Called last at shutdown. */
void db_close(void);

/* 1 when the database is open and its schema is current. */
int db_ready(void);

/* A prepared statement for sql, cached on this thread's connection and reset
 * with its bindings cleared. sql must be a string literal (the cache is keyed
 * by its address). NULL if it cannot be prepared (logged). */
sqlite3_stmt *db_stmt(const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on this thread's connection. */
int db_begin(void);
int db_commit(void);
void db_rollback(void);

/* Run fn(arg, 1) once the current write transaction has committed, or
 * fn(arg, 0) when it rolls back, so that what is announced outside the
 * database (the live stream, waking a job) is never ahead of it. Outside
 * a transaction fn(arg, 1) runs at once. fn owns arg. Works only with
 * transactions ended by db_commit/db_rollback. */
typedef void (*db_commit_fn)(void *arg, int committed);
int db_after_commit(db_commit_fn fn, void *arg);

/* Run one SQL statement without results; returns SQLite's result code. */
int db_exec(sqlite3 *db, const char *sql);

const char *db_path(void);

#endif
