/* csv: an RFC 4180 reader over a memory buffer and a buffered writer.
 *
 * The reader is strict where leniency would hide a broken file (a quote in
 * an unquoted field, text after a closing quote, an unterminated quote,
 * invalid UTF-8) and lenient only about what spreadsheet programs really
 * produce (a UTF-8 BOM, LF or lone CR line ends, a last record without a
 * line end, blank lines). Its memory is one buffer of CSV_MAX_RECORD + 1
 * bytes, whatever the size of the input. */
#include "csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csv_reader {
	const unsigned char *data;
	size_t len, pos;
	int line;       /* physical line of data[pos], 1-based */
	int rec_line;   /* line where the last record started */
	int failed;     /* an error is sticky: the position is no longer trustworthy */
	char err[128];
	/* Unescaped fields, each followed by a NUL. Field bytes never outnumber
	 * the raw record bytes that produced them, and each field's NUL is paid
	 * for by the comma after it, except the last one: hence the + 1. */
	char buf[CSV_MAX_RECORD + 1];
};

struct csv_reader *csv_reader_new(const char *data, size_t len)
{
	struct csv_reader *r = malloc(sizeof *r);

	if (!r)
		return NULL;
	r->data = (const unsigned char *)(data ? data : "");
	r->len = data ? len : 0;
	r->pos = 0;
	r->line = 1;
	r->rec_line = 0;
	r->failed = 0;
	r->err[0] = '\0';
	if (r->len >= 3 && r->data[0] == 0xef && r->data[1] == 0xbb && r->data[2] == 0xbf)
		r->pos = 3;
	return r;
}

void csv_reader_free(struct csv_reader *r)
{
	free(r);
}

int csv_line(const struct csv_reader *r)
{
	return r->rec_line;
}

const char *csv_error(const struct csv_reader *r)
{
	return r->err;
}

__attribute__((format(printf, 3, 4))) static int fail(struct csv_reader *r, int line, const char *fmt, ...)
{
	char msg[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof r->err, "line %d: %s", line, msg);
	r->failed = 1;
	return -1;
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes
 * available), or 0. Overlong forms, UTF-16 surrogates (U+D800..DFFF) and
 * code points above U+10FFFF are not well-formed (RFC 3629, Unicode
 * Table 3-7). */
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
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* Copy the character at r->pos (one byte, or a whole UTF-8 sequence) into
 * the record buffer. Returns 0, or -1 with the error set. start is where
 * the record's raw bytes began, so the record length is checked here, on
 * every byte, before anything is written. */
static int take_char(struct csv_reader *r, size_t start, size_t *out, int field)
{
	const unsigned char *s = r->data + r->pos;
	size_t n = 1;

	if (*s == '\0')
		return fail(r, r->line, "NUL byte in field %d", field);
	if (*s >= 0x80) {
		n = utf8_len(s, r->len - r->pos);
		if (n == 0)
			return fail(r, r->line, "invalid UTF-8 in field %d", field);
	}
	if (r->pos + n - start > CSV_MAX_RECORD || *out + n >= sizeof r->buf)
		return fail(r, r->rec_line, "record longer than %d bytes", CSV_MAX_RECORD);
	memcpy(r->buf + *out, s, n);
	*out += n;
	r->pos += n;
	return 0;
}

/* A quoted field; r->pos is on the opening quote. CR and LF inside are
 * field content and count as physical lines (CRLF once). */
static int quoted_field(struct csv_reader *r, size_t start, size_t *out, int field)
{
	int open_line = r->line;

	r->pos++;
	for (;;) {
		if (r->pos >= r->len)
			return fail(r, open_line, "unterminated quoted field");
		unsigned char c = r->data[r->pos];
		if (c == '"') {
			if (r->pos + 1 < r->len && r->data[r->pos + 1] == '"') {
				r->pos++; /* the first quote of "" is the escape */
				if (take_char(r, start, out, field) < 0)
					return -1;
				continue;
			}
			r->pos++;
			break;
		}
		if (c == '\n' || (c == '\r' && !(r->pos + 1 < r->len && r->data[r->pos + 1] == '\n')))
			r->line++;
		if (take_char(r, start, out, field) < 0)
			return -1;
	}
	if (r->pos < r->len) {
		unsigned char c = r->data[r->pos];
		if (c != ',' && c != '\r' && c != '\n')
			return fail(r, r->line, "unexpected text after the closing quote of field %d", field);
	}
	return 0;
}

static int plain_field(struct csv_reader *r, size_t start, size_t *out, int field)
{
	while (r->pos < r->len) {
		unsigned char c = r->data[r->pos];
		if (c == ',' || c == '\r' || c == '\n')
			break;
		if (c == '"')
			return fail(r, r->line, "quote in unquoted field %d", field);
		if (take_char(r, start, out, field) < 0)
			return -1;
	}
	return 0;
}

/* Consume one line end (CRLF, LF or a lone CR) at r->pos, if any. */
static void skip_line_end(struct csv_reader *r)
{
	if (r->pos < r->len && r->data[r->pos] == '\r') {
		r->pos++;
		if (r->pos < r->len && r->data[r->pos] == '\n')
			r->pos++;
		r->line++;
	} else if (r->pos < r->len && r->data[r->pos] == '\n') {
		r->pos++;
		r->line++;
	}
}

int csv_next(struct csv_reader *r, const char **fields, size_t *lens)
{
	size_t start, out = 0;
	int n = 0;

	if (r->failed)
		return -1;
	/* Blank lines between records are not records. */
	while (r->pos < r->len && (r->data[r->pos] == '\r' || r->data[r->pos] == '\n'))
		skip_line_end(r);
	if (r->pos >= r->len)
		return 0;
	r->rec_line = r->line;
	start = r->pos;
	for (;;) {
		size_t begin = out;
		int rc;

		if (n == CSV_MAX_FIELDS)
			return fail(r, r->line, "more than %d fields", CSV_MAX_FIELDS);
		if (r->pos < r->len && r->data[r->pos] == '"')
			rc = quoted_field(r, start, &out, n + 1);
		else
			rc = plain_field(r, start, &out, n + 1);
		if (rc < 0)
			return -1;
		/* Room for the NUL: see the comment on buf. */
		r->buf[out++] = '\0';
		fields[n] = r->buf + begin;
		lens[n] = out - 1 - begin;
		n++;
		if (r->pos < r->len && r->data[r->pos] == ',') {
			if (r->pos + 1 - start > CSV_MAX_RECORD)
				return fail(r, r->rec_line, "record longer than %d bytes", CSV_MAX_RECORD);
			r->pos++;
			continue;
		}
		skip_line_end(r);
		return n;
	}
}

/* --- writing ------------------------------------------------------------ */

void csv_writer_init(struct csv_writer *w, csv_sink sink, void *arg)
{
	memset(w, 0, sizeof *w);
	w->sink = sink;
	w->arg = arg;
}

/* Hand the buffer to the sink. After a failure nothing more is sent (a
 * sink that lost bytes must not get later ones as if nothing happened),
 * but the buffer is still emptied so writing can go on harmlessly. */
static void drain(struct csv_writer *w)
{
	if (w->used && !w->failed && (!w->sink || w->sink(w->arg, w->buf, w->used) != 0))
		w->failed = 1;
	w->used = 0;
}

static void put(struct csv_writer *w, const char *s, size_t n)
{
	while (n) {
		size_t room = sizeof w->buf - w->used, k = n < room ? n : room;
		memcpy(w->buf + w->used, s, k);
		w->used += k;
		s += k;
		n -= k;
		if (w->used == sizeof w->buf)
			drain(w);
	}
}

void csv_field(struct csv_writer *w, const char *value, size_t len)
{
	int quote = 0, guard;

	if (!value)
		len = 0;
	if (w->fields_in_record > 0)
		put(w, ",", 1);
	w->fields_in_record++;
	if (len == 0) {
		/* A record of one empty field would be a blank line, which readers
		 * (ours included) skip; quoting the first field keeps it. */
		if (w->fields_in_record == 1)
			put(w, "\"\"", 2);
		return;
	}
	/* Formula-injection guard (OWASP "CSV injection"): a spreadsheet takes a
	 * cell starting with one of these as a formula. Always prefixed, also
	 * for values such as "-12" or "+81 3 1234 5678", because telling safe
	 * numbers from crafted ones ("-2+3+cmd|...") is exactly the guessing
	 * that goes wrong. */
	{
		/* Also a value that already looks guarded ('=1, ''=1, ...), so
		 * that the importer's "drop one ' before =+-@" is exact. memchr,
		 * not strchr, which would match a leading NUL byte. */
		size_t q = 0;
		while (q < len && value[q] == '\'')
			q++;
		guard = q < len && memchr("=+-@\t\r", value[q], 6) != NULL;
	}
	/* Quoted also: edge spaces, which some readers trim, and a leading
	 * U+FEFF, which at the start of a file would pass for a BOM. */
	if (value[0] == ' ' || value[len - 1] == ' ' ||
	    (len >= 3 && memcmp(value, "\xef\xbb\xbf", 3) == 0))
		quote = 1;
	for (size_t i = 0; i < len && !quote; i++)
		if (value[i] == ',' || value[i] == '"' || value[i] == '\r' || value[i] == '\n')
			quote = 1;
	if (quote)
		put(w, "\"", 1);
	if (guard)
		put(w, "'", 1);
	if (!quote) {
		put(w, value, len);
		return;
	}
	for (size_t i = 0, run = 0; i <= len; i++) {
		if (i == len || value[i] == '"') {
			put(w, value + run, i - run + (i < len)); /* up to and including the quote */
			if (i < len)
				put(w, "\"", 1);
			run = i + 1;
		}
	}
	put(w, "\"", 1);
}

void csv_end_record(struct csv_writer *w)
{
	put(w, "\r\n", 2);
	w->fields_in_record = 0;
}

int csv_flush(struct csv_writer *w)
{
	drain(w);
	return w->failed ? -1 : 0;
}
