#include "webhook.h"

#include "core/version.h"
#include "tlsconn.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int webhook_parse_url(const char *url, struct webhook_target *t, char *why, size_t whylen)
{
	const char *p, *host_end, *path;
	size_t hl;

	if (strncasecmp(url, "https://", 8) != 0) {
		snprintf(why, whylen, "must start with https://");
		return -1;
	}
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f) {
			snprintf(why, whylen, "must not contain spaces or control characters");
			return -1;
		}
	p = url + 8;
	path = p + strcspn(p, "/?#");
	if (strchr(p, '@') && strchr(p, '@') < path) {
		snprintf(why, whylen, "must not contain credentials (user@host)");
		return -1;
	}
	t->port = 443;
	if (*p == '[') { /* [IPv6]:port */
		host_end = strchr(p, ']');
		if (!host_end || host_end > path) {
			snprintf(why, whylen, "has a malformed [IPv6] address");
			return -1;
		}
		hl = (size_t)(host_end - p - 1);
		p++;
		host_end++;
	} else {
		host_end = p + strcspn(p, ":/?#");
		hl = (size_t)(host_end - p);
	}
	if (hl == 0 || hl >= sizeof t->host) {
		snprintf(why, whylen, "has no host, or an overlong one");
		return -1;
	}
	memcpy(t->host, p, hl);
	t->host[hl] = '\0';
	if (*host_end == ':') {
		char *end;
		long port = strtol(host_end + 1, &end, 10);
		if (end != path || port < 1 || port > 65535) {
			snprintf(why, whylen, "has a bad port");
			return -1;
		}
		t->port = (int)port;
	} else if (host_end != path) {
		snprintf(why, whylen, "is malformed after the host");
		return -1;
	}
	if (*path == '#')
		path = "";
	snprintf(t->path, sizeof t->path, "%s%.*s", *path == '/' ? "" : "/", (int)strcspn(path, "#"), path);
	if (strlen(path) >= sizeof t->path - 1) {
		snprintf(why, whylen, "has an overlong path");
		return -1;
	}
	return 0;
}

void webhook_signature(const unsigned char *secret, size_t secretlen, long long t, const char *body, size_t bodylen,
		       char out[65])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char ts[24];
	int n = snprintf(ts, sizeof ts, "%lld.", t);

	crypto_auth_hmacsha256_init(&st, secret, secretlen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, bodylen);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof mac);
	sodium_memzero(&st, sizeof st);
}

/* "HTTP/1.1 204 No Content" -> 204; -1 if not a status line. */
static int status_code(const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || !line[7] || line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]))
		return -1;
	return atoi(line + 9);
}

/* Headers of the answer; notes Location for the error of a redirect. */
static int read_head(struct tlsconn *c, int *status, char *location, size_t loclen, char *err, size_t errlen)
{
	char line[2048];
	int n = 0;

	location[0] = '\0';
	if (tlsconn_read_line(c, line, sizeof line, err, errlen) < 0)
		return -1;
	if ((*status = status_code(line)) < 0) {
		snprintf(err, errlen, "the receiver's answer is not HTTP: %.80s", line);
		return -1;
	}
	while (tlsconn_read_line(c, line, sizeof line, err, errlen) > 0)
		if (++n > 100)
			break;
		else if (strncasecmp(line, "Location:", 9) == 0)
			snprintf(location, loclen, "%s", line + 9 + strspn(line + 9, " \t"));
	return 0;
}

int webhook_post(const struct webhook_settings *s, const char *url, const char *event, const char *delivery,
		 const char *body, int *status, char *err, size_t errlen)
{
	struct webhook_target t;
	struct tlsconn_opts o;
	struct tlsconn *c;
	char head[2600], sig[65], why[120], location[512], hostport[300];
	long long now = (long long)time(NULL);
	size_t bodylen = strlen(body);
	int rc = -1, n;

	*status = 0;
	if (webhook_parse_url(url, &t, why, sizeof why) < 0) {
		snprintf(err, errlen, "webhook URL %s", why);
		return -1;
	}
	webhook_signature(s->secret, s->secretlen, now, body, bodylen, sig);
	if (t.port == 443)
		snprintf(hostport, sizeof hostport, strchr(t.host, ':') ? "[%s]" : "%s", t.host);
	else
		snprintf(hostport, sizeof hostport, strchr(t.host, ':') ? "[%s]:%d" : "%s:%d", t.host, t.port);
	n = snprintf(head, sizeof head,
		     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Gatehouse/%s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nX-Gatehouse-Event: %s\r\nX-Gatehouse-Delivery: %s\r\n"
		     "X-Gatehouse-Signature: t=%lld,v1=%s\r\nConnection: close\r\n\r\n",
		     t.path, hostport, GH_VERSION, bodylen, event, delivery, now, sig);
	if (n < 0 || (size_t)n >= sizeof head) {
		snprintf(err, errlen, "webhook request too long");
		return -1;
	}
	o = (struct tlsconn_opts){t.host, t.port, s->timeout_ms, s->ca_file, 1, NULL};
	c = tlsconn_connect(&o, err, errlen);
	if (!c)
		return -1;
	if (tlsconn_tls(c, err, errlen) < 0 || tlsconn_write(c, head, (size_t)n, err, errlen) < 0 ||
	    tlsconn_write(c, body, bodylen, err, errlen) < 0 || read_head(c, status, location, sizeof location, err, errlen) < 0)
		goto out;
	if (*status >= 200 && *status < 300)
		rc = 0;
	else if (*status >= 300 && *status < 400)
		snprintf(err, errlen, "the receiver answered %d (redirect to %.200s, not followed)", *status,
			 location[0] ? location : "?");
	else
		snprintf(err, errlen, "the receiver answered %d", *status);
out:
	tlsconn_close(c);
	return rc;
}
