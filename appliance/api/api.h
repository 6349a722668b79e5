/* api: the REST handlers, one file per resource. Each is listed with its
 * method, path, flags, roles and summary in web/routes.c. */
#ifndef GH_API_H
#define GH_API_H

#include <cJSON.h>
#include <stdint.h>

struct http_req;

/* common.c: helpers every handler uses. */
/* Audit an action by the request's caller (actor, address and tenant come
 * from the request). Inside the caller's transaction when one is open. */
int api_audit(struct http_req *req, const char *action, const char *target, const char *outcome,
	      const cJSON *details);
/* The numeric {id} path parameter n, or -1 after sending 404. */
int64_t api_id_param(struct http_req *req, int n);
/* 503 for a database failure (logged). */
void api_db_error(struct http_req *req);
/* A page of results: {"items": items, "next_cursor": ...}. Takes ownership of items. */
void api_reply_page(struct http_req *req, cJSON *items, int64_t next);
/* Query parameter as integer within bounds, or def. */
long long api_query_int(struct http_req *req, const char *name, long long min, long long max, long long def);
/* Query parameter copied (percent-decoded) into out; NULL if absent. A
 * value with a NUL or longer than len becomes API_QUERY_UNMATCHABLE. */
const char *api_query_str(struct http_req *req, const char *name, char *out, size_t len);
#define API_QUERY_UNMATCHABLE "\x01"
/* A positive id (or numeric cursor) query parameter: 0 with *out = 0 when
 * absent, 0 with *out set, or -1 after a 400 naming the parameter. */
int api_query_id(struct http_req *req, const char *name, int64_t *out);

/* entities.c: the access rules' plain records, and helpers for records. */
struct entity;
int64_t api_tenant(struct http_req *req);
void api_reply_record(struct http_req *req, int status, cJSON *obj, const char *location);
long long api_if_match(struct http_req *req);
void api_entity_list(struct http_req *req, const struct entity *e);
void api_entity_get(struct http_req *req, const struct entity *e);
void api_entity_create(struct http_req *req, const struct entity *e);
void api_entity_update(struct http_req *req, const struct entity *e);
void api_entity_delete(struct http_req *req, const struct entity *e);
#define API_ENTITY_DECL(name)                          \
	void api_##name##_list(struct http_req *req);   \
	void api_##name##_create(struct http_req *req); \
	void api_##name##_get(struct http_req *req);    \
	void api_##name##_update(struct http_req *req); \
	void api_##name##_delete(struct http_req *req);
API_ENTITY_DECL(sites)
API_ENTITY_DECL(doors)
API_ENTITY_DECL(holidays)
API_ENTITY_DECL(schedules)
API_ENTITY_DECL(groups)
API_ENTITY_DECL(levels)

/* people.c */
void api_people_list(struct http_req *req);
void api_people_create(struct http_req *req);
void api_people_get(struct http_req *req);
void api_people_update(struct http_req *req);
void api_people_erase(struct http_req *req);
void api_people_report(struct http_req *req);
void api_people_photo_get(struct http_req *req);
void api_people_photo_put(struct http_req *req);
void api_people_photo_delete(struct http_req *req);
void api_credentials_list(struct http_req *req);
void api_credentials_create(struct http_req *req);
void api_credentials_update(struct http_req *req);
void api_credentials_delete(struct http_req *req);
void api_group_member_add(struct http_req *req);
void api_group_member_remove(struct http_req *req);

/* decisions.c */
void api_decisions(struct http_req *req);

/* people_io.c: CSV import, CSV and XLSX export */
void api_people_import(struct http_req *req);
void api_people_export(struct http_req *req);

/* tenants.c */
void api_tenants_list(struct http_req *req);
void api_tenants_create(struct http_req *req);
void api_tenants_update(struct http_req *req);

/* devices.c: terminals, their enrolment, commands and firmware */
void api_devices_list(struct http_req *req);
void api_devices_get(struct http_req *req);
void api_devices_create(struct http_req *req);
void api_devices_enroll(struct http_req *req);
void api_devices_update(struct http_req *req);
void api_devices_disable(struct http_req *req);
void api_devices_enable(struct http_req *req);
void api_devices_delete(struct http_req *req);
void api_devices_new_token(struct http_req *req);
void api_commands_create(struct http_req *req);
void api_commands_list(struct http_req *req);
void api_commands_get(struct http_req *req);
void api_firmware_upload(struct http_req *req);
void api_firmware_list(struct http_req *req);
void api_firmware_rollout(struct http_req *req);
void api_firmware_rollouts(struct http_req *req);

/* jobs.c */
void api_jobs_list(struct http_req *req);
void api_jobs_runs(struct http_req *req);
void api_jobs_run(struct http_req *req);

/* backups.c */
void api_backups_list(struct http_req *req);
void api_backups_download(struct http_req *req);
void api_backups_verify(struct http_req *req);
/* events.c: the event log and its export */
void api_events_list(struct http_req *req);
void api_events_export(struct http_req *req);

/* alerts.c: portal notices and their deliveries */
void api_alerts_list(struct http_req *req);
void api_alerts_get(struct http_req *req);
void api_alerts_acknowledge(struct http_req *req);
void api_alerts_resolve(struct http_req *req);
void api_alerts_deliveries(struct http_req *req);
void api_alerts_test(struct http_req *req);

/* stream.c: the live view (Server-Sent Events) */
void api_stream(struct http_req *req);

/* sync.c: site sync (pairings, the site's exchange, bundles, status) */
void api_sync_pairings_create(struct http_req *req);
void api_sync_pairings_list(struct http_req *req);
void api_sync_pairings_get(struct http_req *req);
void api_sync_pairings_revoke(struct http_req *req);
void api_sync_claim(struct http_req *req);
void api_sync_push(struct http_req *req);
void api_sync_pull(struct http_req *req);
void api_sync_pair(struct http_req *req);
void api_sync_status(struct http_req *req);
void api_sync_export(struct http_req *req);
void api_sync_import(struct http_req *req);

/* openapi.c */
void api_openapi(struct http_req *req);

/* health.c */
void api_healthz(struct http_req *req);
void api_readyz(struct http_req *req);

/* system.c: the configuration, the appliance's state, its web certificate */
void api_settings_get(struct http_req *req);
void api_settings_put(struct http_req *req);
void api_settings_delete(struct http_req *req);
void api_system_get(struct http_req *req);
void api_certificates_web_put(struct http_req *req);

/* door_status.c */
void api_doors_status(struct http_req *req);

/* session.c */
void api_session_login(struct http_req *req);
void api_session_get(struct http_req *req);
void api_session_update(struct http_req *req);
void api_session_logout(struct http_req *req);
void api_session_password(struct http_req *req);
void api_session_totp_begin(struct http_req *req);
void api_session_totp_confirm(struct http_req *req);
void api_session_totp_disable(struct http_req *req);

/* admins.c */
void api_admins_list(struct http_req *req);
void api_admins_create(struct http_req *req);
void api_admins_get(struct http_req *req);
void api_admins_update(struct http_req *req);
void api_admins_unlock(struct http_req *req);
void api_admins_reset_password(struct http_req *req);

/* tokens.c */
void api_tokens_list(struct http_req *req);
void api_tokens_create(struct http_req *req);
void api_tokens_revoke(struct http_req *req);

/* access.c: allow-lists and blocked addresses */
void api_allowlist_list(struct http_req *req);
void api_allowlist_add(struct http_req *req);
void api_allowlist_remove(struct http_req *req);
void api_blocks_list(struct http_req *req);
void api_blocks_remove(struct http_req *req);

/* audit.c */
void api_audit_list(struct http_req *req);
void api_audit_verify(struct http_req *req);

#endif
