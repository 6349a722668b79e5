/* The audit log on a real SQLite file: appending inside and outside a
 * caller's transaction, the hash chain and signed heads, every kind of
 * tampering named at the right entry, sealed personal values, listing. */
#include "t.h"

#include "domain/audit.h"
#include "vault_fixture.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[400];

static int fresh_store(const char *name)
{
	snprintf(dir, sizeof dir, "%s/%s", t_tmpdir(), name);
	return store_open(dir);
}

static int append(int64_t tenant, const char *actor, const char *action, const char *target,
		  const char *outcome)
{
	struct audit_event ev = {
		.tenant = tenant,
		.actor_type = "admin",
		.actor_id = actor,
		.source = "127.0.0.1",
		.action = action,
		.target = target,
		.outcome = outcome,
	};
	return audit_append(&ev);
}

static long long scalar(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int exec(const char *sql)
{
	return sqlite3_exec(db_get(), sql, NULL, NULL, NULL);
}

static void uid_of(int64_t id, char *out, size_t len)
{
	sqlite3_stmt *st;

	out[0] = '\0';
	sqlite3_prepare_v2(db_get(), "SELECT uid FROM audit_log WHERE id = ?", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void append_n(int n)
{
	char target[32];

	for (int i = 0; i < n; i++) {
		snprintf(target, sizeof target, "admin:%d", i + 1);
		CHECK_INT(append(1, "admin:1", "admin.update", target, "ok"), 0);
	}
}

static void verify_broken_at(int64_t id, const char *reason_part)
{
	struct audit_report r;
	char uid[40];

	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 0);
	CHECK_INT(r.first_bad_id, id);
	uid_of(id, uid, sizeof uid);
	CHECK_STR(r.first_bad_uid, uid);
	CHECK_CONTAINS(r.reason, reason_part);
}

TEST(audit_append_inside_and_outside_a_transaction)
{
	struct audit_report r;
	struct audit_event bad = {.tenant = 1, .actor_type = "admin", .actor_id = "a", .source = "cli",
				  .action = "x.y", .outcome = "maybe"};

	CHECK_INT(fresh_store("tx"), 0);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 0);
	CHECK_INT(r.unsigned_tail, 0);

	/* Outside: its own transaction, committed. */
	CHECK_INT(append(0, "cli:root", "admin.create", "admin:1", "ok"), 0);
	CHECK_INT(sqlite3_get_autocommit(db_get()), 1);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log"), 1);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log WHERE tenant_id IS NULL"), 1);

	/* Inside the caller's transaction: rolled back with it. */
	CHECK_INT(db_begin(), 0);
	CHECK_INT(append(1, "admin:1", "admin.update", "admin:2", "ok"), 0);
	CHECK_INT(sqlite3_get_autocommit(db_get()), 0); /* still the caller's */
	CHECK_INT(scalar("SELECT count(*) FROM audit_log"), 2);
	db_rollback();
	CHECK_INT(scalar("SELECT count(*) FROM audit_log"), 1);

	/* Inside, committed with the caller's change. */
	CHECK_INT(db_begin(), 0);
	CHECK_INT(exec("CREATE TABLE side (v INTEGER)"), SQLITE_OK);
	CHECK_INT(exec("INSERT INTO side VALUES (1)"), SQLITE_OK);
	CHECK_INT(append(1, "admin:1", "admin.update", "admin:2", "ok"), 0);
	CHECK_INT(append(1, "admin:1", "admin.delete", "admin:2", "ok"), 0);
	CHECK_INT(db_commit(), 0);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log"), 3);
	CHECK_INT(scalar("SELECT max(id) FROM audit_log"), 3);
	CHECK_INT(scalar("SELECT count(*) FROM side"), 1);

	/* A refused entry (bad outcome) leaves nothing, and inside a caller's
	 * transaction leaves that transaction open and usable. */
	CHECK_INT(audit_append(&bad), -1);
	CHECK_INT(sqlite3_get_autocommit(db_get()), 1);
	CHECK_INT(db_begin(), 0);
	CHECK_INT(audit_append(&bad), -1);
	CHECK_INT(sqlite3_get_autocommit(db_get()), 0);
	CHECK_INT(append(1, "admin:1", "admin.update", "admin:3", "ok"), 0);
	CHECK_INT(db_commit(), 0);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log"), 4);

	/* Entries are well formed. */
	CHECK_INT(scalar("SELECT count(*) FROM audit_log WHERE length(uid) = 32 AND uid NOT GLOB '*[^0-9a-f]*'"), 4);
	CHECK_INT(scalar("SELECT count(DISTINCT uid) FROM audit_log"), 4);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log WHERE details = '{}' AND sealed IS NULL"), 4);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log WHERE length(hash) = 32 AND length(prev_hash) = 32"), 4);
	CHECK_INT(scalar("SELECT prev_hash = zeroblob(32) FROM audit_log WHERE id = 1"), 1);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log a JOIN audit_log b ON b.id = a.id + 1 WHERE b.prev_hash = a.hash"), 3);
	CHECK(scalar("SELECT min(at) FROM audit_log") > 1700000000000LL);

	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 4);
	CHECK_INT(r.anchors, 0);
	CHECK_INT(r.unsigned_tail, 4);
	CHECK_INT(r.first_bad_id, 0);
	store_close();
}

TEST(audit_sign_head_only_when_it_moved)
{
	struct audit_report r;

	CHECK_INT(fresh_store("sign"), 0);
	CHECK_INT(audit_sign_head(), 0); /* nothing to sign */
	append_n(3);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(audit_sign_head(), 0);
	CHECK_INT(scalar("SELECT count(*) FROM audit_anchors WHERE kind = 'head' AND entry_id = 3"), 1);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 3);
	CHECK_INT(r.anchors, 1);
	CHECK_INT(r.unsigned_tail, 0);

	append_n(2);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.unsigned_tail, 2);
	/* Inside a caller's transaction too. */
	CHECK_INT(db_begin(), 0);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(sqlite3_get_autocommit(db_get()), 0);
	CHECK_INT(db_commit(), 0);
	CHECK_INT(audit_sign_head(), 0);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 5);
	CHECK_INT(r.anchors, 2);
	CHECK_INT(r.unsigned_tail, 0);
	store_close();
}

TEST(audit_edited_entry_is_named)
{
	CHECK_INT(fresh_store("edit"), 0);
	append_n(5);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(exec("UPDATE audit_log SET action = 'admin.view' WHERE id = 3"), SQLITE_OK);
	verify_broken_at(3, "hash does not match its content (entry altered)");
	store_close();

	/* Any column: the time, the tenant, a NULL made empty. */
	CHECK_INT(fresh_store("edit2"), 0);
	append_n(4);
	CHECK_INT(exec("UPDATE audit_log SET at = at + 1 WHERE id = 2"), SQLITE_OK);
	verify_broken_at(2, "entry altered");
	CHECK_INT(exec("UPDATE audit_log SET at = at - 1 WHERE id = 2"), SQLITE_OK);
	CHECK_INT(exec("UPDATE audit_log SET tenant_id = NULL WHERE id = 4"), SQLITE_OK);
	verify_broken_at(4, "entry altered");
	CHECK_INT(exec("UPDATE audit_log SET tenant_id = 1 WHERE id = 4"), SQLITE_OK);
	CHECK_INT(exec("UPDATE audit_log SET sealed = x'' WHERE id = 1"), SQLITE_OK);
	verify_broken_at(1, "entry altered");
	CHECK_INT(exec("UPDATE audit_log SET sealed = NULL WHERE id = 1"), SQLITE_OK);
	struct audit_report r;
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	/* The stored hash itself. */
	CHECK_INT(exec("UPDATE audit_log SET hash = randomblob(32) WHERE id = 2"), SQLITE_OK);
	verify_broken_at(2, "entry altered");
	store_close();
}

TEST(audit_removed_middle_entry_names_the_next)
{
	CHECK_INT(fresh_store("del"), 0);
	append_n(6);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(exec("DELETE FROM audit_log WHERE id = 3"), SQLITE_OK);
	verify_broken_at(4, "does not link to entry 2: entry 3 is missing (entry removed)");
	CHECK_INT(exec("DELETE FROM audit_log WHERE id = 4"), SQLITE_OK);
	verify_broken_at(5, "entries 3..4 are missing");
	store_close();

	/* Reordered: two entries swap ids. */
	CHECK_INT(fresh_store("swap"), 0);
	append_n(5);
	CHECK_INT(exec("UPDATE audit_log SET id = 100 WHERE id = 2;"
		       "UPDATE audit_log SET id = 2 WHERE id = 3;"
		       "UPDATE audit_log SET id = 3 WHERE id = 100;"), SQLITE_OK);
	verify_broken_at(2, "does not link to entry 1 (entry removed, reordered or rewritten)");
	store_close();

	/* The first entries removed. */
	CHECK_INT(fresh_store("head"), 0);
	append_n(4);
	CHECK_INT(exec("DELETE FROM audit_log WHERE id <= 2"), SQLITE_OK);
	verify_broken_at(3, "entries 1..2 are missing (entries removed from the start)");
	store_close();
}

TEST(audit_removed_tail_after_signed_head_is_reported)
{
	struct audit_report r;

	CHECK_INT(fresh_store("tail"), 0);
	append_n(6);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(exec("DELETE FROM audit_log WHERE id >= 5"), SQLITE_OK);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 0);
	CHECK_INT(r.first_bad_id, 5);
	CHECK_STR(r.first_bad_uid, "");
	CHECK_CONTAINS(r.reason, "head anchor 1 signed entry 6 but the chain ends at entry 4");
	CHECK_CONTAINS(r.reason, "entries 5..6 are missing (entries removed from the end)");

	/* Every entry gone. */
	CHECK_INT(exec("DELETE FROM audit_log"), SQLITE_OK);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 0);
	CHECK_INT(r.first_bad_id, 1);
	CHECK_CONTAINS(r.reason, "removed from the end");
	store_close();
}

TEST(audit_forged_or_rewritten_anchors_are_reported)
{
	struct audit_report r;

	CHECK_INT(fresh_store("forge"), 0);
	append_n(3);
	CHECK_INT(audit_sign_head(), 1);
	append_n(2);
	CHECK_INT(audit_sign_head(), 1);
	/* One bit of a signature. */
	unsigned char sig[64];
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db_get(), "SELECT signature FROM audit_anchors WHERE id = 2", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	memcpy(sig, sqlite3_column_blob(st, 0), sizeof sig);
	sqlite3_finalize(st);
	sig[10] ^= 0x04;
	sqlite3_prepare_v2(db_get(), "UPDATE audit_anchors SET signature = ? WHERE id = 2", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, sig, sizeof sig, SQLITE_STATIC);
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	verify_broken_at(5, "signature of head anchor 2 is invalid");
	CHECK_INT(exec("DELETE FROM audit_anchors WHERE id = 2"), SQLITE_OK);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.unsigned_tail, 2);
	/* A made-up anchor. */
	CHECK_INT(exec("INSERT INTO audit_anchors (kind, entry_id, hash, signature, signed_at) "
		       "SELECT 'head', id, hash, randomblob(64), 0 FROM audit_log WHERE id = 5"), SQLITE_OK);
	verify_broken_at(5, "signature of head anchor 2 is invalid");
	CHECK_INT(exec("DELETE FROM audit_anchors WHERE id = 2"), SQLITE_OK);
	/* A signed anchor given another hash (to bless a rewritten chain): its
	 * signature no longer matches. */
	CHECK_INT(exec("UPDATE audit_anchors SET hash = randomblob(32) WHERE id = 1"), SQLITE_OK);
	verify_broken_at(3, "signature of head anchor 1 is invalid");
	store_close();
}

/* Someone who can write the database rewrites the end of the chain with
 * valid hashes (here: by appending through the real code again): the hash
 * chain is consistent, but the signed head names the old hash. Past the
 * last signature nothing can tell (the unsigned tail). */
TEST(audit_rewritten_chain_is_caught_by_the_signed_head)
{
	struct audit_report r;

	CHECK_INT(fresh_store("rewrite"), 0);
	append_n(5);
	CHECK_INT(audit_sign_head(), 1);
	append_n(2);
	CHECK_INT(exec("DELETE FROM audit_log WHERE id >= 3"), SQLITE_OK);
	append_n(5);
	CHECK_INT(scalar("SELECT max(id) FROM audit_log"), 7);
	verify_broken_at(5, "head anchor 1 signed another hash for this entry (the chain up to here was rewritten)");
	store_close();

	CHECK_INT(fresh_store("rewrite-tail"), 0);
	append_n(5);
	CHECK_INT(audit_sign_head(), 1);
	append_n(2);
	CHECK_INT(exec("DELETE FROM audit_log WHERE id >= 6"), SQLITE_OK);
	append_n(3);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.unsigned_tail, 3);
	store_close();
}

TEST(audit_verify_with_given_public_key)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], other[crypto_sign_PUBLICKEYBYTES];
	struct audit_report r;

	CHECK_INT(fresh_store("pk"), 0);
	append_n(2);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(vault_audit_public_key(pk), VAULT_OK);
	CHECK_INT(audit_verify(pk, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.anchors, 1);
	memcpy(other, pk, sizeof pk);
	other[0] ^= 1;
	CHECK_INT(audit_verify(other, &r), 0);
	CHECK_INT(r.ok, 0);
	CHECK_INT(r.first_bad_id, 2);
	CHECK_CONTAINS(r.reason, "signature of head anchor 1 is invalid");
	/* Another appliance's key. */
	crypto_sign_keypair(other, (unsigned char[crypto_sign_SECRETKEYBYTES]){0});
	CHECK_INT(audit_verify(other, &r), 0);
	CHECK_INT(r.ok, 0);
	store_close();
}

static int contains(const void *hay, size_t n, const char *needle)
{
	return n >= strlen(needle) && memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Is the plaintext anywhere in the row's stored bytes? */
static int row_holds(int64_t id, const char *plain)
{
	sqlite3_stmt *st;
	int found = 0;

	sqlite3_prepare_v2(db_get(),
			   "SELECT CAST(uid AS BLOB), CAST(actor_id AS BLOB), CAST(source AS BLOB), "
			   "CAST(action AS BLOB), CAST(target AS BLOB), CAST(details AS BLOB), sealed, "
			   "prev_hash, hash FROM audit_log WHERE id = ?", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 9; i++)
			found |= contains(sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i), plain);
	sqlite3_finalize(st);
	return found;
}

static int file_holds(const char *path, const char *plain)
{
	FILE *f = fopen(path, "rb");
	static char buf[4 << 20];
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return contains(buf, n, plain);
}

static int open_sealed(int64_t tenant, int64_t id, char *out, size_t len)
{
	struct vault_ref ref = {tenant, "audit_log", "sealed", id};
	sqlite3_stmt *st;
	unsigned char *plain = NULL;
	size_t plen = 0;
	int rc = -100;

	sqlite3_prepare_v2(db_get(), "SELECT sealed FROM audit_log WHERE id = ?", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB)
		rc = vault_open_field(&ref, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
				      &plain, &plen);
	sqlite3_finalize(st);
	if (rc == VAULT_OK) {
		snprintf(out, len, "%.*s", (int)plen, plain);
		vault_free(plain, plen);
	}
	return rc;
}

TEST(audit_personal_values_are_sealed_never_in_clear)
{
	cJSON *personal = cJSON_CreateObject(), *details = cJSON_CreateObject();
	struct audit_event ev = {.tenant = 1, .actor_type = "admin", .actor_id = "admin:1", .source = "10.0.0.1",
				 .action = "people.update", .target = "person:77", .outcome = "ok",
				 .details = details, .personal = personal};
	struct audit_report r;
	char got[256], db[600];

	cJSON_AddStringToObject(personal, "before", "Hanako-Suzuki-4711");
	cJSON_AddStringToObject(personal, "after", "hanako.4711@example.jp");
	cJSON_AddStringToObject(details, "fields", "name,email");
	CHECK_INT(fresh_store("seal"), 0);

	/* Tenant data key. */
	CHECK_INT(audit_append(&ev), 0);
	CHECK(!row_holds(1, "Hanako-Suzuki-4711"));
	CHECK(!row_holds(1, "hanako.4711"));
	CHECK(row_holds(1, "name,email")); /* the details are in clear, by design */
	CHECK_INT(scalar("SELECT details = '{\"fields\":\"name,email\"}' FROM audit_log WHERE id = 1"), 1);
	CHECK_INT(open_sealed(1, 1, got, sizeof got), VAULT_OK);
	CHECK_STR(got, "{\"before\":\"Hanako-Suzuki-4711\",\"after\":\"hanako.4711@example.jp\"}");
	/* Bound to its row and tenant. */
	CHECK_INT(open_sealed(1, 2, got, sizeof got), -100);
	CHECK(open_sealed(0, 1, got, sizeof got) != VAULT_OK);

	/* Person key: readable until the person is erased; the chain holds. */
	CHECK_INT(vault_person_key_create(1, 77), VAULT_OK);
	ev.person = 77;
	CHECK_INT(audit_append(&ev), 0);
	CHECK(!row_holds(2, "Hanako-Suzuki-4711"));
	CHECK_INT(open_sealed(1, 2, got, sizeof got), VAULT_OK);
	CHECK_CONTAINS(got, "Hanako-Suzuki-4711");
	/* Appliance scope (tenant 0), appliance data key. */
	ev.tenant = 0;
	ev.person = 0;
	CHECK_INT(audit_append(&ev), 0);
	CHECK_INT(open_sealed(0, 3, got, sizeof got), VAULT_OK);
	CHECK_CONTAINS(got, "hanako.4711@example.jp");
	/* A person without a key: refused, nothing written. */
	ev.tenant = 1;
	ev.person = 78;
	CHECK_INT(audit_append(&ev), -1);
	CHECK_INT(scalar("SELECT count(*) FROM audit_log"), 3);
	CHECK_INT(audit_sign_head(), 1);

	CHECK_INT(vault_person_key_shred(1, 77), VAULT_OK);
	CHECK_INT(open_sealed(1, 2, got, sizeof got), VAULT_E_SHREDDED);
	CHECK_INT(open_sealed(1, 1, got, sizeof got), VAULT_OK);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 3);

	/* Nowhere in the database file either, once checkpointed. */
	sqlite3_wal_checkpoint_v2(db_get(), "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	CHECK(file_holds(db, "name,email"));
	CHECK(!file_holds(db, "Hanako-Suzuki-4711"));
	CHECK(!file_holds(db, "hanako.4711"));
	cJSON_Delete(personal);
	cJSON_Delete(details);
	store_close();
}

static int list(const struct audit_filter *f, int64_t *next, char *ids, size_t len)
{
	cJSON *out = cJSON_CreateArray(), *it;
	int n = audit_list(f, out, next);
	size_t off = 0;

	ids[0] = '\0';
	cJSON_ArrayForEach(it, out) {
		off += (size_t)snprintf(ids + off, len - off, "%s%d", off ? "," : "",
					(int)cJSON_GetNumberValue(cJSON_GetObjectItem(it, "id")));
	}
	if (n != cJSON_GetArraySize(out))
		n = -100;
	cJSON_Delete(out);
	return n;
}

TEST(audit_list_filters_pages_and_scopes)
{
	struct audit_filter f;
	int64_t next, t2;
	char ids[400], err[200];

	CHECK_INT(fresh_store("list"), 0);
	CHECK_INT(vault_tenant_create("second", "Second", &t2, err, sizeof err), VAULT_OK);
	CHECK_INT(t2, 2);
	CHECK_INT(append(1, "admin:1", "auth.login", "", "ok"), 0);            /* 1 */
	CHECK_INT(append(1, "user:eve", "auth.login", "", "denied"), 0);       /* 2 */
	CHECK_INT(append(2, "admin:9", "auth.logout", "", "ok"), 0);           /* 3 */
	CHECK_INT(append(1, "admin:1", "admin.create", "admin:4", "ok"), 0);   /* 4 */
	CHECK_INT(append(0, "cli:root", "keys.rotate", "", "ok"), 0);          /* 5 */
	CHECK_INT(append(1, "admin:1", "authx.thing", "", "ok"), 0);           /* 6 */
	CHECK_INT(append(1, "admin:1", "auth", "", "failed"), 0);              /* 7 */
	CHECK_INT(append(2, "admin:9", "admin.create", "admin:4", "ok"), 0);   /* 8 */

	/* System scope, newest first. */
	memset(&f, 0, sizeof f);
	f.tenant = -1;
	f.limit = 100;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 8);
	CHECK_STR(ids, "8,7,6,5,4,3,2,1");
	CHECK_INT(next, 0);
	/* Tenant scope: only that tenant's; 0 is the appliance's own. */
	f.tenant = 1;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 5);
	CHECK_STR(ids, "7,6,4,2,1");
	f.tenant = 2;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 2);
	CHECK_STR(ids, "8,3");
	f.tenant = 0;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 1);
	CHECK_STR(ids, "5");
	f.tenant = 3;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 0);

	/* Action: exact, or prefix ending in '.' ("auth." is not "authx." nor "auth"). */
	f.tenant = -1;
	f.action = "auth.";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 3);
	CHECK_STR(ids, "3,2,1");
	f.action = "auth";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 1);
	CHECK_STR(ids, "7");
	f.action = "auth.login";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 2);
	f.action = "%";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 0);
	f.action = "a%.";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 0);
	f.action = NULL;
	/* Actor and target, exact; values are bound, never SQL. */
	f.actor = "admin:9";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 2);
	CHECK_STR(ids, "8,3");
	f.actor = "x' OR '1'='1";
	CHECK_INT(list(&f, &next, ids, sizeof ids), 0);
	f.actor = NULL;
	f.target = "admin:4";
	f.tenant = 1;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 1);
	CHECK_STR(ids, "4");
	f.target = NULL;
	f.tenant = -1;
	/* Time: from inclusive, to exclusive. */
	CHECK_INT(exec("UPDATE audit_log SET at = 1000 * id"), SQLITE_OK); /* listing does not verify */
	f.from_ms = 3000;
	f.to_ms = 6000;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 3);
	CHECK_STR(ids, "5,4,3");
	f.from_ms = f.to_ms = 0;

	/* Pages: limit 3, then the cursor. */
	f.limit = 3;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 3);
	CHECK_STR(ids, "8,7,6");
	CHECK_INT(next, 6);
	f.cursor = next;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 3);
	CHECK_STR(ids, "5,4,3");
	CHECK_INT(next, 3);
	f.cursor = next;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 2);
	CHECK_STR(ids, "2,1");
	CHECK_INT(next, 0);
	/* Exactly a page left: no next page. */
	f.cursor = 4;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 3);
	CHECK_INT(next, 0);
	/* Limit clamped to 1..500. */
	f.cursor = 0;
	f.limit = 0;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 1);
	CHECK_INT(next, 8);
	f.limit = 100000;
	CHECK_INT(list(&f, &next, ids, sizeof ids), 8);

	/* The object's fields. */
	cJSON *out = cJSON_CreateArray();
	memset(&f, 0, sizeof f);
	f.tenant = -1;
	f.limit = 10;
	f.cursor = 6;
	CHECK_INT(audit_list(&f, out, &next), 5);
	cJSON *e5 = cJSON_GetArrayItem(out, 0), *e4 = cJSON_GetArrayItem(out, 1);
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(e5, "id")), 5);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(e5, "tenant_id")));
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "at")), "1970-01-01T00:00:05.000Z");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "actor_id")), "cli:root");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "actor_type")), "admin");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "source")), "127.0.0.1");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "action")), "keys.rotate");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "outcome")), "ok");
	CHECK_INT(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(e5, "uid"))), 32);
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(e5, "details")));
	CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(e4, "tenant_id")), 1);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e4, "target")), "admin:4");
	CHECK(!cJSON_GetObjectItem(e4, "sealed"));
	CHECK(!cJSON_GetObjectItem(e4, "hash"));
	cJSON_Delete(out);
	store_close();
}

/* Retention (not built yet) removes old entries and leaves a signed 'cut'
 * anchor: the chain then starts after it, and appends continue from it. */
TEST(audit_chain_continues_after_a_cut)
{
	unsigned char msg[128], sig[crypto_sign_BYTES], hash[32];
	const char *tag = "gatehouse-audit-cut-v1";
	struct audit_report r;
	sqlite3_stmt *st;
	size_t n = strlen(tag);

	CHECK_INT(fresh_store("cut"), 0);
	append_n(5);
	CHECK_INT(audit_sign_head(), 1);
	sqlite3_prepare_v2(db_get(), "SELECT hash FROM audit_log WHERE id = 5", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	memcpy(hash, sqlite3_column_blob(st, 0), 32);
	sqlite3_finalize(st);
	memcpy(msg, tag, n);
	for (int i = 0; i < 8; i++)
		msg[n + i] = i == 7 ? 5 : 0;
	memcpy(msg + n + 8, hash, 32);
	CHECK_INT(vault_audit_sign(msg, n + 40, sig), VAULT_OK);
	sqlite3_prepare_v2(db_get(), "INSERT INTO audit_anchors (kind, entry_id, hash, signature, signed_at) "
				     "VALUES ('cut', 5, ?, ?, 0)", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, sig, sizeof sig, SQLITE_STATIC);
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	CHECK_INT(exec("DELETE FROM audit_log WHERE id <= 5"), SQLITE_OK);

	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 0);
	CHECK_INT(r.anchors, 2);
	CHECK_INT(r.unsigned_tail, 0);
	append_n(2);
	CHECK_INT(scalar("SELECT min(id) FROM audit_log"), 6);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, 2);
	CHECK_INT(r.unsigned_tail, 2);
	CHECK_INT(audit_sign_head(), 1);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.unsigned_tail, 0);

	/* A cut signed as a head is not a cut. */
	CHECK_INT(exec("UPDATE audit_anchors SET signature = (SELECT signature FROM audit_anchors WHERE id = 1) "
		       "WHERE kind = 'cut'"), SQLITE_OK);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 0);
	CHECK_CONTAINS(r.reason, "signature of cut anchor 2 is invalid");
	store_close();
}

#define THREADS 4
#define PER_THREAD 40

static void *appender(void *arg)
{
	char actor[32];

	snprintf(actor, sizeof actor, "admin:%d", (int)(intptr_t)arg);
	for (int i = 0; i < PER_THREAD; i++) {
		if (append(1, actor, "admin.update", "", "ok") != 0) {
			t_fail(__FILE__, __LINE__, "append failed");
			break;
		}
		if (i % 10 == 9 && audit_sign_head() < 0)
			t_fail(__FILE__, __LINE__, "sign failed");
	}
	vault_thread_done();
	db_thread_done();
	return NULL;
}

TEST(audit_concurrent_appends_keep_one_chain)
{
	pthread_t th[THREADS];
	struct audit_report r;

	CHECK_INT(fresh_store("conc"), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, appender, (void *)(intptr_t)i);
	/* Verify reads a consistent snapshot while they write. */
	for (int i = 0; i < 5; i++) {
		CHECK_INT(audit_verify(NULL, &r), 0);
		CHECK_INT(r.ok, 1);
		usleep(2000);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_INT(audit_verify(NULL, &r), 0);
	CHECK_INT(r.ok, 1);
	CHECK_INT(r.entries, THREADS * PER_THREAD);
	CHECK_INT(scalar("SELECT max(id) FROM audit_log"), THREADS * PER_THREAD);
	store_close();
}
