/* libFuzzer target: what site sync reads from outside (sync/cset.c): bundle
 * files from a USB stick, changesets from the network, their compressed
 * bodies and the rows inside. A hostile input must be refused with a
 * reason, never crash, never read past what it declares.
 *
 * The first input byte picks a mode (the rest is the input):
 *   0: a bundle file; each changeset in it is parsed, its signature checked
 *      with a fixed sender key and, whatever the signature said, opened
 *      with a fixed receiver key and its body walked
 *   1: one changeset, the same way
 *   2: a zlib stream, inflated with the reader's bounds, then walked as a body
 *   3: a body, walked item by item
 * With FUZZ_SYNC_SEEDS=DIR set, it writes its seed files there and exits
 * (that is how tests/fuzz/corpus/sync/ was made): a bundle of two valid
 * changesets, one changeset, a compressed body and a body, each with rows
 * of every value type, deletes and a replacement. */
#include "sync/cset.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static unsigned char sign_pk[32], sign_sk[64], box_pk[32], box_sk[32];

static int sign_cb(void *arg, const unsigned char *msg, size_t len, unsigned char sig[64])
{
	(void)arg;
	return crypto_sign_detached(sig, NULL, msg, len, sign_sk);
}

static int unseal_cb(void *arg, const unsigned char *sealed, size_t len, unsigned char *out)
{
	(void)arg;
	return crypto_box_seal_open(out, sealed, len, box_pk, box_sk);
}

/* Every item of a body; the values are touched so that a bad length shows. */
static void walk(const unsigned char *body, size_t len)
{
	struct cbody_reader r;
	struct citem it;
	char err[200];
	unsigned sum = 0;

	cbody_reader_init(&r, body, len);
	while (cbody_next(&r, &it, err, sizeof err) == 1)
		if (it.kind == 'U')
			for (int i = 0; i < r.ncols; i++)
				for (size_t k = 0; it.v[i].p && k < it.v[i].n; k++)
					sum += it.v[i].p[k];
	(void)sum;
}

static void changeset(const unsigned char *p, size_t n)
{
	struct cset_header h;
	unsigned char *body;
	size_t blen;
	char err[200];

	if (cset_parse(p, n, &h, err, sizeof err) < 0)
		return;
	(void)cset_verify(p, n, &h, sign_pk);
	if (cset_open(p, n, &h, unseal_cb, NULL, &body, &blen, err, sizeof err) == 0) {
		walk(body, blen);
		free(body);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cbundle_entry *list;
	unsigned char *body;
	size_t n, blen;
	char err[200];

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		if (cbundle_parse(data + 1, size - 1, &list, &n, err, sizeof err) == 0) {
			for (size_t i = 0; i < n; i++)
				changeset(list[i].p, list[i].len);
			free(list);
		}
		break;
	case 1:
		changeset(data + 1, size - 1);
		break;
	case 2:
		if (cset_inflate(data + 1, size - 1, &body, &blen, err, sizeof err) == 0) {
			walk(body, blen);
			free(body);
		}
		break;
	default:
		walk(data + 1, size - 1);
	}
	return 0;
}

/* --- seeds ------------------------------------------------------------------------- */

static void put(struct cbody *b, int64_t id)
{
	cbody_row(b);
	cbody_int(b, id);
	cbody_text(b, "名前 name");
	cbody_blob(b, "\x01\x50sealed", 8);
	cbody_null(b);
}

static void body_of(struct cbody *b)
{
	static const char *const cols[] = {"id", "name", "sealed", "gone"};
	static const char *const kids[] = {"person_id", "group_id"};

	cbody_section(b, "people", cols, 4);
	for (int i = 1; i <= 3; i++)
		put(b, i);
	cbody_delete(b, 9);
	cbody_section(b, "group_members", kids, 2);
	cbody_replace(b, 1);
	cbody_row(b);
	cbody_int(b, 1);
	cbody_int(b, -7);
}

static void write_seed(const char *dir, const char *name, unsigned char mode, const void *p, size_t n)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(&mode, 1, 1, f) != 1 || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		abort();
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

static void seeds(const char *dir)
{
	struct cset_header h;
	struct cbody b = {0}, b2 = {0};
	struct mem m = {0};
	unsigned char *cs, *cs2, z[4096];
	uLongf zlen = sizeof z;
	size_t len, len2;
	char err[200];

	memset(&h, 0, sizeof h);
	h.direction = 'C';
	h.pairing = 1;
	h.created_ms = 1767225600000LL;
	memset(h.sender, 0xA1, 16);
	memset(h.receiver, 0xB2, 16);
	h.nstreams = 1;
	snprintf(h.streams[0].name, sizeof h.streams[0].name, "changes");
	h.streams[0].to = 5;
	h.nacks = 1;
	snprintf(h.acks[0].name, sizeof h.acks[0].name, "events");
	h.acks[0].to = 3;
	body_of(&b);
	body_of(&b2);
	if (cset_seal(&h, &b, box_pk, 6, sign_cb, NULL, &cs, &len, err, sizeof err) < 0 ||
	    cset_seal(&h, &b2, box_pk, 6, sign_cb, NULL, &cs2, &len2, err, sizeof err) < 0)
		abort();
	write_seed(dir, "changeset", 1, cs, len);
	if (cbundle_begin(mem_write, &m) < 0 || cbundle_add(mem_write, &m, cs, len) < 0 ||
	    cbundle_add(mem_write, &m, cs2, len2) < 0 || cbundle_end(mem_write, &m, 2) < 0)
		abort();
	write_seed(dir, "bundle", 0, m.p, m.len);
	/* b ends with 'E' now (cset_seal added it): the body as it travels. */
	write_seed(dir, "body", 3, b.p, b.len);
	if (compress2(z, &zlen, b.p, (uLong)b.len, 6) != Z_OK)
		abort();
	write_seed(dir, "compressed_body", 2, z, zlen);
	free(cs);
	free(cs2);
	free(m.p);
	cbody_free(&b);
	cbody_free(&b2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_SYNC_SEEDS");
	unsigned char seed[32];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	/* Fixed keys: the same in every run, so the seeds stay valid. */
	memset(seed, 0x44, sizeof seed);
	crypto_sign_seed_keypair(sign_pk, sign_sk, seed);
	memset(seed, 0x55, sizeof seed);
	crypto_box_seed_keypair(box_pk, box_sk, seed);
	if (dir) {
		seeds(dir);
		exit(0);
	}
	return 0;
}
