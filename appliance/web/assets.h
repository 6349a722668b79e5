/* assets: the browser console's files (web/), embedded at build time,
 * gzip-compressed, each with its content type and ETag. */
#ifndef GH_ASSETS_H
#define GH_ASSETS_H

#include <stddef.h>

struct asset {
	const char *path;         /* "/index.html", "/app.js", ... */
	const char *type;         /* Content-Type */
	const unsigned char *gz;  /* gzip member */
	size_t gz_len;
	size_t len;               /* uncompressed length */
	const char *etag;         /* quoted strong validator */
};

extern const struct asset assets_table[];
extern const unsigned assets_count;

const struct asset *assets_find(const char *path);

/* Inflate an asset for a client that does not accept gzip. Returns a
 * malloc'd buffer of a->len bytes, or NULL. */
unsigned char *assets_inflate(const struct asset *a);

#endif
