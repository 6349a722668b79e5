#include "notify.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "smtp.h"
#include "webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int notify_read_secret(const char *path, const char *key, char *out, size_t outlen, char *err, size_t errlen)
{
	struct stat sb;
	ssize_t n;
	int fd;

	if (!*path) {
		snprintf(err, errlen, "%s is not set", key);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open %s: %s", key, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
		close(fd);
		snprintf(err, errlen, "%s: %s must be a regular file with mode 0600 or stricter", key, path);
		return -1;
	}
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read %s", key, path);
		return -1;
	}
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (!*out) {
		sodium_memzero(out, outlen);
		snprintf(err, errlen, "%s: %s is empty", key, path);
		return -1;
	}
	return 0;
}

static int each_url(char *why, size_t whylen)
{
	char list[4096], *save, *url;

	snprintf(list, sizeof list, "%s", cfg_str(CFG_WEBHOOK_URLS));
	for (url = strtok_r(list, ", \t", &save); url; url = strtok_r(NULL, ", \t", &save)) {
		struct webhook_target t;
		char reason[120];
		if (webhook_parse_url(url, &t, reason, sizeof reason) < 0) {
			snprintf(why, whylen, "webhook.urls: '%.200s' %s", url, reason);
			return -1;
		}
	}
	return 0;
}

int notify_check_config(char *err, size_t errlen)
{
	char secret[512], list[2048], *save, *rcpt;
	int rc = 0;

	if (*cfg_str(CFG_SMTP_RELAY)) {
		if (!smtp_address_ok(cfg_str(CFG_SMTP_FROM))) {
			snprintf(err, errlen, "smtp.from must be an e-mail address when smtp.relay is set");
			return -1;
		}
		snprintf(list, sizeof list, "%s", cfg_str(CFG_SMTP_TO));
		int n = 0;
		for (rcpt = strtok_r(list, ", \t", &save); rcpt; rcpt = strtok_r(NULL, ", \t", &save), n++)
			if (!smtp_address_ok(rcpt)) {
				snprintf(err, errlen, "smtp.to: '%.100s' is not an e-mail address", rcpt);
				return -1;
			}
		if (!n) {
			snprintf(err, errlen, "smtp.to must name at least one recipient when smtp.relay is set");
			return -1;
		}
		if (*cfg_str(CFG_SMTP_USERNAME) &&
		    notify_read_secret(cfg_str(CFG_SMTP_PASSWORD_FILE), "smtp.password_file", secret, sizeof secret, err,
				       errlen) < 0)
			rc = -1;
		if (rc == 0 && *cfg_str(CFG_SMTP_USERNAME) && strcmp(cfg_str(CFG_SMTP_TLS), "none") == 0) {
			snprintf(err, errlen, "smtp.username is set but smtp.tls = none: the password is never sent in clear");
			rc = -1;
		}
	}
	if (rc == 0 && *cfg_str(CFG_WEBHOOK_URLS)) {
		if (each_url(err, errlen) < 0 ||
		    notify_read_secret(cfg_str(CFG_WEBHOOK_SECRET_FILE), "webhook.secret_file", secret, sizeof secret, err,
				       errlen) < 0)
			rc = -1;
	}
	sodium_memzero(secret, sizeof secret);
	return rc;
}

/* --- the notice's text ----------------------------------------------------------------- */

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(m) ? m->valuestring : "";
}

/* The tenant's slug, or NULL for the appliance's own alerts. */
static char *tenant_slug(const cJSON *alert)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(alert, "tenant_id");
	sqlite3_stmt *st;
	char *slug = NULL;

	if (!cJSON_IsNumber(t) || !(st = db_stmt("SELECT slug FROM tenants WHERE id = ?")))
		return NULL;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)t->valuedouble);
	if (sqlite3_step(st) == SQLITE_ROW)
		slug = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return slug;
}

int notify_mail_text(const cJSON *alert, const char *notice, char **subject, char **body)
{
	int resolved = strcmp(notice, "resolved") == 0;
	char *details = cJSON_Print(cJSON_GetObjectItemCaseSensitive(alert, "details"));
	char *slug = tenant_slug(alert);
	char sev[16];
	size_t len;

	snprintf(sev, sizeof sev, "%s", str(alert, "severity"));
	for (char *p = sev; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	len = strlen(str(alert, "subject")) + 64;
	*subject = malloc(len);
	len = strlen(str(alert, "subject")) * 2 + (details ? strlen(details) : 0) + strlen(str(alert, "resolution")) + 800;
	*body = malloc(len);
	if (!*subject || !*body) {
		free(*subject);
		free(*body);
		free(details);
		free(slug);
		return -1;
	}
	snprintf(*subject, strlen(str(alert, "subject")) + 64, "[Gatehouse] %s: %s", resolved ? "Resolved" : sev,
		 str(alert, "subject"));
	int n = snprintf(*body, len,
			 "%s%s\n\n"
			 "Kind:      %s\n"
			 "Severity:  %s\n"
			 "Tenant:    %s\n"
			 "Raised:    %s\n"
			 "Alert id:  %.0f\n",
			 resolved ? "Resolved: " : "", str(alert, "subject"), str(alert, "kind"), str(alert, "severity"),
			 slug ? slug : "(the appliance)", str(alert, "created_at"),
			 cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(alert, "id")));
	if (resolved)
		n += snprintf(*body + n, len - (size_t)n, "Resolved:  %s (%s)\n", str(alert, "resolved_at"),
			      str(alert, "resolution"));
	snprintf(*body + n, len - (size_t)n,
		 "\nDetails:\n%s\n\n"
		 "Acknowledge or resolve it in the Gatehouse console (Alerts), or with\n"
		 "POST /api/v1/alerts/%.0f/acknowledge.\n",
		 details ? details : "{}", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(alert, "id")));
	free(details);
	free(slug);
	return 0;
}

char *notify_webhook_body(const cJSON *alert, const char *notice)
{
	cJSON *doc = cJSON_CreateObject();
	char *slug = tenant_slug(alert), *text;

	cJSON_AddItemToObject(doc, "id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(alert, "id"), 1));
	cJSON_AddStringToObject(doc, "notice", notice);
	cJSON_AddStringToObject(doc, "kind", str(alert, "kind"));
	cJSON_AddStringToObject(doc, "severity", str(alert, "severity"));
	cJSON_AddStringToObject(doc, "subject", str(alert, "subject"));
	if (slug)
		cJSON_AddStringToObject(doc, "tenant", slug);
	else
		cJSON_AddNullToObject(doc, "tenant");
	cJSON_AddStringToObject(doc, "created_at", str(alert, "created_at"));
	cJSON_AddItemToObject(doc, "details", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(alert, "details"), 1));
	if (strcmp(notice, "resolved") == 0) {
		cJSON_AddStringToObject(doc, "resolved_at", str(alert, "resolved_at"));
		cJSON_AddStringToObject(doc, "resolution", str(alert, "resolution"));
	}
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	free(slug);
	return text;
}

/* --- sending --------------------------------------------------------------------------- */

static int send_mail(const cJSON *alert, const char *notice, const char *to, char *err, size_t errlen)
{
	char password[512] = "", helo[256] = "localhost", *subject, *body;
	const char *tls = cfg_str(CFG_SMTP_TLS);
	struct smtp_settings s = {
		.relay = cfg_str(CFG_SMTP_RELAY),
		.port = (int)cfg_int(CFG_SMTP_PORT),
		.tls = strcmp(tls, "tls") == 0 ? SMTP_TLS_IMPLICIT : strcmp(tls, "none") == 0 ? SMTP_TLS_NONE : SMTP_STARTTLS,
		.verify = (int)cfg_int(CFG_SMTP_TLS_VERIFY),
		.ca_file = cfg_str(CFG_SMTP_CA_FILE),
		.helo = helo,
		.from = cfg_str(CFG_SMTP_FROM),
		.to = to,
		.username = cfg_str(CFG_SMTP_USERNAME),
		.password = password,
		.timeout_ms = cfg_int(CFG_SMTP_TIMEOUT),
	};
	int rc;

	if (!*s.relay) {
		snprintf(err, errlen, "e-mail is not configured (smtp.relay is empty)");
		return -1;
	}
	gethostname(helo, sizeof helo - 1);
	if (!s.verify && s.tls != SMTP_TLS_NONE)
		log_warn("notify: smtp.tls_verify = no: the certificate of %s is not checked", s.relay);
	if (*s.username && notify_read_secret(cfg_str(CFG_SMTP_PASSWORD_FILE), "smtp.password_file", password,
					      sizeof password, err, errlen) < 0)
		return -1;
	if (notify_mail_text(alert, notice, &subject, &body) < 0) {
		sodium_memzero(password, sizeof password);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = smtp_send(&s, subject, body, err, errlen);
	sodium_memzero(password, sizeof password);
	free(subject);
	free(body);
	return rc;
}

/* A webhook delivery goes only to a URL that is still configured. */
static int configured_url(const char *url)
{
	char list[4096], *save, *u;

	snprintf(list, sizeof list, "%s", cfg_str(CFG_WEBHOOK_URLS));
	for (u = strtok_r(list, ", \t", &save); u; u = strtok_r(NULL, ", \t", &save))
		if (strcmp(u, url) == 0)
			return 1;
	return 0;
}

static int send_webhook(const cJSON *alert, const char *notice, const char *url, const char *delivery, char *err,
			size_t errlen)
{
	char secret[512], *body;
	struct webhook_settings s = {cfg_str(CFG_WEBHOOK_CA_FILE), cfg_int(CFG_WEBHOOK_TIMEOUT), NULL, 0};
	int rc, status;

	if (!configured_url(url)) {
		snprintf(err, errlen, "%s is no longer in webhook.urls", url);
		return -1;
	}
	if (notify_read_secret(cfg_str(CFG_WEBHOOK_SECRET_FILE), "webhook.secret_file", secret, sizeof secret, err,
			       errlen) < 0)
		return -1;
	body = notify_webhook_body(alert, notice);
	if (!body) {
		sodium_memzero(secret, sizeof secret);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s.secret = (const unsigned char *)secret;
	s.secretlen = strlen(secret);
	rc = webhook_post(&s, url, strcmp(notice, "resolved") == 0 ? "alert.resolved" : "alert", delivery, body, &status,
			  err, errlen);
	sodium_memzero(secret, sizeof secret);
	cJSON_free(body);
	return rc;
}

int notify_send(const cJSON *alert, const char *notice, const char *channel, const char *target,
		const char *delivery, char *err, size_t errlen)
{
	err[0] = '\0';
	if (strcmp(channel, "email") == 0)
		return send_mail(alert, notice, target, err, errlen);
	if (strncmp(channel, "webhook:", 8) == 0)
		return send_webhook(alert, notice, target, delivery, err, errlen);
	snprintf(err, errlen, "unknown channel %s", channel);
	return -1;
}
