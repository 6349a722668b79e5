/* The device link's database worker: takes the jobs the loop posts, in
 * order, and answers with results. Events of all terminals waiting at that
 * moment are stored in one transaction (group commit) and acknowledged
 * only after it commits. Twice a second it also delivers the commands
 * queued for terminals that are online. */
#include "queue.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "domain/commands.h"
#include "domain/devices.h"
#include "domain/events.h"
#include "domain/firmware.h"
#include "domain/termsync.h"
#include "web/json.h"

#include <pthread.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BATCH_EVENTS 256 /* events in one message (a catch-up batch) */

void devlink_count_events(unsigned long stored, unsigned long duplicate);

struct online {
	int64_t device_id, tenant;
	uint64_t conn;
	int listening;  /* LISTEN_* */
	long long hinted; /* the head it was last told */
	char uid[DEVICE_UID_LEN];
};

static struct {
	pthread_t thread;
	int running;
	long long clock_drift_ms;
	struct online *online;
	size_t nonline, caponline;
	long long sync_head;  /* sync_log's last seq when terminals were last told */
} W;

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(enum result_kind kind, uint64_t conn, uint16_t pid, const char *topic, const void *data, size_t len,
		  const char *reason)
{
	struct result *r = result_new(kind, conn, data, len);

	if (!r)
		return;
	r->packet_id = pid;
	if (topic)
		snprintf(r->topic, sizeof r->topic, "%s", topic);
	if (reason)
		snprintf(r->reason, sizeof r->reason, "%s", reason);
	results_push(r);
}

static void publish_json(uint64_t conn, const char *topic, const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);

	if (text)
		reply(R_PUBLISH, conn, 0, topic, text, strlen(text), NULL);
	cJSON_free(text);
}

/* --- online terminals ----------------------------------------------------------- */

/* A terminal's connection now listens to `listening` (LISTEN_*; 0: to
 * nothing, or gone). A newer connection of the same terminal wins. */
static void set_online(const struct job *j, int listening)
{
	for (size_t i = 0; i < W.nonline; i++)
		if (W.online[i].device_id == j->device_id) {
			if (listening) {
				W.online[i].conn = j->conn;
				W.online[i].listening = listening;
			} else if (W.online[i].conn == j->conn) {
				W.online[i] = W.online[--W.nonline];
			}
			return;
		}
	if (!listening)
		return;
	if (W.nonline == W.caponline) {
		size_t cap = W.caponline ? W.caponline * 2 : 64;
		void *bigger = realloc(W.online, cap * sizeof *W.online);
		if (!bigger)
			return;
		W.online = bigger;
		W.caponline = cap;
	}
	W.online[W.nonline].device_id = j->device_id;
	W.online[W.nonline].tenant = j->tenant;
	W.online[W.nonline].conn = j->conn;
	W.online[W.nonline].listening = listening;
	snprintf(W.online[W.nonline].uid, DEVICE_UID_LEN, "%s", j->uid);
	W.online[W.nonline].hinted = 0;
	W.nonline++;
}

static int by_device(const void *a, const void *b)
{
	int64_t x = ((const struct online *)a)->device_id, y = ((const struct online *)b)->device_id;

	return (x > y) - (x < y);
}

/* Publish due commands to the online terminals they are for (inside a
 * transaction). This runs after every batch: it asks the database once
 * which terminals have commands waiting, rather than once per terminal
 * online, so an unlock does not wait behind thousands of empty queries. */
static void deliver_commands(void)
{
	int64_t *due;
	int n = commands_due_devices(&due);

	if (n > 0 && W.nonline > 1)
		qsort(W.online, W.nonline, sizeof *W.online, by_device);
	for (int k = 0; k < n; k++) {
		struct online key = {.device_id = due[k]};
		struct online *o = W.nonline ? bsearch(&key, W.online, W.nonline, sizeof *W.online, by_device) : NULL;
		if (!o || !(o->listening & LISTEN_COMMANDS))
			continue; /* offline: it gets them when it is back */
		cJSON *list = cJSON_CreateArray(), *c;
		if (commands_take_due(o->device_id, list) > 0)
			cJSON_ArrayForEach(c, list)
				publish_json(o->conn, "commands", c);
		cJSON_Delete(list);
	}
	free(due);
}

static long long head_of(const char *sql, int64_t tenant)
{
	sqlite3_stmt *st = db_stmt(sql);
	long long v = -1;

	if (!st)
		return -1;
	if (tenant)
		sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* The newest change of what terminals decide with, in a tenant. sync_log
 * also records what site sync carries (docs/sync.md: every change of a
 * central's rows, and terminals' own status, which changes with every
 * status message): none of a terminal's business, and hinting every
 * terminal at each of them would have all of them sync all the time. */
static long long terminal_head(int64_t tenant, int64_t *tenants, long long *heads, size_t *n)
{
	for (size_t k = 0; k < *n; k++)
		if (tenants[k] == tenant)
			return heads[k];
	long long t = head_of("SELECT coalesce(max(seq), 0) FROM sync_log WHERE tenant_id = ? "
			      "AND entity IN ('person', 'credential', 'door', 'level', 'schedule')", tenant);
	if (*n < 16) {
		tenants[*n] = tenant;
		heads[(*n)++] = t;
	}
	return t;
}

/* When what terminals decide with changed, tell the online ones their
 * tenant's new head on .../sync/hint; a terminal behind it syncs at once,
 * so a revoked card stops working within a second or two, not at the next
 * poll. One cheap max(rowid) per round when nothing changed, and one
 * query per tenant when something did. */
static void hint_sync(void)
{
	long long head = head_of("SELECT coalesce(max(seq), 0) FROM sync_log", 0), heads[16];
	int64_t tenants[16];
	size_t ntenants = 0;

	if (head < 0 || head == W.sync_head)
		return;
	W.sync_head = head;
	for (size_t i = 0; i < W.nonline; i++) {
		if (!(W.online[i].listening & LISTEN_HINTS))
			continue;
		long long t = terminal_head(W.online[i].tenant, tenants, heads, &ntenants);
		if (t <= W.online[i].hinted)
			continue;
		W.online[i].hinted = t;
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddNumberToObject(doc, "head", (double)t);
		publish_json(W.online[i].conn, "sync/hint", doc);
		cJSON_Delete(doc);
	}
}

/* --- jobs ------------------------------------------------------------------------ */

static int parse_events(const struct job *j, struct event_in *evs, int *n, char *why, size_t whylen)
{
	cJSON *doc = cJSON_ParseWithLengthOpts((const char *)j->payload, j->len + 1, NULL, 1);
	const cJSON *list, *e;
	int rc = 0;

	*n = 0;
	if (!doc) {
		snprintf(why, whylen, "events payload is not JSON");
		return -1;
	}
	list = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "events");
	if (!list && cJSON_IsObject(doc)) {
		rc = event_parse(doc, &evs[0], why, whylen);
		*n = rc == 0;
	} else if (cJSON_IsArray(list) && cJSON_GetArraySize(list) <= MAX_BATCH_EVENTS) {
		cJSON_ArrayForEach(e, list)
		{
			if ((rc = event_parse(e, &evs[*n], why, whylen)) < 0)
				break;
			(*n)++;
		}
	} else {
		snprintf(why, whylen, "events payload must be an event, a list, or {\"events\": [...]} of at most %d",
			 MAX_BATCH_EVENTS);
		rc = -1;
	}
	cJSON_Delete(doc);
	return rc;
}

static int do_events(const struct job *j)
{
	static struct event_in evs[MAX_BATCH_EVENTS];
	char why[160];
	int n, stored;

	if (parse_events(j, evs, &n, why, sizeof why) < 0) {
		reply(R_CLOSE, j->conn, 0, NULL, NULL, 0, why);
		return 0;
	}
	stored = events_store(j->tenant, j->device_id, evs, n);
	if (stored < 0)
		return -1;
	devlink_count_events((unsigned long)stored, (unsigned long)(n - stored));
	return 0;
}

static void do_status(const struct job *j)
{
	cJSON *doc = cJSON_ParseWithLengthOpts((const char *)j->payload, j->len + 1, NULL, 1);
	const cJSON *fw = cJSON_GetObjectItemCaseSensitive(doc, "firmware");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "time");
	long long offset, at, *off = NULL;

	if (!cJSON_IsObject(doc)) {
		reply(R_CLOSE, j->conn, 0, NULL, NULL, 0, "status payload is not a JSON object");
		cJSON_Delete(doc);
		return;
	}
	if (json_int(t, 0, (long long)1 << 53, &at) == 0) {
		/* Positive: the terminal's clock is behind ours. */
		offset = wall_ms() - at;
		off = &offset;
	}
	device_seen(j->device_id, 1, cJSON_IsString(fw) && strlen(fw->valuestring) < 64 ? fw->valuestring : NULL, off);
	if (off && (offset > W.clock_drift_ms || -offset > W.clock_drift_ms)) {
		cJSON *p = cJSON_CreateObject();
		int64_t id;
		cJSON_AddNumberToObject(p, "time", (double)wall_ms());
		if (command_create(j->tenant, j->device_id, "set_time", p, 60000, "system:clock", &id) == 0)
			log_notice("devlink: %s clock is %lld ms off: set_time queued", j->uid, offset);
		cJSON_Delete(p);
	}
	cJSON_Delete(doc);
}

static void do_ack(const struct job *j)
{
	cJSON *doc = cJSON_ParseWithLengthOpts((const char *)j->payload, j->len + 1, NULL, 1);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(doc, "state");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "version");
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(doc, "sha256");
	long long cmd;

	if (json_int(id, 1, INT64_MAX, &cmd) < 0 || !cJSON_IsString(state) ||
	    (strcmp(state->valuestring, "done") && strcmp(state->valuestring, "failed"))) {
		reply(R_CLOSE, j->conn, 0, NULL, NULL, 0, "command ack must be {id, state: done|failed}");
	} else {
		int ok = strcmp(state->valuestring, "done") == 0;
		const char *why = cJSON_IsString(result) ? result->valuestring : "";
		int fw = firmware_finished(j->device_id, cmd, ok, cJSON_IsString(sha) ? sha->valuestring : NULL);
		if (fw == 0 && ok) {
			ok = 0;
			why = "the SHA-256 the terminal reported is not the image's";
		}
		char bounded[256];
		/* The terminal's words, kept short: it is a note, not a log. */
		snprintf(bounded, sizeof bounded, "%s", why);
		command_finish(j->device_id, cmd, ok ? "done" : "failed", bounded);
		if (ok && cJSON_IsString(version) && strlen(version->valuestring) < 64)
			device_seen(j->device_id, 1, version->valuestring, NULL);
	}
	cJSON_Delete(doc);
}

static void do_disconnected(const struct job *j)
{
	set_online(j, 0);
	device_seen(j->device_id, 0, NULL, NULL);
	commands_requeue(j->device_id);
	if (j->len)
		log_notice("devlink: %s went away; its will says: %.*s", j->uid, (int)(j->len > 200 ? 200 : j->len),
			   (const char *)j->payload);
}

/* Jobs that write: all in the current transaction. Returns -1 if the
 * transaction must be rolled back. */
static int do_write_job(const struct job *j)
{
	switch (j->kind) {
	case J_CONNECTED:
		device_seen(j->device_id, 1, NULL, NULL);
		return 0;
	case J_SUBSCRIBED:
		set_online(j, j->len == 1 ? j->payload[0] : 0);
		return 0;
	case J_DISCONNECTED:
		do_disconnected(j);
		return 0;
	case J_EVENTS:
		return do_events(j);
	case J_STATUS:
		do_status(j);
		return 0;
	case J_ACK:
		do_ack(j);
		return 0;
	default:
		return 0;
	}
}

struct sync_ctx {
	uint64_t conn;
};

static int emit_sync(void *arg, cJSON *msg)
{
	publish_json(((struct sync_ctx *)arg)->conn, "sync", msg);
	return 0;
}

static void do_sync(const struct job *j)
{
	cJSON *doc = cJSON_ParseWithLengthOpts((const char *)j->payload, j->len + 1, NULL, 1);
	const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(doc, "cursor");
	struct sync_ctx ctx = {j->conn};
	struct device d;
	long long from = 0;

	if (!cJSON_IsObject(doc) || (cursor && json_int(cursor, 0, INT64_MAX, &from) < 0)) {
		reply(R_CLOSE, j->conn, 0, NULL, NULL, 0, "sync request must be {\"cursor\": N}");
	} else if (device_get(j->tenant, j->device_id, &d) == 0) {
		termsync_answer(&d, from, emit_sync, &ctx);
	}
	cJSON_Delete(doc);
}

static void do_firmware(const struct job *j)
{
	cJSON *doc = cJSON_ParseWithLengthOpts((const char *)j->payload, j->len + 1, NULL, 1);
	const cJSON *image = cJSON_GetObjectItemCaseSensitive(doc, "image_id");
	const cJSON *offset = cJSON_GetObjectItemCaseSensitive(doc, "offset");
	static unsigned char chunk[FIRMWARE_CHUNK];
	char b64[sodium_base64_ENCODED_LEN(FIRMWARE_CHUNK, sodium_base64_VARIANT_ORIGINAL)];
	long long image_id, at;
	long n;
	int last = 0;

	if (json_int(image, 1, INT64_MAX, &image_id) < 0 || json_int(offset, 0, FIRMWARE_MAX, &at) < 0) {
		reply(R_CLOSE, j->conn, 0, NULL, NULL, 0, "firmware request must be {image_id, offset}");
		cJSON_Delete(doc);
		return;
	}
	db_begin();
	n = firmware_chunk(j->device_id, image_id, at, chunk, &last);
	db_commit();
	cJSON *out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "image_id", (double)image_id);
	cJSON_AddNumberToObject(out, "offset", (double)at);
	if (n < 0) {
		cJSON_AddStringToObject(out, "error", "no such image for this terminal, or bad offset");
	} else {
		sodium_bin2base64(b64, sizeof b64, chunk, (size_t)n, sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddStringToObject(out, "data", b64);
		cJSON_AddBoolToObject(out, "last", last);
	}
	publish_json(j->conn, "firmware", out);
	cJSON_Delete(out);
	cJSON_Delete(doc);
}

/* One round: every waiting job that writes goes into one transaction;
 * PUBACKs follow the commit; reads (sync, firmware) run after. */
static void run_batch(struct job *jobs)
{
	struct job *j;
	int ok = db_begin() == 0;

	for (j = jobs; j && ok; j = j->next)
		if (j->kind != J_SYNC && j->kind != J_FIRMWARE && do_write_job(j) < 0)
			ok = 0;
	if (ok) {
		deliver_commands();
		hint_sync();
	}
	if (!ok || db_commit() < 0) {
		db_rollback();
		log_err("devlink: a batch of terminal messages could not be stored; their terminals will resend");
		for (j = jobs; j; j = j->next)
			if (j->kind == J_EVENTS)
				reply(R_CLOSE, j->conn, 0, NULL, NULL, 0, "the appliance could not store events");
	} else {
		for (j = jobs; j; j = j->next)
			if (j->packet_id && j->kind != J_SYNC && j->kind != J_FIRMWARE)
				reply(R_PUBACK, j->conn, j->packet_id, NULL, NULL, 0, NULL);
	}
	for (j = jobs; j; j = j->next) {
		if (j->kind == J_SYNC)
			do_sync(j);
		else if (j->kind == J_FIRMWARE)
			do_firmware(j);
		if ((j->kind == J_SYNC || j->kind == J_FIRMWARE) && j->packet_id)
			reply(R_PUBACK, j->conn, j->packet_id, NULL, NULL, 0, NULL);
		if (j->kind != J_CONNECTED && j->kind != J_DISCONNECTED && j->kind != J_SUBSCRIBED)
			reply(R_JOB_DONE, j->conn, 0, NULL, NULL, 0, NULL);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&W.running, __ATOMIC_ACQUIRE) || jobs_waiting()) {
		struct job *jobs = jobs_take_all(500), *next;

		run_batch(jobs); /* with no jobs: just the command delivery */
		for (; jobs; jobs = next) {
			next = jobs->next;
			free(jobs);
		}
	}
	vault_thread_done();
	db_thread_done();
	return NULL;
}

int worker_start(const char *state_dir, long long clock_drift_ms)
{
	firmware_set_dir(state_dir);
	W.clock_drift_ms = clock_drift_ms;
	W.running = 1;
	return pthread_create(&W.thread, NULL, worker, NULL) == 0 ? 0 : -1;
}

void worker_stop(void)
{
	if (!W.running)
		return;
	__atomic_store_n(&W.running, 0, __ATOMIC_RELEASE);
	jobs_wake();
	pthread_join(W.thread, NULL);
	free(W.online);
	W.online = NULL;
	W.nonline = W.caponline = 0;
}
