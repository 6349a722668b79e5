#include "restore.h"

#include "core/db.h"
#include "core/log.h"
#include "core/masterkey.h"
#include "core/migrate.h"
#include "core/vault.h"
#include "domain/audit.h"
#include "domain/people.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static ssize_t fd_read(void *arg, void *p, size_t n)
{
	return read(*(int *)arg, p, n);
}

int restore_peek(const char *file, struct bfile_header *h, char *err, size_t errlen)
{
	unsigned char raw[BFILE_HEADER_BYTES];
	int fd = open(file, O_RDONLY | O_CLOEXEC), rc;
	struct bfile_in in = {fd_read, &fd};

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
		return -1;
	}
	rc = bfile_read_header(&in, raw, h, err, errlen);
	close(fd);
	return rc;
}

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* DIR must be new: missing, or an empty directory. */
static int target_free(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot use %s: %s", dir, strerror(errno)), -1);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	if (!empty) {
		snprintf(err, errlen, "%s exists and is not empty: a restore never overwrites; name a new directory", dir);
		return -1;
	}
	return 0;
}

/* The staged state opened like a state directory: the db module and the
 * vault on its files, its own master key (never a systemd credential: the
 * key written into it is the one that must work). */
static int open_staged(const char *dir, char *err, size_t errlen)
{
	char db[4200], ks[4200];

	unsetenv("CREDENTIALS_DIRECTORY");
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (db_open(db, ks, 10000, err, errlen) < 0)
		return -1;
	if (vault_open(dir, err, errlen) < 0) {
		db_close();
		return -1;
	}
	return 0;
}

static void close_staged(void)
{
	vault_close();
	db_close();
}

static int person_row_exists(int64_t tenant, int64_t person)
{
	sqlite3_stmt *st = db_stmt("SELECT 1 FROM people WHERE tenant_id = ? AND id = ?");
	int found;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, person);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

/* Replay one ledger entry: the person's rows go, their key is shredded,
 * the entry is kept with its original time. 1 when something was erased. */
static int replay(const struct vault_erasure *e)
{
	int applied = 0, row = person_row_exists(e->tenant, e->person);

	/* First, so the entry keeps its original time (shredding records now). */
	if (row < 0 || vault_erasure_record(e->tenant, e->person, e->erased_at) < 0)
		return -1;
	if (row) {
		if (person_erase(e->tenant, e->person) < 0 && vault_person_key_exists(e->tenant, e->person) > 0)
			return -1;
		applied = 1;
	} else if (vault_person_key_exists(e->tenant, e->person) > 0) {
		if (vault_person_key_shred(e->tenant, e->person) != VAULT_OK)
			return -1;
		applied = 1;
	}
	return applied;
}

/* Ids are never given again (people use AUTOINCREMENT): an older backup's
 * counter is moved past every id the ledger names, so that a replayed
 * erasure can never hit a person created after the restore. */
static int bump_people_sequence(int64_t max_id)
{
	sqlite3_stmt *st = db_stmt("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'people'");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, max_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Inside the caller's transaction: the ledger in ks (the backup's own)
 * plus the one given, replayed. Returns people erased, or -1. */
static int replay_ledgers(const struct restore_opts *o, char *err, size_t errlen)
{
	struct vault_erasure *list = NULL;
	size_t n = 0;
	int64_t max_id = 0;
	int applied = 0;

	if (vault_erasures_load(db_get(), "ks", &list, &n) < 0) {
		snprintf(err, errlen, "cannot read the restored erasure ledger");
		free(list);
		return -1;
	}
	for (size_t i = 0; i < n + o->nledger; i++) {
		const struct vault_erasure *e = i < n ? &list[i] : &o->ledger[i - n];
		int rc = replay(e);
		if (rc < 0) {
			snprintf(err, errlen, "cannot replay the erasure of person %lld of tenant %lld: %s",
				 (long long)e->person, (long long)e->tenant, sqlite3_errmsg(db_get()));
			free(list);
			return -1;
		}
		applied += rc;
		if (e->person > max_id)
			max_id = e->person;
	}
	free(list);
	if (max_id && bump_people_sequence(max_id) < 0) {
		snprintf(err, errlen, "cannot update the id counter of people");
		return -1;
	}
	return applied;
}

/* Remembered in meta, audited at the service's first start on DIR. */
static int leave_note(const struct restore_opts *o, const struct restore_report *r)
{
	sqlite3_stmt *st = db_stmt("INSERT OR REPLACE INTO meta (key, value) VALUES ('restored_from', ?)");
	cJSON *d = cJSON_CreateObject();
	char *text;
	int rc = -1;

	cJSON_AddStringToObject(d, "file", o->file);
	cJSON_AddNumberToObject(d, "backup_created_at", (double)r->c.h.created_at);
	cJSON_AddNumberToObject(d, "restored_at", (double)time(NULL));
	cJSON_AddStringToObject(d, "key", o->unlock->recovery_sk ? "recovery key" : "master key");
	cJSON_AddNumberToObject(d, "erasures_replayed", r->erasures_applied);
	text = cJSON_PrintUnformatted(d);
	if (st && text) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	cJSON_free(text);
	cJSON_Delete(d);
	return rc;
}

/* The master key of the staged state: the appliance's own, or a new one
 * under which every tenant key is re-wrapped from its escrow copy. */
static int install_master(const char *stage, const struct restore_opts *o, struct restore_report *r, char *err,
			  size_t errlen)
{
	char ks[4200], mkpath[4200];
	unsigned char *mk = sodium_malloc(32);
	sqlite3 *db = NULL;
	int rc = -1;

	snprintf(ks, sizeof ks, "%s/keys/keystore.db", stage);
	snprintf(mkpath, sizeof mkpath, "%s/keys/master.key", stage);
	if (!mk) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (o->unlock->master) {
		memcpy(mk, o->unlock->master, 32);
	} else {
		randombytes_buf(mk, 32);
		if (sqlite3_open_v2(ks, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot open the restored key store: %s", sqlite3_errmsg(db));
			goto out;
		}
		if ((r->keys_rewrapped = vault_keystore_rekey(db, "main", o->unlock, mk, err, errlen)) < 0)
			goto out;
	}
	rc = masterkey_write(mkpath, mk, err, errlen);
out:
	sqlite3_close(db);
	sodium_free(mk);
	return rc;
}

static int finish_staged(const struct restore_opts *o, struct restore_report *r, char *err, size_t errlen)
{
	int n;

	if (db_begin() < 0) {
		snprintf(err, errlen, "the restored database is busy");
		return -1;
	}
	if ((n = replay_ledgers(o, err, errlen)) < 0)
		goto fail;
	r->erasures_applied = n;
	if (leave_note(o, r) < 0 || db_commit() < 0) {
		snprintf(err, errlen, "cannot commit the restored state: %s", sqlite3_errmsg(db_get()));
		goto fail;
	}
	/* secure_delete overwrote the shredded keys in their pages; push those
	 * pages out of the WAL too (db_close checkpoints and truncates). */
	return 0;
fail:
	db_rollback();
	return -1;
}

int restore_full(const struct restore_opts *o, struct restore_report *r, char *err, size_t errlen)
{
	char parent[4200], stage[4300], keys[4400], from[4400], to[4400];
	struct bfile_header h;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (restore_peek(o->file, &h, err, errlen) < 0)
		return -1;
	if (h.kind != BFILE_FULL) {
		snprintf(err, errlen, "%s is an events backup: restore a full backup with --to DIR first, then this one "
				      "with --into DIR", o->file);
		return -1;
	}
	if (target_free(o->dir, err, errlen) < 0)
		return -1;
	snprintf(parent, sizeof parent, "%s", o->dir);
	snprintf(stage, sizeof stage, "%s/.gatehouse-restore-XXXXXX", dirname(parent));
	if (!mkdtemp(stage)) {
		snprintf(err, errlen, "cannot create a directory beside %s: %s", o->dir, strerror(errno));
		return -1;
	}
	snprintf(keys, sizeof keys, "%s/keys", stage);
	if (mkdir(keys, 0700) < 0 || backup_extract(o->file, o->unlock, stage, &r->c, err, errlen) < 0)
		goto fail;
	snprintf(from, sizeof from, "%s/keystore.db", stage);
	snprintf(to, sizeof to, "%s/keys/keystore.db", stage);
	if (rename(from, to) < 0 || install_master(stage, o, r, err, errlen) < 0)
		goto fail;
	if (open_staged(stage, err, errlen) < 0)
		goto fail;
	rc = finish_staged(o, r, err, errlen);
	close_staged();
	if (rc < 0)
		goto fail;
	snprintf(from, sizeof from, "%s/gatehouse.db", stage);
	if (fsync_path(from, 0) < 0 || fsync_path(to, 0) < 0 || fsync_path(keys, 1) < 0 || fsync_path(stage, 1) < 0) {
		snprintf(err, errlen, "cannot sync the restored files: %s", strerror(errno));
		goto fail;
	}
	rmdir(o->dir); /* an empty one given */
	if (rename(stage, o->dir) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", stage, o->dir, strerror(errno));
		goto fail;
	}
	snprintf(parent, sizeof parent, "%s", o->dir);
	fsync_path(dirname(parent), 1);
	return 0;
fail:
	backup_rmdir(keys);
	backup_rmdir(stage);
	return -1;
}

/* --- events into a restored state ---------------------------------------------------- */

static int same_columns(const char *table)
{
	char *sql = sqlite3_mprintf("SELECT group_concat(name) FROM (SELECT name FROM pragma_table_info(%Q, 'main') "
				    "ORDER BY cid) UNION ALL SELECT group_concat(name) FROM (SELECT name FROM "
				    "pragma_table_info(%Q, 'src') ORDER BY cid)", table, table);
	sqlite3_stmt *st;
	char a[2000] = "", b[2000] = "";

	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(a, sizeof a, "%s", sqlite3_column_text(st, 0));
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(b, sizeof b, "%s", sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return a[0] && strcmp(a, b) == 0;
}

static long long merge_table(const char *table, char *err, size_t errlen)
{
	char *sql;
	int rc;

	if (!same_columns(table)) {
		snprintf(err, errlen, "table %s differs between the events backup and the restored state", table);
		return -1;
	}
	sql = sqlite3_mprintf("INSERT OR IGNORE INTO main.\"%w\" SELECT * FROM src.\"%w\"", table, table);
	rc = db_exec(db_get(), sql);
	sqlite3_free(sql);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot merge %s: %s", table, sqlite3_errmsg(db_get()));
		return -1;
	}
	return sqlite3_changes(db_get());
}

/* The restored audit log must be a prefix of the backup's: otherwise the
 * service ran on DIR (its entries would collide with the backup's). */
static int audit_is_prefix(char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int ok = 0;

	if (sqlite3_prepare_v2(db_get(), "SELECT m.id, s.hash = m.hash FROM (SELECT id, hash FROM main.audit_log ORDER BY "
					 "id DESC LIMIT 1) m LEFT JOIN src.audit_log s ON s.id = m.id", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot compare the audit logs: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	ok = sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 1) == 1;
	sqlite3_finalize(st);
	if (!ok)
		snprintf(err, errlen, "the restored state has audit entries the events backup does not have (was the "
				      "service started on it?): merge events backups before starting the service");
	return ok ? 0 : -1;
}

static int merge_all(const struct restore_opts *o, struct restore_report *r, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int n, rc = 0;

	if (audit_is_prefix(err, errlen) < 0 || db_begin() < 0)
		return -1;
	if (sqlite3_prepare_v2(db_get(), "SELECT name FROM src.sqlite_master WHERE type = 'table' AND name NOT LIKE "
					 "'sqlite\\_%' ESCAPE '\\'", -1, &st, NULL) != SQLITE_OK)
		rc = -1;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		long long m = merge_table((const char *)sqlite3_column_text(st, 0), err, errlen);
		if (m < 0)
			rc = -1;
		else
			r->rows_merged += m;
	}
	sqlite3_finalize(st);
	if (rc == 0 && (n = vault_merge_tenant_keys("srcks", o->unlock, err, errlen)) < 0)
		rc = -1;
	else if (rc == 0)
		r->keys_merged = n;
	if (rc == 0 && (db_exec(db_get(), "INSERT OR IGNORE INTO ks.person_keys SELECT * FROM srcks.person_keys") ||
			db_exec(db_get(), "INSERT OR IGNORE INTO ks.erasures SELECT * FROM srcks.erasures"))) {
		snprintf(err, errlen, "cannot merge the key store: %s", sqlite3_errmsg(db_get()));
		rc = -1;
	}
	if (rc == 0 && (n = replay_ledgers(o, err, errlen)) < 0)
		rc = -1;
	else if (rc == 0)
		r->erasures_applied = n;
	if (rc == 0 && db_commit() < 0) {
		snprintf(err, errlen, "cannot commit the merge: %s", sqlite3_errmsg(db_get()));
		rc = -1;
	}
	if (rc < 0)
		db_rollback();
	return rc;
}

static int check_same_appliance(const struct bfile_header *h, char *err, size_t errlen)
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM meta WHERE key = 'appliance_id'");
	char want[33];
	int same = 0, schema = migrate_current(db_get());

	sodium_bin2hex(want, sizeof want, h->appliance_id, 16);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		same = strcmp((const char *)sqlite3_column_text(st, 0), want) == 0;
	if (st)
		sqlite3_reset(st);
	if (!same) {
		snprintf(err, errlen, "the events backup is of appliance %s, not of the one restored in the directory", want);
		return -1;
	}
	if ((uint32_t)schema != h->schema_version) {
		snprintf(err, errlen, "the events backup has schema version %u and the restored state %d: restore a full "
				      "backup made by the same version", h->schema_version, schema);
		return -1;
	}
	return 0;
}

static int attach(const char *path, const char *as)
{
	char *sql = sqlite3_mprintf("ATTACH DATABASE %Q AS %s", path, as);
	int rc = db_exec(db_get(), sql);

	sqlite3_free(sql);
	return rc == SQLITE_OK ? 0 : -1;
}

int restore_events(const struct restore_opts *o, struct restore_report *r, char *err, size_t errlen)
{
	char lock[4200], work[4300], p[4400];
	struct bfile_header h;
	int lfd, rc = -1;

	memset(r, 0, sizeof *r);
	if (restore_peek(o->file, &h, err, errlen) < 0)
		return -1;
	if (h.kind != BFILE_EVENTS) {
		snprintf(err, errlen, "%s is a full backup: restore it with --to DIR", o->file);
		return -1;
	}
	snprintf(p, sizeof p, "%s/gatehouse.db", o->dir);
	if (access(p, F_OK) < 0) {
		snprintf(err, errlen, "%s holds no restored state (no gatehouse.db)", o->dir);
		return -1;
	}
	/* The service must not run on DIR meanwhile: hold its start lock. */
	snprintf(lock, sizeof lock, "%s/serve.lock", o->dir);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "'gatehouse serve' is running on %s: stop it first", o->dir);
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	snprintf(work, sizeof work, "%s/.merge-XXXXXX", o->dir);
	if (!mkdtemp(work)) {
		snprintf(err, errlen, "cannot create a directory in %s: %s", o->dir, strerror(errno));
		goto out;
	}
	if (backup_extract(o->file, o->unlock, work, &r->c, err, errlen) < 0)
		goto clean;
	if (open_staged(o->dir, err, errlen) < 0)
		goto clean;
	snprintf(p, sizeof p, "%s/events.db", work);
	if (check_same_appliance(&h, err, errlen) == 0) {
		char k[4400];
		snprintf(k, sizeof k, "%s/keystore.db", work);
		if (attach(p, "src") < 0 || attach(k, "srcks") < 0)
			snprintf(err, errlen, "cannot open the events backup's databases: %s", sqlite3_errmsg(db_get()));
		else
			rc = merge_all(o, r, err, errlen);
		db_exec(db_get(), "DETACH DATABASE src");
		db_exec(db_get(), "DETACH DATABASE srcks");
	}
	close_staged();
clean:
	backup_rmdir(work);
out:
	close(lfd);
	return rc;
}

void restore_note_flush(void)
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM meta WHERE key = 'restored_from'");
	cJSON *d = NULL;

	if (!st)
		return;
	if (sqlite3_step(st) == SQLITE_ROW)
		d = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (!d)
		return;
	struct audit_event ev = {0, "system", "restore", "cli", "backup.restore", "", "ok", d, NULL, 0};
	if (db_begin() == 0) {
		st = db_stmt("DELETE FROM meta WHERE key = 'restored_from'");
		if (st && audit_append(&ev) == 0 && sqlite3_step(st) == SQLITE_DONE) {
			sqlite3_reset(st);
			if (db_commit() == 0)
				log_notice("restore: this state was restored from a backup; recorded in the audit log");
		} else {
			if (st)
				sqlite3_reset(st);
			db_rollback();
		}
	}
	cJSON_Delete(d);
}
