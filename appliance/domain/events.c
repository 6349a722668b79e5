#include "events.h"

#include "alerts.h"
#include "core/config.h"
#include "core/db.h"
#include "core/live.h"
#include "core/log.h"
#include "core/vault.h"
#include "people.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kinds[] = {"access", "door_forced", "door_held", "tamper", "door_opened",
				    "door_closed", "lockdown", NULL};

static int copy_str(const cJSON *o, const char *name, char *out, size_t len, int required)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

	out[0] = '\0';
	if (!m || cJSON_IsNull(m))
		return required ? -1 : 0;
	if (!cJSON_IsString(m) || strlen(m->valuestring) >= len)
		return -1;
	snprintf(out, len, "%s", m->valuestring);
	return 0;
}

static int get_int(const cJSON *o, const char *name, long long *v, int required)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

	*v = 0;
	if (!m || cJSON_IsNull(m))
		return required ? -1 : 0;
	return json_int(m, 0, (long long)1 << 53, v);
}

int event_parse(const cJSON *o, struct event_in *ev, char *why, size_t whylen)
{
	long long door;
	int known = 0;

	memset(ev, 0, sizeof *ev);
	if (!cJSON_IsObject(o)) {
		snprintf(why, whylen, "an event must be a JSON object");
		return -1;
	}
	if (get_int(o, "seq", &ev->seq, 1) < 0 || ev->seq < 1) {
		snprintf(why, whylen, "seq must be a positive integer");
		return -1;
	}
	if (get_int(o, "at", &ev->at_ms, 1) < 0 || ev->at_ms < 946684800000LL || ev->at_ms > 32503680000000LL) {
		snprintf(why, whylen, "at must be a Unix time in milliseconds");
		return -1;
	}
	if (copy_str(o, "kind", ev->kind, sizeof ev->kind, 1) < 0) {
		snprintf(why, whylen, "kind is required");
		return -1;
	}
	for (const char *const *k = kinds; *k; k++)
		known |= strcmp(*k, ev->kind) == 0;
	if (!known) {
		snprintf(why, whylen, "unknown event kind '%.20s'", ev->kind);
		return -1;
	}
	if (get_int(o, "door_id", &door, 0) < 0 || door < 0 || copy_str(o, "card", ev->card, sizeof ev->card, 0) < 0 ||
	    copy_str(o, "result", ev->result, sizeof ev->result, 0) < 0 ||
	    copy_str(o, "reason", ev->reason, sizeof ev->reason, 0) < 0) {
		snprintf(why, whylen, "door_id, card, result or reason has the wrong type or length");
		return -1;
	}
	if (ev->result[0] && strcmp(ev->result, "granted") && strcmp(ev->result, "denied")) {
		snprintf(why, whylen, "result must be granted or denied");
		return -1;
	}
	ev->door_id = door;
	return 0;
}

/* The personal part: sealed under the person's key when the card is known. */
static int seal_details(int64_t tenant, int64_t row, int64_t person, const struct event_in *ev,
			unsigned char **out, size_t *len)
{
	struct vault_ref ref = {tenant, "events", "details", row};
	char json[96];
	int n;

	*out = NULL;
	if (!ev->card[0])
		return 0;
	n = snprintf(json, sizeof json, "{\"card\":\"%s\"}", ev->card);
	/* card was checked to be a short string; escape-free for digits and
	 * letters, but be safe with quotes and backslashes: */
	for (const char *c = ev->card; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			return vault_seal(&ref, "{}", 2, out, len) == VAULT_OK ? 0 : -1;
	if (person)
		return vault_seal_person(&ref, person, json, (size_t)n, out, len) == VAULT_OK ? 0 : -1;
	return vault_seal(&ref, json, (size_t)n, out, len) == VAULT_OK ? 0 : -1;
}

/* "Main entrance" for a door of the tenant, else "door 7" (a terminal may
 * name a door it no longer has). */
static void name_of(const char *sql, int64_t tenant, int64_t id, const char *what, char *out, size_t len)
{
	sqlite3_stmt *st = db_stmt(sql);

	snprintf(out, len, "%s %lld", what, (long long)id);
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_reset(st);
}

/* Doors forced or held open and tampered terminals are alerts the moment
 * they are stored, in the same transaction, so the notice leaves within a
 * second of the terminal's message instead of at the next rules run. One
 * open alert per door (or terminal): a door forced again while its alert
 * is open counts an occurrence. A held door closing resolves its alert. */
static int alert_for(int64_t tenant, int64_t device_id, const struct event_in *ev, int64_t row)
{
	static const struct {
		const char *event, *alert, *severity, *what;
	} rules[] = {
		{"door_forced", "door.forced", "critical", "forced open"},
		{"door_held", "door.held", "warning", "held open too long"},
		{"tamper", "device.tamper", "critical", "tampered with"},
	};
	char key[40], subject[600], door[210], device[210];

	if (strcmp(ev->kind, "door_closed") == 0 && ev->door_id) {
		snprintf(key, sizeof key, "door:%lld", (long long)ev->door_id);
		return alert_resolve_key("door.held", key, "the door was closed") < 0 ? -1 : 0;
	}
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		if (strcmp(ev->kind, rules[i].event) != 0)
			continue;
		name_of("SELECT name FROM devices WHERE id = ? AND tenant_id = ?", tenant, device_id, "terminal", device,
			sizeof device);
		if (ev->door_id && strcmp(rules[i].event, "tamper") != 0) {
			name_of("SELECT name FROM doors WHERE id = ? AND tenant_id = ?", tenant, ev->door_id, "door", door,
				sizeof door);
			snprintf(key, sizeof key, "door:%lld", (long long)ev->door_id);
			snprintf(subject, sizeof subject, "Door %s %s (terminal %s)", door, rules[i].what, device);
		} else {
			snprintf(key, sizeof key, "device:%lld", (long long)device_id);
			snprintf(subject, sizeof subject, "Terminal %s %s", device, rules[i].what);
		}
		cJSON *d = cJSON_CreateObject();
		cJSON_AddNumberToObject(d, "event_id", (double)row);
		cJSON_AddNumberToObject(d, "device_id", (double)device_id);
		if (ev->door_id)
			cJSON_AddNumberToObject(d, "door_id", (double)ev->door_id);
		cJSON_AddNumberToObject(d, "at", (double)ev->at_ms);
		int64_t id = alert_raise_keyed(rules[i].alert, key, rules[i].severity, tenant, subject, d);
		cJSON_Delete(d);
		return id < 0 ? -1 : 0;
	}
	return 0;
}

static int store_one(int64_t tenant, int64_t device_id, const struct event_in *ev, long long now_ms)
{
	sqlite3_stmt *st = db_stmt("INSERT OR IGNORE INTO events (tenant_id, device_id, seq, at, received_at, kind, "
				   "door_id, person_id, credential_id, result, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	int64_t person = 0, credential = 0, row;
	unsigned char *sealed;
	size_t slen;
	int rc;

	if (!st)
		return -1;
	if (ev->card[0])
		person_by_card(tenant, ev->card, &person, &credential);
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, device_id);
	sqlite3_bind_int64(st, 3, ev->seq);
	sqlite3_bind_int64(st, 4, ev->at_ms);
	sqlite3_bind_int64(st, 5, now_ms);
	sqlite3_bind_text(st, 6, ev->kind, -1, SQLITE_STATIC);
	if (ev->door_id)
		sqlite3_bind_int64(st, 7, ev->door_id);
	if (person)
		sqlite3_bind_int64(st, 8, person);
	if (credential)
		sqlite3_bind_int64(st, 9, credential);
	if (ev->result[0])
		sqlite3_bind_text(st, 10, ev->result, -1, SQLITE_STATIC);
	if (ev->reason[0])
		sqlite3_bind_text(st, 11, ev->reason, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(db_get()) == 0)
		return 0; /* already stored: a terminal re-sent it after an outage */
	row = sqlite3_last_insert_rowid(db_get());
	if (seal_details(tenant, row, person, ev, &sealed, &slen) < 0)
		return -1;
	if (sealed) {
		st = db_stmt("UPDATE events SET details = ? WHERE id = ?");
		sqlite3_bind_blob(st, 1, sealed, (int)slen, free);
		sqlite3_bind_int64(st, 2, row);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	if (alert_for(tenant, device_id, ev, row) < 0)
		return -1;
	live_publish_after_commit(LIVE_EVENT, tenant, row);
	return 1;
}

int events_store(int64_t tenant, int64_t device_id, const struct event_in *evs, int n)
{
	struct timespec ts;
	long long now;
	int stored = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (int i = 0; i < n; i++) {
		/* An event older than its retention period (a terminal back after
		 * months) would be deleted at the next retention run: it is
		 * acknowledged and not stored, so it cannot outlive its time. */
		long long keep = cfg_int(evs[i].card[0] ? CFG_RETENTION_EVENTS_PERSONAL : CFG_RETENTION_EVENTS_SYSTEM);
		if (evs[i].at_ms < now - keep)
			continue;
		int rc = store_one(tenant, device_id, &evs[i], now);
		if (rc < 0)
			return -1;
		stored += rc;
	}
	return stored;
}

long long events_last_seq(int64_t device_id)
{
	sqlite3_stmt *st = db_stmt("SELECT coalesce(max(seq), 0) FROM events WHERE device_id = ?");
	long long v = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, device_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}
