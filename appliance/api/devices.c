/* /api/v1/devices, /api/v1/commands, /api/v1/firmware: door terminals,
 * their enrolment (one-time token + CSR, or a ready bundle), status,
 * commands and firmware rollouts. */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "devlink/ca.h"
#include "devlink/link.h"
#include "domain/audit.h"
#include "domain/commands.h"
#include "domain/devices.h"
#include "domain/firmware.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void audit_device(struct http_req *req, const char *action, int64_t id, const cJSON *details)
{
	char target[40];

	snprintf(target, sizeof target, "device:%lld", (long long)id);
	api_audit(req, action, target, "ok", details);
}

static int load(struct http_req *req, struct device *d)
{
	int64_t id = api_id_param(req, 0);

	if (id < 0)
		return -1;
	if (device_get(api_tenant(req), id, d) != 0) {
		http_error(req, 404, "not_found", "no such terminal");
		return -1;
	}
	return 0;
}

void api_devices_list(struct http_req *req)
{
	int64_t cursor, next;
	cJSON *items;

	if (api_query_id(req, "cursor", &cursor) < 0)
		return;
	items = cJSON_CreateArray();
	if (device_list(api_tenant(req), cursor, (int)api_query_int(req, "limit", 1, 500, 100), items, &next) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}

void api_devices_get(struct http_req *req)
{
	struct device d;
	cJSON *o;

	if (load(req, &d) < 0)
		return;
	o = device_json(&d);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

/* A new terminal: with a one-time enrolment token (the terminal makes its
 * own key and sends a CSR), or a ready bundle (key, certificate, CA). */
void api_devices_create(struct http_req *req)
{
	int64_t tenant = api_tenant(req), id;
	char uid[DEVICE_UID_LEN], token[ENROLL_TOKEN_LEN], location[64];
	char *key = NULL, *cert = NULL, *ca = NULL;
	const cJSON *mode;
	struct device d;
	struct jv v;
	cJSON *doc;
	int bundle;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	device_body_check(&v, tenant, req->json, 0);
	if (jv_finish(&v, req) < 0)
		return;
	mode = cJSON_GetObjectItem(req->json, "enrollment");
	bundle = cJSON_IsString(mode) && strcmp(mode->valuestring, "bundle") == 0;
	if (db_begin() < 0)
		return api_db_error(req);
	if (device_create(tenant, req->json, &id, uid) < 0 ||
	    (bundle ? device_issue_bundle(tenant, id, &key, &cert)
		    : device_new_enroll_token(tenant, id, cfg_int(CFG_DEVICES_ENROLL_TTL) / 1000, token)) < 0) {
		db_rollback();
		return api_db_error(req);
	}
	audit_device(req, bundle ? "device.create_bundle" : "device.create", id, req->json);
	if (db_commit() < 0) {
		devca_free_secret(key);
		free(cert);
		return api_db_error(req);
	}
	device_get(tenant, id, &d);
	devlink_device_changed(d.uid, &d);
	doc = cJSON_CreateObject();
	cJSON_AddItemToObject(doc, "device", device_json(&d));
	if (bundle) {
		/* The only time the private key is ever shown; it is not stored. */
		cJSON *b = cJSON_AddObjectToObject(doc, "bundle");
		ca = devca_ca_pem();
		cJSON_AddStringToObject(b, "key_pem", key);
		cJSON_AddStringToObject(b, "cert_pem", cert);
		cJSON_AddStringToObject(b, "ca_pem", ca ? ca : "");
	} else {
		cJSON_AddStringToObject(doc, "enroll_token", token);
		cJSON_AddNumberToObject(doc, "enroll_token_expires_in_s", (double)(cfg_int(CFG_DEVICES_ENROLL_TTL) / 1000));
	}
	snprintf(location, sizeof location, "/api/v1/devices/%lld", (long long)id);
	const char *hdr[] = {"Location", location, NULL};
	char *text = cJSON_PrintUnformatted(doc);
	http_reply(req, 201, "application/json", text, strlen(text), hdr);
	sodium_memzero(text, strlen(text));
	cJSON_free(text);
	cJSON_Delete(doc);
	devca_free_secret(key);
	free(cert);
	free(ca);
	sodium_memzero(token, sizeof token);
}

/* The actor of an enrolment is the terminal itself: the token was its
 * credential, no admin is logged in. */
static void audit_enrol(struct http_req *req, const struct device *d)
{
	char target[40];
	cJSON *det = cJSON_CreateObject();

	cJSON_AddStringToObject(det, "uid", d->uid);
	cJSON_AddStringToObject(det, "certificate_serial", d->serial);
	snprintf(target, sizeof target, "device:%lld", (long long)d->id);
	struct audit_event ev = {d->tenant, "terminal", req->auth.actor, req->remote, "device.enroll",
				 target,    "ok",       det,             NULL,        0};
	audit_append(&ev);
	cJSON_Delete(det);
}

/* POST /api/v1/devices/enroll {token, csr}: public; the token is the
 * credential. Answers the certificate, the CA and the terminal's uid. */
void api_devices_enroll(struct http_req *req)
{
	const char *token, *csr, *field;
	char why[200], *cert, *ca;
	struct device d;
	struct jv v;
	cJSON *doc;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	token = jv_string(&v, "token", 1, 8, 100);
	csr = jv_text(&v, "csr", 1, 100, 8192);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	cert = device_enroll(token, csr, &d, &field, why, sizeof why);
	if (!cert) {
		db_rollback();
		if (strcmp(field, "token") == 0)
			auth_note_failure(req);
		return http_field_error(req, field, why);
	}
	req->auth.tenant = d.tenant;
	snprintf(req->auth.actor, sizeof req->auth.actor, "terminal:%lld", (long long)d.id);
	audit_enrol(req, &d);
	if (db_commit() < 0) {
		free(cert);
		return api_db_error(req);
	}
	devlink_device_changed(d.uid, &d);
	ca = devca_ca_pem();
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "uid", d.uid);
	cJSON_AddNumberToObject(doc, "device_id", (double)d.id);
	cJSON_AddStringToObject(doc, "cert_pem", cert);
	cJSON_AddStringToObject(doc, "ca_pem", ca ? ca : "");
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
	free(cert);
	free(ca);
}

void api_devices_update(struct http_req *req)
{
	int64_t tenant = api_tenant(req), id = api_id_param(req, 0);
	long long version;
	struct device d;
	struct jv v;
	cJSON *o;
	int rc;

	if (id < 0 || (version = api_if_match(req)) < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	device_body_check(&v, tenant, req->json, 1);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	rc = device_update(tenant, id, version, req->json);
	if (rc != 0) {
		db_rollback();
		if (rc == 1)
			return http_error(req, 404, "not_found", "no such terminal");
		if (rc == 2)
			return http_error(req, 412, "precondition_failed", "changed by someone else since you read it");
		return api_db_error(req);
	}
	audit_device(req, "device.update", id, req->json);
	if (db_commit() < 0)
		return api_db_error(req);
	device_get(tenant, id, &d);
	o = device_json(&d);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

static void set_status(struct http_req *req, const char *status, const char *action)
{
	struct device d;
	cJSON *o;

	if (load(req, &d) < 0)
		return;
	/* Enabling a terminal that never enrolled makes it pending again, so
	 * its enrolment token (or a new one) can be used. */
	if (strcmp(status, "active") == 0 && !d.serial[0])
		status = "pending";
	if (db_begin() < 0)
		return api_db_error(req);
	if (device_set_status(d.tenant, d.id, status) != 0) {
		db_rollback();
		return api_db_error(req);
	}
	audit_device(req, action, d.id, NULL);
	if (db_commit() < 0)
		return api_db_error(req);
	device_get(d.tenant, d.id, &d);
	/* A disabled terminal is cut at once and refused from then on. */
	devlink_device_changed(d.uid, &d);
	o = device_json(&d);
	api_reply_record(req, 200, o, NULL);
	cJSON_Delete(o);
}

void api_devices_disable(struct http_req *req) { set_status(req, "disabled", "device.disable"); }
void api_devices_enable(struct http_req *req) { set_status(req, "active", "device.enable"); }

void api_devices_delete(struct http_req *req)
{
	struct device d;

	if (load(req, &d) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	if (device_delete(d.tenant, d.id) != 0) {
		db_rollback();
		return api_db_error(req);
	}
	audit_device(req, "device.delete", d.id, NULL);
	if (db_commit() < 0)
		return api_db_error(req);
	devlink_device_changed(d.uid, NULL);
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

/* A new one-time token, to enrol again (a replaced terminal, a lost key). */
void api_devices_new_token(struct http_req *req)
{
	char token[ENROLL_TOKEN_LEN];
	struct device d;
	cJSON *doc;

	if (load(req, &d) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	if (device_new_enroll_token(d.tenant, d.id, cfg_int(CFG_DEVICES_ENROLL_TTL) / 1000, token) < 0) {
		db_rollback();
		return api_db_error(req);
	}
	audit_device(req, "device.new_enroll_token", d.id, NULL);
	if (db_commit() < 0)
		return api_db_error(req);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "enroll_token", token);
	cJSON_AddNumberToObject(doc, "enroll_token_expires_in_s", (double)(cfg_int(CFG_DEVICES_ENROLL_TTL) / 1000));
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
	sodium_memzero(token, sizeof token);
}

/* --- commands ------------------------------------------------------------- */

void api_commands_create(struct http_req *req)
{
	const cJSON *kind, *ttl;
	struct device d;
	struct jv v;
	int64_t id;
	long long ttl_ms;
	cJSON *o;

	if (load(req, &d) < 0 || http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	command_check(&v, d.tenant, req->json);
	if (jv_finish(&v, req) < 0)
		return;
	kind = cJSON_GetObjectItem(req->json, "kind");
	ttl = cJSON_GetObjectItem(req->json, "ttl_seconds");
	/* Unlocks are short-lived by default: a late unlock is worse than none. */
	ttl_ms = cJSON_IsNumber(ttl) ? (long long)ttl->valuedouble * 1000 /* checked: 1 s .. 1 day */
				     : strcmp(kind->valuestring, "unlock") == 0 ? 30000 : 3600000;
	if (db_begin() < 0)
		return api_db_error(req);
	if (command_create(d.tenant, d.id, kind->valuestring, cJSON_GetObjectItem(req->json, "params"), ttl_ms,
			   req->auth.actor, &id) < 0) {
		db_rollback();
		return api_db_error(req);
	}
	audit_device(req, "device.command", d.id, req->json);
	if (db_commit() < 0)
		return api_db_error(req);
	devlink_commands_queued();
	o = command_get(d.tenant, id);
	http_reply_json(req, 201, o);
	cJSON_Delete(o);
}

void api_commands_list(struct http_req *req)
{
	struct device d;
	int64_t cursor, next;
	cJSON *items;

	if (load(req, &d) < 0 || api_query_id(req, "cursor", &cursor) < 0)
		return;
	items = cJSON_CreateArray();
	if (command_list(d.tenant, d.id, cursor, (int)api_query_int(req, "limit", 1, 500, 50), items, &next) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}

void api_commands_get(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	cJSON *o;

	if (id < 0)
		return;
	o = command_get(api_tenant(req), id);
	if (!o)
		return http_error(req, 404, "not_found", "no such command");
	http_reply_json(req, 200, o);
	cJSON_Delete(o);
}

/* --- firmware ----------------------------------------------------------------- */

/* Not empty, no control characters (model and version are shown to
 * admins and sent to terminals). */
static int printable(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

void api_firmware_upload(struct http_req *req)
{
	char model[80], version[80], why[200], target[40];
	struct firmware f;
	struct jv v;
	int64_t id;
	cJSON *o;

	jv_init(&v, NULL);
	if (!api_query_str(req, "model", model, sizeof model) || !printable(model) || strlen(model) > 64)
		jv_error(&v, "model", "is required (?model=...), 1 to 64 bytes");
	if (!api_query_str(req, "version", version, sizeof version) || !printable(version) || strlen(version) > 64)
		jv_error(&v, "version", "is required (?version=...), 1 to 64 bytes");
	if (jv_finish(&v, req) < 0 || http_read_body(req) < 0)
		return;
	if (req->body_len == 0)
		return http_field_error(req, "body", "is the firmware image and must not be empty");
	if (db_begin() < 0)
		return api_db_error(req);
	if (firmware_store(api_tenant(req), model, version, req->body, req->body_len, &id, why, sizeof why) < 0) {
		db_rollback();
		return http_field_error(req, "version", why);
	}
	snprintf(target, sizeof target, "firmware:%lld", (long long)id);
	firmware_get(api_tenant(req), id, &f);
	o = firmware_json(&f);
	api_audit(req, "firmware.upload", target, "ok", o);
	if (db_commit() < 0) {
		cJSON_Delete(o);
		return api_db_error(req);
	}
	http_reply_json(req, 201, o);
	cJSON_Delete(o);
}

void api_firmware_list(struct http_req *req)
{
	cJSON *items = cJSON_CreateArray();

	if (firmware_list(api_tenant(req), items) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, 0);
}

void api_firmware_rollout(struct http_req *req)
{
	int64_t id = api_id_param(req, 0), devices[1000], bad = 0;
	const cJSON *list, *e;
	char target[40];
	int n = 0, rc;

	if (id < 0 || http_read_json(req) < 0)
		return;
	list = cJSON_GetObjectItemCaseSensitive(req->json, "device_ids");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1 || cJSON_GetArraySize(list) > 1000 ||
	    cJSON_GetArraySize(req->json) != 1)
		return http_field_error(req, "device_ids", "must be a list of 1 to 1000 terminal ids (and nothing else)");
	cJSON_ArrayForEach(e, list)
	{
		long long dev;
		if (json_int(e, 1, INT64_MAX, &dev) < 0)
			return http_field_error(req, "device_ids", "must hold terminal ids");
		devices[n++] = dev;
	}
	if (db_begin() < 0)
		return api_db_error(req);
	rc = firmware_rollout(api_tenant(req), id, devices, n, req->auth.actor, &bad);
	if (rc < 0) {
		db_rollback();
		if (bad)
			return http_field_error(req, "device_ids", "names a terminal that is not in this tenant");
		return http_error(req, 404, "not_found", "no such firmware image");
	}
	snprintf(target, sizeof target, "firmware:%lld", (long long)id);
	api_audit(req, "firmware.rollout", target, "ok", req->json);
	if (db_commit() < 0)
		return api_db_error(req);
	devlink_commands_queued();
	api_firmware_rollouts(req);
}

void api_firmware_rollouts(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	cJSON *items;

	if (id < 0)
		return;
	struct firmware f;
	if (firmware_get(api_tenant(req), id, &f) != 0)
		return http_error(req, 404, "not_found", "no such firmware image");
	items = cJSON_CreateArray();
	if (firmware_rollouts(api_tenant(req), id, items) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, 0);
}
