#include "t.h"

#include "domain/decide.h"

#include <stdlib.h>

/* Schedules. Days: 0 Monday .. 6 Sunday, 7 holiday. 2026-03-02 is a Monday,
 * 2026-03-08 and 2026-11-01 are Sundays (New York's DST changes),
 * 2026-12-24 a Thursday, 2026-12-25 a Friday. */
static const struct decide_window office_w[] = {
	{0, 540, 1020}, {1, 540, 1020}, {2, 540, 1020}, {3, 540, 1020}, {4, 540, 1020},
};
static const struct decide_schedule office = {office_w, 5, NULL, 0};

static const struct decide_window night_w[] = {{0, 1320, 360}}; /* Monday 22:00-06:00 */
static const struct decide_schedule night = {night_w, 1, NULL, 0};

static const struct decide_window sunday_night_w[] = {{6, 1320, 120}}; /* Sunday 22:00-02:00 */
static const struct decide_schedule sunday_night = {sunday_night_w, 1, NULL, 0};

static const char *const christmas[] = {"2026-01-01", "2026-12-25"};
static const struct decide_schedule office_holiday = {office_w, 5, christmas, 2};

static const struct decide_window office_and_holiday_w[] = {
	{0, 540, 1020}, {1, 540, 1020}, {2, 540, 1020}, {3, 540, 1020}, {4, 540, 1020},
	{7, 600, 720}, /* holidays 10:00-12:00 */
};
static const struct decide_schedule office_holiday_open = {office_and_holiday_w, 6, christmas, 2};

/* Thursday 22:00-02:00; Friday 2026-12-25 a holiday without windows. */
static const struct decide_window thursday_night_w[] = {{3, 1320, 120}};
static const struct decide_schedule eve = {thursday_night_w, 1, christmas, 2};

/* Thursday 22:00-02:00 and holidays 23:00-01:00; Thursday 2026-12-24 a holiday. */
static const char *const christmas_eve[] = {"2026-12-24"};
static const struct decide_window eve_holiday_w[] = {{3, 1320, 120}, {7, 1380, 60}};
static const struct decide_schedule eve_holiday = {eve_holiday_w, 2, christmas_eve, 1};

/* Sunday 01:00-03:00 and Sunday 01:00-02:00 (New York's DST days). */
static const struct decide_window sun_1_3_w[] = {{6, 60, 180}};
static const struct decide_schedule sun_1_3 = {sun_1_3_w, 1, NULL, 0};
static const struct decide_window sun_1_2_w[] = {{6, 60, 120}};
static const struct decide_schedule sun_1_2 = {sun_1_2_w, 1, NULL, 0};
static const struct decide_window sun_15_17_w[] = {{6, 900, 1020}};
static const struct decide_schedule sun_15_17 = {sun_15_17_w, 1, NULL, 0};

/* Wednesday 08:00 to Thursday 08:00: end not after start, 24 hours. */
static const struct decide_window day_long_w[] = {{2, 480, 480}};
static const struct decide_schedule day_long = {day_long_w, 1, NULL, 0};

/* Every day and holiday, all day. */
static const struct decide_window always_w[] = {
	{0, 0, 1440}, {1, 0, 1440}, {2, 0, 1440}, {3, 0, 1440}, {4, 0, 1440}, {5, 0, 1440}, {6, 0, 1440}, {7, 0, 1440},
};
static const struct decide_schedule always = {always_w, 8, NULL, 0};

/* Windows out of range cover nothing. */
static const struct decide_window broken_w[] = {{8, 0, 1440}, {-1, 0, 1440}, {0, -5, 1440}, {0, 0, 1441}, {0, 1440, 10}};
static const struct decide_schedule broken = {broken_w, 5, NULL, 0};

static const struct decide_level L_office[] = {{1, &office}};
static const struct decide_level L_night[] = {{2, &night}};
static const struct decide_level L_sunday_night[] = {{3, &sunday_night}};
static const struct decide_level L_office_holiday[] = {{4, &office_holiday}};
static const struct decide_level L_office_holiday_open[] = {{5, &office_holiday_open}};
static const struct decide_level L_eve[] = {{6, &eve}};
static const struct decide_level L_eve_holiday[] = {{7, &eve_holiday}};
static const struct decide_level L_sun_1_3[] = {{8, &sun_1_3}};
static const struct decide_level L_sun_1_2[] = {{9, &sun_1_2}};
static const struct decide_level L_sun_15_17[] = {{10, &sun_15_17}};
static const struct decide_level L_always[] = {{11, &always}};
static const struct decide_level L_day_long[] = {{14, &day_long}};
static const struct decide_level L_broken[] = {{12, &broken}, {13, NULL}};
static const struct decide_level L_three[] = {{1, &office}, {2, &night}, {3, &sunday_night}};
static const struct decide_level L_holiday_or_office[] = {{4, &office_holiday}, {1, &office}};
static const struct decide_level L_holiday_or_night[] = {{2, &night}, {4, &office_holiday}};

#define LV(a) a, sizeof a / sizeof a[0]

/* Fields left out are the common case: a known, active credential of an
 * active person, no validity bounds, zone UTC. */
struct dcase {
	const char *name;
	const char *zone; /* NULL: UTC */
	const char *at;   /* the instant, in UTC */
	int unknown, inactive, suspended;
	const char *cfrom, *cuntil, *pfrom, *puntil;
	const struct decide_level *levels;
	size_t nlevels;
	int grant;
	enum decide_reason reason;
	int64_t level;
};

static const struct dcase cases[] = {
	/* Each deny reason, in rule order. */
	{"unknown credential", .at = "2026-03-02T10:00:00", .unknown = 1, .levels = LV(L_office), .reason = DR_UNKNOWN_CREDENTIAL},
	{"unknown beats inactive", .at = "2026-03-02T10:00:00", .unknown = 1, .inactive = 1, .suspended = 1, .levels = LV(L_office), .reason = DR_UNKNOWN_CREDENTIAL},
	{"credential inactive", .at = "2026-03-02T10:00:00", .inactive = 1, .levels = LV(L_office), .reason = DR_CREDENTIAL_INACTIVE},
	{"credential not yet valid", .at = "2026-03-02T09:29:59", .cfrom = "2026-03-02T09:30:00", .levels = LV(L_office), .reason = DR_CREDENTIAL_NOT_YET_VALID},
	{"credential from is inclusive", .at = "2026-03-02T09:30:00", .cfrom = "2026-03-02T09:30:00", .levels = LV(L_office), .grant = 1, .level = 1},
	{"credential valid before until", .at = "2026-03-02T09:59:59", .cuntil = "2026-03-02T10:00:00", .levels = LV(L_office), .grant = 1, .level = 1},
	{"credential until is exclusive", .at = "2026-03-02T10:00:00", .cuntil = "2026-03-02T10:00:00", .levels = LV(L_office), .reason = DR_CREDENTIAL_EXPIRED},
	{"credential expired beats suspended", .at = "2026-03-02T10:00:00", .cuntil = "2026-03-01T00:00:00", .suspended = 1, .levels = LV(L_office), .reason = DR_CREDENTIAL_EXPIRED},
	{"empty bounds are none", .at = "2026-03-02T10:00:00", .cfrom = "", .cuntil = "", .pfrom = "", .puntil = "", .levels = LV(L_office), .grant = 1, .level = 1},
	{"date-only from is midnight", .at = "2026-03-02T00:00:00", .cfrom = "2026-03-02", .levels = LV(L_always), .grant = 1, .level = 11},
	{"date-only from, second before", .at = "2026-03-01T23:59:59", .cfrom = "2026-03-02", .levels = LV(L_always), .reason = DR_CREDENTIAL_NOT_YET_VALID},
	{"date-only until, second before", .at = "2026-03-02T23:59:59", .cuntil = "2026-03-03", .levels = LV(L_always), .grant = 1, .level = 11},
	{"date-only until is midnight", .at = "2026-03-03T00:00:00", .cuntil = "2026-03-03", .levels = LV(L_always), .reason = DR_CREDENTIAL_EXPIRED},
	{"person suspended", .at = "2026-03-02T10:00:00", .suspended = 1, .levels = LV(L_office), .reason = DR_PERSON_SUSPENDED},
	{"person not yet valid", .at = "2026-03-02T10:00:00", .pfrom = "2026-03-02T10:00:01", .levels = LV(L_office), .reason = DR_PERSON_NOT_YET_VALID},
	{"person from is inclusive", .at = "2026-03-02T10:00:01", .pfrom = "2026-03-02T10:00:01", .levels = LV(L_office), .grant = 1, .level = 1},
	{"person expired", .at = "2026-03-02T10:00:00", .puntil = "2026-03-02T10:00:00", .levels = LV(L_office), .reason = DR_PERSON_EXPIRED},
	{"person valid before until", .at = "2026-03-02T09:59:59", .puntil = "2026-03-02T10:00:00", .levels = LV(L_office), .grant = 1, .level = 1},
	{"person expired beats no level", .at = "2026-03-02T10:00:00", .puntil = "2026-01-01", .reason = DR_PERSON_EXPIRED},
	{"no access level", .at = "2026-03-02T10:00:00", .reason = DR_NO_ACCESS_LEVEL},
	{"outside schedule", .at = "2026-03-02T08:59:59", .levels = LV(L_office), .reason = DR_OUTSIDE_SCHEDULE},
	{"window start inclusive", .at = "2026-03-02T09:00:00", .levels = LV(L_office), .grant = 1, .level = 1},
	{"window last second", .at = "2026-03-02T16:59:59", .levels = LV(L_office), .grant = 1, .level = 1},
	{"window end exclusive", .at = "2026-03-02T17:00:00", .levels = LV(L_office), .reason = DR_OUTSIDE_SCHEDULE},
	{"saturday", .at = "2026-03-07T10:00:00", .levels = LV(L_office), .reason = DR_OUTSIDE_SCHEDULE},
	{"windows out of range cover nothing", .at = "2026-03-02T10:00:00", .levels = LV(L_broken), .reason = DR_OUTSIDE_SCHEDULE},

	/* Monday 22:00-06:00. */
	{"night: monday 23:00", .at = "2026-03-02T23:00:00", .levels = LV(L_night), .grant = 1, .level = 2},
	{"night: monday 22:00", .at = "2026-03-02T22:00:00", .levels = LV(L_night), .grant = 1, .level = 2},
	{"night: tuesday 05:59:59", .at = "2026-03-03T05:59:59", .levels = LV(L_night), .grant = 1, .level = 2},
	{"night: tuesday 00:00", .at = "2026-03-03T00:00:00", .levels = LV(L_night), .grant = 1, .level = 2},
	{"night: tuesday 06:00", .at = "2026-03-03T06:00:00", .levels = LV(L_night), .reason = DR_OUTSIDE_SCHEDULE},
	{"night: monday 21:59:59", .at = "2026-03-02T21:59:59", .levels = LV(L_night), .reason = DR_OUTSIDE_SCHEDULE},
	{"night: monday 03:00 is sunday's night", .at = "2026-03-02T03:00:00", .levels = LV(L_night), .reason = DR_OUTSIDE_SCHEDULE},
	{"night: tuesday 23:00", .at = "2026-03-03T23:00:00", .levels = LV(L_night), .reason = DR_OUTSIDE_SCHEDULE},

	/* Wednesday 08:00-08:00 lasts 24 hours. */
	{"24h window: wednesday 07:59:59", .at = "2026-03-04T07:59:59", .levels = LV(L_day_long), .reason = DR_OUTSIDE_SCHEDULE},
	{"24h window: wednesday 08:00", .at = "2026-03-04T08:00:00", .levels = LV(L_day_long), .grant = 1, .level = 14},
	{"24h window: thursday 07:59:59", .at = "2026-03-05T07:59:59", .levels = LV(L_day_long), .grant = 1, .level = 14},
	{"24h window: thursday 08:00", .at = "2026-03-05T08:00:00", .levels = LV(L_day_long), .reason = DR_OUTSIDE_SCHEDULE},

	/* Sunday 22:00-02:00 wraps into Monday. */
	{"sunday night: sunday 23:00", .at = "2026-03-08T23:00:00", .levels = LV(L_sunday_night), .grant = 1, .level = 3},
	{"sunday night: monday 01:59:59", .at = "2026-03-09T01:59:59", .levels = LV(L_sunday_night), .grant = 1, .level = 3},
	{"sunday night: monday 02:00", .at = "2026-03-09T02:00:00", .levels = LV(L_sunday_night), .reason = DR_OUTSIDE_SCHEDULE},
	{"sunday night: sunday 01:00", .at = "2026-03-08T01:00:00", .levels = LV(L_sunday_night), .reason = DR_OUTSIDE_SCHEDULE},
	{"sunday night: saturday 23:00", .at = "2026-03-07T23:00:00", .levels = LV(L_sunday_night), .reason = DR_OUTSIDE_SCHEDULE},

	/* Holidays replace the weekday's windows. */
	{"holiday without windows", .at = "2026-12-25T10:00:00", .levels = LV(L_office_holiday), .reason = DR_HOLIDAY},
	{"day before the holiday", .at = "2026-12-24T10:00:00", .levels = LV(L_office_holiday), .grant = 1, .level = 4},
	{"day after the holiday", .at = "2026-12-28T10:00:00", .levels = LV(L_office_holiday), .grant = 1, .level = 4},
	{"saturday after the holiday", .at = "2026-12-26T10:00:00", .levels = LV(L_office_holiday), .reason = DR_OUTSIDE_SCHEDULE},
	{"holiday window covers", .at = "2026-12-25T11:00:00", .levels = LV(L_office_holiday_open), .grant = 1, .level = 5},
	{"holiday window start", .at = "2026-12-25T10:00:00", .levels = LV(L_office_holiday_open), .grant = 1, .level = 5},
	{"outside the holiday window", .at = "2026-12-25T13:00:00", .levels = LV(L_office_holiday_open), .reason = DR_HOLIDAY},
	{"holiday window not on weekdays", .at = "2026-12-24T08:00:00", .levels = LV(L_office_holiday_open), .reason = DR_OUTSIDE_SCHEDULE},
	{"holiday 2026-01-01 (thursday)", .at = "2026-01-01T16:00:00", .levels = LV(L_office_holiday), .reason = DR_HOLIDAY},
	{"window started before the holiday runs on", .at = "2026-12-25T01:00:00", .levels = LV(L_eve), .grant = 1, .level = 6},
	{"and ends on time", .at = "2026-12-25T02:00:00", .levels = LV(L_eve), .reason = DR_HOLIDAY},
	{"previous date a holiday: its weekday window is gone", .at = "2026-12-24T22:30:00", .levels = LV(L_eve_holiday), .reason = DR_HOLIDAY},
	{"previous date a holiday: holiday window", .at = "2026-12-24T23:30:00", .levels = LV(L_eve_holiday), .grant = 1, .level = 7},
	{"holiday window runs past midnight", .at = "2026-12-25T00:30:00", .levels = LV(L_eve_holiday), .grant = 1, .level = 7},
	{"weekday window of a holiday does not run on", .at = "2026-12-25T01:30:00", .levels = LV(L_eve_holiday), .reason = DR_OUTSIDE_SCHEDULE},
	{"next week's thursday night", .at = "2026-12-31T22:30:00", .levels = LV(L_eve_holiday), .grant = 1, .level = 7},

	/* Several levels. */
	{"three levels: only night covers", .at = "2026-03-02T23:00:00", .levels = LV(L_three), .grant = 1, .level = 2},
	{"three levels: only office covers", .at = "2026-03-02T12:00:00", .levels = LV(L_three), .grant = 1, .level = 1},
	{"three levels: only sunday covers", .at = "2026-03-09T01:00:00", .levels = LV(L_three), .grant = 1, .level = 3},
	{"three levels: none covers", .at = "2026-03-02T21:00:00", .levels = LV(L_three), .reason = DR_OUTSIDE_SCHEDULE},
	{"holiday in one, other covers", .at = "2026-12-25T10:00:00", .levels = LV(L_holiday_or_office), .grant = 1, .level = 1},
	{"holiday in one, none covers", .at = "2026-12-25T10:00:00", .levels = LV(L_holiday_or_night), .reason = DR_HOLIDAY},
	{"first covering level is named", .at = "2026-03-02T10:00:00", .levels = LV(L_holiday_or_office), .grant = 1, .level = 4},

	/* New York, spring forward 2026-03-08 02:00 EST -> 03:00 EDT; a window
	 * 01:00-03:00 that day lasts one hour of real time. */
	{"NY spring: 01:59:59 EST inside", "America/New_York", "2026-03-08T06:59:59", .levels = LV(L_sun_1_3), .grant = 1, .level = 8},
	{"NY spring: 03:00 EDT outside", "America/New_York", "2026-03-08T07:00:00", .levels = LV(L_sun_1_3), .reason = DR_OUTSIDE_SCHEDULE},
	{"NY spring: 03:30 EDT outside", "America/New_York", "2026-03-08T07:30:00", .levels = LV(L_sun_1_3), .reason = DR_OUTSIDE_SCHEDULE},
	{"NY spring: 01:00 EST inside", "America/New_York", "2026-03-08T06:00:00", .levels = LV(L_sun_1_3), .grant = 1, .level = 8},
	{"Tokyo, same instant: 15:59:59", "Asia/Tokyo", "2026-03-08T06:59:59", .levels = LV(L_sun_1_3), .reason = DR_OUTSIDE_SCHEDULE},
	{"Tokyo, same instant: 16:30", "Asia/Tokyo", "2026-03-08T07:30:00", .levels = LV(L_sun_1_3), .reason = DR_OUTSIDE_SCHEDULE},
	{"Tokyo, 15:00-17:00 window: 15:59:59", "Asia/Tokyo", "2026-03-08T06:59:59", .levels = LV(L_sun_15_17), .grant = 1, .level = 10},
	{"Tokyo, 15:00-17:00 window: 16:30", "Asia/Tokyo", "2026-03-08T07:30:00", .levels = LV(L_sun_15_17), .grant = 1, .level = 10},
	{"NY, 15:00-17:00 window: 03:30", "America/New_York", "2026-03-08T07:30:00", .levels = LV(L_sun_15_17), .reason = DR_OUTSIDE_SCHEDULE},
	/* Fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice. */
	{"NY fall: 01:30 EDT inside", "America/New_York", "2026-11-01T05:30:00", .levels = LV(L_sun_1_2), .grant = 1, .level = 9},
	{"NY fall: 01:30 EST inside", "America/New_York", "2026-11-01T06:30:00", .levels = LV(L_sun_1_2), .grant = 1, .level = 9},
	{"NY fall: 01:59:59 EST inside", "America/New_York", "2026-11-01T06:59:59", .levels = LV(L_sun_1_2), .grant = 1, .level = 9},
	{"NY fall: 02:00 EST outside", "America/New_York", "2026-11-01T07:00:00", .levels = LV(L_sun_1_2), .reason = DR_OUTSIDE_SCHEDULE},
	{"NY fall: 00:59:59 EDT outside", "America/New_York", "2026-11-01T04:59:59", .levels = LV(L_sun_1_2), .reason = DR_OUTSIDE_SCHEDULE},
	{"Tokyo, same instant: 14:30", "Asia/Tokyo", "2026-11-01T05:30:00", .levels = LV(L_sun_1_2), .reason = DR_OUTSIDE_SCHEDULE},
	{"Tokyo, same instant: 15:30", "Asia/Tokyo", "2026-11-01T06:30:00", .levels = LV(L_sun_1_2), .reason = DR_OUTSIDE_SCHEDULE},
	/* Validity by civil time: until 01:30 local; 01:15 EST is the second
	 * 01:15 of the day, an hour after the first 01:30, and still valid. */
	{"NY fall: until 01:30, second 01:15", "America/New_York", "2026-11-01T06:15:00", .cuntil = "2026-11-01T01:30:00", .levels = LV(L_always), .grant = 1, .level = 11},
	{"NY fall: until 01:30, first 01:30", "America/New_York", "2026-11-01T05:30:00", .cuntil = "2026-11-01T01:30:00", .levels = LV(L_always), .reason = DR_CREDENTIAL_EXPIRED},
	{"NY fall: person until 01:30, second 01:15", "America/New_York", "2026-11-01T06:15:00", .puntil = "2026-11-01T01:30:00", .levels = LV(L_always), .grant = 1, .level = 11},
	{"Tokyo: until 01:30, same instant (15:15)", "Asia/Tokyo", "2026-11-01T06:15:00", .cuntil = "2026-11-01T01:30:00", .levels = LV(L_always), .reason = DR_CREDENTIAL_EXPIRED},
	{"NY spring: from 02:30 (never shown), at 03:00 EDT", "America/New_York", "2026-03-08T07:00:00", .cfrom = "2026-03-08T02:30:00", .levels = LV(L_always), .grant = 1, .level = 11},
	{"NY spring: from 02:30, at 01:59:59 EST", "America/New_York", "2026-03-08T06:59:59", .cfrom = "2026-03-08T02:30:00", .levels = LV(L_always), .reason = DR_CREDENTIAL_NOT_YET_VALID},
	/* The holiday is the door's local date. */
	{"NY: 03:00 UTC on the 25th is the 24th, 22:00", "America/New_York", "2026-12-25T03:00:00", .levels = LV(L_office_holiday), .reason = DR_OUTSIDE_SCHEDULE},
	{"UTC: the same instant is on the holiday", "UTC", "2026-12-25T03:00:00", .levels = LV(L_office_holiday), .reason = DR_HOLIDAY},
	{"Tokyo: 2026-12-24T23:30Z is the 25th, 08:30", "Asia/Tokyo", "2026-12-24T23:30:00", .levels = LV(L_office_holiday), .reason = DR_HOLIDAY},
	{"Tokyo: 2026-12-24T01:00Z is the 24th, 10:00", "Asia/Tokyo", "2026-12-24T01:00:00", .levels = LV(L_office_holiday), .grant = 1, .level = 4},
	/* Far instants: civil text stays four-digit. */
	{"year 9999+", .at = NULL, .cuntil = "9999-12-31T23:59:59", .levels = LV(L_always), .reason = DR_CREDENTIAL_EXPIRED},
};

static time_t utc_instant(const char *s)
{
	struct tm tm;

	if (!s)
		return (time_t)400000000000LL; /* year 14645 */
	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec) != 6)
		abort();
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void query_of(const struct dcase *c, struct decide_query *q)
{
	memset(q, 0, sizeof *q);
	q->credential_known = !c->unknown;
	q->credential_active = !c->inactive;
	q->credential_from = c->cfrom;
	q->credential_until = c->cuntil;
	q->person_active = !c->suspended;
	q->person_from = c->pfrom;
	q->person_until = c->puntil;
	q->zone = tz_get(c->zone ? c->zone : "UTC");
	q->levels = c->levels;
	q->nlevels = c->nlevels;
	q->instant = utc_instant(c->at);
}

TEST(decide_cases)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct dcase *c = &cases[i];
		struct decide_query q;
		struct decide_result r;

		query_of(c, &q);
		CHECK(q.zone != NULL);
		memset(&r, 0x55, sizeof r);
		decide(&q, &r);
		if (r.grant != c->grant || r.reason != (c->grant ? DR_GRANTED : c->reason) ||
		    r.level_id != (c->grant ? c->level : 0))
			t_fail(__FILE__, __LINE__, "%s: grant %d %s level %lld, expected %d %s level %lld",
			       c->name, r.grant, decide_reason_name(r.reason), (long long)r.level_id,
			       c->grant, decide_reason_name(c->grant ? DR_GRANTED : c->reason),
			       (long long)(c->grant ? c->level : 0));
	}
}

TEST(decide_without_zone_is_utc)
{
	struct decide_query q;
	struct decide_result r;

	query_of(&cases[0], &q);
	q.credential_known = 1;
	q.zone = NULL;
	q.instant = utc_instant("2026-03-02T23:00:00");
	q.levels = L_night;
	q.nlevels = 1;
	decide(&q, &r);
	CHECK_INT(r.grant, 1);
	CHECK_INT(r.level_id, 2);
	q.levels = NULL; /* nlevels without levels: none */
	decide(&q, &r);
	CHECK_INT(r.reason, DR_NO_ACCESS_LEVEL);
	decide(NULL, &r);
	CHECK_INT(r.grant, 0);
	CHECK_INT(r.reason, DR_UNKNOWN_CREDENTIAL);
}

TEST(decide_reason_names)
{
	static const struct {
		enum decide_reason r;
		const char *name;
	} names[] = {
		{DR_GRANTED, "granted"},
		{DR_UNKNOWN_CREDENTIAL, "unknown_credential"},
		{DR_CREDENTIAL_INACTIVE, "credential_inactive"},
		{DR_CREDENTIAL_NOT_YET_VALID, "credential_not_yet_valid"},
		{DR_CREDENTIAL_EXPIRED, "credential_expired"},
		{DR_PERSON_SUSPENDED, "person_suspended"},
		{DR_PERSON_NOT_YET_VALID, "person_not_yet_valid"},
		{DR_PERSON_EXPIRED, "person_expired"},
		{DR_NO_ACCESS_LEVEL, "no_access_level"},
		{DR_OUTSIDE_SCHEDULE, "outside_schedule"},
		{DR_HOLIDAY, "holiday"},
	};

	CHECK_INT(sizeof names / sizeof names[0], DR_HOLIDAY + 1);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		CHECK_STR(decide_reason_name(names[i].r), names[i].name);
	CHECK_STR(decide_reason_name((enum decide_reason)99), "invalid");
}

TEST(decide_parse_civil_validates)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} civ[] = {
		{"2026-12-01T09:00:00", "2026-12-01T09:00:00"},
		{"2026-12-01", "2026-12-01T00:00:00"},
		{"2028-02-29T23:59:59", "2028-02-29T23:59:59"},
		{"2000-02-29", "2000-02-29T00:00:00"},
		{"2026-01-31T00:00:00", "2026-01-31T00:00:00"},
		{"2026-04-30", "2026-04-30T00:00:00"},
		{"2026-12-31T23:59:59", "2026-12-31T23:59:59"},
		{"1900-02-29", NULL},
		{"2027-02-29", NULL},
		{"2026-02-30", NULL},
		{"2026-04-31", NULL},
		{"2026-13-01", NULL},
		{"2026-00-10", NULL},
		{"2026-01-00", NULL},
		{"2026-01-32", NULL},
		{"2026-01-01T24:00:00", NULL},
		{"2026-01-01T23:60:00", NULL},
		{"2026-01-01T23:00:60", NULL},
		{"2026-01-01 09:00:00", NULL},
		{"2026-01-01T09:00", NULL},
		{"2026-01-01T09:00:00Z", NULL},
		{"2026-01-01T09:00:00+01:00", NULL},
		{"2026-1-01", NULL},
		{"26-01-01", NULL},
		{"+026-01-01", NULL},
		{"2026-01-0a", NULL},
		{"2026/01/01", NULL},
		{"2026-01-01t09:00:00", NULL},
		{"", NULL},
	};
	char out[20];

	for (size_t i = 0; i < sizeof civ / sizeof civ[0]; i++) {
		int rc;

		memset(out, 'x', sizeof out);
		out[19] = '\0';
		rc = decide_parse_civil(civ[i].in, out);
		if (civ[i].out) {
			if (rc != 0 || strcmp(out, civ[i].out) != 0)
				t_fail(__FILE__, __LINE__, "\"%s\": rc %d, \"%s\"", civ[i].in, rc, out);
		} else if (rc != -1) {
			t_fail(__FILE__, __LINE__, "\"%s\" accepted", civ[i].in);
		}
	}
	CHECK_INT(decide_parse_civil(NULL, out), -1);
	/* In place. */
	{
		char buf[20] = "2026-05-17";
		CHECK_INT(decide_parse_civil(buf, buf), 0);
		CHECK_STR(buf, "2026-05-17T00:00:00");
	}
}
