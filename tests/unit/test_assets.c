#include "t.h"

#include "web/assets.h"

#include <stdlib.h>

TEST(assets_embed_console_files)
{
	const struct asset *index = assets_find("/index.html");

	CHECK(index != NULL);
	CHECK(assets_find("/app.js") != NULL);
	CHECK(assets_find("/i18n/ja.json") != NULL);
	CHECK(assets_find("/nope.js") == NULL);
	if (!index)
		return;
	CHECK_STR(index->type, "text/html; charset=utf-8");
	CHECK(index->etag[0] == '"' && strlen(index->etag) == 18);
	for (unsigned i = 0; i < assets_count; i++) {
		unsigned char *plain = assets_inflate(&assets_table[i]);
		CHECK(plain != NULL);
		CHECK(assets_table[i].gz_len > 0);
		free(plain);
	}
	unsigned char *html = assets_inflate(index);
	CHECK(html && memmem(html, index->len, "/assets/app.js", 14) != NULL);
	free(html);
}
