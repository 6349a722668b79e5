/* bench_devlink: the device link under load, against the real binary, with
 * Debian's mosquitto (TLS, the same client certificates) as the reference.
 *
 * On a fresh directory /tmp/gh-bench-devlink-XXXXXX (removed at the end):
 *   set-up: seeds the state in-process before the appliance first starts
 *     (one site, 100 doors, a schedule open all week, one access group
 *     covering every door, BENCH_DEVLINK_PEOPLE people with a card each),
 *     makes an admin, starts BUILD/gatehouse serve on 127.0.0.1 with the
 *     API and login limits raised, makes an API token, and has `gatehouse
 *     devsim` enrol the largest terminal count with bundles; door i goes
 *     to terminal i (i <= 100) and those 100 sync once;
 *   events: 100 terminals read BENCH_DEVLINK_EVENTS cards each as fast as
 *     devsim can (--rate 5000) and publish them. Stored events/s is the
 *     appliance's side: max(id) of the events table sampled every 100 ms,
 *     from 10% to 90% of the load. Every event must be stored once (per
 *     terminal seq 1..N). The baseline, in the same run: the same number
 *     of rows into a plain SQLite file with the events table's own schema
 *     and the appliance's pragmas, in transactions of as many rows as the
 *     appliance committed at a time (from the wal-index change counter);
 *   mosquitto: the same load against mosquitto; its rate is what devsim
 *     saw acknowledged (the appliance's is compared the same way);
 *   terminals: for each count of BENCH_DEVLINK_TERMINALS (default
 *     1000,5000), first against a freshly started appliance, then against a
 *     fresh mosquitto: devsim connects them all (--rate 0), resident memory
 *     (VmRSS) 3 s after all are online, then BENCH_DEVLINK_COMMANDS unlock
 *     commands one at a time to the first 100 terminals. Appliance: from
 *     POST /api/v1/devices/{id}/commands until the command's row is `done`
 *     (the terminal's ack stored). mosquitto: a controller client publishes
 *     the same command to gh/v1/<uid>/commands and waits for the terminal's
 *     message on gh/v1/<uid>/commands/ack.
 * BENCH_QUICK=1: 300 people, counts 300,600, 50 commands. Output:
 * tab-separated rows (benchmark, figure, unit, ratio) for tests/bench/run.sh;
 * diagnostics on stderr. Timings are never judged; the exit status is 1
 * only when something fails (an event lost, a command not done, a process
 * that does not start).
 *
 * Clean-up survives a crash or a signal: a janitor process forked first
 * waits for this process to end, stops the server, devsim and mosquitto if
 * they still run and removes the directory; every child also gets a signal
 * from the kernel when this process dies (PR_SET_PDEATHSIG). */
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault.h"
#include "devlink/mqtt.h"
#include "domain/entity.h"
#include "domain/people.h"
#include "tls/certgen.h"
#include "tls/policy.h"
#include "web/json.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TENANT VAULT_DEFAULT_TENANT
#define NTERM 100 /* terminals of the event load and of the commands; terminal i has door i */
#define ADMIN_USER "bench"
#define ADMIN_PASSWORD "Bench-Passw0rd!1"
#define MOSQUITTO "/usr/sbin/mosquitto"
#define OPENSSL "/usr/bin/openssl"
#define CONTROLLER "bench-controller" /* CN of the command sender's certificate at mosquitto */
#define CARD_RATE "5000"              /* cards/s per terminal asked of devsim: as fast as it goes */
#define MAX_COUNTS 4

static const char *me = "bench_devlink";
static int failures;

/* Settings (environment). */
static unsigned n_people = 2000;
static long events_per_term = 3000;
static unsigned counts[MAX_COUNTS] = {1000, 5000};
static int n_counts = 2;
static int n_commands = 200;
static int want_mosquitto = 1;

/* --- measuring and reporting ------------------------------------------------ */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAILED: ", me);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", me);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* One row; a negative figure is printed as "failed". */
static void row(double figure, int decimals, const char *unit, const char *ratio, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void row(double figure, int decimals, const char *unit, const char *ratio, const char *fmt, ...)
{
	char name[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	if (figure >= 0)
		printf("devlink: %s\t%.*f\t%s\t%s\n", name, decimals, figure, unit, ratio ? ratio : "");
	else
		printf("devlink: %s\tfailed\t%s\t\n", name, unit);
}

/* "1k", "5k", "300". */
static const char *count_label(unsigned n)
{
	static char bufs[4][24];
	static unsigned next;
	char *buf = bufs[next++ % 4];

	if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, 24, "%uk", n / 1000);
	else
		snprintf(buf, 24, "%u", n);
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return -1;
	qsort(v, n, sizeof *v, cmp_double);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* CPU seconds (user + system, all threads, also finished ones) of a
 * process from /proc/PID/stat; -1 when unknown. */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of a process in KiB; -1 when unknown. */
static long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* --- child processes and clean-up ------------------------------------------- */

static int janitor_fd = -1; /* write end; the janitor cleans up when it closes */
static pid_t janitor_pid = -1;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* The janitor waits for the pipe to close (this process ended, however),
 * then removes base, retrying while the children, which the kernel
 * signals when this process dies (PR_SET_PDEATHSIG), shut down. It ignores
 * the signals a terminal sends the group. */
static void janitor(int fd, const char *base)
{
	int devnull = open("/dev/null", O_RDWR);
	char c;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO); /* never hold run.sh's pipe open */
	}
	while (read(fd, &c, 1) != 0 && errno == EINTR)
		;
	for (int i = 0; i < 300; i++) {
		if (nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT)
			_exit(0);
		usleep(100000);
	}
	fprintf(stderr, "%s: janitor: cannot remove %s\n", me, base);
	_exit(1);
}

static int janitor_start(const char *base)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	janitor_pid = fork();
	if (janitor_pid < 0)
		return -1;
	if (janitor_pid == 0) {
		close(p[1]);
		janitor(p[0], base);
	}
	close(p[0]);
	janitor_fd = p[1];
	return 0;
}

/* Close the pipe and wait: when this returns, the directory is gone. */
static void janitor_finish(void)
{
	if (janitor_fd >= 0)
		close(janitor_fd);
	janitor_fd = -1;
	if (janitor_pid > 0)
		while (waitpid(janitor_pid, NULL, 0) < 0 && errno == EINTR)
			;
	janitor_pid = -1;
}

/* fork + exec argv[0] with the given descriptors (-1: /dev/null) as stdin,
 * stdout and stderr; the child gets deathsig when this process dies. */
static pid_t spawn(char *const argv[], int in, int out, int err, int deathsig)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	int devnull = open("/dev/null", O_RDWR);
	if (prctl(PR_SET_PDEATHSIG, deathsig) < 0 || getppid() != parent)
		_exit(126);
	dup2(in >= 0 ? in : devnull, STDIN_FILENO);
	dup2(out >= 0 ? out : devnull, STDOUT_FILENO);
	dup2(err >= 0 ? err : devnull, STDERR_FILENO);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", me, argv[0], strerror(errno));
	_exit(127);
}

/* Wait for pid up to timeout seconds, then SIGKILL it. Its exit status, or
 * -1 if it did not exit normally. */
static int reap(pid_t pid, double timeout)
{
	double until = now() + timeout;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now() < until)
		usleep(10000);
	if (r == 0) {
		note("process %d did not exit in %.0f s: killed", (int)pid, timeout);
		kill(pid, SIGKILL);
		r = waitpid(pid, &status, 0);
	}
	if (r < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run a short command to its end, its output to fd. Exit status. */
static int run(char *const argv[], double timeout, int fd)
{
	pid_t pid = spawn(argv, -1, fd, fd, SIGKILL);
	int rc;

	if (pid < 0)
		return -1;
	rc = reap(pid, timeout);
	return rc;
}

/* --- paths ------------------------------------------------------------------- */

static char base_dir[] = "/tmp/gh-bench-devlink-XXXXXX";
static char state[PATH_MAX], server_log[PATH_MAX], gatehouse_bin[PATH_MAX], sim_dir[PATH_MAX];
static char token_file[PATH_MAX], cards_file[PATH_MAX], server_crt[PATH_MAX], db_file[PATH_MAX];

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* --- an HTTPS client for the API ------------------------------------------------ */

/* Blocking, one keep-alive connection, TLS 1.2 with the appliance's policy,
 * trusting the appliance's self-signed certificate (it names localhost).
 * Sends the session cookie and CSRF token, or the API token, and any extra
 * headers. */
struct hc {
	int port;
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	int open;
	double last_used;
	char cookie[160], csrf[160], token[160];
};

struct hres {
	int status;
	char *body;        /* NUL-terminated, malloc'd */
	char etag[64];
	char cookie[160];  /* gh_session value from Set-Cookie */
};

static int hc_init(struct hc *h, int port, const char *ca_file)
{
	memset(h, 0, sizeof *h);
	h->port = port;
	mbedtls_net_init(&h->net);
	mbedtls_ssl_init(&h->ssl);
	mbedtls_ssl_config_init(&h->conf);
	mbedtls_x509_crt_init(&h->ca);
	if (mbedtls_x509_crt_parse_file(&h->ca, ca_file) != 0 ||
	    mbedtls_ssl_config_defaults(&h->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_rng(&h->conf, tls_random, NULL);
	tls_policy_apply(&h->conf);
	mbedtls_ssl_conf_authmode(&h->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&h->conf, &h->ca, NULL);
	mbedtls_ssl_conf_read_timeout(&h->conf, 30000);
	return 0;
}

static void hc_close(struct hc *h)
{
	if (!h->open)
		return;
	mbedtls_ssl_close_notify(&h->ssl);
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_init(&h->ssl);
	mbedtls_net_free(&h->net);
	mbedtls_net_init(&h->net);
	h->open = 0;
}

static void hc_free(struct hc *h)
{
	hc_close(h);
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_config_free(&h->conf);
	mbedtls_x509_crt_free(&h->ca);
	sodium_memzero(h->token, sizeof h->token);
}

static int hc_connect(struct hc *h)
{
	char port[16];
	int one = 1, rc;

	snprintf(port, sizeof port, "%d", h->port);
	if (mbedtls_net_connect(&h->net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP) != 0)
		return -1;
	setsockopt(h->net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (mbedtls_ssl_setup(&h->ssl, &h->conf) != 0 || mbedtls_ssl_set_hostname(&h->ssl, "localhost") != 0)
		goto fail;
	mbedtls_ssl_set_bio(&h->ssl, &h->net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&h->ssl)) != 0)
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto fail;
	h->open = 1;
	return 0;
fail:
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_init(&h->ssl);
	mbedtls_net_free(&h->net);
	mbedtls_net_init(&h->net);
	return -1;
}

/* The value of header name in the head (NUL-terminated), copied to out. */
static int header_value(const char *head, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " ");
			snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
			return 0;
		}
	}
	return -1;
}

/* One exchange on the open connection: 0, or -1 (nothing usable came). */
static int hc_exchange(struct hc *h, const char *req, size_t reqlen, struct hres *r)
{
	size_t cap = 16384, len = 0, head_len = 0;
	long long clen = -1;
	char *buf = malloc(cap + 1), *end, v[160];
	int rc, close_after = 0, have_head = 0;

	if (!buf)
		return -1;
	for (size_t off = 0; off < reqlen;) {
		rc = mbedtls_ssl_write(&h->ssl, (const unsigned char *)req + off, reqlen - off);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc <= 0)
			goto fail;
		off += (size_t)rc;
	}
	for (;;) {
		if (have_head && len >= head_len + (size_t)clen)
			break;
		if (len == cap) {
			char *bigger = realloc(buf, cap * 2 + 1);
			if (!bigger || cap > (64u << 20))
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		rc = mbedtls_ssl_read(&h->ssl, (unsigned char *)buf + len, cap - len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc <= 0)
			goto fail;
		len += (size_t)rc;
		buf[len] = '\0';
		if (!have_head && (end = strstr(buf, "\r\n\r\n"))) {
			have_head = 1;
			head_len = (size_t)(end - buf) + 4;
			*end = '\0';
			if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
				goto fail;
			if (header_value(buf, "Content-Length", v, sizeof v) == 0)
				clen = strtoll(v, NULL, 10);
			if (header_value(buf, "Connection", v, sizeof v) == 0 && strncasecmp(v, "close", 5) == 0)
				close_after = 1;
			header_value(buf, "ETag", r->etag, sizeof r->etag);
			if (header_value(buf, "Set-Cookie", v, sizeof v) == 0 && strncmp(v, "gh_session=", 11) == 0)
				snprintf(r->cookie, sizeof r->cookie, "%.*s", (int)strcspn(v + 11, ";"), v + 11);
			if (clen < 0)
				goto fail; /* the API always sends a length (no streams here) */
		}
	}
	memmove(buf, buf + head_len, (size_t)clen);
	buf[clen] = '\0';
	r->body = buf;
	if (close_after)
		hc_close(h);
	return 0;
fail:
	free(buf);
	hc_close(h);
	return -1;
}

/* A request with an optional JSON body and extra header lines ("If-Match:
 * \"3\"\r\n"). 0 with r filled (free r->body), or -1. */
static int hc_request(struct hc *h, const char *method, const char *path, const char *json, const char *extra,
		      struct hres *r)
{
	char auth[512] = "";
	char *req;
	size_t cap, blen = json ? strlen(json) : 0;
	int n, rc = -1;

	memset(r, 0, sizeof *r);
	if (h->token[0])
		snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", h->token);
	else if (h->cookie[0])
		snprintf(auth, sizeof auth, "Cookie: gh_session=%s\r\nX-CSRF-Token: %s\r\n", h->cookie, h->csrf);
	cap = blen + strlen(path) + strlen(auth) + (extra ? strlen(extra) : 0) + 256;
	if (!(req = malloc(cap)))
		return -1;
	n = snprintf(req, cap,
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n%s%s%sContent-Length: %zu\r\n\r\n",
		     method, path, auth, extra ? extra : "", json ? "Content-Type: application/json\r\n" : "", blen);
	if (json)
		memcpy(req + n, json, blen);
	/* The appliance drops keep-alive connections idle for 5 s. */
	if (h->open && now() - h->last_used > 4)
		hc_close(h);
	for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
		int reused = h->open;
		if (!h->open && hc_connect(h) < 0)
			break;
		rc = hc_exchange(h, req, (size_t)n + blen, r);
		if (rc < 0 && !reused)
			break;
	}
	sodium_memzero(req, cap);
	free(req);
	h->last_used = now();
	return rc;
}

/* A request whose answer must have status want; the parsed JSON answer
 * (NULL on failure, reported). */
static cJSON *api(struct hc *h, const char *method, const char *path, const char *json, const char *extra,
		  int want, struct hres *out)
{
	struct hres r;
	cJSON *doc;

	if (hc_request(h, method, path, json, extra, &r) < 0) {
		fail("%s %s: no answer from the appliance", method, path);
		return NULL;
	}
	if (r.status != want) {
		fail("%s %s: status %d (expected %d): %.300s", method, path, r.status, want, r.body);
		free(r.body);
		return NULL;
	}
	doc = cJSON_Parse(r.body);
	if (!doc)
		fail("%s %s: the answer is not JSON", method, path);
	if (out) {
		*out = r;
		out->body = NULL;
	}
	free(r.body);
	return doc;
}

/* --- seeding the state ------------------------------------------------------------ */

static int64_t door_ids[NTERM];

static int store_open(const char *dir)
{
	char err[700], db[PATH_MAX + 32], ks[PATH_MAX + 32];

	if (state_open(dir, err, sizeof err) < 0 || state_mkdir("keys", err, sizeof err) < 0) {
		fail("%s", err);
		return -1;
	}
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (db_open(db, ks, 5000, err, sizeof err) < 0 || vault_open(dir, err, sizeof err) < 0) {
		fail("%s", err);
		return -1;
	}
	return 0;
}

static int64_t make_entity(const struct entity *e, const char *json)
{
	cJSON *body = cJSON_Parse(json);
	struct jv v;
	int64_t id = -1;

	if (!body) {
		fail("bad JSON for %s: %s", e->kind, json);
		return -1;
	}
	jv_init(&v, body);
	entity_check(e, &v, TENANT, body, 0);
	if (v.errors) {
		char *text = cJSON_PrintUnformatted(v.errors);
		fail("%s rejected: %s", e->kind, text ? text : "?");
		free(text);
		cJSON_Delete(v.errors);
	} else if ((id = entity_create(e, TENANT, body)) < 0) {
		fail("entity_create %s failed: %s", e->kind, sqlite3_errmsg(db_get()));
	}
	cJSON_Delete(body);
	return id;
}

/* Person i's card: ten digits, distinct for every i. */
static void card_of(uint32_t i, char out[16])
{
	snprintf(out, 16, "%010u", (i + 1) * 2654435761u);
}

/* The site, doors, schedule, group, level, people and their cards; the
 * card numbers also go to cards_file for devsim. 0 or -1. */
static int seed(void)
{
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	char json[8192], text[64], token[64];
	const char *conflict;
	cJSON *person = cJSON_CreateObject(), *card = cJSON_CreateObject(), *name, *email, *groups, *number;
	int64_t site, sched, group;
	size_t o;
	FILE *cards;
	int rc = 0;

	if (!(cards = fopen(cards_file, "w")))
		return fail("cannot write %s", cards_file), -1;
	if (db_begin() < 0)
		return fclose(cards), fail("BEGIN failed"), -1;
	site = make_entity(&entity_sites, "{\"name\": \"Bench site\", \"timezone\": \"Europe/Berlin\"}");
	for (int d = 0; d < NTERM && site > 0; d++) {
		snprintf(json, sizeof json, "{\"site_id\": %lld, \"name\": \"Door %d\"}", (long long)site, d + 1);
		door_ids[d] = make_entity(&entity_doors, json);
	}
	o = (size_t)snprintf(json, sizeof json, "{\"name\": \"Always\", \"windows\": [");
	for (int d = 0; d < 7; d++)
		o += (size_t)snprintf(json + o, sizeof json - o, "%s{\"day\": \"%s\", \"start\": \"00:00\", \"end\": \"24:00\"}",
				      d ? ", " : "", days[d]);
	snprintf(json + o, sizeof json - o, "]}");
	sched = make_entity(&entity_schedules, json);
	group = make_entity(&entity_access_groups, "{\"name\": \"Everyone\"}");
	o = (size_t)snprintf(json, sizeof json, "{\"name\": \"Every door\", \"group_id\": %lld, \"schedule_id\": %lld, \"door_ids\": [",
			     (long long)group, (long long)sched);
	for (int d = 0; d < NTERM; d++)
		o += (size_t)snprintf(json + o, sizeof json - o, "%s%lld", d ? ", " : "", (long long)door_ids[d]);
	snprintf(json + o, sizeof json - o, "]}");
	make_entity(&entity_access_levels, json);
	name = cJSON_AddStringToObject(person, "name", "Person 0000000");
	email = cJSON_AddStringToObject(person, "email", "person.0000000@example.org");
	groups = cJSON_AddArrayToObject(person, "group_ids");
	cJSON_AddItemToArray(groups, cJSON_CreateNumber((double)group));
	cJSON_AddStringToObject(card, "kind", "card");
	number = cJSON_AddStringToObject(card, "number", "0000000000");
	for (unsigned i = 0; i < n_people && !failures; i++) {
		int64_t id;
		snprintf(text, sizeof text, "Person %07u", i);
		cJSON_SetValuestring(name, text);
		snprintf(text, sizeof text, "person.%07u@example.org", i);
		cJSON_SetValuestring(email, text);
		card_of(i, text);
		cJSON_SetValuestring(number, text);
		fprintf(cards, "%s\n", text);
		if ((id = person_create(TENANT, person, &conflict)) <= 0 ||
		    credential_create(TENANT, id, card, &conflict, token) <= 0)
			fail("person or card %u: %s", i, sqlite3_errmsg(db_get()));
	}
	cJSON_Delete(person);
	cJSON_Delete(card);
	if (fclose(cards) != 0)
		fail("cannot write %s", cards_file);
	if (failures || db_commit() < 0) {
		db_rollback();
		fail("cannot seed the state");
		rc = -1;
	}
	return rc;
}

/* --- the appliance ---------------------------------------------------------------- */

static pid_t server_pid = -1;
static int web_port, mqtt_port;

static int admin_create(void)
{
	char *argv[] = {gatehouse_bin, "admin", "create", "--state-dir", state, "--username", ADMIN_USER,
			"--role", "tenant-admin", "--tenant", "1", "--password-stdin", NULL};
	static const char password[] = ADMIN_PASSWORD "\n";
	int p[2], rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = spawn(argv, p[0], STDERR_FILENO, STDERR_FILENO, SIGKILL);
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	if (write(p[1], password, sizeof password - 1) != (ssize_t)(sizeof password - 1))
		note("cannot write the admin password");
	close(p[1]);
	rc = reap(pid, 60);
	if (rc != 0)
		fail("gatehouse admin create exited %d", rc);
	return rc == 0 ? 0 : -1;
}

/* The port after marker ("https://", "mqtts://") in the server's log: 0
 * while not there. */
static int port_after(const char *text, const char *marker)
{
	const char *p = strstr(text, marker), *colon;

	if (!p)
		return 0;
	p += strlen(marker);
	if (*p == '[') /* [IPv6]:port */
		p = strchr(p, ']');
	if (!p || !(colon = strchr(p, ':')))
		return 0;
	return atoi(colon + 1);
}

static void show_server_log(void)
{
	char buf[4096];
	FILE *f = fopen(server_log, "r");
	size_t n;

	if (!f)
		return;
	fprintf(stderr, "%s: --- server log (start) ---\n", me);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
	fprintf(stderr, "\n%s: --- server log (end) ---\n", me);
}

/* Start the server; 0 once its log names both ports, or -1. */
static int server_start(void)
{
	char *argv[] = {gatehouse_bin, "serve", "--state-dir", state, "--set", "web.listen=127.0.0.1:0",
			"--set", "devices.listen=127.0.0.1:0", "--set", "limits.api_per_second=100000",
			"--set", "limits.api_burst=100000", "--set", "limits.login_per_minute=100000",
			"--set", "limits.login_burst=100000", NULL};
	int fd = open(server_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), status;
	double start = now();

	if (fd < 0)
		return fail("cannot create %s", server_log), -1;
	server_pid = spawn(argv, -1, -1, fd, SIGTERM);
	close(fd);
	if (server_pid < 0)
		return fail("fork failed"), -1;
	web_port = mqtt_port = 0;
	while (now() - start < 120) {
		char buf[16384] = "";
		FILE *f = fopen(server_log, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			buf[n] = '\0';
			fclose(f);
		}
		/* "listening on https://H:P (...); terminals on mqtts://H:Q" */
		const char *line = strstr(buf, "listening on https://");
		if (line && strstr(line, "terminals on mqtts://") && strchr(strstr(line, "terminals on mqtts://") + 21, ':')) {
			web_port = port_after(line, "https://");
			mqtt_port = port_after(line, "mqtts://");
			if (web_port > 0 && mqtt_port > 0)
				return 0;
		}
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			break;
		}
		usleep(20000);
	}
	fail("the server did not start (no 'listening on ... terminals on mqtts://' line)");
	show_server_log();
	return -1;
}

static void server_stop(void)
{
	int rc;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	rc = reap(server_pid, 60);
	server_pid = -1;
	if (rc != 0) {
		fail("the server exited %d", rc);
		show_server_log();
	}
}

/* Log in as the bench admin and make an API token (scope manage) for h
 * and devsim (written to token_file, 0600). 0 or -1. */
static int make_token(struct hc *h)
{
	struct hres r;
	cJSON *doc;
	const cJSON *csrf, *tok;
	char body[256];

	snprintf(body, sizeof body, "{\"username\": \"%s\", \"password\": \"%s\"}", ADMIN_USER, ADMIN_PASSWORD);
	if (!(doc = api(h, "POST", "/api/v1/session", body, NULL, 200, &r)))
		return -1;
	csrf = cJSON_GetObjectItemCaseSensitive(doc, "csrf_token");
	if (!cJSON_IsString(csrf) || !r.cookie[0]) {
		cJSON_Delete(doc);
		return fail("login answered no session cookie or CSRF token"), -1;
	}
	snprintf(h->cookie, sizeof h->cookie, "%s", r.cookie);
	snprintf(h->csrf, sizeof h->csrf, "%s", csrf->valuestring);
	cJSON_Delete(doc);
	doc = api(h, "POST", "/api/v1/tokens", "{\"name\": \"bench-devlink\", \"scope\": \"manage\", \"expires_in_days\": 1}",
		  NULL, 201, NULL);
	tok = cJSON_GetObjectItemCaseSensitive(doc, "token");
	if (!cJSON_IsString(tok) || strlen(tok->valuestring) >= sizeof h->token) {
		cJSON_Delete(doc);
		return fail("POST /api/v1/tokens answered no token"), -1;
	}
	snprintf(h->token, sizeof h->token, "%s", tok->valuestring);
	cJSON_Delete(doc);
	h->cookie[0] = h->csrf[0] = '\0';
	return write_file(token_file, h->token, 0600);
}

/* --- reading the appliance's database ------------------------------------------------ */

static sqlite3 *ro;   /* read-only connection to gatehouse.db */
static int shm_fd = -1;

static int ro_open(void)
{
	char shm[PATH_MAX + 8];

	if (sqlite3_open_v2(db_file, &ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fail("cannot open %s read-only: %s", db_file, ro ? sqlite3_errmsg(ro) : "out of memory");
		sqlite3_close(ro);
		ro = NULL;
		return -1;
	}
	sqlite3_busy_timeout(ro, 5000);
	snprintf(shm, sizeof shm, "%s-shm", db_file);
	shm_fd = open(shm, O_RDONLY | O_CLOEXEC);
	return 0;
}

static void ro_close(void)
{
	sqlite3_close(ro);
	ro = NULL;
	if (shm_fd >= 0)
		close(shm_fd);
	shm_fd = -1;
}

/* One integer from a query on the read-only connection; -1 on error. */
static long long ro_int(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (!ro || sqlite3_prepare_v2(ro, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Write transactions committed to gatehouse.db so far: the iChange counter
 * of the wal-index header (the first 48 bytes of the -shm file, kept twice;
 * SQLite's file format, section 4.5). It counts every commit that wrote
 * pages, on any connection, and does not restart at a checkpoint. -1 when
 * unreadable. */
static long long wal_commits(void)
{
	unsigned char h[96];

	for (int i = 0; shm_fd >= 0 && i < 20; i++) {
		uint32_t a, b;
		if (pread(shm_fd, h, sizeof h, 0) != (ssize_t)sizeof h)
			return -1;
		memcpy(&a, h + 8, 4);
		memcpy(&b, h + 48 + 8, 4);
		if (a == b && memcmp(h, h + 48, 48) == 0)
			return a;
	}
	return -1;
}

/* --- devsim --------------------------------------------------------------------------- */

struct stat_sample {
	double t;
	unsigned long long generated, acked, buffered, syncs_full, syncs_delta;
	int online;
};

struct devsim_run {
	pid_t pid;
	int out_fd, err_fd;
	char out[16384];
	size_t out_len;
	char line[4096];
	size_t line_len;
	int forwarded;
	struct stat_sample *st;
	size_t nst, capst;
	double start;
};

static const char *common_devsim_args[] = {"devsim", "--appliance", "127.0.0.1", "--web-ca", server_crt, NULL};

/* Start devsim with its common options, the ports, and the given ones. */
static int devsim_start(struct devsim_run *r, const char *dir, int port, const char *const *args)
{
	char *argv[64], mport[16], wport[16];
	int n = 0, outp[2], errp[2];

	memset(r, 0, sizeof *r);
	r->pid = -1;
	r->out_fd = r->err_fd = -1;
	snprintf(mport, sizeof mport, "%d", port);
	snprintf(wport, sizeof wport, "%d", web_port);
	argv[n++] = gatehouse_bin;
	for (const char *const *a = common_devsim_args; *a; a++)
		argv[n++] = (char *)*a;
	argv[n++] = "--dir";
	argv[n++] = (char *)dir;
	argv[n++] = "--mqtt-port";
	argv[n++] = mport;
	argv[n++] = "--web-port";
	argv[n++] = wport;
	for (; *args && n < 62; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	if (pipe2(outp, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(outp[0]), close(outp[1]);
		return -1;
	}
	r->start = now();
	r->pid = spawn(argv, -1, outp[1], errp[1], SIGTERM);
	close(outp[1]);
	close(errp[1]);
	r->out_fd = outp[0];
	r->err_fd = errp[0];
	if (r->pid < 0) {
		close(r->out_fd), close(r->err_fd);
		return fail("cannot start devsim"), -1;
	}
	return 0;
}

static void devsim_line(struct devsim_run *r, char *line)
{
	struct stat_sample s;
	double secs;
	int total;

	memset(&s, 0, sizeof s);
	if (sscanf(line, "devsim: %lf s: %d/%d online, events %llu generated (%*f/s) %llu acked (%*f/s) %llu buffered",
		   &secs, &s.online, &total, &s.generated, &s.acked, &s.buffered) == 6) {
		const char *syncs = strstr(line, "syncs ");
		s.t = now();
		if (syncs)
			sscanf(syncs, "syncs %llu full %llu delta", &s.syncs_full, &s.syncs_delta);
		if (r->nst == r->capst) {
			size_t cap = r->capst ? r->capst * 2 : 256;
			void *bigger = realloc(r->st, cap * sizeof *r->st);
			if (!bigger)
				return;
			r->st = bigger;
			r->capst = cap;
		}
		r->st[r->nst++] = s;
		return;
	}
	if (strncmp(line, "devsim: enrolled ", 17) == 0)
		return; /* progress; the totals are reported */
	if (r->forwarded++ < 20)
		fprintf(stderr, "  %s\n", line);
	else if (r->forwarded == 21)
		fprintf(stderr, "  (further devsim messages not shown)\n");
}

/* Read what devsim has written, waiting up to timeout_ms. 1 while its
 * output is open, 0 once both pipes are closed. */
static int devsim_pump(struct devsim_run *r, int timeout_ms)
{
	struct pollfd p[2] = {{r->out_fd, POLLIN, 0}, {r->err_fd, POLLIN, 0}};
	char buf[8192];

	if (r->out_fd < 0 && r->err_fd < 0) {
		if (timeout_ms > 0)
			usleep((useconds_t)timeout_ms * 1000);
		return 0;
	}
	if (poll(p, 2, timeout_ms) <= 0)
		return 1;
	if (r->out_fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(r->out_fd, buf, sizeof buf);
		if (n <= 0) {
			close(r->out_fd);
			r->out_fd = -1;
		} else {
			size_t k = (size_t)n < sizeof r->out - 1 - r->out_len ? (size_t)n : sizeof r->out - 1 - r->out_len;
			memcpy(r->out + r->out_len, buf, k);
			r->out_len += k;
			r->out[r->out_len] = '\0';
		}
	}
	if (r->err_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(r->err_fd, buf, sizeof buf);
		if (n <= 0) {
			close(r->err_fd);
			r->err_fd = -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || r->line_len == sizeof r->line - 1) {
				r->line[r->line_len] = '\0';
				devsim_line(r, r->line);
				r->line_len = 0;
			} else {
				r->line[r->line_len++] = buf[i];
			}
		}
	}
	return r->out_fd >= 0 || r->err_fd >= 0;
}

static const struct stat_sample *last_stats(const struct devsim_run *r)
{
	return r->nst ? &r->st[r->nst - 1] : NULL;
}

/* Wait for devsim to end (SIGTERM first when stop), up to timeout seconds;
 * its summary line parsed, or NULL (reported). */
static cJSON *devsim_finish(struct devsim_run *r, int stop, double timeout)
{
	double until = now() + timeout;
	cJSON *summary = NULL;
	int rc;

	if (stop && r->pid > 0)
		kill(r->pid, SIGTERM);
	while (devsim_pump(r, 100) && now() < until)
		;
	rc = r->pid > 0 ? reap(r->pid, until > now() ? until - now() : 1) : -1;
	r->pid = -1;
	while (r->out_fd >= 0 || r->err_fd >= 0)
		devsim_pump(r, 100);
	for (char *l = strtok(r->out, "\n"); l; l = strtok(NULL, "\n"))
		if (*l == '{') {
			cJSON_Delete(summary);
			summary = cJSON_Parse(l);
		}
	if (rc != 0 || !summary) {
		fail("devsim exited %d%s", rc, summary ? "" : " without a summary line");
		cJSON_Delete(summary);
		summary = NULL;
	}
	return summary;
}

static void devsim_free(struct devsim_run *r)
{
	if (r->pid > 0)
		devsim_finish(r, 1, 30);
	free(r->st);
	r->st = NULL;
}

static double jnum(const cJSON *doc, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Enrol (with bundles) the terminals of dir up to n that do not exist
 * yet; devsim exits at once after (--events 0). Seconds, or -1. */
static double enrol(unsigned n)
{
	struct devsim_run r;
	char count[16];
	const char *args[] = {"--devices", count, "--bundle", "--api-token-file", token_file, "--rate", "1",
			      "--events", "0", NULL};
	double t0 = now(), secs;
	cJSON *summary;

	snprintf(count, sizeof count, "%u", n);
	if (devsim_start(&r, sim_dir, mqtt_port, args) < 0)
		return -1;
	summary = devsim_finish(&r, 0, 3600);
	secs = now() - t0;
	devsim_free(&r);
	cJSON_Delete(summary);
	return summary ? secs : -1;
}

/* A field of terminal i's (1-based) state file, "key=value" lines. 0 or -1. */
static int term_state(unsigned i, const char *key, char *out, size_t len)
{
	char path[PATH_MAX + 64], line[512];
	size_t klen = strlen(key);
	int rc = -1;
	FILE *f;

	snprintf(path, sizeof path, "%s/devsim-%u/state", sim_dir, i);
	if (!(f = fopen(path, "r")))
		return -1;
	while (rc < 0 && fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			snprintf(out, len, "%.*s", (int)strcspn(line + klen + 1, "\n"), line + klen + 1);
			rc = 0;
		}
	fclose(f);
	return rc;
}

/* --- the event load ----------------------------------------------------------------------- */

/* Taken every 100 ms while a load runs. */
struct sample {
	double t;
	long long rows, commits;           /* max(id) of events, wal-index commits (appliance only) */
	long long acked, generated;        /* devsim's last stats line */
	double server_cpu;                 /* the appliance or mosquitto */
};

struct load_result {
	double stored;      /* events/s stored, appliance side (appliance only) */
	double per_commit;  /* events per commit in that window (appliance only) */
	double acked;       /* events/s acknowledged, devsim side */
	double offered;     /* events/s devsim read in the same window */
	double cpu_us;      /* server CPU per event in the window */
	double cores;       /* server cores busy in the window */
	double details_avg; /* bytes of sealed details per stored event (appliance only) */
};

/* The steady window of a load of total events: from the first sample at
 * 10% of them (above base) to the first at 90%. 0, or -1 if there is none. */
static int window_of(const struct sample *s, size_t n, int by_rows, long long base, long long total, size_t *i1,
		     size_t *i2)
{
	size_t a = n;

	for (size_t i = 0; i < n; i++) {
		long long v = (by_rows ? s[i].rows : s[i].acked) - base;
		if (a == n && v >= total / 10)
			a = i;
		if (a < i && v >= total - total / 10 && v > (by_rows ? s[a].rows : s[a].acked) - base) {
			*i1 = a;
			*i2 = i;
			return 0;
		}
	}
	return -1;
}

/* One load: the 100 terminals in sim_dir read events_per_term cards each
 * as fast as devsim goes and publish them to port; samples every 100 ms
 * (the database's only with with_db). devsim's summary, or NULL. */
static cJSON *run_load(int port, pid_t server, int with_db, struct sample **out, size_t *n)
{
	char events[24];
	const char *args[] = {"--devices", "100", "--rate", CARD_RATE, "--events", events, "--cards", cards_file,
			      "--stats", "0.05", NULL};
	size_t cap = 4096;
	struct devsim_run r;
	double last = 0;
	cJSON *summary;

	snprintf(events, sizeof events, "%ld", events_per_term);
	*n = 0;
	if (!(*out = malloc(cap * sizeof **out)) || devsim_start(&r, sim_dir, port, args) < 0)
		return NULL;
	for (int open = 1; open;) {
		open = devsim_pump(&r, 20);
		if (open && now() - last < 0.1)
			continue;
		const struct stat_sample *st = last_stats(&r);
		struct sample s = {now(), -1, -1, st ? (long long)st->acked : 0, st ? (long long)st->generated : 0,
				   proc_cpu(server)};
		if (with_db) {
			s.rows = ro_int("SELECT coalesce(max(id), 0) FROM events");
			s.commits = wal_commits();
		}
		last = s.t;
		if (*n == cap) {
			struct sample *bigger = realloc(*out, cap * 2 * sizeof **out);
			if (!bigger)
				break;
			*out = bigger;
			cap *= 2;
		}
		(*out)[(*n)++] = s;
		if (now() - r.start > 1800) {
			fail("devsim did not finish the load in 30 minutes");
			break;
		}
	}
	summary = devsim_finish(&r, r.out_fd >= 0, 60);
	devsim_free(&r);
	return summary;
}

/* devsim's summary must show every event read and acknowledged. */
static int check_summary(const cJSON *summary, const char *what, long long total)
{
	if (!summary)
		return -1;
	if (jnum(summary, "events_generated") != (double)total || jnum(summary, "events_acked") != (double)total ||
	    jnum(summary, "events_buffered") != 0) {
		char *text = cJSON_PrintUnformatted(summary);
		fail("%s: devsim did not get all %lld events acknowledged: %s", what, total, text ? text : "?");
		free(text);
		return -1;
	}
	return 0;
}

/* Every event terminal must have exactly seq 1..per_term stored, once. */
static int check_stored(const long long *dev_ids, long long per_term)
{
	sqlite3_stmt *st;
	int bad = 0, seen = 0;

	if (sqlite3_prepare_v2(ro, "SELECT device_id, count(*), count(DISTINCT seq), min(seq), max(seq) FROM events "
				   "GROUP BY device_id", -1, &st, NULL) != SQLITE_OK)
		return fail("cannot read the events table: %s", sqlite3_errmsg(ro)), -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long dev = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
		long long distinct = sqlite3_column_int64(st, 2), lo = sqlite3_column_int64(st, 3);
		long long hi = sqlite3_column_int64(st, 4);
		int ours = 0;
		for (int i = 0; i < NTERM; i++)
			ours |= dev_ids[i] == dev;
		seen += ours;
		if (!ours || n != per_term || distinct != per_term || lo != 1 || hi != per_term)
			if (bad++ < 5)
				fail("device %lld: %lld events stored, seq %lld..%lld (expected 1..%lld, each once)", dev, n, lo,
				     hi, per_term);
	}
	sqlite3_finalize(st);
	if (seen != NTERM)
		fail("events stored for %d of the %d terminals", seen, NTERM);
	return bad || seen != NTERM ? -1 : 0;
}

/* Rates and CPU of a load from its samples; the appliance's stored rate
 * when with_db. */
static void load_figures(const char *what, const struct sample *s, size_t n, int with_db, long long base_rows,
			 struct load_result *res)
{
	long long total = (long long)NTERM * events_per_term;
	size_t a, b;

	if (with_db && window_of(s, n, 1, base_rows, total, &a, &b) == 0) {
		double secs = s[b].t - s[a].t, events = (double)(s[b].rows - s[a].rows);
		res->stored = events / secs;
		if (s[a].commits >= 0 && s[b].commits > s[a].commits)
			res->per_commit = events / (double)(s[b].commits - s[a].commits);
		if (s[a].server_cpu >= 0 && s[b].server_cpu >= 0) {
			res->cpu_us = (s[b].server_cpu - s[a].server_cpu) / events * 1e6;
			res->cores = (s[b].server_cpu - s[a].server_cpu) / secs;
		}
		note("%s: stored %.0f events in a window of %.2f s (10%% to 90%% of the load), %.0f per commit", what, events,
		     secs, res->per_commit);
	} else if (with_db) {
		note("%s: no window to measure the stored rate in", what);
	}
	if (window_of(s, n, 0, 0, total, &a, &b) == 0) {
		double secs = s[b].t - s[a].t, events = (double)(s[b].acked - s[a].acked);
		res->acked = events / secs;
		res->offered = (double)(s[b].generated - s[a].generated) / secs;
		if (!with_db && s[a].server_cpu >= 0 && s[b].server_cpu >= 0) {
			res->cpu_us = (s[b].server_cpu - s[a].server_cpu) / events * 1e6;
			res->cores = (s[b].server_cpu - s[a].server_cpu) / secs;
		}
		note("%s: devsim saw %.0f events/s acknowledged while it read %.0f cards/s (window %.2f s)", what,
		     res->acked, res->offered, secs);
	}
}

/* The baseline: the same number of rows in a plain SQLite file with the
 * events table's own schema and the appliance's pragmas, in transactions
 * of per_commit rows on average, details of details_len random bytes.
 * Rows per second, or -1. */
static double plain_insert(long long total, double per_commit, double details_len)
{
	static const char *const pragmas[] = {
		"PRAGMA journal_mode = WAL", "PRAGMA secure_delete = ON", "PRAGMA synchronous = FULL",
		"PRAGMA foreign_keys = ON", "PRAGMA journal_size_limit = 67108864",
	};
	char path[PATH_MAX + 32];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *ins = NULL;
	size_t dlen = details_len > 0 ? (size_t)(details_len + 0.5) : 0;
	unsigned char *details = malloc(dlen + 1);
	long long done = 0, commits = 0, seq[NTERM] = {0}, at = (long long)time(NULL) * 1000;
	double start, secs, rate = -1;
	int ok = 1, statements = 0;

	snprintf(path, sizeof path, "%s/plain.db", base_dir);
	if (!details || sqlite3_open(path, &db) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++)
		if (sqlite3_exec(db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
			goto out;
	/* The table and its indexes exactly as the appliance has them. */
	if (sqlite3_prepare_v2(ro,
			       "SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND type IN ('table', 'index') "
			       "AND sql IS NOT NULL ORDER BY type = 'table' DESC, name",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_exec(db, (const char *)sqlite3_column_text(st, 0), NULL, NULL, NULL) != SQLITE_OK)
			goto out;
		statements++;
	}
	if (statements < 2 ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id, person_id, "
			       "credential_id, result, reason, details) VALUES (1, ?, ?, ?, ?, 'access', ?, ?, ?, ?, ?, ?)",
			       -1, &ins, NULL) != SQLITE_OK)
		goto out;
	if (per_commit < 1)
		per_commit = 1;
	start = now();
	while (ok && done < total) {
		long long end = (long long)((double)(commits + 1) * per_commit + 0.5);
		if (end <= done)
			end = done + 1;
		if (end > total)
			end = total;
		ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
		for (; ok && done < end; done++) {
			int dev = (int)(done % NTERM), known = randombytes_uniform(100) < 95;
			long long person = 1 + randombytes_uniform(n_people);
			randombytes_buf(details, dlen);
			sqlite3_bind_int64(ins, 1, dev + 1);
			sqlite3_bind_int64(ins, 2, ++seq[dev]);
			sqlite3_bind_int64(ins, 3, at + done / 50);
			sqlite3_bind_int64(ins, 4, at + done / 50 + 3);
			sqlite3_bind_int64(ins, 5, dev + 1);
			if (known) {
				sqlite3_bind_int64(ins, 6, person);
				sqlite3_bind_int64(ins, 7, person);
			} else {
				sqlite3_bind_null(ins, 6);
				sqlite3_bind_null(ins, 7);
			}
			sqlite3_bind_text(ins, 8, known ? "granted" : "denied", -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 9, known ? "granted" : "unknown_credential", -1, SQLITE_STATIC);
			sqlite3_bind_blob(ins, 10, details, (int)dlen, SQLITE_STATIC);
			ok = sqlite3_step(ins) == SQLITE_DONE;
			sqlite3_reset(ins);
		}
		ok = ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
		commits++;
	}
	secs = now() - start;
	if (ok) {
		rate = (double)total / secs;
		note("baseline: %lld rows in %lld transactions of %zu-byte details, %d schema statements, %.2f s", total,
		     commits, dlen, statements, secs);
	}
out:
	if (rate < 0)
		fail("baseline: %s", db ? sqlite3_errmsg(db) : "cannot open plain.db");
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(details);
	unlink(path);
	snprintf(path, sizeof path, "%s/plain.db-wal", base_dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/plain.db-shm", base_dir);
	unlink(path);
	return rate;
}

/* The load against the appliance, the baseline, their rows. 0 or -1. */
static int appliance_load(const long long *dev_ids, struct load_result *res)
{
	long long total = (long long)NTERM * events_per_term, base = ro_int("SELECT coalesce(max(id), 0) FROM events");
	struct sample *s = NULL;
	size_t n = 0;
	double plain = -1;
	char ratio[160];
	cJSON *summary = run_load(mqtt_port, server_pid, 1, &s, &n);
	int rc = check_summary(summary, "appliance", total) == 0 && check_stored(dev_ids, events_per_term) == 0 ? 0 : -1;

	cJSON_Delete(summary);
	load_figures("appliance", s, n, 1, base, res);
	free(s);
	if (rc < 0 || res->stored <= 0 || res->per_commit <= 0)
		return rc < 0 ? -1 : (fail("appliance: no stored rate or commit count measured"), -1);
	{
		char sql[128];
		snprintf(sql, sizeof sql, "SELECT avg(length(details)) FROM events WHERE id > %lld", base);
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(ro, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			res->details_avg = sqlite3_column_double(st, 0);
		sqlite3_finalize(st);
	}
	plain = plain_insert(total, res->per_commit, res->details_avg);
	snprintf(ratio, sizeof ratio, "%.2f of plain SQLite", plain > 0 ? res->stored / plain : 0);
	row(res->stored, 0, "events/s", plain > 0 ? ratio : NULL, "100 terminals: events stored (sealed, committed)");
	snprintf(ratio, sizeof ratio, "%.0f rows per transaction, %.0f-byte details", res->per_commit, res->details_avg);
	row(plain, 0, "rows/s", ratio, "100 terminals: plain SQLite batched insert, same rows");
	snprintf(ratio, sizeof ratio, "%.2f cores busy", res->cores);
	row(res->cpu_us, 1, "us", ratio, "100 terminals: appliance CPU per event");
	return plain > 0 ? 0 : -1;
}

/* --- mosquitto ----------------------------------------------------------------------------- */

static char mosq_dir[PATH_MAX];
static pid_t mosq_pid = -1;
static int mosq_port;

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = malloc(65536);
	size_t n = f && text ? fread(text, 1, 65535, f) : 0;

	if (f)
		fclose(f);
	if (!text || !n) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

static int append_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");
	int ok = f && fputs(text, f) >= 0;

	return f && fclose(f) == 0 && ok ? 0 : -1;
}

/* With openssl: a CA, a certificate for mosquitto (localhost, 127.0.0.1)
 * and one for the controller (CN bench-controller), all P-256. The
 * terminals 1..n_terms add that CA to the one they trust (the same dirs
 * then work with both servers); mosquitto trusts the device CA (the
 * terminals' certificates) and that CA (the controller's). 0 or -1. */
static int mosquitto_prepare(unsigned n_terms)
{
	char d[PATH_MAX + 64], ca_key[PATH_MAX + 16], ca[PATH_MAX + 16], log_path[PATH_MAX + 16];
	char key[2][PATH_MAX + 16], csr[2][PATH_MAX + 16], crt[2][PATH_MAX + 16], ext[2][PATH_MAX + 16];
	static const char *const names[2] = {"server", "controller"};
	static const char *const subjects[2] = {"/CN=localhost", "/CN=" CONTROLLER};
	static const char *const exts[2] = {
		"basicConstraints = critical, CA:FALSE\nextendedKeyUsage = serverAuth\n"
		"subjectAltName = DNS:localhost, IP:127.0.0.1\n",
		"basicConstraints = critical, CA:FALSE\nextendedKeyUsage = clientAuth\n"};
	char *device_ca = NULL, *bench_ca = NULL;
	int fd, rc = -1;

	snprintf(ca_key, sizeof ca_key, "%s/ca.key", mosq_dir);
	snprintf(ca, sizeof ca, "%s/ca.pem", mosq_dir);
	snprintf(log_path, sizeof log_path, "%s/openssl.log", mosq_dir);
	if (mkdir(mosq_dir, 0700) < 0 || (fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return fail("cannot create %s", mosq_dir), -1;
	char *mkca[] = {OPENSSL, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			"-nodes", "-keyout", ca_key, "-subj", "/CN=bench-devlink mosquitto CA", "-days", "2", "-out", ca,
			NULL};
	rc = run(mkca, 60, fd);
	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(key[i], sizeof key[i], "%s/%s.key", mosq_dir, names[i]);
		snprintf(csr[i], sizeof csr[i], "%s/%s.csr", mosq_dir, names[i]);
		snprintf(crt[i], sizeof crt[i], "%s/%s.pem", mosq_dir, names[i]);
		snprintf(ext[i], sizeof ext[i], "%s/%s.ext", mosq_dir, names[i]);
		char serial[8];
		snprintf(serial, sizeof serial, "%d", i + 2);
		char *req[] = {OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			       "-keyout", key[i], "-subj", (char *)subjects[i], "-out", csr[i], NULL};
		char *sign[] = {OPENSSL, "x509", "-req", "-in", csr[i], "-CA", ca, "-CAkey", ca_key, "-set_serial", serial,
				"-days", "2", "-extfile", ext[i], "-out", crt[i], NULL};
		rc = write_file(ext[i], exts[i], 0600) < 0 || run(req, 60, fd) != 0 || run(sign, 60, fd) != 0;
	}
	close(fd);
	if (rc) {
		char *log_text = read_text(log_path);
		fail("openssl could not make the mosquitto certificates: %s", log_text ? log_text : "");
		free(log_text);
		return -1;
	}
	rc = -1;
	snprintf(d, sizeof d, "%s/devsim-1/ca.pem", sim_dir);
	if (!(device_ca = read_text(d)) || !(bench_ca = read_text(ca)))
		goto out;
	snprintf(d, sizeof d, "%s/clients-ca.pem", mosq_dir);
	if (write_file(d, device_ca, 0644) < 0 || append_file(d, bench_ca) < 0)
		goto out;
	for (unsigned i = 1; i <= n_terms; i++) {
		snprintf(d, sizeof d, "%s/devsim-%u/ca.pem", sim_dir, i);
		if (append_file(d, bench_ca) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc)
		fail("cannot set up the certificates for mosquitto");
	free(device_ca);
	free(bench_ca);
	return rc;
}

static int mosquitto_start(void)
{
	char conf[PATH_MAX + 16], acl[PATH_MAX + 16], log_path[PATH_MAX + 16], text[8192];
	char *argv[] = {MOSQUITTO, "-c", conf, NULL};
	int fd;

	snprintf(conf, sizeof conf, "%s/mosquitto.conf", mosq_dir);
	snprintf(acl, sizeof acl, "%s/acl", mosq_dir);
	snprintf(log_path, sizeof log_path, "%s/mosquitto.log", mosq_dir);
	/* The appliance's topic rules: a terminal writes only under its own
	 * topics and reads only what the appliance would send it. The
	 * controller sends commands and reads the acks. */
	if (write_file(acl, "pattern write gh/v1/%u/#\npattern read gh/v1/%u/commands\npattern read gh/v1/%u/sync\n"
			    "pattern read gh/v1/%u/sync/hint\npattern read gh/v1/%u/firmware\n"
			    "user " CONTROLLER "\ntopic write gh/v1/+/commands\ntopic read gh/v1/+/commands/ack\n",
		       0644) < 0 ||
	    (mosq_port = free_port()) <= 0)
		return fail("cannot write the mosquitto ACL"), -1;
	snprintf(text, sizeof text,
		 "%s"
		 "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n"
		 "listener %d 127.0.0.1\ncafile %s/clients-ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
		 "require_certificate true\nuse_identity_as_username true\ntls_version tlsv1.2\nacl_file %s\n"
		 "set_tcp_nodelay true\n",
		 /* As root mosquitto would switch to its own user, who cannot read this directory. */
		 getuid() == 0 ? "user root\n" : "", mosq_port, mosq_dir, mosq_dir, mosq_dir, acl);
	if (write_file(conf, text, 0600) < 0 ||
	    (fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return fail("cannot write the mosquitto configuration"), -1;
	mosq_pid = spawn(argv, -1, fd, fd, SIGTERM);
	close(fd);
	if (mosq_pid < 0)
		return fail("cannot start mosquitto"), -1;
	for (int i = 0; i < 200; i++) {
		if (port_open(mosq_port))
			return 0;
		if (waitpid(mosq_pid, NULL, WNOHANG) == mosq_pid) {
			mosq_pid = -1;
			break;
		}
		usleep(50000);
	}
	char *log_text = read_text(log_path);
	fail("mosquitto did not start: %s", log_text ? log_text : "");
	free(log_text);
	return -1;
}

static void mosquitto_stop(void)
{
	if (mosq_pid <= 0)
		return;
	kill(mosq_pid, SIGTERM);
	if (reap(mosq_pid, 30) != 0)
		note("mosquitto did not exit cleanly");
	mosq_pid = -1;
}

/* The load against mosquitto and its rows, compared with the appliance's
 * (a: devsim's side for both). */
static void mosquitto_load(const struct load_result *a)
{
	long long total = (long long)NTERM * events_per_term;
	struct load_result m = {0};
	struct sample *s = NULL;
	size_t n = 0;
	char ratio[200];
	cJSON *summary;

	if (mosquitto_start() < 0)
		return;
	summary = run_load(mosq_port, mosq_pid, 0, &s, &n);
	if (check_summary(summary, "mosquitto", total) == 0)
		load_figures("mosquitto", s, n, 0, 0, &m);
	cJSON_Delete(summary);
	free(s);
	mosquitto_stop();
	if (m.acked <= 0)
		return;
	/* devsim's acknowledged rate needs its progress lines inside the
	 * window; a short load may have too few, and then the stored rate
	 * (acknowledged only after commit) stands in for it. */
	double ours = a->acked > 0 ? a->acked : a->stored;
	snprintf(ratio, sizeof ratio, "appliance %.2fx (%.0f/s %s)%s", ours / m.acked, ours,
		 a->acked > 0 ? "acknowledged" : "stored", m.acked >= 0.95 * m.offered ? "; mosquitto kept up with devsim" : "");
	row(m.acked, 0, "events/s", ratio, "100 terminals: mosquitto, same load, acknowledged");
	snprintf(ratio, sizeof ratio, "%.2f cores busy; appliance %.2fx", m.cores, a->cpu_us / m.cpu_us);
	row(m.cpu_us, 1, "us", ratio, "100 terminals: mosquitto CPU per event");
}

/* --- the controller: sends commands through mosquitto ------------------------------------------- */

/* A blocking MQTT client over TLS with the controller's certificate. */
struct mq {
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	uint8_t in[65536];
	size_t in_len, used;
	uint16_t pid;
};

static void mq_free(struct mq *m)
{
	mbedtls_ssl_free(&m->ssl);
	mbedtls_net_free(&m->net);
	mbedtls_ssl_config_free(&m->conf);
	mbedtls_x509_crt_free(&m->ca);
	mbedtls_x509_crt_free(&m->crt);
	mbedtls_pk_free(&m->key);
}

static int mq_write(struct mq *m, const uint8_t *p, size_t len)
{
	while (len) {
		int rc = mbedtls_ssl_write(&m->ssl, p, len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc <= 0)
			return -1;
		p += rc;
		len -= (size_t)rc;
	}
	return 0;
}

/* The next packet from mosquitto within timeout seconds (its strings point
 * into m->in until the next call). 0, or -1. */
static int mq_next(struct mq *m, struct mqtt_packet *p, double timeout)
{
	double until = now() + timeout;

	memmove(m->in, m->in + m->used, m->in_len - m->used);
	m->in_len -= m->used;
	m->used = 0;
	for (;;) {
		switch (mqtt_decode_from_server(m->in, m->in_len, sizeof m->in, p, &m->used, NULL)) {
		case MQTT_OK:
			return 0;
		case MQTT_BAD:
			return -1;
		case MQTT_NEED_MORE:
			break;
		}
		if (now() > until || m->in_len == sizeof m->in)
			return -1;
		int rc = mbedtls_ssl_read(&m->ssl, m->in + m->in_len, sizeof m->in - m->in_len);
		if (rc > 0)
			m->in_len += (size_t)rc;
		else if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_TIMEOUT)
			return -1;
	}
}

/* Connect as the controller and subscribe to every terminal's acks. */
static int mq_open(struct mq *m)
{
	char path[PATH_MAX + 32], port[16];
	uint8_t pkt[256];
	struct mqtt_packet p;
	size_t n;
	int rc;

	memset(m, 0, sizeof *m);
	mbedtls_net_init(&m->net);
	mbedtls_ssl_init(&m->ssl);
	mbedtls_ssl_config_init(&m->conf);
	mbedtls_x509_crt_init(&m->ca);
	mbedtls_x509_crt_init(&m->crt);
	mbedtls_pk_init(&m->key);
	snprintf(path, sizeof path, "%s/ca.pem", mosq_dir);
	if (mbedtls_x509_crt_parse_file(&m->ca, path) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/controller.pem", mosq_dir);
	if (mbedtls_x509_crt_parse_file(&m->crt, path) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/controller.key", mosq_dir);
	if (mbedtls_pk_parse_keyfile(&m->key, path, NULL) != 0 ||
	    mbedtls_ssl_config_defaults(&m->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_rng(&m->conf, tls_random, NULL);
	tls_policy_apply(&m->conf);
	mbedtls_ssl_conf_authmode(&m->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&m->conf, &m->ca, NULL);
	mbedtls_ssl_conf_read_timeout(&m->conf, 200);
	if (mbedtls_ssl_conf_own_cert(&m->conf, &m->crt, &m->key) != 0)
		return -1;
	snprintf(port, sizeof port, "%d", mosq_port);
	if (mbedtls_net_connect(&m->net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP) != 0 ||
	    mbedtls_ssl_setup(&m->ssl, &m->conf) != 0 || mbedtls_ssl_set_hostname(&m->ssl, "localhost") != 0)
		return -1;
	int one = 1;
	setsockopt(m->net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	mbedtls_ssl_set_bio(&m->ssl, &m->net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&m->ssl)) != 0)
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			return -1;
	n = mqtt_encode_connect(pkt, sizeof pkt, CONTROLLER, 600, NULL, NULL, 0);
	if (mq_write(m, pkt, n) < 0 || mq_next(m, &p, 10) < 0 || p.type != MQTT_CONNACK || (p.u.packet_id & 0xff) != 0)
		return -1;
	n = mqtt_encode_subscribe(pkt, sizeof pkt, 1, "gh/v1/+/commands/ack", 1);
	if (mq_write(m, pkt, n) < 0 || mq_next(m, &p, 10) < 0 || p.type != MQTT_SUBACK || p.u.subscribe.qos[0] != 1)
		return -1;
	m->pid = 1;
	return 0;
}

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n_commands unlocks through mosquitto, one at a time, to the terminals
 * 1..100 (uids[i]): from publishing the command to receiving its ack
 * (state done). ms into ms[]; 0 or -1. */
static int mosquitto_commands(char (*uids)[64], double *ms)
{
	static long long next_id = 1000000000; /* far from the appliance's ids */
	struct mq m;
	int done = 0;

	if (mq_open(&m) < 0) {
		mq_free(&m);
		return fail("the controller cannot connect to mosquitto"), -1;
	}
	for (int i = 0; i < n_commands; i++) {
		int t = i % NTERM, got = 0;
		long long id = next_id++;
		char topic[128], body[256];
		uint8_t pkt[512];
		struct mqtt_packet p;
		size_t len;
		double t0;

		snprintf(topic, sizeof topic, "gh/v1/%s/commands", uids[t]);
		snprintf(body, sizeof body,
			 "{\"id\": %lld, \"kind\": \"unlock\", \"params\": {\"door_id\": %lld, \"seconds\": 1}, "
			 "\"expires_at\": %lld}",
			 id, (long long)door_ids[t], wall_ms() + 30000);
		if (++m.pid == 0)
			m.pid = 1;
		len = mqtt_encode_publish(pkt, sizeof pkt, topic, strlen(topic), 1, m.pid, 0, body, strlen(body));
		t0 = now();
		if (!len || mq_write(&m, pkt, len) < 0)
			break;
		while (!got && now() - t0 < 30 && mq_next(&m, &p, 30) == 0) {
			if (p.type != MQTT_PUBLISH)
				continue; /* the PUBACK of the command */
			if (p.u.publish.qos == 1) {
				uint8_t ack[8];
				size_t alen = mqtt_encode_puback(ack, sizeof ack, p.u.publish.packet_id);
				if (mq_write(&m, ack, alen) < 0)
					break;
			}
			cJSON *doc = cJSON_ParseWithLength((const char *)p.u.publish.payload, p.u.publish.payload_len);
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "state");
			if (jnum(doc, "id") == (double)id) {
				got = 1;
				if (!cJSON_IsString(st) || strcmp(st->valuestring, "done") != 0)
					fail("command %lld through mosquitto: the terminal answered %.*s", id,
					     (int)p.u.publish.payload_len, (const char *)p.u.publish.payload);
				else
					ms[done++] = (now() - t0) * 1000;
			}
			cJSON_Delete(doc);
		}
		if (!got) {
			fail("command %lld through mosquitto: no ack from terminal %s within 30 s", id, uids[t]);
			break;
		}
		if (done <= i)
			break;
	}
	mq_free(&m);
	return done == n_commands ? 0 : -1;
}

/* --- terminals held, and commands ------------------------------------------------------------ */

/* n_commands unlocks through the API, one at a time, to the terminals
 * 1..100: from sending POST /api/v1/devices/{id}/commands until the
 * command's row says done (read every 0.2 ms on the read-only connection:
 * a WAL reader never waits for the writer). ms into ms[]; 0 or -1. */
static int appliance_commands(struct hc *h, const long long *dev_ids, double *ms)
{
	sqlite3_stmt *st;
	int done = 0;

	if (sqlite3_prepare_v2(ro, "SELECT state FROM device_commands WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return fail("cannot read device_commands: %s", sqlite3_errmsg(ro)), -1;
	for (int i = 0; i < n_commands; i++) {
		int t = i % NTERM;
		char path[96], body[128], cstate[16] = "?";
		double t0 = now();
		long long id;
		cJSON *doc;

		snprintf(path, sizeof path, "/api/v1/devices/%lld/commands", dev_ids[t]);
		snprintf(body, sizeof body, "{\"kind\": \"unlock\", \"params\": {\"door_id\": %lld, \"seconds\": 1}}",
			 (long long)door_ids[t]);
		if (!(doc = api(h, "POST", path, body, NULL, 201, NULL)))
			break;
		id = (long long)jnum(doc, "id");
		cJSON_Delete(doc);
		for (;;) {
			int rc;
			sqlite3_bind_int64(st, 1, id);
			rc = sqlite3_step(st);
			snprintf(cstate, sizeof cstate, "%s", rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "?");
			sqlite3_reset(st);
			if ((strcmp(cstate, "queued") && strcmp(cstate, "sent")) || now() - t0 > 30)
				break;
			usleep(200);
		}
		if (strcmp(cstate, "done") != 0) {
			fail("unlock command %lld to device %lld ended '%s' (expected done within 30 s)", id, dev_ids[t], cstate);
			break;
		}
		ms[done++] = (now() - t0) * 1000;
	}
	sqlite3_finalize(st);
	return done == n_commands ? 0 : -1;
}

struct held {
	double rss_mib, per_term_kib, med, p99;
};

/* n terminals held by the appliance (mosq 0) or mosquitto (mosq 1), each
 * freshly started: resident memory, then the commands. 0 or -1. */
static int hold(struct hc *h, unsigned n, int mosq, const long long *dev_ids, char (*uids)[64], struct held *f)
{
	char count[16];
	const char *args[] = {"--devices", count, "--rate", "0", "--stats", "0.5", NULL};
	const char *who = mosq ? "mosquitto" : "appliance";
	double *ms = calloc((size_t)n_commands + 1, sizeof *ms), t0;
	long rss0, rss;
	struct devsim_run r;
	pid_t pid;
	cJSON *summary;
	int rc = -1, online = 0;

	if (!ms)
		return -1;
	if (mosq) {
		if (mosquitto_start() < 0)
			goto out;
		pid = mosq_pid;
	} else {
		ro_close();
		server_stop();
		if (failures || server_start() < 0 || ro_open() < 0)
			goto out;
		h->port = web_port;
		hc_close(h);
		pid = server_pid;
	}
	sleep(2); /* started, its first jobs done */
	rss0 = proc_rss_kb(pid);
	snprintf(count, sizeof count, "%u", n);
	if (devsim_start(&r, sim_dir, mosq ? mosq_port : mqtt_port, args) < 0)
		goto out;
	t0 = r.start;
	while (now() - t0 < 600 && devsim_pump(&r, 100)) {
		const struct stat_sample *s = last_stats(&r);
		/* At the appliance each terminal also syncs once after connecting. */
		if (s && s->online >= (int)n &&
		    (mosq || (s->syncs_full + s->syncs_delta >= n &&
			      ro_int("SELECT count(*) FROM devices WHERE online = 1") >= (long long)n))) {
			online = 1;
			break;
		}
	}
	if (!online) {
		fail("%s: not all %u terminals online after %.0f s", who, n, now() - t0);
	} else {
		double t_online = now() - t0;
		for (double settle = now(); now() - settle < 3;)
			devsim_pump(&r, 100);
		rss = proc_rss_kb(pid);
		note("%s: %u terminals online%s after %.1f s; VmRSS %ld KiB before, %ld KiB with them; devsim %ld KiB", who, n, mosq ? "" : " and synced",
		     t_online, rss0, rss, proc_rss_kb(r.pid));
		f->rss_mib = (double)rss / 1024;
		f->per_term_kib = (double)(rss - rss0) / n;
		rc = mosq ? mosquitto_commands(uids, ms) : appliance_commands(h, dev_ids, ms);
		if (rc == 0) {
			f->med = percentile(ms, (size_t)n_commands, 0.5);
			f->p99 = percentile(ms, (size_t)n_commands, 0.99);
		}
	}
	summary = devsim_finish(&r, 1, 120);
	if (rc == 0 && summary && jnum(summary, "commands_done") < n_commands)
		rc = -1, fail("%s: devsim reports %.0f commands done of %d", who, jnum(summary, "commands_done"), n_commands);
	cJSON_Delete(summary);
	devsim_free(&r);
out:
	if (mosq)
		mosquitto_stop();
	free(ms);
	return rc;
}

static void held_rows(unsigned n, const struct held *a, const struct held *m)
{
	const char *c = count_label(n);
	char ratio[160];

	snprintf(ratio, sizeof ratio, "%.1f KiB per terminal", a->per_term_kib);
	row(a->rss_mib, 1, "MiB", ratio, "%s terminals: appliance resident memory", c);
	if (m) {
		snprintf(ratio, sizeof ratio, "%.1f KiB per terminal; appliance %.2fx", m->per_term_kib,
			 a->rss_mib / m->rss_mib);
		row(m->rss_mib, 1, "MiB", ratio, "%s terminals: mosquitto resident memory", c);
	}
	if (n_commands <= 0)
		return;
	row(a->med, 2, "ms", NULL, "%s terminals: appliance unlock round trip, median", c);
	row(a->p99, 2, "ms", NULL, "%s terminals: appliance unlock round trip, p99", c);
	if (m) {
		snprintf(ratio, sizeof ratio, "appliance %.2fx", a->med / m->med);
		row(m->med, 2, "ms", ratio, "%s terminals: mosquitto unlock round trip, median", c);
		snprintf(ratio, sizeof ratio, "appliance %.2fx", a->p99 / m->p99);
		row(m->p99, 2, "ms", ratio, "%s terminals: mosquitto unlock round trip, p99", c);
	}
}

/* --- set-up -------------------------------------------------------------------------------------- */

/* Enrol the terminals, give terminal i door i and let the first 100 sync
 * once (terminals read cards only with a local copy). */
static int terminals_setup(struct hc *h, unsigned n, long long *dev_ids, char (*uids)[64])
{
	const char *args[] = {"--devices", "100", "--rate", "0", "--stats", "0.25", NULL};
	struct devsim_run r;
	double secs = enrol(n);
	cJSON *summary;
	int synced = 0;

	if (secs < 0)
		return -1;
	note("enrolled %u terminals (bundles) in %.1f s", n, secs);
	for (unsigned i = 0; i < NTERM; i++) {
		char path[64], hdr[96], body[64], id[32];
		struct hres got;
		cJSON *doc;
		if (term_state(i + 1, "device_id", id, sizeof id) < 0 || term_state(i + 1, "uid", uids[i], 64) < 0)
			return fail("no state for devsim-%u", i + 1), -1;
		dev_ids[i] = strtoll(id, NULL, 10);
		snprintf(path, sizeof path, "/api/v1/doors/%lld", (long long)door_ids[i]);
		if (!(doc = api(h, "GET", path, NULL, NULL, 200, &got)))
			return -1;
		cJSON_Delete(doc);
		snprintf(hdr, sizeof hdr, "If-Match: %s\r\n", got.etag);
		snprintf(body, sizeof body, "{\"terminal_id\": %lld}", dev_ids[i]);
		if (!(doc = api(h, "PATCH", path, body, hdr, 200, NULL)))
			return -1;
		cJSON_Delete(doc);
	}
	if (devsim_start(&r, sim_dir, mqtt_port, args) < 0)
		return -1;
	while (now() - r.start < 300 && devsim_pump(&r, 100)) {
		const struct stat_sample *s = last_stats(&r);
		if (s && s->syncs_full >= NTERM && s->online == NTERM) {
			synced = 1;
			break;
		}
	}
	summary = devsim_finish(&r, 1, 60);
	devsim_free(&r);
	cJSON_Delete(summary);
	if (!synced || !summary)
		return fail("the %d terminals did not all sync within 300 s", NTERM), -1;
	return 0;
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	if (*end || v < min || v > max) {
		note("%s=%s ignored (%ld .. %ld)", name, s, min, max);
		return def;
	}
	return v;
}

static void read_settings(void)
{
	const char *q = getenv("BENCH_QUICK"), *t = getenv("BENCH_DEVLINK_TERMINALS");

	if (q && strcmp(q, "1") == 0) {
		n_people = 300;
		counts[0] = 300;
		counts[1] = 600;
		n_commands = 50;
	}
	n_people = (unsigned)env_long("BENCH_DEVLINK_PEOPLE", (long)n_people, 1, 1000000);
	events_per_term = env_long("BENCH_DEVLINK_EVENTS", events_per_term, 100, 10000000);
	n_commands = (int)env_long("BENCH_DEVLINK_COMMANDS", n_commands, 1, 100000);
	want_mosquitto = (int)env_long("BENCH_DEVLINK_MOSQUITTO", 1, 0, 1);
	if (t && *t) {
		unsigned v[MAX_COUNTS];
		int n = 0, ok = 1;
		char *copy = strdup(t), *save = NULL;
		for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
			char *end;
			unsigned long x = strtoul(tok, &end, 10);
			if (*end || x < NTERM || x > 100000 || n == MAX_COUNTS || (n && x <= v[n - 1]))
				ok = 0;
			else
				v[n++] = (unsigned)x;
		}
		free(copy);
		if (ok && n) {
			memcpy(counts, v, sizeof v);
			n_counts = n;
		} else if (strcmp(t, "0") == 0) {
			n_counts = 0;
		} else {
			note("BENCH_DEVLINK_TERMINALS=%s ignored (up to %d increasing counts of at least %d, or 0)", t,
			     MAX_COUNTS, NTERM);
		}
	}
}

static int find_gatehouse(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return -1;
	*slash = '\0';
	snprintf(gatehouse_bin, sizeof gatehouse_bin, "%s/gatehouse", exe);
	return access(gatehouse_bin, X_OK);
}

/* Everything after the appliance is up and the token made. */
static void benchmark(struct hc *h)
{
	long long dev_ids[NTERM];
	char uids[NTERM][64];
	unsigned most = n_counts ? counts[n_counts - 1] : NTERM;
	struct load_result a = {0};
	int mosq = want_mosquitto;

	if (terminals_setup(h, most, dev_ids, uids) < 0)
		return;
	if (mosq && (access(MOSQUITTO, X_OK) != 0 || access(OPENSSL, X_OK) != 0)) {
		note("%s or %s missing: no mosquitto reference (apt-get install mosquitto openssl)", MOSQUITTO, OPENSSL);
		mosq = 0;
	}
	if (mosq && mosquitto_prepare(most) < 0)
		return;
	if (appliance_load(dev_ids, &a) < 0)
		return;
	if (mosq)
		mosquitto_load(&a);
	for (int i = 0; i < n_counts && !failures; i++) {
		struct held fa = {0}, fm = {0};
		if (hold(h, counts[i], 0, dev_ids, uids, &fa) < 0 || (mosq && hold(h, counts[i], 1, dev_ids, uids, &fm) < 0))
			break;
		held_rows(counts[i], &fa, mosq ? &fm : NULL);
	}
}

int main(void)
{
	struct hc h;
	double t_start = now();
	int have_hc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);
	read_settings();
	if (sodium_init() < 0 || !mkdtemp(base_dir)) {
		perror("bench_devlink: set-up");
		return 1;
	}
	snprintf(state, sizeof state, "%s/state", base_dir);
	snprintf(server_log, sizeof server_log, "%s/server.log", base_dir);
	snprintf(sim_dir, sizeof sim_dir, "%s/sim", base_dir);
	snprintf(token_file, sizeof token_file, "%s/token", base_dir);
	snprintf(cards_file, sizeof cards_file, "%s/cards.txt", base_dir);
	snprintf(server_crt, sizeof server_crt, "%s/tls/server.crt", state);
	snprintf(db_file, sizeof db_file, "%s/gatehouse.db", state);
	snprintf(mosq_dir, sizeof mosq_dir, "%s/mosquitto", base_dir);
	if (janitor_start(base_dir) < 0) {
		perror("bench_devlink: janitor");
		rmdir(base_dir);
		return 1;
	}
	note("people %u, %ld events per terminal, %d counts of terminals held, %d commands, mosquitto %s; state in %s",
	     n_people, events_per_term, n_counts, n_commands, want_mosquitto ? "yes" : "no", base_dir);
	if (find_gatehouse() < 0) {
		fail("%s: %s (make bench builds it)", gatehouse_bin, strerror(errno));
	} else if (store_open(state) == 0) {
		double t0 = now();
		int seeded = seed();
		vault_close();
		db_close();
		if (seeded == 0)
			note("seeded %u people with cards, %d doors in %.1f s", n_people, NTERM, now() - t0);
	}
	if (!failures && admin_create() == 0 && server_start() == 0 && ro_open() == 0) {
		if (hc_init(&h, web_port, server_crt) < 0)
			fail("cannot set up TLS for the API client");
		else
			have_hc = 1;
		if (have_hc && make_token(&h) == 0)
			benchmark(&h);
	}
	if (have_hc)
		hc_free(&h);
	ro_close();
	mosquitto_stop();
	server_stop();
	janitor_finish();
	note("done in %.1f s", now() - t_start);
	return failures ? 1 : 0;
}
