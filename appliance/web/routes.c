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
#define SITE ROLE_SITE
/* Writes of what a central owns (docs/sync.md): a site refuses them. */
#define CENT (RF_API | RF_CENTRAL)

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
	{"PATCH", "/api/v1/session", api_session_update, SELF, ROLES_ALL, 4096,
	 "Set your own console language"},
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

	{"GET", "/api/v1/tenants", api_tenants_list, MGMT, SYS, 0, "List tenants"},
	{"POST", "/api/v1/tenants", api_tenants_create, MGMT, SYS, 0, "Create a tenant (and its keys)"},
	{"PATCH", "/api/v1/tenants/{id}", api_tenants_update, MGMT, SYS, 4096,
	 "Rename a tenant, or set or lift its legal hold (retention deletes nothing of it)"},
	{"GET", "/api/v1/settings", api_settings_get, API, SYS | TADM, 0,
	 "The effective configuration the console shows (never a secret)"},
	{"PUT", "/api/v1/settings/{key}", api_settings_put, MGMT, SYS, 8192,
	 "Change one setting while the appliance runs (the keys the console may change)"},
	{"DELETE", "/api/v1/settings/{key}", api_settings_delete, MGMT, SYS, 0,
	 "Undo a change made here: the setting goes back to the configuration file's value"},
	{"GET", "/api/v1/system", api_system_get, API, ROLES_ALL, 0,
	 "The appliance: version, disk, database, counts, certificates, recovery key, last backups"},
	{"PUT", "/api/v1/certificates/web", api_certificates_web_put, MGMT, SYS, 96 * 1024,
	 "Store a new web server certificate and key, used from the next start"},
	{"GET", "/api/v1/openapi.json", api_openapi, PUB, 0, 0, "This API's OpenAPI 3.1 description"},

#define RULE_ROUTES(path, name, what)                                                          \
	{"GET", path, api_##name##_list, API, SYS | TADM | OPER | AUD, 0, "List " what},         \
	{"POST", path, api_##name##_create, CENT, SYS | TADM, 0, "Create " what},                 \
	{"GET", path "/{id}", api_##name##_get, API, SYS | TADM | OPER | AUD, 0, "One of the " what}, \
	{"PATCH", path "/{id}", api_##name##_update, CENT, SYS | TADM, 0, "Change one of the " what}, \
	{"DELETE", path "/{id}", api_##name##_delete, CENT, SYS | TADM, 0, "Delete one of the " what}
	RULE_ROUTES("/api/v1/sites", sites, "sites"),
	{"GET", "/api/v1/doors/status", api_doors_status, API, SYS | TADM | OPER | AUD, 0,
	 "Each door's last known state, its terminal's connection and lock-down"},
	RULE_ROUTES("/api/v1/doors", doors, "doors"),
	RULE_ROUTES("/api/v1/schedules", schedules, "schedules"),
	RULE_ROUTES("/api/v1/holidays", holidays, "holiday sets"),
	RULE_ROUTES("/api/v1/access-groups", groups, "access groups"),
	RULE_ROUTES("/api/v1/access-levels", levels, "access levels"),
	{"PUT", "/api/v1/access-groups/{id}/members/{person_id}", api_group_member_add, CENT, SYS | TADM, 0,
	 "Add a person to an access group"},
	{"DELETE", "/api/v1/access-groups/{id}/members/{person_id}", api_group_member_remove, CENT, SYS | TADM, 0,
	 "Remove a person from an access group"},

	{"GET", "/api/v1/people", api_people_list, API, SYS | TADM | OPER | AUD, 0,
	 "List people (filters: status, group, exact email, employee_no or card)"},
	{"POST", "/api/v1/people", api_people_create, CENT, SYS | TADM, 0, "Create a person"},
	{"GET", "/api/v1/people/export", api_people_export, API, SYS | TADM, 0, "Export people as CSV or XLSX"},
	{"POST", "/api/v1/people/import", api_people_import, CENT, SYS | TADM, 32 << 20,
	 "Import people from CSV (dry run or all-or-nothing)"},
	{"GET", "/api/v1/people/{id}", api_people_get, API, SYS | TADM | OPER | AUD, 0, "One person"},
	{"PATCH", "/api/v1/people/{id}", api_people_update, CENT, SYS | TADM, 0, "Change (correct) a person"},
	{"DELETE", "/api/v1/people/{id}", api_people_erase, CENT, SYS | TADM, 0,
	 "Erase a person: rows deleted, key destroyed"},
	{"GET", "/api/v1/people/{id}/report", api_people_report, API, SYS | TADM, 0,
	 "Access report: everything stored about one person"},
	{"GET", "/api/v1/people/{id}/photo", api_people_photo_get, API, SYS | TADM | OPER, 0, "A person's photo"},
	{"PUT", "/api/v1/people/{id}/photo", api_people_photo_put, CENT, SYS | TADM, 5 << 20,
	 "Set a person's photo (JPEG or PNG body)"},
	{"DELETE", "/api/v1/people/{id}/photo", api_people_photo_delete, CENT, SYS | TADM, 0, "Remove a person's photo"},
	{"GET", "/api/v1/people/{id}/credentials", api_credentials_list, API, SYS | TADM | OPER | AUD, 0,
	 "A person's credentials"},
	{"POST", "/api/v1/people/{id}/credentials", api_credentials_create, CENT, SYS | TADM, 2 << 20,
	 "Add a credential (card, PIN, face, fingerprint, mobile)"},
	{"PATCH", "/api/v1/people/{id}/credentials/{credential_id}", api_credentials_update, CENT, SYS | TADM, 0,
	 "Change a credential's status, label or validity"},
	{"DELETE", "/api/v1/people/{id}/credentials/{credential_id}", api_credentials_delete, CENT, SYS | TADM, 0,
	 "Remove a credential"},
	{"POST", "/api/v1/decisions", api_decisions, API, SYS | TADM | OPER, 0,
	 "What-if: may this card open this door at this time, and why not"},

	{"GET", "/api/v1/devices", api_devices_list, API, SYS | TADM | OPER | AUD, 0,
	 "List terminals with their status"},
	{"POST", "/api/v1/devices", api_devices_create, CENT, SYS | TADM, 0,
	 "Create a terminal: returns a one-time enrolment token or a ready bundle"},
	{"POST", "/api/v1/devices/enroll", api_devices_enroll, PUB | RF_LOGIN, 0, 16384,
	 "Enrol a terminal: one-time token and CSR in, certificate out"},
	{"GET", "/api/v1/devices/{id}", api_devices_get, API, SYS | TADM | OPER | AUD, 0, "One terminal"},
	{"PATCH", "/api/v1/devices/{id}", api_devices_update, CENT, SYS | TADM, 0,
	 "Change a terminal's name, model or doors"},
	{"DELETE", "/api/v1/devices/{id}", api_devices_delete, CENT, SYS | TADM, 0,
	 "Delete a terminal (its certificate stops working at once)"},
	{"POST", "/api/v1/devices/{id}/disable", api_devices_disable, API, SYS | TADM, 0,
	 "Disable a terminal: cut now, refused from now on"},
	{"POST", "/api/v1/devices/{id}/enable", api_devices_enable, API, SYS | TADM, 0, "Enable a terminal again"},
	{"POST", "/api/v1/devices/{id}/enroll-token", api_devices_new_token, API, SYS | TADM, 0,
	 "A new one-time enrolment token: the old certificate works until the terminal enrols again"},
	{"POST", "/api/v1/devices/{id}/commands", api_commands_create, API, SYS | TADM | OPER, 0,
	 "Queue a command: unlock, lockdown, resync, reboot, set_time"},
	{"GET", "/api/v1/devices/{id}/commands", api_commands_list, API, SYS | TADM | OPER | AUD, 0,
	 "A terminal's commands and their states"},
	{"GET", "/api/v1/commands/{id}", api_commands_get, API, SYS | TADM | OPER | AUD, 0, "One command"},
	{"POST", "/api/v1/firmware", api_firmware_upload, API, SYS | TADM, 64 << 20,
	 "Upload a firmware image (body) with model and version (query)"},
	{"GET", "/api/v1/firmware", api_firmware_list, API, SYS | TADM | OPER | AUD, 0, "List firmware images"},
	{"POST", "/api/v1/firmware/{id}/rollouts", api_firmware_rollout, API, SYS | TADM, 0,
	 "Offer an image to chosen terminals"},
	{"GET", "/api/v1/firmware/{id}/rollouts", api_firmware_rollouts, API, SYS | TADM | OPER | AUD, 0,
	 "Progress of an image's rollout, per terminal"},

	{"GET", "/api/v1/jobs", api_jobs_list, API, SYS | AUD, 0,
	 "Scheduled jobs: schedule, next run, last outcome, live progress"},
	{"GET", "/api/v1/jobs/{name}/runs", api_jobs_runs, API, SYS | AUD, 0, "A job's recent runs, newest first"},
	{"POST", "/api/v1/jobs/{name}/run", api_jobs_run, API, SYS, 4096, "Start a job now"},

	{"GET", "/api/v1/backups", api_backups_list, API, SYS, 0,
	 "Backup files in every destination, each checked cheaply"},
	{"GET", "/api/v1/backups/{name}", api_backups_download, API, SYS, 0, "Download a backup file"},
	{"POST", "/api/v1/backups/{name}/verify", api_backups_verify, API, SYS, 0,
	 "Verify a backup file completely, now"},
	{"GET", "/api/v1/events", api_events_list, API, SYS | TADM | OPER | AUD, 0,
	 "The event log: filters, newest first, cursor paging"},
	{"GET", "/api/v1/events/export", api_events_export, API, SYS | TADM | OPER | AUD, 0,
	 "Export the event log as CSV or XLSX (same filters)"},
	{"GET", "/api/v1/stream", api_stream, API, ROLES_ALL, 0,
	 "Live view: new events and alerts as Server-Sent Events"},
	{"GET", "/api/v1/alerts", api_alerts_list, API, ROLES_ALL, 0, "Alerts (filters: state, severity, kind)"},
	{"POST", "/api/v1/alerts/test", api_alerts_test, API, SYS, 4096,
	 "Send a test notice on a channel now and say how it went"},
	{"GET", "/api/v1/alerts/{id}", api_alerts_get, API, ROLES_ALL, 0, "One alert"},
	{"POST", "/api/v1/alerts/{id}/acknowledge", api_alerts_acknowledge, API, SYS | TADM | OPER, 0,
	 "Acknowledge an alert (seen, being handled)"},
	{"POST", "/api/v1/alerts/{id}/resolve", api_alerts_resolve, API, SYS | TADM | OPER, 4096,
	 "Resolve an alert, with an optional note"},
	{"GET", "/api/v1/alerts/{id}/deliveries", api_alerts_deliveries, API, ROLES_ALL, 0,
	 "An alert's deliveries by e-mail and webhook, per channel"},

	{"POST", "/api/v1/sync/pairings", api_sync_pairings_create, MGMT, SYS | TADM, 4096,
	 "Central: pair a site: returns a one-time pairing code and this appliance's fingerprint"},
	{"GET", "/api/v1/sync/pairings", api_sync_pairings_list, API, SYS | TADM | AUD, 0,
	 "Central: the pairings with sites, with their streams"},
	{"GET", "/api/v1/sync/pairings/{id}", api_sync_pairings_get, API, SYS | TADM | AUD, 0, "Central: one pairing"},
	{"DELETE", "/api/v1/sync/pairings/{id}", api_sync_pairings_revoke, MGMT, SYS | TADM, 0,
	 "Central: revoke a pairing: the site's credential stops working at once"},
	{"POST", "/api/v1/sync/claim", api_sync_claim, PUB | RF_LOGIN, 0, 4096,
	 "Central: a site claims a pairing with its code and public keys (called by the site)"},
	{"POST", "/api/v1/sync/push", api_sync_push, API, SITE, 96 << 20,
	 "Central: a paired site sends a changeset (called by the site's sync job)"},
	{"POST", "/api/v1/sync/pull", api_sync_pull, API, SITE, 4096,
	 "Central: a paired site asks for the next changeset after its cursors (called by the site's sync job)"},
	{"POST", "/api/v1/sync/pair", api_sync_pair, MGMT, SYS, 4096,
	 "Site: pair this appliance with a central (its address, certificate fingerprint and pairing code)"},
	{"GET", "/api/v1/sync/status", api_sync_status, API, SYS | TADM | AUD, 0,
	 "Site sync status: role, last sync, cursors, pending changes, last error"},
	{"GET", "/api/v1/sync/export", api_sync_export, API, SYS, 0,
	 "Download a bundle of the changes the other side has not acknowledged (pairing=ID on a central)"},
	{"POST", "/api/v1/sync/import", api_sync_import, API, SYS, 256 << 20,
	 "Apply a bundle from the other side (download an export afterwards to carry the acknowledgement back)"},

	{"GET", "/api/v1/audit", api_audit_list, API, SYS | TADM | AUD, 0, "Read the audit log"},
	{"GET", "/api/v1/audit/verify", api_audit_verify, API, SYS | AUD, 0,
	 "Check the audit chain and its signatures"},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
