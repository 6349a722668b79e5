#include "vault_rotate.h"

#include "db.h"
#include "log.h"
#include "vault.h"
#include "vault_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLUMNS 64

struct column {
	char table[64], column[64], tenant_column[64]; /* tenant_column "" = appliance scope */
};

/* Tenant-sealed columns that may hold values of this scope. A column
 * without a tenant column is all appliance scope (tenant 0); in a column
 * with one, NULL also means the appliance (system admins, say). Names are
 * checked by the table's CHECK constraints and again here before they
 * reach dynamic SQL. */
static int load_columns_of(const char *kind, int64_t tenant, struct column *cols, int max)
{
	sqlite3_stmt *st = db_stmt("SELECT table_name, column_name, coalesce(tenant_column, '') "
				   "FROM sealed_columns WHERE key_kind = ? "
				   "ORDER BY table_name, column_name");
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < max) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const char *c = (const char *)sqlite3_column_text(st, 1);
		const char *tc = (const char *)sqlite3_column_text(st, 2);

		if (strlen(t) >= 64 || strlen(c) >= 64 || strlen(tc) >= 64 ||
		    strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(t) ||
		    strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(c) ||
		    strspn(tc, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(tc))
			continue;
		if (tenant != 0 && tc[0] == '\0')
			continue;
		snprintf(cols[n].table, 64, "%s", t);
		snprintf(cols[n].column, 64, "%s", c);
		snprintf(cols[n].tenant_column, 64, "%s", tc);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/* The scope condition for a column, with ?2 bound to the tenant when used. */
static void scope_sql(const struct column *c, int64_t tenant, char *out, size_t len)
{
	if (!c->tenant_column[0])
		snprintf(out, len, "1");
	else if (tenant == 0)
		snprintf(out, len, "\"%s\" IS NULL", c->tenant_column);
	else
		snprintf(out, len, "\"%s\" = ?2", c->tenant_column);
}

static int load_columns(int64_t tenant, struct column *cols, int max)
{
	return load_columns_of("tenant", tenant, cols, max);
}

static void key_id_be(int64_t id, unsigned char be[8])
{
	uint64_t v = (uint64_t)id;

	for (int i = 7; i >= 0; i--, v >>= 8)
		be[i] = (unsigned char)v;
}

/* Does any archive column (values never re-sealed) still use this key? */
static int archive_uses(int64_t tenant, int64_t kid)
{
	struct column cols[MAX_COLUMNS];
	int n = load_columns_of("archive", tenant, cols, MAX_COLUMNS);

	for (int i = 0; i < n; i++) {
		char sql[512], scope[100];
		sqlite3_stmt *st;
		unsigned char be[8];
		int used = 0;

		scope_sql(&cols[i], tenant, scope, sizeof scope);
		snprintf(sql, sizeof sql,
			 "SELECT 1 FROM \"%s\" WHERE %s AND substr(\"%s\", 1, 2) = x'0154' "
			 "AND substr(\"%s\", 3, 8) = ?1 LIMIT 1",
			 cols[i].table, scope, cols[i].column, cols[i].column);
		if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
			return -1;
		key_id_be(kid, be);
		sqlite3_bind_blob(st, 1, be, 8, SQLITE_TRANSIENT);
		if (cols[i].tenant_column[0] && tenant != 0)
			sqlite3_bind_int64(st, 2, tenant);
		used = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (used)
			return 1;
	}
	return n < 0 ? -1 : 0;
}

/* Retired keys whose bytes can go: those no archived value uses. Called at
 * the end of a rotation and by retention once old archived values are
 * deleted. Returns the number of keys destroyed, or -1. */
int vault_purge_retired(int64_t tenant)
{
	sqlite3_stmt *st = db_stmt("SELECT id FROM ks.tenant_keys WHERE tenant_id = ? AND purpose = 'data' "
				   "AND state IN ('retiring', 'retired') AND wrapped IS NOT NULL");
	int64_t ids[256];
	int n = 0, purged = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	while (n < 256 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		int used = archive_uses(tenant, ids[i]);
		if (used != 0)
			continue;
		/* The escrow copy goes too: a destroyed key must not survive in it. */
		st = db_stmt("UPDATE ks.tenant_keys SET wrapped = NULL, recovery_wrapped = NULL "
			     "WHERE id = ? AND state = 'retired'");
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, ids[i]);
		if (sqlite3_step(st) == SQLITE_DONE)
			purged += sqlite3_changes(db_get());
		sqlite3_reset(st);
	}
	return purged;
}

/* Fields of one column sealed under a tenant key other than active_kid. */
static long long column_pending(const struct column *c, int64_t tenant, int64_t active_kid)
{
	char sql[512], scope[100];
	sqlite3_stmt *st;
	unsigned char be[8];
	long long n = -1;

	scope_sql(c, tenant, scope, sizeof scope);
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM \"%s\" WHERE %s AND substr(\"%s\", 1, 2) = x'0154' "
		 "AND substr(\"%s\", 3, 8) != ?1",
		 c->table, scope, c->column, c->column);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	key_id_be(active_kid, be);
	sqlite3_bind_blob(st, 1, be, 8, SQLITE_TRANSIENT);
	if (c->tenant_column[0] && tenant != 0)
		sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static long long scalar(sqlite3_stmt *st)
{
	long long n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

static long long person_keys_pending(int64_t tenant, int64_t active_kid)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM ks.person_keys WHERE tenant_id = ? AND tenant_key_id != ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, active_kid);
	return scalar(st);
}

int vault_rotation_status(int64_t tenant, struct vault_rotation_status *s)
{
	struct column cols[MAX_COLUMNS];
	sqlite3_stmt *st;
	int64_t kid;
	int n;

	memset(s, 0, sizeof *s);
	s->tenant = tenant;
	if (vault_active_key_id(tenant, "data", &kid) != VAULT_OK)
		return -1;
	st = db_stmt("SELECT version FROM ks.tenant_keys WHERE id = ?");
	sqlite3_bind_int64(st, 1, kid);
	s->active_version = scalar(st);
	st = db_stmt("SELECT count(*) FILTER (WHERE state = 'retiring'), count(*) FILTER (WHERE state = 'retired') "
		     "FROM ks.tenant_keys WHERE tenant_id = ? AND purpose = 'data'");
	sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->retiring_versions = sqlite3_column_int(st, 0);
		s->retired_versions = sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	st = db_stmt("SELECT person_keys_done, fields_done FROM ks.rotations WHERE tenant_id = ?");
	sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->in_progress = 1;
		s->person_keys_done = sqlite3_column_int64(st, 0);
		s->fields_done = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	st = db_stmt("SELECT count(*) FROM ks.person_keys WHERE tenant_id = ?");
	sqlite3_bind_int64(st, 1, tenant);
	s->person_keys = scalar(st);
	s->person_keys_pending = person_keys_pending(tenant, kid);
	n = load_columns(tenant, cols, MAX_COLUMNS);
	for (int i = 0; i < n; i++) {
		long long p = column_pending(&cols[i], tenant, kid);
		if (p > 0)
			s->fields_pending += p;
	}
	return 0;
}

int vault_scopes(int64_t *ids, int max)
{
	sqlite3_stmt *st = db_stmt("SELECT 0 UNION SELECT id FROM tenants ORDER BY 1");
	int n = 0;

	if (!st)
		return -1;
	while (n < max && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int vault_rotate_begin(int64_t tenant, int *resumed, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t old_kid, new_kid, version;
	int rc = VAULT_E_DB;

	*resumed = 0;
	/* The write lock also holds off every writer that seals: from the commit
	 * on, all of them see the new key (see the rule in vault.h). SQLite's
	 * lock is not fair: busy writers can win it again and again for a whole
	 * busy timeout, so an admin's rotation tries a few times before it
	 * gives up. */
	for (int tries = 0; db_begin() < 0; tries++) {
		if (tries == 5) {
			snprintf(err, errlen, "database busy: writers held it for six busy timeouts in a row; try again");
			return -1;
		}
	}
	st = db_stmt("SELECT 1 FROM ks.rotations WHERE tenant_id = ?");
	sqlite3_bind_int64(st, 1, tenant);
	if (scalar(st) == 1) {
		*resumed = 1;
		db_commit();
		return 0;
	}
	if (vault_master_check() != VAULT_OK) {
		snprintf(err, errlen, "the master key does not match the key store");
		goto fail;
	}
	if (vault_active_key_id(tenant, "data", &old_kid) != VAULT_OK) {
		snprintf(err, errlen, "tenant %lld has no active data key", (long long)tenant);
		goto fail;
	}
	st = db_stmt("SELECT max(version) + 1 FROM ks.tenant_keys WHERE tenant_id = ? AND purpose = 'data'");
	sqlite3_bind_int64(st, 1, tenant);
	version = scalar(st);
	st = db_stmt("UPDATE ks.tenant_keys SET state = 'retiring' WHERE id = ?");
	sqlite3_bind_int64(st, 1, old_kid);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail_db;
	sqlite3_reset(st);
	if (vault_create_tenant_key(tenant, "data", version, &new_kid) != VAULT_OK)
		goto fail_db;
	st = db_stmt("INSERT INTO ks.rotations (tenant_id, new_key_id, started_at) VALUES (?, ?, ?)");
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, new_kid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail_db;
	sqlite3_reset(st);
	if (db_commit() < 0)
		goto fail_db;
	vault_cache_flush();
	log_notice("vault: rotation of tenant %lld data key to version %lld started", (long long)tenant,
		   (long long)version);
	return 0;
fail_db:
	snprintf(err, errlen, "cannot start rotation: %s", sqlite3_errmsg(db_get()));
fail:
	if (st)
		sqlite3_reset(st);
	db_rollback();
	vault_cache_flush();
	return rc == VAULT_OK ? 0 : -1;
}

/* Re-wrap up to batch person keys still under an old data key. Returns the
 * number done, or -1. Runs inside the caller's transaction. */
static int rewrap_person_batch(int64_t tenant, int64_t new_kid, int batch)
{
	struct { int64_t id, person, tkid; unsigned char wrapped[VAULT_WRAPPED_BYTES]; size_t len; } *rows;
	sqlite3_stmt *st = db_stmt("SELECT id, person_id, tenant_key_id, wrapped FROM ks.person_keys "
				   "WHERE tenant_id = ? AND tenant_key_id != ? LIMIT ?");
	int n = 0, done = 0;

	if (!st || !(rows = calloc((size_t)batch, sizeof *rows)))
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, new_kid);
	sqlite3_bind_int(st, 3, batch);
	while (n < batch && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].id = sqlite3_column_int64(st, 0);
		rows[n].person = sqlite3_column_int64(st, 1);
		rows[n].tkid = sqlite3_column_int64(st, 2);
		rows[n].len = (size_t)sqlite3_column_bytes(st, 3);
		if (rows[n].len == VAULT_WRAPPED_BYTES)
			memcpy(rows[n].wrapped, sqlite3_column_blob(st, 3), VAULT_WRAPPED_BYTES);
		n++;
	}
	sqlite3_reset(st);
	st = db_stmt("UPDATE ks.person_keys SET tenant_key_id = ?, wrapped = ? WHERE id = ? AND tenant_key_id = ?");
	for (int i = 0; st && i < n; i++) {
		unsigned char out[VAULT_WRAPPED_BYTES];
		if (vault_person_key_rewrap(tenant, rows[i].person, rows[i].tkid, rows[i].wrapped,
					    rows[i].len, new_kid, out) != VAULT_OK) {
			log_err("vault: person key %lld cannot be re-wrapped", (long long)rows[i].id);
			done = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, new_kid);
		sqlite3_bind_blob(st, 2, out, sizeof out, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, rows[i].id);
		sqlite3_bind_int64(st, 4, rows[i].tkid);
		if (sqlite3_step(st) != SQLITE_DONE) {
			done = -1;
			break;
		}
		sqlite3_reset(st);
		done++;
	}
	if (st)
		sqlite3_reset(st);
	sodium_memzero(rows, (size_t)batch * sizeof *rows);
	free(rows);
	return done;
}

struct sealed_row {
	int64_t rowid;
	unsigned char *blob;
	size_t len;
};

/* Re-seal, under the active key, up to batch values of one column after
 * *cursor. Sets *cursor to the last row seen and *seen to rows read; returns
 * values re-sealed, or -1. Inside the caller's transaction. */
static int reseal_batch(const struct column *c, int64_t tenant, int64_t new_kid, int64_t *cursor,
			int batch, int *seen)
{
	char sel[512], upd[512], scope[100];
	struct sealed_row *rows = calloc((size_t)batch, sizeof *rows);
	struct vault_ref ref = {tenant, c->table, c->column, 0};
	sqlite3_stmt *st = NULL;
	int n = 0, done = 0;

	if (!rows)
		return -1;
	scope_sql(c, tenant, scope, sizeof scope);
	snprintf(sel, sizeof sel,
		 "SELECT rowid, \"%s\" FROM \"%s\" WHERE rowid > ?1 AND \"%s\" IS NOT NULL AND %s "
		 "ORDER BY rowid LIMIT ?3",
		 c->column, c->table, c->column, scope);
	snprintf(upd, sizeof upd, "UPDATE \"%s\" SET \"%s\" = ?1 WHERE rowid = ?2 AND \"%s\" = ?3",
		 c->table, c->column, c->column);
	if (sqlite3_prepare_v2(db_get(), sel, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, *cursor);
	if (c->tenant_column[0] && tenant != 0)
		sqlite3_bind_int64(st, 2, tenant);
	sqlite3_bind_int(st, 3, batch);
	while (n < batch && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].rowid = sqlite3_column_int64(st, 0);
		rows[n].len = (size_t)sqlite3_column_bytes(st, 1);
		rows[n].blob = malloc(rows[n].len + 1);
		if (!rows[n].blob)
			goto fail;
		memcpy(rows[n].blob, sqlite3_column_blob(st, 1), rows[n].len);
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db_get(), upd, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		unsigned char *plain, *sealed;
		size_t plen, slen;
		int64_t kid;
		char kind;

		*cursor = rows[i].rowid;
		if (vault_parse_header(rows[i].blob, rows[i].len, &kind, &kid) != VAULT_OK || kind != 'T' ||
		    kid == new_kid)
			continue;
		ref.row = rows[i].rowid;
		if (vault_open_field(&ref, rows[i].blob, rows[i].len, &plain, &plen) != VAULT_OK) {
			log_err("vault: %s.%s row %lld cannot be opened; left as it is", c->table, c->column,
				(long long)rows[i].rowid);
			continue;
		}
		int rc = vault_seal(&ref, plain, plen, &sealed, &slen);
		vault_free(plain, plen);
		if (rc != VAULT_OK)
			goto fail;
		sqlite3_bind_blob(st, 1, sealed, (int)slen, free);
		sqlite3_bind_int64(st, 2, rows[i].rowid);
		sqlite3_bind_blob(st, 3, rows[i].blob, (int)rows[i].len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		done += sqlite3_changes(db_get());
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	*seen = n;
	for (int i = 0; i < n; i++)
		free(rows[i].blob);
	free(rows);
	return done;
fail:
	log_err("vault: re-sealing %s.%s: %s", c->table, c->column, sqlite3_errmsg(db_get()));
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++)
		free(rows[i].blob);
	free(rows);
	return -1;
}

static int save_progress(int64_t tenant, int column_no, int64_t cursor, int pk_done, int f_done)
{
	sqlite3_stmt *st = db_stmt("UPDATE ks.rotations SET column_no = ?, row_cursor = ?, "
				   "person_keys_done = person_keys_done + ?, fields_done = fields_done + ? "
				   "WHERE tenant_id = ?");

	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, column_no);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int(st, 3, pk_done);
	sqlite3_bind_int(st, 4, f_done);
	sqlite3_bind_int64(st, 5, tenant);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Everything under the new key? Then retire the old versions, all in one
 * write transaction so no writer can slip a value in between. Returns 1
 * when retired, 0 when work remains, -1 on error. */
static int try_finish(int64_t tenant, int64_t new_kid, const struct column *cols, int ncols)
{
	sqlite3_stmt *st;
	long long pending;

	if (db_begin() < 0)
		return -1;
	pending = person_keys_pending(tenant, new_kid);
	for (int i = 0; pending == 0 && i < ncols; i++)
		pending = column_pending(&cols[i], tenant, new_kid);
	if (pending != 0) {
		db_rollback();
		return pending < 0 ? -1 : 0;
	}
	st = db_stmt("UPDATE ks.tenant_keys SET state = 'retired', retired_at = ? "
		     "WHERE tenant_id = ? AND purpose = 'data' AND state = 'retiring'");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	st = db_stmt("DELETE FROM ks.rotations WHERE tenant_id = ?");
	sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	st = NULL;
	/* The old key's bytes go now, unless archived values (the audit log)
	 * still need them; retention destroys those later. */
	if (vault_purge_retired(tenant) < 0)
		goto fail;
	if (db_commit() < 0)
		return -1;
	vault_cache_flush();
	/* secure_delete overwrote the old wrapped keys in the page; push the page
	 * out of the WAL as well. */
	sqlite3_wal_checkpoint_v2(db_get(), "ks", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return 1;
fail:
	sqlite3_reset(st);
	db_rollback();
	return -1;
}

static void progress_counters(int64_t tenant, struct vault_rotation_status *s)
{
	sqlite3_stmt *st = db_stmt("SELECT person_keys_done, fields_done FROM ks.rotations WHERE tenant_id = ?");

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->person_keys_done = sqlite3_column_int64(st, 0);
		s->fields_done = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
}

int vault_rotate_run(int64_t tenant, int batch, vault_progress_fn progress, void *arg, char *err,
		     size_t errlen)
{
	struct column cols[MAX_COLUMNS];
	struct vault_rotation_status s;
	sqlite3_stmt *st;
	int64_t new_kid, cursor;
	int ncols, column_no;

	st = db_stmt("SELECT new_key_id, column_no, row_cursor FROM ks.rotations WHERE tenant_id = ?");
	sqlite3_bind_int64(st, 1, tenant);
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		if (st)
			sqlite3_reset(st);
		return 0; /* nothing in progress */
	}
	new_kid = sqlite3_column_int64(st, 0);
	column_no = sqlite3_column_int(st, 1);
	cursor = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	ncols = load_columns(tenant, cols, MAX_COLUMNS);
	if (ncols < 0) {
		snprintf(err, errlen, "cannot read sealed_columns");
		return -1;
	}
	for (;;) {
		int pk = 0, fields = 0, seen = 0;

		if (db_begin() < 0) {
			snprintf(err, errlen, "database busy");
			return -1;
		}
		pk = rewrap_person_batch(tenant, new_kid, batch);
		if (pk == 0 && column_no < ncols) {
			fields = reseal_batch(&cols[column_no], tenant, new_kid, &cursor, batch, &seen);
			if (fields >= 0 && seen == 0)
				column_no++, cursor = 0;
		} else if (pk == 0) {
			seen = 0;
		}
		if (pk < 0 || fields < 0 || save_progress(tenant, column_no, cursor, pk, fields) < 0 ||
		    db_commit() < 0) {
			db_rollback();
			snprintf(err, errlen, "rotation batch failed: %s", sqlite3_errmsg(db_get()));
			return -1;
		}
		if (progress) {
			/* Counters only: the full status scans tables, too dear per batch. */
			memset(&s, 0, sizeof s);
			s.tenant = tenant;
			s.in_progress = 1;
			progress_counters(tenant, &s);
			progress(&s, arg);
		}
		if (pk == 0 && column_no >= ncols) {
			int rc = try_finish(tenant, new_kid, cols, ncols);
			if (rc == 1)
				break;
			if (rc < 0) {
				snprintf(err, errlen, "cannot retire the old key: %s", sqlite3_errmsg(db_get()));
				return -1;
			}
			/* A value under the old key appeared behind the cursor (only if a
			 * writer broke the rule in vault.h): scan again. */
			column_no = 0;
			cursor = 0;
		}
	}
	log_notice("vault: rotation of tenant %lld finished; old data key versions retired",
		   (long long)tenant);
	return 0;
}

int vault_rewrap_master(const unsigned char old_mk[32], const unsigned char new_mk[32], char *err,
			size_t errlen)
{
	sqlite3_stmt *sel, *upd;
	int n = 0;

	if (db_begin() < 0) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	if (vault_master_check_with(old_mk) != VAULT_OK) {
		snprintf(err, errlen, "the old master key does not match this key store");
		goto fail;
	}
	sel = db_stmt("SELECT id, tenant_id, purpose, version, wrapped FROM ks.tenant_keys WHERE wrapped IS NOT NULL");
	upd = db_stmt("UPDATE ks.tenant_keys SET wrapped = ? WHERE id = ?");
	if (!sel || !upd) {
		snprintf(err, errlen, "database unavailable");
		goto fail;
	}
	/* Small table (a few rows per tenant), so updating while stepping over
	 * it is avoided by collecting first. */
	struct row { int64_t id, tenant, version; char purpose[8]; unsigned char w[VAULT_WRAPPED_BYTES]; size_t len; } *rows = NULL;
	int cap = 0;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		if (n == cap) {
			void *bigger = realloc(rows, (size_t)(cap = cap ? cap * 2 : 64) * sizeof *rows);
			if (!bigger) {
				sqlite3_reset(sel);
				free(rows);
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			rows = bigger;
		}
		rows[n].id = sqlite3_column_int64(sel, 0);
		rows[n].tenant = sqlite3_column_int64(sel, 1);
		snprintf(rows[n].purpose, sizeof rows[n].purpose, "%s", sqlite3_column_text(sel, 2));
		rows[n].version = sqlite3_column_int64(sel, 3);
		rows[n].len = (size_t)sqlite3_column_bytes(sel, 4);
		memcpy(rows[n].w, sqlite3_column_blob(sel, 4),
		       rows[n].len < VAULT_WRAPPED_BYTES ? rows[n].len : VAULT_WRAPPED_BYTES);
		n++;
	}
	sqlite3_reset(sel);
	for (int i = 0; i < n; i++) {
		unsigned char out[VAULT_WRAPPED_BYTES];
		if (vault_tenant_key_rewrap(old_mk, new_mk, rows[i].tenant, rows[i].purpose, rows[i].version,
					    rows[i].w, rows[i].len, out) != VAULT_OK) {
			snprintf(err, errlen, "tenant key %lld cannot be unwrapped with the old master key",
				 (long long)rows[i].id);
			free(rows);
			goto fail;
		}
		sqlite3_bind_blob(upd, 1, out, sizeof out, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 2, rows[i].id);
		if (sqlite3_step(upd) != SQLITE_DONE) {
			sqlite3_reset(upd);
			free(rows);
			snprintf(err, errlen, "cannot store a re-wrapped key: %s", sqlite3_errmsg(db_get()));
			goto fail;
		}
		sqlite3_reset(upd);
	}
	sodium_memzero(rows, (size_t)n * sizeof *rows);
	free(rows);
	if (vault_master_check_write(new_mk) != VAULT_OK || db_commit() < 0) {
		snprintf(err, errlen, "cannot commit: %s", sqlite3_errmsg(db_get()));
		goto fail;
	}
	vault_cache_flush();
	sqlite3_wal_checkpoint_v2(db_get(), "ks", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return n;
fail:
	db_rollback();
	return -1;
}
