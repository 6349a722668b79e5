/* config: every setting of the appliance, described once in a table of
 * descriptors (key, type, default, bounds, help). Parsing the file, the
 * --set overrides, validation, the documented default file and the checks in
 * the tests all come from that table, so a key cannot exist undocumented.
 *
 * File format: "key = value" lines; blank lines and lines starting with '#'
 * are ignored. A '#' later in a line is part of the value. Errors are
 * reported as "origin:line: reason" and stop the program. */
#ifndef GH_CONFIG_H
#define GH_CONFIG_H

#include <stdio.h>

enum config_key {
	CFG_STATE_DIR,
	CFG_LOG_LEVEL,
	CFG_WEB_LISTEN,
	CFG_WEB_NAMES,
	CFG_WEB_TLS_CERT,
	CFG_WEB_TLS_KEY,
	CFG_WEB_THREADS,
	CFG_WEB_MAX_BODY,
	CFG_WEB_REQUEST_TIMEOUT,
	CFG_WEB_KEEPALIVE_TIMEOUT,
	CFG_WEB_HANDSHAKE_TIMEOUT,
	CFG_WEB_MAX_PENDING,
	CFG_WEB_MAX_STREAMS,
	CFG_DB_BUSY_TIMEOUT,
	CFG_AUTH_LOCKOUT_THRESHOLD,
	CFG_AUTH_LOCKOUT_DURATION,
	CFG_AUTH_REQUIRE_TOTP,
	CFG_PASSWORD_MIN_LENGTH,
	CFG_PASSWORD_REQUIRE_UPPER,
	CFG_PASSWORD_REQUIRE_LOWER,
	CFG_PASSWORD_REQUIRE_DIGIT,
	CFG_PASSWORD_REQUIRE_SYMBOL,
	CFG_SESSION_IDLE_TIMEOUT,
	CFG_SESSION_ABSOLUTE_TIMEOUT,
	CFG_SESSION_SINGLE,
	CFG_TOKEN_MAX_LIFETIME,
	CFG_LIMITS_API_PER_SECOND,
	CFG_LIMITS_API_BURST,
	CFG_LIMITS_LOGIN_PER_MINUTE,
	CFG_LIMITS_LOGIN_BURST,
	CFG_ABUSE_FAIL_THRESHOLD,
	CFG_ABUSE_FAIL_WINDOW,
	CFG_ABUSE_PROBE_THRESHOLD,
	CFG_ABUSE_PROBE_WINDOW,
	CFG_ABUSE_BLOCK_DURATION,
	CFG_DEVICES_LISTEN,
	CFG_DEVICES_MAX_CONNECTIONS,
	CFG_DEVICES_MAX_PACKET,
	CFG_DEVICES_HANDSHAKE_TIMEOUT,
	CFG_DEVICES_IDLE_TIMEOUT,
	CFG_DEVICES_CLOCK_DRIFT,
	CFG_DEVICES_ENROLL_TTL,
	CFG_JOBS_AUDIT_VERIFY,
	CFG_JOBS_RETENTION,
	CFG_RETENTION_EVENTS_PERSONAL,
	CFG_RETENTION_EVENTS_SYSTEM,
	CFG_RETENTION_AUDIT,
	CFG_RETENTION_BATCH,
	CFG_JOBS_BACKUP_FULL,
	CFG_JOBS_BACKUP_EVENTS,
	CFG_BACKUP_DESTINATIONS,
	CFG_BACKUP_RETENTION,
	CFG_BACKUP_COMPRESSION_LEVEL,
	CFG_JOBS_ALERT_RULES,
	CFG_JOBS_ALERTS_DELIVER,
	CFG_ALERTS_TERMINAL_OFFLINE,
	CFG_ALERTS_DISK_MIN_FREE,
	CFG_ALERTS_CERT_EXPIRY_WARNING,
	CFG_ALERTS_BACKUP_OVERDUE,
	CFG_ALERTS_BACKUP_EVENTS_OVERDUE,
	CFG_ALERTS_BLOCK_THRESHOLD,
	CFG_ALERTS_BLOCK_WINDOW,
	CFG_ALERTS_EMAIL_MIN_SEVERITY,
	CFG_ALERTS_WEBHOOK_MIN_SEVERITY,
	CFG_SMTP_RELAY,
	CFG_SMTP_PORT,
	CFG_SMTP_TLS,
	CFG_SMTP_TLS_VERIFY,
	CFG_SMTP_CA_FILE,
	CFG_SMTP_FROM,
	CFG_SMTP_TO,
	CFG_SMTP_USERNAME,
	CFG_SMTP_PASSWORD_FILE,
	CFG_SMTP_TIMEOUT,
	CFG_WEBHOOK_URLS,
	CFG_WEBHOOK_SECRET_FILE,
	CFG_WEBHOOK_CA_FILE,
	CFG_WEBHOOK_TIMEOUT,
	CFG_JOBS_SYNC,
	CFG_SYNC_ALERT_AFTER,
	CFG_SYNC_RETRY_MAX,
	CFG_SYNC_TIMEOUT,
	CFG_SYNC_PAIRING_TTL,
	CFG_SYNC_BATCH,
	CFG__COUNT
};

enum config_type {
	CT_STRING,   /* any text, may be empty */
	CT_PATH,     /* a file system path; empty means "derived from the state dir" */
	CT_INT,      /* a decimal integer within [min, max] */
	CT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	CT_DURATION, /* number with unit ms, s, m, h or d; stored in milliseconds */
	CT_SIZE,     /* bytes, or a number with K, M or G (powers of 1024) */
	CT_ENUM,     /* one of the words in .choices */
	CT_LISTEN,   /* comma-separated host:port, numeric IPv4 or [IPv6] */
	CT_SCHEDULE, /* a job schedule: "every 30s", "cron M H DOM MON DOW", "off" */
};

struct config_desc {
	const char *key;
	enum config_type type;
	const char *def;     /* default, in the file's syntax */
	long long min, max;  /* bounds for INT, DURATION (ms) and SIZE (bytes) */
	const char *choices; /* ENUM: words separated by '|' */
	const char *help;
};

struct config {
	char *text[CFG__COUNT];     /* the value as written */
	long long num[CFG__COUNT];  /* INT, BOOL, DURATION (ms), SIZE (bytes) */
	int line[CFG__COUNT];       /* line it was set on, 0 for default, -1 for --set */
};

extern const struct config_desc config_table[CFG__COUNT];

/* The process-wide configuration read by the accessors below. */
extern struct config *config_global;

int config_init(struct config *c);          /* defaults; 0 or -1 on ENOMEM */
void config_free(struct config *c);
/* Parse a whole file's text. Returns 0, or -1 with "origin:line: reason" in err. */
int config_parse_text(struct config *c, const char *text, size_t len, const char *origin,
		      char *err, size_t errlen);
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* Apply one "key=value" override (from --set). */
int config_set(struct config *c, const char *assignment, char *err, size_t errlen);
/* Find a key's index, or -1. */
int config_find(const char *key);
/* Check one value against a descriptor; on success fills *num. */
int config_check_value(const struct config_desc *d, const char *value, long long *num,
		       char *why, size_t whylen);

/* The documented default file: every key, its help text and its default. */
void config_write_defaults(FILE *out);
/* The effective configuration, one "key = value" per line. */
void config_write_effective(const struct config *c, FILE *out);

/* Where a key's value in config_global came from (before any change made
 * while running): "default", "file" or "command line". */
const char *config_origin(enum config_key k);

/* Change a key of config_global while the program runs, after checking the
 * value like the file's: 0, or -1 with the reason in why. Readers on other
 * threads see the old or the new value, never a freed one: replaced texts
 * are kept until exit (a change is an admin's act, so they are few). */
int config_set_live(enum config_key k, const char *value, char *why, size_t whylen);

const char *cfg_str(enum config_key k);
long long cfg_int(enum config_key k);

#endif
