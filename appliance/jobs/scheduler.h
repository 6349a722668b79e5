/* scheduler: runs the jobs of jobs/registry.c on their schedules, each on
 * a thread of its own, and by hand (API, command line).
 *
 * The jobs table says when each job runs next and how its last run went;
 * job_runs keeps every run. A run is claimed in the database first, so one
 * job never runs twice at once, even when the command line starts it while
 * the service runs. A run whose process died is marked interrupted. When
 * the appliance was off at a job's time, the job runs once at start. */
#ifndef GH_SCHEDULER_H
#define GH_SCHEDULER_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Sync the jobs table with the registry and the configured schedules, run
 * missed jobs once, and start the scheduler thread. 0 or -1 with err. */
int scheduler_start(char *err, size_t errlen);
/* Ask running jobs to stop at a safe point and wait for them. */
void scheduler_stop(void);

/* Start a job now on its own thread. params: object of strings, or NULL.
 * Returns 0 (*run_id set), 1 when it is running already, -1 when the name is
 * unknown or the scheduler is not running, -2 on a database error. */
int scheduler_run_now(const char *name, const char *started_by, const cJSON *params, int64_t *run_id);

/* Run a scheduled job at the next tick (within a second) instead of at its
 * time, e.g. alert delivery right after an alert is raised. Safe from any
 * thread; when the job is running it runs once more right after (the
 * running one may be past the point of seeing the new work); a no-op when
 * the scheduler is not running. */
void scheduler_kick(const char *name);

/* A job's schedule key changed while running (settings): every job takes
 * its schedule from the configuration again, with its next time and its
 * row. A no-op when the scheduler is not running. */
void scheduler_reschedule(void);

/* Run a job in the calling thread (the command line). 0 ok, 1 already
 * running elsewhere, -1 failed or unknown (err says why). */
int job_run_inline(const char *name, const char *started_by, const cJSON *params, char *err, size_t errlen);

/* For the API: every job with its schedule, next and last run, and the
 * live progress of a running one. */
cJSON *scheduler_jobs_json(void);
/* A job's recent runs, newest first, after cursor (a run id; 0 = newest). */
int scheduler_runs_json(const char *name, int64_t cursor, int limit, cJSON *out, int64_t *next);

/* The job named, or NULL. */
const struct job_def *job_find(const char *name);

#endif
