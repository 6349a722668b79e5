/* abuse: token buckets, sliding-window failure counters and blocks, kept
 * per key (client address or "token:N") in one bounded table.
 *
 * The table is a fixed pool of ABUSE_MAX_KEYS entries, found through a
 * chained hash table and ordered by a least-recently-used list; once the
 * pool is full, the least recently seen key is reused. Everything is behind
 * one mutex: each operation is a hash lookup and a few arithmetic steps. */
#include "abuse.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Keys are addresses (at most INET6_ADDRSTRLEN, 46) or "token:N". A longer
 * key is stored cut short but told apart by the hash of the whole key. */
#define KEY_MAX 48
#define NBUCKETS (2 * ABUSE_MAX_KEYS) /* a power of two */
#define NONE UINT32_MAX
#define NEVER LLONG_MIN
/* A window remembers threshold times, so a threshold is capped to keep the
 * worst case (every key failing) at a bounded size. */
#define MAX_THRESHOLD 1000
/* How many blocked entries eviction passes over before it gives up. */
#define EVICT_SCAN 16

struct bucket {
	double tokens;
	long long last_ms; /* NEVER: not used yet, starts full */
};

/* The latest events of one counter, at most threshold of them (not in
 * order): enough to tell whether threshold of them fall in the window. */
struct window {
	long long *times;
	int n;
	long long fired_at; /* when it last reached the threshold, or NEVER */
};

enum { WIN_FAIL, WIN_PROBE };

struct entry {
	char key[KEY_MAX];
	uint64_t hash;
	uint32_t chain;        /* next entry in the same hash bucket */
	uint32_t newer, older; /* neighbours in the LRU list */
	struct bucket bucket[2]; /* indexed by enum abuse_class */
	struct window win[2];    /* WIN_FAIL, WIN_PROBE */
	long long block_until;   /* 0: not blocked */
};

static struct {
	pthread_mutex_t mu;
	struct abuse_settings set;
	struct entry *pool; /* ABUSE_MAX_KEYS entries, allocated on first use */
	uint32_t *heads;    /* NBUCKETS chain heads */
	uint32_t used;      /* entries of pool handed out so far */
	uint32_t newest, oldest;
	long long now_ms;   /* latest time seen; abuse_block has none of its own */
	int keyed;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
} st = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	/* Used until abuse_configure: the defaults of the configuration keys
	 * limits.* and abuse.* in core/config.c. */
	.set = {.api_rate = 50, .api_burst = 200, .login_rate = 20 / 60.0, .login_burst = 10,
		.fail_threshold = 10, .fail_window_ms = 10 * 60 * 1000,
		.probe_threshold = 30, .probe_window_ms = 60 * 1000},
	.newest = NONE,
	.oldest = NONE,
};

/* --- the table ------------------------------------------------------------- */

/* Keys come from clients (an attacker picks IPv6 addresses freely), so the
 * hash is keyed SipHash with a random key: chains cannot be made long. */
static uint64_t key_hash(const char *key)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	if (!st.keyed) {
		if (sodium_init() >= 0)
			randombytes_buf(st.hkey, sizeof st.hkey);
		st.keyed = 1;
	}
	crypto_shorthash(out, (const unsigned char *)key, strlen(key), st.hkey);
	memcpy(&h, out, sizeof h);
	return h;
}

static int pool_ready(void)
{
	if (st.pool)
		return 1;
	st.pool = calloc(ABUSE_MAX_KEYS, sizeof *st.pool);
	st.heads = malloc(NBUCKETS * sizeof *st.heads);
	if (!st.pool || !st.heads) {
		free(st.pool);
		free(st.heads);
		st.pool = NULL;
		st.heads = NULL;
		return 0;
	}
	memset(st.heads, 0xff, NBUCKETS * sizeof *st.heads); /* all NONE */
	return 1;
}

static void lru_unlink(uint32_t i)
{
	struct entry *e = &st.pool[i];

	if (e->newer != NONE)
		st.pool[e->newer].older = e->older;
	else
		st.newest = e->older;
	if (e->older != NONE)
		st.pool[e->older].newer = e->newer;
	else
		st.oldest = e->newer;
	e->newer = e->older = NONE;
}

static void lru_push_newest(uint32_t i)
{
	struct entry *e = &st.pool[i];

	e->older = st.newest;
	e->newer = NONE;
	if (st.newest != NONE)
		st.pool[st.newest].newer = i;
	st.newest = i;
	if (st.oldest == NONE)
		st.oldest = i;
}

static void chain_unlink(uint32_t i)
{
	uint32_t *link = &st.heads[st.pool[i].hash & (NBUCKETS - 1)];

	while (*link != NONE && *link != i)
		link = &st.pool[*link].chain;
	if (*link == i)
		*link = st.pool[i].chain;
}

static void window_clear(struct window *w)
{
	free(w->times);
	w->times = NULL;
	w->n = 0;
	w->fired_at = NEVER;
}

/* The entry to reuse when the pool is full: the least recently seen one
 * that is not blocked. Blocked entries met on the way are moved to the new
 * end instead, so that a flood of fresh addresses cannot push a block out;
 * only when the old end is all blocks is one of them forgotten. */
static uint32_t evict(void)
{
	uint32_t victim;

	for (int k = 0; k < EVICT_SCAN; k++) {
		victim = st.oldest;
		if (st.pool[victim].block_until <= st.now_ms)
			break;
		lru_unlink(victim);
		lru_push_newest(victim);
	}
	victim = st.oldest;
	chain_unlink(victim);
	lru_unlink(victim);
	window_clear(&st.pool[victim].win[WIN_FAIL]);
	window_clear(&st.pool[victim].win[WIN_PROBE]);
	return victim;
}

static int key_matches(const struct entry *e, const char *key, uint64_t h)
{
	return e->hash == h && strncmp(e->key, key, KEY_MAX - 1) == 0;
}

/* The entry for key, moved to the new end of the LRU list; created when
 * create is set. NULL if absent, or if the pool cannot be allocated (the
 * defences then let traffic through rather than stopping the service). */
static struct entry *lookup(const char *key, int create)
{
	uint64_t h;
	uint32_t i, *head;
	struct entry *e;

	if (!key || !pool_ready())
		return NULL;
	h = key_hash(key);
	head = &st.heads[h & (NBUCKETS - 1)];
	for (i = *head; i != NONE; i = st.pool[i].chain) {
		if (key_matches(&st.pool[i], key, h)) {
			lru_unlink(i);
			lru_push_newest(i);
			return &st.pool[i];
		}
	}
	if (!create)
		return NULL;
	i = st.used < ABUSE_MAX_KEYS ? st.used++ : evict();
	e = &st.pool[i];
	memset(e, 0, sizeof *e);
	memcpy(e->key, key, strnlen(key, KEY_MAX - 1)); /* NUL from the memset */
	e->hash = h;
	e->bucket[ABUSE_API].last_ms = e->bucket[ABUSE_LOGIN].last_ms = NEVER;
	e->win[WIN_FAIL].fired_at = e->win[WIN_PROBE].fired_at = NEVER;
	e->chain = *head;
	*head = i;
	lru_push_newest(i);
	return e;
}

static void see_time(long long now_ms)
{
	if (now_ms > st.now_ms)
		st.now_ms = now_ms;
}

/* --- rate limits ------------------------------------------------------------- */

/* A token bucket refilled continuously at rate per second up to burst.
 * A rate of 0 or less means the class is not limited. */
static int bucket_take(struct bucket *b, double rate, double burst, long long now_ms,
		       int *retry_after_s)
{
	double wait_s;

	if (!(rate > 0))
		return 1;
	if (burst < 1)
		burst = 1; /* else a token could never be had */
	if (b->last_ms == NEVER) {
		b->tokens = burst;
		b->last_ms = now_ms;
	} else if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
		b->last_ms = now_ms;
	}
	if (b->tokens > burst)
		b->tokens = burst;
	/* The tolerance absorbs rounding in the refill: waiting exactly the
	 * advertised Retry-After must be enough. */
	if (b->tokens >= 1 - 1e-9) {
		b->tokens -= 1;
		return 1;
	}
	wait_s = ceil((1 - b->tokens) / rate - 1e-9);
	if (retry_after_s)
		*retry_after_s = wait_s < 1 ? 1 : wait_s > INT_MAX ? INT_MAX : (int)wait_s;
	return 0;
}

int abuse_allow(enum abuse_class cls, const char *key, long long now_ms, int *retry_after_s)
{
	struct entry *e;
	int ok = 1;
	double rate, burst;

	if (cls != ABUSE_API && cls != ABUSE_LOGIN)
		return 1;
	pthread_mutex_lock(&st.mu);
	see_time(now_ms);
	rate = cls == ABUSE_LOGIN ? st.set.login_rate : st.set.api_rate;
	burst = cls == ABUSE_LOGIN ? st.set.login_burst : st.set.api_burst;
	e = lookup(key, 1);
	if (e)
		ok = bucket_take(&e->bucket[cls], rate, burst, now_ms, retry_after_s);
	pthread_mutex_unlock(&st.mu);
	return ok;
}

/* --- failure counters -------------------------------------------------------- */

static int clamp_threshold(int t)
{
	return t > MAX_THRESHOLD ? MAX_THRESHOLD : t;
}

/* Record an event at now_ms. 1 if it makes threshold events in the window
 * (now_ms - window_ms, now_ms] and the window has not fired within the last
 * window_ms: a burst fires once, at its crossing, and abuse that goes on at
 * or above the threshold fires again once per window rather than on every
 * event (each firing means a block, an audit entry and an alert). */
static int window_note(struct window *w, int threshold, long long window_ms, long long now_ms)
{
	int before = 0, oldest = 0;

	if (threshold <= 0)
		return 0;
	if (!w->times) {
		w->times = calloc((size_t)threshold, sizeof *w->times);
		if (!w->times)
			return 0;
		w->n = 0;
	}
	for (int i = 0; i < w->n; i++) {
		if (w->times[i] > now_ms - window_ms)
			before++;
		if (w->times[i] < w->times[oldest])
			oldest = i;
	}
	/* Only the latest threshold times can matter. Replacing the smallest,
	 * not the first written, stays right when threads deliver slightly
	 * out-of-order times. */
	w->times[w->n < threshold ? w->n++ : oldest] = now_ms;
	if (before < threshold - 1 || w->fired_at > now_ms - window_ms)
		return 0;
	w->fired_at = now_ms;
	return 1;
}

static int note(int which, const char *addr, long long now_ms)
{
	struct entry *e;
	int crossed = 0;
	int threshold;
	long long window_ms;

	pthread_mutex_lock(&st.mu);
	see_time(now_ms);
	threshold = clamp_threshold(which == WIN_FAIL ? st.set.fail_threshold
						      : st.set.probe_threshold);
	window_ms = which == WIN_FAIL ? st.set.fail_window_ms : st.set.probe_window_ms;
	if (window_ms < 0)
		window_ms = 0;
	e = lookup(addr, 1);
	if (e)
		crossed = window_note(&e->win[which], threshold, window_ms, now_ms);
	pthread_mutex_unlock(&st.mu);
	return crossed;
}

int abuse_note_failure(const char *addr, long long now_ms)
{
	return note(WIN_FAIL, addr, now_ms);
}

int abuse_note_probe(const char *addr, long long now_ms)
{
	return note(WIN_PROBE, addr, now_ms);
}

/* --- blocks ------------------------------------------------------------------ */

void abuse_block(const char *addr, long long until_ms)
{
	struct entry *e;

	pthread_mutex_lock(&st.mu);
	e = lookup(addr, 1);
	if (e)
		e->block_until = until_ms;
	pthread_mutex_unlock(&st.mu);
}

void abuse_unblock(const char *addr)
{
	struct entry *e;

	pthread_mutex_lock(&st.mu);
	e = lookup(addr, 0);
	if (e)
		e->block_until = 0;
	pthread_mutex_unlock(&st.mu);
}

int abuse_blocked(const char *addr, long long now_ms, long long *until_ms)
{
	struct entry *e;
	int blocked = 0;

	pthread_mutex_lock(&st.mu);
	see_time(now_ms);
	e = lookup(addr, 0);
	if (e && e->block_until > now_ms) {
		blocked = 1;
		if (until_ms)
			*until_ms = e->block_until;
	} else if (e) {
		e->block_until = 0; /* expired: the entry may now be evicted */
	}
	pthread_mutex_unlock(&st.mu);
	return blocked;
}

/* --- settings ---------------------------------------------------------------- */

static void clear_windows(void)
{
	for (uint32_t i = 0; i < st.used; i++) {
		window_clear(&st.pool[i].win[WIN_FAIL]);
		window_clear(&st.pool[i].win[WIN_PROBE]);
	}
}

void abuse_configure(const struct abuse_settings *s)
{
	pthread_mutex_lock(&st.mu);
	/* A window's size is its threshold, so new thresholds start the
	 * counts afresh; buckets simply refill up to the new burst. */
	if (clamp_threshold(s->fail_threshold) != clamp_threshold(st.set.fail_threshold) ||
	    clamp_threshold(s->probe_threshold) != clamp_threshold(st.set.probe_threshold))
		clear_windows();
	st.set = *s;
	pthread_mutex_unlock(&st.mu);
}

void abuse_reset(void)
{
	pthread_mutex_lock(&st.mu);
	clear_windows();
	free(st.pool);
	free(st.heads);
	st.pool = NULL;
	st.heads = NULL;
	st.used = 0;
	st.newest = st.oldest = NONE;
	st.now_ms = 0;
	pthread_mutex_unlock(&st.mu);
}
