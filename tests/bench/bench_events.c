/* bench_events: the event log at ten million events. How long does the
 * first page take, unfiltered, by person and by door, and a page deep in
 * a door's history, through event_list (the function behind GET
 * /api/v1/events: the query with its joins, the person's name opened by
 * the vault, the JSON), against the bare indexed SELECT of the same ids?
 *
 * On a fresh directory /tmp/gh-bench-events-XXXXXX it creates 1,001
 * people through person_create (names sealed under their own keys), 200
 * terminals with a door each, and BENCH_EVENTS events (default 10,000,000;
 * BENCH_QUICK=1: 200,000) inserted with one prepared statement in
 * transactions of 100,000, 10 ms apart, round-robin over the terminals:
 * 90% access (18 different people in each run of 20, one in ten denied), 5% door
 * opened, 5% closed; person 1001 has one access event every 500,000.
 * Every figure is the median and p99 of repeated runs for BENCH_SECONDS
 * (default 0.5) each, with the personal fields on (an operator's view).
 * Every page is checked (its size, its order, its filter). Output:
 * tab-separated rows (benchmark, figure, unit, ratio) for run.sh. */
#include "core/db.h"
#include "core/log.h"
#include "core/state.h"
#include "core/vault.h"
#include "domain/event_log.h"
#include "domain/people.h"

#include <cJSON.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TENANT VAULT_DEFAULT_TENANT
#define PEOPLE 1000
#define RARE (PEOPLE + 1)
#define TERMINALS 200
#define BATCH 100000
#define BASE_MS 1767225600000LL /* 2026-01-01 */
#define MAX_SAMPLES 100000

static double budget = 0.5;
static int failures;
static long long nevents = 10000000;
static double samples[MAX_SAMPLES];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *name, double figure, int decimals, const char *unit, const char *ratio)
{
	if (nevents >= 1000000)
		printf("%lldM events: %s\t%.*f\t%s\t%s\n", nevents / 1000000, name, decimals, figure, unit, ratio ? ratio : "");
	else
		printf("%lldk events: %s\t%.*f\t%s\t%s\n", nevents / 1000, name, decimals, figure, unit, ratio ? ratio : "");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int exec(const char *sql)
{
	if (db_exec(db_get(), sql) != SQLITE_OK) {
		fprintf(stderr, "bench_events: %s: %s\n", sql, sqlite3_errmsg(db_get()));
		failures++;
		return -1;
	}
	return 0;
}

/* --- seeding -------------------------------------------------------------------- */

static int seed_people(void)
{
	const char *conflict;
	char name[64];

	if (db_begin() < 0)
		return -1;
	for (int i = 1; i <= RARE; i++) {
		cJSON *body = cJSON_CreateObject();
		snprintf(name, sizeof name, "利用者 %04d", i);
		cJSON_AddStringToObject(body, "name", name);
		int64_t id = person_create(TENANT, body, &conflict);
		cJSON_Delete(body);
		if (id != i) {
			fprintf(stderr, "bench_events: person %d got id %lld\n", i, (long long)id);
			db_rollback();
			return -1;
		}
	}
	return db_commit();
}

static int seed_terminals(void)
{
	char sql[400];

	if (exec("BEGIN") < 0 || exec("INSERT INTO sites (id, tenant_id, name, timezone, created_at, updated_at) "
				     "VALUES (1, 1, 'HQ', 'Asia/Tokyo', 0, 0)") < 0)
		return -1;
	for (int i = 1; i <= TERMINALS; i++) {
		snprintf(sql, sizeof sql,
			 "INSERT INTO devices (id, tenant_id, site_id, uid, name, status, created_at, updated_at) "
			 "VALUES (%d, 1, 1, 't%016d', 'reader %d', 'active', 0, 0); "
			 "INSERT INTO doors (id, tenant_id, site_id, name, terminal_id, created_at, updated_at) "
			 "VALUES (%d, 1, 1, 'door %d', %d, 0, 0)", i, i, i, i, i, i);
		if (exec(sql) < 0)
			return -1;
	}
	return exec("COMMIT");
}

static long long at_of(long long i) { return BASE_MS + i * 10; }

/* Seeding speed is not what is measured: no fsync, a large cache. The
 * pages are timed on the same connection afterwards, as the service's
 * settings would have it (the reads do not depend on these). */
static int fast_seeding(int on)
{
	return exec(on ? "PRAGMA main.synchronous = OFF" : "PRAGMA main.synchronous = FULL") |
	       exec(on ? "PRAGMA cache_size = -262144" : "PRAGMA cache_size = -2000");
}

static int seed_events(void)
{
	sqlite3_stmt *st;
	long long seq[TERMINALS + 1] = {0};
	double t0 = now();

	if (fast_seeding(1) < 0)
		return -1;
	if (sqlite3_prepare_v2(db_get(), "INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id, "
					 "person_id, result, reason) VALUES (1, ?1, ?2, ?3, ?3, ?4, ?1, ?5, ?6, ?6)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (long long i = 0; i < nevents; i++) {
		int term = (int)(i % TERMINALS) + 1, k = (int)(i % 20);
		if (i % BATCH == 0 && exec("BEGIN") < 0)
			break;
		sqlite3_bind_int(st, 1, term);
		sqlite3_bind_int64(st, 2, ++seq[term]);
		sqlite3_bind_int64(st, 3, at_of(i));
		if (i % 500000 == 250000) {
			sqlite3_bind_text(st, 4, "access", -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 5, RARE);
			sqlite3_bind_text(st, 6, "granted", -1, SQLITE_STATIC);
		} else if (k < 18) {
			sqlite3_bind_text(st, 4, "access", -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 5, (int)(((i / 20) * 7919 + k) % PEOPLE) + 1);
			sqlite3_bind_text(st, 6, (i / 20) % 10 == 3 ? "denied" : "granted", -1, SQLITE_STATIC);
		} else {
			sqlite3_bind_text(st, 4, k == 18 ? "door_opened" : "door_closed", -1, SQLITE_STATIC);
			sqlite3_bind_null(st, 5);
			sqlite3_bind_null(st, 6);
		}
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "bench_events: insert: %s\n", sqlite3_errmsg(db_get()));
			failures++;
			break;
		}
		sqlite3_reset(st);
		if ((i + 1) % BATCH == 0 || i + 1 == nevents)
			if (exec("COMMIT") < 0)
				break;
	}
	sqlite3_finalize(st);
	double secs = now() - t0;
	char ratio[64];
	snprintf(ratio, sizeof ratio, "%.0f s in all", secs);
	row("seed events (6 indexes, 100k per transaction, no fsync)", (double)nevents / secs, 0, "rows/s", ratio);
	return fast_seeding(0) < 0 || failures ? -1 : 0;
}

/* --- timing -------------------------------------------------------------------- */

struct query {
	const char *name;
	struct event_filter f;
	int expect;         /* rows on the page */
};

/* Checks a page: size, newest first, and the filter held. */
static int check_page(const struct query *q, cJSON *items)
{
	double prev = 1e300;
	cJSON *e;

	if (cJSON_GetArraySize(items) != q->expect)
		return -1;
	cJSON_ArrayForEach(e, items)
	{
		double id = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "id"));
		if (id >= prev)
			return -1; /* seeded in time order: ids fall with at */
		prev = id;
		if (q->f.person && cJSON_GetNumberValue(cJSON_GetObjectItem(e, "person_id")) != (double)q->f.person)
			return -1;
		if (q->f.door && cJSON_GetNumberValue(cJSON_GetObjectItem(e, "door_id")) != (double)q->f.door)
			return -1;
		if (q->f.person && !cJSON_IsString(cJSON_GetObjectItem(e, "person_name")))
			return -1;
		if (q->f.result && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "result")), q->f.result) != 0)
			return -1;
	}
	return 0;
}

static int time_query(const struct query *q, double *median, double *p99)
{
	double start = now();
	int n = 0;

	while (n < MAX_SAMPLES && (now() - start < budget || n < 5)) {
		cJSON *items = cJSON_CreateArray();
		char next[48];
		double t0 = now();
		int got = event_list(&q->f, items, next, sizeof next);
		char *text = cJSON_PrintUnformatted(items); /* what the API would send */
		samples[n++] = now() - t0;
		cJSON_free(text);
		if (got < 0 || check_page(q, items) < 0) {
			fprintf(stderr, "bench_events: %s: wrong page (%d rows)\n", q->name, got);
			cJSON_Delete(items);
			failures++;
			return -1;
		}
		cJSON_Delete(items);
	}
	qsort(samples, (size_t)n, sizeof samples[0], cmp_double);
	*median = samples[n / 2] * 1000;
	*p99 = samples[n * 99 / 100] * 1000;
	return n;
}

/* The bare indexed SELECT of the same page's ids: the baseline. */
static int time_plain(const char *sql, int64_t arg, double *median)
{
	sqlite3_stmt *st;
	double start = now();
	int n = 0;

	if (sqlite3_prepare_v2(db_get(), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (n < MAX_SAMPLES && (now() - start < budget || n < 5)) {
		double t0 = now();
		sqlite3_bind_int64(st, 1, arg);
		while (sqlite3_step(st) == SQLITE_ROW)
			;
		sqlite3_reset(st);
		samples[n++] = now() - t0;
	}
	sqlite3_finalize(st);
	qsort(samples, (size_t)n, sizeof samples[0], cmp_double);
	*median = samples[n / 2] * 1000;
	return n;
}

static void report(const struct query *q, const char *plain_sql, int64_t arg)
{
	double med, p99, base;
	char name[160], ratio[80] = "";

	if (time_query(q, &med, &p99) < 0)
		return;
	if (plain_sql && time_plain(plain_sql, arg, &base) > 0)
		snprintf(ratio, sizeof ratio, "%.1fx bare SELECT (%.3f ms)", med / base, base);
	snprintf(name, sizeof name, "%s: median", q->name);
	row(name, med, 3, "ms", ratio);
	snprintf(name, sizeof name, "%s: p99", q->name);
	row(name, p99, 3, "ms", NULL);
}

static void bench_queries(void)
{
	struct query common = {"first page, person (~1% of events)", {.tenant = TENANT, .person = 42, .limit = 50, .personal = 1}, 50};
	struct query rare = {"first page, person with 1 event in 500k", {.tenant = TENANT, .person = RARE, .limit = 50, .personal = 1},
			     (int)((nevents + 250000) / 500000) < 50 ? (int)((nevents + 250000) / 500000) : 50};
	struct query all = {"first page, no filter", {.tenant = TENANT, .limit = 50, .personal = 1}, 50};
	struct query door = {"first page, door (0.5% of events)", {.tenant = TENANT, .door = 77, .limit = 50, .personal = 1}, 50};
	struct query denied = {"first page, door + denied", {.tenant = TENANT, .door = 77, .result = "denied", .limit = 50, .personal = 1}, 50};
	struct query deep = {"page in the middle of a door's history",
			     {.tenant = TENANT, .door = 77, .limit = 50, .personal = 1, .has_cursor = 1,
			      .cursor_at = at_of(nevents / 2), .cursor_id = nevents / 2 + 1}, 50};
	struct query range = {"first page, person, within one day",
			      {.tenant = TENANT, .person = 42, .from_ms = at_of(nevents / 2), .to_ms = at_of(nevents / 2) + 86400000LL,
			       .limit = 50, .personal = 1}, 50};

	if (nevents < 10000000)
		range.f.to_ms = at_of(nevents);
	report(&all, "SELECT id FROM events WHERE tenant_id = ?1 ORDER BY at DESC, id DESC LIMIT 51", TENANT);
	report(&common, "SELECT id FROM events WHERE tenant_id = 1 AND person_id = ?1 ORDER BY at DESC, id DESC LIMIT 51", 42);
	report(&rare, "SELECT id FROM events WHERE tenant_id = 1 AND person_id = ?1 ORDER BY at DESC, id DESC LIMIT 51", RARE);
	report(&door, "SELECT id FROM events WHERE tenant_id = 1 AND door_id = ?1 ORDER BY at DESC, id DESC LIMIT 51", 77);
	report(&denied, NULL, 0);
	door.name = "first page, door, no personal fields (auditor)";
	door.f.personal = 0;
	report(&door, NULL, 0);
	report(&deep, NULL, 0);
	report(&range, NULL, 0);
}

/* --- set-up ----------------------------------------------------------------------- */

static int store_open(const char *dir)
{
	char err[700], db[600], ks[600];

	if (state_open(dir, err, sizeof err) < 0 || state_mkdir("keys", err, sizeof err) < 0) {
		fprintf(stderr, "bench_events: %s\n", err);
		return -1;
	}
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (db_open(db, ks, 5000, err, sizeof err) < 0 || vault_open(dir, err, sizeof err) < 0) {
		fprintf(stderr, "bench_events: %s\n", err);
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void read_env(void)
{
	const char *s = getenv("BENCH_SECONDS"), *n = getenv("BENCH_EVENTS"), *quick = getenv("BENCH_QUICK");
	char *end;
	double v = s ? strtod(s, &end) : 0;

	if (s && *s && !*end && v > 0 && v <= 60)
		budget = v;
	if (quick && strcmp(quick, "1") == 0)
		nevents = 200000;
	if (n && *n && strtoll(n, &end, 10) >= 1000 && !*end)
		nevents = strtoll(n, NULL, 10);
}

int main(void)
{
	char dir[] = "/tmp/gh-bench-events-XXXXXX";
	int ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOG_WARN);
	read_env();
	if (sodium_init() < 0 || !mkdtemp(dir)) {
		perror("bench_events: set-up");
		return 1;
	}
	ok = store_open(dir) == 0 && seed_people() == 0 && seed_terminals() == 0 && seed_events() == 0;
	if (ok) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db_get(), "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
				       -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			row("size of gatehouse.db", (double)sqlite3_column_int64(st, 0) / 1048576.0, 0, "MiB", NULL);
		sqlite3_finalize(st);
		fprintf(stderr, "bench_events: %lld events seeded; timing pages\n", nevents);
		bench_queries();
	}
	vault_close();
	db_close();
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_events: cannot remove %s\n", dir);
	return ok && !failures ? 0 : 1;
}
