/* tlsconn: one outgoing TCP connection, plain at first and TLS after
 * tlsconn_tls (at once for implicit TLS, or after STARTTLS), with a
 * timeout on every step: connecting, the handshake, each read and write.
 * Blocking I/O: the callers are job threads that send one notice at a
 * time, and site sync. The peer's certificate is checked against a CA
 * file and its name against the host we dialled, or against a pinned
 * SHA-256, unless verification was turned off explicitly (logged by the
 * caller). TLS follows tls/policy.h like every other endpoint: TLS 1.2,
 * ECDHE, AEAD. */
#ifndef GH_TLSCONN_H
#define GH_TLSCONN_H

#include <stddef.h>

struct tlsconn;

struct tlsconn_opts {
	const char *host;     /* name or numeric address; the certificate must name it */
	int port;
	long long timeout_ms; /* for each step */
	const char *ca_file;
	int verify;           /* 0: accept any certificate (explicit configuration only) */
	/* Instead of a CA: the SHA-256 of the one certificate the peer must
	 * present (32 bytes, or NULL). Its name and issuer do not matter then
	 * (a self-signed certificate is fine): site sync pins its central so. */
	const unsigned char *pin_sha256;
};

/* Connect (TCP only). NULL with the reason in err. */
struct tlsconn *tlsconn_connect(const struct tlsconn_opts *o, char *err, size_t errlen);
/* Start TLS on the connection and check the peer. Bytes already buffered
 * from the plain phase are refused (they could only be an injection). */
int tlsconn_tls(struct tlsconn *c, char *err, size_t errlen);
int tlsconn_is_tls(const struct tlsconn *c);

int tlsconn_write(struct tlsconn *c, const void *data, size_t len, char *err, size_t errlen);
/* One line up to LF (CR LF removed), at most max-1 bytes. Returns its
 * length, or -1 (error, timeout, end of stream or an overlong line). */
int tlsconn_read_line(struct tlsconn *c, char *line, size_t max, char *err, size_t errlen);
/* Raw bytes: up to len, 0 at the end of the stream, -1 on error. */
int tlsconn_read(struct tlsconn *c, void *buf, size_t len, char *err, size_t errlen);

/* TLS close_notify if in TLS, then close. NULL is fine. */
void tlsconn_close(struct tlsconn *c);

#endif
