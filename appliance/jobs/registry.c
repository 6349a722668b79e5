/* Every scheduled job, its default schedule and the config key that may
 * change it. The scheduler reads this table; GET /api/v1/jobs lists it. */
#include "job.h"
#include "jobs.h"

const struct job_def job_defs[] = {
	{"audit-verify", "cron 30 4 * * *", "jobs.audit_verify", job_audit_verify,
	 "Check the whole audit chain and its signatures", 0},
	{"retention", "cron 0 3 * * *", "jobs.retention", job_retention,
	 "Delete events, audit entries and records past their retention period", 0},
	{"backup-full", "cron 0 2 * * 0", "jobs.backup_full", job_backup_full,
	 "Full backup: database and key store, compressed, encrypted, verified", 0},
	{"backup-events", "cron 0 1 * * *", "jobs.backup_events", job_backup_events,
	 "Daily backup of events, audit log, alerts, job runs and the key store", 0},
	{"alert-rules", "every 30s", "jobs.alert_rules", job_alert_rules,
	 "Raise and resolve alerts: terminals offline, disk, certificates, overdue backups, repeated blocks", 1},
	{"alerts-deliver", "every 10s", "jobs.alerts_deliver", job_alerts_deliver,
	 "Send pending alert e-mail and webhooks, retrying failures with back-off", 1},
	{"sync", "every 5m", "jobs.sync", job_sync,
	 "Site sync: send the central this site's events, audit and terminal status, take its changes", 0},
};

const size_t job_defs_count = sizeof job_defs / sizeof job_defs[0];
