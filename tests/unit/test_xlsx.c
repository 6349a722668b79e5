#include "t.h"

#include "core/xlsx.h"

#include <stdlib.h>
#include <sys/wait.h>

static int file_sink(void *arg, const void *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len ? 0 : -1;
}

/* Run a shell command; its standard output, NUL-terminated (caller frees),
 * and its exit status in *status (-1 if it did not exit normally). */
static char *run(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	char *out = NULL;
	size_t len = 0, cap = 0, n;
	int st;

	if (!p) {
		*status = -1;
		return calloc(1, 1);
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
		}
		n = fread(out + len, 1, cap - len - 1, p);
		len += n;
	} while (n > 0);
	out[len] = '\0';
	st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

/* Check the archive with Python's zipfile: every entry's CRC against the
 * central directory (testzip inflates each one), the list of entries, and
 * what zipfile does not look at but streaming readers use: each local
 * header has bit 3 set and its data descriptor agrees with the central
 * directory. */
static void check_zip(const char *path)
{
	static const char prog[] =
		"import struct, sys, zipfile\n"
		"z = zipfile.ZipFile(sys.argv[1])\n"
		"print(z.testzip() or \"crc ok\")\n"
		"print(\" \".join(z.namelist()))\n"
		"d = open(sys.argv[1], \"rb\").read()\n"
		"for i in z.infolist():\n"
		"    h = i.header_offset\n"
		"    sig, ver, flags, method = struct.unpack_from(\"<IHHH\", d, h)\n"
		"    n, e = struct.unpack_from(\"<HH\", d, h + 26)\n"
		"    dd = struct.unpack_from(\"<IIII\", d, h + 30 + n + e + i.compress_size)\n"
		"    if (sig, flags & 8, method) != (0x04034b50, 8, 8) or \\\n"
		"       dd != (0x08074b50, i.CRC, i.compress_size, i.file_size):\n"
		"        print(\"bad entry\", i.filename, hex(sig), flags, method, dd)\n"
		"print(\"descriptors ok\")\n";
	char cmd[1400];
	char *out;
	int st;

	snprintf(cmd, sizeof cmd, "python3 -c '%s' '%s' 2>&1", prog, path);
	out = run(cmd, &st);
	CHECK_INT(st, 0);
	CHECK_STR(out, "crc ok\n[Content_Types].xml _rels/.rels xl/workbook.xml "
		       "xl/_rels/workbook.xml.rels xl/styles.xml xl/worksheets/sheet1.xml\n"
		       "descriptors ok\n");
	free(out);
}

/* One part of the archive, as text. */
static char *read_part(const char *path, const char *part)
{
	char cmd[600];
	int st;
	char *out;

	snprintf(cmd, sizeof cmd,
		 "python3 -c 'import sys, zipfile; "
		 "sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' '%s' '%s'",
		 path, part);
	out = run(cmd, &st);
	CHECK_INT(st, 0);
	return out;
}

/* A string as Python's json.dumps(ensure_ascii=False) writes it; an empty
 * one was no cell, read as None. */
static void json_str(char *out, size_t size, const char *s)
{
	size_t o = 0;

	if (!*s) {
		snprintf(out, size, "null"); /* empty text: no cell */
		return;
	}
	out[o++] = '"';
	for (; *s && o + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c == '\r')
			o += (size_t)snprintf(out + o, size - o, "\\r");
		else if (c == '\t')
			o += (size_t)snprintf(out + o, size - o, "\\t");
		else if (c < 0x20)
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* The test workbook: what is written, and what must be read back. Each
 * text goes in whole and cut in half (by bytes, which may split a
 * character: its remains are invalid UTF-8 and dropped). */
enum { BULK_ROWS = 5000 };

static const struct {
	const char *in, *out, *half; /* out: NULL when the same as in */
} texts[] = {
	{"山田 太郎", NULL, "山田"},
	{"鈴木 花子", NULL, "鈴木"},
	{"<a & \"b\">", NULL, "<a &"},
	{"bell\x07 here", "bell here", "bell"},          /* C0 controls: dropped */
	{"esc\x1b[0m\x0b\x0c", "esc[0m", "esc"},
	{"line1\nline2\tTab\r\nEnd\r", NULL, "line1\nline"}, /* kept, CR included */
	{"ok\xff\xc0\xaf\xed\xa0\x80" "end\xe3\x81", "okend", "ok"}, /* invalid UTF-8: dropped */
	{"a\xef\xbf\xbe" "b\xef\xbf\xbf" "c\xef\xbf\xbd", "abc\xef\xbf\xbd", "ab"}, /* U+FFFE/FFFF dropped */
	{"=1+2", NULL, "=1"},                             /* a string, never a formula */
	{"  spaces  ", NULL, "  spa"},
	{"😀 \xc2\x85 ]]> '", NULL, "😀 "},
	{"", NULL, ""},                                   /* no cell at all */
};
#define NTEXTS ((int)(sizeof texts / sizeof texts[0]))

static void write_workbook(struct xlsx *x)
{
	static const char *const header[] = {"ID", "Name", "Note", "Amount"};
	static const double numbers[] = {0, -0.0, 42, -7, 2.5, -0.125, 0.1, 3.141592653589793, 1e20,
					 1234567.891, 1e-7};

	for (int i = 0; i < 4; i++)
		xlsx_text(x, header[i], strlen(header[i]));
	xlsx_end_row(x);
	for (int i = 0; i < NTEXTS; i++) {
		xlsx_number(x, i + 1);
		xlsx_text(x, texts[i].in, strlen(texts[i].in));
		xlsx_text(x, texts[i].in, strlen(texts[i].in) / 2);
		xlsx_number(x, numbers[i % 11]);
		xlsx_end_row(x);
	}
	for (int i = 0; i < BULK_ROWS; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s %d", i % 2 ? "鈴木 花子" : "山田 太郎", i);
		xlsx_number(x, 1000 + i);
		xlsx_text(x, name, strlen(name));
		xlsx_text(x, "", 0);
		xlsx_number(x, i * 0.25);
		xlsx_end_row(x);
	}
}

/* How Python prints the numbers written above. */
static const char *const number_json[] = {"0", "0", "42", "-7", "2.5", "-0.125", "0.1",
					  "3.141592653589793", "1e+20", "1234567.891", "1e-07"};

/* Row (0-based) as xlsx_read.py prints it. */
static char *expected_line(int row)
{
	char *line = malloc(512), a[160], b[160], num[32];
	int i;

	if (row == 0)
		return strcpy(line, "[\"ID\", \"Name\", \"Note\", \"Amount\"]");
	if (row <= NTEXTS) {
		i = row - 1;
		json_str(a, sizeof a, texts[i].out ? texts[i].out : texts[i].in);
		json_str(b, sizeof b, texts[i].half);
		snprintf(line, 512, "[%d, %s, %s, %s]", row, a, b, number_json[i % 11]);
		return line;
	}
	/* 0.25 steps: whole numbers come back as ints, others as floats. */
	i = row - 1 - NTEXTS;
	if (i % 4 == 0)
		snprintf(num, sizeof num, "%d", i / 4);
	else
		snprintf(num, sizeof num, "%g", i * 0.25);
	snprintf(line, 512, "[%d, \"%s %d\", null, %s]", 1000 + i, i % 2 ? "鈴木 花子" : "山田 太郎", i, num);
	return line;
}

TEST(xlsx_workbook_read_back_by_openpyxl)
{
	char path[300], cmd[400];
	FILE *f;
	struct xlsx *x;
	char *out, *line, *next, *sheet;
	int st, row = 0, bad = 0;

	snprintf(path, sizeof path, "%s/people.xlsx", t_tmpdir());
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	x = xlsx_new("Users <&> \"2024\" / list: everyone in the building", file_sink, f);
	CHECK(x != NULL);
	write_workbook(x);
	CHECK_INT(xlsx_finish(x), 0);
	CHECK_INT(fclose(f), 0);

	check_zip(path);

	/* The parts as written: escaping, references, the sheet name cleaned
	 * for Excel (no / or :, 31 characters) and escaped. */
	sheet = read_part(path, "xl/worksheets/sheet1.xml");
	CHECK_CONTAINS(sheet, "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t xml:space=\"preserve\">ID</t></is></c>");
	CHECK_CONTAINS(sheet, "&lt;a &amp; &quot;b&quot;&gt;");
	CHECK_CONTAINS(sheet, "line1\nline2\tTab&#13;\nEnd&#13;");
	CHECK_CONTAINS(sheet, "<c r=\"D3\"><v>0</v></c>"); /* -0 written as 0 */
	CHECK_CONTAINS(sheet, "<c r=\"D5013\"><v>1249.75</v></c></row></sheetData></worksheet>");
	free(sheet);
	sheet = read_part(path, "xl/workbook.xml");
	CHECK_CONTAINS(sheet, "<sheet name=\"Users &lt;&amp;&gt; &quot;2024&quot; _ list_ everyo\" sheetId=\"1\"");
	free(sheet);

	snprintf(cmd, sizeof cmd, "python3 tests/tools/xlsx_read.py '%s'", path);
	out = run(cmd, &st);
	if (st == 77) {
		printf("# openpyxl not installed\n");
		free(out);
		return;
	}
	CHECK_INT(st, 0);
	for (line = out; *line; line = next) {
		char *want;
		next = strchr(line, '\n');
		if (!next) {
			t_fail(__FILE__, __LINE__, "last line has no newline");
			break;
		}
		*next++ = '\0';
		want = expected_line(row);
		if (strcmp(line, want) != 0 && bad++ < 5)
			t_fail(__FILE__, __LINE__, "row %d: got %s, expected %s", row + 1, line, want);
		free(want);
		row++;
	}
	CHECK_INT(row, 1 + NTEXTS + BULK_ROWS);
	free(out);
}

TEST(xlsx_escapes_what_excel_would_unescape)
{
	char path[300];
	FILE *f;
	struct xlsx *x;
	char *sheet;

	snprintf(path, sizeof path, "%s/esc.xlsx", t_tmpdir());
	f = fopen(path, "wb");
	if (!f)
		return;
	x = xlsx_new(NULL, file_sink, f);
	/* Excel reads _xHHHH_ in a string as an escaped character; a literal
	 * one needs its underscore escaped, as Excel does itself. */
	xlsx_text(x, "_x0041_ _x00zz_ _x12", 20);
	xlsx_end_row(x);
	CHECK_INT(xlsx_finish(x), 0);
	fclose(f);
	check_zip(path);
	sheet = read_part(path, "xl/worksheets/sheet1.xml");
	CHECK_CONTAINS(sheet, ">_x005F_x0041_ _x00zz_ _x12</t>");
	free(sheet);
	sheet = read_part(path, "xl/workbook.xml");
	CHECK_CONTAINS(sheet, "<sheet name=\"Sheet1\"");
	free(sheet);
}

TEST(xlsx_excel_grid_limits)
{
	char path[300];
	FILE *f;
	struct xlsx *x;
	char *sheet;
	char *big = malloc(40000);

	snprintf(path, sizeof path, "%s/wide.xlsx", t_tmpdir());
	f = fopen(path, "wb");
	if (!f || !big) {
		free(big);
		return;
	}
	x = xlsx_new("'quoted'", file_sink, f);
	/* 32,767 characters at most in a cell; the rest is cut. */
	memset(big, 'x', 40000);
	xlsx_text(x, big, 40000);
	xlsx_end_row(x);
	for (int i = 0; i < 16385; i++)
		xlsx_number(x, i);
	xlsx_end_row(x);
	CHECK_INT(xlsx_finish(x), -1); /* the 16,385th cell was dropped */
	fclose(f);
	check_zip(path); /* the archive is complete all the same */
	sheet = read_part(path, "xl/worksheets/sheet1.xml");
	big[0] = '>';
	memset(big + 1, 'x', 32767);
	strcpy(big + 1 + 32767, "</t>");
	CHECK(strstr(sheet, big) != NULL);
	CHECK_CONTAINS(sheet, "<c r=\"Z2\"><v>25</v></c><c r=\"AA2\"><v>26</v></c>");
	CHECK_CONTAINS(sheet, "<c r=\"AZ2\"><v>51</v></c><c r=\"BA2\"><v>52</v></c>");
	CHECK_CONTAINS(sheet, "<c r=\"ZZ2\"><v>701</v></c><c r=\"AAA2\"><v>702</v></c>");
	CHECK_CONTAINS(sheet, "<c r=\"XFD2\"><v>16383</v></c></row>");
	CHECK(strstr(sheet, "XFE") == NULL);
	free(sheet);
	sheet = read_part(path, "xl/workbook.xml");
	CHECK_CONTAINS(sheet, "<sheet name=\"_quoted_\"");
	free(sheet);
	free(big);
}

TEST(xlsx_numbers_not_finite_are_errors)
{
	char path[300];
	FILE *f;
	struct xlsx *x;
	char *sheet;

	snprintf(path, sizeof path, "%s/nan.xlsx", t_tmpdir());
	f = fopen(path, "wb");
	if (!f)
		return;
	x = xlsx_new("n", file_sink, f);
	xlsx_number(x, 0.0 / 0.0);
	xlsx_number(x, 1.0 / 0.0);
	xlsx_end_row(x);
	xlsx_end_row(x); /* an empty row: nothing written, the next is row 3 */
	xlsx_number(x, 5e-324);
	xlsx_number(x, 1.7976931348623157e308);
	CHECK_INT(xlsx_finish(x), 0); /* an open row is closed */
	fclose(f);
	sheet = read_part(path, "xl/worksheets/sheet1.xml");
	CHECK_CONTAINS(sheet, "<row r=\"1\"><c r=\"A1\" t=\"e\"><v>#NUM!</v></c><c r=\"B1\" t=\"e\"><v>#NUM!</v></c></row>"
			      "<row r=\"3\"><c r=\"A3\"><v>4.94065645841247e-324</v></c>"
			      "<c r=\"B3\"><v>1.7976931348623157e+308</v></c></row>");
	free(sheet);
}

/* A sink that fails at a given call, and counts calls after it. */
struct failing {
	int calls, fail_at, after;
	size_t bytes;
};

static int failing_sink(void *arg, const void *data, size_t len)
{
	struct failing *s = arg;

	(void)data;
	if (s->fail_at && s->calls >= s->fail_at)
		s->after++;
	s->calls++;
	if (s->fail_at && s->calls == s->fail_at)
		return -1;
	s->bytes += len;
	return 0;
}

TEST(xlsx_sink_failure)
{
	for (int fail_at = 1; fail_at <= 3; fail_at++) {
		struct failing s = {.fail_at = fail_at};
		struct xlsx *x = xlsx_new("s", failing_sink, &s);

		CHECK(x != NULL);
		write_workbook(x);
		CHECK_INT(xlsx_finish(x), -1);
		CHECK_INT(s.calls, fail_at);
		CHECK_INT(s.after, 0);
	}
	/* Failing on the last call only: a small workbook is one call. */
	struct failing s = {.fail_at = 1};
	struct xlsx *x = xlsx_new("s", failing_sink, &s);
	xlsx_text(x, "a", 1);
	CHECK_INT(s.calls, 0);
	CHECK_INT(xlsx_finish(x), -1);
	CHECK_INT(s.calls, 1);

	/* No workbook (out of memory): the calls are harmless. */
	xlsx_text(NULL, "a", 1);
	xlsx_number(NULL, 1);
	xlsx_end_row(NULL);
	CHECK_INT(xlsx_finish(NULL), -1);
}

TEST(xlsx_streams_in_bounded_chunks)
{
	struct failing s = {0};
	struct xlsx *x = xlsx_new("big", failing_sink, &s);
	char text[64];

	for (int i = 0; i < 100000; i++) {
		snprintf(text, sizeof text, "row %d with some text 山田 太郎", i);
		xlsx_number(x, i);
		xlsx_text(x, text, strlen(text));
		xlsx_end_row(x);
		if (i == 50000)
			CHECK(s.calls > 5); /* bytes go out as rows arrive */
	}
	CHECK_INT(xlsx_finish(x), 0);
	CHECK(s.bytes > 500000);
	CHECK(s.bytes / (size_t)s.calls >= 8192); /* chunks, not dribbles */
}
