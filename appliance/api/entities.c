/* The access rules' plain records over REST, written once for every kind
 * described in domain/entity.h: /api/v1/sites, /doors, /holidays,
 * /schedules, /access-groups, /access-levels.
 *
 *   GET    /KIND?limit=&cursor=&FILTER=   a page, ordered by id
 *   POST   /KIND                          create (201, Location, ETag)
 *   GET    /KIND/{id}                     one (ETag)
 *   PATCH  /KIND/{id}                     change; If-Match with the ETag is required
 *   DELETE /KIND/{id}                     delete (409 while still in use) */
#include "api.h"

#include "core/db.h"
#include "domain/entity.h"
#include "sync/status.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t api_tenant(struct http_req *req)
{
	/* System admins act on the tenant named by X-Tenant, else the default
	 * (on a site: the tenant it is a site of). */
	return req->auth.tenant > 0 ? req->auth.tenant : sync_default_tenant();
}

/* Reply with a record and its ETag. */
void api_reply_record(struct http_req *req, int status, cJSON *obj, const char *location)
{
	char etag[32], *text = cJSON_PrintUnformatted(obj);
	const char *hdr[] = {"ETag", etag, location ? "Location" : NULL, location, NULL};

	snprintf(etag, sizeof etag, "\"%lld\"", (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(obj, "version")));
	http_reply(req, status, "application/json", text, strlen(text), hdr);
	cJSON_free(text);
}

/* The version an update is based on, from If-Match ("\"3\"" or 3). Sends
 * 428 and returns -1 when absent, 412 when malformed. */
long long api_if_match(struct http_req *req)
{
	const char *h = http_header(req, "If-Match");
	char *end;
	long long v;

	if (!h) {
		http_error(req, 428, "precondition_required",
			   "send If-Match with the ETag you read, so a concurrent change is not overwritten");
		return -1;
	}
	if (*h == 'W' && h[1] == '/')
		h += 2;
	if (*h == '"')
		h++;
	v = strtoll(h, &end, 10);
	if (end == h || (*end && strcmp(end, "\"") != 0) || v < 1) {
		http_error(req, 412, "precondition_failed", "If-Match must be an ETag of this resource");
		return -1;
	}
	return v;
}

void api_entity_list(struct http_req *req, const struct entity *e)
{
	const char *names[8];
	long long values[8];
	char buf[32];
	int nf = 0;
	struct jv v;
	int64_t cursor = 0, next;
	cJSON *items;

	jv_init(&v, NULL);
	for (size_t i = 0; i < e->nfields && nf < 8; i++) {
		if (!e->fields[i].filter || !api_query_str(req, e->fields[i].name, buf, sizeof buf))
			continue;
		char *end;
		values[nf] = strtoll(buf, &end, 10);
		if (*end || values[nf] < 1)
			jv_error(&v, e->fields[i].name, "must be an id");
		names[nf++] = e->fields[i].name;
	}
	if (api_query_str(req, "cursor", buf, sizeof buf)) {
		char *end;
		cursor = strtoll(buf, &end, 10);
		if (*end || cursor < 0)
			jv_error(&v, "cursor", "must be a cursor from a previous page");
	}
	if (jv_finish(&v, req) < 0)
		return;
	items = cJSON_CreateArray();
	if (entity_list(e, api_tenant(req), names, values, nf, cursor, (int)api_query_int(req, "limit", 1, 500, 50),
			items, &next) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}

void api_entity_get(struct http_req *req, const struct entity *e)
{
	int64_t id = api_id_param(req, 0);
	cJSON *o;

	if (id < 0)
		return;
	o = entity_get(e, api_tenant(req), id);
	if (!o)
		return http_error(req, 404, "not_found", "no such %s", e->kind);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

static void audit_change(struct http_req *req, const struct entity *e, const char *verb, int64_t id,
			 const cJSON *body)
{
	char action[64], target[64];
	cJSON *details = body ? cJSON_Duplicate(body, 1) : NULL;

	snprintf(action, sizeof action, "%s.%s", e->kind, verb);
	snprintf(target, sizeof target, "%s:%lld", e->kind, (long long)id);
	api_audit(req, action, target, "ok", details);
	cJSON_Delete(details);
}

void api_entity_create(struct http_req *req, const struct entity *e)
{
	int64_t tenant = api_tenant(req), id;
	char location[96];
	struct jv v;
	cJSON *o;

	if (http_read_json(req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	jv_init(&v, req->json);
	entity_check(e, &v, tenant, req->json, 0);
	if (jv_finish(&v, req) < 0)
		return db_rollback();
	id = entity_create(e, tenant, req->json);
	if (id < 0) {
		db_rollback();
		if (sqlite3_extended_errcode(db_get()) == SQLITE_CONSTRAINT_UNIQUE)
			return http_field_error(req, "name", "is already used by another one");
		return api_db_error(req);
	}
	audit_change(req, e, "create", id, req->json);
	if (db_commit() < 0)
		return api_db_error(req);
	o = entity_get(e, tenant, id);
	snprintf(location, sizeof location, "%s/%lld", req->path, (long long)id);
	api_reply_record(req, 201, o, location);
	cJSON_Delete(o);
}

void api_entity_update(struct http_req *req, const struct entity *e)
{
	int64_t tenant = api_tenant(req), id = api_id_param(req, 0);
	long long version;
	struct jv v;
	cJSON *o;
	int rc;

	if (id < 0 || (version = api_if_match(req)) < 0 || http_read_json(req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	jv_init(&v, req->json);
	entity_check(e, &v, tenant, req->json, 1);
	if (jv_finish(&v, req) < 0)
		return db_rollback();
	rc = entity_update(e, tenant, id, version, req->json);
	if (rc != 0) {
		db_rollback();
		if (rc == 1)
			return http_error(req, 404, "not_found", "no such %s", e->kind);
		if (rc == 2)
			return http_error(req, 412, "precondition_failed",
					  "this %s was changed by someone else since you read it: reload and retry", e->kind);
		if (sqlite3_extended_errcode(db_get()) == SQLITE_CONSTRAINT_UNIQUE)
			return http_field_error(req, "name", "is already used by another one");
		return api_db_error(req);
	}
	audit_change(req, e, "update", id, req->json);
	if (db_commit() < 0)
		return api_db_error(req);
	o = entity_get(e, tenant, id);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

void api_entity_delete(struct http_req *req, const struct entity *e)
{
	int64_t id = api_id_param(req, 0);
	char why[200];
	int rc;

	if (id < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = entity_delete(e, api_tenant(req), id, why, sizeof why);
	if (rc != 0) {
		db_rollback();
		if (rc == 1)
			return http_error(req, 404, "not_found", "no such %s", e->kind);
		if (rc == 2)
			return http_error(req, 409, "conflict", "%s", why);
		return api_db_error(req);
	}
	audit_change(req, e, "delete", id, NULL);
	if (db_commit() < 0)
		return api_db_error(req);
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

/* One set of five handlers per kind, for the route table. */
#define ENTITY_HANDLERS(name, ent)                                                     \
	void api_##name##_list(struct http_req *req) { api_entity_list(req, &ent); }     \
	void api_##name##_create(struct http_req *req) { api_entity_create(req, &ent); } \
	void api_##name##_get(struct http_req *req) { api_entity_get(req, &ent); }       \
	void api_##name##_update(struct http_req *req) { api_entity_update(req, &ent); } \
	void api_##name##_delete(struct http_req *req) { api_entity_delete(req, &ent); }

ENTITY_HANDLERS(sites, entity_sites)
ENTITY_HANDLERS(doors, entity_doors)
ENTITY_HANDLERS(holidays, entity_holiday_sets)
ENTITY_HANDLERS(schedules, entity_schedules)
ENTITY_HANDLERS(groups, entity_access_groups)
ENTITY_HANDLERS(levels, entity_access_levels)
