/* devsim: the terminal simulator (gatehouse devsim). It runs N door
 * terminals in one process: each enrols (or uses a ready bundle), connects
 * over MQTT 3.1.1 with mutual TLS, syncs its local copy of the access data,
 * reads cards at a rate, decides locally, buffers its events on disk and
 * delivers them exactly as docs/device-protocol.md asks (the reference
 * client of that document), survives appliance outages by buffering and
 * catching up, and carries out commands and firmware updates.
 *
 * Modules: sim.c runs everything (one epoll loop, one thread), term.c is
 * one terminal's state machine, mqttc.c the MQTT client over non-blocking
 * mbedTLS, store.c a terminal's files, evq.c its event buffer, local.c its
 * local copy and decisions, fw.c firmware downloads, enroll.c and https.c
 * enrolment over the appliance's HTTPS API, cards.c card numbers. */
#ifndef GH_DEVSIM_H
#define GH_DEVSIM_H

#include "devsim/cards.h"
#include "devsim/mqttc.h"

#include <stddef.h>
#include <sys/socket.h>

#define DEVSIM_WINDOW 16     /* event publishes in flight per terminal ("16 is plenty") */
#define DEVSIM_BATCH_MAX 256 /* events in one publish (the appliance's limit) */

struct devsim_opts {
	const char *appliance;     /* host: numeric address or name */
	int mqtt_port, web_port;
	const char *web_ca;        /* PEM of the HTTPS certificate to trust (enrolment) */
	const char *tls_name;      /* name the appliance's certificates must carry */
	const char *dir;           /* devsim's own state */
	int devices;
	const char *api_token;     /* admin API token; never printed */
	int bundle;                /* enrol with ready bundles instead of CSRs */
	const char *cards_file;
	double unknown_share;
	double rate;               /* badges per second per terminal */
	long long events;          /* badges per terminal, then stop; -1: no limit */
	double duration;           /* seconds, 0: until stopped */
	int batch;                 /* events per publish when catching up */
	int keepalive;             /* seconds */
	long long clock_skew_ms;
	double stats_every;        /* seconds, 0: none */
	int quiet;
	long long max_backoff_ms;
	int fail_firmware_hash;
	const char *model, *firmware;
	int connect_rate;          /* new connections per 100 ms */
	int max_handshakes;        /* connections being set up at once */
};

struct devsim_stats {
	unsigned long long events_generated, events_acked, duplicates_resent;
	unsigned long long connects, disconnects, connect_failures;
	unsigned long long commands_done, commands_failed, firmware_done;
	unsigned long long syncs_full, syncs_delta;
	unsigned long long granted, denied;
};

/* What every terminal shares. */
struct devsim_ctx {
	const struct devsim_opts *o;
	struct devsim_stats st;
	struct cards cards;
	struct mqttc_tls tls;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int epfd;
	long long now;        /* monotonic ms, this turn of the loop */
	int connect_budget;   /* new connections still allowed in this 100 ms */
	int setting_up;       /* connections not yet through SUBACK */
	int stopping;         /* no more badges */
	char *scratch;        /* one batch of events as JSON (single-threaded) */
	size_t scratch_len;
};

/* Run the simulator until done or signalled; prints the summary line.
 * Returns the exit status (0, or 1 after an error it has reported). */
int devsim_run(const struct devsim_opts *o);

#endif
