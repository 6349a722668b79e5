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
	sqlite3_stmt *st = db_stmt("SELECT id, slug, name, created_at FROM tenants ORDER BY id");
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
	http_reply_json(req, 201, doc);
	cJSON_Delete(doc);
}
