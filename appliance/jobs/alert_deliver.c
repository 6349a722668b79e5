/* The alerts-deliver job: sends the pending deliveries (alert_deliveries)
 * whose time has come, one at a time, outside any transaction (a slow
 * relay never holds the database's write lock), and records each outcome.
 * A failure is retried after 10 s, 30 s, 1 min, 5 min, 15 min, then every
 * hour; after 24 hours the delivery is given up: state failed, its error
 * kept, and a portal alert says that a channel is not getting through.
 *
 * It runs every 10 s (jobs.alerts_deliver) and at once when an alert is
 * raised (scheduler_kick after the commit), and keeps going while
 * deliveries are due, so a burst of alerts is not spread over ticks. */
#include "job.h"
#include "jobs.h"

#include "core/db.h"
#include "core/log.h"
#include "domain/alerts.h"
#include "notify/notify.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BATCH 16
#define MAX_PER_RUN 500
#define GIVE_UP_MS (24LL * 3600 * 1000)

struct due {
	int64_t id, alert;
	char notice[12], channel[24], target[1024];
	int attempts;
	long long created_ms;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait before attempt number n+1, after n failures. */
static long long backoff_ms(int failures)
{
	static const long long steps[] = {10000, 30000, 60000, 300000, 900000};

	return failures >= 1 && failures <= 5 ? steps[failures - 1] : 3600000;
}

static int take_due(struct due *out, int max)
{
	sqlite3_stmt *st = db_stmt("SELECT id, alert_id, notice, channel, target, attempts, created_at FROM alert_deliveries "
				   "WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?");
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_int(st, 2, max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		struct due *d = &out[n++];
		d->id = sqlite3_column_int64(st, 0);
		d->alert = sqlite3_column_int64(st, 1);
		snprintf(d->notice, sizeof d->notice, "%s", sqlite3_column_text(st, 2));
		snprintf(d->channel, sizeof d->channel, "%s", sqlite3_column_text(st, 3));
		snprintf(d->target, sizeof d->target, "%s", sqlite3_column_text(st, 4));
		d->attempts = sqlite3_column_int(st, 5);
		d->created_ms = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	return n;
}

/* Record one attempt; returns 1 when the delivery was given up. */
static int record(const struct due *d, int ok, const char *error)
{
	long long now = now_ms();
	int give_up = !ok && now - d->created_ms >= GIVE_UP_MS;
	sqlite3_stmt *st = db_stmt("UPDATE alert_deliveries SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3, "
				   "last_error = ?4, sent_at = ?5 WHERE id = ?1");

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_text(st, 2, ok ? "sent" : give_up ? "failed" : "pending", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ok || give_up ? now : now + backoff_ms(d->attempts + 1));
	if (!ok)
		sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	if (ok)
		sqlite3_bind_int64(st, 5, now);
	sqlite3_step(st);
	sqlite3_reset(st);
	return give_up;
}

/* Nobody may think a channel works when it has not for a day. */
static void raise_gave_up(const struct due *d, const char *error)
{
	char subject[300], key[40];
	cJSON *det = cJSON_CreateObject();

	snprintf(key, sizeof key, "%s", d->channel);
	snprintf(subject, sizeof subject, "Alert delivery by %s failed for 24 hours: %.200s", d->channel, error);
	cJSON_AddStringToObject(det, "channel", d->channel);
	cJSON_AddNumberToObject(det, "alert_id", (double)d->alert);
	cJSON_AddNumberToObject(det, "delivery_id", (double)d->id);
	cJSON_AddStringToObject(det, "error", error);
	alert_raise_keyed("alert.delivery_failed", key, "warning", 0, subject, det);
	cJSON_Delete(det);
}

static void deliver(struct job_run *run, const struct due *d, long long counts[3])
{
	char err[600] = "", delivery[24];
	cJSON *alert = alert_json_by_id(d->alert);
	long long t0 = now_ms();
	int ok;

	snprintf(delivery, sizeof delivery, "%lld", (long long)d->id);
	if (!alert) {
		snprintf(err, sizeof err, "the alert is gone");
		ok = 0;
	} else {
		ok = notify_send(alert, d->notice, d->channel, d->target, delivery, err, sizeof err) == 0;
	}
	cJSON_Delete(alert);
	if (ok)
		log_info("alerts: alert %lld (%s) sent by %s in %lld ms", (long long)d->alert, d->notice, d->channel,
			 now_ms() - t0);
	else
		log_warn("alerts: alert %lld (%s) by %s failed (attempt %d): %s", (long long)d->alert, d->notice,
			 d->channel, d->attempts + 1, err);
	if (record(d, ok, err)) {
		counts[2]++;
		raise_gave_up(d, err);
	} else {
		counts[ok ? 0 : 1]++;
	}
	(void)run;
}

int job_alerts_deliver(struct job_run *run)
{
	static struct due batch[BATCH];
	long long counts[3] = {0, 0, 0}; /* sent, will retry, given up */
	int total = 0, n;

	while (total < MAX_PER_RUN && !job_stopping(run) && (n = take_due(batch, BATCH)) > 0) {
		for (int i = 0; i < n && !job_stopping(run); i++)
			deliver(run, &batch[i], counts);
		total += n;
	}
	job_detail(run, "sent", counts[0]);
	job_detail(run, "retrying", counts[1]);
	job_detail(run, "given_up", counts[2]);
	return 0;
}
