/* /api/v1/tokens: API tokens for integrations, per tenant. */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "domain/sessions.h"
#include "web/http.h"
#include "web/json.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Tokens belong to a tenant: a system admin names it with X-Tenant. */
static int need_tenant(struct http_req *req)
{
	if (req->auth.tenant)
		return 0;
	http_error(req, 400, "tenant_required", "choose the tenant with the X-Tenant header");
	return -1;
}

void api_tokens_list(struct http_req *req)
{
	cJSON *items;

	if (need_tenant(req) < 0)
		return;
	items = cJSON_CreateArray();
	if (api_token_list(req->auth.tenant, items) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, 0);
}

void api_tokens_create(struct http_req *req)
{
	const char *name, *scope;
	char secret[API_TOKEN_LEN], target[32], when[32];
	long long days, max_days = cfg_int(CFG_TOKEN_MAX_LIFETIME) / 86400000;
	int64_t id;
	time_t expires;
	struct tm tm;
	struct jv v;
	cJSON *doc, *details;

	if (need_tenant(req) < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	name = jv_string(&v, "name", 1, 1, 100);
	scope = jv_enum(&v, "scope", 1, "read|operate|manage");
	days = jv_int(&v, "expires_in_days", 0, 1, max_days, max_days < 90 ? max_days : 90);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	expires = time(NULL) + (time_t)days * 86400;
	if (db_begin() < 0)
		return api_db_error(req);
	if (api_token_create(req->auth.tenant, name, scope, (long long)expires, req->auth.admin_id, secret, &id) < 0) {
		db_rollback();
		return api_db_error(req);
	}
	snprintf(target, sizeof target, "token:%lld", (long long)id);
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "name", name);
	cJSON_AddStringToObject(details, "scope", scope);
	cJSON_AddNumberToObject(details, "expires_in_days", (double)days);
	if (api_audit(req, "token.create", target, "ok", details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		return api_db_error(req);
	}
	cJSON_Delete(details);
	gmtime_r(&expires, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "id", (double)id);
	cJSON_AddStringToObject(doc, "name", name);
	cJSON_AddStringToObject(doc, "scope", scope);
	cJSON_AddStringToObject(doc, "expires_at", when);
	/* The only time the token is ever shown. */
	cJSON_AddStringToObject(doc, "token", secret);
	http_reply_json(req, 201, doc);
	cJSON_Delete(doc);
	sodium_memzero(secret, sizeof secret);
}

void api_tokens_revoke(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	char target[32];
	int rc;

	if (id < 0 || need_tenant(req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = api_token_revoke(req->auth.tenant, id);
	if (rc != 0) {
		db_rollback();
		if (rc > 0)
			http_error(req, 404, "not_found", "no such live token");
		else
			api_db_error(req);
		return;
	}
	snprintf(target, sizeof target, "token:%lld", (long long)id);
	if (api_audit(req, "token.revoke", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}
