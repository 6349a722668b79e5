#include "assets.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const struct asset *assets_find(const char *path)
{
	for (unsigned i = 0; i < assets_count; i++)
		if (strcmp(assets_table[i].path, path) == 0)
			return &assets_table[i];
	return NULL;
}

unsigned char *assets_inflate(const struct asset *a)
{
	z_stream z = {0};
	unsigned char *out = malloc(a->len ? a->len : 1);
	int rc;

	if (!out || inflateInit2(&z, 31) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)a->gz;
	z.avail_in = (uInt)a->gz_len;
	z.next_out = out;
	z.avail_out = (uInt)a->len;
	rc = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (rc != Z_STREAM_END || z.total_out != a->len) {
		free(out);
		return NULL;
	}
	return out;
}
