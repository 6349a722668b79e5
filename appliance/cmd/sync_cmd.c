/* gatehouse sync pair | export | import | status: site sync from the
 * command line (docs/sync.md), with the service running or not. Bundles
 * carry changes where there is no network: export writes what the other
 * side has not acknowledged; import applies a bundle from the other side
 * and writes the reply bundle (its acknowledgement, and what this side
 * owes) to carry back. Everything is audited as cli:<user>. */
#include "cmd.h"

#include "core/db.h"
#include "core/log.h"
#include "domain/audit.h"
#include "sync/bundle.h"
#include "sync/pairing.h"
#include "sync/peer.h"
#include "sync/status.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char sync_usage[] =
	"usage: gatehouse sync pair --central URL --fingerprint FP --code CODE\n"
	"       gatehouse sync export --to DIR [--pairing ID]\n"
	"       gatehouse sync import FILE [--ack-to DIR]\n"
	"       gatehouse sync status [--json]\n";

struct opts {
	const char *central, *fingerprint, *code, *to, *pairing, *ack_to, *file;
};

/* --name VALUE / --name=VALUE options and one positional FILE. */
static int parse(int argc, char **argv, struct opts *o)
{
	static const char *const names[] = {"--central", "--fingerprint", "--code", "--to", "--pairing", "--ack-to"};

	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		const char **slot[] = {&o->central, &o->fingerprint, &o->code, &o->to, &o->pairing, &o->ack_to};
		int found = 0;
		for (size_t k = 0; k < sizeof names / sizeof names[0] && !found; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(argv[i], names[k], n) != 0)
				continue;
			if (argv[i][n] == '=') {
				*slot[k] = argv[i] + n + 1;
				found = 1;
			} else if (argv[i][n] == '\0' && i + 1 < argc) {
				*slot[k] = argv[++i];
				found = 1;
			}
		}
		if (found)
			continue;
		if (argv[i][0] == '-' || o->file) {
			fprintf(stderr, "gatehouse sync: unexpected argument '%s'\n%s", argv[i], sync_usage);
			return -1;
		}
		o->file = argv[i];
	}
	return 0;
}

static void cli_actor(struct sync_actor *w, char *actor, size_t len)
{
	cmd_cli_actor(actor, len);
	w->type = "system";
	w->id = actor;
	w->source = "cli";
	w->tenant = 0;
}

static void print_json(const cJSON *o)
{
	char *text = cJSON_Print(o);

	if (text)
		printf("%s\n", text);
	cJSON_free(text);
}

static int pair(const struct opts *o)
{
	struct sync_actor who;
	char actor[80], err[600] = "";
	cJSON *out;

	if (!o->central || !o->fingerprint || !o->code) {
		fprintf(stderr, "gatehouse sync pair: --central, --fingerprint and --code are required\n%s", sync_usage);
		return 2;
	}
	cli_actor(&who, actor, sizeof actor);
	if (sync_pair(o->central, o->fingerprint, o->code, &who, &out, err, sizeof err) != SYNC_OK) {
		fprintf(stderr, "gatehouse sync pair: %s\n", err);
		return 1;
	}
	printf("paired: this appliance is now a site of %s\n", o->central);
	cJSON_Delete(out);
	return 0;
}

/* The peer to export for: the site's central, or --pairing on a central. */
static int export_peer(const struct opts *o, struct sync_peer *p)
{
	enum sync_role role = sync_role_here();
	char *end;
	long long id;

	if (role == SYNC_SITE)
		return sync_site_peer(p) == 0 ? 0 : -1;
	if (role != SYNC_CENTRAL) {
		fprintf(stderr, "gatehouse sync export: this appliance is not paired\n");
		return -1;
	}
	if (!o->pairing) {
		fprintf(stderr, "gatehouse sync export: on a central, say which pairing with --pairing ID "
				"(gatehouse sync status lists them)\n");
		return -1;
	}
	id = strtoll(o->pairing, &end, 10);
	if (*end || id <= 0 || sync_central_peer(id, p) != 0) {
		fprintf(stderr, "gatehouse sync export: no active pairing %s\n", o->pairing);
		return -1;
	}
	return 0;
}

static int export_bundle(const struct opts *o)
{
	struct sync_bundle_stats st;
	struct sync_actor who;
	struct sync_peer p;
	char actor[80], err[600] = "";

	if (!o->to || o->file) {
		fprintf(stderr, "gatehouse sync export: --to DIR is required\n%s", sync_usage);
		return 2;
	}
	if (export_peer(o, &p) < 0)
		return 1;
	cli_actor(&who, actor, sizeof actor);
	who.tenant = p.tenant;
	if (sync_bundle_write(&p, o->to, &who, &st, err, sizeof err) < 0) {
		fprintf(stderr, "gatehouse sync export: %s\n", err);
		return 1;
	}
	audit_sign_head();
	printf("%s\n%d changeset%s, %lld rows, %lld bytes\n", st.path, st.changesets, st.changesets == 1 ? "" : "s",
	       st.rows, st.bytes);
	return 0;
}

static unsigned char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
	    size > (long)1 << 34 || !(buf = malloc((size_t)size + 1)) ||
	    fread(buf, 1, (size_t)size, f) != (size_t)size) {
		snprintf(err, errlen, "cannot read %s: %s", path, errno ? strerror(errno) : "too large");
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static void audit_import(const struct sync_actor *who, const char *file, const char *outcome, const char *why,
			 int64_t pairing, const struct sync_bundle_stats *st)
{
	cJSON *d = cJSON_CreateObject();
	char target[40] = "";

	cJSON_AddStringToObject(d, "file", file);
	if (why)
		cJSON_AddStringToObject(d, "reason", why);
	if (st) {
		cJSON_AddNumberToObject(d, "changesets", st->changesets);
		cJSON_AddNumberToObject(d, "applied", st->applied);
		cJSON_AddNumberToObject(d, "rows", (double)st->rows);
	}
	if (pairing)
		snprintf(target, sizeof target, "pairing:%lld", (long long)pairing);
	struct audit_event ev = {who->tenant, who->type, who->id, who->source, "sync.import", target, outcome, d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
}

static int import_bundle(const struct opts *o)
{
	struct sync_bundle_stats st, reply;
	struct sync_actor who;
	struct sync_peer p;
	char actor[80], err[600] = "", dir[4200];
	unsigned char *buf;
	size_t len;

	if (!o->file) {
		fprintf(stderr, "gatehouse sync import: which bundle file?\n%s", sync_usage);
		return 2;
	}
	if (!(buf = read_file(o->file, &len, err, sizeof err))) {
		fprintf(stderr, "gatehouse sync import: %s\n", err);
		return 1;
	}
	cli_actor(&who, actor, sizeof actor);
	if (sync_bundle_apply(buf, len, &who, &p, &st, err, sizeof err) < 0) {
		free(buf);
		audit_import(&who, o->file, "failed", err, 0, NULL);
		audit_sign_head();
		fprintf(stderr, "gatehouse sync import: refused: %s\n", err);
		return 1;
	}
	free(buf);
	who.tenant = p.tenant;
	audit_import(&who, o->file, "ok", NULL, p.pairing, &st);
	if (st.applied)
		printf("applied %d of %d changesets (%lld rows)\n", st.applied, st.changesets, st.rows);
	else
		printf("already applied: this bundle was imported before; nothing changed\n");
	/* The reply goes where the bundle came from, unless told otherwise. */
	snprintf(dir, sizeof dir, "%s", o->file);
	if (sync_bundle_write(&p, o->ack_to ? o->ack_to : dirname(dir), &who, &reply, err, sizeof err) < 0) {
		audit_sign_head();
		fprintf(stderr, "gatehouse sync import: applied, but the acknowledgement bundle could not be written: %s\n",
			err);
		return 1;
	}
	audit_sign_head();
	printf("acknowledgement bundle to carry back: %s\n", reply.path);
	return 0;
}

static void print_site(const cJSON *s)
{
	const cJSON *c = cJSON_GetObjectItem(s, "central"), *m = cJSON_GetObjectItem(s, "minutes_since_sync"),
		    *e = cJSON_GetObjectItem(s, "last_error"), *streams = cJSON_GetObjectItem(s, "streams"), *x;

	printf("site of the central %s (appliance %s)\n", cJSON_GetObjectItem(c, "url")->valuestring,
	       cJSON_GetObjectItem(c, "appliance_id")->valuestring);
	printf("pairing %d, tenant %d, site %d\n", cJSON_GetObjectItem(s, "pairing_id")->valueint,
	       cJSON_GetObjectItem(s, "tenant_id")->valueint, cJSON_GetObjectItem(s, "site_id")->valueint);
	if (cJSON_IsNumber(m))
		printf("last synced %d minute%s ago\n", m->valueint, m->valueint == 1 ? "" : "s");
	else
		printf("never synced yet\n");
	if (cJSON_IsString(e))
		printf("last error (%d failure%s in a row): %s\n", cJSON_GetObjectItem(s, "failures")->valueint,
		       cJSON_GetObjectItem(s, "failures")->valueint == 1 ? "" : "s", e->valuestring);
	cJSON_ArrayForEach(x, streams)
	{
		const cJSON *a = cJSON_GetObjectItem(x, "applied");
		if (a)
			printf("  %-8s applied up to %.0f\n", x->string, a->valuedouble);
		else
			printf("  %-8s acknowledged up to %.0f, %.0f pending\n", x->string,
			       cJSON_GetObjectItem(x, "acked")->valuedouble, cJSON_GetObjectItem(x, "pending")->valuedouble);
	}
}

static int status(int json)
{
	cJSON *s = sync_status_json(-1), *p;
	const char *role = cJSON_GetObjectItem(s, "role")->valuestring;

	if (json)
		print_json(s);
	else if (strcmp(role, "site") == 0)
		print_site(s);
	else if (strcmp(role, "central") == 0) {
		printf("central with these pairings:\n");
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(s, "pairings"))
		{
			const cJSON *last = cJSON_GetObjectItem(p, "last_contact_at");
			printf("  pairing %d: site %d (%s), %s, last contact %s\n", cJSON_GetObjectItem(p, "id")->valueint,
			       cJSON_GetObjectItem(p, "site_id")->valueint, cJSON_GetObjectItem(p, "site_name")->valuestring,
			       cJSON_GetObjectItem(p, "state")->valuestring,
			       cJSON_IsString(last) ? last->valuestring : "never");
		}
	} else
		printf("not paired: neither a site nor a central\n");
	cJSON_Delete(s);
	return 0;
}

int cmd_sync(struct cmd_env *env)
{
	struct opts o = {0};
	const char *sub = env->argc ? env->argv[0] : "";
	int rc;

	if (strcmp(sub, "pair") && strcmp(sub, "export") && strcmp(sub, "import") && strcmp(sub, "status")) {
		fputs(sync_usage, stderr);
		return 2;
	}
	int json = env->argc == 2 && strcmp(sub, "status") == 0 && strcmp(env->argv[1], "--json") == 0;
	if (!json && parse(env->argc, env->argv, &o) < 0)
		return 2;
	if (strcmp(sub, "status") == 0 && env->argc > 1 && !json) {
		fputs(sync_usage, stderr);
		return 2;
	}
	if (cmd_open_store(NULL) < 0)
		return 1;
	if (strcmp(sub, "pair") == 0)
		rc = pair(&o);
	else if (strcmp(sub, "export") == 0)
		rc = export_bundle(&o);
	else if (strcmp(sub, "import") == 0)
		rc = import_bundle(&o);
	else
		rc = status(json);
	cmd_close_store();
	return rc;
}
