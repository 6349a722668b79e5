/* cmd: the command line. Every subcommand takes the same common options:
 *   --config FILE      read FILE instead of /etc/gatehouse/gatehouse.conf
 *   --state-dir DIR    the state directory (overrides state.dir)
 *   --set KEY=VALUE    override one config key (repeatable; wins over files)
 * and its own options after them, in any order. */
#ifndef GH_CMD_H
#define GH_CMD_H

#include "core/config.h"

#include <stddef.h>
#include <stdint.h>

#define CMD_MAX_ARGS 64

struct cmd_env {
	struct config cfg;
	const char *config_path; /* the file read, or NULL for built-in defaults */
	int argc;                /* the subcommand's own arguments */
	char *argv[CMD_MAX_ARGS];
};

/* Parse the common options out of argv and load the configuration into
 * env->cfg (also made config_global). Prints the error and returns -1 on a
 * bad option or a bad configuration. */
int cmd_load(int argc, char **argv, struct cmd_env *env);
void cmd_unload(struct cmd_env *env);

/* Open the state directory of env's configuration. Prints errors. */
int cmd_open_state(void);

/* Open the state directory, the database with its key store and the vault
 * (creating them on first use). before_db, if given, runs once the state
 * directory is open (serve takes its lock there). Run by root on a state
 * directory another user owns, a command becomes that user first and
 * serve (the caller with before_db) refuses. Logs errors. */
int cmd_open_store(int (*before_db)(void));
void cmd_close_store(void);

/* A tenant named by slug or id: its id, or -1. Needs the store open. */
int64_t cmd_find_tenant(const char *arg);
/* "cli:<user>": the actor of a change made on the command line (audited). */
void cmd_cli_actor(char *out, size_t len);

int cmd_serve(struct cmd_env *env);
int cmd_jobs(struct cmd_env *env);
int cmd_allowlist(struct cmd_env *env);
int cmd_config(struct cmd_env *env);
int cmd_keys(struct cmd_env *env);
int cmd_admin(struct cmd_env *env);
int cmd_routes(struct cmd_env *env);
int cmd_audit(struct cmd_env *env);
int cmd_devsim(struct cmd_env *env);
int cmd_backup(struct cmd_env *env);
int cmd_restore(struct cmd_env *env);
int cmd_sync(struct cmd_env *env);

#endif
