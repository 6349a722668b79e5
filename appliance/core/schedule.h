/* schedule: when a job runs. "every 30s" (or m, h, d), "cron M H DOM MON
 * DOW" with the five classic cron fields in the appliance's local time
 * (*, lists "1,15", ranges "1-5", steps "*\/10" and "8-18/2"; day of week
 * 0-7 with 0 and 7 Sunday; as in cron, when both day fields are restricted
 * a day matching either one counts), or "off". */
#ifndef GH_SCHEDULE_H
#define GH_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct schedule {
	enum { SCHED_OFF, SCHED_EVERY, SCHED_CRON } kind;
	long long every_s;
	uint64_t minute;   /* bit n: minute n matches (0-59) */
	uint32_t hour;     /* 0-23 */
	uint32_t dom;      /* 1-31 */
	uint16_t month;    /* 1-12 */
	uint8_t dow;       /* 0-6, Sunday 0 */
	int dom_any, dow_any;
};

/* 0, or -1 with why. */
int schedule_parse(const char *text, struct schedule *s, char *why, size_t whylen);

/* The first time strictly after `after` (Unix seconds) when it runs, or -1
 * for "off" (or no match within five years, e.g. "cron 0 0 31 2 *"). */
time_t schedule_next(const struct schedule *s, time_t after);

#endif
