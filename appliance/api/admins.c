/* /api/v1/admins: managing administrator accounts. System admins manage
 * everyone; tenant admins manage the tenant-admins, operators and auditors
 * of their own tenant. */
#include "api.h"

#include "core/db.h"
#include "domain/admins.h"
#include "domain/sessions.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <string.h>

/* May the caller manage this account? A tenant admin sees only their own
 * tenant's accounts; others answer 404, as if they did not exist. */
static int may_manage(struct http_req *req, const struct admin *a)
{
	if (req->auth.role == ROLE_SYSTEM_ADMIN)
		return 1;
	return a->tenant == req->auth.admin_tenant && a->role != ROLE_SYSTEM_ADMIN;
}

/* The account named by {id}, or -1 after a 404. */
static int load_target(struct http_req *req, struct admin *a)
{
	int64_t id = api_id_param(req, 0);

	if (id < 0)
		return -1;
	if (admin_get(id, a) != 0 || !may_manage(req, a)) {
		http_error(req, 404, "not_found", "no such admin");
		return -1;
	}
	return 0;
}

static void target_name(const struct admin *a, char *out, size_t len)
{
	snprintf(out, len, "admin:%lld", (long long)a->id);
}

void api_admins_list(struct http_req *req)
{
	cJSON *items = cJSON_CreateArray();
	int64_t scope = req->auth.role == ROLE_SYSTEM_ADMIN ? (req->auth.tenant ? req->auth.tenant : -1)
							    : req->auth.admin_tenant;

	if (admin_list(scope, items) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, 0);
}

void api_admins_get(struct http_req *req)
{
	struct admin a;
	cJSON *doc;

	if (load_target(req, &a) < 0)
		return;
	doc = admin_json(&a);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

void api_admins_create(struct http_req *req)
{
	const char *username, *role, *password, *field = "";
	char why[300], target[32];
	long long tenant;
	int64_t id;
	struct jv v;
	struct admin a;
	cJSON *doc, *details;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	username = jv_string(&v, "username", 1, 1, 64);
	role = jv_enum(&v, "role", 1, "system-admin|tenant-admin|operator|auditor");
	password = jv_string(&v, "password", 1, 1, 256);
	tenant = jv_int(&v, "tenant_id", 0, 1, 1LL << 53, 0);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (req->auth.role != ROLE_SYSTEM_ADMIN) {
		/* A tenant admin creates accounts in their own tenant only. */
		if (role_parse(role) == ROLE_SYSTEM_ADMIN)
			return http_field_error(req, "role", "only a system admin may create system admins");
		if (tenant && tenant != req->auth.admin_tenant)
			return http_field_error(req, "tenant_id", "must be your own tenant");
		tenant = req->auth.admin_tenant;
	} else if (!tenant && role_parse(role) != ROLE_SYSTEM_ADMIN) {
		tenant = req->auth.tenant;
	}
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_create(username, role, tenant, password, 1, &id, &field, why, sizeof why) < 0) {
		db_rollback();
		return http_field_error(req, field, why);
	}
	snprintf(target, sizeof target, "admin:%lld", (long long)id);
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "username", username);
	cJSON_AddStringToObject(details, "role", role);
	cJSON_AddNumberToObject(details, "tenant_id", (double)tenant);
	if (api_audit(req, "admin.create", target, "ok", details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		return api_db_error(req);
	}
	cJSON_Delete(details);
	admin_get(id, &a);
	doc = admin_json(&a);
	http_reply_json(req, 201, doc);
	cJSON_Delete(doc);
}

/* PATCH {role?, status?, language?}. Disabling ends the account's sessions. */
void api_admins_update(struct http_req *req)
{
	const char *role, *status, *language;
	char target[32];
	struct admin a;
	struct jv v;
	cJSON *details, *doc;
	int rc = 0;

	if (load_target(req, &a) < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	role = jv_enum(&v, "role", 0, "system-admin|tenant-admin|operator|auditor");
	status = jv_enum(&v, "status", 0, "active|disabled");
	language = jv_enum(&v, "language", 0, "en|ja");
	jv_no_others(&v);
	if (role && ((role_parse(role) == ROLE_SYSTEM_ADMIN) != (a.role == ROLE_SYSTEM_ADMIN)))
		jv_error(&v, "role", "cannot move an account between system and tenant roles");
	if (a.id == req->auth.admin_id && ((status && strcmp(status, "disabled") == 0) ||
					   (role && role_parse(role) != a.role)))
		jv_error(&v, role ? "role" : "status", "you cannot change your own role or disable yourself");
	if (jv_finish(&v, req) < 0)
		return;
	target_name(&a, target, sizeof target);
	details = cJSON_CreateObject();
	if (db_begin() < 0) {
		cJSON_Delete(details);
		return api_db_error(req);
	}
	if (role) {
		rc |= admin_set_role(a.id, role_parse(role));
		cJSON_AddStringToObject(details, "role", role);
	}
	if (status) {
		rc |= admin_set_active(a.id, strcmp(status, "active") == 0);
		if (strcmp(status, "disabled") == 0)
			rc |= sessions_end_for_admin(a.id, "account disabled", 0) < 0;
		cJSON_AddStringToObject(details, "status", status);
	}
	if (language) {
		rc |= admin_set_language(a.id, language);
		cJSON_AddStringToObject(details, "language", language);
	}
	if (rc || api_audit(req, "admin.update", target, "ok", details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		return api_db_error(req);
	}
	cJSON_Delete(details);
	admin_get(a.id, &a);
	doc = admin_json(&a);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

void api_admins_unlock(struct http_req *req)
{
	char target[32];
	struct admin a;

	if (load_target(req, &a) < 0)
		return;
	target_name(&a, target, sizeof target);
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_unlock(a.id) < 0 || api_audit(req, "admin.unlock", target, "ok", NULL) < 0 ||
	    db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

/* POST {password}: a temporary password the admin must change at next
 * login; their sessions end. */
void api_admins_reset_password(struct http_req *req)
{
	const char *password;
	char target[32], why[300];
	struct admin a;
	struct jv v;

	if (load_target(req, &a) < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	password = jv_string(&v, "password", 1, 1, 256);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (admin_password_ok(a.username, password, why, sizeof why) < 0)
		return http_field_error(req, "password", why);
	target_name(&a, target, sizeof target);
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_set_password(a.id, password, 1) < 0 || admin_unlock(a.id) < 0 ||
	    sessions_end_for_admin(a.id, "password reset", 0) < 0 ||
	    api_audit(req, "admin.reset_password", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}
