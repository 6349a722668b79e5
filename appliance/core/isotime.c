#include "isotime.h"

#include <time.h>

void iso_utc(long long unix_s, char out[ISO_UTC_SIZE])
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, ISO_UTC_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void json_add_utc(cJSON *o, const char *name, long long unix_s)
{
	char when[ISO_UTC_SIZE];

	if (unix_s <= 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	iso_utc(unix_s, when);
	cJSON_AddStringToObject(o, name, when);
}

void json_add_utc_column(cJSON *o, const char *name, sqlite3_stmt *st, int col, int ms)
{
	char when[ISO_UTC_SIZE];

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	iso_utc(sqlite3_column_int64(st, col) / (ms ? 1000 : 1), when);
	cJSON_AddStringToObject(o, name, when);
}
