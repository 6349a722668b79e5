#include "event_log.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The SQL of one query, built from the filters in use. */
struct sql {
	char text[2048];
	size_t len;
};

static void add(struct sql *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(q->text + q->len, sizeof q->text - q->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		q->len += (size_t)n < sizeof q->text - q->len ? (size_t)n : sizeof q->text - q->len - 1;
}

/* The index that narrows the scan most for these filters. Each is ordered
 * by at (then rowid) after its equality columns, so the newest first page
 * is read without sorting however many events match. Named explicitly:
 * without statistics the planner may prefer (tenant_id, at) for the ORDER
 * BY and scan millions of rows for a rare person. */
static const char *index_for(const struct event_filter *f)
{
	if (f->person)
		return "events_person";
	if (f->door)
		return "events_door";
	if (f->device)
		return "events_device";
	if (f->kind)
		return "events_kind";
	return "events_tenant_at";
}

static void build(struct sql *q, const struct event_filter *f)
{
	add(q, "SELECT e.id, e.at, e.received_at, e.kind, e.result, e.reason, e.seq, e.device_id, dv.name, "
	       "e.door_id, dr.name, coalesce(dr.site_id, dv.site_id), s.name, e.person_id, e.tenant_id%s "
	       "FROM events e %s%s "
	       "LEFT JOIN devices dv ON dv.id = e.device_id "
	       "LEFT JOIN doors dr ON dr.id = e.door_id AND dr.tenant_id = e.tenant_id "
	       "LEFT JOIN sites s ON s.id = coalesce(dr.site_id, dv.site_id) ",
	    f->personal ? ", p.name, c.hint, e.credential_id, e.details" : "",
	    /* one event: by rowid, which NOT INDEXED still allows */
	    f->id ? "NOT INDEXED" : "INDEXED BY ", f->id ? "" : index_for(f));
	if (f->personal)
		add(q, "LEFT JOIN people p ON p.id = e.person_id AND p.tenant_id = e.tenant_id "
		       "LEFT JOIN credentials c ON c.id = e.credential_id AND c.tenant_id = e.tenant_id ");
	add(q, f->tenant >= 0 ? "WHERE e.tenant_id = ?1" : "WHERE ?1 < 0");
	if (f->id)
		add(q, " AND e.id = ?2");
	if (f->person)
		add(q, " AND e.person_id = ?3");
	if (f->door)
		add(q, " AND e.door_id = ?4");
	if (f->device)
		add(q, " AND e.device_id = ?5");
	if (f->kind)
		add(q, " AND e.kind = ?6");
	if (f->result)
		add(q, " AND e.result = ?7");
	if (f->from_ms)
		add(q, " AND e.at >= ?8");
	if (f->to_ms)
		add(q, " AND e.at < ?9");
	if (f->site)
		add(q, " AND coalesce(dr.site_id, dv.site_id) = ?10");
	if (f->has_cursor)
		add(q, " AND (e.at, e.id) < (?11, ?12)");
	add(q, " ORDER BY e.at DESC, e.id DESC LIMIT ?13");
}

static void bind(sqlite3_stmt *st, const struct event_filter *f)
{
	sqlite3_bind_int64(st, 1, f->tenant);
	sqlite3_bind_int64(st, 2, f->id);
	sqlite3_bind_int64(st, 3, f->person);
	sqlite3_bind_int64(st, 4, f->door);
	sqlite3_bind_int64(st, 5, f->device);
	if (f->kind)
		sqlite3_bind_text(st, 6, f->kind, -1, SQLITE_STATIC);
	if (f->result)
		sqlite3_bind_text(st, 7, f->result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, f->from_ms);
	sqlite3_bind_int64(st, 9, f->to_ms);
	sqlite3_bind_int64(st, 10, f->site);
	sqlite3_bind_int64(st, 11, f->cursor_at);
	sqlite3_bind_int64(st, 12, f->cursor_id);
	sqlite3_bind_int(st, 13, f->limit + 1);
}

static void add_ms_time(cJSON *o, const char *name, long long ms)
{
	char when[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof when - strlen(when), ".%03lldZ", ms % 1000);
	cJSON_AddStringToObject(o, name, when);
}

static void add_text(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, col));
}

static void add_id(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(st, col));
}

/* Open one sealed value; NULL when absent or unreadable (an erased
 * person's key is gone: that is the point). Release with vault_free. */
static char *open_sealed(int64_t tenant, const char *table, const char *column, int64_t row, sqlite3_stmt *st,
			 int col, size_t *len)
{
	struct vault_ref ref = {tenant, table, column, row};
	unsigned char *plain;

	if (sqlite3_column_type(st, col) != SQLITE_BLOB)
		return NULL;
	if (vault_open_field(&ref, sqlite3_column_blob(st, col), (size_t)sqlite3_column_bytes(st, col), &plain, len) !=
	    VAULT_OK)
		return NULL;
	return (char *)plain;
}

/* "****5678": the credential's own hint when the card was known; for an
 * unknown card the number sealed in the event, cut to its last four. */
static void add_card(cJSON *o, int64_t tenant, int64_t id, sqlite3_stmt *st)
{
	char masked[16];
	size_t len;
	char *plain;

	if (sqlite3_column_type(st, 16) == SQLITE_TEXT) {
		add_text(o, "card", st, 16);
		return;
	}
	plain = open_sealed(tenant, "events", "details", id, st, 18, &len);
	cJSON *d = plain ? cJSON_Parse(plain) : NULL;
	const cJSON *card = cJSON_GetObjectItemCaseSensitive(d, "card");
	if (cJSON_IsString(card) && strlen(card->valuestring) >= 4) {
		snprintf(masked, sizeof masked, "****%s", card->valuestring + strlen(card->valuestring) - 4);
		cJSON_AddStringToObject(o, "card", masked);
	} else {
		cJSON_AddNullToObject(o, "card");
	}
	cJSON_Delete(d);
	if (plain)
		vault_free(plain, len);
}

static cJSON *row_json(sqlite3_stmt *st, int personal)
{
	cJSON *o = cJSON_CreateObject();
	int64_t id = sqlite3_column_int64(st, 0), tenant = sqlite3_column_int64(st, 14);

	cJSON_AddNumberToObject(o, "id", (double)id);
	add_ms_time(o, "at", sqlite3_column_int64(st, 1));
	add_ms_time(o, "received_at", sqlite3_column_int64(st, 2));
	add_text(o, "kind", st, 3);
	add_text(o, "result", st, 4);
	add_text(o, "reason", st, 5);
	cJSON_AddNumberToObject(o, "seq", (double)sqlite3_column_int64(st, 6));
	cJSON_AddNumberToObject(o, "tenant_id", (double)tenant);
	add_id(o, "device_id", st, 7);
	add_text(o, "device_name", st, 8);
	add_id(o, "door_id", st, 9);
	add_text(o, "door_name", st, 10);
	add_id(o, "site_id", st, 11);
	add_text(o, "site_name", st, 12);
	add_id(o, "person_id", st, 13);
	if (personal) {
		size_t len;
		char *name = sqlite3_column_type(st, 13) == SQLITE_NULL
				     ? NULL
				     : open_sealed(tenant, "people", "name", sqlite3_column_int64(st, 13), st, 15, &len);
		if (name) {
			cJSON_AddStringToObject(o, "person_name", name);
			vault_free(name, len);
		} else {
			cJSON_AddNullToObject(o, "person_name");
		}
		add_card(o, tenant, id, st);
	}
	return o;
}

int event_list(const struct event_filter *f, cJSON *out, char *next, size_t nextlen)
{
	struct sql q = {.len = 0};
	sqlite3_stmt *st;
	long long last_at = 0;
	int64_t last_id = 0;
	int n = 0, rc;

	next[0] = '\0';
	build(&q, f);
	/* Prepared each time: the text depends on the filters, and preparing
	 * costs tens of microseconds against a page's milliseconds. */
	if (sqlite3_prepare_v2(db_get(), q.text, -1, &st, NULL) != SQLITE_OK) {
		log_err("events: cannot prepare the event query: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	bind(st, f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == f->limit) {
			snprintf(next, nextlen, "%lld:%" PRId64, last_at, last_id);
			rc = SQLITE_DONE;
			break;
		}
		last_id = sqlite3_column_int64(st, 0);
		last_at = sqlite3_column_int64(st, 1);
		cJSON_AddItemToArray(out, row_json(st, f->personal));
		n++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? n : -1;
}

int event_cursor_parse(const char *s, long long *at, int64_t *id)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	*at = strtoll(s, &end, 10);
	if (*end != ':' || end[1] < '1' || end[1] > '9')
		return -1;
	*id = strtoll(end + 1, &end, 10);
	return *end || *at < 0 || *id <= 0 ? -1 : 0;
}

cJSON *event_get(int64_t tenant, int64_t id, int personal)
{
	struct event_filter f = {.tenant = tenant, .id = id, .limit = 1, .personal = personal};
	cJSON *items = cJSON_CreateArray(), *o = NULL;
	char next[48];

	if (event_list(&f, items, next, sizeof next) == 1)
		o = cJSON_DetachItemFromArray(items, 0);
	cJSON_Delete(items);
	return o;
}

int64_t event_tenant(int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT tenant_id FROM events WHERE id = ?");
	int64_t t = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t;
}
