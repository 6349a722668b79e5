/* https: a small blocking HTTPS/1.1 client for the appliance's REST API
 * (creating and enrolling terminals). One keep-alive connection, TLS 1.2
 * with the appliance's policy, the server certificate checked against the
 * one file the operator trusts (the appliance's self-signed certificate,
 * or the CA of one the site installed). A 429 answer is waited out as its
 * Retry-After says. The API token is sent only where asked and never
 * written anywhere. */
#ifndef GH_DEVSIM_HTTPS_H
#define GH_DEVSIM_HTTPS_H

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stddef.h>
#include <sys/socket.h>

struct https {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char host[300];          /* the Host header */
	const char *token;       /* Authorization: Bearer ...; NULL for none */
	int quiet;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	char tls_name[256];
	mbedtls_ssl_context ssl;
	int fd, open;
	long long last_used_ms;
};

/* ca_file: PEM certificate(s) to trust. 0, or -1 with err. */
int https_init(struct https *h, const struct sockaddr *sa, socklen_t salen, const char *host_header,
	       const char *ca_file, const char *tls_name, const char *token, char *err, size_t errlen);
void https_free(struct https *h);

/* One request with an optional JSON body; auth: send the token. On 0,
 * *status and *body (malloc'd, NUL-terminated; free it) are set. -1 with
 * err when no answer could be had. */
int https_request(struct https *h, const char *method, const char *path, const char *json, int auth, int *status,
		  char **body, char *err, size_t errlen);

#endif
