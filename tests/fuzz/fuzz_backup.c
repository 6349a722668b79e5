/* libFuzzer target: the backup file reader (backup/bfile.c) and the key
 * steps before it (vault_file_key_unwrap / _unseal), as `gatehouse backup
 * verify` and `gatehouse restore` run them on a file from outside. A
 * hostile file must be refused with a reason, never crash, never make the
 * reader hand out more bytes than the manifest declares.
 *
 * The first input byte picks a mode:
 *   even: the rest is a backup file. Its key is found as the appliance
 *     would: unwrapped with a fixed master key, else unsealed with a fixed
 *     recovery key, else (so mutations of the seeds reach the stream) the
 *     fixed file key the seeds were made with.
 *   odd:  the rest is a script of plaintext records, [tag][u16 length]
 *     [bytes] each, which this target encrypts into a stream behind a
 *     fixed header (with a correct trailer when bit 1 is set): this reaches
 *     the record parsers and zlib past the authentication.
 * With FUZZ_BACKUP_SEEDS=DIR set, it writes its seed files there and exits
 * (that is how tests/fuzz/corpus/backup/ was made). */
#include "backup/bfile.h"
#include "core/vault_escrow.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);

#define FAIL() (fprintf(stderr, "%s:%d: check failed\n", __FILE__, __LINE__), abort())

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static unsigned char master[32], recovery_sk[32], recovery_pk[32], file_key[32];

/* --- memory I/O ------------------------------------------------------------------ */

struct mem {
	unsigned char *p;
	size_t len, cap, pos;
};

static int mem_write(void *arg, const void *p, size_t n)
{
	struct mem *m = arg;

	if (m->len + n > m->cap) {
		size_t cap = (m->len + n) * 2 + 1024;
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
	memcpy(p, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* --- a sink that checks the reader's promises ---------------------------------------- */

struct check {
	int begun, ended;
	uint64_t size, got;
};

static int s_begin(void *arg, const char *name, uint64_t size)
{
	struct check *c = arg;

	if (c->begun != c->ended || !name[0] || strchr(name, '/') || name[0] == '.')
		FAIL();
	c->begun++;
	c->size = size;
	c->got = 0;
	return 0;
}

static int s_data(void *arg, const void *p, size_t n)
{
	struct check *c = arg;

	(void)p;
	if (c->begun != c->ended + 1 || n == 0 || c->got + n > c->size)
		FAIL();
	c->got += n;
	return 0;
}

static int s_end(void *arg)
{
	struct check *c = arg;

	if (c->begun != c->ended + 1 || c->got != c->size)
		FAIL();
	c->ended++;
	return 0;
}

static void read_file(const unsigned char *p, size_t n, const unsigned char *key_hint)
{
	struct mem in = {(unsigned char *)(uintptr_t)p, n, n, 0};
	struct bfile_in bin = {mem_read, &in};
	struct check c = {0};
	struct bfile_sink sink = {s_begin, s_data, s_end, NULL, &c, NULL, 0};
	struct bfile_manifest m;
	struct bfile_counts *counts = malloc(sizeof *counts);
	struct bfile_header h;
	unsigned char raw[BFILE_HEADER_BYTES], key[32];
	char err[300] = "";
	int rc;

	if (!counts)
		return;
	if (bfile_read_header(&bin, raw, &h, err, sizeof err) < 0) {
		if (!err[0])
			FAIL();
		free(counts);
		return;
	}
	if (key_hint)
		memcpy(key, key_hint, 32);
	else if (vault_file_key_unwrap(master, h.wrapped_key, raw, BFILE_WRAP_AD_BYTES, key) != 0 &&
		 vault_file_key_unseal(recovery_sk, h.sealed_key, key) != 0)
		memcpy(key, file_key, 32);
	rc = bfile_read_stream(&bin, raw, key, &sink, 0, &m, counts, err, sizeof err);
	if (getenv("FUZZ_BACKUP_DEBUG")) /* what happened to one input */
		fprintf(stderr, "read: %s\n", rc == 0 ? "accepted" : err);
	if (rc < 0 && !err[0])
		FAIL();
	if (rc == 0 && (c.ended != m.ndb || counts->n > BFILE_MAX_TABLES))
		FAIL();
	free(counts);
}

/* --- mode 1: records encrypted here --------------------------------------------------- */

static void header_bytes(struct bfile_header *h, unsigned char raw[BFILE_HEADER_BYTES])
{
	memset(h, 0, sizeof *h);
	h->kind = BFILE_FULL;
	h->created_at = 1767225600;
	h->schema_version = 7;
	bfile_header_encode(h, raw);
}

static void script_to_file(const uint8_t *s, size_t n, int trailer, struct mem *out)
{
	crypto_secretstream_xchacha20poly1305_state st;
	struct bfile_header h;
	unsigned char raw[BFILE_HEADER_BYTES], *c = malloc(BFILE_MAX_RECORD + 64), len[4];
	unsigned long long clen;
	size_t i = 0;
	int first = 1;

	if (!c)
		return;
	header_bytes(&h, raw);
	crypto_secretstream_xchacha20poly1305_init_push(&st, h.stream_header, file_key);
	bfile_header_encode(&h, raw);
	mem_write(out, raw, sizeof raw);
	while (i + 3 <= n) {
		unsigned char tag = s[i] & 3;
		size_t l = (size_t)s[i + 1] << 8 | s[i + 2];
		i += 3;
		if (l > n - i)
			l = n - i;
		crypto_secretstream_xchacha20poly1305_push(&st, c, &clen, s + i, l, first ? raw : NULL,
							   first ? sizeof raw : 0, tag);
		first = 0;
		len[0] = (unsigned char)(clen >> 24), len[1] = (unsigned char)(clen >> 16);
		len[2] = (unsigned char)(clen >> 8), len[3] = (unsigned char)clen;
		mem_write(out, len, 4);
		mem_write(out, c, (size_t)clen);
		i += l;
	}
	if (trailer) {
		unsigned char t[16] = "GHBEND\0\0";
		uint64_t at = out->len;
		for (int k = 15; k >= 8; k--, at >>= 8)
			t[k] = (unsigned char)at;
		mem_write(out, t, 16);
	}
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem f = {0};

	if (size < 1 || size > (4u << 20))
		return 0;
	if (data[0] & 1) {
		script_to_file(data + 1, size - 1, data[0] & 2, &f);
		read_file(f.p, f.len, file_key);
		free(f.p);
	} else {
		read_file(data + 1, size - 1, NULL);
	}
	return 0;
}

/* --- seeds -------------------------------------------------------------------------------- */

static void save(const char *dir, const char *name, unsigned char mode, const void *p, size_t n)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")))
		exit(1);
	fputc(mode, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

/* A real file made by the writer, its key wrapped and sealed as the vault does. */
static void seed_file(const char *dir)
{
	struct bfile_header h = {.kind = BFILE_FULL, .created_at = 1767225600, .schema_version = 7};
	struct mem out = {0};
	struct bfile_out o = {mem_write, &out};
	struct bfile_manifest m = {.program = "gatehouse fuzz", .ndb = 2, .db = {"gatehouse.db", "keystore.db"},
				   .size = {3000, 100}};
	struct bfile_counts c = {.n = 2, .item = {{0, "events", 3}, {1, "tenant_keys", 1}}};
	unsigned char raw[BFILE_HEADER_BYTES], kek[32], db[3000];
	unsigned long long clen;
	struct bfile_writer *w;

	for (int i = 0; i < 3000; i++)
		db[i] = (unsigned char)(i * 7 % 251);
	bfile_header_encode(&h, raw);
	crypto_kdf_derive_from_key(kek, 32, 1, "ghbackup", master);
	randombytes_buf(h.wrapped_key, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(h.wrapped_key + 24, &clen, file_key, 32, raw, BFILE_WRAP_AD_BYTES, NULL,
						   h.wrapped_key, kek);
	crypto_box_seal(h.sealed_key, file_key, 32, recovery_pk);
	w = bfile_writer_new(&o, &h, file_key, 6, NULL, 0);
	bfile_write_manifest(w, &m);
	bfile_db_begin(w, "gatehouse.db", 3000);
	bfile_db_data(w, db, 3000);
	bfile_db_end(w);
	bfile_db_begin(w, "keystore.db", 100);
	bfile_db_data(w, db, 100);
	bfile_db_end(w);
	bfile_write_final(w, &c);
	bfile_writer_free(w);
	save(dir, "full_file", 0, out.p, out.len);
	save(dir, "truncated_file", 0, out.p, out.len / 2);
	free(out.p);
}

static size_t rec(unsigned char *p, unsigned char tag, const void *body, size_t n)
{
	p[0] = tag;
	p[1] = (unsigned char)(n >> 8);
	p[2] = (unsigned char)n;
	memcpy(p + 3, body, n);
	return 3 + n;
}

/* A script of records: manifest, one database, final. */
static void seed_script(const char *dir)
{
	unsigned char s[4096], b[600], z[600], db[500];
	uLongf zl = sizeof z;
	size_t n = 0, l;

	for (int i = 0; i < 500; i++)
		db[i] = (unsigned char)(i % 13);
	compress2(z, &zl, db, sizeof db, 6);
	l = 0;
	b[l++] = 'M';
	b[l++] = 4;
	memcpy(b + l, "fuzz", 4), l += 4;
	b[l++] = 1;
	b[l++] = 9;
	memcpy(b + l, "events.db", 9), l += 9;
	memset(b + l, 0, 8), b[l + 6] = 500 >> 8, b[l + 7] = 500 & 255, l += 8;
	n += rec(s + n, 0, b, l);
	l = 0;
	b[l++] = 'B';
	b[l++] = 9;
	memcpy(b + l, "events.db", 9), l += 9;
	memset(b + l, 0, 8), b[l + 6] = 500 >> 8, b[l + 7] = 500 & 255, l += 8;
	n += rec(s + n, 0, b, l);
	b[0] = 'D';
	memcpy(b + 1, z, zl);
	n += rec(s + n, 0, b, 1 + zl);
	b[0] = 'E';
	memset(b + 1, 0, 8), b[7] = 500 >> 8, b[8] = 500 & 255;
	n += rec(s + n, 0, b, 9);
	l = 0;
	b[l++] = 'F';
	b[l++] = 0, b[l++] = 1;
	b[l++] = 0, b[l++] = 6;
	memcpy(b + l, "events", 6), l += 6;
	memset(b + l, 0, 8), b[l + 7] = 3, l += 8;
	n += rec(s + n, 3, b, l);
	save(dir, "script_valid", 3, s, n);
	save(dir, "script_no_trailer", 1, s, n);
	save(dir, "script_no_final", 3, s, n - (3 + l));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("FUZZ_BACKUP_SEEDS");

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	/* Fixed keys: the same in every run, so the seeds stay valid. */
	memset(master, 0x11, sizeof master);
	memset(recovery_sk, 0x22, sizeof recovery_sk);
	memset(file_key, 0x33, sizeof file_key);
	crypto_scalarmult_base(recovery_pk, recovery_sk);
	if (seeds) {
		seed_file(seeds);
		seed_script(seeds);
		exit(0);
	}
	return 0;
}
