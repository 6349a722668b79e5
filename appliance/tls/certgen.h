/* certgen: the self-signed server certificate made at first start, so the
 * appliance speaks HTTPS from its first second. ECDSA P-256, valid for
 * localhost, the host name, 127.0.0.1, ::1 and any names the admin listed.
 * An admin replaces it with their own by pointing web.tls_cert/web.tls_key
 * at other files. */
#ifndef GH_TLS_CERTGEN_H
#define GH_TLS_CERTGEN_H

#include <stddef.h>

/* Names for the subjectAltName: DNS names and IPv4/IPv6 literals. */
struct certgen_names {
	const char *items[32];
	size_t count;
};

/* Add each comma-separated entry of list (blanks trimmed, empties skipped,
 * duplicates dropped). Returns -1 when there are too many. */
int certgen_names_add_list(struct certgen_names *n, char *list);

/* Create key and self-signed certificate files (key mode 0600) unless both
 * exist. Returns 1 if created, 0 if both existed, -1 with reason in err. */
int certgen_ensure(const char *cert_path, const char *key_path, const char *common_name,
		   const struct certgen_names *names, int valid_days, char *err, size_t errlen);

/* Issuing certificates in general: the device CA, terminal certificates
 * and the device link's server certificate are made with this too. */
#include <mbedtls/pk.h>

enum cert_use { CERT_SERVER, CERT_CLIENT, CERT_CA };

struct cert_request {
	const char *subject;                /* "CN=...,O=..." */
	enum cert_use use;
	const struct certgen_names *names;  /* subjectAltName, or NULL */
	int valid_days;
	mbedtls_pk_context *subject_key;    /* whose public key is certified */
	mbedtls_pk_context *issuer_key;     /* who signs (the same for self-signed) */
	const char *issuer;                 /* issuer name (the subject for self-signed) */
};

/* Write the certificate as PEM into pem; its serial as hex into serial_hex
 * and its expiry (Unix time) into *not_after. 0, or an mbedTLS error code. */
int certgen_issue(const struct cert_request *r, unsigned char *pem, size_t len, char serial_hex[40],
		  long long *not_after);

/* A new ECDSA P-256 key. 0 or an mbedTLS error code. */
int certgen_new_key(mbedtls_pk_context *key);

/* The process's random generator for mbedTLS (thread-safe: mbedTLS is
 * built with MBEDTLS_THREADING_C). */
struct mbedtls_ctr_drbg_context;
int tls_random(void *unused, unsigned char *out, size_t len);

/* SHA-256 fingerprint of the first certificate in a PEM file, as
 * "AB:CD:...". Returns 0 or -1. */
int certgen_fingerprint(const char *cert_path, char *out, size_t outlen);

#endif
