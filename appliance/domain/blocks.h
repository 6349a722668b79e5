/* blocks: addresses blocked for abuse, kept in the database (visible and
 * removable by a system admin, kept across restarts) and mirrored into the
 * in-memory abuse module that every request consults. */
#ifndef GH_BLOCKS_H
#define GH_BLOCKS_H

#include <cJSON.h>

/* Record a block (audited, alert raised) and apply it in memory. */
int block_add(const char *addr, const char *reason, long long until_s);
/* Remove: 0, 1 if there was none, -1 on error. */
int block_remove(const char *addr);
int block_list(cJSON *out);
/* Load unexpired blocks into memory at start. */
int blocks_load(void);

#endif
