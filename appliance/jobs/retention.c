/* The retention job: delete what is past its time, nightly, in bounded
 * batches so the appliance keeps serving.
 *
 *   - per tenant not on legal hold: events naming a person or carrying a
 *     card after retention.events_personal; other events after
 *     retention.events_system;
 *   - the audit log after retention.audit, as a prefix of the chain with a
 *     signed cut (domain/audit.c), never past the oldest entry of a tenant
 *     on legal hold, and never when the chain does not verify (a broken
 *     chain is evidence);
 *   - finished job runs, resolved alerts, finished terminal commands after
 *     retention.events_system; superseded rows of the terminals' change
 *     log (only the newest row of each thing matters to a delta);
 *   - ended or expired sessions, expired or revoked API tokens, at once.
 *
 * Then the WAL is checkpointed and truncated, so no deleted row's
 * ciphertext stays behind in it (secure_delete zeroes freed pages in the
 * database file itself). */
#include "job.h"
#include "jobs.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "domain/audit.h"

#include <stdio.h>
#include <time.h>

struct ctx {
	struct job_run *run;
	int batch;
	long long now_ms;
};

static int stopping(void *arg)
{
	return job_stopping(((struct ctx *)arg)->run);
}

/* Run `sql` (a DELETE of at most ?1 rows chosen by a subquery, with ?2 and
 * ?3 as its parameters) until nothing is left, one transaction a batch.
 * Returns rows deleted, or -1. */
static long long delete_batches(struct ctx *c, const char *sql, long long a, long long b)
{
	long long total = 0;
	int n;

	do {
		sqlite3_stmt *st;
		if (db_begin() < 0)
			return -1;
		st = db_stmt(sql);
		if (!st) {
			db_rollback();
			return -1;
		}
		sqlite3_bind_int(st, 1, c->batch);
		sqlite3_bind_int64(st, 2, a);
		sqlite3_bind_int64(st, 3, b);
		n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db_get()) : -1;
		sqlite3_reset(st);
		if (n < 0 || db_commit() < 0) {
			db_rollback();
			return -1;
		}
		total += n;
	} while (n == c->batch && !job_stopping(c->run));
	return total;
}

static int events(struct ctx *c, long long *held)
{
	long long personal = c->now_ms - cfg_int(CFG_RETENTION_EVENTS_PERSONAL);
	long long system = c->now_ms - cfg_int(CFG_RETENTION_EVENTS_SYSTEM);
	sqlite3_stmt *st = db_stmt("SELECT id, legal_hold FROM tenants ORDER BY id");
	long long tenants[256], n = 0, del_p = 0, del_s = 0, d;

	if (!st)
		return -1;
	while (n < 256 && sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 1)) {
			(*held)++;
			continue;
		}
		tenants[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	for (long long i = 0; i < n && !job_stopping(c->run); i++) {
		d = delete_batches(c, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE tenant_id = ?2 "
				      "AND at < ?3 AND (person_id IS NOT NULL OR details IS NOT NULL) LIMIT ?1)",
				   tenants[i], personal);
		if (d < 0)
			return -1;
		del_p += d;
		d = delete_batches(c, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE tenant_id = ?2 "
				      "AND at < ?3 LIMIT ?1)",
				   tenants[i], system);
		if (d < 0)
			return -1;
		del_s += d;
	}
	job_detail(c->run, "events_personal_deleted", del_p);
	job_detail(c->run, "events_system_deleted", del_s);
	job_detail(c->run, "tenants_on_hold", *held);
	return 0;
}

/* The newest audit entry that may go: older than the period, and older
 * than anything of a tenant on legal hold. 0: none. */
static int64_t audit_upto(struct ctx *c)
{
	sqlite3_stmt *st = db_stmt("SELECT coalesce(max(id), 0) FROM audit_log WHERE at < ?1 AND id < coalesce("
				   "(SELECT min(a.id) FROM audit_log a JOIN tenants t ON t.id = a.tenant_id "
				   "WHERE t.legal_hold = 1), ?2)");
	int64_t upto = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, c->now_ms - cfg_int(CFG_RETENTION_AUDIT));
	sqlite3_bind_int64(st, 2, INT64_MAX);
	if (sqlite3_step(st) == SQLITE_ROW)
		upto = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return upto;
}

static int audit(struct ctx *c)
{
	struct audit_report r;
	int64_t upto = audit_upto(c);
	long long removed;

	if (upto < 0)
		return -1;
	if (upto == 0) {
		job_detail(c->run, "audit_deleted", 0);
		return 0;
	}
	if (audit_verify(NULL, &r) < 0 || !r.ok) {
		job_failf(c->run, "the audit chain does not verify (%s), so it is not cut: a broken chain is evidence",
			  r.ok ? "cannot be read" : r.reason);
		return -1;
	}
	removed = audit_cut(upto, c->batch, stopping, c);
	if (removed < 0)
		return -1;
	job_detail(c->run, "audit_deleted", removed);
	return 0;
}

static int housekeeping(struct ctx *c)
{
	long long system_ms = c->now_ms - cfg_int(CFG_RETENTION_EVENTS_SYSTEM);
	long long now_s = c->now_ms / 1000, idle_s = cfg_int(CFG_SESSION_IDLE_TIMEOUT) / 1000, d;
	static const struct {
		const char *detail, *sql;
		int unit; /* ?2 is 0: the system period's cutoff in ms, 1: now in seconds */
	} steps[] = {
		{"sessions_deleted",
		 "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE ended_at IS NOT NULL OR "
		 "expires_at <= ?2 OR last_seen_at + ?3 <= ?2 LIMIT ?1)", 1},
		{"tokens_deleted",
		 "DELETE FROM api_tokens WHERE id IN (SELECT id FROM api_tokens WHERE revoked_at IS NOT NULL OR "
		 "expires_at <= ?2 LIMIT ?1)", 1},
		{"job_runs_deleted",
		 "DELETE FROM job_runs WHERE id IN (SELECT id FROM job_runs WHERE status != 'running' AND "
		 "started_at < ?2 LIMIT ?1)", 0},
		{"alerts_deleted",
		 "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE resolved_at IS NOT NULL AND "
		 "resolved_at < ?2 / 1000 LIMIT ?1)", 0},
		{"commands_deleted",
		 "DELETE FROM device_commands WHERE id IN (SELECT id FROM device_commands WHERE "
		 "state IN ('done', 'failed', 'expired') AND created_at < ?2 / 1000 LIMIT ?1)", 0},
		/* Only the newest row of each thing matters to a terminal's delta
		 * (it sends each thing as it is now), so older ones can go
		 * whatever their age: the log stays as long as there are things. */
		{"sync_log_deleted",
		 "DELETE FROM sync_log WHERE seq IN (SELECT s.seq FROM sync_log s WHERE ?2 = ?2 AND ?3 = ?3 AND "
		 "EXISTS (SELECT 1 FROM sync_log n WHERE n.tenant_id = s.tenant_id AND n.entity = s.entity AND "
		 "n.entity_id = s.entity_id AND n.seq > s.seq) LIMIT ?1)", 0},
		/* The same for the key log a central's sites sync keys from. */
		{"key_log_deleted",
		 "DELETE FROM ks.key_log WHERE seq IN (SELECT k.seq FROM ks.key_log k WHERE ?2 = ?2 AND ?3 = ?3 AND "
		 "EXISTS (SELECT 1 FROM ks.key_log n WHERE n.tenant_id = k.tenant_id AND n.kind = k.kind AND "
		 "n.key_id = k.key_id AND n.seq > k.seq) LIMIT ?1)", 0},
	};

	for (size_t i = 0; i < sizeof steps / sizeof steps[0] && !job_stopping(c->run); i++) {
		d = delete_batches(c, steps[i].sql, steps[i].unit == 1 ? now_s : system_ms, idle_s);
		if (d < 0) {
			job_failf(c->run, "cannot delete old rows (%s)", steps[i].detail);
			return -1;
		}
		job_detail(c->run, steps[i].detail, d);
	}
	return 0;
}

/* Checkpoint everything and truncate the WAL to nothing. 1 done, 0 not
 * now (a reader held an older snapshot). */
static int wal_truncated(void)
{
	sqlite3_stmt *st;
	int done = 0;

	if (sqlite3_prepare_v2(db_get(), "PRAGMA main.wal_checkpoint(TRUNCATE)", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		done = sqlite3_column_int(st, 0) == 0; /* column 0: 1 when blocked */
	sqlite3_finalize(st);
	return done;
}

int job_retention(struct job_run *run)
{
	struct ctx c = {run, (int)cfg_int(CFG_RETENTION_BATCH), 0};
	long long held = 0;
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	c.now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (events(&c, &held) < 0) {
		job_failf(run, "cannot delete old events");
		return -1;
	}
	job_progress(run, 0.4);
	if (!job_stopping(run) && audit(&c) < 0)
		rc = -1; /* reason set; the rest still runs */
	job_progress(run, 0.7);
	if (!job_stopping(run) && housekeeping(&c) < 0)
		return -1;
	/* Deleted rows leave nothing in the WAL. */
	if (!wal_truncated())
		log_warn("retention: the WAL could not be truncated now (busy readers); it will be next time");
	return rc;
}
