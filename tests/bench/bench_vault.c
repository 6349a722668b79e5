/* bench_vault: what the vault costs on top of the cipher and the index it
 * wraps.
 *
 * Every personal field (a name, an e-mail, a 16 KiB face template) is
 * sealed and opened by the vault, and every search by e-mail goes through a
 * blind index, so these figures bound how fast the appliance reads and
 * writes people; the raw cipher and a plain indexed lookup are measured in
 * the same run as the baselines the ratios are taken against. On a fresh
 * state directory under /tmp (removed at the end) it measures:
 *   1. raw XChaCha20-Poly1305-IETF encrypt and decrypt of 64 B and 16 KiB
 *      (fixed key, fresh nonce per encryption, no additional data);
 *   2. vault_seal / vault_open_field with the tenant data key;
 *   3. vault_seal_person / vault_open_field with a person key;
 *   4. for 2 and 3: the ratio to raw (ops/s) and the overhead per field in
 *      microseconds, (1/vault_rate - 1/raw_rate) * 1e6;
 *   5. vault_blind_index per second, and lookups of random existing
 *      e-mails by blind index in a 100,000-row indexed table against plain
 *      indexed lookups of the same e-mails (rate, median and p99 latency);
 *   6. one Argon2id vault_secret_hash (median of 5) and vault_secret_verify.
 * Each throughput figure runs for BENCH_SECONDS (default 0.5) after a
 * warm-up. Output: one row per figure, four tab-separated fields (benchmark,
 * figure, unit, ratio) that tests/bench/run.sh lays out as a table. Timings
 * are reported, never judged: the exit status is 1 only when an operation
 * under test fails or the state directory cannot be set up. */
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TENANT VAULT_DEFAULT_TENANT
#define PERSON 1
#define PEOPLE 100000
#define EMAIL_MAX 32
#define MAX_LOOKUPS (1u << 21)

static double budget = 0.5; /* seconds per throughput figure */
static int failures;
static char (*emails)[EMAIL_MAX]; /* PEOPLE distinct addresses; row id = index + 1 */

/* --- measuring and reporting ------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One operation under test: VAULT_OK or a vault error code. */
typedef int (*op_fn)(void *arg);

/* Report a failed operation; the run will exit 1. Returns -1 (no figure). */
static double failed(const char *what, int rc)
{
	fprintf(stderr, "bench_vault: %s: %s\n", what, vault_strerror(rc));
	failures++;
	return -1;
}

/* Operations per second of op over the budget, after a warm-up of a tenth
 * of it; -1 if an operation failed. The clock is read once per batch and
 * batches grow until a batch takes 1% of the budget, so reading the clock
 * costs nothing next to the work measured. */
static double rate_of(const char *what, op_fn op, void *arg)
{
	double start, t, batch_start, warm_until = now() + budget / 10;
	long long n = 0, batch = 1;
	int rc;

	while (now() < warm_until)
		if ((rc = op(arg)) != VAULT_OK)
			return failed(what, rc);
	start = t = now();
	while (t - start < budget) {
		batch_start = t;
		for (long long i = 0; i < batch; i++)
			if ((rc = op(arg)) != VAULT_OK)
				return failed(what, rc);
		n += batch;
		t = now();
		if (t - batch_start < budget / 100)
			batch *= 2;
	}
	return (double)n / (t - start);
}

static void row(const char *name, double figure, int decimals, const char *unit, const char *ratio)
{
	if (figure >= 0)
		printf("%s\t%.*f\t%s\t%s\n", name, decimals, figure, unit, ratio);
	else
		printf("%s\tfailed\t%s\t\n", name, unit);
}

/* "0.71 of raw   overhead 0.35 us": rate against its baseline, and the time
 * added per operation. */
static const char *versus(char *buf, size_t len, double rate, double base, const char *base_name)
{
	if (rate <= 0 || base <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f of %s   overhead %.2f us", rate / base, base_name,
			 (1 / rate - 1 / base) * 1e6);
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* --- sealed fields ---------------------------------------------------------- */

static const struct vault_ref field_ref = {TENANT, "people", "note", PERSON};

struct field {
	size_t len;
	unsigned char *plain;    /* len random bytes */
	unsigned char *buf;      /* raw: ciphertext and tag (len + 16) */
	unsigned char *out;      /* raw: decrypted plaintext */
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	int64_t person;          /* vault: 0 for the tenant data key */
	unsigned char *sealed;   /* vault: the last value sealed, opened next */
	size_t sealed_len;
};

static int raw_encrypt(void *arg)
{
	struct field *f = arg;
	unsigned long long n;
	int rc;

	randombytes_buf(f->nonce, sizeof f->nonce);
	rc = crypto_aead_xchacha20poly1305_ietf_encrypt(f->buf, &n, f->plain, f->len, NULL, 0, NULL,
							f->nonce, f->key);
	return rc == 0 ? VAULT_OK : VAULT_E_AUTH;
}

/* Opens what raw_encrypt sealed last. */
static int raw_decrypt(void *arg)
{
	struct field *f = arg;
	size_t clen = f->len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	unsigned long long n;
	int rc;

	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(f->out, &n, NULL, f->buf, clen, NULL, 0,
							f->nonce, f->key);
	return rc == 0 ? VAULT_OK : VAULT_E_AUTH;
}

static int seal(void *arg)
{
	struct field *f = arg;
	unsigned char *out;
	size_t n;
	int rc = f->person ? vault_seal_person(&field_ref, f->person, f->plain, f->len, &out, &n)
			   : vault_seal(&field_ref, f->plain, f->len, &out, &n);

	if (rc == VAULT_OK) {
		free(f->sealed);
		f->sealed = out;
		f->sealed_len = n;
	}
	return rc;
}

static int open_sealed(void *arg)
{
	struct field *f = arg;
	unsigned char *plain;
	size_t n;
	int rc = vault_open_field(&field_ref, f->sealed, f->sealed_len, &plain, &n);

	if (rc == VAULT_OK)
		vault_free(plain, n);
	return rc;
}

/* Seal and open through the vault with the tenant key, then a person key,
 * each against the raw cipher measured just before. */
static void bench_vault_fields(struct field *f, const char *size, double raw_enc, double raw_dec)
{
	static const char *const key_names[] = {"tenant", "person"};
	char name[96], ratio[96];
	double rate;

	for (int k = 0; k < 2; k++) {
		f->person = k ? PERSON : 0;
		free(f->sealed);
		f->sealed = NULL;
		snprintf(name, sizeof name, "vault seal %s (%s key)", size, key_names[k]);
		rate = rate_of(name, seal, f);
		row(name, rate, 0, "ops/s", versus(ratio, sizeof ratio, rate, raw_enc, "raw"));
		snprintf(name, sizeof name, "vault open %s (%s key)", size, key_names[k]);
		rate = f->sealed ? rate_of(name, open_sealed, f) : -1;
		row(name, rate, 0, "ops/s", versus(ratio, sizeof ratio, rate, raw_dec, "raw"));
	}
}

static void bench_fields(size_t len, const char *size)
{
	struct field f = {.len = len};
	char name[96];
	double enc, dec;

	f.plain = malloc(len);
	f.buf = malloc(len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	f.out = malloc(len);
	if (!f.plain || !f.buf || !f.out) {
		failed("fields", VAULT_E_NOMEM);
	} else {
		randombytes_buf(f.plain, len);
		crypto_aead_xchacha20poly1305_ietf_keygen(f.key);
		snprintf(name, sizeof name, "raw encrypt %s", size);
		enc = rate_of(name, raw_encrypt, &f);
		row(name, enc, 0, "ops/s", "");
		snprintf(name, sizeof name, "raw decrypt %s", size);
		dec = rate_of(name, raw_decrypt, &f);
		row(name, dec, 0, "ops/s", "");
		bench_vault_fields(&f, size, enc, dec);
	}
	free(f.plain);
	free(f.buf);
	free(f.out);
	free(f.sealed);
}

/* --- blind indexes ---------------------------------------------------------- */

/* Distinct addresses in no particular order (i times an odd constant is a
 * bijection modulo 2^32), so neither index is filled in sorted order. */
static int make_emails(void)
{
	emails = malloc(PEOPLE * sizeof *emails);
	if (!emails)
		return -1;
	for (uint32_t i = 0; i < PEOPLE; i++)
		snprintf(emails[i], EMAIL_MAX, "person.%08x@example.org", i * 2654435761u);
	return 0;
}

static int blind_index_next(void *arg)
{
	unsigned *i = arg;
	unsigned char idx[VAULT_INDEX_BYTES];

	*i = (*i + 1) % PEOPLE;
	return vault_blind_index(TENANT, VI_EMAIL, emails[*i], idx);
}

static sqlite3_stmt *prepare(const char *sql)
{
	sqlite3 *db = db_get();
	sqlite3_stmt *st = NULL;

	if (!db || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_vault: %s: %s\n", sql,
			db ? sqlite3_errmsg(db) : "no database");
		return NULL;
	}
	return st;
}

static int create_tables(void)
{
	static const char *const sql[] = {
		"CREATE TABLE bench_people (id INTEGER PRIMARY KEY, email_idx BLOB)",
		"CREATE INDEX bench_people_email_idx ON bench_people (email_idx)",
		"CREATE TABLE plain_people (id INTEGER PRIMARY KEY, email TEXT)",
		"CREATE INDEX plain_people_email ON plain_people (email)",
	};

	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
		if (db_exec(db_get(), sql[i]) != SQLITE_OK)
			return VAULT_E_DB;
	return VAULT_OK;
}

/* Bind e-mail i as parameter col: its blind index (blind) or in clear. */
static int bind_email(sqlite3_stmt *st, int col, int blind, unsigned i)
{
	unsigned char idx[VAULT_INDEX_BYTES];
	int rc;

	if (blind) {
		if ((rc = vault_blind_index(TENANT, VI_EMAIL, emails[i], idx)) != VAULT_OK)
			return rc;
		rc = sqlite3_bind_blob(st, col, idx, sizeof idx, SQLITE_TRANSIENT);
	} else {
		rc = sqlite3_bind_text(st, col, emails[i], -1, SQLITE_STATIC);
	}
	return rc == SQLITE_OK ? VAULT_OK : VAULT_E_DB;
}

/* Insert every address with id = index + 1 in one transaction, into
 * bench_people (blind) or plain_people. Rows per second, or -1. */
static double fill(int blind)
{
	sqlite3_stmt *st = prepare(blind ? "INSERT INTO bench_people (id, email_idx) VALUES (?, ?)"
					 : "INSERT INTO plain_people (id, email) VALUES (?, ?)");
	double start = now();
	int rc = st && db_begin() == 0 ? VAULT_OK : VAULT_E_DB;

	for (unsigned i = 0; rc == VAULT_OK && i < PEOPLE; i++) {
		sqlite3_bind_int64(st, 1, i + 1);
		rc = bind_email(st, 2, blind, i);
		if (rc == VAULT_OK && sqlite3_step(st) != SQLITE_DONE)
			rc = VAULT_E_DB;
		sqlite3_reset(st);
	}
	if (rc == VAULT_OK && db_commit() != 0)
		rc = VAULT_E_DB;
	if (rc != VAULT_OK)
		db_rollback();
	sqlite3_finalize(st);
	if (rc != VAULT_OK)
		return failed(blind ? "blind fill" : "plain fill", rc);
	return PEOPLE / (now() - start);
}

/* Find e-mail i and check that the row found is the right one. */
static int lookup(sqlite3_stmt *st, int blind, unsigned i)
{
	int rc = bind_email(st, 1, blind, i);

	if (rc == VAULT_OK && sqlite3_step(st) != SQLITE_ROW)
		rc = VAULT_E_DB;
	else if (rc == VAULT_OK && sqlite3_column_int64(st, 0) != i + 1)
		rc = VAULT_E_DB;
	sqlite3_reset(st);
	return rc;
}

struct lookups {
	unsigned *picks; /* which e-mails, drawn by the blind run, replayed by the plain one */
	double *us;      /* latency of each lookup */
	size_t n;        /* 0: as many as the budget allows (and picks drawn) */
};

/* Time each lookup of picks[0..n); with n == 0 draw random picks for the
 * budget and set n. Returns lookups per second of lookup time, or -1. */
static double time_lookups(struct lookups *l, int blind)
{
	sqlite3_stmt *st = prepare(blind ? "SELECT id FROM bench_people WHERE email_idx = ?"
					 : "SELECT id FROM plain_people WHERE email = ?");
	int draw = l->n == 0, rc = st ? VAULT_OK : VAULT_E_DB;
	size_t i, limit = draw ? MAX_LOOKUPS : l->n;
	double start = now(), t0, t1 = start, total = 0;

	for (unsigned w = 0; rc == VAULT_OK && w < 1000; w++) /* warm-up */
		rc = lookup(st, blind, randombytes_uniform(PEOPLE));
	for (i = 0; rc == VAULT_OK && i < limit && (!draw || t1 - start < budget); i++) {
		if (draw)
			l->picks[i] = randombytes_uniform(PEOPLE);
		t0 = now();
		rc = lookup(st, blind, l->picks[i]);
		t1 = now();
		l->us[i] = (t1 - t0) * 1e6;
		total += t1 - t0;
	}
	sqlite3_finalize(st);
	if (rc != VAULT_OK)
		return failed(blind ? "blind-index lookup" : "plain lookup", rc);
	l->n = i;
	return (double)i / total;
}

/* The rate row, then median and p99 latency (sorts l->us). */
static void lookup_rows(const char *name, struct lookups *l, double rate, const char *ratio)
{
	char sub[96];

	row(name, rate, 0, "lookups/s", ratio);
	if (rate < 0)
		return;
	qsort(l->us, l->n, sizeof *l->us, cmp_double);
	snprintf(sub, sizeof sub, "%s: median", name);
	row(sub, l->us[l->n / 2], 2, "us", "");
	snprintf(sub, sizeof sub, "%s: p99", name);
	row(sub, l->us[(l->n - 1) * 99 / 100], 2, "us", "");
}

/* Random existing e-mails by blind index for the budget, then the same
 * e-mails in the same order by plain index; the plain run is the baseline. */
static void bench_lookups(void)
{
	unsigned *picks = malloc(MAX_LOOKUPS * sizeof *picks);
	struct lookups blind = {picks, malloc(MAX_LOOKUPS * sizeof *blind.us), 0};
	struct lookups plain = {picks, malloc(MAX_LOOKUPS * sizeof *plain.us), 0};
	double blind_fill = fill(1), plain_fill = fill(0), blind_rate = -1, plain_rate = -1;
	char ratio[96];

	row("insert 100,000 rows in 1 transaction (plain)", plain_fill, 0, "rows/s", "");
	row("insert 100,000 rows in 1 transaction (blind)", blind_fill, 0, "rows/s",
	    versus(ratio, sizeof ratio, blind_fill, plain_fill, "plain"));
	if (!picks || !blind.us || !plain.us) {
		failed("lookups", VAULT_E_NOMEM);
	} else if (blind_fill > 0 && plain_fill > 0) {
		blind_rate = time_lookups(&blind, 1);
		plain.n = blind.n;
		if (blind_rate > 0)
			plain_rate = time_lookups(&plain, 0);
	}
	lookup_rows("lookup by e-mail (plain index)", &plain, plain_rate, "");
	lookup_rows("lookup by e-mail (blind index)", &blind, blind_rate,
		    versus(ratio, sizeof ratio, blind_rate, plain_rate, "plain"));
	free(picks);
	free(blind.us);
	free(plain.us);
}

static void bench_blind_index(void)
{
	unsigned i = 0;

	if (make_emails() < 0) {
		failed("e-mails", VAULT_E_NOMEM);
		return;
	}
	row("blind index (e-mail)", rate_of("blind index", blind_index_next, &i), 0, "ops/s", "");
	if (create_tables() != VAULT_OK)
		failed("create tables", VAULT_E_DB);
	else
		bench_lookups();
	free(emails);
	emails = NULL;
}

/* --- secrets ---------------------------------------------------------------- */

static void bench_secrets(void)
{
	static const char secret[] = "correct horse battery staple";
	char hash[crypto_pwhash_STRBYTES], name[96];
	double ms[5], t0;
	int rc = VAULT_OK;

	for (int i = 0; i < 5 && rc == VAULT_OK; i++) {
		t0 = now();
		rc = vault_secret_hash(secret, hash);
		ms[i] = (now() - t0) * 1e3;
	}
	snprintf(name, sizeof name, "Argon2id hash (ops %d, mem %u MiB)", VAULT_PWHASH_OPSLIMIT,
		 VAULT_PWHASH_MEMLIMIT >> 20);
	if (rc != VAULT_OK) {
		row(name, failed(name, rc), 1, "ms", "");
		return;
	}
	qsort(ms, 5, sizeof ms[0], cmp_double);
	row(name, ms[2], 1, "ms", "median of 5");
	t0 = now();
	rc = vault_secret_verify(hash, secret);
	ms[0] = (now() - t0) * 1e3;
	if (rc != 0)
		ms[0] = failed("Argon2id verify", VAULT_E_AUTH);
	row("Argon2id verify", ms[0], 1, "ms", "");
}

/* --- the state directory ---------------------------------------------------- */

/* Opened as tests/unit/vault_fixture.h does, messages on stderr. */
static int store_open(const char *dir)
{
	char err[700], db[600], ks[600];

	if (state_open(dir, err, sizeof err) < 0 || state_mkdir("keys", err, sizeof err) < 0) {
		fprintf(stderr, "bench_vault: %s\n", err);
		return -1;
	}
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (db_open(db, ks, 5000, err, sizeof err) < 0 || vault_open(dir, err, sizeof err) < 0) {
		fprintf(stderr, "bench_vault: %s\n", err);
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void read_budget(void)
{
	const char *s = getenv("BENCH_SECONDS");
	char *end;
	double v = s ? strtod(s, &end) : 0;

	if (s && *s && !*end && v > 0 && v <= 60)
		budget = v;
}

int main(void)
{
	char dir[] = "/tmp/gh-bench-XXXXXX";
	int opened, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOG_WARN);
	read_budget();
	if (sodium_init() < 0 || !mkdtemp(dir)) {
		perror("bench_vault: set-up");
		return 1;
	}
	opened = store_open(dir) == 0;
	if (opened && (rc = vault_person_key_create(TENANT, PERSON)) != VAULT_OK) {
		failed("person key", rc);
		opened = 0;
	}
	if (opened) {
		bench_fields(64, "64 B");
		bench_fields(16 * 1024, "16 KiB");
		bench_blind_index();
		bench_secrets();
	}
	vault_close();
	db_close();
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_vault: cannot remove %s\n", dir);
	return opened && !failures ? 0 : 1;
}
