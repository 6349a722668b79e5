/* Every scheduled job, its default schedule and the config key that may
 * change it. The scheduler reads this table; GET /api/v1/jobs lists it. */
#include "job.h"
#include "jobs.h"

const struct job_def job_defs[] = {
	{"audit-verify", "cron 30 4 * * *", "jobs.audit_verify", job_audit_verify,
	 "Check the whole audit chain and its signatures"},
	{"retention", "cron 0 3 * * *", "jobs.retention", job_retention,
	 "Delete events, audit entries and records past their retention period"},
};

const size_t job_defs_count = sizeof job_defs / sizeof job_defs[0];
