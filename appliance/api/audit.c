/* /api/v1/audit: reading the audit log and checking its chain. Auditors
 * and tenant admins see their tenant's entries; system admins see all (or
 * one tenant's, with X-Tenant). */
#include "api.h"

#include "domain/admins.h"
#include "domain/audit.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-11-26T08:00:00Z", "2026-11-26" or Unix seconds -> Unix ms; -1 if bad. */
static long long parse_time(const char *s)
{
	struct tm tm;
	char *end;

	if (!s || !*s)
		return 0;
	if (strspn(s, "0123456789") == strlen(s))
		return strtoll(s, &end, 10) * 1000;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof tm);
		end = strptime(s, "%Y-%m-%d", &tm);
		if (!end || *end)
			return -1;
	}
	return (long long)timegm(&tm) * 1000;
}

void api_audit_list(struct http_req *req)
{
	char from[40], to[40], actor[80], action[80], target[80], cursor[24];
	struct audit_filter f = {0};
	struct jv v;
	cJSON *items;
	int64_t next = 0;

	jv_init(&v, NULL);
	f.tenant = req->auth.role == ROLE_SYSTEM_ADMIN && !req->auth.tenant ? -1 : req->auth.tenant;
	f.from_ms = parse_time(api_query_str(req, "from", from, sizeof from));
	f.to_ms = parse_time(api_query_str(req, "to", to, sizeof to));
	if (f.from_ms < 0)
		jv_error(&v, "from", "must be a date (2026-11-26), a UTC time (2026-11-26T08:00:00Z) or Unix seconds");
	if (f.to_ms < 0)
		jv_error(&v, "to", "must be a date (2026-11-26), a UTC time (2026-11-26T08:00:00Z) or Unix seconds");
	f.actor = api_query_str(req, "actor", actor, sizeof actor);
	f.action = api_query_str(req, "action", action, sizeof action);
	f.target = api_query_str(req, "target", target, sizeof target);
	if (api_query_str(req, "cursor", cursor, sizeof cursor)) {
		char *end;
		f.cursor = strtoll(cursor, &end, 10);
		if (*end || f.cursor < 0)
			jv_error(&v, "cursor", "must be a cursor returned by a previous page");
	}
	f.limit = (int)api_query_int(req, "limit", 1, 500, 100);
	if (jv_finish(&v, req) < 0)
		return;
	items = cJSON_CreateArray();
	if (audit_list(&f, items, &next) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}

void api_audit_verify(struct http_req *req)
{
	struct audit_report r;
	cJSON *doc;

	if (audit_verify(NULL, &r) < 0)
		return api_db_error(req);
	doc = cJSON_CreateObject();
	cJSON_AddBoolToObject(doc, "ok", r.ok);
	cJSON_AddNumberToObject(doc, "entries", (double)r.entries);
	cJSON_AddNumberToObject(doc, "signed_heads", (double)r.anchors);
	cJSON_AddNumberToObject(doc, "unsigned_tail", (double)r.unsigned_tail);
	if (!r.ok) {
		cJSON *bad = cJSON_AddObjectToObject(doc, "first_bad");
		cJSON_AddNumberToObject(bad, "id", (double)r.first_bad_id);
		cJSON_AddStringToObject(bad, "uid", r.first_bad_uid);
		cJSON_AddStringToObject(bad, "reason", r.reason);
	}
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}
