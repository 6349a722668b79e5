/* state: the appliance's state directory (database, keys, certificates,
 * backups). It is created with mode 0700 at first start; a directory that is
 * reachable by other users is tightened, and one owned by somebody else is
 * refused, because it holds key material. */
#ifndef GH_STATE_H
#define GH_STATE_H

#include <stddef.h>

/* Create or check dir and remember it. Returns 0, or -1 with reason in err. */
int state_open(const char *dir, char *err, size_t errlen);

/* Create (mode 0700) a subdirectory of the state dir if missing. */
int state_mkdir(const char *rel, char *err, size_t errlen);

/* "STATE/rel" into buf; returns buf. */
const char *state_path(const char *rel, char *buf, size_t len);

const char *state_dir(void);

/* Take the exclusive lock that only one 'serve' per state dir may hold.
 * Returns 0, or -1 if another instance holds it. */
int state_lock_serve(char *err, size_t errlen);

/* Write a file atomically: temporary name, fsync, rename, fsync of the
 * directory. mode applies to the new file. */
int state_write_file(const char *path, const void *data, size_t len, int mode, char *err,
		     size_t errlen);

#endif
