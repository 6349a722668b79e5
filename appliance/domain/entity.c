#include "entity.h"

#include "core/db.h"
#include "core/log.h"
#include "core/tz.h"
#include "web/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- the descriptors -------------------------------------------------------- */

static const struct field site_fields[] = {
	{"name", F_TEXT, 1, 1, 200, NULL, 0, 0},
	{"timezone", F_TZ, 1, 1, 64, NULL, 0, 0},
};

static const struct field door_fields[] = {
	{"site_id", F_REF, 1, 1, 0, "sites", 1, 0},
	{"name", F_TEXT, 1, 1, 200, NULL, 0, 0},
	{"unlock_seconds", F_INT, 0, 1, 3600, NULL, 0, 0},
	{"held_open_seconds", F_INT, 0, 1, 86400, NULL, 0, 0},
	{"output", F_INT, 0, 1, 64, NULL, 0, 1},
	{"terminal_id", F_REF, 0, 1, 0, "devices", 1, 1},
};

static const struct field holiday_set_fields[] = {
	{"name", F_TEXT, 1, 1, 200, NULL, 0, 0},
};

static const struct field schedule_fields[] = {
	{"name", F_TEXT, 1, 1, 200, NULL, 0, 0},
	{"holiday_set_id", F_REF, 0, 1, 0, "holiday_sets", 1, 1},
};

static const struct field group_fields[] = {
	{"name", F_TEXT, 1, 1, 200, NULL, 0, 0},
	{"description", F_TEXT, 0, 0, 1000, NULL, 0, 0},
};

static const struct field level_fields[] = {
	{"name", F_TEXT, 1, 1, 200, NULL, 0, 0},
	{"group_id", F_REF, 1, 1, 0, "access_groups", 1, 0},
	{"schedule_id", F_REF, 1, 1, 0, "schedules", 1, 0},
};

/* --- children ----------------------------------------------------------------- */

#define MAX_CHILDREN 1000

static int valid_date(const char *s)
{
	struct tm tm;
	char *end;
	char back[11];

	if (strlen(s) != 10)
		return 0;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end)
		return 0;
	/* Round-trip through timegm rejects 2026-02-30. */
	time_t t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(back, sizeof back, "%Y-%m-%d", &tm);
	return strcmp(back, s) == 0;
}

static void holidays_check(struct jv *v, int64_t tenant, const cJSON *body)
{
	const cJSON *dates = cJSON_GetObjectItemCaseSensitive(body, "dates"), *d;
	int i = 0;

	(void)tenant;
	if (!dates)
		return;
	if (!cJSON_IsArray(dates) || cJSON_GetArraySize(dates) > MAX_CHILDREN) {
		jv_error(v, "dates", "must be a list of at most %d {date, name}", MAX_CHILDREN);
		return;
	}
	cJSON_ArrayForEach(d, dates)
	{
		const cJSON *date = cJSON_GetObjectItemCaseSensitive(d, "date");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
		char field[32];

		snprintf(field, sizeof field, "dates[%d]", i++);
		if (!cJSON_IsObject(d) || cJSON_GetArraySize(d) != 2 || !cJSON_IsString(date) ||
		    !cJSON_IsString(name))
			jv_error(v, field, "must be {\"date\": \"YYYY-MM-DD\", \"name\": \"...\"}");
		else if (!valid_date(date->valuestring))
			jv_error(v, field, "date '%.20s' is not a valid YYYY-MM-DD date", date->valuestring);
		else if (!*name->valuestring || strlen(name->valuestring) > 200)
			jv_error(v, field, "name must be 1 to 200 bytes");
	}
}

static int holidays_store(int64_t tenant, int64_t id, const cJSON *body)
{
	const cJSON *dates = cJSON_GetObjectItemCaseSensitive(body, "dates"), *d;
	sqlite3_stmt *st;

	(void)tenant;
	if (!dates)
		return 0;
	st = db_stmt("DELETE FROM holidays WHERE holiday_set_id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	sqlite3_reset(st);
	st = db_stmt("INSERT OR REPLACE INTO holidays (holiday_set_id, date, name) VALUES (?, ?, ?)");
	cJSON_ArrayForEach(d, dates)
	{
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, cJSON_GetObjectItem(d, "date")->valuestring, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, cJSON_GetObjectItem(d, "name")->valuestring, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return sqlite3_reset(st), -1;
		sqlite3_reset(st);
	}
	return 0;
}

static int holidays_view(int64_t id, cJSON *obj)
{
	sqlite3_stmt *st = db_stmt("SELECT date, name FROM holidays WHERE holiday_set_id = ? ORDER BY date");
	cJSON *list = cJSON_AddArrayToObject(obj, "dates");

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "date", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddStringToObject(d, "name", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddItemToArray(list, d);
	}
	sqlite3_reset(st);
	return 0;
}

/* "HH:MM" -> minutes; "24:00" allowed only as an end. -1 if bad. */
static int parse_hhmm(const cJSON *j, int is_end)
{
	const char *s;
	int h, m;

	/* Exactly "HH:MM": sscanf would also take " 9:00" or "09:+5". */
	if (!cJSON_IsString(j) || strlen(s = j->valuestring) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !is_end)))
		return -1;
	return h * 60 + m;
}

static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"};

static int parse_day(const cJSON *j)
{
	for (int i = 0; cJSON_IsString(j) && i < 8; i++)
		if (strcmp(j->valuestring, day_names[i]) == 0)
			return i;
	return -1;
}

static void windows_check(struct jv *v, int64_t tenant, const cJSON *body)
{
	const cJSON *windows = cJSON_GetObjectItemCaseSensitive(body, "windows"), *w;
	int i = 0, seen[8][1440] = {{0}};

	(void)tenant;
	if (!windows)
		return;
	if (!cJSON_IsArray(windows) || cJSON_GetArraySize(windows) > 200) {
		jv_error(v, "windows", "must be a list of at most 200 {day, start, end}");
		return;
	}
	cJSON_ArrayForEach(w, windows)
	{
		char field[32];
		int day = parse_day(cJSON_GetObjectItemCaseSensitive(w, "day"));
		int start = parse_hhmm(cJSON_GetObjectItemCaseSensitive(w, "start"), 0);
		int end = parse_hhmm(cJSON_GetObjectItemCaseSensitive(w, "end"), 1);

		snprintf(field, sizeof field, "windows[%d]", i++);
		if (!cJSON_IsObject(w) || cJSON_GetArraySize(w) != 3 || day < 0 || start < 0 || end < 0)
			jv_error(v, field, "must be {\"day\": mon|tue|wed|thu|fri|sat|sun|holiday, "
					   "\"start\": \"HH:MM\", \"end\": \"HH:MM\"} (end 24:00 allowed; an end "
					   "not after the start runs past midnight)");
		else if (start == end)
			jv_error(v, field, "start and end are the same time");
		else if (seen[day][start]++)
			jv_error(v, field, "another window starts at the same time that day");
	}
}

static int windows_store(int64_t tenant, int64_t id, const cJSON *body)
{
	const cJSON *windows = cJSON_GetObjectItemCaseSensitive(body, "windows"), *w;
	sqlite3_stmt *st;

	(void)tenant;
	if (!windows)
		return 0;
	st = db_stmt("DELETE FROM schedule_windows WHERE schedule_id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	sqlite3_reset(st);
	st = db_stmt("INSERT INTO schedule_windows (schedule_id, day, start_min, end_min) VALUES (?, ?, ?, ?)");
	cJSON_ArrayForEach(w, windows)
	{
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, parse_day(cJSON_GetObjectItem(w, "day")));
		sqlite3_bind_int(st, 3, parse_hhmm(cJSON_GetObjectItem(w, "start"), 0));
		sqlite3_bind_int(st, 4, parse_hhmm(cJSON_GetObjectItem(w, "end"), 1));
		if (sqlite3_step(st) != SQLITE_DONE)
			return sqlite3_reset(st), -1;
		sqlite3_reset(st);
	}
	return 0;
}

static int windows_view(int64_t id, cJSON *obj)
{
	sqlite3_stmt *st = db_stmt("SELECT day, start_min, end_min FROM schedule_windows "
				   "WHERE schedule_id = ? ORDER BY day, start_min");
	cJSON *list = cJSON_AddArrayToObject(obj, "windows");

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *w = cJSON_CreateObject();
		char t[8];
		int s = sqlite3_column_int(st, 1), e = sqlite3_column_int(st, 2);

		cJSON_AddStringToObject(w, "day", day_names[sqlite3_column_int(st, 0) & 7]);
		snprintf(t, sizeof t, "%02d:%02d", s / 60, s % 60);
		cJSON_AddStringToObject(w, "start", t);
		snprintf(t, sizeof t, "%02d:%02d", e / 60, e % 60);
		cJSON_AddStringToObject(w, "end", t);
		cJSON_AddItemToArray(list, w);
	}
	sqlite3_reset(st);
	return 0;
}

static void level_doors_check(struct jv *v, int64_t tenant, const cJSON *body)
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "door_ids"), *d;
	int i = 0;

	if (!ids)
		return;
	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) > MAX_CHILDREN) {
		jv_error(v, "door_ids", "must be a list of at most %d door ids", MAX_CHILDREN);
		return;
	}
	cJSON_ArrayForEach(d, ids)
	{
		char field[32];
		long long id;
		snprintf(field, sizeof field, "door_ids[%d]", i++);
		if (json_int(d, 1, INT64_MAX, &id) < 0 || !entity_exists("doors", tenant, id))
			jv_error(v, field, "is not a door of this tenant");
	}
}

static int level_doors_store(int64_t tenant, int64_t id, const cJSON *body)
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "door_ids"), *d;
	sqlite3_stmt *st;

	(void)tenant;
	if (!ids)
		return 0;
	st = db_stmt("DELETE FROM access_level_doors WHERE level_id = ?");
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	sqlite3_reset(st);
	st = db_stmt("INSERT OR IGNORE INTO access_level_doors (level_id, door_id) VALUES (?, ?)");
	cJSON_ArrayForEach(d, ids)
	{
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)d->valuedouble);
		if (sqlite3_step(st) != SQLITE_DONE)
			return sqlite3_reset(st), -1;
		sqlite3_reset(st);
	}
	return 0;
}

static int level_doors_view(int64_t id, cJSON *obj)
{
	sqlite3_stmt *st = db_stmt("SELECT door_id FROM access_level_doors WHERE level_id = ? ORDER BY door_id");
	cJSON *list = cJSON_AddArrayToObject(obj, "door_ids");

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(list, cJSON_CreateNumber((double)sqlite3_column_int64(st, 0)));
	sqlite3_reset(st);
	return 0;
}

static int group_view(int64_t id, cJSON *obj)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM group_members WHERE group_id = ?");

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddNumberToObject(obj, "member_count", (double)sqlite3_column_int64(st, 0));
	sqlite3_reset(st);
	return 0;
}

static const char *const holiday_children[] = {"dates", NULL};
static const char *const window_children[] = {"windows", NULL};
static const char *const level_children[] = {"door_ids", NULL};

#define N(a) (sizeof a / sizeof a[0])

const struct entity entity_sites = {
	"site", "sites", site_fields, N(site_fields), NULL, NULL, NULL, NULL,
	"SELECT count(*) FROM doors WHERE site_id = ?1", "doors",
};
const struct entity entity_doors = {
	"door", "doors", door_fields, N(door_fields), NULL, NULL, NULL, NULL, NULL, NULL,
};
const struct entity entity_holiday_sets = {
	"holiday_set", "holiday_sets", holiday_set_fields, N(holiday_set_fields), holidays_check,
	holidays_store, holidays_view, holiday_children,
	"SELECT count(*) FROM schedules WHERE holiday_set_id = ?1", "schedules",
};
const struct entity entity_schedules = {
	"schedule", "schedules", schedule_fields, N(schedule_fields), windows_check, windows_store,
	windows_view, window_children,
	"SELECT count(*) FROM access_levels WHERE schedule_id = ?1", "access levels",
};
const struct entity entity_access_groups = {
	"access_group", "access_groups", group_fields, N(group_fields), NULL, NULL, group_view, NULL,
	"SELECT count(*) FROM access_levels WHERE group_id = ?1", "access levels",
};
const struct entity entity_access_levels = {
	"access_level", "access_levels", level_fields, N(level_fields), level_doors_check,
	level_doors_store, level_doors_view, level_children, NULL, NULL,
};

/* --- generic operations ------------------------------------------------------ */

int entity_exists(const char *table, int64_t tenant, int64_t id)
{
	/* One literal per table, so db_stmt keeps each prepared; the table
	 * name comes from a descriptor, never from a request. */
	static const struct { const char *table, *sql; } known[] = {
		{"sites", "SELECT 1 FROM sites WHERE id = ? AND tenant_id = ?"},
		{"doors", "SELECT 1 FROM doors WHERE id = ? AND tenant_id = ?"},
		{"schedules", "SELECT 1 FROM schedules WHERE id = ? AND tenant_id = ?"},
		{"holiday_sets", "SELECT 1 FROM holiday_sets WHERE id = ? AND tenant_id = ?"},
		{"access_groups", "SELECT 1 FROM access_groups WHERE id = ? AND tenant_id = ?"},
		{"access_levels", "SELECT 1 FROM access_levels WHERE id = ? AND tenant_id = ?"},
		{"devices", "SELECT 1 FROM devices WHERE id = ? AND tenant_id = ?"},
		{"people", "SELECT 1 FROM people WHERE id = ? AND tenant_id = ?"},
	};
	sqlite3_stmt *st = NULL;
	int found;

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(known[i].table, table) == 0)
			st = db_stmt(known[i].sql);
	if (!st) {
		log_err("entity: no lookup for table '%s'", table);
		return 0;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

static int is_child_field(const struct entity *e, const char *name)
{
	for (const char *const *c = e->child_fields; c && *c; c++)
		if (strcmp(*c, name) == 0)
			return 1;
	return 0;
}

static void check_field(const struct field *f, struct jv *v, int64_t tenant, int partial)
{
	int required = f->required && !partial;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(v->obj, f->name);
	const char *s;
	long long n;

	if (m && cJSON_IsNull(m)) {
		jv_int(v, f->name, 0, 0, 0, 0); /* marks it seen */
		if (!f->nullable)
			jv_error(v, f->name, required ? "is required" : "must not be null (leave it out to keep it)");
		return;
	}
	switch (f->type) {
	case F_TEXT:
		jv_string(v, f->name, required, (size_t)f->min, (size_t)f->max);
		break;
	case F_TZ:
		s = jv_string(v, f->name, required, 1, 64);
		if (s && !tz_get(s))
			jv_error(v, f->name, "'%s' is not a time zone of the tz database (e.g. Asia/Tokyo)", s);
		break;
	case F_INT:
		jv_int(v, f->name, required, f->min, f->max, 0);
		break;
	case F_REF:
		n = jv_int(v, f->name, required, 1, 1LL << 53, 0);
		if (n > 0 && !entity_exists(f->ref_table, tenant, n))
			jv_error(v, f->name, "%lld is not a %s of this tenant", n, f->ref_table);
		break;
	}
}

void entity_check(const struct entity *e, struct jv *v, int64_t tenant, const cJSON *body, int partial)
{
	const cJSON *m;

	for (size_t i = 0; i < e->nfields; i++)
		check_field(&e->fields[i], v, tenant, partial);
	if (e->children_check)
		e->children_check(v, tenant, body);
	/* Unknown fields are errors; child fields were validated above. */
	cJSON_ArrayForEach(m, body)
	{
		int known = is_child_field(e, m->string);
		for (size_t i = 0; i < e->nfields && !known; i++)
			known = strcmp(e->fields[i].name, m->string) == 0;
		if (!known)
			jv_error(v, m->string, "is not a known field");
	}
}

static void bind_field(sqlite3_stmt *st, int pos, const struct field *f, const cJSON *m)
{
	if (!m || cJSON_IsNull(m))
		sqlite3_bind_null(st, pos);
	else if (f->type == F_TEXT || f->type == F_TZ)
		sqlite3_bind_text(st, pos, m->valuestring, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, pos, (int64_t)m->valuedouble);
}

int64_t entity_create(const struct entity *e, int64_t tenant, const cJSON *body)
{
	char sql[1024], cols[512] = "tenant_id, created_at, updated_at", vals[256] = "?, unixepoch(), unixepoch()";
	sqlite3_stmt *st;
	int64_t id = -1;
	int pos = 2;

	for (size_t i = 0; i < e->nfields; i++) {
		if (!cJSON_GetObjectItemCaseSensitive(body, e->fields[i].name))
			continue; /* the column default applies */
		snprintf(cols + strlen(cols), sizeof cols - strlen(cols), ", %s", e->fields[i].name);
		snprintf(vals + strlen(vals), sizeof vals - strlen(vals), ", ?");
	}
	snprintf(sql, sizeof sql, "INSERT INTO %s (%s) VALUES (%s)", e->table, cols, vals);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	for (size_t i = 0; i < e->nfields; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, e->fields[i].name);
		if (m)
			bind_field(st, pos++, &e->fields[i], m);
	}
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(db_get());
	sqlite3_finalize(st);
	if (id > 0 && e->children_store && e->children_store(tenant, id, body) < 0)
		return -1;
	return id;
}

static long long row_version(const struct entity *e, int64_t tenant, int64_t id)
{
	char sql[160];
	sqlite3_stmt *st;
	long long v = -1;

	snprintf(sql, sizeof sql, "SELECT version FROM %s WHERE id = ? AND tenant_id = ?", e->table);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int entity_update(const struct entity *e, int64_t tenant, int64_t id, long long version, const cJSON *body)
{
	char sql[1024], sets[600] = "version = version + 1, updated_at = unixepoch()";
	long long current = row_version(e, tenant, id);
	sqlite3_stmt *st;
	int pos = 1, rc;

	if (current == -2)
		return -1;
	if (current < 0)
		return 1;
	if (current != version)
		return 2;
	for (size_t i = 0; i < e->nfields; i++)
		if (cJSON_GetObjectItemCaseSensitive(body, e->fields[i].name))
			snprintf(sets + strlen(sets), sizeof sets - strlen(sets), ", %s = ?", e->fields[i].name);
	snprintf(sql, sizeof sql, "UPDATE %s SET %s WHERE id = ? AND tenant_id = ? AND version = ?", e->table, sets);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < e->nfields; i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, e->fields[i].name);
		if (m)
			bind_field(st, pos++, &e->fields[i], m);
	}
	sqlite3_bind_int64(st, pos++, id);
	sqlite3_bind_int64(st, pos++, tenant);
	sqlite3_bind_int64(st, pos, version);
	rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db_get()) == 1 ? 0 : -1;
	sqlite3_finalize(st);
	if (rc == 0 && e->children_store && e->children_store(tenant, id, body) < 0)
		return -1;
	return rc;
}

int entity_delete(const struct entity *e, int64_t tenant, int64_t id, char *why, size_t whylen)
{
	char sql[160];
	sqlite3_stmt *st;
	int rc;

	if (row_version(e, tenant, id) < 0)
		return 1;
	if (e->in_use_sql) {
		long long n = 0;
		if (sqlite3_prepare_v2(db_get(), e->in_use_sql, -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (n > 0) {
			snprintf(why, whylen, "still used by %lld %s: change or delete them first", n, e->in_use_what);
			return 2;
		}
	}
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = ? AND tenant_id = ?", e->table);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

static void add_time(cJSON *o, const char *name, long long t)
{
	char when[32];
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, name, when);
}

/* SELECT id, version, created_at, updated_at, <fields...> */
static void select_sql(const struct entity *e, char *sql, size_t len, const char *where)
{
	char cols[512] = "id, version, created_at, updated_at";

	for (size_t i = 0; i < e->nfields; i++)
		snprintf(cols + strlen(cols), sizeof cols - strlen(cols), ", %s", e->fields[i].name);
	snprintf(sql, len, "SELECT %s FROM %s WHERE %s", cols, e->table, where);
}

static cJSON *row_view(const struct entity *e, sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();
	int64_t id = sqlite3_column_int64(st, 0);

	cJSON_AddNumberToObject(o, "id", (double)id);
	for (size_t i = 0; i < e->nfields; i++) {
		int col = 4 + (int)i;
		if (sqlite3_column_type(st, col) == SQLITE_NULL)
			cJSON_AddNullToObject(o, e->fields[i].name);
		else if (e->fields[i].type == F_TEXT || e->fields[i].type == F_TZ)
			cJSON_AddStringToObject(o, e->fields[i].name, (const char *)sqlite3_column_text(st, col));
		else
			cJSON_AddNumberToObject(o, e->fields[i].name, (double)sqlite3_column_int64(st, col));
	}
	if (e->children_view)
		e->children_view(id, o);
	cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 1));
	add_time(o, "created_at", sqlite3_column_int64(st, 2));
	add_time(o, "updated_at", sqlite3_column_int64(st, 3));
	return o;
}

cJSON *entity_get(const struct entity *e, int64_t tenant, int64_t id)
{
	char sql[1024];
	sqlite3_stmt *st;
	cJSON *o = NULL;

	select_sql(e, sql, sizeof sql, "id = ? AND tenant_id = ?");
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = row_view(e, st);
	sqlite3_finalize(st);
	return o;
}

int entity_list(const struct entity *e, int64_t tenant, const char *const *filter_names,
		const long long *filter_values, int nfilters, int64_t cursor, int limit, cJSON *out,
		int64_t *next)
{
	char where[512] = "tenant_id = ?1 AND id > ?2", sql[1200];
	sqlite3_stmt *st;
	int n = 0;

	for (int i = 0; i < nfilters; i++) {
		/* Only names of filterable fields reach the SQL text. */
		for (size_t f = 0; f < e->nfields; f++)
			if (e->fields[f].filter && strcmp(e->fields[f].name, filter_names[i]) == 0)
				snprintf(where + strlen(where), sizeof where - strlen(where), " AND %s = ?%d",
					 e->fields[f].name, i + 4);
	}
	snprintf(where + strlen(where), sizeof where - strlen(where), " ORDER BY id LIMIT ?3");
	select_sql(e, sql, sizeof sql, where);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK) {
		log_err("entity: %s: %s", sql, sqlite3_errmsg(db_get()));
		return -1;
	}
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int(st, 3, limit + 1);
	for (int i = 0; i < nfilters; i++)
		sqlite3_bind_int64(st, i + 4, filter_values[i]);
	*next = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == limit) {
			*next = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(out, n - 1), "id"));
			break;
		}
		cJSON_AddItemToArray(out, row_view(e, st));
		n++;
	}
	sqlite3_finalize(st);
	return n;
}
