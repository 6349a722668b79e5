/* webhook: alerts POSTed as JSON to HTTPS receivers, signed so a receiver
 * can tell they came from this appliance and were not replayed late:
 *
 *   X-Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t "." body)>
 *
 * The receiver's certificate is checked (webhook.ca_file) against the
 * URL's host; any 2xx answer is delivered; redirects are not followed (a
 * 3xx is a failure that names the Location); every step has a timeout. */
#ifndef GH_WEBHOOK_H
#define GH_WEBHOOK_H

#include <stddef.h>

struct webhook_target {
	char host[256];
	int port;
	char path[1024];
};

/* "https://host[:port][/path]" -> target. 0, or -1 with why. Only https. */
int webhook_parse_url(const char *url, struct webhook_target *t, char *why, size_t whylen);

/* hex HMAC-SHA256(secret, "<t>.<body>") into out (65 bytes). */
void webhook_signature(const unsigned char *secret, size_t secretlen, long long t, const char *body, size_t bodylen,
		       char out[65]);

struct webhook_settings {
	const char *ca_file;
	long long timeout_ms;
	const unsigned char *secret;
	size_t secretlen;
};

/* POST body to url. event: "alert" or "alert.resolved"; delivery: the id
 * receivers may use to drop a repeat. 0 when the receiver answered 2xx
 * (*status set), -1 with the reason in err. */
int webhook_post(const struct webhook_settings *s, const char *url, const char *event, const char *delivery,
		 const char *body, int *status, char *err, size_t errlen);

#endif
