/* tls_server: TLS for the web console, behind CivetWeb.
 *
 * CivetWeb's own mbedTLS glue accepts TLS 1.0 and 1.1, spins on WANT_READ
 * without polling, and has no session resumption. Our glue
 * (gh_mbedtls_glue.inl, compiled inside CivetWeb) calls this module instead:
 * the shared TLS policy (policy.h), session tickets and a session cache, and
 * a handshake that waits with poll() and gives up at a deadline. */
#ifndef GH_TLS_SERVER_H
#define GH_TLS_SERVER_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

struct tls_server {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_cache_context cache;
	mbedtls_ssl_ticket_context tickets;
};

struct tls_server_settings {
	const char *cert_path;
	const char *key_path;
	long long handshake_timeout_ms;
};

/* Set before the server starts; the paths are copied. */
int tls_server_configure(const struct tls_server_settings *s);

/* Load certificate and key and build the configuration. 0 or -1 (logged). */
int tls_server_init(struct tls_server *t);
void tls_server_free(struct tls_server *t);

/* Handshake on a non-blocking socket. Returns a new TLS context, or NULL
 * when the client failed, stalled past the deadline, or the server stops. */
mbedtls_ssl_context *tls_server_accept(struct tls_server *t, int *fd);
void tls_server_close(mbedtls_ssl_context *ssl);

/* Make handshakes in progress give up (shutdown). */
void tls_server_shutdown(void);

/* Counters for /metrics and the tests. */
struct tls_server_stats {
	unsigned long handshakes, failed, timed_out;
};
void tls_server_get_stats(struct tls_server_stats *out);

#endif
