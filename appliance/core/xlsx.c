/* xlsx: a streaming .xlsx writer.
 *
 * The archive is written front to back and never revisited, so it can go
 * straight into an HTTP response: every entry's local header carries
 * general-purpose flag bit 3 and zero sizes, and a data descriptor after
 * the entry's data gives its CRC-32 and sizes (APPNOTE 4.3.9). The small
 * fixed parts come first; the sheet is last and is deflated as its cells
 * arrive, through one XML buffer and one output buffer of fixed size. What
 * stays in memory per entry is its name, CRC, sizes and offset, for the
 * central directory at the end; per row, nothing.
 *
 * No ZIP64: a part or the archive reaching 4 GiB fails the workbook (far
 * beyond what Excel opens anyway: 1,048,576 rows). */
#include "xlsx.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#define XBUF_SIZE 16384
#define OBUF_SIZE 16384
#define MAX_ENTRIES 8
/* Excel's limits (Excel specifications and limits). A file beyond them is
 * "repaired" by Excel, losing data without saying which. */
#define MAX_ROWS 1048576UL
#define MAX_COLS 16384U
#define MAX_CELL_UNITS 32767 /* characters in a cell, counted in UTF-16 units */
#define MAX_SHEET_NAME 31    /* likewise */

struct entry {
	const char *name;
	uint32_t crc, csize, usize, offset;
};

struct xlsx {
	xlsx_sink sink;
	void *arg;
	int failed;   /* the sink failed, or a size limit of ZIP: nothing more is sent */
	int overflow; /* cells beyond Excel's grid were dropped */
	uint64_t total; /* bytes of archive produced so far, sent or buffered */
	uint16_t dos_time, dos_date;
	struct entry ent[MAX_ENTRIES];
	int nent;
	z_stream zs;
	int zs_ready;
	uint32_t crc;         /* of the current entry's uncompressed bytes */
	uint64_t usize;       /* likewise, its size */
	uint64_t data_start;  /* total where its compressed data began */
	unsigned long row;    /* 1-based number of the row being filled */
	unsigned col;         /* cells in it so far */
	int row_open;
	size_t xused, oused;
	unsigned char xbuf[XBUF_SIZE]; /* XML waiting to be deflated */
	unsigned char obuf[OBUF_SIZE]; /* archive bytes waiting for the sink */
};

/* --- output: the sink behind a buffer -------------------------------- */

static void out_flush(struct xlsx *x)
{
	if (x->oused && !x->failed && x->sink(x->arg, x->obuf, x->oused) != 0)
		x->failed = 1;
	x->oused = 0;
}

static void out_put(struct xlsx *x, const void *p, size_t n)
{
	const unsigned char *s = p;

	x->total += n;
	while (n) {
		size_t room = OBUF_SIZE - x->oused, k = n < room ? n : room;
		memcpy(x->obuf + x->oused, s, k);
		x->oused += k;
		s += k;
		n -= k;
		if (x->oused == OBUF_SIZE)
			out_flush(x);
	}
}

static void le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

/* Run deflate over whatever zs.next_in holds, writing straight into the
 * free part of the output buffer. */
static void run_deflate(struct xlsx *x, int flush)
{
	int rc;

	for (;;) {
		if (x->oused == OBUF_SIZE)
			out_flush(x);
		x->zs.next_out = x->obuf + x->oused;
		x->zs.avail_out = (uInt)(OBUF_SIZE - x->oused);
		rc = deflate(&x->zs, flush);
		size_t made = OBUF_SIZE - x->oused - x->zs.avail_out;
		x->oused += made;
		x->total += made;
		if (rc == Z_STREAM_ERROR || (rc < 0 && rc != Z_BUF_ERROR)) {
			x->failed = 1;
			return;
		}
		if (flush == Z_FINISH ? rc == Z_STREAM_END : x->zs.avail_in == 0 && x->zs.avail_out != 0)
			return;
	}
}

/* --- XML into the current entry ---------------------------------------- */

static void xml_flush(struct xlsx *x)
{
	if (x->xused && !x->failed) {
		x->crc = (uint32_t)crc32(x->crc, x->xbuf, (uInt)x->xused);
		x->usize += x->xused;
		x->zs.next_in = x->xbuf;
		x->zs.avail_in = (uInt)x->xused;
		run_deflate(x, Z_NO_FLUSH);
	}
	x->xused = 0;
}

static void xml_put(struct xlsx *x, const char *s, size_t n)
{
	while (n) {
		size_t room = XBUF_SIZE - x->xused, k = n < room ? n : room;
		memcpy(x->xbuf + x->xused, s, k);
		x->xused += k;
		s += k;
		n -= k;
		if (x->xused == XBUF_SIZE)
			xml_flush(x);
	}
}

static void xml_str(struct xlsx *x, const char *s)
{
	xml_put(x, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0
 * for anything else: overlongs, surrogates, above U+10FFFF, truncated. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* Is "_xHHHH_" at s? Excel reads that as the escape of code unit HHHH
 * (ECMA-376 Part 1, 22.9.2.19 ST_Xstring), so such a literal text must
 * have its underscore escaped as _x005F_ to come back unchanged. */
static int looks_escaped(const unsigned char *s, size_t n)
{
	if (n < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_')
		return 0;
	for (int i = 2; i < 6; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* Text as XML character data (and attribute values: quotes are escaped
 * too). Dropped: invalid UTF-8 (byte by byte), C0 controls other than tab,
 * LF and CR, U+FFFE and U+FFFF, none of which XML 1.0 can carry. CR is
 * written as &#13; because XML parsers turn a literal CR (or CRLF) into
 * LF. At most max_units UTF-16 units are kept. */
static void xml_text(struct xlsx *x, const char *text, size_t len, long max_units)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t run = 0, i = 0;
	long units = 0;

#define FLUSH_RUN() xml_put(x, (const char *)s + run, i - run)
	while (i < len) {
		const char *rep = NULL;
		size_t n = utf8_len(s + i, len - i), skip = n ? n : 1;
		int drop = 0;

		if (n == 0)
			drop = 1;
		else if (n == 1) {
			switch (s[i]) {
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '&': rep = "&amp;"; break;
			case '"': rep = "&quot;"; break;
			case '\r': rep = "&#13;"; break;
			case '_':
				if (looks_escaped(s + i, len - i))
					rep = "_x005F_";
				break;
			default:
				drop = s[i] < 0x20 && s[i] != '\t' && s[i] != '\n';
			}
		} else if (n == 3 && s[i] == 0xef && s[i + 1] == 0xbf && s[i + 2] >= 0xbe)
			drop = 1; /* U+FFFE, U+FFFF */
		if (!drop) {
			units += n == 4 ? 2 : 1;
			if (units > max_units)
				break;
		}
		if (drop || rep) {
			FLUSH_RUN();
			if (rep)
				xml_str(x, rep);
			run = i + skip;
		}
		i += skip;
	}
	FLUSH_RUN();
#undef FLUSH_RUN
}

/* --- ZIP entries ------------------------------------------------------- */

static void entry_begin(struct xlsx *x, const char *name)
{
	unsigned char h[30];
	size_t nlen = strlen(name);
	struct entry *e;

	if (x->failed)
		return;
	if (x->nent == MAX_ENTRIES || x->total > UINT32_MAX) {
		x->failed = 1;
		return;
	}
	e = &x->ent[x->nent++];
	e->name = name;
	e->offset = (uint32_t)x->total;
	le32(h, 0x04034b50);
	le16(h + 4, 20);      /* version needed: 2.0, deflate */
	le16(h + 6, 0x0008);  /* bit 3: CRC and sizes in the data descriptor */
	le16(h + 8, 8);       /* deflate */
	le16(h + 10, x->dos_time);
	le16(h + 12, x->dos_date);
	memset(h + 14, 0, 12); /* CRC, compressed and uncompressed size: later */
	le16(h + 26, (unsigned)nlen);
	le16(h + 28, 0);
	out_put(x, h, sizeof h);
	out_put(x, name, nlen);
	x->crc = (uint32_t)crc32(0, NULL, 0);
	x->usize = 0;
	x->data_start = x->total;
	if (deflateReset(&x->zs) != Z_OK)
		x->failed = 1;
}

static void entry_end(struct xlsx *x)
{
	unsigned char d[16];
	struct entry *e;
	uint64_t csize;

	xml_flush(x);
	if (x->failed)
		return;
	run_deflate(x, Z_FINISH);
	csize = x->total - x->data_start;
	if (x->failed || csize > UINT32_MAX || x->usize > UINT32_MAX) {
		x->failed = 1;
		return;
	}
	e = &x->ent[x->nent - 1];
	e->crc = x->crc;
	e->csize = (uint32_t)csize;
	e->usize = (uint32_t)x->usize;
	le32(d, 0x08074b50);
	le32(d + 4, e->crc);
	le32(d + 8, e->csize);
	le32(d + 12, e->usize);
	out_put(x, d, sizeof d);
}

static void central_directory(struct xlsx *x)
{
	unsigned char h[46], end[22];
	uint64_t start = x->total;

	if (x->failed)
		return;
	for (int i = 0; i < x->nent; i++) {
		const struct entry *e = &x->ent[i];
		size_t nlen = strlen(e->name);

		le32(h, 0x02014b50);
		le16(h + 4, 20); /* made by: MS-DOS attributes, 2.0 */
		le16(h + 6, 20);
		le16(h + 8, 0x0008);
		le16(h + 10, 8);
		le16(h + 12, x->dos_time);
		le16(h + 14, x->dos_date);
		le32(h + 16, e->crc);
		le32(h + 20, e->csize);
		le32(h + 24, e->usize);
		le16(h + 28, (unsigned)nlen);
		memset(h + 30, 0, 12); /* extra, comment, disk, internal and external attributes */
		le32(h + 42, e->offset);
		out_put(x, h, sizeof h);
		out_put(x, e->name, nlen);
	}
	if (x->total > UINT32_MAX) {
		x->failed = 1;
		return;
	}
	le32(end, 0x06054b50);
	le16(end + 4, 0);
	le16(end + 6, 0);
	le16(end + 8, (unsigned)x->nent);
	le16(end + 10, (unsigned)x->nent);
	le32(end + 12, (uint32_t)(x->total - start));
	le32(end + 16, (uint32_t)start);
	le16(end + 20, 0);
	out_put(x, end, sizeof end);
}

static void small_entry(struct xlsx *x, const char *name, const char *xml)
{
	entry_begin(x, name);
	xml_str(x, xml);
	entry_end(x);
}

/* --- the workbook ------------------------------------------------------ */

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
#define NS_MAIN "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define NS_REL "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define NS_PKG_REL "http://schemas.openxmlformats.org/package/2006/relationships"
#define CT_OOXML "application/vnd.openxmlformats-officedocument.spreadsheetml."

static const char content_types[] =
	XML_DECL
	"<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
	"<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
	"<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
	"<Override PartName=\"/xl/workbook.xml\" ContentType=\"" CT_OOXML "sheet.main+xml\"/>"
	"<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"" CT_OOXML "worksheet+xml\"/>"
	"<Override PartName=\"/xl/styles.xml\" ContentType=\"" CT_OOXML "styles+xml\"/>"
	"</Types>";

static const char root_rels[] =
	XML_DECL
	"<Relationships xmlns=\"" NS_PKG_REL "\">"
	"<Relationship Id=\"rId1\" Type=\"" NS_REL "/officeDocument\" Target=\"xl/workbook.xml\"/>"
	"</Relationships>";

static const char workbook_rels[] =
	XML_DECL
	"<Relationships xmlns=\"" NS_PKG_REL "\">"
	"<Relationship Id=\"rId1\" Type=\"" NS_REL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
	"<Relationship Id=\"rId2\" Type=\"" NS_REL "/styles\" Target=\"styles.xml\"/>"
	"</Relationships>";

/* The smallest style sheet Excel accepts without a repair prompt: one
 * font, the two fills it insists on, one border, the "Normal" style. */
static const char styles[] =
	XML_DECL
	"<styleSheet xmlns=\"" NS_MAIN "\">"
	"<fonts count=\"1\"><font><sz val=\"11\"/><name val=\"Calibri\"/><family val=\"2\"/></font></fonts>"
	"<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>"
	"<fill><patternFill patternType=\"gray125\"/></fill></fills>"
	"<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"
	"<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>"
	"<cellXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/></cellXfs>"
	"<cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>"
	"</styleSheet>";

/* Excel refuses sheet names that are empty, longer than 31 characters,
 * contain : \ / ? * [ ] or begin or end with an apostrophe, and the name
 * "History". Offending characters become '_', XML-illegal ones are
 * dropped, the name is cut at 31 characters. */
static void clean_sheet_name(const char *in, char *out, size_t outsize)
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t len = strlen((const char *)s), o = 0;
	int units = 0;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(s + i, len - i);
		int u = n == 4 ? 2 : 1;

		if (n == 0 || (n == 1 && s[i] < 0x20) ||
		    (n == 3 && s[i] == 0xef && s[i + 1] == 0xbf && s[i + 2] >= 0xbe)) {
			i += n ? n : 1;
			continue;
		}
		if (units + u > MAX_SHEET_NAME || o + n >= outsize)
			break;
		if (n == 1 && strchr(":\\/?*[]", s[i]))
			out[o] = '_';
		else
			memcpy(out + o, s + i, n);
		o += n;
		i += n;
		units += u;
	}
	out[o] = '\0';
	if (o && out[0] == '\'')
		out[0] = '_';
	if (o && out[o - 1] == '\'')
		out[o - 1] = '_';
	if (o == 0)
		snprintf(out, outsize, "Sheet1");
	else if (strcasecmp(out, "History") == 0)
		snprintf(out, outsize, "History_");
}

struct xlsx *xlsx_new(const char *sheet_name, xlsx_sink sink, void *arg)
{
	struct xlsx *x = calloc(1, sizeof *x);
	char name[MAX_SHEET_NAME * 4 + 1];
	struct tm tm;
	time_t now = time(NULL);

	if (!x)
		return NULL;
	/* Raw deflate (no zlib header): ZIP's method 8. */
	if (deflateInit2(&x->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(x);
		return NULL;
	}
	x->zs_ready = 1;
	x->sink = sink;
	x->arg = arg;
	x->row = 1;
	/* Entry times in UTC: the archive says nothing of a zone. */
	if (gmtime_r(&now, &tm) && tm.tm_year >= 80) {
		x->dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
		x->dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
	} else
		x->dos_date = 1 << 5 | 1; /* 1980-01-01 */

	small_entry(x, "[Content_Types].xml", content_types);
	small_entry(x, "_rels/.rels", root_rels);
	clean_sheet_name(sheet_name, name, sizeof name);
	entry_begin(x, "xl/workbook.xml");
	xml_str(x, XML_DECL "<workbook xmlns=\"" NS_MAIN "\" xmlns:r=\"" NS_REL "\"><sheets><sheet name=\"");
	xml_text(x, name, strlen(name), MAX_SHEET_NAME);
	xml_str(x, "\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>");
	entry_end(x);
	small_entry(x, "xl/_rels/workbook.xml.rels", workbook_rels);
	small_entry(x, "xl/styles.xml", styles);
	/* The sheet stays open until xlsx_finish. */
	entry_begin(x, "xl/worksheets/sheet1.xml");
	xml_str(x, XML_DECL "<worksheet xmlns=\"" NS_MAIN "\"><sheetData>");
	return x;
}

/* Open the row if needed and write '<c r="B7"'; 0, or -1 when the cell is
 * not to be written. */
static int cell_start(struct xlsx *x)
{
	char ref[48], letters[8];
	unsigned c;
	int n = 0;

	if (x->failed)
		return -1;
	if (x->row > MAX_ROWS || x->col >= MAX_COLS) {
		x->overflow = 1;
		return -1;
	}
	if (!x->row_open) {
		snprintf(ref, sizeof ref, "<row r=\"%lu\">", x->row);
		xml_str(x, ref);
		x->row_open = 1;
	}
	/* Column letters: bijective base 26 (A..Z, AA..AZ, ..., XFD). */
	for (c = x->col + 1; c; c = (c - 1) / 26)
		letters[n++] = (char)('A' + (c - 1) % 26);
	xml_str(x, "<c r=\"");
	while (n)
		xml_put(x, &letters[--n], 1);
	snprintf(ref, sizeof ref, "%lu\"", x->row);
	xml_str(x, ref);
	x->col++;
	return 0;
}

void xlsx_text(struct xlsx *x, const char *utf8, size_t len)
{
	if (!x)
		return;
	if (!utf8 || len == 0) {
		/* No cell: a blank, not a text of length 0, which Excel counts as
		 * a value (COUNTA, ISBLANK). The column still advances. */
		x->col++;
		return;
	}
	if (cell_start(x) < 0)
		return;
	xml_str(x, " t=\"inlineStr\"><is><t xml:space=\"preserve\">");
	xml_text(x, utf8, len, MAX_CELL_UNITS);
	xml_str(x, "</t></is></c>");
}

/* The shortest of %.15g, %.16g and %.17g that reads back as the same
 * double: 0.1 stays "0.1", not "0.10000000000000001". */
static void format_number(double v, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	for (char *p = buf; *p; p++)
		if (*p == ',')
			*p = '.'; /* a locale's decimal comma; XML wants a point */
}

void xlsx_number(struct xlsx *x, double v)
{
	char num[40];

	if (!x || cell_start(x) < 0)
		return;
	if (!isfinite(v)) {
		/* A spreadsheet number cannot be NaN or infinite: Excel's own
		 * error value says so instead. */
		xml_str(x, " t=\"e\"><v>#NUM!</v></c>");
		return;
	}
	format_number(v == 0 ? 0.0 : v, num, sizeof num); /* no "-0" */
	xml_str(x, "><v>");
	xml_str(x, num);
	xml_str(x, "</v></c>");
}

void xlsx_end_row(struct xlsx *x)
{
	if (!x)
		return;
	if (x->row_open && !x->failed)
		xml_str(x, "</row>");
	/* An empty row writes nothing: with r= on every row, the gap is the row. */
	x->row_open = 0;
	x->col = 0;
	x->row++;
}

int xlsx_finish(struct xlsx *x)
{
	int rc;

	if (!x)
		return -1;
	if (x->row_open)
		xlsx_end_row(x);
	if (!x->failed)
		xml_str(x, "</sheetData></worksheet>");
	entry_end(x);
	central_directory(x);
	out_flush(x);
	rc = x->failed || x->overflow ? -1 : 0;
	if (x->zs_ready)
		deflateEnd(&x->zs);
	free(x);
	return rc;
}
