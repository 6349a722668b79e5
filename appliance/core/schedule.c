#include "schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One cron field: "*", "a", "a-b", any of them with "/step", in a list. */
static int parse_field(const char *text, int lo, int hi, uint64_t *bits, int *any)
{
	char buf[128], *save, *part;

	/* strtok would skip empty list items: "1,,2" is a typo, not "1,2". */
	if (strlen(text) >= sizeof buf || !*text || strstr(text, ",,") || text[0] == ',' || text[strlen(text) - 1] == ',')
		return -1;
	snprintf(buf, sizeof buf, "%s", text);
	*bits = 0;
	*any = strcmp(text, "*") == 0;
	for (part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		long a = lo, b = hi, step = 1;
		char *p = part, *end;

		if (*p == '*') {
			p++;
		} else {
			if (!isdigit((unsigned char)*p))
				return -1;
			a = b = strtol(p, &end, 10);
			p = end;
			if (*p == '-') {
				if (!isdigit((unsigned char)p[1]))
					return -1;
				b = strtol(p + 1, &end, 10);
				p = end;
			}
		}
		if (*p == '/') {
			if (!isdigit((unsigned char)p[1]))
				return -1;
			step = strtol(p + 1, &end, 10);
			p = end;
			if (part[0] != '*' && a == b)
				b = hi; /* "5/15": from 5 to the end, as cron does */
		}
		if (*p || a < lo || b > hi || a > b || step < 1 || step > hi)
			return -1;
		for (long v = a; v <= b; v += step)
			*bits |= (uint64_t)1 << v;
	}
	return *bits ? 0 : -1;
}

static int parse_every(const char *text, long long *secs)
{
	char *end;
	long long n = strtoll(text, &end, 10);

	if (!isdigit((unsigned char)*text) || n < 1)
		return -1;
	if (strcmp(end, "s") == 0)
		*secs = n;
	else if (strcmp(end, "m") == 0)
		*secs = n * 60;
	else if (strcmp(end, "h") == 0)
		*secs = n * 3600;
	else if (strcmp(end, "d") == 0)
		*secs = n * 86400;
	else
		return -1;
	return *secs <= 366LL * 86400 ? 0 : -1;
}

static int parse_cron(const char *text, struct schedule *s, char *why, size_t whylen)
{
	static const struct { const char *name; int lo, hi; } f[5] = {
		{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}};
	char buf[256], *fields[6], *save, *tok;
	uint64_t bits[5];
	int any[5], n = 0;

	if (strlen(text) >= sizeof buf)
		goto count;
	snprintf(buf, sizeof buf, "%s", text);
	for (tok = strtok_r(buf, " \t", &save); tok && n < 6; tok = strtok_r(NULL, " \t", &save))
		fields[n++] = tok;
count:
	if (n != 5) {
		snprintf(why, whylen, "a cron schedule has five fields: minute hour day-of-month month day-of-week");
		return -1;
	}
	for (int i = 0; i < 5; i++)
		if (parse_field(fields[i], f[i].lo, f[i].hi, &bits[i], &any[i]) < 0) {
			snprintf(why, whylen, "cron %s '%s' is not valid (%d-%d, *, lists, ranges, /steps)", f[i].name,
				 fields[i], f[i].lo, f[i].hi);
			return -1;
		}
	s->kind = SCHED_CRON;
	s->minute = bits[0];
	s->hour = (uint32_t)bits[1];
	s->dom = (uint32_t)bits[2];
	s->month = (uint16_t)bits[3];
	s->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
	s->dom_any = any[2];
	s->dow_any = any[4];
	return 0;
}

int schedule_parse(const char *text, struct schedule *s, char *why, size_t whylen)
{
	memset(s, 0, sizeof *s);
	if (strcmp(text, "off") == 0) {
		s->kind = SCHED_OFF;
		return 0;
	}
	if (strncmp(text, "every ", 6) == 0) {
		if (parse_every(text + 6, &s->every_s) < 0) {
			snprintf(why, whylen, "'%s': 'every' takes a number with s, m, h or d, up to 366d", text);
			return -1;
		}
		s->kind = SCHED_EVERY;
		return 0;
	}
	if (strncmp(text, "cron ", 5) == 0)
		return parse_cron(text + 5, s, why, whylen);
	snprintf(why, whylen, "'%s' is not a schedule: 'every 30s', 'cron M H DOM MON DOW' or 'off'", text);
	return -1;
}

static int day_matches(const struct schedule *s, const struct tm *t)
{
	int dom = (s->dom >> t->tm_mday) & 1, dow = (s->dow >> t->tm_wday) & 1;

	/* cron's rule: with both restricted, either may match. */
	if (!s->dom_any && !s->dow_any)
		return dom || dow;
	return dom && dow;
}

time_t schedule_next(const struct schedule *s, time_t after)
{
	struct tm t;
	time_t at;

	if (s->kind == SCHED_OFF)
		return -1;
	if (s->kind == SCHED_EVERY)
		return after + (time_t)s->every_s;
	/* Minute by minute would be up to 2.6M steps a year; skip whole days
	 * and hours that cannot match. Local time, so DST is mktime's job. */
	at = after - after % 60 + 60;
	for (int guard = 0; guard < 5 * 366 * 24 * 60; guard++) {
		localtime_r(&at, &t);
		if (!((s->month >> (t.tm_mon + 1)) & 1) || !day_matches(s, &t)) {
			t.tm_mday++;
			t.tm_hour = t.tm_min = t.tm_sec = 0;
			t.tm_isdst = -1;
			at = mktime(&t);
			continue;
		}
		if (!((s->hour >> t.tm_hour) & 1)) {
			t.tm_hour++;
			t.tm_min = t.tm_sec = 0;
			t.tm_isdst = -1;
			at = mktime(&t);
			continue;
		}
		if ((s->minute >> t.tm_min) & 1)
			return at;
		at += 60;
	}
	return -1;
}
