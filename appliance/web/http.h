/* http: one request and its response, as handlers see them. The request
 * context owns what the request allocates (body, parsed JSON) and is freed
 * once by the server after the handler returns. Every response goes through
 * here, so every response carries the security headers. */
#ifndef GH_HTTP_H
#define GH_HTTP_H

#include "auth.h"
#include "router.h"

#include <cJSON.h>
#include <stddef.h>

struct mg_connection;

struct http_req {
	struct mg_connection *conn;
	const char *method;
	char path[1024];
	const char *query;      /* raw query string or NULL */
	char remote[64];        /* client address */
	struct route_match match;
	char *body;             /* NUL-terminated, after http_read_body */
	size_t body_len;
	cJSON *json;            /* after http_read_json */
	struct auth auth;       /* who is asking (web/auth.c) */
	int status;             /* status sent, 0 until then */
	size_t sent_bytes;
	long long started_ms;
};

/* Standard headers on every response; api=1 adds Cache-Control: no-store. */
void http_common_headers(struct mg_connection *c, int api);

/* Read the whole body, up to the route's limit. On failure a response
 * (413, 408 or 400) has been sent and -1 is returned. */
int http_read_body(struct http_req *req);

/* Read the body as a JSON object; 400 with the reason otherwise. */
int http_read_json(struct http_req *req);

const char *http_header(struct http_req *req, const char *name);

/* Send a complete response. extra: NULL-terminated name/value pairs. */
void http_reply(struct http_req *req, int status, const char *type, const void *body, size_t len,
		const char *const *extra);
/* A streamed response of unknown length (chunked): begin, write any number
 * of times, end. Each returns 0, or -1 when the client went away. */
int http_stream_begin(struct http_req *req, int status, const char *type, const char *const *extra);
int http_stream_write(struct http_req *req, const void *data, size_t len);
int http_stream_end(struct http_req *req);

/* Send a JSON document (the value is not freed). */
void http_reply_json(struct http_req *req, int status, const cJSON *doc);
/* {"error": {"code": code, "message": message}} */
void http_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The same with extra headers (NULL-terminated name/value pairs). */
void http_error_headers(struct http_req *req, int status, const char *code, const char *const *extra,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same JSON error on a bare connection, for errors CivetWeb detects
 * before our handler runs (bad request line, headers too large). */
void http_error_conn(struct mg_connection *c, int status, const char *message);

/* Milliseconds on the monotonic clock. */
long long http_now_ms(void);

#endif
