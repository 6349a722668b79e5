/* allowlist: which client addresses may act as admins. One list per tenant
 * and one for system admins (tenant 0); an empty list allows every address.
 * The list is consulted before any password is checked. */
#ifndef GH_ALLOWLIST_H
#define GH_ALLOWLIST_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* 1 if addr may act for the scope (tenant id, or 0 for system admins). */
int allowlist_permits(int64_t scope, const char *addr);

/* Add a range; -1 with why for a bad CIDR or a duplicate. */
int allowlist_add(int64_t scope, const char *cidr, const char *note, int64_t *id, char *why, size_t whylen);
/* Remove by id within the scope: 0, 1 not found, -1 error. */
int allowlist_remove(int64_t scope, int64_t id);
int allowlist_list(int64_t scope, cJSON *out);

#endif
