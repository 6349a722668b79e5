/* gatehouse devsim: the door-terminal simulator (appliance/devsim/), the
 * demo, load generator and reference client of docs/device-protocol.md.
 * This file reads the options; devsim_run does the rest. */
#include "cmd.h"

#include "core/log.h"
#include "devsim/devsim.h"
#include "devsim/util.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
	"usage: gatehouse devsim --dir DIR [options]\n"
	"\n"
	"Simulates door terminals: each enrols (or uses a bundle), connects over MQTT with\n"
	"mutual TLS, syncs, reads cards, decides locally, buffers events on disk through\n"
	"outages, and carries out commands and firmware updates. Prints one JSON summary\n"
	"line on stdout at the end (done, --duration, SIGINT or SIGTERM).\n"
	"\n"
	"where the appliance is:\n"
	"  --appliance HOST        address or name (default 127.0.0.1)\n"
	"  --mqtt-port P           device link port (default 8883)\n"
	"  --web-port P            HTTPS port, for enrolment (default 8443)\n"
	"  --web-ca FILE           HTTPS certificate to trust when enrolling (default\n"
	"                          STATE/tls/server.crt when readable; STATE is --state-dir)\n"
	"  --tls-name NAME         name the appliance's certificates must carry (default:\n"
	"                          HOST, or localhost when HOST is an IP address)\n"
	"\n"
	"terminals:\n"
	"  --dir DIR               devsim's own state, one subdirectory per terminal\n"
	"                          (required; a restart continues where it stopped)\n"
	"  --devices N             terminals to run (default 1)\n"
	"  --api-token TOKEN       admin API token (scope manage) to create missing terminals\n"
	"  --api-token-file FILE   the same, read from FILE (keeps it out of ps)\n"
	"  --bundle                enrol with ready bundles instead of own keys and CSRs\n"
	"  --model M               model reported and refused-if-different for firmware\n"
	"                          (default GH-SIM)\n"
	"  --firmware V            firmware version of new terminals (default 1.0.0)\n"
	"\n"
	"badges:\n"
	"  --rate R                card reads per second per terminal, fractions allowed;\n"
	"                          0 = none (default 1); a terminal starts reading once\n"
	"                          it has synced a local copy\n"
	"  --events N              each terminal reads exactly N cards, then devsim exits\n"
	"                          once every event is acknowledged\n"
	"  --duration S            stop after S seconds (then up to 5 s for the last acks)\n"
	"  --cards FILE            card numbers to read, one a line (default: random\n"
	"                          12-digit numbers, which nobody holds)\n"
	"  --unknown-cards F       share of reads that are unknown cards (default 0.05)\n"
	"  --clock-skew MS         terminal clocks start this far off (default 0)\n"
	"\n"
	"connection:\n"
	"  --keepalive S           MQTT keep-alive (default 30)\n"
	"  --batch B               events per publish when catching up (default 64, max 256)\n"
	"  --max-backoff MS        longest reconnect wait (default 60000)\n"
	"  --connect-rate N        new connections per 100 ms (default 200)\n"
	"  --max-handshakes N      connections being set up at once (default 256)\n"
	"\n"
	"testing and output:\n"
	"  --fail-firmware-hash    damage one byte of each downloaded image and report it\n"
	"                          installed: the appliance must record the rollout failed\n"
	"  --stats S               a stats line on stderr every S seconds\n"
	"  --quiet                 only warnings and errors on stderr\n";

struct parser {
	struct cmd_env *env;
	int i;
	const char *name;
};

/* "--name VALUE" or "--name=VALUE". */
static const char *value(struct parser *p, const char *name, int *bad)
{
	const char *a = p->env->argv[p->i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (p->i + 1 >= p->env->argc) {
		fprintf(stderr, "gatehouse devsim: %s needs a value\n", name);
		*bad = 1;
		return NULL;
	}
	return p->env->argv[++p->i];
}

static int number(const char *name, const char *v, double min, double max, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= min && d <= max)) {
		fprintf(stderr, "gatehouse devsim: %s: '%s' is not a number from %g to %g\n", name, v, min, max);
		return -1;
	}
	*out = d;
	return 0;
}

static int whole(const char *name, const char *v, long long min, long long max, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max) {
		fprintf(stderr, "gatehouse devsim: %s: '%s' is not a whole number from %lld to %lld\n", name, v, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Model and version names go into JSON and file names: keep them tame. */
static int tame(const char *name, const char *v)
{
	size_t n = strlen(v);

	if (n < 1 || n > 64 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+") != n) {
		fprintf(stderr, "gatehouse devsim: %s: 1 to 64 letters, digits, '.', '_', '-' or '+'\n", name);
		return -1;
	}
	return 0;
}

/* The token: the first line of the file, without blanks around it. */
static char *read_token(const char *path)
{
	size_t len = 0;
	char *text = ds_read_file(path, 4096, &len), *start, *end;
	char *tok;

	if (!text) {
		fprintf(stderr, "gatehouse devsim: --api-token-file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	start = text + strspn(text, " \t\r\n");
	end = start + strcspn(start, "\r\n");
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	tok = *start ? strdup(start) : NULL;
	if (!*start)
		fprintf(stderr, "gatehouse devsim: --api-token-file %s is empty\n", path);
	sodium_memzero(text, len);
	free(text);
	return tok;
}

struct raw {
	const char *rate, *events, *duration, *devices, *batch, *keepalive, *skew, *stats, *backoff, *unknown;
	const char *mqtt_port, *web_port, *connect_rate, *handshakes, *token, *token_file;
};

static int parse_args(struct cmd_env *env, struct devsim_opts *o, struct raw *r)
{
	struct parser p = {env, 0, NULL};
	int bad = 0;

	for (p.i = 0; p.i < env->argc && !bad; p.i++) {
		const char *a = env->argv[p.i], *v;
		static const struct {
			const char *name;
			size_t off;
			int raw;
		} opts[] = {
#define OPT(n, f) {n, offsetof(struct devsim_opts, f), 0}
#define RAW(n, f) {n, offsetof(struct raw, f), 1}
			OPT("--appliance", appliance), OPT("--web-ca", web_ca), OPT("--tls-name", tls_name),
			OPT("--dir", dir), OPT("--cards", cards_file), OPT("--model", model), OPT("--firmware", firmware),
			RAW("--rate", rate), RAW("--events", events), RAW("--duration", duration),
			RAW("--devices", devices), RAW("--batch", batch), RAW("--keepalive", keepalive),
			RAW("--clock-skew", skew), RAW("--stats", stats), RAW("--max-backoff", backoff),
			RAW("--unknown-cards", unknown), RAW("--mqtt-port", mqtt_port), RAW("--web-port", web_port),
			RAW("--connect-rate", connect_rate), RAW("--max-handshakes", handshakes),
			RAW("--api-token", token), RAW("--api-token-file", token_file),
#undef OPT
#undef RAW
		};
		int found = 0;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(help, stdout);
			return 1;
		}
		if (!strcmp(a, "--bundle")) {
			o->bundle = 1;
			continue;
		}
		if (!strcmp(a, "--quiet")) {
			o->quiet = 1;
			continue;
		}
		if (!strcmp(a, "--fail-firmware-hash")) {
			o->fail_firmware_hash = 1;
			continue;
		}
		for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !found && !bad; k++) {
			if (!(v = value(&p, opts[k].name, &bad)))
				continue;
			*(const char **)((char *)(opts[k].raw ? (void *)r : (void *)o) + opts[k].off) = v;
			found = 1;
		}
		if (!found && !bad) {
			fprintf(stderr, "gatehouse devsim: unknown option '%s' (see gatehouse devsim --help)\n", a);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static int check_numbers(struct devsim_opts *o, const struct raw *r)
{
	long long n;
	double d;

#define WHOLE(field, name, min, max, dst)                                  \
	if (r->field) {                                                    \
		if (whole(name, r->field, min, max, &n) < 0)               \
			return -1;                                         \
		dst = n;                                                   \
	}
#define REAL(field, name, min, max, dst)                                   \
	if (r->field) {                                                    \
		if (number(name, r->field, min, max, &d) < 0)              \
			return -1;                                         \
		dst = d;                                                   \
	}
	WHOLE(devices, "--devices", 1, 200000, o->devices);
	WHOLE(events, "--events", 0, 1000000000LL, o->events);
	WHOLE(batch, "--batch", 1, DEVSIM_BATCH_MAX, o->batch);
	WHOLE(keepalive, "--keepalive", 0, 65535, o->keepalive);
	/* Within a year: the appliance refuses event times before 2000. */
	WHOLE(skew, "--clock-skew", -365LL * 86400000, 365LL * 86400000, o->clock_skew_ms);
	WHOLE(backoff, "--max-backoff", 1, 3600000, o->max_backoff_ms);
	WHOLE(mqtt_port, "--mqtt-port", 1, 65535, o->mqtt_port);
	WHOLE(web_port, "--web-port", 1, 65535, o->web_port);
	WHOLE(connect_rate, "--connect-rate", 1, 100000, o->connect_rate);
	WHOLE(handshakes, "--max-handshakes", 1, 100000, o->max_handshakes);
	REAL(rate, "--rate", 0, 100000, o->rate);
	REAL(duration, "--duration", 0, 1e9, o->duration);
	REAL(stats, "--stats", 0, 1e6, o->stats_every);
	REAL(unknown, "--unknown-cards", 0, 1, o->unknown_share);
#undef WHOLE
#undef REAL
	return 0;
}

static int check(struct devsim_opts *o, const struct raw *r, char **token)
{
	if (check_numbers(o, r) < 0 || tame("--model", o->model) < 0 || tame("--firmware", o->firmware) < 0)
		return -1;
	if (!o->dir) {
		fprintf(stderr, "gatehouse devsim: --dir DIR is required (devsim's own state)\n");
		return -1;
	}
	if (o->events > 0 && o->rate <= 0) {
		fprintf(stderr, "gatehouse devsim: --events needs a --rate above 0\n");
		return -1;
	}
	if (r->token && r->token_file) {
		fprintf(stderr, "gatehouse devsim: give --api-token or --api-token-file, not both\n");
		return -1;
	}
	if (r->token && !(*token = strdup(r->token)))
		return -1;
	if (r->token_file && !(*token = read_token(r->token_file)))
		return -1;
	o->api_token = *token;
	if (o->web_ca && access(o->web_ca, R_OK) != 0) {
		fprintf(stderr, "gatehouse devsim: --web-ca %s: %s\n", o->web_ca, strerror(errno));
		return -1;
	}
	if (o->cards_file && access(o->cards_file, R_OK) != 0) {
		fprintf(stderr, "gatehouse devsim: --cards %s: %s\n", o->cards_file, strerror(errno));
		return -1;
	}
	return 0;
}

int cmd_devsim(struct cmd_env *env)
{
	struct devsim_opts o = {
		.appliance = "127.0.0.1", .mqtt_port = 8883, .web_port = 8443, .devices = 1, .unknown_share = 0.05,
		.rate = 1, .events = -1, .batch = 64, .keepalive = 30, .max_backoff_ms = 60000, .model = "GH-SIM",
		.firmware = "1.0.0", .connect_rate = 200, .max_handshakes = 256,
	};
	struct raw r;
	char *token = NULL, web_ca[4200];
	int rc;

	memset(&r, 0, sizeof r);
	rc = parse_args(env, &o, &r);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (check(&o, &r, &token) < 0) {
		free(token);
		return 2;
	}
	/* On the appliance's own box the certificate is at hand. */
	if (!o.web_ca && snprintf(web_ca, sizeof web_ca, "%s/tls/server.crt", cfg_str(CFG_STATE_DIR)) < (int)sizeof web_ca &&
	    access(web_ca, R_OK) == 0)
		o.web_ca = web_ca;
	if (o.quiet && log_get_level() > LOG_WARN)
		log_set_level(LOG_WARN);
	if (sodium_init() < 0) {
		fprintf(stderr, "gatehouse devsim: libsodium cannot initialise\n");
		free(token);
		return 1;
	}
	rc = devsim_run(&o);
	if (token) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	return rc;
}
