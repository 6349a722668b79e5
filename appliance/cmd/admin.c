/* gatehouse admin create|list|reset-password|unlock|disable: admin accounts
 * from the command line, scriptable, working while the service runs. Every
 * change is audited with the actor "cli:<unix user>". */
#include "cmd.h"

#include "core/db.h"
#include "core/log.h"
#include "domain/admins.h"
#include "domain/audit.h"
#include "domain/sessions.h"

#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char admin_usage[] =
	"usage: gatehouse admin create --username NAME --role ROLE [--tenant SLUG|ID] --password-stdin\n"
	"       gatehouse admin list [--tenant SLUG|ID]\n"
	"       gatehouse admin reset-password --username NAME --password-stdin\n"
	"       gatehouse admin unlock --username NAME\n"
	"       gatehouse admin disable --username NAME\n"
	"       gatehouse admin enable --username NAME\n"
	"ROLE: system-admin, tenant-admin, operator or auditor\n";

struct admin_opts {
	const char *action, *username, *role, *tenant;
	int password_stdin;
};

static int parse(struct cmd_env *env, struct admin_opts *o)
{
	memset(o, 0, sizeof *o);
	o->action = env->argc > 0 ? env->argv[0] : "";
	for (int i = 1; i < env->argc; i++) {
		const char *a = env->argv[i];
		if (strcmp(a, "--username") == 0 && i + 1 < env->argc)
			o->username = env->argv[++i];
		else if (strcmp(a, "--role") == 0 && i + 1 < env->argc)
			o->role = env->argv[++i];
		else if (strcmp(a, "--tenant") == 0 && i + 1 < env->argc)
			o->tenant = env->argv[++i];
		else if (strcmp(a, "--password-stdin") == 0)
			o->password_stdin = 1;
		else {
			fprintf(stderr, "gatehouse admin: unexpected argument '%s'\n%s", a, admin_usage);
			return -1;
		}
	}
	if (strcmp(o->action, "list") != 0 && strcmp(o->action, "create") != 0 &&
	    strcmp(o->action, "reset-password") != 0 && strcmp(o->action, "unlock") != 0 &&
	    strcmp(o->action, "disable") != 0 && strcmp(o->action, "enable") != 0) {
		fprintf(stderr, "%s", admin_usage);
		return -1;
	}
	if (strcmp(o->action, "list") != 0 && !o->username) {
		fprintf(stderr, "gatehouse admin %s: --username NAME is required\n", o->action);
		return -1;
	}
	if (strcmp(o->action, "create") == 0 && !o->role) {
		fprintf(stderr, "gatehouse admin create: --role ROLE is required\n%s", admin_usage);
		return -1;
	}
	if ((strcmp(o->action, "create") == 0 || strcmp(o->action, "reset-password") == 0) &&
	    !o->password_stdin) {
		fprintf(stderr, "gatehouse admin %s: --password-stdin is required (the password is read "
				"from standard input, never from the command line)\n", o->action);
		return -1;
	}
	return 0;
}

/* One line from stdin, without its newline. */
static int read_password(char *out, size_t len)
{
	size_t n;

	if (!fgets(out, (int)len, stdin)) {
		fprintf(stderr, "gatehouse admin: no password on standard input\n");
		return -1;
	}
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return 0;
}

static int audit_cli(int64_t tenant, const char *action, const struct admin *a, const cJSON *details)
{
	char actor[80], target[32];
	struct audit_event ev = {tenant, "system", actor, "cli", action, target, "ok", details, NULL, 0};

	cmd_cli_actor(actor, sizeof actor);
	snprintf(target, sizeof target, "admin:%lld", (long long)a->id);
	return audit_append(&ev);
}

static int do_create(const struct admin_opts *o)
{
	char password[300], why[300];
	const char *field;
	int64_t tenant = 0, id;
	struct admin a;
	cJSON *details;

	if (o->tenant && (tenant = cmd_find_tenant(o->tenant)) < 0) {
		fprintf(stderr, "gatehouse admin create: no tenant '%s'\n", o->tenant);
		return 1;
	}
	if (!o->tenant && role_parse(o->role) != ROLE_SYSTEM_ADMIN && role_parse(o->role))
		tenant = 1; /* the default tenant */
	if (read_password(password, sizeof password) < 0)
		return 1;
	if (db_begin() < 0)
		return 1;
	if (admin_create(o->username, o->role, tenant, password, 0, &id, &field, why, sizeof why) < 0) {
		db_rollback();
		sodium_memzero(password, sizeof password);
		fprintf(stderr, "gatehouse admin create: %s %s\n", field, why);
		return 1;
	}
	sodium_memzero(password, sizeof password);
	admin_get(id, &a);
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "username", a.username);
	cJSON_AddStringToObject(details, "role", role_name(a.role));
	if (audit_cli(tenant, "admin.create", &a, details) < 0 || db_commit() < 0) {
		cJSON_Delete(details);
		db_rollback();
		fprintf(stderr, "gatehouse admin create: cannot store the account\n");
		return 1;
	}
	cJSON_Delete(details);
	printf("created %s '%s' (id %lld)\n", role_name(a.role), a.username, (long long)a.id);
	return 0;
}

static int do_list(const struct admin_opts *o)
{
	int64_t tenant = -1;
	cJSON *list = cJSON_CreateArray(), *item;

	if (o->tenant && (tenant = cmd_find_tenant(o->tenant)) < 0) {
		fprintf(stderr, "gatehouse admin list: no tenant '%s'\n", o->tenant);
		cJSON_Delete(list);
		return 1;
	}
	admin_list(tenant, list);
	printf("%-6s %-24s %-13s %-7s %-9s %-6s %s\n", "id", "username", "role", "tenant", "status", "locked", "totp");
	cJSON_ArrayForEach(item, list)
	{
		const cJSON *t = cJSON_GetObjectItem(item, "tenant_id");
		char tenant_s[24] = "-";
		if (!cJSON_IsNull(t))
			snprintf(tenant_s, sizeof tenant_s, "%d", t->valueint);
		printf("%-6d %-24s %-13s %-7s %-9s %-6s %s\n", cJSON_GetObjectItem(item, "id")->valueint,
		       cJSON_GetObjectItem(item, "username")->valuestring,
		       cJSON_GetObjectItem(item, "role")->valuestring, tenant_s,
		       cJSON_GetObjectItem(item, "status")->valuestring,
		       cJSON_IsTrue(cJSON_GetObjectItem(item, "locked")) ? "yes" : "no",
		       cJSON_IsTrue(cJSON_GetObjectItem(item, "totp_enabled")) ? "yes" : "no");
	}
	cJSON_Delete(list);
	return 0;
}

/* reset-password, unlock, disable, enable: one account, one change. */
static int do_change(const struct admin_opts *o)
{
	char password[300], why[300];
	struct admin a;
	int rc = 0;
	const char *action;

	if (admin_find(o->username, &a, NULL) != 0) {
		fprintf(stderr, "gatehouse admin %s: no admin '%s'\n", o->action, o->username);
		return 1;
	}
	if (strcmp(o->action, "reset-password") == 0) {
		if (read_password(password, sizeof password) < 0)
			return 1;
		if (admin_password_ok(a.username, password, why, sizeof why) < 0) {
			fprintf(stderr, "gatehouse admin reset-password: password %s\n", why);
			return 1;
		}
	}
	if (db_begin() < 0)
		return 1;
	if (strcmp(o->action, "reset-password") == 0) {
		rc = admin_set_password(a.id, password, 1) | admin_unlock(a.id) |
		     (sessions_end_for_admin(a.id, "password reset", 0) < 0);
		action = "admin.reset_password";
		sodium_memzero(password, sizeof password);
	} else if (strcmp(o->action, "unlock") == 0) {
		rc = admin_unlock(a.id);
		action = "admin.unlock";
	} else {
		int enable = strcmp(o->action, "enable") == 0;
		rc = admin_set_active(a.id, enable);
		if (!enable)
			rc |= sessions_end_for_admin(a.id, "account disabled", 0) < 0;
		action = enable ? "admin.enable" : "admin.disable";
	}
	if (rc || audit_cli(a.tenant, action, &a, NULL) < 0 || db_commit() < 0) {
		db_rollback();
		fprintf(stderr, "gatehouse admin %s: failed\n", o->action);
		return 1;
	}
	printf("%s: done for '%s'%s\n", o->action, a.username,
	       strcmp(o->action, "reset-password") == 0 ? " (must change it at next login)" : "");
	return 0;
}

int cmd_admin(struct cmd_env *env)
{
	struct admin_opts o;
	int rc;

	if (parse(env, &o) < 0)
		return 2;
	if (cmd_open_store(NULL) < 0)
		return 1;
	if (strcmp(o.action, "create") == 0)
		rc = do_create(&o);
	else if (strcmp(o.action, "list") == 0)
		rc = do_list(&o);
	else
		rc = do_change(&o);
	audit_sign_head();
	cmd_close_store();
	return rc;
}
