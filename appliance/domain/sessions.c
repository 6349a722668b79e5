#include "sessions.h"

#include "core/isotime.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void random_token(char *out, size_t len)
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, len, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

static int digest(const char *token, unsigned char out[VAULT_TOKEN_DIGEST_BYTES])
{
	return vault_token_digest(token, strlen(token), out) == VAULT_OK ? 0 : -1;
}

int sessions_end_for_admin(int64_t admin_id, const char *reason, int64_t except)
{
	sqlite3_stmt *st = db_stmt("UPDATE sessions SET ended_at = unixepoch(), end_reason = ? "
				   "WHERE admin_id = ? AND id != ? AND ended_at IS NULL");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, admin_id);
	sqlite3_bind_int64(st, 3, except);
	rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db_get()) : -1;
	sqlite3_reset(st);
	return rc;
}

int session_create(int64_t admin_id, const char *remote, int single, char token[SESSION_TOKEN_LEN],
		   struct session *s)
{
	unsigned char d[VAULT_TOKEN_DIGEST_BYTES];
	long long now = (long long)time(NULL);
	sqlite3_stmt *st;
	int rc;

	random_token(token, SESSION_TOKEN_LEN);
	memset(s, 0, sizeof *s);
	random_token(s->csrf, sizeof s->csrf);
	if (digest(token, d) < 0)
		return -1;
	if (single && sessions_end_for_admin(admin_id, "superseded", 0) < 0)
		return -1;
	st = db_stmt("INSERT INTO sessions (token_digest, csrf_token, admin_id, remote_addr, created_at, "
		     "last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	s->admin_id = admin_id;
	s->created_at = s->last_seen_at = now;
	s->expires_at = now + cfg_int(CFG_SESSION_ABSOLUTE_TIMEOUT) / 1000;
	sqlite3_bind_blob(st, 1, d, sizeof d, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, s->csrf, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, admin_id);
	sqlite3_bind_text(st, 4, remote, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, s->expires_at);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	s->id = sqlite3_last_insert_rowid(db_get());
	return rc;
}

int session_end(int64_t id, const char *reason)
{
	sqlite3_stmt *st = db_stmt("UPDATE sessions SET ended_at = unixepoch(), end_reason = ? "
				   "WHERE id = ? AND ended_at IS NULL");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* last_seen_at is written at most once a minute per session (more often
 * only when the idle timeout is shorter than two minutes): a request
 * should not cost a database write just to say it happened. */
static void touch(const struct session *s, long long now)
{
	long long idle = cfg_int(CFG_SESSION_IDLE_TIMEOUT) / 1000, every = idle / 2 < 60 ? idle / 2 : 60;
	sqlite3_stmt *st;

	if (now - s->last_seen_at < every)
		return;
	st = db_stmt("UPDATE sessions SET last_seen_at = ? WHERE id = ?");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, s->id);
	sqlite3_step(st);
	sqlite3_reset(st);
}

int session_lookup(const char *token, struct session *s)
{
	unsigned char d[VAULT_TOKEN_DIGEST_BYTES];
	long long now = (long long)time(NULL);
	sqlite3_stmt *st;
	int rc;

	if (strlen(token) != SESSION_TOKEN_LEN - 1)
		return 2;
	/* A failure to look (the vault or the database) is not "no such
	 * session": the caller answers 503, the client tries again. */
	if (digest(token, d) < 0) {
		log_err("sessions: cannot compute the session digest (vault unavailable)");
		return -1;
	}
	/* An ended session is found too: its cookie is stale, not a guess, and
	 * must not count towards blocking the address (a console with a few
	 * requests in flight when the session ends would block itself). */
	st = db_stmt("SELECT id, admin_id, csrf_token, created_at, last_seen_at, expires_at, ended_at IS NOT NULL "
		     "FROM sessions WHERE token_digest = ?");
	if (!st)
		return -1;
	sqlite3_bind_blob(st, 1, d, sizeof d, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc != SQLITE_DONE)
			log_err("sessions: lookup failed: %s", sqlite3_errmsg(db_get()));
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 2 : -1;
	}
	memset(s, 0, sizeof *s);
	s->id = sqlite3_column_int64(st, 0);
	s->admin_id = sqlite3_column_int64(st, 1);
	snprintf(s->csrf, sizeof s->csrf, "%s", sqlite3_column_text(st, 2));
	s->created_at = sqlite3_column_int64(st, 3);
	s->last_seen_at = sqlite3_column_int64(st, 4);
	s->expires_at = sqlite3_column_int64(st, 5);
	int ended = sqlite3_column_int(st, 6);
	sqlite3_reset(st);
	if (ended)
		return 1;
	if (now >= s->expires_at || now - s->last_seen_at >= cfg_int(CFG_SESSION_IDLE_TIMEOUT) / 1000) {
		session_end(s->id, now >= s->expires_at ? "expired" : "idle");
		return 1;
	}
	touch(s, now);
	return 0;
}

int api_token_create(int64_t tenant, const char *name, const char *scope, long long expires_at,
		     int64_t created_by, char secret[API_TOKEN_LEN], int64_t *id)
{
	unsigned char d[VAULT_TOKEN_DIGEST_BYTES];
	char body[SESSION_TOKEN_LEN], prefix[16];
	sqlite3_stmt *st;
	int rc;

	random_token(body, sizeof body);
	snprintf(secret, API_TOKEN_LEN, API_TOKEN_PREFIX "%s", body);
	snprintf(prefix, sizeof prefix, "%.12s", secret);
	sodium_memzero(body, sizeof body);
	if (digest(secret, d) < 0)
		return -1;
	st = db_stmt("INSERT INTO api_tokens (tenant_id, name, scope, token_digest, prefix, created_by, "
		     "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, unixepoch(), ?)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, d, sizeof d, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, prefix, -1, SQLITE_TRANSIENT);
	if (created_by)
		sqlite3_bind_int64(st, 6, created_by);
	sqlite3_bind_int64(st, 7, expires_at);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	*id = sqlite3_last_insert_rowid(db_get());
	return rc;
}

int api_token_lookup(const char *secret, struct api_token *t)
{
	unsigned char d[VAULT_TOKEN_DIGEST_BYTES];
	sqlite3_stmt *st;
	int rc;

	if (strncmp(secret, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX)) != 0 || strlen(secret) >= API_TOKEN_LEN)
		return 1;
	if (digest(secret, d) < 0) {
		log_err("sessions: cannot compute a token digest (vault unavailable)");
		return -1;
	}
	st = db_stmt("SELECT id, tenant_id, coalesce(created_by, 0), name, scope, prefix, expires_at "
		     "FROM api_tokens WHERE token_digest = ? AND revoked_at IS NULL AND expires_at > unixepoch()");
	if (!st)
		return -1;
	sqlite3_bind_blob(st, 1, d, sizeof d, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(t, 0, sizeof *t);
		t->id = sqlite3_column_int64(st, 0);
		t->tenant = sqlite3_column_int64(st, 1);
		t->created_by = sqlite3_column_int64(st, 2);
		snprintf(t->name, sizeof t->name, "%s", sqlite3_column_text(st, 3));
		snprintf(t->scope, sizeof t->scope, "%s", sqlite3_column_text(st, 4));
		snprintf(t->prefix, sizeof t->prefix, "%s", sqlite3_column_text(st, 5));
		t->expires_at = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW && (st = db_stmt("UPDATE api_tokens SET last_used_at = unixepoch() WHERE id = ? "
					      "AND coalesce(last_used_at, 0) < unixepoch() - 60"))) {
		/* At most once a minute, for the token list's "last used". */
		sqlite3_bind_int64(st, 1, t->id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int api_token_revoke(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st = db_stmt("UPDATE api_tokens SET revoked_at = unixepoch() "
				   "WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

int api_token_list(int64_t tenant, cJSON *out)
{
	sqlite3_stmt *st = db_stmt("SELECT id, name, scope, prefix, created_by, created_at, expires_at, "
				   "revoked_at, last_used_at FROM api_tokens WHERE tenant_id = ? ORDER BY id");
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "scope", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddStringToObject(o, "prefix", (const char *)sqlite3_column_text(st, 3));
		cJSON_AddNumberToObject(o, "created_by", (double)sqlite3_column_int64(st, 4));
		json_add_utc_column(o, "created_at", st, 5, 0);
		json_add_utc_column(o, "expires_at", st, 6, 0);
		json_add_utc_column(o, "revoked_at", st, 7, 0);
		json_add_utc_column(o, "last_used_at", st, 8, 0);
		cJSON_AddItemToArray(out, o);
		n++;
	}
	sqlite3_reset(st);
	return n;
}
