#include "t.h"

#include "web/router.h"
#include "web/routes.h"

static void h(struct http_req *r) { (void)r; }

static const struct route table[] = {
	{"GET", "/api/v1/people", h, RF_API, 1, 0, "list"},
	{"POST", "/api/v1/people", h, RF_API, 1, 0, "create"},
	{"GET", "/api/v1/people/{id}", h, RF_API, 1, 0, "get"},
	{"DELETE", "/api/v1/people/{id}", h, RF_API, 1, 0, "delete"},
	{"GET", "/api/v1/people/{id}/credentials/{cid}", h, RF_API, 1, 0, "cred"},
	{"GET", "/assets/*", h, RF_PUBLIC, 0, 0, "assets"},
	{"GET", "/", h, RF_PUBLIC, 0, 0, "root"},
};
#define N (sizeof table / sizeof table[0])

TEST(router_normalize_accepts_and_decodes)
{
	char out[256];
	const char *q, *why;

	CHECK_INT(router_normalize("/", out, sizeof out, &q, &why), 0);
	CHECK_STR(out, "/");
	CHECK(q == NULL);
	CHECK_INT(router_normalize("/api/v1/people?limit=10&x", out, sizeof out, &q, &why), 0);
	CHECK_STR(out, "/api/v1/people");
	CHECK_STR(q, "limit=10&x");
	CHECK_INT(router_normalize("/a%20b/%E6%97%A5", out, sizeof out, &q, &why), 0);
	CHECK_STR(out, "/a b/\xe6\x97\xa5");
}

TEST(router_normalize_rejects)
{
	static const struct { const char *raw, *why; } bad[] = {
		{"", "must start with '/'"},
		{"http://x/", "must start with '/'"},
		{"*", "must start with '/'"},
		{"/a/../b", "'..'"},
		{"/a/./b", "'.'"},
		{"/..", "'..'"},
		{"/a//b", "empty"},
		{"/a/", "empty"},
		{"/a%2Fb", "encoded '/'"},
		{"/a%2fb", "encoded '/'"},
		{"/a%00b", "control character"},
		{"/a%0ab", "control character"},
		{"/a%zz", "invalid percent escape"},
		{"/a%4", "invalid percent escape"},
		{"/a%", "invalid percent escape"},
		{"/a\tb", "control character"},
		{"/%2e%2e/etc", "'..'"},
	};
	char out[256];
	const char *q, *why;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = "";
		CHECK_INT(router_normalize(bad[i].raw, out, sizeof out, &q, &why), -1);
		CHECK_CONTAINS(why, bad[i].why);
	}
	/* Output bound is respected. */
	CHECK_INT(router_normalize("/aaaaaaaaaaaaaaaaaaaa", out, 8, &q, &why), -1);
	CHECK_STR(why, "path too long");
}

TEST(router_match_finds_routes_and_params)
{
	struct route_match m;

	CHECK_INT(router_match(table, N, "GET", "/api/v1/people", &m), ROUTE_FOUND);
	CHECK_STR(m.route->summary, "list");
	CHECK_INT(router_match(table, N, "POST", "/api/v1/people", &m), ROUTE_FOUND);
	CHECK_STR(m.route->summary, "create");
	CHECK_INT(router_match(table, N, "DELETE", "/api/v1/people/p-42", &m), ROUTE_FOUND);
	CHECK_INT(m.nparams, 1);
	CHECK_STR(m.params[0], "p-42");
	CHECK_INT(router_match(table, N, "GET", "/api/v1/people/7/credentials/9", &m), ROUTE_FOUND);
	CHECK_INT(m.nparams, 2);
	CHECK_STR(m.params[0], "7");
	CHECK_STR(m.params[1], "9");
	CHECK_INT(router_match(table, N, "HEAD", "/assets/app.js", &m), ROUTE_FOUND);
	CHECK_STR(m.route->summary, "assets");
	CHECK_INT(router_match(table, N, "GET", "/", &m), ROUTE_FOUND);
	CHECK_STR(m.route->summary, "root");
}

TEST(router_match_reports_not_found_and_bad_method)
{
	struct route_match m;

	CHECK_INT(router_match(table, N, "GET", "/api/v1/nothing", &m), ROUTE_NOT_FOUND);
	CHECK_INT(router_match(table, N, "GET", "/api/v1/people/1/2", &m), ROUTE_NOT_FOUND);
	CHECK_INT(router_match(table, N, "GET", "/api/v1/peoplex", &m), ROUTE_NOT_FOUND);
	CHECK_INT(router_match(table, N, "PUT", "/api/v1/people", &m), ROUTE_BAD_METHOD);
	CHECK_STR(m.allow, "GET, HEAD, POST");
	CHECK_INT(router_match(table, N, "PATCH", "/api/v1/people/3", &m), ROUTE_BAD_METHOD);
	CHECK_STR(m.allow, "GET, HEAD, DELETE");
	/* A parameter longer than the buffer never matches (no truncation). */
	char longpath[400] = "/api/v1/people/";
	memset(longpath + 15, 'x', 300);
	longpath[315] = '\0';
	CHECK_INT(router_match(table, N, "GET", longpath, &m), ROUTE_NOT_FOUND);
}

TEST(router_query_param)
{
	size_t len;
	const char *v;

	v = router_query_param("a=1&limit=25&flag", "limit", &len);
	CHECK(v && len == 2 && strncmp(v, "25", 2) == 0);
	v = router_query_param("a=1&limit=25&flag", "flag", &len);
	CHECK(v && len == 0);
	CHECK(router_query_param("a=1&limitx=2", "limit", &len) == NULL);
	CHECK(router_query_param(NULL, "limit", &len) == NULL);
}

TEST(routes_table_is_well_formed)
{
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes_table[i];
		char out[1024];
		const char *q, *why;

		CHECK(r->handler != NULL);
		/* Every route is public or declares who may call it. */
		CHECK((r->flags & RF_PUBLIC) ? r->roles == 0 : r->roles != 0);
		CHECK(r->summary != NULL && *r->summary);
		CHECK(r->pattern[0] == '/');
		CHECK(strcmp(r->method, "GET") == 0 || strcmp(r->method, "POST") == 0 ||
		      strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0 ||
		      strcmp(r->method, "DELETE") == 0);
		/* No two routes with the same method and pattern. */
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(r->method, routes_table[j].method) != 0 ||
			      strcmp(r->pattern, routes_table[j].pattern) != 0);
		/* Literal patterns are already normalised paths. */
		if (!strchr(r->pattern, '{') && !strchr(r->pattern, '*'))
			CHECK_INT(router_normalize(r->pattern, out, sizeof out, &q, &why), 0);
	}
}
