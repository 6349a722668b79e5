/* apply_rows: the rows of a checked, decrypted changeset body into this
 * appliance's tables, inside the caller's write transaction. Part of
 * apply.c (see apply.h); separate so that each side's tables are handled
 * in one place. */
#ifndef GH_SYNC_APPLY_ROWS_H
#define GH_SYNC_APPLY_ROWS_H

#include "apply.h"

/* The stream a section of table belongs to, for a changeset of this
 * direction ('C' or 'S'), or NULL when the receiver takes no such table. */
const char *sync_stream_of_table(char direction, const char *table);

/* Apply every section whose stream is_new says is new (is_new: index in
 * sync_streams_received order). 0, or -1 with err. */
int sync_rows_apply(const struct sync_peer *p, const unsigned char *body, size_t len, const int *is_new,
		    struct sync_result *res, char *err, size_t errlen);

#endif
