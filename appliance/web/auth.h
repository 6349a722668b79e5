/* auth: who is making a request and whether the route allows it.
 *
 * Order of checks for a non-public route: credentials (session cookie,
 * Bearer API token, or a site's Bearer credential on the sync routes) ->
 * admin still active -> address allowed by the
 * account's allow-list -> CSRF token for cookie-authenticated writes ->
 * forced password change -> the route's roles (and a token's scope) ->
 * tenant scope. Failures answer 401/403 with a JSON error, and failed
 * credentials count towards the address's abuse threshold. */
#ifndef GH_AUTH_H
#define GH_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct http_req;

enum auth_kind { AUTH_NONE, AUTH_SESSION, AUTH_TOKEN, AUTH_SITE };

struct auth {
	enum auth_kind kind;
	int64_t admin_id;     /* session: the admin; token: who created it */
	int64_t session_id, token_id;
	int64_t site_pairing; /* AUTH_SITE: the pairing whose credential was given */
	int64_t admin_tenant; /* the account's own tenant; 0 for system admins */
	int64_t tenant;       /* the tenant this request acts on (0: the appliance) */
	unsigned role;        /* ROLE_* of the session's admin, or granted by the token's scope */
	int read_only;        /* token scope "read" */
	int must_change_password;
	int must_enrol_totp;  /* auth.require_totp, and this admin has no TOTP yet */
	char username[65];
	char actor[48];       /* for the audit log: "admin:5", "token:3" */
	char csrf[48];
};

/* Authenticate and authorise req for its route. Returns 0 when it may
 * proceed (req->auth filled), -1 when a response was sent. */
int auth_check(struct http_req *req);

/* Set-Cookie value for a new session / for ending one. */
void auth_cookie(const char *token, long long max_age_s, char *out, size_t len);

/* Wall-clock milliseconds (blocks and limits are persisted in Unix time). */
long long auth_now_ms(void);

/* Note an authentication failure from the request's address; blocks the
 * address when it crosses the threshold. */
void auth_note_failure(struct http_req *req);

#endif
