#include "admins.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/totp.h"
#include "core/vault.h"
#include "password_policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
	unsigned role;
	const char *name;
} roles[] = {
	{ROLE_SYSTEM_ADMIN, "system-admin"},
	{ROLE_TENANT_ADMIN, "tenant-admin"},
	{ROLE_OPERATOR, "operator"},
	{ROLE_AUDITOR, "auditor"},
};

unsigned role_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof roles / sizeof roles[0]; i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].role;
	return 0;
}

const char *role_name(unsigned role)
{
	if (role == ROLE_SITE)
		return "site";
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (roles[i].role == role)
			return roles[i].name;
	return "?";
}

#define ADMIN_COLUMNS \
	"id, coalesce(tenant_id, 0), username, role, status, must_change_password, totp_enabled, " \
	"totp_last_step, failed_logins, coalesce(locked_until, 0), language, created_at, password_hash"

static void admin_from_row(sqlite3_stmt *st, struct admin *a, char *hash)
{
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, 0);
	a->tenant = sqlite3_column_int64(st, 1);
	snprintf(a->username, sizeof a->username, "%s", sqlite3_column_text(st, 2));
	a->role = role_parse((const char *)sqlite3_column_text(st, 3));
	a->active = strcmp((const char *)sqlite3_column_text(st, 4), "active") == 0;
	a->must_change_password = sqlite3_column_int(st, 5);
	a->totp_enabled = sqlite3_column_int(st, 6);
	a->totp_last_step = sqlite3_column_int64(st, 7);
	a->failed_logins = sqlite3_column_int(st, 8);
	a->locked_until = sqlite3_column_int64(st, 9);
	snprintf(a->language, sizeof a->language, "%s", sqlite3_column_text(st, 10));
	a->created_at = sqlite3_column_int64(st, 11);
	if (hash)
		snprintf(hash, crypto_pwhash_STRBYTES, "%s", sqlite3_column_text(st, 12));
}

static int fetch(sqlite3_stmt *st, struct admin *a, char *hash)
{
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		admin_from_row(st, a, hash);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int admin_get(int64_t id, struct admin *a)
{
	sqlite3_stmt *st = db_stmt("SELECT " ADMIN_COLUMNS " FROM admins WHERE id = ?");

	if (st)
		sqlite3_bind_int64(st, 1, id);
	return fetch(st, a, NULL);
}

int admin_find(const char *username, struct admin *a, char *hash)
{
	sqlite3_stmt *st = db_stmt("SELECT " ADMIN_COLUMNS " FROM admins WHERE username = ?");

	if (st)
		sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
	return fetch(st, a, hash);
}

static struct password_policy policy(void)
{
	struct password_policy p = {
		.min_length = (int)cfg_int(CFG_PASSWORD_MIN_LENGTH),
		.upper = (int)cfg_int(CFG_PASSWORD_REQUIRE_UPPER),
		.lower = (int)cfg_int(CFG_PASSWORD_REQUIRE_LOWER),
		.digit = (int)cfg_int(CFG_PASSWORD_REQUIRE_DIGIT),
		.symbol = (int)cfg_int(CFG_PASSWORD_REQUIRE_SYMBOL),
	};
	return p;
}

int admin_password_ok(const char *username, const char *password, char *why, size_t whylen)
{
	struct password_policy p = policy();

	return password_check(&p, username, password, why, whylen);
}

/* Usernames are identifiers, not free text: letters, digits and . _ - @ */
static int username_ok(const char *u)
{
	size_t n = strlen(u);

	if (n < 1 || n > 64)
		return 0;
	for (const char *p = u; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-@", *p))
			return 0;
	return 1;
}

static int tenant_exists(int64_t tenant)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM tenants WHERE id = ?");
	int found;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, tenant);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

int admin_create(const char *username, const char *role, int64_t tenant, const char *password,
		 int must_change, int64_t *id, const char **field, char *why, size_t whylen)
{
	char hash[crypto_pwhash_STRBYTES];
	unsigned r = role_parse(role);
	struct admin existing;
	sqlite3_stmt *st;
	long long now = (long long)time(NULL);
	int rc;

	*field = "username";
	if (!username_ok(username)) {
		snprintf(why, whylen, "must be 1 to 64 letters, digits or . _ - @");
		return -1;
	}
	if (admin_find(username, &existing, NULL) == 0) {
		snprintf(why, whylen, "is already taken");
		return -1;
	}
	*field = "role";
	if (!r) {
		snprintf(why, whylen, "must be one of system-admin, tenant-admin, operator, auditor");
		return -1;
	}
	*field = "tenant_id";
	if ((r == ROLE_SYSTEM_ADMIN) != (tenant == 0)) {
		snprintf(why, whylen, r == ROLE_SYSTEM_ADMIN ? "must be empty for a system admin"
							     : "is required for this role");
		return -1;
	}
	if (tenant && !tenant_exists(tenant)) {
		snprintf(why, whylen, "does not exist");
		return -1;
	}
	*field = "password";
	if (admin_password_ok(username, password, why, whylen) < 0)
		return -1;
	if (vault_secret_hash(password, hash) != VAULT_OK) {
		snprintf(why, whylen, "cannot be hashed (out of memory)");
		return -1;
	}
	st = db_stmt("INSERT INTO admins (tenant_id, username, role, password_hash, must_change_password, "
		     "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return -1;
	if (tenant)
		sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, username, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role_name(r), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, must_change);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sodium_memzero(hash, sizeof hash);
	if (rc != SQLITE_DONE) {
		*field = "username";
		snprintf(why, whylen, "cannot be stored: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	*id = sqlite3_last_insert_rowid(db_get());
	return 0;
}

static int exec_id(const char *sql, int64_t id)
{
	sqlite3_stmt *st = db_stmt(sql);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db_get()) > 0 ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int admin_set_password(int64_t id, const char *password, int must_change)
{
	char hash[crypto_pwhash_STRBYTES];
	sqlite3_stmt *st;
	int rc;

	if (vault_secret_hash(password, hash) != VAULT_OK)
		return -1;
	st = db_stmt("UPDATE admins SET password_hash = ?, must_change_password = ?, updated_at = ? WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, must_change);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 4, id);
	rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db_get()) > 0 ? 0 : -1;
	sqlite3_reset(st);
	sodium_memzero(hash, sizeof hash);
	return rc;
}

int admin_record_failure(int64_t id, int *locked_now)
{
	sqlite3_stmt *st = db_stmt(
		"UPDATE admins SET failed_logins = failed_logins + 1, "
		"locked_until = CASE WHEN failed_logins + 1 >= ?1 THEN ?2 ELSE locked_until END "
		"WHERE id = ?3 RETURNING failed_logins >= ?1");
	int rc = -1;

	*locked_now = 0;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, cfg_int(CFG_AUTH_LOCKOUT_THRESHOLD));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL) + cfg_int(CFG_AUTH_LOCKOUT_DURATION) / 1000);
	sqlite3_bind_int64(st, 3, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*locked_now = sqlite3_column_int(st, 0);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int admin_record_success(int64_t id)
{
	return exec_id("UPDATE admins SET failed_logins = 0, locked_until = NULL WHERE id = ?", id);
}

int admin_unlock(int64_t id)
{
	return exec_id("UPDATE admins SET failed_logins = 0, locked_until = NULL WHERE id = ?", id);
}

int admin_set_active(int64_t id, int active)
{
	return exec_id(active ? "UPDATE admins SET status = 'active', updated_at = unixepoch() WHERE id = ?"
			      : "UPDATE admins SET status = 'disabled', updated_at = unixepoch() WHERE id = ?",
		       id);
}

int admin_set_role(int64_t id, unsigned role)
{
	sqlite3_stmt *st = db_stmt("UPDATE admins SET role = ?, updated_at = unixepoch() WHERE id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db_get()) > 0 ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int admin_set_language(int64_t id, const char *lang)
{
	sqlite3_stmt *st = db_stmt("UPDATE admins SET language = ?, updated_at = unixepoch() WHERE id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static void iso_time(long long t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cJSON *admin_json(const struct admin *a)
{
	cJSON *o = cJSON_CreateObject();
	char when[32];
	long long now = (long long)time(NULL);

	cJSON_AddNumberToObject(o, "id", (double)a->id);
	cJSON_AddStringToObject(o, "username", a->username);
	cJSON_AddStringToObject(o, "role", role_name(a->role));
	if (a->tenant)
		cJSON_AddNumberToObject(o, "tenant_id", (double)a->tenant);
	else
		cJSON_AddNullToObject(o, "tenant_id");
	cJSON_AddStringToObject(o, "status", a->active ? "active" : "disabled");
	cJSON_AddBoolToObject(o, "locked", a->locked_until > now);
	cJSON_AddBoolToObject(o, "totp_enabled", a->totp_enabled);
	cJSON_AddBoolToObject(o, "must_change_password", a->must_change_password);
	cJSON_AddStringToObject(o, "language", a->language);
	iso_time(a->created_at, when, sizeof when);
	cJSON_AddStringToObject(o, "created_at", when);
	return o;
}

int admin_list(int64_t tenant, cJSON *out)
{
	sqlite3_stmt *st = db_stmt("SELECT " ADMIN_COLUMNS " FROM admins "
				   "WHERE ?1 < 0 OR coalesce(tenant_id, 0) = ?1 ORDER BY username");
	struct admin a;
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	while (sqlite3_step(st) == SQLITE_ROW) {
		admin_from_row(st, &a, NULL);
		cJSON_AddItemToArray(out, admin_json(&a));
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int admin_count(void)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM admins");
	int n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

/* --- TOTP ------------------------------------------------------------------ */

static struct vault_ref totp_ref(const struct admin *a)
{
	struct vault_ref ref = {a->tenant, "admins", "totp_secret", a->id};
	return ref;
}

int admin_totp_begin(int64_t id, char *uri, size_t urilen, char *secret_b32, size_t seclen)
{
	unsigned char secret[TOTP_SECRET_BYTES], *sealed;
	size_t slen;
	struct admin a;
	struct vault_ref ref;
	sqlite3_stmt *st;
	int rc = -1;

	if (admin_get(id, &a) != 0)
		return -1;
	ref = totp_ref(&a);
	randombytes_buf(secret, sizeof secret);
	if (vault_seal(&ref, secret, sizeof secret, &sealed, &slen) != VAULT_OK)
		goto out;
	st = db_stmt("UPDATE admins SET totp_secret = ?, totp_enabled = 0, updated_at = unixepoch() WHERE id = ?");
	if (!st) {
		free(sealed);
		goto out;
	}
	sqlite3_bind_blob(st, 1, sealed, (int)slen, free);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) == SQLITE_DONE && base32_encode(secret, sizeof secret, secret_b32, seclen) > 0 &&
	    totp_uri("Gatehouse", a.username, secret, sizeof secret, uri, urilen) > 0)
		rc = 0;
	sqlite3_reset(st);
out:
	sodium_memzero(secret, sizeof secret);
	return rc;
}

/* The admin's TOTP secret, opened by the vault. */
static int totp_secret(const struct admin *a, unsigned char *secret, size_t *len)
{
	sqlite3_stmt *st = db_stmt("SELECT totp_secret FROM admins WHERE id = ? AND totp_secret IS NOT NULL");
	struct vault_ref ref = totp_ref(a);
	unsigned char *plain;
	size_t plen;
	int rc = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, a->id);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &plain,
			     &plen) == VAULT_OK) {
		if (plen <= TOTP_SECRET_BYTES) {
			memcpy(secret, plain, plen);
			*len = plen;
			rc = 0;
		}
		vault_free(plain, plen);
	}
	sqlite3_reset(st);
	return rc;
}

/* Verify a code and remember its step so it is never accepted again. */
static int totp_consume(const struct admin *a, const char *code)
{
	unsigned char secret[TOTP_SECRET_BYTES];
	size_t len;
	int64_t step;
	sqlite3_stmt *st;
	int ok;

	if (totp_secret(a, secret, &len) < 0)
		return -1;
	ok = totp_verify(secret, len, code, time(NULL), a->totp_last_step, &step);
	sodium_memzero(secret, sizeof secret);
	if (!ok)
		return -1;
	st = db_stmt("UPDATE admins SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, step);
	sqlite3_bind_int64(st, 2, a->id);
	sqlite3_bind_int64(st, 3, step);
	/* Zero rows: a concurrent login used this step first. */
	ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db_get()) == 1;
	sqlite3_reset(st);
	return ok ? 0 : -1;
}

/* Ten codes of ten base32 characters (50 bits each), shown as xxxxx-xxxxx. */
static int make_recovery_codes(int64_t id, char codes[10][16])
{
	sqlite3_stmt *st;

	if (exec_id("DELETE FROM admin_recovery_codes WHERE admin_id = ?", id) < 0 &&
	    sqlite3_errcode(db_get()) != SQLITE_OK)
		return -1;
	st = db_stmt("INSERT INTO admin_recovery_codes (admin_id, code_hash) VALUES (?, ?)");
	for (int i = 0; st && i < 10; i++) {
		static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
		char hash[crypto_pwhash_STRBYTES];

		for (int j = 0; j < 11; j++)
			codes[i][j] = j == 5 ? '-' : alphabet[randombytes_uniform(32)];
		codes[i][11] = '\0';
		if (vault_secret_hash(codes[i], hash) != VAULT_OK)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_reset(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	return st ? 0 : -1;
}

int admin_totp_confirm(int64_t id, const char *code, char codes[10][16])
{
	struct admin a;

	if (admin_get(id, &a) != 0 || totp_consume(&a, code) < 0)
		return -1;
	if (exec_id("UPDATE admins SET totp_enabled = 1, updated_at = unixepoch() WHERE id = ?", id) < 0)
		return -1;
	return make_recovery_codes(id, codes);
}

int admin_totp_check(int64_t id, const char *code)
{
	struct admin a;

	if (admin_get(id, &a) != 0 || !a.totp_enabled)
		return -1;
	return totp_consume(&a, code);
}

int admin_totp_disable(int64_t id)
{
	if (exec_id("UPDATE admins SET totp_secret = NULL, totp_enabled = 0, totp_last_step = 0, "
		    "updated_at = unixepoch() WHERE id = ?", id) < 0)
		return -1;
	exec_id("DELETE FROM admin_recovery_codes WHERE admin_id = ?", id);
	return 0;
}

int admin_recovery_use(int64_t id, const char *code)
{
	sqlite3_stmt *st = db_stmt("SELECT id, code_hash FROM admin_recovery_codes "
				   "WHERE admin_id = ? AND used_at IS NULL");
	int64_t found = 0;
	char norm[32];
	size_t n = 0;

	/* Accept the code with or without its dash, in any case. */
	for (const char *p = code; *p && n + 1 < sizeof norm; p++)
		if (*p != ' ')
			norm[n++] = (char)tolower((unsigned char)*p);
	norm[n] = '\0';
	if (n == 10 && !strchr(norm, '-')) {
		memmove(norm + 6, norm + 5, 6);
		norm[5] = '-';
	}
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while (!found && sqlite3_step(st) == SQLITE_ROW)
		if (vault_secret_verify((const char *)sqlite3_column_text(st, 1), norm) == 0)
			found = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (!found)
		return -1;
	return exec_id("UPDATE admin_recovery_codes SET used_at = unixepoch() WHERE id = ? AND used_at IS NULL",
		       found);
}

/* --- first start ----------------------------------------------------------- */

/* A password that satisfies the default rule: 20 characters drawn from
 * letters, digits and symbols, with one of each class guaranteed. */
static void random_password(char *out, size_t len)
{
	static const char *const classes[] = {"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnpqrstuvwxyz",
					      "23456789", "-_.!#%+="};
	static const char all[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789-_.!#%+=";
	size_t want = cfg_int(CFG_PASSWORD_MIN_LENGTH) > 20 ? (size_t)cfg_int(CFG_PASSWORD_MIN_LENGTH) : 20;
	size_t n = len - 1 < want ? len - 1 : want;

	for (size_t i = 0; i < n; i++) {
		const char *set = i < 4 ? classes[i] : all;
		out[i] = set[randombytes_uniform((uint32_t)strlen(set))];
	}
	out[n] = '\0';
	/* Shuffle so the guaranteed classes are not always in front. */
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = randombytes_uniform((uint32_t)(i + 1));
		char c = out[i];
		out[i] = out[j];
		out[j] = c;
	}
}

int admin_bootstrap(char *password, size_t len)
{
	const char *field;
	char why[200];
	int64_t id;

	if (admin_count() != 0)
		return 0;
	random_password(password, len);
	if (admin_create("admin", "system-admin", 0, password, 1, &id, &field, why, sizeof why) < 0) {
		log_err("admins: cannot create the bootstrap admin: %s %s", field, why);
		return -1;
	}
	return 1;
}
