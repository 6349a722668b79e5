/* bench-sync: site sync over the real network path (tests/bench/README.md).
 *
 *   1. A central state is seeded in a child process through the domain
 *      functions: one site with a terminal, an access group, and
 *      BENCH_SYNC_PEOPLE people (default 100,000), each with a sealed name
 *      and e-mail, a blind-indexed e-mail, the group and a card; then a
 *      pairing is made for the site.
 *   2. The real `gatehouse serve` runs on it; a new site state pairs with
 *      `gatehouse sync pair` (pinned to the certificate the server prints).
 *   3. Timed: `gatehouse jobs run sync` on the site, which pulls everything
 *      (changesets of sync.batch bytes, over HTTPS, each applied in one
 *      transaction). Bytes are the job's own count of what came over the
 *      wire (changesets, without HTTP and TLS framing).
 *   4. BENCH_SYNC_EVENTS events (default 1,000,000) are written at the site
 *      in a child process, as the device link stores card reads: each with
 *      its details sealed under the person's key.
 *   5. Timed: `gatehouse jobs run sync` again, which pushes them all; the
 *      central opens and seals each event's details again under its own row
 *      id.
 * Raw size: every column value of the rows carried, as SQLite stores them:
 * 8 bytes per integer, the length of each text and blob (sealed values as
 * their ciphertext), nothing for NULL. The ratio is bytes sent / raw.
 * BENCH_QUICK=1: 10,000 people and 100,000 events. */
#include "core/config.h"
#include "core/db.h"
#include "core/state.h"
#include "core/vault.h"
#include "domain/entity.h"
#include "domain/people.h"
#include "sync/apply.h"
#include "sync/pairing.h"
#include "sync/tables.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char top[PATH_MAX], central_dir[PATH_MAX], site_dir[PATH_MAX], server_log[PATH_MAX], bin[PATH_MAX];
static pid_t server = -1;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *name, double figure, const char *unit, const char *ratio)
{
	printf("%s\t%.2f\t%s\t%s\n", name, figure, unit, ratio ? ratio : "");
	fflush(stdout);
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? atol(v) : def;
}

/* --- processes ---------------------------------------------------------------- */

static int run_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(fn(arg) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int run_bin(char *const argv[], const char *out_path)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execv(bin, argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int store_open(const char *dir)
{
	struct config *cfg = calloc(1, sizeof *cfg);
	char err[700], db[PATH_MAX + 20], ks[PATH_MAX + 30], set[PATH_MAX + 20];

	if (!cfg || sodium_init() < 0 || config_init(cfg) < 0)
		return -1;
	config_global = cfg;
	snprintf(set, sizeof set, "state.dir=%s", dir);
	config_set(cfg, set, err, sizeof err);
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	if (state_open(dir, err, sizeof err) < 0 || state_mkdir("keys", err, sizeof err) < 0 ||
	    db_open(db, ks, 30000, err, sizeof err) < 0 || vault_open(dir, err, sizeof err) < 0) {
		fprintf(stderr, "bench-sync: %s\n", err);
		return -1;
	}
	return 0;
}

/* --- the central, seeded ---------------------------------------------------------- */

static int64_t create(const struct entity *e, const char *json)
{
	cJSON *body = cJSON_Parse(json);
	int64_t id = entity_create(e, 1, body);

	cJSON_Delete(body);
	return id;
}

static int seed_central(void *arg)
{
	long people = *(long *)arg;
	char json[200];
	const char *conflict;
	int64_t site, group;

	if (store_open(central_dir) < 0 || db_begin() < 0)
		return -1;
	site = create(&entity_sites, "{\"name\":\"Bench site\",\"timezone\":\"Asia/Tokyo\"}");
	group = create(&entity_access_groups, "{\"name\":\"Staff\"}");
	snprintf(json, sizeof json, "INSERT INTO devices (id, tenant_id, site_id, uid, name, model, created_at, updated_at) "
		 "VALUES (1, 1, %lld, 'tbench00000000001', 'bench terminal', 'GH-SIM', unixepoch(), unixepoch())",
		 (long long)site);
	if (site < 0 || group < 0 || db_exec(db_get(), json) != SQLITE_OK)
		return -1;
	for (long i = 0; i < people; i++) {
		cJSON *b;
		snprintf(json, sizeof json, "{\"name\":\"Person %ld 名前\",\"email\":\"p%ld@example.jp\",\"group_ids\":[%lld]}",
			 i, i, (long long)group);
		b = cJSON_Parse(json);
		int64_t pid = person_create(1, b, &conflict);
		cJSON_Delete(b);
		snprintf(json, sizeof json, "{\"kind\":\"card\",\"number\":\"%010ld\"}", 4500000000L + i * 7919 % 500000000L);
		b = cJSON_Parse(json);
		char token[64];
		int64_t cid = pid > 0 ? credential_create(1, pid, b, &conflict, token) : -1;
		cJSON_Delete(b);
		if (cid <= 0)
			return -1;
		if ((i + 1) % 5000 == 0 && (db_commit() < 0 || db_begin() < 0))
			return -1;
	}
	return db_commit();
}

/* With the server running: its certificate exists, the pairing names it. */
static int make_pairing(void *arg)
{
	struct sync_actor who = {"system", "bench", "bench", 1};
	char err[400], path[PATH_MAX + 10];
	cJSON *out;
	FILE *f;

	(void)arg;
	if (store_open(central_dir) < 0 || sync_pairing_create(1, 1, &who, &out, err, sizeof err) != SYNC_OK) {
		fprintf(stderr, "bench-sync: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof path, "%s/code", top);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f, "%s\n", cJSON_GetObjectItem(out, "code")->valuestring);
	fclose(f);
	cJSON_Delete(out);
	return 0;
}

/* --- the site's events -------------------------------------------------------------- */

static int seed_events(void *arg)
{
	long events = *(long *)arg;
	sqlite3_stmt *st;
	long long base = (long long)time(NULL) * 1000 - events * 10;
	int64_t people;

	if (store_open(site_dir) < 0)
		return -1;
	st = db_stmt("SELECT count(*) FROM people");
	people = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (people < 1 || db_begin() < 0 ||
	    sqlite3_prepare_v2(db_get(), "INSERT INTO events (id, tenant_id, device_id, seq, at, received_at, kind, "
					 "door_id, person_id, credential_id, result, reason, details) "
					 "VALUES (?1, 1, 1, ?1, ?2, ?2 + 40, 'access', NULL, ?3, ?3, 'granted', 'granted', ?4)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (long i = 1; i <= events; i++) {
		int64_t person = 1 + (i * 7919) % people;
		struct vault_ref ref = {1, "events", "details", i};
		unsigned char *sealed;
		size_t slen;
		char json[64];
		int n = snprintf(json, sizeof json, "{\"card\":\"%010lld\"}", 4500000000LL + (long long)person);
		if (vault_seal_person(&ref, person, json, (size_t)n, &sealed, &slen) != VAULT_OK)
			return -1;
		sqlite3_bind_int64(st, 1, i);
		sqlite3_bind_int64(st, 2, base + i * 10);
		sqlite3_bind_int64(st, 3, person);
		sqlite3_bind_blob(st, 4, sealed, (int)slen, free);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -1;
		sqlite3_reset(st);
		if (i % 50000 == 0 && (db_commit() < 0 || db_begin() < 0))
			return -1;
	}
	sqlite3_finalize(st);
	return db_commit();
}

/* --- raw size, read with plain SQLite ---------------------------------------------------- */

/* sum over the rows of sql's table of 8 per integer, the length of texts and blobs. */
static double raw_of(sqlite3 *db, const char *table, const char *const *cols, int ncols, const char *where)
{
	char sql[4096];
	size_t n = 0;
	sqlite3_stmt *st;
	double v = 0;

	n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT sum(0");
	for (int i = 0; i < ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof sql - n,
				      " + CASE typeof(\"%s\") WHEN 'integer' THEN 8 WHEN 'real' THEN 8 WHEN 'null' THEN 0 "
				      "ELSE length(CAST(\"%s\" AS BLOB)) END", cols[i], cols[i]);
	snprintf(sql + n, sizeof sql - n, ") FROM %s %s", table, where ? where : "");
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* What the site received: the central's tables as they now are there. */
static double raw_people(void)
{
	static const char *const pk[] = {"id", "tenant_id", "person_id", "tenant_key_id", "wrapped", "created_at"};
	char path[PATH_MAX + 20];
	sqlite3 *db;
	double v = 0;

	snprintf(path, sizeof path, "%s/gatehouse.db", site_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return 0;
	for (size_t i = 0; i < sync_tables_count; i++) {
		v += raw_of(db, sync_tables[i].table, sync_tables[i].cols, sync_tables[i].ncols, NULL);
		if (sync_tables[i].child)
			v += raw_of(db, sync_tables[i].child->table, sync_tables[i].child->cols, sync_tables[i].child->ncols,
				    NULL);
	}
	sqlite3_close(db);
	snprintf(path, sizeof path, "%s/keys/keystore.db", site_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return v;
	v += raw_of(db, "person_keys", pk, 6, NULL);
	sqlite3_close(db);
	return v;
}

static double raw_events(void)
{
	static const char *const cols[] = {"id", "tenant_id", "device_id", "seq", "at", "received_at", "kind",
					   "door_id", "person_id", "credential_id", "result", "reason", "details"};
	char path[PATH_MAX + 20];
	sqlite3 *db;
	double v = 0;

	snprintf(path, sizeof path, "%s/gatehouse.db", site_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		v = raw_of(db, "events", cols, 13, NULL);
	sqlite3_close(db);
	return v;
}

/* The last sync run's details at the site, and its status. */
static int last_run(long long *bytes_in, long long *bytes_out, long long *changesets)
{
	char path[PATH_MAX + 20];
	sqlite3 *db;
	sqlite3_stmt *st;
	int ok = 0;

	snprintf(path, sizeof path, "%s/gatehouse.db", site_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT status, json_extract(details, '$.bytes_received'), "
				   "json_extract(details, '$.bytes_sent'), json_extract(details, '$.pulled') + "
				   "json_extract(details, '$.pushed') FROM job_runs WHERE name = 'sync' ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
		*bytes_in = sqlite3_column_int64(st, 1);
		*bytes_out = sqlite3_column_int64(st, 2);
		*changesets = sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok ? 0 : -1;
}

static long long count_in(const char *dir, const char *sql)
{
	char path[PATH_MAX + 20];
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	snprintf(path, sizeof path, "%s/gatehouse.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* --- the central server ------------------------------------------------------------------ */

static int server_start(int *port, char fp[100])
{
	char *argv[] = {bin, "serve", "--state-dir", central_dir, "--set", "web.listen=127.0.0.1:0", "--set",
			"devices.listen=127.0.0.1:0", "--set", "limits.api_per_second=100000", "--set",
			"limits.api_burst=100000", NULL};
	int fd = open(server_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	double start = now();
	pid_t parent = getpid();

	if (fd < 0)
		return -1;
	if ((server = fork()) == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(126);
		dup2(fd, STDERR_FILENO);
		execv(bin, argv);
		_exit(127);
	}
	close(fd);
	while (now() - start < 120) {
		char buf[8192], *p;
		FILE *f = fopen(server_log, "r");
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		if ((p = strstr(buf, "listening on https://127.0.0.1:")) && strstr(p, "certificate SHA-256 ")) {
			*port = atoi(p + strlen("listening on https://127.0.0.1:"));
			snprintf(fp, 100, "%.95s", strstr(p, "certificate SHA-256 ") + strlen("certificate SHA-256 "));
			return 0;
		}
		usleep(50000);
	}
	return -1;
}

static void server_stop(void)
{
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
		server = -1;
	}
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* --- the figures ---------------------------------------------------------------------------- */

static int timed_sync(const char *what, long things, const char *thing, double raw_fn(void), int pull)
{
	char *argv[] = {bin, "jobs", "run", "sync", "--state-dir", site_dir, "--set", "sync.timeout=10m", NULL};
	char name[160], ratio[80];
	long long in = 0, out = 0, changesets = 0;
	double t = now(), secs, raw, bytes;
	int rc = run_bin(argv, "/dev/null");

	secs = now() - t;
	if (rc != 0 || last_run(&in, &out, &changesets) < 0) {
		fprintf(stderr, "bench-sync: the sync run failed (exit %d)\n", rc);
		return -1;
	}
	raw = raw_fn();
	bytes = (double)(pull ? in : out);
	snprintf(name, sizeof name, "%s: time", what);
	snprintf(ratio, sizeof ratio, "%.0f %s/s", (double)things / secs, thing);
	row(name, secs, "s", ratio);
	snprintf(name, sizeof name, "%s: bytes", what);
	snprintf(ratio, sizeof ratio, "%.2f of raw, %lld changesets", bytes / raw, changesets);
	row(name, bytes / 1048576.0, "MiB", ratio);
	snprintf(name, sizeof name, "%s: raw rows", what);
	row(name, raw / 1048576.0, "MiB", "");
	return 0;
}

int main(void)
{
	int quick = getenv("BENCH_QUICK") && *getenv("BENCH_QUICK") == '1';
	long people = env_long("BENCH_SYNC_PEOPLE", quick ? 10000 : 100000);
	long events = env_long("BENCH_SYNC_EVENTS", quick ? 100000 : 1000000);
	char exe[PATH_MAX], fp[100], url[80], code[64], path[PATH_MAX + 10], what[120];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	int port, rc = 1;
	FILE *f;

	if (n <= 0)
		return 1;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(bin, sizeof bin, "%s/gatehouse", exe);
	snprintf(top, sizeof top, "/tmp/gh-bench-sync-XXXXXX");
	if (access(bin, X_OK) < 0 || !mkdtemp(top)) {
		fprintf(stderr, "bench-sync: %s: %s (make bench builds it)\n", bin, strerror(errno));
		return 1;
	}
	snprintf(central_dir, sizeof central_dir, "%s/central", top);
	snprintf(site_dir, sizeof site_dir, "%s/site", top);
	snprintf(server_log, sizeof server_log, "%s/central.log", top);
	fprintf(stderr, "bench-sync: seeding %ld people on the central ...\n", people);
	if (run_child(seed_central, &people) < 0 || server_start(&port, fp) < 0 || run_child(make_pairing, NULL) < 0) {
		fprintf(stderr, "bench-sync: cannot seed or start the central (log: %s)\n", server_log);
		goto out;
	}
	snprintf(path, sizeof path, "%s/code", top);
	if (!(f = fopen(path, "r")) || !fgets(code, sizeof code, f)) {
		if (f)
			fclose(f);
		goto out;
	}
	fclose(f);
	code[strcspn(code, "\n")] = '\0';
	snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
	{
		char *argv[] = {bin, "sync", "pair", "--state-dir", site_dir, "--central", url, "--fingerprint", fp,
				"--code", code, NULL};
		if (run_bin(argv, "/dev/null") != 0) {
			fprintf(stderr, "bench-sync: pairing failed\n");
			goto out;
		}
	}
	snprintf(what, sizeof what, "sync %ldk people to a new site", people / 1000);
	if (timed_sync(what, people, "people", raw_people, 1) < 0)
		goto out;
	if (count_in(site_dir, "SELECT count(*) FROM people") != people) {
		fprintf(stderr, "bench-sync: the site has not got every person\n");
		goto out;
	}
	fprintf(stderr, "bench-sync: writing %ld events at the site ...\n", events);
	if (run_child(seed_events, &events) < 0)
		goto out;
	if (events >= 1000000)
		snprintf(what, sizeof what, "sync %gM events to the central", (double)events / 1e6);
	else
		snprintf(what, sizeof what, "sync %ldk events to the central", events / 1000);
	if (timed_sync(what, events, "events", raw_events, 0) < 0)
		goto out;
	server_stop();
	if (count_in(central_dir, "SELECT count(*) FROM events WHERE details IS NOT NULL") != events) {
		fprintf(stderr, "bench-sync: the central has not got every event with its details\n");
		goto out;
	}
	rc = 0;
out:
	server_stop();
	if (rc)
		fprintf(stderr, "bench-sync: state kept in %s\n", top);
	else
		nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
