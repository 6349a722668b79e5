/* local: the terminal's copy of its access data (see local.h). */
#include "devsim/local.h"

#include "core/tz.h"
#include "core/vault.h"
#include "web/json.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS_PER_DECISION 64
#define MAX_LIST 4096 /* windows, holidays, doors or groups in one item */

/* --- tables ------------------------------------------------------------------ */

static void drop_schedule(void *p)
{
	struct local_schedule *s = p;

	free(s->windows);
	free(s->holiday_text);
	free(s->holidays);
}

static void drop_level(void *p)
{
	free(((struct local_level *)p)->doors);
}

static void drop_person(void *p)
{
	free(((struct local_person *)p)->groups);
}

static void table_init(struct local_table *t, size_t elem, void (*drop)(void *))
{
	memset(t, 0, sizeof *t);
	t->elem = elem;
	t->drop = drop;
}

static void *item(const struct local_table *t, size_t i)
{
	return t->items + i * t->elem;
}

static void table_free(struct local_table *t)
{
	if (t->drop)
		for (size_t i = 0; i < t->n; i++)
			t->drop(item(t, i));
	free(t->items);
	t->items = NULL;
	t->n = t->cap = t->settled = 0;
}

/* Append a copy of it (its pointers now belong to the table). */
static int table_append(struct local_table *t, const void *it)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char *bigger = realloc(t->items, cap * t->elem);
		if (!bigger)
			return -1;
		t->items = bigger;
		t->cap = cap;
	}
	memcpy(item(t, t->n++), it, t->elem);
	return 0;
}

static int by_id_then_order(const void *a, const void *b)
{
	const struct local_hdr *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sort by (id, arrival), keep the last record of each id, drop deletions. */
static int table_settle(struct local_table *t)
{
	size_t out = 0;

	if (t->settled == t->n)
		return 0;
	qsort(t->items, t->n, t->elem, by_id_then_order);
	for (size_t i = 0; i < t->n; i++) {
		struct local_hdr *h = (struct local_hdr *)item(t, i);
		int superseded = i + 1 < t->n && ((struct local_hdr *)item(t, i + 1))->id == h->id;

		if (superseded || h->dead) {
			if (t->drop && !h->dead)
				t->drop(h);
			continue;
		}
		if (out != i)
			memcpy(item(t, out), h, t->elem);
		out++;
	}
	t->n = t->settled = out;
	return 1;
}

static void *table_find(const struct local_table *t, int64_t id)
{
	size_t lo = 0, hi = t->settled;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct local_hdr *h = (struct local_hdr *)item(t, mid);
		if (h->id == id)
			return h;
		if (h->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void local_init(struct local *l)
{
	memset(l, 0, sizeof *l);
	table_init(&l->doors, sizeof(struct local_door), NULL);
	table_init(&l->schedules, sizeof(struct local_schedule), drop_schedule);
	table_init(&l->levels, sizeof(struct local_level), drop_level);
	table_init(&l->people, sizeof(struct local_person), drop_person);
	table_init(&l->creds, sizeof(struct local_cred), NULL);
}

void local_free(struct local *l)
{
	table_free(&l->doors);
	table_free(&l->schedules);
	table_free(&l->levels);
	table_free(&l->people);
	table_free(&l->creds);
	free(l->by_hash);
	sodium_memzero(l->key, sizeof l->key);
	local_init(l);
}

void local_move(struct local *dst, struct local *src)
{
	local_free(dst);
	*dst = *src;
	memset(src->key, 0, sizeof src->key);
	src->by_hash = NULL;
	local_init(src);
}

int local_set_key_b64(struct local *l, const char *b64)
{
	size_t len = 0;

	if (!b64 || sodium_base642bin(l->key, sizeof l->key, b64, strlen(b64), NULL, &len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != sizeof l->key) {
		sodium_memzero(l->key, sizeof l->key);
		l->has_key = 0;
		return -1;
	}
	l->has_key = 1;
	return 0;
}

/* --- parsing changes ------------------------------------------------------------- */

/* A civil date-time member: "" for null or absent. Validated as the
 * appliance validates it (a bare date means its 00:00:00). */
static int civil(const cJSON *data, const char *name, char out[20])
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(data, name);

	out[0] = '\0';
	if (!m || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsString(m))
		return -1;
	if (!m->valuestring[0])
		return 0;
	return decide_parse_civil(m->valuestring, out);
}

static int int_member(const cJSON *data, const char *name, long long min, long long max, long long def,
		      long long *out)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(data, name);

	if (!m || cJSON_IsNull(m)) {
		*out = def;
		return 0;
	}
	return json_int(m, min, max, out);
}

/* An array of ids into a malloc'd list. */
static int id_list(const cJSON *data, const char *name, int64_t **out, size_t *n)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, name), *e;
	int count;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr) || (count = cJSON_GetArraySize(arr)) > MAX_LIST)
		return -1;
	if (count == 0)
		return 0;
	if (!(*out = calloc((size_t)count, sizeof **out)))
		return -1;
	cJSON_ArrayForEach(e, arr)
	{
		long long v;
		if (json_int(e, 1, INT64_MAX, &v) < 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i++] = v;
	}
	*n = i;
	return 0;
}

static int active_status(const cJSON *data)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(data, "status");

	return cJSON_IsString(s) && strcmp(s->valuestring, "active") == 0;
}

static int parse_door(const cJSON *data, void *item_)
{
	struct local_door *d = item_;
	const cJSON *tz = cJSON_GetObjectItemCaseSensitive(data, "timezone");
	long long v;

	if (int_member(data, "unlock_seconds", 0, 3600, 5, &v) < 0)
		return -1;
	d->unlock_seconds = (int)v;
	if (int_member(data, "held_open_seconds", 0, 86400, 30, &v) < 0)
		return -1;
	d->held_open_seconds = (int)v;
	if (tz && !cJSON_IsNull(tz) && !cJSON_IsString(tz))
		return -1;
	if (cJSON_IsString(tz)) {
		snprintf(d->zone_name, sizeof d->zone_name, "%s", tz->valuestring);
		/* An unknown zone decides in UTC, as the appliance's decide() does
		 * with a NULL zone; the door stays usable. */
		d->zone = tz_get(tz->valuestring);
	}
	return 0;
}

static int parse_schedule(const cJSON *data, void *item_)
{
	struct local_schedule *s = item_;
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(data, "windows");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(data, "holidays"), *e;
	int nw = cJSON_IsArray(w) ? cJSON_GetArraySize(w) : 0, nh = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : 0;

	if ((w && !cJSON_IsNull(w) && !cJSON_IsArray(w)) || (h && !cJSON_IsNull(h) && !cJSON_IsArray(h)) ||
	    nw > MAX_LIST || nh > MAX_LIST)
		return -1;
	if (nw && !(s->windows = calloc((size_t)nw, sizeof *s->windows)))
		return -1;
	cJSON_ArrayForEach(e, (cJSON_IsArray(w) ? w : NULL))
	{
		long long v[3];
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 3)
			return -1;
		for (int k = 0; k < 3; k++)
			if (json_int(cJSON_GetArrayItem(e, k), 0, 1440, &v[k]) < 0)
				return -1;
		s->windows[s->nwindows].day = (int)v[0];
		s->windows[s->nwindows].start_min = (int)v[1];
		s->windows[s->nwindows++].end_min = (int)v[2];
	}
	if (nh && (!(s->holiday_text = calloc((size_t)nh, sizeof *s->holiday_text)) ||
		   !(s->holidays = calloc((size_t)nh, sizeof *s->holidays))))
		return -1;
	cJSON_ArrayForEach(e, (cJSON_IsArray(h) ? h : NULL))
	{
		char full[20];
		if (!cJSON_IsString(e) || strlen(e->valuestring) != 10 || decide_parse_civil(e->valuestring, full) < 0)
			return -1;
		memcpy(s->holiday_text[s->nholidays], e->valuestring, 11);
		s->holidays[s->nholidays] = s->holiday_text[s->nholidays];
		s->nholidays++;
	}
	return 0;
}

static int parse_level(const cJSON *data, void *item_)
{
	struct local_level *lv = item_;
	long long g, s;

	if (int_member(data, "group_id", 0, INT64_MAX, 0, &g) < 0 ||
	    int_member(data, "schedule_id", 0, INT64_MAX, 0, &s) < 0)
		return -1;
	lv->group_id = g;
	lv->schedule_id = s;
	return id_list(data, "door_ids", &lv->doors, &lv->ndoors);
}

static int parse_person(const cJSON *data, void *item_)
{
	struct local_person *p = item_;
	p->active = active_status(data);
	if (civil(data, "valid_from", p->from) < 0 || civil(data, "valid_until", p->until) < 0)
		return -1;
	return id_list(data, "group_ids", &p->groups, &p->ngroups);
}

/* A credential of every kind is kept (the copy mirrors the appliance's);
 * this simulator reads cards, so only cards and mobile tokens need their
 * hash. Without "kind" it is a card, as the first appliances sent them. */
static int parse_cred(const cJSON *data, void *item_)
{
	struct local_cred *c = item_;
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(data, "kind");
	const cJSON *hash;
	long long person;
	size_t len = 0;

	if (kind && (!cJSON_IsString(kind) || !kind->valuestring[0] || strlen(kind->valuestring) >= sizeof c->kind))
		return -1;
	snprintf(c->kind, sizeof c->kind, "%s", kind ? kind->valuestring : "card");
	hash = cJSON_GetObjectItemCaseSensitive(data, strcmp(c->kind, "mobile") == 0 ? "token_hash" : "card_hash");
	if (int_member(data, "person_id", 1, INT64_MAX, 0, &person) < 0 || !person)
		return -1;
	if ((strcmp(c->kind, "card") == 0 || strcmp(c->kind, "mobile") == 0) &&
	    (!cJSON_IsString(hash) ||
	     sodium_base642bin(c->hash, sizeof c->hash, hash->valuestring, strlen(hash->valuestring), NULL, &len,
			       NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	     len != sizeof c->hash))
		return -1;
	c->person_id = person;
	c->active = active_status(data);
	if (civil(data, "valid_from", c->from) < 0 || civil(data, "valid_until", c->until) < 0)
		return -1;
	return 0;
}

/* The table and parser of a change type. */
static struct local_table *table_of(struct local *l, const char *type, int (**parse)(const cJSON *, void *))
{
	static const struct {
		const char *type;
		size_t off;
		int (*parse)(const cJSON *, void *);
	} types[] = {
		{"door", offsetof(struct local, doors), parse_door},
		{"schedule", offsetof(struct local, schedules), parse_schedule},
		{"level", offsetof(struct local, levels), parse_level},
		{"person", offsetof(struct local, people), parse_person},
		{"credential", offsetof(struct local, creds), parse_cred},
	};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(types[i].type, type) == 0) {
			*parse = types[i].parse;
			return (struct local_table *)((char *)l + types[i].off);
		}
	return NULL;
}

int local_apply(struct local *l, const cJSON *change, char *why, size_t whylen)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(change, "type");
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(change, "op");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(change, "data");
	int (*parse)(const cJSON *, void *) = NULL;
	struct local_table *t;
	long long id;
	union {
		struct local_hdr h;
		struct local_door d;
		struct local_schedule s;
		struct local_level lv;
		struct local_person p;
		struct local_cred c;
	} it;
	int del;

	if (!cJSON_IsString(type) || !cJSON_IsString(op) ||
	    json_int(cJSON_GetObjectItemCaseSensitive(change, "id"), 1, INT64_MAX, &id) < 0) {
		snprintf(why, whylen, "a change needs type, op and a positive id");
		return -1;
	}
	if (!(t = table_of(l, type->valuestring, &parse)))
		return 0; /* a type from a newer appliance */
	del = strcmp(op->valuestring, "delete") == 0;
	if (!del && strcmp(op->valuestring, "upsert") != 0) {
		snprintf(why, whylen, "unknown op '%.20s'", op->valuestring);
		return -1;
	}
	memset(&it, 0, sizeof it);
	if (!del && (!cJSON_IsObject(data) || parse(data, &it) < 0)) {
		if (t->drop)
			t->drop(&it);
		snprintf(why, whylen, "malformed %s %lld", type->valuestring, id);
		return -1;
	}
	it.h.id = id;
	it.h.order = ++l->order;
	it.h.dead = (uint8_t)del;
	if (table_append(t, &it) < 0) {
		if (t->drop)
			t->drop(&it);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (t == &l->creds)
		l->hash_stale = 1;
	return 0;
}

int local_apply_all(struct local *l, const cJSON *changes, char *why, size_t whylen)
{
	const cJSON *c;
	int bad = 0;

	cJSON_ArrayForEach(c, (cJSON_IsArray(changes) ? changes : NULL))
		bad += local_apply(l, c, why, whylen) < 0;
	return bad;
}

/* --- settling and lookups ----------------------------------------------------------- */

static const struct local *hash_sort_ctx;

static int by_hash(const void *a, const void *b)
{
	const struct local_cred *x = item(&hash_sort_ctx->creds, *(const uint32_t *)a);
	const struct local_cred *y = item(&hash_sort_ctx->creds, *(const uint32_t *)b);

	return memcmp(x->hash, y->hash, sizeof x->hash);
}

void local_settle(struct local *l)
{
	table_settle(&l->doors);
	table_settle(&l->schedules);
	table_settle(&l->levels);
	table_settle(&l->people);
	if (table_settle(&l->creds) || l->hash_stale) {
		uint32_t *idx = l->creds.n ? malloc(l->creds.n * sizeof *idx) : NULL;

		free(l->by_hash);
		l->by_hash = idx;
		l->nby_hash = idx ? l->creds.n : 0;
		for (size_t i = 0; i < l->nby_hash; i++)
			idx[i] = (uint32_t)i;
		/* Single-threaded: qsort has no context argument. */
		hash_sort_ctx = l;
		if (l->nby_hash > 1)
			qsort(idx, l->nby_hash, sizeof *idx, by_hash);
		l->hash_stale = 0;
	}
}

/* The credential of KIND with this hash: the first of the equal run in
 * the sorted index (a mobile token's hash may equal a card's), then
 * forward through the run. */
static const struct local_cred *cred_by_hash(const struct local *l, const unsigned char hash[32], const char *kind)
{
	size_t lo = 0, hi = l->nby_hash;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(((const struct local_cred *)item(&l->creds, l->by_hash[mid]))->hash, hash, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < l->nby_hash; lo++) {
		const struct local_cred *c = item(&l->creds, l->by_hash[lo]);
		if (memcmp(c->hash, hash, 32) != 0)
			break;
		if (strcmp(c->kind, kind) == 0)
			return c;
	}
	return NULL;
}

const struct local_door *local_door(struct local *l, int64_t id)
{
	local_settle(l);
	return table_find(&l->doors, id);
}

size_t local_ndoors(struct local *l)
{
	local_settle(l);
	return l->doors.n;
}

const struct local_door *local_door_at(struct local *l, size_t i)
{
	local_settle(l);
	return i < l->doors.n ? item(&l->doors, i) : NULL;
}

int local_card_hash(const unsigned char key[LOCAL_KEY_BYTES], const char *card, unsigned char out[32])
{
	/* The appliance's own normalisation and hash, so they cannot drift apart. */
	return vault_card_hash(key, card, out) == VAULT_OK ? 0 : -1;
}

static int has_id(const int64_t *list, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return 1;
	return 0;
}

void local_decide(struct local *l, const char *card, int64_t door_id, time_t instant, struct decide_result *r)
{
	struct decide_level levels[MAX_LEVELS_PER_DECISION];
	struct decide_schedule schedules[MAX_LEVELS_PER_DECISION];
	struct decide_query q;
	const struct local_cred *c = NULL;
	const struct local_person *p = NULL;
	const struct local_door *d;
	unsigned char hash[32];

	local_settle(l);
	memset(&q, 0, sizeof q);
	q.instant = instant;
	d = door_id ? table_find(&l->doors, door_id) : NULL;
	q.zone = d ? d->zone : NULL;
	if (l->has_key && card && local_card_hash(l->key, card, hash) == 0)
		c = cred_by_hash(l, hash, "card"); /* a card read matches cards only */
	/* As on the appliance, a credential counts only with its person. */
	if (c)
		p = table_find(&l->people, c->person_id);
	if (c && p) {
		q.credential_known = 1;
		q.credential_active = c->active;
		q.credential_from = c->from;
		q.credential_until = c->until;
		q.person_active = p->active;
		q.person_from = p->from;
		q.person_until = p->until;
		/* Levels in id order, as the appliance lists them. */
		for (size_t i = 0; d && i < l->levels.n && q.nlevels < MAX_LEVELS_PER_DECISION; i++) {
			const struct local_level *lv = item(&l->levels, i);
			const struct local_schedule *s;
			if (!has_id(p->groups, p->ngroups, lv->group_id) || !has_id(lv->doors, lv->ndoors, door_id))
				continue;
			s = table_find(&l->schedules, lv->schedule_id);
			levels[q.nlevels].id = lv->h.id;
			levels[q.nlevels].schedule = NULL;
			if (s) {
				schedules[q.nlevels].windows = s->windows;
				schedules[q.nlevels].nwindows = s->nwindows;
				schedules[q.nlevels].holidays = s->holidays;
				schedules[q.nlevels].nholidays = s->nholidays;
				levels[q.nlevels].schedule = &schedules[q.nlevels];
			}
			q.nlevels++;
		}
		q.levels = levels;
	}
	decide(&q, r);
	sodium_memzero(hash, sizeof hash);
}

/* --- the copy as a document -------------------------------------------------------------- */

static void add_civil(cJSON *o, const char *name, const char *v)
{
	if (v[0])
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static void add_ids(cJSON *o, const char *name, const int64_t *ids, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, name);

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)ids[i]));
}

static cJSON *change(cJSON *changes, const char *type, int64_t id)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "op", "upsert");
	cJSON_AddNumberToObject(c, "id", (double)id);
	cJSON_AddItemToArray(changes, c);
	return cJSON_AddObjectToObject(c, "data");
}

static void dump_doors_and_schedules(struct local *l, cJSON *changes)
{
	for (size_t i = 0; i < l->doors.n; i++) {
		const struct local_door *d = item(&l->doors, i);
		cJSON *x = change(changes, "door", d->h.id);
		cJSON_AddNumberToObject(x, "unlock_seconds", d->unlock_seconds);
		cJSON_AddNumberToObject(x, "held_open_seconds", d->held_open_seconds);
		if (d->zone_name[0])
			cJSON_AddStringToObject(x, "timezone", d->zone_name);
		else
			cJSON_AddNullToObject(x, "timezone");
	}
	for (size_t i = 0; i < l->schedules.n; i++) {
		const struct local_schedule *s = item(&l->schedules, i);
		cJSON *x = change(changes, "schedule", s->h.id), *w = cJSON_AddArrayToObject(x, "windows");
		cJSON *h = cJSON_AddArrayToObject(x, "holidays");
		for (size_t k = 0; k < s->nwindows; k++) {
			int v[3] = {s->windows[k].day, s->windows[k].start_min, s->windows[k].end_min};
			cJSON_AddItemToArray(w, cJSON_CreateIntArray(v, 3));
		}
		for (size_t k = 0; k < s->nholidays; k++)
			cJSON_AddItemToArray(h, cJSON_CreateString(s->holidays[k]));
	}
}

static void dump_people(struct local *l, cJSON *changes)
{
	for (size_t i = 0; i < l->levels.n; i++) {
		const struct local_level *lv = item(&l->levels, i);
		cJSON *x = change(changes, "level", lv->h.id);
		cJSON_AddNumberToObject(x, "group_id", (double)lv->group_id);
		cJSON_AddNumberToObject(x, "schedule_id", (double)lv->schedule_id);
		add_ids(x, "door_ids", lv->doors, lv->ndoors);
	}
	for (size_t i = 0; i < l->people.n; i++) {
		const struct local_person *p = item(&l->people, i);
		cJSON *x = change(changes, "person", p->h.id);
		cJSON_AddStringToObject(x, "status", p->active ? "active" : "inactive");
		add_civil(x, "valid_from", p->from);
		add_civil(x, "valid_until", p->until);
		add_ids(x, "group_ids", p->groups, p->ngroups);
	}
	for (size_t i = 0; i < l->creds.n; i++) {
		const struct local_cred *c = item(&l->creds, i);
		char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
		cJSON *x = change(changes, "credential", c->h.id);
		sodium_bin2base64(b64, sizeof b64, c->hash, sizeof c->hash, sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddNumberToObject(x, "person_id", (double)c->person_id);
		cJSON_AddStringToObject(x, "kind", c->kind);
		if (strcmp(c->kind, "card") == 0 || strcmp(c->kind, "mobile") == 0)
			cJSON_AddStringToObject(x, c->kind[0] == 'c' ? "card_hash" : "token_hash", b64);
		cJSON_AddStringToObject(x, "status", c->active ? "active" : "inactive");
		add_civil(x, "valid_from", c->from);
		add_civil(x, "valid_until", c->until);
	}
}

cJSON *local_to_json(struct local *l)
{
	cJSON *doc = cJSON_CreateObject();
	char b64[sodium_base64_ENCODED_LEN(LOCAL_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)];

	if (!doc)
		return NULL;
	local_settle(l);
	cJSON_AddNumberToObject(doc, "cursor", (double)l->cursor);
	if (l->has_key) {
		sodium_bin2base64(b64, sizeof b64, l->key, sizeof l->key, sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddStringToObject(doc, "terminal_key", b64);
		sodium_memzero(b64, sizeof b64);
	}
	cJSON *changes = cJSON_AddArrayToObject(doc, "changes");
	dump_doors_and_schedules(l, changes);
	dump_people(l, changes);
	return doc;
}

int local_from_json(struct local *l, const cJSON *doc, char *why, size_t whylen)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(doc, "terminal_key");
	long long cursor;

	local_free(l);
	if (!cJSON_IsObject(doc) || json_int(cJSON_GetObjectItemCaseSensitive(doc, "cursor"), 0, INT64_MAX, &cursor) < 0) {
		snprintf(why, whylen, "not a saved copy");
		return -1;
	}
	if (key && local_set_key_b64(l, cJSON_IsString(key) ? key->valuestring : NULL) < 0) {
		snprintf(why, whylen, "bad terminal key");
		return -1;
	}
	if (local_apply_all(l, cJSON_GetObjectItemCaseSensitive(doc, "changes"), why, whylen) > 0) {
		local_free(l);
		return -1;
	}
	l->cursor = cursor;
	local_settle(l);
	return 0;
}
