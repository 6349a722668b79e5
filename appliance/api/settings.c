/* The appliance's configuration as the console shows and changes it:
 *
 *   GET    /api/v1/settings        the effective non-secret configuration,
 *                                  each key with its source and whether it
 *                                  may be changed here
 *   PUT    /api/v1/settings/{key}  change one (system admins; audited)
 *   DELETE /api/v1/settings/{key}  back to the file's value
 *
 * Which keys may change here, and how a change is kept, is
 * domain/settings.c. Secrets never leave: the SMTP password file and the
 * webhook secret file are reported only as configured or not, and a
 * webhook URL's user info and query are masked, in answers and in the
 * audit log alike. */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "domain/admins.h"
#include "domain/settings.h"
#include "jobs/scheduler.h"
#include "notify/notify.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(enum config_type t)
{
	static const char *const names[] = {"string", "path", "int", "bool", "duration", "size", "enum", "listen",
					    "schedule"};
	return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "string";
}

/* --- GET /api/v1/settings ---------------------------------------------------------------------- */

struct shown {
	enum config_key key;
	const char *section;
};

/* What the console shows, by section. The login part is what tenant
 * admins may read too. */
static const struct shown shown[] = {
	{CFG_PASSWORD_MIN_LENGTH, "login"},
	{CFG_PASSWORD_REQUIRE_UPPER, "login"},
	{CFG_PASSWORD_REQUIRE_LOWER, "login"},
	{CFG_PASSWORD_REQUIRE_DIGIT, "login"},
	{CFG_PASSWORD_REQUIRE_SYMBOL, "login"},
	{CFG_AUTH_LOCKOUT_THRESHOLD, "login"},
	{CFG_AUTH_LOCKOUT_DURATION, "login"},
	{CFG_AUTH_REQUIRE_TOTP, "login"},
	{CFG_SESSION_IDLE_TIMEOUT, "login"},
	{CFG_SESSION_ABSOLUTE_TIMEOUT, "login"},
	{CFG_SESSION_SINGLE, "login"},
	{CFG_TOKEN_MAX_LIFETIME, "login"},
	{CFG_LIMITS_LOGIN_PER_MINUTE, "abuse"},
	{CFG_LIMITS_LOGIN_BURST, "abuse"},
	{CFG_LIMITS_API_PER_SECOND, "abuse"},
	{CFG_LIMITS_API_BURST, "abuse"},
	{CFG_ABUSE_FAIL_THRESHOLD, "abuse"},
	{CFG_ABUSE_FAIL_WINDOW, "abuse"},
	{CFG_ABUSE_PROBE_THRESHOLD, "abuse"},
	{CFG_ABUSE_PROBE_WINDOW, "abuse"},
	{CFG_ABUSE_BLOCK_DURATION, "abuse"},
	{CFG_RETENTION_EVENTS_PERSONAL, "retention"},
	{CFG_RETENTION_EVENTS_SYSTEM, "retention"},
	{CFG_RETENTION_AUDIT, "retention"},
	{CFG_JOBS_RETENTION, "retention"},
	{CFG_JOBS_AUDIT_VERIFY, "retention"},
	{CFG_JOBS_BACKUP_FULL, "backup"},
	{CFG_JOBS_BACKUP_EVENTS, "backup"},
	{CFG_BACKUP_DESTINATIONS, "backup"},
	{CFG_BACKUP_RETENTION, "backup"},
	{CFG_BACKUP_COMPRESSION_LEVEL, "backup"},
	{CFG_ALERTS_BACKUP_OVERDUE, "backup"},
	{CFG_ALERTS_BACKUP_EVENTS_OVERDUE, "backup"},
	{CFG_ALERTS_TERMINAL_OFFLINE, "alerts"},
	{CFG_ALERTS_DISK_MIN_FREE, "alerts"},
	{CFG_ALERTS_CERT_EXPIRY_WARNING, "alerts"},
	{CFG_ALERTS_BLOCK_THRESHOLD, "alerts"},
	{CFG_ALERTS_BLOCK_WINDOW, "alerts"},
	{CFG_ALERTS_EMAIL_MIN_SEVERITY, "alerts"},
	{CFG_ALERTS_WEBHOOK_MIN_SEVERITY, "alerts"},
	{CFG_JOBS_ALERT_RULES, "alerts"},
	{CFG_JOBS_ALERTS_DELIVER, "alerts"},
	{CFG_SMTP_RELAY, "smtp"},
	{CFG_SMTP_PORT, "smtp"},
	{CFG_SMTP_TLS, "smtp"},
	{CFG_SMTP_TLS_VERIFY, "smtp"},
	{CFG_SMTP_CA_FILE, "smtp"},
	{CFG_SMTP_FROM, "smtp"},
	{CFG_SMTP_TO, "smtp"},
	{CFG_SMTP_USERNAME, "smtp"},
	{CFG_SMTP_TIMEOUT, "smtp"},
	{CFG_WEBHOOK_URLS, "webhook"},
	{CFG_WEBHOOK_CA_FILE, "webhook"},
	{CFG_WEBHOOK_TIMEOUT, "webhook"},
	{CFG_DEVICES_LISTEN, "network"},
	{CFG_DEVICES_ENROLL_TTL, "network"},
	{CFG_DEVICES_CLOCK_DRIFT, "network"},
	{CFG_WEB_LISTEN, "network"},
	{CFG_WEB_NAMES, "network"},
	{CFG_WEB_TLS_CERT, "network"},
	{CFG_WEB_TLS_KEY, "network"},
};

/* Keys whose value is a secret (or names one): only whether they are set. */
static const struct shown secret[] = {
	{CFG_SMTP_PASSWORD_FILE, "smtp"},
	{CFG_WEBHOOK_SECRET_FILE, "webhook"},
};

/* One webhook URL with its user info and query replaced by "***". */
/* One webhook URL with its user info and query replaced by "***". */
static void mask_url(const char *in, size_t n, char *out, size_t len)
{
	char url[1024];
	const char *scheme, *at, *q, *host;
	size_t o = 0;

	if (n >= sizeof url)
		n = sizeof url - 1;
	memcpy(url, in, n);
	url[n] = '\0';
	scheme = strstr(url, "://");
	host = scheme ? scheme + 3 : url;
	q = strpbrk(host, "?#");
	at = strchr(host, '@');
	if (at && (!q || at < q) && (!strchr(host, '/') || at < strchr(host, '/'))) {
		o = (size_t)snprintf(out, len, "%.*s***@", (int)(host - url), url);
		host = at + 1;
	} else {
		o = (size_t)snprintf(out, len, "%.*s", (int)(host - url), url);
	}
	if (o < len)
		snprintf(out + o, len - o, "%.*s%s", (int)(q ? (size_t)(q - host) : strlen(host)), host, q ? "?***" : "");
}

static char *masked_urls(const char *list)
{
	size_t cap = strlen(list) * 2 + 64, o = 0;
	char *out = malloc(cap);
	const char *p = list;

	if (!out)
		return NULL;
	out[0] = '\0';
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char one[1100];
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n) {
			mask_url(p, n, one, sizeof one);
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", one);
			if (o >= cap)
				break;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return out;
}

static cJSON *setting(const struct shown *s, const char *value)
{
	const struct config_desc *d = &config_table[s->key];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "key", d->key);
	cJSON_AddStringToObject(o, "section", s->section);
	if (value)
		cJSON_AddStringToObject(o, "value", value);
	else
		cJSON_AddNullToObject(o, "value");
	cJSON_AddStringToObject(o, "default", d->def);
	cJSON_AddBoolToObject(o, "changed", strcmp(cfg_str(s->key), d->def) != 0);
	cJSON_AddStringToObject(o, "type", type_name(d->type));
	if (d->type == CT_ENUM)
		cJSON_AddStringToObject(o, "choices", d->choices);
	settings_describe(s->key, o);
	return o;
}


/* A value as it may be shown: webhook URLs masked. Free it. */
static char *shown_value(enum config_key k, const char *value)
{
	return k == CFG_WEBHOOK_URLS ? masked_urls(value) : strdup(value);
}

static cJSON *shown_setting(const struct shown *s)
{
	char *v = shown_value(s->key, cfg_str(s->key));
	cJSON *o = setting(s, v ? v : "");

	free(v);
	return o;
}

/* The key of /settings/{key} among those shown, or NULL (404 sent). */
static const struct shown *find_shown(struct http_req *req)
{
	const char *key = req->match.params[0];

	for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
		if (strcmp(config_table[shown[i].key].key, key) == 0)
			return &shown[i];
	http_error(req, 404, "not_found", "no such setting");
	return NULL;
}

static int audit_change(struct http_req *req, enum config_key k, const char *old, const char *new)
{
	cJSON *d = cJSON_CreateObject();
	char *o = shown_value(k, old), *n = shown_value(k, new);
	int rc;

	cJSON_AddStringToObject(d, "old", o ? o : "");
	cJSON_AddStringToObject(d, "new", n ? n : "");
	rc = api_audit(req, "settings.change", config_table[k].key, "ok", d);
	free(o);
	free(n);
	cJSON_Delete(d);
	return rc;
}

static int is_schedule(enum config_key k)
{
	return config_table[k].type == CT_SCHEDULE;
}

/* Change (value) or reset (NULL) one key in one transaction with its
 * audit entry; on any failure the value in use is put back. */
static void change(struct http_req *req, const struct shown *s, const char *value)
{
	enum config_key k = s->key;
	char why[300], *old = strdup(cfg_str(k));
	int rc;

	if (!old)
		return api_db_error(req);
	if (db_begin() < 0) {
		free(old);
		return api_db_error(req);
	}
	rc = value ? settings_put(k, value, req->auth.actor, why, sizeof why) : settings_reset(k, why, sizeof why);
	/* The start checks that the alert channels hang together (a relay
	 * needs a sender and recipients, a webhook its secret): a change that
	 * breaks that would stop the next start, so it is refused now. */
	if (rc == 0 && (!strcmp(s->section, "smtp") || !strcmp(s->section, "webhook")) &&
	    notify_check_config(why, sizeof why) < 0)
		rc = -4;
	if (rc == 0 && (audit_change(req, k, old, cfg_str(k)) < 0 || db_commit() < 0))
		rc = -3;
	if (rc != 0) {
		db_rollback();
		if (strcmp(old, cfg_str(k)) != 0)
			config_set_live(k, old, why, sizeof why);
	}
	free(old);
	if (rc == -1)
		return http_field_error(req, "value", why);
	if (rc == -4 && value) {
		char reason[400];
		snprintf(reason, sizeof reason, "not with the other settings as they are: %s", why);
		return http_field_error(req, "value", reason);
	}
	if (rc == -4)
		return http_error(req, 409, "inconsistent", "%s cannot go back to the file's value now: %s",
				  config_table[k].key, why);
	if (rc == -2)
		return http_error(req, 409, "not_editable", "%s cannot be changed here: %s", config_table[k].key, why);
	if (rc < 0)
		return api_db_error(req);
	if (is_schedule(k))
		scheduler_reschedule();
	cJSON *o = shown_setting(s);
	http_reply_json(req, 200, o);
	cJSON_Delete(o);
}

void api_settings_get(struct http_req *req)
{
	int sys = req->auth.role == ROLE_SYSTEM_ADMIN;
	cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, "settings");

	for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
		if (!sys && strcmp(shown[i].section, "login") != 0)
			continue;
		cJSON_AddItemToArray(list, shown_setting(&shown[i]));
	}
	cJSON *omitted = cJSON_AddArrayToObject(doc, "omitted");
	if (sys) {
		for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "key", config_table[secret[i].key].key);
			cJSON_AddStringToObject(o, "section", secret[i].section);
			cJSON_AddBoolToObject(o, "configured", *cfg_str(secret[i].key) != '\0');
			cJSON_AddItemToArray(omitted, o);
		}
	}
	cJSON_AddBoolToObject(doc, "partial", !sys);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

/* PUT {"value": "..."}: the value in the configuration file's syntax (one
 * line: a string field refuses control characters). */
void api_settings_put(struct http_req *req)
{
	const struct shown *s = find_shown(req);
	const char *value;
	struct jv v;

	if (!s || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	value = jv_string(&v, "value", 1, 0, 4000);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	change(req, s, value);
}

void api_settings_delete(struct http_req *req)
{
	const struct shown *s = find_shown(req);

	if (s)
		change(req, s, NULL);
}
