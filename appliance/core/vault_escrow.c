#include "vault_escrow.h"

#include "db.h"
#include "log.h"
#include "masterkey.h"
#include "state.h"
#include "vault.h"
#include "vault_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KDF_CTX "ghbackup"
#define KDF_BACKUP_KEK 1
#define KDF_MASTER_ID 2
#define TAG_BYTES 16
#define TEXT_MAX 4096

static const char fp_key[] = "gatehouse/recovery-fingerprint/v1";
static const char check_key[] = "gatehouse/recovery-check/v1";

/* --- small helpers ---------------------------------------------------------- */

static void fp_of_pk(const unsigned char pk[32], unsigned char fp[VAULT_ID_BYTES])
{
	crypto_generichash(fp, VAULT_ID_BYTES, pk, 32, (const unsigned char *)fp_key, sizeof fp_key - 1);
}

void vault_id_text(const unsigned char id[VAULT_ID_BYTES], char out[20])
{
	char hex[17];

	sodium_bin2hex(hex, sizeof hex, id, VAULT_ID_BYTES);
	snprintf(out, 20, "%.4s-%.4s-%.4s-%.4s", hex, hex + 4, hex + 8, hex + 12);
}

void vault_recovery_fingerprint(const unsigned char sk[32], unsigned char fp[VAULT_ID_BYTES])
{
	unsigned char pk[32];

	crypto_scalarmult_base(pk, sk);
	fp_of_pk(pk, fp);
}

static void check_of(const unsigned char sk[32], char out[9])
{
	unsigned char c[4];

	crypto_generichash(c, sizeof c, sk, 32, (const unsigned char *)check_key, sizeof check_key - 1);
	sodium_bin2hex(out, 9, c, sizeof c);
}

/* A value of ks.vault_meta (a BLOB column) into buf; returns its length,
 * 0 when absent, -1 on error. */
static int meta_get(const char *key, void *buf, size_t cap)
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM ks.vault_meta WHERE key = ?");
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_bytes(st, 0);
		if ((size_t)n > cap)
			n = -1;
		else
			memcpy(buf, sqlite3_column_blob(st, 0), (size_t)n);
	}
	sqlite3_reset(st);
	return n;
}

static int meta_put(const char *key, const void *value, size_t len)
{
	sqlite3_stmt *st = db_stmt("INSERT OR REPLACE INTO ks.vault_meta (key, value) VALUES (?, ?)");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Times are kept as decimal text in the BLOB column. */
static long long meta_time(const char *key)
{
	char buf[32] = "";
	int n = meta_get(key, buf, sizeof buf - 1);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static int meta_put_time(const char *key, long long t)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", t);
	return meta_put(key, buf, strlen(buf));
}

static int recovery_pk(unsigned char pk[32])
{
	int n = meta_get("recovery_pk", pk, 32);

	return n == 32 ? 1 : n == 0 ? 0 : -1;
}

static void iso_time(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- the escrow wrap ------------------------------------------------------------ */

/* The sealed box carries a tag of the key's name (tenant, purpose,
 * version) before the key, so an escrow wrap copied to another row is
 * refused, like the master wrap's additional data does. */
static void escrow_tag(int64_t tenant, const char *purpose, int64_t version, unsigned char tag[TAG_BYTES])
{
	unsigned char ad[320];
	size_t n = vault_tenant_key_ad(tenant, purpose, version, ad, sizeof ad);

	crypto_generichash(tag, TAG_BYTES, ad, n, NULL, 0);
}

static void escrow_seal_with(const unsigned char pk[32], int64_t tenant, const char *purpose, int64_t version,
			     const unsigned char key[32], unsigned char out[VAULT_ESCROW_BYTES])
{
	unsigned char plain[TAG_BYTES + 32];

	escrow_tag(tenant, purpose, version, plain);
	memcpy(plain + TAG_BYTES, key, 32);
	crypto_box_seal(out, plain, sizeof plain, pk);
	sodium_memzero(plain, sizeof plain);
}

static int escrow_open(const unsigned char sk[32], int64_t tenant, const char *purpose, int64_t version,
		       const unsigned char *in, size_t len, unsigned char key[32])
{
	unsigned char pk[32], plain[TAG_BYTES + 32], tag[TAG_BYTES];
	int rc = -1;

	if (len != VAULT_ESCROW_BYTES)
		return -1;
	crypto_scalarmult_base(pk, sk);
	if (crypto_box_seal_open(plain, in, len, pk, sk) == 0) {
		escrow_tag(tenant, purpose, version, tag);
		if (sodium_memcmp(tag, plain, TAG_BYTES) == 0) {
			memcpy(key, plain + TAG_BYTES, 32);
			rc = 0;
		}
	}
	sodium_memzero(plain, sizeof plain);
	return rc;
}

int vault_escrow_seal(int64_t tenant, const char *purpose, int64_t version, const unsigned char key[32],
		      unsigned char out[VAULT_ESCROW_BYTES])
{
	unsigned char pk[32];
	int rc = recovery_pk(pk);

	if (rc <= 0)
		return rc;
	escrow_seal_with(pk, tenant, purpose, version, key, out);
	return 1;
}

/* --- the recovery key pair -------------------------------------------------------- */

static void appliance_id(char out[40])
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM meta WHERE key = 'appliance_id'");

	snprintf(out, 40, "unknown");
	if (st && sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, 40, "%s", sqlite3_column_text(st, 0));
	if (st)
		sqlite3_reset(st);
}

/* The text handed out once: readable on paper, typed back if need be. */
static void recovery_text(const unsigned char sk[32], const unsigned char pk[32], const char *appliance,
			  long long created, char *out, size_t len)
{
	unsigned char fp[VAULT_ID_BYTES];
	char hex[65], fptext[20], when[32], check[9];

	fp_of_pk(pk, fp);
	vault_id_text(fp, fptext);
	iso_time(created, when);
	check_of(sk, check);
	sodium_bin2hex(hex, sizeof hex, sk, 32);
	snprintf(out, len,
		 "Gatehouse recovery key\n"
		 "======================\n"
		 "Keep this offline: print it, or keep this file on a USB stick in a safe.\n"
		 "With it, every backup of this appliance can be restored and read, even\n"
		 "when the appliance and its master key are lost. It is shown only once.\n"
		 "\n"
		 "appliance:   %s\n"
		 "fingerprint: %s\n"
		 "created:     %s\n"
		 "\n"
		 "secret key:\n"
		 "  %.8s %.8s %.8s %.8s\n"
		 "  %.8s %.8s %.8s %.8s\n"
		 "check:       %s\n"
		 "\n"
		 "Restore with: gatehouse restore FILE --to DIR --recovery-key THIS-FILE\n",
		 appliance, fptext, when, hex, hex + 8, hex + 16, hex + 24, hex + 32, hex + 40, hex + 48, hex + 56,
		 check);
	sodium_memzero(hex, sizeof hex);
}

/* Inside a transaction: a new key pair, its secret written to PATH before
 * the public half is recorded (replacing any earlier one). */
static int make_recovery_key(const char *path, char *err, size_t errlen)
{
	unsigned char pk[32], *sk = sodium_malloc(32);
	char *text = sodium_malloc(TEXT_MAX), app[40];
	long long now = (long long)time(NULL);
	int rc = -1;

	if (!sk || !text) {
		snprintf(err, errlen, "cannot allocate locked memory for the recovery key");
		goto out;
	}
	crypto_box_keypair(pk, sk);
	appliance_id(app);
	recovery_text(sk, pk, app, now, text, TEXT_MAX);
	if (state_write_file(path, text, strlen(text), 0600, err, errlen) < 0)
		goto out;
	if (meta_put("recovery_pk", pk, 32) < 0 || meta_put_time("recovery_created_at", now) < 0) {
		snprintf(err, errlen, "cannot record the recovery key: %s", sqlite3_errmsg(db_get()));
		goto out;
	}
	rc = 0;
out:
	if (sk)
		sodium_free(sk);
	if (text)
		sodium_free(text);
	return rc;
}

struct key_row {
	int64_t id, tenant, version;
	char purpose[16];
	unsigned char wrapped[VAULT_WRAPPED_BYTES];
	size_t len;
};

/* Give every tenant key that lacks one its escrow wrap. */
static int backfill(char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt("SELECT id, tenant_id, purpose, version, wrapped FROM ks.tenant_keys "
				   "WHERE wrapped IS NOT NULL AND recovery_wrapped IS NULL LIMIT 256");
	struct key_row rows[256];
	unsigned char pk[32], key[32], escrow[VAULT_ESCROW_BYTES];
	int n = 0, rc = 0;

	if (!st || recovery_pk(pk) != 1)
		return -1;
	while (n < 256 && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].id = sqlite3_column_int64(st, 0);
		rows[n].tenant = sqlite3_column_int64(st, 1);
		snprintf(rows[n].purpose, sizeof rows[n].purpose, "%s", sqlite3_column_text(st, 2));
		rows[n].version = sqlite3_column_int64(st, 3);
		rows[n].len = (size_t)sqlite3_column_bytes(st, 4);
		if (rows[n].len > VAULT_WRAPPED_BYTES)
			rows[n].len = VAULT_WRAPPED_BYTES;
		memcpy(rows[n].wrapped, sqlite3_column_blob(st, 4), rows[n].len);
		n++;
	}
	sqlite3_reset(st);
	for (int i = 0; i < n && rc == 0; i++) {
		if (vault_master_unwrap(rows[i].tenant, rows[i].purpose, rows[i].version, rows[i].wrapped, rows[i].len,
					key) != VAULT_OK) {
			snprintf(err, errlen, "tenant key %lld cannot be unwrapped for its escrow copy",
				 (long long)rows[i].id);
			rc = -1;
			break;
		}
		escrow_seal_with(pk, rows[i].tenant, rows[i].purpose, rows[i].version, key, escrow);
		st = db_stmt("UPDATE ks.tenant_keys SET recovery_wrapped = ? WHERE id = ?");
		if (!st)
			rc = -1;
		else {
			sqlite3_bind_blob(st, 1, escrow, sizeof escrow, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, rows[i].id);
			rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
			sqlite3_reset(st);
		}
	}
	sodium_memzero(key, sizeof key);
	sodium_memzero(rows, sizeof rows);
	if (rc < 0 && !*err)
		snprintf(err, errlen, "cannot store escrow wraps: %s", sqlite3_errmsg(db_get()));
	return rc < 0 ? -1 : n;
}

static long long escrow_missing(void)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM ks.tenant_keys WHERE wrapped IS NOT NULL "
				   "AND recovery_wrapped IS NULL");
	long long n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

/* Overwrite, then remove: best effort against the file's blocks lingering
 * (a journaling file system may keep copies; the key is also in no backup). */
static int shred_file(const char *path)
{
	char zero[TEXT_MAX] = {0};
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= TEXT_MAX &&
		    write(fd, zero, (size_t)st.st_size) == st.st_size)
			fsync(fd);
		close(fd);
	}
	return unlink(path);
}

/* The fingerprint of the recovery key written in FILE; -1 when it has none. */
static int file_fingerprint(const char *path, char fp[20])
{
	char *text = sodium_malloc(TEXT_MAX), err[200];
	unsigned char *sk = sodium_malloc(32);
	ssize_t n = -1;
	int fd, rc = -1;

	if (text && sk && (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		n = read(fd, text, TEXT_MAX);
		close(fd);
	}
	if (n > 0 && n < TEXT_MAX)
		rc = vault_recovery_parse(text, (size_t)n, sk, fp, err, sizeof err);
	if (text)
		sodium_free(text);
	if (sk)
		sodium_free(sk);
	return rc;
}

static void current_fingerprint(char fp[20])
{
	unsigned char pk[32], id[VAULT_ID_BYTES];

	fp[0] = '\0';
	if (recovery_pk(pk) == 1) {
		fp_of_pk(pk, id);
		vault_id_text(id, fp);
	}
}

static void sync_dir_of(const char *state_dir)
{
	char dir[4200];
	int fd;

	snprintf(dir, sizeof dir, "%s/keys", state_dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* A rotation commits the new public half, then renames its secret from
 * recovery.key.new over recovery.key. Stopped in between, the staged file
 * is put in place here when it holds the key in force, and shredded when
 * its transaction never committed. */
static int finish_rotation(const char *state_dir, char *err, size_t errlen)
{
	char path[4200], staged[4300], fp_file[20], fp_now[20];

	snprintf(path, sizeof path, "%s/%s", state_dir, VAULT_RECOVERY_FILE);
	snprintf(staged, sizeof staged, "%s.new", path);
	if (access(staged, F_OK) != 0)
		return 0;
	current_fingerprint(fp_now);
	if (file_fingerprint(staged, fp_file) < 0 || strcmp(fp_file, fp_now) != 0) {
		log_notice("vault: %s is from a recovery key change that did not complete; shredding it", staged);
		shred_file(staged);
		return 0;
	}
	if (access(path, F_OK) == 0)
		shred_file(path);
	if (rename(staged, path) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", staged, path, strerror(errno));
		return -1;
	}
	sync_dir_of(state_dir);
	log_notice("vault: finished changing the recovery key to %s; its secret is in %s until exported", fp_now, path);
	return 0;
}

static int drop_escrow_wraps(void)
{
	sqlite3_stmt *st = db_stmt("UPDATE ks.tenant_keys SET recovery_wrapped = NULL WHERE wrapped IS NOT NULL");
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int meta_delete(const char *key)
{
	sqlite3_stmt *st = db_stmt("DELETE FROM ks.vault_meta WHERE key = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* One transaction: a new pair (secret staged in recovery.key.new), every
 * escrow wrap re-sealed to it, the export mark cleared. */
static int rotate_in_store(const char *staged, struct vault_recovery_change *c, char *err, size_t errlen)
{
	int n;

	if (make_recovery_key(staged, err, errlen) < 0)
		return -1;
	if (drop_escrow_wraps() < 0 || meta_delete("recovery_exported_at") < 0) {
		snprintf(err, errlen, "cannot replace the escrow wraps: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	do {
		if ((n = backfill(err, errlen)) < 0)
			return -1;
		c->rewrapped += n;
	} while (n == 256);
	return 0;
}

int vault_recovery_rotate(const char *state_dir, struct vault_recovery_change *c, char *err, size_t errlen)
{
	char path[4200], staged[4300];

	memset(c, 0, sizeof *c);
	if (finish_rotation(state_dir, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", state_dir, VAULT_RECOVERY_FILE);
	snprintf(staged, sizeof staged, "%s.new", path);
	if (db_begin() < 0) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	current_fingerprint(c->old_fingerprint);
	c->old_exported = meta_time("recovery_exported_at") != 0;
	if (!c->old_fingerprint[0]) {
		snprintf(err, errlen, "this appliance has no recovery key yet ('gatehouse serve' makes it at its first start)");
		goto fail;
	}
	if (rotate_in_store(staged, c, err, errlen) < 0)
		goto fail;
	if (db_commit() < 0) {
		snprintf(err, errlen, "cannot commit the new recovery key: %s", sqlite3_errmsg(db_get()));
		goto fail;
	}
	current_fingerprint(c->new_fingerprint);
	/* In force from here on; finish_rotation completes this if we stop now. */
	return finish_rotation(state_dir, err, errlen);
fail:
	db_rollback();
	shred_file(staged);
	return -1;
}

int vault_escrow_start(const char *state_dir, char *err, size_t errlen)
{
	unsigned char pk[32];
	char path[4200];
	int have, n;

	if (finish_rotation(state_dir, err, errlen) < 0)
		return -1;
	/* The usual case costs two reads and no write lock. */
	have = recovery_pk(pk);
	if (have == 1 && escrow_missing() == 0)
		return 0;
	if (db_begin() < 0) {
		snprintf(err, errlen, "database busy");
		return -1;
	}
	have = recovery_pk(pk);
	snprintf(path, sizeof path, "%s/%s", state_dir, VAULT_RECOVERY_FILE);
	if (have < 0 || (have == 0 && make_recovery_key(path, err, errlen) < 0))
		goto fail;
	if (have == 0)
		log_notice("vault: made the recovery key; its secret is in %s until you export it with "
			   "'gatehouse keys recovery-export' (keep it offline)", path);
	do {
		if ((n = backfill(err, errlen)) < 0)
			goto fail;
	} while (n == 256);
	if (db_commit() < 0) {
		snprintf(err, errlen, "cannot commit the recovery key: %s", sqlite3_errmsg(db_get()));
		goto fail;
	}
	return 0;
fail:
	db_rollback();
	if (!*err)
		snprintf(err, errlen, "cannot set up the recovery key");
	return -1;
}

int vault_recovery_status(const char *state_dir, struct vault_recovery_status *s)
{
	unsigned char pk[32], fp[VAULT_ID_BYTES];
	char path[4200];

	memset(s, 0, sizeof *s);
	s->present = recovery_pk(pk) == 1;
	if (s->present) {
		fp_of_pk(pk, fp);
		vault_id_text(fp, s->fingerprint);
	}
	s->created_at = meta_time("recovery_created_at");
	s->exported_at = meta_time("recovery_exported_at");
	snprintf(path, sizeof path, "%s/%s", state_dir, VAULT_RECOVERY_FILE);
	s->secret_on_disk = access(path, F_OK) == 0;
	s->escrow_missing = escrow_missing();
	return s->escrow_missing < 0 ? -1 : 0;
}

int vault_recovery_text(const char *state_dir, char **text, size_t *len, char *err, size_t errlen)
{
	char path[4200], when[32], in_file[20], in_force[20];
	long long exported = meta_time("recovery_exported_at");
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", state_dir, VAULT_RECOVERY_FILE);
	/* Never hand out a secret that is not the key in force (a file left
	 * from before a rotation, or copied from another appliance). */
	current_fingerprint(in_force);
	if (file_fingerprint(path, in_file) == 0 && strcmp(in_file, in_force) != 0) {
		snprintf(err, errlen, "%s holds the recovery key %s, not the key in force %s; not exporting it", path,
			 in_file, in_force);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT && exported) {
			iso_time(exported, when);
			snprintf(err, errlen,
				 "the recovery key was exported on %s and is no longer on this appliance "
				 "(it is shown only once)", when);
		} else {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		}
		return -1;
	}
	*text = malloc(TEXT_MAX);
	if (!*text) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = read(fd, *text, TEXT_MAX - 1);
	close(fd);
	if (n <= 0) {
		vault_free(*text, TEXT_MAX);
		snprintf(err, errlen, "cannot read %s", path);
		return -1;
	}
	(*text)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

int vault_recovery_mark_exported(const char *state_dir, char *err, size_t errlen)
{
	char path[4200];

	if (db_begin() < 0 || meta_put_time("recovery_exported_at", (long long)time(NULL)) < 0 || db_commit() < 0) {
		db_rollback();
		snprintf(err, errlen, "cannot record the export: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s", state_dir, VAULT_RECOVERY_FILE);
	if (shred_file(path) < 0) {
		snprintf(err, errlen, "cannot delete %s: %s (delete it by hand)", path, strerror(errno));
		return -1;
	}
	sync_dir_of(state_dir);
	return 0;
}

/* Hex digits after "secret key:" up to "check:"; blanks and dashes ignored. */
static int parse_secret(const char *text, size_t len, char hex[65], char check[9], char fp[20])
{
	const char *p = text, *end = text + len, *s = NULL, *c = NULL, *f = NULL;
	size_t n = 0, k = 0;

	for (const char *q = p; q < end; q++) {
		if (!s && (size_t)(end - q) >= 11 && strncmp(q, "secret key:", 11) == 0)
			s = q + 11;
		else if (!c && (size_t)(end - q) >= 6 && strncmp(q, "check:", 6) == 0)
			c = q + 6;
		else if (!f && (size_t)(end - q) >= 12 && strncmp(q, "fingerprint:", 12) == 0)
			f = q + 12;
	}
	if (!s || !c || c < s)
		return -1;
	for (const char *q = s; q < c - 6 && n < 65; q++) {
		if ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F'))
			hex[n++] = *q;
		else if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n' && *q != '-')
			return -1;
	}
	if (n != 64)
		return -1;
	hex[64] = '\0';
	while (c < end && (*c == ' ' || *c == '\t'))
		c++;
	for (; c < end && k < 8 && *c != '\n' && *c != '\r'; c++)
		check[k++] = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
	check[k] = '\0';
	fp[0] = '\0';
	if (f) {
		while (f < end && (*f == ' ' || *f == '\t'))
			f++;
		for (k = 0; f < end && k < 19 && *f != '\n' && *f != '\r' && *f != ' '; f++)
			fp[k++] = (char)(*f >= 'A' && *f <= 'F' ? *f + 32 : *f);
		fp[k] = '\0';
	}
	return 0;
}

int vault_recovery_parse(const char *text, size_t len, unsigned char sk[32], char fingerprint[20], char *err,
			 size_t errlen)
{
	char hex[65], check[9], want[9], fp_given[20];
	unsigned char fp[VAULT_ID_BYTES];
	size_t binlen;
	int rc = -1;

	if (parse_secret(text, len, hex, check, fp_given) < 0 ||
	    sodium_hex2bin(sk, 32, hex, 64, NULL, &binlen, NULL) != 0 || binlen != 32) {
		snprintf(err, errlen, "not a Gatehouse recovery key (expected 'secret key:' with 64 hex digits, "
				      "then 'check:')");
		goto out;
	}
	check_of(sk, want);
	if (strcmp(check, want) != 0) {
		snprintf(err, errlen, "the recovery key's check digits do not match its secret (a typing error?)");
		goto out;
	}
	vault_recovery_fingerprint(sk, fp);
	vault_id_text(fp, fingerprint);
	if (fp_given[0] && strcmp(fp_given, fingerprint) != 0) {
		snprintf(err, errlen, "the recovery key's fingerprint line (%s) does not match its secret (%s)", fp_given,
			 fingerprint);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(hex, sizeof hex);
	return rc;
}

/* --- backup file keys ------------------------------------------------------------- */

void vault_master_id_of(const unsigned char mk[32], unsigned char id[VAULT_ID_BYTES])
{
	unsigned char sub[32];

	crypto_kdf_derive_from_key(sub, sizeof sub, KDF_MASTER_ID, KDF_CTX, mk);
	memcpy(id, sub, VAULT_ID_BYTES);
}

void vault_recovery_pk_fingerprint(const unsigned char pk[32], unsigned char fp[VAULT_ID_BYTES])
{
	fp_of_pk(pk, fp);
}

int vault_backup_ids(unsigned char master_id[VAULT_ID_BYTES], unsigned char *recovery_fp)
{
	unsigned char sub[32], pk[32];
	int rc = vault_master_kdf(KDF_MASTER_ID, KDF_CTX, sub);

	if (rc != VAULT_OK)
		return rc;
	memcpy(master_id, sub, VAULT_ID_BYTES);
	sodium_memzero(sub, sizeof sub);
	if (!recovery_fp)
		return VAULT_OK;
	if ((rc = recovery_pk(pk)) != 1)
		return rc < 0 ? VAULT_E_DB : VAULT_E_NOKEY;
	fp_of_pk(pk, recovery_fp);
	return VAULT_OK;
}

int vault_file_key_protect(const unsigned char key[32], const unsigned char recovery_pk[32], const unsigned char *ad,
			   size_t adlen, unsigned char wrapped[VAULT_FILE_KEY_WRAPPED_BYTES],
			   unsigned char sealed[VAULT_FILE_KEY_SEALED_BYTES])
{
	unsigned char kek[32];
	int rc;

	if ((rc = vault_master_kdf(KDF_BACKUP_KEK, KDF_CTX, kek)) != VAULT_OK)
		return rc;
	rc = vault_wrap(kek, key, ad, adlen, wrapped) == 0 ? VAULT_OK : VAULT_E_MASTER;
	sodium_memzero(kek, sizeof kek);
	if (rc != VAULT_OK)
		return rc;
	crypto_box_seal(sealed, key, 32, recovery_pk);
	return VAULT_OK;
}

int vault_file_key_unwrap(const unsigned char *mk, const unsigned char *wrapped, const unsigned char *ad,
			  size_t adlen, unsigned char key[32])
{
	unsigned char kek[32];
	int rc;

	if (mk)
		crypto_kdf_derive_from_key(kek, sizeof kek, KDF_BACKUP_KEK, KDF_CTX, mk);
	else if (vault_master_kdf(KDF_BACKUP_KEK, KDF_CTX, kek) != VAULT_OK)
		return -1;
	rc = vault_unwrap(kek, wrapped, VAULT_FILE_KEY_WRAPPED_BYTES, ad, adlen, key);
	sodium_memzero(kek, sizeof kek);
	return rc;
}

int vault_file_key_unseal(const unsigned char sk[32], const unsigned char *sealed, unsigned char key[32])
{
	unsigned char pk[32];

	crypto_scalarmult_base(pk, sk);
	return crypto_box_seal_open(key, sealed, VAULT_FILE_KEY_SEALED_BYTES, pk, sk) == 0 ? 0 : -1;
}

/* --- restoring key stores --------------------------------------------------------- */

/* A tenant key from its row, with whichever key `from` offers. */
static int open_row_key(const struct vault_unlock *from, int64_t tenant, const char *purpose, int64_t version,
			const void *wrapped, size_t wlen, const void *escrow, size_t elen, unsigned char key[32])
{
	unsigned char ad[320];
	size_t adlen;

	if (from->master) {
		adlen = vault_tenant_key_ad(tenant, purpose, version, ad, sizeof ad);
		return vault_unwrap(from->master, wrapped, wlen, ad, adlen, key);
	}
	if (from->recovery_sk && escrow)
		return escrow_open(from->recovery_sk, tenant, purpose, version, escrow, elen, key);
	return -1;
}

int vault_keystore_rekey(sqlite3 *db, const char *schema, const struct vault_unlock *from,
			 const unsigned char new_mk[32], char *err, size_t errlen)
{
	char sel[200], upd[160];
	sqlite3_stmt *s = NULL, *u = NULL;
	unsigned char key[32], out[VAULT_WRAPPED_BYTES], ad[320];
	int n = 0, rc = -1;

	snprintf(sel, sizeof sel, "SELECT id, tenant_id, purpose, version, wrapped, recovery_wrapped FROM \"%s\".tenant_keys "
		 "WHERE wrapped IS NOT NULL ORDER BY id", schema);
	snprintf(upd, sizeof upd, "UPDATE \"%s\".tenant_keys SET wrapped = ? WHERE id = ?", schema);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sel, -1, &s, NULL) != SQLITE_OK || sqlite3_prepare_v2(db, upd, -1, &u, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the restored key store: %s", sqlite3_errmsg(db));
		goto out;
	}
	/* Updating rows already read is safe in SQLite: the scan is by id. */
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0), tenant = sqlite3_column_int64(s, 1);
		const char *purpose = (const char *)sqlite3_column_text(s, 2);
		int64_t version = sqlite3_column_int64(s, 3);
		size_t adlen;

		if (open_row_key(from, tenant, purpose, version, sqlite3_column_blob(s, 4),
				 (size_t)sqlite3_column_bytes(s, 4), sqlite3_column_blob(s, 5),
				 (size_t)sqlite3_column_bytes(s, 5), key) != 0) {
			snprintf(err, errlen, "tenant key %lld (tenant %lld, %s, version %lld) cannot be opened with the %s",
				 (long long)id, (long long)tenant, purpose, (long long)version,
				 from->master ? "master key given" : "recovery key given (no escrow copy matches)");
			goto out;
		}
		adlen = vault_tenant_key_ad(tenant, purpose, version, ad, sizeof ad);
		vault_wrap(new_mk, key, ad, adlen, out);
		sqlite3_bind_blob(u, 1, out, sizeof out, SQLITE_TRANSIENT);
		sqlite3_bind_int64(u, 2, id);
		if (sqlite3_step(u) != SQLITE_DONE) {
			snprintf(err, errlen, "cannot store a re-wrapped key: %s", sqlite3_errmsg(db));
			goto out;
		}
		sqlite3_reset(u);
		n++;
	}
	if (vault_master_check_write_on(db, schema, new_mk) != VAULT_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot commit the re-wrapped keys: %s", sqlite3_errmsg(db));
		goto out;
	}
	rc = n;
out:
	sodium_memzero(key, sizeof key);
	sqlite3_finalize(s);
	sqlite3_finalize(u);
	if (rc < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Look a key up by its name in ks: its id, or 0 when absent, -1 on error. */
static int64_t ks_key_id(int64_t tenant, const char *purpose, int64_t version)
{
	sqlite3_stmt *st = db_stmt("SELECT id FROM ks.tenant_keys WHERE tenant_id = ? AND purpose = ? AND version = ?");
	int64_t id = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, purpose, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, version);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

static int ks_id_taken(int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM ks.tenant_keys WHERE id = ?");
	int taken;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return taken;
}

/* A newer active key arrives: the older one keeps working as 'retiring'
 * and a rotation is recorded for `keys rotate` to finish. */
static int demote_active(int64_t tenant, const char *purpose, int64_t new_id)
{
	sqlite3_stmt *st = db_stmt("UPDATE ks.tenant_keys SET state = 'retiring' WHERE tenant_id = ? AND purpose = ? "
				   "AND state = 'active'");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, purpose, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlite3_reset(st), -1;
	sqlite3_reset(st);
	if (strcmp(purpose, "data") != 0 || sqlite3_changes(db_get()) == 0)
		return 0;
	st = db_stmt("INSERT OR IGNORE INTO ks.rotations (tenant_id, new_key_id, started_at) VALUES (?, ?, unixepoch())");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, new_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int insert_merged(sqlite3_stmt *s, const unsigned char *wrapped, const unsigned char *escrow)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO ks.tenant_keys (id, tenant_id, purpose, version, state, wrapped, "
				   "created_at, retired_at, recovery_wrapped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (!st)
		return -1;
	for (int c = 0; c < 5; c++)
		sqlite3_bind_value(st, c + 1, sqlite3_column_value(s, c));
	if (wrapped)
		sqlite3_bind_blob(st, 6, wrapped, VAULT_WRAPPED_BYTES, SQLITE_TRANSIENT);
	sqlite3_bind_value(st, 7, sqlite3_column_value(s, 6));
	sqlite3_bind_value(st, 8, sqlite3_column_value(s, 7));
	if (escrow)
		sqlite3_bind_blob(st, 9, escrow, VAULT_ESCROW_BYTES, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* One key of the source store that ks lacks. */
static int merge_one(sqlite3_stmt *s, const struct vault_unlock *from, char *err, size_t errlen)
{
	int64_t id = sqlite3_column_int64(s, 0), tenant = sqlite3_column_int64(s, 1), version = sqlite3_column_int64(s, 3);
	char purpose[16];
	const char *state = (const char *)sqlite3_column_text(s, 4);
	unsigned char key[32], wrapped[VAULT_WRAPPED_BYTES], escrow[VAULT_ESCROW_BYTES];
	int have_bytes = sqlite3_column_type(s, 5) != SQLITE_NULL, escrowed = 0, rc = 0;

	snprintf(purpose, sizeof purpose, "%s", sqlite3_column_text(s, 2));
	if (have_bytes) {
		if (open_row_key(from, tenant, purpose, version, sqlite3_column_blob(s, 5),
				 (size_t)sqlite3_column_bytes(s, 5), sqlite3_column_blob(s, 8),
				 (size_t)sqlite3_column_bytes(s, 8), key) != 0) {
			snprintf(err, errlen, "tenant key %lld of the events backup cannot be opened with the key given",
				 (long long)id);
			return -1;
		}
		rc = vault_master_wrap(tenant, purpose, version, key, wrapped) == VAULT_OK ? 0 : -1;
		escrowed = rc == 0 ? vault_escrow_seal(tenant, purpose, version, key, escrow) : 0;
		sodium_memzero(key, sizeof key);
	}
	if (rc == 0 && strcmp(state, "active") == 0)
		rc = demote_active(tenant, purpose, id);
	if (rc == 0)
		rc = insert_merged(s, have_bytes ? wrapped : NULL, escrowed > 0 ? escrow : NULL);
	if (rc < 0 && !*err)
		snprintf(err, errlen, "cannot add tenant key %lld: %s", (long long)id, sqlite3_errmsg(db_get()));
	return rc;
}

int vault_merge_tenant_keys(const char *src, const struct vault_unlock *from, char *err, size_t errlen)
{
	char sql[256];
	sqlite3_stmt *s;
	int added = 0, rc = 0;

	snprintf(sql, sizeof sql, "SELECT id, tenant_id, purpose, version, state, wrapped, created_at, retired_at, "
		 "recovery_wrapped FROM \"%s\".tenant_keys ORDER BY id", src);
	if (sqlite3_prepare_v2(db_get(), sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the events backup's key store: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		int64_t have = ks_key_id(sqlite3_column_int64(s, 1), (const char *)sqlite3_column_text(s, 2),
					 sqlite3_column_int64(s, 3));
		if (have < 0) {
			rc = -1;
		} else if (have > 0 && have != id) {
			snprintf(err, errlen, "tenant key %lld is key %lld here: the two states diverged", (long long)id,
				 (long long)have);
			rc = -1;
		} else if (have == 0) {
			if (ks_id_taken(id) != 0) {
				snprintf(err, errlen, "tenant key id %lld is another key here: the two states diverged",
					 (long long)id);
				rc = -1;
			} else if ((rc = merge_one(s, from, err, errlen)) == 0) {
				added++;
			}
		}
	}
	sqlite3_finalize(s);
	vault_cache_flush();
	return rc < 0 ? -1 : added;
}

/* --- the erasure ledger ------------------------------------------------------------ */

int vault_erasures_load(sqlite3 *db, const char *schema, struct vault_erasure **list, size_t *n)
{
	char sql[160];
	sqlite3_stmt *st;
	size_t cap = *n;

	snprintf(sql, sizeof sql, "SELECT tenant_id, person_id, erased_at FROM \"%s\".erasures ORDER BY erased_at",
		 schema);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return strstr(sqlite3_errmsg(db), "no such table") ? 0 : -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap || !*list) {
			void *bigger = realloc(*list, (cap = cap ? cap * 2 : 64) * sizeof **list);
			if (!bigger) {
				sqlite3_finalize(st);
				return -1;
			}
			*list = bigger;
		}
		(*list)[*n].tenant = sqlite3_column_int64(st, 0);
		(*list)[*n].person = sqlite3_column_int64(st, 1);
		(*list)[*n].erased_at = sqlite3_column_int64(st, 2);
		(*n)++;
	}
	sqlite3_finalize(st);
	return 0;
}

long long vault_erasures_since(long long t)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM ks.erasures WHERE erased_at >= ?");
	long long n = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, t);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int vault_erasure_record(int64_t tenant, int64_t person, int64_t erased_at)
{
	sqlite3_stmt *st = db_stmt("INSERT OR IGNORE INTO ks.erasures (tenant_id, person_id, erased_at) VALUES (?, ?, ?)");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	sqlite3_bind_int64(st, 3, erased_at);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int vault_master_export(const char *path, char *err, size_t errlen)
{
	unsigned char *mk = sodium_malloc(MASTERKEY_BYTES);
	int rc = -1;

	if (!mk) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (vault_master_copy(mk) != VAULT_OK)
		snprintf(err, errlen, "no master key loaded");
	else
		rc = masterkey_write(path, mk, err, errlen);
	sodium_free(mk);
	return rc;
}
