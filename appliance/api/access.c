/* /api/v1/allowlist and /api/v1/blocks: where admins may log in from, and
 * the addresses blocked for abuse. */
#include "api.h"

#include "core/cidr.h"
#include "core/db.h"
#include "domain/admins.h"
#include "domain/allowlist.h"
#include "domain/blocks.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <string.h>

/* The list a request acts on: a tenant admin's own tenant's; a system
 * admin's, the tenant chosen with X-Tenant, or the system admins' list. */
static int64_t list_scope(struct http_req *req)
{
	return req->auth.tenant;
}

/* A change to the list the caller's own account is checked against that
 * leaves the caller's address outside it would lock them out at their next
 * request (and a recovery then needs the command line). */
static int locks_out_caller(struct http_req *req)
{
	return req->auth.admin_tenant == list_scope(req) && !allowlist_permits(list_scope(req), req->remote);
}

void api_allowlist_list(struct http_req *req)
{
	cJSON *items = cJSON_CreateArray();

	if (allowlist_list(list_scope(req), items) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, 0);
}

void api_allowlist_add(struct http_req *req)
{
	const char *cidr, *note;
	char why[200], target[40];
	int64_t id;
	struct jv v;
	cJSON *doc, *details;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	cidr = jv_string(&v, "cidr", 1, 2, 64);
	note = jv_string(&v, "note", 0, 0, 200);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	if (allowlist_add(list_scope(req), cidr, note, &id, why, sizeof why) < 0) {
		db_rollback();
		return http_field_error(req, "cidr", why);
	}
	if (locks_out_caller(req)) {
		db_rollback();
		return http_error(req, 409, "conflict",
				  "this list would not include your own address %s: you would be locked out. Add a "
				  "range that covers it first",
				  req->remote);
	}
	snprintf(target, sizeof target, "allowlist:%lld", (long long)id);
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "cidr", cidr);
	cJSON_AddNumberToObject(details, "scope", (double)list_scope(req));
	if (api_audit(req, "allowlist.add", target, "ok", details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		return api_db_error(req);
	}
	cJSON_Delete(details);
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "id", (double)id);
	{
		/* The range as stored: canonical, e.g. 2001:db8::/32. */
		struct cidr c;
		char canon[64];
		if (cidr_parse(cidr, &c, why, sizeof why) == 0)
			cidr_format(&c, canon, sizeof canon);
		else
			snprintf(canon, sizeof canon, "%s", cidr);
		cJSON_AddStringToObject(doc, "cidr", canon);
	}
	http_reply_json(req, 201, doc);
	cJSON_Delete(doc);
}

void api_allowlist_remove(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	char target[40];
	int rc;

	if (id < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = allowlist_remove(list_scope(req), id);
	snprintf(target, sizeof target, "allowlist:%lld", (long long)id);
	if (rc != 0) {
		db_rollback();
		return rc > 0 ? http_error(req, 404, "not_found", "no such allow-list entry") : api_db_error(req);
	}
	if (locks_out_caller(req)) {
		db_rollback();
		return http_error(req, 409, "conflict",
				  "without this range the list would not include your own address %s: you would be "
				  "locked out. Add a range that covers it first, or remove every range",
				  req->remote);
	}
	if (api_audit(req, "allowlist.remove", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

void api_blocks_list(struct http_req *req)
{
	cJSON *items = cJSON_CreateArray();

	if (block_list(items) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, 0);
}

void api_blocks_remove(struct http_req *req)
{
	const char *addr = req->match.params[0];
	int rc;

	if (db_begin() < 0)
		return api_db_error(req);
	rc = block_remove(addr);
	if (rc != 0) {
		db_rollback();
		return rc > 0 ? http_error(req, 404, "not_found", "that address is not blocked") : api_db_error(req);
	}
	if (api_audit(req, "abuse.unblock", addr, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}
