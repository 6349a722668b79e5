/* The alert-rules job: the periodic rules over the appliance's state and
 * the jobs rows, every 30 s (jobs.alert_rules). Each rule raises an alert
 * per subject (a terminal, a certificate, a backup job ...) with a dedupe
 * key, so a condition that lasts raises one alert, and resolves it with a
 * reason when the condition is gone. Events that are alerts by themselves
 * (a door forced) are raised as they are stored (domain/events.c), not
 * here.
 *
 * Rules: terminal offline longer than alerts.terminal_offline; free space
 * on the state directory below alerts.disk_min_free; certificates (web
 * server, device CA, device link server, terminals) expiring within
 * alerts.cert_expiry_warning; backup-full / backup-events without success
 * for alerts.backup_overdue / alerts.backup_events_overdue; at least
 * alerts.block_threshold addresses blocked within alerts.block_window;
 * and the resolution of "admin locked out" and "address blocked" alerts
 * once the lock or block is over. */
#include "job.h"
#include "jobs.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "domain/alerts.h"
#include "sync/status.h"

#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

static time_t started; /* the process's first run of this job */

/* Every open alert of kind whose subject no longer qualifies (still(key)
 * is 0) is resolved with why. */
static int resolve_cleared(const char *kind, int (*still)(const char *key), const char *why)
{
	cJSON *keys = alert_open_keys(kind), *k;
	int n = 0;

	if (!keys)
		return -1;
	cJSON_ArrayForEach(k, keys)
		if (!still(k->valuestring) && alert_resolve_key(kind, k->valuestring, why) == 1)
			n++;
	cJSON_Delete(keys);
	return n;
}

static int64_t key_id(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(key, prefix, n) == 0 ? strtoll(key + n, NULL, 10) : 0;
}

/* --- terminals offline ---------------------------------------------------------------- */

/* Offline since the later of its last contact and this process's start:
 * after the appliance was down itself, terminals get their time to come
 * back before they count as offline. */
static int terminals_offline(void)
{
	long long limit = cfg_int(CFG_ALERTS_TERMINAL_OFFLINE) / 1000;
	sqlite3_stmt *st = db_stmt("SELECT id, tenant_id, name, max(coalesce(last_seen_at, 0), ?1) FROM devices "
				   "WHERE status = 'active' AND online = 0 AND last_seen_at IS NOT NULL "
				   "AND max(last_seen_at, ?1) < ?2");
	struct { int64_t id, tenant; char name[201]; long long since; } rows[64];
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)started);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(time(NULL) - limit));
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].id = sqlite3_column_int64(st, 0);
		rows[n].tenant = sqlite3_column_int64(st, 1);
		snprintf(rows[n].name, sizeof rows[n].name, "%s", sqlite3_column_text(st, 2));
		rows[n].since = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		char key[32], subject[300], since[32];
		time_t t = (time_t)rows[i].since;
		struct tm tm;
		cJSON *d = cJSON_CreateObject();
		gmtime_r(&t, &tm);
		strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(key, sizeof key, "device:%lld", (long long)rows[i].id);
		snprintf(subject, sizeof subject, "Terminal %s offline since %s", rows[i].name, since);
		cJSON_AddNumberToObject(d, "device_id", (double)rows[i].id);
		cJSON_AddStringToObject(d, "offline_since", since);
		alert_raise_keyed("device.offline", key, "warning", rows[i].tenant, subject, d);
		cJSON_Delete(d);
	}
	return n;
}

static int device_still_offline(const char *key)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM devices WHERE id = ? AND status = 'active' AND online = 0");
	int rc = 1;

	if (!st)
		return 1;
	sqlite3_bind_int64(st, 1, key_id(key, "device:"));
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return rc;
}

/* --- disk ------------------------------------------------------------------------------ */

static long long free_bytes(void)
{
	struct statvfs sv;

	if (statvfs(state_dir(), &sv) < 0)
		return -1;
	return (long long)sv.f_bavail * (long long)sv.f_frsize;
}

static int disk_low(const char *key)
{
	long long f = free_bytes(), min = cfg_int(CFG_ALERTS_DISK_MIN_FREE);

	(void)key;
	return f >= 0 && min > 0 && f < min;
}

static void disk(void)
{
	long long f = free_bytes();

	if (disk_low("state")) {
		char subject[200];
		cJSON *d = cJSON_CreateObject();
		snprintf(subject, sizeof subject, "Disk space low: %lld MiB free for %s (alerts.disk_min_free is %lld MiB)",
			 f >> 20, state_dir(), cfg_int(CFG_ALERTS_DISK_MIN_FREE) >> 20);
		cJSON_AddNumberToObject(d, "free_bytes", (double)f);
		cJSON_AddNumberToObject(d, "min_free_bytes", (double)cfg_int(CFG_ALERTS_DISK_MIN_FREE));
		cJSON_AddStringToObject(d, "path", state_dir());
		alert_raise_keyed("disk.low", "state", "critical", 0, subject, d);
		cJSON_Delete(d);
	}
	resolve_cleared("disk.low", disk_low, "free space is above alerts.disk_min_free again");
}

/* --- certificates ----------------------------------------------------------------------- */

/* not_after of the first certificate in a PEM text or file; -1 if unreadable. */
static long long not_after(const char *pem, const char *path)
{
	mbedtls_x509_crt crt;
	long long t = -1;

	mbedtls_x509_crt_init(&crt);
	if ((pem ? mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1)
		 : mbedtls_x509_crt_parse_file(&crt, path)) >= 0 && crt.version) {
		struct tm tm = {.tm_year = crt.valid_to.year - 1900, .tm_mon = crt.valid_to.mon - 1,
				.tm_mday = crt.valid_to.day, .tm_hour = crt.valid_to.hour,
				.tm_min = crt.valid_to.min, .tm_sec = crt.valid_to.sec};
		t = (long long)timegm(&tm);
	}
	mbedtls_x509_crt_free(&crt);
	return t;
}

/* Checks one certificate: raises, or resolves a renewed one. */
static void check_cert(const char *key, const char *what, long long expires, int64_t tenant)
{
	long long now = (long long)time(NULL), warn = cfg_int(CFG_ALERTS_CERT_EXPIRY_WARNING) / 1000;

	if (expires < 0)
		return;
	if (expires - now > warn) {
		alert_resolve_key("cert.expiring", key, "the certificate was renewed");
		return;
	}
	char subject[400], when[32];
	time_t t = (time_t)expires;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (expires <= now)
		snprintf(subject, sizeof subject, "Certificate of %s expired on %s", what, when);
	else
		snprintf(subject, sizeof subject, "Certificate of %s expires in %lld days (%s)", what,
			 (expires - now) / 86400, when);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "certificate", what);
	cJSON_AddStringToObject(d, "not_after", when);
	alert_raise_keyed("cert.expiring", key, expires <= now ? "critical" : "warning", tenant, subject, d);
	cJSON_Delete(d);
}

static void certificates(void)
{
	char path[4200];
	sqlite3_stmt *st;

	if (*cfg_str(CFG_WEB_TLS_CERT))
		snprintf(path, sizeof path, "%s", cfg_str(CFG_WEB_TLS_CERT));
	else
		state_path("tls/server.crt", path, sizeof path);
	check_cert("web", "the web server", not_after(NULL, path), 0);
	st = db_stmt("SELECT cert_pem, server_cert_pem FROM device_ca WHERE id = 1");
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		char *ca = strdup((const char *)sqlite3_column_text(st, 0));
		char *srv = strdup((const char *)sqlite3_column_text(st, 1));
		sqlite3_reset(st);
		check_cert("device-ca", "the device CA", ca ? not_after(ca, NULL) : -1, 0);
		check_cert("devlink", "the device link server", srv ? not_after(srv, NULL) : -1, 0);
		free(ca);
		free(srv);
	} else if (st) {
		sqlite3_reset(st);
	}
	/* Terminals: only the ones near expiry, plus resolving renewed ones. */
	st = db_stmt("SELECT id, tenant_id, name, cert_not_after FROM devices WHERE status = 'active' "
		     "AND cert_not_after IS NOT NULL AND cert_not_after < ? LIMIT 200");
	if (!st)
		return;
	struct { int64_t id, tenant; char name[220]; long long t; } rows[200];
	int n = 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(time(NULL) + cfg_int(CFG_ALERTS_CERT_EXPIRY_WARNING) / 1000));
	while (n < 200 && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].id = sqlite3_column_int64(st, 0);
		rows[n].tenant = sqlite3_column_int64(st, 1);
		snprintf(rows[n].name, sizeof rows[n].name, "terminal %s", sqlite3_column_text(st, 2));
		rows[n].t = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < n; i++) {
		char key[40];
		snprintf(key, sizeof key, "device:%lld", (long long)rows[i].id);
		check_cert(key, rows[i].name, rows[i].t, rows[i].tenant);
	}
}

static int device_cert_still_expiring(const char *key)
{
	sqlite3_stmt *st;
	int rc;

	if (!key_id(key, "device:"))
		return 1; /* the appliance's own certificates are checked above */
	st = db_stmt("SELECT 1 FROM devices WHERE id = ? AND status = 'active' AND cert_not_after < ?");
	if (!st)
		return 1;
	sqlite3_bind_int64(st, 1, key_id(key, "device:"));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(time(NULL) + cfg_int(CFG_ALERTS_CERT_EXPIRY_WARNING) / 1000));
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return rc;
}

/* --- backups ------------------------------------------------------------------------------ */

/* The last success of a job, or (never succeeded) its first run; -1 when
 * the job has no row or never ran: nothing can be overdue then. */
static long long backup_reference(const char *job)
{
	sqlite3_stmt *st = db_stmt("SELECT coalesce(j.last_ok_at, (SELECT min(started_at) / 1000 FROM job_runs r "
				   "WHERE r.name = j.name)) FROM jobs j WHERE j.name = ?");
	long long t = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t;
}

static void backup_overdue(const char *job, enum config_key limit_key)
{
	long long ref = backup_reference(job), limit = cfg_int(limit_key) / 1000, now = (long long)time(NULL);

	if (ref < 0)
		return;
	if (now - ref <= limit) {
		alert_resolve_key("backup.overdue", job, "the backup succeeded again");
		return;
	}
	char subject[300];
	cJSON *d = cJSON_CreateObject();
	snprintf(subject, sizeof subject, "Backup overdue: %s has not succeeded for %lld hours", job, (now - ref) / 3600);
	cJSON_AddStringToObject(d, "job", job);
	cJSON_AddNumberToObject(d, "hours_since_success", (double)((now - ref) / 3600));
	alert_raise_keyed("backup.overdue", job, "critical", 0, subject, d);
	cJSON_Delete(d);
}

/* --- abuse ------------------------------------------------------------------------------- */

static long long blocks_in_window(void)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM alerts WHERE kind = 'address_blocked' AND created_at >= ?");
	long long n = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(time(NULL) - cfg_int(CFG_ALERTS_BLOCK_WINDOW) / 1000));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

static int blocks_still_many(const char *key)
{
	(void)key;
	return blocks_in_window() >= cfg_int(CFG_ALERTS_BLOCK_THRESHOLD);
}

static void repeated_blocks(void)
{
	long long n = blocks_in_window();

	if (n >= cfg_int(CFG_ALERTS_BLOCK_THRESHOLD)) {
		char subject[200];
		cJSON *d = cJSON_CreateObject();
		snprintf(subject, sizeof subject, "%lld addresses blocked for abuse within %lld minutes", n,
			 cfg_int(CFG_ALERTS_BLOCK_WINDOW) / 60000);
		cJSON_AddNumberToObject(d, "blocks", (double)n);
		cJSON_AddNumberToObject(d, "window_minutes", (double)(cfg_int(CFG_ALERTS_BLOCK_WINDOW) / 60000));
		alert_raise_keyed("abuse.repeated_blocks", "appliance", "critical", 0, subject, d);
		cJSON_Delete(d);
	}
	resolve_cleared("abuse.repeated_blocks", blocks_still_many, "fewer blocks within alerts.block_window");
}

static int address_still_blocked(const char *key)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM blocked_addresses WHERE addr = ? AND until > unixepoch()");
	int rc;

	if (!st)
		return 1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return rc;
}

static int admin_still_locked(const char *key)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM admins WHERE id = ? AND locked_until > unixepoch()");
	int rc;

	if (!st)
		return 1;
	sqlite3_bind_int64(st, 1, key_id(key, "admin:"));
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return rc;
}

int job_alert_rules(struct job_run *run)
{
	int offline;

	if (!started)
		started = time(NULL);
	offline = terminals_offline();
	resolve_cleared("device.offline", device_still_offline, "the terminal is back online");
	job_progress(run, 0.3);
	disk();
	certificates();
	resolve_cleared("cert.expiring", device_cert_still_expiring, "the terminal has a new certificate");
	job_progress(run, 0.6);
	backup_overdue("backup-full", CFG_ALERTS_BACKUP_OVERDUE);
	backup_overdue("backup-events", CFG_ALERTS_BACKUP_EVENTS_OVERDUE);
	repeated_blocks();
	resolve_cleared("address_blocked", address_still_blocked, "the block ended");
	resolve_cleared("admin_locked", admin_still_locked, "the account is no longer locked");
	/* A site out of touch with its central (sync/status.h). */
	sync_stale_rule();
	if (offline < 0) {
		job_failf(run, "cannot read the terminals");
		return -1;
	}
	job_detail(run, "terminals_offline", offline);
	return 0;
}
