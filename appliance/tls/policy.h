/* policy: the TLS settings every endpoint of the appliance uses (web console,
 * device link, outgoing connections): TLS 1.2 only as mbedTLS 2.28 has no 1.3,
 * ECDHE key exchange for forward secrecy, AEAD ciphers only (AES-GCM and
 * ChaCha20-Poly1305), modern curves and SHA-2 signatures, no renegotiation. */
#ifndef GH_TLS_POLICY_H
#define GH_TLS_POLICY_H

#include <mbedtls/ssl.h>

void tls_policy_apply(mbedtls_ssl_config *conf);

/* The suites we allow, zero-terminated; exposed for the tests. */
extern const int tls_policy_ciphersuites[];

/* Describe an mbedTLS error code in one short line. */
const char *tls_strerror(int rc, char *buf, size_t len);

#endif
