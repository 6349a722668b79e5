/* /api/v1/jobs: the scheduled jobs, their runs, and starting one by hand. */
#include "api.h"

#include "jobs/job.h"
#include "jobs/scheduler.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_jobs_list(struct http_req *req)
{
	api_reply_page(req, scheduler_jobs_json(), 0);
}

void api_jobs_runs(struct http_req *req)
{
	const char *name = req->match.params[0];
	int64_t cursor, next;
	cJSON *items;

	if (!job_find(name))
		return http_error(req, 404, "not_found", "no such job");
	if (api_query_id(req, "cursor", &cursor) < 0)
		return;
	items = cJSON_CreateArray();
	if (scheduler_runs_json(name, cursor, (int)api_query_int(req, "limit", 1, 200, 20), items, &next) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}

/* Parameters of a run by hand: an object of short strings, or no body. */
static int check_params(struct http_req *req, const cJSON **params)
{
	const cJSON *m;

	*params = NULL;
	if (http_read_body(req) < 0)
		return -1;
	if (req->body_len == 0)
		return 0;
	if (http_read_json(req) < 0)
		return -1;
	cJSON_ArrayForEach(m, req->json)
	{
		if (!cJSON_IsString(m) || strlen(m->valuestring) > 200) {
			http_field_error(req, m->string, "must be a string of at most 200 bytes");
			return -1;
		}
	}
	*params = req->json;
	return 0;
}

void api_jobs_run(struct http_req *req)
{
	const char *name = req->match.params[0];
	const cJSON *params;
	int64_t run_id;
	char target[80];
	int rc;

	if (!job_find(name))
		return http_error(req, 404, "not_found", "no such job");
	if (check_params(req, &params) < 0)
		return;
	rc = scheduler_run_now(name, req->auth.actor, params, &run_id);
	snprintf(target, sizeof target, "job:%s", name);
	if (rc == 1) {
		api_audit(req, "job.run", target, "denied", NULL);
		return http_error(req, 409, "conflict", "this job is running now; see its progress in GET /api/v1/jobs");
	}
	if (rc < 0) {
		api_audit(req, "job.run", target, "failed", NULL);
		return http_error(req, 503, "unavailable", "the job could not be started (see the log)");
	}
	cJSON *details = cJSON_CreateObject();
	cJSON_AddNumberToObject(details, "run_id", (double)run_id);
	api_audit(req, "job.run", target, "ok", details);
	cJSON_Delete(details);
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "run_id", (double)run_id);
	cJSON_AddStringToObject(doc, "job", name);
	http_reply_json(req, 202, doc);
	cJSON_Delete(doc);
}
