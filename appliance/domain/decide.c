/* decide: the access decision (rules in decide.h). Allocation-free: the
 * instant's civil time at the door is computed once per call, then every
 * bound and window is compared against it. */
#include "decide.h"

#include <string.h>

/* The instant at the door, as everything below needs it. */
struct when {
	char civil[20]; /* YYYY-MM-DDTHH:MM:SS; its first 10 bytes are the date */
	char prev[11];  /* the date before, YYYY-MM-DD */
	int wday;       /* 0 Monday .. 6 Sunday */
	int minute;     /* of the day, 0..1439 */
};

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int y, int m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : days[m - 1];
}

static void put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

static void put_date(char *p, int y, int m, int d)
{
	put_digits(p, y, 4);
	p[4] = '-';
	put_digits(p + 5, m, 2);
	p[7] = '-';
	put_digits(p + 8, d, 2);
}

static void when_of(const struct tz *zone, time_t instant, struct when *w)
{
	struct tm tm;
	int y, m, d;

	tz_to_local(zone, instant, &tm); /* a NULL zone is UTC */
	y = tm.tm_year + 1900;
	/* Civil text has four-digit years: instants before year 1 or after
	 * 9999 are taken as the first or last second of that range. */
	if (y < 1 || y > 9999) {
		int last = y > 9999;
		y = last ? 9999 : 1;
		tm.tm_mon = last ? 11 : 0;
		tm.tm_mday = last ? 31 : 1;
		tm.tm_hour = last ? 23 : 0;
		tm.tm_min = tm.tm_sec = last ? 59 : 0;
		tm.tm_wday = last ? 5 : 1; /* 9999-12-31 a Friday, 0001-01-01 a Monday */
	}
	m = tm.tm_mon + 1;
	d = tm.tm_mday;
	put_date(w->civil, y, m, d);
	w->civil[10] = 'T';
	put_digits(w->civil + 11, tm.tm_hour, 2);
	w->civil[13] = ':';
	put_digits(w->civil + 14, tm.tm_min, 2);
	w->civil[16] = ':';
	put_digits(w->civil + 17, tm.tm_sec, 2);
	w->civil[19] = '\0';
	if (d > 1) {
		d--;
	} else if (m > 1) {
		m--;
		d = mdays(y, m);
	} else {
		y = y > 1 ? y - 1 : 0;
		m = 12;
		d = 31;
	}
	put_date(w->prev, y, m, d);
	w->prev[10] = '\0';
	w->wday = (tm.tm_wday + 6) % 7;
	w->minute = tm.tm_hour * 60 + tm.tm_min;
}

/* Civil text comparison over "YYYY-MM-DDTHH:MM:SS"; a bound written as a
 * bare date sorts before every time of that date, i.e. as its 00:00:00. */
static int civil_before(const char *civil, const char *bound)
{
	return strncmp(civil, bound, 19) < 0;
}

static int has(const char *s)
{
	return s && *s;
}

/* Is the 10-byte date among the holidays? Compared byte by byte, which
 * stops at a shorter string's end. */
static int listed(const char *const *hol, size_t n, const char *date)
{
	for (size_t i = 0; i < n; i++) {
		const char *h = hol[i];
		int k = 0;

		if (!h)
			continue;
		while (k < 10 && h[k] == date[k])
			k++;
		if (k == 10 && h[10] == '\0')
			return 1;
	}
	return 0;
}

/* Holiday answers for one list, kept for the other levels of the same call
 * when they share the list. -1: not looked up yet. */
struct hol_cache {
	const char *const *list;
	size_t n;
	int today, prev;
};

static int is_holiday(const struct decide_schedule *s, const struct when *w, struct hol_cache *c,
		      int prev)
{
	int *slot;

	if (!s->nholidays || !s->holidays)
		return 0;
	if (c->list != s->holidays || c->n != s->nholidays) {
		c->list = s->holidays;
		c->n = s->nholidays;
		c->today = c->prev = -1;
	}
	slot = prev ? &c->prev : &c->today;
	if (*slot < 0)
		*slot = listed(s->holidays, s->nholidays, prev ? w->prev : w->civil);
	return *slot;
}

/* Does the schedule cover the minute? *hol_today: is the date a holiday of
 * this schedule. Windows with fields out of range cover nothing; the
 * previous date's type is looked up only for a window that could still
 * run past midnight. */
static int covers(const struct decide_schedule *s, const struct when *w, struct hol_cache *c,
		  int *hol_today)
{
	int today, prev = -1, min = w->minute, yday = (w->wday + 6) % 7;

	*hol_today = 0;
	if (!s)
		return 0;
	*hol_today = is_holiday(s, w, c, 0);
	today = *hol_today ? 7 : w->wday;
	if (!s->windows)
		return 0;
	for (size_t i = 0; i < s->nwindows; i++) {
		const struct decide_window *win = &s->windows[i];
		int start = win->start_min, end = win->end_min;

		if (start < 0 || start > 1439 || end < 0 || end > 1440)
			continue;
		if (win->day == today) {
			if (end > start ? (min >= start && min < end) : min >= start)
				return 1;
		}
		/* Started the day before (of that day's own type), past midnight. */
		if (end <= start && min < end && (win->day == 7 || win->day == yday)) {
			if (prev < 0)
				prev = is_holiday(s, w, c, 1) ? 7 : yday;
			if (win->day == prev)
				return 1;
		}
	}
	return 0;
}

/* The reason; *level the granting level's id. */
static enum decide_reason reason_of(const struct decide_query *q, int64_t *level)
{
	struct when w;
	struct hol_cache cache = {NULL, 0, -1, -1};
	int any_holiday = 0;

	if (!q->credential_known)
		return DR_UNKNOWN_CREDENTIAL;
	if (!q->credential_active)
		return DR_CREDENTIAL_INACTIVE;
	when_of(q->zone, q->instant, &w);
	if (has(q->credential_from) && civil_before(w.civil, q->credential_from))
		return DR_CREDENTIAL_NOT_YET_VALID;
	if (has(q->credential_until) && !civil_before(w.civil, q->credential_until))
		return DR_CREDENTIAL_EXPIRED;
	if (!q->person_active)
		return DR_PERSON_SUSPENDED;
	if (has(q->person_from) && civil_before(w.civil, q->person_from))
		return DR_PERSON_NOT_YET_VALID;
	if (has(q->person_until) && !civil_before(w.civil, q->person_until))
		return DR_PERSON_EXPIRED;
	if (q->nlevels == 0 || !q->levels)
		return DR_NO_ACCESS_LEVEL;
	for (size_t i = 0; i < q->nlevels; i++) {
		int hol;

		if (covers(q->levels[i].schedule, &w, &cache, &hol)) {
			*level = q->levels[i].id;
			return DR_GRANTED;
		}
		any_holiday |= hol;
	}
	return any_holiday ? DR_HOLIDAY : DR_OUTSIDE_SCHEDULE;
}

void decide(const struct decide_query *q, struct decide_result *r)
{
	int64_t level = 0;

	if (!r)
		return;
	r->reason = q ? reason_of(q, &level) : DR_UNKNOWN_CREDENTIAL;
	r->grant = r->reason == DR_GRANTED;
	r->level_id = r->grant ? level : 0;
}

const char *decide_reason_name(enum decide_reason r)
{
	switch (r) {
	case DR_GRANTED:
		return "granted";
	case DR_UNKNOWN_CREDENTIAL:
		return "unknown_credential";
	case DR_CREDENTIAL_INACTIVE:
		return "credential_inactive";
	case DR_CREDENTIAL_NOT_YET_VALID:
		return "credential_not_yet_valid";
	case DR_CREDENTIAL_EXPIRED:
		return "credential_expired";
	case DR_PERSON_SUSPENDED:
		return "person_suspended";
	case DR_PERSON_NOT_YET_VALID:
		return "person_not_yet_valid";
	case DR_PERSON_EXPIRED:
		return "person_expired";
	case DR_NO_ACCESS_LEVEL:
		return "no_access_level";
	case DR_OUTSIDE_SCHEDULE:
		return "outside_schedule";
	case DR_HOLIDAY:
		return "holiday";
	}
	return "invalid";
}

static int digits(const char *p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

int decide_parse_civil(const char *in, char out[20])
{
	char buf[20];
	int y, mo, d, h = 0, mi = 0, s = 0;
	size_t len;

	if (!in)
		return -1;
	len = strnlen(in, 20);
	if (len != 10 && len != 19)
		return -1;
	if (digits(in, 4, &y) < 0 || in[4] != '-' || digits(in + 5, 2, &mo) < 0 || in[7] != '-' ||
	    digits(in + 8, 2, &d) < 0)
		return -1;
	if (len == 19 && (in[10] != 'T' || digits(in + 11, 2, &h) < 0 || in[13] != ':' ||
			  digits(in + 14, 2, &mi) < 0 || in[16] != ':' || digits(in + 17, 2, &s) < 0))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo) || h > 23 || mi > 59 || s > 59)
		return -1;
	put_date(buf, y, mo, d);
	buf[10] = 'T';
	put_digits(buf + 11, h, 2);
	buf[13] = ':';
	put_digits(buf + 14, mi, 2);
	buf[16] = ':';
	put_digits(buf + 17, s, 2);
	buf[19] = '\0';
	if (out)
		memcpy(out, buf, sizeof buf);
	return 0;
}
