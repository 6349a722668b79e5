#include "cset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define OFF_SEALED 62
#define OFF_SSHEADER (OFF_SEALED + CSET_SEALED_KEY_BYTES)

static const unsigned char magic[6] = {'G', 'H', 'S', 'Y', 'N', 'C'};
static const unsigned char bundle_magic[8] = {'G', 'H', 'B', 'U', 'N', 'D', 'L', 'E'};
static const unsigned char bundle_end[8] = {'G', 'H', 'B', 'E', 'N', 'D', 0, 0};

/* --- big-endian and varints ---------------------------------------------------- */

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

static int name_ok(const char *s, size_t n)
{
	if (n < 1 || n > CSET_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* --- writing the body ------------------------------------------------------------- */

static void grow(struct cbody *b, size_t more)
{
	size_t cap;
	unsigned char *p;

	if (b->failed || b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more)
		cap *= 2;
	if (cap > CSET_MAX_BODY || !(p = realloc(b->p, cap))) {
		b->failed = 1;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void put(struct cbody *b, const void *p, size_t n)
{
	grow(b, n);
	if (b->failed)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_u8(struct cbody *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void put_varint(struct cbody *b, uint64_t v)
{
	unsigned char buf[10];
	int n = 0;

	do {
		buf[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	put(b, buf, (size_t)n);
}

static void put_name(struct cbody *b, const char *s)
{
	size_t n = strlen(s);

	if (!name_ok(s, n)) {
		b->failed = 1;
		return;
	}
	put_u8(b, (unsigned)n);
	put(b, s, n);
}

void cbody_section(struct cbody *b, const char *table, const char *const *cols, int ncols)
{
	if (ncols < 1 || ncols > CSET_MAX_COLS) {
		b->failed = 1;
		return;
	}
	put_u8(b, 'S');
	put_name(b, table);
	put_u8(b, (unsigned)ncols);
	for (int i = 0; i < ncols; i++)
		put_name(b, cols[i]);
	b->ncols = ncols;
}

static void put_int(struct cbody *b, int64_t i)
{
	put_u8(b, 1);
	put_varint(b, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
	b->raw += 8;
}

static void put_bytes(struct cbody *b, int tag, const void *p, size_t n)
{
	put_u8(b, (unsigned)tag);
	put_varint(b, n);
	if (n)
		put(b, p, n);
	b->raw += (long long)n;
}

void cbody_row_stmt(struct cbody *b, sqlite3_stmt *st, int first)
{
	if (b->ncols < 1) {
		b->failed = 1;
		return;
	}
	cbody_row(b);
	for (int c = first; c < first + b->ncols; c++) {
		unsigned char be[8];
		int64_t i;
		double d;

		switch (sqlite3_column_type(st, c)) {
		case SQLITE_INTEGER:
			put_int(b, sqlite3_column_int64(st, c));
			break;
		case SQLITE_FLOAT:
			d = sqlite3_column_double(st, c);
			memcpy(&i, &d, 8);
			put_be(be, (uint64_t)i, 8);
			put_u8(b, 2);
			put(b, be, 8);
			b->raw += 8;
			break;
		case SQLITE_TEXT:
			put_bytes(b, 3, sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c));
			break;
		case SQLITE_BLOB:
			put_bytes(b, 4, sqlite3_column_blob(st, c), (size_t)sqlite3_column_bytes(st, c));
			break;
		default:
			put_u8(b, 0);
		}
	}
}

void cbody_row(struct cbody *b)
{
	put_u8(b, 'U');
	b->rows++;
}

void cbody_int(struct cbody *b, int64_t v)
{
	put_int(b, v);
}

void cbody_text(struct cbody *b, const char *s)
{
	put_bytes(b, 3, s, strlen(s));
}

void cbody_blob(struct cbody *b, const void *p, size_t n)
{
	put_bytes(b, 4, p, n);
}

void cbody_null(struct cbody *b)
{
	put_u8(b, 0);
}

void cbody_append(struct cbody *b, const struct cbody *more)
{
	if (more->failed)
		b->failed = 1;
	if (more->len)
		put(b, more->p, more->len);
	b->rows += more->rows;
	b->raw += more->raw;
}

void cbody_delete(struct cbody *b, int64_t id)
{
	b->rows++;
	b->raw += 8;
	put_u8(b, 'D');
	put_varint(b, (uint64_t)id);
}

void cbody_replace(struct cbody *b, int64_t parent)
{
	put_u8(b, 'R');
	put_varint(b, (uint64_t)parent);
}

void cbody_free(struct cbody *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* --- sealing -------------------------------------------------------------------- */

static size_t header_bytes(const struct cset_header *h, const unsigned char sealed[CSET_SEALED_KEY_BYTES],
			   const unsigned char ss[SS_HEADER], unsigned char *out)
{
	size_t n = CSET_FIXED;

	memcpy(out, magic, 6);
	put_be(out + 6, CSET_VERSION, 2);
	out[12] = (unsigned char)h->direction;
	out[13] = (unsigned char)h->flags;
	memcpy(out + 14, h->sender, 16);
	memcpy(out + 30, h->receiver, 16);
	put_be(out + 46, (uint64_t)h->pairing, 8);
	put_be(out + 54, (uint64_t)h->created_ms, 8);
	memcpy(out + OFF_SEALED, sealed, CSET_SEALED_KEY_BYTES);
	memcpy(out + OFF_SSHEADER, ss, SS_HEADER);
	for (int list = 0; list < 2; list++) {
		const struct cset_pos *p = list ? h->acks : h->streams;
		int count = list ? h->nacks : h->nstreams;
		out[n++] = (unsigned char)count;
		for (int i = 0; i < count; i++) {
			size_t l = strlen(p[i].name);
			out[n++] = (unsigned char)l;
			memcpy(out + n, p[i].name, l);
			n += l;
			if (!list) {
				put_be(out + n, (uint64_t)p[i].from, 8);
				n += 8;
			}
			put_be(out + n, (uint64_t)p[i].to, 8);
			n += 8;
		}
	}
	put_be(out + 8, n, 4);
	return n;
}

static int header_ok(const struct cset_header *h)
{
	if ((h->direction != 'C' && h->direction != 'S') || h->nstreams < 0 || h->nstreams > CSET_MAX_STREAMS ||
	    h->nacks < 0 || h->nacks > CSET_MAX_STREAMS)
		return 0;
	for (int i = 0; i < h->nstreams; i++)
		if (!name_ok(h->streams[i].name, strlen(h->streams[i].name)) || h->streams[i].from < 0 ||
		    h->streams[i].to < h->streams[i].from)
			return 0;
	for (int i = 0; i < h->nacks; i++)
		if (!name_ok(h->acks[i].name, strlen(h->acks[i].name)) || h->acks[i].to < 0)
			return 0;
	return 1;
}

static int compress_body(const struct cbody *b, int level, unsigned char **out, size_t *outlen)
{
	uLongf n = compressBound((uLong)b->len);
	unsigned char *z = malloc(n);

	if (!z || compress2(z, &n, b->p, (uLong)b->len, level < 1 || level > 9 ? 6 : level) != Z_OK) {
		free(z);
		return -1;
	}
	*out = z;
	*outlen = (size_t)n;
	return 0;
}

int cset_seal(const struct cset_header *h, struct cbody *b, const unsigned char receiver_pk[32], int level,
	      cset_sign_fn sign, void *sign_arg, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char key[32], sealed[CSET_SEALED_KEY_BYTES], ssh[SS_HEADER], *z = NULL, *buf = NULL;
	size_t zlen = 0, hlen, pos, records;

	*out = NULL;
	put_u8(b, 'E');
	if (b->failed || !header_ok(h)) {
		snprintf(err, errlen, b->failed ? "changeset body too large or malformed" : "bad changeset header");
		return -1;
	}
	if (compress_body(b, level, &z, &zlen) < 0) {
		snprintf(err, errlen, "cannot compress the changeset");
		return -1;
	}
	records = zlen / CSET_RECORD_MAX + 1;
	buf = malloc(CSET_MAX_HEADER + zlen + records * (4 + SS_ABYTES) + CSET_SIG_BYTES);
	if (!buf) {
		free(z);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_box_seal(sealed, key, sizeof key, receiver_pk);
	crypto_secretstream_xchacha20poly1305_init_push(&ss, ssh, key);
	sodium_memzero(key, sizeof key);
	hlen = header_bytes(h, sealed, ssh, buf);
	pos = hlen;
	for (size_t r = 0, off = 0; r < records; r++) {
		size_t m = zlen - off < CSET_RECORD_MAX ? zlen - off : CSET_RECORD_MAX;
		unsigned long long clen;
		crypto_secretstream_xchacha20poly1305_push(&ss, buf + pos + 4, &clen, z + off, m, r == 0 ? buf : NULL,
							   r == 0 ? hlen : 0,
							   r + 1 == records ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
		put_be(buf + pos, clen, 4);
		pos += 4 + (size_t)clen;
		off += m;
	}
	sodium_memzero(&ss, sizeof ss);
	free(z);
	if (sign(sign_arg, buf, pos, buf + pos) != 0) {
		free(buf);
		snprintf(err, errlen, "cannot sign the changeset");
		return -1;
	}
	*out = buf;
	*outlen = pos + CSET_SIG_BYTES;
	return 0;
}

/* --- parsing --------------------------------------------------------------------- */

static int read_positions(const unsigned char *buf, size_t hlen, size_t *n, struct cset_pos *p, int *count,
			  int ranges)
{
	if (*n + 1 > hlen)
		return -1;
	*count = buf[(*n)++];
	if (*count > CSET_MAX_STREAMS)
		return -1;
	for (int i = 0; i < *count; i++) {
		size_t l;
		if (*n + 1 > hlen)
			return -1;
		l = buf[(*n)++];
		if (*n + l + (ranges ? 16 : 8) > hlen || !name_ok((const char *)buf + *n, l))
			return -1;
		memcpy(p[i].name, buf + *n, l);
		p[i].name[l] = '\0';
		*n += l;
		p[i].from = ranges ? (int64_t)get_be(buf + *n, 8) : 0;
		p[i].to = (int64_t)get_be(buf + *n + (ranges ? 8 : 0), 8);
		*n += ranges ? 16 : 8;
		if (p[i].from < 0 || p[i].to < p[i].from)
			return -1;
		for (int j = 0; j < i; j++)
			if (strcmp(p[j].name, p[i].name) == 0)
				return -1; /* a stream named twice */
	}
	return 0;
}

int cset_parse(const unsigned char *buf, size_t len, struct cset_header *h, char *err, size_t errlen)
{
	size_t hlen, n = CSET_FIXED, pos, records = 0;

	memset(h, 0, sizeof *h);
	if (len < 8 || memcmp(buf, magic, 6) != 0) {
		snprintf(err, errlen, "not a Gatehouse changeset");
		return -1;
	}
	if ((h->version = (int)get_be(buf + 6, 2)) != CSET_VERSION) {
		snprintf(err, errlen, "changeset format version %d: made by a newer gatehouse (this one reads %d)",
			 h->version, CSET_VERSION);
		return -1;
	}
	if (len > CSET_MAX_BYTES || len < CSET_FIXED + 2 + 4 + SS_ABYTES + CSET_SIG_BYTES) {
		snprintf(err, errlen, "changeset of an impossible size (%zu bytes)", len);
		return -1;
	}
	hlen = (size_t)get_be(buf + 8, 4);
	h->direction = (char)buf[12];
	h->flags = buf[13];
	memcpy(h->sender, buf + 14, 16);
	memcpy(h->receiver, buf + 30, 16);
	h->pairing = (int64_t)get_be(buf + 46, 8);
	h->created_ms = (int64_t)get_be(buf + 54, 8);
	if (hlen < CSET_FIXED + 2 || hlen > CSET_MAX_HEADER || hlen > len || (h->direction != 'C' && h->direction != 'S') ||
	    read_positions(buf, hlen, &n, h->streams, &h->nstreams, 1) < 0 ||
	    read_positions(buf, hlen, &n, h->acks, &h->nacks, 0) < 0 || n != hlen || h->pairing <= 0) {
		snprintf(err, errlen, "the changeset's header is malformed");
		return -1;
	}
	h->header_len = hlen;
	for (pos = hlen; len - pos > CSET_SIG_BYTES; records++) {
		size_t r;
		if (len - pos < CSET_SIG_BYTES + 4)
			break;
		r = (size_t)get_be(buf + pos, 4);
		if (r < SS_ABYTES || r > CSET_RECORD_MAX + SS_ABYTES || r > len - pos - 4 - CSET_SIG_BYTES)
			break;
		pos += 4 + r;
	}
	if (records == 0 || len - pos != CSET_SIG_BYTES) {
		snprintf(err, errlen, "the changeset is cut short or has bytes it should not");
		return -1;
	}
	return 0;
}

int cset_verify(const unsigned char *buf, size_t len, const struct cset_header *h, const unsigned char pk[32])
{
	(void)h;
	if (len < CSET_SIG_BYTES)
		return -1;
	return crypto_sign_verify_detached(buf + len - CSET_SIG_BYTES, buf, len - CSET_SIG_BYTES, pk) == 0 ? 0 : -1;
}

/* Inflate one decrypted record's bytes into the growing body. */
static int inflate_more(z_stream *z, unsigned char **body, size_t *cap, const unsigned char *in, size_t n)
{
	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)n;
	for (;;) {
		int rc;
		if (z->total_out == *cap) {
			size_t bigger = *cap * 2;
			unsigned char *p;
			if (bigger > CSET_MAX_BODY || !(p = realloc(*body, bigger)))
				return -1;
			*body = p;
			*cap = bigger;
		}
		z->next_out = *body + z->total_out;
		z->avail_out = (uInt)(*cap - z->total_out);
		rc = inflate(z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			return z->avail_in == 0 ? 1 : -1;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -1;
		/* All input taken and room left: the next record continues it. A
		 * full output buffer may hide more output: go round again. */
		if (z->avail_out != 0 && (z->avail_in == 0 || rc == Z_BUF_ERROR))
			return z->avail_in == 0 ? 0 : -1;
	}
}

int cset_open(const unsigned char *buf, size_t len, const struct cset_header *h, cset_unseal_fn unseal, void *arg,
	      unsigned char **body, size_t *bodylen, char *err, size_t errlen)
{
	crypto_secretstream_xchacha20poly1305_state ss;
	unsigned char key[32], *plain = NULL, *out = NULL;
	size_t pos = h->header_len, cap = 65536, end = len - CSET_SIG_BYTES;
	z_stream z;
	int rc = -1, done = 0;

	*body = NULL;
	memset(&z, 0, sizeof z);
	if (unseal(arg, buf + OFF_SEALED, CSET_SEALED_KEY_BYTES, key) != 0) {
		snprintf(err, errlen, "the changeset is not sealed to this appliance (its key does not open)");
		return -1;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(&ss, buf + OFF_SSHEADER, key) != 0 ||
	    inflateInit(&z) != Z_OK || !(plain = malloc(CSET_RECORD_MAX)) || !(out = malloc(cap))) {
		snprintf(err, errlen, "cannot start decrypting the changeset");
		goto out;
	}
	for (int first = 1; pos < end; first = 0) {
		size_t r = (size_t)get_be(buf + pos, 4);
		unsigned long long m;
		unsigned char tag;

		if (done || crypto_secretstream_xchacha20poly1305_pull(&ss, plain, &m, &tag, buf + pos + 4, r,
									first ? buf : NULL, first ? h->header_len : 0) != 0) {
			snprintf(err, errlen, "the changeset was altered or is damaged (a record does not authenticate)");
			goto out;
		}
		pos += 4 + r;
		if ((tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) != (pos == end)) {
			snprintf(err, errlen, "the changeset's records are cut or reordered");
			goto out;
		}
		int zr = inflate_more(&z, &out, &cap, plain, (size_t)m);
		if (zr < 0) {
			snprintf(err, errlen, "the changeset's compressed body is corrupt or too large");
			goto out;
		}
		done = zr == 1;
	}
	if (!done) {
		snprintf(err, errlen, "the changeset's compressed body ends early");
		goto out;
	}
	*body = out;
	*bodylen = (size_t)z.total_out;
	out = NULL;
	rc = 0;
out:
	sodium_memzero(key, sizeof key);
	sodium_memzero(&ss, sizeof ss);
	inflateEnd(&z);
	free(plain);
	free(out);
	return rc;
}

int cset_inflate(const unsigned char *z, size_t n, unsigned char **body, size_t *bodylen, char *err, size_t errlen)
{
	size_t cap = 65536;
	unsigned char *out = malloc(cap);
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof zs);
	*body = NULL;
	if (!out || inflateInit(&zs) != Z_OK) {
		free(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = inflate_more(&zs, &out, &cap, z, n);
	if (rc == 1) {
		*body = out;
		*bodylen = (size_t)zs.total_out;
		out = NULL;
	} else {
		snprintf(err, errlen, rc < 0 ? "the compressed body is corrupt or too large" : "the compressed body ends early");
	}
	inflateEnd(&zs);
	free(out);
	return rc == 1 ? 0 : -1;
}

const struct cset_pos *cset_stream(const struct cset_header *h, const char *name)
{
	for (int i = 0; i < h->nstreams; i++)
		if (strcmp(h->streams[i].name, name) == 0)
			return &h->streams[i];
	return NULL;
}

const struct cset_pos *cset_ack(const struct cset_header *h, const char *name)
{
	for (int i = 0; i < h->nacks; i++)
		if (strcmp(h->acks[i].name, name) == 0)
			return &h->acks[i];
	return NULL;
}

/* --- reading the body ------------------------------------------------------------- */

void cbody_reader_init(struct cbody_reader *r, const unsigned char *body, size_t len)
{
	memset(r, 0, sizeof *r);
	r->p = body;
	r->len = len;
}

static int get_varint(struct cbody_reader *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		unsigned char c;
		if (r->pos >= r->len)
			return -1;
		c = r->p[r->pos++];
		if (shift == 63 && (c & 0x7e))
			return -1; /* more than 64 bits */
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

static int get_name(struct cbody_reader *r, char out[CSET_NAME_MAX + 1])
{
	size_t n;

	if (r->pos >= r->len)
		return -1;
	n = r->p[r->pos++];
	if (n > r->len - r->pos || !name_ok((const char *)r->p + r->pos, n))
		return -1;
	memcpy(out, r->p + r->pos, n);
	out[n] = '\0';
	r->pos += n;
	return 0;
}

static int get_value(struct cbody_reader *r, struct cvalue *v)
{
	uint64_t u;
	unsigned char tag;

	memset(v, 0, sizeof *v);
	if (r->pos >= r->len)
		return -1;
	tag = r->p[r->pos++];
	switch (tag) {
	case 0:
		v->type = SQLITE_NULL;
		return 0;
	case 1:
		if (get_varint(r, &u) < 0)
			return -1;
		v->type = SQLITE_INTEGER;
		v->i = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
		return 0;
	case 2:
		if (r->len - r->pos < 8)
			return -1;
		u = get_be(r->p + r->pos, 8);
		memcpy(&v->d, &u, 8);
		r->pos += 8;
		v->type = SQLITE_FLOAT;
		return 0;
	case 3:
	case 4:
		if (get_varint(r, &u) < 0 || u > CSET_MAX_VALUE || u > r->len - r->pos)
			return -1;
		v->type = tag == 3 ? SQLITE_TEXT : SQLITE_BLOB;
		v->p = r->p + r->pos;
		v->n = (size_t)u;
		r->pos += (size_t)u;
		return 0;
	}
	return -1;
}

static int section(struct cbody_reader *r, char *err, size_t errlen)
{
	int n;

	if (get_name(r, r->table) < 0 || r->pos >= r->len) {
		snprintf(err, errlen, "a section of the changeset has a bad table name");
		return -1;
	}
	n = r->p[r->pos++];
	if (n < 1 || n > CSET_MAX_COLS) {
		snprintf(err, errlen, "section %s has %d columns", r->table, n);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (get_name(r, r->cols[i]) < 0) {
			snprintf(err, errlen, "section %s has a bad column name", r->table);
			return -1;
		}
	r->ncols = n;
	return 1;
}

int cbody_next(struct cbody_reader *r, struct citem *it, char *err, size_t errlen)
{
	uint64_t id;

	if (r->ended)
		return 0;
	if (r->pos >= r->len) {
		snprintf(err, errlen, "the changeset's body ends without its end mark");
		return -1;
	}
	it->kind = (char)r->p[r->pos++];
	it->id = 0;
	switch (it->kind) {
	case 'E':
		if (r->pos != r->len) {
			snprintf(err, errlen, "the changeset's body has bytes after its end mark");
			return -1;
		}
		r->ended = 1;
		return 0;
	case 'S':
		return section(r, err, errlen);
	case 'U':
		for (int i = 0; i < r->ncols; i++)
			if (get_value(r, &it->v[i]) < 0) {
				snprintf(err, errlen, "a row of %s is malformed", r->ncols ? r->table : "(no section)");
				return -1;
			}
		if (r->ncols)
			return 1;
		break;
	case 'D':
	case 'R':
		if (get_varint(r, &id) < 0 || id == 0 || id > INT64_MAX) {
			snprintf(err, errlen, "a bad id in the changeset's body");
			return -1;
		}
		it->id = (int64_t)id;
		if (r->ncols)
			return 1;
		break;
	default:
		snprintf(err, errlen, "an unknown item in the changeset's body");
		return -1;
	}
	snprintf(err, errlen, "a row before any section in the changeset's body");
	return -1;
}

int cvalue_bind(sqlite3_stmt *st, int pos, const struct cvalue *v)
{
	switch (v->type) {
	case SQLITE_INTEGER:
		return sqlite3_bind_int64(st, pos, v->i);
	case SQLITE_FLOAT:
		return sqlite3_bind_double(st, pos, v->d);
	case SQLITE_TEXT:
		return sqlite3_bind_text(st, pos, (const char *)v->p, (int)v->n, SQLITE_STATIC);
	case SQLITE_BLOB:
		return sqlite3_bind_blob(st, pos, v->p, (int)v->n, SQLITE_STATIC);
	}
	return sqlite3_bind_null(st, pos);
}

/* --- bundles ------------------------------------------------------------------------ */

int cbundle_parse(const unsigned char *buf, size_t len, struct cbundle_entry **list, size_t *n, char *err,
		  size_t errlen)
{
	size_t pos = 10, cap = 0;
	uint32_t count;

	*list = NULL;
	*n = 0;
	if (len < 10 || memcmp(buf, bundle_magic, 8) != 0) {
		snprintf(err, errlen, "not a Gatehouse sync bundle");
		return -1;
	}
	if (get_be(buf + 8, 2) != 1) {
		snprintf(err, errlen, "bundle format version %u: made by a newer gatehouse", (unsigned)get_be(buf + 8, 2));
		return -1;
	}
	for (;;) {
		uint64_t l;
		if (len - pos < 8)
			goto cut;
		if (memcmp(buf + pos, bundle_end, 8) == 0)
			break;
		l = get_be(buf + pos, 8);
		if (l > CSET_MAX_BYTES || l > len - pos - 8 || *n >= CSET_BUNDLE_MAX_COUNT)
			goto cut;
		if (*n == cap) {
			struct cbundle_entry *bigger;
			cap = cap ? cap * 2 : 16;
			if (!(bigger = realloc(*list, cap * sizeof **list))) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			*list = bigger;
		}
		(*list)[*n].p = buf + pos + 8;
		(*list)[(*n)++].len = (size_t)l;
		pos += 8 + (size_t)l;
	}
	if (len - pos != 12 || (count = (uint32_t)get_be(buf + pos + 8, 4)) != *n)
		goto cut;
	return 0;
cut:
	snprintf(err, errlen, "the bundle is cut short or damaged (its end does not match its changesets)");
fail:
	free(*list);
	*list = NULL;
	*n = 0;
	return -1;
}

int cbundle_begin(cbundle_write_fn w, void *arg)
{
	unsigned char head[10];

	memcpy(head, bundle_magic, 8);
	put_be(head + 8, 1, 2);
	return w(arg, head, sizeof head);
}

int cbundle_add(cbundle_write_fn w, void *arg, const unsigned char *cs, size_t len)
{
	unsigned char l[8];

	put_be(l, len, 8);
	return w(arg, l, 8) < 0 || w(arg, cs, len) < 0 ? -1 : 0;
}

int cbundle_end(cbundle_write_fn w, void *arg, uint32_t count)
{
	unsigned char tail[12];

	memcpy(tail, bundle_end, 8);
	put_be(tail + 8, count, 4);
	return w(arg, tail, sizeof tail);
}

int cset_id_from_hex(const char *hex, unsigned char id[16])
{
	size_t n;

	if (!hex || strlen(hex) != 32 || sodium_hex2bin(id, 16, hex, 32, NULL, &n, NULL) != 0 || n != 16)
		return -1;
	return 0;
}

void cset_id_to_hex(const unsigned char id[16], char hex[33])
{
	sodium_bin2hex(hex, 33, id, 16);
}
