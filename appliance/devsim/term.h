/* term: one simulated terminal's state machine. Offline it keeps reading
 * cards and deciding from its local copy, buffering events; online it
 * follows docs/device-protocol.md: CONNECT, SUBSCRIBE gh/v1/<uid>/#, then
 * status, sync/req and its buffered events (oldest first, batched when
 * behind, at most DEVSIM_WINDOW publishes awaiting PUBACK), syncs on hints,
 * carries out commands once each and downloads firmware; a lost connection
 * is retried with a growing, jittered backoff. */
#ifndef GH_DEVSIM_TERM_H
#define GH_DEVSIM_TERM_H

#include "devsim/devsim.h"
#include "devsim/evq.h"
#include "devsim/fw.h"
#include "devsim/local.h"
#include "devsim/mqttc.h"
#include "devsim/store.h"

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

enum term_state { T_OFFLINE, T_CONNECTING, T_CONNACK, T_SUBACK, T_ONLINE };

struct term_inflight {
	uint16_t pid;
	long long lo, hi; /* the seqs it carries */
	long long sent_ms;
};

struct term {
	struct devsim_ctx *ctx;
	char *dir;
	struct store_meta meta;
	int meta_dirty;
	long long meta_saved_ms;
	int log_fd;
	long long log_appended;    /* lines written since the log was last emptied */
	struct evq q;
	struct local copy, *staging; /* staging: a full sync being received */
	int copy_dirty;
	long long copy_saved_ms;

	struct mqttc mc;
	enum term_state state;
	long long state_since, reconnect_at;
	int attempts;              /* failed connects in a row */
	mbedtls_x509_crt *cert;    /* only while connected */
	mbedtls_pk_context *key;
	mbedtls_ssl_session *session; /* to resume */
	uint16_t sub_pid;
	struct term_inflight inflight[DEVSIM_WINDOW];
	int ninflight;

	int syncing, sync_again, sync_full_next;
	long long sync_asked_ms, last_sync_ms;
	int64_t resync_cmd;        /* a resync command acked once its full sync is in */

	long long clock_offset_ms; /* the terminal's clock minus the real time */
	long long next_badge_ms, next_status_ms, produced;
	long long started_ms;
	int booted;                /* reads cards (see producing() in term.c) */
	long long unlocked_until;
	int64_t unlocked_door;

	struct fw_job fw;
	uint16_t reboot_pid;       /* the ack after which to restart */
	int64_t reboot_cmd;
	int reboot_now;
	const char *broken;        /* set inside a packet handler: close from the loop */
};

/* Load the terminal in dir (its identity must exist). 0, or -1 with err. */
int term_load(struct term *t, struct devsim_ctx *ctx, const char *dir, char *err, size_t errlen);
/* Timers: connecting, badges, keep-alive, status, sync, retries. */
void term_tick(struct term *t);
/* epoll reported events on the terminal's connection. */
void term_io(struct term *t, uint32_t events);
/* Everything produced (when counting) and acknowledged? */
int term_done(const struct term *t);
/* Disconnect politely and save everything. */
void term_stop(struct term *t);
void term_free(struct term *t);

#endif
