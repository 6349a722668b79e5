#include "t.h"

#include "core/tz.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* "YYYY-MM-DD HH:MM:SS" of a broken-down time. */
static const char *civil(const struct tm *tm, char buf[32])
{
	snprintf(buf, 32, "%04d-%02d-%02d %02d:%02d:%02d", tm->tm_year + 1900, tm->tm_mon + 1,
		 tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
	return buf;
}

static struct tm tm_of(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	return tm;
}

/* Instants around transitions, checked against GNU date by hand. */
static const struct {
	const char *zone;
	long long t;
	const char *local;
	long gmtoff;
	int isdst;
	const char *abbr;
} to_local_cases[] = {
	{"Asia/Tokyo", 0, "1970-01-01 09:00:00", 32400, 0, "JST"},
	{"Asia/Tokyo", 1772953200, "2026-03-08 16:00:00", 32400, 0, "JST"},
	{"Asia/Tokyo", 1793512800, "2026-11-01 15:00:00", 32400, 0, "JST"},
	{"Asia/Tokyo", 3802852800LL, "2090-07-04 21:00:00", 32400, 0, "JST"},
	/* New York, spring forward 2026-03-08 02:00 EST = 07:00 UTC. */
	{"America/New_York", 1772953199, "2026-03-08 01:59:59", -18000, 0, "EST"},
	{"America/New_York", 1772953200, "2026-03-08 03:00:00", -14400, 1, "EDT"},
	{"America/New_York", 1772953201, "2026-03-08 03:00:01", -14400, 1, "EDT"},
	/* Fall back 2026-11-01 02:00 EDT = 06:00 UTC. */
	{"America/New_York", 1793512799, "2026-11-01 01:59:59", -14400, 1, "EDT"},
	{"America/New_York", 1793512800, "2026-11-01 01:00:00", -18000, 0, "EST"},
	{"America/New_York", 1793512801, "2026-11-01 01:00:01", -18000, 0, "EST"},
	{"America/New_York", 1782921600, "2026-07-01 12:00:00", -14400, 1, "EDT"},
	/* 2090, after the file's last transition (2037): the footer rule. */
	{"America/New_York", 3792985199LL, "2090-03-12 01:59:59", -18000, 0, "EST"},
	{"America/New_York", 3792985200LL, "2090-03-12 03:00:00", -14400, 1, "EDT"},
	{"America/New_York", 3802852800LL, "2090-07-04 08:00:00", -14400, 1, "EDT"},
	{"America/New_York", 3813544799LL, "2090-11-05 01:59:59", -14400, 1, "EDT"},
	{"America/New_York", 3813544800LL, "2090-11-05 01:00:00", -18000, 0, "EST"},
	/* London: BST 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC. */
	{"Europe/London", 1774745999, "2026-03-29 00:59:59", 0, 0, "GMT"},
	{"Europe/London", 1774746000, "2026-03-29 02:00:00", 3600, 1, "BST"},
	{"Europe/London", 1792889999, "2026-10-25 01:59:59", 3600, 1, "BST"},
	{"Europe/London", 1792890000, "2026-10-25 01:00:00", 0, 0, "GMT"},
	/* Sydney: summer time ends 2026-04-05 03:00 AEDT, starts 2026-10-04 02:00 AEST. */
	{"Australia/Sydney", 1775318399, "2026-04-05 02:59:59", 39600, 1, "AEDT"},
	{"Australia/Sydney", 1775318400, "2026-04-05 02:00:00", 36000, 0, "AEST"},
	{"Australia/Sydney", 1791043199, "2026-10-04 01:59:59", 36000, 0, "AEST"},
	{"Australia/Sydney", 1791043200, "2026-10-04 03:00:00", 39600, 1, "AEDT"},
	{"Australia/Sydney", 1782921600, "2026-07-02 02:00:00", 36000, 0, "AEST"},
	{"UTC", 1782921600, "2026-07-01 16:00:00", 0, 0, "UTC"},
	{"UTC", -1, "1969-12-31 23:59:59", 0, 0, "UTC"},
};

TEST(tz_to_local_across_transitions)
{
	char buf[32];

	for (size_t i = 0; i < sizeof to_local_cases / sizeof to_local_cases[0]; i++) {
		const struct tz *z = tz_get(to_local_cases[i].zone);
		struct tm tm;

		CHECK(z != NULL);
		if (!z)
			continue;
		CHECK_STR(tz_name(z), to_local_cases[i].zone);
		tz_to_local(z, (time_t)to_local_cases[i].t, &tm);
		if (strcmp(civil(&tm, buf), to_local_cases[i].local) != 0 ||
		    tm.tm_gmtoff != to_local_cases[i].gmtoff || tm.tm_isdst != to_local_cases[i].isdst ||
		    strcmp(tm.tm_zone, to_local_cases[i].abbr) != 0)
			t_fail(__FILE__, __LINE__, "%s @%lld: %s %ld %d %s, expected %s %ld %d %s",
			       to_local_cases[i].zone, to_local_cases[i].t, buf, tm.tm_gmtoff,
			       tm.tm_isdst, tm.tm_zone, to_local_cases[i].local,
			       to_local_cases[i].gmtoff, to_local_cases[i].isdst,
			       to_local_cases[i].abbr);
	}
}

TEST(tz_to_local_fills_weekday_and_yearday)
{
	const struct tz *z = tz_get("America/New_York");
	struct tm tm;

	CHECK(z != NULL);
	tz_to_local(z, 1772953200, &tm); /* Sunday 2026-03-08 */
	CHECK_INT(tm.tm_wday, 0);
	CHECK_INT(tm.tm_yday, 31 + 28 + 7);
	tz_to_local(z, 1793512800, &tm); /* Sunday 2026-11-01 */
	CHECK_INT(tm.tm_wday, 0);
	tz_to_local(tz_get("Asia/Tokyo"), 1767193200 - 1, &tm); /* Wed 2025-12-31 23:59:59 */
	CHECK_INT(tm.tm_wday, 3);
	CHECK_INT(tm.tm_yday, 364);
	CHECK_INT(tm.tm_year, 125);
}

static const struct {
	const char *zone;
	int y, mo, d, h, mi, s;
	long long expect; /* -1: invalid */
} from_local_cases[] = {
	{"America/New_York", 2026, 7, 1, 12, 0, 0, 1782921600},
	/* In the spring-forward gap: the same reading after it, 03:30 EDT. */
	{"America/New_York", 2026, 3, 8, 2, 30, 0, 1772955000},
	{"America/New_York", 2026, 3, 8, 2, 0, 0, 1772953200},
	{"America/New_York", 2026, 3, 8, 1, 59, 59, 1772953199},
	{"America/New_York", 2026, 3, 8, 3, 0, 0, 1772953200},
	/* Twice on the fall-back day: the earlier instant (EDT). */
	{"America/New_York", 2026, 11, 1, 1, 30, 0, 1793511000},
	{"America/New_York", 2026, 11, 1, 1, 0, 0, 1793509200},
	{"America/New_York", 2026, 11, 1, 2, 30, 0, 1793518200},
	{"America/New_York", 2090, 3, 12, 2, 30, 0, 3792985200LL + 1800},
	{"America/New_York", 2090, 11, 5, 1, 30, 0, 3813544800LL - 1800},
	{"Europe/London", 2026, 3, 29, 1, 30, 0, 1774747800},
	{"Europe/London", 2026, 10, 25, 1, 30, 0, 1792888200},
	{"Australia/Sydney", 2026, 10, 4, 2, 30, 0, 1791045000},
	{"Australia/Sydney", 2026, 4, 5, 2, 30, 0, 1775316600},
	{"Asia/Tokyo", 2026, 1, 1, 0, 0, 0, 1767193200},
	{"Asia/Tokyo", 2028, 2, 29, 9, 0, 0, 1835395200},
	{"UTC", 1970, 1, 1, 0, 0, 0, 0},
	{"UTC", 1969, 12, 31, 23, 59, 59, -1},
	{"Asia/Tokyo", 2027, 2, 29, 0, 0, 0, -2},
	{"Asia/Tokyo", 2026, 4, 31, 0, 0, 0, -2},
	{"Asia/Tokyo", 2026, 13, 1, 0, 0, 0, -2},
	{"Asia/Tokyo", 2026, 0, 1, 0, 0, 0, -2},
	{"Asia/Tokyo", 2026, 1, 0, 0, 0, 0, -2},
	{"Asia/Tokyo", 2026, 1, 1, 24, 0, 0, -2},
	{"Asia/Tokyo", 2026, 1, 1, 0, 60, 0, -2},
	{"Asia/Tokyo", 2026, 1, 1, 0, 0, 60, -2},
	{"Asia/Tokyo", 2026, 1, 1, -1, 0, 0, -2},
};

TEST(tz_from_local_gaps_and_overlaps)
{
	for (size_t i = 0; i < sizeof from_local_cases / sizeof from_local_cases[0]; i++) {
		const struct tz *z = tz_get(from_local_cases[i].zone);
		struct tm tm = tm_of(from_local_cases[i].y, from_local_cases[i].mo, from_local_cases[i].d,
				     from_local_cases[i].h, from_local_cases[i].mi, from_local_cases[i].s);
		time_t t = 12345;
		int rc;

		CHECK(z != NULL);
		if (!z)
			continue;
		rc = tz_from_local(z, &tm, &t);
		if (from_local_cases[i].expect == -2) {
			if (rc != -1)
				t_fail(__FILE__, __LINE__, "case %zu: accepted an invalid time", i);
		} else if (rc != 0 || (long long)t != from_local_cases[i].expect) {
			t_fail(__FILE__, __LINE__, "case %zu (%s %04d-%02d-%02d %02d:%02d): rc %d t %lld, expected %lld",
			       i, from_local_cases[i].zone, from_local_cases[i].y, from_local_cases[i].mo,
			       from_local_cases[i].d, from_local_cases[i].h, from_local_cases[i].mi, rc,
			       (long long)t, from_local_cases[i].expect);
		}
	}
}

TEST(tz_rejects_bad_names)
{
	static const char *const bad[] = {
		"../etc/passwd", "Asia/../../etc", "", "Nowhere/Nothing", "a//b", "/etc/passwd",
		"Asia/Tokyo/", "/Asia/Tokyo", ".", "..", "Asia/./Tokyo", "Asia/Tokyo ", "Asia\\Tokyo",
		"America", /* a directory */
		"Asia/Tokyo\n", "Europe/London.bak",
	};
	char longname[400];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (tz_get(bad[i]) != NULL)
			t_fail(__FILE__, __LINE__, "tz_get(\"%s\") is not NULL", bad[i]);
	CHECK(tz_get(NULL) == NULL);
	memset(longname, 'A', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK(tz_get(longname) == NULL);
	/* Names with + - _ and digits are fine. */
	CHECK(tz_get("Etc/GMT+5") != NULL);
	CHECK(tz_get("Etc/GMT-14") != NULL);
	CHECK(tz_get("America/Port-au-Prince") != NULL);
	CHECK(tz_get("America/Port_of_Spain") != NULL);
}

TEST(tz_zones_are_cached)
{
	const struct tz *a = tz_get("Europe/Paris"), *b = tz_get("Europe/Paris");

	CHECK(a != NULL);
	CHECK(a == b);
	CHECK(tz_get("Europe/Berlin") != a);
}

/* --- hand-made TZif files -------------------------------------------------- */

struct ttype {
	int32_t utoff;
	unsigned char isdst, abbrind;
};

static void put32(FILE *f, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			      (unsigned char)v};
	fwrite(b, 1, 4, f);
}

static void put64(FILE *f, int64_t v)
{
	put32(f, (uint32_t)((uint64_t)v >> 32));
	put32(f, (uint32_t)v);
}

static void put_block(FILE *f, char version, int tsize, const int64_t *trans, const unsigned char *idx,
		      size_t ntrans, const struct ttype *types, size_t ntypes, const char *chars,
		      size_t nchars, uint32_t leapcnt)
{
	fwrite("TZif", 1, 4, f);
	fputc(version, f);
	for (int i = 0; i < 15; i++)
		fputc(0, f);
	put32(f, 0);
	put32(f, 0);
	put32(f, leapcnt);
	put32(f, (uint32_t)ntrans);
	put32(f, (uint32_t)ntypes);
	put32(f, (uint32_t)nchars);
	for (size_t i = 0; i < ntrans; i++)
		if (tsize == 8)
			put64(f, trans[i]);
		else
			put32(f, (uint32_t)(int32_t)trans[i]);
	if (ntrans)
		fwrite(idx, 1, ntrans, f);
	for (size_t i = 0; i < ntypes; i++) {
		put32(f, (uint32_t)types[i].utoff);
		fputc(types[i].isdst, f);
		fputc(types[i].abbrind, f);
	}
	fwrite(chars, 1, nchars, f);
	for (uint32_t i = 0; i < leapcnt; i++) {
		if (tsize == 8)
			put64(f, 78796800);
		else
			put32(f, 78796800);
		put32(f, 1);
	}
}

/* Writes DIR/Test/NAME: version '\0' (1), '2' or '3'; footer for 2+. */
static void write_zone(const char *dir, const char *name, char version, const int64_t *trans,
		       const unsigned char *idx, size_t ntrans, const struct ttype *types,
		       size_t ntypes, const char *chars, size_t nchars, const char *footer,
		       uint32_t leapcnt)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/Test", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/Test/%s", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	put_block(f, version, 4, trans, idx, ntrans, types, ntypes, chars, nchars, leapcnt);
	if (version) {
		put_block(f, version, 8, trans, idx, ntrans, types, ntypes, chars, nchars, leapcnt);
		fprintf(f, "\n%s\n", footer);
	}
	fclose(f);
}

static const struct ttype est_edt[] = {{-18000, 0, 0}, {-14400, 1, 4}};
static const char est_edt_chars[] = "EST\0EDT";
/* New York's 2026 transitions. */
static const int64_t ny2026[] = {1772953200, 1793512800};
static const unsigned char ny2026_idx[] = {1, 0};

static void check_local(const struct tz *z, long long t, const char *local, long gmtoff, int isdst,
			int line)
{
	struct tm tm;
	char buf[32];

	if (!z) {
		t_fail(__FILE__, line, "no zone");
		return;
	}
	tz_to_local(z, (time_t)t, &tm);
	civil(&tm, buf);
	if ((local && strcmp(buf, local) != 0) || tm.tm_gmtoff != gmtoff || tm.tm_isdst != isdst)
		t_fail(__FILE__, line, "%s @%lld: %s %ld %d, expected %s %ld %d", tz_name(z), t, buf,
		       tm.tm_gmtoff, tm.tm_isdst, local ? local : "(any)", gmtoff, isdst);
}

TEST(tz_reads_versions_1_2_3_and_refuses_bad_files)
{
	const char *dir = t_tmpdir();
	char path[512];
	const struct tz *z;
	FILE *f;

	/* Version 1: 32-bit data, no footer: the last type stays. */
	write_zone(dir, "V1", 0, ny2026, ny2026_idx, 2, est_edt, 2, est_edt_chars, 8, NULL, 0);
	/* Version 2 with no transitions at all: everything from the footer
	 * (RFC 8536 section 3.2; glibc would use type 0 throughout). */
	write_zone(dir, "FooterOnly", '2', NULL, NULL, 0, est_edt, 1, est_edt_chars, 8,
		   "EST5EDT,M3.2.0,M11.1.0", 0);
	/* Version 3 footer with a negative rule time (America/Nuuk's). */
	write_zone(dir, "Nuuk", '3', NULL, NULL, 0, (const struct ttype[]){{-7200, 0, 0}}, 1, "-02\0-01",
		   8, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 0);
	/* Daylight saving time all year (RFC 8536 section 3.3.1). */
	write_zone(dir, "AllDst", '3', NULL, NULL, 0, est_edt, 2, est_edt_chars, 8, "EST5EDT,0/0,J365/25", 0);
	/* Not a TZif file, truncated, bad footers, leap seconds. */
	snprintf(path, sizeof path, "%s/Test/Text", dir);
	f = fopen(path, "w");
	fputs("this is not a zone file, but long enough to hold a header of 44 bytes\n", f);
	fclose(f);
	write_zone(dir, "BadFooter", '2', ny2026, ny2026_idx, 2, est_edt, 2, est_edt_chars, 8,
		   "EST5EDT,M13.2.0,M11.1.0", 0);
	write_zone(dir, "BadFooter2", '2', ny2026, ny2026_idx, 2, est_edt, 2, est_edt_chars, 8,
		   "EST5EDT,M3.2.0,M11.1.0,", 0);
	write_zone(dir, "BadIndex", '2', ny2026, (const unsigned char[]){1, 2}, 2, est_edt, 2,
		   est_edt_chars, 8, "EST5EDT,M3.2.0,M11.1.0", 0);
	write_zone(dir, "Unordered", '2', (const int64_t[]){1793512800, 1772953200}, ny2026_idx, 2,
		   est_edt, 2, est_edt_chars, 8, "EST5EDT,M3.2.0,M11.1.0", 0);
	write_zone(dir, "Leap", '2', ny2026, ny2026_idx, 2, est_edt, 2, est_edt_chars, 8,
		   "EST5EDT,M3.2.0,M11.1.0", 1);
	write_zone(dir, "NoTypes", '2', NULL, NULL, 0, est_edt, 0, est_edt_chars, 8, "EST5", 0);
	{
		/* A real file cut short, and one padded past 1 MB. */
		char src[512], *buf = malloc(2 * 1024 * 1024);
		size_t n;
		FILE *in;

		snprintf(src, sizeof src, "/usr/share/zoneinfo/America/New_York");
		in = fopen(src, "rb");
		CHECK(in != NULL && buf != NULL);
		if (in && buf) {
			n = fread(buf, 1, 2 * 1024 * 1024, in);
			fclose(in);
			for (size_t cut = 0; cut < n; cut += n / 37 + 1) {
				snprintf(path, sizeof path, "%s/Test/Cut%zu", dir, cut);
				f = fopen(path, "wb");
				fwrite(buf, 1, cut, f);
				fclose(f);
			}
			snprintf(path, sizeof path, "%s/Test/Whole", dir);
			f = fopen(path, "wb");
			fwrite(buf, 1, n, f);
			fclose(f);
			memset(buf + n, '\n', 1024 * 1024 + 1 - n);
			snprintf(path, sizeof path, "%s/Test/Huge", dir);
			f = fopen(path, "wb");
			fwrite(buf, 1, 1024 * 1024 + 1, f);
			fclose(f);
			tz_set_directory(dir);
			for (size_t cut = 0; cut < n; cut += n / 37 + 1) {
				snprintf(path, sizeof path, "Test/Cut%zu", cut);
				if (tz_get(path) != NULL)
					t_fail(__FILE__, __LINE__, "%s (of %zu bytes) loaded", path, n);
			}
			CHECK(tz_get("Test/Whole") != NULL);
			CHECK(tz_get("Test/Huge") == NULL);
		}
		free(buf);
	}

	tz_set_directory(dir);
	CHECK(tz_get("Test/Text") == NULL);
	CHECK(tz_get("Test/BadFooter") == NULL);
	CHECK(tz_get("Test/BadFooter2") == NULL);
	CHECK(tz_get("Test/BadIndex") == NULL);
	CHECK(tz_get("Test/Unordered") == NULL);
	CHECK(tz_get("Test/Leap") == NULL);
	CHECK(tz_get("Test/NoTypes") == NULL);
	CHECK(tz_get("Asia/Tokyo") == NULL); /* not in this directory */
	/* UTC works without a file. */
	z = tz_get("UTC");
	CHECK(z != NULL);
	check_local(z, 1782921600, "2026-07-01 16:00:00", 0, 0, __LINE__);

	z = tz_get("Test/V1");
	check_local(z, 1772953199, "2026-03-08 01:59:59", -18000, 0, __LINE__);
	check_local(z, 1772953200, "2026-03-08 03:00:00", -14400, 1, __LINE__);
	check_local(z, 1793512800, "2026-11-01 01:00:00", -18000, 0, __LINE__);
	check_local(z, 3802852800LL, "2090-07-04 07:00:00", -18000, 0, __LINE__); /* no footer */
	check_local(z, 0, "1969-12-31 19:00:00", -18000, 0, __LINE__);            /* type 0 before */

	z = tz_get("Test/FooterOnly");
	check_local(z, 1772953199, "2026-03-08 01:59:59", -18000, 0, __LINE__);
	check_local(z, 1772953200, "2026-03-08 03:00:00", -14400, 1, __LINE__);
	check_local(z, 1793512799, "2026-11-01 01:59:59", -14400, 1, __LINE__);
	check_local(z, 1793512800, "2026-11-01 01:00:00", -18000, 0, __LINE__);
	check_local(z, 3802852800LL, "2090-07-04 08:00:00", -14400, 1, __LINE__);
	check_local(z, -3770884800LL, "1850-07-04 08:00:00", -14400, 1, __LINE__);
	check_local(z, -3785572800LL, "1850-01-15 07:00:00", -18000, 0, __LINE__);
	check_local(z, 10429732800LL, "2300-07-04 08:00:00", -14400, 1, __LINE__);
	check_local(z, 10442952000LL, "2300-12-04 07:00:00", -18000, 0, __LINE__);
	if (z) {
		struct tm tm = tm_of(2026, 3, 8, 2, 30, 0);
		time_t t = 0;
		CHECK_INT(tz_from_local(z, &tm, &t), 0);
		CHECK_INT(t, 1772955000);
		tm = tm_of(2026, 11, 1, 1, 30, 0);
		CHECK_INT(tz_from_local(z, &tm, &t), 0);
		CHECK_INT(t, 1793511000);
	}

	/* Nuuk: summer time from the last Sunday of March at -01:00 local
	 * (Saturday 23:00), to the last Sunday of October at 00:00 local. */
	z = tz_get("Test/Nuuk");
	check_local(z, 1774745999, "2026-03-28 22:59:59", -7200, 0, __LINE__);
	check_local(z, 1774746000, "2026-03-29 00:00:00", -3600, 1, __LINE__);
	check_local(z, 1792889999, "2026-10-24 23:59:59", -3600, 1, __LINE__);
	check_local(z, 1792890000, "2026-10-24 23:00:00", -7200, 0, __LINE__);

	z = tz_get("Test/AllDst");
	for (long long t = 1704067200; t < 1704067200 + 6LL * 366 * 86400; t += 86400 * 7 + 3599)
		check_local(z, t, NULL, -14400, 1, __LINE__);
	tz_set_directory(NULL);
	CHECK(tz_get("Asia/Tokyo") != NULL);
}

/* --- against GNU date -------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: reproducible samples. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static int date_available(void)
{
	static int avail = -1;

	if (avail < 0) {
		avail = system("date -d @0 +%s >/dev/null 2>&1") == 0;
		if (!avail)
			printf("# GNU date is not available: comparisons skipped\n");
	}
	return avail;
}

/* Compares the n instants ts between tz_to_local and `TZ=tzenv date`, and
 * checks that tz_from_local maps each civil time back to the instant (or
 * to the earlier one of an ambiguous reading). Returns the number of
 * instants compared (0 when date cannot be run). */
static int compare_instants(const struct tz *z, const char *tzenv, const int64_t *ts, int n)
{
	char path[512], cmd[1200], line[64], want[64], buf[32];
	int got = 0, bad = 0;
	FILE *f, *p;

	if (!z || !date_available())
		return 0;
	snprintf(path, sizeof path, "%s/instants", t_tmpdir());
	f = fopen(path, "w");
	if (!f)
		return 0;
	for (int i = 0; i < n; i++)
		fprintf(f, "@%lld\n", (long long)ts[i]);
	fclose(f);
	snprintf(cmd, sizeof cmd, "TZ='%s' date -f '%s' +%%Y%%m%%d%%H%%M%%S%%z 2>/dev/null", tzenv, path);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (got < n && fgets(line, sizeof line, p)) {
		struct tm tm, back;
		long off;
		time_t t2;

		line[strcspn(line, "\n")] = '\0';
		tz_to_local(z, (time_t)ts[got], &tm);
		off = tm.tm_gmtoff;
		snprintf(want, sizeof want, "%04d%02d%02d%02d%02d%02d%c%02ld%02ld", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
			 labs(off) / 3600, labs(off) / 60 % 60);
		if (strcmp(line, want) != 0 && bad++ < 5)
			t_fail(__FILE__, __LINE__, "%s @%lld: date says %s, we say %s", tzenv,
			       (long long)ts[got], line, want);
		/* Back again. */
		if (tz_from_local(z, &tm, &t2) != 0) {
			if (bad++ < 5)
				t_fail(__FILE__, __LINE__, "%s: %s not converted back", tzenv, civil(&tm, buf));
		} else if (t2 != (time_t)ts[got]) {
			char b2[32];
			tz_to_local(z, t2, &back);
			if ((t2 > (time_t)ts[got] || strcmp(civil(&back, b2), civil(&tm, buf)) != 0) &&
			    bad++ < 5)
				t_fail(__FILE__, __LINE__, "%s: %s back to %lld, not %lld", tzenv, buf,
				       (long long)t2, (long long)ts[got]);
		}
		got++;
	}
	pclose(p);
	if (got != n) {
		printf("# %s: date gave %d of %d lines: comparison skipped\n", tzenv, got, n);
		return 0;
	}
	return got;
}

/* n random instants in [lo, hi). */
static int compare_random(const struct tz *z, const char *tzenv, int n, int64_t lo, int64_t hi,
			  uint64_t *seed)
{
	int64_t *ts = malloc((size_t)n * sizeof *ts);
	int got;

	if (!ts)
		return 0;
	for (int i = 0; i < n; i++)
		ts[i] = lo + (int64_t)(rng_next(seed) % (uint64_t)(hi - lo));
	got = compare_instants(z, tzenv, ts, n);
	free(ts);
	return got;
}

/* The second before and the second of every change of offset or DST flag
 * we see between lo and hi (scanning every 6 hours, then bisecting). */
static int compare_transitions(const struct tz *z, const char *tzenv, int64_t lo, int64_t hi)
{
	size_t cap = 4096, n = 0;
	int64_t *ts = malloc(cap * sizeof *ts);
	struct tm a, b;
	int got;

	if (!ts || !z) {
		free(ts);
		return 0;
	}
	tz_to_local(z, (time_t)lo, &a);
	for (int64_t t = lo + 21600; t < hi && n + 2 <= cap; t += 21600) {
		tz_to_local(z, (time_t)t, &b);
		if (b.tm_gmtoff != a.tm_gmtoff || b.tm_isdst != a.tm_isdst) {
			int64_t l = t - 21600, h = t; /* change in (l, h] */
			while (h - l > 1) {
				int64_t mid = l + (h - l) / 2;
				struct tm m;
				tz_to_local(z, (time_t)mid, &m);
				if (m.tm_gmtoff == a.tm_gmtoff && m.tm_isdst == a.tm_isdst)
					l = mid;
				else
					h = mid;
			}
			ts[n++] = h - 1;
			ts[n++] = h;
		}
		a = b;
	}
	got = compare_instants(z, tzenv, ts, (int)n);
	free(ts);
	return got;
}

TEST(tz_matches_gnu_date_1970_2100)
{
	static const char *const zones[] = {
		"America/New_York", "Europe/London",	   "Australia/Sydney", "Asia/Tokyo",
		"Asia/Jerusalem",   "America/Nuuk",	   "Europe/Dublin",    "Australia/Lord_Howe",
		"America/Santiago", "Pacific/Chatham", "Africa/Casablanca", "America/Sao_Paulo",
	};
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int random = 0, edges = 0;

	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		const struct tz *z = tz_get(zones[i]);
		CHECK(z != NULL);
		random += compare_random(z, zones[i], 2000, 0, 4102444800LL, &seed);
		edges += compare_transitions(z, zones[i], 0, 4102444800LL);
		/* Past the footer rules' table (2200): the rule computed each time. */
		random += compare_random(z, zones[i], 200, 7258118400LL, 13569465600LL, &seed);
		edges += compare_transitions(z, zones[i], 7258118400LL - 5 * 31556952LL, 7258118400LL + 5 * 31556952LL);
	}
	if (random)
		printf("# %d random instants and %d around transitions in %zu zones compared with GNU date\n",
		       random, edges, sizeof zones / sizeof zones[0]);
}

/* Footer rules of every kind, in zone files whose one transition is in
 * 1901, so that the footer decides every sample; glibc reads the same
 * files. */
TEST(tz_footer_rules_match_gnu_date)
{
	static const char *const footers[] = {
		"EST5EDT,M3.2.0,M11.1.0",
		"<XXX>0<YYY>-1,J60/0,J300/0",      /* Jn: February 29 not counted */
		"<XXX>0<YYY>-1,59/0,300/0",        /* n: February 29 counted */
		"IST-2IDT,M3.4.4/26,M10.5.0",      /* Asia/Jerusalem: past 24 hours */
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", /* America/Nuuk: negative */
		"<-04>4<-03>,M9.1.6/24,M4.1.6/24", /* America/Santiago: southern */
		"IST-1GMT0,M10.5.0,M3.5.0/1",    /* Europe/Dublin: negative DST */
		"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* half-hour DST */
		"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
		"<AAA>3<BBB>2,M3.1.0/100,M10.1.0/-100",
		"<AAA>3<BBB>2:30,M3.1.0/-167,M10.1.0/167:00:00",
		"<-03>3",
	};
	const char *dir = t_tmpdir();
	uint64_t seed = 42;
	int total = 0;

	tz_set_directory(dir);
	for (size_t i = 0; i < sizeof footers / sizeof footers[0]; i++) {
		char name[32], env[600];
		const struct tz *z;

		snprintf(name, sizeof name, "F%zu", i);
		write_zone(dir, name, '3', (const int64_t[]){-2147483647}, (const unsigned char[]){0}, 1,
			   est_edt, 1, est_edt_chars, 8, footers[i], 0);
		snprintf(name, sizeof name, "Test/F%zu", i);
		z = tz_get(name);
		if (!z) {
			t_fail(__FILE__, __LINE__, "footer \"%s\" refused", footers[i]);
			continue;
		}
		snprintf(env, sizeof env, ":%s/%s", dir, name);
		total += compare_random(z, env, 1000, 0, 4102444800LL, &seed);
		total += compare_transitions(z, env, 0, 4102444800LL);
		total += compare_random(z, env, 200, 7258118400LL, 13569465600LL, &seed);
		total += compare_transitions(z, env, 7258118400LL - 5 * 31556952LL, 7258118400LL + 5 * 31556952LL);
	}
	/* DST without rules: the US rules, as in glibc's and tzcode's default
	 * (glibc takes them from the posixrules file, with its history, so it
	 * is not compared). */
	write_zone(dir, "NoRules", '2', (const int64_t[]){-2147483647}, (const unsigned char[]){0}, 1,
		   est_edt, 1, est_edt_chars, 8, "EST5EDT", 0);
	{
		const struct tz *z = tz_get("Test/NoRules");
		check_local(z, 1772953199, "2026-03-08 01:59:59", -18000, 0, __LINE__);
		check_local(z, 1772953200, "2026-03-08 03:00:00", -14400, 1, __LINE__);
		check_local(z, 1793512799, "2026-11-01 01:59:59", -14400, 1, __LINE__);
		check_local(z, 1793512800, "2026-11-01 01:00:00", -18000, 0, __LINE__);
	}
	tz_set_directory(NULL);
	if (total)
		printf("# %d instants of footer rules compared with GNU date\n", total);
}

struct thread_arg {
	const struct tz *seen[6];
	int bad;
};

static const char *const thread_zones[6] = {"Africa/Nairobi", "America/Chicago", "Asia/Kolkata",
					    "Europe/Madrid", "Pacific/Auckland", "America/Denver"};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	for (int round = 0; round < 200; round++)
		for (int i = 0; i < 6; i++) {
			const struct tz *z = tz_get(thread_zones[i]);
			struct tm tm;
			if (!z || (a->seen[i] && a->seen[i] != z)) {
				a->bad++;
				continue;
			}
			a->seen[i] = z;
			tz_to_local(z, 1782921600 + round * 3600, &tm);
			if (tm.tm_min != 0 && i != 2)
				a->bad++;
		}
	return NULL;
}

TEST(tz_is_thread_safe)
{
	pthread_t th[8];
	struct thread_arg args[8];

	memset(args, 0, sizeof args);
	for (int i = 0; i < 8; i++)
		CHECK_INT(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 8; i++) {
		CHECK_INT(args[i].bad, 0);
		for (int k = 0; k < 6; k++)
			CHECK(args[i].seen[k] == args[0].seen[k]);
	}
}

TEST(tz_footer_grammar)
{
	static const struct {
		const char *footer;
		int ok;
	} footers[] = {
		{"", 1}, /* empty: no rule after the last transition */
		{"JST-9", 1},
		{"<+0330>-3:30", 1},
		{"<-00>0", 1},
		{"EST5EDT,M3.2.0,M11.1.0", 1},
		{"EST+5EDT+4,M3.2.0/2:00:00,M11.1.0/02", 1},
		{"EST5EDT", 1},
		{"<A>3<B>,J1/-167,J365/167", 1},
		{"<A>3<B>,0/0,365/24", 1},
		{"EST", 0},
		{"5", 0},
		{"EST5EDT,M3.2.0", 0},
		{"EST5EDT,M3.2.0,", 0},
		{"EST5EDT,M3.2.0/,M11.1.0", 0},
		{"EST5EDT,M13.2.0,M11.1.0", 0},
		{"EST5EDT,M0.2.0,M11.1.0", 0},
		{"EST5EDT,M3.6.0,M11.1.0", 0},
		{"EST5EDT,M3.0.0,M11.1.0", 0},
		{"EST5EDT,M3.2.7,M11.1.0", 0},
		{"EST5EDT,J0,J365", 0},
		{"EST5EDT,J1,J366", 0},
		{"EST5EDT,0,366", 0},
		{"EST5EDT,M3.2.0/168,M11.1.0", 0},
		{"EST25", 0},
		{"EST5:60", 0},
		{"EST5EDT4,M3.2.0,M11.1.0x", 0},
		{"<EST5", 0},
		{"<>5", 0},
		{"<E.T>5", 0},
		{"EST 5", 0},
	};
	const char *dir = t_tmpdir();

	tz_set_directory(dir);
	for (size_t i = 0; i < sizeof footers / sizeof footers[0]; i++) {
		char name[32];

		snprintf(name, sizeof name, "G%zu", i);
		write_zone(dir, name, '2', ny2026, ny2026_idx, 2, est_edt, 2, est_edt_chars, 8,
			   footers[i].footer, 0);
		snprintf(name, sizeof name, "Test/G%zu", i);
		if ((tz_get(name) != NULL) != footers[i].ok)
			t_fail(__FILE__, __LINE__, "footer \"%s\" %s", footers[i].footer,
			       footers[i].ok ? "refused" : "accepted");
	}
	tz_set_directory(NULL);
}

/* Every single-byte corruption of real files is either refused or read
 * into a zone that answers (run under the sanitizers, this is a small
 * fuzzer). */
TEST(tz_survives_corrupt_files)
{
	static const char *const srcs[] = {"America/New_York", "Australia/Lord_Howe", "Asia/Jerusalem"};
	const char *dir = t_tmpdir();
	uint64_t seed = 7;
	int loaded = 0, refused = 0;

	tz_set_directory(dir);
	for (size_t k = 0; k < sizeof srcs / sizeof srcs[0]; k++) {
		char path[512];
		unsigned char buf[8192];
		size_t n;
		FILE *f;

		snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", srcs[k]);
		f = fopen(path, "rb");
		if (!f)
			continue;
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		for (int m = 0; m < 150; m++) {
			unsigned char copy[8192];
			char name[64];
			const struct tz *z;
			size_t at = (size_t)(rng_next(&seed) % n);

			memcpy(copy, buf, n);
			copy[at] = m % 3 == 0 ? (unsigned char)(copy[at] ^ (1u << (m % 8)))
					      : (unsigned char)rng_next(&seed);
			snprintf(name, sizeof name, "M%zu_%d", k, m);
			snprintf(path, sizeof path, "%s/%s", dir, name);
			f = fopen(path, "wb");
			fwrite(copy, 1, n, f);
			fclose(f);
			z = tz_get(name);
			if (!z) {
				refused++;
				continue;
			}
			loaded++;
			for (int j = 0; j < 50; j++) {
				struct tm tm;
				time_t t = (time_t)((int64_t)(rng_next(&seed) % 8000000000ULL) - 2000000000LL), back;
				tz_to_local(z, t, &tm);
				CHECK(tm.tm_gmtoff >= -89999 && tm.tm_gmtoff <= 93599);
				CHECK(tm.tm_zone != NULL);
				CHECK_INT(tz_from_local(z, &tm, &back), 0);
			}
		}
	}
	tz_set_directory(NULL);
	CHECK(loaded > 0);
	CHECK(refused > 0);
}
