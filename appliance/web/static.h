/* static: the console's embedded files: "/" is the shell page, everything
 * else lives under /assets/. */
#ifndef GH_STATIC_H
#define GH_STATIC_H

struct http_req;

void static_index(struct http_req *req);
void static_asset(struct http_req *req);

#endif
