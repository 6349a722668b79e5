#include "cmd.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "domain/settings.h"
#include "core/state.h"

#include <sodium.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/gatehouse/gatehouse.conf"

/* "--name VALUE" or "--name=VALUE": returns the value and advances *i. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "gatehouse: %s needs a value\n", name);
		exit(2);
	}
	return argv[++*i];
}

int cmd_load(int argc, char **argv, struct cmd_env *env)
{
	const char *sets[CMD_MAX_ARGS], *state_dir = NULL, *v;
	int nsets = 0;
	char err[600];
	const char *sd = getenv("STATE_DIRECTORY");

	memset(env, 0, sizeof *env);
	for (int i = 0; i < argc; i++) {
		if ((v = option_value(argc, argv, &i, "--config")))
			env->config_path = v;
		else if ((v = option_value(argc, argv, &i, "--state-dir")))
			state_dir = v;
		else if ((v = option_value(argc, argv, &i, "--set"))) {
			if (nsets == CMD_MAX_ARGS) {
				fprintf(stderr, "gatehouse: too many --set options\n");
				return -1;
			}
			sets[nsets++] = v;
		} else if (env->argc < CMD_MAX_ARGS)
			env->argv[env->argc++] = argv[i];
		else {
			fprintf(stderr, "gatehouse: too many arguments\n");
			return -1;
		}
	}
	if (config_init(&env->cfg) < 0) {
		fprintf(stderr, "gatehouse: out of memory\n");
		return -1;
	}
	config_global = &env->cfg;
	/* systemd's StateDirectory= names the directory it made for us. */
	if (sd && *sd) {
		char set[4200];
		snprintf(set, sizeof set, "state.dir=%.*s", (int)strcspn(sd, ":"), sd);
		config_set(&env->cfg, set, err, sizeof err);
		env->cfg.line[CFG_STATE_DIR] = 0;
	}
	if (!env->config_path && access(DEFAULT_CONFIG, F_OK) == 0)
		env->config_path = DEFAULT_CONFIG;
	if (env->config_path && config_load_file(&env->cfg, env->config_path, err, sizeof err) < 0)
		goto bad;
	for (int i = 0; i < nsets; i++)
		if (config_set(&env->cfg, sets[i], err, sizeof err) < 0)
			goto bad;
	if (state_dir) {
		char set[4200];
		snprintf(set, sizeof set, "state.dir=%s", state_dir);
		if (config_set(&env->cfg, set, err, sizeof err) < 0)
			goto bad;
	}
	log_set_level((enum log_level)log_level_parse(cfg_str(CFG_LOG_LEVEL)));
	return 0;
bad:
	fprintf(stderr, "gatehouse: %s\n", err);
	config_free(&env->cfg);
	return -1;
}

void cmd_unload(struct cmd_env *env)
{
	config_free(&env->cfg);
	config_global = NULL;
}

int cmd_open_state(void)
{
	char err[600];

	if (state_open(cfg_str(CFG_STATE_DIR), err, sizeof err) < 0) {
		log_err("state: %s", err);
		return -1;
	}
	return 0;
}

/* Who ran the command, kept for the audit log before it changes user. */
static char invoked_by[64];

/* The packaged state directory belongs to the service's user (`gatehouse`),
 * and everything a command writes there (the database's journal, backups,
 * keys) must stay that user's, or the service could no longer read it. So
 * root running a command becomes the directory's owner before touching it;
 * serve, which systemd starts as that user, refuses instead (it would bind
 * its ports as root and write root's files). */
static int match_state_owner(const char *dir, int serving)
{
	struct stat st;
	struct passwd *pw = getpwuid(geteuid());

	if (geteuid() != 0 || stat(dir, &st) < 0 || st.st_uid == 0)
		return 0; /* state_open checks what remains: a directory another user owns is refused */
	if (serving) {
		log_err("state: %s belongs to uid %u, not root: start the service (systemctl start gatehouse), or run "
			"serve as that user", dir, (unsigned)st.st_uid);
		return -1;
	}
	snprintf(invoked_by, sizeof invoked_by, "%s", pw ? pw->pw_name : "root");
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		log_err("state: cannot become uid %u, the owner of %s: %s", (unsigned)st.st_uid, dir, strerror(errno));
		return -1;
	}
	return 0;
}

int cmd_open_store(int (*before_db)(void))
{
	char err[700], dbpath[4200], kspath[4200];

	if (sodium_init() < 0) {
		log_err("crypto: libsodium cannot initialise");
		return -1;
	}
	/* before_db is serve's lock: only serve passes one. */
	if (match_state_owner(cfg_str(CFG_STATE_DIR), before_db != NULL) < 0)
		return -1;
	if (cmd_open_state() < 0)
		return -1;
	if (before_db && before_db() < 0)
		return -1;
	if (state_mkdir("keys", err, sizeof err) < 0) {
		log_err("state: %s", err);
		return -1;
	}
	if (db_open(state_path("gatehouse.db", dbpath, sizeof dbpath),
		    state_path("keys/keystore.db", kspath, sizeof kspath), cfg_int(CFG_DB_BUSY_TIMEOUT),
		    err, sizeof err) < 0) {
		log_err("db: %s", err);
		return -1;
	}
	if (vault_open(state_dir(), err, sizeof err) < 0) {
		log_err("vault: %s", err);
		db_close();
		return -1;
	}
	/* What admins changed in the console counts here too (the password
	 * rule of `admin create`, the schedules of `jobs list`). */
	if (settings_load(err, sizeof err) < 0) {
		log_err("%s", err);
		cmd_close_store();
		return -1;
	}
	return 0;
}

void cmd_close_store(void)
{
	vault_close();
	db_close();
}

void cmd_cli_actor(char *out, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	if (invoked_by[0])
		snprintf(out, len, "cli:%s", invoked_by);
	else
		snprintf(out, len, "cli:%s", pw ? pw->pw_name : "uid");
}

int64_t cmd_find_tenant(const char *arg)
{
	sqlite3_stmt *st = db_stmt("SELECT id FROM tenants WHERE slug = ?1 OR CAST(id AS TEXT) = ?1");
	int64_t id = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}
