/* api: the REST handlers, one file per resource. Each is listed with its
 * method, path, flags and summary in web/routes.c. */
#ifndef GH_API_H
#define GH_API_H

struct http_req;

/* health.c */
void api_healthz(struct http_req *req);
void api_readyz(struct http_req *req);

#endif
