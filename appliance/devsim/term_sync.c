/* term_sync: a terminal's status and sync (docs/device-protocol.md,
 * sections 5 and 6): requests, full answers built aside and swapped in at
 * done, deltas applied as they come, hints. */
#include "devsim/term_int.h"

#include "core/log.h"
#include "web/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void term_send_status(struct term *t)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;

	t->next_status_ms = t->ctx->now + STATUS_EVERY_MS;
	if (!doc)
		return;
	/* The version came from the appliance: cJSON escapes whatever it is. */
	cJSON_AddStringToObject(doc, "firmware", t->meta.firmware);
	cJSON_AddNumberToObject(doc, "time", (double)term_clock_ms(t));
	cJSON_AddStringToObject(doc, "model", t->ctx->o->model);
	if ((text = cJSON_PrintUnformatted(doc))) {
		term_publish(t, "status", text, NULL);
		cJSON_free(text);
	}
	cJSON_Delete(doc);
}

void term_request_sync(struct term *t, int full)
{
	char json[64];

	snprintf(json, sizeof json, "{\"cursor\":%lld}", full ? 0 : t->copy.cursor);
	if (term_publish(t, "sync/req", json, NULL) < 0)
		return;
	t->syncing = 1;
	t->sync_again = 0;
	t->sync_full_next = 0;
	t->sync_asked_ms = t->ctx->now;
}

/* Ask again once the answer in progress is in (a hint or a resync came). */
void term_want_sync(struct term *t, int full)
{
	if (t->syncing) {
		t->sync_again = 1;
		t->sync_full_next |= full;
	} else {
		term_request_sync(t, full);
	}
}

static void sync_done(struct term *t, long long cursor, int was_full)
{
	struct devsim_ctx *ctx = t->ctx;
	int first = !t->copy.has_key;

	if (was_full) {
		t->staging->cursor = cursor;
		local_move(&t->copy, t->staging);
		free(t->staging);
		t->staging = NULL;
		ctx->st.syncs_full++;
	} else {
		t->copy.cursor = cursor;
		ctx->st.syncs_delta++;
	}
	local_settle(&t->copy);
	/* The first copy is saved at once (a restart can decide with it);
	 * later ones at most every SAVE_EVERY_MS. */
	if (first)
		term_save_copy(t);
	else
		t->copy_dirty = 1;
	t->syncing = 0;
	t->booted = 1;
	t->last_sync_ms = ctx->now;
	if (was_full && t->resync_cmd) {
		int64_t id = t->resync_cmd;
		t->resync_cmd = 0;
		term_finish(t, id, 1, SW_NONE, NULL, 0);
	}
	if (t->sync_again)
		term_request_sync(t, t->sync_full_next);
	else if (t->resync_cmd)
		term_request_sync(t, 1);
}

void term_on_sync(struct term *t, const cJSON *msg)
{
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(msg, "terminal_key");
	struct local *target;
	char why[120];
	long long cursor;
	int bad;

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "full"))) {
		/* A new copy, replacing the old one only when it is complete. */
		if (t->staging) {
			local_free(t->staging); /* a second full answer starts over */
		} else if (!(t->staging = malloc(sizeof *t->staging))) {
			log_err("devsim: %s: out of memory for a full sync", t->meta.name);
			return;
		} else {
			local_init(t->staging);
		}
		if (!cJSON_IsString(key) || local_set_key_b64(t->staging, key->valuestring) < 0) {
			log_warn("devsim: %s: a full sync without a usable terminal_key; keeping the old key", t->meta.name);
			memcpy(t->staging->key, t->copy.key, sizeof t->copy.key);
			t->staging->has_key = t->copy.has_key;
		}
	}
	target = t->staging ? t->staging : &t->copy;
	if ((bad = local_apply_all(target, cJSON_GetObjectItemCaseSensitive(msg, "changes"), why, sizeof why)) > 0)
		log_warn("devsim: %s: %d sync changes refused (%s)", t->meta.name, bad, why);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "done")))
		return;
	if (json_int(cJSON_GetObjectItemCaseSensitive(msg, "cursor"), 0, INT64_MAX, &cursor) < 0) {
		log_warn("devsim: %s: a sync answer ended without a cursor", t->meta.name);
		return;
	}
	sync_done(t, cursor, t->staging != NULL);
}

void term_on_hint(struct term *t, const cJSON *msg)
{
	long long head;

	if (json_int(cJSON_GetObjectItemCaseSensitive(msg, "head"), 0, INT64_MAX, &head) == 0 && head > t->copy.cursor)
		term_want_sync(t, 0);
}
