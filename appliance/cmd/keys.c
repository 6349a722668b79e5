/* gatehouse keys status|rotate|rewrap-master|recovery-*: key management from the
 * command line. Works while the service runs: every step is a short
 * transaction on the shared database, and the service notices key-store
 * changes (see vault.h). */
#include "cmd.h"

#include "core/db.h"
#include "core/log.h"
#include "core/masterkey.h"
#include "core/state.h"
#include "core/vault.h"
#include "core/vault_escrow.h"
#include "domain/audit.h"
#include "sync/status.h"
#include "core/vault_rotate.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static const char keys_usage[] =
	"usage: gatehouse keys status\n"
	"       gatehouse keys rotate [--tenant SLUG|ID] [--batch N]\n"
	"       gatehouse keys rewrap-master --old FILE --new FILE\n"
	"       gatehouse keys recovery-export [--out FILE]\n"
	"       gatehouse keys recovery-rotate\n";

/* The scope's name for people: "appliance" or the tenant's slug. */
static void scope_name(int64_t id, char *out, size_t len)
{
	sqlite3_stmt *st = db_stmt("SELECT slug FROM tenants WHERE id = ?");

	snprintf(out, len, id == 0 ? "appliance" : "tenant-%lld", (long long)id);
	if (!st || id == 0)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_reset(st);
}

static int find_tenant(const char *arg, int64_t *id)
{
	sqlite3_stmt *st = db_stmt("SELECT id FROM tenants WHERE slug = ?1 OR CAST(id AS TEXT) = ?1");
	int found = 0;

	if (strcmp(arg, "appliance") == 0 || strcmp(arg, "0") == 0) {
		*id = 0;
		return 0;
	}
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		found = 1;
	}
	sqlite3_reset(st);
	return found ? 0 : -1;
}

static void print_status_line(const struct vault_rotation_status *s)
{
	char name[80];

	scope_name(s->tenant, name, sizeof name);
	printf("%-16s data key v%-4lld %-10s person keys %lld (%lld under an old version), "
	       "tenant-sealed fields under an old version %lld, retired versions %d\n",
	       name, (long long)s->active_version, s->in_progress ? "rotating" : "current",
	       s->person_keys, s->person_keys_pending, s->fields_pending, s->retired_versions);
}

static void when(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The recovery key: fingerprint, and whether it was handed out. */
static void print_recovery(void)
{
	struct vault_recovery_status r;
	char made[32], out[32];

	if (vault_recovery_status(state_dir(), &r) < 0 || !r.present) {
		printf("recovery:   NONE: backups cannot be restored without this appliance's master key\n");
		return;
	}
	when(r.created_at, made);
	if (r.exported_at) {
		when(r.exported_at, out);
		printf("recovery:   key %s, made %s, exported %s%s\n", r.fingerprint, made, out,
		       r.secret_on_disk ? " (WARNING: its secret is still in keys/recovery.key)" : "");
	} else {
		printf("recovery:   key %s, made %s, NOT EXPORTED: run 'gatehouse keys recovery-export' and keep it "
		       "offline (until then its secret is in %s/%s)\n", r.fingerprint, made, state_dir(), VAULT_RECOVERY_FILE);
	}
	if (r.escrow_missing > 0)
		printf("recovery:   WARNING: %lld tenant keys have no escrow copy yet\n", r.escrow_missing);
}

static int write_new_file(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (it is never overwritten)" : "");
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n <= 0) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/* Hand the recovery key out once: to FILE (new, 0600) or standard output;
 * only when that worked is it deleted from the appliance. */
static int keys_recovery_export(const char *out)
{
	struct vault_recovery_status r;
	char err[600], actor[80];
	char *text = NULL;
	size_t len = 0;
	int rc = 1;

	if (vault_recovery_text(state_dir(), &text, &len, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse keys recovery-export: %s\n", err);
		return 1;
	}
	if (out) {
		if (write_new_file(out, text, len, err, sizeof err) < 0) {
			fprintf(stderr, "gatehouse keys recovery-export: %s\n", err);
			goto done;
		}
	} else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "gatehouse keys recovery-export: cannot write to standard output\n");
		goto done;
	}
	if (vault_recovery_mark_exported(state_dir(), err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse keys recovery-export: %s\n", err);
		goto done;
	}
	vault_recovery_status(state_dir(), &r);
	cmd_cli_actor(actor, sizeof actor);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "fingerprint", r.fingerprint);
	cJSON_AddStringToObject(d, "to", out ? out : "standard output");
	struct audit_event ev = {0, "system", actor, "cli", "keys.recovery_export", "recovery-key", "ok", d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
	fprintf(stderr, "the recovery key %s was %s and deleted from this appliance: print it or keep it offline; "
		"it is not shown again\n", r.fingerprint, out ? "written to the file" : "printed");
	rc = 0;
done:
	vault_free(text, len);
	return rc;
}

/* A new recovery key pair, for a paper copy that was lost, seen by someone
 * else, or used for a restore. The old key still opens the backups made
 * before: the message says so, since only destroying them retires it. */
static int keys_recovery_rotate(void)
{
	struct vault_recovery_change c;
	char err[600], actor[80];

	if (vault_recovery_rotate(state_dir(), &c, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse keys recovery-rotate: %s\n", err);
		return 1;
	}
	cmd_cli_actor(actor, sizeof actor);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "old_fingerprint", c.old_fingerprint);
	cJSON_AddStringToObject(d, "new_fingerprint", c.new_fingerprint);
	cJSON_AddBoolToObject(d, "old_exported", c.old_exported);
	cJSON_AddNumberToObject(d, "escrow_rewrapped", (double)c.rewrapped);
	struct audit_event ev = {0, "system", actor, "cli", "keys.recovery_rotate", "recovery-key", "ok", d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
	printf("the recovery key is now %s (was %s); %lld tenant keys re-sealed to it\n", c.new_fingerprint,
	       c.old_fingerprint, c.rewrapped);
	printf("backups made from now on need the new key; export it now: gatehouse keys recovery-export\n");
	if (c.old_exported)
		printf("backups made before still open with the old key %s: keep it while you keep them, "
		       "or delete those backups to retire it\n", c.old_fingerprint);
	else
		printf("the old key %s was never exported and is shredded: backups made before open only with this "
		       "appliance's master key\n", c.old_fingerprint);
	return 0;
}

static int keys_status(void)
{
	char master[4200];
	int64_t ids[1024];
	int n = vault_scopes(ids, 1024);

	vault_master_path(state_dir(), master, sizeof master);
	printf("master key: %s%s\n", master,
	       getenv("CREDENTIALS_DIRECTORY") && strstr(master, getenv("CREDENTIALS_DIRECTORY")) == master
		       ? " (systemd credential)" : "");
	printf("key store:  %s/keys/keystore.db\n", state_dir());
	print_recovery();
	for (int i = 0; i < n; i++) {
		struct vault_rotation_status s;
		if (vault_rotation_status(ids[i], &s) == 0)
			print_status_line(&s);
	}
	return n < 0 ? 1 : 0;
}

struct rotate_progress {
	struct timespec last;
	long long person_keys, fields;
};

/* Remember the counters; print at most one line a second, as a big tenant
 * has many batches. */
static void progress(const struct vault_rotation_status *s, void *arg)
{
	struct rotate_progress *p = arg;
	struct timespec now;

	p->person_keys = s->person_keys_done;
	p->fields = s->fields_done;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == p->last.tv_sec)
		return;
	p->last = now;
	printf("  %lld person keys and %lld fields re-keyed so far\n", s->person_keys_done, s->fields_done);
	fflush(stdout);
}

struct rotate_opts {
	const char *tenant; /* NULL: every scope */
	int batch;
};

static int parse_rotate(struct cmd_env *env, struct rotate_opts *o)
{
	o->tenant = NULL;
	o->batch = 500;
	for (int i = 1; i < env->argc; i++) {
		if (strcmp(env->argv[i], "--tenant") == 0 && i + 1 < env->argc) {
			o->tenant = env->argv[++i];
		} else if (strcmp(env->argv[i], "--batch") == 0 && i + 1 < env->argc) {
			char *end;
			long v = strtol(env->argv[++i], &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "gatehouse keys rotate: --batch must be 1-100000\n");
				return -1;
			}
			o->batch = (int)v;
		} else {
			fprintf(stderr, "gatehouse keys rotate: unexpected argument '%s'\n%s", env->argv[i],
				keys_usage);
			return -1;
		}
	}
	return 0;
}

/* Key changes are admin actions: audited like any other, actor cli:<user>. */
static void audit_keys(int64_t scope, const char *action, const char *outcome, const cJSON *details)
{
	char actor[80], target[40];

	cmd_cli_actor(actor, sizeof actor);
	snprintf(target, sizeof target, scope ? "tenant:%lld" : "appliance", (long long)scope);
	struct audit_event ev = {scope, "system", actor, "cli", action, target, outcome, details, NULL, 0};
	audit_append(&ev);
}

static int rotate_one(int64_t id, int batch)
{
	struct rotate_progress p = {.person_keys = 0};
	struct vault_rotation_status s;
	char err[600], name[80];
	int resumed;

	scope_name(id, name, sizeof name);
	/* A site holds its central's keys for the central's tenant: a new
	 * version is made there and arrives with the next sync. */
	if (id != 0 && sync_owned_by_central(err, sizeof err) && id == sync_default_tenant()) {
		fprintf(stderr, "gatehouse keys rotate: %s: the keys of this tenant belong to the central; rotate them on "
			"the central appliance (%s): the new version reaches this site with the next sync\n", name, err);
		audit_keys(id, "keys.rotate", "denied", NULL);
		return 1;
	}
	if (vault_rotate_begin(id, &resumed, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse keys rotate: %s: %s\n", name, err);
		audit_keys(id, "keys.rotate", "failed", NULL);
		return 1;
	}
	printf("%s: %s\n", name, resumed ? "resuming the rotation in progress" : "new data key created");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &p.last);
	if (vault_rotate_run(id, batch, progress, &p, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse keys rotate: %s: %s\n", name, err);
		audit_keys(id, "keys.rotate", "failed", NULL);
		return 1;
	}
	vault_rotation_status(id, &s);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "version", (double)s.active_version);
	cJSON_AddNumberToObject(d, "person_keys", (double)p.person_keys);
	cJSON_AddNumberToObject(d, "fields", (double)p.fields);
	cJSON_AddBoolToObject(d, "resumed", resumed);
	audit_keys(id, "keys.rotate", "ok", d);
	cJSON_Delete(d);
	printf("%s: done: %lld person keys and %lld fields re-keyed, now on version %lld; "
	       "old data key retired\n",
	       name, p.person_keys, p.fields, (long long)s.active_version);
	return 0;
}

static int keys_rotate(const struct rotate_opts *o)
{
	int64_t ids[1024];
	int n, rc = 0;

	if (o->tenant) {
		if (find_tenant(o->tenant, &ids[0]) < 0) {
			fprintf(stderr, "gatehouse keys rotate: no tenant '%s'\n", o->tenant);
			return 1;
		}
		n = 1;
	} else if ((n = vault_scopes(ids, 1024)) < 0) {
		return 1;
	}
	for (int i = 0; i < n; i++)
		rc |= rotate_one(ids[i], o->batch);
	return rc;
}

/* Read a master key file given on the command line; --new may not exist yet,
 * in which case a fresh key is created there. */
static int read_key_arg(const char *path, unsigned char key[MASTERKEY_BYTES], int create)
{
	char err[600];
	int rc = masterkey_read(path, key, err, sizeof err);

	if (rc == 1 && create) {
		if (masterkey_create(path, key, err, sizeof err) == 0) {
			printf("created a new master key in %s\n", path);
			return 0;
		}
		rc = -1;
	}
	if (rc != 0) {
		fprintf(stderr, "gatehouse keys rewrap-master: %s\n", rc == 1 ? "file not found" : err);
		if (rc == 1)
			fprintf(stderr, "  (%s)\n", path);
		return -1;
	}
	return 0;
}

struct rewrap_opts {
	const char *old_path, *new_path;
};

static int parse_rewrap(struct cmd_env *env, struct rewrap_opts *o)
{
	o->old_path = o->new_path = NULL;
	for (int i = 1; i < env->argc; i++) {
		if (strcmp(env->argv[i], "--old") == 0 && i + 1 < env->argc)
			o->old_path = env->argv[++i];
		else if (strcmp(env->argv[i], "--new") == 0 && i + 1 < env->argc)
			o->new_path = env->argv[++i];
		else {
			fprintf(stderr, "gatehouse keys rewrap-master: unexpected argument '%s'\n%s",
				env->argv[i], keys_usage);
			return -1;
		}
	}
	if (!o->old_path || !o->new_path) {
		fprintf(stderr, "gatehouse keys rewrap-master: --old FILE and --new FILE are required\n");
		return -1;
	}
	return 0;
}

static int keys_rewrap_master(const struct rewrap_opts *o)
{
	const char *old_path = o->old_path, *new_path = o->new_path;
	unsigned char *keys;
	char err[600], current[4200];
	int n, rc = 1;

	keys = sodium_malloc(2 * MASTERKEY_BYTES);
	if (!keys)
		return 1;
	if (read_key_arg(old_path, keys, 0) < 0 || read_key_arg(new_path, keys + MASTERKEY_BYTES, 1) < 0)
		goto out;
	if (sodium_memcmp(keys, keys + MASTERKEY_BYTES, MASTERKEY_BYTES) == 0) {
		fprintf(stderr, "gatehouse keys rewrap-master: the old and new keys are the same\n");
		goto out;
	}
	n = vault_rewrap_master(keys, keys + MASTERKEY_BYTES, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "gatehouse keys rewrap-master: %s\n", err);
		audit_keys(0, "keys.rewrap_master", "failed", NULL);
		goto out;
	}
	{
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "tenant_keys", n);
		audit_keys(0, "keys.rewrap_master", "ok", d);
		cJSON_Delete(d);
	}
	printf("re-wrapped %d tenant keys under the new master key\n", n);
	/* When the key lives in the state directory, it is replaced there so the
	 * service (which re-reads it) and later commands use the new one. */
	vault_master_path(state_dir(), current, sizeof current);
	if (strncmp(current, state_dir(), strlen(state_dir())) == 0) {
		if (masterkey_write(current, keys + MASTERKEY_BYTES, err, sizeof err) < 0) {
			fprintf(stderr, "gatehouse keys rewrap-master: %s\n", err);
			fprintf(stderr, "  copy %s to %s by hand now: the key store needs it\n", new_path, current);
			goto out;
		}
		printf("installed the new master key as %s\n", current);
	} else {
		printf("the master key comes from a systemd credential: encrypt %s into it and restart\n",
		       new_path);
	}
	printf("keep the old key file until you have a backup made after this change\n");
	rc = 0;
out:
	sodium_free(keys);
	return rc;
}

int cmd_keys(struct cmd_env *env)
{
	const char *what = env->argc > 0 ? env->argv[0] : "";
	struct rotate_opts ro = {NULL, 500};
	struct rewrap_opts wo = {NULL, NULL};
	int rc;

	/* Every argument is checked before the state directory is touched. */
	if (strcmp(what, "status") == 0) {
		if (env->argc > 1) {
			fprintf(stderr, "gatehouse keys status: unexpected argument '%s'\n", env->argv[1]);
			return 2;
		}
	} else if (strcmp(what, "rotate") == 0) {
		if (parse_rotate(env, &ro) < 0)
			return 2;
	} else if (strcmp(what, "rewrap-master") == 0) {
		if (parse_rewrap(env, &wo) < 0)
			return 2;
	} else if (strcmp(what, "recovery-export") == 0) {
		if (!(env->argc == 1 || (env->argc == 3 && strcmp(env->argv[1], "--out") == 0))) {
			fprintf(stderr, "%s", keys_usage);
			return 2;
		}
	} else if (strcmp(what, "recovery-rotate") == 0) {
		if (env->argc > 1) {
			fprintf(stderr, "gatehouse keys recovery-rotate: unexpected argument '%s'\n", env->argv[1]);
			return 2;
		}
	} else {
		fprintf(stderr, "%s", keys_usage);
		return 2;
	}
	if (cmd_open_store(NULL) < 0)
		return 1;
	if (strcmp(what, "status") == 0)
		rc = keys_status();
	else if (strcmp(what, "rotate") == 0)
		rc = keys_rotate(&ro);
	else if (strcmp(what, "recovery-export") == 0)
		rc = keys_recovery_export(env->argc == 3 ? env->argv[2] : NULL);
	else if (strcmp(what, "recovery-rotate") == 0)
		rc = keys_recovery_rotate();
	else
		rc = keys_rewrap_master(&wo);
	cmd_close_store();
	return rc;
}
