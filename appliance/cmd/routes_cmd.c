/* gatehouse routes: every URL the appliance serves, with the roles that may
 * call it, one per line (tab-separated), from the same table the server
 * uses. For admins writing firewall rules or integrations, and for the
 * tests that try every role against every route. */
#include "cmd.h"

#include "domain/admins.h"
#include "web/routes.h"

#include <stdio.h>
#include <string.h>

int cmd_routes(struct cmd_env *env)
{
	if (env->argc > 0) {
		fprintf(stderr, "gatehouse routes: unexpected argument '%s'\n", env->argv[0]);
		return 2;
	}
	printf("method\tpath\troles\tflags\tsummary\n");
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes_table[i];
		char roles[80] = "";
		unsigned bits[] = {ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN, ROLE_OPERATOR, ROLE_AUDITOR, ROLE_SITE};

		for (size_t b = 0; b < 5; b++)
			if (r->roles & bits[b])
				snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s%s",
					 roles[0] ? "," : "", role_name(bits[b]));
		printf("%s\t%s\t%s\t%s%s%s%s%s\t%s\n", r->method, r->pattern,
		       r->flags & RF_PUBLIC ? "public" : roles, r->flags & RF_API ? "api" : "web",
		       r->flags & RF_SESSION_ONLY ? ",session-only" : "",
		       r->flags & RF_PW_CHANGE ? ",password-change" : "", r->flags & RF_LOGIN ? ",login" : "",
		       r->flags & RF_CENTRAL ? ",central-owned" : "", r->summary);
	}
	return 0;
}
