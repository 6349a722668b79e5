#include "registry.h"

#include "core/db.h"
#include "domain/devices.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char uid[DEVICE_UID_LEN];
	struct registry_entry e;
	int used; /* 0 empty, 1 used, 2 removed (tombstone) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static size_t cap, count;

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct slot *find(const char *uid, int for_insert)
{
	struct slot *tomb = NULL;

	if (!cap)
		return NULL;
	for (size_t i = hash(uid) & (cap - 1), n = 0; n < cap; i = (i + 1) & (cap - 1), n++) {
		if (slots[i].used == 0)
			return for_insert ? (tomb ? tomb : &slots[i]) : NULL;
		if (slots[i].used == 2) {
			if (!tomb)
				tomb = &slots[i];
			continue;
		}
		if (strcmp(slots[i].uid, uid) == 0)
			return &slots[i];
	}
	return for_insert ? tomb : NULL;
}

static int grow(void)
{
	struct slot *old = slots;
	size_t oldcap = cap;

	cap = cap ? cap * 2 : 1024;
	slots = calloc(cap, sizeof *slots);
	if (!slots) {
		slots = old;
		cap = oldcap;
		return -1;
	}
	count = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used == 1) {
			struct slot *s = find(old[i].uid, 1);
			*s = old[i];
			count++;
		}
	free(old);
	return 0;
}

void registry_put(const char *uid, const struct registry_entry *e)
{
	struct slot *s;

	pthread_mutex_lock(&mu);
	if ((count + 1) * 2 > cap && grow() < 0) {
		pthread_mutex_unlock(&mu);
		return;
	}
	s = find(uid, 1);
	if (s) {
		if (s->used != 1)
			count++;
		snprintf(s->uid, sizeof s->uid, "%s", uid);
		s->e = *e;
		s->used = 1;
	}
	pthread_mutex_unlock(&mu);
}

void registry_remove(const char *uid)
{
	struct slot *s;

	pthread_mutex_lock(&mu);
	s = find(uid, 0);
	if (s) {
		s->used = 2;
		count--;
	}
	pthread_mutex_unlock(&mu);
}

int registry_get(const char *uid, struct registry_entry *e)
{
	struct slot *s;
	int found = 0;

	pthread_mutex_lock(&mu);
	s = find(uid, 0);
	if (s) {
		*e = s->e;
		found = 1;
	}
	pthread_mutex_unlock(&mu);
	return found;
}

void registry_clear(void)
{
	pthread_mutex_lock(&mu);
	free(slots);
	slots = NULL;
	cap = count = 0;
	pthread_mutex_unlock(&mu);
}

int registry_load(void)
{
	sqlite3_stmt *st = db_stmt("SELECT uid, id, tenant_id, status = 'active', coalesce(cert_serial, '') FROM devices");
	int n = 0;

	if (!st)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct registry_entry e = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3), ""};
		snprintf(e.serial, sizeof e.serial, "%s", sqlite3_column_text(st, 4));
		registry_put((const char *)sqlite3_column_text(st, 0), &e);
		n++;
	}
	sqlite3_reset(st);
	return n;
}
