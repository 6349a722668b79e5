/* jobs: the job functions listed in registry.c, one module each. */
#ifndef GH_JOBS_H
#define GH_JOBS_H

struct job_run;

int job_audit_verify(struct job_run *run);   /* audit_job.c */
int job_retention(struct job_run *run);      /* retention.c */
int job_backup_full(struct job_run *run);    /* backup_job.c */
int job_backup_events(struct job_run *run);  /* backup_job.c */
int job_alert_rules(struct job_run *run);    /* alert_rules.c */
int job_alerts_deliver(struct job_run *run); /* alert_deliver.c */
int job_sync(struct job_run *run);           /* sync_job.c */

#endif
