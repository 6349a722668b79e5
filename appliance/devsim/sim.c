/* sim: the simulator's run: set-up (state directory, card numbers,
 * enrolment of missing terminals), then one epoll loop driving every
 * terminal, then an orderly stop and the summary line. */
#include "devsim/devsim.h"

#include "core/log.h"
#include "devsim/enroll.h"
#include "devsim/https.h"
#include "devsim/term.h"
#include "devsim/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define TICK_MS 10
#define BUDGET_EVERY_MS 100
#define DRAIN_MS 5000 /* after --duration: time for the last PUBACKs */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Thousands of terminals are thousands of sockets. */
static void raise_nofile(int devices)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	/* Each terminal: its connection and its event log; plus a few. */
	if (rl.rlim_cur < (rlim_t)devices * 2 + 64)
		log_warn("devsim: the open-file limit (%llu) is low for %d terminals; raise it (ulimit -n)",
			 (unsigned long long)rl.rlim_cur, devices);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0 || !res) {
		snprintf(err, errlen, "--appliance %s: %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int is_ip_literal(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* mbedTLS 2.28 matches DNS names only, not IP addresses, against the
 * certificate; the appliance's certificates always name "localhost". */
static const char *tls_name(const struct devsim_opts *o)
{
	if (o->tls_name)
		return o->tls_name;
	return is_ip_literal(o->appliance) ? "localhost" : o->appliance;
}

static int term_dir(const struct devsim_opts *o, int index, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/devsim-%d", o->dir, index);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int lock_dir(const char *dir, int *fd)
{
	char path[4200];

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_err("devsim: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (ds_path(path, sizeof path, dir, "devsim.lock") < 0 ||
	    (*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_err("devsim: %s/devsim.lock: %s", dir, strerror(errno));
		return -1;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("devsim: another devsim is using %s", dir);
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

/* Terminals DIR/devsim-1 .. N all get an identity, made via the API for
 * those that lack one. */
static int ensure_terminals(const struct devsim_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct https api;
	char dir[4200], err[512], host[300];
	int missing = 0, have = 0, done = 0, rc = 0;

	for (int i = 1; i <= o->devices; i++) {
		if (term_dir(o, i, dir, sizeof dir) < 0)
			return -1;
		if (store_has_identity(dir))
			have++;
		else
			missing++;
	}
	if (!missing)
		return 0;
	if (!o->api_token) {
		log_err("devsim: %s holds %d of the %d terminals asked for; give --api-token (or --api-token-file) to "
			"create the others", o->dir, have, o->devices);
		return -1;
	}
	if (!o->web_ca) {
		log_err("devsim: enrolling needs the appliance's HTTPS certificate to trust: --web-ca FILE");
		return -1;
	}
	if (resolve(o->appliance, o->web_port, &ss, &sslen, err, sizeof err) < 0) {
		log_err("devsim: %s", err);
		return -1;
	}
	snprintf(host, sizeof host, strchr(o->appliance, ':') ? "[%s]:%d" : "%s:%d", o->appliance, o->web_port);
	if (https_init(&api, (struct sockaddr *)&ss, sslen, host, o->web_ca, tls_name(o), o->api_token, err,
		       sizeof err) < 0) {
		log_err("devsim: %s", err);
		https_free(&api);
		return -1;
	}
	api.quiet = o->quiet;
	if (!o->quiet)
		fprintf(stderr, "devsim: enrolling %d terminal(s) with %s\n", missing, o->bundle ? "bundles" : "CSRs");
	for (int i = 1; i <= o->devices && !stop_signal; i++) {
		if (term_dir(o, i, dir, sizeof dir) < 0 || store_has_identity(dir))
			continue;
		if (enroll_terminal(o, &api, dir, i, err, sizeof err) < 0) {
			log_err("devsim: devsim-%d: %s", i, err);
			rc = -1;
			break;
		}
		if (!o->quiet && (++done % 100 == 0 || done == missing))
			fprintf(stderr, "devsim: enrolled %d of %d\n", done, missing);
	}
	https_free(&api);
	return stop_signal ? -1 : rc;
}

/* Every terminal must trust the same device CA: the shared TLS settings. */
static int setup_tls(struct devsim_ctx *ctx, const struct devsim_opts *o)
{
	char dir[4200], path[4200], err[300];
	char *first = NULL;
	int rc = -1;

	for (int i = 1; i <= o->devices; i++) {
		char *pem;
		if (term_dir(o, i, dir, sizeof dir) < 0 || ds_path(path, sizeof path, dir, "ca.pem") < 0 ||
		    !(pem = ds_read_file(path, 65536, NULL))) {
			log_err("devsim: %s: %s", path, strerror(errno));
			goto out;
		}
		if (!first) {
			first = pem;
			continue;
		}
		if (strcmp(first, pem) != 0) {
			log_err("devsim: devsim-%d trusts another device CA than devsim-1: the terminals in %s were "
				"enrolled with different appliances", i, o->dir);
			free(pem);
			goto out;
		}
		free(pem);
	}
	if (mqttc_tls_init(&ctx->tls, first, tls_name(o), err, sizeof err) < 0) {
		log_err("devsim: %s", err);
		goto out;
	}
	rc = 0;
out:
	free(first);
	return rc;
}

static unsigned long long buffered(struct term *terms, int n)
{
	unsigned long long b = 0;

	for (int i = 0; i < n; i++)
		b += evq_len(&terms[i].q);
	return b;
}

static void print_stats(const struct devsim_ctx *ctx, struct term *terms, int n, long long start,
			const struct devsim_stats *prev, double secs)
{
	int online = 0;

	for (int i = 0; i < n; i++)
		online += terms[i].state == T_ONLINE;
	fprintf(stderr,
		"devsim: %.0f s: %d/%d online, events %llu generated (%.1f/s) %llu acked (%.1f/s) %llu buffered, "
		"%llu connects %llu disconnects, commands %llu done %llu failed, syncs %llu full %llu delta\n",
		(double)(ctx->now - start) / 1000.0, online, n, ctx->st.events_generated,
		(double)(ctx->st.events_generated - prev->events_generated) / secs, ctx->st.events_acked,
		(double)(ctx->st.events_acked - prev->events_acked) / secs, buffered(terms, n), ctx->st.connects,
		ctx->st.disconnects, ctx->st.commands_done, ctx->st.commands_failed, ctx->st.syncs_full,
		ctx->st.syncs_delta);
}

static void print_summary(const struct devsim_ctx *ctx, struct term *terms, int n, double elapsed)
{
	const struct devsim_stats *s = &ctx->st;

	printf("{\"devices\":%d,\"events_generated\":%llu,\"events_acked\":%llu,\"events_buffered\":%llu,"
	       "\"duplicates_resent\":%llu,\"connects\":%llu,\"disconnects\":%llu,\"commands_done\":%llu,"
	       "\"commands_failed\":%llu,\"firmware_done\":%llu,\"syncs_full\":%llu,\"syncs_delta\":%llu,"
	       "\"decisions\":{\"granted\":%llu,\"denied\":%llu},\"elapsed_s\":%.1f}\n",
	       n, s->events_generated, s->events_acked, buffered(terms, n), s->duplicates_resent, s->connects,
	       s->disconnects, s->commands_done, s->commands_failed, s->firmware_done, s->syncs_full, s->syncs_delta,
	       s->granted, s->denied, elapsed);
	fflush(stdout);
}

static int all_done(struct term *terms, int n)
{
	for (int i = 0; i < n; i++)
		if (!term_done(&terms[i]))
			return 0;
	return 1;
}

/* The loop: I/O, then every terminal's timers, until done or told. */
static void run_loop(struct devsim_ctx *ctx, struct term *terms, int n)
{
	const struct devsim_opts *o = ctx->o;
	struct epoll_event evs[1024];
	struct devsim_stats prev = ctx->st;
	long long start = ds_mono_ms(), last_budget = 0, last_stats = start, last_check = 0, drain_until = 0;

	for (;;) {
		int got = epoll_wait(ctx->epfd, evs, 1024, TICK_MS);

		ctx->now = ds_mono_ms();
		for (int i = 0; i < got; i++)
			term_io(evs[i].data.ptr, evs[i].events);
		/* Connects are spread out: a 5,000-terminal start (or return
		 * after an outage) must not storm the appliance's handshakes. */
		if (ctx->now - last_budget >= BUDGET_EVERY_MS) {
			ctx->connect_budget = o->connect_rate;
			last_budget = ctx->now;
		}
		for (int i = 0; i < n; i++)
			term_tick(&terms[i]);
		if (o->stats_every > 0 && ctx->now - last_stats >= (long long)(o->stats_every * 1000)) {
			print_stats(ctx, terms, n, start, &prev, (double)(ctx->now - last_stats) / 1000.0);
			prev = ctx->st;
			last_stats = ctx->now;
		}
		if (stop_signal)
			return;
		if (o->duration > 0 && !ctx->stopping && ctx->now - start >= (long long)(o->duration * 1000)) {
			ctx->stopping = 1;
			drain_until = ctx->now + DRAIN_MS;
		}
		if (ctx->now - last_check >= BUDGET_EVERY_MS) {
			last_check = ctx->now;
			if (o->events >= 0 && all_done(terms, n))
				return;
			if (ctx->stopping && (buffered(terms, n) == 0 || ctx->now >= drain_until))
				return;
		}
	}
}

int devsim_run(const struct devsim_opts *o)
{
	struct devsim_ctx ctx;
	struct term *terms = NULL;
	struct sigaction sa;
	char err[600], dir[4200];
	int lockfd = -1, loaded = 0, rc = 1;
	long long t0 = ds_mono_ms();

	memset(&ctx, 0, sizeof ctx);
	ctx.o = o;
	ctx.epfd = -1;
	ds_rand_seed(0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	raise_nofile(o->devices);
	if (lock_dir(o->dir, &lockfd) < 0)
		return 1;
	if (cards_load(&ctx.cards, o->cards_file, o->unknown_share, err, sizeof err) < 0) {
		log_err("devsim: --cards %s", err);
		goto out;
	}
	if (resolve(o->appliance, o->mqtt_port, &ctx.addr, &ctx.addrlen, err, sizeof err) < 0) {
		log_err("devsim: %s", err);
		goto out;
	}
	if (ensure_terminals(o) < 0) {
		if (stop_signal) {
			/* Stopped while enrolling: an orderly end, nothing run. */
			print_summary(&ctx, NULL, 0, (double)(ds_mono_ms() - t0) / 1000.0);
			rc = 0;
		}
		goto out_cards;
	}
	if (setup_tls(&ctx, o) < 0)
		goto out_cards;
	ctx.scratch_len = DEVSIM_BATCH_MAX * 512 + 64;
	if (!(ctx.scratch = malloc(ctx.scratch_len)) || !(terms = calloc((size_t)o->devices, sizeof *terms)) ||
	    (ctx.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_err("devsim: cannot set up: %s", strerror(errno));
		goto out_tls;
	}
	ctx.now = ds_mono_ms();
	for (; loaded < o->devices; loaded++) {
		if (term_dir(o, loaded + 1, dir, sizeof dir) < 0 ||
		    term_load(&terms[loaded], &ctx, dir, err, sizeof err) < 0) {
			log_err("devsim: %s", err);
			term_free(&terms[loaded]);
			goto out_terms;
		}
	}
	if (!o->quiet)
		fprintf(stderr, "devsim: %d terminal(s) from %s, appliance %s (MQTT port %d)\n", o->devices, o->dir,
			o->appliance, o->mqtt_port);
	run_loop(&ctx, terms, o->devices);
	ctx.now = ds_mono_ms();
	for (int i = 0; i < loaded; i++)
		term_stop(&terms[i]);
	print_summary(&ctx, terms, o->devices, (double)(ds_mono_ms() - t0) / 1000.0);
	rc = 0;
out_terms:
	for (int i = 0; i < loaded; i++)
		term_free(&terms[i]);
out_tls:
	if (ctx.tls.hostname[0])
		mqttc_tls_free(&ctx.tls);
out_cards:
	cards_free(&ctx.cards);
out:
	free(terms);
	free(ctx.scratch);
	if (ctx.epfd >= 0)
		close(ctx.epfd);
	close(lockfd);
	return rc;
}
