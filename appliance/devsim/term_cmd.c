/* term_cmd: a terminal's commands (docs/device-protocol.md, section 7)
 * and firmware updates (section 8): each command id is carried out once,
 * its outcome remembered so a repeat is acked the same way. */
#include "devsim/term_int.h"

#include "core/log.h"
#include "devsim/util.h"
#include "web/json.h"

#include <stdio.h>
#include <string.h>

static const char *why_text(enum store_why why)
{
	switch (why) {
	case SW_EXPIRED:
		return "expired";
	case SW_UNSUPPORTED:
		return "unsupported";
	case SW_NOT_MY_DOOR:
		return "the door is not mine";
	case SW_BAD_PARAMS:
		return "bad params";
	case SW_SHA_MISMATCH:
		return "sha256 mismatch";
	case SW_WRONG_MODEL:
		return "the image is for another model";
	case SW_IMAGE_ERROR:
		return "the download failed";
	case SW_STORAGE:
		return "cannot store the image";
	case SW_NONE:
		break;
	}
	return "";
}

/* Ack {"id", "state", "result"} (and sha256/version for firmware). */
static int send_ack(struct term *t, int64_t id, int done, const char *result, int firmware, uint16_t *pid)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;
	int rc = -1;

	if (!doc)
		return -1;
	cJSON_AddNumberToObject(doc, "id", (double)id);
	cJSON_AddStringToObject(doc, "state", done ? "done" : "failed");
	if (result && *result)
		cJSON_AddStringToObject(doc, "result", result);
	if (firmware && done) {
		cJSON_AddStringToObject(doc, "sha256", t->meta.firmware_sha);
		cJSON_AddStringToObject(doc, "version", t->meta.firmware);
	}
	if ((text = cJSON_PrintUnformatted(doc))) {
		rc = term_publish(t, "commands/ack", text, pid);
		cJSON_free(text);
	}
	cJSON_Delete(doc);
	return rc;
}

/* A command finished: remember it (a repeat is acked the same way), ack. */
void term_finish(struct term *t, int64_t id, int done, enum store_why why, const char *result, int firmware)
{
	store_exec_add(&t->meta, id, done, why);
	term_save_meta(t); /* before the ack: a restart must not run it again */
	if (done)
		t->ctx->st.commands_done++;
	else
		t->ctx->st.commands_failed++;
	send_ack(t, id, done, result ? result : why_text(why), firmware, NULL);
	log_debug("devsim: %s: command %lld %s%s%s", t->meta.name, (long long)id, done ? "done" : "failed",
		  done ? "" : ": ", done ? "" : (result ? result : why_text(why)));
}

static void lockdown_event(struct term *t, int on)
{
	struct devsim_event e;

	memset(&e, 0, sizeof e);
	snprintf(e.kind, sizeof e.kind, "lockdown");
	/* The protocol has no member for "began" or "ended"; reason says it. */
	snprintf(e.reason, sizeof e.reason, "%s", on ? "on" : "off");
	term_add_event(t, &e);
}

static void cmd_unlock(struct term *t, int64_t id, const cJSON *params)
{
	long long door, secs;
	const struct local_door *d;
	char msg[64];

	if (json_int(cJSON_GetObjectItemCaseSensitive(params, "door_id"), 1, INT64_MAX, &door) < 0)
		return term_finish(t, id, 0, SW_BAD_PARAMS, NULL, 0);
	if (!(d = local_door(&t->copy, door))) {
		snprintf(msg, sizeof msg, "door %lld is not mine", door);
		return term_finish(t, id, 0, SW_NOT_MY_DOOR, msg, 0);
	}
	secs = d->unlock_seconds;
	if (cJSON_GetObjectItemCaseSensitive(params, "seconds") &&
	    json_int(cJSON_GetObjectItemCaseSensitive(params, "seconds"), 1, 3600, &secs) < 0)
		return term_finish(t, id, 0, SW_BAD_PARAMS, NULL, 0);
	t->unlocked_door = door;
	t->unlocked_until = t->ctx->now + secs * 1000;
	term_finish(t, id, 1, SW_NONE, NULL, 0);
}

static void cmd_lockdown(struct term *t, int64_t id, const cJSON *params)
{
	const cJSON *on = cJSON_GetObjectItemCaseSensitive(params, "on");

	if (!cJSON_IsBool(on))
		return term_finish(t, id, 0, SW_BAD_PARAMS, NULL, 0);
	t->meta.lockdown = cJSON_IsTrue(on);
	lockdown_event(t, t->meta.lockdown);
	term_finish(t, id, 1, SW_NONE, NULL, 0);
	term_pump(t);
}

static void cmd_set_time(struct term *t, int64_t id, const cJSON *params)
{
	long long v;

	if (json_int(cJSON_GetObjectItemCaseSensitive(params, "time"), 946684800000LL, 32503680000000LL, &v) < 0)
		return term_finish(t, id, 0, SW_BAD_PARAMS, NULL, 0);
	/* time plus the delivery delay: on a LAN that delay is below what a
	 * clock shows, so the time is taken as it is. */
	t->clock_offset_ms = v - ds_wall_ms();
	term_finish(t, id, 1, SW_NONE, NULL, 0);
	term_send_status(t); /* so the appliance sees the corrected clock now */
}

void term_request_chunk(struct term *t)
{
	char json[96];

	snprintf(json, sizeof json, "{\"image_id\":%lld,\"offset\":%lld}", (long long)t->fw.image_id, t->fw.have);
	if (term_publish(t, "firmware/req", json, NULL) == 0)
		t->fw.asked_ms = t->ctx->now;
}

static void cmd_firmware(struct term *t, int64_t id, const cJSON *params)
{
	enum store_why why;

	if (t->fw.active && t->fw.command_id != id)
		log_info("devsim: %s: firmware command %lld replaces %lld", t->meta.name, (long long)id,
			 (long long)t->fw.command_id);
	if (fw_begin(&t->fw, t->dir, id, params, t->ctx->o->model, &why) < 0)
		return term_finish(t, id, 0, why, NULL, 1);
	if (t->fw.have)
		log_info("devsim: %s: firmware %s: resuming at %lld of %lld bytes", t->meta.name, t->fw.version,
			 t->fw.have, t->fw.size);
	term_request_chunk(t);
}

/* The whole image is here: verify, install, ack. */
static void firmware_complete(struct term *t)
{
	char hex[65];
	int match = fw_verify(&t->fw, t->dir, t->ctx->o->fail_firmware_hash, hex);
	int64_t id = t->fw.command_id;

	if (match < 0) {
		fw_discard(&t->fw, t->dir);
		return term_finish(t, id, 0, SW_STORAGE, NULL, 1);
	}
	if (!match && !t->ctx->o->fail_firmware_hash) {
		fw_discard(&t->fw, t->dir);
		return term_finish(t, id, 0, SW_SHA_MISMATCH, NULL, 1);
	}
	/* With --fail-firmware-hash the image was damaged on purpose and this
	 * terminal, like a faulty one, reports it installed with the SHA-256
	 * of what it has: the appliance must see that it is not the image's. */
	snprintf(t->meta.firmware_sha, sizeof t->meta.firmware_sha, "%s", hex);
	if (match)
		snprintf(t->meta.firmware, sizeof t->meta.firmware, "%s", t->fw.version);
	fw_discard(&t->fw, t->dir);
	if (match)
		t->ctx->st.firmware_done++;
	log_info("devsim: %s: firmware %s installed%s", t->meta.name, t->meta.firmware,
		 match ? "" : " (damaged on purpose: --fail-firmware-hash)");
	term_finish(t, id, 1, SW_NONE, NULL, 1);
	term_send_status(t);
}

void term_on_firmware(struct term *t, const cJSON *msg)
{
	char err[256];

	switch (fw_chunk(&t->fw, t->dir, msg, err, sizeof err)) {
	case FW_MORE:
		term_request_chunk(t);
		break;
	case FW_COMPLETE:
		firmware_complete(t);
		break;
	case FW_ERROR: {
		int64_t id = t->fw.command_id;
		fw_discard(&t->fw, t->dir);
		term_finish(t, id, 0, SW_IMAGE_ERROR, err, 1);
		break;
	}
	case FW_IGNORE:
		break;
	}
}

/* A repeat of a command already carried out: the same ack again. */
static void re_ack(struct term *t, const struct store_exec *e, const char *kind)
{
	int firmware = kind && strcmp(kind, "firmware") == 0;

	send_ack(t, e->id, e->done, e->done ? NULL : why_text((enum store_why)e->why), firmware, NULL);
}

void term_on_command(struct term *t, const cJSON *cmd)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(cmd, "kind");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(cmd, "params");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(cmd, "expires_at");
	const struct store_exec *done;
	const char *k;
	long long id, expires;

	if (json_int(cJSON_GetObjectItemCaseSensitive(cmd, "id"), 1, INT64_MAX, &id) < 0 || !cJSON_IsString(kind)) {
		log_warn("devsim: %s: a command without id or kind; ignored", t->meta.name);
		return;
	}
	k = kind->valuestring;
	if ((done = store_exec_find(&t->meta, id)))
		return re_ack(t, done, k);
	/* Still at work on it (sent again after a reconnect): carry on. */
	if (strcmp(k, "firmware") == 0 && t->fw.active && t->fw.command_id == id) {
		if (!t->fw.asked_ms)
			term_request_chunk(t);
		return;
	}
	if (strcmp(k, "resync") == 0 && t->resync_cmd == id)
		return;
	/* By the terminal's own clock. Not set_time: a clock too far ahead
	 * would find it expired and could never be corrected. */
	if (exp && json_int(exp, 0, INT64_MAX, &expires) == 0 && term_clock_ms(t) >= expires && strcmp(k, "set_time") != 0)
		return term_finish(t, id, 0, SW_EXPIRED, NULL, 0);
	if (!cJSON_IsObject(params))
		params = NULL;
	if (strcmp(k, "unlock") == 0) {
		cmd_unlock(t, id, params);
	} else if (strcmp(k, "lockdown") == 0) {
		cmd_lockdown(t, id, params);
	} else if (strcmp(k, "resync") == 0) {
		t->resync_cmd = id; /* acked when the full sync is in */
		term_want_sync(t, 1);
	} else if (strcmp(k, "reboot") == 0) {
		store_exec_add(&t->meta, id, 1, SW_NONE);
		term_save_meta(t);
		t->ctx->st.commands_done++;
		/* Restart once the appliance has the ack. */
		if (send_ack(t, id, 1, NULL, 0, &t->reboot_pid) == 0)
			t->reboot_cmd = id;
	} else if (strcmp(k, "set_time") == 0) {
		cmd_set_time(t, id, params);
	} else if (strcmp(k, "firmware") == 0) {
		cmd_firmware(t, id, params);
	} else {
		term_finish(t, id, 0, SW_UNSUPPORTED, NULL, 0);
	}
}
