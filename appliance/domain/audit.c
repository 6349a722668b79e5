/* audit: the tamper-evident log. See audit.h for the contract and
 * docs/audit.md for the formats (canonical form, signed messages) and what
 * the chain does and does not protect against.
 *
 * Chain: entry N stores prev_hash = hash of entry N-1 (or, for the first
 * entry, 32 zero bytes, or the hash in the latest 'cut' anchor once
 * retention has removed older entries) and
 *     hash = BLAKE2b-256(prev_hash || canonical(entry)).
 * Ids are consecutive: an entry is appended with id = last id + 1 while the
 * write lock is held, so a gap in the ids is a removed entry. */
#include "audit.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HASH_BYTES 32
#define UID_BYTES 16 /* 32 hex digits */
#define LIST_MAX 500

static const char canon_tag[] = "gatehouse-audit-v1";
static const char head_tag[] = "gatehouse-audit-head-v1";
static const char cut_tag[] = "gatehouse-audit-cut-v1";

/* --- canonical form ---------------------------------------------------------- */

struct bytes {
	const void *p;
	size_t n;
};

/* One entry as it is hashed: exactly the stored columns except prev_hash
 * (hashed in front) and hash. */
struct entry {
	int64_t id;
	struct bytes uid;
	int64_t at;
	int has_tenant; /* tenant_id IS NOT NULL */
	int64_t tenant;
	struct bytes actor_type, actor_id, source, action, target, outcome, details;
	struct bytes sealed; /* n == 0 when NULL */
};

static void be64(int64_t v, unsigned char out[8])
{
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--, u >>= 8)
		out[i] = (unsigned char)u;
}

/* One field: its length as 4 bytes big-endian, then its bytes. */
static void put(crypto_generichash_state *h, const void *p, size_t n)
{
	unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};

	crypto_generichash_update(h, len, sizeof len);
	if (n)
		crypto_generichash_update(h, p, n);
}

static void put_int(crypto_generichash_state *h, int64_t v)
{
	unsigned char b[8];

	be64(v, b);
	put(h, b, sizeof b);
}

/* THE canonical form, and the entry hash over prev_hash || canonical form.
 * Every field is length-prefixed (4-byte big-endian length, then the
 * bytes), in this order:
 *   "gatehouse-audit-v1", id (8 bytes BE), uid, at (8 bytes BE, unix ms),
 *   tenant (8 bytes BE, or empty for NULL), actor_type, actor_id, source,
 *   action, target, outcome, details, sealed (the stored bytes, or empty
 *   for NULL).
 * Text is hashed as stored (UTF-8 bytes, no terminating NUL). Any change to
 * this function is a new format: change the version tag with it and keep
 * the old one for entries written before (docs/audit.md).
 * Returns -1 if a field is too long to encode (never for real entries). */
static int entry_hash(const unsigned char prev[HASH_BYTES], const struct entry *e,
		      unsigned char out[HASH_BYTES])
{
	const struct bytes *text[] = {&e->actor_type, &e->actor_id, &e->source, &e->action,
				      &e->target, &e->outcome, &e->details, &e->sealed};
	crypto_generichash_state h;

	if (e->uid.n > UINT32_MAX)
		return -1;
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
		if (text[i]->n > UINT32_MAX)
			return -1;
	crypto_generichash_init(&h, NULL, 0, HASH_BYTES);
	crypto_generichash_update(&h, prev, HASH_BYTES);
	put(&h, canon_tag, sizeof canon_tag - 1);
	put_int(&h, e->id);
	put(&h, e->uid.p, e->uid.n);
	put_int(&h, e->at);
	if (e->has_tenant)
		put_int(&h, e->tenant);
	else
		put(&h, NULL, 0);
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
		put(&h, text[i]->p, text[i]->n);
	crypto_generichash_final(&h, out, HASH_BYTES);
	return 0;
}

/* The message an anchor signs: tag || entry id (8 bytes BE) || hash. Heads
 * and cuts use different tags, so one cannot be passed off as the other. */
static size_t anchor_message(int cut, int64_t entry_id, const unsigned char hash[HASH_BYTES],
			     unsigned char *msg)
{
	const char *tag = cut ? cut_tag : head_tag;
	size_t n = strlen(tag);

	memcpy(msg, tag, n);
	be64(entry_id, msg + n);
	memcpy(msg + n + 8, hash, HASH_BYTES);
	return n + 8 + HASH_BYTES;
}
#define ANCHOR_MSG_MAX (sizeof head_tag + sizeof cut_tag + 8 + HASH_BYTES)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct bytes str_bytes(const char *s)
{
	struct bytes b = {s ? s : "", s ? strlen(s) : 0};
	return b;
}

/* --- appending ----------------------------------------------------------------- */

/* The hash and id the next entry links to: the last entry, else the latest
 * cut left by retention, else the start (id 0, zero hash). */
static int chain_end(int64_t *last_id, unsigned char prev[HASH_BYTES])
{
	sqlite3_stmt *st = db_stmt("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1");
	int rc = -1, found = 0;

	if (!st)
		return -1;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		found = 1;
		*last_id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == HASH_BYTES) {
			memcpy(prev, sqlite3_column_blob(st, 1), HASH_BYTES);
			rc = 0;
		} else {
			log_err("audit: the hash of entry %lld is damaged; run 'gatehouse audit verify'",
				(long long)*last_id);
		}
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		log_err("audit: cannot read the chain: %s", sqlite3_errmsg(db_get()));
	}
	sqlite3_reset(st);
	if (rc < 0 || found)
		return rc;

	*last_id = 0;
	memset(prev, 0, HASH_BYTES);
	st = db_stmt("SELECT entry_id, hash FROM audit_anchors WHERE kind = 'cut' "
		     "ORDER BY entry_id DESC, id DESC LIMIT 1");
	if (!st)
		return -1;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*last_id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == HASH_BYTES)
			memcpy(prev, sqlite3_column_blob(st, 1), HASH_BYTES);
		else {
			log_err("audit: the cut anchor at entry %lld is damaged", (long long)*last_id);
			rc = -1;
		}
		break;
	case SQLITE_DONE:
		break;
	default:
		log_err("audit: cannot read the anchors: %s", sqlite3_errmsg(db_get()));
		rc = -1;
	}
	sqlite3_reset(st);
	return rc;
}

/* Seal `personal` for entry id: person key when person > 0, else the
 * tenant's data key (the appliance's for tenant 0). */
static int seal_personal(const struct audit_event *ev, int64_t id, unsigned char **sealed,
			 size_t *slen)
{
	struct vault_ref ref = {ev->tenant, "audit_log", "sealed", id};
	char *plain = cJSON_PrintUnformatted(ev->personal);
	size_t len;
	int rc;

	if (!plain) {
		log_err("audit: out of memory");
		return -1;
	}
	len = strlen(plain);
	rc = ev->person > 0 ? vault_seal_person(&ref, ev->person, plain, len, sealed, slen)
			    : vault_seal(&ref, plain, len, sealed, slen);
	sodium_memzero(plain, len);
	cJSON_free(plain);
	if (rc != VAULT_OK) {
		log_err("audit: cannot seal the personal values of %s: %s", ev->action,
			vault_strerror(rc));
		return -1;
	}
	return 0;
}

static int append_in_tx(const struct audit_event *ev)
{
	unsigned char prev[HASH_BYTES], hash[HASH_BYTES], rnd[UID_BYTES], *sealed = NULL;
	char uid[2 * UID_BYTES + 1], *details = NULL;
	size_t slen = 0;
	int64_t last_id;
	struct entry e;
	sqlite3_stmt *st;
	int rc = -1;

	if (chain_end(&last_id, prev) < 0)
		return -1;
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(uid, sizeof uid, rnd, sizeof rnd);
	details = ev->details ? cJSON_PrintUnformatted(ev->details) : NULL;
	if (ev->details && !details) {
		log_err("audit: out of memory");
		return -1;
	}
	memset(&e, 0, sizeof e);
	e.id = last_id + 1;
	e.uid = str_bytes(uid);
	e.at = now_ms();
	e.has_tenant = ev->tenant != 0;
	e.tenant = ev->tenant;
	e.actor_type = str_bytes(ev->actor_type);
	e.actor_id = str_bytes(ev->actor_id);
	e.source = str_bytes(ev->source);
	e.action = str_bytes(ev->action);
	e.target = str_bytes(ev->target);
	e.outcome = str_bytes(ev->outcome);
	e.details = str_bytes(details ? details : "{}");
	if (ev->personal && seal_personal(ev, e.id, &sealed, &slen) < 0)
		goto out;
	e.sealed.p = sealed;
	e.sealed.n = sealed ? slen : 0;
	if (entry_hash(prev, &e, hash) < 0) {
		log_err("audit: entry too large");
		goto out;
	}

	st = db_stmt("INSERT INTO audit_log (id, uid, at, tenant_id, actor_type, actor_id, source, "
		     "action, target, outcome, details, sealed, prev_hash, hash) "
		     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, e.id);
	sqlite3_bind_text(st, 2, uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, e.at);
	if (e.has_tenant)
		sqlite3_bind_int64(st, 4, e.tenant);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, e.actor_type.p, (int)e.actor_type.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e.actor_id.p, (int)e.actor_id.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, e.source.p, (int)e.source.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, e.action.p, (int)e.action.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, e.target.p, (int)e.target.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, e.outcome.p, (int)e.outcome.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, e.details.p, (int)e.details.n, SQLITE_STATIC);
	if (sealed)
		sqlite3_bind_blob(st, 12, sealed, (int)slen, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 12);
	sqlite3_bind_blob(st, 13, prev, HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 14, hash, HASH_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	else
		log_err("audit: cannot append %s: %s", ev->action, sqlite3_errmsg(db_get()));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
out:
	free(sealed);
	cJSON_free(details);
	return rc;
}

int audit_append(const struct audit_event *ev)
{
	sqlite3 *db = db_get();
	int own, rc;

	if (!ev || !ev->action || !*ev->action || !ev->actor_type || !ev->outcome) {
		log_err("audit: entry without action, actor type or outcome");
		return -1;
	}
	if (!db)
		return -1;
	own = sqlite3_get_autocommit(db) != 0;
	if (own && db_begin() < 0) {
		log_err("audit: cannot begin a transaction for %s: %s", ev->action, sqlite3_errmsg(db));
		return -1;
	}
	rc = append_in_tx(ev);
	if (own) {
		if (rc == 0 && db_commit() < 0) {
			log_err("audit: cannot commit %s: %s", ev->action, sqlite3_errmsg(db));
			rc = -1;
		}
		if (rc < 0)
			db_rollback();
	}
	return rc;
}

/* --- signing the head ----------------------------------------------------------- */

static int sign_in_tx(void)
{
	unsigned char head[HASH_BYTES], msg[ANCHOR_MSG_MAX], sig[crypto_sign_BYTES];
	sqlite3_stmt *st = db_stmt("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1");
	int64_t head_id;
	int rc, vrc;
	size_t n;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == HASH_BYTES) {
		head_id = sqlite3_column_int64(st, 0);
		memcpy(head, sqlite3_column_blob(st, 1), HASH_BYTES);
	} else if (rc == SQLITE_ROW) {
		log_err("audit: the hash of entry %lld is damaged; not signed",
			(long long)sqlite3_column_int64(st, 0));
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0; /* no entries */
	if (rc != SQLITE_ROW) {
		log_err("audit: cannot read the chain: %s", sqlite3_errmsg(db_get()));
		return -1;
	}

	st = db_stmt("SELECT entry_id, hash FROM audit_anchors WHERE kind = 'head' ORDER BY id DESC LIMIT 1");
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	int same = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == head_id &&
		   sqlite3_column_bytes(st, 1) == HASH_BYTES &&
		   memcmp(sqlite3_column_blob(st, 1), head, HASH_BYTES) == 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("audit: cannot read the anchors: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	if (same)
		return 0;

	n = anchor_message(0, head_id, head, msg);
	if ((vrc = vault_audit_sign(msg, n, sig)) != VAULT_OK) {
		log_err("audit: cannot sign the chain head: %s", vault_strerror(vrc));
		return -1;
	}
	st = db_stmt("INSERT INTO audit_anchors (kind, entry_id, hash, signature, signed_at) "
		     "VALUES ('head', ?, ?, ?, ?)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, head_id);
	sqlite3_bind_blob(st, 2, head, HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, sig, sizeof sig, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_ms());
	rc = sqlite3_step(st) == SQLITE_DONE ? 1 : -1;
	if (rc < 0)
		log_err("audit: cannot store the signed head: %s", sqlite3_errmsg(db_get()));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int audit_sign_head(void)
{
	sqlite3 *db = db_get();
	int own, rc;

	if (!db)
		return -1;
	own = sqlite3_get_autocommit(db) != 0;
	if (own && db_begin() < 0) {
		log_err("audit: cannot begin a transaction to sign the head: %s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sign_in_tx();
	if (own) {
		if (rc == 1 && db_commit() < 0) {
			log_err("audit: cannot commit the signed head: %s", sqlite3_errmsg(db));
			rc = -1;
		}
		if (rc != 1)
			db_rollback();
	}
	return rc;
}

/* --- retention ------------------------------------------------------------------- */

/* One batch of audit_cut, in the caller's transaction: the last entry to
 * remove is the batch-th oldest, or upto_id. 1 removed some, 0 none, -1. */
static int cut_batch(int64_t upto_id, int batch, long long *removed)
{
	unsigned char hash[HASH_BYTES], msg[ANCHOR_MSG_MAX], sig[crypto_sign_BYTES];
	sqlite3_stmt *st = db_stmt("SELECT id, hash FROM (SELECT id, hash FROM audit_log WHERE id <= ?1 "
				   "ORDER BY id LIMIT ?2) ORDER BY id DESC LIMIT 1");
	int64_t last;
	int rc, vrc;
	size_t n;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, upto_id);
	sqlite3_bind_int(st, 2, batch);
	rc = sqlite3_step(st);
	last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	int intact = rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == HASH_BYTES;
	if (intact)
		memcpy(hash, sqlite3_column_blob(st, 1), HASH_BYTES);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW || !intact) {
		/* Never cut at a damaged entry: the anchor would bless it. */
		log_err("audit: retention cannot read the chain at entry %lld", (long long)last);
		return -1;
	}
	n = anchor_message(1, last, hash, msg);
	if ((vrc = vault_audit_sign(msg, n, sig)) != VAULT_OK) {
		log_err("audit: cannot sign the retention cut: %s", vault_strerror(vrc));
		return -1;
	}
	st = db_stmt("INSERT INTO audit_anchors (kind, entry_id, hash, signature, signed_at) VALUES ('cut', ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, last);
	sqlite3_bind_blob(st, 2, hash, HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, sig, sizeof sig, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_ms());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return -1;
	st = db_stmt("DELETE FROM audit_log WHERE id <= ?");
	sqlite3_bind_int64(st, 1, last);
	rc = sqlite3_step(st);
	*removed += sqlite3_changes(db_get());
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	/* Heads of removed entries, and cuts before this one, prove nothing now. */
	st = db_stmt("DELETE FROM audit_anchors WHERE entry_id < ?1 OR (kind = 'head' AND entry_id = ?1)");
	sqlite3_bind_int64(st, 1, last);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

long long audit_cut(int64_t upto_id, int batch, int (*stop)(void *), void *arg)
{
	long long removed = 0;
	int rc;

	do {
		if (db_begin() < 0)
			return -1;
		rc = cut_batch(upto_id, batch, &removed);
		if (rc < 0 || db_commit() < 0) {
			db_rollback();
			return -1;
		}
	} while (rc == 1 && !(stop && stop(arg)));
	return removed;
}

/* --- verification ----------------------------------------------------------------- */

static struct bytes col_bytes(sqlite3_stmt *st, int i)
{
	struct bytes b;

	if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
		b.p = sqlite3_column_blob(st, i);
	} else {
		b.p = sqlite3_column_text(st, i);
	}
	b.n = (size_t)sqlite3_column_bytes(st, i);
	if (!b.p)
		b.p = "";
	return b;
}

static void bad(struct audit_report *r, int64_t id, const unsigned char *uid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void bad(struct audit_report *r, int64_t id, const unsigned char *uid, const char *fmt, ...)
{
	va_list ap;

	r->ok = 0;
	r->first_bad_id = id;
	snprintf(r->first_bad_uid, sizeof r->first_bad_uid, "%s", uid ? (const char *)uid : "");
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

/* "entry 5 is" / "entries 5..7 are" */
static const char *missing(int64_t from, int64_t to, char *buf, size_t len)
{
	if (from == to)
		snprintf(buf, len, "entry %lld is", (long long)from);
	else
		snprintf(buf, len, "entries %lld..%lld are", (long long)from, (long long)to);
	return buf;
}

/* Where the chain starts: after the latest cut, else at entry 1 with a zero
 * hash. Returns 0, 1 when a problem was reported, -1 on a database error. */
static int chain_start(struct audit_report *r, int64_t *expect_id, unsigned char prev[HASH_BYTES],
		       int *has_cut)
{
	sqlite3_stmt *st = db_stmt("SELECT id, entry_id, hash FROM audit_anchors WHERE kind = 'cut' "
				   "ORDER BY entry_id DESC, id DESC LIMIT 1");
	int rc = 0;

	*expect_id = 1;
	*has_cut = 0;
	memset(prev, 0, HASH_BYTES);
	if (!st)
		return -1;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*has_cut = 1;
		*expect_id = sqlite3_column_int64(st, 1) + 1;
		if (sqlite3_column_bytes(st, 2) == HASH_BYTES) {
			memcpy(prev, sqlite3_column_blob(st, 2), HASH_BYTES);
		} else {
			bad(r, *expect_id - 1, NULL, "cut anchor %lld is malformed (hash of %d bytes)",
			    (long long)sqlite3_column_int64(st, 0), sqlite3_column_bytes(st, 2));
			rc = 1;
		}
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = -1;
	}
	sqlite3_reset(st);
	return rc;
}

/* Walk every entry in id order. Fills *last_id (the last entry's id, or the
 * start's id - 1 when there are none). 0 ok, 1 problem reported, -1 error. */
static int walk_entries(struct audit_report *r, int64_t *last_id, int64_t *first_id)
{
	unsigned char prev[HASH_BYTES], hash[HASH_BYTES];
	char buf[80];
	int64_t expect;
	int has_cut, rc, problem = 0;
	sqlite3_stmt *st;

	if ((rc = chain_start(r, &expect, prev, &has_cut)) != 0)
		return rc;
	*last_id = expect - 1;
	*first_id = expect;
	st = db_stmt("SELECT id, uid, at, tenant_id, actor_type, actor_id, source, action, target, "
		     "outcome, details, sealed, prev_hash, hash FROM audit_log ORDER BY id");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct entry e;
		struct bytes stored_prev = col_bytes(st, 12), stored_hash = col_bytes(st, 13);
		const unsigned char *uid = sqlite3_column_text(st, 1);
		int linked;

		memset(&e, 0, sizeof e);
		e.id = sqlite3_column_int64(st, 0);
		e.uid = col_bytes(st, 1);
		e.at = sqlite3_column_int64(st, 2);
		e.has_tenant = sqlite3_column_type(st, 3) != SQLITE_NULL;
		e.tenant = sqlite3_column_int64(st, 3);
		e.actor_type = col_bytes(st, 4);
		e.actor_id = col_bytes(st, 5);
		e.source = col_bytes(st, 6);
		e.action = col_bytes(st, 7);
		e.target = col_bytes(st, 8);
		e.outcome = col_bytes(st, 9);
		e.details = col_bytes(st, 10);
		e.sealed = col_bytes(st, 11);
		linked = stored_prev.n == HASH_BYTES && memcmp(stored_prev.p, prev, HASH_BYTES) == 0;

		if (r->entries == 0 && e.id != expect) {
			if (e.id > expect && !linked)
				bad(r, e.id, uid,
				    "the chain starts here but should start at entry %lld: %s missing "
				    "(entries removed from the start)",
				    (long long)expect, missing(expect, e.id - 1, buf, sizeof buf));
			else if (e.id < expect && has_cut)
				bad(r, e.id, uid,
				    "the entry precedes the cut left by retention at entry %lld "
				    "(entry inserted, or retention incomplete)", (long long)expect - 1);
			else
				bad(r, e.id, uid, "the chain should start at entry %lld (entry renumbered)",
				    (long long)expect);
			problem = 1;
			break;
		}
		if (!linked) {
			if (r->entries == 0 && has_cut)
				bad(r, e.id, uid, "does not link to the cut left by retention at entry %lld "
				    "(entry altered or replaced)", (long long)expect - 1);
			else if (r->entries == 0)
				bad(r, e.id, uid, "does not link to the start of the chain (entry altered or replaced)");
			else if (e.id > expect)
				bad(r, e.id, uid, "does not link to entry %lld: %s missing (entry removed)",
				    (long long)expect - 1, missing(expect, e.id - 1, buf, sizeof buf));
			else
				bad(r, e.id, uid, "does not link to entry %lld (entry removed, reordered or rewritten)",
				    (long long)expect - 1);
			problem = 1;
			break;
		}
		if (e.id != expect) {
			bad(r, e.id, uid, "its id does not follow entry %lld (entry renumbered)",
			    (long long)expect - 1);
			problem = 1;
			break;
		}
		if (sqlite3_column_type(st, 11) != SQLITE_NULL && e.sealed.n == 0) {
			bad(r, e.id, uid, "its sealed value is empty instead of absent (entry altered)");
			problem = 1;
			break;
		}
		if (entry_hash(prev, &e, hash) < 0 || stored_hash.n != HASH_BYTES ||
		    memcmp(stored_hash.p, hash, HASH_BYTES) != 0) {
			bad(r, e.id, uid, "hash does not match its content (entry altered)");
			problem = 1;
			break;
		}
		memcpy(prev, hash, HASH_BYTES);
		*last_id = e.id;
		expect = e.id + 1;
		r->entries++;
	}
	sqlite3_reset(st);
	if (problem)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_err("audit: cannot read the chain: %s", sqlite3_errmsg(db_get()));
	return -1;
}

/* Every anchor: its signature, and for heads that the entry it signed is
 * still there with the same hash. */
static int check_anchors(struct audit_report *r, const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
			 int64_t first_id, int64_t last_id, int64_t *max_head)
{
	sqlite3_stmt *st = db_stmt("SELECT a.id, a.kind, a.entry_id, a.hash, a.signature, e.hash, e.uid "
				   "FROM audit_anchors a LEFT JOIN audit_log e ON e.id = a.entry_id "
				   "ORDER BY a.id");
	unsigned char msg[ANCHOR_MSG_MAX];
	int rc, problem = 0;

	*max_head = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long aid = sqlite3_column_int64(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		int64_t entry_id = sqlite3_column_int64(st, 2);
		struct bytes h = col_bytes(st, 3), sig = col_bytes(st, 4), eh = col_bytes(st, 5);
		const unsigned char *euid = sqlite3_column_text(st, 6);
		int cut = kind && strcmp(kind, "cut") == 0;
		int present = sqlite3_column_type(st, 5) != SQLITE_NULL;

		if (h.n != HASH_BYTES || sig.n != crypto_sign_BYTES) {
			bad(r, entry_id, euid, "%s anchor %lld is malformed", cut ? "cut" : "head", aid);
			problem = 1;
			break;
		}
		size_t n = anchor_message(cut, entry_id, h.p, msg);
		if (crypto_sign_verify_detached(sig.p, msg, n, pk) != 0) {
			bad(r, entry_id, euid, "signature of %s anchor %lld is invalid", cut ? "cut" : "head", aid);
			problem = 1;
			break;
		}
		r->anchors++;
		if (cut)
			continue;
		if (entry_id > last_id) {
			char buf[80];
			bad(r, last_id + 1, NULL,
			    "head anchor %lld signed entry %lld but the chain ends at entry %lld: %s "
			    "missing (entries removed from the end)",
			    aid, (long long)entry_id, (long long)last_id,
			    missing(last_id + 1, entry_id, buf, sizeof buf));
			problem = 1;
			break;
		}
		if (entry_id >= first_id && (!present || eh.n != HASH_BYTES || memcmp(eh.p, h.p, HASH_BYTES) != 0)) {
			bad(r, entry_id, euid,
			    "head anchor %lld signed another hash for this entry (the chain up to here was rewritten)",
			    aid);
			problem = 1;
			break;
		}
		if (entry_id > *max_head)
			*max_head = entry_id;
	}
	sqlite3_reset(st);
	if (problem)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_err("audit: cannot read the anchors: %s", sqlite3_errmsg(db_get()));
	return -1;
}

int audit_verify(const unsigned char *public_key, struct audit_report *r)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	int64_t last_id = 0, first_id = 1, max_head = 0;
	sqlite3 *db = db_get();
	int own, rc, vrc;

	memset(r, 0, sizeof *r);
	if (!db)
		return -1;
	if (public_key) {
		memcpy(pk, public_key, sizeof pk);
	} else if ((vrc = vault_audit_public_key(pk)) != VAULT_OK) {
		log_err("audit: cannot get the audit public key: %s", vault_strerror(vrc));
		return -1;
	}
	/* One read transaction: a consistent snapshot while the service writes. */
	own = sqlite3_get_autocommit(db) != 0;
	if (own && db_exec(db, "BEGIN") != SQLITE_OK) {
		log_err("audit: cannot begin a read transaction: %s", sqlite3_errmsg(db));
		return -1;
	}
	r->ok = 1;
	rc = walk_entries(r, &last_id, &first_id);
	if (rc == 0)
		rc = check_anchors(r, pk, first_id, last_id, &max_head);
	if (own)
		db_exec(db, "COMMIT");
	if (rc < 0) {
		r->ok = 0;
		return -1;
	}
	if (r->ok) {
		long long tail = last_id - (max_head >= first_id ? max_head : first_id - 1);
		r->unsigned_tail = tail < r->entries ? tail : r->entries;
	}
	return 0;
}

/* --- listing ------------------------------------------------------------------------ */

static void iso_ms(int64_t ms, char *out, size_t len)
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, len, "%lld", (long long)ms);
		return;
	}
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

static cJSON *list_row(sqlite3_stmt *st)
{
	static const char *const names[] = {"actor_type", "actor_id", "source", "action", "target", "outcome"};
	cJSON *o = cJSON_CreateObject(), *details;
	char at[40];

	if (!o)
		return NULL;
	iso_ms(sqlite3_column_int64(st, 2), at, sizeof at);
	cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
	cJSON_AddStringToObject(o, "uid", (const char *)sqlite3_column_text(st, 1));
	cJSON_AddStringToObject(o, "at", at);
	if (sqlite3_column_type(st, 3) == SQLITE_NULL)
		cJSON_AddNullToObject(o, "tenant_id");
	else
		cJSON_AddNumberToObject(o, "tenant_id", (double)sqlite3_column_int64(st, 3));
	for (int i = 0; i < 6; i++) {
		const unsigned char *v = sqlite3_column_text(st, 4 + i);
		cJSON_AddStringToObject(o, names[i], v ? (const char *)v : "");
	}
	const char *d = (const char *)sqlite3_column_text(st, 10);
	details = d ? cJSON_Parse(d) : NULL;
	if (!details)
		details = d ? cJSON_CreateString(d) : cJSON_CreateObject();
	cJSON_AddItemToObject(o, "details", details);
	return o;
}

int audit_list(const struct audit_filter *f, cJSON *out, int64_t *next)
{
	char sql[700], lo[256], hi[256];
	sqlite3_stmt *st;
	int limit = f->limit < 1 ? 1 : f->limit > LIST_MAX ? LIST_MAX : f->limit;
	int arg = 0, count = 0, rc;
	int64_t last = 0;
	size_t alen = f->action ? strlen(f->action) : 0;
	int prefix = alen > 0 && f->action[alen - 1] == '.';

	*next = 0;
	if (!db_get())
		return -1;
	if (prefix) {
		/* "auth." matches action >= "auth." AND action < "auth/" ('.' + 1). */
		if (alen >= sizeof lo)
			return 0;
		memcpy(lo, f->action, alen + 1);
		memcpy(hi, f->action, alen + 1);
		hi[alen - 1] = '.' + 1;
	}
	/* Only fixed fragments go into the SQL; every value is bound. */
	snprintf(sql, sizeof sql,
		 "SELECT id, uid, at, tenant_id, actor_type, actor_id, source, action, target, outcome, "
		 "details FROM audit_log WHERE 1%s%s%s%s%s%s%s ORDER BY id DESC LIMIT ?",
		 f->tenant == 0 ? " AND tenant_id IS NULL" : f->tenant > 0 ? " AND tenant_id = ?" : "",
		 f->cursor > 0 ? " AND id < ?" : "", f->from_ms ? " AND at >= ?" : "",
		 f->to_ms ? " AND at < ?" : "", f->actor ? " AND actor_id = ?" : "",
		 !f->action ? "" : prefix ? " AND action >= ? AND action < ?" : " AND action = ?",
		 f->target ? " AND target = ?" : "");
	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK) {
		log_err("audit: cannot list: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	if (f->tenant > 0)
		sqlite3_bind_int64(st, ++arg, f->tenant);
	if (f->cursor > 0)
		sqlite3_bind_int64(st, ++arg, f->cursor);
	if (f->from_ms)
		sqlite3_bind_int64(st, ++arg, f->from_ms);
	if (f->to_ms)
		sqlite3_bind_int64(st, ++arg, f->to_ms);
	if (f->actor)
		sqlite3_bind_text(st, ++arg, f->actor, -1, SQLITE_STATIC);
	if (f->action && prefix) {
		sqlite3_bind_text(st, ++arg, lo, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, ++arg, hi, -1, SQLITE_STATIC);
	} else if (f->action) {
		sqlite3_bind_text(st, ++arg, f->action, -1, SQLITE_STATIC);
	}
	if (f->target)
		sqlite3_bind_text(st, ++arg, f->target, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, ++arg, limit + 1); /* one more: is there a next page? */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == limit) {
			*next = last;
			break;
		}
		last = sqlite3_column_int64(st, 0);
		cJSON *o = list_row(st);
		if (!o || !cJSON_AddItemToArray(out, o)) {
			cJSON_Delete(o);
			rc = SQLITE_NOMEM;
			break;
		}
		count++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("audit: cannot list: %s", sqlite3_errmsg(db_get()));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return count;
}
