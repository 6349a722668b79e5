/* xlsx: a streaming writer of Office Open XML spreadsheets (.xlsx) with one
 * sheet of text and number cells: a ZIP archive (deflate via zlib, with
 * data descriptors so nothing is buffered beyond the current row) holding
 * the few XML parts Excel, LibreOffice and openpyxl need. Cells are inline
 * strings (UTF-8, XML-escaped; characters XML forbids are dropped), so no
 * shared-string table has to be kept in memory: thousands of rows stream
 * out in constant memory (about 300 KB per workbook, most of it zlib's).
 * Text cells are never formulas, so no formula-injection guard is needed. */
#ifndef GH_XLSX_H
#define GH_XLSX_H

#include <stddef.h>

/* Called with chunks of the archive (up to 16 KB, from any of the calls
 * below, as buffers fill); returns 0, or -1 to stop: after a failure the
 * sink is not called again and the remaining calls only do cleanup. */
typedef int (*xlsx_sink)(void *arg, const void *data, size_t len);

struct xlsx;

/* Start a workbook with one sheet called sheet_name; its bytes go to sink.
 * NULL only when out of memory (the other functions accept NULL and do
 * nothing; xlsx_finish(NULL) returns -1). The name is made acceptable to
 * Excel: : \ / ? * [ ] become _, a leading or trailing ' becomes _, it is
 * cut at 31 characters, and an empty name becomes "Sheet1". */
struct xlsx *xlsx_new(const char *sheet_name, xlsx_sink sink, void *arg);
/* Cells of the current row, left to right; xlsx_end_row closes the row.
 * Text: an empty one leaves the cell blank (no cell); invalid UTF-8, C0
 * controls other than tab, LF and CR, and U+FFFE/U+FFFF are dropped; a
 * literal "_xHHHH_" is escaped so Excel shows it as written; text beyond
 * Excel's 32,767 characters per cell is cut. Numbers: the shortest form
 * that reads back as the same double; NaN and infinities become Excel's
 * #NUM! error value. Cells beyond Excel's grid (1,048,576 rows, 16,384
 * columns) are not written, and xlsx_finish then returns -1. */
void xlsx_text(struct xlsx *x, const char *utf8, size_t len);
void xlsx_number(struct xlsx *x, double v);
void xlsx_end_row(struct xlsx *x);
/* Finish the archive (central directory) and free. Returns 0, or -1 if the
 * sink failed at any point (or cells were dropped, see above; the archive
 * is complete all the same). An open row is closed first. */
int xlsx_finish(struct xlsx *x);

#endif
