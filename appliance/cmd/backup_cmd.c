/* gatehouse backup run|list|verify and gatehouse restore: backups from the
 * command line (backup/backup.h, backup/restore.h, docs/backup.md).
 *
 * `backup run` runs the backup job here, claimed like the service's runs,
 * so the command line and the service never back up at once. `verify` and
 * `restore` work without a state directory too (a workstation restoring a
 * lost appliance's backup with its recovery key). Every action is audited
 * as cli:<user> in the appliance's audit log when there is one. */
#include "cmd.h"

#include "backup/backup.h"
#include "backup/restore.h"
#include "core/db.h"
#include "core/log.h"
#include "core/masterkey.h"
#include "core/state.h"
#include "core/vault.h"
#include "domain/audit.h"
#include "jobs/scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char backup_usage[] =
	"usage: gatehouse backup run [--kind full|events]\n"
	"       gatehouse backup list\n"
	"       gatehouse backup verify FILE|NAME [--master-key FILE | --recovery-key FILE]\n";

static const char restore_usage[] =
	"usage: gatehouse restore FILE --to DIR [--master-key FILE | --recovery-key FILE]\n"
	"                         [--erasures-from FILE|STATE_DIR ...]\n"
	"       gatehouse restore EVENTS_FILE --into DIR [--master-key FILE | --recovery-key FILE]\n";

#define MAX_LEDGERS 8

struct opts {
	const char *file, *to, *into, *master, *recovery, *kind;
	const char *ledgers[MAX_LEDGERS];
	int nledgers;
};

static int parse(struct cmd_env *env, int from, struct opts *o, const char *usage)
{
	memset(o, 0, sizeof *o);
	for (int i = from; i < env->argc; i++) {
		const char *a = env->argv[i], *v = i + 1 < env->argc ? env->argv[i + 1] : NULL;
		const char **slot = strcmp(a, "--to") == 0 ? &o->to : strcmp(a, "--into") == 0 ? &o->into
				  : strcmp(a, "--master-key") == 0 ? &o->master : strcmp(a, "--recovery-key") == 0 ? &o->recovery
				  : strcmp(a, "--kind") == 0 ? &o->kind : NULL;
		if (slot && v) {
			*slot = v;
			i++;
		} else if (strcmp(a, "--erasures-from") == 0 && v && o->nledgers < MAX_LEDGERS) {
			o->ledgers[o->nledgers++] = v;
			i++;
		} else if (a[0] != '-' && !o->file) {
			o->file = a;
		} else {
			fprintf(stderr, "gatehouse: unexpected argument '%s'\n%s", a, usage);
			return -1;
		}
	}
	if (o->master && o->recovery) {
		fprintf(stderr, "gatehouse: give --master-key or --recovery-key, not both\n");
		return -1;
	}
	return 0;
}

static int has_store(const char *dir)
{
	char a[4200], b[4200];

	snprintf(a, sizeof a, "%s/gatehouse.db", dir);
	snprintf(b, sizeof b, "%s/keys/keystore.db", dir);
	return access(a, F_OK) == 0 && access(b, F_OK) == 0;
}

static void audit_cli(const char *action, const char *target, const char *outcome, cJSON *details)
{
	char actor[80];

	cmd_cli_actor(actor, sizeof actor);
	struct audit_event ev = {0, "system", actor, "cli", action, target, outcome, details, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(details);
}

static void when(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- keys given on the command line ----------------------------------------------------- */

struct keys {
	unsigned char *buf; /* locked: master key at 0, recovery secret at 32 */
	struct vault_unlock u;
};

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* The key a restore opens the backup with: --recovery-key, --master-key,
 * or the master key of the state directory. */
static int load_keys(const struct opts *o, int need, struct keys *k)
{
	char err[600], path[4200], fp[20];
	char *text;
	size_t len;
	int rc;

	memset(k, 0, sizeof *k);
	if (sodium_init() < 0 || !(k->buf = sodium_malloc(64)))
		return -1;
	if (o->recovery) {
		text = sodium_malloc(8192);
		rc = text && read_small(o->recovery, text, 8192, &len) == 0 ? 0 : -1;
		if (rc < 0)
			fprintf(stderr, "gatehouse: cannot read %s: %s\n", o->recovery, strerror(errno));
		else if ((rc = vault_recovery_parse(text, len, k->buf + 32, fp, err, sizeof err)) < 0)
			fprintf(stderr, "gatehouse: %s: %s\n", o->recovery, err);
		if (text)
			sodium_free(text);
		if (rc < 0)
			return -1;
		k->u.recovery_sk = k->buf + 32;
		return 0;
	}
	if (o->master)
		snprintf(path, sizeof path, "%s", o->master);
	else if (has_store(cfg_str(CFG_STATE_DIR)))
		vault_master_path(cfg_str(CFG_STATE_DIR), path, sizeof path);
	else if (!need)
		return 0;
	else {
		fprintf(stderr, "gatehouse: no state directory here (%s): give --master-key FILE or --recovery-key FILE\n",
			cfg_str(CFG_STATE_DIR));
		return -1;
	}
	rc = masterkey_read(path, k->buf, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "gatehouse: %s\n", rc > 0 ? "the master key file does not exist" : err);
		return -1;
	}
	k->u.master = k->buf;
	return 0;
}

static void drop_keys(struct keys *k)
{
	if (k->buf)
		sodium_free(k->buf);
	k->buf = NULL;
}

/* --- backup run | list | verify ----------------------------------------------------------- */

static int backup_run(const struct opts *o)
{
	const char *job = !o->kind || strcmp(o->kind, "full") == 0 ? "backup-full"
			  : strcmp(o->kind, "events") == 0 ? "backup-events" : NULL;
	char actor[80], err[600] = "", target[64];
	struct backup_entry *list;
	size_t n;
	int rc;

	if (!job || o->file) {
		fprintf(stderr, "%s", backup_usage);
		return 2;
	}
	cmd_cli_actor(actor, sizeof actor);
	snprintf(target, sizeof target, "job:%s", job);
	rc = job_run_inline(job, actor, NULL, err, sizeof err);
	cJSON *d = cJSON_CreateObject();
	if (rc < 0)
		cJSON_AddStringToObject(d, "error", err);
	audit_cli("job.run", target, rc == 0 ? "ok" : rc == 1 ? "denied" : "failed", d);
	if (rc == 1) {
		fprintf(stderr, "gatehouse backup run: %s is running now (in the service?); try again later\n", job);
		return 3;
	}
	if (rc < 0) {
		fprintf(stderr, "gatehouse backup run: %s failed: %s\n", job, err);
		return 1;
	}
	if (backup_list(&list, &n, err, sizeof err) == 0) {
		for (size_t i = 0; i < n; i++)
			if (list[i].ok && list[i].kind == (strcmp(job, "backup-full") == 0 ? BFILE_FULL : BFILE_EVENTS)) {
				printf("%s/%s: %llu bytes, written and verified\n", list[i].dir, list[i].name,
				       (unsigned long long)list[i].size);
				break;
			}
		free(list);
	}
	return 0;
}

static int backup_list_cmd(void)
{
	struct backup_entry *list;
	char err[600], t[32];
	size_t n;

	if (backup_list(&list, &n, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse backup list: %s\n", err);
		return 1;
	}
	printf("%-20s %-6s %12s %14s %-8s %s\n", "made (UTC)", "kind", "bytes", "erased since", "status", "file");
	for (size_t i = 0; i < n; i++) {
		when(list[i].created_at, t);
		printf("%-20s %-6s %12llu %14lld %-8s %s/%s%s%s\n", t, bfile_kind_name(list[i].kind),
		       (unsigned long long)list[i].size, list[i].erased_since, list[i].ok ? "ok" : "NOT OK",
		       list[i].dir, list[i].name, list[i].ok ? "" : ": ", list[i].ok ? "" : list[i].problem);
	}
	free(list);
	return 0;
}

static void print_check(const char *file, const struct backup_check *c)
{
	char t[32];
	long long rows = 0;

	for (int i = 0; i < c->counts.n; i++)
		rows += c->counts.item[i].rows;
	when(c->h.created_at, t);
	printf("%s: ok: %s backup of appliance %s made %s by %s, schema version %u; %d tables, %lld rows",
	       file, bfile_kind_name(c->h.kind), c->appliance, t, c->m.program, c->h.schema_version, c->counts.n, rows);
	if (c->erased_since >= 0)
		printf("; %lld people erased since it was made (they stay erased when it is restored here)", c->erased_since);
	printf("\n");
}

static int backup_verify_cmd(const struct opts *o)
{
	char path[4400], err[600], work[4200];
	struct backup_check *c = malloc(sizeof *c);
	struct backup_open bo = {NULL, NULL, NULL, NULL};
	struct keys k = {0};
	int store = has_store(cfg_str(CFG_STATE_DIR)), rc = 1;

	if (!o->file || o->to || o->into || o->kind || o->nledgers || !c) {
		fprintf(stderr, "%s", backup_usage);
		free(c);
		return 2;
	}
	if ((o->master || o->recovery || !store) && load_keys(o, 1, &k) < 0)
		goto out;
	if (k.u.master || k.u.recovery_sk)
		bo.unlock = &k.u;
	if (store && cmd_open_store(NULL) < 0)
		goto out;
	if (!store) {
		snprintf(work, sizeof work, "%s/gh-verify-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(work)) {
			fprintf(stderr, "gatehouse backup verify: cannot create %s: %s\n", work, strerror(errno));
			goto out;
		}
		bo.workdir = work;
	}
	if (strchr(o->file, '/') || !store || backup_find(o->file, path, sizeof path) < 0)
		snprintf(path, sizeof path, "%s", o->file);
	rc = backup_verify(path, &bo, c, err, sizeof err) < 0 ? 1 : 0;
	if (rc == 0)
		print_check(path, c);
	else
		fprintf(stderr, "%s: refused: %s\n", path, err);
	if (store) {
		cJSON *d = cJSON_CreateObject();
		if (rc)
			cJSON_AddStringToObject(d, "error", err);
		char *b = basename(path);
		audit_cli("backup.verify", b, rc == 0 ? "ok" : "failed", d);
		cmd_close_store();
	} else {
		backup_rmdir(work);
	}
out:
	drop_keys(&k);
	free(c);
	return rc;
}

int cmd_backup(struct cmd_env *env)
{
	const char *what = env->argc > 0 ? env->argv[0] : "";
	struct opts o;
	int rc;

	if (parse(env, 1, &o, backup_usage) < 0)
		return 2;
	if (strcmp(what, "verify") == 0)
		return backup_verify_cmd(&o);
	if ((strcmp(what, "run") && strcmp(what, "list")) || (strcmp(what, "list") == 0 && env->argc != 1)) {
		fputs(backup_usage, stderr);
		return 2;
	}
	if (o.to || o.into || o.master || o.recovery || o.nledgers || (o.kind && strcmp(what, "run"))) {
		fputs(backup_usage, stderr);
		return 2;
	}
	if (cmd_open_store(NULL) < 0)
		return 1;
	rc = strcmp(what, "run") == 0 ? backup_run(&o) : backup_list_cmd();
	cmd_close_store();
	return rc;
}

/* --- restore ---------------------------------------------------------------------------- */

static int appliance_of_store(const char *dir, char id[33])
{
	char p[4200];
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int rc = -1;

	snprintf(p, sizeof p, "%s/gatehouse.db", dir);
	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'appliance_id'", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
			memcpy(id, sqlite3_column_text(st, 0), 33);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return rc;
}

static int ledger_of_keystore(const char *path, struct vault_erasure **list, size_t *n)
{
	sqlite3 *db = NULL;
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		rc = vault_erasures_load(db, "main", list, n);
	sqlite3_close(db);
	return rc;
}

/* Another ledger: a state directory, a newer backup (read with the same
 * key), or a key store file. Must be of the same appliance. */
static int ledger_from(const char *src, const char *want_id, const struct keys *k, const char *near,
		       struct vault_erasure **list, size_t *n)
{
	char path[4400], id[33], err[600], work[4300], base[4200];
	struct bfile_header h;
	struct backup_check *c;
	size_t before = *n;
	int rc = -1;

	if (has_store(src)) {
		if (appliance_of_store(src, id) < 0 || strcmp(id, want_id) != 0) {
			fprintf(stderr, "gatehouse restore: %s is the state of another appliance\n", src);
			return -1;
		}
		snprintf(path, sizeof path, "%s/keys/keystore.db", src);
		rc = ledger_of_keystore(path, list, n);
	} else if (restore_peek(src, &h, err, sizeof err) == 0) {
		sodium_bin2hex(id, sizeof id, h.appliance_id, 16);
		if (strcmp(id, want_id) != 0) {
			fprintf(stderr, "gatehouse restore: %s is a backup of another appliance\n", src);
			return -1;
		}
		snprintf(base, sizeof base, "%s", near);
		snprintf(work, sizeof work, "%s/.gatehouse-ledger-XXXXXX", dirname(base));
		if (!mkdtemp(work) || !(c = malloc(sizeof *c))) {
			fprintf(stderr, "gatehouse restore: cannot create %s: %s\n", work, strerror(errno));
			return -1;
		}
		if (backup_extract(src, &k->u, work, c, err, sizeof err) < 0) {
			fprintf(stderr, "gatehouse restore: %s: %s\n", src, err);
		} else {
			snprintf(path, sizeof path, "%s/keystore.db", work);
			rc = ledger_of_keystore(path, list, n);
		}
		free(c);
		backup_rmdir(work);
	} else {
		rc = ledger_of_keystore(src, list, n);
	}
	if (rc < 0)
		fprintf(stderr, "gatehouse restore: cannot read an erasure ledger from %s\n", src);
	else
		printf("erasure ledger of %s: %zu entries\n", src, *n - before);
	return rc;
}

static void print_restored(const struct opts *o, const struct restore_report *r)
{
	long long rows = 0;
	char t[32];

	for (int i = 0; i < r->c.counts.n; i++)
		rows += r->c.counts.item[i].rows;
	when(r->c.h.created_at, t);
	if (o->to) {
		printf("restored %s (%s backup made %s) into %s: %d tables, %lld rows, every one checked\n", o->file,
		       bfile_kind_name(r->c.h.kind), t, o->to, r->c.counts.n, rows);
		if (o->recovery)
			printf("a new master key was made in %s/keys/master.key; %d tenant keys were re-wrapped under it "
			       "from their escrow copies\n", o->to, r->keys_rewrapped);
		printf("%d people erased after the backup was made were erased again\n", r->erasures_applied);
		printf("next: point the service at it (state.dir = %s, or gatehouse serve --state-dir %s)\n", o->to,
		       o->to);
	} else {
		printf("merged %s (events backup made %s) into %s: %lld rows added, %d keys added, %d people erased "
		       "again\n", o->file, t, o->into, r->rows_merged, r->keys_merged, r->erasures_applied);
	}
}

int cmd_restore(struct cmd_env *env)
{
	struct opts o;
	struct keys k = {0};
	struct restore_report *r = malloc(sizeof *r);
	struct vault_erasure *ledger = NULL;
	struct bfile_header h;
	char err[800], id[33], live_id[33];
	const char *live = cfg_str(CFG_STATE_DIR);
	size_t n = 0;
	int rc = 1, store = has_store(live);

	if (!r || parse(env, 0, &o, restore_usage) < 0 || !o.file || !o.to == !o.into || o.kind ||
	    (o.into && o.nledgers)) {
		fputs(restore_usage, stderr);
		free(r);
		return 2;
	}
	if (restore_peek(o.file, &h, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse restore: %s: %s\n", o.file, err);
		goto out;
	}
	sodium_bin2hex(id, sizeof id, h.appliance_id, 16);
	if (load_keys(&o, 1, &k) < 0)
		goto out;
	/* The restoring appliance's own ledger, when it is the same appliance. */
	if (store && appliance_of_store(live, live_id) == 0 && strcmp(live_id, id) == 0 && ledger_from(live, id, &k, o.to ? o.to : o.into, &ledger, &n) < 0)
		goto out;
	for (int i = 0; i < o.nledgers; i++)
		if (ledger_from(o.ledgers[i], id, &k, o.to, &ledger, &n) < 0)
			goto out;
	struct restore_opts ro = {o.file, o.to ? o.to : o.into, &k.u, ledger, n};
	rc = (o.to ? restore_full(&ro, r, err, sizeof err) : restore_events(&ro, r, err, sizeof err)) < 0 ? 1 : 0;
	if (rc == 0)
		print_restored(&o, r);
	else
		fprintf(stderr, "gatehouse restore: %s: %s\n", o.file, err);
	if (store && cmd_open_store(NULL) == 0) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, o.to ? "to" : "into", o.to ? o.to : o.into);
		cJSON_AddStringToObject(d, "key", o.recovery ? "recovery key" : "master key");
		if (rc)
			cJSON_AddStringToObject(d, "error", err);
		char copy[4200];
		snprintf(copy, sizeof copy, "%s", o.file);
		audit_cli("backup.restore", basename(copy), rc == 0 ? "ok" : "failed", d);
		cmd_close_store();
	}
out:
	drop_keys(&k);
	free(ledger);
	free(r);
	return rc;
}
