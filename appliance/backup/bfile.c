#include "bfile.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAGIC "GHBACKUP"
#define TRAILER_MAGIC "GHBEND\0\0"
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define PLAIN_CAP (1 + BFILE_MAX_RECORD)
#define CIPHER_CAP (PLAIN_CAP + ABYTES)
#define INFLATE_CHUNK (256u * 1024)

/* --- big-endian helpers -------------------------------------------------------- */

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *bfile_kind_name(int kind)
{
	return kind == BFILE_FULL ? "full" : kind == BFILE_EVENTS ? "events" : "unknown";
}

/* --- header ------------------------------------------------------------------- */

void bfile_header_encode(const struct bfile_header *h, unsigned char out[BFILE_HEADER_BYTES])
{
	memcpy(out, MAGIC, 8);
	put_be(out + 8, BFILE_VERSION, 2);
	put_be(out + 10, BFILE_HEADER_BYTES, 2);
	out[12] = (unsigned char)h->kind;
	out[13] = 0;
	put_be(out + 14, (uint64_t)h->created_at, 8);
	memcpy(out + 22, h->appliance_id, 16);
	put_be(out + 38, h->schema_version, 4);
	memcpy(out + 42, h->master_id, 8);
	memcpy(out + 50, h->recovery_fp, 8);
	memcpy(out + 58, h->wrapped_key, 72);
	memcpy(out + 130, h->sealed_key, 80);
	memcpy(out + 210, h->stream_header, 24);
}

int bfile_header_decode(const unsigned char *in, size_t len, struct bfile_header *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	if (len < 12 || memcmp(in, MAGIC, 8) != 0) {
		seterr(err, errlen, "not a Gatehouse backup (no GHBACKUP header)");
		return -1;
	}
	h->version = (int)get_be(in + 8, 2);
	if (h->version != BFILE_VERSION) {
		seterr(err, errlen, "backup format version %d is not one this program reads (%d)%s", h->version,
		       BFILE_VERSION, h->version > BFILE_VERSION ? ": made by a newer gatehouse" : "");
		return -1;
	}
	if (get_be(in + 10, 2) != BFILE_HEADER_BYTES || len < BFILE_HEADER_BYTES) {
		seterr(err, errlen, "backup header is truncated or of the wrong length");
		return -1;
	}
	h->kind = in[12];
	if ((h->kind != BFILE_FULL && h->kind != BFILE_EVENTS) || in[13] != 0) {
		seterr(err, errlen, "backup header names an unknown kind (%d) or flags (%d)", in[12], in[13]);
		return -1;
	}
	h->created_at = (int64_t)get_be(in + 14, 8);
	h->schema_version = (uint32_t)get_be(in + 38, 4);
	if (h->created_at <= 0 || h->created_at > (int64_t)1 << 40 || h->schema_version < 1 ||
	    h->schema_version > 100000) {
		seterr(err, errlen, "backup header has an impossible time or schema version");
		return -1;
	}
	memcpy(h->appliance_id, in + 22, 16);
	memcpy(h->master_id, in + 42, 8);
	memcpy(h->recovery_fp, in + 50, 8);
	memcpy(h->wrapped_key, in + 58, 72);
	memcpy(h->sealed_key, in + 130, 80);
	memcpy(h->stream_header, in + 210, 24);
	return 0;
}

int bfile_trailer_ok(const unsigned char t[BFILE_TRAILER_BYTES], uint64_t file_size)
{
	return file_size >= BFILE_HEADER_BYTES + BFILE_TRAILER_BYTES && memcmp(t, TRAILER_MAGIC, 8) == 0 &&
	       get_be(t + 8, 8) == file_size - BFILE_TRAILER_BYTES;
}

static int name_ok(const unsigned char *p, size_t n)
{
	/* Names become file names: no leading dot, no slash. */
	if (n < 1 || n > BFILE_NAME_MAX || p[0] == '.' || p[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '.' ||
		      p[i] == '-'))
			return 0;
	return 1;
}

/* --- writer -------------------------------------------------------------------- */

struct bfile_writer {
	struct bfile_out out;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char header[BFILE_HEADER_BYTES];
	unsigned char *plain, *cipher;
	z_stream z;
	int level, in_db, first;
	uint64_t bytes, db_size, db_seen;
	char error[200];
};

static int out_write(struct bfile_writer *w, const void *p, size_t n)
{
	if (w->out.write(w->out.arg, p, n) < 0) {
		snprintf(w->error, sizeof w->error, "cannot write: %s", strerror(errno));
		return -1;
	}
	w->bytes += n;
	return 0;
}

/* Seal plain[0 .. 1 + n) as one record. */
static int emit(struct bfile_writer *w, size_t n, unsigned char tag)
{
	unsigned long long clen;
	unsigned char len[4];

	crypto_secretstream_xchacha20poly1305_push(&w->st, w->cipher, &clen, w->plain, 1 + n,
						   w->first ? w->header : NULL, w->first ? BFILE_HEADER_BYTES : 0,
						   tag);
	w->first = 0;
	put_be(len, clen, 4);
	return out_write(w, len, 4) < 0 || out_write(w, w->cipher, (size_t)clen) < 0 ? -1 : 0;
}

struct bfile_writer *bfile_writer_new(const struct bfile_out *out, struct bfile_header *h, const unsigned char key[32],
				      int level, char *err, size_t errlen)
{
	struct bfile_writer *w = calloc(1, sizeof *w);

	if (!w || !(w->plain = malloc(PLAIN_CAP)) || !(w->cipher = malloc(CIPHER_CAP))) {
		seterr(err, errlen, "out of memory");
		bfile_writer_free(w);
		return NULL;
	}
	w->out = *out;
	w->level = level < 1 || level > 9 ? 6 : level;
	w->first = 1;
	crypto_secretstream_xchacha20poly1305_init_push(&w->st, h->stream_header, key);
	bfile_header_encode(h, w->header);
	if (out_write(w, w->header, sizeof w->header) < 0) {
		seterr(err, errlen, "%s", w->error);
		bfile_writer_free(w);
		return NULL;
	}
	return w;
}

int bfile_write_manifest(struct bfile_writer *w, const struct bfile_manifest *m)
{
	size_t n = 0, pl = strlen(m->program);
	unsigned char *p = w->plain + 1;

	w->plain[0] = 'M';
	p[n++] = (unsigned char)pl;
	memcpy(p + n, m->program, pl);
	n += pl;
	p[n++] = (unsigned char)m->ndb;
	for (int i = 0; i < m->ndb; i++) {
		size_t l = strlen(m->db[i]);
		p[n++] = (unsigned char)l;
		memcpy(p + n, m->db[i], l);
		n += l;
		put_be(p + n, m->size[i], 8);
		n += 8;
	}
	return emit(w, n, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
}

int bfile_db_begin(struct bfile_writer *w, const char *name, uint64_t size)
{
	size_t l = strlen(name);

	if (w->in_db || l < 1 || l > BFILE_NAME_MAX) {
		snprintf(w->error, sizeof w->error, "bad database name");
		return -1;
	}
	memset(&w->z, 0, sizeof w->z);
	if (deflateInit(&w->z, w->level) != Z_OK) {
		snprintf(w->error, sizeof w->error, "zlib cannot start");
		return -1;
	}
	w->in_db = 1;
	w->db_size = size;
	w->db_seen = 0;
	w->plain[0] = 'B';
	w->plain[1] = (unsigned char)l;
	memcpy(w->plain + 2, name, l);
	put_be(w->plain + 2 + l, size, 8);
	if (emit(w, 1 + l + 8, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) < 0)
		return -1;
	w->plain[0] = 'D';
	w->z.next_out = w->plain + 1;
	w->z.avail_out = BFILE_MAX_RECORD;
	return 0;
}

static int flush_out(struct bfile_writer *w)
{
	w->plain[0] = 'D';
	if (emit(w, BFILE_MAX_RECORD - w->z.avail_out, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) < 0)
		return -1;
	w->z.next_out = w->plain + 1;
	w->z.avail_out = BFILE_MAX_RECORD;
	return 0;
}

/* Deflate what zlib holds (all of it with Z_FINISH); every full output
 * buffer becomes a record. */
static int pump(struct bfile_writer *w, int flush)
{
	int rc;

	do {
		rc = deflate(&w->z, flush);
		if (rc == Z_STREAM_ERROR) {
			snprintf(w->error, sizeof w->error, "zlib failed");
			return -1;
		}
		if (w->z.avail_out == 0 && flush_out(w) < 0)
			return -1;
	} while (flush == Z_FINISH ? rc != Z_STREAM_END : w->z.avail_in > 0);
	if (flush == Z_FINISH && w->z.avail_out < BFILE_MAX_RECORD)
		return flush_out(w);
	return 0;
}

int bfile_db_data(struct bfile_writer *w, const void *p, size_t n)
{
	if (!w->in_db || w->db_seen + n > w->db_size) {
		snprintf(w->error, sizeof w->error, "database data outside a database, or beyond its size");
		return -1;
	}
	w->db_seen += n;
	while (n > 0) {
		uInt take = n > (1u << 30) ? 1u << 30 : (uInt)n;
		w->z.next_in = (unsigned char *)(uintptr_t)p;
		w->z.avail_in = take;
		if (pump(w, Z_NO_FLUSH) < 0)
			return -1;
		p = (const unsigned char *)p + take;
		n -= take;
	}
	return 0;
}

int bfile_db_end(struct bfile_writer *w)
{
	int rc;

	if (!w->in_db || w->db_seen != w->db_size) {
		snprintf(w->error, sizeof w->error, "database ended at %llu bytes, %llu expected",
			 (unsigned long long)w->db_seen, (unsigned long long)w->db_size);
		return -1;
	}
	w->z.next_in = NULL;
	w->z.avail_in = 0;
	rc = pump(w, Z_FINISH);
	deflateEnd(&w->z);
	w->in_db = 0;
	if (rc < 0)
		return -1;
	w->plain[0] = 'E';
	put_be(w->plain + 1, w->db_size, 8);
	return emit(w, 8, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
}

int bfile_write_final(struct bfile_writer *w, const struct bfile_counts *c)
{
	unsigned char *p = w->plain + 1, trailer[BFILE_TRAILER_BYTES];
	size_t n = 0;

	w->plain[0] = 'F';
	put_be(p, (uint64_t)c->n, 2);
	n = 2;
	for (int i = 0; i < c->n; i++) {
		size_t l = strlen(c->item[i].table);
		p[n++] = (unsigned char)c->item[i].db;
		p[n++] = (unsigned char)l;
		memcpy(p + n, c->item[i].table, l);
		n += l;
		put_be(p + n, (uint64_t)c->item[i].rows, 8);
		n += 8;
	}
	if (emit(w, n, crypto_secretstream_xchacha20poly1305_TAG_FINAL) < 0)
		return -1;
	memcpy(trailer, TRAILER_MAGIC, 8);
	put_be(trailer + 8, w->bytes, 8);
	return out_write(w, trailer, sizeof trailer);
}

uint64_t bfile_writer_bytes(const struct bfile_writer *w) { return w->bytes; }

const char *bfile_writer_error(const struct bfile_writer *w) { return w->error; }

void bfile_writer_free(struct bfile_writer *w)
{
	if (!w)
		return;
	if (w->in_db)
		deflateEnd(&w->z);
	if (w->plain) {
		sodium_memzero(w->plain, PLAIN_CAP);
		free(w->plain);
	}
	free(w->cipher);
	sodium_memzero(&w->st, sizeof w->st);
	free(w);
}

/* --- reader -------------------------------------------------------------------- */

/* Exactly n bytes, or 0 at a clean end before the first byte, or -1. */
static int read_full(const struct bfile_in *in, void *p, size_t n, uint64_t *pos)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = in->read(in->arg, (unsigned char *)p + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			return got == 0 ? 0 : -2;
		got += (size_t)r;
	}
	*pos += n;
	return 1;
}

int bfile_read_header(const struct bfile_in *in, unsigned char raw[BFILE_HEADER_BYTES], struct bfile_header *h,
		      char *err, size_t errlen)
{
	size_t got = 0;

	while (got < BFILE_HEADER_BYTES) {
		ssize_t r = in->read(in->arg, raw + got, BFILE_HEADER_BYTES - got);
		if (r < 0) {
			seterr(err, errlen, "cannot read: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got < 8 || memcmp(raw, MAGIC, 8) != 0) {
		seterr(err, errlen, "not a Gatehouse backup (no GHBACKUP header)");
		return -1;
	}
	if (got < BFILE_HEADER_BYTES) {
		seterr(err, errlen, "truncated: the file ends inside the backup header");
		return -1;
	}
	return bfile_header_decode(raw, BFILE_HEADER_BYTES, h, err, errlen);
}

struct reader {
	const struct bfile_in *in;
	const struct bfile_sink *sink;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char *plain, *cipher, *out;
	uint64_t cap;      /* bytes of plain and cipher */
	uint64_t pos;
	int first;
	/* the database being read */
	z_stream z;
	int in_db, z_done, ndone;
	uint64_t db_size, db_out;
	struct bfile_manifest *m;
	char *err;
	size_t errlen;
};

/* Next record: plaintext in r->plain (*n bytes with the type byte). */
static int next_record(struct reader *r, const unsigned char *raw, size_t *n, unsigned char *tag)
{
	unsigned char lenb[4];
	unsigned long long mlen;
	uint64_t len;
	int rc = read_full(r->in, lenb, 4, &r->pos);

	if (rc == 0 || rc == -2) {
		seterr(r->err, r->errlen, "truncated: the stream ends at byte %llu before its final record",
		       (unsigned long long)r->pos);
		return -1;
	}
	if (rc < 0) {
		seterr(r->err, r->errlen, "cannot read: %s", strerror(errno));
		return -1;
	}
	len = get_be(lenb, 4);
	if (len < 1 + ABYTES || len > CIPHER_CAP) {
		seterr(r->err, r->errlen, "record at byte %llu has an impossible length (%llu)",
		       (unsigned long long)(r->pos - 4), (unsigned long long)len);
		return -1;
	}
	/* Buffers grow to the records met (bounded above), not to the maximum. */
	if (len > r->cap) {
		unsigned char *c = realloc(r->cipher, len), *p = c ? realloc(r->plain, len) : NULL;
		if (c)
			r->cipher = c;
		if (!c || !p) {
			seterr(r->err, r->errlen, "out of memory");
			return -1;
		}
		r->plain = p;
		r->cap = len;
	}
	rc = read_full(r->in, r->cipher, (size_t)len, &r->pos);
	if (rc != 1) {
		seterr(r->err, r->errlen, rc == -1 ? "cannot read: %s" : "truncated: the file ends inside a record%s",
		       rc == -1 ? strerror(errno) : "");
		return -1;
	}
	if (crypto_secretstream_xchacha20poly1305_pull(&r->st, r->plain, &mlen, tag, r->cipher, len,
						       r->first ? raw : NULL, r->first ? BFILE_HEADER_BYTES : 0) != 0) {
		seterr(r->err, r->errlen, r->first ? "the header or first record was altered, or the key is wrong"
						   : "record ending at byte %llu was altered, reordered or cut",
		       (unsigned long long)r->pos);
		return -1;
	}
	r->first = 0;
	*n = (size_t)mlen;
	return 0;
}

static int parse_manifest(struct reader *r, const unsigned char *p, size_t n)
{
	struct bfile_manifest *m = r->m;
	size_t i = 0, l;

	memset(m, 0, sizeof *m);
	if (n < 2 || (l = p[0]) > BFILE_NAME_MAX || 1 + l + 1 > n)
		goto bad;
	memcpy(m->program, p + 1, l);
	for (size_t k = 0; k < l; k++)
		if (m->program[k] < 0x20 || m->program[k] > 0x7e)
			goto bad;
	i = 1 + l;
	m->ndb = p[i++];
	if (m->ndb < 1 || m->ndb > BFILE_MAX_DBS)
		goto bad;
	for (int d = 0; d < m->ndb; d++) {
		if (i >= n || (l = p[i]) < 1 || i + 1 + l + 8 > n || !name_ok(p + i + 1, l))
			goto bad;
		memcpy(m->db[d], p + i + 1, l);
		m->size[d] = get_be(p + i + 1 + l, 8);
		if (m->size[d] > BFILE_MAX_DB_SIZE)
			goto bad;
		i += 1 + l + 8;
	}
	if (i != n)
		goto bad;
	return 0;
bad:
	seterr(r->err, r->errlen, "the manifest record is malformed");
	return -1;
}

static int sink_fail(struct reader *r, const char *what)
{
	if (r->sink && r->sink->err && r->sink->err[0])
		seterr(r->err, r->errlen, "%s", r->sink->err);
	else
		seterr(r->err, r->errlen, "cannot %s: %s", what, strerror(errno));
	return -1;
}

static int db_begin(struct reader *r, const unsigned char *p, size_t n)
{
	size_t l = n >= 1 ? p[0] : 0;
	int d = r->ndone;

	if (r->in_db || d >= r->m->ndb || n != 1 + l + 8 || l != strlen(r->m->db[d]) || memcmp(p + 1, r->m->db[d], l) ||
	    get_be(p + 1 + l, 8) != r->m->size[d]) {
		seterr(r->err, r->errlen, "a database record does not match the manifest");
		return -1;
	}
	memset(&r->z, 0, sizeof r->z);
	if (inflateInit(&r->z) != Z_OK) {
		seterr(r->err, r->errlen, "zlib cannot start");
		return -1;
	}
	r->in_db = 1;
	r->z_done = 0;
	r->db_size = r->m->size[d];
	r->db_out = 0;
	if (r->sink && r->sink->begin(r->sink->arg, r->m->db[d], r->db_size) < 0)
		return sink_fail(r, "write the database");
	return 0;
}

static int db_data(struct reader *r, const unsigned char *p, size_t n)
{
	if (!r->in_db || r->z_done) {
		seterr(r->err, r->errlen, "compressed data outside a database");
		return -1;
	}
	r->z.next_in = (unsigned char *)(uintptr_t)p;
	r->z.avail_in = (uInt)n;
	while (r->z.avail_in > 0 && !r->z_done) {
		int rc;
		r->z.next_out = r->out;
		r->z.avail_out = INFLATE_CHUNK;
		rc = inflate(&r->z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && r->z.avail_out == 0)) {
			seterr(r->err, r->errlen, "compressed data is corrupt (%s)", r->z.msg ? r->z.msg : "zlib error");
			return -1;
		}
		size_t got = INFLATE_CHUNK - r->z.avail_out;
		if (r->db_out + got > r->db_size) {
			seterr(r->err, r->errlen, "a database is longer than its manifest says");
			return -1;
		}
		r->db_out += got;
		if (got && r->sink && r->sink->data(r->sink->arg, r->out, got) < 0)
			return sink_fail(r, "write the database");
		if (rc == Z_STREAM_END)
			r->z_done = 1;
	}
	if (r->z.avail_in > 0) {
		seterr(r->err, r->errlen, "bytes after the end of a compressed database");
		return -1;
	}
	return 0;
}

static int db_end(struct reader *r, const unsigned char *p, size_t n)
{
	if (!r->in_db || n != 8 || get_be(p, 8) != r->db_size) {
		seterr(r->err, r->errlen, "a database end record does not match its beginning");
		return -1;
	}
	/* zlib may hold back the last bytes until asked with no new input. */
	while (!r->z_done) {
		int rc;
		r->z.next_in = NULL;
		r->z.avail_in = 0;
		r->z.next_out = r->out;
		r->z.avail_out = INFLATE_CHUNK;
		rc = inflate(&r->z, Z_NO_FLUSH);
		size_t got = INFLATE_CHUNK - r->z.avail_out;
		if ((rc != Z_OK && rc != Z_STREAM_END) || got == 0) {
			seterr(r->err, r->errlen, "a compressed database ends early");
			return -1;
		}
		if (r->db_out + got > r->db_size) {
			seterr(r->err, r->errlen, "a database is longer than its manifest says");
			return -1;
		}
		r->db_out += got;
		if (r->sink && r->sink->data(r->sink->arg, r->out, got) < 0)
			return sink_fail(r, "write the database");
		r->z_done = rc == Z_STREAM_END;
	}
	if (r->db_out != r->db_size) {
		seterr(r->err, r->errlen, "a database is shorter (%llu bytes) than its manifest says (%llu)",
		       (unsigned long long)r->db_out, (unsigned long long)r->db_size);
		return -1;
	}
	inflateEnd(&r->z);
	r->in_db = 0;
	r->ndone++;
	if (r->sink && r->sink->end(r->sink->arg) < 0)
		return sink_fail(r, "finish the database");
	return 0;
}

static int parse_final(struct reader *r, const unsigned char *p, size_t n, struct bfile_counts *c)
{
	size_t i = 2;

	if (r->in_db || r->ndone != r->m->ndb || n < 2 || (c->n = (int)get_be(p, 2)) > BFILE_MAX_TABLES)
		goto bad;
	for (int k = 0; k < c->n; k++) {
		size_t l;
		if (i + 2 > n || p[i] >= r->m->ndb || (l = p[i + 1]) < 1 || i + 2 + l + 8 > n || !name_ok(p + i + 2, l))
			goto bad;
		c->item[k].db = p[i];
		memcpy(c->item[k].table, p + i + 2, l);
		c->item[k].table[l] = '\0';
		c->item[k].rows = (long long)get_be(p + i + 2 + l, 8);
		if (c->item[k].rows < 0)
			goto bad;
		i += 2 + l + 8;
	}
	if (i != n)
		goto bad;
	return 0;
bad:
	seterr(r->err, r->errlen, "the final record is malformed or comes too early");
	return -1;
}

static int check_trailer(struct reader *r)
{
	unsigned char t[BFILE_TRAILER_BYTES], extra;
	uint64_t at = r->pos, dummy = 0;
	int rc = read_full(r->in, t, sizeof t, &r->pos);

	if (rc != 1 || memcmp(t, TRAILER_MAGIC, 8) != 0 || get_be(t + 8, 8) != at) {
		seterr(r->err, r->errlen, "the trailer after the final record is missing or wrong");
		return -1;
	}
	if (read_full(r->in, &extra, 1, &dummy) != 0) {
		seterr(r->err, r->errlen, "bytes after the end of the backup");
		return -1;
	}
	return 0;
}

static int dispatch(struct reader *r, size_t n, unsigned char tag, struct bfile_counts *counts, int *final)
{
	const unsigned char *p = r->plain + 1;
	unsigned char type = r->plain[0];

	if (n < 1) {
		seterr(r->err, r->errlen, "an empty record");
		return -1;
	}
	n--;
	if ((tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) != (type == 'F') ||
	    (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)) {
		seterr(r->err, r->errlen, "a record carries the wrong stream tag");
		return -1;
	}
	switch (type) {
	case 'B': return db_begin(r, p, n);
	case 'D': return db_data(r, p, n);
	case 'E': return db_end(r, p, n);
	case 'F': *final = 1; return parse_final(r, p, n, counts);
	}
	seterr(r->err, r->errlen, "unknown record type 0x%02x", type);
	return -1;
}

int bfile_read_stream(const struct bfile_in *in, const unsigned char raw[BFILE_HEADER_BYTES],
		      const unsigned char key[32], const struct bfile_sink *sink, int only_manifest,
		      struct bfile_manifest *m, struct bfile_counts *counts, char *err, size_t errlen)
{
	struct reader r = {.in = in, .sink = sink, .pos = BFILE_HEADER_BYTES, .first = 1, .m = m, .err = err,
			   .errlen = errlen};
	unsigned char tag;
	size_t n;
	int rc = -1, final = 0;

	counts->n = 0;
	r.cap = 64 * 1024;
	r.plain = malloc(r.cap);
	r.cipher = malloc(r.cap);
	r.out = malloc(INFLATE_CHUNK);
	if (!r.plain || !r.cipher || !r.out) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(&r.st, raw + 210, key) != 0) {
		seterr(err, errlen, "bad stream header");
		goto out;
	}
	if (next_record(&r, raw, &n, &tag) < 0)
		goto out;
	if (n < 1 || r.plain[0] != 'M' || tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
		seterr(err, errlen, "the first record is not a manifest");
		goto out;
	}
	if (parse_manifest(&r, r.plain + 1, n - 1) < 0)
		goto out;
	if (only_manifest) {
		rc = 0;
		goto out;
	}
	while (!final) {
		if (sink && sink->stop && sink->stop(sink->arg)) {
			seterr(err, errlen, "stopped");
			goto out;
		}
		if (next_record(&r, raw, &n, &tag) < 0 || dispatch(&r, n, tag, counts, &final) < 0)
			goto out;
	}
	rc = check_trailer(&r);
out:
	if (r.in_db)
		inflateEnd(&r.z);
	if (r.plain) {
		sodium_memzero(r.plain, r.cap);
		free(r.plain);
	}
	free(r.cipher);
	free(r.out);
	sodium_memzero(&r.st, sizeof r.st);
	return rc;
}
