/* job: the contract between the scheduler (jobs/scheduler.c) and the jobs
 * it runs (backup, retention, audit-verify, alert rules, delivery ...).
 *
 * Every job is a row of the table in jobs/registry.c: a name, a default
 * schedule, the config key that may override it, and a function. The
 * scheduler runs a job on its own thread with its own database connection
 * (db_get() works there), never two runs of one job at once, records each
 * run in job_runs, and raises an alert when a run fails. A job function:
 *   - returns 0 when it did its work, -1 when it failed (after job_failf);
 *   - checks job_stopping() between bounded steps (a batch of deletes, a
 *     chunk of a backup) and, when it is set, stops at the next safe point
 *     and returns 0 (the run is recorded "interrupted");
 *   - reports progress and a few summary numbers for the API.
 *
 * Schedules: "every 30s" / "every 5m" / "every 1h", or "cron M H DOM MON DOW"
 * (five cron fields, local time of the appliance, with *, lists, ranges
 * and steps), or "off". */
#ifndef GH_JOB_H
#define GH_JOB_H

#include <stddef.h>

struct job_run;

typedef int (*job_fn)(struct job_run *run);

struct job_def {
	const char *name;             /* "backup-full", "retention", ... */
	const char *default_schedule; /* see above */
	const char *config_key;       /* e.g. "jobs.backup_full": overrides the schedule; NULL: fixed */
	job_fn run;
	const char *summary;          /* one line for the API and `gatehouse jobs list` */
	int quiet;                    /* runs every few seconds: routine starts and ends logged at debug,
	                               * and only its recent runs kept in job_runs */
};

/* Every job the appliance knows (jobs/registry.c). */
extern const struct job_def job_defs[];
extern const size_t job_defs_count;

/* Shutdown was asked: stop at the next safe point and return 0. */
int job_stopping(const struct job_run *run);
/* Progress, 0.0 .. 1.0, shown by GET /api/v1/jobs while it runs. */
void job_progress(struct job_run *run, double fraction);
/* Why the run failed (recorded in job_runs.error and in the alert). */
void job_failf(struct job_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A summary number recorded with the run: "rows_deleted", "bytes" ... */
void job_detail(struct job_run *run, const char *key, long long value);
/* A parameter of a run started by hand (POST /api/v1/jobs/{name}/run with
 * a JSON object of strings), or NULL. */
const char *job_param(const struct job_run *run, const char *name);
/* 1 when the run was started by hand (API, command line), not by its
 * schedule: a job may skip a wait (a back-off) then. */
int job_manual(const struct job_run *run);

#endif
