/* ca: the appliance's device CA. Created at first start (ECDSA P-256, its
 * key sealed by the vault and kept in the database, never in a file); it
 * issues the terminals' client certificates (from a CSR at enrolment, or
 * with a new key for a ready-made bundle) and the device link's own server
 * certificate, so a terminal needs to trust this CA and nothing else. */
#ifndef GH_DEVCA_H
#define GH_DEVCA_H

#include <stddef.h>

#define DEVCA_DEVICE_DAYS 1825 /* five years */

/* Create the CA and the device link's server certificate (for names, a
 * comma-separated list like web.names plus localhost and the host name)
 * unless they exist. 0, or -1 with err. */
int devca_ensure(const char *names, char *err, size_t errlen);

/* PEM texts for the device link's TLS server: the CA certificate, the
 * server certificate and its private key. Each is malloc'd; free the key
 * with devca_free_secret. 0 or -1. */
int devca_server_material(char **ca_pem, char **cert_pem, char **key_pem);
void devca_free_secret(char *pem);

/* The CA certificate (malloc'd PEM), for bundles and enrolment answers. */
char *devca_ca_pem(void);

/* Sign a terminal's CSR (PEM). The certificate's subject is CN=uid
 * whatever the CSR asked; the CSR's signature must verify and its key must
 * be P-256. On success returns the certificate PEM (malloc'd) and fills the
 * serial and expiry; NULL with why otherwise. */
char *devca_sign_csr(const char *csr_pem, const char *uid, char serial[40], long long *not_after,
		     char *why, size_t whylen);

/* A new key and certificate for uid (a ready bundle). Both malloc'd; free
 * the key with devca_free_secret. 0 or -1. */
int devca_issue_bundle(const char *uid, char **key_pem, char **cert_pem, char serial[40], long long *not_after);

#endif
