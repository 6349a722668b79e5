/* Every scheduled job, its default schedule and the config key that may
 * change it. The scheduler reads this table; GET /api/v1/jobs lists it. */
#include "job.h"
#include "jobs.h"

const struct job_def job_defs[] = {
	{"audit-verify", "cron 30 4 * * *", "jobs.audit_verify", job_audit_verify,
	 "Check the whole audit chain and its signatures", 0},
	{"alert-rules", "every 30s", "jobs.alert_rules", job_alert_rules,
	 "Raise and resolve alerts: terminals offline, disk, certificates, overdue backups, repeated blocks", 1},
	{"alerts-deliver", "every 10s", "jobs.alerts_deliver", job_alerts_deliver,
	 "Send pending alert e-mail and webhooks, retrying failures with back-off", 1},
};

const size_t job_defs_count = sizeof job_defs / sizeof job_defs[0];
