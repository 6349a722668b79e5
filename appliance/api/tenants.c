/* /api/v1/tenants: tenants, managed by system admins. Creating one also
 * creates its keys in the vault. */
#include "api.h"

#include "core/db.h"
#include "core/vault.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <string.h>

void api_tenants_list(struct http_req *req)
{
	sqlite3_stmt *st = db_stmt("SELECT id, slug, name, created_at, legal_hold FROM tenants ORDER BY id");
	cJSON *items = cJSON_CreateArray();

	if (!st) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddNumberToObject(t, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(t, "slug", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(t, "name", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddBoolToObject(t, "legal_hold", sqlite3_column_int(st, 4));
		cJSON_AddItemToArray(items, t);
	}
	sqlite3_reset(st);
	api_reply_page(req, items, 0);
}

void api_tenants_create(struct http_req *req)
{
	const char *slug, *name;
	char err[300], target[40];
	int64_t id;
	struct jv v;
	cJSON *doc;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	slug = jv_string(&v, "slug", 1, 1, 63);
	name = jv_string(&v, "name", 1, 1, 200);
	jv_no_others(&v);
	if (slug && strspn(slug, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(slug))
		jv_error(&v, "slug", "must be lower-case letters, digits and -");
	if (jv_finish(&v, req) < 0)
		return;
	if (vault_tenant_create(slug, name, &id, err, sizeof err) != VAULT_OK)
		return http_field_error(req, "slug", strstr(err, "UNIQUE") ? "is already taken" : err);
	snprintf(target, sizeof target, "tenant:%lld", (long long)id);
	api_audit(req, "tenant.create", target, "ok", req->json);
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "id", (double)id);
	cJSON_AddStringToObject(doc, "slug", slug);
	cJSON_AddStringToObject(doc, "name", name);
	cJSON_AddBoolToObject(doc, "legal_hold", 0);
	http_reply_json(req, 201, doc);
	cJSON_Delete(doc);
}

/* PATCH /api/v1/tenants/{id} {name, legal_hold}: legal hold suspends the
 * retention job's deletions for the tenant (a litigation or an
 * investigation); setting and lifting it are audited as their own actions. */
void api_tenants_update(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	const cJSON *hold;
	const char *name;
	char target[40];
	sqlite3_stmt *st;
	struct jv v;
	cJSON *doc;
	int rc;

	if (id < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	name = jv_string(&v, "name", 0, 1, 200);
	jv_not_null(&v, "name");
	hold = cJSON_GetObjectItemCaseSensitive(req->json, "legal_hold");
	jv_bool(&v, "legal_hold", 0);
	if (hold && !cJSON_IsBool(hold))
		jv_error(&v, "legal_hold", "must be true or false");
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	st = db_stmt("UPDATE tenants SET name = coalesce(?1, name), legal_hold = coalesce(?2, legal_hold) WHERE id = ?3");
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (hold)
		sqlite3_bind_int(st, 2, cJSON_IsTrue(hold));
	sqlite3_bind_int64(st, 3, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db_get()) : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc <= 0) {
		db_rollback();
		return rc == 0 ? http_error(req, 404, "not_found", "no such tenant") : api_db_error(req);
	}
	snprintf(target, sizeof target, "tenant:%lld", (long long)id);
	if (api_audit(req, hold ? (cJSON_IsTrue(hold) ? "tenant.legal_hold_set" : "tenant.legal_hold_lifted")
				: "tenant.update",
		      target, "ok", req->json) < 0 ||
	    db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	st = db_stmt("SELECT id, slug, name, legal_hold FROM tenants WHERE id = ?");
	sqlite3_bind_int64(st, 1, id);
	doc = cJSON_CreateObject();
	if (sqlite3_step(st) == SQLITE_ROW) {
		cJSON_AddNumberToObject(doc, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(doc, "slug", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(doc, "name", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddBoolToObject(doc, "legal_hold", sqlite3_column_int(st, 3));
	}
	sqlite3_reset(st);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}
