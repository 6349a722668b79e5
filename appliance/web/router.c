#include "router.h"

#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int router_normalize(const char *raw, char *out, size_t outlen, const char **query,
		     const char **why)
{
	size_t o = 0;
	const char *p = raw;

	*query = NULL;
	if (*p != '/') {
		*why = "request target must start with '/'";
		return -1;
	}
	for (; *p && *p != '?' && *p != '#'; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (hi < 0 || lo < 0) {
				*why = "invalid percent escape";
				return -1;
			}
			c = hi * 16 + lo;
			p += 2;
			/* An encoded slash would let "a%2Fb" match two segments. */
			if (c == '/') {
				*why = "encoded '/' in path";
				return -1;
			}
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "control character in path";
			return -1;
		}
		if (o + 1 >= outlen) {
			*why = "path too long";
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (*p == '?')
		*query = p + 1;
	/* Every segment must be non-empty (except a final slash-free root) and
	 * not "." or "..": handlers never see traversal or ambiguity. */
	for (const char *s = out; *s; ) {
		const char *seg = s + 1, *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		if ((n == 0 && (end || s != out)) || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			*why = "empty, '.' or '..' path segment";
			return -1;
		}
		if (!end)
			break;
		s = end;
	}
	return 0;
}

/* Does pattern match path? Captures {params} into m. */
static int match_pattern(const char *pattern, const char *path, struct route_match *m)
{
	const char *pp = pattern, *sp = path;

	m->nparams = 0;
	for (;;) {
		if (*pp == '*' && pp[1] == '\0')
			return 1;
		if (*pp == '{') {
			const char *pend = strchr(pp, '}');
			size_t n = strcspn(sp, "/");

			if (!pend || n == 0 || n >= ROUTE_PARAM_LEN || m->nparams >= ROUTE_MAX_PARAMS)
				return 0;
			memcpy(m->params[m->nparams], sp, n);
			m->params[m->nparams++][n] = '\0';
			pp = pend + 1;
			sp += n;
			continue;
		}
		if (*pp != *sp)
			return 0;
		if (*pp == '\0')
			return 1;
		pp++;
		sp++;
	}
}

static void add_allow(struct route_match *m, const char *method)
{
	size_t len = strlen(m->allow), n = strlen(method);

	/* Each method once; GET brings HEAD along. */
	for (const char *a = m->allow; (a = strstr(a, method)); a += n)
		if ((a == m->allow || a[-1] == ' ') && (a[n] == ',' || a[n] == '\0'))
			return;
	if (len + n + 3 >= sizeof m->allow)
		return;
	if (len)
		memcpy(m->allow + len, ", ", 2), len += 2;
	memcpy(m->allow + len, method, n + 1);
}

enum route_result router_match(const struct route *table, size_t n, const char *method,
			       const char *path, struct route_match *m)
{
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	int path_known = 0;

	m->route = NULL;
	m->allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct route_match tmp;

		if (!match_pattern(table[i].pattern, path, &tmp))
			continue;
		path_known = 1;
		add_allow(m, table[i].method);
		if (strcmp(table[i].method, "GET") == 0)
			add_allow(m, "HEAD");
		if (!m->route && strcmp(table[i].method, want) == 0) {
			int allow_len = (int)strlen(m->allow);
			char allow[sizeof m->allow];
			memcpy(allow, m->allow, (size_t)allow_len + 1);
			*m = tmp;
			memcpy(m->allow, allow, (size_t)allow_len + 1);
			m->route = &table[i];
		}
	}
	if (m->route)
		return ROUTE_FOUND;
	return path_known ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

const char *router_query_param(const char *query, const char *name, size_t *len)
{
	size_t nlen = strlen(name);

	for (const char *p = query; p && *p;) {
		size_t n = strcspn(p, "&");
		if (n > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			*len = n - nlen - 1;
			return p + nlen + 1;
		}
		if (n == nlen && strncmp(p, name, nlen) == 0) {
			*len = 0;
			return p + n;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}
