/* /api/v1/people: people, their photos and credentials, group membership,
 * the data-subject access report, and erasure. Every change is audited,
 * personal values only sealed (under the person's key, so that erasure
 * shreds the audit's copy too). */
#include "api.h"

#include "core/db.h"
#include "core/vault.h"
#include "domain/audit.h"
#include "domain/event_log.h"
#include "domain/people.h"
#include "web/http.h"
#include "web/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_EVENTS_MAX 20000 /* events in an access report; events_complete says if there were more */

/* Audit a change to a person: details without personal values, and the
 * personal values given (if any) sealed under the person's key. */
static int audit_person(struct http_req *req, const char *action, int64_t person, const cJSON *body)
{
	static const char *const personal_fields[] = {"name", "email", "phone", "employee_no", "notes", NULL};
	cJSON *details = cJSON_CreateObject(), *personal = cJSON_CreateObject();
	char target[40];
	int has_personal = 0, rc;

	for (const cJSON *m = body ? body->child : NULL; m; m = m->next) {
		int is_personal = 0;
		for (const char *const *p = personal_fields; *p; p++)
			is_personal |= strcmp(*p, m->string) == 0;
		cJSON_AddItemToObject(is_personal ? personal : details, m->string, cJSON_Duplicate(m, 1));
		has_personal |= is_personal;
	}
	snprintf(target, sizeof target, "person:%lld", (long long)person);
	struct audit_event ev = {
		api_tenant(req), req->auth.kind == AUTH_TOKEN ? "token" : "admin", req->auth.actor, req->remote,
		action, target, "ok", details, has_personal ? personal : NULL, has_personal ? person : 0,
	};
	rc = audit_append(&ev);
	cJSON_Delete(details);
	cJSON_Delete(personal);
	return rc;
}

static int64_t person_param(struct http_req *req)
{
	return api_id_param(req, 0);
}

/* A whole positive number and nothing else ("1abc" is not 1). */
static int valid_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] < '1' || s[0] > '9' || *end || errno)
		return 0;
	*out = v;
	return 1;
}

/* Reads of personal data are audited like changes, one entry a request
 * (who looked at whom, or at how many): an insider paging through people
 * leaves a trail. Fail closed: when the entry cannot be written, nothing
 * is shown. */
static int audit_read(struct http_req *req, const char *action, int64_t person, const cJSON *details)
{
	char target[40];

	if (person)
		snprintf(target, sizeof target, "person:%lld", (long long)person);
	else
		snprintf(target, sizeof target, "people");
	if (api_audit(req, action, target, "ok", details) == 0)
		return 0;
	api_db_error(req);
	return -1;
}

void api_people_list(struct http_req *req)
{
	char status[16], email[256], empno[80], card[80], buf[32];
	struct person_filter f = {0};
	struct jv v;
	int64_t cursor = 0, next;
	int limit = (int)api_query_int(req, "limit", 1, 500, 50), n, rc;
	cJSON *items;

	jv_init(&v, NULL);
	f.status = api_query_str(req, "status", status, sizeof status);
	if (f.status && strcmp(f.status, "active") && strcmp(f.status, "suspended"))
		jv_error(&v, "status", "must be active or suspended");
	if (api_query_str(req, "group", buf, sizeof buf) && !valid_id(buf, &f.group))
		jv_error(&v, "group", "must be an access group id");
	f.email = api_query_str(req, "email", email, sizeof email);
	f.employee_no = api_query_str(req, "employee_no", empno, sizeof empno);
	f.card = api_query_str(req, "card", card, sizeof card);
	if (api_query_str(req, "cursor", buf, sizeof buf) && !valid_id(buf, &cursor))
		jv_error(&v, "cursor", "must be a cursor from a previous page");
	if (jv_finish(&v, req) < 0)
		return;
	items = cJSON_CreateArray();
	n = person_list(api_tenant(req), &f, cursor, limit, items, &next);
	if (n < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	if (n > 0) {
		/* How many, and by what they were looked up (never the value). */
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "people", n);
		if (f.email || f.employee_no || f.card)
			cJSON_AddStringToObject(d, "by", f.email ? "email" : f.employee_no ? "employee_no" : "card");
		rc = audit_read(req, "people.read", 0, d);
		cJSON_Delete(d);
		if (rc < 0) {
			cJSON_Delete(items);
			return;
		}
	}
	api_reply_page(req, items, next);
}

void api_people_create(struct http_req *req)
{
	int64_t tenant = api_tenant(req), id;
	const char *conflict;
	char location[64];
	struct jv v;
	cJSON *o;

	if (http_read_json(req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	jv_init(&v, req->json);
	person_check(&v, tenant, req->json, 0);
	if (jv_finish(&v, req) < 0)
		return db_rollback();
	id = person_create(tenant, req->json, &conflict);
	if (id < 0 || audit_person(req, "person.create", id, req->json) < 0 || db_commit() < 0) {
		db_rollback();
		if (conflict)
			return http_field_error(req, conflict, "is already used by another person");
		return api_db_error(req);
	}
	o = person_view(tenant, id, 0);
	snprintf(location, sizeof location, "/api/v1/people/%lld", (long long)id);
	api_reply_record(req, 201, o, location);
	cJSON_Delete(o);
}

void api_people_get(struct http_req *req)
{
	int64_t id = person_param(req);
	cJSON *o;

	if (id < 0)
		return;
	o = person_view(api_tenant(req), id, 0);
	if (!o)
		return http_error(req, 404, "not_found", "no such person");
	if (audit_read(req, "person.read", id, NULL) == 0)
		api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

void api_people_update(struct http_req *req)
{
	int64_t tenant = api_tenant(req), id = person_param(req);
	const char *conflict;
	long long version;
	struct jv v;
	cJSON *o, *before;
	int rc;

	if (id < 0 || (version = api_if_match(req)) < 0 || http_read_json(req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	jv_init(&v, req->json);
	person_check(&v, tenant, req->json, 1);
	if (jv_finish(&v, req) < 0)
		return db_rollback();
	/* The correction is audited with the values before and after, sealed. */
	before = person_view(tenant, id, 0);
	rc = person_update(tenant, id, version, req->json, &conflict);
	if (rc == 0) {
		cJSON *change = cJSON_CreateObject(), *old = cJSON_CreateObject();
		for (const cJSON *m = req->json->child; m; m = m->next)
			if (before && cJSON_GetObjectItem(before, m->string))
				cJSON_AddItemToObject(old, m->string, cJSON_Duplicate(cJSON_GetObjectItem(before, m->string), 1));
		cJSON_AddItemToObject(change, "before", old);
		cJSON_AddItemToObject(change, "after", cJSON_Duplicate(req->json, 1));
		char target[40];
		snprintf(target, sizeof target, "person:%lld", (long long)id);
		struct audit_event ev = {tenant, req->auth.kind == AUTH_TOKEN ? "token" : "admin", req->auth.actor,
					 req->remote, "person.update", target, "ok", NULL, change, id};
		if (audit_append(&ev) < 0)
			rc = -1;
		cJSON_Delete(change);
	}
	cJSON_Delete(before);
	if (rc != 0 || db_commit() < 0) {
		db_rollback();
		if (rc == 1)
			return http_error(req, 404, "not_found", "no such person");
		if (rc == 2)
			return http_error(req, 412, "precondition_failed",
					  "this person was changed by someone else since you read it: reload and retry");
		if (conflict)
			return http_field_error(req, conflict, "is already used by another person");
		return api_db_error(req);
	}
	o = person_view(tenant, id, 0);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

/* Erasure (right to be forgotten): rows deleted, key destroyed. */
void api_people_erase(struct http_req *req)
{
	int64_t id = person_param(req);
	char target[40];
	int rc;

	if (id < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = person_erase(api_tenant(req), id);
	if (rc != 0) {
		db_rollback();
		return rc == 1 ? http_error(req, 404, "not_found", "no such person") : api_db_error(req);
	}
	snprintf(target, sizeof target, "person:%lld", (long long)id);
	if (api_audit(req, "person.erase", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	/* Push the deleted pages out of the WAL now rather than at the next
	 * automatic checkpoint. */
	sqlite3_wal_checkpoint_v2(db_get(), NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

/* The person's access history, newest first: what the terminals recorded
 * of them is personal data the report must show. Kept by the retention
 * job's events period; beyond REPORT_EVENTS_MAX, events_complete is false
 * and GET /api/v1/events?person_id= pages through the rest. */
static int report_events(int64_t tenant, int64_t person, cJSON *o)
{
	struct event_filter f = {.tenant = tenant, .person = person, .limit = 1000, .personal = 1};
	cJSON *events = cJSON_AddArrayToObject(o, "events");
	char next[64] = "";
	int n, total = 0;

	do {
		if ((n = event_list(&f, events, next, sizeof next)) < 0)
			return -1;
		total += n;
		if (!next[0])
			break;
		if (event_cursor_parse(next, &f.cursor_at, &f.cursor_id) < 0)
			return -1;
		f.has_cursor = 1;
	} while (total < REPORT_EVENTS_MAX);
	cJSON_AddBoolToObject(o, "events_complete", next[0] == '\0');
	return 0;
}

void api_people_report(struct http_req *req)
{
	int64_t id = person_param(req);
	char target[40];
	cJSON *o;

	if (id < 0)
		return;
	o = person_view(api_tenant(req), id, 1);
	if (!o)
		return http_error(req, 404, "not_found", "no such person");
	size_t len;
	char type[16];
	unsigned char *photo = person_photo_get(api_tenant(req), id, &len, type);
	if (photo) {
		size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
		char *text = malloc(b64);
		if (text) {
			sodium_bin2base64(text, b64, photo, len, sodium_base64_VARIANT_ORIGINAL);
			cJSON *p = cJSON_AddObjectToObject(o, "photo");
			cJSON_AddStringToObject(p, "type", type);
			cJSON_AddStringToObject(p, "base64", text);
			free(text);
		}
		vault_free(photo, len);
	}
	if (report_events(api_tenant(req), id, o) < 0) {
		cJSON_Delete(o);
		return api_db_error(req);
	}
	snprintf(target, sizeof target, "person:%lld", (long long)id);
	api_audit(req, "person.access_report", target, "ok", NULL);
	http_reply_json(req, 200, o);
	cJSON_Delete(o);
}

void api_people_photo_get(struct http_req *req)
{
	int64_t id = person_param(req);
	size_t len;
	char type[16];
	unsigned char *photo;

	if (id < 0)
		return;
	photo = person_photo_get(api_tenant(req), id, &len, type);
	if (!photo)
		return http_error(req, 404, "not_found", "this person has no photo");
	if (audit_read(req, "person.photo_read", id, NULL) == 0)
		http_reply(req, 200, type, photo, len, NULL);
	vault_free(photo, len);
}

static const char *image_type(const unsigned char *p, size_t len)
{
	if (len > 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
		return "image/jpeg";
	if (len > 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	return NULL;
}

void api_people_photo_put(struct http_req *req)
{
	int64_t id = person_param(req);
	const char *type;
	char target[40];
	int rc;

	if (id < 0 || http_read_body(req) < 0)
		return;
	type = image_type((const unsigned char *)req->body, req->body_len);
	if (!type)
		return http_field_error(req, "photo", "must be a JPEG or PNG image");
	if (db_begin() < 0)
		return api_db_error(req);
	rc = person_photo_set(api_tenant(req), id, req->body, req->body_len, type);
	snprintf(target, sizeof target, "person:%lld", (long long)id);
	if (rc != 0 || api_audit(req, "person.photo_set", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return rc == 1 ? http_error(req, 404, "not_found", "no such person") : api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

void api_people_photo_delete(struct http_req *req)
{
	int64_t id = person_param(req);
	char target[40];
	int rc;

	if (id < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = person_photo_set(api_tenant(req), id, NULL, 0, NULL);
	snprintf(target, sizeof target, "person:%lld", (long long)id);
	if (rc != 0 || api_audit(req, "person.photo_delete", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return rc == 1 ? http_error(req, 404, "not_found", "no such person") : api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

/* --- credentials ------------------------------------------------------------ */

void api_credentials_list(struct http_req *req)
{
	int64_t id = person_param(req);
	cJSON *o;

	if (id < 0)
		return;
	o = person_view(api_tenant(req), id, 0);
	if (!o)
		return http_error(req, 404, "not_found", "no such person");
	if (audit_read(req, "person.read", id, NULL) == 0)
		api_reply_page(req, cJSON_DetachItemFromObject(o, "credentials"), 0);
	cJSON_Delete(o);
}

void api_credentials_create(struct http_req *req)
{
	int64_t tenant = api_tenant(req), person = person_param(req), id;
	const char *conflict;
	char token[64], target[48];
	struct jv v;
	cJSON *o, *details;

	if (person < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	credential_check(&v, req->json, 0);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	id = credential_create(tenant, person, req->json, &conflict, token);
	if (id == 0) {
		db_rollback();
		return http_error(req, 404, "not_found", "no such person");
	}
	snprintf(target, sizeof target, "person:%lld", (long long)person);
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "kind", cJSON_GetObjectItem(req->json, "kind")->valuestring);
	cJSON_AddNumberToObject(details, "credential_id", (double)id);
	if (id < 0 || api_audit(req, "credential.create", target, "ok", details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		if (conflict)
			return http_error(req, 409, "conflict", "this card number is already assigned in this tenant");
		return api_db_error(req);
	}
	cJSON_Delete(details);
	o = credential_view(tenant, person, id);
	if (token[0])
		cJSON_AddStringToObject(o, "token", token); /* shown once */
	api_reply_record(req, 201, o, NULL);
	cJSON_Delete(o);
	sodium_memzero(token, sizeof token);
}

void api_credentials_update(struct http_req *req)
{
	int64_t tenant = api_tenant(req), person = api_id_param(req, 0), id;
	long long version;
	char target[48];
	struct jv v;
	cJSON *o;
	int rc;

	if (person < 0 || (id = api_id_param(req, 1)) < 0 || (version = api_if_match(req)) < 0 ||
	    http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	credential_check(&v, req->json, 1);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = credential_update(tenant, person, id, version, req->json);
	snprintf(target, sizeof target, "credential:%lld", (long long)id);
	if (rc != 0 || api_audit(req, "credential.update", target, "ok", req->json) < 0 || db_commit() < 0) {
		db_rollback();
		if (rc == 1)
			return http_error(req, 404, "not_found", "no such credential");
		if (rc == 2)
			return http_error(req, 412, "precondition_failed", "changed by someone else since you read it");
		return api_db_error(req);
	}
	o = credential_view(tenant, person, id);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

void api_credentials_delete(struct http_req *req)
{
	int64_t person = api_id_param(req, 0), id;
	char target[48];
	int rc;

	if (person < 0 || (id = api_id_param(req, 1)) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = credential_delete(api_tenant(req), person, id);
	snprintf(target, sizeof target, "credential:%lld", (long long)id);
	if (rc != 0 || api_audit(req, "credential.delete", target, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return rc == 1 ? http_error(req, 404, "not_found", "no such credential") : api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

/* PUT / DELETE /api/v1/access-groups/{id}/members/{person_id} */
static void membership(struct http_req *req, int member)
{
	int64_t group = api_id_param(req, 0), person;
	char target[48];
	int rc;

	if (group < 0 || (person = api_id_param(req, 1)) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = group_member_set(api_tenant(req), group, person, member);
	snprintf(target, sizeof target, "access_group:%lld", (long long)group);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "person_id", (double)person);
	if (rc != 0 || api_audit(req, member ? "access_group.add_member" : "access_group.remove_member", target,
				 "ok", d) < 0 || db_commit() < 0) {
		cJSON_Delete(d);
		db_rollback();
		return rc == 1 ? http_error(req, 404, "not_found", "no such group or person") : api_db_error(req);
	}
	cJSON_Delete(d);
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

void api_group_member_add(struct http_req *req) { membership(req, 1); }
void api_group_member_remove(struct http_req *req) { membership(req, 0); }
