#include "auth.h"

#include "abuse.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "domain/admins.h"
#include "domain/allowlist.h"
#include "domain/blocks.h"
#include "domain/sessions.h"
#include "http.h"
#include "sync/pairing.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define COOKIE_NAME "gh_session"

long long auth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void auth_cookie(const char *token, long long max_age_s, char *out, size_t len)
{
	/* HttpOnly: no script can read it; Secure: HTTPS only; SameSite=Strict:
	 * never sent on a request started by another site. */
	snprintf(out, len, COOKIE_NAME "=%s; Path=/; Max-Age=%lld; HttpOnly; Secure; SameSite=Strict",
		 token, max_age_s);
}

void auth_note_failure(struct http_req *req)
{
	if (abuse_note_failure(req->remote, auth_now_ms()))
		block_add(req->remote, "repeated authentication failures",
			  auth_now_ms() / 1000 + cfg_int(CFG_ABUSE_BLOCK_DURATION) / 1000);
}

/* The value of one cookie from a Cookie header. */
static int cookie_value(const char *header, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t v = strcspn(p + n + 1, ";");
			if (v == 0 || v >= len)
				return -1;
			memcpy(out, p + n + 1, v);
			out[v] = '\0';
			return 0;
		}
		p = strchr(p, ';');
	}
	return -1;
}

static int deny(struct http_req *req, int status, const char *code, const char *msg)
{
	http_error(req, status, code, "%s", msg);
	return -1;
}

static int is_safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* The tenant a request acts on: an admin's own tenant; for system admins
 * the X-Tenant header (slug or id) when given, else the appliance (0). */
static int resolve_tenant(struct http_req *req)
{
	const char *h = http_header(req, "X-Tenant");
	sqlite3_stmt *st;
	int found = 0;

	if (req->auth.admin_tenant != 0 || !h || !*h) {
		req->auth.tenant = req->auth.admin_tenant;
		if (h && *h && req->auth.admin_tenant != 0) {
			char own[32];
			snprintf(own, sizeof own, "%lld", (long long)req->auth.admin_tenant);
			st = db_stmt("SELECT 1 FROM tenants WHERE id = ?1 AND (slug = ?2 OR CAST(id AS TEXT) = ?2)");
			if (st) {
				sqlite3_bind_int64(st, 1, req->auth.admin_tenant);
				sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
				found = sqlite3_step(st) == SQLITE_ROW;
				sqlite3_reset(st);
			}
			if (!found)
				return deny(req, 404, "not_found", "no such tenant");
		}
		return 0;
	}
	st = db_stmt("SELECT id FROM tenants WHERE slug = ?1 OR CAST(id AS TEXT) = ?1");
	if (!st)
		return deny(req, 503, "unavailable", "database unavailable");
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		req->auth.tenant = sqlite3_column_int64(st, 0);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : deny(req, 404, "not_found", "no such tenant");
}

static int from_session(struct http_req *req, const char *token)
{
	struct session s;
	struct admin a;
	int rc = session_lookup(token, &s);

	if (rc == 1)
		return deny(req, 401, "session_expired", "the session has expired: log in again");
	if (rc < 0)
		return deny(req, 503, "unavailable", "the session could not be checked now; try again");
	if (rc != 0) {
		auth_note_failure(req);
		return deny(req, 401, "unauthenticated", "log in first");
	}
	rc = admin_get(s.admin_id, &a);
	if (rc < 0)
		return deny(req, 503, "unavailable", "the session could not be checked now; try again");
	if (rc != 0 || !a.active) {
		session_end(s.id, "account disabled");
		return deny(req, 401, "unauthenticated", "log in first");
	}
	req->auth.kind = AUTH_SESSION;
	req->auth.admin_id = a.id;
	req->auth.session_id = s.id;
	req->auth.admin_tenant = a.tenant;
	req->auth.role = a.role;
	req->auth.must_change_password = a.must_change_password;
	req->auth.must_enrol_totp = cfg_int(CFG_AUTH_REQUIRE_TOTP) && !a.totp_enabled;
	snprintf(req->auth.username, sizeof req->auth.username, "%s", a.username);
	snprintf(req->auth.actor, sizeof req->auth.actor, "admin:%lld", (long long)a.id);
	snprintf(req->auth.csrf, sizeof req->auth.csrf, "%s", s.csrf);
	return 0;
}

static unsigned scope_role(const char *scope, int *read_only)
{
	*read_only = strcmp(scope, "read") == 0;
	if (strcmp(scope, "operate") == 0)
		return ROLE_OPERATOR;
	return ROLE_TENANT_ADMIN; /* "manage", and "read" limited to safe methods */
}

static int from_token(struct http_req *req, const char *secret)
{
	struct api_token t;
	int rc = api_token_lookup(secret, &t);

	if (rc < 0)
		return deny(req, 503, "unavailable", "the token could not be checked now; try again");
	if (rc != 0) {
		auth_note_failure(req);
		return deny(req, 401, "unauthenticated", "the API token is unknown, expired or revoked");
	}
	req->auth.kind = AUTH_TOKEN;
	req->auth.token_id = t.id;
	req->auth.admin_id = t.created_by;
	req->auth.admin_tenant = t.tenant;
	req->auth.role = scope_role(t.scope, &req->auth.read_only);
	snprintf(req->auth.username, sizeof req->auth.username, "token %s", t.prefix);
	snprintf(req->auth.actor, sizeof req->auth.actor, "token:%lld", (long long)t.id);
	return 0;
}

/* A site appliance's credential (sync/pairing.h): its pairing, tenant and
 * the one role it has. */
static int from_site(struct http_req *req, const char *secret)
{
	int64_t pairing, tenant;

	if (sync_site_auth(secret, &pairing, &tenant) != 0) {
		auth_note_failure(req);
		return deny(req, 401, "unauthenticated", "the site credential is unknown, or its pairing was revoked");
	}
	req->auth.kind = AUTH_SITE;
	req->auth.site_pairing = pairing;
	req->auth.admin_tenant = tenant;
	req->auth.role = ROLE_SITE;
	snprintf(req->auth.username, sizeof req->auth.username, "site of pairing %lld", (long long)pairing);
	snprintf(req->auth.actor, sizeof req->auth.actor, "site:%lld", (long long)pairing);
	return 0;
}

static int credentials(struct http_req *req)
{
	const char *authz = http_header(req, "Authorization");
	const char *cookies = http_header(req, "Cookie");
	char token[128];

	if (authz && strncasecmp(authz, "Bearer ghs_", 11) == 0)
		return from_site(req, authz + 7);
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0)
		return from_token(req, authz + 7);
	if (authz)
		return deny(req, 401, "unauthenticated", "only Bearer tokens are accepted in Authorization");
	if (cookies && cookie_value(cookies, COOKIE_NAME, token, sizeof token) == 0)
		return from_session(req, token);
	return deny(req, 401, "unauthenticated", "log in first");
}

int auth_check(struct http_req *req)
{
	const struct route *r = req->match.route;
	const char *csrf;

	memset(&req->auth, 0, sizeof req->auth);
	if (credentials(req) < 0)
		return -1;
	/* Allow-lists are for admins; a site is authenticated by its credential
	 * and every changeset's signature. */
	if (req->auth.kind != AUTH_SITE && !allowlist_permits(req->auth.admin_tenant, req->remote))
		return deny(req, 403, "address_not_allowed",
			    "this account may not be used from this address (admin allow-list)");
	if (req->auth.kind == AUTH_SESSION && !is_safe_method(req->method)) {
		csrf = http_header(req, "X-CSRF-Token");
		if (!csrf || strlen(csrf) != strlen(req->auth.csrf) ||
		    sodium_memcmp(csrf, req->auth.csrf, strlen(csrf)) != 0)
			return deny(req, 403, "csrf", "missing or wrong X-CSRF-Token header");
	}
	if (req->auth.read_only && !is_safe_method(req->method))
		return deny(req, 403, "forbidden", "this API token may only read");
	if (req->auth.kind == AUTH_TOKEN && (r->flags & RF_SESSION_ONLY))
		return deny(req, 403, "forbidden", "not available to API tokens");
	if (req->auth.must_change_password && !(r->flags & RF_PW_CHANGE))
		return deny(req, 403, "password_change_required", "change your password first");
	/* The routes open during a password change are the ones that enrol. */
	if (req->auth.must_enrol_totp && !(r->flags & RF_PW_CHANGE))
		return deny(req, 403, "totp_enrolment_required",
			    "turn on two-step login (TOTP) first: every admin must use it here");
	if (!(r->roles & req->auth.role))
		return deny(req, 403, "forbidden", "your role may not do this");
	return resolve_tenant(req);
}
