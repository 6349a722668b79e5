#include "tlsconn.h"

#include "tls/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 4096

struct tlsconn {
	int fd;
	int tls;
	long long timeout_ms;
	char host[256];
	const char *ca_file;
	int verify;
	int pinned;
	unsigned char pin[32];
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	char buf[BUF];     /* read ahead: lines come from here */
	size_t start, end;
};

static int rng(void *p, unsigned char *out, size_t len)
{
	(void)p;
	randombytes_buf(out, len);
	return 0;
}

/* Blocking send/recv with the socket's timeouts; a timeout is an error
 * the caller reports as such. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	return errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *)ctx, buf, len, 0);

	if (n >= 0)
		return (int)n;
	if (errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
}

static int set_timeouts(int fd, long long ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) | setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Non-blocking connect bounded by the timeout, then back to blocking. */
static int dial(const struct addrinfo *ai, long long ms, int *err_no)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), flags, one = 1;
	struct pollfd p;
	socklen_t len = sizeof *err_no;

	if (fd < 0) {
		*err_no = errno;
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		*err_no = errno;
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, (int)ms) != 1) {
		*err_no = ETIMEDOUT;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err_no, &len) < 0 || *err_no) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	set_timeouts(fd, ms);
	return fd;
}

struct tlsconn *tlsconn_connect(const struct tlsconn_opts *o, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res = NULL, *ai;
	char port[8];
	struct tlsconn *c;
	int rc, err_no = 0, fd = -1;

	snprintf(port, sizeof port, "%d", o->port);
	rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", o->host, gai_strerror(rc));
		return NULL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = dial(ai, o->timeout_ms, &err_no);
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s port %d: %s", o->host, o->port,
			 err_no == ETIMEDOUT ? "timed out" : strerror(err_no));
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = fd;
	c->timeout_ms = o->timeout_ms;
	c->ca_file = o->ca_file;
	c->verify = o->verify;
	if (o->pin_sha256) {
		c->pinned = 1;
		memcpy(c->pin, o->pin_sha256, sizeof c->pin);
	}
	snprintf(c->host, sizeof c->host, "%s", o->host);
	return c;
}

/* mbedTLS 2.28 matches a certificate's DNS names but not its IP
 * addresses, so a host given as an address can only fail the name check;
 * the error says what to do about it. */
static int is_ip_literal(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int tlsconn_is_tls(const struct tlsconn *c)
{
	return c->tls;
}

static void tls_error(int rc, const char *what, char *err, size_t errlen)
{
	char why[160];

	if (rc == MBEDTLS_ERR_SSL_TIMEOUT)
		snprintf(err, errlen, "%s: timed out", what);
	else
		snprintf(err, errlen, "%s: %s", what, tls_strerror(rc, why, sizeof why));
}

/* The presented certificate is the pinned one, byte for byte. */
static int check_pin(struct tlsconn *c, char *err, size_t errlen)
{
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	unsigned char h[32];

	if (!crt) {
		snprintf(err, errlen, "%s presented no certificate", c->host);
		return -1;
	}
	mbedtls_sha256_ret(crt->raw.p, crt->raw.len, h, 0);
	if (sodium_memcmp(h, c->pin, sizeof h) != 0) {
		char fp[3 * 32];
		for (size_t i = 0; i < sizeof h; i++)
			snprintf(fp + 3 * i, sizeof fp - 3 * i, "%02X%s", h[i], i + 1 < sizeof h ? ":" : "");
		snprintf(err, errlen, "the certificate of %s is not the pinned one (it has SHA-256 fingerprint %s): "
			 "refusing to talk to it", c->host, fp);
		return -1;
	}
	return 0;
}

int tlsconn_tls(struct tlsconn *c, char *err, size_t errlen)
{
	uint32_t flags;
	int rc;

	if (c->end > c->start) {
		snprintf(err, errlen, "the server sent data before the TLS handshake (refused)");
		return -1;
	}
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	c->tls = 1; /* from here on, close frees the TLS state */
	if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT)) {
		snprintf(err, errlen, "cannot configure TLS");
		return -1;
	}
	tls_policy_apply(&c->conf);
	mbedtls_ssl_conf_rng(&c->conf, rng, NULL);
	if (c->pinned) {
		/* Checked against the pin once the handshake is done, before
		 * anything is sent: no CA, no name. */
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
	} else if (c->verify) {
		if ((rc = mbedtls_x509_crt_parse_file(&c->ca, c->ca_file)) < 0) {
			tls_error(rc, "cannot read the CA file", err, errlen);
			snprintf(err + strlen(err), errlen - strlen(err), " (%s)", c->ca_file);
			return -1;
		}
		mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	} else {
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	if (mbedtls_ssl_setup(&c->ssl, &c->conf) || mbedtls_ssl_set_hostname(&c->ssl, c->host)) {
		snprintf(err, errlen, "cannot set up TLS");
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	do
		rc = mbedtls_ssl_handshake(&c->ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && (flags = mbedtls_ssl_get_verify_result(&c->ssl)) != 0) {
		char why[256];
		mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
		why[strcspn(why, "\n")] = '\0';
		snprintf(err, errlen, "the certificate of %s is not trusted: %s%s", c->host, why,
			 (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) && is_ip_literal(c->host)
				 ? " (certificates are matched by DNS name only: name the host as its certificate does)"
				 : "");
		return -1;
	}
	if (rc) {
		tls_error(rc, "TLS handshake failed", err, errlen);
		return -1;
	}
	return c->pinned ? check_pin(c, err, errlen) : 0;
}

int tlsconn_write(struct tlsconn *c, const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;

	while (len) {
		int n;
		if (c->tls) {
			n = mbedtls_ssl_write(&c->ssl, p, len);
			if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (n < 0) {
				tls_error(n, "write failed", err, errlen);
				return -1;
			}
		} else {
			ssize_t s = send(c->fd, p, len, MSG_NOSIGNAL);
			if (s < 0 && errno == EINTR)
				continue;
			if (s < 0) {
				snprintf(err, errlen, "write failed: %s",
					 errno == EAGAIN ? "timed out" : strerror(errno));
				return -1;
			}
			n = (int)s;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Raw read into buf, whatever the phase. */
static int raw_read(struct tlsconn *c, void *buf, size_t len, char *err, size_t errlen)
{
	for (;;) {
		if (c->tls) {
			int n = mbedtls_ssl_read(&c->ssl, buf, len);
			if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				return 0;
			if (n < 0) {
				tls_error(n, "read failed", err, errlen);
				return -1;
			}
			return n;
		}
		ssize_t s = recv(c->fd, buf, len, 0);
		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0) {
			snprintf(err, errlen, "read failed: %s",
				 errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
			return -1;
		}
		return (int)s;
	}
}

int tlsconn_read(struct tlsconn *c, void *buf, size_t len, char *err, size_t errlen)
{
	if (c->end > c->start) {
		size_t n = c->end - c->start < len ? c->end - c->start : len;
		memcpy(buf, c->buf + c->start, n);
		c->start += n;
		return (int)n;
	}
	return raw_read(c, buf, len, err, errlen);
}

int tlsconn_read_line(struct tlsconn *c, char *line, size_t max, char *err, size_t errlen)
{
	size_t used = 0;

	for (;;) {
		while (c->start < c->end) {
			char ch = c->buf[c->start++];
			if (ch == '\n') {
				if (used && line[used - 1] == '\r')
					used--;
				line[used] = '\0';
				return (int)used;
			}
			if (used + 1 >= max) {
				snprintf(err, errlen, "the server sent a line longer than %zu bytes", max - 1);
				return -1;
			}
			line[used++] = ch;
		}
		int n = raw_read(c, c->buf, sizeof c->buf, err, errlen);
		if (n <= 0) {
			if (n == 0)
				snprintf(err, errlen, "the server closed the connection");
			return -1;
		}
		c->start = 0;
		c->end = (size_t)n;
	}
}

void tlsconn_close(struct tlsconn *c)
{
	if (!c)
		return;
	if (c->tls) {
		set_timeouts(c->fd, 1000); /* a polite goodbye, but not a long one */
		mbedtls_ssl_close_notify(&c->ssl);
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_config_free(&c->conf);
		mbedtls_x509_crt_free(&c->ca);
	}
	close(c->fd);
	free(c);
}
