#include "live.h"

#include "db.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct live_item ring[LIVE_RING];
	uint64_t next;      /* seq of the next item; items next-LIVE_RING .. next-1 are kept */
	int streams;
	int stopping;
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .next = 1};

void live_publish(int kind, int64_t tenant, int64_t id)
{
	pthread_mutex_lock(&L.mu);
	struct live_item *it = &L.ring[L.next % LIVE_RING];
	it->seq = L.next++;
	it->kind = kind;
	it->tenant = tenant;
	it->id = id;
	pthread_cond_broadcast(&L.cond);
	pthread_mutex_unlock(&L.mu);
}

struct staged {
	int kind;
	int64_t tenant, id;
};

static void publish_staged(void *arg, int committed)
{
	struct staged *s = arg;

	if (committed)
		live_publish(s->kind, s->tenant, s->id);
	free(s);
}

void live_publish_after_commit(int kind, int64_t tenant, int64_t id)
{
	struct staged *s = malloc(sizeof *s);

	if (!s)
		return; /* a live view missing one item is no reason to fail a write */
	s->kind = kind;
	s->tenant = tenant;
	s->id = id;
	db_after_commit(publish_staged, s);
}

uint64_t live_head(void)
{
	uint64_t v;

	pthread_mutex_lock(&L.mu);
	v = L.next;
	pthread_mutex_unlock(&L.mu);
	return v;
}

int live_wait(uint64_t *pos, struct live_item *out, int n, int timeout_ms)
{
	struct timespec until;
	int got = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&L.mu);
	while (!L.stopping && *pos >= L.next)
		if (pthread_cond_timedwait(&L.cond, &L.mu, &until) != 0)
			break;
	if (L.stopping) {
		got = -2;
	} else if (*pos < L.next && L.next - *pos > LIVE_RING) {
		*pos = L.next - LIVE_RING;
		got = -1;
	} else {
		while (got < n && *pos < L.next)
			out[got++] = L.ring[(*pos)++ % LIVE_RING];
	}
	pthread_mutex_unlock(&L.mu);
	return got;
}

int live_enter(int max)
{
	int ok;

	pthread_mutex_lock(&L.mu);
	ok = !L.stopping && L.streams < max;
	if (ok)
		L.streams++;
	pthread_mutex_unlock(&L.mu);
	return ok ? 0 : -1;
}

void live_leave(void)
{
	pthread_mutex_lock(&L.mu);
	L.streams--;
	pthread_mutex_unlock(&L.mu);
}

int live_streams(void)
{
	int n;

	pthread_mutex_lock(&L.mu);
	n = L.streams;
	pthread_mutex_unlock(&L.mu);
	return n;
}

void live_stop(void)
{
	pthread_mutex_lock(&L.mu);
	L.stopping = 1;
	pthread_cond_broadcast(&L.cond);
	pthread_mutex_unlock(&L.mu);
}
