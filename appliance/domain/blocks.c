#include "blocks.h"

#include "alerts.h"
#include "audit.h"
#include "core/db.h"
#include "web/abuse.h"

#include <stdio.h>
#include <time.h>

int block_add(const char *addr, const char *reason, long long until_s)
{
	sqlite3_stmt *st;
	cJSON *details;
	int rc, own = sqlite3_get_autocommit(db_get());

	abuse_block(addr, until_s * 1000);
	if (own && db_begin() < 0)
		return -1;
	st = db_stmt("INSERT OR REPLACE INTO blocked_addresses (addr, reason, blocked_at, until) "
		     "VALUES (?, ?, unixepoch(), ?)");
	if (!st)
		goto fail;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, until_s);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		goto fail;
	details = cJSON_CreateObject();
	cJSON_AddStringToObject(details, "address", addr);
	cJSON_AddStringToObject(details, "reason", reason);
	cJSON_AddNumberToObject(details, "until", (double)until_s);
	struct audit_event ev = {0, "system", "abuse", addr, "abuse.block", addr, "ok", details, NULL, 0};
	rc = audit_append(&ev);
	char subject[160];
	snprintf(subject, sizeof subject, "address %s blocked: %s", addr, reason);
	alert_raise_keyed("address_blocked", addr, "warning", 0, subject, details);
	cJSON_Delete(details);
	if (rc < 0 || (own && db_commit() < 0))
		goto fail;
	return 0;
fail:
	if (own)
		db_rollback();
	return -1;
}

int block_remove(const char *addr)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM blocked_addresses WHERE addr = ?");
	int rc;

	abuse_unblock(addr);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db_get()) ? 0 : 1) : -1;
	sqlite3_reset(st);
	return rc;
}

int block_list(cJSON *out)
{
	sqlite3_stmt *st = db_stmt("SELECT addr, reason, blocked_at, until FROM blocked_addresses "
				   "WHERE until > unixepoch() ORDER BY blocked_at DESC");
	int n = 0;

	if (!st)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		char when[32];
		time_t t = (time_t)sqlite3_column_int64(st, 3);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "address", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddStringToObject(o, "reason", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "until", when);
		cJSON_AddItemToArray(out, o);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int blocks_load(void)
{
	sqlite3_stmt *st = db_stmt("SELECT addr, until FROM blocked_addresses WHERE until > unixepoch()");
	int n = 0;

	if (!st)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		abuse_block((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1) * 1000);
		n++;
	}
	sqlite3_reset(st);
	return n;
}
