/* gatehouse config check|defaults|show */
#include "cmd.h"

#include "notify/notify.h"

#include <stdio.h>
#include <string.h>

int cmd_config(struct cmd_env *env)
{
	const char *what = env->argc > 0 ? env->argv[0] : "check";

	if (env->argc > 1) {
		fprintf(stderr, "gatehouse config: unexpected argument '%s'\n", env->argv[1]);
		return 2;
	}
	if (strcmp(what, "check") == 0) {
		/* cmd_load already parsed and validated every key; what is left
		 * is whether the alert channels' settings hang together. */
		char err[600];
		if (notify_check_config(err, sizeof err) < 0) {
			fprintf(stderr, "gatehouse config: %s\n", err);
			return 1;
		}
		printf("configuration OK (%s)\n", env->config_path ? env->config_path : "built-in defaults");
		return 0;
	}
	if (strcmp(what, "defaults") == 0) {
		config_write_defaults(stdout);
		return 0;
	}
	if (strcmp(what, "show") == 0) {
		config_write_effective(&env->cfg, stdout);
		return 0;
	}
	fprintf(stderr, "gatehouse config: unknown action '%s' (check, defaults or show)\n", what);
	return 2;
}
