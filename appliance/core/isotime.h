/* isotime: instants as the API and the command line write them, in UTC to
 * the second: "2026-11-26T06:21:12Z". One place, so every answer agrees. */
#ifndef GH_ISOTIME_H
#define GH_ISOTIME_H

#include <cJSON.h>
#include <sqlite3.h>

#define ISO_UTC_SIZE 32

/* out: the instant unix_s (seconds). */
void iso_utc(long long unix_s, char out[ISO_UTC_SIZE]);

/* o.name = the instant, or null when unix_s <= 0 (it never happened). */
void json_add_utc(cJSON *o, const char *name, long long unix_s);

/* o.name = the column's instant (seconds, or milliseconds when ms), or
 * null when the column is NULL. */
void json_add_utc_column(cJSON *o, const char *name, sqlite3_stmt *st, int col, int ms);

#endif
