/* sessions: the credentials a request can carry. Console sessions (a
 * random cookie token, stored only as a keyed digest, with a CSRF token,
 * idle and absolute timeouts, one live session per admin by default) and
 * API tokens for integrations (random, shown once, stored as a digest,
 * scoped, expiring, revocable). */
#ifndef GH_SESSIONS_H
#define GH_SESSIONS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_TOKEN_LEN 44 /* base64url of 32 bytes, NUL included */
#define CSRF_TOKEN_LEN 44
#define API_TOKEN_PREFIX "ght_"
#define API_TOKEN_LEN 64

struct session {
	int64_t id, admin_id;
	char csrf[CSRF_TOKEN_LEN];
	long long created_at, last_seen_at, expires_at;
};

/* Start a session for admin_id from remote. With single = 1 every other
 * live session of that admin ends ("superseded"). Fills the cookie token
 * and CSRF token (only the token's digest is stored). */
int session_create(int64_t admin_id, const char *remote, int single, char token[SESSION_TOKEN_LEN],
		   struct session *s);

/* Find the live session for a cookie token; ends it (and returns 1) if it
 * is past its idle or absolute timeout. 0 found, 1 expired or ended,
 * 2 unknown, -1 error. */
int session_lookup(const char *token, struct session *s);

/* End one session, or all of an admin's (except one id, or 0). */
int session_end(int64_t id, const char *reason);
int sessions_end_for_admin(int64_t admin_id, const char *reason, int64_t except);

struct api_token {
	int64_t id, tenant, created_by;
	char name[101], scope[12], prefix[16];
	long long expires_at;
};

/* Create a token; *secret receives the whole token (shown once). */
int api_token_create(int64_t tenant, const char *name, const char *scope, long long expires_at,
		     int64_t created_by, char secret[API_TOKEN_LEN], int64_t *id);
/* Find a live token (not revoked, not expired) by its secret. 0 / 1 not found / -1. */
int api_token_lookup(const char *secret, struct api_token *t);
int api_token_revoke(int64_t tenant, int64_t id);
/* The tenant's tokens, without secrets. */
int api_token_list(int64_t tenant, cJSON *out);

#endif
