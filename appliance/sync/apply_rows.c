#include "apply_rows.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "core/vault_sync.h"
#include "tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum section {
	S_NONE,
	S_SKIP,    /* its stream was applied already */
	S_TABLE,   /* a table the central owns (tables.h) */
	S_CHILD,   /* its children */
	S_TKEYS,   /* tenant keys */
	S_PKEYS,   /* person keys */
	S_STATUS,  /* terminal status, on the central */
	S_AUDIT,   /* the site's audit entries */
	S_ANCHORS, /* and anchors */
	S_EVENTS,  /* the site's events */
};

struct ctx {
	const struct sync_peer *p;
	struct sync_result *res;
	char *err;
	size_t errlen;
	const int *is_new;
	struct cbody_reader r;
	enum section kind;
	const struct sync_table *t;
	const struct sync_child *c;
	sqlite3_stmt *st[3];
	int ix[16];          /* wire positions of columns a handler needs by name */
	int64_t parent;      /* child sections: the parent being replaced, 0 none */
	long long now_ms;
};

/* --- which tables each side takes ------------------------------------------------- */

static const char *const site_tables[][2] = {
	{"tenant_keys", "keys"}, {"person_keys", "keys"}, {"sites", "changes"}, {"holiday_sets", "changes"},
	{"holidays", "changes"}, {"schedules", "changes"}, {"schedule_windows", "changes"},
	{"access_groups", "changes"}, {"devices", "changes"}, {"doors", "changes"}, {"access_levels", "changes"},
	{"access_level_doors", "changes"}, {"people", "changes"}, {"group_members", "changes"},
	{"credentials", "changes"},
};
static const char *const central_tables[][2] = {
	{"device_status", "status"}, {"audit_log", "audit"}, {"audit_anchors", "anchors"}, {"events", "events"},
};

const char *sync_stream_of_table(char direction, const char *table)
{
	size_t n = direction == 'C' ? sizeof site_tables / sizeof site_tables[0]
				    : sizeof central_tables / sizeof central_tables[0];

	for (size_t i = 0; i < n; i++) {
		const char *const *e = direction == 'C' ? site_tables[i] : central_tables[i];
		if (strcmp(e[0], table) == 0)
			return e[1];
	}
	return NULL;
}

static int fail(struct ctx *x, const char *fmt, const char *a)
{
	snprintf(x->err, x->errlen, fmt, a);
	return -1;
}

static int wire(const struct ctx *x, const char *name)
{
	for (int i = 0; i < x->r.ncols; i++)
		if (strcmp(x->r.cols[i], name) == 0)
			return i;
	return -1;
}

static int64_t int_at(const struct citem *it, int i)
{
	return i >= 0 && it->v[i].type == SQLITE_INTEGER ? it->v[i].i : 0;
}

/* Every column of the section is one the receiver takes. */
static int cols_allowed(struct ctx *x, const char *const *allowed, int n)
{
	for (int i = 0; i < x->r.ncols; i++)
		if (sync_col_index(allowed, n, x->r.cols[i]) < 0) {
			snprintf(x->err, x->errlen, "column %s of %s is not sent by the %s", x->r.cols[i], x->r.table,
				 x->p->role == SYNC_SITE ? "central" : "site");
			return -1;
		}
	return 0;
}

static int prepare(struct ctx *x, int i, const char *sql)
{
	if (sqlite3_prepare_v2(db_get(), sql, -1, &x->st[i], NULL) != SQLITE_OK) {
		snprintf(x->err, x->errlen, "cannot apply %s: %s", x->r.table, sqlite3_errmsg(db_get()));
		return -1;
	}
	return 0;
}

static void end_section(struct ctx *x)
{
	for (int i = 0; i < 3; i++) {
		sqlite3_finalize(x->st[i]);
		x->st[i] = NULL;
	}
	x->kind = S_NONE;
	x->t = NULL;
	x->c = NULL;
	x->parent = 0;
}

static int step_done(struct ctx *x, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	snprintf(x->err, x->errlen, "cannot apply a row of %s: %s", x->r.table, sqlite3_errmsg(db_get()));
	return -1;
}

/* --- the site: tables the central owns ---------------------------------------------- */

static int table_section(struct ctx *x)
{
	const struct sync_table *t = x->t;
	char sql[2048];
	size_t n = 0;

	if (cols_allowed(x, t->cols, t->ncols) < 0)
		return -1;
	if ((x->ix[0] = wire(x, "id")) < 0 || (x->ix[1] = wire(x, "tenant_id")) < 0)
		return fail(x, "the rows of %s have no id or tenant", t->table);
	x->ix[2] = t->site_col ? wire(x, t->site_col) : -1;
	if (t->site_col && x->ix[2] < 0)
		return fail(x, "the rows of %s name no site", t->table);
	n += (size_t)snprintf(sql + n, sizeof sql - n, "INSERT INTO \"%s\" (", t->table);
	for (int i = 0; i < x->r.ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", i ? ", " : "", x->r.cols[i]);
	n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s) VALUES (", t->insert_cols ? ", " : "",
			      t->insert_cols ? t->insert_cols : "");
	for (int i = 0; i < x->r.ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?%d", i ? ", " : "", i + 1);
	n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s) ON CONFLICT (id) DO UPDATE SET ",
			      t->insert_values ? ", " : "", t->insert_values ? t->insert_values : "");
	for (int i = 0, first = 1; i < x->r.ncols; i++)
		if (strcmp(x->r.cols[i], "id") != 0) {
			n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\" = excluded.\"%s\"", first ? "" : ", ",
					      x->r.cols[i], x->r.cols[i]);
			first = 0;
		}
	if (n >= sizeof sql - 1 || prepare(x, 0, sql) < 0)
		return -1;
	if (t->unique_fix && prepare(x, 1, t->unique_fix) < 0)
		return -1;
	return 0;
}

/* A row the pairing's tenant and site may have, and nothing else. */
static int in_scope(struct ctx *x, const struct citem *it)
{
	const struct sync_table *t = x->t;
	int64_t id = int_at(it, x->ix[0]);

	if (id <= 0 || int_at(it, x->ix[1]) != x->p->tenant)
		return fail(x, "a row of %s belongs to another tenant than the pairing's", t->table);
	if ((t->only_site_row && id != x->p->site) || (t->site_col && int_at(it, x->ix[2]) != x->p->site))
		return fail(x, "a row of %s belongs to another site than this one", t->table);
	return 0;
}

static int table_row(struct ctx *x, const struct citem *it)
{
	const struct sync_table *t = x->t;

	if (in_scope(x, it) < 0)
		return -1;
	if (x->st[1]) {
		/* A stale holder of a unique value steps aside (see tables.h). */
		int ok = 1;
		sqlite3_bind_int64(x->st[1], 1, int_at(it, x->ix[0]));
		for (int a = 0; a < t->nunique && ok; a++) {
			int w = wire(x, t->unique_args[a]);
			ok = w >= 0 && it->v[w].type != SQLITE_NULL;
			if (ok)
				cvalue_bind(x->st[1], a + 2, &it->v[w]);
		}
		if (ok && step_done(x, x->st[1]) < 0)
			return -1;
		sqlite3_clear_bindings(x->st[1]);
	}
	for (int i = 0; i < x->r.ncols; i++)
		cvalue_bind(x->st[0], i + 1, &it->v[i]);
	if (step_done(x, x->st[0]) < 0)
		return -1;
	x->res->rows++;
	return 0;
}

/* What deleting a thing of each table removes here, children first (the
 * site applies with foreign keys off): ?1 the id, ?2 the tenant. */
static const char *const *deletes_of(const char *table)
{
	static const char *const holiday_sets[] = {
		"DELETE FROM holidays WHERE holiday_set_id = ?1 AND ?2 = ?2",
		"DELETE FROM holiday_sets WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const schedules[] = {"DELETE FROM schedule_windows WHERE schedule_id = ?1 AND ?2 = ?2",
						"DELETE FROM schedules WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const groups[] = {"DELETE FROM group_members WHERE group_id = ?1 AND ?2 = ?2",
					     "DELETE FROM access_groups WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const devices[] = {"DELETE FROM firmware_rollouts WHERE device_id = ?1 AND ?2 = ?2",
					      "DELETE FROM device_commands WHERE device_id = ?1 AND tenant_id = ?2",
					      "DELETE FROM devices WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const doors[] = {"DELETE FROM access_level_doors WHERE door_id = ?1 AND ?2 = ?2",
					    "DELETE FROM doors WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const levels[] = {"DELETE FROM access_level_doors WHERE level_id = ?1 AND ?2 = ?2",
					     "DELETE FROM access_levels WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const people[] = {"DELETE FROM credentials WHERE person_id = ?1 AND tenant_id = ?2",
					     "DELETE FROM group_members WHERE person_id = ?1 AND ?2 = ?2",
					     "DELETE FROM people WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const credentials[] = {"DELETE FROM credentials WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const char *const sites[] = {"DELETE FROM sites WHERE id = ?1 AND tenant_id = ?2", NULL};
	static const struct {
		const char *table;
		const char *const *sql;
	} map[] = {{"holiday_sets", holiday_sets}, {"schedules", schedules}, {"access_groups", groups},
		   {"devices", devices}, {"doors", doors}, {"access_levels", levels}, {"people", people},
		   {"credentials", credentials}, {"sites", sites}};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].table, table) == 0)
			return map[i].sql;
	return NULL;
}

/* A terminal about to be deleted: remember its uid for the device link. */
static void note_terminal(struct ctx *x, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT uid FROM devices WHERE id = ? AND tenant_id = ?");

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, x->p->tenant);
	if (sqlite3_step(st) == SQLITE_ROW && x->res->ngone < SYNC_GONE_MAX)
		snprintf(x->res->gone[x->res->ngone++], sizeof x->res->gone[0], "%s", sqlite3_column_text(st, 0));
	sqlite3_reset(st);
}

static int table_delete(struct ctx *x, int64_t id)
{
	const char *const *sql = deletes_of(x->t->table);
	int changed = 0;

	if (strcmp(x->t->table, "devices") == 0)
		note_terminal(x, id);

	for (; sql && *sql; sql++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db_get(), *sql, -1, &st, NULL) != SQLITE_OK)
			return fail(x, "cannot delete from %s", x->t->table);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, x->p->tenant);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return fail(x, "cannot delete from %s", x->t->table);
		}
		changed = sqlite3_changes(db_get());
		sqlite3_finalize(st);
	}
	/* Erasure on the central: the person's rows are gone, and so is the
	 * key, so this site's events of them cannot be read either. */
	if (strcmp(x->t->table, "people") == 0) {
		int rc = vault_person_key_shred(x->p->tenant, id);
		if (rc != VAULT_OK && rc != VAULT_E_SHREDDED)
			return fail(x, "cannot destroy a person key: %s", vault_strerror(rc));
	}
	x->res->deleted += changed > 0;
	return 0;
}

static int child_section(struct ctx *x)
{
	const struct sync_child *c = x->c;
	char sql[512];
	size_t n = 0;

	if (cols_allowed(x, c->cols, c->ncols) < 0)
		return -1;
	if ((x->ix[0] = wire(x, c->cols[0])) < 0)
		return fail(x, "the rows of %s name no parent", c->table);
	n += (size_t)snprintf(sql + n, sizeof sql - n, "INSERT OR REPLACE INTO \"%s\" (", c->table);
	for (int i = 0; i < x->r.ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", i ? ", " : "", x->r.cols[i]);
	n += (size_t)snprintf(sql + n, sizeof sql - n, ") VALUES (");
	for (int i = 0; i < x->r.ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?%d", i ? ", " : "", i + 1);
	snprintf(sql + n, sizeof sql - n, ")");
	if (prepare(x, 0, sql) < 0)
		return -1;
	snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE \"%s\" = ?1", c->table, c->cols[0]);
	if (prepare(x, 1, sql) < 0)
		return -1;
	snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE id = ?1 AND tenant_id = ?2", x->t->table);
	return prepare(x, 2, sql);
}

/* 'R': the parent's children are replaced by the rows that follow. */
static int child_replace(struct ctx *x, int64_t parent)
{
	int here;

	sqlite3_bind_int64(x->st[2], 1, parent);
	sqlite3_bind_int64(x->st[2], 2, x->p->tenant);
	here = sqlite3_step(x->st[2]) == SQLITE_ROW;
	sqlite3_reset(x->st[2]);
	if (!here)
		return fail(x, "rows of %s for a parent of another tenant, or none", x->c->table);
	x->parent = parent;
	sqlite3_bind_int64(x->st[1], 1, parent);
	return step_done(x, x->st[1]);
}

static int child_row(struct ctx *x, const struct citem *it)
{
	if (!x->parent || int_at(it, x->ix[0]) != x->parent)
		return fail(x, "a row of %s outside its parent's replacement", x->c->table);
	for (int i = 0; i < x->r.ncols; i++)
		cvalue_bind(x->st[0], i + 1, &it->v[i]);
	if (step_done(x, x->st[0]) < 0)
		return -1;
	x->res->rows++;
	return 0;
}

/* --- the site: keys ------------------------------------------------------------------ */

static const char *const tkey_cols[] = {"id", "tenant_id", "purpose", "version", "state", "created_at",
					"retired_at", "sealed"};
static const char *const pkey_cols[] = {"id", "tenant_id", "person_id", "tenant_key_id", "wrapped",
					"created_at"};

static int keys_section(struct ctx *x, const char *const *cols, int n)
{
	if (cols_allowed(x, cols, n) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if ((x->ix[i] = wire(x, cols[i])) < 0 && strcmp(cols[i], "retired_at") && strcmp(cols[i], "sealed"))
			return fail(x, "key rows without %s", cols[i]);
	return 0;
}

static void text_at(const struct citem *it, int i, char *out, size_t len)
{
	size_t n = i >= 0 && it->v[i].type == SQLITE_TEXT ? it->v[i].n : 0;

	if (n >= len)
		n = 0;
	memcpy(out, n ? (const char *)it->v[i].p : "", n);
	out[n] = '\0';
}

static int tenant_key_row(struct ctx *x, const struct citem *it)
{
	struct vault_shared_key k;
	int s = x->ix[7];
	int rc;

	memset(&k, 0, sizeof k);
	k.id = int_at(it, x->ix[0]);
	k.tenant = int_at(it, x->ix[1]);
	text_at(it, x->ix[2], k.purpose, sizeof k.purpose);
	k.version = int_at(it, x->ix[3]);
	text_at(it, x->ix[4], k.state, sizeof k.state);
	k.created_at = int_at(it, x->ix[5]);
	k.retired_at = int_at(it, x->ix[6]);
	if (k.tenant != x->p->tenant || k.id <= 0)
		return fail(x, "a key of another tenant than the pairing's%s", "");
	if (s >= 0 && it->v[s].type == SQLITE_BLOB) {
		if (it->v[s].n != sizeof k.sealed)
			return fail(x, "a shared key of the wrong size%s", "");
		memcpy(k.sealed, it->v[s].p, sizeof k.sealed);
		k.has_key = 1;
	}
	rc = vault_sync_tenant_key_put(&k, x->err, x->errlen);
	sodium_memzero(&k, sizeof k);
	x->res->rows += rc == 0;
	return rc;
}

static int person_key_row(struct ctx *x, const struct citem *it)
{
	struct vault_person_key_row r;
	int w = x->ix[4];

	memset(&r, 0, sizeof r);
	r.id = int_at(it, x->ix[0]);
	r.tenant = int_at(it, x->ix[1]);
	r.person = int_at(it, x->ix[2]);
	r.tenant_key_id = int_at(it, x->ix[3]);
	r.created_at = int_at(it, x->ix[5]);
	if (r.tenant != x->p->tenant)
		return fail(x, "a person key of another tenant than the pairing's%s", "");
	if (it->v[w].type != SQLITE_BLOB || it->v[w].n != sizeof r.wrapped)
		return fail(x, "a person key of the wrong size%s", "");
	memcpy(r.wrapped, it->v[w].p, sizeof r.wrapped);
	if (vault_sync_person_key_put(&r, x->err, x->errlen) < 0)
		return -1;
	x->res->rows++;
	return 0;
}

static int person_key_gone(struct ctx *x, int64_t person)
{
	int rc = vault_person_key_shred(x->p->tenant, person);

	if (rc != VAULT_OK && rc != VAULT_E_SHREDDED)
		return fail(x, "cannot destroy a person key: %s", vault_strerror(rc));
	x->res->deleted += rc == VAULT_OK;
	return 0;
}

/* --- the central: what its sites own ----------------------------------------------------- */

static const char *const status_cols[] = {"id", "status", "cert_serial", "cert_not_after", "firmware_version",
					  "online", "last_seen_at", "clock_offset_ms"};
static const char *const audit_cols[] = {"id", "uid", "at", "tenant_id", "actor_type", "actor_id", "source",
					 "action", "target", "outcome", "details", "sealed", "prev_hash", "hash"};
static const char *const anchor_cols[] = {"id", "kind", "entry_id", "hash", "signature", "signed_at"};
static const char *const event_cols[] = {"id", "tenant_id", "device_id", "seq", "at", "received_at", "kind",
					 "door_id", "person_id", "credential_id", "result", "reason", "details"};

static int status_section(struct ctx *x)
{
	char sql[600];
	size_t n = 0;
	int first = 1;

	if (cols_allowed(x, status_cols, 8) < 0)
		return -1;
	if ((x->ix[0] = wire(x, "id")) < 0)
		return fail(x, "terminal status without ids%s", "");
	n += (size_t)snprintf(sql + n, sizeof sql - n, "UPDATE devices SET ");
	for (int i = 0; i < x->r.ncols; i++)
		if (i != x->ix[0]) {
			n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\" = ?%d", first ? "" : ", ", x->r.cols[i],
					      i + 1);
			first = 0;
		}
	if (first)
		return fail(x, "terminal status without values%s", "");
	/* Only this site's terminals: its status of another site's is refused by the WHERE. */
	snprintf(sql + n, sizeof sql - n, " WHERE id = ?%d AND tenant_id = ?%d AND site_id = ?%d", x->ix[0] + 1,
		 x->r.ncols + 1, x->r.ncols + 2);
	return prepare(x, 0, sql);
}

static int status_row(struct ctx *x, const struct citem *it)
{
	for (int i = 0; i < x->r.ncols; i++)
		cvalue_bind(x->st[0], i + 1, &it->v[i]);
	sqlite3_bind_int64(x->st[0], x->r.ncols + 1, x->p->tenant);
	sqlite3_bind_int64(x->st[0], x->r.ncols + 2, x->p->site);
	if (step_done(x, x->st[0]) < 0)
		return -1;
	if (sqlite3_changes(db_get()))
		x->res->rows++;
	else
		x->res->skipped++;
	return 0;
}

/* audit_log / audit_anchors rows into the per-site copies. */
static int copy_section(struct ctx *x, const char *const *cols, int n, const char *copy)
{
	char sql[600];
	size_t k = 0;

	if (cols_allowed(x, cols, n) < 0)
		return -1;
	if (x->r.ncols != n)
		return fail(x, "the rows of %s lack columns", x->r.table);
	k += (size_t)snprintf(sql + k, sizeof sql - k, "INSERT OR IGNORE INTO %s (pairing_id", copy);
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(sql + k, sizeof sql - k, ", \"%s\"", x->r.cols[i]);
	k += (size_t)snprintf(sql + k, sizeof sql - k, ") VALUES (?%d", n + 1);
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(sql + k, sizeof sql - k, ", ?%d", i + 1);
	snprintf(sql + k, sizeof sql - k, ")");
	if (prepare(x, 0, sql) < 0)
		return -1;
	x->ix[0] = wire(x, "kind");
	x->ix[1] = wire(x, "entry_id");
	/* The site's retention cut its oldest entries: the copy follows, so it
	 * verifies from the same cut. */
	return strcmp(copy, "site_audit_anchors") == 0
		       ? prepare(x, 1, "DELETE FROM site_audit_log WHERE pairing_id = ?1 AND id <= ?2")
		       : 0;
}

static int copy_row(struct ctx *x, const struct citem *it)
{
	for (int i = 0; i < x->r.ncols; i++)
		cvalue_bind(x->st[0], i + 1, &it->v[i]);
	sqlite3_bind_int64(x->st[0], x->r.ncols + 1, x->p->pairing);
	if (step_done(x, x->st[0]) < 0)
		return -1;
	x->res->rows += sqlite3_changes(db_get()) > 0;
	if (x->st[1] && x->ix[0] >= 0 && it->v[x->ix[0]].type == SQLITE_TEXT && it->v[x->ix[0]].n == 3 &&
	    memcmp(it->v[x->ix[0]].p, "cut", 3) == 0) {
		sqlite3_bind_int64(x->st[1], 1, x->p->pairing);
		sqlite3_bind_int64(x->st[1], 2, int_at(it, x->ix[1]));
		return step_done(x, x->st[1]);
	}
	return 0;
}

static int events_section(struct ctx *x)
{
	if (cols_allowed(x, event_cols, 13) < 0)
		return -1;
	for (int i = 0; i < 13; i++)
		if ((x->ix[i] = wire(x, event_cols[i])) < 0 && i < 7)
			return fail(x, "events without %s", event_cols[i]);
	if (prepare(x, 0, "INSERT OR IGNORE INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id, "
			  "person_id, credential_id, result, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") < 0)
		return -1;
	return prepare(x, 1, "UPDATE events SET details = ? WHERE id = ?");
}

/* The site sealed the details bound to its own row id; here the event has
 * another id, so they are opened and sealed again under the same key (the
 * person's, or the tenant's). 1 done, 0 unreadable (the person was erased
 * meanwhile: their key is gone here too), -1 error. */
static int reseal_details(struct ctx *x, const struct cvalue *v, int64_t site_row, int64_t row, int64_t person,
			  unsigned char **out, size_t *outlen)
{
	struct vault_ref from = {x->p->tenant, "events", "details", site_row}, to = {x->p->tenant, "events", "details", row};
	unsigned char *plain;
	size_t len;
	int rc = vault_open_field(&from, v->p, v->n, &plain, &len);

	if (rc != VAULT_OK)
		return rc == VAULT_E_DB || rc == VAULT_E_NOMEM ? -1 : 0;
	rc = v->n > 1 && v->p[1] == 'P' && person > 0 ? vault_seal_person(&to, person, plain, len, out, outlen)
						      : vault_seal(&to, plain, len, out, outlen);
	vault_free(plain, len);
	return rc == VAULT_OK ? 1 : rc == VAULT_E_SHREDDED ? 0 : -1;
}

static int event_row(struct ctx *x, const struct citem *it)
{
	static const int binds[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	const struct cvalue *details = x->ix[12] >= 0 ? &it->v[x->ix[12]] : NULL;
	long long keep;
	int64_t row;
	int rc;

	if (int_at(it, x->ix[1]) != x->p->tenant)
		return fail(x, "an event of another tenant than the pairing's%s", "");
	/* As from a terminal: an event already past its retention is not kept. */
	keep = cfg_int(details && details->type == SQLITE_BLOB ? CFG_RETENTION_EVENTS_PERSONAL
							      : CFG_RETENTION_EVENTS_SYSTEM);
	if (int_at(it, x->ix[4]) < x->now_ms - keep) {
		x->res->skipped++;
		return 0;
	}
	for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
		int w = x->ix[binds[i]];
		if (w >= 0)
			cvalue_bind(x->st[0], (int)i + 1, &it->v[w]);
		else
			sqlite3_bind_null(x->st[0], (int)i + 1);
	}
	if (step_done(x, x->st[0]) < 0)
		return -1;
	if (sqlite3_changes(db_get()) == 0)
		return 0; /* the same (terminal, seq) arrived before */
	row = sqlite3_last_insert_rowid(db_get());
	x->res->rows++;
	if (details && details->type == SQLITE_BLOB) {
		unsigned char *sealed = NULL;
		size_t slen = 0;
		rc = reseal_details(x, details, int_at(it, x->ix[0]), row, int_at(it, x->ix[8]), &sealed, &slen);
		if (rc < 0)
			return fail(x, "cannot seal an event's details%s", "");
		if (rc == 0) {
			x->res->unreadable++;
			return 0;
		}
		sqlite3_bind_blob(x->st[1], 1, sealed, (int)slen, free);
		sqlite3_bind_int64(x->st[1], 2, row);
		return step_done(x, x->st[1]);
	}
	return 0;
}

/* --- dispatch ---------------------------------------------------------------------------- */

static int stream_is_new(const struct ctx *x, const char *stream)
{
	const char *const *recv = sync_streams_received(x->p->role);

	for (int i = 0; recv[i]; i++)
		if (strcmp(recv[i], stream) == 0)
			return x->is_new[i];
	return 0;
}

static int begin_section(struct ctx *x)
{
	const char *table = x->r.table;
	const char *stream = sync_stream_of_table(x->p->role == SYNC_SITE ? 'C' : 'S', table);

	end_section(x);
	if (!stream)
		return fail(x, "the changeset carries table %s, which this appliance does not take from its peer", table);
	if (!stream_is_new(x, stream)) {
		x->kind = S_SKIP;
		return 0;
	}
	if (x->p->role == SYNC_SITE) {
		if (strcmp(table, "tenant_keys") == 0)
			return x->kind = S_TKEYS, keys_section(x, tkey_cols, 8);
		if (strcmp(table, "person_keys") == 0)
			return x->kind = S_PKEYS, keys_section(x, pkey_cols, 6);
		if ((x->t = sync_table_find(table)))
			return x->kind = S_TABLE, table_section(x);
		x->t = sync_table_of_child(table);
		x->c = x->t->child;
		return x->kind = S_CHILD, child_section(x);
	}
	if (strcmp(table, "device_status") == 0)
		return x->kind = S_STATUS, status_section(x);
	if (strcmp(table, "audit_log") == 0)
		return x->kind = S_AUDIT, copy_section(x, audit_cols, 14, "site_audit_log");
	if (strcmp(table, "audit_anchors") == 0)
		return x->kind = S_ANCHORS, copy_section(x, anchor_cols, 6, "site_audit_anchors");
	return x->kind = S_EVENTS, events_section(x);
}

static int item(struct ctx *x, const struct citem *it)
{
	if (it->kind == 'S')
		return begin_section(x);
	if (x->kind == S_SKIP)
		return 0;
	switch (it->kind) {
	case 'U':
		switch (x->kind) {
		case S_TABLE: return table_row(x, it);
		case S_CHILD: return child_row(x, it);
		case S_TKEYS: return tenant_key_row(x, it);
		case S_PKEYS: return person_key_row(x, it);
		case S_STATUS: return status_row(x, it);
		case S_AUDIT:
		case S_ANCHORS: return copy_row(x, it);
		case S_EVENTS: return event_row(x, it);
		default: break;
		}
		break;
	case 'D':
		if (x->kind == S_TABLE)
			return table_delete(x, it->id);
		if (x->kind == S_PKEYS)
			return person_key_gone(x, it->id);
		break;
	case 'R':
		if (x->kind == S_CHILD)
			return child_replace(x, it->id);
		break;
	}
	return fail(x, "an item the section of %s cannot have", x->r.table);
}

int sync_rows_apply(const struct sync_peer *p, const unsigned char *body, size_t len, const int *is_new,
		    struct sync_result *res, char *err, size_t errlen)
{
	struct ctx x;
	struct citem *it = malloc(sizeof *it);
	struct timespec ts;
	int rc;

	memset(&x, 0, sizeof x);
	if (!it) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	x.p = p;
	x.res = res;
	x.err = err;
	x.errlen = errlen;
	x.is_new = is_new;
	x.now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	cbody_reader_init(&x.r, body, len);
	while ((rc = cbody_next(&x.r, it, err, errlen)) == 1)
		if (item(&x, it) < 0) {
			rc = -1;
			break;
		}
	end_section(&x);
	free(it);
	return rc;
}
