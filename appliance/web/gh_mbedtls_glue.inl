/* Gatehouse's replacement for CivetWeb's mod_mbedtls.inl, included by the
 * patched civetweb.c (third_party/civetweb/). It keeps the interface CivetWeb
 * expects and forwards everything to our tls_server module, which is
 * compiled with our own warnings and tests. */
#if defined(USE_MBEDTLS)

#include "mbedtls/ssl.h"
#include "web/gate.h"
#include "web/tls_server.h"

typedef mbedtls_ssl_context SSL;
typedef struct tls_server SSL_CTX;

static int
mbed_sslctx_init(SSL_CTX *ctx, const char *crt)
{
	(void)crt; /* paths come from tls_server_configure() */
	return tls_server_init(ctx);
}

static void
mbed_sslctx_uninit(SSL_CTX *ctx)
{
	tls_server_free(ctx);
}

static int
mbed_ssl_accept(mbedtls_ssl_context **ssl,
                SSL_CTX *ssl_ctx,
                int *sock,
                struct mg_context *phys_ctx)
{
	(void)phys_ctx;
	*ssl = tls_server_accept(ssl_ctx, sock);
	return *ssl ? 0 : -1;
}

static void
mbed_ssl_close(mbedtls_ssl_context *ssl)
{
	tls_server_close(ssl);
}

static int
mbed_ssl_read(mbedtls_ssl_context *ssl, unsigned char *buf, int len)
{
	return mbedtls_ssl_read(ssl, buf, (size_t)len);
}

static int
mbed_ssl_write(mbedtls_ssl_context *ssl, const unsigned char *buf, int len)
{
	return mbedtls_ssl_write(ssl, buf, (size_t)len);
}

#endif /* USE_MBEDTLS */
