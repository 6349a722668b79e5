#include "devsim/mqttc.h"

#include "devsim/util.h"
#include "tls/bio.h"
#include "tls/certgen.h"
#include "tls/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_IN_PACKET (4u << 20)  /* the largest packet accepted from the appliance */
#define OUT_LIMIT (8u << 20)      /* queued bytes before giving up on a connection */
#define TLS_CHUNK 16384           /* one TLS record's payload */

/* --- shared TLS settings --------------------------------------------------------- */

void mqttc_tls_free(struct mqttc_tls *t)
{
	mbedtls_x509_crt_free(&t->ca);
	t->hostname[0] = '\0';
}

int mqttc_tls_init(struct mqttc_tls *t, const char *ca_pem, const char *hostname, char *err, size_t errlen)
{
	mbedtls_x509_crt_init(&t->ca);
	snprintf(t->hostname, sizeof t->hostname, "%s", hostname);
	if (mbedtls_x509_crt_parse(&t->ca, (const unsigned char *)ca_pem, strlen(ca_pem) + 1) != 0) {
		snprintf(err, errlen, "the device CA certificate cannot be read");
		mqttc_tls_free(t);
		return -1;
	}
	return 0;
}

/* A connection's TLS settings. mbedTLS 2.28 clients take their own
 * certificate only from the configuration (mbedtls_ssl_set_hs_own_cert
 * is read by servers alone), so each connection has one (416 bytes),
 * built from the same policy; the device CA is shared. */
static int conf_for(mbedtls_ssl_config *conf, struct mqttc_tls *t, mbedtls_x509_crt *cert, mbedtls_pk_context *key)
{
	mbedtls_ssl_config_init(conf);
	if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_rng(conf, tls_random, NULL);
	tls_policy_apply(conf);
	/* Trust the device CA and nothing else, and require the appliance's
	 * certificate to name the host (section 2). */
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(conf, &t->ca, NULL);
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	return mbedtls_ssl_conf_own_cert(conf, cert, key) == 0 ? 0 : -1;
}

/* --- connection ------------------------------------------------------------------ */

void mqttc_init(struct mqttc *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->epfd = -1;
}

static void watch(struct mqttc *c)
{
	struct epoll_event ev = {.data.ptr = c->tag};
	uint32_t mask = EPOLLIN | EPOLLRDHUP;

	if (c->phase == MC_TCP || c->want_write || c->out_len)
		mask |= EPOLLOUT;
	if (mask == c->mask)
		return;
	ev.events = mask;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->mask = mask;
}

static void free_buffers(struct mqttc *c)
{
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
	c->write_pending = 0;
}

void mqttc_close(struct mqttc *c, int polite)
{
	if (c->phase == MC_CLOSED)
		return;
	if (polite && c->phase == MC_UP) {
		uint8_t pkt[4];
		size_t n = mqtt_encode_disconnect(pkt, sizeof pkt);
		/* Best effort: whatever is queued, then DISCONNECT, then the TLS
		 * close, without waiting for a slow socket. */
		if (mqttc_send(c, pkt, n) == 0)
			mqttc_flush(c);
		mbedtls_ssl_close_notify(c->ssl);
	}
	if (c->fd >= 0) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	if (c->ssl) {
		mbedtls_ssl_free(c->ssl);
		free(c->ssl);
	}
	if (c->conf) {
		mbedtls_ssl_config_free(c->conf);
		free(c->conf);
	}
	free_buffers(c);
	c->ssl = NULL;
	c->conf = NULL;
	c->fd = -1;
	c->phase = MC_CLOSED;
	c->mask = 0;
	c->want_write = 0;
}

int mqttc_open(struct mqttc *c, int epfd, void *tag, const struct sockaddr *sa, socklen_t salen,
	       struct mqttc_tls *tls, mbedtls_x509_crt *cert, mbedtls_pk_context *key,
	       const mbedtls_ssl_session *resume, char *err, size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = tag};
	int one = 1;

	mqttc_init(c);
	c->epfd = epfd;
	c->tag = tag;
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!(c->ssl = calloc(1, sizeof *c->ssl)) || !(c->conf = calloc(1, sizeof *c->conf))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	mbedtls_ssl_init(c->ssl);
	if (conf_for(c->conf, tls, cert, key) < 0 || mbedtls_ssl_setup(c->ssl, c->conf) != 0 ||
	    mbedtls_ssl_set_hostname(c->ssl, tls->hostname) != 0) {
		snprintf(err, errlen, "cannot set up TLS for the connection");
		goto fail;
	}
	/* A stale or refused ticket only costs a full handshake. */
	if (resume)
		(void)mbedtls_ssl_set_session(c->ssl, resume);
	mbedtls_ssl_set_bio(c->ssl, &c->fd, tls_bio_send, tls_bio_recv, NULL);
	if (connect(c->fd, sa, salen) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto fail;
	}
	c->phase = MC_TCP;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	c->mask = ev.events;
	c->last_rx_ms = c->last_tx_ms = ds_mono_ms();
	return 0;
fail:
	if (c->ssl) {
		mbedtls_ssl_free(c->ssl);
		free(c->ssl);
		c->ssl = NULL;
	}
	if (c->conf) {
		mbedtls_ssl_config_free(c->conf);
		free(c->conf);
		c->conf = NULL;
	}
	close(c->fd);
	c->fd = -1;
	c->phase = MC_CLOSED;
	return -1;
}

int mqttc_send(struct mqttc *c, const void *data, size_t len)
{
	if (c->phase == MC_CLOSED || !len || c->out_len + len > OUT_LIMIT)
		return -1;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		unsigned char *bigger;
		while (cap < c->out_len + len)
			cap *= 2;
		if (!(bigger = realloc(c->out, cap)))
			return -1;
		c->out = bigger;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

uint16_t mqttc_next_pid(struct mqttc *c)
{
	if (++c->next_pid == 0)
		c->next_pid = 1;
	return c->next_pid;
}

int mqttc_publish(struct mqttc *c, const char *topic, const void *payload, size_t len, uint16_t *pid)
{
	size_t cap = len + strlen(topic) + 16, n;
	uint8_t stackbuf[1024], *pkt = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
	int rc = -1;

	uint16_t id = mqttc_next_pid(c);

	if (!pkt)
		return -1;
	n = mqtt_encode_publish(pkt, cap, topic, strlen(topic), 1, id, 0, payload, len);
	if (n && mqttc_send(c, pkt, n) == 0) {
		*pid = id;
		rc = 0;
	}
	if (pkt != stackbuf)
		free(pkt);
	return rc;
}

size_t mqttc_backlog(const struct mqttc *c)
{
	return c->out_len;
}

int mqttc_flush(struct mqttc *c)
{
	if (c->phase != MC_UP)
		return 0;
	while (c->out_len > 0) {
		/* After WANT_WRITE mbedTLS must be called again with the same
		 * length: it finishes the record it holds and reports that length
		 * as written, whatever length it is given now. */
		size_t chunk = c->write_pending ? c->write_pending : (c->out_len < TLS_CHUNK ? c->out_len : TLS_CHUNK);
		int rc = mbedtls_ssl_write(c->ssl, c->out, chunk);

		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
			c->write_pending = chunk;
			c->want_write = 1;
			watch(c);
			return 0;
		}
		if (rc <= 0)
			return -1;
		c->write_pending = 0;
		memmove(c->out, c->out + rc, c->out_len - (size_t)rc);
		c->out_len -= (size_t)rc;
		c->last_tx_ms = ds_mono_ms();
	}
	c->want_write = 0;
	/* A large buffer from a burst (a catch-up) is not kept for good. */
	if (c->out_cap > 65536) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	watch(c);
	return 0;
}

static int tcp_connected(struct mqttc *c, char *why, size_t whylen)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		snprintf(why, whylen, "connect: %s", strerror(err));
		return -1;
	}
	c->phase = MC_TLS;
	return 0;
}

static int handshake(struct mqttc *c, const struct mqttc_ops *ops, void *arg, char *why, size_t whylen)
{
	int rc = mbedtls_ssl_handshake(c->ssl);
	char msg[120];

	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
		watch(c);
		return 0;
	}
	if (rc != 0) {
		uint32_t flags = mbedtls_ssl_get_verify_result(c->ssl);
		if (flags && flags != (uint32_t)-1) {
			char vinfo[200];
			mbedtls_x509_crt_verify_info(vinfo, sizeof vinfo, "", flags);
			vinfo[strcspn(vinfo, "\n")] = '\0';
			snprintf(why, whylen, "TLS handshake: the appliance's certificate: %s", vinfo);
		} else {
			snprintf(why, whylen, "TLS handshake: %s", tls_strerror(rc, msg, sizeof msg));
		}
		return -1;
	}
	c->phase = MC_UP;
	c->want_write = 0;
	c->last_rx_ms = ds_mono_ms();
	ops->tls_up(arg);
	return 0;
}

/* Every whole packet in the input buffer goes to the caller. */
static int parse(struct mqttc *c, const struct mqttc_ops *ops, void *arg, char *why, size_t whylen)
{
	size_t off = 0;

	while (off < c->in_len) {
		struct mqtt_packet p;
		size_t used;
		const char *bad;
		enum mqtt_decode_result r = mqtt_decode_from_server(c->in + off, c->in_len - off, MAX_IN_PACKET, &p,
								    &used, &bad);
		if (r == MQTT_NEED_MORE)
			break;
		if (r == MQTT_BAD) {
			snprintf(why, whylen, "malformed packet from the appliance: %s", bad);
			return -1;
		}
		if (ops->packet(arg, &p) < 0) {
			snprintf(why, whylen, "closed by the terminal");
			return -1;
		}
		off += used;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int read_tls(struct mqttc *c, const struct mqttc_ops *ops, void *arg, char *why, size_t whylen)
{
	for (;;) {
		int rc;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
			unsigned char *bigger;
			if (cap > MAX_IN_PACKET + 8) {
				snprintf(why, whylen, "packet from the appliance too large");
				return -1;
			}
			if (!(bigger = realloc(c->in, cap))) {
				snprintf(why, whylen, "out of memory");
				return -1;
			}
			c->in = bigger;
			c->in_cap = cap;
		}
		rc = mbedtls_ssl_read(c->ssl, c->in + c->in_len, c->in_cap - c->in_len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (rc <= 0) {
			snprintf(why, whylen, "%s", rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY
							? "the appliance closed the connection"
							: "TLS read failed");
			return -1;
		}
		c->in_len += (size_t)rc;
		c->last_rx_ms = ds_mono_ms();
		if (parse(c, ops, arg, why, whylen) < 0)
			return -1;
	}
	/* Keep little while idle: most packets are small. */
	if (c->in_len == 0 && c->in_cap > 16384) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	return 0;
}

int mqttc_io(struct mqttc *c, uint32_t events, const struct mqttc_ops *ops, void *arg, char *why, size_t whylen)
{
	if (c->phase == MC_CLOSED) {
		snprintf(why, whylen, "not connected");
		return -1;
	}
	if (c->phase == MC_TCP) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return 0;
		if (tcp_connected(c, why, whylen) < 0)
			return -1;
	}
	if (c->phase == MC_TLS) {
		if (handshake(c, ops, arg, why, whylen) < 0)
			return -1;
		if (c->phase != MC_UP)
			return 0;
	}
	if (read_tls(c, ops, arg, why, whylen) < 0)
		return -1;
	if (mqttc_flush(c) < 0) {
		snprintf(why, whylen, "TLS write failed");
		return -1;
	}
	return 0;
}

int mqttc_save_session(struct mqttc *c, mbedtls_ssl_session *out)
{
	return c->ssl && mbedtls_ssl_get_session(c->ssl, out) == 0 ? 0 : -1;
}
