/* Every scheduled job, its default schedule and the config key that may
 * change it. The scheduler reads this table; GET /api/v1/jobs lists it. */
#include "job.h"
#include "jobs.h"

const struct job_def job_defs[] = {
	{"audit-verify", "cron 30 4 * * *", "jobs.audit_verify", job_audit_verify,
	 "Check the whole audit chain and its signatures"},
	{"retention", "cron 0 3 * * *", "jobs.retention", job_retention,
	 "Delete events, audit entries and records past their retention period"},
	{"backup-full", "cron 0 2 * * 0", "jobs.backup_full", job_backup_full,
	 "Full backup: database and key store, compressed, encrypted, verified"},
	{"backup-events", "cron 0 1 * * *", "jobs.backup_events", job_backup_events,
	 "Daily backup of events, audit log, alerts, job runs and the key store"},
};

const size_t job_defs_count = sizeof job_defs / sizeof job_defs[0];
