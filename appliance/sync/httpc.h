/* httpc: the site's requests to its central: one HTTPS POST per call over
 * notify/tlsconn (the appliance's one outgoing TLS client), the central's
 * certificate pinned by its SHA-256 (so a self-signed one is fine and a
 * man in the middle is not), a timeout on every step, the answer's body
 * bounded. Connection: close: a changeset is large next to a handshake. */
#ifndef GH_SYNC_HTTPC_H
#define GH_SYNC_HTTPC_H

#include <stddef.h>

struct httpc_target {
	char host[256];
	int port;
	char base[256];       /* path prefix of the URL, without a trailing slash */
	unsigned char pin[32];
	long long timeout_ms;
};

/* "AA:BB:..." (64 hex digits; colons, blanks and case do not matter) -> 32
 * bytes. 0 or -1. */
int httpc_fingerprint_parse(const char *text, unsigned char out[32]);
/* The canonical text of a fingerprint: "AA:BB:...", 96 bytes with the NUL. */
void httpc_fingerprint_text(const unsigned char fp[32], char out[96]);

/* An https:// URL and the fingerprint to pin. 0, or -1 with err. */
int httpc_target_init(struct httpc_target *t, const char *url, const char *fingerprint, long long timeout_ms,
		      char *err, size_t errlen);

struct httpc_resp {
	int status;
	char ctype[80];
	int more;              /* X-Gatehouse-Sync-More: 1 */
	unsigned char *body;   /* malloc'd, NUL-terminated; NULL when none */
	size_t len;
};

/* POST body (ctype) to base + path, with "Authorization: Bearer token"
 * when token is given. 0 when an answer came (any status), -1 with err when
 * none could be had (the link). */
int httpc_post(const struct httpc_target *t, const char *path, const char *token, const char *ctype, const void *body,
	       size_t len, size_t max_answer, struct httpc_resp *r, char *err, size_t errlen);
void httpc_resp_free(struct httpc_resp *r);

#endif
