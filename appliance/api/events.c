/* /api/v1/events: the event log. Filters: from and to (ISO 8601 or Unix
 * milliseconds; from inclusive, to exclusive), site_id, door_id,
 * device_id, person_id, card (found through the blind index: the card's
 * holder's events), kind and result; newest first, with an opaque cursor;
 * at most 500 a page. Export of the same selection as CSV or XLSX,
 * streamed.
 *
 * Personal fields (person_name, card masked to its last four digits) go
 * to the roles that work with people: system and tenant admins and
 * operators. Auditors review what happened where and when, and get the
 * person's id but neither name nor card: the event log is a movement
 * record, more telling than the people directory. Pages of personal data
 * larger than 50 events and every export are audited as bulk reads. */
#include "api.h"

#include "core/csv.h"
#include "core/xlsx.h"
#include "domain/admins.h"
#include "domain/event_log.h"
#include "domain/people.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT_PAGE 500

static const char kinds[] = "access|door_forced|door_held|tamper|door_opened|door_closed|lockdown";

/* "2026-11-26", "2026-11-26T08:00:00Z", "...T08:00:00.250+09:00" or Unix
 * ms -> Unix ms; -1 if not one of those. */
static long long parse_when(const char *s)
{
	struct tm tm;
	char *end;
	long long ms = 0;

	if (strspn(s, "0123456789") == strlen(s) && *s && strlen(s) <= 15)
		return strtoll(s, NULL, 10);
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end)
		return -1;
	if (*end == 'T' || *end == ' ') {
		end = strptime(end + 1, "%H:%M:%S", &tm);
		if (!end)
			return -1;
		if (*end == '.') {
			int digits = 0;
			for (end++; *end >= '0' && *end <= '9'; end++, digits++)
				if (digits < 3)
					ms = ms * 10 + (*end - '0');
			for (; digits < 3; digits++)
				ms *= 10;
		}
		long long offset = 0;
		if (*end == 'Z') {
			end++;
		} else if ((*end == '+' || *end == '-') && strlen(end) == 6 && end[3] == ':') {
			int h = atoi(end + 1), m = atoi(end + 4);
			if (h > 23 || m > 59)
				return -1;
			offset = (h * 60 + m) * 60 * (*end == '+' ? 1 : -1);
			end += 6;
		} else {
			return -1; /* a time without a zone is ambiguous: refused */
		}
		if (*end)
			return -1;
		return ((long long)timegm(&tm) - offset) * 1000 + ms;
	}
	return *end ? -1 : (long long)timegm(&tm) * 1000;
}

/* A positive id from the query, 0 when absent; -1 (error recorded) when bad. */
static int64_t query_id(struct http_req *req, struct jv *v, const char *name)
{
	char buf[32], *end;
	long long id;

	if (!api_query_str(req, name, buf, sizeof buf) || !*buf)
		return 0;
	id = strtoll(buf, &end, 10);
	if (*end || id < 1) {
		jv_error(v, name, "must be a positive integer id");
		return -1;
	}
	return id;
}

static int personal_role(const struct http_req *req)
{
	return (req->auth.role & (ROLE_SYSTEM_ADMIN | ROLE_TENANT_ADMIN | ROLE_OPERATOR)) != 0;
}

/* Read every filter; 400 with the field errors and -1 when any is bad.
 * Returns 1 when the card matches nobody (the answer is empty). */
static int read_filters(struct http_req *req, struct event_filter *f, char *kind, char *result, int paged)
{
	char from[48], to[48], card[80], cursor[48];
	struct jv v;
	int nobody = 0;

	memset(f, 0, sizeof *f);
	jv_init(&v, NULL);
	f->tenant = api_tenant(req);
	f->personal = personal_role(req);
	if (api_query_str(req, "from", from, sizeof from) && *from && (f->from_ms = parse_when(from)) < 0)
		jv_error(&v, "from", "must be ISO 8601 (2026-11-26, 2026-11-26T08:00:00Z, ...+09:00) or Unix milliseconds");
	if (api_query_str(req, "to", to, sizeof to) && *to && (f->to_ms = parse_when(to)) < 0)
		jv_error(&v, "to", "must be ISO 8601 (2026-11-26, 2026-11-26T08:00:00Z, ...+09:00) or Unix milliseconds");
	f->site = query_id(req, &v, "site_id");
	f->door = query_id(req, &v, "door_id");
	f->device = query_id(req, &v, "device_id");
	f->person = query_id(req, &v, "person_id");
	if (api_query_str(req, "kind", kind, 24) && *kind) {
		char pattern[80];
		snprintf(pattern, sizeof pattern, "|%s|", kind);
		if (!strstr("|access|door_forced|door_held|tamper|door_opened|door_closed|lockdown|", pattern))
			jv_error(&v, "kind", "must be one of %s", kinds);
		f->kind = kind;
	}
	if (api_query_str(req, "result", result, 12) && *result) {
		if (strcmp(result, "granted") && strcmp(result, "denied"))
			jv_error(&v, "result", "must be granted or denied");
		f->result = result;
	}
	if (paged && api_query_str(req, "cursor", cursor, sizeof cursor) && *cursor) {
		if (event_cursor_parse(cursor, &f->cursor_at, &f->cursor_id) < 0)
			jv_error(&v, "cursor", "must be a cursor returned by a previous page");
		f->has_cursor = 1;
	}
	f->limit = paged ? (int)api_query_int(req, "limit", 1, 500, 50) : EXPORT_PAGE;
	if (api_query_str(req, "card", card, sizeof card) && *card) {
		int64_t holder = 0, credential;
		int rc = person_by_card(f->tenant, card, &holder, &credential);
		if (rc < 0)
			jv_error(&v, "card", "cannot be looked up");
		else if (rc == 1 || (f->person > 0 && f->person != holder))
			nobody = 1;
		else
			f->person = holder;
	}
	if (jv_finish(&v, req) < 0)
		return -1;
	return nobody;
}

static void reply_page(struct http_req *req, cJSON *items, const char *next)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddItemToObject(doc, "items", items);
	if (*next)
		cJSON_AddStringToObject(doc, "next_cursor", next);
	else
		cJSON_AddNullToObject(doc, "next_cursor");
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

void api_events_list(struct http_req *req)
{
	struct event_filter f;
	char kind[24], result[12], next[48] = "";
	cJSON *items;
	int rc = read_filters(req, &f, kind, result, 1), n = 0;

	if (rc < 0)
		return;
	items = cJSON_CreateArray();
	if (rc == 0 && (n = event_list(&f, items, next, sizeof next)) < 0) {
		cJSON_Delete(items);
		return api_db_error(req);
	}
	/* A page with names and cards is a read of personal data: audited, one
	 * entry a page, and not shown when the entry cannot be written. */
	if (f.personal && n > 0) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "events", n);
		if (f.person)
			cJSON_AddNumberToObject(d, "person_id", (double)f.person);
		rc = api_audit(req, "events.read", "events", "ok", d);
		cJSON_Delete(d);
		if (rc < 0) {
			cJSON_Delete(items);
			return api_db_error(req);
		}
	}
	reply_page(req, items, next);
}

/* --- export ------------------------------------------------------------------------- */

struct exporter {
	struct http_req *req;
	struct csv_writer csv;
	struct xlsx *x;
	int failed;
};

static int sink(void *arg, const void *data, size_t len)
{
	struct exporter *e = arg;

	if (e->failed || http_stream_write(e->req, data, len) < 0)
		return e->failed = 1, -1;
	return 0;
}

static int csv_sink_fn(void *arg, const char *data, size_t len) { return sink(arg, data, len); }

static void put(struct exporter *e, const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
	char num[32];
	const char *s = "";

	if (cJSON_IsString(m)) {
		s = m->valuestring;
	} else if (cJSON_IsNumber(m)) {
		if (e->x) {
			xlsx_number(e->x, m->valuedouble);
			return;
		}
		snprintf(num, sizeof num, "%.0f", m->valuedouble);
		s = num;
	}
	if (e->x)
		xlsx_text(e->x, s, strlen(s));
	else
		csv_field(&e->csv, s, strlen(s));
}

static void end_row(struct exporter *e)
{
	if (e->x)
		xlsx_end_row(e->x);
	else
		csv_end_record(&e->csv);
}

static const char *const cols[] = {"id", "at", "kind", "result", "reason", "site_name", "door_id", "door_name",
				   "device_id", "device_name", "person_id", "person_name", "card", "received_at"};
#define NCOLS (sizeof cols / sizeof cols[0])

static void header(struct exporter *e, int personal)
{
	for (size_t i = 0; i < NCOLS; i++) {
		if (!personal && (strcmp(cols[i], "person_name") == 0 || strcmp(cols[i], "card") == 0))
			continue;
		if (e->x)
			xlsx_text(e->x, cols[i], strlen(cols[i]));
		else
			csv_field(&e->csv, cols[i], strlen(cols[i]));
	}
	end_row(e);
}

static void row(struct exporter *e, const cJSON *ev, int personal)
{
	for (size_t i = 0; i < NCOLS; i++) {
		if (!personal && (strcmp(cols[i], "person_name") == 0 || strcmp(cols[i], "card") == 0))
			continue;
		put(e, ev, cols[i]);
	}
	end_row(e);
}

void api_events_export(struct http_req *req)
{
	char format[8] = "csv", disp[80], kind[24], result[12], next[48];
	struct exporter e = {req, {0}, NULL, 0};
	struct event_filter f;
	long long total = 0;
	int rc, xlsx;

	api_query_str(req, "format", format, sizeof format);
	if (strcmp(format, "csv") && strcmp(format, "xlsx"))
		return http_field_error(req, "format", "must be csv or xlsx");
	if ((rc = read_filters(req, &f, kind, result, 0)) < 0)
		return;
	xlsx = strcmp(format, "xlsx") == 0;
	snprintf(disp, sizeof disp, "attachment; filename=\"events.%s\"", format);
	const char *hdr[] = {"Content-Disposition", disp, NULL};
	if (http_stream_begin(req, 200, xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
					     : "text/csv; charset=utf-8", hdr) < 0)
		return;
	if (xlsx) {
		e.x = xlsx_new("Events", sink, &e);
		if (!e.x) {
			http_stream_end(req);
			return;
		}
	} else {
		csv_writer_init(&e.csv, csv_sink_fn, &e);
		sink(&e, "\xEF\xBB\xBF", 3);
	}
	header(&e, f.personal);
	/* A page at a time, following the cursor: memory holds one page,
	 * however many events; events arriving meanwhile are not included. */
	while (rc == 0 && !e.failed) {
		cJSON *page = cJSON_CreateArray(), *ev;
		int n = event_list(&f, page, next, sizeof next);
		if (n < 0)
			e.failed = 1;
		cJSON_ArrayForEach(ev, page)
		{
			row(&e, ev, f.personal);
			total++;
		}
		cJSON_Delete(page);
		if (n <= 0 || !*next || event_cursor_parse(next, &f.cursor_at, &f.cursor_id) < 0)
			break;
		f.has_cursor = 1;
	}
	if (e.x)
		e.failed |= xlsx_finish(e.x) < 0;
	else
		e.failed |= csv_flush(&e.csv) < 0;
	http_stream_end(req);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "format", format);
	cJSON_AddNumberToObject(d, "events", (double)total);
	cJSON_AddBoolToObject(d, "personal", f.personal);
	api_audit(req, "events.export", "events", e.failed ? "failed" : "ok", d);
	cJSON_Delete(d);
}
