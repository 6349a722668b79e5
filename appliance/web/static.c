#include "static.h"

#include "assets.h"
#include "http.h"

#include <civetweb.h>
#include <stdlib.h>
#include <string.h>

/* Does the client accept gzip? A token match on Accept-Encoding; "gzip;q=0"
 * is honoured as a refusal. */
static int accepts_gzip(struct http_req *req)
{
	const char *ae = http_header(req, "Accept-Encoding");
	const char *g = ae ? strstr(ae, "gzip") : NULL;

	return g && strncmp(g + 4, ";q=0", 4) != 0 && strncmp(g + 4, "; q=0", 5) != 0;
}

static void serve(struct http_req *req, const struct asset *a)
{
	const char *inm = http_header(req, "If-None-Match");
	const char *hdrs[] = {"ETag", a->etag, "Cache-Control", "no-cache", "Vary", "Accept-Encoding",
			      NULL, NULL, NULL};

	if (inm && strstr(inm, a->etag)) {
		http_reply(req, 304, NULL, NULL, 0, hdrs);
		return;
	}
	if (accepts_gzip(req)) {
		hdrs[6] = "Content-Encoding";
		hdrs[7] = "gzip";
		http_reply(req, 200, a->type, a->gz, a->gz_len, hdrs);
		return;
	}
	unsigned char *plain = assets_inflate(a);
	if (!plain) {
		http_error(req, 500, "internal", "cannot inflate %s", a->path);
		return;
	}
	http_reply(req, 200, a->type, plain, a->len, hdrs);
	free(plain);
}

void static_index(struct http_req *req)
{
	const struct asset *a = assets_find("/index.html");

	if (!a) {
		http_error(req, 404, "not_found", "the console is not built into this binary");
		return;
	}
	serve(req, a);
}

void static_asset(struct http_req *req)
{
	const struct asset *a = assets_find(req->path + strlen("/assets"));

	if (!a) {
		http_error(req, 404, "not_found", "no such file: %s", req->path);
		return;
	}
	serve(req, a);
}
