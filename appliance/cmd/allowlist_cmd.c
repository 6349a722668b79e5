/* gatehouse allowlist list|remove|clear: the admin allow-lists from the
 * command line of the appliance itself, the way back in when a list no
 * longer covers the address admins come from (a changed DHCP lease, a new
 * subnet). Every change is audited as cli:<user>. */
#include "cmd.h"

#include "core/db.h"
#include "domain/allowlist.h"
#include "domain/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char allowlist_usage[] =
	"usage: gatehouse allowlist list [--tenant SLUG|ID]\n"
	"       gatehouse allowlist remove ID [--tenant SLUG|ID]\n"
	"       gatehouse allowlist clear [--tenant SLUG|ID]\n"
	"Without --tenant: the system admins' list.\n";

static int audit_change(int64_t scope, const char *action, const char *target)
{
	char actor[80];
	struct audit_event ev = {scope, "system", actor, "cli", action, target, "ok", NULL, NULL, 0};

	cmd_cli_actor(actor, sizeof actor);
	return audit_append(&ev);
}

static int list(int64_t scope)
{
	cJSON *items = cJSON_CreateArray(), *e;

	if (allowlist_list(scope, items) < 0) {
		cJSON_Delete(items);
		fprintf(stderr, "gatehouse allowlist: cannot read the list\n");
		return 1;
	}
	printf("%-6s %-44s %s\n", "id", "range", "note");
	cJSON_ArrayForEach(e, items)
	{
		const cJSON *note = cJSON_GetObjectItem(e, "note");
		printf("%-6.0f %-44s %s\n", cJSON_GetObjectItem(e, "id")->valuedouble,
		       cJSON_GetObjectItem(e, "cidr")->valuestring, cJSON_IsString(note) ? note->valuestring : "");
	}
	if (cJSON_GetArraySize(items) == 0)
		printf("(empty: every address may log in)\n");
	cJSON_Delete(items);
	return 0;
}

static int remove_one(int64_t scope, const char *arg)
{
	char *end, target[40];
	long long id = strtoll(arg, &end, 10);
	int rc;

	if (*end || id < 1) {
		fprintf(stderr, "gatehouse allowlist remove: '%s' is not an entry id (see allowlist list)\n", arg);
		return 2;
	}
	if (db_begin() < 0)
		return 1;
	rc = allowlist_remove(scope, id);
	snprintf(target, sizeof target, "allowlist:%lld", id);
	if (rc != 0 || audit_change(scope, "allowlist.remove", target) < 0 || db_commit() < 0) {
		db_rollback();
		fprintf(stderr, "gatehouse allowlist remove: %s\n", rc > 0 ? "no such entry in this list" : "database error");
		return 1;
	}
	printf("removed entry %lld\n", id);
	return 0;
}

static int clear(int64_t scope)
{
	sqlite3_stmt *st;
	int n;

	if (db_begin() < 0)
		return 1;
	st = db_stmt("DELETE FROM allowlist WHERE coalesce(tenant_id, 0) = ?");
	sqlite3_bind_int64(st, 1, scope);
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db_get()) : -1;
	sqlite3_reset(st);
	if (n < 0 || audit_change(scope, "allowlist.clear", "") < 0 || db_commit() < 0) {
		db_rollback();
		fprintf(stderr, "gatehouse allowlist clear: database error\n");
		return 1;
	}
	printf("removed %d entr%s: every address may log in\n", n, n == 1 ? "y" : "ies");
	return 0;
}

int cmd_allowlist(struct cmd_env *env)
{
	const char *tenant = NULL, *verb = env->argc > 0 ? env->argv[0] : "", *arg = NULL;
	int64_t scope = 0;
	int rc;

	for (int i = 1; i < env->argc; i++) {
		if (strcmp(env->argv[i], "--tenant") == 0 && i + 1 < env->argc)
			tenant = env->argv[++i];
		else if (!arg && strcmp(verb, "remove") == 0)
			arg = env->argv[i];
		else {
			fputs(allowlist_usage, stderr);
			return 2;
		}
	}
	if ((strcmp(verb, "list") && strcmp(verb, "remove") && strcmp(verb, "clear")) ||
	    (strcmp(verb, "remove") == 0) != (arg != NULL)) {
		fputs(allowlist_usage, stderr);
		return 2;
	}
	if (cmd_open_store(NULL) < 0)
		return 1;
	if (tenant && (scope = cmd_find_tenant(tenant)) < 0) {
		fprintf(stderr, "gatehouse allowlist: no tenant '%s'\n", tenant);
		cmd_close_store();
		return 1;
	}
	rc = strcmp(verb, "list") == 0 ? list(scope) : strcmp(verb, "remove") == 0 ? remove_one(scope, arg) : clear(scope);
	cmd_close_store();
	return rc;
}
