/* cset: the changeset, the unit site sync moves between a central and a
 * site, over HTTPS or in bundle files (docs/sync.md has the contract).
 *
 * A changeset is a header in clear, the body compressed (zlib) and
 * encrypted (crypto_secretstream_xchacha20poly1305 under a random key
 * sealed to the receiver's X25519 key), and an Ed25519 signature by the
 * sender over everything before it. Big-endian throughout:
 *
 *   0   "GHSYNC"                      6   format version (u16, 1)
 *   8   header length (u32)           12  direction: 'C' central->site, 'S' site->central
 *   13  flags (CSET_MORE)             14  sender appliance id (16)
 *   30  receiver appliance id (16)    46  pairing id (u64)
 *   54  created, Unix ms (i64)        62  content key sealed to the receiver (80)
 *   142 secretstream header (24)      166 stream count (u8), then each:
 *       name length (u8), name, from (u64), to (u64)     the rows carried: (from, to]
 *       ack count (u8), then each: name length (u8), name, position (u64)
 *                                       the sender's applied positions of the
 *                                       receiver's streams
 *   then records: u32 length | secretstream message (at most 1 MiB of
 *   compressed body each; the first has the header as additional data, the
 *   last is tagged final), then the signature (64).
 *
 * The body, inflated, is a sequence of items:
 *   'S' table name, columns   a section: the rows that follow are of this table
 *   'U' values                a row, as it is now (one value per column)
 *   'D' id                    the thing with this id is gone
 *   'R' parent id             a child table's rows of this parent are replaced by the 'U's that follow
 *   'E'                       the end
 * Names are 1..63 bytes of [a-z0-9_]; a value is a tag (0 NULL, 1 integer as
 * a zigzag LEB128 varint, 2 real as 8 bytes, 3 text, 4 blob: varint length
 * and bytes); ids are varints.
 *
 * Nothing here touches a database or a stored key: signing and unsealing
 * are callbacks (the vault's, or raw keys in the tests and the fuzzer). */
#ifndef GH_CSET_H
#define GH_CSET_H

#include <sodium.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define CSET_VERSION 1
#define CSET_FIXED 166
#define CSET_MAX_HEADER 2048
#define CSET_MAX_STREAMS 8
#define CSET_MAX_COLS 32
#define CSET_NAME_MAX 63
#define CSET_RECORD_MAX (1 << 20)
#define CSET_MAX_BYTES ((size_t)96 << 20)  /* a whole changeset */
#define CSET_MAX_BODY ((size_t)256 << 20)  /* inflated */
#define CSET_MAX_VALUE ((size_t)16 << 20)
#define CSET_SIG_BYTES crypto_sign_BYTES
#define CSET_SEALED_KEY_BYTES (32 + crypto_box_SEALBYTES)
#define CSET_MORE 0x01                     /* the sender had more to send than fitted */

struct cset_pos {
	char name[CSET_NAME_MAX + 1];
	int64_t from, to; /* streams: (from, to]; acks: position in `to` */
};

struct cset_header {
	int version;
	char direction;
	unsigned flags;
	unsigned char sender[16], receiver[16];
	int64_t pairing;
	int64_t created_ms;
	int nstreams, nacks;
	struct cset_pos streams[CSET_MAX_STREAMS];
	struct cset_pos acks[CSET_MAX_STREAMS];
	size_t header_len; /* set by cset_parse */
};

/* --- the body, being written ---------------------------------------------------- */

struct cbody {
	unsigned char *p;
	size_t len, cap;
	int failed;     /* out of memory or a bad argument: cset_seal refuses */
	int ncols;      /* of the current section */
	long long rows; /* rows and deletes written */
	long long raw;  /* the rows' raw size: 8 bytes per number, the length of
			 * each text or blob (tests/bench/README.md) */
};

void cbody_section(struct cbody *b, const char *table, const char *const *cols, int ncols);
/* A row from a statement's columns first .. first + ncols - 1. */
void cbody_row_stmt(struct cbody *b, sqlite3_stmt *st, int first);
/* A row value by value: cbody_row, then one call per column. */
void cbody_row(struct cbody *b);
void cbody_int(struct cbody *b, int64_t v);
void cbody_text(struct cbody *b, const char *s);
void cbody_blob(struct cbody *b, const void *p, size_t n);
void cbody_null(struct cbody *b);
void cbody_delete(struct cbody *b, int64_t id);
void cbody_replace(struct cbody *b, int64_t parent);
/* Append another body's items (rows written without a section: the
 * section is given by what precedes them here). */
void cbody_append(struct cbody *b, const struct cbody *more);
void cbody_free(struct cbody *b);

/* --- sealing and opening ---------------------------------------------------------- */

typedef int (*cset_sign_fn)(void *arg, const unsigned char *msg, size_t len, unsigned char sig[CSET_SIG_BYTES]);
typedef int (*cset_unseal_fn)(void *arg, const unsigned char *sealed, size_t len, unsigned char *out);

/* Finish the body ('E'), compress it at zlib level (1-9), encrypt it to
 * receiver_pk and sign the whole. *out is malloc'd. 0, or -1 with err. */
int cset_seal(const struct cset_header *h, struct cbody *b, const unsigned char receiver_pk[32], int level,
	      cset_sign_fn sign, void *sign_arg, unsigned char **out, size_t *outlen, char *err, size_t errlen);

/* The header and the layout (records, signature, nothing after it) of a
 * changeset, without keys. 0, or -1 with err. */
int cset_parse(const unsigned char *buf, size_t len, struct cset_header *h, char *err, size_t errlen);
/* 0 when the signature is the sender's (pk), -1 otherwise. */
int cset_verify(const unsigned char *buf, size_t len, const struct cset_header *h, const unsigned char pk[32]);
/* Decrypt and inflate the body (after cset_parse and cset_verify). *body is
 * malloc'd. 0, or -1 with err. */
int cset_open(const unsigned char *buf, size_t len, const struct cset_header *h, cset_unseal_fn unseal, void *arg,
	      unsigned char **body, size_t *bodylen, char *err, size_t errlen);

/* Inflate a whole compressed body at once, with the bounds cset_open
 * applies record by record (for the fuzzer, which cannot forge records).
 * 0, or -1 with err. */
int cset_inflate(const unsigned char *z, size_t n, unsigned char **body, size_t *bodylen, char *err, size_t errlen);

/* The range of a stream in the header, or NULL. */
const struct cset_pos *cset_stream(const struct cset_header *h, const char *name);
const struct cset_pos *cset_ack(const struct cset_header *h, const char *name);

/* --- the body, being read ------------------------------------------------------- */

struct cvalue {
	int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB */
	int64_t i;
	double d;
	const unsigned char *p; /* TEXT, BLOB: into the body */
	size_t n;
};

struct cbody_reader {
	const unsigned char *p;
	size_t len, pos;
	int ended;
	char table[CSET_NAME_MAX + 1];
	int ncols;
	char cols[CSET_MAX_COLS][CSET_NAME_MAX + 1];
};

struct citem {
	char kind;   /* 'S', 'U', 'D', 'R' */
	int64_t id;  /* D: the id; R: the parent */
	struct cvalue v[CSET_MAX_COLS];
};

void cbody_reader_init(struct cbody_reader *r, const unsigned char *body, size_t len);
/* The next item: 1, 0 at the end ('E', nothing after it), -1 with err. */
int cbody_next(struct cbody_reader *r, struct citem *it, char *err, size_t errlen);
/* Bind a value to a statement parameter. */
int cvalue_bind(sqlite3_stmt *st, int pos, const struct cvalue *v);

/* --- bundles: changesets in a file ------------------------------------------------ */

/* "GHBUNDLE" | version (u16, 1) | per changeset: u64 length | changeset |
 * then "GHBEND\0\0" | count (u32). Each changeset is signed on its own;
 * the trailer and its count catch a cut file. */
#define CSET_BUNDLE_MAX_COUNT 100000
struct cbundle_entry {
	const unsigned char *p;
	size_t len;
};
/* The changesets of a bundle in buf: *list is malloc'd (pointers into
 * buf). 0, or -1 with err. */
int cbundle_parse(const unsigned char *buf, size_t len, struct cbundle_entry **list, size_t *n, char *err,
		  size_t errlen);
/* Bundle framing around changesets, written with write(arg, p, n). */
typedef int (*cbundle_write_fn)(void *arg, const void *p, size_t n);
int cbundle_begin(cbundle_write_fn w, void *arg);
int cbundle_add(cbundle_write_fn w, void *arg, const unsigned char *cs, size_t len);
int cbundle_end(cbundle_write_fn w, void *arg, uint32_t count);

/* Appliance ids: 32 hex digits <-> 16 bytes. 0 or -1. */
int cset_id_from_hex(const char *hex, unsigned char id[16]);
void cset_id_to_hex(const unsigned char id[16], char hex[33]);

#endif
