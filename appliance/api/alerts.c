/* /api/v1/alerts: alerts as portal notices: list (filters: state, severity,
 * kind), one alert, acknowledge, resolve, its deliveries per channel, and
 * a synchronous test of a channel for the console's settings page.
 *
 * Scope: system admins see every alert, or one tenant's with X-Tenant;
 * every other role sees its own tenant's alerts only (the appliance's own
 * alerts, about jobs, disk, certificates and blocked addresses, are the
 * system admins' business). Acknowledging and resolving are for admins
 * and operators, and audited. */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "domain/admins.h"
#include "domain/alerts.h"
#include "notify/notify.h"
#include "web/http.h"
#include "web/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* -1: everything (a system admin without X-Tenant). */
static int64_t scope(const struct http_req *req)
{
	return req->auth.role == ROLE_SYSTEM_ADMIN && !req->auth.tenant ? -1 : req->auth.tenant;
}

void api_alerts_list(struct http_req *req)
{
	char state[16], severity[12], kind[64], cursor[24];
	struct alert_filter f = {0};
	struct jv v;
	int64_t next;
	cJSON *items;

	jv_init(&v, NULL);
	f.tenant = scope(req);
	f.state = api_query_str(req, "state", state, sizeof state);
	if (f.state && strcmp(f.state, "open") && strcmp(f.state, "acknowledged") && strcmp(f.state, "resolved") &&
	    strcmp(f.state, "unresolved"))
		jv_error(&v, "state", "must be open, acknowledged, unresolved or resolved");
	f.severity = api_query_str(req, "severity", severity, sizeof severity);
	if (f.severity && alert_severity_rank(f.severity) < 0)
		jv_error(&v, "severity", "must be info, warning or critical (that or more severe)");
	f.kind = api_query_str(req, "kind", kind, sizeof kind);
	if (f.kind && !*f.kind)
		f.kind = NULL;
	if (api_query_str(req, "cursor", cursor, sizeof cursor) && *cursor) {
		char *end;
		f.cursor = strtoll(cursor, &end, 10);
		if (*end || f.cursor < 1)
			jv_error(&v, "cursor", "must be a cursor returned by a previous page");
	}
	f.limit = (int)api_query_int(req, "limit", 1, 500, 50);
	if (jv_finish(&v, req) < 0)
		return;
	items = cJSON_CreateArray();
	if (alert_list(&f, items, &next) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}

void api_alerts_get(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	cJSON *a;

	if (id < 0)
		return;
	a = alert_get(scope(req), id);
	if (!a)
		return http_error(req, 404, "not_found", "no such alert");
	http_reply_json(req, 200, a);
	cJSON_Delete(a);
}

/* Acknowledge or resolve: the change and its audit entry commit together. */
static void change(struct http_req *req, int resolve)
{
	int64_t id = api_id_param(req, 0);
	const char *note = NULL;
	char target[32];
	struct jv v;
	cJSON *a, *d;
	int rc;

	if (id < 0)
		return;
	if (resolve) {
		if (http_read_body(req) < 0)
			return;
		if (req->body_len) {
			if (http_read_json(req) < 0)
				return;
			jv_init(&v, req->json);
			note = jv_string(&v, "note", 0, 0, 500);
			jv_no_others(&v);
			if (jv_finish(&v, req) < 0)
				return;
		}
	}
	if (db_begin() < 0)
		return api_db_error(req);
	rc = resolve ? alert_resolve(scope(req), id, req->auth.actor, note)
		     : alert_acknowledge(scope(req), id, req->auth.admin_id);
	snprintf(target, sizeof target, "alert:%lld", (long long)id);
	d = cJSON_CreateObject();
	if (note)
		cJSON_AddStringToObject(d, "note", note);
	if (rc == 0 && (api_audit(req, resolve ? "alert.resolve" : "alert.acknowledge", target, "ok", d) < 0 ||
			db_commit() < 0))
		rc = -1;
	cJSON_Delete(d);
	if (rc != 0)
		db_rollback();
	if (rc == 1)
		return http_error(req, 404, "not_found", "no such alert");
	if (rc == 2)
		return http_error(req, 409, "conflict", resolve ? "the alert is resolved already"
							   : "the alert is acknowledged or resolved already");
	if (rc < 0)
		return api_db_error(req);
	a = alert_get(scope(req), id);
	if (!a)
		return api_db_error(req);
	http_reply_json(req, 200, a);
	cJSON_Delete(a);
}

void api_alerts_acknowledge(struct http_req *req) { change(req, 0); }
void api_alerts_resolve(struct http_req *req) { change(req, 1); }

void api_alerts_deliveries(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	cJSON *items;

	if (id < 0)
		return;
	items = alert_deliveries(scope(req), id);
	if (!items)
		return http_error(req, 404, "not_found", "no such alert");
	api_reply_page(req, items, 0);
}

/* A test notice that is not stored: the settings page's "send a test". */
static cJSON *test_alert(const struct http_req *req)
{
	cJSON *a = cJSON_CreateObject(), *d = cJSON_CreateObject();
	char when[32], subject[200];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(subject, sizeof subject, "Test notice from Gatehouse (sent by %s)", req->auth.username);
	cJSON_AddNumberToObject(a, "id", 0);
	cJSON_AddStringToObject(a, "kind", "test");
	cJSON_AddStringToObject(a, "severity", "info");
	cJSON_AddNullToObject(a, "tenant_id");
	cJSON_AddStringToObject(a, "subject", subject);
	cJSON_AddStringToObject(a, "created_at", when);
	cJSON_AddStringToObject(d, "requested_by", req->auth.actor);
	cJSON_AddItemToObject(a, "details", d);
	return a;
}

static void add_result(cJSON *results, const char *channel, const char *target, int ok, const char *error, long long ms)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "channel", channel);
	cJSON_AddStringToObject(r, "target", target);
	cJSON_AddBoolToObject(r, "ok", ok);
	if (ok)
		cJSON_AddNullToObject(r, "error");
	else
		cJSON_AddStringToObject(r, "error", error);
	cJSON_AddNumberToObject(r, "duration_ms", (double)ms);
	cJSON_AddItemToArray(results, r);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each webhook URL in turn; none configured is a 400 on channel. */
static int test_webhooks(const cJSON *alert, cJSON *results)
{
	char list[4096], *save, *url, channel[24], delivery[40], err[600];
	unsigned char rnd[8];
	int n = 0;

	snprintf(list, sizeof list, "%s", cfg_str(CFG_WEBHOOK_URLS));
	for (url = strtok_r(list, ", \t", &save); url; url = strtok_r(NULL, ", \t", &save)) {
		long long t0 = mono_ms();
		snprintf(channel, sizeof channel, "webhook:%d", ++n);
		randombytes_buf(rnd, sizeof rnd);
		snprintf(delivery, sizeof delivery, "test-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
			 rnd[4], rnd[5], rnd[6], rnd[7]);
		int ok = notify_send(alert, "raised", channel, url, delivery, err, sizeof err) == 0;
		add_result(results, channel, url, ok, err, mono_ms() - t0);
	}
	return n;
}

void api_alerts_test(struct http_req *req)
{
	const char *channel;
	char err[600];
	struct jv v;
	cJSON *alert, *doc, *results, *d;
	int all_ok = 1;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	channel = jv_enum(&v, "channel", 1, "email|webhook");
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (strcmp(channel, "email") == 0 && !*cfg_str(CFG_SMTP_RELAY))
		return http_field_error(req, "channel", "e-mail is not configured (smtp.relay)");
	if (strcmp(channel, "webhook") == 0 && !*cfg_str(CFG_WEBHOOK_URLS))
		return http_field_error(req, "channel", "no webhook is configured (webhook.urls)");
	alert = test_alert(req);
	results = cJSON_CreateArray();
	if (strcmp(channel, "email") == 0) {
		long long t0 = mono_ms();
		int ok = notify_send(alert, "raised", "email", cfg_str(CFG_SMTP_TO), "test", err, sizeof err) == 0;
		add_result(results, "email", cfg_str(CFG_SMTP_TO), ok, err, mono_ms() - t0);
	} else {
		test_webhooks(alert, results);
	}
	cJSON_Delete(alert);
	for (cJSON *r = results->child; r; r = r->next)
		all_ok &= cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"));
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "channel", channel);
	cJSON_AddItemToObject(d, "results", cJSON_Duplicate(results, 1));
	api_audit(req, "alert.test", channel, all_ok ? "ok" : "failed", d);
	cJSON_Delete(d);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "channel", channel);
	cJSON_AddBoolToObject(doc, "ok", all_ok);
	cJSON_AddItemToObject(doc, "results", results);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}
