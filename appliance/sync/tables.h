/* tables: what a central sends its sites, described once for the side
 * that builds changesets (outbox.c) and the side that applies them
 * (apply.c). The site applies nothing else from the central: a section of
 * a table not described here, or with a column not listed, is refused.
 *
 * Each described table is a thing of sync_log (entity = table name) with
 * the columns a site stores, the first two always id and tenant_id. A
 * child table (a person's group memberships, a schedule's windows, a
 * holiday set's dates, a level's doors) travels with its parent, as all of
 * the parent's rows at once ('R' then the rows). */
#ifndef GH_SYNC_TABLES_H
#define GH_SYNC_TABLES_H

#include <stddef.h>

struct sync_child {
	const char *table;
	const char *const *cols; /* the first names the parent */
	int ncols;
	/* SELECT of the rows of parent ?1 (in cols order), with ?2 the
	 * pairing's site; the site filter drops doors of other sites. */
	const char *select_sql;
};

struct sync_table {
	const char *table;       /* also the sync_log entity */
	const char *const *cols; /* id, tenant_id, ... */
	int ncols;
	const char *site_col;    /* rows only of the pairing's site (else deleted there), or NULL */
	int only_site_row;       /* sites: only the pairing's own site row */
	const struct sync_child *child;
	/* On the site, columns the central does not own that an insert must
	 * fill (e.g. a terminal's status "pending"), as "col, col" and
	 * "value, value"; NULL: none. */
	const char *insert_cols, *insert_values;
	/* Unique constraints besides the id, as UPDATEs that move a stale
	 * holder out of the way before a row takes its value (?1 the new
	 * row's id, then the columns named in unique_args). NULL: none. */
	const char *unique_fix;
	const char *const *unique_args;
	int nunique;
};

extern const struct sync_table sync_tables[];
extern const size_t sync_tables_count;

const struct sync_table *sync_table_find(const char *table);
const struct sync_table *sync_table_of_child(const char *child);
/* Column index of name in the table's (or child's) column list, or -1. */
int sync_col_index(const char *const *cols, int ncols, const char *name);

/* The sync_log entities the "changes" stream carries, as an SQL list (a
 * macro, so that queries using it stay string literals). */
#define SYNC_ENTITIES_SQL                                                                              \
	"'sites', 'holiday_sets', 'schedules', 'access_groups', 'devices', 'doors', 'access_levels', " \
	"'people', 'credentials'"

#endif
