#include "config.h"

#include "netaddr.h"
#include "schedule.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define KiB 1024LL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* The one place every setting is described. Keep help texts to what an admin
 * needs in order to change the value safely. */
const struct config_desc config_table[CFG__COUNT] = {
	[CFG_STATE_DIR] = {"state.dir", CT_PATH, "/var/lib/gatehouse", 0, 0, NULL,
		"Directory for the database, keys, certificates and backups. Created with\n"
		"mode 0700 at first start. Under systemd, $STATE_DIRECTORY is the default.\n"
		"The --state-dir option overrides this key."},
	[CFG_LOG_LEVEL] = {"log.level", CT_ENUM, "info", 0, 0, "error|warning|notice|info|debug",
		"Least important log lines that are still written to stderr (journald)."},
	[CFG_WEB_LISTEN] = {"web.listen", CT_LISTEN, "0.0.0.0:8443", 0, 0, NULL,
		"HTTPS addresses of the web console and REST API, comma-separated, each\n"
		"a numeric IPv4 address or [IPv6] address with a port (0: any free port,\n"
		"shown in the log). Only HTTPS is served."},
	[CFG_WEB_NAMES] = {"web.names", CT_STRING, "", 0, 0, NULL,
		"Extra DNS names and IP addresses (comma-separated) put into the self-signed\n"
		"certificate created at first start, besides localhost and the host name."},
	[CFG_WEB_TLS_CERT] = {"web.tls_cert", CT_PATH, "", 0, 0, NULL,
		"PEM certificate chain of the web server. Empty: STATE/tls/server.crt,\n"
		"created self-signed (ECDSA P-256) at first start. Replace it with your own."},
	[CFG_WEB_TLS_KEY] = {"web.tls_key", CT_PATH, "", 0, 0, NULL,
		"PEM private key matching web.tls_cert. Empty: STATE/tls/server.key."},
	[CFG_WEB_THREADS] = {"web.threads", CT_INT, "32", 2, 512, NULL,
		"Worker threads serving HTTPS requests: the number of requests handled at\n"
		"once. Connections that have not yet sent anything do not take a thread."},
	[CFG_WEB_MAX_BODY] = {"web.max_body", CT_SIZE, "1M", 1 * KiB, 256 * MiB, NULL,
		"Largest request body accepted; larger requests get 413."},
	[CFG_WEB_REQUEST_TIMEOUT] = {"web.request_timeout", CT_DURATION, "10s", 100, 10 * MIN, NULL,
		"Time a client has to send a whole request (headers and body); a slower\n"
		"client is disconnected."},
	[CFG_WEB_KEEPALIVE_TIMEOUT] = {"web.keepalive_timeout", CT_DURATION, "5s", 0, 10 * MIN, NULL,
		"How long an idle keep-alive connection is held open between requests."},
	[CFG_WEB_HANDSHAKE_TIMEOUT] = {"web.handshake_timeout", CT_DURATION, "10s", 100, 10 * MIN,
		NULL,
		"Time a new connection has to send its first bytes, and again to complete\n"
		"the TLS handshake; silent or stalled connections are closed."},
	[CFG_WEB_MAX_PENDING] = {"web.max_pending", CT_INT, "4096", 16, 1000000, NULL,
		"Connections allowed to wait for their first bytes at once; beyond this,\n"
		"new connections are closed at once."},
	[CFG_WEB_MAX_STREAMS] = {"web.max_streams", CT_INT, "8", 1, 256, NULL,
		"Live streams (GET /api/v1/stream) open at once. Each holds a worker\n"
		"thread, so keep this well below web.threads; beyond it a stream gets 503."},
	[CFG_DB_BUSY_TIMEOUT] = {"db.busy_timeout", CT_DURATION, "5s", 0, 10 * MIN, NULL,
		"How long a database statement waits for another writer before failing."},
	[CFG_AUTH_LOCKOUT_THRESHOLD] = {"auth.lockout_threshold", CT_INT, "3", 1, 100, NULL,
		"Consecutive failed logins (password or second factor) that lock an admin\n"
		"account. A locked account answers exactly like a wrong password."},
	[CFG_AUTH_LOCKOUT_DURATION] = {"auth.lockout_duration", CT_DURATION, "15m", 1 * SEC, 30 * DAY,
		NULL, "How long a locked account stays locked, unless an admin unlocks it sooner."},
	[CFG_AUTH_REQUIRE_TOTP] = {"auth.require_totp", CT_BOOL, "no", 0, 0, NULL,
		"Every admin must log in with a second factor (TOTP). An admin without one\n"
		"may, once logged in with the password, only turn it on (and change the\n"
		"password, or log out); nobody may turn it off. API tokens and the command\n"
		"line are not concerned."},
	[CFG_PASSWORD_MIN_LENGTH] = {"password.min_length", CT_INT, "8", 8, 128, NULL,
		"Shortest admin password accepted, in characters."},
	[CFG_PASSWORD_REQUIRE_UPPER] = {"password.require_upper", CT_BOOL, "yes", 0, 0, NULL,
		"Passwords must contain an upper-case letter (A-Z)."},
	[CFG_PASSWORD_REQUIRE_LOWER] = {"password.require_lower", CT_BOOL, "yes", 0, 0, NULL,
		"Passwords must contain a lower-case letter (a-z)."},
	[CFG_PASSWORD_REQUIRE_DIGIT] = {"password.require_digit", CT_BOOL, "yes", 0, 0, NULL,
		"Passwords must contain a digit (0-9)."},
	[CFG_PASSWORD_REQUIRE_SYMBOL] = {"password.require_symbol", CT_BOOL, "yes", 0, 0, NULL,
		"Passwords must contain a symbol (any character that is not a letter or digit)."},
	[CFG_SESSION_IDLE_TIMEOUT] = {"session.idle_timeout", CT_DURATION, "30m", 2 * SEC, 7 * DAY, NULL,
		"A console session with no request for this long ends."},
	[CFG_SESSION_ABSOLUTE_TIMEOUT] = {"session.absolute_timeout", CT_DURATION, "12h", 5 * MIN, 30 * DAY,
		NULL, "A console session ends this long after login, however active."},
	[CFG_SESSION_SINGLE] = {"session.single", CT_BOOL, "yes", 0, 0, NULL,
		"One live session per admin: a new login ends the older session."},
	[CFG_TOKEN_MAX_LIFETIME] = {"token.max_lifetime", CT_DURATION, "365d", 1 * DAY, 3650 * DAY, NULL,
		"Longest validity an API token may be created with."},
	[CFG_LIMITS_API_PER_SECOND] = {"limits.api_per_second", CT_INT, "50", 1, 100000, NULL,
		"Sustained API requests per second allowed per client address and per token."},
	[CFG_LIMITS_API_BURST] = {"limits.api_burst", CT_INT, "200", 1, 1000000, NULL,
		"API requests a client may send at once before the per-second rate applies."},
	[CFG_LIMITS_LOGIN_PER_MINUTE] = {"limits.login_per_minute", CT_INT, "20", 1, 100000, NULL,
		"Login attempts per minute allowed per client address (over it: 429)."},
	[CFG_LIMITS_LOGIN_BURST] = {"limits.login_burst", CT_INT, "10", 1, 100000, NULL,
		"Login attempts a client may make at once before the per-minute rate applies."},
	[CFG_ABUSE_FAIL_THRESHOLD] = {"abuse.fail_threshold", CT_INT, "10", 1, 100000, NULL,
		"Failed authentications from one address within abuse.fail_window that block\n"
		"the address for abuse.block_duration."},
	[CFG_ABUSE_FAIL_WINDOW] = {"abuse.fail_window", CT_DURATION, "10m", 1 * SEC, 1 * DAY, NULL,
		"The sliding window for abuse.fail_threshold."},
	[CFG_ABUSE_PROBE_THRESHOLD] = {"abuse.probe_threshold", CT_INT, "30", 1, 100000, NULL,
		"Requests for unknown URLs from one address within abuse.probe_window that\n"
		"block the address (scanners)."},
	[CFG_ABUSE_PROBE_WINDOW] = {"abuse.probe_window", CT_DURATION, "1m", 1 * SEC, 1 * DAY, NULL,
		"The sliding window for abuse.probe_threshold."},
	[CFG_ABUSE_BLOCK_DURATION] = {"abuse.block_duration", CT_DURATION, "15m", 1 * SEC, 30 * DAY, NULL,
		"How long an automatically blocked address stays blocked (a system admin can\n"
		"remove a block sooner)."},
	[CFG_DEVICES_LISTEN] = {"devices.listen", CT_LISTEN, "0.0.0.0:8883", 0, 0, NULL,
		"Address of the device link: MQTT 3.1.1 over TLS with client certificates,\n"
		"where door terminals connect (one numeric address with a port; 0: any port)."},
	[CFG_DEVICES_MAX_CONNECTIONS] = {"devices.max_connections", CT_INT, "10000", 1, 1000000, NULL,
		"Terminal connections held at once; more are refused. The systemd unit\n"
		"allows 65536 open files."},
	[CFG_DEVICES_MAX_PACKET] = {"devices.max_packet", CT_SIZE, "256K", 1 * KiB, 16 * MiB, NULL,
		"Largest MQTT packet a terminal may send; a larger one closes its connection."},
	[CFG_DEVICES_HANDSHAKE_TIMEOUT] = {"devices.handshake_timeout", CT_DURATION, "10s", 100, 10 * MIN, NULL,
		"Time a terminal has to finish the TLS handshake, and again to send CONNECT."},
	[CFG_DEVICES_IDLE_TIMEOUT] = {"devices.idle_timeout", CT_DURATION, "10m", 1 * SEC, 1 * DAY, NULL,
		"Longest silence allowed from a terminal whose keep-alive is 0 or longer;\n"
		"otherwise 1.5 times its keep-alive applies."},
	[CFG_DEVICES_CLOCK_DRIFT] = {"devices.clock_drift", CT_DURATION, "5s", 100, 1 * DAY, NULL,
		"A terminal whose clock is further off than this is sent the right time."},
	[CFG_DEVICES_ENROLL_TTL] = {"devices.enroll_ttl", CT_DURATION, "1h", 1 * MIN, 30 * DAY, NULL,
		"How long a terminal's one-time enrolment token stays valid."},
	[CFG_JOBS_AUDIT_VERIFY] = {"jobs.audit_verify", CT_SCHEDULE, "cron 30 4 * * *", 0, 0, NULL,
		"When the audit-verify job checks the whole audit chain and its\n"
		"signatures (an alert names the first bad entry)."},
	[CFG_JOBS_RETENTION] = {"jobs.retention", CT_SCHEDULE, "cron 0 3 * * *", 0, 0, NULL,
		"When the retention job deletes what is past its time (below)."},
	[CFG_RETENTION_EVENTS_PERSONAL] = {"retention.events_personal", CT_DURATION, "90d", 1 * SEC, 3650 * DAY, NULL,
		"Terminal events that name a person or carry a card number are deleted\n"
		"this long after they happened (unless the tenant is on legal hold)."},
	[CFG_RETENTION_EVENTS_SYSTEM] = {"retention.events_system", CT_DURATION, "730d", 1 * SEC, 3650 * DAY, NULL,
		"Events without personal details (doors, alarms), finished job runs,\n"
		"resolved alerts and finished terminal commands are deleted after this."},
	[CFG_RETENTION_AUDIT] = {"retention.audit", CT_DURATION, "730d", 1 * SEC, 3650 * DAY, NULL,
		"Audit entries are deleted after this; the chain keeps a signed anchor at\n"
		"the cut, so 'gatehouse audit verify' still passes. Under 30 days is\n"
		"allowed (for tests) but warned about at every start."},
	[CFG_RETENTION_BATCH] = {"retention.batch", CT_INT, "2000", 10, 100000, NULL,
		"Rows deleted per transaction: small enough that the appliance stays\n"
		"responsive while the retention job runs."},
	[CFG_JOBS_BACKUP_FULL] = {"jobs.backup_full", CT_SCHEDULE, "cron 0 2 * * 0", 0, 0, NULL,
		"When the backup-full job writes a full backup (the database and its key\n"
		"store, compressed and encrypted, verified before it counts). Default:\n"
		"Sundays at 02:00."},
	[CFG_JOBS_BACKUP_EVENTS] = {"jobs.backup_events", CT_SCHEDULE, "cron 0 1 * * *", 0, 0, NULL,
		"When the backup-events job writes the smaller daily backup (events, audit\n"
		"log, alerts, job runs and the key store), restored on top of a full one."},
	[CFG_BACKUP_DESTINATIONS] = {"backup.destinations", CT_STRING, "", 0, 0, NULL,
		"Extra directories that receive a copy of every backup besides\n"
		"STATE/backups, comma-separated absolute paths (a mounted USB disk, a NAS).\n"
		"A missing or full one makes the backup job fail with an alert. Under the\n"
		"packaged systemd unit, allow writing there: systemctl edit gatehouse,\n"
		"ReadWritePaths=/mnt/backup."},
	[CFG_BACKUP_RETENTION] = {"backup.retention", CT_DURATION, "180d", 1 * SEC, 3650 * DAY, NULL,
		"Backups older than this are deleted after each backup, in every\n"
		"destination; the newest complete backup of each kind is always kept."},
	[CFG_BACKUP_COMPRESSION_LEVEL] = {"backup.compression_level", CT_INT, "1", 1, 9, NULL,
		"zlib level for backups: 1 is fastest; higher levels gain little, as most\n"
		"of the database is sealed (encrypted) data that does not compress."},
	[CFG_JOBS_ALERT_RULES] = {"jobs.alert_rules", CT_SCHEDULE, "every 30s", 0, 0, NULL,
		"When the alert-rules job checks the periodic rules: terminals offline,\n"
		"free disk space, certificates near expiry, overdue backups, repeated\n"
		"blocks. It also resolves alerts whose condition has cleared."},
	[CFG_JOBS_ALERTS_DELIVER] = {"jobs.alerts_deliver", CT_SCHEDULE, "every 10s", 0, 0, NULL,
		"When the alerts-deliver job sends pending e-mail and webhook deliveries\n"
		"and retries failed ones. A new alert also starts it at once."},
	[CFG_ALERTS_TERMINAL_OFFLINE] = {"alerts.terminal_offline", CT_DURATION, "10m", 1 * SEC, 30 * DAY, NULL,
		"An enrolled terminal offline for longer than this raises an alert; it is\n"
		"resolved when the terminal is back."},
	[CFG_ALERTS_DISK_MIN_FREE] = {"alerts.disk_min_free", CT_SIZE, "1G", 0, 1024 * GiB, NULL,
		"Free space on the state directory's file system below this raises an\n"
		"alert (0: never); it is resolved when space is back."},
	[CFG_ALERTS_CERT_EXPIRY_WARNING] = {"alerts.cert_expiry_warning", CT_DURATION, "30d", 1 * DAY, 365 * DAY, NULL,
		"Certificates expiring within this raise an alert: the web server's, the\n"
		"device CA, the device link's server certificate and terminals'."},
	[CFG_ALERTS_BACKUP_OVERDUE] = {"alerts.backup_overdue", CT_DURATION, "8d", 1 * HOUR, 365 * DAY, NULL,
		"The backup-full job without a successful run for this long raises an alert."},
	[CFG_ALERTS_BACKUP_EVENTS_OVERDUE] = {"alerts.backup_events_overdue", CT_DURATION, "2d", 1 * HOUR, 365 * DAY,
		NULL, "The backup-events job without a successful run for this long raises an alert."},
	[CFG_ALERTS_BLOCK_THRESHOLD] = {"alerts.block_threshold", CT_INT, "5", 1, 100000, NULL,
		"Addresses blocked for abuse within alerts.block_window that raise an alert\n"
		"about repeated blocks (an attack rather than a typo)."},
	[CFG_ALERTS_BLOCK_WINDOW] = {"alerts.block_window", CT_DURATION, "1h", 1 * MIN, 30 * DAY, NULL,
		"The window for alerts.block_threshold."},
	[CFG_ALERTS_EMAIL_MIN_SEVERITY] = {"alerts.email_min_severity", CT_ENUM, "warning", 0, 0,
		"info|warning|critical", "Least severe alerts sent by e-mail."},
	[CFG_ALERTS_WEBHOOK_MIN_SEVERITY] = {"alerts.webhook_min_severity", CT_ENUM, "info", 0, 0,
		"info|warning|critical", "Least severe alerts sent to webhooks."},
	[CFG_SMTP_RELAY] = {"smtp.relay", CT_STRING, "", 0, 0, NULL,
		"Host name or address of the mail relay alerts are sent through. Empty:\n"
		"no e-mail. The appliance makes no outgoing connection unless this or\n"
		"webhook.urls is set."},
	[CFG_SMTP_PORT] = {"smtp.port", CT_INT, "587", 1, 65535, NULL,
		"Port of the mail relay: 587 (submission, STARTTLS) or 465 (smtp.tls = tls)."},
	[CFG_SMTP_TLS] = {"smtp.tls", CT_ENUM, "starttls", 0, 0, "starttls|tls|none",
		"starttls: STARTTLS is required and a relay without it is refused; tls:\n"
		"TLS from the first byte (port 465); none: plain text (only on a trusted\n"
		"network; no authentication is sent then)."},
	[CFG_SMTP_TLS_VERIFY] = {"smtp.tls_verify", CT_BOOL, "yes", 0, 0, NULL,
		"Check the relay's certificate against smtp.ca_file and its name against\n"
		"smtp.relay. Turning this off is logged as a warning at every connection."},
	[CFG_SMTP_CA_FILE] = {"smtp.ca_file", CT_PATH, "/etc/ssl/certs/ca-certificates.crt", 0, 0, NULL,
		"PEM file of the certificate authorities trusted for the mail relay."},
	[CFG_SMTP_FROM] = {"smtp.from", CT_STRING, "", 0, 0, NULL,
		"Sender address of alert mail (MAIL FROM and From:), e.g.\n"
		"gatehouse@example.org. Required when smtp.relay is set."},
	[CFG_SMTP_TO] = {"smtp.to", CT_STRING, "", 0, 0, NULL,
		"Recipients of alert mail, comma-separated. Required when smtp.relay is set."},
	[CFG_SMTP_USERNAME] = {"smtp.username", CT_STRING, "", 0, 0, NULL,
		"User name for SMTP authentication (AUTH PLAIN or LOGIN, only over TLS).\n"
		"Empty: no authentication."},
	[CFG_SMTP_PASSWORD_FILE] = {"smtp.password_file", CT_PATH, "", 0, 0, NULL,
		"File holding the SMTP password (first line; mode 0600 or stricter). The\n"
		"password is never written to the configuration or the log."},
	[CFG_SMTP_TIMEOUT] = {"smtp.timeout", CT_DURATION, "10s", 100, 10 * MIN, NULL,
		"Longest wait for each step of a mail delivery (connect, handshake, each\n"
		"reply)."},
	[CFG_WEBHOOK_URLS] = {"webhook.urls", CT_STRING, "", 0, 0, NULL,
		"HTTPS URLs that alerts are POSTed to as JSON, comma-separated (each one\n"
		"is a channel webhook:1, webhook:2 ... in that order). Empty: none."},
	[CFG_WEBHOOK_SECRET_FILE] = {"webhook.secret_file", CT_PATH, "", 0, 0, NULL,
		"File holding the secret for the X-Gatehouse-Signature HMAC (first line;\n"
		"mode 0600 or stricter). Required when webhook.urls is set."},
	[CFG_WEBHOOK_CA_FILE] = {"webhook.ca_file", CT_PATH, "/etc/ssl/certs/ca-certificates.crt", 0, 0, NULL,
		"PEM file of the certificate authorities trusted for webhook receivers."},
	[CFG_WEBHOOK_TIMEOUT] = {"webhook.timeout", CT_DURATION, "10s", 100, 10 * MIN, NULL,
		"Longest wait for each step of a webhook delivery (connect, handshake,\n"
		"answer)."},
	[CFG_JOBS_SYNC] = {"jobs.sync", CT_SCHEDULE, "every 5m", 0, 0, NULL,
		"On a site appliance, when the sync job exchanges changes with the central\n"
		"(POST /api/v1/jobs/sync/run starts it at once). Elsewhere it does nothing."},
	[CFG_SYNC_ALERT_AFTER] = {"sync.alert_after", CT_DURATION, "1h", 1 * SEC, 30 * DAY, NULL,
		"A site not synced with its central for this long raises a sync.stale\n"
		"alert; it is resolved by the next complete exchange (or bundle import)."},
	[CFG_SYNC_RETRY_MAX] = {"sync.retry_max", CT_DURATION, "1h", 1 * SEC, 7 * DAY, NULL,
		"After failed exchanges the sync job waits 30 s, then twice as long after\n"
		"each further failure, up to this, before trying again."},
	[CFG_SYNC_TIMEOUT] = {"sync.timeout", CT_DURATION, "30s", 100, 10 * MIN, NULL,
		"Longest wait for each step of a request to the central (connect,\n"
		"handshake, each read and write)."},
	[CFG_SYNC_PAIRING_TTL] = {"sync.pairing_ttl", CT_DURATION, "1h", 1 * MIN, 7 * DAY, NULL,
		"On a central, how long a one-time pairing code stays valid."},
	[CFG_SYNC_BATCH] = {"sync.batch", CT_SIZE, "4M", 4 * KiB, 64 * MiB, NULL,
		"Rows per changeset, in bytes before compression. Smaller changesets\n"
		"make progress on a poor link; each is applied in one transaction."},
};

struct config *config_global;

static const char *type_hint(enum config_type t)
{
	switch (t) {
	case CT_STRING: return "text";
	case CT_PATH: return "path";
	case CT_INT: return "integer";
	case CT_BOOL: return "yes or no";
	case CT_DURATION: return "duration: a number with ms, s, m, h or d";
	case CT_SIZE: return "size: bytes, or a number with K, M or G";
	case CT_ENUM: return "one word of a list";
	case CT_LISTEN: return "host:port list";
	case CT_SCHEDULE: return "schedule: every N(s|m|h|d), cron M H DOM MON DOW, or off";
	}
	return "?";
}

int config_find(const char *key)
{
	for (int i = 0; i < CFG__COUNT; i++)
		if (strcmp(config_table[i].key, key) == 0)
			return i;
	return -1;
}

/* Parse a non-negative decimal number with an optional unit suffix. */
static int parse_number(const char *s, long long *v, const char **unit)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	*unit = end;
	return 0;
}

static int scale(long long v, long long mult, long long *out)
{
	if (v > __LONG_LONG_MAX__ / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int check_int(const char *value, long long *v)
{
	const char *unit;

	if (parse_number(value, v, &unit) < 0 || *unit != '\0')
		return -1;
	return 0;
}

static int check_duration(const char *value, long long *ms)
{
	static const struct { const char *unit; long long mult; } units[] = {
		{"ms", 1}, {"s", SEC}, {"m", MIN}, {"h", HOUR}, {"d", DAY},
	};
	const char *unit;
	long long v;

	if (parse_number(value, &v, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(unit, units[i].unit) == 0)
			return scale(v, units[i].mult, ms);
	return -1;
}

static int check_size(const char *value, long long *bytes)
{
	const char *unit;
	long long v;

	if (parse_number(value, &v, &unit) < 0)
		return -1;
	if (*unit == '\0')
		return *bytes = v, 0;
	if (unit[1] != '\0')
		return -1;
	switch (*unit) {
	case 'K': return scale(v, KiB, bytes);
	case 'M': return scale(v, MiB, bytes);
	case 'G': return scale(v, GiB, bytes);
	}
	return -1;
}

static int check_bool(const char *value, long long *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(value, yes[i]) == 0)
			return *b = 1, 0;
		if (strcmp(value, no[i]) == 0)
			return *b = 0, 0;
	}
	return -1;
}

static int check_enum(const char *choices, const char *value)
{
	size_t n = strlen(value);
	const char *p = choices;

	while (n > 0 && p) {
		if (strncmp(p, value, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return 0;
		p = strchr(p, '|');
		if (p)
			p++;
	}
	return -1;
}

static int check_listen(const char *value, char *why, size_t whylen)
{
	char item[128];
	const char *p = value;

	if (*value == '\0') {
		snprintf(why, whylen, "at least one address is needed");
		return -1;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		struct sockaddr_storage ss;
		socklen_t len;

		while (n > 0 && isspace((unsigned char)*p))
			p++, n--;
		if (n == 0 || n >= sizeof item) {
			snprintf(why, whylen, "empty or overlong address in list");
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		while (n > 0 && isspace((unsigned char)item[n - 1]))
			item[--n] = '\0';
		if (netaddr_parse(item, &ss, &len, why, whylen) < 0)
			return -1;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

int config_check_value(const struct config_desc *d, const char *value, long long *num,
		       char *why, size_t whylen)
{
	int rc = 0;

	*num = 0;
	switch (d->type) {
	case CT_STRING:
	case CT_PATH:
		return 0;
	case CT_INT:
		rc = check_int(value, num);
		break;
	case CT_BOOL:
		rc = check_bool(value, num);
		break;
	case CT_DURATION:
		rc = check_duration(value, num);
		break;
	case CT_SIZE:
		rc = check_size(value, num);
		break;
	case CT_ENUM:
		if (check_enum(d->choices, value) < 0) {
			snprintf(why, whylen, "'%s' is not one of %s", value, d->choices);
			return -1;
		}
		return 0;
	case CT_LISTEN:
		return check_listen(value, why, whylen);
	case CT_SCHEDULE: {
		struct schedule s;
		return schedule_parse(value, &s, why, whylen);
	}
	}
	if (rc < 0) {
		snprintf(why, whylen, "'%s' is not a valid %s", value, type_hint(d->type));
		return -1;
	}
	if ((d->min || d->max) && (*num < d->min || *num > d->max)) {
		snprintf(why, whylen, "'%s' is out of range (%lld to %lld%s)", value, d->min, d->max,
			 d->type == CT_DURATION ? " ms" : d->type == CT_SIZE ? " bytes" : "");
		return -1;
	}
	return 0;
}

/* Store a checked value; the previous text is freed. */
static int store(struct config *c, int k, const char *value, long long num, int line)
{
	char *copy = strdup(value);

	if (!copy)
		return -1;
	free(c->text[k]);
	c->text[k] = copy;
	c->num[k] = num;
	c->line[k] = line;
	return 0;
}

int config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < CFG__COUNT; i++) {
		long long num;
		char why[128];
		if (config_check_value(&config_table[i], config_table[i].def, &num, why, sizeof why) < 0 ||
		    store(c, i, config_table[i].def, num, 0) < 0) {
			config_free(c);
			return -1;
		}
	}
	return 0;
}

void config_free(struct config *c)
{
	for (int i = 0; i < CFG__COUNT; i++) {
		free(c->text[i]);
		c->text[i] = NULL;
	}
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Apply "key = value" (already without comment or newline) found at line. */
static int apply_line(struct config *c, char *text, const char *origin, int line, int strict_dup,
		      char *err, size_t errlen)
{
	char where[300];
	char *eq = strchr(text, '=');
	char why[256];
	char *key, *value;
	long long num;
	int k;

	/* A file names its line; a --set override names itself. */
	if (line > 0)
		snprintf(where, sizeof where, "%s:%d", origin, line);
	else
		snprintf(where, sizeof where, "%s", origin);
	if (!eq) {
		snprintf(err, errlen, "%s: expected 'key = value'", where);
		return -1;
	}
	*eq = '\0';
	key = trim(text);
	value = trim(eq + 1);
	k = config_find(key);
	if (k < 0) {
		snprintf(err, errlen, "%s: unknown key '%.64s'", where, key);
		return -1;
	}
	if (strict_dup && c->line[k] > 0) {
		snprintf(err, errlen, "%s: '%s' is already set on line %d", where, key, c->line[k]);
		return -1;
	}
	if (config_check_value(&config_table[k], value, &num, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s: %s", where, key, why);
		return -1;
	}
	if (store(c, k, value, num, line) < 0) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	return 0;
}

int config_parse_text(struct config *c, const char *text, size_t len, const char *origin,
		      char *err, size_t errlen)
{
	char buf[4096];
	size_t pos = 0;
	int line = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *s;

		line++;
		if (n >= sizeof buf) {
			snprintf(err, errlen, "%s:%d: line longer than %zu bytes", origin, line,
				 sizeof buf - 1);
			return -1;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;
		if (memchr(buf, '\0', n)) {
			snprintf(err, errlen, "%s:%d: NUL byte in line", origin, line);
			return -1;
		}
		s = trim(buf);
		if (*s == '\0' || *s == '#')
			continue;
		if (apply_line(c, s, origin, line, 1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len + 4096 > cap) {
			char *bigger;
			if (cap >= (1u << 20)) {
				snprintf(err, errlen, "%s: file larger than 1 MB", path);
				free(text);
				fclose(f);
				return -1;
			}
			bigger = realloc(text, cap = cap ? cap * 2 : 8192);
			if (!bigger) {
				free(text);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -1;
			}
			text = bigger;
		}
		size_t n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		free(text);
		fclose(f);
		return -1;
	}
	fclose(f);
	rc = config_parse_text(c, text, len, path, err, errlen);
	free(text);
	return rc;
}

int config_set(struct config *c, const char *assignment, char *err, size_t errlen)
{
	char buf[4096];
	size_t n = strlen(assignment);

	if (n >= sizeof buf) {
		snprintf(err, errlen, "--set: assignment too long");
		return -1;
	}
	memcpy(buf, assignment, n + 1);
	/* --set wins over the file, so a repeated key is not an error here. */
	return apply_line(c, buf, "--set", -1, 0, err, errlen);
}

void config_write_defaults(FILE *out)
{
	fputs("# Gatehouse configuration: /etc/gatehouse/gatehouse.conf\n"
	      "#\n"
	      "# 'key = value' lines; lines starting with '#' are comments. Every key is\n"
	      "# listed below with its default, commented out. Any key can also be given\n"
	      "# on the command line as --set key=value, which wins over this file.\n"
	      "# A system admin can change some keys in the console (Settings: the login\n"
	      "# policy, retention, backup schedules, alerts, e-mail, webhooks); such a\n"
	      "# change wins over this file until it is undone there, and --set wins\n"
	      "# over it.\n"
	      "# Check a file with: gatehouse config check --config FILE\n",
	      out);
	for (int i = 0; i < CFG__COUNT; i++) {
		const struct config_desc *d = &config_table[i];
		const char *p = d->help;

		fprintf(out, "\n# %s (%s", d->key, type_hint(d->type));
		if (d->type == CT_ENUM)
			fprintf(out, ": %s", d->choices);
		fputs(")\n", out);
		while (*p) {
			size_t n = strcspn(p, "\n");
			fprintf(out, "#   %.*s\n", (int)n, p);
			p += n;
			if (*p)
				p++;
		}
		fprintf(out, "#%s = %s\n", d->key, d->def);
	}
}

void config_write_effective(const struct config *c, FILE *out)
{
	for (int i = 0; i < CFG__COUNT; i++)
		fprintf(out, "%s = %s\n", config_table[i].key, c->text[i]);
}

const char *config_origin(enum config_key k)
{
	int line = config_global->line[k];

	return line > 0 ? "file" : line < 0 ? "command line" : "default";
}

/* Texts replaced while running: still reachable, so never read freed. */
struct retired {
	struct retired *next;
	char *text;
};
static struct retired *retired;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

int config_set_live(enum config_key k, const char *value, char *why, size_t whylen)
{
	struct retired *r;
	long long num;
	char *copy;

	if (config_check_value(&config_table[k], value, &num, why, whylen) < 0)
		return -1;
	copy = strdup(value);
	r = malloc(sizeof *r);
	if (!copy || !r) {
		free(copy);
		free(r);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&live_lock);
	r->text = __atomic_exchange_n(&config_global->text[k], copy, __ATOMIC_ACQ_REL);
	r->next = retired;
	retired = r;
	__atomic_store_n(&config_global->num[k], num, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&live_lock);
	return 0;
}

const char *cfg_str(enum config_key k) { return __atomic_load_n(&config_global->text[k], __ATOMIC_ACQUIRE); }

long long cfg_int(enum config_key k) { return __atomic_load_n(&config_global->num[k], __ATOMIC_ACQUIRE); }
