#include "alerts.h"

#include "core/db.h"
#include "core/log.h"

#include <stdlib.h>

int64_t alert_raise(const char *kind, const char *severity, int64_t tenant, const char *subject,
		    const cJSON *details)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO alerts (kind, severity, tenant_id, subject, details, created_at) "
				   "VALUES (?, ?, ?, ?, ?, unixepoch())");
	char *text = details ? cJSON_PrintUnformatted(details) : NULL;
	int64_t id = -1;

	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, severity, -1, SQLITE_STATIC);
		if (tenant)
			sqlite3_bind_int64(st, 3, tenant);
		sqlite3_bind_text(st, 4, subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, text ? text : "{}", -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_DONE)
			id = sqlite3_last_insert_rowid(db_get());
		sqlite3_reset(st);
	}
	cJSON_free(text);
	if (id < 0)
		log_err("alerts: cannot record %s alert: %s", kind, sqlite3_errmsg(db_get()));
	else
		log_warn("alert %s: %s", kind, subject);
	return id;
}
