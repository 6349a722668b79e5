/* bench_people: the people store at appliance scale. How fast are people
 * and cards written, how fast is a card found through its blind index, how
 * many access decisions per second, and how long does a page of the people
 * listing take over real HTTPS, with 100,000 and then 1,000,000 people?
 *
 * On a fresh directory /tmp/gh-bench-people-XXXXXX (state in state/, the
 * server's log in server.log; removed at the end) it:
 *   1. creates the access rules through entity_create: one site
 *      (Asia/Tokyo), 4 doors, a holiday set, a schedule with weekday,
 *      Saturday and holiday windows, 10 access groups and 10 levels
 *      (levels 0-7 cover every door, levels 8-9 only the loading dock);
 *   2. seeds people through the domain functions, in transactions of
 *      BATCH people: person_create (name and e-mail sealed under a new
 *      person key, e-mail blind-indexed, one group) and credential_create
 *      (a card: blind index of the number, number sealed). Person i has card
 *      card_of(i) and group i % 10. The same numbers go into a plain table
 *      plain_cards(number TEXT PRIMARY KEY, person_id INTEGER) in the same
 *      database, without the vault: the baseline of every ratio;
 *   3. at each size: card lookups by person_by_card and by plain SELECT
 *      on plain_cards, the same random cards, in turn; access_check of
 *      random cards at door 1 at a fixed instant (a Wednesday 10:00 in
 *      Tokyo); pages of 50 after a cursor, by plain SQL on plain_cards and
 *      by person_list (plus the page's JSON text), in turn, for the first
 *      page and for pages deep in the list; then it starts
 *      BUILD/gatehouse serve on the same state (a tenant admin made
 *      beforehand by `gatehouse admin create`) and times
 *      GET /api/v1/people?limit=50 over HTTPS on one keep-alive connection
 *      (the client is tests/bench/bench_people_https.py), first and deep
 *      pages again, with the server's and the client's CPU time per page;
 *   4. once: decide() alone on a prepared query with 3 levels.
 * Every operation's answer is checked (the right person, the expected
 * grant or denial, full pages with decrypted names).
 * Sizes: 100,000 then BENCH_PEOPLE_MAX (default 1,000,000), growing the same
 * database; BENCH_QUICK=1: 10,000 then 50,000. Each throughput figure runs
 * for BENCH_SECONDS (default 0.5). Output: tab-separated rows (benchmark,
 * figure, unit, ratio), laid out by tests/bench/run.sh. Timings are never
 * judged: the exit status is 1 only when an operation fails or gives a
 * wrong answer, or the set-up fails.
 *
 * Clean-up survives a crash or a signal: a janitor process forked first
 * waits for this process to end (its pipe closes), stops the server if one
 * still runs and removes the directory; the server and the HTTPS client
 * also get SIGTERM/SIGKILL from the kernel when this process dies
 * (PR_SET_PDEATHSIG). */
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/tz.h"
#include "core/vault.h"
#include "domain/access.h"
#include "domain/decide.h"
#include "domain/entity.h"
#include "domain/people.h"
#include "web/json.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TENANT VAULT_DEFAULT_TENANT
#define BATCH 5000            /* people per write transaction */
#define NGROUPS 10
#define NDOORS 4
#define GRANTED_GROUPS 8      /* groups 0-7 may open door 1 */
#define MAX_SAMPLES (1u << 21)
#define PAGE 50
#define ADMIN_USER "bench"
#define ADMIN_PASSWORD "Bench-Passw0rd!1"

static double budget = 0.5; /* seconds per throughput figure */
static int failures;
static const char *me = "bench_people";

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

	fprintf(stderr, "%s: ", me);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

/* The size as a row prefix: "100k", "1M", "12345". */
static const char *size_label(unsigned n)
{
	static char bufs[4][32];
	static unsigned next;
	char *buf = bufs[next++ % 4]; /* several may be used in one printf */

	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, 32, "%uM", n / 1000000);
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, 32, "%uk", n / 1000);
	else
		snprintf(buf, 32, "%u", n);
	return buf;
}

/* One row; a negative figure is printed as "failed". name is printf-like
 * after the size prefix (n == 0: no prefix). */
static void row(unsigned n, double figure, int decimals, const char *unit, const char *ratio, const char *fmt,
		...) __attribute__((format(printf, 6, 7)));
static void row(unsigned n, double figure, int decimals, const char *unit, const char *ratio, const char *fmt, ...)
{
	char name[160];
	size_t o = 0;
	va_list ap;

	if (n)
		o = (size_t)snprintf(name, sizeof name, "%s: ", size_label(n));
	va_start(ap, fmt);
	vsnprintf(name + o, sizeof name - o, fmt, ap);
	va_end(ap);
	if (figure >= 0)
		printf("%s\t%.*f\t%s\t%s\n", name, decimals, figure, unit, ratio ? ratio : "");
	else
		printf("%s\tfailed\t%s\t\n", name, unit);
}

/* "0.31 of plain   overhead 3.20 us": a rate against its baseline, and the
 * time added per operation. */
static const char *versus(char *buf, size_t len, double rate, double base, const char *base_name)
{
	if (rate <= 0 || base <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f of %s   overhead %.2f us", rate / base, base_name, (1 / rate - 1 / base) * 1e6);
	return buf;
}

/* "3.1x plain": a latency against its baseline. */
static const char *times(char *buf, size_t len, double value, double base, const char *base_name)
{
	if (value <= 0 || base <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1fx %s", value / base, base_name);
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Bytes this process has made the kernel read from and write to storage
 * (/proc/self/io), for the diagnostics on stderr; -1 when unknown. */
static void io_bytes(long long *read, long long *written)
{
	char line[128];
	FILE *f = fopen("/proc/self/io", "r");

	*read = *written = -1;
	while (f && fgets(line, sizeof line, f)) {
		sscanf(line, "read_bytes: %lld", read);
		sscanf(line, "write_bytes: %lld", written);
	}
	if (f)
		fclose(f);
}

/* --- child processes and clean-up ------------------------------------------- */

static int janitor_fd = -1; /* write end; the janitor cleans up when it closes */
static pid_t janitor_pid = -1;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* Gone, or a zombie nobody reaps yet (only its parent's wait frees it). */
static int process_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* The janitor: reads the server's pid (or 0 once stopped) from the pipe;
 * at end of file (this process ended, however) stops that server, then
 * removes base. It ignores the signals a terminal sends the whole group. */
static void janitor(int fd, const char *base)
{
	pid_t server = 0, v;
	int devnull = open("/dev/null", O_RDWR);

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO); /* never hold run.sh's pipe open */
	}
	for (;;) {
		ssize_t n = read(fd, &v, sizeof v);
		if (n == (ssize_t)sizeof v)
			server = v;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	if (server > 0 && !process_gone(server)) {
		kill(server, SIGTERM);
		for (int i = 0; i < 300 && !process_gone(server); i++)
			usleep(50000);
		if (!process_gone(server)) {
			kill(server, SIGKILL);
			for (int i = 0; i < 100 && !process_gone(server); i++)
				usleep(50000);
		}
	}
	if (nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		fprintf(stderr, "%s: janitor: cannot remove %s\n", me, base);
	_exit(0);
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

static void janitor_tell(pid_t server)
{
	if (janitor_fd >= 0 && write(janitor_fd, &server, sizeof server) != (ssize_t)sizeof server)
		fprintf(stderr, "%s: cannot reach the janitor\n", me);
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
static pid_t spawn(char *const argv[], int in, int out, int err, int deathsig, char *const envp[])
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
	if (envp)
		execve(argv[0], argv, envp);
	else
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
		fprintf(stderr, "%s: process %d did not exit in %.0f s: killed\n", me, (int)pid, timeout);
		kill(pid, SIGKILL);
		r = waitpid(pid, &status, 0);
	}
	if (r < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- the store and the access rules ----------------------------------------- */

static char base_dir[] = "/tmp/gh-bench-people-XXXXXX";
static char state[PATH_MAX], server_log[PATH_MAX], gatehouse_bin[PATH_MAX], https_script[PATH_MAX];

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

/* entity_check then entity_create of a JSON text; the id or -1. */
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

static int64_t door_ids[NDOORS], group_ids[NGROUPS];

static const char holidays_json[] =
	"{\"name\": \"Japan 2026\", \"dates\": ["
	"{\"date\": \"2026-01-01\", \"name\": \"New Year\"}, {\"date\": \"2026-01-12\", \"name\": \"Coming of Age\"},"
	"{\"date\": \"2026-02-11\", \"name\": \"Foundation\"}, {\"date\": \"2026-02-23\", \"name\": \"Emperor\"},"
	"{\"date\": \"2026-03-20\", \"name\": \"Vernal Equinox\"}, {\"date\": \"2026-04-29\", \"name\": \"Showa\"},"
	"{\"date\": \"2026-05-03\", \"name\": \"Constitution\"}, {\"date\": \"2026-05-04\", \"name\": \"Greenery\"},"
	"{\"date\": \"2026-05-05\", \"name\": \"Children\"}, {\"date\": \"2026-05-06\", \"name\": \"Substitute\"},"
	"{\"date\": \"2026-07-20\", \"name\": \"Marine\"}, {\"date\": \"2026-08-11\", \"name\": \"Mountain\"},"
	"{\"date\": \"2026-09-21\", \"name\": \"Respect for the Aged\"}, {\"date\": \"2026-09-23\", \"name\": \"Autumnal Equinox\"},"
	"{\"date\": \"2026-10-12\", \"name\": \"Sports\"}, {\"date\": \"2026-11-03\", \"name\": \"Culture\"},"
	"{\"date\": \"2026-11-23\", \"name\": \"Labour Thanksgiving\"}]}";

static int make_rules(void)
{
	static const char *const door_names[NDOORS] = {"Main entrance", "Office", "Server room", "Loading dock"};
	char json[512];
	int64_t site, hset, sched;

	if (db_begin() < 0)
		return fail("BEGIN failed"), -1;
	site = make_entity(&entity_sites, "{\"name\": \"Tokyo HQ\", \"timezone\": \"Asia/Tokyo\"}");
	for (int d = 0; d < NDOORS && site > 0; d++) {
		snprintf(json, sizeof json, "{\"site_id\": %lld, \"name\": \"%s\"}", (long long)site, door_names[d]);
		door_ids[d] = make_entity(&entity_doors, json);
	}
	hset = make_entity(&entity_holiday_sets, holidays_json);
	snprintf(json, sizeof json,
		 "{\"name\": \"Office hours\", \"holiday_set_id\": %lld, \"windows\": ["
		 "{\"day\": \"mon\", \"start\": \"07:00\", \"end\": \"20:00\"},"
		 "{\"day\": \"tue\", \"start\": \"07:00\", \"end\": \"20:00\"},"
		 "{\"day\": \"wed\", \"start\": \"07:00\", \"end\": \"20:00\"},"
		 "{\"day\": \"thu\", \"start\": \"07:00\", \"end\": \"20:00\"},"
		 "{\"day\": \"fri\", \"start\": \"07:00\", \"end\": \"20:00\"},"
		 "{\"day\": \"sat\", \"start\": \"09:00\", \"end\": \"13:00\"},"
		 "{\"day\": \"holiday\", \"start\": \"10:00\", \"end\": \"12:00\"}]}",
		 (long long)hset);
	sched = make_entity(&entity_schedules, json);
	for (int g = 0; g < NGROUPS; g++) {
		snprintf(json, sizeof json, "{\"name\": \"Group %d\"}", g);
		group_ids[g] = make_entity(&entity_access_groups, json);
		if (g < GRANTED_GROUPS)
			snprintf(json, sizeof json,
				 "{\"name\": \"Level %d\", \"group_id\": %lld, \"schedule_id\": %lld, "
				 "\"door_ids\": [%lld, %lld, %lld, %lld]}",
				 g, (long long)group_ids[g], (long long)sched, (long long)door_ids[0],
				 (long long)door_ids[1], (long long)door_ids[2], (long long)door_ids[3]);
		else
			snprintf(json, sizeof json,
				 "{\"name\": \"Level %d\", \"group_id\": %lld, \"schedule_id\": %lld, "
				 "\"door_ids\": [%lld]}",
				 g, (long long)group_ids[g], (long long)sched, (long long)door_ids[3]);
		make_entity(&entity_access_levels, json);
	}
	if (failures || db_commit() < 0) {
		db_rollback();
		return fail("cannot create the access rules"), -1;
	}
	return 0;
}

/* --- seeding ------------------------------------------------------------------ */

static uint32_t *person_of; /* person_of[i]: the id of person i */
static unsigned seeded;     /* people 0 .. seeded-1 exist */

/* Person i's card: ten digits, distinct for every i (i times an odd
 * constant is a bijection modulo 2^32), in no particular order. */
static void card_of(uint32_t i, char out[16])
{
	snprintf(out, 16, "%010u", i * 2654435761u);
}

struct seed_times {
	double person, credential, commit, total;
	unsigned batches;
	long long written; /* bytes written to storage meanwhile, -1 unknown */
};

/* People seeded .. n-1, BATCH per transaction. 0 or -1. */
static int seed_people(unsigned n, struct seed_times *t)
{
	cJSON *person = cJSON_CreateObject(), *card = cJSON_CreateObject(), *groups, *name, *email, *group, *number;
	char text[64], token[64];
	const char *conflict;
	double start = now(), t0, t1, last_note = start;
	unsigned first = seeded;
	long long r0, w0, r1, w1;
	int rc = 0;

	memset(t, 0, sizeof *t);
	io_bytes(&r0, &w0);
	name = cJSON_AddStringToObject(person, "name", "Person 0000000");
	email = cJSON_AddStringToObject(person, "email", "person.0000000@example.org");
	groups = cJSON_AddArrayToObject(person, "group_ids");
	group = cJSON_CreateNumber(0);
	cJSON_AddItemToArray(groups, group);
	cJSON_AddStringToObject(card, "kind", "card");
	number = cJSON_AddStringToObject(card, "number", "0000000000");
	while (rc == 0 && seeded < n) {
		unsigned end = seeded + BATCH < n ? seeded + BATCH : n;
		if (db_begin() < 0) {
			fail("BEGIN failed: %s", sqlite3_errmsg(db_get()));
			rc = -1;
			break;
		}
		for (unsigned i = seeded; i < end; i++) {
			int64_t id, cred;
			snprintf(text, sizeof text, "Person %07u", i);
			cJSON_SetValuestring(name, text);
			snprintf(text, sizeof text, "person.%07u@example.org", i);
			cJSON_SetValuestring(email, text);
			cJSON_SetNumberValue(group, (double)group_ids[i % NGROUPS]);
			card_of(i, text);
			cJSON_SetValuestring(number, text);
			t0 = now();
			id = person_create(TENANT, person, &conflict);
			t1 = now();
			t->person += t1 - t0;
			if (id <= 0 || id > UINT32_MAX) {
				fail("person_create %u: %s (%s)", i, sqlite3_errmsg(db_get()), conflict ? conflict : "-");
				rc = -1;
				break;
			}
			cred = credential_create(TENANT, id, card, &conflict, token);
			t->credential += now() - t1;
			if (cred <= 0) {
				fail("credential_create %u: %s (%s)", i, sqlite3_errmsg(db_get()), conflict ? conflict : "-");
				rc = -1;
				break;
			}
			person_of[i] = (uint32_t)id;
		}
		if (rc < 0) {
			db_rollback();
			break;
		}
		t0 = now();
		if (db_commit() < 0) {
			fail("COMMIT failed: %s", sqlite3_errmsg(db_get()));
			db_rollback();
			rc = -1;
			break;
		}
		t->commit += now() - t0;
		t->batches++;
		seeded = end;
		if (now() - last_note > 30) {
			last_note = now();
			fprintf(stderr, "%s: seeded %u of %u people (%.0f/s)\n", me, seeded, n,
				(seeded - first) / (last_note - start));
		}
	}
	t->total = now() - start;
	io_bytes(&r1, &w1);
	t->written = w0 >= 0 && w1 >= 0 ? w1 - w0 : -1;
	cJSON_Delete(person);
	cJSON_Delete(card);
	return rc;
}

/* The same cards into plain_cards (rowid = person id), in transactions of
 * BATCH rows. Rows per second, or -1. */
static double fill_plain(unsigned from, unsigned to)
{
	sqlite3_stmt *st = db_stmt("INSERT INTO plain_cards (rowid, number, person_id) VALUES (?, ?, ?)");
	double start = now();
	char number[16];
	int rc = st ? 0 : -1;

	for (unsigned b = from; rc == 0 && b < to; b += BATCH) {
		unsigned end = b + BATCH < to ? b + BATCH : to;
		if (db_begin() < 0) {
			rc = -1;
			break;
		}
		for (unsigned i = b; rc == 0 && i < end; i++) {
			card_of(i, number);
			sqlite3_bind_int64(st, 1, person_of[i]);
			sqlite3_bind_text(st, 2, number, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, person_of[i]);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = -1;
			sqlite3_reset(st);
		}
		if (rc < 0 || db_commit() < 0) {
			db_rollback();
			rc = -1;
		}
	}
	if (rc < 0) {
		fail("plain_cards fill: %s", sqlite3_errmsg(db_get()));
		return -1;
	}
	return (to - from) / (now() - start);
}

/* --- timed operations ---------------------------------------------------------- */

/* One operation on pick (an index into the people): 0, or -1 after fail(). */
typedef int (*pick_op)(void *arg, uint32_t pick);

struct samples {
	double *us;  /* latency of each operation (sorted once done) */
	size_t n;
	double rate; /* operations per second of time inside them; -1 failed */
	double median, p99;
};

static void samples_done(struct samples *s, size_t n, double total)
{
	s->n = n;
	s->rate = (double)n / total;
	qsort(s->us, n, sizeof *s->us, cmp_double);
	s->median = s->us[n / 2];
	s->p99 = s->us[(n - 1) * 99 / 100];
}

/* Time op on random picks below range, each call on its own, for the
 * budget (at least 1000 calls), after a warm-up of 1000. With a second
 * operation op2 (the baseline), every pick is done by both, in turn first,
 * each timed on its own: both see the same picks and the same disturbances
 * from the rest of the machine. Fills rate, median and p99. */
static void time_ops(uint32_t range, struct samples *s, pick_op op, void *arg, struct samples *s2, pick_op op2,
		     void *arg2)
{
	double start, t0, t1, total = 0, total2 = 0;
	int ops = op2 ? 2 : 1, rc = 0;
	size_t i;

	s->rate = s->median = s->p99 = -1;
	if (s2)
		s2->rate = s2->median = s2->p99 = -1;
	for (unsigned w = 0; rc == 0 && w < 1000; w++) {
		uint32_t pick = randombytes_uniform(range);
		rc = op(arg, pick);
		if (rc == 0 && op2)
			rc = op2(arg2, pick);
	}
	start = t1 = now();
	for (i = 0; rc == 0 && i < MAX_SAMPLES && (t1 - start < budget || i < 1000); i++) {
		uint32_t pick = randombytes_uniform(range);
		for (int k = 0; k < ops && rc == 0; k++) {
			int second = op2 && (i + (size_t)k) % 2;
			t0 = now();
			rc = second ? op2(arg2, pick) : op(arg, pick);
			t1 = now();
			(second ? s2 : s)->us[i] = (t1 - t0) * 1e6;
			*(second ? &total2 : &total) += t1 - t0;
		}
	}
	if (rc < 0)
		return;
	samples_done(s, i, total);
	if (s2)
		samples_done(s2, i, total2);
}

/* Rate, median and p99 rows of one timed operation, with ratios against
 * base (NULL: none). */
static void sample_rows(unsigned n, const char *name, const char *unit, const struct samples *s,
			const struct samples *base, const char *base_name)
{
	char r[96];

	row(n, s->rate, 0, unit, base ? versus(r, sizeof r, s->rate, base->rate, base_name) : "", "%s", name);
	row(n, s->rate > 0 ? s->median : -1, 2, "us", base ? times(r, sizeof r, s->median, base->median, base_name) : "",
	    "%s: median", name);
	row(n, s->rate > 0 ? s->p99 : -1, 2, "us", base ? times(r, sizeof r, s->p99, base->p99, base_name) : "",
	    "%s: p99", name);
}

static int blind_lookup(void *arg, uint32_t i)
{
	char number[16];
	int64_t person = 0, cred = 0;
	int rc;

	(void)arg;
	card_of(i, number);
	rc = person_by_card(TENANT, number, &person, &cred);
	if (rc != 0 || person != person_of[i]) {
		fail("person_by_card(%s) = %d, person %lld (expected %u)", number, rc, (long long)person, person_of[i]);
		return -1;
	}
	return 0;
}

static int plain_lookup(void *arg, uint32_t i)
{
	sqlite3_stmt *st = arg;
	char number[16];
	int ok;

	card_of(i, number);
	sqlite3_bind_text(st, 1, number, -1, SQLITE_TRANSIENT);
	ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == person_of[i];
	sqlite3_reset(st);
	if (!ok) {
		fail("plain lookup of %s failed: %s", number, sqlite3_errmsg(db_get()));
		return -1;
	}
	return 0;
}

struct access_arg {
	time_t at;
	unsigned granted;
};

static int check_access(void *arg, uint32_t i)
{
	struct access_arg *a = arg;
	struct access_answer ans;
	char number[16];
	int expect = i % NGROUPS < GRANTED_GROUPS, rc;

	card_of(i, number);
	rc = access_check(TENANT, number, 0, door_ids[0], a->at, &ans);
	if (rc != 0 || ans.person_id != person_of[i] || ans.r.grant != expect ||
	    (!expect && ans.r.reason != DR_NO_ACCESS_LEVEL)) {
		fail("access_check(%s) = %d: person %lld, %s (expected person %u, %s)", number, rc,
		     (long long)ans.person_id, decide_reason_name(ans.r.reason), person_of[i],
		     expect ? "granted" : "no_access_level");
		return -1;
	}
	a->granted += (unsigned)ans.r.grant;
	return 0;
}

/* 10:00 on Wednesday 2026-06-10 in Tokyo: office hours, not a holiday. */
static time_t fixed_instant(const struct tz *tokyo)
{
	struct tm local = {.tm_year = 2026 - 1900, .tm_mon = 5, .tm_mday = 10, .tm_hour = 10};
	time_t t;

	return tokyo && tz_from_local(tokyo, &local, &t) == 0 ? t : (time_t)-1;
}

/* --- paging ------------------------------------------------------------------------ */

/* Deep pages start after a cursor drawn in [lo, hi]: at least 100 rows
 * follow, so every page is full. */
static void deep_range(unsigned n, uint32_t *lo, uint32_t *hi)
{
	uint32_t last = person_of[n - 1], span = n > 10000 ? 5000 : n / 2;

	*hi = last - 100;
	*lo = last - span;
}

struct page_arg {
	sqlite3_stmt *st;
	uint32_t lo; /* cursor = lo + pick, or 0 for the first page (lo 0) */
};

static int plain_page(void *arg, uint32_t pick)
{
	struct page_arg *p = arg;
	int64_t cursor = p->lo ? p->lo + pick : 0, last = cursor;
	int rows = 0, bad = 0;

	sqlite3_bind_int64(p->st, 1, cursor);
	sqlite3_bind_int(p->st, 2, PAGE + 1);
	/* Like person_list: PAGE + 1 rows asked, the extra one only says
	 * that there is a next page. */
	while (sqlite3_step(p->st) == SQLITE_ROW && rows < PAGE) {
		last = sqlite3_column_int64(p->st, 0);
		bad |= sqlite3_column_bytes(p->st, 1) != 10 || sqlite3_column_int64(p->st, 2) != last;
		rows++;
	}
	sqlite3_reset(p->st);
	if (rows != PAGE || last <= cursor || bad) {
		fail("plain page after %lld: %d rows", (long long)cursor, rows);
		return -1;
	}
	return 0;
}

/* The same page from the domain, in this process: person_list (names and
 * e-mails opened, groups and credentials read) and the JSON text of the
 * page, as the server builds its answer before HTTP and TLS. */
static int list_page(void *arg, uint32_t pick)
{
	struct page_arg *p = arg;
	int64_t cursor = p->lo ? p->lo + pick : 0, next = 0;
	struct person_filter f = {0};
	cJSON *items = cJSON_CreateArray();
	int rows = items ? person_list(TENANT, &f, cursor, PAGE, items, &next) : -1;
	const cJSON *name = cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "name");
	int ok = rows == PAGE && next > cursor && cJSON_IsString(name) && strncmp(name->valuestring, "Person ", 7) == 0;
	char *text = ok ? cJSON_PrintUnformatted(items) : NULL;

	ok = ok && text;
	free(text);
	cJSON_Delete(items);
	if (!ok) {
		fail("person_list after %lld: %d rows, next %lld", (long long)cursor, rows, (long long)next);
		return -1;
	}
	return 0;
}

/* --- the server and the HTTPS client --------------------------------------- */

static pid_t server_pid = -1;

static int admin_create(void)
{
	char *argv[] = {gatehouse_bin, "admin", "create", "--state-dir", state, "--username", ADMIN_USER,
			"--role", "tenant-admin", "--tenant", "1", "--password-stdin", NULL};
	static const char password[] = ADMIN_PASSWORD "\n";
	int p[2], rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = spawn(argv, p[0], STDERR_FILENO, STDERR_FILENO, SIGKILL, NULL);
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return -1;
	}
	if (write(p[1], password, sizeof password - 1) != (ssize_t)(sizeof password - 1))
		fprintf(stderr, "%s: cannot write the admin password\n", me);
	close(p[1]);
	rc = reap(pid, 60);
	if (rc != 0)
		fail("gatehouse admin create exited %d", rc);
	return rc == 0 ? 0 : -1;
}

/* The server's port once its log says "listening on https://HOST:PORT", 0
 * while not yet, -1 if it has exited. */
static int server_port(void)
{
	char buf[16384], *p;
	FILE *f = fopen(server_log, "r");
	size_t n;
	int status;

	if (f) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if ((p = strstr(buf, "listening on https://"))) {
			char *end = p + strcspn(p + 13, " \n") + 13;
			while (end > p && *end != ':')
				end--;
			return atoi(end + 1);
		}
	}
	if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
		server_pid = -1;
		janitor_tell(0);
		return -1;
	}
	return 0;
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
	fprintf(stderr, "%s: --- server log (end) ---\n", me);
}

static int server_start(double *startup)
{
	char *argv[] = {gatehouse_bin, "serve", "--state-dir", state, "--set", "web.listen=127.0.0.1:0",
			"--set", "limits.api_per_second=100000", "--set", "limits.api_burst=100000", NULL};
	int fd = open(server_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), port = 0;
	double start = now();

	if (fd < 0)
		return fail("cannot create %s", server_log), -1;
	server_pid = spawn(argv, -1, -1, fd, SIGTERM, NULL);
	close(fd);
	if (server_pid < 0)
		return fail("fork failed"), -1;
	janitor_tell(server_pid);
	while ((port = server_port()) == 0 && now() - start < 120)
		usleep(20000);
	*startup = now() - start;
	if (port <= 0) {
		fail("the server did not start (%s)", port < 0 ? "it exited" : "no 'listening on' line in 120 s");
		show_server_log();
		return -1;
	}
	return port;
}

static void server_stop(void)
{
	int rc;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	rc = reap(server_pid, 60);
	server_pid = -1;
	janitor_tell(0);
	if (rc != 0) {
		fail("the server exited %d", rc);
		show_server_log();
	}
}

struct https_figures {
	double median, p99, rate; /* us, us, pages/s; -1 unknown */
	double server_cpu, client_cpu; /* us per page */
	long n;
};

/* Run the HTTPS client; parse its "first" and "deep" lines. 0 or -1. */
static int https_run(int port, uint32_t lo, uint32_t hi, struct https_figures *first, struct https_figures *deep)
{
	char port_s[16], lo_s[16], hi_s[16], secs[32], pid_s[16], page_s[16], cert[PATH_MAX + 32], out[4096];
	char *argv[] = {"/usr/bin/python3", https_script, "--port", port_s, "--cert", cert, "--user", ADMIN_USER,
			"--seconds", secs, "--deep-from", lo_s, "--deep-to", hi_s, "--page", page_s,
			"--server-pid", pid_s, NULL};
	char **envp, pw_env[] = "BENCH_PEOPLE_PASSWORD=" ADMIN_PASSWORD;
	size_t nenv = 0, got = 0;
	ssize_t r;
	int p[2], rc;
	pid_t pid;

	snprintf(port_s, sizeof port_s, "%d", port);
	snprintf(lo_s, sizeof lo_s, "%u", lo);
	snprintf(hi_s, sizeof hi_s, "%u", hi);
	snprintf(secs, sizeof secs, "%g", budget);
	snprintf(pid_s, sizeof pid_s, "%d", (int)server_pid);
	snprintf(page_s, sizeof page_s, "%d", PAGE);
	snprintf(cert, sizeof cert, "%s/tls/server.crt", state);
	while (environ[nenv])
		nenv++;
	envp = calloc(nenv + 2, sizeof *envp);
	if (!envp || pipe2(p, O_CLOEXEC) < 0) {
		free(envp);
		return -1;
	}
	memcpy(envp, environ, nenv * sizeof *envp);
	envp[nenv] = pw_env;
	pid = spawn(argv, -1, p[1], STDERR_FILENO, SIGKILL, envp);
	free(envp);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	while ((r = read(p[0], out + got, sizeof out - 1 - got)) > 0 || (r < 0 && errno == EINTR))
		if (r > 0)
			got += (size_t)r;
	close(p[0]);
	out[got] = '\0';
	rc = reap(pid, 600);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char kind[16];
		struct https_figures f;
		if (sscanf(line, "%15[^\t]\t%ld\t%lf\t%lf\t%lf\t%lf\t%lf", kind, &f.n, &f.median, &f.p99, &f.rate,
			   &f.server_cpu, &f.client_cpu) != 7)
			continue;
		if (strcmp(kind, "first") == 0)
			*first = f;
		else if (strcmp(kind, "deep") == 0)
			*deep = f;
	}
	if (rc != 0 || first->n <= 0 || deep->n <= 0) {
		fail("%s exited %d", https_script, rc);
		return -1;
	}
	return 0;
}

/* --- one size ------------------------------------------------------------------ */

static struct samples blind, plain, access_s, page_plain[2], page_list[2];
static double decide_rate = -1;

/* Random existing cards by person_by_card and, for the same cards, by the
 * plain index, in turn. */
static void bench_lookups(unsigned n)
{
	sqlite3_stmt *st = db_stmt("SELECT person_id FROM plain_cards WHERE number = ?");
	long long r0, w0, r1, w1;

	io_bytes(&r0, &w0);
	if (st)
		time_ops(n, &blind, blind_lookup, NULL, &plain, plain_lookup, st);
	io_bytes(&r1, &w1);
	sample_rows(n, "card lookup (plain index)", "lookups/s", &plain, NULL, NULL);
	sample_rows(n, "card lookup (blind index)", "lookups/s", &blind, &plain, "plain");
	if (blind.rate > 0 && r0 >= 0)
		fprintf(stderr, "%s: %s: %zu + %zu lookups read %.1f MiB from storage\n", me, size_label(n), blind.n,
			plain.n, (r1 - r0) / 1048576.0);
}

static void bench_access(unsigned n, time_t at)
{
	struct access_arg a = {at, 0};
	char r[96];

	time_ops(n, &access_s, check_access, &a, NULL, NULL, NULL);
	if (access_s.rate > 0 && decide_rate > 0)
		snprintf(r, sizeof r, "decide() alone is %.1f%% of it", 100 * access_s.rate / decide_rate);
	else
		snprintf(r, sizeof r, "-");
	row(n, access_s.rate, 0, "checks/s", r, "access_check (card, door 1, fixed instant)");
	row(n, access_s.rate > 0 ? access_s.median : -1, 2, "us",
	    times(r, sizeof r, access_s.median, blind.median, "card lookup"), "access_check: median");
	row(n, access_s.rate > 0 ? access_s.p99 : -1, 2, "us", times(r, sizeof r, access_s.p99, blind.p99, "card lookup"),
	    "access_check: p99");
	if (access_s.rate > 0)
		fprintf(stderr, "%s: %s: access_check granted %.1f%% of %zu checks (+1000 warm-up)\n", me,
			size_label(n), 100.0 * a.granted / (double)(access_s.n + 1000), access_s.n);
}

/* Pages of 50 after a cursor: plain_cards by plain SQL, and person_list,
 * in turn; the first page, then pages deep in the list. */
static void bench_pages(unsigned n)
{
	static const char *const which[2] = {"first", "deep"};
	sqlite3_stmt *st = db_stmt("SELECT rowid, number, person_id FROM plain_cards WHERE rowid > ? ORDER BY rowid LIMIT ?");
	struct page_arg a = {st, 0};
	uint32_t lo, hi;
	char r[96];

	deep_range(n, &lo, &hi);
	for (int deep = 0; deep < 2; deep++) {
		a.lo = deep ? lo : 0;
		if (st)
			time_ops(deep ? hi - lo + 1 : 1, &page_list[deep], list_page, &a, &page_plain[deep], plain_page, &a);
		row(n, page_plain[deep].median, 2, "us", "", "plain SQL page of %d (%s): median", PAGE, which[deep]);
		row(n, page_plain[deep].p99, 2, "us", "", "plain SQL page of %d (%s): p99", PAGE, which[deep]);
		row(n, page_list[deep].median, 2, "us",
		    times(r, sizeof r, page_list[deep].median, page_plain[deep].median, "plain SQL page"),
		    "person_list page of %d + JSON (%s): median", PAGE, which[deep]);
		row(n, page_list[deep].p99, 2, "us",
		    times(r, sizeof r, page_list[deep].p99, page_plain[deep].p99, "plain SQL page"),
		    "person_list page of %d + JSON (%s): p99", PAGE, which[deep]);
	}
}

/* "183.1x plain SQL page, 1.4x person_list" */
static const char *page_ratio(char *buf, size_t len, double value, const struct samples *plain_s,
			      const struct samples *list_s, int p99)
{
	double b1 = p99 ? plain_s->p99 : plain_s->median, b2 = p99 ? list_s->p99 : list_s->median;

	if (value <= 0 || b1 <= 0 || b2 <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1fx plain SQL page, %.1fx person_list", value / b1, value / b2);
	return buf;
}

static void https_rows(unsigned n, int deep, const struct https_figures *f)
{
	const char *which = deep ? "deep" : "first";
	char r[96];

	row(n, f->median, 2, "us", page_ratio(r, sizeof r, f->median, &page_plain[deep], &page_list[deep], 0),
	    "HTTPS GET /api/v1/people?limit=%d (%s): median", PAGE, which);
	row(n, f->p99, 2, "us", page_ratio(r, sizeof r, f->p99, &page_plain[deep], &page_list[deep], 1),
	    "HTTPS GET /api/v1/people?limit=%d (%s): p99", PAGE, which);
	row(n, f->rate, 1, "pages/s", "", "HTTPS GET /api/v1/people?limit=%d (%s)", PAGE, which);
	row(n, f->n > 0 ? f->server_cpu : -1, 1, "us/page", "", "HTTPS GET ... (%s): server CPU", which);
	row(n, f->n > 0 ? f->client_cpu : -1, 1, "us/page", "", "HTTPS GET ... (%s): client CPU (Python)", which);
}

static void bench_https(unsigned n)
{
	static int admin_made;
	struct https_figures first = {-1, -1, -1, -1, -1, 0}, deep = {-1, -1, -1, -1, -1, 0};
	uint32_t lo, hi;
	double startup = -1;
	int port;

	deep_range(n, &lo, &hi);
	if (!admin_made && admin_create() == 0)
		admin_made = 1;
	if (admin_made && (port = server_start(&startup)) > 0) {
		https_run(port, lo, hi, &first, &deep);
		server_stop();
	}
	row(n, startup, 2, "s", "", "gatehouse serve: start until listening");
	https_rows(n, 0, &first);
	https_rows(n, 1, &deep);
}

/* Size of a database (main or ks) in MiB: page_count * page_size. */
static double db_megabytes(const char *schema)
{
	char sql[64];
	sqlite3_stmt *st;
	double v[2] = {-1, -1};

	for (int i = 0; i < 2; i++) {
		snprintf(sql, sizeof sql, "PRAGMA %s.%s", schema, i ? "page_size" : "page_count");
		if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			v[i] = (double)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return v[0] < 0 || v[1] < 0 ? -1 : v[0] * v[1] / 1048576;
}

static void bench_size(unsigned n, time_t at)
{
	struct seed_times t;
	unsigned from = seeded, added = n - seeded;
	double plain_rate, seed_rate = -1;
	char r[96];

	fprintf(stderr, "%s: seeding people %u..%u\n", me, from, n - 1);
	if (seed_people(n, &t) == 0)
		seed_rate = added / t.total;
	plain_rate = seed_rate > 0 ? fill_plain(from, n) : -1;
	row(n, plain_rate, 0, "rows/s", "", "insert plain_cards rows %s..%s (plain)", size_label(from), size_label(n));
	row(n, seed_rate, 0, "people/s", versus(r, sizeof r, seed_rate, plain_rate, "plain"),
	    "seed people %s..%s (person + card)", size_label(from), size_label(n));
	row(n, seed_rate > 0 ? t.total : -1, 1, "s", "", "seed people %s..%s: total time", size_label(from), size_label(n));
	row(n, seed_rate > 0 ? t.person / added * 1e6 : -1, 1, "us/person", "", "seed: person_create");
	row(n, seed_rate > 0 ? t.credential / added * 1e6 : -1, 1, "us/person", "", "seed: credential_create (card)");
	row(n, seed_rate > 0 ? t.commit / t.batches * 1e3 : -1, 1, "ms/commit", "", "seed: COMMIT of %d people", BATCH);
	if (seed_rate < 0)
		return;
	if (t.written >= 0)
		fprintf(stderr, "%s: %s: seeding wrote %.0f MiB to storage, %.1f KiB per person\n", me, size_label(n),
			t.written / 1048576.0, t.written / 1024.0 / added);
	row(n, db_megabytes("main"), 1, "MiB", "", "size of gatehouse.db");
	row(n, db_megabytes("ks"), 1, "MiB", "", "size of keystore.db");
	bench_lookups(n);
	bench_access(n, at);
	bench_pages(n);
	bench_https(n);
}

/* --- decide() alone ---------------------------------------------------------------- */

struct decide_arg {
	struct decide_query q;
	struct decide_result r;
};

/* decide() on a query whose first two levels do not cover the instant (a
 * weekend schedule and a night schedule), so all three are looked at; the
 * third (office hours and 17 holidays) grants. Decisions per second over
 * the budget after a warm-up, the clock read once per growing batch. */
static void bench_decide(const struct tz *tokyo, time_t at)
{
	static const struct decide_window weekend[] = {{5, 8 * 60, 18 * 60}, {6, 8 * 60, 18 * 60}};
	static const struct decide_window night[] = {{0, 22 * 60, 6 * 60}, {1, 22 * 60, 6 * 60}, {2, 22 * 60, 6 * 60},
						     {3, 22 * 60, 6 * 60}, {4, 22 * 60, 6 * 60}};
	static const struct decide_window office[] = {{0, 420, 1200}, {1, 420, 1200}, {2, 420, 1200}, {3, 420, 1200},
						      {4, 420, 1200}, {5, 540, 780},  {7, 600, 720}};
	static const char *const hol[] = {"2026-01-01", "2026-01-12", "2026-02-11", "2026-02-23", "2026-03-20",
					  "2026-04-29", "2026-05-03", "2026-05-04", "2026-05-05", "2026-05-06",
					  "2026-07-20", "2026-08-11", "2026-09-21", "2026-09-23", "2026-10-12",
					  "2026-11-03", "2026-11-23"};
	static const struct decide_schedule s[3] = {
		{weekend, 2, hol, 17},
		{night, 5, hol, 17},
		{office, 7, hol, 17},
	};
	static const struct decide_level levels[3] = {{1, &s[0]}, {2, &s[1]}, {3, &s[2]}};
	struct decide_arg a = {
		.q = {.credential_known = 1, .credential_active = 1, .credential_from = "2025-04-01T00:00:00",
		      .credential_until = "2030-03-31T23:59:59", .person_active = 1, .person_from = "2025-04-01",
		      .person_until = "", .zone = tokyo, .levels = levels, .nlevels = 3, .instant = at},
	};
	double start, t, batch_start, warm_until = now() + budget / 10;
	long long n = 0, batch = 1;

	decide(&a.q, &a.r);
	if (!a.r.grant || a.r.level_id != 3) {
		fail("decide: %s, level %lld (expected granted by level 3)", decide_reason_name(a.r.reason),
		     (long long)a.r.level_id);
		row(0, -1, 0, "decisions/s", "", "decide() alone (3 levels, 17 holidays)");
		return;
	}
	while (now() < warm_until)
		decide(&a.q, &a.r);
	start = t = now();
	while (t - start < budget) {
		batch_start = t;
		for (long long i = 0; i < batch; i++) {
			a.q.instant = at + (i & 1); /* defeat any hoisting */
			decide(&a.q, &a.r);
		}
		n += batch;
		t = now();
		if (t - batch_start < budget / 100)
			batch *= 2;
	}
	decide_rate = (double)n / (t - start);
	row(0, decide_rate, 0, "decisions/s", "", "decide() alone (3 levels, 17 holidays)");
	row(0, 1e6 / decide_rate, 3, "us", "", "decide() alone: mean");
}

/* --- set-up ---------------------------------------------------------------------- */

static void read_settings(unsigned sizes[2], int *nsizes)
{
	const char *s = getenv("BENCH_SECONDS"), *q = getenv("BENCH_QUICK"), *m = getenv("BENCH_PEOPLE_MAX");
	char *end;
	double v = s ? strtod(s, &end) : 0;
	unsigned long max = 1000000;
	unsigned first = 100000;

	if (s && *s && !*end && v > 0 && v <= 60)
		budget = v;
	if (m && *m) {
		unsigned long x = strtoul(m, &end, 10);
		if (!*end && x >= 1000 && x <= 20000000)
			max = x;
		else
			fprintf(stderr, "%s: BENCH_PEOPLE_MAX=%s ignored (1000 .. 20000000)\n", me, m);
	}
	if (q && strcmp(q, "1") == 0) {
		first = 10000;
		max = max < 50000 ? max : 50000;
	}
	*nsizes = 0;
	if (first < max)
		sizes[(*nsizes)++] = first;
	sizes[(*nsizes)++] = (unsigned)max;
}

/* Next to this program: BUILD/gatehouse; the client script is looked for
 * in tests/bench below the current directory and the program's ancestors. */
static int find_programs(void)
{
	char exe[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return -1;
	*slash = '\0';
	snprintf(gatehouse_bin, sizeof gatehouse_bin, "%s/gatehouse", exe);
	if (realpath("tests/bench/bench_people_https.py", https_script))
		return 0;
	snprintf(dir, sizeof dir, "%s", exe);
	for (int up = 0; up < 4; up++) {
		char candidate[PATH_MAX + 40];
		snprintf(candidate, sizeof candidate, "%s/tests/bench/bench_people_https.py", dir);
		if (access(candidate, R_OK) == 0) {
			snprintf(https_script, sizeof https_script, "%s", candidate);
			return 0;
		}
		if (!(slash = strrchr(dir, '/')) || slash == dir)
			break;
		*slash = '\0';
	}
	return -1;
}

int main(void)
{
	struct samples *const all_samples[] = {&blind, &plain, &access_s, &page_plain[0], &page_plain[1],
					       &page_list[0], &page_list[1]};
	unsigned sizes[2];
	int nsizes, opened = 0, out_of_memory = 0;
	const struct tz *tokyo;
	time_t at;
	double t_start = now();

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);
	read_settings(sizes, &nsizes);
	if (sodium_init() < 0 || !mkdtemp(base_dir)) {
		perror("bench_people: set-up");
		return 1;
	}
	snprintf(state, sizeof state, "%s/state", base_dir);
	snprintf(server_log, sizeof server_log, "%s/server.log", base_dir);
	if (janitor_start(base_dir) < 0) {
		perror("bench_people: janitor");
		rmdir(base_dir);
		return 1;
	}
	if (find_programs() < 0)
		fail("cannot find build/gatehouse next to this program or tests/bench/bench_people_https.py");
	else if (access(gatehouse_bin, X_OK) < 0)
		fail("%s: %s (make bench builds it)", gatehouse_bin, strerror(errno));
	person_of = malloc(sizes[nsizes - 1] * sizeof *person_of);
	for (size_t i = 0; i < sizeof all_samples / sizeof all_samples[0]; i++)
		if (!(all_samples[i]->us = malloc(MAX_SAMPLES * sizeof *all_samples[i]->us)))
			out_of_memory = 1;
	tokyo = tz_get("Asia/Tokyo");
	at = fixed_instant(tokyo);
	if (!person_of || out_of_memory)
		fail("out of memory");
	else if (at == (time_t)-1)
		fail("no time zone Asia/Tokyo");
	else if (!failures && store_open(state) == 0)
		opened = 1;
	if (opened && make_rules() == 0 &&
	    db_exec(db_get(), "CREATE TABLE plain_cards (number TEXT PRIMARY KEY, person_id INTEGER)") == SQLITE_OK) {
		fprintf(stderr, "%s: sizes %u%s%u, BENCH_SECONDS %g, state %s\n", me, sizes[0], nsizes > 1 ? " then " : "",
			nsizes > 1 ? sizes[1] : 0, budget, state);
		bench_decide(tokyo, at);
		for (int i = 0; i < nsizes && !failures; i++)
			bench_size(sizes[i], at);
	} else if (opened) {
		fail("set-up of the access rules or plain_cards failed");
	}
	server_stop();
	if (opened) {
		vault_close();
		db_close();
	}
	janitor_finish();
	fprintf(stderr, "%s: done in %.1f s\n", me, now() - t_start);
	free(person_of);
	for (size_t i = 0; i < sizeof all_samples / sizeof all_samples[0]; i++)
		free(all_samples[i]->us);
	return opened && !failures ? 0 : 1;
}
