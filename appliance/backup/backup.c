#include "backup.h"

#include "snapshot.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/migrate.h"
#include "core/state.h"
#include "core/vault.h"
#include "core/version.h"
#include "domain/alerts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK (1u << 20)
#define HASH_BYTES 32

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopped(const struct backup_hooks *h)
{
	return h && h->stop && h->stop(h->arg);
}

static void progress(const struct backup_hooks *h, double f)
{
	if (h && h->progress)
		h->progress(h->arg, f);
}

static int appliance_id(char hex[33])
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM meta WHERE key = 'appliance_id'");
	int ok = 0;

	hex[0] = '\0';
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		ok = v && strlen(v) == 32 && strspn(v, "0123456789abcdef") == 32;
		if (ok)
			memcpy(hex, v, 33);
	}
	if (st)
		sqlite3_reset(st);
	return ok ? 0 : -1;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* --- names ---------------------------------------------------------------------- */

int backup_name_parse(const char *name, char id[33], int *kind, int64_t *created)
{
	char k[8], t[17];
	struct tm tm;
	int n = 0, seq;
	size_t len = strlen(name);

	if (len < 20 || len >= BACKUP_NAME_MAX || strncmp(name, "gatehouse-", 10) != 0 ||
	    strcmp(name + len - 4, ".ghb") != 0)
		return -1;
	if (sscanf(name, "gatehouse-%32[0-9a-f]-%6[a-z]-%16[0-9TZ]%n", id, k, t, &n) != 3 || strlen(id) != 32 ||
	    strlen(t) != 16)
		return -1;
	if (strcmp(name + n, ".ghb") != 0 && (sscanf(name + n, "-%d.ghb", &seq) != 1 || seq < 1))
		return -1;
	*kind = strcmp(k, "full") == 0 ? BFILE_FULL : strcmp(k, "events") == 0 ? BFILE_EVENTS : 0;
	memset(&tm, 0, sizeof tm);
	if (!*kind || !strptime(t, "%Y%m%dT%H%M%SZ", &tm))
		return -1;
	*created = (int64_t)timegm(&tm);
	return 0;
}

static void make_name(char *out, size_t len, const char *id, int kind, int64_t t, int seq)
{
	char when[24];
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
	if (seq)
		snprintf(out, len, "gatehouse-%s-%s-%s-%d.ghb", id, bfile_kind_name(kind), when, seq);
	else
		snprintf(out, len, "gatehouse-%s-%s-%s.ghb", id, bfile_kind_name(kind), when);
}

/* --- destinations and leftovers ---------------------------------------------------- */

int backup_destinations(char dirs[][4096], int max, char *err, size_t errlen)
{
	const char *p = cfg_str(CFG_BACKUP_DESTINATIONS);
	int n = 1;

	if (state_mkdir("backups", err, errlen) < 0 || state_mkdir("backups/.work", err, errlen) < 0)
		return -1;
	state_path("backups", dirs[0], 4096);
	while (*p) {
		size_t l = strcspn(p, ",");
		const char *s = p, *e = p + l;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			if (n == max || *s != '/' || (size_t)(e - s) >= 4000) {
				snprintf(err, errlen, "backup.destinations: '%.*s' is not an absolute path, or too many",
					 (int)(e - s), s);
				return -1;
			}
			snprintf(dirs[n++], 4096, "%.*s", (int)(e - s), s);
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return n;
}

/* A usable destination: an existing directory we may write into. Never
 * created here: a missing mount point must not become a directory on the
 * root file system. */
static int dest_usable(const char *dir, char *why, size_t len)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		snprintf(why, len, "%s", strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "not a directory");
		return 0;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(why, len, "not writable: %s", strerror(errno));
		return 0;
	}
	return 1;
}

void backup_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4400];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

int backup_workdir(const char *purpose, char *out, size_t len, char *err, size_t errlen)
{
	char base[4200];

	if (state_mkdir("backups", err, errlen) < 0 || state_mkdir("backups/.work", err, errlen) < 0)
		return -1;
	snprintf(out, len, "%s/%s-%d-XXXXXX", state_path("backups/.work", base, sizeof base), purpose, (int)getpid());
	if (!mkdtemp(out)) {
		snprintf(err, errlen, "cannot create a working directory in %s: %s", base, strerror(errno));
		return -1;
	}
	return 0;
}

/* What a killed run left: partial files of this appliance in each usable
 * destination, and working directories of dead processes. One backup runs
 * at a time (the job is claimed in the database), so a partial file seen
 * at the start of a run is nobody's. */
static void clear_leftovers(char dirs[][4096], int n, const char *id)
{
	char prefix[80], p[8400], why[100], work[4200];
	struct dirent *e;
	DIR *d;

	snprintf(prefix, sizeof prefix, ".partial-gatehouse-%s-", id);
	for (int i = 0; i < n; i++) {
		if (!dest_usable(dirs[i], why, sizeof why) || !(d = opendir(dirs[i])))
			continue;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
				snprintf(p, sizeof p, "%s/%s", dirs[i], e->d_name);
				if (unlink(p) == 0)
					log_notice("backup: removed %s, left by an interrupted backup", p);
			}
		closedir(d);
	}
	if (!(d = opendir(state_path("backups/.work", work, sizeof work))))
		return;
	while ((e = readdir(d))) {
		const char *dash = strchr(e->d_name, '-');
		long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			snprintf(p, sizeof p, "%s/%s", work, e->d_name);
			backup_rmdir(p);
		}
	}
	closedir(d);
}

static void raise_failed(int kind, const char *dest, const char *reason)
{
	char subject[700];
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "kind", bfile_kind_name(kind));
	cJSON_AddStringToObject(d, "destination", dest);
	cJSON_AddStringToObject(d, "reason", reason);
	snprintf(subject, sizeof subject, "Backup (%s) to %s failed: %s", bfile_kind_name(kind), dest, reason);
	alert_raise("backup.failed", "critical", 0, subject, d);
	cJSON_Delete(d);
}

/* --- writing a file ------------------------------------------------------------------ */

struct fout {
	int fd;
	crypto_generichash_state hash;
};

static int fout_write(void *arg, const void *p, size_t n)
{
	struct fout *o = arg;

	crypto_generichash_update(&o->hash, p, n);
	return write_all(o->fd, p, n);
}

static int feed_db(struct bfile_writer *w, const struct snapshot *s, int i, const struct backup_hooks *hk,
		   unsigned char *buf, uint64_t *done, uint64_t total, char *err, size_t errlen)
{
	int fd = open(s->path[i], O_RDONLY | O_CLOEXEC);
	uint64_t left = s->size[i];

	if (fd < 0 || bfile_db_begin(w, s->name[i], s->size[i]) < 0) {
		snprintf(err, errlen, "%s", fd < 0 ? strerror(errno) : bfile_writer_error(w));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (left > 0) {
		ssize_t n = read(fd, buf, left < IO_CHUNK ? (size_t)left : IO_CHUNK);
		if (n <= 0 || bfile_db_data(w, buf, (size_t)n) < 0) {
			snprintf(err, errlen, "%s", n <= 0 ? "the snapshot changed size while being read" : bfile_writer_error(w));
			close(fd);
			return -1;
		}
		left -= (uint64_t)n;
		*done += (uint64_t)n;
		progress(hk, 0.25 + 0.3 * (double)*done / (double)(total ? total : 1));
		if (stopped(hk)) {
			close(fd);
			return 1;
		}
	}
	close(fd);
	return bfile_db_end(w) < 0 ? (snprintf(err, errlen, "%s", bfile_writer_error(w)), -1) : 0;
}

/* Header, manifest, both databases, final record and trailer into fd. */
static int write_backup(struct fout *o, int kind, int64_t created, const char *id, const struct snapshot *s,
			const struct backup_hooks *hk, char *err, size_t errlen)
{
	struct bfile_header h = {.kind = kind, .created_at = created};
	struct bfile_manifest m = {.ndb = s->ndb};
	struct bfile_out out = {fout_write, o};
	unsigned char *key = sodium_malloc(32), ad[BFILE_HEADER_BYTES], *buf = malloc(IO_CHUNK);
	struct bfile_writer *w = NULL;
	uint64_t done = 0;
	size_t binlen;
	int rc = -1;

	if (!key || !buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	sodium_hex2bin(h.appliance_id, 16, id, 32, NULL, &binlen, NULL);
	h.schema_version = (uint32_t)migrate_current(db_get());
	if (!s->has_recovery_pk || vault_backup_ids(h.master_id, NULL) != VAULT_OK) {
		snprintf(err, errlen, "the vault has no recovery key or master key for the backup");
		goto out;
	}
	vault_recovery_pk_fingerprint(s->recovery_pk, h.recovery_fp);
	randombytes_buf(key, 32);
	bfile_header_encode(&h, ad);
	if (vault_file_key_protect(key, s->recovery_pk, ad, BFILE_WRAP_AD_BYTES, h.wrapped_key, h.sealed_key) !=
	    VAULT_OK) {
		snprintf(err, errlen, "cannot protect the backup's key");
		goto out;
	}
	if (!(w = bfile_writer_new(&out, &h, key, (int)cfg_int(CFG_BACKUP_COMPRESSION_LEVEL), err, errlen)))
		goto out;
	snprintf(m.program, sizeof m.program, "gatehouse %s", GH_VERSION);
	for (int i = 0; i < s->ndb; i++) {
		snprintf(m.db[i], sizeof m.db[i], "%s", s->name[i]);
		m.size[i] = s->size[i];
	}
	if (bfile_write_manifest(w, &m) < 0) {
		snprintf(err, errlen, "%s", bfile_writer_error(w));
		goto out;
	}
	for (int i = 0; i < s->ndb; i++)
		if ((rc = feed_db(w, s, i, hk, buf, &done, s->size[0] + s->size[1], err, errlen)) != 0)
			goto out;
	rc = bfile_write_final(w, &s->counts) < 0 ? -1 : 0;
	if (rc < 0)
		snprintf(err, errlen, "%s", bfile_writer_error(w));
out:
	bfile_writer_free(w);
	if (key)
		sodium_free(key);
	free(buf);
	return rc;
}

/* --- reading and checking a file -------------------------------------------------------- */

static ssize_t fd_read(void *arg, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(*(int *)arg, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int backup_file_key(const struct bfile_header *h, const unsigned char raw[BFILE_HEADER_BYTES],
		    const struct vault_unlock *u, unsigned char key[32], char *err, size_t errlen)
{
	unsigned char id[VAULT_ID_BYTES], fp[VAULT_ID_BYTES];
	char a[20], b[20];

	if (u && u->recovery_sk) {
		vault_recovery_fingerprint(u->recovery_sk, fp);
		if (memcmp(fp, h->recovery_fp, VAULT_ID_BYTES) != 0) {
			vault_id_text(fp, a);
			vault_id_text(h->recovery_fp, b);
			snprintf(err, errlen, "this backup is sealed to recovery key %s, not to the one given (%s)", b, a);
			return -1;
		}
		if (vault_file_key_unseal(u->recovery_sk, h->sealed_key, key) != 0) {
			snprintf(err, errlen, "the backup's key cannot be unsealed with the recovery key: the header was altered");
			return -1;
		}
		return 0;
	}
	if (u && u->master)
		vault_master_id_of(u->master, id);
	else if (vault_backup_ids(id, fp) != VAULT_OK) {
		snprintf(err, errlen, "no master key to open the backup with");
		return -1;
	}
	if (memcmp(id, h->master_id, VAULT_ID_BYTES) != 0) {
		vault_id_text(h->master_id, a);
		vault_id_text(id, b);
		snprintf(err, errlen,
			 "this backup was made under master key %s, and the key at hand is %s (another appliance's, or "
			 "from before 'keys rewrap-master'): give --master-key FILE or --recovery-key FILE", a, b);
		return -1;
	}
	if (vault_file_key_unwrap(u ? u->master : NULL, h->wrapped_key, raw, BFILE_WRAP_AD_BYTES, key) != 0) {
		snprintf(err, errlen, "the backup's key cannot be unwrapped: the header was altered");
		return -1;
	}
	return 0;
}

/* Databases of a backup into files of a directory. */
struct stopper;

struct xsink {
	char dir[4096];
	char path[4200];
	int fd, sync;
	char err[300];
	const struct stopper *stopper;
};

static int xs_begin(void *arg, const char *name, uint64_t size)
{
	struct xsink *x = arg;

	(void)size;
	if (strcmp(name, "gatehouse.db") && strcmp(name, "keystore.db") && strcmp(name, "events.db")) {
		snprintf(x->err, sizeof x->err, "the backup holds an unexpected database '%s'", name);
		return -1;
	}
	snprintf(x->path, sizeof x->path, "%s/%s", x->dir, name);
	x->fd = open(x->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (x->fd < 0)
		snprintf(x->err, sizeof x->err, "cannot create %s: %s", x->path, strerror(errno));
	return x->fd < 0 ? -1 : 0;
}

static int xs_data(void *arg, const void *p, size_t n)
{
	struct xsink *x = arg;

	if (write_all(x->fd, p, n) < 0) {
		snprintf(x->err, sizeof x->err, "cannot write %s: %s", x->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int xs_end(void *arg)
{
	struct xsink *x = arg;
	int rc = x->sync ? fsync(x->fd) : 0;

	if (rc < 0)
		snprintf(x->err, sizeof x->err, "cannot sync %s: %s", x->path, strerror(errno));
	close(x->fd);
	x->fd = -1;
	return rc;
}

/* Counts of the files against the final record, table by table. */
static int compare_counts(const struct bfile_counts *want, const struct bfile_counts *got, char *err, size_t errlen)
{
	if (want->n != got->n) {
		snprintf(err, errlen, "the restored databases hold %d tables, the backup recorded %d", got->n, want->n);
		return -1;
	}
	for (int i = 0; i < want->n; i++) {
		int found = 0;
		for (int j = 0; j < got->n && !found; j++)
			if (got->item[j].db == want->item[i].db && strcmp(got->item[j].table, want->item[i].table) == 0) {
				found = 1;
				if (got->item[j].rows != want->item[i].rows) {
					snprintf(err, errlen, "table %s: %lld rows restored, %lld recorded", want->item[i].table,
						 got->item[j].rows, want->item[i].rows);
					return -1;
				}
			}
		if (!found) {
			snprintf(err, errlen, "table %s is recorded but not restored", want->item[i].table);
			return -1;
		}
	}
	return 0;
}

struct stopper {
	int (*stop)(void *arg);
	void *arg;
};

static int xs_stop(void *arg)
{
	struct xsink *x = arg;
	const struct stopper *s = x->stopper;

	return s && s->stop && s->stop(s->arg);
}

static int extract(const char *path, const struct vault_unlock *unlock, const char *dir, int sync,
		   const struct stopper *stop, struct backup_check *c, char *err, size_t errlen)
{
	unsigned char raw[BFILE_HEADER_BYTES], *key = sodium_malloc(32);
	struct xsink x = {.fd = -1, .sync = sync, .stopper = stop};
	struct bfile_sink sink = {xs_begin, xs_data, xs_end, xs_stop, &x, x.err, sizeof x.err};
	struct bfile_counts *got = malloc(sizeof *got);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	struct bfile_in in = {fd_read, &fd};

	memset(c, 0, sizeof *c);
	c->erased_since = -1;
	snprintf(x.dir, sizeof x.dir, "%s", dir);
	if (!key || !got) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	c->size = (uint64_t)st.st_size;
	/* Read what is on the disk, not what the page cache remembers. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (bfile_read_header(&in, raw, &c->h, err, errlen) < 0 || backup_file_key(&c->h, raw, unlock, key, err, errlen) < 0)
		goto out;
	sodium_bin2hex(c->appliance, sizeof c->appliance, c->h.appliance_id, 16);
	if (bfile_read_stream(&in, raw, key, &sink, 0, &c->m, &c->counts, err, errlen) < 0)
		goto out;
	got->n = 0;
	for (int i = 0; i < c->m.ndb; i++) {
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", dir, c->m.db[i]);
		if (snapshot_check_file(p, i, got, err, errlen) < 0)
			goto out;
	}
	rc = compare_counts(&c->counts, got, err, errlen);
out:
	if (x.fd >= 0)
		close(x.fd);
	if (fd >= 0)
		close(fd);
	if (key)
		sodium_free(key);
	free(got);
	return rc;
}

int backup_extract(const char *path, const struct vault_unlock *unlock, const char *dir, struct backup_check *c,
		   char *err, size_t errlen)
{
	return extract(path, unlock, dir, 1, NULL, c, err, errlen);
}

int backup_verify(const char *path, const struct backup_open *o, struct backup_check *c, char *err, size_t errlen)
{
	char work[4200], sub[4300];
	int rc, own = !o || !o->workdir;

	if (own && backup_workdir("verify", work, sizeof work, err, errlen) < 0)
		return -1;
	snprintf(sub, sizeof sub, "%s/check", own ? work : o->workdir);
	if (mkdir(sub, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
		if (own)
			backup_rmdir(work);
		return -1;
	}
	struct stopper st = {o ? o->stop : NULL, o ? o->arg : NULL};

	rc = extract(path, o ? o->unlock : NULL, sub, 0, &st, c, err, errlen);
	backup_rmdir(sub);
	if (own)
		backup_rmdir(work);
	if (rc == 0 && (!o || !o->unlock))
		c->erased_since = vault_erasures_since(c->h.created_at);
	return rc;
}

/* --- list, find, prune -------------------------------------------------------------------- */

/* The cheap check of a listing: header authenticated by the first record,
 * trailer in place. */
static void quick_check(const char *path, struct backup_entry *e)
{
	unsigned char raw[BFILE_HEADER_BYTES], t[BFILE_TRAILER_BYTES], key[32];
	struct bfile_header h;
	struct bfile_manifest m;
	struct bfile_counts *c = malloc(sizeof *c);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct bfile_in in = {fd_read, &fd};

	e->ok = 0;
	if (!c || fd < 0 || fstat(fd, &st) < 0) {
		snprintf(e->problem, sizeof e->problem, "cannot read: %s", strerror(errno));
		goto out;
	}
	e->size = (uint64_t)st.st_size;
	if (bfile_read_header(&in, raw, &h, e->problem, sizeof e->problem) < 0)
		goto out;
	e->kind = h.kind;
	e->created_at = h.created_at;
	if (pread(fd, t, sizeof t, st.st_size - (off_t)sizeof t) != (ssize_t)sizeof t ||
	    !bfile_trailer_ok(t, (uint64_t)st.st_size)) {
		snprintf(e->problem, sizeof e->problem, "incomplete: the file is cut short or damaged at its end");
		goto out;
	}
	if (backup_file_key(&h, raw, NULL, key, e->problem, sizeof e->problem) < 0 ||
	    bfile_read_stream(&in, raw, key, NULL, 1, &m, c, e->problem, sizeof e->problem) < 0)
		goto out;
	e->raw_size = 0;
	for (int i = 0; i < m.ndb; i++)
		e->raw_size += m.size[i];
	e->ok = 1;
out:
	sodium_memzero(key, sizeof key);
	free(c);
	if (fd >= 0)
		close(fd);
}

static int cmp_newest(const void *a, const void *b)
{
	const struct backup_entry *x = a, *y = b;

	if (x->created_at != y->created_at)
		return x->created_at < y->created_at ? 1 : -1;
	return strcmp(y->name, x->name);
}

/* This appliance's backups in one directory. */
static int scan_dir(const char *dir, const char *id, struct backup_entry **list, size_t *n, size_t *cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char fid[33], path[4400];
		int kind;
		int64_t created;
		if (backup_name_parse(e->d_name, fid, &kind, &created) < 0 || strcmp(fid, id) != 0)
			continue;
		if (*n == *cap) {
			void *bigger = realloc(*list, (*cap = *cap ? *cap * 2 : 32) * sizeof **list);
			if (!bigger)
				break;
			*list = bigger;
		}
		struct backup_entry *b = &(*list)[(*n)++];
		memset(b, 0, sizeof *b);
		snprintf(b->dir, sizeof b->dir, "%s", dir);
		snprintf(b->name, sizeof b->name, "%s", e->d_name);
		b->kind = kind;
		b->created_at = created;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		quick_check(path, b);
		/* The name is what prunes and lists by: it must tell the truth. */
		if (b->ok && (b->created_at != created || b->kind != kind)) {
			b->ok = 0;
			snprintf(b->problem, sizeof b->problem, "its name does not match its header (renamed?)");
		}
		b->erased_since = vault_erasures_since(b->created_at);
	}
	closedir(d);
	return 0;
}

int backup_list(struct backup_entry **list, size_t *n, char *err, size_t errlen)
{
	char dirs[BACKUP_MAX_DESTS][4096], id[33], why[100];
	size_t cap = 0;
	int nd;

	*list = NULL;
	*n = 0;
	if (appliance_id(id) < 0) {
		snprintf(err, errlen, "the database has no appliance id");
		return -1;
	}
	if ((nd = backup_destinations(dirs, BACKUP_MAX_DESTS, err, errlen)) < 0)
		return -1;
	for (int i = 0; i < nd; i++)
		if (dest_usable(dirs[i], why, sizeof why))
			scan_dir(dirs[i], id, list, n, &cap);
	if (*n > 1)
		qsort(*list, *n, sizeof **list, cmp_newest);
	return 0;
}

int backup_find(const char *name, char *path, size_t len)
{
	char dirs[BACKUP_MAX_DESTS][4096], id[33], fid[33], err[200];
	int kind, nd;
	int64_t created;

	if (backup_name_parse(name, fid, &kind, &created) < 0 || appliance_id(id) < 0 || strcmp(id, fid) != 0)
		return -1;
	if ((nd = backup_destinations(dirs, BACKUP_MAX_DESTS, err, sizeof err)) < 0)
		return -1;
	for (int i = 0; i < nd; i++) {
		snprintf(path, len, "%s/%s", dirs[i], name);
		if (access(path, R_OK) == 0)
			return 0;
	}
	return -1;
}

int backup_prune(const char *dir, long long retention_s, char *err, size_t errlen)
{
	struct backup_entry *list = NULL;
	size_t n = 0, cap = 0;
	char id[33], path[4400];
	int deleted = 0, kept_full = 0, kept_events = 0;
	long long cutoff = (long long)time(NULL) - retention_s;

	if (appliance_id(id) < 0 || scan_dir(dir, id, &list, &n, &cap) < 0) {
		snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
		free(list);
		return -1;
	}
	if (n > 1)
		qsort(list, n, sizeof *list, cmp_newest);
	for (size_t i = 0; i < n; i++) {
		int *kept = list[i].kind == BFILE_FULL ? &kept_full : &kept_events;
		/* The newest complete one of each kind stays, however old. */
		if (list[i].ok && !*kept) {
			*kept = 1;
			continue;
		}
		if (list[i].created_at >= cutoff)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, list[i].name);
		if (unlink(path) == 0) {
			log_notice("backup: deleted %s (older than backup.retention)", path);
			deleted++;
		}
	}
	free(list);
	if (deleted)
		fsync_dir(dir);
	return deleted;
}

/* --- making one ------------------------------------------------------------------------------ */

/* Rename without replacing: a second backup in the same second gets -N. */
static int publish(const char *dir, const char *partial, char *name, size_t namelen, const char *id, int kind,
		   int64_t created, char *err, size_t errlen)
{
	char final[4400];

	for (int seq = 0; seq < 100; seq++) {
		make_name(name, namelen, id, kind, created, seq);
		snprintf(final, sizeof final, "%s/%s", dir, name);
		if (renameat2(AT_FDCWD, partial, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
			return fsync_dir(dir) < 0 ? (snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno)), -1) : 0;
		if (errno == EINVAL && access(final, F_OK) != 0) {
			/* A file system without RENAME_NOREPLACE; one backup runs at a time. */
			if (rename(partial, final) == 0)
				return fsync_dir(dir);
		}
		if (errno != EEXIST && errno != EINVAL)
			break;
	}
	snprintf(err, errlen, "cannot rename %s: %s", partial, strerror(errno));
	return -1;
}

static int hash_file(int fd, unsigned char out[HASH_BYTES], unsigned char *buf)
{
	crypto_generichash_state h;
	ssize_t n;

	crypto_generichash_init(&h, NULL, 0, HASH_BYTES);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((n = read(fd, buf, IO_CHUNK)) > 0)
		crypto_generichash_update(&h, buf, (size_t)n);
	crypto_generichash_final(&h, out, HASH_BYTES);
	return n < 0 ? -1 : 0;
}

/* A verified file into another destination: temporary name, fsync, read
 * back from the disk and compared with the verified file, rename. */
static int copy_to(const char *src, const char *dir, const char *name, const unsigned char want[HASH_BYTES],
		   const char *id, int kind, int64_t created, char *err, size_t errlen)
{
	char partial[4400], final_name[BACKUP_NAME_MAX];
	unsigned char got[HASH_BYTES], *buf = malloc(IO_CHUNK);
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;

	snprintf(partial, sizeof partial, "%s/.partial-%s", dir, name);
	if (!buf || in < 0) {
		snprintf(err, errlen, "cannot read %s: %s", src, strerror(errno));
		goto out;
	}
	out = open(partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, errlen, "cannot create %s: %s", partial, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, IO_CHUNK)) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			break;
	if (n != 0 || fsync(out) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", partial, strerror(errno));
		goto out;
	}
	posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
	if (hash_file(out, got, buf) < 0 || sodium_memcmp(got, want, HASH_BYTES) != 0) {
		snprintf(err, errlen, "the copy in %s does not read back as written", dir);
		goto out;
	}
	close(out);
	out = -1;
	rc = publish(dir, partial, final_name, sizeof final_name, id, kind, created, err, errlen);
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (rc < 0)
		unlink(partial);
	free(buf);
	return rc;
}

static int snapshot_stop(void *arg)
{
	return stopped(arg);
}

/* Steps 1-4 in the primary destination: snapshot, write, verify, rename.
 * 0, 1 stopped, -1 with err. */
static int make_primary(int kind, const char *dir, const char *id, int64_t created, const struct backup_hooks *hk,
			struct backup_report *rep, unsigned char hash[HASH_BYTES], char *path, size_t pathlen,
			char *err, size_t errlen)
{
	char work[4200], partial[4400];
	struct snapshot *s = malloc(sizeof *s);
	struct snapshot_hooks sh = {snapshot_stop, (void *)hk};
	struct backup_open o = {NULL, work, snapshot_stop, (void *)hk};
	struct backup_check *c = malloc(sizeof *c);
	struct fout fo = {.fd = -1};
	long long t0 = now_ms();
	int rc = -1;

	partial[0] = '\0';
	if (!s || !c) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (backup_workdir("job", work, sizeof work, err, errlen) < 0)
		goto out;
	if ((rc = snapshot_take(kind, work, &sh, s, err, errlen)) != 0)
		goto clean;
	rep->snapshot_ms = now_ms() - t0;
	rep->raw_bytes = s->size[0] + s->size[1];
	for (int i = 0; i < s->counts.n; i++)
		rep->rows += s->counts.item[i].rows;
	progress(hk, 0.25);
	make_name(rep->name, sizeof rep->name, id, kind, created, 0);
	snprintf(partial, sizeof partial, "%s/.partial-%s", dir, rep->name);
	t0 = now_ms();
	fo.fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	crypto_generichash_init(&fo.hash, NULL, 0, HASH_BYTES);
	rc = -1;
	if (fo.fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", partial, strerror(errno));
		goto clean;
	}
	if ((rc = write_backup(&fo, kind, created, id, s, hk, err, errlen)) != 0)
		goto clean;
	rc = -1;
	if (fsync(fo.fd) < 0 || close(fo.fd) < 0) {
		fo.fd = -1;
		snprintf(err, errlen, "cannot sync %s: %s", partial, strerror(errno));
		goto clean;
	}
	fo.fd = -1;
	crypto_generichash_final(&fo.hash, hash, HASH_BYTES);
	rep->write_ms = now_ms() - t0;
	progress(hk, 0.55);
	/* The snapshot goes before the check, so the disk holds one copy. */
	unlink(s->path[0]);
	unlink(s->path[1]);
	t0 = now_ms();
	if (backup_verify(partial, &o, c, err, errlen) < 0) {
		char why[400];
		if (stopped(hk)) {
			rc = 1;
			goto clean;
		}
		snprintf(why, sizeof why, "verification failed: %s", err);
		snprintf(err, errlen, "%s", why);
		goto clean;
	}
	if (compare_counts(&s->counts, &c->counts, err, errlen) < 0)
		goto clean;
	rep->verify_ms = now_ms() - t0;
	rep->bytes = c->size;
	progress(hk, 0.85);
	if (publish(dir, partial, rep->name, sizeof rep->name, id, kind, created, err, errlen) < 0)
		goto clean;
	partial[0] = '\0';
	snprintf(path, pathlen, "%s/%s", dir, rep->name);
	rc = 0;
clean:
	if (fo.fd >= 0)
		close(fo.fd);
	if (partial[0])
		unlink(partial);
	backup_rmdir(work);
out:
	free(s);
	free(c);
	return rc;
}

int backup_make(int kind, const struct backup_hooks *hk, struct backup_report *rep, char *err, size_t errlen)
{
	char (*dirs)[4096] = malloc(BACKUP_MAX_DESTS * sizeof *dirs), id[33], path[4400] = "", why[400];
	unsigned char hash[HASH_BYTES];
	int64_t created = (int64_t)time(NULL);
	int nd = 0, rc = -1;
	size_t at = 0;

	memset(rep, 0, sizeof *rep);
	rep->kind = kind;
	err[0] = '\0';
	if (!dirs || appliance_id(id) < 0 || (nd = backup_destinations(dirs, BACKUP_MAX_DESTS, err, errlen)) < 0) {
		if (!err[0])
			snprintf(err, errlen, "no appliance id or out of memory");
		raise_failed(kind, "configuration", err);
		free(dirs);
		return -1;
	}
	rep->destinations = nd;
	clear_leftovers(dirs, nd, id);
	if (vault_escrow_start(state_dir(), err, errlen) < 0) {
		raise_failed(kind, dirs[0], err);
		free(dirs);
		return -1;
	}
	rc = make_primary(kind, dirs[0], id, created, hk, rep, hash, path, sizeof path, err, errlen);
	if (rc != 0) {
		if (rc < 0) {
			raise_failed(kind, dirs[0], err);
			rep->failed = nd;
		}
		free(dirs);
		return rc;
	}
	/* Copies: every destination is tried; each failure is its own alert. */
	for (int i = 1; i < nd; i++) {
		char e[400] = "";
		if (!dest_usable(dirs[i], why, sizeof why))
			snprintf(e, sizeof e, "destination %s is missing or unusable: %s", dirs[i], why);
		else if (copy_to(path, dirs[i], rep->name, hash, id, kind, created, e, sizeof e) == 0) {
			progress(hk, 0.85 + 0.1 * i / nd);
			continue;
		}
		raise_failed(kind, dirs[i], e);
		rep->failed++;
		at += (size_t)snprintf(err + at, at < errlen ? errlen - at : 0, "%s%s", at ? "; " : "", e);
		if (at >= errlen)
			at = errlen - 1;
	}
	for (int i = 0; i < nd; i++) {
		char e[300];
		int n = dest_usable(dirs[i], why, sizeof why) ? backup_prune(dirs[i], cfg_int(CFG_BACKUP_RETENTION) / 1000,
									      e, sizeof e) : 0;
		if (n > 0)
			rep->pruned += n;
	}
	progress(hk, 1);
	log_notice("backup: %s written and verified (%llu bytes from %llu), %d of %d destinations", rep->name,
		   (unsigned long long)rep->bytes, (unsigned long long)rep->raw_bytes, nd - rep->failed, nd);
	free(dirs);
	return rep->failed ? -1 : 0;
}
