/* server: the HTTPS server of the web console and REST API (CivetWeb with
 * our TLS and gate), dispatching every request through the route table. */
#ifndef GH_SERVER_H
#define GH_SERVER_H

#include "abuse.h"
#include "router.h"

#include <stddef.h>

struct server_settings {
	const char *listen;       /* web.listen */
	const char *cert_path, *key_path;
	long long threads, request_timeout_ms, keepalive_timeout_ms, handshake_timeout_ms;
	long long max_pending;
	const struct route *routes;
	size_t nroutes;
	struct abuse_settings abuse;
};

/* Start listening. Returns 0, or -1 with the reason in err. */
int server_start(const struct server_settings *s, char *err, size_t errlen);

/* The addresses actually bound ("https://127.0.0.1:8443"), one per line. */
void server_describe(char *buf, size_t len);

/* Stop accepting, let requests in flight finish, then return. */
void server_stop(void);

#endif
