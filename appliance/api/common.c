#include "api.h"

#include "core/log.h"
#include "domain/audit.h"
#include "web/http.h"
#include "web/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_audit(struct http_req *req, const char *action, const char *target, const char *outcome,
	      const cJSON *details)
{
	struct audit_event ev = {
		.tenant = req->auth.tenant,
		.actor_type = req->auth.kind == AUTH_TOKEN     ? "token"
			      : req->auth.kind == AUTH_SESSION ? "admin"
			      : req->auth.kind == AUTH_SITE    ? "system"
							       : "anonymous",
		.actor_id = req->auth.actor[0] ? req->auth.actor : "anonymous",
		.source = req->remote,
		.action = action,
		.target = target ? target : "",
		.outcome = outcome,
		.details = details,
	};

	return audit_append(&ev);
}

int64_t api_id_param(struct http_req *req, int n)
{
	const char *p = req->match.params[n];
	char *end;
	long long v = strtoll(p, &end, 10);

	if (n >= req->match.nparams || *p < '1' || *p > '9' || *end || v <= 0) {
		http_error(req, 404, "not_found", "no such record: %s", req->path);
		return -1;
	}
	return v;
}

void api_db_error(struct http_req *req)
{
	log_err("api: %s %s: database error", req->method, req->path);
	http_error(req, 503, "unavailable", "the database is busy or unavailable; retry");
}

void api_reply_page(struct http_req *req, cJSON *items, int64_t next)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddItemToObject(doc, "items", items);
	if (next > 0) {
		char c[24];
		snprintf(c, sizeof c, "%lld", (long long)next);
		cJSON_AddStringToObject(doc, "next_cursor", c);
	} else {
		cJSON_AddNullToObject(doc, "next_cursor");
	}
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

const char *api_query_str(struct http_req *req, const char *name, char *out, size_t len)
{
	size_t n, o = 0;
	const char *v = router_query_param(req->query, name, &n);

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = (char)(hexval(v[i + 1]) * 16 + hexval(v[i + 2]));
			i += 2;
		}
		/* A value too long for the buffer, or with a NUL in it, must not
		 * turn into a shorter value or into no filter at all (which would
		 * list everyone): it becomes a value nothing can match. */
		if (c == '\0' || o + 1 >= len) {
			snprintf(out, len, "%s", API_QUERY_UNMATCHABLE);
			return out;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

long long api_query_int(struct http_req *req, const char *name, long long min, long long max, long long def)
{
	char buf[32], *end;
	long long v;

	if (!api_query_str(req, name, buf, sizeof buf) || !*buf)
		return def;
	v = strtoll(buf, &end, 10);
	if (*end)
		return def;
	return v < min ? min : v > max ? max : v;
}

int api_query_id(struct http_req *req, const char *name, int64_t *out)
{
	char buf[32], *end;
	long long v;

	*out = 0;
	if (!api_query_str(req, name, buf, sizeof buf))
		return 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (buf[0] < '1' || buf[0] > '9' || *end || errno || v < 1) {
		http_field_error(req, name, "must be a positive whole number (an id or a cursor from a previous page)");
		return -1;
	}
	*out = v;
	return 0;
}
