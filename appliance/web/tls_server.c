#include "tls_server.h"

#include "core/log.h"
#include "tls/bio.h"
#include "tls/policy.h"

#include <mbedtls/net_sockets.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct {
	char *cert_path, *key_path;
	long long handshake_ms;
} settings;

static volatile sig_atomic_t stopping;

static struct {
	unsigned long handshakes, failed, timed_out;
} stats;

int tls_server_configure(const struct tls_server_settings *s)
{
	free(settings.cert_path);
	free(settings.key_path);
	settings.cert_path = strdup(s->cert_path);
	settings.key_path = strdup(s->key_path);
	settings.handshake_ms = s->handshake_timeout_ms;
	stopping = 0;
	return settings.cert_path && settings.key_path ? 0 : -1;
}

static int fail(const char *what, const char *path, int rc)
{
	char msg[160];

	log_err("tls: %s %s: %s", what, path ? path : "", tls_strerror(rc, msg, sizeof msg));
	return -1;
}

int tls_server_init(struct tls_server *t)
{
	mbedtls_ssl_config *conf = &t->conf;
	int rc;

	mbedtls_ssl_config_init(conf);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_cache_init(&t->cache);
	mbedtls_ssl_ticket_init(&t->tickets);

	if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
					(const unsigned char *)"gatehouse-web", 13)))
		return fail("cannot seed the random generator", NULL, rc);
	if ((rc = mbedtls_x509_crt_parse_file(&t->cert, settings.cert_path)))
		return fail("cannot load certificate", settings.cert_path, rc);
	if ((rc = mbedtls_pk_parse_keyfile(&t->key, settings.key_path, NULL)))
		return fail("cannot load private key", settings.key_path, rc);
	if ((rc = mbedtls_pk_check_pair(&t->cert.pk, &t->key)))
		return fail("private key does not match certificate", settings.cert_path, rc);
	if ((rc = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER,
					      MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT)))
		return fail("cannot set defaults", NULL, rc);
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &t->drbg);
	tls_policy_apply(conf);
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
	if ((rc = mbedtls_ssl_conf_own_cert(conf, &t->cert, &t->key)))
		return fail("cannot use certificate", settings.cert_path, rc);

	/* Resumption spares returning clients (browsers open several connections)
	 * a full ECDHE handshake. Ticket keys rotate daily and live only in memory. */
	mbedtls_ssl_cache_set_max_entries(&t->cache, 4096);
	mbedtls_ssl_cache_set_timeout(&t->cache, 3600);
	mbedtls_ssl_conf_session_cache(conf, &t->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
	if ((rc = mbedtls_ssl_ticket_setup(&t->tickets, mbedtls_ctr_drbg_random, &t->drbg,
					   MBEDTLS_CIPHER_AES_256_GCM, 86400)))
		return fail("cannot set up session tickets", NULL, rc);
	mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
					    &t->tickets);
	return 0;
}

void tls_server_free(struct tls_server *t)
{
	mbedtls_ssl_ticket_free(&t->tickets);
	mbedtls_ssl_cache_free(&t->cache);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_pk_free(&t->key);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drive the handshake, sleeping in poll() while the peer is quiet. Polls in
 * slices so a shutdown is noticed within a quarter second. */
static int handshake(mbedtls_ssl_context *ssl, int fd)
{
	long long deadline = now_ms() + settings.handshake_ms;
	int rc;

	while ((rc = mbedtls_ssl_handshake(ssl)) != 0) {
		struct pollfd p = {.fd = fd};
		long long left;

		if (rc == MBEDTLS_ERR_SSL_WANT_READ)
			p.events = POLLIN;
		else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			p.events = POLLOUT;
		else
			return rc;
		left = deadline - now_ms();
		if (left <= 0 || stopping)
			return MBEDTLS_ERR_SSL_TIMEOUT;
		if (poll(&p, 1, left < 250 ? (int)left : 250) < 0 && errno != EINTR)
			return MBEDTLS_ERR_NET_POLL_FAILED;
	}
	return 0;
}

mbedtls_ssl_context *tls_server_accept(struct tls_server *t, int *fd)
{
	mbedtls_ssl_context *ssl = calloc(1, sizeof *ssl);
	int rc;

	if (!ssl)
		return NULL;
	mbedtls_ssl_init(ssl);
	if ((rc = mbedtls_ssl_setup(ssl, &t->conf)) != 0) {
		free(ssl);
		return NULL;
	}
	mbedtls_ssl_set_bio(ssl, fd, tls_bio_send, tls_bio_recv, NULL);
	rc = handshake(ssl, *fd);
	__atomic_add_fetch(&stats.handshakes, 1, __ATOMIC_RELAXED);
	if (rc != 0) {
		char msg[128];
		if (rc == MBEDTLS_ERR_SSL_TIMEOUT)
			__atomic_add_fetch(&stats.timed_out, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&stats.failed, 1, __ATOMIC_RELAXED);
		log_debug("tls: handshake failed: %s", tls_strerror(rc, msg, sizeof msg));
		mbedtls_ssl_free(ssl);
		free(ssl);
		return NULL;
	}
	return ssl;
}

void tls_server_close(mbedtls_ssl_context *ssl)
{
	if (!ssl)
		return;
	mbedtls_ssl_close_notify(ssl);
	mbedtls_ssl_free(ssl);
	free(ssl);
}

void tls_server_shutdown(void) { stopping = 1; }

void tls_server_get_stats(struct tls_server_stats *out)
{
	out->handshakes = __atomic_load_n(&stats.handshakes, __ATOMIC_RELAXED);
	out->failed = __atomic_load_n(&stats.failed, __ATOMIC_RELAXED);
	out->timed_out = __atomic_load_n(&stats.timed_out, __ATOMIC_RELAXED);
}
