/* local: a terminal's local copy of the access data and the decisions it
 * makes from it, online or offline (docs/device-protocol.md, section 6).
 *
 * The copy holds the terminal's doors, the levels covering them, their
 * schedules, the people of those levels' groups and their cards as keyed
 * hashes. Changes arrive as sync messages ({"type", "op", "id", "data"});
 * local_apply records each one, and local_decide calls the appliance's own
 * decide() (domain/decide.h) with what the copy says, so the terminal and
 * the appliance's what-if check always agree on the same data.
 *
 * Changes are appended and settled lazily (stable sort by id, the last
 * change of a thing wins, deletions drop it), so a full sync of a large
 * copy costs one sort, and applying the same change twice is harmless, as
 * the protocol requires. Pure code: no I/O. */
#ifndef GH_DEVSIM_LOCAL_H
#define GH_DEVSIM_LOCAL_H

#include "domain/decide.h"

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define LOCAL_KEY_BYTES 32
#define LOCAL_CARD_MAX 40 /* an event's card: at most 39 bytes */

/* Every item starts with this: its id, the order it arrived in (for the
 * stable "last wins" settle) and whether it is a deletion. */
struct local_hdr {
	int64_t id;
	uint32_t order;
	uint8_t dead;
};

struct local_door {
	struct local_hdr h;
	int unlock_seconds, held_open_seconds;
	const struct tz *zone; /* NULL: UTC (also when the zone is unknown here) */
	char zone_name[64];
};

struct local_schedule {
	struct local_hdr h;
	struct decide_window *windows;
	size_t nwindows;
	char (*holiday_text)[11];
	const char **holidays;
	size_t nholidays;
};

struct local_level {
	struct local_hdr h;
	int64_t group_id, schedule_id;
	int64_t *doors;
	size_t ndoors;
};

struct local_person {
	struct local_hdr h;
	int active;
	char from[20], until[20]; /* civil date-times, "" for none */
	int64_t *groups;
	size_t ngroups;
};

struct local_cred {
	struct local_hdr h;
	int64_t person_id;
	char kind[12];          /* card, mobile (both with a hash), pin, face, fingerprint, ... */
	unsigned char hash[32]; /* card_hash or token_hash; zero for the other kinds */
	int active;
	char from[20], until[20];
};

/* One kind of thing, sorted by id once settled. */
struct local_table {
	char *items;
	size_t n, cap, elem;
	size_t settled;  /* items[0..settled) are sorted, unique and alive */
	void (*drop)(void *item);
};

struct local {
	unsigned char key[LOCAL_KEY_BYTES];
	int has_key;
	long long cursor;  /* of the last sync fully applied; 0 for none */
	uint32_t order;
	struct local_table doors, schedules, levels, people, creds;
	uint32_t *by_hash; /* credential indexes sorted by card hash */
	size_t nby_hash;
	int hash_stale;
};

void local_init(struct local *l);
void local_free(struct local *l);
/* Move src into dst (dst freed first; src is left empty). */
void local_move(struct local *dst, struct local *src);

/* The terminal key from a full sync (base64 of 32 bytes). 0 or -1. */
int local_set_key_b64(struct local *l, const char *b64);

/* Record one change. Unknown types are ignored (newer appliances may add
 * some); a malformed change is -1 with why, and nothing is recorded. */
int local_apply(struct local *l, const cJSON *change, char *why, size_t whylen);
/* Apply every element of a "changes" array; the number refused. */
int local_apply_all(struct local *l, const cJSON *changes, char *why, size_t whylen);

/* Sort and deduplicate what was recorded (local_decide and the lookups do
 * it themselves when needed). */
void local_settle(struct local *l);

/* The card hash of section 6.2: BLAKE2b-256 keyed with the terminal key
 * over the card's digits (full-width digits count; everything else is
 * dropped). 0, or -1 when the card has no digit. */
int local_card_hash(const unsigned char key[LOCAL_KEY_BYTES], const char *card, unsigned char out[32]);

/* Decide for a card read at door door_id (0: the terminal has no door) at
 * instant (Unix seconds), exactly as the appliance would from the same data. */
void local_decide(struct local *l, const char *card, int64_t door_id, time_t instant, struct decide_result *r);

/* Lookups (NULL when absent). */
const struct local_door *local_door(struct local *l, int64_t id);
size_t local_ndoors(struct local *l);
const struct local_door *local_door_at(struct local *l, size_t i);

/* The copy as a document: {"cursor", "terminal_key", "changes": [...]},
 * the changes in the sync format, so local_from_json is a full sync. */
cJSON *local_to_json(struct local *l);
int local_from_json(struct local *l, const cJSON *doc, char *why, size_t whylen);

#endif
