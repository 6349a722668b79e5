#include "termsync.h"

#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The message being filled, flushed every TERMSYNC_BATCH changes. */
struct out {
	termsync_emit emit;
	void *arg;
	cJSON *msg, *changes;
	int full, count, failed;
	size_t bytes;             /* about what the message's changes weigh */
	unsigned char key[32];
	const struct device *d;
	/* Things already sent in this answer: a person reached through two
	 * levels is sent once. */
	struct seen { char type; int64_t id; } *seen;
	size_t nseen, capseen;
};

static int was_sent(struct out *o, char type, int64_t id)
{
	for (size_t i = 0; i < o->nseen; i++)
		if (o->seen[i].type == type && o->seen[i].id == id)
			return 1;
	if (o->nseen == o->capseen) {
		size_t cap = o->capseen ? o->capseen * 2 : 256;
		struct seen *bigger = realloc(o->seen, cap * sizeof *bigger);
		if (!bigger)
			return 0;
		o->seen = bigger;
		o->capseen = cap;
	}
	o->seen[o->nseen].type = type;
	o->seen[o->nseen++].id = id;
	return 0;
}

static void new_msg(struct out *o)
{
	o->msg = cJSON_CreateObject();
	cJSON_AddBoolToObject(o->msg, "full", o->full);
	o->changes = cJSON_AddArrayToObject(o->msg, "changes");
	o->count = 0;
	o->bytes = 0;
}

static void flush(struct out *o, int done, long long cursor)
{
	cJSON_AddBoolToObject(o->msg, "done", done);
	if (done)
		cJSON_AddNumberToObject(o->msg, "cursor", (double)cursor);
	if (o->emit(o->arg, o->msg) < 0)
		o->failed = 1;
	cJSON_Delete(o->msg);
	o->full = 0; /* only the first message clears the terminal's data */
	new_msg(o);
}

/* weight: the bytes of a large member (a template), beyond the ~200 of
 * an ordinary change. */
static void add_weighted(struct out *o, const char *type, const char *op, int64_t id, cJSON *data, size_t weight)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "op", op);
	cJSON_AddNumberToObject(c, "id", (double)id);
	if (data)
		cJSON_AddItemToObject(c, "data", data);
	cJSON_AddItemToArray(o->changes, c);
	o->bytes += 200 + weight;
	if (++o->count >= TERMSYNC_BATCH || o->bytes >= TERMSYNC_MAX_BYTES)
		flush(o, 0, 0);
}

static void add(struct out *o, const char *type, const char *op, int64_t id, cJSON *data)
{
	add_weighted(o, type, op, id, data, 0);
}

static void add_text(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, (const char *)sqlite3_column_text(st, col));
}

/* --- relevance: is this thing part of the terminal's world? ------------------ */

static int scalar(sqlite3_stmt *st)
{
	int v = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	if (st)
		sqlite3_reset(st);
	return v;
}

static int door_mine(const struct device *d, int64_t door)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM doors WHERE id = ? AND terminal_id = ?");
	sqlite3_bind_int64(st, 1, door);
	sqlite3_bind_int64(st, 2, d->id);
	return scalar(st) > 0;
}

static int level_mine(const struct device *d, int64_t level)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM access_level_doors ld JOIN doors dr ON dr.id = ld.door_id "
				   "WHERE ld.level_id = ? AND dr.terminal_id = ?");
	sqlite3_bind_int64(st, 1, level);
	sqlite3_bind_int64(st, 2, d->id);
	return scalar(st) > 0;
}

#define MY_LEVELS                                                                             \
	"SELECT DISTINCT l.id FROM access_levels l JOIN access_level_doors ld ON ld.level_id = l.id " \
	"JOIN doors dr ON dr.id = ld.door_id WHERE dr.terminal_id = ?1"

static int schedule_mine(const struct device *d, int64_t schedule)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM access_levels WHERE schedule_id = ?2 AND id IN (" MY_LEVELS ")");
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_int64(st, 2, schedule);
	return scalar(st) > 0;
}

static int person_mine(const struct device *d, int64_t person)
{
	sqlite3_stmt *st = db_stmt("SELECT count(*) FROM group_members m JOIN access_levels l ON l.group_id = m.group_id "
				   "WHERE m.person_id = ?2 AND l.id IN (" MY_LEVELS ")");
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_int64(st, 2, person);
	return scalar(st) > 0;
}

/* --- views ------------------------------------------------------------------- */

static void send_door(struct out *o, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT dr.name, dr.unlock_seconds, dr.held_open_seconds, s.timezone "
				   "FROM doors dr JOIN sites s ON s.id = dr.site_id WHERE dr.id = ?");

	if (was_sent(o, 'D', id))
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *x = cJSON_CreateObject();
		add_text(x, "name", st, 0);
		cJSON_AddNumberToObject(x, "unlock_seconds", sqlite3_column_int(st, 1));
		cJSON_AddNumberToObject(x, "held_open_seconds", sqlite3_column_int(st, 2));
		add_text(x, "timezone", st, 3);
		sqlite3_reset(st);
		add(o, "door", "upsert", id, x);
		return;
	}
	sqlite3_reset(st);
}

static void send_schedule(struct out *o, int64_t id)
{
	sqlite3_stmt *st;
	cJSON *x, *w, *h;

	if (was_sent(o, 'S', id))
		return;
	x = cJSON_CreateObject();
	w = cJSON_AddArrayToObject(x, "windows");
	h = cJSON_AddArrayToObject(x, "holidays");
	st = db_stmt("SELECT day, start_min, end_min FROM schedule_windows WHERE schedule_id = ? ORDER BY day, start_min");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *win = cJSON_CreateArray();
		for (int i = 0; i < 3; i++)
			cJSON_AddItemToArray(win, cJSON_CreateNumber(sqlite3_column_int(st, i)));
		cJSON_AddItemToArray(w, win);
	}
	sqlite3_reset(st);
	st = db_stmt("SELECT h.date FROM holidays h JOIN schedules s ON s.holiday_set_id = h.holiday_set_id "
		     "WHERE s.id = ? ORDER BY h.date");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(h, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	add(o, "schedule", "upsert", id, x);
}

/* What a terminal matches a credential by, added to x: a keyed hash for a
 * card or a mobile token, the Argon2id string of a PIN, the template of a
 * face or fingerprint. Returns the bytes it weighs, or -1 to leave it out. */
static long credential_material(struct out *o, sqlite3_stmt *st, int64_t id, const char *kind, cJSON *x)
{
	struct vault_ref ref = {sqlite3_column_int64(st, 5), "credentials", "secret", id};
	unsigned char *plain, hash[32];
	size_t len, cap;
	char b64[64], *big;
	long weight = 0;

	if (strcmp(kind, "pin") == 0) {
		if (sqlite3_column_type(st, 7) == SQLITE_NULL)
			return -1;
		add_text(x, "pin_hash", st, 7);
		return 0;
	}
	if (vault_open_field(&ref, sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4), &plain, &len) !=
	    VAULT_OK)
		return -1;
	if (strcmp(kind, "card") == 0 || strcmp(kind, "mobile") == 0) {
		int rc = VAULT_OK;
		if (kind[0] == 'c')
			rc = vault_card_hash(o->key, (const char *)plain, hash);
		else
			vault_token_hash(o->key, (const char *)plain, len, hash);
		vault_free(plain, len);
		if (rc != VAULT_OK)
			return -1;
		sodium_bin2base64(b64, sizeof b64, hash, sizeof hash, sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddStringToObject(x, kind[0] == 'c' ? "card_hash" : "token_hash", b64);
		return 0;
	}
	/* face, fingerprint: the enrolled template, for the terminal's matcher. */
	cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	big = sodium_malloc(cap);
	if (big) {
		sodium_bin2base64(big, cap, plain, len, sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddStringToObject(x, "template", big);
		weight = (long)cap;
		sodium_free(big);
	}
	vault_free(plain, len);
	return big ? weight : -1;
}

static void send_credentials(struct out *o, int64_t person)
{
	sqlite3_stmt *st = db_stmt("SELECT id, status, valid_from, valid_until, secret, tenant_id, kind, pin_hash "
				   "FROM credentials WHERE person_id = ? ORDER BY id");
	int64_t ids[64];
	cJSON *datas[64];
	size_t weights[64];
	int n = 0;

	sqlite3_bind_int64(st, 1, person);
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 6);
		long weight;

		if (was_sent(o, 'C', id))
			continue;
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "person_id", (double)person);
		cJSON_AddStringToObject(x, "kind", kind);
		if ((weight = credential_material(o, st, id, kind, x)) < 0) {
			cJSON_Delete(x);
			continue;
		}
		add_text(x, "status", st, 1);
		add_text(x, "valid_from", st, 2);
		add_text(x, "valid_until", st, 3);
		ids[n] = id;
		weights[n] = (size_t)weight;
		datas[n++] = x;
	}
	sqlite3_reset(st);
	/* Added after the statement is done: add() may flush, which must not
	 * interleave with a statement in progress. */
	for (int i = 0; i < n; i++)
		add_weighted(o, "credential", "upsert", ids[i], datas[i], weights[i]);
}

static void send_person(struct out *o, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT status, valid_from, valid_until FROM people WHERE id = ?");
	cJSON *x;

	if (was_sent(o, 'P', id))
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return;
	}
	x = cJSON_CreateObject();
	add_text(x, "status", st, 0);
	add_text(x, "valid_from", st, 1);
	add_text(x, "valid_until", st, 2);
	sqlite3_reset(st);
	cJSON *groups = cJSON_AddArrayToObject(x, "group_ids");
	st = db_stmt("SELECT group_id FROM group_members WHERE person_id = ? ORDER BY group_id");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		cJSON_AddItemToArray(groups, cJSON_CreateNumber((double)sqlite3_column_int64(st, 0)));
	sqlite3_reset(st);
	add(o, "person", "upsert", id, x);
	send_credentials(o, id);
}

/* Ids from a query bound with the device id (?1) and maybe an id (?2). */
static int collect(const char *sql, int64_t device, int64_t arg, int64_t **ids)
{
	sqlite3_stmt *st = db_stmt(sql);
	size_t n = 0, cap = 0;

	*ids = NULL;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, device);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, arg);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *bigger = realloc(*ids, cap * sizeof **ids);
			if (!bigger)
				break;
			*ids = bigger;
		}
		(*ids)[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return (int)n;
}

/* A level with everything a terminal needs to use it: its schedule, and
 * the people of its group with their credentials. */
static void send_level(struct out *o, int64_t id)
{
	sqlite3_stmt *st = db_stmt("SELECT group_id, schedule_id FROM access_levels WHERE id = ?");
	int64_t group, schedule, *people, *doors;
	int n;
	cJSON *x;

	if (was_sent(o, 'L', id))
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return;
	}
	group = sqlite3_column_int64(st, 0);
	schedule = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	x = cJSON_CreateObject();
	cJSON_AddNumberToObject(x, "group_id", (double)group);
	cJSON_AddNumberToObject(x, "schedule_id", (double)schedule);
	cJSON *dl = cJSON_AddArrayToObject(x, "door_ids");
	n = collect("SELECT ld.door_id FROM access_level_doors ld JOIN doors dr ON dr.id = ld.door_id "
		    "WHERE dr.terminal_id = ?1 AND ld.level_id = ?2 ORDER BY ld.door_id", o->d->id, id, &doors);
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(dl, cJSON_CreateNumber((double)doors[i]));
	free(doors);
	send_schedule(o, schedule);
	add(o, "level", "upsert", id, x);
	n = collect("SELECT person_id FROM group_members WHERE group_id = ?2 AND ?1 = ?1 ORDER BY person_id", o->d->id, group,
		    &people);
	for (int i = 0; i < n; i++)
		send_person(o, people[i]);
	free(people);
}

static void send_all(struct out *o)
{
	int64_t *ids;
	int n = collect("SELECT id FROM doors WHERE terminal_id = ?1 ORDER BY id", o->d->id, 0, &ids);

	for (int i = 0; i < n; i++)
		send_door(o, ids[i]);
	free(ids);
	n = collect(MY_LEVELS " ORDER BY l.id", o->d->id, 0, &ids);
	for (int i = 0; i < n; i++)
		send_level(o, ids[i]);
	free(ids);
}

/* One change from the log, as it concerns this terminal now. */
static void send_change(struct out *o, const char *entity, int64_t id)
{
	const struct device *d = o->d;

	if (strcmp(entity, "door") == 0) {
		if (door_mine(d, id)) {
			send_door(o, id);
			int64_t *levels;
			int n = collect(MY_LEVELS " AND ld.door_id = ?2", d->id, id, &levels);
			for (int i = 0; i < n; i++)
				send_level(o, levels[i]);
			free(levels);
		} else {
			add(o, "door", "delete", id, NULL);
		}
	} else if (strcmp(entity, "level") == 0) {
		if (level_mine(d, id))
			send_level(o, id);
		else
			add(o, "level", "delete", id, NULL);
	} else if (strcmp(entity, "schedule") == 0) {
		if (schedule_mine(d, id))
			send_schedule(o, id);
		else
			add(o, "schedule", "delete", id, NULL);
	} else if (strcmp(entity, "person") == 0) {
		if (person_mine(d, id))
			send_person(o, id);
		else
			add(o, "person", "delete", id, NULL);
	} else if (strcmp(entity, "credential") == 0) {
		sqlite3_stmt *st = db_stmt("SELECT person_id FROM credentials WHERE id = ?");
		int64_t person = 0;
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			person = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (person && person_mine(d, person))
			send_credentials(o, person);
		else
			add(o, "credential", "delete", id, NULL);
	}
}

static long long log_bound(int64_t tenant, const char *sql)
{
	sqlite3_stmt *st = db_stmt(sql);
	long long v = 0;

	sqlite3_bind_int64(st, 1, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* The changes after cursor up to `to`, deduplicated per thing. */
static void send_delta(struct out *o, long long cursor, long long to)
{
	/* Only the terminals' entities: site sync's share the log (docs/sync.md). */
	sqlite3_stmt *st = db_stmt("SELECT entity, entity_id FROM sync_log WHERE tenant_id = ? AND seq > ? AND seq <= ? "
				   "AND entity IN ('person', 'credential', 'door', 'level', 'schedule') "
				   "GROUP BY entity, entity_id ORDER BY max(seq)");
	struct { char entity[16]; int64_t id; } *list = NULL;
	size_t n = 0, cap = 0;

	sqlite3_bind_int64(st, 1, o->d->tenant);
	sqlite3_bind_int64(st, 2, cursor);
	sqlite3_bind_int64(st, 3, to);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 128;
			void *bigger = realloc(list, cap * sizeof *list);
			if (!bigger)
				break;
			list = bigger;
		}
		snprintf(list[n].entity, sizeof list[n].entity, "%s", sqlite3_column_text(st, 0));
		list[n++].id = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n && !o->failed; i++)
		send_change(o, list[i].entity, list[i].id);
	free(list);
}

int termsync_answer(const struct device *d, long long cursor, termsync_emit emit, void *arg)
{
	struct out o = {.emit = emit, .arg = arg, .d = d};
	long long head, first;
	int rc = 0;

	if (vault_terminal_key(d->tenant, o.key) != VAULT_OK)
		return -1;
	/* One read transaction: the snapshot and the cursor agree. */
	if (db_exec(db_get(), "BEGIN") != SQLITE_OK)
		return -1;
	head = log_bound(d->tenant, "SELECT coalesce(max(seq), 0) FROM sync_log WHERE tenant_id = ?");
	first = log_bound(d->tenant, "SELECT coalesce(min(seq), 0) FROM sync_log WHERE tenant_id = ?");
	o.full = cursor <= 0 || cursor > head || (first > 0 && cursor < first - 1);
	new_msg(&o);
	if (o.full) {
		char b64[64];
		sodium_bin2base64(b64, sizeof b64, o.key, sizeof o.key, sodium_base64_VARIANT_ORIGINAL);
		cJSON_AddStringToObject(o.msg, "terminal_key", b64);
		send_all(&o);
	} else {
		send_delta(&o, cursor, head);
	}
	flush(&o, 1, head);
	cJSON_Delete(o.msg);
	db_exec(db_get(), "COMMIT");
	sodium_memzero(o.key, sizeof o.key);
	free(o.seen);
	if (o.failed)
		rc = -1;
	return rc;
}
