/* The changeset and bundle formats of site sync (sync/cset.h): round trips,
 * every header byte and every cut refused, the wrong receiver's key, and
 * bodies that lie about themselves. Keys are raw libsodium key pairs here;
 * the appliance passes the vault's. */
#include "t.h"

#include "sync/cset.h"

#include <sodium.h>
#include <stdlib.h>

struct keys {
	unsigned char sign_pk[32], sign_sk[64], box_pk[32], box_sk[32];
};

static int sign_cb(void *arg, const unsigned char *msg, size_t len, unsigned char sig[64])
{
	struct keys *k = arg;

	return crypto_sign_detached(sig, NULL, msg, len, k->sign_sk);
}

static int unseal_cb(void *arg, const unsigned char *sealed, size_t len, unsigned char *out)
{
	struct keys *k = arg;

	return crypto_box_seal_open(out, sealed, len, k->box_pk, k->box_sk);
}

static void make_keys(struct keys *k)
{
	CHECK(sodium_init() >= 0);
	crypto_sign_keypair(k->sign_pk, k->sign_sk);
	crypto_box_keypair(k->box_pk, k->box_sk);
}

static void header(struct cset_header *h)
{
	memset(h, 0, sizeof *h);
	h->direction = 'C';
	h->pairing = 7;
	h->created_ms = 1767225600000LL;
	memset(h->sender, 0xA1, 16);
	memset(h->receiver, 0xB2, 16);
	h->nstreams = 2;
	snprintf(h->streams[0].name, sizeof h->streams[0].name, "changes");
	h->streams[0].from = 10;
	h->streams[0].to = 20;
	snprintf(h->streams[1].name, sizeof h->streams[1].name, "keys");
	h->streams[1].from = 0;
	h->streams[1].to = 3;
	h->nacks = 1;
	snprintf(h->acks[0].name, sizeof h->acks[0].name, "events");
	h->acks[0].to = 99;
}

/* A body with a section of rows of every type, deletes and a replacement. */
static void fill(struct cbody *b, int rows)
{
	static const char *const cols[] = {"id", "name", "blob", "ratio", "gone"};
	static const char *const kids[] = {"person_id", "group_id"};
	sqlite3 *db;
	sqlite3_stmt *st;

	CHECK_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
				     "SELECT i, 'name ' || i || ' 名前', randomblob(40), i / 3.0, NULL FROM n", -1, &st, NULL),
		  SQLITE_OK);
	sqlite3_bind_int(st, 1, rows);
	cbody_section(b, "people", cols, 5);
	while (sqlite3_step(st) == SQLITE_ROW)
		cbody_row_stmt(b, st, 0);
	sqlite3_finalize(st);
	cbody_delete(b, 5);
	cbody_delete(b, INT64_MAX);
	cbody_section(b, "group_members", kids, 2);
	cbody_replace(b, 3);
	CHECK_INT(sqlite3_prepare_v2(db, "SELECT 3, -9223372036854775807 - 1", -1, &st, NULL), SQLITE_OK);
	sqlite3_step(st);
	cbody_row_stmt(b, st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static unsigned char *sealed(struct keys *k, int rows, size_t *len)
{
	struct cset_header h;
	struct cbody b = {0};
	unsigned char *out = NULL;
	char err[200];

	header(&h);
	fill(&b, rows);
	CHECK_INT(cset_seal(&h, &b, k->box_pk, 6, sign_cb, k, &out, len, err, sizeof err), 0);
	cbody_free(&b);
	return out;
}

TEST(changeset_round_trip)
{
	struct keys k;
	struct cset_header h;
	unsigned char *cs, *body;
	size_t len, blen;
	char err[200];
	struct cbody_reader r;
	struct citem it;
	int rows = 0, deletes = 0, replaces = 0, rc;

	make_keys(&k);
	cs = sealed(&k, 1000, &len);
	CHECK_INT(cset_parse(cs, len, &h, err, sizeof err), 0);
	CHECK_INT(h.direction, 'C');
	CHECK_INT(h.pairing, 7);
	CHECK_INT(h.nstreams, 2);
	CHECK(cset_stream(&h, "changes") && cset_stream(&h, "changes")->from == 10 && cset_stream(&h, "changes")->to == 20);
	CHECK(cset_ack(&h, "events") && cset_ack(&h, "events")->to == 99);
	CHECK(!cset_stream(&h, "events"));
	CHECK_INT(cset_verify(cs, len, &h, k.sign_pk), 0);
	CHECK_INT(cset_open(cs, len, &h, unseal_cb, &k, &body, &blen, err, sizeof err), 0);
	cbody_reader_init(&r, body, blen);
	while ((rc = cbody_next(&r, &it, err, sizeof err)) == 1) {
		if (it.kind == 'U' && strcmp(r.table, "people") == 0) {
			rows++;
			CHECK_INT(it.v[0].type, SQLITE_INTEGER);
			CHECK_INT(it.v[0].i, rows);
			CHECK_INT(it.v[1].type, SQLITE_TEXT);
			CHECK_INT(it.v[2].type, SQLITE_BLOB);
			CHECK_INT(it.v[2].n, 40);
			CHECK_INT(it.v[3].type, SQLITE_FLOAT);
			CHECK(it.v[3].d == rows / 3.0);
			CHECK_INT(it.v[4].type, SQLITE_NULL);
		} else if (it.kind == 'U') {
			CHECK_STR(r.table, "group_members");
			CHECK_INT(it.v[1].i, INT64_MIN);
		}
		deletes += it.kind == 'D';
		replaces += it.kind == 'R' && it.id == 3;
	}
	CHECK_INT(rc, 0);
	CHECK_INT(rows, 1000);
	CHECK_INT(deletes, 2);
	CHECK_INT(replaces, 1);
	free(body);
	free(cs);
}

TEST(changeset_large_body_spans_records)
{
	struct keys k;
	struct cset_header h;
	unsigned char *cs, *body;
	size_t len, blen;
	char err[200];

	make_keys(&k);
	cs = sealed(&k, 60000, &len); /* random blobs: more than 1 MiB compressed */
	CHECK(len > 2 * CSET_RECORD_MAX);
	CHECK_INT(cset_parse(cs, len, &h, err, sizeof err), 0);
	CHECK_INT(cset_verify(cs, len, &h, k.sign_pk), 0);
	CHECK_INT(cset_open(cs, len, &h, unseal_cb, &k, &body, &blen, err, sizeof err), 0);
	free(body);
	free(cs);
}

TEST(changeset_every_flipped_bit_of_the_header_is_refused)
{
	struct keys k;
	struct cset_header h;
	unsigned char *cs;
	size_t len;
	char err[200];

	make_keys(&k);
	cs = sealed(&k, 3, &len);
	CHECK_INT(cset_parse(cs, len, &h, err, sizeof err), 0);
	for (size_t i = 0; i < h.header_len + 40; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct cset_header g;
			cs[i] ^= (unsigned char)(1 << bit);
			if (cset_parse(cs, len, &g, err, sizeof err) == 0 && cset_verify(cs, len, &g, k.sign_pk) == 0)
				t_fail(__FILE__, __LINE__, "byte %zu bit %d flipped and still accepted", i, bit);
			cs[i] ^= (unsigned char)(1 << bit);
		}
	}
	/* The signature itself, and the last record. */
	cs[len - 1] ^= 1;
	CHECK_INT(cset_verify(cs, len, &h, k.sign_pk), -1);
	cs[len - 1] ^= 1;
	cs[len - 70] ^= 1;
	CHECK_INT(cset_verify(cs, len, &h, k.sign_pk), -1);
	cs[len - 70] ^= 1;
	CHECK_INT(cset_verify(cs, len, &h, k.sign_pk), 0);
	free(cs);
}

TEST(changeset_cut_anywhere_is_refused)
{
	struct keys k;
	struct cset_header h;
	unsigned char *cs;
	size_t len;
	char err[200];

	make_keys(&k);
	cs = sealed(&k, 20, &len);
	for (size_t cut = 0; cut < len; cut++)
		if (cset_parse(cs, cut, &h, err, sizeof err) == 0 && cset_verify(cs, cut, &h, k.sign_pk) == 0)
			t_fail(__FILE__, __LINE__, "cut at %zu accepted", cut);
	free(cs);
}

TEST(changeset_for_another_receiver_does_not_open)
{
	struct keys k, other;
	struct cset_header h;
	unsigned char *cs, *body;
	size_t len, blen;
	char err[200];

	make_keys(&k);
	make_keys(&other);
	cs = sealed(&k, 3, &len);
	CHECK_INT(cset_parse(cs, len, &h, err, sizeof err), 0);
	CHECK_INT(cset_verify(cs, len, &h, other.sign_pk), -1); /* another sender's key */
	memcpy(other.sign_pk, k.sign_pk, 32);
	CHECK_INT(cset_open(cs, len, &h, unseal_cb, &other, &body, &blen, err, sizeof err), -1);
	CHECK_CONTAINS(err, "not sealed to this appliance");
	free(cs);
}

TEST(changeset_newer_version_and_garbage)
{
	struct keys k;
	struct cset_header h;
	unsigned char *cs, junk[300];
	size_t len;
	char err[200];

	make_keys(&k);
	cs = sealed(&k, 3, &len);
	cs[7] = 2;
	CHECK_INT(cset_parse(cs, len, &h, err, sizeof err), -1);
	CHECK_CONTAINS(err, "newer gatehouse");
	randombytes_buf(junk, sizeof junk);
	CHECK_INT(cset_parse(junk, sizeof junk, &h, err, sizeof err), -1);
	CHECK_CONTAINS(err, "not a Gatehouse changeset");
	free(cs);
}

static int read_all(const unsigned char *body, size_t len, char *err, size_t errlen)
{
	struct cbody_reader r;
	struct citem it;
	int rc;

	cbody_reader_init(&r, body, len);
	while ((rc = cbody_next(&r, &it, err, errlen)) == 1)
		;
	return rc;
}

TEST(body_reader_refuses_lies)
{
	char err[200];
	static const unsigned char ok[] = {'S', 1, 't', 1, 1, 'a', 'U', 1, 2, 'D', 5, 'E'};
	static const unsigned char no_end[] = {'S', 1, 't', 1, 1, 'a', 'U', 1, 2};
	static const unsigned char after_end[] = {'E', 'E'};
	static const unsigned char row_first[] = {'U', 1, 2, 'E'};
	static const unsigned char bad_name[] = {'S', 1, 'T', 1, 1, 'a', 'E'};
	static const unsigned char long_value[] = {'S', 1, 't', 1, 1, 'a', 'U', 4, 0x90, 0x01, 'x', 'E'};
	static const unsigned char zero_id[] = {'S', 1, 't', 1, 1, 'a', 'D', 0, 'E'};
	static const unsigned char huge_varint[] = {'S', 1, 't', 1, 1, 'a', 'D', 0xff, 0xff, 0xff, 0xff, 0xff,
						    0xff, 0xff, 0xff, 0xff, 0x7f, 'E'};
	static const unsigned char no_cols[] = {'S', 1, 't', 0, 'E'};

	CHECK_INT(read_all(ok, sizeof ok, err, sizeof err), 0);
	CHECK_INT(read_all(no_end, sizeof no_end, err, sizeof err), -1);
	CHECK_CONTAINS(err, "without its end mark");
	CHECK_INT(read_all(after_end, sizeof after_end, err, sizeof err), -1);
	CHECK_INT(read_all(row_first, sizeof row_first, err, sizeof err), -1);
	CHECK_INT(read_all(bad_name, sizeof bad_name, err, sizeof err), -1);
	CHECK_INT(read_all(long_value, sizeof long_value, err, sizeof err), -1);
	CHECK_INT(read_all(zero_id, sizeof zero_id, err, sizeof err), -1);
	CHECK_INT(read_all(huge_varint, sizeof huge_varint, err, sizeof err), -1);
	CHECK_INT(read_all(no_cols, sizeof no_cols, err, sizeof err), -1);
}

struct mem {
	unsigned char *p;
	size_t len;
};

static int mem_write(void *arg, const void *p, size_t n)
{
	struct mem *m = arg;
	unsigned char *b = realloc(m->p, m->len + n);

	if (!b)
		return -1;
	memcpy(b + m->len, p, n);
	m->p = b;
	m->len += n;
	return 0;
}

TEST(bundle_round_trip_and_cuts)
{
	struct keys k;
	struct mem m = {0};
	struct cbundle_entry *list;
	unsigned char *a, *b;
	size_t alen, blen, n;
	char err[200];

	make_keys(&k);
	a = sealed(&k, 10, &alen);
	b = sealed(&k, 20, &blen);
	CHECK_INT(cbundle_begin(mem_write, &m), 0);
	CHECK_INT(cbundle_add(mem_write, &m, a, alen), 0);
	CHECK_INT(cbundle_add(mem_write, &m, b, blen), 0);
	CHECK_INT(cbundle_end(mem_write, &m, 2), 0);
	CHECK_INT(cbundle_parse(m.p, m.len, &list, &n, err, sizeof err), 0);
	CHECK_INT(n, 2);
	CHECK(list[0].len == alen && memcmp(list[0].p, a, alen) == 0);
	CHECK(list[1].len == blen && memcmp(list[1].p, b, blen) == 0);
	free(list);
	for (size_t cut = 0; cut < m.len; cut += 7)
		CHECK_INT(cbundle_parse(m.p, cut, &list, &n, err, sizeof err), -1);
	m.p[m.len - 1] = 3; /* the count in the trailer */
	CHECK_INT(cbundle_parse(m.p, m.len, &list, &n, err, sizeof err), -1);
	CHECK_CONTAINS(err, "cut short");
	free(m.p);
	free(a);
	free(b);
}

TEST(appliance_ids_in_hex)
{
	unsigned char id[16];
	char hex[33];

	CHECK_INT(cset_id_from_hex("00112233445566778899aabbccddeeff", id), 0);
	cset_id_to_hex(id, hex);
	CHECK_STR(hex, "00112233445566778899aabbccddeeff");
	CHECK_INT(cset_id_from_hex("0011", id), -1);
	CHECK_INT(cset_id_from_hex("zz112233445566778899aabbccddeeff", id), -1);
}

/* --- the vault's part: keys that travel between two key stores --------------------- */

#include "core/db.h"
#include "core/vault.h"
#include "core/vault_internal.h"
#include "core/vault_sync.h"
#include "sync/httpc.h"
#include "sync/pairing.h"
#include "vault_fixture.h"

TEST(pairing_codes_and_fingerprints_as_typed)
{
	char code[21], text[96];
	unsigned char fp[32];

	CHECK_INT(sync_code_normalize("GHP-7KQ2M-AB3CD-EFGHJ-KMNPQ", code), 0);
	CHECK_STR(code, "7KQ2MAB3CDEFGHJKMNPQ");
	CHECK_INT(sync_code_normalize("ghp 7kq2m ab3cd efghj kmnpq", code), 0);
	CHECK_STR(code, "7KQ2MAB3CDEFGHJKMNPQ");
	CHECK_INT(sync_code_normalize("GHP-IL0O0-00000-00000-00000", code), 0); /* I, L, O read as 1, 1, 0 */
	CHECK_STR(code, "11000000000000000000");
	CHECK_INT(sync_code_normalize("GHP-7KQ2M-AB3CD-EFGHJ-KMNP", code), -1);  /* short */
	CHECK_INT(sync_code_normalize("GHP-7KQ2M-AB3CD-EFGHJ-KMNPQR", code), -1);
	CHECK_INT(sync_code_normalize("GHP-7KQ2M-AB3CD-EFGHJ-KMNPU", code), -1); /* U is no digit */
	CHECK_INT(httpc_fingerprint_parse("ab:CD:" "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
					  "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd", fp), 0);
	httpc_fingerprint_text(fp, text);
	CHECK(strncmp(text, "AB:CD:00:11", 11) == 0 && strlen(text) == 95);
	CHECK_INT(httpc_fingerprint_parse(text, fp), 0);
	CHECK_INT(httpc_fingerprint_parse("ABCD", fp), -1);
	CHECK_INT(httpc_fingerprint_parse("zz:CD", fp), -1);
}

static void index_of(const char *dir, unsigned char out[VAULT_INDEX_BYTES])
{
	CHECK_INT(store_open(dir), 0);
	CHECK_INT(vault_blind_index(1, VI_EMAIL, "a@example.jp", out), VAULT_OK);
	store_close();
}

TEST(tenant_keys_travel_sealed_and_only_to_their_receiver)
{
	char central[600], site[600], other[600], err[300];
	unsigned char site_spk[32], site_bpk[32], pk[32], a[VAULT_INDEX_BYTES], b[VAULT_INDEX_BYTES];
	struct vault_shared_key *keys;
	int64_t range, central_range, kid;
	size_t n;

	snprintf(central, sizeof central, "%s/central", t_tmpdir());
	snprintf(site, sizeof site, "%s/site", t_tmpdir());
	snprintf(other, sizeof other, "%s/other", t_tmpdir());
	/* The site's sealing key, as it would claim its pairing with it. */
	CHECK_INT(store_open(site), 0);
	CHECK_INT(vault_sync_identity(site_spk, site_bpk), VAULT_OK);
	CHECK_INT(vault_key_range(&range), VAULT_OK);
	store_close();
	CHECK_INT(store_open(central), 0);
	CHECK_INT(vault_key_range(&central_range), VAULT_OK);
	CHECK(central_range != range);
	/* Keys made now take their id in this appliance's range. */
	CHECK_INT(vault_person_key_create(1, 5), VAULT_OK);
	CHECK_INT(vault_active_key_id(1, "data", &kid), VAULT_OK);
	CHECK_INT(kid >> VAULT_KEY_RANGE_SHIFT, central_range);
	CHECK_INT(vault_sync_tenant_keys(1, site_bpk, &keys, &n), VAULT_OK);
	CHECK_INT(n, 3); /* data, index and the terminal key made for sites */
	store_close();

	/* Another appliance cannot open them, whatever it tries. */
	CHECK_INT(store_open(other), 0);
	CHECK_INT(vault_sync_make_room(1, keys, n, central_range, err, sizeof err), 0);
	CHECK_INT(vault_sync_tenant_key_put(&keys[0], err, sizeof err), -1);
	CHECK_CONTAINS(err, "cannot be opened");
	store_close();

	CHECK_INT(store_open(site), 0);
	/* Refused: the same range (the central's own), a key under another name. */
	CHECK_INT(vault_sync_make_room(1, keys, n, range, err, sizeof err), -1);
	CHECK_CONTAINS(err, "same key-id range");
	CHECK_INT(vault_sync_make_room(1, keys, n, central_range, err, sizeof err), 0);
	struct vault_shared_key renamed = keys[1];
	snprintf(renamed.purpose, sizeof renamed.purpose, "%s", strcmp(keys[1].purpose, "data") ? "data" : "index");
	CHECK_INT(vault_sync_tenant_key_put(&renamed, err, sizeof err), -1);
	struct vault_shared_key flipped = keys[0];
	flipped.sealed[40] ^= 1;
	CHECK_INT(vault_sync_tenant_key_put(&flipped, err, sizeof err), -1);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(vault_sync_tenant_key_put(&keys[i], err, sizeof err), 0);
	/* Twice changes nothing. */
	CHECK_INT(vault_sync_tenant_key_put(&keys[0], err, sizeof err), 0);
	CHECK_INT(vault_sync_identity(pk, pk), VAULT_OK);
	store_close();
	/* The same index key on both sides: an e-mail indexes alike, so a
	 * lookup at the site finds what the central stored. */
	index_of(central, a);
	index_of(site, b);
	CHECK(memcmp(a, b, sizeof a) == 0);
	sodium_memzero(keys, n * sizeof *keys);
	free(keys);
}
