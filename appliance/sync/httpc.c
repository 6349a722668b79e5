#include "httpc.h"

#include "core/version.h"
#include "notify/tlsconn.h"
#include "notify/webhook.h"

#include <sodium.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int httpc_fingerprint_parse(const char *text, unsigned char out[32])
{
	int n = 0, hi = -1;

	for (const char *p = text; *p; p++) {
		int v = hexval((unsigned char)*p);
		if (v < 0) {
			if (*p == ':' || *p == ' ' || *p == '-')
				continue;
			return -1;
		}
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == 32)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	return n == 32 && hi < 0 ? 0 : -1;
}

void httpc_fingerprint_text(const unsigned char fp[32], char out[96])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 3 * i, 96 - 3 * (size_t)i, "%02X%s", fp[i], i < 31 ? ":" : "");
}

int httpc_target_init(struct httpc_target *t, const char *url, const char *fingerprint, long long timeout_ms,
		      char *err, size_t errlen)
{
	struct webhook_target w;
	char why[120];
	size_t n;

	memset(t, 0, sizeof *t);
	if (webhook_parse_url(url, &w, why, sizeof why) < 0) {
		snprintf(err, errlen, "the central's address %s: %s", url, why);
		return -1;
	}
	if (strchr(w.path, '?')) {
		snprintf(err, errlen, "the central's address must not have a query: %s", url);
		return -1;
	}
	if (httpc_fingerprint_parse(fingerprint, t->pin) < 0) {
		snprintf(err, errlen, "the fingerprint must be the SHA-256 of the central's certificate: 64 hex digits, "
			 "as the central prints it (AA:BB:...)");
		return -1;
	}
	snprintf(t->host, sizeof t->host, "%s", w.host);
	t->port = w.port;
	n = strlen(w.path);
	while (n && w.path[n - 1] == '/')
		n--;
	if (n >= sizeof t->base) {
		snprintf(err, errlen, "the central's address is too long");
		return -1;
	}
	memcpy(t->base, w.path, n);
	t->base[n] = '\0';
	t->timeout_ms = timeout_ms;
	return 0;
}

static int status_code(const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || !line[7] || line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]))
		return -1;
	return atoi(line + 9);
}

static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	return line + n + 1 + strspn(line + n + 1, " \t");
}

static int read_head(struct tlsconn *c, struct httpc_resp *r, long long *clen, char *err, size_t errlen)
{
	char line[2048];
	const char *v;
	int lines = 0, n;

	*clen = -1;
	if (tlsconn_read_line(c, line, sizeof line, err, errlen) < 0)
		return -1;
	if ((r->status = status_code(line)) < 0) {
		snprintf(err, errlen, "the central's answer is not HTTP: %.80s", line);
		return -1;
	}
	while ((n = tlsconn_read_line(c, line, sizeof line, err, errlen)) > 0) {
		if (++lines > 100) {
			snprintf(err, errlen, "the central's answer has too many headers");
			return -1;
		}
		if ((v = header_value(line, "Content-Length")))
			*clen = strtoll(v, NULL, 10);
		else if ((v = header_value(line, "Content-Type")))
			snprintf(r->ctype, sizeof r->ctype, "%s", v);
		else if ((v = header_value(line, "X-Gatehouse-Sync-More")))
			r->more = atoi(v) == 1;
		else if ((v = header_value(line, "Transfer-Encoding")) && strcasecmp(v, "identity") != 0) {
			snprintf(err, errlen, "the central's answer uses a transfer encoding this client does not read");
			return -1;
		}
	}
	return n < 0 ? -1 : 0;
}

static int read_body(struct tlsconn *c, struct httpc_resp *r, long long clen, size_t max, char *err, size_t errlen)
{
	size_t cap = clen >= 0 ? (size_t)clen : 65536;

	if (clen > (long long)max) {
		snprintf(err, errlen, "the central's answer is larger than %zu bytes", max);
		return -1;
	}
	if (!(r->body = malloc(cap + 1))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		int n;
		if (clen >= 0 && r->len == (size_t)clen)
			break;
		if (r->len == cap) {
			unsigned char *p;
			if (cap >= max || !(p = realloc(r->body, (cap *= 2) + 1))) {
				snprintf(err, errlen, "the central's answer is too large");
				return -1;
			}
			r->body = p;
		}
		n = tlsconn_read(c, r->body + r->len, cap - r->len, err, errlen);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (clen < 0)
				break;
			snprintf(err, errlen, "the connection was cut after %zu of %lld bytes", r->len, clen);
			return -1;
		}
		r->len += (size_t)n;
	}
	r->body[r->len] = '\0';
	return 0;
}

int httpc_post(const struct httpc_target *t, const char *path, const char *token, const char *ctype, const void *body,
	       size_t len, size_t max_answer, struct httpc_resp *r, char *err, size_t errlen)
{
	struct tlsconn_opts o = {t->host, t->port, t->timeout_ms, NULL, 1, t->pin};
	char head[1500], hostport[300];
	struct tlsconn *c;
	long long clen;
	int n, rc = -1;

	memset(r, 0, sizeof *r);
	snprintf(hostport, sizeof hostport, strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host, t->port);
	n = snprintf(head, sizeof head,
		     "POST %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Gatehouse/%s\r\n%s%s%sContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     t->base, path, hostport, GH_VERSION, token ? "Authorization: Bearer " : "", token ? token : "",
		     token ? "\r\n" : "", ctype, len);
	if (n < 0 || (size_t)n >= sizeof head) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	if (!(c = tlsconn_connect(&o, err, errlen)))
		return -1;
	if (tlsconn_tls(c, err, errlen) == 0 && tlsconn_write(c, head, (size_t)n, err, errlen) == 0 &&
	    (len == 0 || tlsconn_write(c, body, len, err, errlen) == 0) && read_head(c, r, &clen, err, errlen) == 0 &&
	    (r->status == 204 || r->status == 304 || read_body(c, r, clen, max_answer, err, errlen) == 0))
		rc = 0;
	sodium_memzero(head, sizeof head);
	tlsconn_close(c);
	if (rc < 0)
		httpc_resp_free(r);
	return rc;
}

void httpc_resp_free(struct httpc_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
