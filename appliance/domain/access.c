#include "access.h"

#include "core/db.h"
#include "core/tz.h"
#include "people.h"

#include <stdio.h>
#include <string.h>

#define MAX_LEVELS 16
#define MAX_WINDOWS 64
#define MAX_HOLIDAYS 200

/* Everything one decision needs, on the stack. */
struct gathered {
	struct decide_level levels[MAX_LEVELS];
	struct decide_schedule schedules[MAX_LEVELS];
	struct decide_window windows[MAX_LEVELS][MAX_WINDOWS];
	char holiday_text[MAX_LEVELS][MAX_HOLIDAYS][11];
	const char *holiday_ptr[MAX_LEVELS][MAX_HOLIDAYS];
	size_t nlevels;
	char cred_from[20], cred_until[20], person_from[20], person_until[20];
};

static void copy_text(char *out, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

static int load_schedule(int64_t schedule_id, struct gathered *g, size_t i)
{
	sqlite3_stmt *st = db_stmt("SELECT day, start_min, end_min FROM schedule_windows WHERE schedule_id = ?");
	struct decide_schedule *s = &g->schedules[i];
	size_t n = 0;

	sqlite3_bind_int64(st, 1, schedule_id);
	while (n < MAX_WINDOWS && sqlite3_step(st) == SQLITE_ROW) {
		g->windows[i][n].day = sqlite3_column_int(st, 0);
		g->windows[i][n].start_min = sqlite3_column_int(st, 1);
		g->windows[i][n].end_min = sqlite3_column_int(st, 2);
		n++;
	}
	sqlite3_reset(st);
	s->windows = g->windows[i];
	s->nwindows = n;
	st = db_stmt("SELECT h.date FROM holidays h JOIN schedules s ON s.holiday_set_id = h.holiday_set_id "
		     "WHERE s.id = ?");
	sqlite3_bind_int64(st, 1, schedule_id);
	n = 0;
	while (n < MAX_HOLIDAYS && sqlite3_step(st) == SQLITE_ROW) {
		copy_text(g->holiday_text[i][n], 11, st, 0);
		g->holiday_ptr[i][n] = g->holiday_text[i][n];
		n++;
	}
	sqlite3_reset(st);
	s->holidays = g->holiday_ptr[i];
	s->nholidays = n;
	return 0;
}

static int load_levels(int64_t tenant, int64_t person, int64_t door, struct gathered *g)
{
	sqlite3_stmt *st = db_stmt("SELECT DISTINCT l.id, l.schedule_id FROM access_levels l "
				   "JOIN access_level_doors d ON d.level_id = l.id "
				   "JOIN group_members m ON m.group_id = l.group_id "
				   "WHERE l.tenant_id = ? AND d.door_id = ? AND m.person_id = ? ORDER BY l.id");
	int64_t schedule_ids[MAX_LEVELS];

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, door);
	sqlite3_bind_int64(st, 3, person);
	g->nlevels = 0;
	while (g->nlevels < MAX_LEVELS && sqlite3_step(st) == SQLITE_ROW) {
		g->levels[g->nlevels].id = sqlite3_column_int64(st, 0);
		schedule_ids[g->nlevels] = sqlite3_column_int64(st, 1);
		g->nlevels++;
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < g->nlevels; i++) {
		load_schedule(schedule_ids[i], g, i);
		g->levels[i].schedule = &g->schedules[i];
	}
	return 0;
}

static const struct tz *door_zone(int64_t tenant, int64_t door)
{
	sqlite3_stmt *st = db_stmt("SELECT s.timezone FROM doors d JOIN sites s ON s.id = d.site_id "
				   "WHERE d.id = ? AND d.tenant_id = ?");
	const struct tz *z = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, door);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		z = tz_get((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return z;
}

/* Credential and person facts into q. 0, or 1 if the credential is unknown. */
static int load_subject(int64_t tenant, int64_t cred, struct decide_query *q, struct gathered *g, int64_t *person)
{
	sqlite3_stmt *st = db_stmt("SELECT c.status, c.valid_from, c.valid_until, p.id, p.status, p.valid_from, p.valid_until "
				   "FROM credentials c JOIN people p ON p.id = c.person_id "
				   "WHERE c.id = ? AND c.tenant_id = ? AND c.kind = 'card'");
	int rc = 1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, cred);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		q->credential_known = 1;
		q->credential_active = strcmp((const char *)sqlite3_column_text(st, 0), "active") == 0;
		copy_text(g->cred_from, sizeof g->cred_from, st, 1);
		copy_text(g->cred_until, sizeof g->cred_until, st, 2);
		*person = sqlite3_column_int64(st, 3);
		q->person_active = strcmp((const char *)sqlite3_column_text(st, 4), "active") == 0;
		copy_text(g->person_from, sizeof g->person_from, st, 5);
		copy_text(g->person_until, sizeof g->person_until, st, 6);
		q->credential_from = g->cred_from;
		q->credential_until = g->cred_until;
		q->person_from = g->person_from;
		q->person_until = g->person_until;
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

static int check_in_snapshot(int64_t tenant, const char *card, int64_t credential_id, int64_t door_id, time_t at,
			     struct access_answer *a);

/* The half-dozen reads of one decision share one read transaction: they
 * see one consistent state (a level changed half-way cannot mix), and the
 * locking is paid once instead of per statement. */
int access_check(int64_t tenant, const char *card, int64_t credential_id, int64_t door_id, time_t at,
		 struct access_answer *a)
{
	sqlite3 *db = db_get();
	int own = db && sqlite3_get_autocommit(db), rc;

	if (own && db_exec(db, "BEGIN") != SQLITE_OK)
		own = 0;
	rc = check_in_snapshot(tenant, card, credential_id, door_id, at, a);
	if (own)
		db_exec(db, "COMMIT");
	return rc;
}

static int check_in_snapshot(int64_t tenant, const char *card, int64_t credential_id, int64_t door_id, time_t at,
			     struct access_answer *a)
{
	static __thread struct gathered g;
	struct decide_query q;
	int64_t person = 0, cred = credential_id;
	int rc;

	memset(a, 0, sizeof *a);
	memset(&q, 0, sizeof q);
	q.zone = door_zone(tenant, door_id);
	if (!q.zone)
		return 1;
	q.instant = at;
	if (card && person_by_card(tenant, card, &person, &cred) != 0)
		cred = 0;
	if (cred && (rc = load_subject(tenant, cred, &q, &g, &person)) < 0)
		return -1;
	if (q.credential_known && load_levels(tenant, person, door_id, &g) < 0)
		return -1;
	q.levels = g.levels;
	q.nlevels = q.credential_known ? g.nlevels : 0;
	decide(&q, &a->r);
	a->person_id = q.credential_known ? person : 0;
	a->credential_id = q.credential_known ? cred : 0;
	return 0;
}
