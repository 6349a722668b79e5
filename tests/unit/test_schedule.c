/* Job schedules: parsing, and the next time for "every" and cron, in the
 * appliance's local time (TZ set here), across weeks, months and DST. */
#include "core/schedule.h"

#include "t.h"

#include <stdlib.h>
#include <time.h>

static time_t at_utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
	return timegm(&tm);
}

static time_t next_of(const char *text, time_t after)
{
	struct schedule s;
	char why[200];

	if (schedule_parse(text, &s, why, sizeof why) < 0) {
		t_fail(__FILE__, __LINE__, "%s: %s", text, why);
		return -2;
	}
	return schedule_next(&s, after);
}

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

TEST(schedule_refuses_bad_text)
{
	static const char *const bad[] = {"", "daily", "every", "every 0s", "every 5x", "every 400d", "every -5s",
					  "cron", "cron * * *", "cron * * * * * *", "cron 60 * * * *", "cron * 24 * * *",
					  "cron * * 0 * *", "cron * * * 13 *", "cron * * * * 8", "cron 5-1 * * * *",
					  "cron */0 * * * *", "cron a * * * *", "cron 1,,2 * * * *", "cron 1- * * * *",
					  "cron -1 * * * *", "OFF", "cron 1/ * * * *"};
	struct schedule s;
	char why[200];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = '\0';
		if (schedule_parse(bad[i], &s, why, sizeof why) == 0)
			t_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
		else if (!why[0])
			t_fail(__FILE__, __LINE__, "'%s': no reason", bad[i]);
	}
}

TEST(schedule_every_and_off)
{
	struct schedule s;
	char why[200];
	time_t t = at_utc(2026, 11, 26, 3, 0, 7);

	CHECK_INT(next_of("every 30s", t), t + 30);
	CHECK_INT(next_of("every 5m", t), t + 300);
	CHECK_INT(next_of("every 2h", t), t + 7200);
	CHECK_INT(next_of("every 1d", t), t + 86400);
	CHECK_INT(schedule_parse("off", &s, why, sizeof why), 0);
	CHECK_INT(schedule_next(&s, t), -1);
}

TEST(schedule_cron_in_utc)
{
	set_tz("UTC");
	/* Daily at 03:00: just before, exactly at, after. */
	CHECK_INT(next_of("cron 0 3 * * *", at_utc(2026, 11, 26, 2, 59, 59)), at_utc(2026, 11, 26, 3, 0, 0));
	CHECK_INT(next_of("cron 0 3 * * *", at_utc(2026, 11, 26, 3, 0, 0)), at_utc(2026, 11, 27, 3, 0, 0));
	CHECK_INT(next_of("cron 0 3 * * *", at_utc(2026, 12, 31, 4, 0, 0)), at_utc(2027, 1, 1, 3, 0, 0));
	/* Office hours every quarter hour, Monday to Friday: Friday 17:50 (2026-11-27) -> Monday 09:00. */
	CHECK_INT(next_of("cron */15 9-17 * * 1-5", at_utc(2026, 11, 27, 17, 50, 0)), at_utc(2026, 11, 30, 9, 0, 0));
	CHECK_INT(next_of("cron */15 9-17 * * 1-5", at_utc(2026, 11, 27, 9, 14, 0)), at_utc(2026, 11, 27, 9, 15, 0));
	/* Weekly, Sunday written 0 or 7: from Thursday 2026-11-26 to Sunday the 29th. */
	CHECK_INT(next_of("cron 0 2 * * 0", at_utc(2026, 11, 26, 12, 0, 0)), at_utc(2026, 11, 29, 2, 0, 0));
	CHECK_INT(next_of("cron 0 2 * * 7", at_utc(2026, 11, 26, 12, 0, 0)), at_utc(2026, 11, 29, 2, 0, 0));
	/* Both day fields restricted: the 13th or a Friday, whichever first. */
	CHECK_INT(next_of("cron 0 0 13 * 5", at_utc(2026, 11, 26, 0, 0, 0)), at_utc(2026, 11, 27, 0, 0, 0));
	CHECK_INT(next_of("cron 0 0 13 * 5", at_utc(2026, 11, 28, 0, 0, 0)), at_utc(2026, 12, 4, 0, 0, 0));
	/* Lists, steps from a start, months. */
	CHECK_INT(next_of("cron 5,35 * * * *", at_utc(2026, 11, 26, 3, 6, 0)), at_utc(2026, 11, 26, 3, 35, 0));
	CHECK_INT(next_of("cron 10/20 * * * *", at_utc(2026, 11, 26, 3, 31, 0)), at_utc(2026, 11, 26, 3, 50, 0));
	CHECK_INT(next_of("cron 0 0 1 1,7 *", at_utc(2026, 11, 26, 0, 0, 0)), at_utc(2027, 1, 1, 0, 0, 0));
	/* Leap day: the next 29 February. */
	CHECK_INT(next_of("cron 0 12 29 2 *", at_utc(2026, 11, 26, 0, 0, 0)), at_utc(2028, 2, 29, 12, 0, 0));
	/* A day that never comes. */
	CHECK_INT(next_of("cron 0 0 31 2 *", at_utc(2026, 11, 26, 0, 0, 0)), -1);
}

TEST(schedule_cron_in_local_time_and_dst)
{
	time_t after, got;

	/* 03:00 in Tokyo is 18:00 UTC the day before. */
	set_tz("Asia/Tokyo");
	CHECK_INT(next_of("cron 0 3 * * *", at_utc(2026, 11, 26, 12, 0, 0)), at_utc(2026, 11, 26, 18, 0, 0));
	/* New York springs forward at 02:00 on 2026-03-08: 02:30 does not
	 * exist that day. The next run must still come, within a day or so. */
	set_tz("America/New_York");
	after = at_utc(2026, 3, 8, 5, 0, 0); /* 00:00 EST */
	got = next_of("cron 30 2 * * *", after);
	CHECK(got > after && got < after + 2 * 86400);
	/* And falls back on 2026-11-01: 01:30 comes twice; one run is due. */
	after = at_utc(2026, 11, 1, 4, 0, 0); /* 00:00 EDT */
	got = next_of("cron 30 1 * * *", after);
	CHECK_INT(got, at_utc(2026, 11, 1, 5, 30, 0));
	set_tz("UTC");
}
