#include "routes.h"

#include "api/api.h"
#include "domain/admins.h"
#include "static.h"

#define SYS ROLE_SYSTEM_ADMIN
#define TADM ROLE_TENANT_ADMIN
#define OPER ROLE_OPERATOR
#define AUD ROLE_AUDITOR
#define API RF_API
#define PUB (RF_PUBLIC | RF_API)
#define SELF (RF_API | RF_PW_CHANGE | RF_SESSION_ONLY)
#define MGMT (RF_API | RF_SESSION_ONLY)

/* Every URL the appliance serves, with the roles that may call it. A test
 * walks this table: each route is public or names its roles, and the
 * OpenAPI description lists each one. */
const struct route routes_table[] = {
	{"GET", "/healthz", api_healthz, PUB, 0, 0, "Liveness: the process answers"},
	{"GET", "/readyz", api_readyz, PUB, 0, 0, "Readiness: database open and schema current"},
	{"GET", "/", static_index, RF_PUBLIC, 0, 0, "The web console's shell page"},
	{"GET", "/assets/*", static_asset, RF_PUBLIC, 0, 0, "The web console's embedded files"},

	{"POST", "/api/v1/session", api_session_login, PUB | RF_LOGIN, 0, 4096, "Log in"},
	{"GET", "/api/v1/session", api_session_get, API | RF_PW_CHANGE, ROLES_ALL, 0, "Who is logged in"},
	{"DELETE", "/api/v1/session", api_session_logout, SELF, ROLES_ALL, 0, "Log out"},
	{"POST", "/api/v1/session/password", api_session_password, SELF, ROLES_ALL, 4096,
	 "Change your own password"},
	{"POST", "/api/v1/session/totp", api_session_totp_begin, SELF, ROLES_ALL, 0,
	 "Start TOTP enrolment: returns the otpauth URI"},
	{"POST", "/api/v1/session/totp/confirm", api_session_totp_confirm, SELF, ROLES_ALL, 4096,
	 "Confirm TOTP with a first code: returns recovery codes"},
	{"DELETE", "/api/v1/session/totp", api_session_totp_disable, SELF, ROLES_ALL, 4096,
	 "Remove your TOTP second factor"},

	{"GET", "/api/v1/admins", api_admins_list, MGMT, SYS | TADM, 0, "List admin accounts"},
	{"POST", "/api/v1/admins", api_admins_create, MGMT, SYS | TADM, 4096, "Create an admin account"},
	{"GET", "/api/v1/admins/{id}", api_admins_get, MGMT, SYS | TADM, 0, "One admin account"},
	{"PATCH", "/api/v1/admins/{id}", api_admins_update, MGMT, SYS | TADM, 4096,
	 "Change an admin's role, status or language"},
	{"POST", "/api/v1/admins/{id}/unlock", api_admins_unlock, MGMT, SYS | TADM, 0,
	 "Unlock a locked-out admin"},
	{"POST", "/api/v1/admins/{id}/reset-password", api_admins_reset_password, MGMT, SYS | TADM, 4096,
	 "Set a temporary password that must be changed"},

	{"GET", "/api/v1/tokens", api_tokens_list, MGMT, SYS | TADM, 0, "List the tenant's API tokens"},
	{"POST", "/api/v1/tokens", api_tokens_create, MGMT, SYS | TADM, 4096,
	 "Create an API token (shown once)"},
	{"DELETE", "/api/v1/tokens/{id}", api_tokens_revoke, MGMT, SYS | TADM, 0, "Revoke an API token"},

	{"GET", "/api/v1/allowlist", api_allowlist_list, MGMT, SYS | TADM, 0,
	 "Address ranges admins may log in from"},
	{"POST", "/api/v1/allowlist", api_allowlist_add, MGMT, SYS | TADM, 4096, "Allow an address range"},
	{"DELETE", "/api/v1/allowlist/{id}", api_allowlist_remove, MGMT, SYS | TADM, 0,
	 "Remove an address range"},
	{"GET", "/api/v1/blocks", api_blocks_list, MGMT, SYS, 0, "Addresses blocked for abuse"},
	{"DELETE", "/api/v1/blocks/{address}", api_blocks_remove, MGMT, SYS, 0, "Lift a block"},

	{"GET", "/api/v1/audit", api_audit_list, API, SYS | TADM | AUD, 0, "Read the audit log"},
	{"GET", "/api/v1/audit/verify", api_audit_verify, API, SYS | AUD, 0,
	 "Check the audit chain and its signatures"},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
