/* People in bulk: CSV import with a dry run, and streaming export to CSV
 * and XLSX.
 *
 * Import (POST /api/v1/people/import, body text/csv, UTF-8 with or without
 * BOM). The first line names the columns, in any order:
 *   name (required), email, phone, employee_no, status, valid_from,
 *   valid_until, card, groups (access group names separated by ';'), notes
 * Every row is checked like a single create, plus duplicates within the
 * file and against existing people. ?dry_run=true only reports; otherwise
 * the import is all-or-nothing: any bad row and nothing is written. The
 * report names each bad row's line, field and reason.
 *
 * Export (GET /api/v1/people/export?format=csv|xlsx): every person with
 * groups and a summary of credentials (kinds and hints, never secrets),
 * streamed so thousands of rows need no more memory than one. */
#include "api.h"

#include "core/csv.h"
#include "core/db.h"
#include "core/vault.h"
#include "core/xlsx.h"
#include "domain/people.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum col { C_NAME, C_EMAIL, C_PHONE, C_EMPLOYEE_NO, C_STATUS, C_VALID_FROM, C_VALID_UNTIL, C_CARD, C_GROUPS, C_NOTES, NCOLS };
static const char *const col_names[NCOLS] = {"name", "email", "phone", "employee_no", "status",
					     "valid_from", "valid_until", "card", "groups", "notes"};

#define MAX_REPORTED_ERRORS 1000

struct import {
	int64_t tenant;
	int map[CSV_MAX_FIELDS];   /* field position -> column, -1 unused */
	int nfields;
	cJSON *errors;             /* [{line, field, reason}] */
	int nerrors, rows, valid;
	/* Values seen in this file, to catch duplicates (normalised). */
	char **seen_cards, **seen_empno;
	int nseen_cards, nseen_empno, cap_cards, cap_empno;
};

static void import_error(struct import *im, int line, const char *field, const char *reason)
{
	im->nerrors++;
	if (im->nerrors > MAX_REPORTED_ERRORS)
		return;
	cJSON *e = cJSON_CreateObject();
	cJSON_AddNumberToObject(e, "line", line);
	cJSON_AddStringToObject(e, "field", field);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddItemToArray(im->errors, e);
}

static int read_header(struct import *im, struct csv_reader *r)
{
	const char *f[CSV_MAX_FIELDS];
	size_t l[CSV_MAX_FIELDS];
	int n = csv_next(r, f, l), have_name = 0;

	if (n <= 0) {
		import_error(im, 1, "header", n < 0 ? csv_error(r) : "the file is empty");
		return -1;
	}
	im->nfields = n;
	for (int i = 0; i < n; i++) {
		im->map[i] = -1;
		for (int c = 0; c < NCOLS; c++)
			if (strlen(col_names[c]) == l[i] && strncasecmp(col_names[c], f[i], l[i]) == 0)
				im->map[i] = c;
		for (int k = 0; k < i && im->map[i] >= 0; k++)
			if (im->map[k] == im->map[i]) {
				char why[120];
				snprintf(why, sizeof why, "the column '%s' appears twice", col_names[im->map[i]]);
				import_error(im, 1, "header", why);
			}
		if (im->map[i] < 0) {
			char why[160];
			snprintf(why, sizeof why, "unknown column '%.*s' (known: name, email, phone, employee_no, "
				 "status, valid_from, valid_until, card, groups, notes)", (int)(l[i] > 40 ? 40 : l[i]), f[i]);
			import_error(im, 1, "header", why);
		}
		have_name |= im->map[i] == C_NAME;
	}
	if (!have_name)
		import_error(im, 1, "header", "the column 'name' is required");
	return im->nerrors ? -1 : 0;
}

static int64_t group_by_name(int64_t tenant, const char *name)
{
	sqlite3_stmt *st = db_stmt("SELECT id FROM access_groups WHERE tenant_id = ? AND name = ?");
	int64_t id = 0;

	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

/* "Staff; Night shift" -> [ids]; unknown names are errors. */
static cJSON *group_ids(struct import *im, int line, const char *text)
{
	cJSON *ids = cJSON_CreateArray();
	char buf[4096], *save, *tok;

	/* Cut, a name could match another group: refuse instead. */
	if (strlen(text) >= sizeof buf) {
		import_error(im, line, "groups", "is longer than 4095 bytes");
		return ids;
	}
	snprintf(buf, sizeof buf, "%s", text);
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		while (*tok == ' ')
			tok++;
		size_t n = strlen(tok);
		while (n && tok[n - 1] == ' ')
			tok[--n] = '\0';
		if (!*tok)
			continue;
		int64_t id = group_by_name(im->tenant, tok);
		if (!id) {
			char why[300];
			snprintf(why, sizeof why, "no access group named '%.200s'", tok);
			import_error(im, line, "groups", why);
			continue;
		}
		cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)id));
	}
	return ids;
}

static int seen_before(char ***list, int *n, int *cap, const char *value)
{
	for (int i = 0; i < *n; i++)
		if (strcmp((*list)[i], value) == 0)
			return 1;
	if (*n == *cap) {
		int ncap = *cap ? *cap * 2 : 256;
		char **bigger = realloc(*list, (size_t)ncap * sizeof **list);
		if (!bigger)
			return 0;
		*list = bigger;
		*cap = ncap;
	}
	(*list)[(*n)++] = strdup(value);
	return 0;
}

/* Unique values: not twice in the file, not already in the tenant. */
static void check_unique(struct import *im, int line, const cJSON *body, const char *card)
{
	const cJSON *empno = cJSON_GetObjectItem(body, "employee_no");
	char norm[128];
	int64_t p, c;
	struct person_filter f = {0};

	if (card && vault_normalize(VI_CARD, card, norm, sizeof norm) > 0) {
		if (seen_before(&im->seen_cards, &im->nseen_cards, &im->cap_cards, norm))
			import_error(im, line, "card", "appears twice in this file");
		else if (person_by_card(im->tenant, norm, &p, &c) == 0)
			import_error(im, line, "card", "is already assigned to someone in this tenant");
	}
	if (cJSON_IsString(empno) && vault_normalize(VI_EMPLOYEE_NO, empno->valuestring, norm, sizeof norm) > 0) {
		cJSON *found = cJSON_CreateArray();
		int64_t next;
		if (seen_before(&im->seen_empno, &im->nseen_empno, &im->cap_empno, norm))
			import_error(im, line, "employee_no", "appears twice in this file");
		else {
			f.employee_no = norm;
			if (person_list(im->tenant, &f, 0, 1, found, &next) > 0)
				import_error(im, line, "employee_no", "is already used by someone in this tenant");
		}
		cJSON_Delete(found);
	}
}

/* One record -> a person body (and card), validated. NULL if invalid. */
static cJSON *row_body(struct import *im, struct csv_reader *r, const char **f, const size_t *l, int n,
		       char *card, size_t cardlen)
{
	int line = csv_line(r), before = im->nerrors;
	cJSON *body = cJSON_CreateObject();
	struct jv v;

	card[0] = '\0';
	if (n != im->nfields) {
		char why[80];
		snprintf(why, sizeof why, "has %d fields; the header has %d", n, im->nfields);
		import_error(im, line, "row", why);
		cJSON_Delete(body);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		const char *value = f[i]; /* NUL-terminated by the reader */
		/* Our own export guards cells against formula injection with a
		 * leading quote; take it off again so a round trip is exact. */
		if (value[0] == '\'') {
			const char *p = value;
			while (*p == '\'')
				p++;
			if (*p && strchr("=+-@\t\r", *p))
				value++;
		}
		if (!*value || im->map[i] < 0)
			continue;
		if (im->map[i] == C_CARD) {
			if (strlen(value) >= cardlen)
				import_error(im, line, "card", "is too long");
			else
				snprintf(card, cardlen, "%s", value);
		} else if (im->map[i] == C_GROUPS) {
			cJSON_AddItemToObject(body, "group_ids", group_ids(im, line, value));
		} else {
			cJSON_AddStringToObject(body, col_names[im->map[i]], value);
		}
	}
	(void)l;
	jv_init(&v, body);
	person_check(&v, im->tenant, body, 0);
	if (card[0]) {
		char norm[128];
		int digits = vault_normalize(VI_CARD, card, norm, sizeof norm);
		if (digits < 4 || digits > 32)
			jv_error(&v, "card", "must have 4 to 32 digits");
	}
	for (const cJSON *e = v.errors ? v.errors->child : NULL; e; e = e->next)
		import_error(im, line, cJSON_GetObjectItem(e, "field")->valuestring,
			     cJSON_GetObjectItem(e, "reason")->valuestring);
	cJSON_Delete(v.errors);
	check_unique(im, line, body, card[0] ? card : NULL);
	if (im->nerrors != before) {
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

static int store_row(int64_t tenant, const cJSON *body, const char *card)
{
	const char *conflict;
	char token[64];
	int64_t id = person_create(tenant, body, &conflict);

	if (id < 0)
		return -1;
	if (card[0]) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "kind", "card");
		cJSON_AddStringToObject(c, "number", card);
		int64_t cid = credential_create(tenant, id, c, &conflict, token);
		cJSON_Delete(c);
		if (cid <= 0)
			return -1;
	}
	return 0;
}

static void free_import(struct import *im)
{
	for (int i = 0; i < im->nseen_cards; i++)
		free(im->seen_cards[i]);
	for (int i = 0; i < im->nseen_empno; i++)
		free(im->seen_empno[i]);
	free(im->seen_cards);
	free(im->seen_empno);
	cJSON_Delete(im->errors);
}

static void reply_report(struct http_req *req, struct import *im, int dry_run, int imported)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddBoolToObject(doc, "dry_run", dry_run);
	cJSON_AddNumberToObject(doc, "rows", im->rows);
	cJSON_AddNumberToObject(doc, "valid", im->valid);
	cJSON_AddNumberToObject(doc, "invalid", im->rows - im->valid);
	cJSON_AddNumberToObject(doc, "imported", imported);
	cJSON_AddNumberToObject(doc, "error_count", im->nerrors);
	cJSON_AddItemToObject(doc, "errors", im->errors);
	im->errors = NULL;
	http_reply_json(req, im->nerrors && !dry_run ? 400 : 200, doc);
	cJSON_Delete(doc);
}

void api_people_import(struct http_req *req)
{
	struct import im;
	struct csv_reader *r;
	char dry[8];
	int dry_run = api_query_str(req, "dry_run", dry, sizeof dry) && strcmp(dry, "false") != 0 && strcmp(dry, "0") != 0;
	int imported = 0, failed = 0;

	if (http_read_body(req) < 0)
		return;
	memset(&im, 0, sizeof im);
	im.tenant = api_tenant(req);
	im.errors = cJSON_CreateArray();
	r = csv_reader_new(req->body, req->body_len);
	if (!r) {
		free_import(&im);
		return api_db_error(req);
	}
	if (db_begin() < 0) {
		csv_reader_free(r);
		free_import(&im);
		return api_db_error(req);
	}
	if (read_header(&im, r) == 0) {
		const char *f[CSV_MAX_FIELDS];
		size_t l[CSV_MAX_FIELDS];
		char card[80];
		int n;

		while ((n = csv_next(r, f, l)) > 0) {
			cJSON *body = row_body(&im, r, f, l, n, card, sizeof card);
			im.rows++;
			if (body) {
				im.valid++;
				/* Rows are stored as they go; any error rolls everything back. */
				if (!dry_run && !im.nerrors && store_row(im.tenant, body, card) < 0)
					failed = 1;
				cJSON_Delete(body);
			}
		}
		if (n < 0) {
			/* csv_error reads "line N: reason": report N and the reason. */
			const char *msg = csv_error(r), *colon = strstr(msg, ": ");
			long at = strncmp(msg, "line ", 5) == 0 ? strtol(msg + 5, NULL, 10) : 0;
			import_error(&im, at > 0 ? (int)at : csv_line(r), "row", colon ? colon + 2 : msg);
		}
	}
	csv_reader_free(r);
	if (dry_run || im.nerrors || failed) {
		db_rollback();
		if (failed && !im.nerrors) {
			free_import(&im);
			return api_db_error(req);
		}
	} else {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "people", im.valid);
		imported = im.valid;
		if (api_audit(req, "people.import", "people", "ok", d) < 0 || db_commit() < 0) {
			cJSON_Delete(d);
			db_rollback();
			free_import(&im);
			return api_db_error(req);
		}
		cJSON_Delete(d);
	}
	reply_report(req, &im, dry_run, imported);
	free_import(&im);
}

/* --- export ---------------------------------------------------------------- */

static const char *const export_cols[] = {"id", "name", "email", "phone", "employee_no", "status",
					  "valid_from", "valid_until", "groups", "credentials", "notes"};
#define NEXPORT (sizeof export_cols / sizeof export_cols[0])

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

static void put(struct exporter *e, const char *s)
{
	if (!s)
		s = "";
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

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItem(o, name);
	return cJSON_IsString(m) ? m->valuestring : "";
}

/* "Staff; Night" from the group ids. */
static void group_names(int64_t tenant, const cJSON *ids, char *out, size_t len)
{
	sqlite3_stmt *st = db_stmt("SELECT name FROM access_groups WHERE id = ? AND tenant_id = ?");
	const cJSON *g;

	out[0] = '\0';
	cJSON_ArrayForEach(g, ids)
	{
		sqlite3_bind_int64(st, 1, (int64_t)g->valuedouble);
		sqlite3_bind_int64(st, 2, tenant);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? "; " : "", sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	}
}

static void credential_summary(const cJSON *creds, char *out, size_t len)
{
	const cJSON *c;

	out[0] = '\0';
	cJSON_ArrayForEach(c, creds)
		snprintf(out + strlen(out), len - strlen(out), "%s%s %s (%s)", out[0] ? "; " : "", str(c, "kind"),
			 str(c, "hint"), str(c, "status"));
}

static void export_person(struct exporter *e, int64_t tenant, const cJSON *p)
{
	char id[24], groups[2048], creds[2048];

	snprintf(id, sizeof id, "%lld", (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "id")));
	group_names(tenant, cJSON_GetObjectItem(p, "group_ids"), groups, sizeof groups);
	credential_summary(cJSON_GetObjectItem(p, "credentials"), creds, sizeof creds);
	if (e->x)
		xlsx_number(e->x, cJSON_GetNumberValue(cJSON_GetObjectItem(p, "id")));
	else
		put(e, id);
	put(e, str(p, "name"));
	put(e, str(p, "email"));
	put(e, str(p, "phone"));
	put(e, str(p, "employee_no"));
	put(e, str(p, "status"));
	put(e, str(p, "valid_from"));
	put(e, str(p, "valid_until"));
	put(e, groups);
	put(e, creds);
	put(e, str(p, "notes"));
	end_row(e);
}

void api_people_export(struct http_req *req)
{
	char format[8] = "csv", disp[80];
	struct exporter e = {req, {0}, NULL, 0};
	struct person_filter f = {0};
	int64_t tenant = api_tenant(req), cursor = 0, next;
	long long total = 0;
	int xlsx;

	api_query_str(req, "format", format, sizeof format);
	if (strcmp(format, "csv") && strcmp(format, "xlsx"))
		return http_field_error(req, "format", "must be csv or xlsx");
	xlsx = strcmp(format, "xlsx") == 0;
	snprintf(disp, sizeof disp, "attachment; filename=\"people.%s\"", format);
	const char *hdr[] = {"Content-Disposition", disp, NULL};
	if (http_stream_begin(req, 200, xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
					     : "text/csv; charset=utf-8", hdr) < 0)
		return;
	if (xlsx) {
		e.x = xlsx_new("People", sink, &e);
		if (!e.x) {
			/* Out of memory: end the stream short; the client sees a failed download. */
			http_stream_end(req);
			return;
		}
	} else {
		csv_writer_init(&e.csv, csv_sink_fn, &e);
		sink(&e, "\xEF\xBB\xBF", 3); /* BOM: spreadsheets then read UTF-8 correctly */
	}
	for (size_t i = 0; i < NEXPORT; i++)
		put(&e, export_cols[i]);
	end_row(&e);
	/* A page at a time: memory holds one page, however many people. */
	do {
		cJSON *page = cJSON_CreateArray(), *p;
		if (person_list(tenant, &f, cursor, 200, page, &next) < 0)
			e.failed = 1;
		cJSON_ArrayForEach(p, page)
		{
			export_person(&e, tenant, p);
			total++;
		}
		cJSON_Delete(page);
		cursor = next;
	} while (cursor && !e.failed);
	if (e.x)
		e.failed |= xlsx_finish(e.x) < 0;
	else
		e.failed |= csv_flush(&e.csv) < 0;
	http_stream_end(req);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "format", format);
	cJSON_AddNumberToObject(d, "people", (double)total);
	api_audit(req, "people.export", "people", e.failed ? "failed" : "ok", d);
	cJSON_Delete(d);
}
