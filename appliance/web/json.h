/* json: reading and validating JSON request bodies. A validator collects
 * every problem as {field, reason} so one 400 lists them all, and rejects
 * fields it was not told about (a typo never passes silently). */
#ifndef GH_JSON_H
#define GH_JSON_H

#include <cJSON.h>
#include <stddef.h>

struct http_req;

struct jv {
	const cJSON *obj;
	cJSON *errors;     /* array of {field, reason}; NULL until the first */
	const char *seen[48];
	int nseen;
};

void jv_init(struct jv *v, const cJSON *obj);
void jv_error(struct jv *v, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A string field of min..max bytes (UTF-8, no control characters). NULL
 * when absent (an error if required) or invalid. */
const char *jv_string(struct jv *v, const char *field, int required, size_t min, size_t max);
/* The same for multi-line text (PEM, notes): line ends allowed. */
const char *jv_text(struct jv *v, const char *field, int required, size_t min, size_t max);
/* An integer field within [min, max]; def when absent and not required. */
long long jv_int(struct jv *v, const char *field, int required, long long min, long long max,
		 long long def);
/* A boolean; def when absent. */
int jv_bool(struct jv *v, const char *field, int def);
/* One of the words in choices ("a|b|c"); NULL when absent or invalid. */
const char *jv_enum(struct jv *v, const char *field, int required, const char *choices);
/* An error when field is present and null (a value that cannot be cleared). */
void jv_not_null(struct jv *v, const char *field);
/* Record an error for every member not read so far. */
void jv_no_others(struct jv *v);

/* Any errors? Then send 400 with the list and return -1; else 0. */
int jv_finish(struct jv *v, struct http_req *req);

/* m as an integer within [min, max]: 0 and *out set, or -1 (not a
 * number, not whole, out of range). Safe for any double, so it is how
 * untrusted numbers (request bodies, terminal messages) become integers. */
int json_int(const cJSON *m, long long min, long long max, long long *out);

/* Send a 400 with one field error. */
void http_field_error(struct http_req *req, const char *field, const char *reason);

#endif
