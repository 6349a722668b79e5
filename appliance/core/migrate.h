/* migrate: the database schema as numbered SQL files (schema/NNNN_name.sql),
 * embedded at build time and applied in order at start, each in its own
 * transaction and recorded in schema_migrations with its SHA-256. A database
 * written by a newer program, or whose recorded migrations differ from the
 * embedded ones, is refused rather than guessed at. */
#ifndef GH_MIGRATE_H
#define GH_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations_table[];
extern const unsigned migrations_count;

/* Apply every pending migration. Returns the number applied, or -1 with the
 * reason in err. */
int migrate_apply(sqlite3 *db, char *err, size_t errlen);

/* The same over any table, for tests. */
int migrate_apply_table(sqlite3 *db, const struct migration *table, unsigned count, char *err,
			size_t errlen);

/* Current schema version of db (0 if none), or -1 on error. */
int migrate_current(sqlite3 *db);

/* Highest version this program knows. */
int migrate_latest(void);

#endif
