/* gatehouse serve: run the appliance until SIGTERM or SIGINT. */
#include "cmd.h"

#include "backup/restore.h"
#include "core/db.h"
#include "core/live.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "core/state.h"
#include "core/version.h"
#include "domain/admins.h"
#include "devlink/ca.h"
#include "devlink/link.h"
#include "domain/audit.h"
#include "jobs/scheduler.h"
#include "notify/notify.h"
#include "sync/apply.h"
#include "tls/certgen.h"
#include "web/routes.h"
#include "web/server.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CERT_VALID_DAYS 825
#define AUDIT_SIGN_INTERVAL_S 30

/* Resolve the web certificate paths: configured, or inside STATE/tls/. */
static void tls_paths(char *cert, char *key, size_t len)
{
	if (*cfg_str(CFG_WEB_TLS_CERT))
		snprintf(cert, len, "%s", cfg_str(CFG_WEB_TLS_CERT));
	else
		state_path("tls/server.crt", cert, len);
	if (*cfg_str(CFG_WEB_TLS_KEY))
		snprintf(key, len, "%s", cfg_str(CFG_WEB_TLS_KEY));
	else
		state_path("tls/server.key", key, len);
}

/* Make the self-signed certificate on first start. Only when both paths are
 * the defaults: an admin's own files that are missing are an error, not
 * something to paper over with a fresh self-signed certificate. */
static int ensure_certificate(const char *cert, const char *key)
{
	char err[600], host[256] = "localhost", names_buf[1024];
	struct certgen_names names = {.count = 0};
	int rc;

	if (*cfg_str(CFG_WEB_TLS_CERT) || *cfg_str(CFG_WEB_TLS_KEY)) {
		if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
			log_err("tls: cannot read %s or %s: %s", cert, key, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (state_mkdir("tls", err, sizeof err) < 0) {
		log_err("state: %s", err);
		return -1;
	}
	gethostname(host, sizeof host - 1);
	snprintf(names_buf, sizeof names_buf, "localhost,%s,127.0.0.1,::1,%s", host,
		 cfg_str(CFG_WEB_NAMES));
	if (certgen_names_add_list(&names, names_buf) < 0) {
		log_err("config: web.names lists too many names (at most 28)");
		return -1;
	}
	rc = certgen_ensure(cert, key, host, &names, CERT_VALID_DAYS, err, sizeof err);
	if (rc < 0) {
		log_err("tls: %s", err);
		return -1;
	}
	if (rc == 1)
		log_notice("tls: created a self-signed certificate for %s in %s", host, cert);
	return 0;
}

/* First start: the system admin "admin" with a one-time password that must
 * be changed at first login. The password is shown on the terminal when
 * there is one, and kept in STATE/bootstrap-password (0600) until it is
 * changed, so that it never goes to the journal. */
static int bootstrap_admin(void)
{
	char password[160], path[4200], text[300], err[600];
	int rc = admin_bootstrap(password, sizeof password);

	if (rc <= 0)
		return rc;
	snprintf(text, sizeof text, "%s\n", password);
	if (state_write_file(state_path("bootstrap-password", path, sizeof path), text, strlen(text), 0600,
			     err, sizeof err) < 0) {
		log_err("admins: %s", err);
		return -1;
	}
	struct admin a;
	char target[32] = "admin";
	if (admin_find("admin", &a, NULL) == 0)
		snprintf(target, sizeof target, "admin:%lld", (long long)a.id);
	struct audit_event ev = {0, "system", "bootstrap", "local", "admin.create", target, "ok", NULL, NULL, 0};
	audit_append(&ev);
	log_notice("admins: created the system admin 'admin'; its one-time password is in %s "
		   "(it must be changed at first login)", path);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\n    first login: user 'admin', one-time password  %s\n\n", password);
	sodium_memzero(password, sizeof password);
	return 0;
}

static void terminal_gone(const char *uid)
{
	devlink_device_changed(uid, NULL);
}

/* The device link: its CA on first start, then the MQTT endpoint. */
static int start_devlink(char *err, size_t errlen)
{
	struct devlink_settings s = {
		.listen = cfg_str(CFG_DEVICES_LISTEN),
		.handshake_timeout_ms = cfg_int(CFG_DEVICES_HANDSHAKE_TIMEOUT),
		.idle_timeout_ms = cfg_int(CFG_DEVICES_IDLE_TIMEOUT),
		.max_packet = (size_t)cfg_int(CFG_DEVICES_MAX_PACKET),
		.max_connections = (unsigned)cfg_int(CFG_DEVICES_MAX_CONNECTIONS),
		.clock_drift_ms = cfg_int(CFG_DEVICES_CLOCK_DRIFT),
		.state_dir = state_dir(),
	};

	if (devca_ensure(cfg_str(CFG_WEB_NAMES), err, errlen) < 0)
		return -1;
	/* A terminal the central deletes stops working here at once. */
	sync_terminal_gone = terminal_gone;
	return devlink_start(&s, err, errlen);
}

/* Signals are blocked in every thread and taken here, synchronously, so no
 * handler ever runs in the middle of library code. The loop also pings the
 * watchdog and signs the audit chain's head at intervals. */
static int wait_for_stop(void)
{
	long long wd_usec = sdnotify_watchdog_usec();
	struct timespec tick = {.tv_sec = 1};
	sigset_t set;

	if (wd_usec > 0) {
		long long half = wd_usec / 2;
		tick.tv_sec = half / 1000000;
		tick.tv_nsec = (half % 1000000) * 1000;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	time_t last_sign = time(NULL);

	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wd_usec > 0 && db_ready())
			sdnotify("WATCHDOG=1");
		if (time(NULL) - last_sign >= AUDIT_SIGN_INTERVAL_S) {
			audit_sign_head();
			last_sign = time(NULL);
		}
	}
}

/* An audit trail kept for days is rarely what a site means: say so at
 * every start, so it cannot go unnoticed. */
static void log_warning_short_audit(void)
{
	log_warn("config: retention.audit is %s: audit entries are deleted after less than 30 days",
		 cfg_str(CFG_RETENTION_AUDIT));
}

static int lock_state(void)
{
	char err[600];

	if (state_lock_serve(err, sizeof err) < 0) {
		log_err("state: %s", err);
		return -1;
	}
	return 0;
}

/* Every terminal is a file descriptor: take the hard limit (the packaged
 * unit sets 65536), and say so when it cannot hold what is configured. */
static void raise_file_limit(void)
{
	struct rlimit rl;
	long long want = cfg_int(CFG_DEVICES_MAX_CONNECTIONS) + cfg_int(CFG_WEB_MAX_PENDING) + cfg_int(CFG_WEB_THREADS) + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((long long)rl.rlim_cur < want)
		log_warn("serve: only %llu open files allowed; devices.max_connections and web.max_pending need about %lld "
			 "(raise LimitNOFILE)", (unsigned long long)rl.rlim_cur, want);
}

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cmd_serve(struct cmd_env *env)
{
	char err[600], cert[4096], key[4096], where[1024], fp[100] = "?", devices[160];
	struct server_settings web;
	int sig;

	if (env->argc > 0) {
		fprintf(stderr, "gatehouse serve: unexpected argument '%s'\n", env->argv[0]);
		return 2;
	}
	block_signals();
	raise_file_limit();
	if (cmd_open_store(lock_state) < 0)
		return 1;
	tls_paths(cert, key, sizeof cert);
	if (ensure_certificate(cert, key) < 0) {
		cmd_close_store();
		return 1;
	}
	certgen_fingerprint(cert, fp, sizeof fp);
	if (bootstrap_admin() < 0) {
		cmd_close_store();
		return 1;
	}
	restore_note_flush();

	web = (struct server_settings){
		.listen = cfg_str(CFG_WEB_LISTEN),
		.cert_path = cert,
		.key_path = key,
		.threads = cfg_int(CFG_WEB_THREADS),
		.request_timeout_ms = cfg_int(CFG_WEB_REQUEST_TIMEOUT),
		.keepalive_timeout_ms = cfg_int(CFG_WEB_KEEPALIVE_TIMEOUT),
		.handshake_timeout_ms = cfg_int(CFG_WEB_HANDSHAKE_TIMEOUT),
		.max_pending = cfg_int(CFG_WEB_MAX_PENDING),
		.routes = routes_table,
		.nroutes = routes_count,
		.abuse = {
			.api_rate = (double)cfg_int(CFG_LIMITS_API_PER_SECOND),
			.api_burst = (double)cfg_int(CFG_LIMITS_API_BURST),
			.login_rate = (double)cfg_int(CFG_LIMITS_LOGIN_PER_MINUTE) / 60.0,
			.login_burst = (double)cfg_int(CFG_LIMITS_LOGIN_BURST),
			.fail_threshold = (int)cfg_int(CFG_ABUSE_FAIL_THRESHOLD),
			.fail_window_ms = cfg_int(CFG_ABUSE_FAIL_WINDOW),
			.probe_threshold = (int)cfg_int(CFG_ABUSE_PROBE_THRESHOLD),
			.probe_window_ms = cfg_int(CFG_ABUSE_PROBE_WINDOW),
		},
	};
	/* Alert channels that cannot work are a configuration error, found
	 * now rather than when the first alert has nowhere to go. */
	if (notify_check_config(err, sizeof err) < 0) {
		log_err("config: %s", err);
		cmd_close_store();
		return 1;
	}
	if (start_devlink(err, sizeof err) < 0) {
		log_err("devlink: %s", err);
		cmd_close_store();
		return 1;
	}
	if (cfg_int(CFG_RETENTION_AUDIT) < 30LL * 86400 * 1000)
		log_warning_short_audit();
	if (scheduler_start(err, sizeof err) < 0) {
		log_err("jobs: %s", err);
		devlink_stop();
		cmd_close_store();
		return 1;
	}
	if (server_start(&web, err, sizeof err) < 0) {
		log_err("web: %s", err);
		scheduler_stop();
		devlink_stop();
		cmd_close_store();
		return 1;
	}
	server_describe(where, sizeof where);
	devlink_describe(devices, sizeof devices);
	log_notice("gatehouse %s: listening on %s (state %s, certificate SHA-256 %s); terminals on %s", GH_VERSION,
		   where, state_dir(), fp, devices);
	sdnotify("READY=1");

	sig = wait_for_stop();
	sdnotify("STOPPING=1");
	log_notice("gatehouse: %s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	live_stop(); /* live streams end, so the web server can */
	server_stop();
	scheduler_stop();
	devlink_stop();
	audit_sign_head();
	cmd_close_store();
	log_notice("gatehouse: stopped");
	return sig < 0 ? 1 : 0;
}
