/* admins: administrator accounts. Knows nothing of HTTP: the API and the
 * command line both call these functions, inside their own transactions
 * where a change must commit together with its audit entry.
 *
 * Roles: system-admin (manages the appliance; belongs to no tenant),
 * tenant-admin, operator (monitors and unlocks doors; no people changes),
 * auditor (read-only, audit log). */
#ifndef GH_ADMINS_H
#define GH_ADMINS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

enum role {
	ROLE_SYSTEM_ADMIN = 1 << 0,
	ROLE_TENANT_ADMIN = 1 << 1,
	ROLE_OPERATOR = 1 << 2,
	ROLE_AUDITOR = 1 << 3,
	/* Not an admin: a site appliance calling its central's sync endpoints
	 * with its site credential (sync/pairing.h). No account has it. */
	ROLE_SITE = 1 << 4,
};
#define ROLES_ALL (ROLE_SYSTEM_ADMIN | ROLE_TENANT_ADMIN | ROLE_OPERATOR | ROLE_AUDITOR)
#define ROLES_ADMINS (ROLE_SYSTEM_ADMIN | ROLE_TENANT_ADMIN)

/* "system-admin" -> ROLE_SYSTEM_ADMIN; 0 if unknown (and for "site", which
 * is no admin's role). */
unsigned role_parse(const char *name);
const char *role_name(unsigned role);

struct admin {
	int64_t id;
	int64_t tenant;          /* 0: system admin */
	char username[65];
	unsigned role;
	int active;              /* status 'active' */
	int must_change_password;
	int totp_enabled;
	int64_t totp_last_step;
	int failed_logins;
	long long locked_until;  /* unix seconds; <= now: not locked */
	char language[8];
	long long created_at;
};

/* Look up by id or by username (case-insensitive). 0 found, 1 not found, -1 error.
 * hash, if given, receives the password hash (crypto_pwhash_STRBYTES). */
int admin_get(int64_t id, struct admin *a);
int admin_find(const char *username, struct admin *a, char *hash);

/* Validate and create. The password is checked against the configured
 * rule. Returns 0 and *id, or -1 with field and reason filled (field is one
 * of username, role, tenant, password). Call inside a transaction. */
int admin_create(const char *username, const char *role, int64_t tenant, const char *password,
		 int must_change, int64_t *id, const char **field, char *why, size_t whylen);

/* Check a new password against the rule for this username. 0 or -1 + why. */
int admin_password_ok(const char *username, const char *password, char *why, size_t whylen);

/* Store a new password (hashed). must_change forces a change at next login. */
int admin_set_password(int64_t id, const char *password, int must_change);

/* Login bookkeeping. record_failure counts one failure and locks the
 * account when the configured threshold is reached (*locked_now = 1). */
int admin_record_failure(int64_t id, int *locked_now);
int admin_record_success(int64_t id);
int admin_unlock(int64_t id);
int admin_set_active(int64_t id, int active);
int admin_set_role(int64_t id, unsigned role);
int admin_set_language(int64_t id, const char *lang);

/* The API view of an admin (no secrets). */
cJSON *admin_json(const struct admin *a);
/* All admins of a tenant (tenant >= 0; 0 = system admins) or of every
 * tenant (tenant < 0), appended to out. */
int admin_list(int64_t tenant, cJSON *out);
int admin_count(void);

/* TOTP second factor. begin stores a new secret (sealed by the vault, not
 * yet enabled) and returns its otpauth URI. confirm checks a first code and
 * enables it, returning ten recovery codes (shown once). check verifies a
 * code at login (never the same code twice). disable removes it. */
int admin_totp_begin(int64_t id, char *uri, size_t urilen, char *secret_b32, size_t seclen);
int admin_totp_confirm(int64_t id, const char *code, char codes[10][16]);
int admin_totp_check(int64_t id, const char *code);
int admin_totp_disable(int64_t id);
/* Use a recovery code (each works once). 0 ok, -1 no. */
int admin_recovery_use(int64_t id, const char *code);

/* First start: if there is no admin at all, create the system admin
 * "admin" with a random one-time password that must be changed at first
 * login. Returns 1 and the password when created, 0 if admins exist. */
int admin_bootstrap(char *password, size_t len);

#endif
