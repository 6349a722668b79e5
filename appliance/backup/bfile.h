/* bfile: the backup file format, writing and reading. Pure: bytes in and
 * out through callbacks, keys given by the caller (the vault supplies them),
 * no database and no file system, so the whole reader is fuzzed
 * (tests/fuzz/fuzz_backup.c). docs/backup.md describes the format.
 *
 *   header (234 bytes, big-endian)
 *     0  "GHBACKUP"             8  format version (1)    10 header length (234)
 *     12 kind (1 full, 2 events) 13 flags (0)            14 created, unix s (8)
 *     22 appliance id (16)       38 schema version (4)   42 master key id (8)
 *     50 recovery key fingerprint (8)
 *     58 file key wrapped under the master-derived backup key (72), bytes
 *        0..57 bound as its additional data
 *     130 file key sealed to the recovery public key (80)
 *     210 crypto_secretstream_xchacha20poly1305 header (24)
 *   stream: records, each u32 length | secretstream message; the first
 *     binds the whole header as additional data, so no header byte can be
 *     changed; the last carries TAG_FINAL. Plaintext records:
 *       'M' manifest: program version, databases with their sizes
 *       'B' begin a database: name, size
 *       'D' deflated bytes of that database (zlib), at most 1 MiB a record
 *       'E' end of the database: size again
 *       'F' final: row counts of every table (TAG_FINAL)
 *   trailer: "GHBEND\0\0" | u64 offset of the trailer. Not authenticated:
 *     it lets a listing see cheaply that a file is whole; a full read checks
 *     it against what it read.
 *
 * Every length is bounded; anything malformed is refused with a reason. */
#ifndef GH_BFILE_H
#define GH_BFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BFILE_VERSION 1
#define BFILE_HEADER_BYTES 234
#define BFILE_WRAP_AD_BYTES 58     /* header bytes bound to the wrapped file key */
#define BFILE_TRAILER_BYTES 16
#define BFILE_MAX_RECORD (1u << 20) /* plaintext bytes of a record, type byte excluded */
#define BFILE_MAX_DBS 4
#define BFILE_MAX_TABLES 256
#define BFILE_NAME_MAX 64
#define BFILE_MAX_DB_SIZE (1ULL << 40)

enum bfile_kind { BFILE_FULL = 1, BFILE_EVENTS = 2 };

struct bfile_header {
	int version;
	int kind;
	int64_t created_at;
	unsigned char appliance_id[16];
	uint32_t schema_version;
	unsigned char master_id[8];
	unsigned char recovery_fp[8];
	unsigned char wrapped_key[72];
	unsigned char sealed_key[80];
	unsigned char stream_header[24];
};

const char *bfile_kind_name(int kind);
/* The header's bytes; the first BFILE_WRAP_AD_BYTES do not depend on the
 * keys, so they can be encoded first to wrap the file key. */
void bfile_header_encode(const struct bfile_header *h, unsigned char out[BFILE_HEADER_BYTES]);
/* 0, or -1 with the reason. */
int bfile_header_decode(const unsigned char *in, size_t len, struct bfile_header *h, char *err, size_t errlen);

struct bfile_count {
	int db;                         /* index in the manifest */
	char table[BFILE_NAME_MAX + 1];
	long long rows;
};
struct bfile_counts {
	int n;
	struct bfile_count item[BFILE_MAX_TABLES];
};

struct bfile_manifest {
	char program[BFILE_NAME_MAX + 1];
	int ndb;
	char db[BFILE_MAX_DBS][BFILE_NAME_MAX + 1];
	uint64_t size[BFILE_MAX_DBS];
};

/* --- writing ----------------------------------------------------------------- */

/* Where bytes go: write all n or fail (-1, errno set). */
struct bfile_out {
	int (*write)(void *arg, const void *p, size_t n);
	void *arg;
};

struct bfile_writer;

/* Start a file: h has everything but the stream header, which is made
 * here. Writes the header. NULL with err on failure. */
struct bfile_writer *bfile_writer_new(const struct bfile_out *out, struct bfile_header *h, const unsigned char key[32],
				      int level, char *err, size_t errlen);
int bfile_write_manifest(struct bfile_writer *w, const struct bfile_manifest *m);
int bfile_db_begin(struct bfile_writer *w, const char *name, uint64_t size);
/* Raw database bytes; deflated here. */
int bfile_db_data(struct bfile_writer *w, const void *p, size_t n);
int bfile_db_end(struct bfile_writer *w);
/* The final record and the trailer. */
int bfile_write_final(struct bfile_writer *w, const struct bfile_counts *c);
/* Bytes written so far. */
uint64_t bfile_writer_bytes(const struct bfile_writer *w);
/* Why the last call failed. */
const char *bfile_writer_error(const struct bfile_writer *w);
void bfile_writer_free(struct bfile_writer *w);

/* --- reading ----------------------------------------------------------------- */

/* Where bytes come from: up to n bytes into p; 0 at the end; -1 on error. */
struct bfile_in {
	ssize_t (*read)(void *arg, void *p, size_t n);
	void *arg;
};

/* Where the databases go. Each returns 0, or -1 to stop (err is then
 * "cannot write: ..." with errno's text unless the sink set its own). */
struct bfile_sink {
	int (*begin)(void *arg, const char *name, uint64_t size);
	int (*data)(void *arg, const void *p, size_t n);
	int (*end)(void *arg);
	int (*stop)(void *arg); /* optional: nonzero to give up (shutdown) */
	void *arg;
	char *err;              /* optional: where the sink explains a failure */
	size_t errlen;
};

/* Read and check the header from in. */
int bfile_read_header(const struct bfile_in *in, unsigned char raw[BFILE_HEADER_BYTES], struct bfile_header *h,
		      char *err, size_t errlen);
/* Read the stream after the header: every record authenticated in order,
 * every database inflated into sink (NULL: checked and dropped), the final
 * record's counts into *counts, the trailer checked, nothing after it.
 * only_manifest: stop after the first record (cheap: authenticates the
 * header). 0, or -1 with the reason. */
int bfile_read_stream(const struct bfile_in *in, const unsigned char raw[BFILE_HEADER_BYTES],
		      const unsigned char key[32], const struct bfile_sink *sink, int only_manifest,
		      struct bfile_manifest *m, struct bfile_counts *counts, char *err, size_t errlen);

/* Check a trailer (the last BFILE_TRAILER_BYTES of a file of file_size). */
int bfile_trailer_ok(const unsigned char t[BFILE_TRAILER_BYTES], uint64_t file_size);

#endif
