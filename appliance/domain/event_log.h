/* event_log: reading the events terminals reported (domain/events.c stores
 * them): filtered, newest first, a page at a time, with the names of the
 * door, terminal and site, and for callers allowed personal data the
 * person's name (opened by the vault) and the card masked to its last four
 * digits. Pages follow a keyset cursor on (at, id), so events arriving
 * while someone pages through never shift a page: no duplicates, no gaps
 * among the events that were there. */
#ifndef GH_EVENT_LOG_H
#define GH_EVENT_LOG_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct event_filter {
	int64_t tenant;
	long long from_ms, to_ms;          /* at >= from, at < to; 0: unbounded */
	int64_t site, door, device, person; /* 0: any */
	int64_t id;                        /* one event (the live stream); 0: any */
	const char *kind, *result;         /* NULL: any */
	int has_cursor;
	long long cursor_at;               /* events strictly before (at, id) */
	int64_t cursor_id;
	int limit;
	int personal;                      /* add person_name and card */
};

/* A page into out (JSON objects). next receives the cursor of the next
 * page ("" at the end). Returns the number of events, or -1. */
int event_list(const struct event_filter *f, cJSON *out, char *next, size_t nextlen);

/* "1795662292006:123" -> at and id; 0, or -1 when malformed. */
int event_cursor_parse(const char *s, long long *at, int64_t *id);

/* One event by id within a tenant (tenant < 0: any), or NULL. */
cJSON *event_get(int64_t tenant, int64_t id, int personal);

/* The tenant an event belongs to, or 0. */
int64_t event_tenant(int64_t id);

#endif
