/* libFuzzer target: JSON request bodies through the validators the API runs
 * before it writes anything: person_check and credential_check (create and
 * update), and entity_check for every kind of access rule record (sites,
 * doors, holiday sets with their dates, schedules with their windows,
 * access groups, access levels with their doors).
 *
 * The body is parsed as http_read_json does: a NUL byte is refused, the
 * text is NUL-terminated and the terminator must follow the value. Only an
 * object reaches the validators.
 *
 * No database is opened. The validators reach it only through
 * entity_exists (references: group_ids, door_ids, site_id, ...), which
 * prepares its query on db_get(); with no database path that is NULL,
 * sqlite3_prepare_v2 refuses a NULL handle with SQLITE_MISUSE and the
 * reference counts as not found (an error in v.errors). Time zones come
 * from /usr/share/zoneinfo through tz_get. Nothing here hashes (Argon2
 * runs only in credential_create for a PIN).
 *
 * Checked, beyond ASan and UBSan (made fatal, as in the project's
 * sanitizer build):
 *  - every collected error is {field: string, reason: string}, so
 *    jv_finish can build its reply (it dereferences both), and the reply
 *    document it builds can be printed;
 *  - a body that passes a validator meets what the store functions then
 *    assume without checking again (credential_create, person_create,
 *    entity_create and the children_store hooks): enumerated values are
 *    exactly one of their choices, the member a kind needs is a string,
 *    numbers are integers, holiday dates and schedule windows are as the
 *    store code reads them. */
#include "core/tz.h"
#include "domain/decide.h"
#include "domain/entity.h"
#include "domain/people.h"
#include "web/json.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* A broken promise: say which check (to stderr, only then) and abort, so
 * libFuzzer saves the input. */
#define FAIL() (fprintf(stderr, "%s:%d: check failed\n", __FILE__, __LINE__), abort())

/* The project's sanitizer build makes undefined behaviour fatal
 * (-fno-sanitize-recover=undefined); so does this target. */
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

#define TENANT 1
#define MAX_BODY (256 * 1024)

static const struct entity *const entities[] = {
	&entity_sites, &entity_doors, &entity_holiday_sets, &entity_schedules, &entity_access_groups,
	&entity_access_levels,
};

/* jv_finish without the HTTP reply: the same document, printed to memory. */
static void check_errors(cJSON *errors)
{
	const cJSON *e;
	cJSON *doc, *err;
	char *text;
	int n;

	if (!errors)
		return;
	n = cJSON_GetArraySize(errors);
	if (!cJSON_IsArray(errors) || n < 1)
		FAIL();
	cJSON_ArrayForEach(e, errors)
	{
		if (!cJSON_IsString(cJSON_GetObjectItem(e, "field")) || !cJSON_IsString(cJSON_GetObjectItem(e, "reason")))
			FAIL();
	}
	doc = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(doc, "error");
	cJSON_AddStringToObject(err, "code", "invalid");
	cJSON_AddStringToObject(err, "message", "x");
	/* Borrowed, as jv_finish hands v->errors over to the reply. */
	cJSON_AddItemReferenceToObject(err, "fields", errors);
	text = cJSON_PrintUnformatted(doc);
	if (!text)
		FAIL();
	cJSON_free(text);
	cJSON_Delete(doc);
}

static int is_one_of(const char *s, const char *const *choices)
{
	for (; *choices; choices++)
		if (strcmp(s, *choices) == 0)
			return 1;
	return 0;
}

/* An optional member that, when present and not null, must be a string
 * equal to one of choices. */
static void must_be_choice(const cJSON *body, const char *name, const char *const *choices)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, name);

	if (!m || cJSON_IsNull(m))
		return;
	if (!cJSON_IsString(m) || !is_one_of(m->valuestring, choices))
		FAIL();
}

static int integral(const cJSON *m)
{
	return cJSON_IsNumber(m) && m->valuedouble >= -9007199254740992.0 && m->valuedouble <= 9007199254740992.0 &&
	       m->valuedouble == (double)(int64_t)m->valuedouble;
}

static void civil_ok(const cJSON *body, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, name);

	if (!m || cJSON_IsNull(m))
		return;
	if (!cJSON_IsString(m) || (*m->valuestring && decide_parse_civil(m->valuestring, NULL) < 0))
		FAIL();
}

static const char *const person_status[] = {"active", "suspended", NULL};
static const char *const cred_status[] = {"active", "suspended", "lost", "revoked", NULL};
static const char *const cred_kinds[] = {"card", "pin", "face", "fingerprint", "mobile", NULL};
static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday", NULL};

/* What person_create / person_update read from a body that passed. */
static void person_passed(const cJSON *body, int partial)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "name"), *g;

	if (!partial && (!cJSON_IsString(m) || !*m->valuestring))
		FAIL();
	if (m && (!cJSON_IsString(m) || !*m->valuestring))
		FAIL();
	must_be_choice(body, "status", person_status);
	civil_ok(body, "valid_from");
	civil_ok(body, "valid_until");
	g = cJSON_GetObjectItemCaseSensitive(body, "group_ids");
	if (g) {
		if (!cJSON_IsArray(g))
			FAIL();
		cJSON_ArrayForEach(m, g)
		{
			if (!integral(m) || m->valuedouble < 1)
				FAIL();
		}
	}
}

/* What credential_create (credential_material) and credential_update read
 * from a body that passed. */
static void credential_passed(const cJSON *body, int partial)
{
	const cJSON *kind = cJSON_GetObjectItem(body, "kind"), *m;

	must_be_choice(body, "status", cred_status);
	civil_ok(body, "valid_from");
	civil_ok(body, "valid_until");
	m = cJSON_GetObjectItemCaseSensitive(body, "label");
	if (m && !cJSON_IsNull(m) && !cJSON_IsString(m))
		FAIL();
	if (partial)
		return;
	/* credential_create: kind->valuestring, then by kind number / pin /
	 * template ->valuestring, all without a NULL check. */
	if (!cJSON_IsString(kind) || !is_one_of(kind->valuestring, cred_kinds))
		FAIL();
	if (strcmp(kind->valuestring, "card") == 0)
		m = cJSON_GetObjectItem(body, "number");
	else if (strcmp(kind->valuestring, "pin") == 0)
		m = cJSON_GetObjectItem(body, "pin");
	else if (strcmp(kind->valuestring, "mobile") == 0)
		m = NULL;
	else
		m = cJSON_GetObjectItem(body, "template");
	if (m && !cJSON_IsString(m))
		FAIL();
	if (!m && strcmp(kind->valuestring, "mobile") != 0)
		FAIL();
}

/* windows_store parses start and end again with the same function as
 * windows_check; all it needs is a string. (That parser is lenient:
 * " 9:00", "+9:00", "1: 00" and "09:+5" pass as times; see the report.) */
static int hhmm(const cJSON *j)
{
	return cJSON_IsString(j) && strlen(j->valuestring) == 5;
}

/* What entity_create / entity_update and the children_store hooks read
 * from a body that passed. */
static void entity_passed(const struct entity *e, const cJSON *body, int partial)
{
	const cJSON *m, *c;

	for (size_t i = 0; i < e->nfields; i++) {
		const struct field *f = &e->fields[i];

		m = cJSON_GetObjectItemCaseSensitive(body, f->name);
		if (!m || cJSON_IsNull(m)) {
			/* Absent or null: required on create. (A null passes in an
			 * update and for optional fields whose column is NOT NULL;
			 * the store then fails with a database error: see the
			 * report, not checked here.) */
			if (f->required && !partial)
				FAIL();
			continue;
		}
		switch (f->type) {
		case F_TEXT:
		case F_TZ:
			if (!cJSON_IsString(m) || strlen(m->valuestring) < (size_t)f->min ||
			    strlen(m->valuestring) > (size_t)f->max)
				FAIL();
			if (f->type == F_TZ && !tz_get(m->valuestring))
				FAIL();
			break;
		case F_INT:
		case F_REF:
			if (!integral(m) || m->valuedouble < (double)f->min ||
			    (f->type == F_INT && m->valuedouble > (double)f->max))
				FAIL();
			break;
		}
	}
	if (e == &entity_holiday_sets && (m = cJSON_GetObjectItemCaseSensitive(body, "dates"))) {
		if (!cJSON_IsArray(m))
			FAIL();
		cJSON_ArrayForEach(c, m)
		{
			const cJSON *d = cJSON_GetObjectItem(c, "date"), *n = cJSON_GetObjectItem(c, "name");
			if (!cJSON_IsString(d) || !cJSON_IsString(n) || decide_parse_civil(d->valuestring, NULL) < 0 ||
			    strlen(d->valuestring) != 10)
				FAIL();
		}
	}
	if (e == &entity_schedules && (m = cJSON_GetObjectItemCaseSensitive(body, "windows"))) {
		if (!cJSON_IsArray(m))
			FAIL();
		cJSON_ArrayForEach(c, m)
		{
			const cJSON *d = cJSON_GetObjectItem(c, "day");
			if (!cJSON_IsString(d) || !is_one_of(d->valuestring, day_names) ||
			    !hhmm(cJSON_GetObjectItem(c, "start")) || !hhmm(cJSON_GetObjectItem(c, "end")))
				FAIL();
		}
	}
	if (e == &entity_access_levels && (m = cJSON_GetObjectItemCaseSensitive(body, "door_ids"))) {
		if (!cJSON_IsArray(m))
			FAIL();
		cJSON_ArrayForEach(c, m)
		{
			if (!integral(c))
				FAIL();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *end = NULL;
	char *text;
	cJSON *body;
	struct jv v;

	/* http_read_json refuses a body with a NUL byte; http_read_body caps
	 * the size (far above this). */
	if (size > MAX_BODY || memchr(data, '\0', size))
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	body = cJSON_ParseWithLengthOpts(text, size + 1, &end, 1);
	if (!body || !cJSON_IsObject(body)) {
		/* end, when set, points into the text (the reply names the byte). */
		if (end && (end < text || end > text + size + 1))
			FAIL();
		cJSON_Delete(body);
		free(text);
		return 0;
	}

	for (int partial = 0; partial <= 1; partial++) {
		jv_init(&v, body);
		person_check(&v, TENANT, body, partial);
		check_errors(v.errors);
		if (!v.errors)
			person_passed(body, partial);
		cJSON_Delete(v.errors);

		jv_init(&v, body);
		credential_check(&v, body, partial);
		check_errors(v.errors);
		if (!v.errors)
			credential_passed(body, partial);
		cJSON_Delete(v.errors);

		for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
			jv_init(&v, body);
			entity_check(entities[i], &v, TENANT, body, partial);
			check_errors(v.errors);
			if (!v.errors)
				entity_passed(entities[i], body, partial);
			cJSON_Delete(v.errors);
		}
	}
	cJSON_Delete(body);
	free(text);
	return 0;
}
