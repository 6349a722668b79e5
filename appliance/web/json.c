#include "json.h"

#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jv_init(struct jv *v, const cJSON *obj)
{
	memset(v, 0, sizeof *v);
	v->obj = obj;
}

void jv_error(struct jv *v, const char *field, const char *fmt, ...)
{
	char reason[300];
	cJSON *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (!v->errors)
		v->errors = cJSON_CreateArray();
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "field", field);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddItemToArray(v->errors, e);
}

static const cJSON *member(struct jv *v, const char *field)
{
	if (v->nseen < (int)(sizeof v->seen / sizeof v->seen[0]))
		v->seen[v->nseen++] = field;
	return cJSON_GetObjectItemCaseSensitive(v->obj, field);
}

/* Well-formed UTF-8 without control characters (tab excepted, and line
 * ends too when multiline). */
static int clean_text(const char *s, int multiline)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		if (*p < 0x20 && *p != '\t' && !(multiline && (*p == '\n' || *p == '\r')))
			return 0;
		if (*p == 0x7f)
			return 0;
		if (*p < 0x80) {
			p++;
			continue;
		}
		int n = (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
		if (n < 0 || (*p == 0xC0 || *p == 0xC1))
			return 0;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += n + 1;
	}
	return 1;
}

static const char *string_field(struct jv *v, const char *field, int required, size_t min, size_t max,
				int multiline)
{
	const cJSON *m = member(v, field);
	size_t len;

	if (!m || cJSON_IsNull(m)) {
		if (required)
			jv_error(v, field, "is required");
		return NULL;
	}
	if (!cJSON_IsString(m)) {
		jv_error(v, field, "must be a string");
		return NULL;
	}
	len = strlen(m->valuestring);
	if (len < min || len > max) {
		if (min > 0 && len == 0)
			jv_error(v, field, "must not be empty");
		else
			jv_error(v, field, "must be %zu to %zu bytes long", min, max);
		return NULL;
	}
	if (!clean_text(m->valuestring, multiline)) {
		jv_error(v, field, "must be UTF-8 text without control characters");
		return NULL;
	}
	return m->valuestring;
}

const char *jv_string(struct jv *v, const char *field, int required, size_t min, size_t max)
{
	return string_field(v, field, required, min, max, 0);
}

const char *jv_text(struct jv *v, const char *field, int required, size_t min, size_t max)
{
	return string_field(v, field, required, min, max, 1);
}

long long jv_int(struct jv *v, const char *field, int required, long long min, long long max,
		 long long def)
{
	const cJSON *m = member(v, field);
	double d;

	if (!m || cJSON_IsNull(m)) {
		if (required)
			jv_error(v, field, "is required");
		return def;
	}
	d = cJSON_GetNumberValue(m);
	if (!cJSON_IsNumber(m) || !(d >= -9.2e18 && d <= 9.2e18) || d != (double)(long long)d) {
		jv_error(v, field, "must be an integer");
		return def;
	}
	if ((long long)d < min || (long long)d > max) {
		jv_error(v, field, "must be between %lld and %lld", min, max);
		return def;
	}
	return (long long)d;
}

int jv_bool(struct jv *v, const char *field, int def)
{
	const cJSON *m = member(v, field);

	if (!m || cJSON_IsNull(m))
		return def;
	if (!cJSON_IsBool(m)) {
		jv_error(v, field, "must be true or false");
		return def;
	}
	return cJSON_IsTrue(m);
}

const char *jv_enum(struct jv *v, const char *field, int required, const char *choices)
{
	const char *s = jv_string(v, field, required, 1, 64);
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	for (const char *p = choices; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (strcspn(p, "|") == n && strncmp(p, s, n) == 0) /* one whole choice, not a run of them */
			return s;
	jv_error(v, field, "must be one of %s", choices);
	return NULL;
}

void jv_not_null(struct jv *v, const char *field)
{
	if (cJSON_IsNull(member(v, field)))
		jv_error(v, field, "must not be null (leave it out to keep it)");
}

void jv_no_others(struct jv *v)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, v->obj)
	{
		int known = 0;
		for (int i = 0; i < v->nseen && !known; i++)
			known = m->string && strcmp(m->string, v->seen[i]) == 0;
		if (!known)
			jv_error(v, m->string ? m->string : "?", "is not a known field");
	}
}

int jv_finish(struct jv *v, struct http_req *req)
{
	cJSON *doc, *err;
	int n;

	if (!v->errors)
		return 0;
	n = cJSON_GetArraySize(v->errors);
	doc = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(doc, "error");
	cJSON_AddStringToObject(err, "code", "invalid");
	if (n == 1) {
		const cJSON *e = cJSON_GetArrayItem(v->errors, 0);
		char msg[400];
		snprintf(msg, sizeof msg, "%s %s", cJSON_GetObjectItem(e, "field")->valuestring,
			 cJSON_GetObjectItem(e, "reason")->valuestring);
		cJSON_AddStringToObject(err, "message", msg);
	} else {
		char msg[64];
		snprintf(msg, sizeof msg, "%d fields are invalid", n);
		cJSON_AddStringToObject(err, "message", msg);
	}
	cJSON_AddItemToObject(err, "fields", v->errors);
	v->errors = NULL;
	http_reply_json(req, 400, doc);
	cJSON_Delete(doc);
	return -1;
}

void http_field_error(struct http_req *req, const char *field, const char *reason)
{
	struct jv v;

	jv_init(&v, NULL);
	jv_error(&v, field, "%s", reason);
	jv_finish(&v, req);
}

int json_int(const cJSON *m, long long min, long long max, long long *out)
{
	double d;

	if (!cJSON_IsNumber(m))
		return -1;
	d = m->valuedouble;
	/* Range first: converting a double outside long long's range is undefined. */
	if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(long long)d)
		return -1;
	if ((long long)d < min || (long long)d > max)
		return -1;
	*out = (long long)d;
	return 0;
}
