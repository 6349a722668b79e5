/* /healthz answers as long as the process serves requests; /readyz also
 * checks that the database is open and its schema is current, so a load
 * balancer or systemd-style probe can tell "alive" from "able to work". */
#include "api.h"

#include "core/db.h"
#include "core/migrate.h"
#include "core/version.h"
#include "web/http.h"

#include <time.h>

static time_t started;

static void __attribute__((constructor)) remember_start(void) { started = time(NULL); }

void api_healthz(struct http_req *req)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "status", "ok");
	cJSON_AddStringToObject(doc, "version", GH_VERSION);
	cJSON_AddNumberToObject(doc, "uptime_s", (double)(time(NULL) - started));
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

void api_readyz(struct http_req *req)
{
	cJSON *doc = cJSON_CreateObject();
	sqlite3 *db = db_get();
	int current = db ? migrate_current(db) : -1;
	int ready = current == migrate_latest();

	cJSON_AddStringToObject(doc, "status", ready ? "ready" : "not_ready");
	cJSON_AddStringToObject(doc, "database", db ? "open" : "unavailable");
	cJSON_AddNumberToObject(doc, "schema_version", current);
	cJSON_AddNumberToObject(doc, "schema_latest", migrate_latest());
	http_reply_json(req, ready ? 200 : 503, doc);
	cJSON_Delete(doc);
}
