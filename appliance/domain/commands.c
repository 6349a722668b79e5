#include "commands.h"

#include "core/db.h"
#include "entity.h"
#include "web/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void command_check(struct jv *v, int64_t tenant, const cJSON *body)
{
	const char *kind = jv_enum(v, "kind", 1, "unlock|lockdown|resync|reboot|set_time");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");

	jv_int(v, "ttl_seconds", 0, 1, 86400, 0);
	/* params is checked by kind below; mark it as known. */
	if (v->nseen < (int)(sizeof v->seen / sizeof v->seen[0]))
		v->seen[v->nseen++] = "params";
	jv_no_others(v);
	if (params && !cJSON_IsObject(params)) {
		jv_error(v, "params", "must be an object");
		return;
	}
	if (kind && strcmp(kind, "unlock") == 0) {
		const cJSON *door = cJSON_GetObjectItem(params, "door_id"), *secs = cJSON_GetObjectItem(params, "seconds");
		long long door_id;
		if (json_int(door, 1, INT64_MAX, &door_id) < 0 || !entity_exists("doors", tenant, door_id))
			jv_error(v, "params.door_id", "must be a door of this tenant");
		if (secs && (!cJSON_IsNumber(secs) || secs->valuedouble < 1 || secs->valuedouble > 3600))
			jv_error(v, "params.seconds", "must be 1 to 3600");
	} else if (kind && strcmp(kind, "lockdown") == 0) {
		if (!cJSON_IsBool(cJSON_GetObjectItem(params, "on")))
			jv_error(v, "params.on", "is required: true to lock down, false to end it");
	}
}

int command_create(int64_t tenant, int64_t device_id, const char *kind, const cJSON *params, long long ttl_ms,
		   const char *created_by, int64_t *id)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO device_commands (tenant_id, device_id, kind, params, created_by, "
				   "created_at, expires_at) VALUES (?, ?, ?, ?, ?, unixepoch(), ?)");
	char *text = params ? cJSON_PrintUnformatted(params) : NULL;
	int rc;

	if (!st) {
		cJSON_free(text);
		return -1;
	}
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, device_id);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, text ? text : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, created_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now_ms() + ttl_ms);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	cJSON_free(text);
	*id = sqlite3_last_insert_rowid(db_get());
	return rc;
}

static int expire(void)
{
	sqlite3_stmt *st = db_stmt("UPDATE device_commands SET state = 'expired', done_at = unixepoch() "
				   "WHERE state IN ('queued', 'sent') AND expires_at <= ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now_ms());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int commands_due_devices(int64_t **ids)
{
	sqlite3_stmt *st;
	int64_t *v = NULL;
	size_t n = 0, cap = 0;

	*ids = NULL;
	if (expire() < 0 || !(st = db_stmt("SELECT DISTINCT device_id FROM device_commands "
					    "WHERE state IN ('queued', 'sent') AND state = 'queued' AND expires_at > ? "
					    "ORDER BY device_id")))
		return -1;
	sqlite3_bind_int64(st, 1, now_ms());
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			size_t c = cap ? 2 * cap : 64;
			int64_t *bigger = realloc(v, c * sizeof *v);
			if (!bigger) {
				sqlite3_reset(st);
				free(v);
				return -1;
			}
			v = bigger;
			cap = c;
		}
		v[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	*ids = v;
	return (int)n;
}

int commands_take_due(int64_t device_id, cJSON *out)
{
	sqlite3_stmt *st;
	int n = 0;

	st = db_stmt("UPDATE device_commands SET state = 'sent', sent_at = unixepoch() "
		     "WHERE device_id = ? AND state = 'queued' AND expires_at > ? "
		     "RETURNING id, kind, params, expires_at");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, now_ms());
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddNumberToObject(c, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(c, "kind", (const char *)sqlite3_column_text(st, 1));
		cJSON *params = cJSON_Parse((const char *)sqlite3_column_text(st, 2));
		if (!params)
			params = cJSON_CreateObject();
		/* The right time is the time of sending, not of queueing. */
		if (strcmp((const char *)sqlite3_column_text(st, 1), "set_time") == 0) {
			cJSON_DeleteItemFromObject(params, "time");
			cJSON_AddNumberToObject(params, "time", (double)now_ms());
		}
		cJSON_AddItemToObject(c, "params", params);
		cJSON_AddNumberToObject(c, "expires_at", (double)sqlite3_column_int64(st, 3));
		cJSON_AddItemToArray(out, c);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int command_finish(int64_t device_id, int64_t id, const char *state, const char *result)
{
	sqlite3_stmt *st = db_stmt("UPDATE device_commands SET state = ?, result = ?, done_at = unixepoch() "
				   "WHERE id = ? AND device_id = ? AND state IN ('queued', 'sent')");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, result ? result : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, device_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

int commands_requeue(int64_t device_id)
{
	sqlite3_stmt *st = db_stmt("UPDATE device_commands SET state = 'queued', sent_at = NULL "
				   "WHERE (?1 = 0 OR device_id = ?1) AND state = 'sent'");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, device_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

#define CMD_COLUMNS "id, device_id, kind, params, state, result, created_by, created_at, expires_at, sent_at, done_at"

static void add_ms(cJSON *o, const char *name, sqlite3_stmt *st, int col, int ms)
{
	char when[40];
	long long v;
	time_t t;
	struct tm tm;

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	v = sqlite3_column_int64(st, col);
	t = (time_t)(ms ? v / 1000 : v);
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, name, when);
}

static cJSON *row(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject(), *params;

	cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
	cJSON_AddNumberToObject(o, "device_id", (double)sqlite3_column_int64(st, 1));
	cJSON_AddStringToObject(o, "kind", (const char *)sqlite3_column_text(st, 2));
	params = cJSON_Parse((const char *)sqlite3_column_text(st, 3));
	cJSON_AddItemToObject(o, "params", params ? params : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "state", (const char *)sqlite3_column_text(st, 4));
	cJSON_AddStringToObject(o, "result", (const char *)sqlite3_column_text(st, 5));
	cJSON_AddStringToObject(o, "created_by", (const char *)sqlite3_column_text(st, 6));
	add_ms(o, "created_at", st, 7, 0);
	add_ms(o, "expires_at", st, 8, 1);
	add_ms(o, "sent_at", st, 9, 0);
	add_ms(o, "done_at", st, 10, 0);
	return o;
}

cJSON *command_get(int64_t tenant, int64_t id)
{
	sqlite3_stmt *st;
	cJSON *o = NULL;

	expire();
	st = db_stmt("SELECT " CMD_COLUMNS " FROM device_commands WHERE id = ? AND tenant_id = ?");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = row(st);
	sqlite3_reset(st);
	return o;
}

int command_list(int64_t tenant, int64_t device_id, int64_t cursor, int limit, cJSON *out, int64_t *next)
{
	sqlite3_stmt *st;
	int n = 0;

	expire();
	st = db_stmt("SELECT " CMD_COLUMNS " FROM device_commands WHERE tenant_id = ? AND device_id = ? "
		     "AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, device_id);
	sqlite3_bind_int64(st, 3, cursor);
	sqlite3_bind_int64(st, 4, cursor);
	sqlite3_bind_int(st, 5, limit + 1);
	*next = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == limit) {
			*next = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(out, n - 1), "id"));
			break;
		}
		cJSON_AddItemToArray(out, row(st));
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int commands_pending_any(void)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM device_commands WHERE state = 'queued' LIMIT 1");
	int any;

	if (!st)
		return 0;
	any = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return any;
}
