/* GET /api/v1/doors/status: each door of the tenant with its last known
 * state, for the console's dashboard.
 *
 * A door's state is its newest door event (door_opened -> open,
 * door_closed -> closed, door_forced -> forced, door_held -> held_open),
 * with its time; null when its terminal never reported one (a terminal
 * without a door sensor). Its terminal's lock-down is the newest lockdown
 * event of that terminal (reason "on" or "off"). The newest event of any
 * kind at the door is given too. Each comes from the top of an index
 * (events_door_state, events_lockdown from 0010_console.sql, events_door),
 * so a page costs a few lookups per door however many events are stored. */
#include "api.h"

#include "core/db.h"
#include "web/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void add_ms(cJSON *o, const char *name, long long ms)
{
	char buf[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".%03dZ", (int)(ms % 1000));
	cJSON_AddStringToObject(o, name, buf);
}

static const char *state_of(const char *kind)
{
	if (strcmp(kind, "door_opened") == 0)
		return "open";
	if (strcmp(kind, "door_closed") == 0)
		return "closed";
	if (strcmp(kind, "door_forced") == 0)
		return "forced";
	return "held_open";
}

static int door_state(int64_t tenant, int64_t door, cJSON *o)
{
	sqlite3_stmt *st = db_stmt("SELECT kind, at FROM events INDEXED BY events_door_state WHERE tenant_id = ?1 "
				   "AND door_id = ?2 AND kind IN ('door_opened', 'door_closed', 'door_forced', "
				   "'door_held') ORDER BY at DESC, id DESC LIMIT 1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, door);
	if (sqlite3_step(st) == SQLITE_ROW) {
		cJSON_AddStringToObject(o, "state", state_of((const char *)sqlite3_column_text(st, 0)));
		add_ms(o, "state_at", sqlite3_column_int64(st, 1));
	} else {
		cJSON_AddNullToObject(o, "state");
		cJSON_AddNullToObject(o, "state_at");
	}
	sqlite3_reset(st);
	return 0;
}

static int lockdown(int64_t tenant, int64_t device, cJSON *o)
{
	sqlite3_stmt *st = db_stmt("SELECT coalesce(reason, ''), at FROM events INDEXED BY events_lockdown "
				   "WHERE tenant_id = ?1 AND device_id = ?2 AND kind = 'lockdown' "
				   "ORDER BY at DESC, id DESC LIMIT 1");
	int found = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, device);
	if (device && sqlite3_step(st) == SQLITE_ROW) {
		found = 1;
		cJSON_AddBoolToObject(o, "lockdown", strcmp((const char *)sqlite3_column_text(st, 0), "on") == 0);
		add_ms(o, "lockdown_at", sqlite3_column_int64(st, 1));
	}
	sqlite3_reset(st);
	if (!found) {
		cJSON_AddBoolToObject(o, "lockdown", 0);
		cJSON_AddNullToObject(o, "lockdown_at");
	}
	return 0;
}

static int last_event(int64_t tenant, int64_t door, cJSON *o)
{
	sqlite3_stmt *st = db_stmt("SELECT kind, result, at FROM events INDEXED BY events_door WHERE tenant_id = ?1 "
				   "AND door_id = ?2 ORDER BY at DESC, id DESC LIMIT 1");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, door);
	if (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *e = cJSON_AddObjectToObject(o, "last_event");
		cJSON_AddStringToObject(e, "kind", (const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			cJSON_AddNullToObject(e, "result");
		else
			cJSON_AddStringToObject(e, "result", (const char *)sqlite3_column_text(st, 1));
		add_ms(e, "at", sqlite3_column_int64(st, 2));
	} else {
		cJSON_AddNullToObject(o, "last_event");
	}
	sqlite3_reset(st);
	return 0;
}

void api_doors_status(struct http_req *req)
{
	int64_t tenant = api_tenant(req), cursor, next = 0;
	int limit = (int)api_query_int(req, "limit", 1, 500, 500), n = 0, rc = 0;
	struct row {
		int64_t id, site, terminal;
		int online, has_terminal;
		char name[220];
	} *rows;
	sqlite3_stmt *st;
	cJSON *items;

	if (api_query_id(req, "cursor", &cursor) < 0)
		return;
	if (!(rows = calloc((size_t)limit + 1, sizeof *rows)))
		return http_error(req, 503, "unavailable", "out of memory");
	st = db_stmt("SELECT d.id, d.site_id, d.name, d.terminal_id, v.online FROM doors d "
		     "LEFT JOIN devices v ON v.id = d.terminal_id WHERE d.tenant_id = ?1 AND d.id > ?2 "
		     "ORDER BY d.id LIMIT ?3");
	if (!st) {
		free(rows);
		return api_db_error(req);
	}
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int(st, 3, limit + 1);
	while (n <= limit && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].id = sqlite3_column_int64(st, 0);
		rows[n].site = sqlite3_column_int64(st, 1);
		snprintf(rows[n].name, sizeof rows[n].name, "%s", (const char *)sqlite3_column_text(st, 2));
		rows[n].has_terminal = sqlite3_column_type(st, 3) != SQLITE_NULL;
		rows[n].terminal = sqlite3_column_int64(st, 3);
		rows[n].online = sqlite3_column_type(st, 4) != SQLITE_NULL && sqlite3_column_int(st, 4);
		n++;
	}
	sqlite3_reset(st);
	if (n > limit) {
		n = limit;
		next = rows[n - 1].id;
	}
	items = cJSON_CreateArray();
	for (int i = 0; i < n && rc == 0; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "door_id", (double)rows[i].id);
		cJSON_AddStringToObject(o, "name", rows[i].name);
		cJSON_AddNumberToObject(o, "site_id", (double)rows[i].site);
		if (rows[i].has_terminal) {
			cJSON_AddNumberToObject(o, "terminal_id", (double)rows[i].terminal);
			cJSON_AddBoolToObject(o, "terminal_online", rows[i].online);
		} else {
			cJSON_AddNullToObject(o, "terminal_id");
			cJSON_AddNullToObject(o, "terminal_online");
		}
		rc |= door_state(tenant, rows[i].id, o);
		rc |= lockdown(tenant, rows[i].has_terminal ? rows[i].terminal : 0, o);
		rc |= last_event(tenant, rows[i].id, o);
		cJSON_AddItemToArray(items, o);
	}
	free(rows);
	if (rc) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	api_reply_page(req, items, next);
}
