/* gatehouse: the on-premise access-control appliance, one binary. */
#include "cmd/cmd.h"
#include "core/version.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
	"usage: gatehouse COMMAND [--config FILE] [--state-dir DIR] [--set KEY=VALUE ...] [ARGS]\n"
	"\n"
	"commands:\n"
	"  serve                   run the appliance (HTTPS console and API)\n"
	"  config check            validate the configuration and exit\n"
	"  config defaults         print every config key with its help and default\n"
	"  config show             print the effective configuration\n"
	"  keys status             key versions and rotation progress per tenant\n"
	"  keys rotate [--tenant SLUG|ID] [--batch N]\n"
	"                          new data key version; re-key in batches, online\n"
	"  keys rewrap-master --old FILE --new FILE\n"
	"                          move to a new master key (fields are not re-sealed)\n"
	"  keys recovery-export [--out FILE]\n"
	"                          hand out the recovery key once (print it, keep it offline)\n"
	"  keys recovery-rotate    a new recovery key; later backups need it\n"
	"  backup run [--kind full|events]\n"
	"                          make a backup now, here (audited; refused if one is running)\n"
	"  backup list             backups in every destination, checked\n"
	"  backup verify FILE|NAME [--master-key FILE | --recovery-key FILE]\n"
	"                          decrypt, inflate and check a backup completely\n"
	"  restore FILE --to DIR [--master-key FILE | --recovery-key FILE]\n"
	"          [--erasures-from FILE|STATE_DIR ...]\n"
	"                          a full backup into a new state directory\n"
	"  restore EVENTS_FILE --into DIR [--master-key FILE | --recovery-key FILE]\n"
	"                          merge an events backup into a restored state directory\n"
	"  audit verify [--public-key FILE]\n"
	"                          check the audit chain and its signatures\n"
	"  audit public-key        print the audit public key (keep a copy offline)\n"
	"  admin create --username NAME --role ROLE [--tenant SLUG|ID] --password-stdin\n"
	"  admin list [--tenant SLUG|ID]\n"
	"  admin reset-password|unlock|disable|enable --username NAME [--password-stdin]\n"
	"                          admin accounts; changes are audited\n"
	"  routes                  every URL served, with the roles that may call it\n"
	"  allowlist list|remove ID|clear [--tenant SLUG|ID]\n"
	"                          admin allow-lists, to get back in after a lock-out\n"
	"  jobs list               scheduled jobs: schedule, next run, last outcome\n"
	"  jobs run NAME [--param KEY=VALUE ...]\n"
	"                          run a job now, here (audited; refused if it is running)\n"
	"  sync pair --central URL --fingerprint FP --code CODE\n"
	"                          make this (new) appliance a site of a central\n"
	"  sync export --to DIR [--pairing ID]\n"
	"                          write a bundle of what the other side has not acknowledged\n"
	"  sync import FILE [--ack-to DIR]\n"
	"                          apply a bundle from the other side; writes the reply bundle\n"
	"  sync status [--json]    pairing, last sync, cursors, pending changes\n"
	"  devsim --dir DIR [--devices N --rate R --events N ...]\n"
	"                          simulated door terminals (see gatehouse devsim --help)\n"
	"  version                 print the version\n"
	"  help                    this text\n"
	"\n"
	"common options:\n"
	"  --config FILE           configuration file (default /etc/gatehouse/gatehouse.conf\n"
	"                          if it exists, else built-in defaults)\n"
	"  --state-dir DIR         state directory (overrides state.dir)\n"
	"  --set KEY=VALUE         override one configuration key; repeatable\n";

struct command {
	const char *name;
	int (*run)(struct cmd_env *env);
};

static const struct command commands[] = {
	{"serve", cmd_serve},
	{"config", cmd_config},
	{"keys", cmd_keys},
	{"admin", cmd_admin},
	{"routes", cmd_routes},
	{"jobs", cmd_jobs},
	{"allowlist", cmd_allowlist},
	{"audit", cmd_audit},
	{"backup", cmd_backup},
	{"restore", cmd_restore},
	{"sync", cmd_sync},
	{"devsim", cmd_devsim},
};

int main(int argc, char **argv)
{
	struct cmd_env env;
	int rc;

	/* Everything the appliance creates (database, WAL, keys, backups) is
	 * for its own user only. */
	umask(077);
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("gatehouse %s\n", GH_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (cmd_load(argc - 2, argv + 2, &env) < 0)
			return 1;
		rc = commands[i].run(&env);
		cmd_unload(&env);
		return rc;
	}
	fprintf(stderr, "gatehouse: unknown command '%s'\n\n%s", argv[1], usage);
	return 2;
}
