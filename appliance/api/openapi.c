/* GET /api/v1/openapi.json: the OpenAPI 3.1 description of every route,
 * kept in web/openapi.json and embedded with the console's files. A test
 * checks it against the route table in both directions. */
#include "api.h"

#include "web/assets.h"
#include "web/http.h"

#include <stdlib.h>

void api_openapi(struct http_req *req)
{
	const struct asset *a = assets_find("/openapi.json");
	unsigned char *doc;

	if (!a)
		return http_error(req, 404, "not_found", "this build carries no API description");
	doc = assets_inflate(a);
	if (!doc)
		return http_error(req, 500, "internal", "cannot read the API description");
	http_reply(req, 200, "application/json", doc, a->len, NULL);
	free(doc);
}
