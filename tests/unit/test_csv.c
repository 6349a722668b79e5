#include "t.h"

#include "core/csv.h"

#include <stdint.h>
#include <stdlib.h>

/* A growing memory sink for the writer. */
struct membuf {
	char *data;
	size_t len, cap;
	int calls, fail_at; /* fail_at: the call (1-based) that fails; 0 never */
	size_t largest;
};

static int mem_sink(void *arg, const char *data, size_t len)
{
	struct membuf *m = arg;

	m->calls++;
	if (len > m->largest)
		m->largest = len;
	if (m->fail_at && m->calls >= m->fail_at)
		return -1;
	if (m->len + len + 1 > m->cap) {
		m->cap = (m->len + len + 1) * 2;
		m->data = realloc(m->data, m->cap);
	}
	memcpy(m->data + m->len, data, len);
	m->len += len;
	m->data[m->len] = '\0';
	return 0;
}

/* Append s to a growing string, escaping CR and LF so that results read
 * on one line. */
static void append(char **out, size_t *len, const char *s, size_t n)
{
	*out = realloc(*out, *len + 2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			(*out)[(*len)++] = '\\';
			(*out)[(*len)++] = s[i] == '\r' ? 'r' : 'n';
		} else
			(*out)[(*len)++] = s[i];
	}
	(*out)[*len] = '\0';
}

/* Read everything and render it as "LINE:[f1][f2] LINE:[f1]", ending with
 * "ERR message" if reading fails. Also checks the reader's promises: each
 * field ends with a NUL, an error stays an error. */
static char *render(const char *in, size_t len)
{
	struct csv_reader *r = csv_reader_new(in, len);
	const char *fields[CSV_MAX_FIELDS];
	size_t lens[CSV_MAX_FIELDS];
	char *out = NULL, num[32];
	size_t olen = 0;
	int n;

	append(&out, &olen, "", 0);
	while ((n = csv_next(r, fields, lens)) > 0) {
		snprintf(num, sizeof num, "%s%d:", olen ? " " : "", csv_line(r));
		append(&out, &olen, num, strlen(num));
		for (int i = 0; i < n; i++) {
			CHECK(fields[i][lens[i]] == '\0');
			append(&out, &olen, "[", 1);
			append(&out, &olen, fields[i], lens[i]);
			append(&out, &olen, "]", 1);
		}
	}
	if (n < 0) {
		append(&out, &olen, olen ? " ERR " : "ERR ", olen ? 5 : 4);
		append(&out, &olen, csv_error(r), strlen(csv_error(r)));
		CHECK_INT(csv_next(r, fields, lens), -1);
	} else
		CHECK_STR(csv_error(r), "");
	csv_reader_free(r);
	return out;
}

TEST(csv_reader_cases)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
		const char *want;
	} cases[] = {
		/* shapes of files */
		{"", 0, ""},
		{"\n\r\n\n", 0, ""},
		{"\xef\xbb\xbf", 0, ""},
		{"\xef\xbb\xbf" "a,b\r\nc,d\r\n", 0, "1:[a][b] 2:[c][d]"},
		{"a\n\xef\xbb\xbf" "b\n", 0, "1:[a] 2:[\xef\xbb\xbf" "b]"}, /* only a leading BOM is skipped */
		{"a\r\nb\nc\r\nd", 0, "1:[a] 2:[b] 3:[c] 4:[d]"},
		{"a\rb\r", 0, "1:[a] 2:[b]"},
		{"a\n\n\r\nb\n\n", 0, "1:[a] 4:[b]"},
		{"a,b,\n", 0, "1:[a][b][]"},
		{",,\n,\n", 0, "1:[][][] 2:[][]"},
		{"a,\"b\"", 0, "1:[a][b]"},
		{"a,", 0, "1:[a][]"},
		{"\"\"\n", 0, "1:[]"},
		{"\"\",\"\"", 0, "1:[][]"},
		{" a , b \n", 0, "1:[ a ][ b ]"},
		/* quoting */
		{"\"a,b\",c\n", 0, "1:[a,b][c]"},
		{"\"he said \"\"hi\"\"\",x\n", 0, "1:[he said \"hi\"][x]"},
		{"\"\"\"\"\n", 0, "1:[\"]"},
		{"\"x\r\ny\",z\nnext\n", 0, "1:[x\\r\\ny][z] 3:[next]"},
		{"\"a\nb\nc\",d\r\ne\n", 0, "1:[a\\nb\\nc][d] 4:[e]"},
		{"\"a\rb\",c\nd", 0, "1:[a\\rb][c] 3:[d]"},
		{"\"\n\n\"\n\nx", 0, "1:[\\n\\n] 5:[x]"},
		/* text */
		{"氏名,メール\r\n山田 太郎,taro@example.jp\r\n\"鈴木, 花子\",hanako@example.jp\r\n", 0,
		 "1:[氏名][メール] 2:[山田 太郎][taro@example.jp] 3:[鈴木, 花子][hanako@example.jp]"},
		{"\xc2\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80,\xef\xbf\xbf,\xf4\x8f\xbf\xbf\n", 0,
		 "1:[\xc2\xa9][\xe2\x82\xac][\xf0\x9f\x98\x80][\xef\xbf\xbf][\xf4\x8f\xbf\xbf]"},
		{"tab\there,\x01\x7f\n", 0, "1:[tab\there][\x01\x7f]"},
		/* errors, each with its line */
		{"a\n\"b,c\nd\n", 0, "1:[a] ERR line 2: unterminated quoted field"},
		{"\"", 0, "ERR line 1: unterminated quoted field"},
		{"a\nb\"c\n", 0, "1:[a] ERR line 2: quote in unquoted field 1"},
		{"a, \"b\"\n", 0, "ERR line 1: quote in unquoted field 2"},
		{"x\n\"a\"b\n", 0, "1:[x] ERR line 2: unexpected text after the closing quote of field 1"},
		{"\"a\" ,b", 0, "ERR line 1: unexpected text after the closing quote of field 1"},
		{"\"a\nb\"c", 0, "ERR line 2: unexpected text after the closing quote of field 1"},
		{"a\nb,c\0d\n", 9, "1:[a] ERR line 2: NUL byte in field 2"},
		{"\"\0\"", 3, "ERR line 1: NUL byte in field 1"},
		{"ok\n\xff\n", 0, "1:[ok] ERR line 2: invalid UTF-8 in field 1"},
		{"a,\xc0\xaf\n", 0, "ERR line 1: invalid UTF-8 in field 2"},          /* overlong '/' */
		{"a,\xc1\xbf\n", 0, "ERR line 1: invalid UTF-8 in field 2"},          /* overlong */
		{"a,\xe0\x80\xaf\n", 0, "ERR line 1: invalid UTF-8 in field 2"},      /* overlong, 3 bytes */
		{"a,\xf0\x80\x80\xaf\n", 0, "ERR line 1: invalid UTF-8 in field 2"},  /* overlong, 4 bytes */
		{"a,\xed\xa0\x80\n", 0, "ERR line 1: invalid UTF-8 in field 2"},      /* surrogate U+D800 */
		{"a,\xed\xbf\xbf\n", 0, "ERR line 1: invalid UTF-8 in field 2"},      /* surrogate U+DFFF */
		{"a,\xf4\x90\x80\x80\n", 0, "ERR line 1: invalid UTF-8 in field 2"},  /* above U+10FFFF */
		{"a,\xf5\x80\x80\x80\n", 0, "ERR line 1: invalid UTF-8 in field 2"},
		{"a,\x80\n", 0, "ERR line 1: invalid UTF-8 in field 2"},              /* lone continuation */
		{"a,b\xe3\x81", 0, "ERR line 1: invalid UTF-8 in field 2"},           /* cut by the end */
		{"\xe3\x81,x", 0, "ERR line 1: invalid UTF-8 in field 1"},            /* cut by a comma */
		{"\"\xe3\x81\"", 0, "ERR line 1: invalid UTF-8 in field 1"},          /* cut by a quote */
		{"x\n\"a\nb\xff\"\n", 0, "1:[x] ERR line 3: invalid UTF-8 in field 1"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		char *got = render(cases[i].in, len);
		if (strcmp(got, cases[i].want) != 0)
			t_fail(__FILE__, __LINE__, "case %zu: got \"%s\", expected \"%s\"", i, got, cases[i].want);
		free(got);
	}
}

TEST(csv_reader_field_count_limit)
{
	char line[4 * CSV_MAX_FIELDS + 16], *got;
	size_t n = 0;

	n += (size_t)snprintf(line + n, sizeof line - n, "x\n\n");
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		n += (size_t)snprintf(line + n, sizeof line - n, "%s%d", i ? "," : "", i % 10);
	got = render(line, n);
	CHECK_INT(strlen(got), strlen("1:[x] 3:") + 3 * CSV_MAX_FIELDS);
	free(got);
	n += (size_t)snprintf(line + n, sizeof line - n, ",\"z\"\n");
	got = render(line, n);
	CHECK_STR(got, "1:[x] ERR line 3: more than 64 fields");
	free(got);
}

TEST(csv_reader_record_length_limit)
{
	size_t cap = 2 * CSV_MAX_RECORD + 64;
	char *in = malloc(cap);
	const char *fields[CSV_MAX_FIELDS];
	size_t lens[CSV_MAX_FIELDS];
	struct csv_reader *r;

	/* Exactly CSV_MAX_RECORD bytes before the line end: accepted. */
	memcpy(in, "a\n", 2);
	memset(in + 2, 'x', CSV_MAX_RECORD);
	memcpy(in + 2 + CSV_MAX_RECORD, "\r\nb\n", 4);
	r = csv_reader_new(in, 2 + CSV_MAX_RECORD + 4);
	CHECK_INT(csv_next(r, fields, lens), 1);
	CHECK_INT(csv_next(r, fields, lens), 1);
	CHECK_INT(lens[0], CSV_MAX_RECORD);
	CHECK(fields[0][CSV_MAX_RECORD] == '\0');
	CHECK_INT(csv_line(r), 2);
	CHECK_INT(csv_next(r, fields, lens), 1);
	CHECK_STR(fields[0], "b");
	CHECK_INT(csv_next(r, fields, lens), 0);
	csv_reader_free(r);

	/* The worst case for the buffer: a record of the longest length and
	 * the most fields, every byte but the commas kept, each field with its
	 * NUL. */
	memset(in, 'x', CSV_MAX_RECORD);
	memset(in + CSV_MAX_RECORD - (CSV_MAX_FIELDS - 1), ',', CSV_MAX_FIELDS - 1);
	r = csv_reader_new(in, CSV_MAX_RECORD);
	CHECK_INT(csv_next(r, fields, lens), CSV_MAX_FIELDS);
	CHECK_INT(lens[0], CSV_MAX_RECORD - (CSV_MAX_FIELDS - 1));
	CHECK_INT(lens[CSV_MAX_FIELDS - 1], 0);
	CHECK_INT(csv_next(r, fields, lens), 0);
	csv_reader_free(r);

	/* One byte more, unquoted, quoted (the limit counts raw bytes, so ""
	 * escapes count twice), or as a trailing comma: refused, naming the
	 * line where the record started. */
	memcpy(in, "a\n", 2);
	memset(in + 2, 'x', CSV_MAX_RECORD + 1);
	r = csv_reader_new(in, 2 + CSV_MAX_RECORD + 1);
	CHECK_INT(csv_next(r, fields, lens), 1);
	CHECK_INT(csv_next(r, fields, lens), -1);
	CHECK_STR(csv_error(r), "line 2: record longer than 65536 bytes");
	CHECK_INT(csv_line(r), 2);
	csv_reader_free(r);

	in[0] = '"';
	memset(in + 1, '"', CSV_MAX_RECORD);
	memcpy(in + CSV_MAX_RECORD - 1, "\n\n", 2); /* the quoted field spans lines 1-3 */
	in[CSV_MAX_RECORD + 1] = '"';
	r = csv_reader_new(in, CSV_MAX_RECORD + 2);
	CHECK_INT(csv_next(r, fields, lens), -1);
	CHECK_STR(csv_error(r), "line 1: record longer than 65536 bytes");
	csv_reader_free(r);

	memset(in, 'x', CSV_MAX_RECORD);
	in[CSV_MAX_RECORD] = ',';
	r = csv_reader_new(in, CSV_MAX_RECORD + 1);
	CHECK_INT(csv_next(r, fields, lens), -1);
	CHECK_CONTAINS(csv_error(r), "record longer than");
	csv_reader_free(r);
	in[CSV_MAX_RECORD - 1] = ',';
	r = csv_reader_new(in, CSV_MAX_RECORD);
	CHECK_INT(csv_next(r, fields, lens), 2);
	CHECK_INT(lens[0], CSV_MAX_RECORD - 1);
	CHECK_INT(lens[1], 0);
	csv_reader_free(r);
	free(in);
}

/* What csv_field writes for one value, as a whole record. */
static void check_written(const char *value, size_t len, const char *want)
{
	struct csv_writer w;
	struct membuf m = {0};
	char expect[256];

	csv_writer_init(&w, mem_sink, &m);
	csv_field(&w, value, len);
	csv_end_record(&w);
	CHECK_INT(csv_flush(&w), 0);
	snprintf(expect, sizeof expect, "%s\r\n", want);
	if (!m.data || strcmp(m.data, expect) != 0)
		t_fail(__FILE__, __LINE__, "field \"%s\": wrote \"%s\", expected \"%s\"", value,
		       m.data ? m.data : "", expect);
	free(m.data);
}

TEST(csv_writer_quoting_and_formula_guard)
{
	static const struct {
		const char *value, *want;
	} cases[] = {
		{"plain", "plain"},
		{"", "\"\""}, /* a lone empty field would be a blank line */
		{"a,b", "\"a,b\""},
		{"say \"hi\"", "\"say \"\"hi\"\"\""},
		{"\"", "\"\"\"\""},
		{"two\nlines", "\"two\nlines\""},
		{"cr\rhere", "\"cr\rhere\""},
		{" lead", "\" lead\""},
		{"trail ", "\"trail \""},
		{"in side", "in side"},
		{"山田 太郎", "山田 太郎"},
		{"a=b", "a=b"},
		/* the guard: always, whatever follows */
		{"=1+1", "'=1+1"},
		{"=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
		{"+81 3 1234 5678", "'+81 3 1234 5678"},
		{"-12", "'-12"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\tx", "'\tx"},
		{"\rx", "\"'\rx\""},
		{"=a,b", "\"'=a,b\""},
		{"'already", "'already"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_written(cases[i].value, strlen(cases[i].value), cases[i].want);
	check_written(NULL, 0, "\"\"");
	/* A leading U+FEFF would pass for a BOM at the start of a file. */
	check_written("\xef\xbb\xbfx", 4, "\"\xef\xbb\xbfx\"");
}

TEST(csv_writer_records)
{
	struct csv_writer w;
	struct membuf m = {0};

	csv_writer_init(&w, mem_sink, &m);
	csv_field(&w, "a", 1);
	csv_field(&w, "", 0);
	csv_field(&w, "b", 1);
	csv_end_record(&w);
	csv_field(&w, "", 0);
	csv_field(&w, "x", 1);
	csv_end_record(&w);
	csv_field(&w, "x", 1);
	csv_field(&w, "", 0);
	csv_end_record(&w);
	CHECK_INT(m.calls, 0); /* buffered */
	CHECK_INT(csv_flush(&w), 0);
	CHECK_INT(m.calls, 1);
	CHECK_STR(m.data, "a,,b\r\n\"\",x\r\nx,\r\n");
	CHECK_INT(csv_flush(&w), 0);
	CHECK_INT(m.calls, 1); /* nothing more to send */
	free(m.data);
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

TEST(csv_round_trip_random_fields)
{
	static const char *const pieces[] = {
		"a", "Z", "0", " ", ",", "\"", "\r", "\n", "\r\n", "\t", "=", "-", "+", "@", "'",
		"山", "田", "é", "\xf0\x9f\x98\x80", "\xef\xbb\xbf", "x,y", "\"\"",
	};
	enum { RECORDS = 3000 };
	static char values[RECORDS][10][64];
	static int nfields[RECORDS];
	struct csv_writer w;
	struct membuf m = {0};
	struct csv_reader *r;
	const char *fields[CSV_MAX_FIELDS];
	size_t lens[CSV_MAX_FIELDS];
	int line = 1, bad = 0;

	csv_writer_init(&w, mem_sink, &m);
	for (int i = 0; i < RECORDS; i++) {
		nfields[i] = 1 + (int)(rnd() % 10);
		for (int f = 0; f < nfields[i]; f++) {
			char *v = values[i][f];
			int parts = (int)(rnd() % 8);
			v[0] = '\0';
			for (int p = 0; p < parts; p++)
				strcat(v, pieces[rnd() % (sizeof pieces / sizeof pieces[0])]);
			csv_field(&w, v, strlen(v));
		}
		csv_end_record(&w);
	}
	CHECK_INT(csv_flush(&w), 0);
	CHECK(m.calls > 1);
	CHECK_INT(m.largest, 8192);

	r = csv_reader_new(m.data, m.len);
	for (int i = 0; i < RECORDS; i++) {
		int n = csv_next(r, fields, lens);
		if (n != nfields[i]) {
			t_fail(__FILE__, __LINE__, "record %d: %d fields, expected %d (%s)", i, n, nfields[i],
			       csv_error(r));
			break;
		}
		CHECK_INT(csv_line(r), line);
		for (int f = 0; f < n; f++) {
			const char *v = values[i][f];
			char want[80];
			/* The guard's apostrophe is part of the value now: before a
			 * formula character, also after apostrophes already there. */
			size_t q = strspn(v, "'");
			snprintf(want, sizeof want, "%s%s", v[q] && strchr("=+-@\t\r", v[q]) ? "'" : "", v);
			if ((lens[f] != strlen(want) || memcmp(fields[f], want, lens[f]) != 0) && bad++ < 5)
				t_fail(__FILE__, __LINE__, "record %d field %d differs", i, f);
			/* Physical lines: each line break inside the value is one. */
			for (const char *p = v; *p; p++)
				if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
					line++;
		}
		line++; /* the CRLF */
	}
	CHECK_INT(csv_next(r, fields, lens), 0);
	csv_reader_free(r);
	free(m.data);
}

TEST(csv_writer_remembers_sink_failure)
{
	struct csv_writer w;
	struct membuf m = {.fail_at = 2};

	csv_writer_init(&w, mem_sink, &m);
	for (int i = 0; i < 5000; i++) {
		csv_field(&w, "some text", 9);
		csv_end_record(&w);
	}
	CHECK_INT(m.calls, 2); /* the failed call was the last one */
	CHECK_INT(m.len, 8192);
	CHECK_INT(csv_flush(&w), -1);
	CHECK_INT(csv_flush(&w), -1);
	CHECK_INT(m.calls, 2);
	free(m.data);

	/* Failing at the final flush only. */
	m = (struct membuf){.fail_at = 1};
	csv_writer_init(&w, mem_sink, &m);
	csv_field(&w, "x", 1);
	csv_end_record(&w);
	CHECK_INT(csv_flush(&w), -1);
	free(m.data);
}

TEST(csv_reads_ten_thousand_records)
{
	struct membuf m = {0};
	struct csv_writer w;
	struct csv_reader *r;
	const char *fields[CSV_MAX_FIELDS];
	size_t lens[CSV_MAX_FIELDS];
	char buf[64];
	const char *note;
	int n, records = 0;

	csv_writer_init(&w, mem_sink, &m);
	csv_field(&w, "employee_no", 11);
	csv_field(&w, "name", 4);
	csv_field(&w, "email", 5);
	csv_field(&w, "note", 4);
	csv_end_record(&w);
	for (int i = 1; i <= 10000; i++) {
		snprintf(buf, sizeof buf, "E%05d", i);
		csv_field(&w, buf, strlen(buf));
		snprintf(buf, sizeof buf, "%s %d", i % 2 ? "山田 太郎" : "鈴木 花子", i);
		csv_field(&w, buf, strlen(buf));
		snprintf(buf, sizeof buf, "user%d@example.jp", i);
		csv_field(&w, buf, strlen(buf));
		note = i % 100 ? "" : "multi\nline, \"quoted\"";
		csv_field(&w, note, strlen(note));
		csv_end_record(&w);
	}
	CHECK_INT(csv_flush(&w), 0);

	r = csv_reader_new(m.data, m.len);
	while ((n = csv_next(r, fields, lens)) > 0) {
		CHECK_INT(n, 4);
		if (records == 5000) {
			CHECK_STR(fields[0], "E05000");
			CHECK_STR(fields[1], "鈴木 花子 5000");
			CHECK_STR(fields[3], "multi\nline, \"quoted\"");
		}
		if (records == 10000)
			CHECK_STR(fields[2], "user10000@example.jp");
		records++;
	}
	CHECK_INT(n, 0);
	CHECK_INT(records, 10001);
	CHECK_INT(csv_line(r), 10000 + 100); /* the last record starts after 99 multi-line notes */
	csv_reader_free(r);
	free(m.data);
}
