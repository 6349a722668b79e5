/* The backup-full and backup-events jobs: backup_make (backup/backup.h)
 * with the run's stop flag and progress, and its figures recorded. A
 * failure has already raised its "backup.failed" alert with the destination
 * and the reason; failing the run raises "job.failed" as for every job. */
#include "job.h"
#include "jobs.h"

#include "backup/backup.h"

static int stop(void *arg)
{
	return job_stopping(arg);
}

static void progress(void *arg, double f)
{
	job_progress(arg, f);
}

static int run_backup(struct job_run *run, int kind)
{
	struct backup_hooks hooks = {stop, progress, run};
	struct backup_report rep;
	char err[480];
	int rc = backup_make(kind, &hooks, &rep, err, sizeof err);

	job_detail(run, "bytes", (long long)rep.bytes);
	job_detail(run, "database_bytes", (long long)rep.raw_bytes);
	job_detail(run, "rows", rep.rows);
	job_detail(run, "destinations", rep.destinations);
	job_detail(run, "destinations_failed", rep.failed);
	job_detail(run, "pruned", rep.pruned);
	job_detail(run, "snapshot_ms", rep.snapshot_ms);
	job_detail(run, "write_ms", rep.write_ms);
	job_detail(run, "verify_ms", rep.verify_ms);
	if (rc < 0) {
		job_failf(run, "%s", err);
		return -1;
	}
	return 0; /* stopped (rc 1) is recorded "interrupted" by the scheduler */
}

int job_backup_full(struct job_run *run)
{
	return run_backup(run, BFILE_FULL);
}

int job_backup_events(struct job_run *run)
{
	return run_backup(run, BFILE_EVENTS);
}
