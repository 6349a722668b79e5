#include "settings.h"

#include "core/isotime.h"
#include "core/db.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys the console may change. Each is read where it is used (cfg_str /
 * cfg_int at the moment of use, or the scheduler told by the caller), so a
 * change applies at once. Not here: listeners, certificates and other
 * paths, files that hold secrets (smtp.password_file, webhook.secret_file:
 * a secret is not typed into a browser), and limits or timeouts read once
 * at start (rate limits, devices.*, web.*). */
static const enum config_key editable[] = {
	CFG_PASSWORD_MIN_LENGTH, CFG_PASSWORD_REQUIRE_UPPER, CFG_PASSWORD_REQUIRE_LOWER, CFG_PASSWORD_REQUIRE_DIGIT,
	CFG_PASSWORD_REQUIRE_SYMBOL, CFG_AUTH_LOCKOUT_THRESHOLD, CFG_AUTH_LOCKOUT_DURATION, CFG_AUTH_REQUIRE_TOTP, CFG_SESSION_IDLE_TIMEOUT,
	CFG_SESSION_ABSOLUTE_TIMEOUT, CFG_SESSION_SINGLE, CFG_TOKEN_MAX_LIFETIME,
	CFG_RETENTION_EVENTS_PERSONAL, CFG_RETENTION_EVENTS_SYSTEM, CFG_RETENTION_AUDIT, CFG_JOBS_RETENTION,
	CFG_JOBS_AUDIT_VERIFY, CFG_JOBS_BACKUP_FULL, CFG_JOBS_BACKUP_EVENTS, CFG_BACKUP_RETENTION,
	CFG_BACKUP_COMPRESSION_LEVEL, CFG_ALERTS_BACKUP_OVERDUE, CFG_ALERTS_BACKUP_EVENTS_OVERDUE,
	CFG_ALERTS_TERMINAL_OFFLINE, CFG_ALERTS_DISK_MIN_FREE, CFG_ALERTS_CERT_EXPIRY_WARNING,
	CFG_ALERTS_BLOCK_THRESHOLD, CFG_ALERTS_BLOCK_WINDOW, CFG_ALERTS_EMAIL_MIN_SEVERITY,
	CFG_ALERTS_WEBHOOK_MIN_SEVERITY, CFG_JOBS_ALERT_RULES, CFG_JOBS_ALERTS_DELIVER,
	CFG_SMTP_RELAY, CFG_SMTP_PORT, CFG_SMTP_TLS, CFG_SMTP_TLS_VERIFY, CFG_SMTP_FROM, CFG_SMTP_TO,
	CFG_SMTP_USERNAME, CFG_SMTP_TIMEOUT, CFG_WEBHOOK_URLS, CFG_WEBHOOK_TIMEOUT,
};

/* The value before any change from here (file or default), to go back to. */
static char *base[CFG__COUNT];

static int listed(enum config_key k)
{
	for (size_t i = 0; i < sizeof editable / sizeof editable[0]; i++)
		if (editable[i] == k)
			return 1;
	return 0;
}

int settings_editable(enum config_key k, const char **why)
{
	if (!listed(k)) {
		*why = "it changes only in the configuration file (then restart the service)";
		return 0;
	}
	if (strcmp(config_origin(k), "command line") == 0) {
		*why = "it is set on the command line (--set), which wins over a change made here";
		return 0;
	}
	return 1;
}

int settings_load(char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	for (size_t i = 0; i < sizeof editable / sizeof editable[0]; i++) {
		free(base[editable[i]]);
		if (!(base[editable[i]] = strdup(cfg_str(editable[i])))) {
			snprintf(err, errlen, "settings: out of memory");
			return -1;
		}
	}
	if (!(st = db_stmt("SELECT key, value FROM settings ORDER BY key"))) {
		snprintf(err, errlen, "settings: cannot read them");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0), *value = (const char *)sqlite3_column_text(st, 1);
		int k = config_find(key);
		const char *why_not;
		char why[256];
		if (k < 0 || !settings_editable((enum config_key)k, &why_not)) {
			if (k < 0 || !listed((enum config_key)k))
				log_warn("settings: %s, changed in the console, is not a key this version lets the console change: ignored",
					    key);
			continue; /* --set wins, quietly: that is its point */
		}
		if (config_set_live((enum config_key)k, value, why, sizeof why) < 0)
			log_warn("settings: %s = %s, changed in the console, is refused by this version (%s): the file's value stays",
				    key, value, why);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "settings: cannot read them");
		return -1;
	}
	return 0;
}

int settings_put(enum config_key k, const char *value, const char *actor, char *why, size_t whylen)
{
	const char *not;
	long long num;
	sqlite3_stmt *st;

	if (!settings_editable(k, &not)) {
		snprintf(why, whylen, "%s", not);
		return -2;
	}
	if (config_check_value(&config_table[k], value, &num, why, whylen) < 0)
		return -1;
	/* Stored first: a change that is not kept is not applied either. */
	if (!(st = db_stmt("INSERT INTO settings (key, value, changed_by, changed_at) VALUES (?1, ?2, ?3, unixepoch()) "
			   "ON CONFLICT (key) DO UPDATE SET value = ?2, changed_by = ?3, changed_at = unixepoch()")))
		return -3;
	sqlite3_bind_text(st, 1, config_table[k].key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -3;
	return config_set_live(k, value, why, whylen) < 0 ? -1 : 0;
}

int settings_reset(enum config_key k, char *why, size_t whylen)
{
	const char *not;
	sqlite3_stmt *st;

	if (!settings_editable(k, &not)) {
		snprintf(why, whylen, "%s", not);
		return -2;
	}
	if (!(st = db_stmt("DELETE FROM settings WHERE key = ?")))
		return -3;
	sqlite3_bind_text(st, 1, config_table[k].key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -3;
	if (base[k] && strcmp(base[k], cfg_str(k)) != 0 && config_set_live(k, base[k], why, whylen) < 0)
		return -3;
	return 0;
}

void settings_describe(enum config_key k, cJSON *o)
{
	const char *why;
	int editable_now = settings_editable(k, &why);
	sqlite3_stmt *st = editable_now ? db_stmt("SELECT s.changed_by, s.changed_at, a.username FROM settings s "
						  "LEFT JOIN admins a ON s.changed_by = 'admin:' || a.id WHERE s.key = ?")
					: NULL;
	int changed_here = 0;

	if (st) {
		sqlite3_bind_text(st, 1, config_table[k].key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			changed_here = 1;
			cJSON_AddStringToObject(o, "changed_by", (const char *)sqlite3_column_text(st, 0));
			json_add_utc_column(o, "changed_at", st, 1, 0);
			if (sqlite3_column_type(st, 2) == SQLITE_TEXT) /* the account may be gone since */
				cJSON_AddStringToObject(o, "changed_by_username", (const char *)sqlite3_column_text(st, 2));
		}
		sqlite3_reset(st);
	}
	cJSON_AddStringToObject(o, "source", changed_here ? "console" : config_origin(k));
	cJSON_AddBoolToObject(o, "editable", editable_now);
	if (!editable_now)
		cJSON_AddStringToObject(o, "why_not_editable", why);
}
