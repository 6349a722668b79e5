/* decide: the one access decision. May this credential open this door at
 * this instant, and if not, why not? A pure function over plain structs:
 * the server's what-if check and access checks, and the terminals' offline
 * logic (given the same synced data), all call it, so they always agree.
 *
 * Rules, in order (the first failing one is the reason):
 *   credential unknown; credential not active; before its valid_from; after
 *   its valid_until; person suspended; before the person's valid_from; after
 *   their valid_until; no access level of theirs covers the door; outside
 *   every covering level's schedule (reason "holiday" when the day is a
 *   holiday of that schedule and its holiday windows do not cover the time).
 * Validity bounds are civil date-times in the door's site time zone
 * ("2026-12-01T09:00:00"), compared with the instant's civil time there;
 * from is inclusive, until is exclusive. They are compared as text, on
 * their first 19 characters, so a bare date "2026-12-01" counts as its
 * 00:00:00; NULL or "" means no bound.
 *
 * Schedules: windows per weekday (0 = Monday .. 6 = Sunday) and a holiday
 * pseudo-day (7). A window belongs to the day it starts on; one whose end is
 * not after its start spans midnight into the next day (22:00-06:00). On a
 * date listed in the schedule's holidays, that day's weekday windows are
 * replaced by the holiday windows (day 7); a window that started the day
 * before still runs to its end (it is that day's window: a weekday window
 * if that date was not a holiday, a holiday window if it was). All dates
 * and times of day are the door's local ones.
 *
 * The grant names the first level, in array order, whose schedule covers
 * the time. When none does, the reason is "holiday" if the local date is a
 * holiday of at least one level's schedule, else "outside_schedule". A
 * window with a field out of range, and a level whose schedule is NULL,
 * cover nothing. A NULL zone is UTC. decide() allocates nothing. */
#ifndef GH_DECIDE_H
#define GH_DECIDE_H

#include "core/tz.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum decide_reason {
	DR_GRANTED,
	DR_UNKNOWN_CREDENTIAL,
	DR_CREDENTIAL_INACTIVE,
	DR_CREDENTIAL_NOT_YET_VALID,
	DR_CREDENTIAL_EXPIRED,
	DR_PERSON_SUSPENDED,
	DR_PERSON_NOT_YET_VALID,
	DR_PERSON_EXPIRED,
	DR_NO_ACCESS_LEVEL,
	DR_OUTSIDE_SCHEDULE,
	DR_HOLIDAY,
};

struct decide_window {
	int day;        /* 0 Monday .. 6 Sunday, 7 holiday */
	int start_min;  /* 0..1439 */
	int end_min;    /* 1..1440; <= start_min: spans midnight */
};

struct decide_schedule {
	const struct decide_window *windows;
	size_t nwindows;
	const char *const *holidays; /* exactly "YYYY-MM-DD", any order */
	size_t nholidays;
};

/* An access level that covers the door for this person. */
struct decide_level {
	int64_t id;
	const struct decide_schedule *schedule;
};

struct decide_query {
	int credential_known;
	int credential_active;          /* status "active" */
	const char *credential_from;    /* civil date-time, or NULL/"" for none */
	const char *credential_until;
	int person_active;              /* status "active" */
	const char *person_from;
	const char *person_until;
	const struct tz *zone;          /* the door's site time zone */
	const struct decide_level *levels;
	size_t nlevels;
	time_t instant;
};

struct decide_result {
	int grant;
	enum decide_reason reason;
	int64_t level_id;  /* the level that granted, 0 otherwise */
};

void decide(const struct decide_query *q, struct decide_result *r);

/* "granted", "unknown_credential", ... (stable: used in the API and events);
 * "invalid" for a value outside the enum. */
const char *decide_reason_name(enum decide_reason r);

/* Validate a civil date-time "YYYY-MM-DDTHH:MM:SS" (also accepts
 * "YYYY-MM-DD", meaning 00:00:00, and rewrites it in full into out[20]).
 * Nothing else is accepted: no spaces, zone suffix or fraction; month
 * 1-12, a day of that month (leap years included), 00:00:00-23:59:59.
 * out may be in itself or NULL. 0 or -1. */
int decide_parse_civil(const char *in, char out[20]);

#endif
