#include "snapshot.h"

#include "core/db.h"
#include "core/log.h"
#include "core/state.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define STEP_PAGES 2048   /* 8 MiB of 4 KiB pages between stop checks */
#define COPY_ROWS 20000

static const char *const event_tables[] = {SNAPSHOT_EVENT_TABLES};

static int stopped(const struct snapshot_hooks *h)
{
	return h && h->stop && h->stop(h->arg);
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%.60s: %s", sql, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

/* The reader: the live database with its key store, read-write only
 * because an events snapshot writes into a third, attached file. */
static sqlite3 *open_reader(const char *events_path, char *err, size_t errlen)
{
	char ks[4200], sql[4400];
	sqlite3 *r = NULL;

	state_path("keys/keystore.db", ks, sizeof ks);
	if (sqlite3_open_v2(db_path(), &r, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", db_path(), r ? sqlite3_errmsg(r) : "out of memory");
		sqlite3_close(r);
		return NULL;
	}
	sqlite3_busy_timeout(r, 10000);
	char *q = sqlite3_mprintf("ATTACH DATABASE %Q AS ks", ks);
	int rc = exec(r, q, err, errlen);
	sqlite3_free(q);
	if (rc == 0 && events_path) {
		/* ATTACH takes the flags of the main file: no creating there. */
		sqlite3 *make = NULL;
		if (sqlite3_open_v2(events_path, &make, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
			rc = -1, snprintf(err, errlen, "cannot create %s", events_path);
		sqlite3_close(make);
		q = sqlite3_mprintf("ATTACH DATABASE %Q AS ev", events_path);
		if (rc == 0)
			rc = exec(r, q, err, errlen);
		sqlite3_free(q);
		snprintf(sql, sizeof sql, "PRAGMA ev.journal_mode = OFF; PRAGMA ev.synchronous = OFF");
		if (rc == 0)
			rc = exec(r, sql, err, errlen);
	}
	if (rc < 0) {
		sqlite3_close(r);
		return NULL;
	}
	return r;
}

/* Both files seen at one moment: see the top of snapshot.h. */
static int begin_consistent_read(sqlite3 *r, char *err, size_t errlen)
{
	int rc;

	if (db_begin() < 0) {
		snprintf(err, errlen, "cannot take the write lock for an instant: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	rc = exec(r, "BEGIN; SELECT count(*) FROM main.sqlite_master; SELECT count(*) FROM ks.sqlite_master", err,
		  errlen);
	db_rollback();
	return rc;
}

/* sqlite3_backup of one schema of r into a new file. */
static int copy_with_backup_api(sqlite3 *r, const char *schema, const char *path, const struct snapshot_hooks *h,
				char *err, size_t errlen)
{
	sqlite3 *dest = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(path, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
	    exec(dest, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", err, errlen) < 0) {
		if (!*err)
			snprintf(err, errlen, "cannot create %s: %s", path, sqlite3_errmsg(dest));
		sqlite3_close(dest);
		return -1;
	}
	b = sqlite3_backup_init(dest, "main", r, schema);
	if (!b) {
		snprintf(err, errlen, "cannot start the copy of %s: %s", schema, sqlite3_errmsg(dest));
		sqlite3_close(dest);
		return -1;
	}
	do {
		rc = sqlite3_backup_step(b, STEP_PAGES);
		if (rc == SQLITE_OK && stopped(h)) {
			sqlite3_backup_finish(b);
			sqlite3_close(dest);
			return 1;
		}
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "copying %s to %s: %s", schema, path, sqlite3_errstr(rc));
		sqlite3_close(dest);
		return -1;
	}
	rc = sqlite3_close(dest) == SQLITE_OK ? 0 : -1;
	if (rc < 0)
		snprintf(err, errlen, "cannot close %s", path);
	return rc;
}

/* Events: one table's definition and rows into ev, in rowid batches so a
 * shutdown is heard. */
static int copy_table(sqlite3 *r, const char *table, const struct snapshot_hooks *h, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const char *def, *paren;
	char *sql;
	long long cursor = -1, last;
	int rc;

	if (sqlite3_prepare_v2(r, "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return snprintf(err, errlen, "%s", sqlite3_errmsg(r)), -1;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || !(def = (const char *)sqlite3_column_text(st, 0)) ||
	    !(paren = strchr(def, '('))) {
		sqlite3_finalize(st);
		snprintf(err, errlen, "table %s is missing", table);
		return -1;
	}
	sql = sqlite3_mprintf("CREATE TABLE ev.\"%w\" %s", table, paren);
	sqlite3_finalize(st);
	rc = exec(r, sql, err, errlen);
	sqlite3_free(sql);
	if (rc < 0)
		return -1;
	sql = sqlite3_mprintf("INSERT INTO ev.\"%w\" SELECT * FROM main.\"%w\" WHERE rowid > ?1 ORDER BY rowid LIMIT %d "
			      "RETURNING rowid", table, table, COPY_ROWS);
	rc = sqlite3_prepare_v2(r, sql, -1, &st, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK)
		return snprintf(err, errlen, "%s", sqlite3_errmsg(r)), -1;
	do {
		int n = 0;
		last = cursor;
		sqlite3_bind_int64(st, 1, cursor);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			long long id = sqlite3_column_int64(st, 0);
			cursor = id > cursor ? id : cursor;
			n++;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "copying %s: %s", table, sqlite3_errmsg(r));
			sqlite3_finalize(st);
			return -1;
		}
		if (n && stopped(h)) {
			sqlite3_finalize(st);
			return 1;
		}
	} while (cursor != last);
	sqlite3_finalize(st);
	return 0;
}

static int count_add(struct bfile_counts *c, int db, const char *table, long long rows)
{
	if (c->n >= BFILE_MAX_TABLES || strlen(table) > BFILE_NAME_MAX)
		return -1;
	c->item[c->n].db = db;
	snprintf(c->item[c->n].table, sizeof c->item[c->n].table, "%s", table);
	c->item[c->n].rows = rows;
	c->n++;
	return 0;
}

static long long count_rows(sqlite3 *db, const char *schema, const char *table)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\".\"%w\"", schema, table);
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return n;
}

/* Every table of schema (SQLite's own excepted), or only `only`. */
static int count_schema(sqlite3 *db, const char *schema, int dbi, const char *const *only, size_t nonly,
			struct bfile_counts *c, char *err, size_t errlen)
{
	char *sql = sqlite3_mprintf("SELECT name FROM \"%w\".sqlite_master WHERE type = 'table' AND name NOT LIKE "
				    "'sqlite\\_%%' ESCAPE '\\' ORDER BY name", schema);
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		snprintf(err, errlen, "cannot list the tables: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_free(sql);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int wanted = nonly == 0;
		for (size_t i = 0; i < nonly; i++)
			wanted |= strcmp(only[i], t) == 0;
		if (!wanted)
			continue;
		long long n = count_rows(db, schema, t);
		if (n < 0 || count_add(c, dbi, t, n) < 0) {
			snprintf(err, errlen, "cannot count the rows of %s.%s", schema, t);
			rc = -1;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int take_full(sqlite3 *r, const struct snapshot_hooks *h, struct snapshot *s, char *err, size_t errlen)
{
	int rc = copy_with_backup_api(r, "main", s->path[0], h, err, errlen);

	if (rc == 0)
		rc = copy_with_backup_api(r, "ks", s->path[1], h, err, errlen);
	if (rc == 0 && count_schema(r, "main", 0, NULL, 0, &s->counts, err, errlen) < 0)
		rc = -1;
	return rc;
}

static int take_events(sqlite3 *r, const struct snapshot_hooks *h, struct snapshot *s, char *err, size_t errlen)
{
	size_t n = sizeof event_tables / sizeof event_tables[0];
	int rc = copy_with_backup_api(r, "ks", s->path[1], h, err, errlen);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = copy_table(r, event_tables[i], h, err, errlen);
	if (rc == 0 && count_schema(r, "main", 0, event_tables, n, &s->counts, err, errlen) < 0)
		rc = -1;
	return rc;
}

/* The key store's recovery public key, in the snapshot's read transaction. */
static int read_recovery_pk(sqlite3 *r, struct snapshot *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	s->has_recovery_pk = 0;
	if (sqlite3_prepare_v2(r, "SELECT value FROM ks.vault_meta WHERE key = 'recovery_pk'", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot read the recovery key: %s", sqlite3_errmsg(r));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(s->recovery_pk, sqlite3_column_blob(st, 0), 32);
		s->has_recovery_pk = 1;
	}
	sqlite3_finalize(st);
	return rc;
}

int snapshot_take(int kind, const char *workdir, const struct snapshot_hooks *hooks, struct snapshot *s, char *err,
		  size_t errlen)
{
	sqlite3 *r;
	int rc;

	const char *names[2] = {kind == BFILE_FULL ? "gatehouse.db" : "events.db", "keystore.db"};

	memset(s, 0, sizeof *s);
	s->ndb = 2;
	for (int i = 0; i < 2; i++) {
		snprintf(s->name[i], sizeof s->name[i], "%s", names[i]);
		snprintf(s->path[i], sizeof s->path[i], "%s/%s", workdir, names[i]);
	}
	r = open_reader(kind == BFILE_EVENTS ? s->path[0] : NULL, err, errlen);
	if (!r)
		return -1;
	rc = begin_consistent_read(r, err, errlen);
	if (rc == 0)
		rc = read_recovery_pk(r, s, err, errlen);
	if (rc == 0)
		rc = kind == BFILE_FULL ? take_full(r, hooks, s, err, errlen) : take_events(r, hooks, s, err, errlen);
	if (rc == 0 && count_schema(r, "ks", 1, NULL, 0, &s->counts, err, errlen) < 0)
		rc = -1;
	/* Only the events file was written; COMMIT makes it whole. */
	if (rc == 0 && exec(r, "COMMIT", err, errlen) < 0)
		rc = -1;
	if (rc != 0)
		sqlite3_exec(r, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(r);
	for (int i = 0; rc == 0 && i < 2; i++)
		s->size[i] = file_size(s->path[i]);
	return rc;
}

int snapshot_check_file(const char *path, int dbi, struct bfile_counts *out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the restored %s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(10)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s is not a database: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		snprintf(err, errlen, "integrity_check of %s failed: %s", path,
			 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(db));
		sqlite3_finalize(st);
		goto out;
	}
	sqlite3_finalize(st);
	rc = count_schema(db, "main", dbi, NULL, 0, out, err, errlen);
out:
	sqlite3_close(db);
	return rc;
}
