#include "outbox.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "core/vault_sync.h"
#include "cset.h"
#include "tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 500
#define ZLEVEL 6 /* sealed values do not compress; the rest does, and changesets are small */

/* One changeset being built. */
struct build {
	const struct sync_peer *p;
	struct cbody b;
	size_t budget;
	int more;  /* stopped before a stream's end */
	int full;  /* the budget is used: later streams wait */
};

static int over(const struct build *x)
{
	return x->b.len >= x->budget;
}

static long long scalar(const char *sql, int64_t a)
{
	sqlite3_stmt *st = db_stmt(sql);
	long long v = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* --- central: keys -------------------------------------------------------------- */

static const char *const tenant_key_cols[] = {"id", "tenant_id", "purpose", "version", "state", "created_at",
					      "retired_at", "sealed"};
static const char *const person_key_cols[] = {"id", "tenant_id", "person_id", "tenant_key_id", "wrapped",
					      "created_at"};

static int emit_tenant_key(struct cbody *t, const struct sync_peer *p, int64_t id)
{
	struct vault_shared_key k;
	int rc = vault_sync_tenant_key(id, p->tenant, p->peer_box_pk, &k);

	if (rc != VAULT_OK)
		return rc > 0 ? 0 : -1; /* not one a site holds */
	cbody_row(t);
	cbody_int(t, k.id);
	cbody_int(t, k.tenant);
	cbody_text(t, k.purpose);
	cbody_int(t, k.version);
	cbody_text(t, k.state);
	cbody_int(t, k.created_at);
	if (k.retired_at)
		cbody_int(t, k.retired_at);
	else
		cbody_null(t);
	if (k.has_key)
		cbody_blob(t, k.sealed, sizeof k.sealed);
	else
		cbody_null(t);
	sodium_memzero(&k, sizeof k);
	return 0;
}

static int emit_person_key(struct cbody *pk, const struct sync_peer *p, const struct vault_key_change *c, int initial)
{
	struct vault_person_key_row r;
	int rc = vault_sync_person_key_get(c->key_id, p->tenant, &r);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		/* Shredded: the site shreds its copy (named by the person). */
		if (!initial && c->person > 0)
			cbody_delete(pk, c->person);
		return 0;
	}
	cbody_row(pk);
	cbody_int(pk, r.id);
	cbody_int(pk, r.tenant);
	cbody_int(pk, r.person);
	cbody_int(pk, r.tenant_key_id);
	cbody_blob(pk, r.wrapped, sizeof r.wrapped);
	cbody_int(pk, r.created_at);
	return 0;
}

static int keys_stream(struct build *x, int64_t from, int64_t *to)
{
	struct vault_key_change *list = malloc(BATCH * sizeof *list);
	long long pos = from, last;
	int rc = 0;

	if (!list)
		return -1;
	while (!x->full) {
		struct cbody t = {0}, pk = {0};
		int n = vault_sync_key_changes(x->p->tenant, pos, BATCH, list, &last);
		if (n < 0) {
			rc = -1;
			break;
		}
		for (int i = 0; i < n && rc == 0; i++)
			rc = list[i].kind == 'T' ? emit_tenant_key(&t, x->p, list[i].key_id)
						 : emit_person_key(&pk, x->p, &list[i], from == 0);
		if (t.len) {
			cbody_section(&x->b, "tenant_keys", tenant_key_cols, 8);
			cbody_append(&x->b, &t);
		}
		if (pk.len) {
			cbody_section(&x->b, "person_keys", person_key_cols, 6);
			cbody_append(&x->b, &pk);
		}
		sodium_memzero(t.p, t.len);
		cbody_free(&t);
		cbody_free(&pk);
		pos = last;
		if (rc < 0 || n < BATCH)
			break;
		if (over(x))
			x->full = x->more = 1;
	}
	free(list);
	*to = pos;
	return rc;
}

/* --- central: the things it owns ----------------------------------------------------- */

/* Rows of one table being gathered for a batch: the parents, and the
 * children of the parents sent. */
struct pending {
	struct cbody rows, kids;
	sqlite3_stmt *get, *children;
};

static int prepare_pending(const struct sync_table *t, struct pending *pd)
{
	char sql[1024];
	size_t n = 0;

	n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT ");
	for (int i = 0; i < t->ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", i ? ", " : "", t->cols[i]);
	snprintf(sql + n, sizeof sql - n, " FROM \"%s\" WHERE id = ?1 AND tenant_id = ?2", t->table);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &pd->get, NULL) != SQLITE_OK)
		return -1;
	if (t->child && sqlite3_prepare_v2(db_get(), t->child->select_sql, -1, &pd->children, NULL) != SQLITE_OK)
		return -1;
	return 0;
}

static void pending_free(struct pending *pd)
{
	cbody_free(&pd->rows);
	cbody_free(&pd->kids);
	sqlite3_finalize(pd->get);
	sqlite3_finalize(pd->children);
	memset(pd, 0, sizeof *pd);
}

/* One thing as it is now: its row (in scope) with its children, or a delete. */
static int emit_thing(const struct sync_table *t, struct pending *pd, const struct sync_peer *p, int64_t id, int initial)
{
	int rc, in_scope = 0;

	if (!pd->get && prepare_pending(t, pd) < 0)
		return -1;
	sqlite3_bind_int64(pd->get, 1, id);
	sqlite3_bind_int64(pd->get, 2, p->tenant);
	rc = sqlite3_step(pd->get);
	if (rc == SQLITE_ROW) {
		int sc = t->site_col ? sync_col_index(t->cols, t->ncols, t->site_col) : -1;
		in_scope = t->only_site_row ? id == p->site
			   : sc >= 0        ? sqlite3_column_int64(pd->get, sc) == p->site
					    : 1;
		if (in_scope) {
			pd->rows.ncols = t->ncols;
			cbody_row_stmt(&pd->rows, pd->get, 0);
		}
	}
	sqlite3_reset(pd->get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (!in_scope) {
		/* Gone, or moved out of the site's scope: the site forgets it. A
		 * new site has nothing to forget; another site's own row was never
		 * there. */
		if (!initial && !(t->only_site_row && id != p->site))
			cbody_delete(&pd->rows, id);
		return 0;
	}
	if (!t->child)
		return 0;
	cbody_replace(&pd->kids, id);
	pd->kids.ncols = t->child->ncols;
	sqlite3_bind_int64(pd->children, 1, id);
	sqlite3_bind_int64(pd->children, 2, p->site);
	while ((rc = sqlite3_step(pd->children)) == SQLITE_ROW)
		cbody_row_stmt(&pd->kids, pd->children, 0);
	sqlite3_reset(pd->children);
	return rc == SQLITE_DONE ? 0 : -1;
}

static size_t pending_bytes(const struct pending *pd, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += pd[i].rows.len + pd[i].kids.len;
	return total;
}

/* The batch's rows into the changeset, a section per table. */
static void flush_pending(struct build *x, struct pending *pd)
{
	for (size_t i = 0; i < sync_tables_count; i++) {
		const struct sync_table *t = &sync_tables[i];
		if (pd[i].rows.len) {
			cbody_section(&x->b, t->table, t->cols, t->ncols);
			cbody_append(&x->b, &pd[i].rows);
		}
		if (pd[i].kids.len) {
			cbody_section(&x->b, t->child->table, t->child->cols, t->child->ncols);
			cbody_append(&x->b, &pd[i].kids);
		}
		pd[i].rows.len = pd[i].kids.len = 0;
		pd[i].rows.rows = pd[i].kids.rows = pd[i].rows.raw = pd[i].kids.raw = 0;
	}
}

static int changes_stream(struct build *x, int64_t from, int64_t *to)
{
	sqlite3_stmt *st = db_stmt("SELECT seq, entity, entity_id FROM sync_log s WHERE tenant_id = ?1 AND seq > ?2 "
				   "AND entity IN (" SYNC_ENTITIES_SQL ") AND NOT EXISTS (SELECT 1 FROM sync_log n "
				   "WHERE n.tenant_id = s.tenant_id AND n.entity = s.entity AND n.entity_id = s.entity_id "
				   "AND n.seq > s.seq) ORDER BY seq LIMIT ?3");
	struct pending pd[16];
	int64_t pos = from;
	int rc = 0, n = 0, stopped = 0;

	memset(pd, 0, sizeof pd);
	if (!st)
		return -1;
	while (!x->full && rc == 0) {
		n = 0;
		sqlite3_bind_int64(st, 1, x->p->tenant);
		sqlite3_bind_int64(st, 2, pos);
		sqlite3_bind_int(st, 3, BATCH);
		while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
			const struct sync_table *t = sync_table_find((const char *)sqlite3_column_text(st, 1));
			n++;
			pos = sqlite3_column_int64(st, 0);
			if (t)
				rc = emit_thing(t, &pd[t - sync_tables], x->p, sqlite3_column_int64(st, 2), from == 0);
			/* A thing is whole or not there; the changeset may stop after any. */
			if (x->b.len + pending_bytes(pd, sync_tables_count) >= x->budget) {
				stopped = 1;
				break;
			}
		}
		sqlite3_reset(st);
		flush_pending(x, pd);
		if (stopped || (n == BATCH && over(x)))
			x->full = x->more = 1;
		else if (n < BATCH)
			break;
	}
	for (size_t i = 0; i < sync_tables_count; i++)
		pending_free(&pd[i]);
	/* All seen: the stream stands at the log's head (other tenants' and the
	 * terminals' entries are passed over with it). */
	*to = !x->full && rc == 0 ? (int64_t)scalar("SELECT coalesce(max(seq), 0) FROM sync_log WHERE ?1 = ?1", 0) : pos;
	if (*to < pos)
		*to = pos;
	return rc;
}

/* --- site: status, audit, anchors, events ---------------------------------------------- */

static const char *const status_cols[] = {"id", "status", "cert_serial", "cert_not_after", "firmware_version",
					  "online", "last_seen_at", "clock_offset_ms"};
static const char *const audit_cols[] = {"id", "uid", "at", "tenant_id", "actor_type", "actor_id", "source",
					 "action", "target", "outcome", "details", "sealed", "prev_hash", "hash"};
static const char *const anchor_cols[] = {"id", "kind", "entry_id", "hash", "signature", "signed_at"};
static const char *const event_cols[] = {"id", "tenant_id", "device_id", "seq", "at", "received_at", "kind",
					 "door_id", "person_id", "credential_id", "result", "reason", "details"};

static int status_stream(struct build *x, int64_t from, int64_t *to)
{
	sqlite3_stmt *st = db_stmt("SELECT s.seq, d.id, d.status, d.cert_serial, d.cert_not_after, d.firmware_version, "
				   "d.online, d.last_seen_at, d.clock_offset_ms FROM sync_log s "
				   "LEFT JOIN devices d ON d.id = s.entity_id AND d.tenant_id = s.tenant_id "
				   "WHERE s.tenant_id = ?1 AND s.entity = 'device_status' AND s.seq > ?2 "
				   "AND NOT EXISTS (SELECT 1 FROM sync_log n WHERE n.tenant_id = s.tenant_id "
				   "AND n.entity = s.entity AND n.entity_id = s.entity_id AND n.seq > s.seq) "
				   "ORDER BY s.seq LIMIT ?3");
	struct cbody rows = {.ncols = 8};
	int64_t pos = from;
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, x->p->tenant);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int(st, 3, BATCH);
	while (sqlite3_step(st) == SQLITE_ROW) {
		n++;
		pos = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			cbody_row_stmt(&rows, st, 1); /* a terminal deleted since: nothing to say */
	}
	sqlite3_reset(st);
	if (rows.len) {
		cbody_section(&x->b, "device_status", status_cols, 8);
		cbody_append(&x->b, &rows);
	}
	cbody_free(&rows);
	if (n == BATCH)
		x->more = 1; /* a few hundred terminals at a time; the rest next time */
	else
		pos = (int64_t)scalar("SELECT coalesce(max(seq), ?1) FROM sync_log", pos);
	*to = pos;
	return 0;
}

/* Rows of a table by id after from, until the budget: audit entries and
 * events. limit_to: for anchors, the last audit entry sent (an anchor is
 * never ahead of the entries it signs). */
static int id_stream(struct build *x, const char *stmt, const char *table, const char *const *cols, int ncols,
		     int64_t from, int64_t limit_to, int64_t *to)
{
	sqlite3_stmt *st = db_stmt(stmt);
	int64_t pos = from;
	int n = 0, rc, started = 0;

	if (!st)
		return -1;
	while (!x->full) {
		n = 0;
		sqlite3_bind_int64(st, 1, pos);
		sqlite3_bind_int64(st, 2, x->p->tenant);
		sqlite3_bind_int(st, 3, BATCH);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (limit_to >= 0 && sqlite3_column_int64(st, 2) > limit_to) {
				x->more = 1;
				n = -1;
				break;
			}
			if (!started) {
				cbody_section(&x->b, table, cols, ncols);
				started = 1;
			}
			n++;
			pos = sqlite3_column_int64(st, 0);
			cbody_row_stmt(&x->b, st, 0);
			if (over(x)) {
				x->full = x->more = 1;
				break;
			}
		}
		sqlite3_reset(st);
		if (n < BATCH)
			break;
	}
	*to = pos;
	return 0;
}

static int site_streams(struct build *x, const int64_t *from, int64_t *to)
{
	if (status_stream(x, from[0], &to[0]) < 0 ||
	    id_stream(x, "SELECT id, uid, at, tenant_id, actor_type, actor_id, source, action, target, outcome, details, "
			 "sealed, prev_hash, hash FROM audit_log WHERE id > ?1 AND ?2 = ?2 ORDER BY id LIMIT ?3",
		      "audit_log", audit_cols, 14, from[1], -1, &to[1]) < 0)
		return -1;
	to[2] = from[2];
	to[3] = from[3];
	if (!x->full &&
	    id_stream(x, "SELECT id, kind, entry_id, hash, signature, signed_at FROM audit_anchors WHERE id > ?1 "
			 "AND ?2 = ?2 ORDER BY id LIMIT ?3",
		      "audit_anchors", anchor_cols, 6, from[2], to[1], &to[2]) < 0)
		return -1;
	if (!x->full &&
	    id_stream(x, "SELECT id, tenant_id, device_id, seq, at, received_at, kind, door_id, person_id, credential_id, "
			 "result, reason, details FROM events WHERE id > ?1 AND +tenant_id = ?2 ORDER BY id LIMIT ?3",
		      "events", event_cols, 13, from[3], -1, &to[3]) < 0)
		return -1;
	/* Events of other tenants (none on a site) are passed over. */
	if (!x->full && !x->more)
		to[3] = (int64_t)scalar("SELECT coalesce(max(id), ?1) FROM events", to[3]);
	return 0;
}

/* --- the changeset ----------------------------------------------------------------------- */

static int sign_with_vault(void *arg, const unsigned char *msg, size_t len, unsigned char sig[CSET_SIG_BYTES])
{
	(void)arg;
	return vault_sync_sign(msg, len, sig) == VAULT_OK ? 0 : -1;
}

static void fill_header(const struct sync_peer *p, const int64_t *from, const int64_t *to, int more,
			struct cset_header *h)
{
	const char *const *sent = sync_streams_sent(p->role), *const *recv = sync_streams_received(p->role);
	struct timespec ts;

	memset(h, 0, sizeof *h);
	clock_gettime(CLOCK_REALTIME, &ts);
	h->direction = p->role == SYNC_CENTRAL ? 'C' : 'S';
	h->flags = more ? CSET_MORE : 0;
	memcpy(h->sender, p->self_id, 16);
	memcpy(h->receiver, p->peer_id, 16);
	h->pairing = p->pairing;
	h->created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (int i = 0; sent[i]; i++) {
		snprintf(h->streams[i].name, sizeof h->streams[i].name, "%s", sent[i]);
		h->streams[i].from = from[i];
		h->streams[i].to = to[i];
		h->nstreams++;
	}
	for (int i = 0; recv[i]; i++) {
		snprintf(h->acks[i].name, sizeof h->acks[i].name, "%s", recv[i]);
		h->acks[i].to = sync_cursor(p->pairing, recv[i], 0);
		h->nacks++;
	}
}

int sync_build(const struct sync_peer *p, const int64_t *from, size_t budget, int always, struct sync_built *out,
	       char *err, size_t errlen)
{
	struct build x = {.p = p, .budget = budget ? budget : 1};
	struct cset_header h;
	int rc, nothing = 1;

	memset(out, 0, sizeof *out);
	if (db_exec(db_get(), "BEGIN") != SQLITE_OK) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	if (p->role == SYNC_CENTRAL)
		rc = keys_stream(&x, from[0], &out->to[0]) < 0 || changes_stream(&x, from[1], &out->to[1]) < 0 ? -1 : 0;
	else
		rc = site_streams(&x, from, out->to);
	if (rc == 0)
		fill_header(p, from, out->to, x.more, &h);
	db_exec(db_get(), "COMMIT");
	if (rc < 0) {
		snprintf(err, errlen, "cannot read what is pending: %s", sqlite3_errmsg(db_get()));
		cbody_free(&x.b);
		return -1;
	}
	for (int i = 0; i < h.nstreams; i++) {
		out->from[i] = from[i];
		nothing &= out->to[i] == from[i];
	}
	out->more = x.more;
	out->rows = x.b.rows;
	out->raw = x.b.raw;
	if (nothing && x.b.rows == 0 && !always) {
		cbody_free(&x.b);
		return 0;
	}
	rc = cset_seal(&h, &x.b, p->peer_box_pk, ZLEVEL, sign_with_vault, NULL, &out->cs, &out->len, err, errlen);
	cbody_free(&x.b);
	return rc;
}

int sync_pending(const struct sync_peer *p, long long counts[SYNC_NSTREAMS])
{
	const char *const *sent = sync_streams_sent(p->role);
	int64_t c[SYNC_NSTREAMS] = {0};

	for (int i = 0; sent[i]; i++)
		c[i] = sync_cursor(p->pairing, sent[i], 1);
	memset(counts, 0, SYNC_NSTREAMS * sizeof counts[0]);
	if (p->role == SYNC_CENTRAL) {
		counts[0] = vault_sync_key_pending(p->tenant, c[0]);
		sqlite3_stmt *st = db_stmt("SELECT count(*) FROM sync_log s WHERE tenant_id = ?1 AND seq > ?2 AND entity IN ("
					   SYNC_ENTITIES_SQL ") AND NOT EXISTS (SELECT 1 FROM sync_log n WHERE "
					   "n.tenant_id = s.tenant_id AND n.entity = s.entity AND n.entity_id = s.entity_id "
					   "AND n.seq > s.seq)");
		if (!st)
			return -1;
		sqlite3_bind_int64(st, 1, p->tenant);
		sqlite3_bind_int64(st, 2, c[1]);
		counts[1] = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_stmt *st = db_stmt("SELECT (SELECT count(DISTINCT entity_id) FROM sync_log WHERE tenant_id = ?1 "
				   "AND entity = 'device_status' AND seq > ?2), "
				   "(SELECT count(*) FROM audit_log WHERE id > ?3), "
				   "(SELECT count(*) FROM audit_anchors WHERE id > ?4), "
				   "(SELECT count(*) FROM events WHERE +tenant_id = ?1 AND id > ?5)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, p->tenant);
	for (int i = 0; i < 4; i++)
		sqlite3_bind_int64(st, i + 2, c[i]);
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 4; i++)
			counts[i] = sqlite3_column_int64(st, i);
	sqlite3_reset(st);
	return 0;
}

int64_t sync_log_head(void)
{
	return (int64_t)scalar("SELECT coalesce(max(seq), 0) FROM sync_log WHERE ?1 = ?1", 0);
}
