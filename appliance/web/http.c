#include "http.h"

#include "core/config.h"
#include "core/log.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* No inline script or style anywhere in the console; everything comes from
 * the appliance itself. */
static const char csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
	"form-action 'self'; frame-ancestors 'none'";

long long http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sent with every response, including errors CivetWeb raises itself. */
static const char *const security_headers[][2] = {
	{"Strict-Transport-Security", "max-age=63072000"},
	{"Content-Security-Policy", csp},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"},
};
#define N_SECURITY_HEADERS (sizeof security_headers / sizeof security_headers[0])

void http_common_headers(struct mg_connection *c, int api)
{
	for (size_t i = 0; i < N_SECURITY_HEADERS; i++)
		mg_response_header_add(c, security_headers[i][0], security_headers[i][1], -1);
	if (api)
		mg_response_header_add(c, "Cache-Control", "no-store", -1);
}

static void send_response(struct mg_connection *c, int status, int api, const char *type,
			  const void *body, size_t len, int send_body, const char *const *extra)
{
	char clen[32];

	mg_response_header_start(c, status);
	http_common_headers(c, api);
	if (type)
		mg_response_header_add(c, "Content-Type", type, -1);
	snprintf(clen, sizeof clen, "%zu", len);
	mg_response_header_add(c, "Content-Length", clen, -1);
	for (; extra && extra[0]; extra += 2)
		mg_response_header_add(c, extra[0], extra[1], -1);
	mg_response_header_send(c);
	if (send_body && len)
		mg_write(c, body, len);
}

void http_reply(struct http_req *req, int status, const char *type, const void *body, size_t len,
		const char *const *extra)
{
	int api = !req->match.route || (req->match.route->flags & RF_API);

	if (req->status) {
		log_warn("http: second response for %s %s ignored", req->method, req->path);
		return;
	}
	req->status = status;
	req->sent_bytes = len;
	send_response(req->conn, status, api, type, body, len, strcmp(req->method, "HEAD") != 0,
		      extra);
}

int http_stream_begin(struct http_req *req, int status, const char *type, const char *const *extra)
{
	struct mg_connection *c = req->conn;

	if (req->status)
		return -1;
	req->status = status;
	mg_response_header_start(c, status);
	http_common_headers(c, 1);
	mg_response_header_add(c, "Content-Type", type, -1);
	mg_response_header_add(c, "Transfer-Encoding", "chunked", -1);
	for (; extra && extra[0]; extra += 2)
		mg_response_header_add(c, extra[0], extra[1], -1);
	return mg_response_header_send(c) == 0 ? 0 : -1;
}

int http_stream_write(struct http_req *req, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	req->sent_bytes += len;
	return mg_send_chunk(req->conn, data, (unsigned)len) > 0 ? 0 : -1;
}

int http_stream_end(struct http_req *req)
{
	return mg_send_chunk(req->conn, "", 0) > 0 ? 0 : -1;
}

void http_reply_json(struct http_req *req, int status, const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);

	if (!text) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		http_reply(req, 500, "application/json", oom, sizeof oom - 1, NULL);
		return;
	}
	http_reply(req, status, "application/json", text, strlen(text), NULL);
	cJSON_free(text);
}

static char *error_json(const char *code, const char *message)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *err = cJSON_AddObjectToObject(doc, "error");
	char *text;

	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", message);
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

static void error_v(struct http_req *req, int status, const char *code, const char *const *extra,
		    const char *fmt, va_list ap)
{
	char message[512];
	const char *close_hdr[] = {"Connection", "close", NULL};
	char *text;

	vsnprintf(message, sizeof message, fmt, ap);
	text = error_json(code, message);
	if (!text)
		return;
	/* After 413 or 408 the rest of the body is not read: close the
	 * connection instead of keeping a stream we are no longer in step with. */
	http_reply(req, status, "application/json", text, strlen(text),
		   extra ? extra : status == 413 || status == 408 ? close_hdr : NULL);
	cJSON_free(text);
}

void http_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_v(req, status, code, NULL, fmt, ap);
	va_end(ap);
}

void http_error_headers(struct http_req *req, int status, const char *code, const char *const *extra,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_v(req, status, code, extra, fmt, ap);
	va_end(ap);
}

static const char *status_code_name(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 408: return "request_timeout";
	case 413: return "payload_too_large";
	case 414: return "uri_too_long";
	case 431: return "headers_too_large";
	case 500: return "internal";
	case 503: return "unavailable";
	}
	return status >= 500 ? "internal" : "bad_request";
}

/* CivetWeb may report an error before the request is usable by the response
 * header API (a malformed request line), so this one is written raw. */
void http_error_conn(struct mg_connection *c, int status, const char *message)
{
	char *text = error_json(status_code_name(status), message);

	if (!text)
		return;
	mg_printf(c, "HTTP/1.1 %d %s\r\n", status, mg_get_response_code_text(c, status));
	for (size_t i = 0; i < N_SECURITY_HEADERS; i++)
		mg_printf(c, "%s: %s\r\n", security_headers[i][0], security_headers[i][1]);
	mg_printf(c,
		  "Cache-Control: no-store\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: %zu\r\n"
		  "Connection: close\r\n\r\n%s",
		  strlen(text), text);
	cJSON_free(text);
}

const char *http_header(struct http_req *req, const char *name)
{
	return mg_get_header(req->conn, name);
}

int http_read_body(struct http_req *req)
{
	const struct mg_request_info *ri = mg_get_request_info(req->conn);
	size_t limit = req->match.route && req->match.route->max_body
			       ? req->match.route->max_body
			       : (size_t)cfg_int(CFG_WEB_MAX_BODY);
	long long deadline = req->started_ms + cfg_int(CFG_WEB_REQUEST_TIMEOUT);
	size_t cap, len = 0;
	char *buf;

	if (req->body)
		return 0;
	if (ri->content_length > 0 && (unsigned long long)ri->content_length > limit) {
		http_error(req, 413, "payload_too_large", "request body is larger than %zu bytes", limit);
		return -1;
	}
	cap = ri->content_length > 0 ? (size_t)ri->content_length + 1 : 4096;
	buf = malloc(cap);
	if (!buf) {
		http_error(req, 503, "unavailable", "out of memory");
		return -1;
	}
	for (;;) {
		int n;

		if (len + 1 >= cap) {
			char *bigger;
			if (cap > limit + 1) {
				free(buf);
				http_error(req, 413, "payload_too_large",
					   "request body is larger than %zu bytes", limit);
				return -1;
			}
			cap = cap * 2 > limit + 2 ? limit + 2 : cap * 2;
			if (!(bigger = realloc(buf, cap))) {
				free(buf);
				http_error(req, 503, "unavailable", "out of memory");
				return -1;
			}
			buf = bigger;
		}
		n = mg_read(req->conn, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > limit) {
			free(buf);
			http_error(req, 413, "payload_too_large", "request body is larger than %zu bytes",
				   limit);
			return -1;
		}
		if (http_now_ms() > deadline) {
			free(buf);
			http_error(req, 408, "request_timeout", "request body took too long to arrive");
			return -1;
		}
	}
	if (ri->content_length > 0 && len < (size_t)ri->content_length) {
		free(buf);
		http_error(req, 400, "bad_request", "request body is shorter than Content-Length");
		return -1;
	}
	buf[len] = '\0';
	req->body = buf;
	req->body_len = len;
	return 0;
}

int http_read_json(struct http_req *req)
{
	const char *type = http_header(req, "Content-Type");
	const char *end = NULL;

	if (!type || strncmp(type, "application/json", 16) != 0) {
		http_error(req, 415, "unsupported_media_type", "Content-Type must be application/json");
		return -1;
	}
	if (http_read_body(req) < 0)
		return -1;
	if (memchr(req->body, '\0', req->body_len)) {
		http_error(req, 400, "bad_json", "request body contains a NUL byte");
		return -1;
	}
	/* body is NUL-terminated, and the terminator must directly follow the
	 * value: trailing garbage is an error, not ignored. */
	req->json = cJSON_ParseWithLengthOpts(req->body, req->body_len + 1, &end, 1);
	if (!req->json || !cJSON_IsObject(req->json)) {
		size_t at = end && end >= req->body ? (size_t)(end - req->body) : 0;
		http_error(req, 400, "bad_json", "request body is not a JSON object (near byte %zu)", at);
		return -1;
	}
	return 0;
}
