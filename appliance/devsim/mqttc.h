/* mqttc: one MQTT 3.1.1 client connection over non-blocking TLS, driven by
 * the simulator's epoll loop (docs/device-protocol.md, section 2).
 *
 * It connects TCP without blocking, runs the TLS 1.2 handshake with the
 * terminal's own certificate (the device CA is parsed once for every
 * terminal; the small TLS configuration is per connection, as mbedTLS 2.28
 * clients take their certificate from nowhere else), frames packets with
 * devlink/mqtt.c and hands each whole packet to the caller. Outgoing packets are queued and written when the socket
 * takes them, several per TLS record. Buffers exist only while connected,
 * so thousands of idle or offline terminals cost little. */
#ifndef GH_DEVSIM_MQTTC_H
#define GH_DEVSIM_MQTTC_H

#include "devlink/mqtt.h"

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What every connection shares: the device CA and the name the
 * appliance's certificate must carry. */
struct mqttc_tls {
	mbedtls_x509_crt ca;
	char hostname[256];
};

/* ca_pem: the device CA (PEM, NUL-terminated). 0, or -1 with err. */
int mqttc_tls_init(struct mqttc_tls *t, const char *ca_pem, const char *hostname, char *err, size_t errlen);
void mqttc_tls_free(struct mqttc_tls *t);

enum mqttc_phase { MC_CLOSED, MC_TCP, MC_TLS, MC_UP };

struct mqttc {
	int fd;
	enum mqttc_phase phase;
	int epfd;
	void *tag;                /* epoll's data.ptr */
	uint32_t mask;            /* what epoll watches now */
	mbedtls_ssl_context *ssl;
	mbedtls_ssl_config *conf;
	unsigned char *in, *out;
	size_t in_len, in_cap, out_len, out_cap;
	size_t write_pending;     /* length of a write mbedTLS must see again */
	int want_write;           /* TLS wants the socket writable */
	long long last_tx_ms, last_rx_ms;
	uint16_t next_pid;
};

struct mqttc_ops {
	/* The handshake is over: send CONNECT. */
	void (*tls_up)(void *arg);
	/* A whole packet from the appliance; -1 to close the connection. */
	int (*packet)(void *arg, const struct mqtt_packet *p);
};

void mqttc_init(struct mqttc *c);

/* Start connecting to sa. cert and key must live until mqttc_close;
 * resume, if not NULL, is a session to resume. 0, or -1 with err. */
int mqttc_open(struct mqttc *c, int epfd, void *tag, const struct sockaddr *sa, socklen_t salen,
	       struct mqttc_tls *tls, mbedtls_x509_crt *cert, mbedtls_pk_context *key,
	       const mbedtls_ssl_session *resume, char *err, size_t errlen);

/* Drive the connection after epoll reported events on it (or 0 to just
 * flush). 0, or -1 when it failed or was closed, with why: then call
 * mqttc_close. */
int mqttc_io(struct mqttc *c, uint32_t events, const struct mqttc_ops *ops, void *arg, char *why, size_t whylen);

/* Queue bytes (written by mqttc_io or mqttc_flush). 0, or -1 when the
 * queue is over its limit (the appliance does not read: reconnect). */
int mqttc_send(struct mqttc *c, const void *data, size_t len);
/* Queue a QoS 1 PUBLISH; its packet id into *pid. 0 or -1. */
int mqttc_publish(struct mqttc *c, const char *topic, const void *payload, size_t len, uint16_t *pid);
/* A fresh packet id (never 0). */
uint16_t mqttc_next_pid(struct mqttc *c);
/* Write what the socket takes now. 0, or -1 when the connection failed. */
int mqttc_flush(struct mqttc *c);
/* Bytes queued and not yet written. */
size_t mqttc_backlog(const struct mqttc *c);

/* Copy the TLS session (to resume it next time). 0 or -1. */
int mqttc_save_session(struct mqttc *c, mbedtls_ssl_session *out);

/* Close; with polite, say DISCONNECT and close_notify first (best effort). */
void mqttc_close(struct mqttc *c, int polite);

#endif
