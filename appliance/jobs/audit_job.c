/* The audit-verify job: check the whole audit chain and every signature,
 * daily. A broken chain is the one thing an auditor must hear about at
 * once, so besides the failed run it raises an alert of its own that names
 * the first bad entry. */
#include "job.h"
#include "jobs.h"

#include "domain/alerts.h"
#include "domain/audit.h"

#include <stdio.h>

int job_audit_verify(struct job_run *run)
{
	struct audit_report r;

	if (audit_verify(NULL, &r) < 0) {
		job_failf(run, "the audit chain could not be read");
		return -1;
	}
	job_detail(run, "entries", r.entries);
	job_detail(run, "anchors", r.anchors);
	job_detail(run, "unsigned_tail", r.unsigned_tail);
	if (!r.ok) {
		char subject[400];
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "first_bad_uid", r.first_bad_uid);
		cJSON_AddNumberToObject(d, "first_bad_id", (double)r.first_bad_id);
		cJSON_AddStringToObject(d, "reason", r.reason);
		snprintf(subject, sizeof subject, "Audit chain broken at entry %s: %s", r.first_bad_uid, r.reason);
		alert_raise("audit.chain_broken", "critical", 0, subject, d);
		cJSON_Delete(d);
		job_failf(run, "entry %s (id %lld): %s", r.first_bad_uid, (long long)r.first_bad_id, r.reason);
		return -1;
	}
	return 0;
}
