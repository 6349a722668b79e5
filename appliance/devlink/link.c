#include "link.h"

#include "ca.h"
#include "core/db.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "domain/commands.h"
#include "mqtt.h"
#include "queue.h"
#include "registry.h"
#include "tls/bio.h"
#include "tls/certgen.h"
#include "tls/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBS 8
#define OUT_LIMIT (8u << 20)     /* a terminal this far behind on reading is cut */
#define PAUSE_JOBS 256           /* stop reading a terminal with this many jobs in flight */
#define TOPIC_ROOT "gh/v1/"

enum conn_state { C_HANDSHAKE, C_CONNECT_WAIT, C_ONLINE };

struct conn {
	uint64_t id;
	int fd;
	enum conn_state state;
	mbedtls_ssl_context ssl;
	unsigned char *in, *out;
	size_t in_len, in_cap, out_len, out_cap;
	long long deadline_ms, last_rx_ms;
	int keepalive_s;
	uint8_t listening;     /* LISTEN_* last told to the worker */
	size_t pending_write;  /* bytes of out given to mbedtls_ssl_write that said WANT_WRITE */
	char uid[DEVICE_UID_LEN];
	int64_t device_id, tenant;
	char subs[MAX_SUBS][128];
	int nsubs;
	int will;
	char will_topic[128];
	unsigned char will_payload[512];
	size_t will_len;
	uint16_t next_pid;
	int jobs_in_flight, paused, want_out;
	char peer[64];
};

static struct {
	struct devlink_settings s;
	pthread_t thread;
	int running, epfd, listenfd, wakefd, ctlfd;
	char listen_desc[128];
	struct conn **conns; /* indexed by fd */
	int maxfd;
	uint64_t next_id;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_ssl_ticket_context tickets;
	pthread_mutex_t stats_mu;
	struct devlink_stats stats;
	/* Control requests from other threads: uids to cut. */
	pthread_mutex_t ctl_mu;
	char (*kick)[DEVICE_UID_LEN];
	size_t nkick, capkick;
} L = {.stats_mu = PTHREAD_MUTEX_INITIALIZER, .ctl_mu = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .listenfd = -1};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stat_add(unsigned long *field, long delta)
{
	pthread_mutex_lock(&L.stats_mu);
	*field += (unsigned long)delta;
	pthread_mutex_unlock(&L.stats_mu);
}

/* --- identity checks ----------------------------------------------------------- */

/* The certificate's CN is the terminal's uid. */
static int cert_uid(const mbedtls_x509_crt *crt, char *uid, size_t len)
{
	for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next)
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
			if (n->val.len == 0 || n->val.len >= len)
				return -1;
			memcpy(uid, n->val.p, n->val.len);
			uid[n->val.len] = '\0';
			return 0;
		}
	return -1;
}

static void serial_hex(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < crt->serial.len && o + 3 <= len; i++, o += 2)
		snprintf(out + o, len - o, "%02x", crt->serial.p[i]);
}

/* May this certificate connect? Its terminal must be known, active, and
 * this must be its current certificate (a replaced one is refused). */
static int cert_allowed(const mbedtls_x509_crt *crt, struct registry_entry *e, char *uid, size_t uidlen,
			const char **why)
{
	char serial[80];

	if (cert_uid(crt, uid, uidlen) < 0) {
		*why = "certificate has no usable common name";
		return 0;
	}
	if (!registry_get(uid, e)) {
		*why = "unknown terminal";
		return 0;
	}
	if (!e->active) {
		*why = "terminal is disabled or not enrolled";
		return 0;
	}
	serial_hex(crt, serial, sizeof serial);
	if (strcmp(serial, e->serial) != 0) {
		*why = "certificate was replaced or revoked";
		return 0;
	}
	return 1;
}

/* During the handshake: the chain was checked against the device CA;
 * refuse what the registry does not allow, so it fails the handshake. */
static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct registry_entry e;
	char uid[DEVICE_UID_LEN];
	const char *why;

	(void)arg;
	if (depth == 0 && !cert_allowed(crt, &e, uid, sizeof uid, &why))
		*flags |= MBEDTLS_X509_BADCERT_REVOKED;
	return 0;
}

/* --- connections ----------------------------------------------------------------- */

static void want(struct conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	ev.events = (c->paused ? 0 : EPOLLIN) | EPOLLRDHUP | (c->want_out || c->out_len ? EPOLLOUT : 0);
	epoll_ctl(L.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct conn *c, const char *why, int clean)
{
	if (c->state == C_ONLINE) {
		/* The will goes to the worker as the last status: offline. */
		struct job *j = job_new(J_DISCONNECTED, c->id, c->device_id, c->tenant, c->uid, 0,
					!clean && c->will ? c->will_payload : NULL, !clean && c->will ? c->will_len : 0);
		jobs_push(j);
		pthread_mutex_lock(&L.stats_mu);
		L.stats.online--;
		pthread_mutex_unlock(&L.stats_mu);
	}
	if (why)
		log_info("devlink: %s %s: closed: %s", c->uid[0] ? c->uid : "connection", c->peer, why);
	if (c->state != C_HANDSHAKE && clean)
		mbedtls_ssl_close_notify(&c->ssl);
	epoll_ctl(L.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	L.conns[c->fd] = NULL;
	mbedtls_ssl_free(&c->ssl);
	free(c->in);
	free(c->out);
	free(c);
	pthread_mutex_lock(&L.stats_mu);
	L.stats.connections--;
	pthread_mutex_unlock(&L.stats_mu);
}

static struct conn *conn_by_id(uint64_t id)
{
	int fd = (int)(id & 0xffffffffu);

	if (fd < 0 || fd >= L.maxfd || !L.conns[fd] || L.conns[fd]->id != id)
		return NULL;
	return L.conns[fd];
}

static struct conn *conn_by_uid(const char *uid)
{
	for (int fd = 0; fd < L.maxfd; fd++)
		if (L.conns[fd] && L.conns[fd]->state == C_ONLINE && strcmp(L.conns[fd]->uid, uid) == 0)
			return L.conns[fd];
	return NULL;
}

static int append_out(struct conn *c, const void *data, size_t len)
{
	if (c->out_len + len > OUT_LIMIT)
		return -1;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		unsigned char *bigger = realloc(c->out, cap);
		if (!bigger)
			return -1;
		c->out = bigger;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

/* Write what is waiting; returns -1 when the connection must go. */
static int flush_out(struct conn *c)
{
	while (c->out_len > 0) {
		/* After WANT_WRITE, mbedTLS must be called again with the same
		 * length: it has already made a record of those bytes and reports
		 * that length as written whatever it is given now. */
		size_t chunk = c->pending_write ? c->pending_write : c->out_len < 16384 ? c->out_len : 16384;
		int rc = mbedtls_ssl_write(&c->ssl, c->out, chunk);

		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
			c->pending_write = chunk;
			c->want_out = 1;
			want(c);
			return 0;
		}
		c->pending_write = 0;
		if (rc <= 0)
			return -1;
		memmove(c->out, c->out + rc, c->out_len - (size_t)rc);
		c->out_len -= (size_t)rc;
	}
	if (c->want_out) {
		c->want_out = 0;
		want(c);
	}
	return 0;
}

static int send_packet(struct conn *c, const uint8_t *pkt, size_t len)
{
	if (!len || append_out(c, pkt, len) < 0)
		return -1;
	return 0;
}

/* --- MQTT handling ------------------------------------------------------------------ */

static int subscribed(const struct conn *c, const char *topic);

static int in_namespace(const struct conn *c, const char *t, size_t len, const char **rest, size_t *restlen)
{
	size_t root = strlen(TOPIC_ROOT), ulen = strlen(c->uid);

	if (len <= root + ulen + 1 || memcmp(t, TOPIC_ROOT, root) != 0 || memcmp(t + root, c->uid, ulen) != 0 ||
	    t[root + ulen] != '/')
		return 0;
	*rest = t + root + ulen + 1;
	*restlen = len - root - ulen - 1;
	return 1;
}

static int on_connect(struct conn *c, const struct mqtt_connect *m)
{
	uint8_t buf[8];
	const char *rest;
	size_t restlen;
	struct conn *old;

	if (m->client_id.len != strlen(c->uid) || memcmp(m->client_id.p, c->uid, m->client_id.len) != 0) {
		send_packet(c, buf, mqtt_encode_connack(buf, sizeof buf, 0, MQTT_CONNACK_ID_REJECTED));
		flush_out(c);
		conn_close(c, "client id differs from the certificate's terminal", 1);
		return -1;
	}
	if (m->will) {
		if (!in_namespace(c, m->will_topic.p, m->will_topic.len, &rest, &restlen) ||
		    m->will_payload.len > sizeof c->will_payload || m->will_topic.len >= sizeof c->will_topic) {
			conn_close(c, "will topic outside the terminal's namespace or will too large", 1);
			return -1;
		}
		c->will = 1;
		memcpy(c->will_topic, m->will_topic.p, m->will_topic.len);
		c->will_topic[m->will_topic.len] = '\0';
		memcpy(c->will_payload, m->will_payload.p, m->will_payload.len);
		c->will_len = m->will_payload.len;
	}
	/* A second connection of the same terminal takes over (3.1.4-2). */
	if ((old = conn_by_uid(c->uid)))
		conn_close(old, "taken over by a new connection of the same terminal", 1);
	c->keepalive_s = m->keepalive;
	c->state = C_ONLINE;
	pthread_mutex_lock(&L.stats_mu);
	L.stats.online++;
	pthread_mutex_unlock(&L.stats_mu);
	send_packet(c, buf, mqtt_encode_connack(buf, sizeof buf, 0, MQTT_CONNACK_ACCEPTED));
	jobs_push(job_new(J_CONNECTED, c->id, c->device_id, c->tenant, c->uid, 0, NULL, 0));
	log_info("devlink: %s connected from %s", c->uid, c->peer);
	return 0;
}

static const struct {
	const char *suffix;
	enum job_kind kind;
} routes[] = {
	{"events", J_EVENTS}, {"status", J_STATUS}, {"sync/req", J_SYNC},
	{"commands/ack", J_ACK}, {"firmware/req", J_FIRMWARE},
};

static int on_publish(struct conn *c, const struct mqtt_publish *p)
{
	const char *rest;
	size_t restlen;

	if (!in_namespace(c, p->topic.p, p->topic.len, &rest, &restlen)) {
		conn_close(c, "publish outside the terminal's namespace", 1);
		stat_add(&L.stats.rejected, 1);
		return -1;
	}
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (strlen(routes[i].suffix) != restlen || memcmp(routes[i].suffix, rest, restlen) != 0)
			continue;
		jobs_push(job_new(routes[i].kind, c->id, c->device_id, c->tenant, c->uid, p->qos ? p->packet_id : 0,
				  p->payload, p->payload_len));
		if (++c->jobs_in_flight >= PAUSE_JOBS && !c->paused) {
			c->paused = 1;
			want(c);
		}
		return 0;
	}
	conn_close(c, "publish to an unknown topic", 1);
	stat_add(&L.stats.rejected, 1);
	return -1;
}

/* Tell the worker what this terminal now listens to, so it pushes commands
 * (taken from the queue: only to a terminal that will get them) and sync
 * hints only where they are heard. */
static void tell_listening(struct conn *c)
{
	char topic[96];
	uint8_t flags = 0;

	snprintf(topic, sizeof topic, TOPIC_ROOT "%s/commands", c->uid);
	if (subscribed(c, topic))
		flags |= LISTEN_COMMANDS;
	snprintf(topic, sizeof topic, TOPIC_ROOT "%s/sync/hint", c->uid);
	if (subscribed(c, topic))
		flags |= LISTEN_HINTS;
	if (flags != c->listening) {
		c->listening = flags;
		jobs_push(job_new(J_SUBSCRIBED, c->id, c->device_id, c->tenant, c->uid, 0, &flags, 1));
	}
}

static int on_subscribe(struct conn *c, const struct mqtt_subscribe *s, int unsub)
{
	uint8_t codes[MQTT_MAX_FILTERS], buf[64];
	const char *rest;
	size_t restlen;

	for (int i = 0; i < s->count; i++) {
		const struct mqtt_str *f = &s->filters[i];
		if (!in_namespace(c, f->p, f->len, &rest, &restlen) || f->len >= sizeof c->subs[0]) {
			conn_close(c, "subscription outside the terminal's namespace", 1);
			stat_add(&L.stats.rejected, 1);
			return -1;
		}
		if (unsub) {
			for (int k = 0; k < c->nsubs; k++)
				if (strlen(c->subs[k]) == f->len && memcmp(c->subs[k], f->p, f->len) == 0) {
					memcpy(c->subs[k], c->subs[c->nsubs - 1], sizeof c->subs[0]);
					c->nsubs--;
					k--;
				}
			continue;
		}
		if (c->nsubs == MAX_SUBS) {
			conn_close(c, "too many subscriptions", 1);
			return -1;
		}
		memcpy(c->subs[c->nsubs], f->p, f->len);
		c->subs[c->nsubs++][f->len] = '\0';
		codes[i] = (uint8_t)(s->qos[i] > 1 ? 1 : s->qos[i]);
	}
	tell_listening(c);
	return send_packet(c, buf, unsub ? mqtt_encode_unsuback(buf, sizeof buf, s->packet_id)
					 : mqtt_encode_suback(buf, sizeof buf, s->packet_id, codes, s->count));
}

static int handle(struct conn *c, const struct mqtt_packet *p)
{
	uint8_t buf[8];

	if (c->state == C_CONNECT_WAIT) {
		if (p->type != MQTT_CONNECT) {
			conn_close(c, "the first packet must be CONNECT", 1);
			return -1;
		}
		return on_connect(c, &p->u.connect);
	}
	switch (p->type) {
	case MQTT_PUBLISH:
		return on_publish(c, &p->u.publish);
	case MQTT_PUBACK:
		return 0; /* our QoS 1 publish arrived */
	case MQTT_SUBSCRIBE:
		return on_subscribe(c, &p->u.subscribe, 0);
	case MQTT_UNSUBSCRIBE:
		return on_subscribe(c, &p->u.subscribe, 1);
	case MQTT_PINGREQ:
		return send_packet(c, buf, mqtt_encode_pingresp(buf, sizeof buf));
	case MQTT_DISCONNECT:
		conn_close(c, NULL, 1);
		return -1;
	default:
		conn_close(c, "unexpected packet type", 1);
		stat_add(&L.stats.rejected, 1);
		return -1;
	}
}

/* Decode and handle every whole packet in the input buffer. */
/* Two CONNECT refusals have a CONNACK code of their own (3.1.3-1,
 * 3.2.2-4/5): the codec names them by the start of its reason. */
static void connack_refusal(struct conn *c, const char *why)
{
	uint8_t buf[8];
	int code = 0;

	if (why && strncmp(why, "unsupported protocol level", 26) == 0)
		code = MQTT_CONNACK_BAD_PROTOCOL;
	else if (why && strncmp(why, "identifier rejected", 19) == 0)
		code = MQTT_CONNACK_ID_REJECTED;
	if (!code)
		return;
	send_packet(c, buf, mqtt_encode_connack(buf, sizeof buf, 0, code));
	flush_out(c);
}

static int parse_input(struct conn *c)
{
	size_t off = 0;

	while (off < c->in_len) {
		struct mqtt_packet p;
		size_t used;
		const char *why;
		enum mqtt_decode_result r = mqtt_decode(c->in + off, c->in_len - off, L.s.max_packet, &p, &used, &why);

		if (r == MQTT_NEED_MORE)
			break;
		if (r == MQTT_BAD) {
			if (c->state == C_CONNECT_WAIT)
				connack_refusal(c, why);
			stat_add(&L.stats.rejected, 1);
			conn_close(c, why, 1);
			return -1;
		}
		if (handle(c, &p) < 0)
			return -1;
		off += used;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int read_tls(struct conn *c)
{
	for (;;) {
		int rc;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
			unsigned char *bigger;
			if (cap > L.s.max_packet + 16 + 4096)
				cap = L.s.max_packet + 16 + 4096;
			if (cap <= c->in_cap) {
				conn_close(c, "packet too large", 1);
				return -1;
			}
			if (!(bigger = realloc(c->in, cap))) {
				conn_close(c, "out of memory", 0);
				return -1;
			}
			c->in = bigger;
			c->in_cap = cap;
		}
		rc = mbedtls_ssl_read(&c->ssl, c->in + c->in_len, c->in_cap - c->in_len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (rc <= 0) {
			conn_close(c, rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? "peer closed the connection"
											  : "TLS read failed", 0);
			return -1;
		}
		c->in_len += (size_t)rc;
		c->last_rx_ms = now_ms();
		if (parse_input(c) < 0)
			return -1;
		if (c->paused)
			return 0;
	}
}

static void handshake(struct conn *c)
{
	struct registry_entry e;
	const mbedtls_x509_crt *peer;
	const char *why = "no client certificate";
	int rc = mbedtls_ssl_handshake(&c->ssl);

	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return;
	if (rc != 0) {
		char msg[120];
		mbedtls_strerror(rc, msg, sizeof msg);
		stat_add(&L.stats.rejected, 1);
		log_info("devlink: %s: TLS handshake refused: %s", c->peer, msg);
		conn_close(c, NULL, 0);
		return;
	}
	/* Also after a resumed session, whose certificate was not re-verified. */
	peer = mbedtls_ssl_get_peer_cert(&c->ssl);
	if (!peer || !cert_allowed(peer, &e, c->uid, sizeof c->uid, &why)) {
		stat_add(&L.stats.rejected, 1);
		conn_close(c, why, 1);
		return;
	}
	c->device_id = e.device_id;
	c->tenant = e.tenant;
	c->state = C_CONNECT_WAIT;
	c->deadline_ms = now_ms() + L.s.handshake_timeout_ms;
	c->last_rx_ms = now_ms();
	/* The CONNECT may have come with the handshake's last flight. */
	if (read_tls(c) == 0 && flush_out(c) < 0)
		conn_close(c, "TLS write failed", 0);
}

static void accept_all(void)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int one = 1, fd = accept4(L.listenfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev;
		struct conn *c;

		if (fd < 0)
			return;
		if (fd >= L.maxfd || L.stats.connections >= L.s.max_connections) {
			close(fd);
			stat_add(&L.stats.rejected, 1);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = (++L.next_id << 32) | (uint64_t)fd;
		netaddr_format((struct sockaddr *)&ss, c->peer, sizeof c->peer);
		mbedtls_ssl_init(&c->ssl);
		if (mbedtls_ssl_setup(&c->ssl, &L.conf) != 0) {
			mbedtls_ssl_free(&c->ssl);
			free(c);
			close(fd);
			continue;
		}
		mbedtls_ssl_set_bio(&c->ssl, &c->fd, tls_bio_send, tls_bio_recv, NULL);
		c->state = C_HANDSHAKE;
		c->deadline_ms = now_ms() + L.s.handshake_timeout_ms;
		L.conns[fd] = c;
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		epoll_ctl(L.epfd, EPOLL_CTL_ADD, fd, &ev);
		pthread_mutex_lock(&L.stats_mu);
		L.stats.connections++;
		pthread_mutex_unlock(&L.stats_mu);
	}
}

/* --- results from the worker ------------------------------------------------------- */

static int subscribed(const struct conn *c, const char *topic)
{
	for (int i = 0; i < c->nsubs; i++)
		if (mqtt_topic_matches(c->subs[i], strlen(c->subs[i]), topic, strlen(topic)))
			return 1;
	return 0;
}

static void deliver(struct result *r)
{
	struct conn *c = conn_by_id(r->conn);
	char topic[96];

	if (!c)
		return;
	switch (r->kind) {
	case R_PUBACK: {
		uint8_t buf[8];
		send_packet(c, buf, mqtt_encode_puback(buf, sizeof buf, r->packet_id));
		break;
	}
	case R_PUBLISH: {
		size_t cap = r->len + sizeof topic + 16;
		uint8_t *pkt = malloc(cap);
		snprintf(topic, sizeof topic, TOPIC_ROOT "%s/%s", c->uid, r->topic);
		if (pkt && subscribed(c, topic)) {
			if (++c->next_pid == 0)
				c->next_pid = 1;
			size_t n = mqtt_encode_publish(pkt, cap, topic, strlen(topic), 1, c->next_pid, 0, r->data, r->len);
			if (send_packet(c, pkt, n) < 0) {
				free(pkt);
				conn_close(c, "terminal does not read fast enough", 0);
				return;
			}
		}
		free(pkt);
		break;
	}
	case R_CLOSE:
		conn_close(c, r->reason, 1);
		return;
	case R_JOB_DONE:
		if (c->jobs_in_flight > 0)
			c->jobs_in_flight--;
		if (c->paused && c->jobs_in_flight < PAUSE_JOBS / 2) {
			c->paused = 0;
			want(c);
		}
		break;
	}
	if (flush_out(c) < 0)
		conn_close(c, "TLS write failed", 0);
}

static void drain_results(void)
{
	uint64_t v;
	struct result *r = results_take_all(), *next;

	(void)!read(L.wakefd, &v, sizeof v);
	for (; r; r = next) {
		next = r->next;
		deliver(r);
		free(r);
	}
}

static void drain_kicks(void)
{
	uint64_t v;

	(void)!read(L.ctlfd, &v, sizeof v);
	pthread_mutex_lock(&L.ctl_mu);
	for (size_t i = 0; i < L.nkick; i++) {
		struct conn *c = NULL;
		for (int fd = 0; fd < L.maxfd && !c; fd++)
			if (L.conns[fd] && strcmp(L.conns[fd]->uid, L.kick[i]) == 0)
				c = L.conns[fd];
		if (c)
			conn_close(c, "terminal was disabled, deleted or re-enrolled", 1);
	}
	L.nkick = 0;
	pthread_mutex_unlock(&L.ctl_mu);
}

/* Handshakes and CONNECTs past their deadline, silent terminals past their
 * keep-alive (1.5 times, as 3.1.2-24 says) or the idle limit. */
static void expire(void)
{
	long long now = now_ms();

	for (int fd = 0; fd < L.maxfd; fd++) {
		struct conn *c = L.conns[fd];
		long long limit;

		if (!c)
			continue;
		if (c->state != C_ONLINE) {
			if (now > c->deadline_ms)
				conn_close(c, c->state == C_HANDSHAKE ? NULL : "no CONNECT in time", 0);
			continue;
		}
		limit = c->keepalive_s ? (long long)c->keepalive_s * 1500 : L.s.idle_timeout_ms;
		if (limit > L.s.idle_timeout_ms)
			limit = L.s.idle_timeout_ms;
		if (now - c->last_rx_ms > limit)
			conn_close(c, "keep-alive timeout", 0);
	}
}

static void on_event(struct conn *c, uint32_t events)
{
	if (c->state == C_HANDSHAKE) {
		handshake(c);
		return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) && read_tls(c) < 0)
		return; /* closed */
	if (flush_out(c) < 0)
		conn_close(c, "TLS write failed", 0);
}

static void *loop(void *arg)
{
	struct epoll_event evs[256];
	long long last_scan = now_ms();

	(void)arg;
	while (__atomic_load_n(&L.running, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(L.epfd, evs, 256, 200);

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &L.listenfd)
				accept_all();
			else if (p == &L.wakefd)
				drain_results();
			else if (p == &L.ctlfd)
				drain_kicks();
			else if (L.conns[((struct conn *)p)->fd] == p)
				on_event(p, evs[i].events);
		}
		if (now_ms() - last_scan >= 200) {
			expire();
			last_scan = now_ms();
		}
	}
	for (int fd = 0; fd < L.maxfd; fd++)
		if (L.conns[fd])
			conn_close(L.conns[fd], NULL, 1);
	return NULL;
}

/* --- set-up ----------------------------------------------------------------------- */

static int setup_tls(char *err, size_t errlen)
{
	char *ca_pem, *cert_pem, *key_pem;
	int rc;

	if (devca_server_material(&ca_pem, &cert_pem, &key_pem) < 0) {
		snprintf(err, errlen, "the device CA is not available");
		return -1;
	}
	mbedtls_ssl_config_init(&L.conf);
	mbedtls_x509_crt_init(&L.ca);
	mbedtls_x509_crt_init(&L.cert);
	mbedtls_pk_init(&L.key);
	mbedtls_ssl_ticket_init(&L.tickets);
	rc = mbedtls_x509_crt_parse(&L.ca, (unsigned char *)ca_pem, strlen(ca_pem) + 1) ||
	     mbedtls_x509_crt_parse(&L.cert, (unsigned char *)cert_pem, strlen(cert_pem) + 1) ||
	     mbedtls_pk_parse_key(&L.key, (unsigned char *)key_pem, strlen(key_pem) + 1, NULL, 0) ||
	     mbedtls_ssl_config_defaults(&L.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
					 MBEDTLS_SSL_PRESET_DEFAULT);
	free(ca_pem);
	free(cert_pem);
	devca_free_secret(key_pem);
	if (rc) {
		snprintf(err, errlen, "cannot load the device link's certificate");
		return -1;
	}
	mbedtls_ssl_conf_rng(&L.conf, tls_random, NULL);
	tls_policy_apply(&L.conf);
	/* Mutual TLS: a client certificate from our device CA is required. */
	mbedtls_ssl_conf_authmode(&L.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&L.conf, &L.ca, NULL);
	mbedtls_ssl_conf_verify(&L.conf, verify_cb, NULL);
	if (mbedtls_ssl_conf_own_cert(&L.conf, &L.cert, &L.key) ||
	    mbedtls_ssl_ticket_setup(&L.tickets, tls_random, NULL, MBEDTLS_CIPHER_AES_256_GCM, 86400)) {
		snprintf(err, errlen, "cannot configure TLS for the device link");
		return -1;
	}
	/* Thousands of terminals reconnecting after an outage resume their
	 * sessions instead of each paying a full ECDHE handshake. */
	mbedtls_ssl_conf_session_tickets_cb(&L.conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &L.tickets);
	return 0;
}

static int open_listener(char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[200];
	int one = 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &L.listenfd};

	if (netaddr_parse(L.s.listen, &ss, &len, why, sizeof why) < 0) {
		snprintf(err, errlen, "devices.listen: %s", why);
		return -1;
	}
	L.listenfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (L.listenfd < 0 || setsockopt(L.listenfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(L.listenfd, (struct sockaddr *)&ss, len) < 0 || listen(L.listenfd, 1024) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", L.s.listen, strerror(errno));
		return -1;
	}
	len = sizeof ss;
	getsockname(L.listenfd, (struct sockaddr *)&ss, &len);
	netaddr_format((struct sockaddr *)&ss, why, sizeof why);
	snprintf(L.listen_desc, sizeof L.listen_desc, "mqtts://%s", why);
	return epoll_ctl(L.epfd, EPOLL_CTL_ADD, L.listenfd, &ev);
}

int devlink_start(const struct devlink_settings *s, char *err, size_t errlen)
{
	struct rlimit rl;
	struct epoll_event ev = {.events = EPOLLIN};

	L.s = *s;
	getrlimit(RLIMIT_NOFILE, &rl);
	L.maxfd = rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
	L.conns = calloc((size_t)L.maxfd, sizeof *L.conns);
	L.epfd = epoll_create1(EPOLL_CLOEXEC);
	L.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	L.ctlfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!L.conns || L.epfd < 0 || L.wakefd < 0 || L.ctlfd < 0) {
		snprintf(err, errlen, "cannot set up the device link: %s", strerror(errno));
		return -1;
	}
	ev.data.ptr = &L.wakefd;
	epoll_ctl(L.epfd, EPOLL_CTL_ADD, L.wakefd, &ev);
	ev.data.ptr = &L.ctlfd;
	epoll_ctl(L.epfd, EPOLL_CTL_ADD, L.ctlfd, &ev);
	/* Nothing is connected yet: every terminal is offline, and a command
	 * sent before a crash (never acknowledged) is due again. */
	if (registry_load() < 0 || devices_all_offline() < 0 || commands_requeue(0) < 0) {
		snprintf(err, errlen, "cannot read the devices");
		return -1;
	}
	if (setup_tls(err, errlen) < 0 || open_listener(err, errlen) < 0)
		return -1;
	results_set_wakefd(L.wakefd);
	if (worker_start(s->state_dir, s->clock_drift_ms) < 0) {
		snprintf(err, errlen, "cannot start the device link's worker");
		return -1;
	}
	L.running = 1;
	if (pthread_create(&L.thread, NULL, loop, NULL) != 0) {
		snprintf(err, errlen, "cannot start the device link's thread");
		worker_stop();
		return -1;
	}
	return 0;
}

void devlink_stop(void)
{
	if (!L.running)
		return;
	__atomic_store_n(&L.running, 0, __ATOMIC_RELEASE);
	pthread_join(L.thread, NULL);
	/* Jobs of the last moments (disconnects) are finished before the worker ends. */
	worker_stop();
	results_set_wakefd(-1);
	for (struct result *r = results_take_all(), *next; r; r = next) {
		next = r->next;
		free(r);
	}
	close(L.listenfd);
	close(L.wakefd);
	close(L.ctlfd);
	close(L.epfd);
	free(L.conns);
	free(L.kick);
	L.conns = NULL;
	L.kick = NULL;
	L.nkick = L.capkick = 0;
	mbedtls_ssl_ticket_free(&L.tickets);
	mbedtls_ssl_config_free(&L.conf);
	mbedtls_x509_crt_free(&L.ca);
	mbedtls_x509_crt_free(&L.cert);
	mbedtls_pk_free(&L.key);
	registry_clear();
}

void devlink_describe(char *buf, size_t len)
{
	snprintf(buf, len, "%s", L.listen_desc);
}

void devlink_device_changed(const char *uid, const struct device *d)
{
	uint64_t one = 1;

	if (d) {
		struct registry_entry e = {d->id, d->tenant, strcmp(d->status, "active") == 0, ""};
		snprintf(e.serial, sizeof e.serial, "%s", d->serial);
		registry_put(d->uid, &e);
		uid = d->uid;
		if (e.active)
			return;
	} else {
		registry_remove(uid);
	}
	if (!L.running)
		return;
	pthread_mutex_lock(&L.ctl_mu);
	if (L.nkick == L.capkick) {
		size_t cap = L.capkick ? L.capkick * 2 : 16;
		void *bigger = realloc(L.kick, cap * sizeof *L.kick);
		if (bigger) {
			L.kick = bigger;
			L.capkick = cap;
		}
	}
	if (L.nkick < L.capkick)
		snprintf(L.kick[L.nkick++], DEVICE_UID_LEN, "%s", uid);
	pthread_mutex_unlock(&L.ctl_mu);
	(void)!write(L.ctlfd, &one, sizeof one);
}

void devlink_commands_queued(void)
{
	jobs_wake();
}

void devlink_get_stats(struct devlink_stats *out)
{
	pthread_mutex_lock(&L.stats_mu);
	*out = L.stats;
	pthread_mutex_unlock(&L.stats_mu);
}

/* Counted by the worker as it stores events. */
void devlink_count_events(unsigned long stored, unsigned long duplicate);
void devlink_count_events(unsigned long stored, unsigned long duplicate)
{
	pthread_mutex_lock(&L.stats_mu);
	L.stats.events_stored += stored;
	L.stats.events_duplicate += duplicate;
	pthread_mutex_unlock(&L.stats_mu);
}
