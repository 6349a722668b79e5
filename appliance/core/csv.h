/* csv: RFC 4180 CSV, read and written in a streaming way with bounded
 * memory. Reading accepts UTF-8 with or without a BOM, CRLF or LF line ends,
 * quoted fields with "" escapes and line breaks inside quotes. Every record
 * reports the line it started on, so import errors can name it. */
#ifndef GH_CSV_H
#define GH_CSV_H

#include <stddef.h>

#define CSV_MAX_FIELDS 64
#define CSV_MAX_RECORD (64 * 1024) /* bytes in one record; longer is an error */

struct csv_reader;

/* Read from a memory buffer (the request body), which is not copied and
 * must outlive the reader. A UTF-8 BOM at its very start is skipped. The
 * reader allocates one buffer of about CSV_MAX_RECORD bytes, whatever len
 * is. NULL only when out of memory. */
struct csv_reader *csv_reader_new(const char *data, size_t len);
void csv_reader_free(struct csv_reader *r);

/* Next record. Returns the number of fields (>= 1), 0 at the end, or -1 on
 * an error (csv_error names it and the line: unterminated quote, record too
 * long, too many fields, NUL byte, invalid UTF-8). fields[i] point into the
 * reader's buffer and stay valid until the next call. fields and lens must
 * have room for CSV_MAX_FIELDS entries.
 *
 * Details: each field is also NUL-terminated (fields[i][lens[i]] == '\0').
 * Line ends are CRLF, LF or a lone CR; the last record may lack one; a
 * blank line is skipped, not an empty record ("" is a record of one empty
 * field). A record's length is its raw bytes, quotes and commas included,
 * line end excluded. Strict RFC 4180 otherwise: a quote inside an
 * unquoted field, or anything but a comma or line end after a closing
 * quote (even a space), is an error. UTF-8 must be well-formed (no
 * overlongs, surrogates or code points above U+10FFFF). An error is
 * final: later calls return -1 too. */
int csv_next(struct csv_reader *r, const char **fields, size_t *lens);
/* The line number (1-based) where the last record started. Lines are
 * physical lines: those inside quoted fields count. */
int csv_line(const struct csv_reader *r);
/* "" before any error; then e.g. "line 12: unterminated quoted field".
 * The line is where the fault is (a bad byte's own line; for an
 * unterminated quote, the line where the quote opened; for a record too
 * long, the record's first line), so within a multi-line record it may be
 * later than csv_line. Messages name fields 1-based ("... in field 3"). */
const char *csv_error(const struct csv_reader *r);

/* Writing: append one field, quoted when needed (and, against formula
 * injection in spreadsheets, prefixed with ' when it starts with = + - @
 * or a tab/CR). csv_end_record appends CRLF. The sink is called with
 * chunks; it returns 0, or -1 to stop.
 *
 * Details: quoted when the value contains a comma, quote, CR or LF, starts
 * or ends with a space, or starts with U+FEFF; quotes are doubled. The
 * formula guard applies to every such value, numbers like "-12" or
 * "+81 3 1234 5678" included (telling harmless numbers from crafted
 * formulas is where such guards go wrong), so an importer reading our own
 * exports back should drop a leading ' that is followed by one of those
 * characters. An empty first field is written as "" so that a record of
 * one empty field is not a blank line. The writer adds no BOM: for Excel,
 * send "\xEF\xBB\xBF" through the sink first. Chunks are at most
 * sizeof buf bytes, sent when the buffer is full and at csv_flush; after
 * the sink has failed once it is not called again. The fields of struct
 * csv_writer are the writer's own: callers use only the functions. */
typedef int (*csv_sink)(void *arg, const char *data, size_t len);
struct csv_writer {
	csv_sink sink;
	void *arg;
	int fields_in_record;
	int failed;
	char buf[8192];
	size_t used;
};
void csv_writer_init(struct csv_writer *w, csv_sink sink, void *arg);
void csv_field(struct csv_writer *w, const char *value, size_t len);
void csv_end_record(struct csv_writer *w);
/* Flush what is buffered; returns 0, or -1 if the sink failed at any point. */
int csv_flush(struct csv_writer *w);

#endif
