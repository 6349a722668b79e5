/* queue: the messages between the device link's loop and its database
 * worker. Jobs go to the worker; results come back to the loop, addressed
 * to a connection by its generation-tagged id, so a result for a
 * connection that has since closed is simply dropped. */
#ifndef GH_LINK_QUEUE_H
#define GH_LINK_QUEUE_H

#include "domain/devices.h"

#include <stddef.h>
#include <stdint.h>

enum job_kind {
	J_CONNECTED,     /* payload: "" */
	J_SUBSCRIBED,    /* payload: one byte of LISTEN_* flags, what the terminal now hears */
	J_DISCONNECTED,  /* payload: the will message, if any */
	J_EVENTS,        /* payload: JSON of one event, an array, or {"events": [...]} */
	J_STATUS,        /* payload: JSON status */
	J_SYNC,          /* payload: {"cursor": N} */
	J_ACK,           /* payload: {"id": N, "state": ..., "result": ...} */
	J_FIRMWARE,      /* payload: {"image_id": N, "offset": N} */
};

#define LISTEN_COMMANDS 1  /* subscribed to .../commands */
#define LISTEN_HINTS 2     /* subscribed to .../sync/hint */

struct job {
	struct job *next;
	enum job_kind kind;
	uint64_t conn;
	int64_t device_id, tenant;
	char uid[DEVICE_UID_LEN];
	uint16_t packet_id;   /* to PUBACK after the job, 0 for none */
	size_t len;
	unsigned char payload[];
};

enum result_kind {
	R_PUBACK,     /* packet_id */
	R_PUBLISH,    /* topic suffix ("commands", "sync", "firmware") and payload */
	R_CLOSE,      /* reason */
	R_JOB_DONE,   /* one job of this connection finished (flow control) */
};

struct result {
	struct result *next;
	enum result_kind kind;
	uint64_t conn;
	uint16_t packet_id;
	char topic[24];
	char reason[120];
	size_t len;
	unsigned char data[];
};

struct job *job_new(enum job_kind kind, uint64_t conn, int64_t device, int64_t tenant, const char *uid,
		    uint16_t packet_id, const void *payload, size_t len);
struct result *result_new(enum result_kind kind, uint64_t conn, const void *data, size_t len);

/* The two queues (mutex-protected lists). */
void jobs_push(struct job *j);
/* Take every waiting job (FIFO order), waiting up to timeout_ms for one. */
struct job *jobs_take_all(int timeout_ms);
size_t jobs_waiting(void);
void jobs_wake(void);

void results_push(struct result *r);   /* also wakes the loop */
struct result *results_take_all(void);
void results_set_wakefd(int fd);

/* The worker thread (worker.c). */
int worker_start(const char *state_dir, long long clock_drift_ms);
void worker_stop(void);

#endif
