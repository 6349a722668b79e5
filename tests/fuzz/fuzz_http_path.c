/* libFuzzer target: the part of the HTTP request path we own: request-target
 * normalisation, route matching against the real route table, and query
 * parameter lookup. The first byte picks the method. */
#include "web/router.h"
#include "web/routes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
	char raw[4096], path[1024];
	const char *query, *why;
	struct route_match m;
	size_t len;

	if (size < 1 || size >= sizeof raw)
		return 0;
	memcpy(raw, data + 1, size - 1);
	raw[size - 1] = '\0';
	if (router_normalize(raw, path, sizeof path, &query, &why) < 0)
		return 0;
	/* Invariants of a normalised path. */
	if (path[0] != '/' || strstr(path, "//") || strstr(path, "/../") || strchr(path, '\x7f'))
		abort();
	router_match(routes_table, routes_count, methods[data[0] % 7], path, &m);
	if (m.route && m.nparams > ROUTE_MAX_PARAMS)
		abort();
	router_query_param(query, "limit", &len);
	router_query_param(query, "cursor", &len);
	return 0;
}
