#include "devsim/evq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void evq_init(struct evq *q, long long watermark)
{
	memset(q, 0, sizeof *q);
	q->watermark = watermark;
}

void evq_free(struct evq *q)
{
	free(q->ev);
	evq_init(q, q->watermark);
}

struct devsim_event *evq_at(struct evq *q, size_t i)
{
	return i < q->len ? &q->ev[(q->head + i) % q->cap] : NULL;
}

static int grow(struct evq *q)
{
	size_t cap = q->cap ? q->cap * 2 : 64;
	struct devsim_event *ev = malloc(cap * sizeof *ev);

	if (!ev)
		return -1;
	/* Unroll the ring into the new array, oldest first. */
	for (size_t i = 0; i < q->len; i++)
		ev[i] = q->ev[(q->head + i) % q->cap];
	free(q->ev);
	q->ev = ev;
	q->cap = cap;
	q->head = 0;
	return 0;
}

int evq_push(struct evq *q, const struct devsim_event *e)
{
	struct devsim_event *slot;

	if (q->len ? e->seq != evq_at(q, q->len - 1)->seq + 1 : e->seq <= q->watermark)
		return -1;
	if (q->len == q->cap && grow(q) < 0)
		return -1;
	slot = &q->ev[(q->head + q->len) % q->cap];
	*slot = *e;
	slot->state = EV_UNSENT;
	q->len++;
	return 0;
}

size_t evq_take(struct evq *q, size_t max, size_t *idx)
{
	size_t n = 0, i;

	for (i = q->scan; i < q->len && n < max; i++) {
		struct devsim_event *e = evq_at(q, i);
		if (e->state != EV_UNSENT)
			continue;
		e->state = EV_INFLIGHT;
		idx[n++] = i;
	}
	/* Everything before i is in flight or acked now. */
	q->scan = i;
	return n;
}

/* Acked events at the front leave; the watermark follows them. */
static void pop_acked(struct evq *q)
{
	while (q->len && q->ev[q->head].state == EV_ACKED) {
		q->watermark = q->ev[q->head].seq;
		q->head = (q->head + 1) % q->cap;
		q->len--;
		if (q->scan)
			q->scan--;
	}
	if (!q->len) {
		q->head = 0;
		/* Caught up after an outage: give the backlog's memory back. */
		if (q->cap > 1024) {
			free(q->ev);
			q->ev = NULL;
			q->cap = 0;
		}
	}
}

size_t evq_ack(struct evq *q, long long lo, long long hi)
{
	size_t n = 0;
	long long first;

	if (!q->len)
		return 0;
	first = q->ev[q->head].seq;
	if (lo < first)
		lo = first;
	for (long long s = lo; s <= hi && s - first < (long long)q->len; s++) {
		struct devsim_event *e = evq_at(q, (size_t)(s - first));
		if (e->state == EV_INFLIGHT) {
			e->state = EV_ACKED;
			n++;
		}
	}
	pop_acked(q);
	return n;
}

size_t evq_rewind(struct evq *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->len; i++) {
		struct devsim_event *e = evq_at(q, i);
		if (e->state == EV_INFLIGHT) {
			e->state = EV_UNSENT;
			e->sent_before = 1;
			n++;
		}
	}
	q->scan = 0;
	return n;
}

size_t evq_pending(const struct evq *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->len; i++)
		n += q->ev[(q->head + i) % q->cap].state != EV_ACKED;
	return n;
}

int evq_event_json(const struct devsim_event *e, char *out, size_t len)
{
	int n = snprintf(out, len, "{\"seq\":%lld,\"at\":%lld,\"kind\":\"%s\"", e->seq, e->at, e->kind);
	size_t used;

	/* Every text member is from a fixed vocabulary or a card checked to
	 * hold digits, spaces and dashes only: nothing needs escaping. */
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	if (e->door_id)
		used += (size_t)snprintf(out + used, len - used, ",\"door_id\":%lld", (long long)e->door_id);
	if (used < len && e->card[0])
		used += (size_t)snprintf(out + used, len - used, ",\"card\":\"%s\"", e->card);
	if (used < len && e->result[0])
		used += (size_t)snprintf(out + used, len - used, ",\"result\":\"%s\"", e->result);
	if (used < len && e->reason[0])
		used += (size_t)snprintf(out + used, len - used, ",\"reason\":\"%s\"", e->reason);
	if (used + 1 >= len)
		return -1;
	out[used++] = '}';
	out[used] = '\0';
	return (int)used;
}
