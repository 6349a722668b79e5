/* tz: TZif files (RFC 8536, versions 1 to 3; version 4 is read like 3
 * since files with leap-second records are refused anyway) and POSIX TZ
 * strings, with our own calendar arithmetic: no localtime, mktime or TZ.
 *
 * A zone is the transition table of the file (the 64-bit block of version
 * 2+ files) plus, for instants after its last transition, the footer rule.
 * Loaded zones are kept in a list keyed by (directory, name) and never
 * freed, so the pointers handed out stay valid for the process. */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_MAX_FILE (1024 * 1024)
#define TZ_MAX_NAME 255
/* Offsets allowed in a file (RFC 8536 section 3.2 recommends this range;
 * POSIX TZ offsets, at most 24:59:59, fit inside it). */
#define TZ_MIN_UTOFF (-89999)
#define TZ_MAX_UTOFF 93599
/* Instants are clamped to about +-35 million years, so that every sum
 * below stays far from int64_t overflow and the year fits tm_year. */
#define TZ_T_LIMIT ((int64_t)1 << 50)
#define TZ_MAX_ABBR 32
/* Footer transitions are tabulated up to 2200-01-01, and from 1900 in a
 * file that has no transitions of its own. */
#define TZ_EXTEND_UNTIL ((int64_t)7258118400)
#define TZ_EXTEND_FROM ((int64_t)-2208988800)

struct tz_type {
	int32_t utoff;
	int isdst;
	const char *abbr;
};

/* One rule of a POSIX TZ string: Jn, n or Mm.w.d, and its time of day in
 * seconds (-167h..167h in version 3). */
struct tz_rule {
	char kind; /* 'J', 'N' or 'M' */
	int num;   /* Jn: 1..365; n: 0..365 */
	int month, week, wday;
	int32_t secs;
};

struct tz {
	struct tz *next;
	char *dir, *name;
	/* Transitions: those of the file (nfile), then those of the footer
	 * rule up to TZ_EXTEND_UNTIL, computed once at load so that lookups
	 * of current dates are a binary search even in "slim" files. */
	size_t ntrans, nfile;
	int64_t *trans;
	uint16_t *tidx;
	/* The file's types, then the footer's standard and daylight types. */
	size_t ntypes;
	struct tz_type *types;
	char *chars;
	/* Footer: 0 none, 1 standard time only, 2 with daylight saving. */
	int footer;
	struct tz_type fstd, fdst;
	struct tz_rule rstart, rend;
	char fstd_abbr[TZ_MAX_ABBR + 1], fdst_abbr[TZ_MAX_ABBR + 1];
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *tz_list;
static char tz_dir[PATH_MAX] = TZ_DEFAULT_DIR;

/* --- calendar ---------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Day of the week, 0 Sunday, of a day count (1970-01-01 was a Thursday). */
static int weekday(int64_t days)
{
	return (int)(days + 4 - floor_div(days + 4, 7) * 7);
}

static int64_t clamp_t(int64_t t)
{
	return t < -TZ_T_LIMIT ? -TZ_T_LIMIT : t > TZ_T_LIMIT ? TZ_T_LIMIT : t;
}

/* --- POSIX TZ footer ----------------------------------------------------- */

/* The day (days since the epoch) a rule names in year y. */
static int64_t rule_day(const struct tz_rule *r, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1), first, day;
	int wd_first, last;

	switch (r->kind) {
	case 'J': /* 1..365, February 29 never counted */
		return jan1 + r->num - 1 + (is_leap(y) && r->num >= 60);
	case 'N': /* 0..365, February 29 counted */
		return jan1 + r->num;
	default: /* Mm.w.d: day d (0 Sunday) of week w (5 = last) of month m */
		first = days_from_civil(y, r->month, 1);
		wd_first = weekday(first);
		day = first + (r->wday - wd_first + 7) % 7 + (int64_t)(r->week - 1) * 7;
		last = month_days(y, r->month);
		while (day >= first + last)
			day -= 7;
		return day;
	}
}

/* The state of the footer rule at t, and the next instant after t at which
 * it changes. Transitions of the years around t's are computed; when a
 * start and an end fall on the same instant the start wins, which makes
 * "EST5EDT,0/0,J365/25" daylight saving time all year, as RFC 8536 says. */
static const struct tz_type *footer_at(const struct tz *z, int64_t t, int64_t *next)
{
	int64_t days = floor_div(t, 86400), y, best = INT64_MIN, nxt = INT64_MAX;
	int m, d, best_start = 0, have = 0, earliest_start = 0;
	int64_t earliest = INT64_MAX;

	if (z->footer != 2) {
		*next = INT64_MAX;
		return &z->fstd;
	}
	civil_from_days(days, &y, &m, &d);
	for (int64_t yy = y - 2; yy <= y + 2; yy++) {
		int64_t ev[2];

		ev[0] = rule_day(&z->rend, yy) * 86400 + z->rend.secs - z->fdst.utoff;
		ev[1] = rule_day(&z->rstart, yy) * 86400 + z->rstart.secs - z->fstd.utoff;
		for (int k = 0; k < 2; k++) {
			if (ev[k] <= t) {
				if (!have || ev[k] > best || (ev[k] == best && k == 1)) {
					best = ev[k];
					best_start = k;
					have = 1;
				}
			} else if (ev[k] < nxt) {
				nxt = ev[k];
			}
			if (ev[k] < earliest || (ev[k] == earliest && k == 1)) {
				earliest = ev[k];
				earliest_start = k;
			}
		}
	}
	*next = nxt;
	if (!have) /* cannot happen with sane rules: before the first event */
		return earliest_start ? &z->fstd : &z->fdst;
	return best_start ? &z->fdst : &z->fstd;
}

static int parse_abbr(const char **pp, char *out)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '<') {
		for (p++; *p && *p != '>'; p++) {
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
				return -1;
			if (n >= TZ_MAX_ABBR)
				return -1;
			out[n++] = *p;
		}
		if (*p != '>')
			return -1;
		p++;
	} else {
		for (; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'); p++) {
			if (n >= TZ_MAX_ABBR)
				return -1;
			out[n++] = *p;
		}
	}
	if (n == 0)
		return -1;
	out[n] = '\0';
	*pp = p;
	return 0;
}

static int parse_num(const char **pp, int min, int max, int *out)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (++n > 3)
			return -1;
	}
	if (n == 0 || v < min || v > max)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]], hours at most max_hours; seconds, sign applied. */
static int parse_hms(const char **pp, int max_hours, int32_t *out)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (parse_num(&p, 0, max_hours, &h) < 0)
		return -1;
	if (*p == ':') {
		p++;
		if (parse_num(&p, 0, 59, &m) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (parse_num(&p, 0, 59, &s) < 0)
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return 0;
}

static int parse_rule(const char **pp, struct tz_rule *r)
{
	const char *p = *pp;

	memset(r, 0, sizeof *r);
	if (*p == 'J') {
		p++;
		r->kind = 'J';
		if (parse_num(&p, 1, 365, &r->num) < 0)
			return -1;
	} else if (*p == 'M') {
		p++;
		r->kind = 'M';
		if (parse_num(&p, 1, 12, &r->month) < 0 || *p++ != '.' ||
		    parse_num(&p, 1, 5, &r->week) < 0 || *p++ != '.' ||
		    parse_num(&p, 0, 6, &r->wday) < 0)
			return -1;
	} else {
		r->kind = 'N';
		if (parse_num(&p, 0, 365, &r->num) < 0)
			return -1;
	}
	r->secs = 2 * 3600;
	/* Version 3 allows -167..167 hours here; we accept it in any version. */
	if (*p == '/') {
		p++;
		if (parse_hms(&p, 167, &r->secs) < 0)
			return -1;
	}
	*pp = p;
	return 0;
}

/* std offset [dst [offset] [,rule,rule]]; an empty string means no rule. */
static int parse_footer(struct tz *z, const char *s)
{
	const char *p = s;
	int32_t off;

	if (!*s) {
		z->footer = 0;
		return 0;
	}
	if (parse_abbr(&p, z->fstd_abbr) < 0 || parse_hms(&p, 24, &off) < 0)
		return -1;
	/* POSIX offsets are west of Greenwich; ours are east. */
	z->fstd.utoff = -off;
	z->fstd.isdst = 0;
	z->fstd.abbr = z->fstd_abbr;
	z->footer = 1;
	if (!*p)
		return 0;
	if (parse_abbr(&p, z->fdst_abbr) < 0)
		return -1;
	z->fdst.utoff = z->fstd.utoff + 3600;
	if (*p && *p != ',') {
		if (parse_hms(&p, 24, &off) < 0)
			return -1;
		z->fdst.utoff = -off;
	}
	z->fdst.isdst = 1;
	z->fdst.abbr = z->fdst_abbr;
	z->footer = 2;
	if (!*p) {
		/* No rules: the customary default, as glibc and tzcode use. */
		const char *def = "M3.2.0,M11.1.0";
		if (parse_rule(&def, &z->rstart) < 0 || *def++ != ',' || parse_rule(&def, &z->rend) < 0)
			return -1;
		return 0;
	}
	if (*p++ != ',' || parse_rule(&p, &z->rstart) < 0 || *p++ != ',' ||
	    parse_rule(&p, &z->rend) < 0 || *p)
		return -1;
	return 0;
}

/* --- zones --------------------------------------------------------------- */

/* The local time type at t, and the next instant after t at which the
 * type may change (INT64_MAX if never). */
static const struct tz_type *zone_at(const struct tz *z, int64_t t, int64_t *next)
{
	size_t lo;
	int64_t fnext;

	if (z->ntrans == 0) {
		if (z->footer)
			return footer_at(z, t, next);
		*next = INT64_MAX;
		return &z->types[0];
	}
	if (t < z->trans[0]) {
		/* RFC 8536 3.2: before the first transition, type 0; in a file
		 * without transitions, the footer throughout. */
		if (z->nfile == 0 && z->footer) {
			const struct tz_type *ty = footer_at(z, t, next);
			if (*next > z->trans[0])
				*next = z->trans[0];
			return ty;
		}
		*next = z->trans[0];
		return &z->types[0];
	}
	/* The last transition at or before t (a branch-free binary search). */
	{
		const int64_t *base = z->trans;
		size_t n = z->ntrans;

		while (n > 1) {
			size_t half = n / 2;
			base = base[half] <= t ? base + half : base;
			n -= half;
		}
		lo = (size_t)(base - z->trans);
	}
	if (lo + 1 < z->ntrans) {
		*next = z->trans[lo + 1];
		return &z->types[z->tidx[lo]];
	}
	if (!z->footer) {
		*next = INT64_MAX;
		return &z->types[z->tidx[lo]];
	}
	if (t > z->trans[lo])
		return footer_at(z, t, next);
	footer_at(z, t, &fnext);
	*next = fnext;
	return &z->types[z->tidx[lo]];
}

static void zone_free(struct tz *z)
{
	if (!z)
		return;
	free(z->dir);
	free(z->name);
	free(z->trans);
	free(z->tidx);
	free(z->types);
	free(z->chars);
	free(z);
}

static int push_transition(struct tz *z, size_t *cap, int64_t t, uint16_t idx)
{
	if (z->ntrans == *cap) {
		size_t ncap = *cap * 2 + 16;
		int64_t *nt = realloc(z->trans, ncap * sizeof *nt);
		uint16_t *ni;

		if (!nt)
			return -1;
		z->trans = nt;
		ni = realloc(z->tidx, ncap * sizeof *ni);
		if (!ni)
			return -1;
		z->tidx = ni;
		*cap = ncap;
	}
	z->trans[z->ntrans] = t;
	z->tidx[z->ntrans++] = idx;
	return 0;
}

static int same_type(const struct tz_type *a, const struct tz_type *b)
{
	return a->utoff == b->utoff && a->isdst == b->isdst && strcmp(a->abbr, b->abbr) == 0;
}

/* Appends the footer's transitions up to TZ_EXTEND_UNTIL (see struct tz);
 * zone_at then answers exactly as with the footer alone. */
static int extend(struct tz *z)
{
	size_t cap = z->ntrans;
	uint16_t std = (uint16_t)z->ntypes, dst = (uint16_t)(z->ntypes + 1);
	const struct tz_type *cur = NULL;
	int64_t t, next;

	if (z->footer != 2)
		return 0; /* nothing ever changes after the last transition */
	z->types[std] = z->fstd;
	z->types[dst] = z->fdst;
	if (z->nfile > 0) {
		/* The footer rules from the second after the last transition. */
		t = z->trans[z->nfile - 1];
		if (t >= TZ_EXTEND_UNTIL)
			return 0;
		cur = &z->types[z->tidx[z->nfile - 1]];
		t++;
	} else {
		t = TZ_EXTEND_FROM;
	}
	for (;;) {
		const struct tz_type *ty = footer_at(z, t, &next);
		uint16_t idx = ty == &z->fdst ? dst : std;

		if (!cur || !same_type(cur, &z->types[idx])) {
			if (push_transition(z, &cap, t, idx) < 0)
				return -1;
			cur = &z->types[idx];
		}
		if (next >= TZ_EXTEND_UNTIL)
			break;
		t = next;
	}
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	size_t isut, isstd, leap, time, type, chars;
};

/* A header at buf[off]: its counts and the size of the data block after
 * it, with times of tsize bytes. -1 if it is not TZif or does not fit. */
static int tzif_header(const unsigned char *buf, size_t len, size_t off, int tsize,
		       struct tzif_counts *c, size_t *size)
{
	size_t need;

	if (len < off || len - off < 44 || memcmp(buf + off, "TZif", 4) != 0)
		return -1;
	c->isut = be32(buf + off + 20);
	c->isstd = be32(buf + off + 24);
	c->leap = be32(buf + off + 28);
	c->time = be32(buf + off + 32);
	c->type = be32(buf + off + 36);
	c->chars = be32(buf + off + 40);
	/* Each count is at most the file size (1 MB), so no product overflows. */
	if (c->isut > len || c->isstd > len || c->leap > len || c->time > len ||
	    c->type > len || c->chars > len)
		return -1;
	need = c->time * (size_t)tsize + c->time + c->type * 6 + c->chars +
	       c->leap * (size_t)(tsize + 4) + c->isstd + c->isut;
	if (len - off - 44 < need)
		return -1;
	*size = need;
	return 0;
}

static struct tz *parse_tzif(const unsigned char *buf, size_t len)
{
	struct tzif_counts c;
	size_t size = 0, off = 0, pos;
	int tsize = 4, version;
	struct tz *z;
	const unsigned char *p;

	if (len < 44 || memcmp(buf, "TZif", 4) != 0)
		return NULL;
	version = buf[4];
	if (version != 0 && version != '2' && version != '3' && version != '4')
		return NULL;
	if (tzif_header(buf, len, 0, 4, &c, &size) < 0)
		return NULL;
	if (version != 0) {
		/* Skip the version 1 block; use the 64-bit one. */
		off = 44 + size;
		tsize = 8;
		if (tzif_header(buf, len, off, 8, &c, &size) < 0)
			return NULL;
	}
	if (c.type == 0 || c.type > 256 || c.chars == 0 || (c.isut != 0 && c.isut != c.type) ||
	    (c.isstd != 0 && c.isstd != c.type))
		return NULL;
	/* Leap-second ("right/") zones count time_t differently from POSIX
	 * clocks; they are refused rather than read wrong. */
	if (c.leap != 0)
		return NULL;

	z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	z->ntrans = z->nfile = c.time;
	z->ntypes = c.type;
	z->trans = calloc(c.time ? c.time : 1, sizeof *z->trans);
	z->tidx = calloc(c.time ? c.time : 1, sizeof *z->tidx);
	z->types = calloc(c.type + 2, sizeof *z->types);
	z->chars = calloc(c.chars + 1, 1);
	if (!z->trans || !z->tidx || !z->types || !z->chars)
		goto bad;

	p = buf + off + 44;
	for (size_t i = 0; i < c.time; i++, p += tsize) {
		z->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			goto bad;
	}
	for (size_t i = 0; i < c.time; i++, p++) {
		if (*p >= c.type)
			goto bad;
		z->tidx[i] = *p;
	}
	memcpy(z->chars, p + c.type * 6, c.chars);
	for (size_t i = 0; i < c.type; i++, p += 6) {
		int32_t utoff = (int32_t)be32(p);

		if (utoff < TZ_MIN_UTOFF || utoff > TZ_MAX_UTOFF || p[4] > 1 || p[5] >= c.chars)
			goto bad;
		z->types[i].utoff = utoff;
		z->types[i].isdst = p[4];
		z->types[i].abbr = z->chars + p[5];
	}
	pos = off + 44 + size;

	if (version != 0) {
		/* Footer: "\n" TZ string "\n". */
		const unsigned char *nl;
		char footer[256];
		size_t flen;

		if (pos >= len || buf[pos] != '\n')
			goto bad;
		nl = memchr(buf + pos + 1, '\n', len - pos - 1);
		if (!nl)
			goto bad;
		flen = (size_t)(nl - (buf + pos + 1));
		if (flen >= sizeof footer || memchr(buf + pos + 1, '\0', flen))
			goto bad;
		memcpy(footer, buf + pos + 1, flen);
		footer[flen] = '\0';
		if (parse_footer(z, footer) < 0 || extend(z) < 0)
			goto bad;
	}
	return z;
bad:
	zone_free(z);
	return NULL;
}

/* Reads a regular file of at most TZ_MAX_FILE bytes. */
static unsigned char *read_file(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE)
		goto fail;
	buf = malloc(TZ_MAX_FILE + 1);
	if (!buf)
		goto fail;
	/* Read one byte past the limit, in case the file grew since fstat. */
	while (n <= TZ_MAX_FILE) {
		ssize_t r = read(fd, buf + n, TZ_MAX_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > TZ_MAX_FILE)
		goto fail;
	close(fd);
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* A-Z a-z 0-9 _ + -, parts separated by single slashes, none empty. */
static int name_valid(const char *name)
{
	size_t n = 0, part = 0;

	for (const char *p = name; *p; p++, n++) {
		char ch = *p;
		if (n >= TZ_MAX_NAME)
			return 0;
		if (ch == '/') {
			if (part == 0)
				return 0;
			part = 0;
		} else if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == '+' || ch == '-') {
			part++;
		} else {
			return 0;
		}
	}
	return part > 0;
}

static struct tz *builtin_utc(void)
{
	struct tz *z = calloc(1, sizeof *z);

	if (!z)
		return NULL;
	z->types = calloc(1, sizeof *z->types);
	z->chars = strdup("UTC");
	if (!z->types || !z->chars) {
		zone_free(z);
		return NULL;
	}
	z->ntypes = 1;
	z->types[0].abbr = z->chars;
	return z;
}

void tz_set_directory(const char *dir)
{
	pthread_mutex_lock(&tz_lock);
	if (!dir)
		dir = TZ_DEFAULT_DIR;
	if (strlen(dir) < sizeof tz_dir)
		memcpy(tz_dir, dir, strlen(dir) + 1);
	pthread_mutex_unlock(&tz_lock);
}

const struct tz *tz_get(const char *name)
{
	struct tz *z;
	char path[PATH_MAX + TZ_MAX_NAME + 2];

	if (!name || !name_valid(name))
		return NULL;
	pthread_mutex_lock(&tz_lock);
	for (z = tz_list; z; z = z->next)
		if (strcmp(z->name, name) == 0 && strcmp(z->dir, tz_dir) == 0)
			goto out;
	{
		size_t len = 0;
		unsigned char *buf;

		snprintf(path, sizeof path, "%s/%s", tz_dir, name);
		buf = read_file(path, &len);
		z = buf ? parse_tzif(buf, len) : NULL;
		free(buf);
	}
	if (!z && strcmp(name, "UTC") == 0)
		z = builtin_utc();
	if (z) {
		z->name = strdup(name);
		z->dir = strdup(tz_dir);
		if (!z->name || !z->dir) {
			zone_free(z);
			z = NULL;
			goto out;
		}
		z->next = tz_list;
		tz_list = z;
	}
out:
	pthread_mutex_unlock(&tz_lock);
	return z;
}

const char *tz_name(const struct tz *z)
{
	return z ? z->name : "UTC";
}

static const struct tz_type utc_type = {0, 0, "UTC"};

void tz_to_local(const struct tz *z, time_t t, struct tm *out)
{
	int64_t tt = clamp_t((int64_t)t), next, local, days, secs, y;
	const struct tz_type *ty = z ? zone_at(z, tt, &next) : &utc_type;
	int m, d;

	local = tt + ty->utoff;
	days = floor_div(local, 86400);
	secs = local - days * 86400;
	civil_from_days(days, &y, &m, &d);
	memset(out, 0, sizeof *out);
	out->tm_year = (int)(y - 1900);
	out->tm_mon = m - 1;
	out->tm_mday = d;
	out->tm_hour = (int)(secs / 3600);
	out->tm_min = (int)(secs / 60 % 60);
	out->tm_sec = (int)(secs % 60);
	out->tm_wday = weekday(days);
	out->tm_yday = (int)(days - days_from_civil(y, 1, 1));
	out->tm_isdst = ty->isdst;
	out->tm_gmtoff = ty->utoff;
	out->tm_zone = ty->abbr;
}

int tz_from_local(const struct tz *z, const struct tm *local, time_t *out)
{
	int64_t y, L, t, lo, hi, next, found = 0, gap = 0;
	int have = 0, have_gap = 0;
	const struct tz_type *ty;
	int32_t prev_off = 0;
	int first = 1;

	if (!local || !out)
		return -1;
	y = (int64_t)local->tm_year + 1900;
	if (local->tm_mon < 0 || local->tm_mon > 11 || local->tm_mday < 1 ||
	    local->tm_mday > month_days(y, local->tm_mon + 1) || local->tm_hour < 0 ||
	    local->tm_hour > 23 || local->tm_min < 0 || local->tm_min > 59 || local->tm_sec < 0 ||
	    local->tm_sec > 59)
		return -1;
	L = days_from_civil(y, local->tm_mon + 1, local->tm_mday) * 86400 + local->tm_hour * 3600 +
	    local->tm_min * 60 + local->tm_sec;
	if (L < -TZ_T_LIMIT / 2 || L > TZ_T_LIMIT / 2)
		return -1;
	if (!z) {
		*out = (time_t)L;
		return 0;
	}
	/* Every solution t of t + utoff(t) == L lies in [L - max, L - min].
	 * Walk the segments of constant type over that range, in order: the
	 * first segment holding a solution gives the earliest one. A reading
	 * between two segments (a gap) is taken with the offset before it. */
	lo = L - TZ_MAX_UTOFF - 1;
	hi = L - TZ_MIN_UTOFF + 1;
	for (t = lo; t <= hi; t = next) {
		int64_t c;

		ty = zone_at(z, t, &next);
		if (!first && !have_gap && t + prev_off <= L && L < t + ty->utoff) {
			gap = L - prev_off;
			have_gap = 1;
		}
		c = L - ty->utoff;
		if (c >= t && c < next) {
			found = c;
			have = 1;
			break;
		}
		first = 0;
		prev_off = ty->utoff;
		if (next == INT64_MAX)
			break;
	}
	if (have) {
		*out = (time_t)found;
		return 0;
	}
	if (have_gap) {
		*out = (time_t)gap;
		return 0;
	}
	return -1;
}
