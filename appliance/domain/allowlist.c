#include "allowlist.h"

#include "core/cidr.h"
#include "core/db.h"

#include <stdio.h>
#include <string.h>

/* The lists are small (a few ranges) and read on every login and request,
 * from the thread's cached statement; no cache of our own to go stale. */
int allowlist_permits(int64_t scope, const char *addr)
{
	sqlite3_stmt *st = db_stmt("SELECT cidr FROM allowlist WHERE coalesce(tenant_id, 0) = ?");
	int entries = 0, ok = 0;

	if (!st)
		return 0; /* fail closed */
	sqlite3_bind_int64(st, 1, scope);
	while (!ok && sqlite3_step(st) == SQLITE_ROW) {
		struct cidr c;
		char why[100];
		entries++;
		if (cidr_parse((const char *)sqlite3_column_text(st, 0), &c, why, sizeof why) == 0 &&
		    cidr_contains(&c, addr))
			ok = 1;
	}
	sqlite3_reset(st);
	return entries == 0 || ok;
}

int allowlist_add(int64_t scope, const char *cidr, const char *note, int64_t *id, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	struct cidr c;
	char canon[64];
	int rc;

	if (cidr_parse(cidr, &c, why, whylen) < 0)
		return -1;
	cidr_format(&c, canon, sizeof canon);
	/* Checked here, not by a constraint: UNIQUE (tenant_id, cidr) does not
	 * see duplicates in the system list, whose tenant_id is NULL. */
	st = db_stmt("SELECT count(*) FROM allowlist WHERE coalesce(tenant_id, 0) = ? AND cidr = ?");
	if (st) {
		sqlite3_bind_int64(st, 1, scope);
		sqlite3_bind_text(st, 2, canon, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		sqlite3_reset(st);
		if (rc > 0) {
			snprintf(why, whylen, "%s is already on the list", canon);
			return -1;
		}
	}
	st = db_stmt("INSERT INTO allowlist (tenant_id, cidr, note, created_at) VALUES (?, ?, ?, unixepoch())");
	if (!st) {
		snprintf(why, whylen, "database unavailable");
		return -1;
	}
	if (scope)
		sqlite3_bind_int64(st, 1, scope);
	sqlite3_bind_text(st, 2, canon, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, note ? note : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(why, whylen, (rc & 0xff) == SQLITE_CONSTRAINT ? "is already on the list" : "cannot be stored");
		return -1;
	}
	*id = sqlite3_last_insert_rowid(db_get());
	return 0;
}

int allowlist_remove(int64_t scope, int64_t id)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM allowlist WHERE id = ? AND coalesce(tenant_id, 0) = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, scope);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

int allowlist_list(int64_t scope, cJSON *out)
{
	sqlite3_stmt *st = db_stmt("SELECT id, cidr, note FROM allowlist WHERE coalesce(tenant_id, 0) = ? ORDER BY id");
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, scope);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "cidr", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "note", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddItemToArray(out, o);
		n++;
	}
	sqlite3_reset(st);
	return n;
}
