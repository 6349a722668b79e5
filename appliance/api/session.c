/* /api/v1/session: logging in and out, the caller's own account (password
 * change, TOTP enrolment). */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault.h"
#include "domain/admins.h"
#include "domain/alerts.h"
#include "domain/allowlist.h"
#include "domain/audit.h"
#include "domain/sessions.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/json.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A hash to verify against when there is no account (or it is locked), so
 * that every refusal costs the same time and reveals nothing. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
	vault_secret_hash("not a password of anyone", dummy_hash);
}

static void ensure_dummy_hash(void)
{
	pthread_once(&dummy_once, make_dummy_hash);
}

static void login_audit(struct http_req *req, const struct admin *a, const char *username,
			const char *outcome, const char *reason)
{
	cJSON *details = cJSON_CreateObject(), *personal = NULL;
	char actor[48];
	struct audit_event ev = {0};

	cJSON_AddStringToObject(details, "reason", reason);
	if (a) {
		snprintf(actor, sizeof actor, "admin:%lld", (long long)a->id);
	} else {
		/* The name tried may be a password typed in the wrong box: sealed. */
		snprintf(actor, sizeof actor, "unknown");
		personal = cJSON_CreateObject();
		cJSON_AddStringToObject(personal, "username", username);
	}
	ev.tenant = a ? a->tenant : 0;
	ev.actor_type = a ? "admin" : "anonymous";
	ev.actor_id = actor;
	ev.source = req->remote;
	ev.action = strcmp(outcome, "ok") == 0 ? "auth.login" : "auth.login_failed";
	ev.target = actor;
	ev.outcome = outcome;
	ev.details = details;
	ev.personal = personal;
	audit_append(&ev);
	cJSON_Delete(details);
	cJSON_Delete(personal);
}

/* Every refused login looks the same to the client. */
static void refuse(struct http_req *req)
{
	auth_note_failure(req);
	http_error(req, 401, "login_failed", "invalid username or password");
}

static void count_failure(struct http_req *req, const struct admin *a, const char *reason)
{
	int locked = 0;

	db_begin();
	admin_record_failure(a->id, &locked);
	login_audit(req, a, a->username, "failed", reason);
	if (locked) {
		cJSON *d = cJSON_CreateObject();
		char subject[160], actor[32];
		struct audit_event ev = {a->tenant, "system", "auth", req->remote, "auth.account_locked", "", "ok", d, NULL, 0};

		snprintf(actor, sizeof actor, "admin:%lld", (long long)a->id);
		ev.target = actor;
		cJSON_AddStringToObject(d, "username", a->username);
		cJSON_AddNumberToObject(d, "failures", a->failed_logins + 1);
		audit_append(&ev);
		snprintf(subject, sizeof subject, "admin %s locked out after %d failed logins", a->username,
			 a->failed_logins + 1);
		alert_raise_keyed("admin_locked", actor, "warning", a->tenant, subject, d);
		cJSON_Delete(d);
	}
	db_commit();
}

static int second_factor(struct http_req *req, const struct admin *a, const char *code, const char *recovery)
{
	if (!a->totp_enabled)
		return 0;
	if (code && admin_totp_check(a->id, code) == 0)
		return 0;
	if (!code && recovery && admin_recovery_use(a->id, recovery) == 0) {
		char actor[32];
		struct audit_event ev = {a->tenant, "admin", actor, req->remote, "auth.recovery_code_used",
					 actor, "ok", NULL, NULL, 0};
		snprintf(actor, sizeof actor, "admin:%lld", (long long)a->id);
		audit_append(&ev);
		return 0;
	}
	if (!code && !recovery) {
		http_error(req, 401, "totp_required", "enter the code from your authenticator app");
		return -1;
	}
	count_failure(req, a, code ? "wrong TOTP code" : "wrong recovery code");
	refuse(req);
	return -1;
}

static void reply_session(struct http_req *req, const struct admin *a, const char *token,
			  const struct session *s, int status)
{
	cJSON *doc = cJSON_CreateObject();
	char cookie[200], when[32];
	time_t t = (time_t)s->expires_at;
	struct tm tm;

	cJSON_AddItemToObject(doc, "admin", admin_json(a));
	cJSON_AddStringToObject(doc, "csrf_token", s->csrf);
	cJSON_AddBoolToObject(doc, "must_change_password", a->must_change_password);
	cJSON_AddBoolToObject(doc, "must_enrol_totp", cfg_int(CFG_AUTH_REQUIRE_TOTP) && !a->totp_enabled);
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(doc, "expires_at", when);
	/* Where the caller is seen from: the allow-list form proposes it. */
	cJSON_AddStringToObject(doc, "remote_address", req->remote);
	char *text = cJSON_PrintUnformatted(doc);
	if (token) {
		auth_cookie(token, s->expires_at - (long long)time(NULL), cookie, sizeof cookie);
		const char *hdr[] = {"Set-Cookie", cookie, NULL};
		http_reply(req, status, "application/json", text, strlen(text), hdr);
	} else {
		http_reply(req, status, "application/json", text, strlen(text), NULL);
	}
	cJSON_free(text);
	cJSON_Delete(doc);
}

void api_session_login(struct http_req *req)
{
	const char *username, *password, *code, *recovery;
	char hash[crypto_pwhash_STRBYTES], token[SESSION_TOKEN_LEN];
	struct admin a;
	struct session s;
	struct jv v;
	int found;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	username = jv_string(&v, "username", 1, 1, 64);
	password = jv_string(&v, "password", 1, 1, 256);
	code = jv_string(&v, "totp_code", 0, 1, 16);
	recovery = jv_string(&v, "recovery_code", 0, 1, 32);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	ensure_dummy_hash();
	found = admin_find(username, &a, hash) == 0;
	if (!found) {
		vault_secret_verify(dummy_hash, password);
		login_audit(req, NULL, username, "failed", "unknown username");
		return refuse(req);
	}
	/* The allow-list is consulted before the password is looked at. */
	if (!allowlist_permits(a.tenant, req->remote)) {
		vault_secret_verify(dummy_hash, password);
		login_audit(req, &a, username, "denied", "address not on the allow-list");
		return refuse(req);
	}
	if (!a.active || a.locked_until > (long long)time(NULL)) {
		vault_secret_verify(dummy_hash, password);
		login_audit(req, &a, username, "denied", a.active ? "account locked" : "account disabled");
		return refuse(req);
	}
	if (vault_secret_verify(hash, password) != 0) {
		count_failure(req, &a, "wrong password");
		return refuse(req);
	}
	sodium_memzero(hash, sizeof hash);
	if (second_factor(req, &a, code, recovery) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_record_success(a.id) < 0 ||
	    session_create(a.id, req->remote, (int)cfg_int(CFG_SESSION_SINGLE), token, &s) < 0) {
		db_rollback();
		return api_db_error(req);
	}
	login_audit(req, &a, username, "ok", a.totp_enabled ? "password and TOTP" : "password");
	if (db_commit() < 0)
		return api_db_error(req);
	reply_session(req, &a, token, &s, 200);
	sodium_memzero(token, sizeof token);
}

void api_session_get(struct http_req *req)
{
	struct admin a;
	struct session s = {0};

	if (req->auth.kind == AUTH_TOKEN) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "token", req->auth.username);
		cJSON_AddNumberToObject(doc, "tenant_id", (double)req->auth.admin_tenant);
		cJSON_AddStringToObject(doc, "role", role_name(req->auth.role));
		cJSON_AddBoolToObject(doc, "read_only", req->auth.read_only);
		http_reply_json(req, 200, doc);
		cJSON_Delete(doc);
		return;
	}
	if (admin_get(req->auth.admin_id, &a) != 0)
		return api_db_error(req);
	snprintf(s.csrf, sizeof s.csrf, "%s", req->auth.csrf);
	s.expires_at = (long long)time(NULL); /* not shown below; reply_session reads it */
	{
		sqlite3_stmt *st = db_stmt("SELECT expires_at FROM sessions WHERE id = ?");
		if (st) {
			sqlite3_bind_int64(st, 1, req->auth.session_id);
			if (sqlite3_step(st) == SQLITE_ROW)
				s.expires_at = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
	}
	reply_session(req, &a, NULL, &s, 200);
}

/* PATCH {"language": "en"|"ja"}: the caller's own console language, for
 * every role (PATCH /api/v1/admins/{id} is for admins managing others). */
void api_session_update(struct http_req *req)
{
	const char *language;
	cJSON *details;
	struct jv v;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	language = jv_enum(&v, "language", 1, "en|ja");
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "language", language);
	if (db_begin() < 0) {
		cJSON_Delete(details);
		return api_db_error(req);
	}
	if (admin_set_language(req->auth.admin_id, language) < 0 ||
	    api_audit(req, "auth.language", req->auth.actor, "ok", details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		return api_db_error(req);
	}
	cJSON_Delete(details);
	api_session_get(req);
}

void api_session_logout(struct http_req *req)
{
	char cookie[200];
	const char *hdr[] = {"Set-Cookie", cookie, NULL};

	if (req->auth.kind != AUTH_SESSION) {
		http_error(req, 400, "bad_request", "only a console session can log out");
		return;
	}
	db_begin();
	session_end(req->auth.session_id, "logout");
	api_audit(req, "auth.logout", req->auth.actor, "ok", NULL);
	db_commit();
	auth_cookie("", 0, cookie, sizeof cookie);
	http_reply(req, 204, NULL, NULL, 0, hdr);
}

void api_session_password(struct http_req *req)
{
	const char *current, *next;
	char hash[crypto_pwhash_STRBYTES], why[300];
	struct admin a;
	struct jv v;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	current = jv_string(&v, "current_password", 1, 1, 256);
	next = jv_string(&v, "new_password", 1, 1, 256);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (admin_find(req->auth.username, &a, hash) != 0)
		return api_db_error(req);
	if (vault_secret_verify(hash, current) != 0) {
		count_failure(req, &a, "wrong current password at password change");
		return http_field_error(req, "current_password", "is not your current password");
	}
	if (admin_password_ok(a.username, next, why, sizeof why) < 0)
		return http_field_error(req, "new_password", why);
	if (strcmp(current, next) == 0)
		return http_field_error(req, "new_password", "must differ from the current password");
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_set_password(a.id, next, 0) < 0 ||
	    sessions_end_for_admin(a.id, "password changed", req->auth.session_id) < 0 ||
	    api_audit(req, "auth.password_change", req->auth.actor, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	/* The bootstrap admin's one-time password is no longer needed on disk. */
	if (a.must_change_password) {
		char path[4200];
		unlink(state_path("bootstrap-password", path, sizeof path));
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

void api_session_totp_begin(struct http_req *req)
{
	char uri[512], secret[64];
	cJSON *doc;
	struct admin a;

	if (admin_get(req->auth.admin_id, &a) != 0)
		return api_db_error(req);
	if (a.totp_enabled) {
		http_error(req, 409, "conflict", "TOTP is already enabled; disable it first to enrol again");
		return;
	}
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_totp_begin(a.id, uri, sizeof uri, secret, sizeof secret) < 0 ||
	    api_audit(req, "auth.totp_enrol_start", req->auth.actor, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "otpauth_uri", uri);
	cJSON_AddStringToObject(doc, "secret", secret);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
	sodium_memzero(secret, sizeof secret);
	sodium_memzero(uri, sizeof uri);
}

void api_session_totp_confirm(struct http_req *req)
{
	char codes[10][16];
	const char *code;
	struct jv v;
	cJSON *doc, *list;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	code = jv_string(&v, "code", 1, 6, 6);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_totp_confirm(req->auth.admin_id, code, codes) < 0) {
		db_rollback();
		return http_field_error(req, "code", "does not match (check the time on your phone)");
	}
	if (api_audit(req, "auth.totp_enabled", req->auth.actor, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	doc = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(doc, "recovery_codes");
	for (int i = 0; i < 10; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(codes[i]));
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
	sodium_memzero(codes, sizeof codes);
}

void api_session_totp_disable(struct http_req *req)
{
	char hash[crypto_pwhash_STRBYTES];
	const char *password;
	struct admin a;
	struct jv v;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	password = jv_string(&v, "password", 1, 1, 256);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	if (cfg_int(CFG_AUTH_REQUIRE_TOTP))
		return http_error(req, 409, "conflict",
				  "two-step login is required for every admin here (auth.require_totp): it cannot be "
				  "turned off");
	if (admin_find(req->auth.username, &a, hash) != 0)
		return api_db_error(req);
	if (vault_secret_verify(hash, password) != 0) {
		count_failure(req, &a, "wrong password at TOTP removal");
		return http_field_error(req, "password", "is not your password");
	}
	if (db_begin() < 0)
		return api_db_error(req);
	if (admin_totp_disable(a.id) < 0 ||
	    api_audit(req, "auth.totp_disabled", req->auth.actor, "ok", NULL) < 0 || db_commit() < 0) {
		db_rollback();
		return api_db_error(req);
	}
	http_reply(req, 204, NULL, NULL, 0, NULL);
}
