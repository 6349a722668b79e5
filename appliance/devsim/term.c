/* term: one terminal's connection, events and timers (see term.h);
 * commands are in term_cmd.c, sync in term_sync.c. Everything here runs on
 * the simulator's single thread; times are the loop's monotonic ms
 * (ctx->now) except the terminal's own clock (term_clock_ms), which is the
 * real time plus its offset. */
#include "devsim/term.h"

#include "devsim/term_int.h"
#include "core/log.h"
#include "devsim/util.h"
#include "web/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETUP_TIMEOUT_MS 20000      /* TCP + TLS + CONNACK + SUBACK */
#define SYNC_EVERY_MS 600000        /* "every 10 minutes as a safety net" */
#define SYNC_TIMEOUT_MS 60000       /* an answer that never finishes */
#define FIRMWARE_TIMEOUT_MS 30000   /* a chunk that never comes */
#define PUBACK_TIMEOUT_MS 60000     /* an event publish never acknowledged: reconnect and resend */
#define REBOOT_MS 2000              /* a simulated restart */
#define BOOT_WAIT_MS 10000          /* longest wait for the first sync before reading cards */
#define LOG_COMPACT_LINES 4096      /* empty the event log after this many, once all are acked */
#define OUT_BACKLOG_MAX (1u << 20)  /* stop publishing events while this much waits */

static const char TOPIC_ROOT[] = "gh/v1/";

long long term_clock_ms(const struct term *t)
{
	return ds_wall_ms() + t->clock_offset_ms;
}

static void topic(const struct term *t, const char *suffix, char *out, size_t len)
{
	snprintf(out, len, "%s%s/%s", TOPIC_ROOT, t->meta.uid, suffix);
}

/* Publish a JSON text at QoS 1 under the terminal's topics. 0 or -1. */
int term_publish(struct term *t, const char *suffix, const char *json, uint16_t *pid)
{
	char tp[96];
	uint16_t ignored;

	if (t->state < T_CONNACK)
		return -1;
	topic(t, suffix, tp, sizeof tp);
	return mqttc_publish(&t->mc, tp, json, strlen(json), pid ? pid : &ignored);
}

void term_save_copy(struct term *t)
{
	if (store_copy_save(t->dir, &t->copy) < 0)
		log_warn("devsim: %s: cannot save its local copy: %s", t->meta.name, strerror(errno));
	t->copy_dirty = 0;
	t->copy_saved_ms = t->ctx->now;
}

void term_save_meta(struct term *t)
{
	t->meta.acked = t->q.watermark;
	if (store_meta_save(t->dir, &t->meta) < 0)
		log_warn("devsim: %s: cannot save its state: %s", t->meta.name, strerror(errno));
	t->meta_dirty = 0;
	t->meta_saved_ms = t->ctx->now;
}

/* --- connection life ----------------------------------------------------------- */

static void drop_identity(struct term *t)
{
	if (t->cert) {
		mbedtls_x509_crt_free(t->cert);
		free(t->cert);
		t->cert = NULL;
	}
	if (t->key) {
		mbedtls_pk_free(t->key);
		free(t->key);
		t->key = NULL;
	}
}

/* The key and certificate are read from disk for each connection and
 * freed when it ends: offline terminals hold no parsed keys. */
static int load_identity(struct term *t, char *err, size_t errlen)
{
	char kp[4200], cp[4200];

	drop_identity(t);
	t->cert = calloc(1, sizeof *t->cert);
	t->key = calloc(1, sizeof *t->key);
	if (!t->cert || !t->key || ds_path(kp, sizeof kp, t->dir, "key.pem") < 0 ||
	    ds_path(cp, sizeof cp, t->dir, "cert.pem") < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	mbedtls_x509_crt_init(t->cert);
	mbedtls_pk_init(t->key);
	if (mbedtls_x509_crt_parse_file(t->cert, cp) != 0) {
		snprintf(err, errlen, "cannot read %s", cp);
		goto fail;
	}
	if (mbedtls_pk_parse_keyfile(t->key, kp, NULL) != 0) {
		snprintf(err, errlen, "cannot read %s", kp);
		goto fail;
	}
	return 0;
fail:
	drop_identity(t);
	return -1;
}

/* 1 s, 2 s, 4 s ... up to the maximum, each with jitter (half to all of
 * it), so thousands of terminals do not come back in step. */
static long long backoff_ms(const struct term *t)
{
	long long d = 1000, max = t->ctx->o->max_backoff_ms;

	for (int i = 1; i < t->attempts && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	return d / 2 + (long long)ds_rand_below((uint64_t)(d / 2 + 1));
}

static void disconnect(struct term *t, const char *why, int polite, int failure)
{
	struct devsim_ctx *ctx = t->ctx;

	if (t->state == T_OFFLINE)
		return;
	if (t->state == T_ONLINE)
		ctx->st.disconnects++;
	else
		ctx->setting_up--;
	if (why)
		log_debug("devsim: %s: disconnected: %s", t->meta.name, why);
	mqttc_close(&t->mc, polite);
	drop_identity(t);
	/* Unacknowledged events go again, with the same seq and at. */
	evq_rewind(&t->q);
	t->ninflight = 0;
	t->syncing = 0;
	if (t->staging) {
		/* A full sync cut off half-way leaves the old copy in use. */
		local_free(t->staging);
		free(t->staging);
		t->staging = NULL;
	}
	t->fw.asked_ms = 0;
	t->reboot_pid = 0;
	t->broken = NULL;
	t->state = T_OFFLINE;
	if (failure) {
		t->attempts++;
		ctx->st.connect_failures++;
		t->booted = 1; /* the appliance is out of reach: work offline */
	}
	t->reconnect_at = ctx->now + backoff_ms(t);
}

static void connect_now(struct term *t)
{
	struct devsim_ctx *ctx = t->ctx;
	char err[200];

	if (load_identity(t, err, sizeof err) < 0 ||
	    mqttc_open(&t->mc, ctx->epfd, t, (struct sockaddr *)&ctx->addr, ctx->addrlen, &ctx->tls, t->cert, t->key,
		       t->session, err, sizeof err) < 0) {
		log_warn("devsim: %s: %s", t->meta.name, err);
		drop_identity(t);
		t->booted = 1;
		t->attempts++;
		ctx->st.connect_failures++;
		t->reconnect_at = ctx->now + backoff_ms(t);
		return;
	}
	ctx->connect_budget--;
	ctx->setting_up++;
	t->state = T_CONNECTING;
	t->state_since = ctx->now;
}

/* --- events ------------------------------------------------------------------------ */

/* Publish buffered events, oldest first: one event alone, several as
 * {"events": [...]} (up to --batch), while fewer than DEVSIM_WINDOW
 * publishes wait for their PUBACK. */
void term_pump(struct term *t)
{
	struct devsim_ctx *ctx = t->ctx;
	size_t idx[DEVSIM_BATCH_MAX];

	while (t->state == T_ONLINE && t->ninflight < DEVSIM_WINDOW && mqttc_backlog(&t->mc) < OUT_BACKLOG_MAX) {
		size_t n = evq_take(&t->q, (size_t)ctx->o->batch, idx), used = 0;
		struct term_inflight *f = &t->inflight[t->ninflight];

		if (!n)
			return;
		if (n > 1)
			used = (size_t)snprintf(ctx->scratch, ctx->scratch_len, "{\"events\":[");
		for (size_t i = 0; i < n; i++) {
			const struct devsim_event *e = evq_at(&t->q, idx[i]);
			int w = evq_event_json(e, ctx->scratch + used, ctx->scratch_len - used - 4);
			/* Sent before a disconnect: the appliance may have it already. */
			ctx->st.duplicates_resent += e->sent_before;
			if (w < 0) {
				/* Cannot happen with the scratch sized for a full batch. */
				t->broken = "an event does not fit in a publish";
				return;
			}
			used += (size_t)w;
			if (n > 1)
				ctx->scratch[used++] = i + 1 < n ? ',' : ']';
		}
		if (n > 1)
			ctx->scratch[used++] = '}';
		ctx->scratch[used] = '\0';
		f->lo = evq_at(&t->q, idx[0])->seq;
		f->hi = evq_at(&t->q, idx[n - 1])->seq;
		f->sent_ms = ctx->now;
		if (term_publish(t, "events", ctx->scratch, &f->pid) < 0) {
			/* Closed from the loop, never from inside a packet handler. */
			t->broken = "the appliance does not read what is sent";
			return;
		}
		t->ninflight++;
	}
}

/* Empty the log file once everything in it is acknowledged; the state
 * file is written first, so the next seq is never lost. */
static void maybe_compact(struct term *t)
{
	if (evq_len(&t->q) || t->log_appended < LOG_COMPACT_LINES)
		return;
	term_save_meta(t);
	if (store_log_reset(t->log_fd) == 0)
		t->log_appended = 0;
}

static void on_event_puback(struct term *t, int i)
{
	size_t n = evq_ack(&t->q, t->inflight[i].lo, t->inflight[i].hi);

	t->ctx->st.events_acked += n;
	t->inflight[i] = t->inflight[--t->ninflight];
	t->meta_dirty = 1;
	maybe_compact(t);
	term_pump(t);
}

/* Record an event: to the log file first, then the buffer. */
void term_add_event(struct term *t, struct devsim_event *e)
{
	e->seq = t->meta.next_seq++;
	e->at = term_clock_ms(t);
	if (store_log_append(t->log_fd, e) < 0)
		log_warn("devsim: %s: cannot write its event buffer: %s", t->meta.name, strerror(errno));
	else
		t->log_appended++;
	t->meta_dirty = 1;
	if (evq_push(&t->q, e) < 0)
		log_err("devsim: %s: out of memory for event %lld", t->meta.name, e->seq);
	t->ctx->st.events_generated++;
}

/* A card is read: decide locally, as the terminal must online or not. */
static void badge(struct term *t)
{
	struct devsim_ctx *ctx = t->ctx;
	struct devsim_event e;
	struct decide_result r;
	size_t ndoors = local_ndoors(&t->copy);
	int from_file;

	memset(&e, 0, sizeof e);
	snprintf(e.kind, sizeof e.kind, "access");
	if (ndoors)
		e.door_id = local_door_at(&t->copy, (size_t)ds_rand_below(ndoors))->h.id;
	cards_pick(&ctx->cards, e.card, &from_file);
	local_decide(&t->copy, e.card, e.door_id, (time_t)(term_clock_ms(t) / 1000), &r);
	if (t->meta.lockdown) {
		snprintf(e.result, sizeof e.result, "denied");
		snprintf(e.reason, sizeof e.reason, "lockdown");
	} else {
		snprintf(e.result, sizeof e.result, "%s", r.grant ? "granted" : "denied");
		snprintf(e.reason, sizeof e.reason, "%s", decide_reason_name(r.reason));
	}
	if (r.grant && !t->meta.lockdown) {
		const struct local_door *d = local_door(&t->copy, e.door_id);
		t->unlocked_door = e.door_id;
		t->unlocked_until = ctx->now + (d ? d->unlock_seconds : 5) * 1000LL;
		ctx->st.granted++;
	} else {
		ctx->st.denied++;
	}
	term_add_event(t, &e);
	t->produced++;
}

/* Poisson arrivals: exponential gaps with the configured mean rate. */
static long long next_gap_ms(double rate)
{
	double u = ds_rand_unit();

	return (long long)(-log(1.0 - u) / rate * 1000.0) + 1;
}

/* A terminal reads cards once it has something to decide with: a local
 * copy (kept across restarts). At start it first tries to bring that copy
 * up to date, as a terminal does when it boots: reads begin after the
 * first sync of the run, or at once when the appliance cannot be reached
 * (offline, from the saved copy), or after BOOT_WAIT_MS. Fresh terminals
 * wait for their first full sync. */
static int producing(const struct term *t)
{
	const struct devsim_opts *o = t->ctx->o;

	return !t->ctx->stopping && o->rate > 0 && t->copy.has_key && t->booted &&
	       (o->events < 0 || t->produced < o->events);
}

static void badges_due(struct term *t)
{
	int burst = 0;

	if (!producing(t)) {
		/* Reads start from now once the terminal can decide. */
		if (t->next_badge_ms < t->ctx->now)
			t->next_badge_ms = t->ctx->now;
		return;
	}

	/* Bounded, so a stalled loop catches up over a few turns. */
	while (producing(t) && t->ctx->now >= t->next_badge_ms && burst++ < 256) {
		badge(t);
		t->next_badge_ms += next_gap_ms(t->ctx->o->rate);
	}
	if (producing(t) && t->next_badge_ms < t->ctx->now - 10000)
		t->next_badge_ms = t->ctx->now; /* far behind: do not try to make it all up */
}

/* --- MQTT packets ---------------------------------------------------------------------- */

static void on_tls_up(void *arg)
{
	struct term *t = arg;
	uint8_t pkt[300];
	char will[96];
	static const char gone[] = "{\"online\":false}";
	size_t n;

	if (!t->session && (t->session = calloc(1, sizeof *t->session)))
		mbedtls_ssl_session_init(t->session);
	if (t->session) {
		mbedtls_ssl_session_free(t->session);
		mbedtls_ssl_session_init(t->session);
		if (mqttc_save_session(&t->mc, t->session) < 0) {
			free(t->session);
			t->session = NULL;
		}
	}
	topic(t, "status", will, sizeof will);
	n = mqtt_encode_connect(pkt, sizeof pkt, t->meta.uid, (uint16_t)t->ctx->o->keepalive, will, gone,
				sizeof gone - 1);
	mqttc_send(&t->mc, pkt, n);
	t->state = T_CONNACK;
}

static void online(struct term *t)
{
	struct devsim_ctx *ctx = t->ctx;

	t->state = T_ONLINE;
	ctx->setting_up--;
	ctx->st.connects++;
	t->attempts = 0;
	log_debug("devsim: %s: online", t->meta.name);
	/* Section 3: status, then sync/req, then the buffered events. */
	term_send_status(t);
	t->sync_again = 0;
	term_request_sync(t, t->resync_cmd != 0);
	term_pump(t);
	if (t->fw.active)
		term_request_chunk(t); /* carry on without waiting for the command again */
}

static int on_publish(struct term *t, const struct mqtt_publish *p)
{
	size_t root = strlen(TOPIC_ROOT), ulen = strlen(t->meta.uid);
	const char *rest;
	size_t restlen;
	cJSON *doc;
	uint8_t ack[8];

	if (p->topic.len <= root + ulen + 1 || memcmp(p->topic.p, TOPIC_ROOT, root) != 0 ||
	    memcmp(p->topic.p + root, t->meta.uid, ulen) != 0 || p->topic.p[root + ulen] != '/')
		goto ack;
	rest = p->topic.p + root + ulen + 1;
	restlen = p->topic.len - root - ulen - 1;
	doc = cJSON_ParseWithLength((const char *)p->payload, p->payload_len);
	if (!cJSON_IsObject(doc)) {
		log_warn("devsim: %s: a message on %.*s that is not a JSON object", t->meta.name, (int)p->topic.len,
			 p->topic.p);
	} else if (restlen == 4 && !memcmp(rest, "sync", 4)) {
		term_on_sync(t, doc);
	} else if (restlen == 9 && !memcmp(rest, "sync/hint", 9)) {
		term_on_hint(t, doc);
	} else if (restlen == 8 && !memcmp(rest, "commands", 8)) {
		term_on_command(t, doc);
	} else if (restlen == 8 && !memcmp(rest, "firmware", 8)) {
		term_on_firmware(t, doc);
	}
	cJSON_Delete(doc);
ack:
	/* QoS 1 from the appliance: acknowledged once handled. */
	if (p->qos == 1 && t->state != T_OFFLINE)
		return mqttc_send(&t->mc, ack, mqtt_encode_puback(ack, sizeof ack, p->packet_id));
	return 0;
}

static void reboot(struct term *t)
{
	log_info("devsim: %s: rebooting (command %lld)", t->meta.name, (long long)t->reboot_cmd);
	term_save_meta(t);
	term_save_copy(t);
	t->reboot_cmd = 0;
	t->reboot_now = 0;
	disconnect(t, "reboot", 1, 0);
	t->attempts = 0;
	t->reconnect_at = t->ctx->now + REBOOT_MS;
}

static int on_packet(void *arg, const struct mqtt_packet *p)
{
	struct term *t = arg;
	uint8_t pkt[160];
	char filter[64];

	switch (p->type) {
	case MQTT_CONNACK:
		if (t->state != T_CONNACK)
			return -1;
		if ((p->u.packet_id & 0xff) != MQTT_CONNACK_ACCEPTED) {
			log_warn("devsim: %s: the appliance refused the connection (CONNACK %u)", t->meta.name,
				 p->u.packet_id & 0xff);
			return -1;
		}
		snprintf(filter, sizeof filter, "%s%s/#", TOPIC_ROOT, t->meta.uid);
		t->sub_pid = mqttc_next_pid(&t->mc);
		t->state = T_SUBACK;
		return mqttc_send(&t->mc, pkt, mqtt_encode_subscribe(pkt, sizeof pkt, t->sub_pid, filter, 1));
	case MQTT_SUBACK:
		if (t->state != T_SUBACK || p->u.subscribe.packet_id != t->sub_pid || p->u.subscribe.qos[0] == 0x80)
			return -1;
		online(t);
		return 0;
	case MQTT_PUBACK:
		for (int i = 0; i < t->ninflight; i++)
			if (t->inflight[i].pid == p->u.packet_id) {
				on_event_puback(t, i);
				return 0;
			}
		if (t->reboot_pid && p->u.packet_id == t->reboot_pid) {
			t->reboot_now = 1; /* term_io restarts once the packet loop is left */
			return -1;
		}
		return t->broken ? -1 : 0;
	case MQTT_PUBLISH:
		return on_publish(t, &p->u.publish) < 0 || t->broken ? -1 : 0;
	case MQTT_PINGRESP:
		return 0;
	default:
		return -1;
	}
}

static const struct mqttc_ops ops = {on_tls_up, on_packet};

void term_io(struct term *t, uint32_t events)
{
	char why[200];

	if (t->state == T_OFFLINE)
		return;
	if (mqttc_io(&t->mc, events, &ops, t, why, sizeof why) < 0) {
		if (t->reboot_now) {
			reboot(t);
			return;
		}
		/* A refused handshake says something (a disabled terminal, a
		 * wrong CA) and is logged once in a row; a refused TCP connect
		 * is just the appliance being down, seen in the stats. */
		if (t->state == T_CONNECTING && t->attempts == 0 && t->mc.phase == MC_TLS)
			log_info("devsim: %s: %s", t->meta.name, why);
		disconnect(t, t->broken ? t->broken : why, 0, t->state != T_ONLINE);
	}
}

/* --- timers ------------------------------------------------------------------------------ */

static void keepalive(struct term *t)
{
	long long ka = (long long)t->ctx->o->keepalive * 1000, now = t->ctx->now;
	uint8_t pkt[4];

	if (!ka)
		return;
	/* A control packet at least every keep-alive (3.1.2.10), and give up
	 * on an appliance silent for 1.5 of them (it would have answered the
	 * PINGREQ). */
	if (now - t->mc.last_rx_ms > ka * 3 / 2 + 1000) {
		disconnect(t, "the appliance stopped answering", 0, 1);
		return;
	}
	if (now - t->mc.last_tx_ms >= ka - (ka > 10000 ? 2000 : ka / 5) && mqttc_backlog(&t->mc) == 0)
		mqttc_send(&t->mc, pkt, mqtt_encode_pingreq(pkt, sizeof pkt));
}

static void online_timers(struct term *t)
{
	long long now = t->ctx->now;

	keepalive(t);
	if (t->state != T_ONLINE)
		return;
	if (now >= t->next_status_ms)
		term_send_status(t);
	if (t->syncing && now - t->sync_asked_ms > SYNC_TIMEOUT_MS)
		t->syncing = 0;
	if (!t->syncing && (now - t->last_sync_ms >= SYNC_EVERY_MS || t->sync_again))
		term_request_sync(t, t->sync_full_next);
	if (t->fw.active && t->fw.asked_ms && now - t->fw.asked_ms > FIRMWARE_TIMEOUT_MS)
		term_request_chunk(t);
	/* MQTT resends only on a new connection; a PUBACK that never comes
	 * (lost on the way) would otherwise hold the events for good. */
	for (int i = 0; i < t->ninflight; i++)
		if (now - t->inflight[i].sent_ms > PUBACK_TIMEOUT_MS) {
			disconnect(t, "no PUBACK for a minute", 1, 0);
			return;
		}
	term_pump(t);
}

void term_tick(struct term *t)
{
	struct devsim_ctx *ctx = t->ctx;

	if (t->broken && t->state != T_OFFLINE)
		disconnect(t, t->broken, 0, 1);
	if (!t->booted && ctx->now - t->started_ms >= BOOT_WAIT_MS)
		t->booted = 1;
	badges_due(t);
	switch (t->state) {
	case T_OFFLINE:
		if (ctx->now >= t->reconnect_at && ctx->connect_budget > 0 && ctx->setting_up < ctx->o->max_handshakes)
			connect_now(t);
		break;
	case T_CONNECTING:
	case T_CONNACK:
	case T_SUBACK:
		if (ctx->now - t->state_since > SETUP_TIMEOUT_MS)
			disconnect(t, "connection set-up timed out", 0, 1);
		else if (t->state != T_CONNECTING)
			keepalive(t);
		break;
	case T_ONLINE:
		online_timers(t);
		break;
	}
	if (t->state != T_OFFLINE && mqttc_flush(&t->mc) < 0)
		disconnect(t, "TLS write failed", 0, t->state != T_ONLINE);
	/* What waits is safe meanwhile: the next seq is in the event log, an
	 * old watermark only resends acked events (the appliance drops the
	 * duplicates), an old copy syncs again from its older cursor. */
	if (t->meta_dirty && ctx->now - t->meta_saved_ms >= SAVE_EVERY_MS)
		term_save_meta(t);
	if (t->copy_dirty && ctx->now - t->copy_saved_ms >= SAVE_EVERY_MS)
		term_save_copy(t);
}

int term_done(const struct term *t)
{
	const struct devsim_opts *o = t->ctx->o;

	return (o->events < 0 || t->produced >= o->events) && evq_len(&t->q) == 0;
}

/* --- life ---------------------------------------------------------------------------------- */

int term_load(struct term *t, struct devsim_ctx *ctx, const char *dir, char *err, size_t errlen)
{
	long long last = 0;

	memset(t, 0, sizeof *t);
	t->ctx = ctx;
	t->log_fd = -1;
	mqttc_init(&t->mc);
	local_init(&t->copy);
	if (!(t->dir = strdup(dir))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	switch (store_meta_load(dir, &t->meta, err, errlen)) {
	case 0:
		break;
	case 1:
		snprintf(err, errlen, "%s: no state file", dir);
		return -1;
	default:
		return -1;
	}
	if (!t->meta.uid[0]) {
		snprintf(err, errlen, "%s: no uid in its state file", dir);
		return -1;
	}
	evq_init(&t->q, t->meta.acked);
	if (store_log_load(dir, &t->q, &last, err, errlen) < 0)
		return -1;
	/* Never reuse a seq: the log may know a later one than the state file. */
	if (last + 1 > t->meta.next_seq)
		t->meta.next_seq = last + 1;
	if (evq_len(&t->q) && evq_at(&t->q, 0)->seq != t->meta.acked + 1) {
		snprintf(err, errlen, "%s: the event buffer does not start after seq %lld", dir, t->meta.acked);
		return -1;
	}
	if (store_copy_load(dir, &t->copy, err, errlen) < 0) {
		/* A damaged copy is replaced by a full sync; decisions wait for it. */
		log_warn("devsim: %s; starting with an empty copy", err);
		err[0] = '\0';
		local_free(&t->copy);
	}
	if ((t->log_fd = store_log_open(dir)) < 0) {
		snprintf(err, errlen, "%s/events.log: %s", dir, strerror(errno));
		return -1;
	}
	t->log_appended = last > t->meta.acked ? last - t->meta.acked : 0;
	if (fw_restore(&t->fw, dir) == 0)
		log_info("devsim: %s: firmware %s: resuming at %lld of %lld bytes", t->meta.name, t->fw.version,
			 t->fw.have, t->fw.size);
	t->clock_offset_ms = ctx->o->clock_skew_ms;
	t->next_badge_ms = ctx->now + next_gap_ms(ctx->o->rate > 0 ? ctx->o->rate : 1);
	t->last_sync_ms = t->started_ms = ctx->now;
	/* Periodic saves spread over the period, not all in the same second. */
	t->meta_saved_ms = t->copy_saved_ms = ctx->now - (long long)ds_rand_below(SAVE_EVERY_MS);
	/* Sets off the connects spread over the first moments. */
	t->reconnect_at = ctx->now;
	return 0;
}

void term_stop(struct term *t)
{
	if (t->state != T_OFFLINE)
		disconnect(t, NULL, 1, 0);
	if (t->copy_dirty)
		term_save_copy(t);
	if (t->log_fd >= 0) {
		term_save_meta(t);
		if (evq_len(&t->q) == 0 && t->log_appended)
			store_log_reset(t->log_fd);
	}
}

void term_free(struct term *t)
{
	drop_identity(t);
	if (t->session) {
		mbedtls_ssl_session_free(t->session);
		free(t->session);
	}
	if (t->staging) {
		local_free(t->staging);
		free(t->staging);
	}
	local_free(&t->copy);
	evq_free(&t->q);
	if (t->log_fd >= 0)
		close(t->log_fd);
	free(t->dir);
	memset(t, 0, sizeof *t);
	t->log_fd = -1;
}
