/* GET /api/v1/stream: the console's live view, as Server-Sent Events.
 *
 * New events and alerts of the caller's tenant (system admins: all of
 * them, or one tenant's with X-Tenant) as they are committed:
 *
 *   id: <last event id>.<last alert id>
 *   event: event | alert
 *   data: <the same JSON as GET /api/v1/events or /api/v1/alerts/{id}>
 *
 * A comment line every 15 s keeps idle connections open and finds gone
 * clients. A client that reconnects with Last-Event-ID gets what it missed
 * from the database, up to RESUME_MAX events; further behind, it gets an
 * "event: reset" and should reload through the API. Personal fields follow
 * GET /api/v1/events. Each stream holds a web worker thread, so at most
 * web.max_streams are open (503 beyond); the session or token is checked
 * again at every heartbeat, so a logout or revocation ends the stream. */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "core/live.h"
#include "core/log.h"
#include "domain/admins.h"
#include "domain/alerts.h"
#include "domain/event_log.h"
#include "web/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_MS 15000
#define RESUME_MAX 1000  /* events replayed after a reconnect; more: reset */
#define BATCH 64

struct stream {
	struct http_req *req;
	int64_t tenant;       /* -1: every tenant */
	int personal;
	int64_t last_event, last_alert;
	int failed;
};

/* Still allowed to watch: the session not ended or expired, the token not
 * revoked or expired. */
static int still_authorised(const struct http_req *req)
{
	sqlite3_stmt *st = req->auth.kind == AUTH_TOKEN
				   ? db_stmt("SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NULL "
					     "AND expires_at > unixepoch()")
				   : db_stmt("SELECT 1 FROM sessions WHERE id = ? AND ended_at IS NULL "
					     "AND expires_at > unixepoch()");
	int ok;

	if (!st)
		return 1; /* a busy database is no reason to cut a viewer */
	sqlite3_bind_int64(st, 1, req->auth.kind == AUTH_TOKEN ? req->auth.token_id : req->auth.session_id);
	ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return ok;
}

static void send_text(struct stream *s, const char *text)
{
	if (!s->failed && http_stream_write(s->req, text, strlen(text)) < 0)
		s->failed = 1;
}

static void send_item(struct stream *s, const char *type, cJSON *doc)
{
	char head[96], *json = cJSON_PrintUnformatted(doc);

	if (!json)
		return;
	snprintf(head, sizeof head, "id: %" PRId64 ".%" PRId64 "\nevent: %s\ndata: ", s->last_event, s->last_alert, type);
	send_text(s, head);
	send_text(s, json); /* unformatted JSON has no line breaks */
	send_text(s, "\n\n");
	cJSON_free(json);
}

static void send_event(struct stream *s, int64_t id)
{
	cJSON *ev;

	if (id <= s->last_event)
		return; /* sent already (replayed, or older than the stream) */
	ev = event_get(s->tenant, id, s->personal);
	s->last_event = id;
	if (ev)
		send_item(s, "event", ev);
	cJSON_Delete(ev);
}

static void send_alert(struct stream *s, int64_t id)
{
	cJSON *a = alert_get(s->tenant, id);

	/* An alert can come again when it is resolved: always sent. */
	if (id > s->last_alert)
		s->last_alert = id;
	if (a)
		send_item(s, "alert", a);
	cJSON_Delete(a);
}

static int64_t max_id(const char *sql)
{
	sqlite3_stmt *st = db_stmt(sql);
	int64_t v = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return v;
}

/* What was committed after (last_event, last_alert), from the database;
 * 0, or -1 when it is more than RESUME_MAX events. */
static int catch_up(struct stream *s)
{
	sqlite3_stmt *st = db_stmt("SELECT id FROM events WHERE id > ?1 AND (?2 < 0 OR tenant_id = ?2) ORDER BY id LIMIT ?3");
	int64_t ids[RESUME_MAX + 1];
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, s->last_event);
	sqlite3_bind_int64(st, 2, s->tenant);
	sqlite3_bind_int(st, 3, RESUME_MAX + 1);
	while (n <= RESUME_MAX && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n > RESUME_MAX)
		return -1;
	for (int i = 0; i < n && !s->failed; i++)
		send_event(s, ids[i]);
	st = db_stmt("SELECT id FROM alerts WHERE id > ?1 AND (?2 < 0 OR tenant_id = ?2) ORDER BY id LIMIT 200");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, s->last_alert);
	sqlite3_bind_int64(st, 2, s->tenant);
	n = 0;
	while (n < 200 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (int i = 0; i < n && !s->failed; i++)
		send_alert(s, ids[i]);
	return 0;
}

/* Too far behind: start from now, and say so. */
static void reset(struct stream *s)
{
	s->last_event = max_id("SELECT coalesce(max(id), 0) FROM events");
	s->last_alert = max_id("SELECT coalesce(max(id), 0) FROM alerts");
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "reason", "too far behind to catch up; reload through the API");
	send_item(s, "reset", d);
	cJSON_Delete(d);
}

/* Last-Event-ID "E.A" -> where to resume; 0 when absent or malformed. */
static int resume_point(struct http_req *req, int64_t *e, int64_t *a)
{
	const char *h = http_header(req, "Last-Event-ID");
	char *end;

	if (!h || !*h)
		return 0;
	*e = strtoll(h, &end, 10);
	if (*end != '.' || *e < 0)
		return 0;
	*a = strtoll(end + 1, &end, 10);
	return *end || *a < 0 ? 0 : 1;
}

static int visible(const struct stream *s, const struct live_item *it)
{
	return s->tenant < 0 || it->tenant == s->tenant;
}

static void run(struct stream *s, uint64_t pos)
{
	struct live_item items[BATCH];
	long long last_beat = http_now_ms();

	while (!s->failed) {
		int n = live_wait(&pos, items, BATCH, 1000);
		if (n == -2)
			break;
		if (n == -1 && catch_up(s) < 0)
			reset(s);
		for (int i = 0; i < n && !s->failed; i++) {
			if (!visible(s, &items[i]))
				continue;
			if (items[i].kind == LIVE_EVENT)
				send_event(s, items[i].id);
			else
				send_alert(s, items[i].id);
		}
		if (http_now_ms() - last_beat >= HEARTBEAT_MS) {
			last_beat = http_now_ms();
			if (!still_authorised(s->req))
				break;
			send_text(s, ": heartbeat\n\n");
		}
	}
}

void api_stream(struct http_req *req)
{
	struct stream s = {.req = req};
	const char *hdr[] = {"X-Accel-Buffering", "no", NULL};
	uint64_t pos;

	s.tenant = req->auth.role == ROLE_SYSTEM_ADMIN && !req->auth.tenant ? -1 : req->auth.tenant;
	s.personal = (req->auth.role & (ROLE_SYSTEM_ADMIN | ROLE_TENANT_ADMIN | ROLE_OPERATOR)) != 0;
	if (strcmp(req->method, "HEAD") == 0)
		return http_reply(req, 200, "text/event-stream", NULL, 0, NULL);
	if (live_enter((int)cfg_int(CFG_WEB_MAX_STREAMS)) < 0) {
		const char *retry[] = {"Retry-After", "5", NULL};
		return http_error_headers(req, 503, "unavailable", retry,
					  "too many live streams are open (web.max_streams); retry later");
	}
	/* The ring position first, then the ids: whatever commits in between
	 * comes through the ring and is not lost. */
	pos = live_head();
	if (!resume_point(req, &s.last_event, &s.last_alert)) {
		s.last_event = max_id("SELECT coalesce(max(id), 0) FROM events");
		s.last_alert = max_id("SELECT coalesce(max(id), 0) FROM alerts");
	}
	api_audit(req, "stream.open", "stream", "ok", NULL);
	if (http_stream_begin(req, 200, "text/event-stream; charset=utf-8", hdr) == 0) {
		send_text(&s, "retry: 3000\n: connected\n\n");
		if (http_header(req, "Last-Event-ID") && catch_up(&s) < 0)
			reset(&s);
		run(&s, pos);
		http_stream_end(req);
	}
	live_leave();
}
