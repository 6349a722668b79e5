/* router: the table of routes and the pure functions that match a request
 * against it. No I/O here, so the whole request path we own (path
 * normalisation, matching, parameters) is unit-tested and fuzzed alone.
 *
 * A pattern is a path whose segments are literal, "{name}" (one segment,
 * captured) or a final "*" (the rest of the path). */
#ifndef GH_ROUTER_H
#define GH_ROUTER_H

#include <stddef.h>

struct http_req;
typedef void (*route_handler)(struct http_req *req);

enum route_flags {
	RF_PUBLIC = 1 << 0,       /* reachable without authentication */
	RF_API = 1 << 1,          /* JSON API: no-store, JSON errors, rate-limited */
	RF_LOGIN = 1 << 2,        /* counts against the login rate limit */
	RF_PW_CHANGE = 1 << 3,    /* usable while the admin must change the password */
	RF_SESSION_ONLY = 1 << 4, /* console sessions only: not with an API token */
	RF_CENTRAL = 1 << 5,      /* changes what a central owns: refused on a site (409 owned_by_central) */
};

struct route {
	const char *method;   /* "GET", "POST", ...; HEAD is served by GET routes */
	const char *pattern;
	route_handler handler;
	unsigned flags;
	unsigned roles;       /* ROLE_* bits (domain/admins.h) that may call it; 0 only with RF_PUBLIC */
	size_t max_body;      /* 0: the configured web.max_body */
	const char *summary;  /* one line, for the OpenAPI description and docs */
};

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_LEN 128

struct route_match {
	const struct route *route;
	int nparams;
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_LEN];
	char allow[96]; /* methods allowed on the path, for 405 and OPTIONS */
};

enum route_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD };

/* Decode %XX escapes of the path part of a request target, reject what must
 * never reach a handler (NUL, control bytes, "." and ".." segments, empty
 * segments, invalid escapes, non-origin forms) and copy it to out. The query
 * string, if any, starts at *query (inside raw) or is NULL.
 * Returns 0, or -1 with a short reason in *why. */
int router_normalize(const char *raw, char *out, size_t outlen, const char **query,
		     const char **why);

/* Match method and normalised path. */
enum route_result router_match(const struct route *table, size_t n, const char *method,
			       const char *path, struct route_match *m);

/* Find a query parameter's raw value (not decoded) of length *len. */
const char *router_query_param(const char *query, const char *name, size_t *len);

#endif
