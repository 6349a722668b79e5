/* evq: a terminal's buffer of events not yet acknowledged by the
 * appliance, oldest first (docs/device-protocol.md, section 4).
 *
 * Each event is unsent, in flight (published, no PUBACK yet) or acked.
 * Publishing takes unsent events from the front; a PUBACK acks the events
 * of its publish; acked events leave from the front, which moves the
 * watermark (every seq up to it is acknowledged). A lost connection turns
 * every in-flight event back into unsent, to be sent again with the same
 * seq and at. Sequence numbers in the buffer are consecutive, so an event
 * is found by seq in constant time. Pure code: no I/O. */
#ifndef GH_DEVSIM_EVQ_H
#define GH_DEVSIM_EVQ_H

#include "devsim/local.h"

#include <stddef.h>
#include <stdint.h>

enum evq_state { EV_UNSENT, EV_INFLIGHT, EV_ACKED };

struct devsim_event {
	long long seq, at;        /* at: Unix ms by the terminal's clock */
	int64_t door_id;          /* 0: none */
	char kind[12];            /* access, lockdown */
	char card[LOCAL_CARD_MAX];/* as read; "" for none */
	char result[8];           /* granted, denied, "" */
	char reason[28];          /* decide_reason_name, or lockdown's on/off */
	uint8_t state;            /* enum evq_state */
	uint8_t sent_before;      /* published at least once already */
};

struct evq {
	struct devsim_event *ev;
	size_t cap, head, len;    /* a ring */
	size_t scan;              /* events before this index are not unsent */
	long long watermark;      /* every seq <= watermark is acknowledged */
};

void evq_init(struct evq *q, long long watermark);
void evq_free(struct evq *q);

/* Append an event; its seq must be the last one's plus one (or anything
 * after the watermark when empty). 0, or -1 (out of order, no memory). */
int evq_push(struct evq *q, const struct devsim_event *e);

static inline size_t evq_len(const struct evq *q)
{
	return q->len;
}
struct devsim_event *evq_at(struct evq *q, size_t i);

/* Mark up to max unsent events, oldest first, as in flight; their indexes
 * go to idx. Returns how many (0 when nothing waits). */
size_t evq_take(struct evq *q, size_t max, size_t *idx);

/* A PUBACK for the publish that carried seqs lo..hi: those in flight are
 * acked; acked events at the front leave. Returns the number acked now. */
size_t evq_ack(struct evq *q, long long lo, long long hi);

/* The connection dropped: in-flight events become unsent again. Returns
 * how many (they will be sent a second time). */
size_t evq_rewind(struct evq *q);

/* Events not yet acknowledged. */
size_t evq_pending(const struct evq *q);

/* The event as its JSON object (the exact text published and kept in the
 * buffer file). Its length, or -1 when out is too small. */
int evq_event_json(const struct devsim_event *e, char *out, size_t len);

#endif
