#include "tables.h"

#include <string.h>

#define N(a) ((int)(sizeof a / sizeof a[0]))

/* A renamed stale holder keeps its id in its name until its own change
 * arrives: names are at most 200 bytes. */
#define NAME_FIX(t, scope)                                                                              \
	"UPDATE " t " SET name = substr(name, 1, 180) || ' #' || id WHERE " scope " = ?2 AND name = ?3 " \
	"AND id != ?1"

static const char *const sites_cols[] = {"id", "tenant_id", "name", "timezone", "version", "created_at",
					 "updated_at"};
static const char *const doors_cols[] = {"id", "tenant_id", "site_id", "name", "unlock_seconds",
					 "held_open_seconds", "terminal_id", "output", "version", "created_at",
					 "updated_at"};
static const char *const devices_cols[] = {"id", "tenant_id", "site_id", "uid", "name", "model", "created_at"};
static const char *const holiday_sets_cols[] = {"id", "tenant_id", "name", "version", "created_at", "updated_at"};
static const char *const holidays_cols[] = {"holiday_set_id", "date", "name"};
static const char *const schedules_cols[] = {"id", "tenant_id", "name", "holiday_set_id", "version", "created_at",
					     "updated_at"};
static const char *const windows_cols[] = {"schedule_id", "day", "start_min", "end_min"};
static const char *const groups_cols[] = {"id", "tenant_id", "name", "description", "version", "created_at",
					  "updated_at"};
static const char *const levels_cols[] = {"id", "tenant_id", "name", "group_id", "schedule_id", "version",
					  "created_at", "updated_at"};
static const char *const level_doors_cols[] = {"level_id", "door_id"};
static const char *const people_cols[] = {"id", "tenant_id", "name", "email", "email_idx", "phone", "employee_no",
					  "employee_no_idx", "photo", "photo_type", "notes", "status", "valid_from",
					  "valid_until", "version", "created_at", "updated_at"};
static const char *const members_cols[] = {"person_id", "group_id"};
static const char *const credentials_cols[] = {"id", "tenant_id", "person_id", "kind", "lookup_idx", "secret",
					       "pin_hash", "hint", "label", "status", "valid_from", "valid_until",
					       "version", "created_at", "updated_at"};

static const char *const name_in_site[] = {"site_id", "name"};
static const char *const name_in_tenant[] = {"tenant_id", "name"};
static const char *const employee_no[] = {"tenant_id", "employee_no_idx"};
static const char *const card[] = {"tenant_id", "kind", "lookup_idx"};

static const struct sync_child holidays = {
	"holidays", holidays_cols, N(holidays_cols),
	"SELECT holiday_set_id, date, name FROM holidays WHERE holiday_set_id = ?1 AND ?2 = ?2 ORDER BY date"};
static const struct sync_child windows = {
	"schedule_windows", windows_cols, N(windows_cols),
	"SELECT schedule_id, day, start_min, end_min FROM schedule_windows WHERE schedule_id = ?1 AND ?2 = ?2 "
	"ORDER BY day, start_min"};
static const struct sync_child level_doors = {
	"access_level_doors", level_doors_cols, N(level_doors_cols),
	"SELECT ld.level_id, ld.door_id FROM access_level_doors ld JOIN doors d ON d.id = ld.door_id "
	"WHERE ld.level_id = ?1 AND d.site_id = ?2 ORDER BY ld.door_id"};
static const struct sync_child members = {
	"group_members", members_cols, N(members_cols),
	"SELECT person_id, group_id FROM group_members WHERE person_id = ?1 AND ?2 = ?2 ORDER BY group_id"};

/* In an order that parents come before what refers to them (the site
 * applies with foreign keys off, so this is for readers of a changeset). */
const struct sync_table sync_tables[] = {
	{"sites", sites_cols, N(sites_cols), NULL, 1, NULL, NULL, NULL, NULL, NULL, 0},
	{"holiday_sets", holiday_sets_cols, N(holiday_sets_cols), NULL, 0, &holidays, NULL, NULL,
	 NAME_FIX("holiday_sets", "tenant_id"), name_in_tenant, 2},
	{"schedules", schedules_cols, N(schedules_cols), NULL, 0, &windows, NULL, NULL,
	 NAME_FIX("schedules", "tenant_id"), name_in_tenant, 2},
	{"access_groups", groups_cols, N(groups_cols), NULL, 0, NULL, NULL, NULL,
	 NAME_FIX("access_groups", "tenant_id"), name_in_tenant, 2},
	{"devices", devices_cols, N(devices_cols), "site_id", 0, NULL, "status, updated_at", "'pending', unixepoch()",
	 NULL, NULL, 0},
	{"doors", doors_cols, N(doors_cols), "site_id", 0, NULL, NULL, NULL, NAME_FIX("doors", "site_id"),
	 name_in_site, 2},
	{"access_levels", levels_cols, N(levels_cols), NULL, 0, &level_doors, NULL, NULL,
	 NAME_FIX("access_levels", "tenant_id"), name_in_tenant, 2},
	{"people", people_cols, N(people_cols), NULL, 0, &members, NULL, NULL,
	 "UPDATE people SET employee_no_idx = NULL WHERE tenant_id = ?2 AND employee_no_idx = ?3 AND id != ?1",
	 employee_no, 2},
	{"credentials", credentials_cols, N(credentials_cols), NULL, 0, NULL, NULL, NULL,
	 "UPDATE credentials SET lookup_idx = NULL WHERE tenant_id = ?2 AND kind = ?3 AND lookup_idx = ?4 "
	 "AND id != ?1",
	 card, 3},
};

const size_t sync_tables_count = sizeof sync_tables / sizeof sync_tables[0];


const struct sync_table *sync_table_find(const char *table)
{
	for (size_t i = 0; i < sync_tables_count; i++)
		if (strcmp(sync_tables[i].table, table) == 0)
			return &sync_tables[i];
	return NULL;
}

const struct sync_table *sync_table_of_child(const char *child)
{
	for (size_t i = 0; i < sync_tables_count; i++)
		if (sync_tables[i].child && strcmp(sync_tables[i].child->table, child) == 0)
			return &sync_tables[i];
	return NULL;
}

int sync_col_index(const char *const *cols, int ncols, const char *name)
{
	for (int i = 0; i < ncols; i++)
		if (strcmp(cols[i], name) == 0)
			return i;
	return -1;
}
