#include "devsim/https.h"

#include "devsim/util.h"
#include "tls/certgen.h"
#include "tls/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 30000
#define MAX_RESPONSE (16u << 20)
#define IDLE_REUSE_MS 3000   /* the appliance drops idle keep-alive connections after 5 s */
#define MAX_RETRY_AFTER 120

/* Blocking I/O with a deadline over a non-blocking socket. */
static int wait_fd(int fd, short what)
{
	struct pollfd p = {fd, what, 0};
	int rc;

	do
		rc = poll(&p, 1, IO_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? 0 : -1;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n;

	if (wait_fd(fd, POLLOUT) < 0)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	ssize_t n;

	if (wait_fd(fd, POLLIN) < 0)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	n = recv(fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

int https_init(struct https *h, const struct sockaddr *sa, socklen_t salen, const char *host_header,
	       const char *ca_file, const char *tls_name, const char *token, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	h->fd = -1;
	memcpy(&h->addr, sa, salen);
	h->addrlen = salen;
	h->token = token;
	snprintf(h->host, sizeof h->host, "%s", host_header);
	snprintf(h->tls_name, sizeof h->tls_name, "%s", tls_name);
	mbedtls_ssl_config_init(&h->conf);
	mbedtls_x509_crt_init(&h->ca);
	mbedtls_ssl_init(&h->ssl);
	if (mbedtls_x509_crt_parse_file(&h->ca, ca_file) != 0) {
		snprintf(err, errlen, "%s: not a readable PEM certificate", ca_file);
		return -1;
	}
	if (mbedtls_ssl_config_defaults(&h->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
		snprintf(err, errlen, "cannot set up TLS");
		return -1;
	}
	mbedtls_ssl_conf_rng(&h->conf, tls_random, NULL);
	tls_policy_apply(&h->conf);
	mbedtls_ssl_conf_authmode(&h->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&h->conf, &h->ca, NULL);
	return 0;
}

static void disconnect(struct https *h)
{
	if (!h->open)
		return;
	mbedtls_ssl_close_notify(&h->ssl);
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_init(&h->ssl);
	close(h->fd);
	h->fd = -1;
	h->open = 0;
}

void https_free(struct https *h)
{
	disconnect(h);
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_config_free(&h->conf);
	mbedtls_x509_crt_free(&h->ca);
}

static int tcp_connect(struct https *h, char *err, size_t errlen)
{
	int one = 1, soerr = 0;
	socklen_t len = sizeof soerr;

	h->fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(h->fd, (struct sockaddr *)&h->addr, h->addrlen) < 0 && errno != EINPROGRESS)
		soerr = errno;
	else if (wait_fd(h->fd, POLLOUT) < 0)
		soerr = ETIMEDOUT;
	else if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr) {
		snprintf(err, errlen, "cannot connect to the appliance's HTTPS port: %s", strerror(soerr));
		close(h->fd);
		h->fd = -1;
		return -1;
	}
	return 0;
}

static int connect_tls(struct https *h, char *err, size_t errlen)
{
	char msg[120];
	int rc;

	if (tcp_connect(h, err, errlen) < 0)
		return -1;
	if (mbedtls_ssl_setup(&h->ssl, &h->conf) != 0 || mbedtls_ssl_set_hostname(&h->ssl, h->tls_name) != 0) {
		snprintf(err, errlen, "cannot set up TLS");
		goto fail;
	}
	mbedtls_ssl_set_bio(&h->ssl, &h->fd, bio_send, bio_recv, NULL);
	do
		rc = mbedtls_ssl_handshake(&h->ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc != 0) {
		uint32_t flags = mbedtls_ssl_get_verify_result(&h->ssl);
		if (flags && flags != (uint32_t)-1) {
			char info[200];
			mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
			info[strcspn(info, "\n")] = '\0';
			snprintf(err, errlen, "the appliance's HTTPS certificate is not trusted: %s (check --web-ca and --tls-name)",
				 info);
		} else {
			snprintf(err, errlen, "TLS handshake with the appliance's HTTPS port: %s", tls_strerror(rc, msg, sizeof msg));
		}
		goto fail;
	}
	h->open = 1;
	return 0;
fail:
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_init(&h->ssl);
	close(h->fd);
	h->fd = -1;
	return -1;
}

static int write_all(struct https *h, const char *p, size_t len)
{
	while (len > 0) {
		int rc = mbedtls_ssl_write(&h->ssl, (const unsigned char *)p, len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue; /* the same arguments again, as mbedTLS needs */
		if (rc <= 0)
			return -1;
		p += rc;
		len -= (size_t)rc;
	}
	return 0;
}

struct rbuf {
	char *p;
	size_t len, cap;
};

/* Read more of the answer: bytes read, 0 at the end, -1 on error. */
static int more(struct https *h, struct rbuf *b)
{
	int rc;

	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *bigger;
		if (cap > MAX_RESPONSE || !(bigger = realloc(b->p, cap + 1)))
			return -1;
		b->p = bigger;
		b->cap = cap;
	}
	do
		rc = mbedtls_ssl_read(&h->ssl, (unsigned char *)b->p + b->len, b->cap - b->len);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == 0)
		return 0;
	if (rc < 0)
		return -1;
	b->len += (size_t)rc;
	b->p[b->len] = '\0';
	return rc;
}

struct answer {
	int status, close, chunked, retry_after;
	long long length; /* -1: until the connection closes */
};

static const char *header(const char *hdrs, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(hdrs, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			return p;
		}
	}
	return NULL;
}

static int parse_head(char *hdrs, struct answer *a)
{
	const char *v;

	if (sscanf(hdrs, "HTTP/1.%*d %d", &a->status) != 1)
		return -1;
	a->length = -1;
	if ((v = header(hdrs, "Content-Length")))
		a->length = strtoll(v, NULL, 10);
	if ((v = header(hdrs, "Transfer-Encoding")) && strncasecmp(v, "chunked", 7) == 0)
		a->chunked = 1;
	if ((v = header(hdrs, "Connection")) && strncasecmp(v, "close", 5) == 0)
		a->close = 1;
	if ((v = header(hdrs, "Retry-After")))
		a->retry_after = atoi(v);
	if (a->length < 0 && !a->chunked)
		a->close = 1;
	return 0;
}

/* Make sure b holds at least need bytes. */
static int have(struct https *h, struct rbuf *b, size_t need)
{
	while (b->len < need)
		if (more(h, b) <= 0)
			return -1;
	return 0;
}

/* The chunked body starting at b->p + pos, decoded in place to *body. */
static int dechunk(struct https *h, struct rbuf *b, size_t pos, char **body)
{
	size_t out = pos;

	for (;;) {
		char *eol;
		unsigned long size;
		while (!(eol = strstr(b->p + pos, "\r\n")))
			if (more(h, b) <= 0)
				return -1;
		size = strtoul(b->p + pos, NULL, 16);
		pos = (size_t)(eol - b->p) + 2;
		if (size == 0)
			break;
		if (size > MAX_RESPONSE || have(h, b, pos + size + 2) < 0)
			return -1;
		memmove(b->p + out, b->p + pos, size);
		out += size;
		pos += size + 2;
	}
	b->p[out] = '\0';
	*body = b->p;
	return 0;
}

/* Read one answer; the body is moved to the start of the buffer. */
static int read_answer(struct https *h, struct rbuf *b, struct answer *a, char **body, size_t *bodylen)
{
	char *end;
	size_t start;

	memset(a, 0, sizeof *a);
	while (!b->p || !(end = strstr(b->p, "\r\n\r\n")))
		if (more(h, b) <= 0)
			return -1;
	*end = '\0';
	if (parse_head(b->p, a) < 0)
		return -1;
	start = (size_t)(end - b->p) + 4;
	if (a->chunked) {
		if (dechunk(h, b, start, body) < 0)
			return -1;
		memmove(b->p, *body + start, strlen(*body + start) + 1);
		*body = b->p;
		*bodylen = strlen(b->p);
		return 0;
	}
	if (a->length >= 0) {
		if ((size_t)a->length > MAX_RESPONSE || have(h, b, start + (size_t)a->length) < 0)
			return -1;
		b->len = start + (size_t)a->length;
	} else {
		while (more(h, b) > 0)
			;
	}
	memmove(b->p, b->p + start, b->len - start);
	b->len -= start;
	b->p[b->len] = '\0';
	*body = b->p;
	*bodylen = b->len;
	return 0;
}

static char *format_request(const struct https *h, const char *method, const char *path, const char *json, int auth,
			    size_t *len)
{
	size_t blen = json ? strlen(json) : 0, cap = blen + strlen(path) + (h->token ? strlen(h->token) : 0) + 512;
	char *req = malloc(cap);
	int n;

	if (!req)
		return NULL;
	n = snprintf(req, cap,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-devsim\r\nAccept: application/json\r\n"
		     "%s%s%s%s%zu\r\n\r\n",
		     method, path, h->host, auth && h->token ? "Authorization: Bearer " : "",
		     auth && h->token ? h->token : "", auth && h->token ? "\r\n" : "",
		     json ? "Content-Type: application/json\r\nContent-Length: " : "Content-Length: ", blen);
	if (n < 0 || (size_t)n + blen >= cap) {
		free(req);
		return NULL;
	}
	if (json)
		memcpy(req + n, json, blen);
	*len = (size_t)n + blen;
	return req;
}

/* One exchange. 1: retry on a fresh connection (a kept-alive one was
 * closed by the server before answering). */
static int exchange(struct https *h, const char *req, size_t reqlen, struct answer *a, char **body, char *err,
		    size_t errlen)
{
	struct rbuf b = {NULL, 0, 0};
	int reused = h->open;
	size_t bodylen;

	if (!h->open && connect_tls(h, err, errlen) < 0)
		return -1;
	if (write_all(h, req, reqlen) < 0 || read_answer(h, &b, a, body, &bodylen) < 0) {
		int nothing = b.len == 0;
		free(b.p);
		disconnect(h);
		if (reused && nothing)
			return 1;
		snprintf(err, errlen, "no answer from the appliance's HTTPS port");
		return -1;
	}
	if (a->close)
		disconnect(h);
	h->last_used_ms = ds_mono_ms();
	return 0;
}

int https_request(struct https *h, const char *method, const char *path, const char *json, int auth, int *status,
		  char **body, char *err, size_t errlen)
{
	size_t reqlen;
	char *req = format_request(h, method, path, json, auth, &reqlen);
	struct answer a;
	int rc, tries = 0;

	*body = NULL;
	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		if (h->open && ds_mono_ms() - h->last_used_ms > IDLE_REUSE_MS)
			disconnect(h);
		rc = exchange(h, req, reqlen, &a, body, err, errlen);
		if (rc == 1 && tries++ < 1)
			continue;
		if (rc != 0)
			break;
		if (a.status != 429) {
			*status = a.status;
			break;
		}
		/* Rate limited (enrolment counts like a login): wait as told. */
		free(*body);
		*body = NULL;
		if (a.retry_after < 1)
			a.retry_after = 1;
		if (a.retry_after > MAX_RETRY_AFTER)
			a.retry_after = MAX_RETRY_AFTER;
		if (!h->quiet)
			fprintf(stderr, "devsim: the appliance limits the rate of %s %s; waiting %d s\n", method, path,
				a.retry_after);
		disconnect(h);
		sleep((unsigned)a.retry_after);
		tries = 0;
	}
	/* The request may carry the token. */
	sodium_memzero(req, reqlen);
	free(req);
	return rc == 0 ? 0 : -1;
}
