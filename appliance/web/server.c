#include "server.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "abuse.h"
#include "domain/blocks.h"
#include "gate.h"
#include "http.h"
#include "sync/status.h"
#include "tls_server.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defined in the patched civetweb.c (third_party/civetweb/). */
void gh_gate_release(void *owner, void *item);

static struct mg_context *ctx;
static const struct route *routes;
static size_t nroutes;
static char listen_addrs[1024];

static int body_too_large(struct http_req *req)
{
	const struct mg_request_info *ri = mg_get_request_info(req->conn);
	size_t limit = req->match.route && req->match.route->max_body
			       ? req->match.route->max_body
			       : (size_t)cfg_int(CFG_WEB_MAX_BODY);

	if (ri->content_length <= 0 || (unsigned long long)ri->content_length <= limit)
		return 0;
	http_error(req, 413, "payload_too_large", "request body is larger than %zu bytes", limit);
	return 1;
}

/* A blocked address gets nothing but this, whatever it asks for. */
static int refuse_blocked(struct http_req *req)
{
	long long until;
	char retry[24];

	if (!abuse_blocked(req->remote, auth_now_ms(), &until))
		return 0;
	snprintf(retry, sizeof retry, "%lld", (until - auth_now_ms()) / 1000 + 1);
	const char *hdr[] = {"Retry-After", retry, NULL};
	http_error_headers(req, 403, "blocked", hdr,
			   "this address is blocked after repeated failures; retry in %s s", retry);
	return 1;
}

/* Unknown URLs are how scanners show themselves. */
static void note_probe(struct http_req *req)
{
	if (abuse_note_probe(req->remote, auth_now_ms()))
		block_add(req->remote, "probing unknown URLs",
			  auth_now_ms() / 1000 + cfg_int(CFG_ABUSE_BLOCK_DURATION) / 1000);
}

/* Per-address token buckets on the authenticated API (and per token,
 * checked after authentication); logins have their own, stricter bucket.
 * Health checks and the console's static files are cheap and exempt, so
 * monitoring never trips a limit. */
static int rate_limited(struct http_req *req, const char *key)
{
	const struct route *r = req->match.route;
	char retry[16];
	int after;

	if (r->flags & RF_LOGIN) {
		if (abuse_allow(ABUSE_LOGIN, key, auth_now_ms(), &after))
			return 0;
	} else if (!(r->flags & RF_API) || (r->flags & RF_PUBLIC) ||
		   abuse_allow(ABUSE_API, key, auth_now_ms(), &after)) {
		return 0;
	}
	snprintf(retry, sizeof retry, "%d", after);
	const char *hdr[] = {"Retry-After", retry, NULL};
	http_error_headers(req, 429, "rate_limited", hdr, "too many requests; retry in %d s", after);
	return 1;
}

/* On a site, what the central owns is changed there and arrives with the
 * next sync (docs/sync.md); reading it here is fine. */
static int owned_by_central(struct http_req *req)
{
	char url[512];

	if (!sync_owned_by_central(url, sizeof url))
		return 0;
	http_error(req, 409, "owned_by_central",
		   "this appliance is a site: people, credentials, groups, schedules, holidays, access levels, doors "
		   "and terminals belong to its central; change them on the central appliance (%s)",
		   url);
	return 1;
}

static void dispatch(struct http_req *req, const char *raw_path, const char *query)
{
	const char *why = NULL;
	const char *q = NULL;
	enum route_result rc;

	if (router_normalize(raw_path, req->path, sizeof req->path, &q, &why) < 0) {
		snprintf(req->path, sizeof req->path, "(invalid)");
		note_probe(req);
		http_error(req, 400, "bad_path", "%s", why);
		return;
	}
	if (refuse_blocked(req))
		return;
	req->query = query ? query : q;
	rc = router_match(routes, nroutes, req->method, req->path, &req->match);
	/* A declared body over the limit is refused before anything else, even
	 * on routes that take no body, so no client makes us read it. */
	if (body_too_large(req))
		return;
	switch (rc) {
	case ROUTE_NOT_FOUND:
		note_probe(req);
		http_error(req, 404, "not_found", "no such resource: %s", req->path);
		return;
	case ROUTE_BAD_METHOD:
		if (strcmp(req->method, "OPTIONS") == 0) {
			const char *allow[] = {"Allow", req->match.allow, NULL};
			http_reply(req, 204, NULL, NULL, 0, allow);
			return;
		}
		{
			const char *allow[] = {"Allow", req->match.allow, NULL};
			char msg[200];
			int n = snprintf(msg, sizeof msg,
					 "{\"error\":{\"code\":\"method_not_allowed\",\"message\":"
					 "\"%s is not allowed here; allowed: %s\"}}",
					 req->method, req->match.allow);
			http_reply(req, 405, "application/json", msg, (size_t)n, allow);
		}
		return;
	case ROUTE_FOUND:
		break;
	}
	if (rate_limited(req, req->remote))
		return;
	if (!(req->match.route->flags & RF_PUBLIC)) {
		if (auth_check(req) < 0)
			return;
		if (req->auth.kind == AUTH_TOKEN) {
			char key[32];
			snprintf(key, sizeof key, "token:%lld", (long long)req->auth.token_id);
			if (rate_limited(req, key))
				return;
		}
	}
	if ((req->match.route->flags & RF_CENTRAL) && owned_by_central(req))
		return;
	req->match.route->handler(req);
	if (!req->status)
		http_error(req, 500, "internal", "the handler sent no response");
}

/* Every request comes through here (begin_request), so CivetWeb's own
 * request processing never runs: returning 1 means "handled". */
static int on_request(struct mg_connection *c)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	struct http_req req;

	memset(&req, 0, sizeof req);
	req.conn = c;
	req.method = ri->request_method;
	req.started_ms = http_now_ms();
	snprintf(req.remote, sizeof req.remote, "%s", ri->remote_addr);
	dispatch(&req, ri->local_uri_raw ? ri->local_uri_raw : "", ri->query_string);

	log_debug("http: %s %s %d %zuB %lldms from %s", req.method, req.path, req.status,
		  req.sent_bytes, http_now_ms() - req.started_ms, req.remote);
	cJSON_Delete(req.json);
	free(req.body);
	return 1;
}

static int on_http_error(struct mg_connection *c, int status, const char *msg)
{
	http_error_conn(c, status, msg && *msg ? msg : mg_get_response_code_text(c, status));
	return 0;
}

static int on_log_message(const struct mg_connection *c, const char *msg)
{
	(void)c;
	log_info("civetweb: %s", msg);
	return 1;
}

static void on_exit_thread(const struct mg_context *c, int type, void *user)
{
	(void)c;
	(void)type;
	(void)user;
	vault_thread_done();
	db_thread_done();
}

/* "a:1,b:2" -> "a:1s,b:2s": CivetWeb marks TLS ports with a trailing 's'. */
static int ports_option(const char *listen, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = listen; *p;) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (o + (size_t)(e - s) + 3 >= len)
			return -1;
		if (o)
			out[o++] = ',';
		memcpy(out + o, s, (size_t)(e - s));
		o += (size_t)(e - s);
		out[o++] = 's';
		p += n;
		if (*p == ',')
			p++;
	}
	out[o] = '\0';
	return 0;
}

int server_start(const struct server_settings *s, char *err, size_t errlen)
{
	char ports[1024], threads[16], req_ms[24], ka_ms[24];
	struct tls_server_settings tls = {s->cert_path, s->key_path, s->handshake_timeout_ms};
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data errd;
	char cw_err[256] = "";
	const char *options[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"request_timeout_ms", req_ms,
		"keep_alive_timeout_ms", ka_ms,
		"enable_keep_alive", "yes",
		"tcp_nodelay", "1",
		"decode_url", "no",
		"max_request_size", "16384",
		"listen_backlog", "1024",
		"connection_queue", "256",
		"ssl_certificate", s->cert_path,
		NULL,
	};

	routes = s->routes;
	snprintf(listen_addrs, sizeof listen_addrs, "%s", s->listen);
	nroutes = s->nroutes;
	if (ports_option(s->listen, ports, sizeof ports) < 0) {
		snprintf(err, errlen, "web.listen is too long");
		return -1;
	}
	snprintf(threads, sizeof threads, "%lld", s->threads);
	snprintf(req_ms, sizeof req_ms, "%lld", s->request_timeout_ms);
	snprintf(ka_ms, sizeof ka_ms, "%lld", s->keepalive_timeout_ms);
	if (tls_server_configure(&tls) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	memset(&cb, 0, sizeof cb);
	cb.begin_request = on_request;
	cb.http_error = on_http_error;
	cb.log_message = on_log_message;
	cb.exit_thread = on_exit_thread;
	memset(&init, 0, sizeof init);
	init.callbacks = &cb;
	init.configuration_options = options;
	memset(&errd, 0, sizeof errd);
	errd.text = cw_err;
	errd.text_buffer_size = sizeof cw_err;

	abuse_configure(&s->abuse);
	if (blocks_load() < 0)
		log_warn("web: cannot load blocked addresses");
	mg_init_library(MG_FEATURES_TLS);
	if (gate_start(s->handshake_timeout_ms, (unsigned)s->max_pending, gh_gate_release) < 0) {
		snprintf(err, errlen, "cannot start the connection gate");
		return -1;
	}
	ctx = mg_start2(&init, &errd);
	if (!ctx) {
		gate_stop();
		snprintf(err, errlen, "cannot start the web server on %s: %s", s->listen,
			 cw_err[0] ? cw_err : "unknown error");
		return -1;
	}
	return 0;
}

void server_describe(char *buf, size_t len)
{
	struct mg_server_port ports[16];
	int n = ctx ? mg_get_server_ports(ctx, 16, ports) : 0;
	const char *p = listen_addrs;
	size_t o = 0;

	/* CivetWeb reports ports in the order of listening_ports, so pair each
	 * with its configured host: with port 0 the kernel's choice shows. */
	buf[0] = '\0';
	for (int i = 0; i < n && *p && o < len; i++) {
		size_t item = strcspn(p, ",");
		const char *colon = p + item;

		while (colon > p && *colon != ':')
			colon--;
		while (*p == ' ')
			p++, item--;
		o += (size_t)snprintf(buf + o, len - o, "%shttps://%.*s:%d", i ? " " : "",
				      (int)(colon - p), p, ports[i].port);
		p += item;
		if (*p == ',')
			p++;
	}
}

void server_stop(void)
{
	if (!ctx)
		return;
	tls_server_shutdown();
	gate_stop();
	mg_stop(ctx);
	ctx = NULL;
	mg_exit_library();
}
