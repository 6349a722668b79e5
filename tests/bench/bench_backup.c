/* bench-backup: backup and restore throughput on a database of about
 * BENCH_BACKUP_MB megabytes (default 1024), and the same work done plainly
 * in the same run: sqlite3_backup of the database to a file plus zlib level
 * 1 of that file (backup), and zlib inflate of it into a file (restore).
 *
 * The database is the appliance's own schema on a fresh state directory
 * (/tmp/gh-bench-backup-XXXXXX, removed at the end) with its events table
 * filled: 120 random bytes of "details" per row (sealed values look
 * random), plain columns and the real indexes, so the mix compresses like
 * a real appliance's. Figures (tests/bench/README.md):
 *   backup-full                MB/s of database, whole job (snapshot, write, read back and verify)
 *     snapshot / write / verify  the job's phases
 *   backup without verification  snapshot + write, against the plain pipeline
 *   restore --to (master key)  MB/s of database: decrypt, inflate, integrity_check, counts, fsync
 * Ratios are against the plain figures of the same run. */
#include "backup/backup.h"
#include "backup/restore.h"
#include "core/config.h"
#include "core/db.h"
#include "core/masterkey.h"
#include "core/state.h"
#include "core/vault.h"

#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *name, double figure, const char *unit, const char *ratio)
{
	printf("%s\t%.1f\t%s\t%s\n", name, figure, unit, ratio ? ratio : "");
	fflush(stdout);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static uint64_t fsize(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Events until the database holds about mb megabytes. */
static int fill(long mb)
{
	sqlite3 *db = db_get();
	long rows = mb * 1024L * 1024L / 290, done = 0;
	sqlite3_stmt *st;

	if (db_exec(db, "INSERT INTO devices (tenant_id, uid, name, status, created_at, updated_at) "
			"VALUES (1, 'bench-terminal', 'bench', 'active', 0, 0)") != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2) "
				   "INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id, person_id, "
				   "credential_id, result, reason, details) SELECT 1, 1, i, 1767225600000 + i * 1000, "
				   "1767225600000 + i * 1000 + 50, 'access', 1 + i % 40, 1 + (i * 7919) % 100000, "
				   "1 + (i * 7919) % 100000, CASE WHEN i % 5 THEN 'granted' ELSE 'denied' END, "
				   "CASE WHEN i % 5 THEN 'granted' ELSE 'no_access_level' END, randomblob(120) FROM n",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (done < rows) {
		long batch = rows - done < 200000 ? rows - done : 200000;
		if (db_begin() < 0)
			return -1;
		sqlite3_bind_int64(st, 1, done + 1);
		sqlite3_bind_int64(st, 2, done + batch);
		if (sqlite3_step(st) != SQLITE_DONE || db_commit() < 0) {
			fprintf(stderr, "bench_backup: fill: %s\n", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_reset(st);
		done += batch;
	}
	sqlite3_finalize(st);
	sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	return 0;
}

/* The plain pipeline: sqlite3_backup to a file, then zlib level 1 of it. */
static int plain_backup(const char *dir, double *t_backup, double *t_zlib, uint64_t *zbytes)
{
	char copy[600], z[600], ks[600];
	sqlite3 *dest = NULL, *src = NULL;
	sqlite3_backup *b;
	double t0 = now();
	int rc = -1;

	snprintf(copy, sizeof copy, "%s/plain.db", dir);
	snprintf(z, sizeof z, "%s/plain.db.z", dir);
	state_path("keys/keystore.db", ks, sizeof ks);
	(void)ks;
	if (sqlite3_open(db_path(), &src) != SQLITE_OK || sqlite3_open(copy, &dest) != SQLITE_OK)
		goto out;
	if (!(b = sqlite3_backup_init(dest, "main", src, "main")))
		goto out;
	while ((rc = sqlite3_backup_step(b, 2048)) == SQLITE_OK)
		;
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_close(dest);
	dest = NULL;
	*t_backup = now() - t0;
	t0 = now();
	{
		FILE *in = fopen(copy, "rb");
		gzFile out = gzopen(z, "wb1");
		unsigned char *buf = malloc(1 << 20);
		size_t n;
		rc = -1;
		if (in && out && buf) {
			while ((n = fread(buf, 1, 1 << 20, in)) > 0)
				if (gzwrite(out, buf, (unsigned)n) != (int)n)
					break;
			rc = ferror(in) ? -1 : 0;
		}
		if (in)
			fclose(in);
		if (out && gzclose(out) != Z_OK)
			rc = -1;
		free(buf);
	}
	*t_zlib = now() - t0;
	*zbytes = fsize(z);
out:
	sqlite3_close(dest);
	sqlite3_close(src);
	return rc;
}

/* The plain restore: inflate the level-1 file into a database file. */
static double plain_restore(const char *dir)
{
	char z[600], out[600];
	gzFile in;
	FILE *f;
	unsigned char *buf = malloc(1 << 20);
	double t0 = now();
	int n;

	snprintf(z, sizeof z, "%s/plain.db.z", dir);
	snprintf(out, sizeof out, "%s/plain-restored.db", dir);
	in = gzopen(z, "rb");
	f = fopen(out, "wb");
	if (!in || !f || !buf)
		return -1;
	while ((n = gzread(in, buf, 1 << 20)) > 0)
		fwrite(buf, 1, (size_t)n, f);
	gzclose(in);
	fflush(f);
	fsync(fileno(f));
	fclose(f);
	free(buf);
	return now() - t0;
}

static int run_backup(int level, struct backup_report *rep, double *t)
{
	char set[64], err[600];
	double t0;

	snprintf(set, sizeof set, "backup.compression_level=%d", level);
	config_set(config_global, set, err, sizeof err);
	t0 = now();
	if (backup_make(BFILE_FULL, NULL, rep, err, sizeof err) != 0) {
		fprintf(stderr, "bench_backup: %s\n", err);
		return -1;
	}
	*t = now() - t0;
	return 0;
}

int main(void)
{
	char dir[64] = "/tmp/gh-bench-backup-XXXXXX", state[200], err[700], db[300], ks[300], path[600], ratio[120];
	long mb = getenv("BENCH_BACKUP_MB") ? atol(getenv("BENCH_BACKUP_MB")) : 1024;
	struct config cfg;
	struct backup_report r1, r6;
	struct backup_entry *list;
	size_t n;
	double t1, t6, tb = 0, tz = 0, tpr, tr, mbytes;
	uint64_t zbytes = 0;
	int rc = 1, restored = 0;

	if (mb < 1 || sodium_init() < 0 || !mkdtemp(dir) || config_init(&cfg) < 0)
		return 1;
	config_global = &cfg;
	snprintf(state, sizeof state, "%s/state", dir);
	snprintf(db, sizeof db, "%s/gatehouse.db", state);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", state);
	if (state_open(state, err, sizeof err) < 0 || state_mkdir("keys", err, sizeof err) < 0 ||
	    db_open(db, ks, 5000, err, sizeof err) < 0 || vault_open(state, err, sizeof err) < 0) {
		fprintf(stderr, "bench_backup: %s\n", err);
		goto out;
	}
	fprintf(stderr, "bench_backup: filling %ld MB of events in %s\n", mb, dir);
	if (fill(mb) < 0)
		goto out;
	mbytes = (double)(fsize(db) + fsize(ks)) / 1e6;
	row("backup: database size", mbytes, "MB", NULL);

	if (plain_backup(dir, &tb, &tz, &zbytes) < 0) {
		fprintf(stderr, "bench_backup: plain pipeline failed\n");
		goto out;
	}
	row("plain: sqlite3_backup + zlib level 1", mbytes / (tb + tz), "MB/s", NULL);
	snprintf(ratio, sizeof ratio, "sqlite3_backup %.1f s, zlib %.1f s, %.0f%% of the database", tb, tz,
		 100.0 * (double)zbytes / (mbytes * 1e6));
	row("plain: compressed size", (double)zbytes / 1e6, "MB", ratio);

	if (run_backup(1, &r1, &t1) < 0)
		goto out;
	snprintf(ratio, sizeof ratio, "R of plain %.2f", (mbytes / t1) / (mbytes / (tb + tz)));
	row("backup-full, level 1 (whole job)", mbytes / t1, "MB/s", ratio);
	snprintf(ratio, sizeof ratio, "snapshot %.1f s, write %.1f s, verify %.1f s", r1.snapshot_ms / 1e3,
		 r1.write_ms / 1e3, r1.verify_ms / 1e3);
	row("  phases", t1, "s", ratio);
	snprintf(ratio, sizeof ratio, "R of plain %.2f",
		 (tb + tz) / ((double)(r1.snapshot_ms + r1.write_ms) / 1e3));
	row("  snapshot + write (no verification)", mbytes / ((double)(r1.snapshot_ms + r1.write_ms) / 1e3), "MB/s",
	    ratio);
	snprintf(ratio, sizeof ratio, "%.0f%% of the database, %.2fx the plain file", 100.0 * (double)r1.bytes / (mbytes * 1e6),
		 (double)r1.bytes / (double)zbytes);
	row("  file size", (double)r1.bytes / 1e6, "MB", ratio);

	if (run_backup(6, &r6, &t6) < 0)
		goto out;
	snprintf(ratio, sizeof ratio, "R of plain %.2f; file %.1f MB (%.0f%% of level 1's)", (mbytes / t6) / (mbytes / (tb + tz)),
		 (double)r6.bytes / 1e6, 100.0 * (double)r6.bytes / (double)r1.bytes);
	row("backup-full, level 6 (whole job)", mbytes / t6, "MB/s", ratio);

	tpr = plain_restore(dir);
	row("plain: zlib inflate into a file", mbytes / tpr, "MB/s", NULL);
	if (backup_list(&list, &n, err, sizeof err) < 0 || n == 0)
		goto out;
	snprintf(path, sizeof path, "%s/%s", list[n - 1].dir, list[n - 1].name);
	free(list);
	{
		unsigned char *mk = sodium_malloc(32);
		char mkpath[300], to[300];
		struct restore_report *rr = malloc(sizeof *rr);
		snprintf(mkpath, sizeof mkpath, "%s/keys/master.key", state);
		snprintf(to, sizeof to, "%s/restored", dir);
		if (!mk || !rr || masterkey_read(mkpath, mk, err, sizeof err) != 0)
			goto out;
		struct vault_unlock u = {mk, NULL};
		struct restore_opts o = {path, to, &u, NULL, 0};
		vault_close();
		double t0 = now();
		if (restore_full(&o, rr, err, sizeof err) < 0) {
			fprintf(stderr, "bench_backup: restore: %s\n", err);
			goto out;
		}
		tr = now() - t0;
		restored = 1; /* the restore opened and closed the database module itself */
		sodium_free(mk);
		free(rr);
	}
	snprintf(ratio, sizeof ratio, "R of plain %.2f", (mbytes / tr) / (mbytes / tpr));
	row("restore --to, level 1 file (master key)", mbytes / tr, "MB/s", ratio);
	rc = 0;
out:
	if (!restored)
		db_close();
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	config_free(&cfg);
	return rc;
}
