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
/* Query parameter copied (percent-decoded) into out; NULL if absent. */
const char *api_query_str(struct http_req *req, const char *name, char *out, size_t len);

/* health.c */
void api_healthz(struct http_req *req);
void api_readyz(struct http_req *req);

/* session.c */
void api_session_login(struct http_req *req);
void api_session_get(struct http_req *req);
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
