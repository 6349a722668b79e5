/* The sync job: on a site appliance, one exchange with the central (push,
 * then pull; sync/exchange.h). Elsewhere it has nothing to do.
 *
 * A link that is down is not a failed run: it is what sites without a
 * steady link live with. The run ends ok, the failure is counted in the
 * site's sync status with the time of the next attempt (a back-off that
 * scheduled runs wait out; a run started by hand does not), and the
 * sync.stale alert speaks up once the site has been out of touch for
 * sync.alert_after. A refusal (a revoked pairing, a changeset that does not
 * check) is a failed run: an admin must look at it. */
#include "job.h"
#include "jobs.h"

#include "core/log.h"
#include "sync/exchange.h"
#include "sync/peer.h"
#include "sync/status.h"

#include <stdio.h>

static int stopping(void *arg)
{
	return job_stopping(arg);
}

static void details(struct job_run *run, const struct sync_stats *st)
{
	job_detail(run, "pushed", st->pushed);
	job_detail(run, "pulled", st->pulled);
	job_detail(run, "rows_sent", st->rows_sent);
	job_detail(run, "rows_received", st->rows_received);
	job_detail(run, "bytes_sent", st->bytes_sent);
	job_detail(run, "bytes_received", st->bytes_received);
}

int job_sync(struct job_run *run)
{
	struct sync_peer p;
	struct sync_stats st;
	char err[600];
	long long until;
	int rc;

	if (sync_site_peer(&p) != 0) {
		job_detail(run, "paired", 0);
		return 0;
	}
	if (!job_manual(run) && !sync_site_due(&until)) {
		job_detail(run, "backing_off_until", until);
		sync_stale_rule();
		return 0;
	}
	rc = sync_exchange(&st, stopping, run, err, sizeof err);
	details(run, &st);
	switch (rc) {
	case SYNC_DONE:
		sync_site_record(1, NULL);
		sync_stale_rule();
		return 0;
	case SYNC_STOPPED:
		return 0;
	case SYNC_LINK:
		log_warn("sync: exchange with the central failed, will retry: %s", err);
		sync_site_record(0, err);
		job_detail(run, "link_down", 1);
		sync_stale_rule();
		return 0;
	default:
		log_err("sync: %s", err);
		sync_site_record(0, err);
		sync_stale_rule();
		job_failf(run, "%s", err);
		return -1;
	}
}
