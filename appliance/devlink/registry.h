/* registry: which terminals may connect, in memory, for the device link's
 * TLS checks (which must not wait for the database). Loaded at start and
 * updated by whoever changes a device (the API), under a mutex. */
#ifndef GH_REGISTRY_H
#define GH_REGISTRY_H

#include <stdint.h>

struct registry_entry {
	int64_t device_id, tenant;
	int active;         /* status 'active' */
	char serial[40];    /* the certificate that may connect */
};

/* Load every device from the database (this thread's connection). */
int registry_load(void);
/* Put or refresh one device (after enrolment, status change ...). */
void registry_put(const char *uid, const struct registry_entry *e);
void registry_remove(const char *uid);
/* 1 and *e if uid is known, else 0. */
int registry_get(const char *uid, struct registry_entry *e);
void registry_clear(void);

#endif
