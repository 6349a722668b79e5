#include "scheduler.h"

#include "core/isotime.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/schedule.h"
#include "core/vault.h"
#include "domain/alerts.h"
#include "job.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One run of a job, owned by whoever runs it. */
struct job_run {
	const struct job_def *def;
	int64_t id;
	long long started_ms, last_write_ms;
	const cJSON *params;
	cJSON *details;
	char error[512];
	double progress;
	int failed;
	const int *stop;   /* the scheduler's stop flag, or a constant 0 */
	int manual;        /* started by hand (API, command line) */
};

/* A job as the scheduler thread sees it. */
struct slot {
	const struct job_def *def;
	struct schedule sched;
	time_t next;               /* -1: off */
	int running;               /* a thread of ours runs it */
	pthread_t thread;
	struct job_run *run;       /* while running, for live progress */
	int kicked;                /* scheduler_kick while running: run again when done */
	int claimed;               /* the run thread has tried to claim its run */
	int64_t claim_id;          /* what claim() answered: run id, 0 busy, -1 */
	char trigger[12], started_by[64];
	cJSON *params;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	int started, stop;
	struct slot *slots;
	size_t nslots;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static const int never = 0;

#define QUIET_RUNS_KEPT 20000 /* history window for jobs that run every few seconds (job_def.quiet) */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct job_def *job_find(const char *name)
{
	for (size_t i = 0; i < job_defs_count; i++)
		if (strcmp(job_defs[i].name, name) == 0)
			return &job_defs[i];
	return NULL;
}

static const char *schedule_text(const struct job_def *def)
{
	int k = def->config_key ? config_find(def->config_key) : -1;

	return k >= 0 ? cfg_str((enum config_key)k) : def->default_schedule;
}

/* --- the job's side of job.h ---------------------------------------------------------- */

int job_stopping(const struct job_run *run)
{
	return __atomic_load_n(run->stop, __ATOMIC_ACQUIRE);
}

void job_progress(struct job_run *run, double fraction)
{
	long long now = now_ms();

	pthread_mutex_lock(&S.mu);
	run->progress = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
	pthread_mutex_unlock(&S.mu);
	/* For runs in another process (the command line), now and then in the
	 * database too, but never inside the job's own transaction. */
	if (now - run->last_write_ms >= 1000 && sqlite3_get_autocommit(db_get())) {
		sqlite3_stmt *st = db_stmt("UPDATE job_runs SET progress = ? WHERE id = ?");
		if (st) {
			sqlite3_bind_double(st, 1, run->progress);
			sqlite3_bind_int64(st, 2, run->id);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		run->last_write_ms = now;
	}
}

void job_failf(struct job_run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->error, sizeof run->error, fmt, ap);
	va_end(ap);
	run->failed = 1;
}

void job_detail(struct job_run *run, const char *key, long long value)
{
	cJSON_DeleteItemFromObject(run->details, key);
	cJSON_AddNumberToObject(run->details, key, (double)value);
}

int job_manual(const struct job_run *run)
{
	return run->manual;
}

const char *job_param(const struct job_run *run, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(run->params, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- claiming and recording runs --------------------------------------------------------- */

/* A 'running' row whose process is gone (killed, crashed) is stale. */
static void clear_stale(const char *name)
{
	sqlite3_stmt *st = db_stmt("SELECT id, pid FROM job_runs WHERE status = 'running' AND (?1 IS NULL OR name = ?1)");
	int64_t dead[64];
	int n = 0;

	if (!st)
		return;
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(st, 1);
		if (pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH)
			dead[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		st = db_stmt("UPDATE job_runs SET status = 'interrupted', finished_at = ?, "
			     "error = 'the process running it ended' WHERE id = ?");
		sqlite3_bind_int64(st, 1, now_ms());
		sqlite3_bind_int64(st, 2, dead[i]);
		sqlite3_step(st);
		sqlite3_reset(st);
		st = db_stmt("UPDATE jobs SET last_status = 'interrupted', last_error = 'the process running it ended' "
			     "WHERE last_run_id = ?");
		sqlite3_bind_int64(st, 1, dead[i]);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
}

/* Claim a run in the database. Returns the run id, 0 if the job is running
 * already (here or in another process), -1 on error. */
static int64_t claim(const struct job_def *def, const char *trigger, const char *started_by)
{
	sqlite3_stmt *st;
	int64_t id = -1;
	int busy;

	if (db_begin() < 0)
		return -1;
	clear_stale(def->name);
	st = db_stmt("SELECT count(*) FROM job_runs WHERE name = ? AND status = 'running'");
	sqlite3_bind_text(st, 1, def->name, -1, SQLITE_STATIC);
	busy = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
	sqlite3_reset(st);
	if (busy) {
		db_rollback();
		return 0;
	}
	st = db_stmt("INSERT INTO job_runs (name, trigger, started_by, pid, started_at, status) "
		     "VALUES (?, ?, ?, ?, ?, 'running')");
	sqlite3_bind_text(st, 1, def->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, trigger, -1, SQLITE_STATIC);
	if (started_by && *started_by)
		sqlite3_bind_text(st, 3, started_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, getpid());
	sqlite3_bind_int64(st, 5, now_ms());
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(db_get());
	sqlite3_reset(st);
	/* The row may not exist yet when the command line runs a job before
	 * the service ever started. */
	st = db_stmt("INSERT INTO jobs (name, schedule, last_run_id, last_started_at, last_status) "
		     "VALUES (?3, ?4, ?1, ?2, 'running') ON CONFLICT (name) DO UPDATE SET last_run_id = ?1, "
		     "last_started_at = ?2, last_status = 'running', last_error = NULL");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms() / 1000);
	sqlite3_bind_text(st, 3, def->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, schedule_text(def), -1, SQLITE_STATIC);
	if (id < 0 || sqlite3_step(st) != SQLITE_DONE || db_commit() < 0) {
		sqlite3_reset(st);
		db_rollback();
		return -1;
	}
	sqlite3_reset(st);
	return id;
}

static void record(struct job_run *run, const char *status)
{
	long long end = now_ms(), ms = end - run->started_ms;
	char *details = cJSON_PrintUnformatted(run->details);
	sqlite3_stmt *st;

	if (db_begin() < 0) {
		cJSON_free(details);
		log_err("jobs: %s: cannot record the end of run %lld", run->def->name, (long long)run->id);
		return;
	}
	st = db_stmt("UPDATE job_runs SET status = ?, finished_at = ?, duration_ms = ?, error = ?, details = ?, "
		     "progress = ? WHERE id = ?");
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, end);
	sqlite3_bind_int64(st, 3, ms);
	if (run->error[0])
		sqlite3_bind_text(st, 4, run->error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, details ? details : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 6, strcmp(status, "ok") == 0 ? 1.0 : run->progress);
	sqlite3_bind_int64(st, 7, run->id);
	sqlite3_step(st);
	sqlite3_reset(st);
	st = db_stmt("UPDATE jobs SET last_finished_at = ?1, last_status = ?2, last_duration_ms = ?3, last_error = ?4, "
		     "last_ok_at = CASE WHEN ?2 = 'ok' THEN ?1 ELSE last_ok_at END WHERE name = ?5");
	sqlite3_bind_int64(st, 1, end / 1000);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ms);
	if (run->error[0])
		sqlite3_bind_text(st, 4, run->error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, run->def->name, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_reset(st);
	if (run->def->quiet) {
		/* A job that runs every few seconds would add thousands of rows a
		 * day: keep only its runs among the last QUIET_RUNS_KEPT runs of
		 * any job (run ids are shared), a day or more of history. */
		st = db_stmt("DELETE FROM job_runs WHERE name = ? AND id <= ?");
		sqlite3_bind_text(st, 1, run->def->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, run->id - QUIET_RUNS_KEPT);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (strcmp(status, "failed") == 0) {
		/* Trouble must be heard: every failed run raises an alert. */
		char subject[700];
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "job", run->def->name);
		cJSON_AddNumberToObject(d, "run_id", (double)run->id);
		cJSON_AddStringToObject(d, "error", run->error);
		snprintf(subject, sizeof subject, "Job %s failed: %s", run->def->name, run->error);
		alert_raise("job.failed", "critical", 0, subject, d);
		cJSON_Delete(d);
	}
	if (db_commit() < 0)
		db_rollback();
	cJSON_free(details);
	if (strcmp(status, "failed") == 0)
		log_err("jobs: %s failed after %lld ms: %s", run->def->name, ms, run->error);
	else if (run->def->quiet && strcmp(status, "ok") == 0)
		log_debug("jobs: %s done in %lld ms", run->def->name, ms);
	else
		log_info("jobs: %s %s in %lld ms", run->def->name, strcmp(status, "ok") == 0 ? "done" : status, ms);
}

/* Run a claimed job to its end in this thread and record how it went. */
static int execute(struct job_run *run)
{
	int rc;

	run->started_ms = now_ms();
	if (run->def->quiet)
		log_debug("jobs: %s started (run %lld)", run->def->name, (long long)run->id);
	else
		log_info("jobs: %s started (run %lld)", run->def->name, (long long)run->id);
	rc = run->def->run(run);
	if (rc < 0 && !run->error[0])
		snprintf(run->error, sizeof run->error, "failed without saying why");
	if (!sqlite3_get_autocommit(db_get())) {
		/* A job must not leave a transaction open; its work is undone. */
		db_rollback();
		if (rc == 0) {
			rc = -1;
			snprintf(run->error, sizeof run->error, "left a transaction open (rolled back)");
		}
	}
	record(run, rc < 0 || run->failed ? "failed" : job_stopping(run) ? "interrupted" : "ok");
	return rc < 0 || run->failed ? -1 : 0;
}

/* --- threads ---------------------------------------------------------------------------- */

static void *run_thread(void *arg)
{
	struct slot *sl = arg;
	struct job_run run = {.def = sl->def, .stop = &S.stop, .params = sl->params,
			      .manual = strcmp(sl->trigger, "manual") == 0};

	run.details = cJSON_CreateObject();
	run.id = claim(sl->def, sl->trigger, sl->started_by);
	pthread_mutex_lock(&S.mu);
	sl->claimed = 1;
	sl->claim_id = run.id;
	if (run.id > 0)
		sl->run = &run;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	if (run.id > 0) {
		execute(&run);
	} else if (run.id == 0) {
		log_notice("jobs: %s is running elsewhere; this run is skipped", sl->def->name);
	} else {
		log_err("jobs: %s: cannot record a new run", sl->def->name);
	}
	pthread_mutex_lock(&S.mu);
	sl->run = NULL;
	sl->running = 0;
	if (sl->kicked) {
		/* Work arrived while this run was past the point of seeing it. */
		sl->kicked = 0;
		sl->next = time(NULL);
	}
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	cJSON_Delete(run.details);
	vault_thread_done();
	db_thread_done();
	return NULL;
}

/* Start a slot's job on a new thread (S.mu held). 0, 1 running, -1. */
static int launch(struct slot *sl, const char *trigger, const char *started_by, const cJSON *params)
{
	if (sl->running)
		return 1;
	if (sl->thread && pthread_join(sl->thread, NULL) == 0)
		sl->thread = 0;
	cJSON_Delete(sl->params);
	sl->params = params ? cJSON_Duplicate(params, 1) : NULL;
	snprintf(sl->trigger, sizeof sl->trigger, "%s", trigger);
	snprintf(sl->started_by, sizeof sl->started_by, "%s", started_by ? started_by : "");
	sl->running = 1;
	sl->claimed = 0;
	if (pthread_create(&sl->thread, NULL, run_thread, sl) != 0) {
		sl->running = 0;
		sl->thread = 0;
		return -1;
	}
	return 0;
}

static void save_next(const struct slot *sl)
{
	sqlite3_stmt *st = db_stmt("UPDATE jobs SET next_run_at = ? WHERE name = ?");

	if (!st)
		return;
	if (sl->next >= 0)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)sl->next);
	sqlite3_bind_text(st, 2, sl->def->name, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_reset(st);
}

static void *scheduler_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.mu);
	while (!S.stop) {
		time_t now = time(NULL);
		for (size_t i = 0; i < S.nslots; i++) {
			struct slot *sl = &S.slots[i];
			if (sl->next < 0 || sl->next > now)
				continue;
			/* A run still going at its next time is not started twice;
			 * the next time is simply the one after. */
			if (launch(sl, "schedule", NULL, NULL) < 0)
				log_err("jobs: cannot start %s", sl->def->name);
			sl->next = schedule_next(&sl->sched, now);
			pthread_mutex_unlock(&S.mu);
			save_next(sl);
			pthread_mutex_lock(&S.mu);
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&S.cond, &S.mu, &until);
	}
	pthread_mutex_unlock(&S.mu);
	vault_thread_done();
	db_thread_done();
	return NULL;
}

/* --- start and stop -------------------------------------------------------------------- */

/* Make the jobs rows match the registry and configuration; note which jobs
 * missed their time while the appliance was off. */
static int sync_rows(int *missed, char *err, size_t errlen)
{
	time_t now = time(NULL);

	if (db_begin() < 0) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	clear_stale(NULL);
	for (size_t i = 0; i < S.nslots; i++) {
		struct slot *sl = &S.slots[i];
		const char *text = schedule_text(sl->def);
		sqlite3_stmt *st = db_stmt("SELECT next_run_at, schedule FROM jobs WHERE name = ?");
		long long prev = -1;
		int have = 0, same = 0;

		sqlite3_bind_text(st, 1, sl->def->name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			have = 1;
			if (sqlite3_column_type(st, 0) != SQLITE_NULL)
				prev = sqlite3_column_int64(st, 0);
			same = strcmp((const char *)sqlite3_column_text(st, 1), text) == 0;
		}
		sqlite3_reset(st);
		missed[i] = have && same && prev >= 0 && prev <= now && sl->sched.kind != SCHED_OFF;
		sl->next = schedule_next(&sl->sched, now);
		st = db_stmt("INSERT INTO jobs (name, schedule, enabled, next_run_at) VALUES (?1, ?2, ?3, ?4) "
			     "ON CONFLICT (name) DO UPDATE SET schedule = ?2, enabled = ?3, next_run_at = ?4");
		sqlite3_bind_text(st, 1, sl->def->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, sl->sched.kind != SCHED_OFF);
		if (sl->next >= 0)
			sqlite3_bind_int64(st, 4, (sqlite3_int64)sl->next);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_reset(st);
			db_rollback();
			snprintf(err, errlen, "cannot record the job %s", sl->def->name);
			return -1;
		}
		sqlite3_reset(st);
	}
	return db_commit();
}

int scheduler_start(char *err, size_t errlen)
{
	int *missed;

	S.slots = calloc(job_defs_count ? job_defs_count : 1, sizeof *S.slots);
	missed = calloc(job_defs_count ? job_defs_count : 1, sizeof *missed);
	if (!S.slots || !missed) {
		free(missed);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	S.nslots = job_defs_count;
	for (size_t i = 0; i < S.nslots; i++) {
		char why[200];
		S.slots[i].def = &job_defs[i];
		if (schedule_parse(schedule_text(&job_defs[i]), &S.slots[i].sched, why, sizeof why) < 0) {
			snprintf(err, errlen, "job %s: %s", job_defs[i].name, why);
			free(missed);
			return -1;
		}
	}
	if (sync_rows(missed, err, errlen) < 0) {
		free(missed);
		return -1;
	}
	S.stop = 0;
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; i < S.nslots; i++)
		if (missed[i]) {
			log_notice("jobs: %s missed its time while the appliance was off; running it now", job_defs[i].name);
			launch(&S.slots[i], "catch-up", NULL, NULL);
		}
	pthread_mutex_unlock(&S.mu);
	free(missed);
	if (pthread_create(&S.thread, NULL, scheduler_thread, NULL) != 0) {
		snprintf(err, errlen, "cannot start the scheduler thread");
		return -1;
	}
	S.started = 1;
	return 0;
}

void scheduler_stop(void)
{
	if (!S.started)
		return;
	pthread_mutex_lock(&S.mu);
	__atomic_store_n(&S.stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&S.cond);
	for (size_t i = 0; i < S.nslots; i++)
		if (S.slots[i].running)
			log_notice("jobs: waiting for %s to reach a safe point", S.slots[i].def->name);
	pthread_mutex_unlock(&S.mu);
	pthread_join(S.thread, NULL);
	for (size_t i = 0; i < S.nslots; i++) {
		if (S.slots[i].thread)
			pthread_join(S.slots[i].thread, NULL);
		cJSON_Delete(S.slots[i].params);
	}
	free(S.slots);
	S.slots = NULL;
	S.nslots = 0;
	S.started = 0;
}

int scheduler_run_now(const char *name, const char *started_by, const cJSON *params, int64_t *run_id)
{
	int rc = -1;

	*run_id = 0;
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; S.started && !S.stop && i < S.nslots; i++)
		if (strcmp(S.slots[i].def->name, name) == 0) {
			rc = launch(&S.slots[i], "manual", started_by, params);
			/* Wait for the claim, so the caller can name the run. */
			while (rc == 0 && !S.slots[i].claimed)
				pthread_cond_wait(&S.cond, &S.mu);
			if (rc == 0) {
				*run_id = S.slots[i].claim_id;
				rc = *run_id > 0 ? 0 : *run_id == 0 ? 1 : -2;
			}
			break;
		}
	pthread_mutex_unlock(&S.mu);
	return rc;
}

int job_run_inline(const char *name, const char *started_by, const cJSON *params, char *err, size_t errlen)
{
	const struct job_def *def = job_find(name);
	struct job_run run = {.def = def, .stop = &never, .params = params, .manual = 1};
	int rc;

	if (!def) {
		snprintf(err, errlen, "no job named '%s' (see gatehouse jobs list)", name);
		return -1;
	}
	run.id = claim(def, "manual", started_by);
	if (run.id == 0)
		return 1;
	if (run.id < 0) {
		snprintf(err, errlen, "cannot record the run (database busy?)");
		return -1;
	}
	run.details = cJSON_CreateObject();
	rc = execute(&run);
	if (rc < 0)
		snprintf(err, errlen, "%s", run.error);
	cJSON_Delete(run.details);
	return rc;
}

/* --- views ------------------------------------------------------------------------------ */

static void add_text(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, col));
}

cJSON *scheduler_jobs_json(void)
{
	sqlite3_stmt *st = db_stmt("SELECT name, schedule, enabled, next_run_at, last_run_id, last_started_at, "
				   "last_finished_at, last_status, last_duration_ms, last_error, last_ok_at FROM jobs "
				   "ORDER BY name");
	cJSON *items = cJSON_CreateArray();

	if (!st)
		return items;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const struct job_def *def = job_find(name);
		cJSON *o;
		if (!def)
			continue; /* a job of an older version */
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "summary", def->summary);
		add_text(o, "schedule", st, 1);
		cJSON_AddBoolToObject(o, "enabled", sqlite3_column_int(st, 2));
		json_add_utc_column(o, "next_run_at", st, 3, 0);
		if (sqlite3_column_type(st, 4) == SQLITE_NULL)
			cJSON_AddNullToObject(o, "last_run_id");
		else
			cJSON_AddNumberToObject(o, "last_run_id", (double)sqlite3_column_int64(st, 4));
		json_add_utc_column(o, "last_started_at", st, 5, 0);
		json_add_utc_column(o, "last_finished_at", st, 6, 0);
		add_text(o, "last_status", st, 7);
		if (sqlite3_column_type(st, 8) == SQLITE_NULL)
			cJSON_AddNullToObject(o, "last_duration_ms");
		else
			cJSON_AddNumberToObject(o, "last_duration_ms", (double)sqlite3_column_int64(st, 8));
		add_text(o, "last_error", st, 9);
		json_add_utc_column(o, "last_ok_at", st, 10, 0);
		pthread_mutex_lock(&S.mu);
		for (size_t i = 0; i < S.nslots; i++)
			if (S.slots[i].def == def) {
				cJSON_AddBoolToObject(o, "running", S.slots[i].running);
				if (S.slots[i].run)
					cJSON_AddNumberToObject(o, "progress", S.slots[i].run->progress);
			}
		pthread_mutex_unlock(&S.mu);
		cJSON_AddItemToArray(items, o);
	}
	sqlite3_reset(st);
	return items;
}

int scheduler_runs_json(const char *name, int64_t cursor, int limit, cJSON *out, int64_t *next)
{
	sqlite3_stmt *st = db_stmt("SELECT id, trigger, started_by, started_at, finished_at, status, progress, "
				   "duration_ms, error, details FROM job_runs WHERE name = ?1 AND (?2 = 0 OR id < ?2) "
				   "ORDER BY id DESC LIMIT ?3");
	int n = 0;
	int64_t last = 0;

	*next = 0;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int(st, 3, limit + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == limit) {
			*next = last;
			break;
		}
		cJSON *o = cJSON_CreateObject();
		last = sqlite3_column_int64(st, 0);
		cJSON_AddNumberToObject(o, "id", (double)last);
		add_text(o, "trigger", st, 1);
		add_text(o, "started_by", st, 2);
		json_add_utc_column(o, "started_at", st, 3, 1);
		json_add_utc_column(o, "finished_at", st, 4, 1);
		add_text(o, "status", st, 5);
		cJSON_AddNumberToObject(o, "progress", sqlite3_column_double(st, 6));
		if (sqlite3_column_type(st, 7) == SQLITE_NULL)
			cJSON_AddNullToObject(o, "duration_ms");
		else
			cJSON_AddNumberToObject(o, "duration_ms", (double)sqlite3_column_int64(st, 7));
		add_text(o, "error", st, 8);
		cJSON *d = cJSON_Parse((const char *)sqlite3_column_text(st, 9));
		cJSON_AddItemToObject(o, "details", d ? d : cJSON_CreateObject());
		cJSON_AddItemToArray(out, o);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

void scheduler_reschedule(void)
{
	time_t now = time(NULL);
	struct {
		const char *name, *text;
		int enabled;
		time_t next;
	} rows[64];
	size_t n = 0;

	/* New times under the lock; the rows after it, so the database is
	 * never waited for while the scheduler thread waits for the lock. */
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; S.started && i < S.nslots && n < sizeof rows / sizeof rows[0]; i++) {
		struct slot *sl = &S.slots[i];
		const char *text = schedule_text(sl->def);
		struct schedule sched;
		char why[200];
		if (schedule_parse(text, &sched, why, sizeof why) < 0) {
			log_err("jobs: %s keeps its schedule: %s", sl->def->name, why); /* checked before: not reached */
			continue;
		}
		sl->sched = sched;
		sl->next = schedule_next(&sl->sched, now);
		rows[n].name = sl->def->name;
		rows[n].text = text;
		rows[n].enabled = sl->sched.kind != SCHED_OFF;
		rows[n++].next = sl->next;
	}
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = db_stmt("UPDATE jobs SET schedule = ?1, enabled = ?2, next_run_at = ?3 WHERE name = ?4");
		if (!st)
			return;
		sqlite3_bind_text(st, 1, rows[i].text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, rows[i].enabled);
		if (rows[i].next >= 0)
			sqlite3_bind_int64(st, 3, (sqlite3_int64)rows[i].next);
		sqlite3_bind_text(st, 4, rows[i].name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_err("jobs: cannot record the new schedule of %s", rows[i].name);
		sqlite3_reset(st);
	}
}

void scheduler_kick(const char *name)
{
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; S.started && i < S.nslots; i++)
		if (strcmp(S.slots[i].def->name, name) == 0) {
			if (S.slots[i].running) {
				S.slots[i].kicked = 1;
			} else {
				S.slots[i].next = time(NULL);
				pthread_cond_broadcast(&S.cond);
			}
		}
	pthread_mutex_unlock(&S.mu);
}
