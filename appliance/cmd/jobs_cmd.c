/* gatehouse jobs list | run NAME: the scheduled jobs from the command line.
 * A run here is claimed in the database like the service's own runs, so
 * it is refused while the service runs the same job. */
#include "cmd.h"

#include "core/db.h"
#include "domain/audit.h"
#include "jobs/job.h"
#include "jobs/scheduler.h"

#include <stdio.h>
#include <string.h>

static const char jobs_usage[] =
	"usage: gatehouse jobs list\n"
	"       gatehouse jobs run NAME [--param KEY=VALUE ...]\n";

static int list(void)
{
	cJSON *items = scheduler_jobs_json(), *j;

	printf("%-16s %-22s %-21s %-12s %s\n", "job", "schedule", "next run (UTC)", "last", "summary");
	cJSON_ArrayForEach(j, items)
	{
		const cJSON *next = cJSON_GetObjectItem(j, "next_run_at"), *last = cJSON_GetObjectItem(j, "last_status");
		printf("%-16s %-22s %-21s %-12s %s\n", cJSON_GetObjectItem(j, "name")->valuestring,
		       cJSON_GetObjectItem(j, "schedule")->valuestring, cJSON_IsString(next) ? next->valuestring : "-",
		       cJSON_IsString(last) ? last->valuestring : "never", cJSON_GetObjectItem(j, "summary")->valuestring);
	}
	/* Jobs that have never been scheduled (the service has not started
	 * since they were added) are listed from the registry. */
	for (size_t i = 0; i < job_defs_count; i++) {
		int found = 0;
		cJSON_ArrayForEach(j, items)
			found |= strcmp(cJSON_GetObjectItem(j, "name")->valuestring, job_defs[i].name) == 0;
		if (!found)
			printf("%-16s %-22s %-21s %-12s %s\n", job_defs[i].name, job_defs[i].default_schedule, "-", "never",
			       job_defs[i].summary);
	}
	cJSON_Delete(items);
	return 0;
}

static void audit_run(const char *name, const char *outcome, const char *error)
{
	char actor[80], target[80];
	cJSON *d = cJSON_CreateObject();

	cmd_cli_actor(actor, sizeof actor);
	snprintf(target, sizeof target, "job:%s", name);
	if (error && *error)
		cJSON_AddStringToObject(d, "error", error);
	struct audit_event ev = {0, "system", actor, "cli", "job.run", target, outcome, d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
}

static int run(int argc, char **argv)
{
	char actor[80], err[600] = "";
	cJSON *params = cJSON_CreateObject();
	int rc;

	for (int i = 1; i < argc; i++) {
		char *eq = i + 1 < argc && strcmp(argv[i], "--param") == 0 ? strchr(argv[i + 1], '=') : NULL;
		if (!eq || eq == argv[i + 1]) {
			fprintf(stderr, "gatehouse jobs run: bad argument '%s'\n%s", argv[i], jobs_usage);
			cJSON_Delete(params);
			return 2;
		}
		*eq = '\0';
		cJSON_AddStringToObject(params, argv[i + 1], eq + 1);
		i++;
	}
	if (!job_find(argv[0])) {
		fprintf(stderr, "gatehouse jobs run: no job named '%s' (see gatehouse jobs list)\n", argv[0]);
		cJSON_Delete(params);
		return 2;
	}
	cmd_cli_actor(actor, sizeof actor);
	rc = job_run_inline(argv[0], actor, params, err, sizeof err);
	cJSON_Delete(params);
	if (rc == 1) {
		audit_run(argv[0], "denied", "running already");
		fprintf(stderr, "gatehouse jobs run: %s is running now (in the service?); try again later\n", argv[0]);
		return 3;
	}
	audit_run(argv[0], rc == 0 ? "ok" : "failed", err);
	if (rc < 0) {
		fprintf(stderr, "gatehouse jobs run: %s failed: %s\n", argv[0], err);
		return 1;
	}
	printf("%s: done\n", argv[0]);
	return 0;
}

int cmd_jobs(struct cmd_env *env)
{
	int rc;

	if (env->argc < 1 || (strcmp(env->argv[0], "list") && strcmp(env->argv[0], "run")) ||
	    (strcmp(env->argv[0], "list") == 0 && env->argc != 1) || (strcmp(env->argv[0], "run") == 0 && env->argc < 2)) {
		fputs(jobs_usage, stderr);
		return 2;
	}
	if (cmd_open_store(NULL) < 0)
		return 1;
	rc = strcmp(env->argv[0], "list") == 0 ? list() : run(env->argc - 1, env->argv + 1);
	cmd_close_store();
	return rc;
}
