#include "t.h"

#include "backup/backup.h"
#include "backup/bfile.h"
#include "core/vault_escrow.h"
#include "core/vault_internal.h"
#include "vault_fixture.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* --- in-memory files ------------------------------------------------------------- */

struct mem {
	unsigned char *p;
	size_t len, cap, pos;
};

static int mem_write(void *arg, const void *p, size_t n)
{
	struct mem *m = arg;

	if (m->len + n > m->cap) {
		size_t cap = (m->len + n) * 2;
		unsigned char *b = realloc(m->p, cap);
		if (!b)
			return -1;
		m->p = b;
		m->cap = cap;
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

static ssize_t mem_read(void *arg, void *p, size_t n)
{
	struct mem *m = arg;
	size_t left = m->len - m->pos;

	if (n > left)
		n = left;
	/* Short reads on purpose: the reader must not assume full ones. */
	if (n > 7777)
		n = 7777;
	memcpy(p, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

struct collect {
	struct mem db[2];
	int n, ended;
};

static int c_begin(void *arg, const char *name, uint64_t size)
{
	struct collect *c = arg;

	(void)name;
	(void)size;
	return c->n < 2 ? 0 : -1;
}

static int c_data(void *arg, const void *p, size_t n)
{
	struct collect *c = arg;

	return mem_write(&c->db[c->n], p, n);
}

static int c_end(void *arg)
{
	struct collect *c = arg;

	c->n++;
	c->ended++;
	return 0;
}

static unsigned char key[32];
static unsigned char *db0, *db1;
#define DB0 (3u << 20) /* larger than a record: several 'D' records */
#define DB1 5000

/* A whole file in memory with two "databases": random, and repetitive. */
static void make_file(struct mem *out, int level)
{
	struct bfile_header h = {.kind = BFILE_FULL, .created_at = 1767225600, .schema_version = 7};
	struct bfile_out o = {mem_write, out};
	struct bfile_manifest m = {.program = "gatehouse test", .ndb = 2, .db = {"gatehouse.db", "keystore.db"},
				   .size = {DB0, DB1}};
	struct bfile_counts c = {.n = 2, .item = {{0, "events", 1234}, {1, "tenant_keys", 5}}};
	struct bfile_writer *w;

	memset(out, 0, sizeof *out);
	CHECK(sodium_init() >= 0);
	randombytes_buf(key, sizeof key);
	if (!db0) {
		db0 = malloc(DB0);
		db1 = malloc(DB1);
		randombytes_buf(db0, DB0);
		for (int i = 0; i < DB1; i++)
			db1[i] = (unsigned char)(i % 7);
	}
	memset(h.appliance_id, 0xab, 16);
	randombytes_buf(h.wrapped_key, sizeof h.wrapped_key);
	w = bfile_writer_new(&o, &h, key, level, NULL, 0);
	CHECK(w != NULL);
	CHECK_INT(bfile_write_manifest(w, &m), 0);
	CHECK_INT(bfile_db_begin(w, "gatehouse.db", DB0), 0);
	for (size_t off = 0; off < DB0; off += 100000)
		CHECK_INT(bfile_db_data(w, db0 + off, DB0 - off < 100000 ? DB0 - off : 100000), 0);
	CHECK_INT(bfile_db_end(w), 0);
	CHECK_INT(bfile_db_begin(w, "keystore.db", DB1), 0);
	CHECK_INT(bfile_db_data(w, db1, DB1), 0);
	CHECK_INT(bfile_db_end(w), 0);
	CHECK_INT(bfile_write_final(w, &c), 0);
	CHECK_INT(bfile_writer_bytes(w), out->len);
	bfile_writer_free(w);
}

/* Read a file back; 0 when accepted, with err otherwise. */
static int read_file(const unsigned char *p, size_t len, struct collect *col, struct bfile_counts *counts, char *err,
		     size_t errlen)
{
	struct mem in = {(unsigned char *)(uintptr_t)p, len, len, 0};
	struct bfile_in bin = {mem_read, &in};
	struct bfile_sink sink = {c_begin, c_data, c_end, NULL, col, NULL, 0};
	struct bfile_manifest m;
	struct bfile_header h;
	unsigned char raw[BFILE_HEADER_BYTES];

	if (bfile_read_header(&bin, raw, &h, err, errlen) < 0)
		return -1;
	return bfile_read_stream(&bin, raw, key, &sink, 0, &m, counts, err, errlen);
}

static void free_collect(struct collect *c)
{
	free(c->db[0].p);
	free(c->db[1].p);
	memset(c, 0, sizeof *c);
}

TEST(bfile_round_trip_restores_every_byte_and_count)
{
	struct mem f;
	struct collect col = {0};
	struct bfile_counts counts;
	char err[300] = "";

	make_file(&f, 1);
	CHECK(f.len > DB0); /* random bytes do not shrink */
	CHECK_INT(read_file(f.p, f.len, &col, &counts, err, sizeof err), 0);
	CHECK_STR(err, "");
	CHECK_INT(col.ended, 2);
	CHECK_INT(col.db[0].len, DB0);
	CHECK(col.db[0].len == DB0 && memcmp(col.db[0].p, db0, DB0) == 0);
	CHECK(col.db[1].len == DB1 && memcmp(col.db[1].p, db1, DB1) == 0);
	CHECK_INT(counts.n, 2);
	CHECK_STR(counts.item[0].table, "events");
	CHECK_INT(counts.item[0].rows, 1234);
	CHECK_INT(counts.item[1].db, 1);
	free_collect(&col);
	free(f.p);
}

TEST(bfile_every_header_byte_is_bound)
{
	struct mem f;
	struct collect col = {0};
	struct bfile_counts counts;
	char err[300];

	make_file(&f, 6);
	for (size_t i = 0; i < BFILE_HEADER_BYTES; i++) {
		f.p[i] ^= 0x01;
		err[0] = '\0';
		if (read_file(f.p, f.len, &col, &counts, err, sizeof err) == 0)
			t_fail(__FILE__, __LINE__, "header byte %zu flipped and accepted", i);
		CHECK(err[0] != '\0');
		f.p[i] ^= 0x01;
		free_collect(&col);
	}
	free(f.p);
}

TEST(bfile_flips_truncations_and_extra_bytes_are_refused)
{
	struct mem f;
	struct collect col = {0};
	struct bfile_counts counts;
	char err[300];

	make_file(&f, 6);
	for (size_t i = BFILE_HEADER_BYTES; i < f.len; i += 4099) {
		f.p[i] ^= 0x80;
		if (read_file(f.p, f.len, &col, &counts, err, sizeof err) == 0)
			t_fail(__FILE__, __LINE__, "stream byte %zu flipped and accepted", i);
		f.p[i] ^= 0x80;
		free_collect(&col);
	}
	f.p[f.len - 20] ^= 1; /* inside the final record */
	CHECK_INT(read_file(f.p, f.len, &col, &counts, err, sizeof err), -1);
	f.p[f.len - 20] ^= 1;
	free_collect(&col);
	for (size_t cut = 0; cut < f.len; cut += cut < 300 ? 1 : 65537) {
		if (read_file(f.p, cut, &col, &counts, err, sizeof err) == 0)
			t_fail(__FILE__, __LINE__, "file cut at %zu accepted", cut);
		free_collect(&col);
	}
	CHECK_INT(read_file(f.p, f.len - 1, &col, &counts, err, sizeof err), -1);
	CHECK_CONTAINS(err, "trailer");
	free_collect(&col);
	mem_write(&f, "x", 1);
	CHECK_INT(read_file(f.p, f.len, &col, &counts, err, sizeof err), -1);
	CHECK_CONTAINS(err, "after the end");
	free_collect(&col);
	/* The trailer alone says whether a file is whole. */
	CHECK(bfile_trailer_ok(f.p + f.len - 1 - BFILE_TRAILER_BYTES, f.len - 1));
	CHECK(!bfile_trailer_ok(f.p + f.len - BFILE_TRAILER_BYTES, f.len));
	/* Another key opens nothing. */
	key[0] ^= 1;
	CHECK_INT(read_file(f.p, f.len - 1, &col, &counts, err, sizeof err), -1);
	CHECK_CONTAINS(err, "key is wrong");
	free_collect(&col);
	free(f.p);
}

TEST(bfile_header_names_what_is_wrong)
{
	unsigned char raw[BFILE_HEADER_BYTES] = "GHBACKUP";
	struct bfile_header h;
	char err[300];

	CHECK_INT(bfile_header_decode((const unsigned char *)"SQLite format 3", 15, &h, err, sizeof err), -1);
	CHECK_CONTAINS(err, "not a Gatehouse backup");
	raw[9] = 2;
	CHECK_INT(bfile_header_decode(raw, sizeof raw, &h, err, sizeof err), -1);
	CHECK_CONTAINS(err, "made by a newer gatehouse");
	raw[9] = 1;
	raw[11] = 234;
	raw[12] = 3;
	CHECK_INT(bfile_header_decode(raw, sizeof raw, &h, err, sizeof err), -1);
	CHECK_CONTAINS(err, "unknown kind");
}

TEST(backup_names_parse_only_our_pattern)
{
	char id[33];
	int kind;
	int64_t t;

	CHECK_INT(backup_name_parse("gatehouse-0123456789abcdef0123456789abcdef-full-20260101T020000Z.ghb", id, &kind, &t), 0);
	CHECK_INT(kind, BFILE_FULL);
	CHECK_INT(t, 1767232800);
	CHECK_INT(backup_name_parse("gatehouse-0123456789abcdef0123456789abcdef-events-20260101T020000Z-2.ghb", id, &kind,
				    &t), 0);
	CHECK_INT(kind, BFILE_EVENTS);
	CHECK_INT(backup_name_parse(".partial-gatehouse-0123456789abcdef0123456789abcdef-full-20260101T020000Z.ghb", id,
				    &kind, &t), -1);
	CHECK_INT(backup_name_parse("gatehouse-0123456789abcdef0123456789abcdef-full-20260101T020000Z.ghb.tmp", id, &kind,
				    &t), -1);
	CHECK_INT(backup_name_parse("gatehouse-0123-full-20260101T020000Z.ghb", id, &kind, &t), -1);
	CHECK_INT(backup_name_parse("gatehouse-0123456789abcdef0123456789abcdef-weekly-20260101T020000Z.ghb", id, &kind,
				    &t), -1);
	CHECK_INT(backup_name_parse("gatehouse-0123456789abcdef0123456789abcdef-full-20260101T020000Z/../x.ghb", id, &kind,
				    &t), -1);
}

static char dir[400];

TEST(recovery_key_text_round_trips_and_catches_typos)
{
	char *text, fp[20], err[300], *bad;
	size_t len;
	unsigned char *sk = sodium_init() < 0 ? NULL : sodium_malloc(32);
	struct vault_recovery_status st;

	snprintf(dir, sizeof dir, "%s/rk", t_tmpdir());
	CHECK_INT(store_open(dir), 0);
	CHECK_INT(vault_recovery_status(dir, &st), 0);
	CHECK(st.present && st.secret_on_disk && !st.exported_at);
	CHECK_INT(st.escrow_missing, 0);
	CHECK_INT(vault_recovery_text(dir, &text, &len, err, sizeof err), 0);
	CHECK_INT(vault_recovery_parse(text, len, sk, fp, err, sizeof err), 0);
	CHECK_STR(fp, st.fingerprint);
	/* One digit of the secret changed: the check digits catch it. */
	bad = strdup(text);
	char *s = strstr(bad, "secret key:") + 14;
	*s = *s == '0' ? '1' : '0';
	CHECK_INT(vault_recovery_parse(bad, len, sk, fp, err, sizeof err), -1);
	CHECK_CONTAINS(err, "check digits");
	free(bad);
	CHECK_INT(vault_recovery_parse("hello", 5, sk, fp, err, sizeof err), -1);
	CHECK_CONTAINS(err, "not a Gatehouse recovery key");
	/* Exported once: then gone from the appliance. */
	CHECK_INT(vault_recovery_mark_exported(dir, err, sizeof err), 0);
	CHECK_INT(access(strcat(strcpy(err, dir), "/keys/recovery.key"), F_OK), -1);
	vault_free(text, len);
	CHECK_INT(vault_recovery_text(dir, &text, &len, err, sizeof err), -1);
	CHECK_CONTAINS(err, "no longer on this appliance");
	store_close();
	sodium_free(sk);
}

TEST(recovery_key_rebuilds_the_key_store_under_a_new_master_key)
{
	char *text, fp[20], err[300], copy[600], cmd[1400];
	unsigned char *k = sodium_init() < 0 ? NULL : sodium_malloc(96);
	size_t len;
	sqlite3 *db;

	snprintf(dir, sizeof dir, "%s/rekey", t_tmpdir());
	CHECK_INT(store_open(dir), 0);
	CHECK_INT(vault_person_key_create(1, 42), VAULT_OK);
	CHECK_INT(vault_recovery_text(dir, &text, &len, err, sizeof err), 0);
	CHECK_INT(vault_recovery_parse(text, len, k, fp, err, sizeof err), 0);
	vault_free(text, len);
	store_close();
	snprintf(copy, sizeof copy, "%s/copy.db", t_tmpdir());
	snprintf(cmd, sizeof cmd, "cp '%s/keys/keystore.db' '%s'", dir, copy);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(sqlite3_open(copy, &db), SQLITE_OK);
	randombytes_buf(k + 32, 32);
	struct vault_unlock by_recovery = {NULL, k}, by_new = {k + 32, NULL}, wrong = {NULL, k + 64};
	CHECK(vault_keystore_rekey(db, "main", &by_recovery, k + 32, err, sizeof err) >= 5);
	CHECK_INT(vault_master_check_on(db, "main", k + 32), VAULT_OK);
	/* Every key now opens with the new master key... */
	randombytes_buf(k + 64, 32);
	CHECK(vault_keystore_rekey(db, "main", &by_new, k + 64, err, sizeof err) >= 5);
	/* ...and a wrong recovery key opens none. */
	CHECK_INT(vault_keystore_rekey(db, "main", &wrong, k + 32, err, sizeof err), -1);
	CHECK_CONTAINS(err, "cannot be opened with the recovery key");
	/* An escrow wrap moved to another key's row is refused. */
	CHECK_INT(sqlite3_exec(db, "UPDATE tenant_keys SET recovery_wrapped = (SELECT recovery_wrapped FROM tenant_keys "
				   "ORDER BY id LIMIT 1 OFFSET 1) WHERE id = (SELECT min(id) FROM tenant_keys)", NULL, NULL,
			       NULL), SQLITE_OK);
	CHECK_INT(vault_keystore_rekey(db, "main", &by_recovery, k + 32, err, sizeof err), -1);
	sqlite3_close(db);
	sodium_free(k);
}

TEST(shredding_writes_the_erasure_ledger)
{
	struct vault_erasure *list = NULL;
	size_t n = 0;

	snprintf(dir, sizeof dir, "%s/ledger", t_tmpdir());
	CHECK_INT(store_open(dir), 0);
	CHECK_INT(vault_person_key_create(1, 7), VAULT_OK);
	CHECK_INT(vault_person_key_create(1, 8), VAULT_OK);
	CHECK_INT(vault_erasures_since(0), 0);
	CHECK_INT(vault_person_key_shred(1, 7), VAULT_OK);
	CHECK_INT(vault_person_key_shred(1, 7), VAULT_E_SHREDDED);
	CHECK_INT(vault_erasures_since(0), 1);
	CHECK_INT(vault_erasures_since(time(NULL) + 10), 0);
	CHECK_INT(vault_erasures_load(db_get(), "ks", &list, &n), 0);
	CHECK_INT(n, 1);
	CHECK(n == 1 && list[0].tenant == 1 && list[0].person == 7);
	free(list);
	store_close();
}
