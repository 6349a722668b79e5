#include "t.h"

#include "web/abuse.h"

#include <pthread.h>

#define T0 1767225600000LL /* 2026-01-01, in milliseconds */

static void setup(void)
{
	static const struct abuse_settings s = {
		.api_rate = 10, .api_burst = 20,
		.login_rate = 0.2, .login_burst = 3, /* one attempt per 5 s */
		.fail_threshold = 5, .fail_window_ms = 60000,
		.probe_threshold = 3, .probe_window_ms = 10000,
	};

	abuse_configure(&s);
	abuse_reset();
}

/* How many requests in a row key gets at now. */
static int burst_of(enum abuse_class cls, const char *key, long long now)
{
	int n = 0, retry = 0;

	while (n < 1000 && abuse_allow(cls, key, now, &retry))
		n++;
	return n;
}

TEST(abuse_bucket_allows_burst_then_limits)
{
	int retry = -1;

	setup();
	CHECK_INT(burst_of(ABUSE_LOGIN, "10.0.0.1", T0), 3);
	CHECK_INT(abuse_allow(ABUSE_LOGIN, "10.0.0.1", T0, &retry), 0);
	CHECK_INT(retry, 5); /* a token every 5 s */
	/* Partway, the wait shrinks and is rounded up to whole seconds. */
	CHECK_INT(abuse_allow(ABUSE_LOGIN, "10.0.0.1", T0 + 3500, &retry), 0);
	CHECK_INT(retry, 2);
	CHECK_INT(abuse_allow(ABUSE_LOGIN, "10.0.0.1", T0 + 4999, &retry), 0);
	CHECK_INT(retry, 1);
	/* Waiting the advertised time is enough. */
	CHECK_INT(abuse_allow(ABUSE_LOGIN, "10.0.0.1", T0 + 5000, &retry), 1);
	CHECK_INT(abuse_allow(ABUSE_LOGIN, "10.0.0.1", T0 + 5000, &retry), 0);
	CHECK_INT(retry, 5);

	CHECK_INT(burst_of(ABUSE_API, "10.0.0.1", T0), 20);
	CHECK_INT(abuse_allow(ABUSE_API, "10.0.0.1", T0, &retry), 0);
	CHECK_INT(retry, 1); /* 10 per second: at least 1 s all the same */
}

TEST(abuse_bucket_refills_over_time)
{
	setup();
	CHECK_INT(burst_of(ABUSE_API, "10.0.0.2", T0), 20);
	CHECK_INT(burst_of(ABUSE_API, "10.0.0.2", T0 + 100), 1);
	CHECK_INT(burst_of(ABUSE_API, "10.0.0.2", T0 + 600), 5);
	/* Never more than the burst, however long the pause. */
	CHECK_INT(burst_of(ABUSE_API, "10.0.0.2", T0 + 3600000), 20);
	/* A steady 10 per second goes through forever. */
	for (int i = 1; i <= 1000; i++)
		CHECK_INT(abuse_allow(ABUSE_API, "10.0.0.2", T0 + 3600000 + i * 100, NULL), 1);
	/* Time going backwards (another thread's older clock) refills nothing. */
	CHECK_INT(burst_of(ABUSE_API, "10.0.0.2", T0), 0);
}

TEST(abuse_classes_and_keys_are_independent)
{
	setup();
	CHECK_INT(burst_of(ABUSE_LOGIN, "10.0.0.3", T0), 3);
	CHECK_INT(burst_of(ABUSE_API, "10.0.0.3", T0), 20);
	CHECK_INT(burst_of(ABUSE_LOGIN, "10.0.0.4", T0), 3);
	CHECK_INT(burst_of(ABUSE_API, "token:7", T0), 20);
	CHECK_INT(burst_of(ABUSE_API, "token:8", T0), 20);
	CHECK_INT(burst_of(ABUSE_API, "2001:db8::3", T0), 20);
	/* Limits are not blocks, and failures do not use up tokens. */
	CHECK_INT(abuse_blocked("10.0.0.3", T0, NULL), 0);
	CHECK_INT(abuse_note_failure("10.0.0.5", T0), 0);
	CHECK_INT(burst_of(ABUSE_LOGIN, "10.0.0.5", T0), 3);
}

TEST(abuse_failure_threshold_fires_once_at_the_crossing)
{
	setup();
	for (int i = 0; i < 4; i++)
		CHECK_INT(abuse_note_failure("10.0.1.1", T0 + i * 1000), 0);
	CHECK_INT(abuse_note_failure("10.0.1.1", T0 + 4000), 1);
	for (int i = 5; i < 20; i++)
		CHECK_INT(abuse_note_failure("10.0.1.1", T0 + i * 1000), 0);
	/* Probes are counted apart, with their own threshold. */
	CHECK_INT(abuse_note_probe("10.0.1.1", T0), 0);
	CHECK_INT(abuse_note_probe("10.0.1.1", T0 + 1), 0);
	CHECK_INT(abuse_note_probe("10.0.1.1", T0 + 2), 1);
	CHECK_INT(abuse_note_probe("10.0.1.1", T0 + 3), 0);
	/* Other addresses are untouched. */
	CHECK_INT(abuse_note_failure("10.0.1.2", T0 + 20000), 0);
	CHECK_INT(abuse_note_probe("10.0.1.2", T0 + 20000), 0);
}

TEST(abuse_window_slides)
{
	setup();
	/* Four failures, spread out: the first has left the window (60 s,
	 * exclusive at its old end) when the fifth comes. */
	CHECK_INT(abuse_note_failure("10.0.2.1", T0), 0);
	CHECK_INT(abuse_note_failure("10.0.2.1", T0 + 20000), 0);
	CHECK_INT(abuse_note_failure("10.0.2.1", T0 + 40000), 0);
	CHECK_INT(abuse_note_failure("10.0.2.1", T0 + 50000), 0);
	CHECK_INT(abuse_note_failure("10.0.2.1", T0 + 60000), 0);
	/* Four in (T0 + 1, T0 + 60001], and this one makes five. */
	CHECK_INT(abuse_note_failure("10.0.2.1", T0 + 60001), 1);

	/* A slow guesser never crosses: one failure every 15 s is 4 per 60 s. */
	for (int i = 0; i < 100; i++)
		CHECK_INT(abuse_note_failure("10.0.2.2", T0 + i * 15000LL), 0);
	/* Just faster does, at the fifth failure, and then, as it goes on,
	 * once per window (not on every failure). */
	int fired = 0;
	long long last = 0;
	for (int i = 0; i < 100; i++) {
		long long t = T0 + i * 14000LL;
		if (abuse_note_failure("10.0.2.3", t)) {
			CHECK(fired == 0 ? i == 4 : t - last >= 60000);
			fired++;
			last = t;
		}
	}
	CHECK_INT(fired, 20);

	/* After a quiet spell, the count starts over and may fire again. */
	for (int i = 0; i < 4; i++)
		CHECK_INT(abuse_note_failure("10.0.2.3", T0 + 2000000 + i), 0);
	CHECK_INT(abuse_note_failure("10.0.2.3", T0 + 2000004), 1);
}

TEST(abuse_window_is_exact_just_before_expiry)
{
	setup();
	/* Four failures at the same moment, then one just inside and one just
	 * outside the window. */
	for (int i = 0; i < 4; i++)
		CHECK_INT(abuse_note_failure("10.0.2.4", T0), 0);
	CHECK_INT(abuse_note_failure("10.0.2.4", T0 + 59999), 1);
	for (int i = 0; i < 4; i++)
		CHECK_INT(abuse_note_failure("10.0.2.5", T0), 0);
	CHECK_INT(abuse_note_failure("10.0.2.5", T0 + 60000), 0);
}

TEST(abuse_block_unblock_and_expiry)
{
	long long until = 0;

	setup();
	CHECK_INT(abuse_blocked("10.0.3.1", T0, &until), 0);
	abuse_block("10.0.3.1", T0 + 60000);
	CHECK_INT(abuse_blocked("10.0.3.1", T0, &until), 1);
	CHECK_INT(until, T0 + 60000);
	CHECK_INT(abuse_blocked("10.0.3.1", T0 + 59999, NULL), 1);
	CHECK_INT(abuse_blocked("10.0.3.1", T0 + 60000, NULL), 0);
	CHECK_INT(abuse_blocked("10.0.3.2", T0, NULL), 0);

	abuse_block("10.0.3.2", T0 + 3600000);
	CHECK_INT(abuse_blocked("10.0.3.2", T0 + 1000, NULL), 1);
	abuse_unblock("10.0.3.2");
	CHECK_INT(abuse_blocked("10.0.3.2", T0 + 1000, NULL), 0);
	abuse_unblock("10.0.3.3"); /* never seen: nothing to do */
	CHECK_INT(abuse_blocked("10.0.3.3", T0, NULL), 0);

	/* A later block replaces an earlier one; reset forgets all. */
	abuse_block("10.0.3.4", T0 + 1000);
	abuse_block("10.0.3.4", T0 + 5000);
	CHECK_INT(abuse_blocked("10.0.3.4", T0 + 2000, &until), 1);
	CHECK_INT(until, T0 + 5000);
	abuse_reset();
	CHECK_INT(abuse_blocked("10.0.3.4", T0 + 2000, NULL), 0);
}

TEST(abuse_memory_stays_bounded)
{
	char key[64];
	long long now = T0;

	setup();
	abuse_block("10.9.9.9", T0 + 86400000);
	for (int i = 0; i < ABUSE_MAX_KEYS + 1000; i++) {
		snprintf(key, sizeof key, "2001:db8::%x:%x", i >> 16, i & 0xffff);
		CHECK(abuse_allow(ABUSE_LOGIN, key, now, NULL) == 1);
		if (i % 7 == 0)
			abuse_note_failure(key, now);
		now++;
	}
	/* The most recent keys are still tracked: their bucket is partly used. */
	for (int i = ABUSE_MAX_KEYS + 1000 - 100; i < ABUSE_MAX_KEYS + 1000; i++) {
		snprintf(key, sizeof key, "2001:db8::%x:%x", i >> 16, i & 0xffff);
		CHECK_INT(burst_of(ABUSE_LOGIN, key, now), 2);
	}
	/* The oldest were forgotten, so they start with a full bucket. */
	CHECK_INT(burst_of(ABUSE_LOGIN, "2001:db8::0:0", now), 3);
	/* A flood of new addresses does not push out a block. */
	CHECK_INT(abuse_blocked("10.9.9.9", now, NULL), 1);
	/* Very long keys are told apart too. */
	char a[200], b[200];
	memset(a, 'k', sizeof a);
	a[sizeof a - 1] = '\0';
	memcpy(b, a, sizeof b);
	b[150] = 'j';
	CHECK_INT(burst_of(ABUSE_LOGIN, a, now), 3);
	CHECK_INT(burst_of(ABUSE_LOGIN, b, now), 3);
	abuse_reset();
}

TEST(abuse_settings_apply)
{
	static const struct abuse_settings off = {
		.api_rate = 0, .api_burst = 0, /* 0: not limited */
		.login_rate = 1, .login_burst = 0.5, /* a burst under 1 acts as 1 */
		.fail_threshold = 1, .fail_window_ms = 1000,
		.probe_threshold = 0, .probe_window_ms = 1000, /* 0: never blocks */
	};

	abuse_configure(&off);
	abuse_reset();
	CHECK_INT(burst_of(ABUSE_API, "10.0.4.1", T0), 1000);
	CHECK_INT(burst_of(ABUSE_LOGIN, "10.0.4.1", T0), 1);
	CHECK_INT(abuse_note_failure("10.0.4.1", T0), 1);
	CHECK_INT(abuse_note_failure("10.0.4.1", T0 + 999), 0);
	CHECK_INT(abuse_note_failure("10.0.4.1", T0 + 2000), 1);
	for (int i = 0; i < 10; i++)
		CHECK_INT(abuse_note_probe("10.0.4.1", T0 + i), 0);
	setup();
}

#define THREADS 4
#define ROUNDS 20000

static void *hammer(void *arg)
{
	int id = *(int *)arg, allowed = 0;
	char key[32];

	for (int i = 0; i < ROUNDS; i++) {
		long long now = T0 + i;
		int retry = 0;
		/* Shared keys and keys of this thread's own, so entries are
		 * both contended and created (and evicted: past the limit). */
		if (i % 2)
			snprintf(key, sizeof key, "10.1.0.%d", i % 16);
		else
			snprintf(key, sizeof key, "10.%d.%d.%d", 2 + id, (i >> 8) & 0xff, i & 0xff);
		allowed += abuse_allow(i % 3 ? ABUSE_API : ABUSE_LOGIN, key, now, &retry);
		if (i % 5 == 0)
			abuse_note_failure(key, now);
		if (i % 11 == 0)
			abuse_note_probe(key, now);
		if (i % 97 == 0)
			abuse_block(key, now + 1000);
		if (i % 13 == 0)
			abuse_blocked(key, now, NULL);
		if (i % 101 == 0)
			abuse_unblock(key);
	}
	*(int *)arg = allowed;
	return NULL;
}

TEST(abuse_threads_smoke)
{
	pthread_t th[THREADS];
	int arg[THREADS];

	setup();
	for (int i = 0; i < THREADS; i++) {
		arg[i] = i;
		CHECK_INT(pthread_create(&th[i], NULL, hammer, &arg[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		CHECK_INT(pthread_join(th[i], NULL), 0);
		CHECK(arg[i] > 0 && arg[i] <= ROUNDS);
	}
	abuse_reset();
}

TEST(abuse_large_thresholds_are_capped)
{
	static const struct abuse_settings big = {
		.api_rate = 10, .api_burst = 20, .login_rate = 1, .login_burst = 1,
		.fail_threshold = 100000, .fail_window_ms = 3600000,
		.probe_threshold = 1000, .probe_window_ms = 3600000,
	};
	int first = -1;

	abuse_configure(&big);
	abuse_reset();
	for (int i = 0; i < 1500 && first < 0; i++)
		if (abuse_note_failure("10.0.5.1", T0 + i))
			first = i;
	CHECK_INT(first, 999); /* the 1000th failure */
	first = -1;
	for (int i = 0; i < 1500 && first < 0; i++)
		if (abuse_note_probe("10.0.5.1", T0 + i))
			first = i;
	CHECK_INT(first, 999);
	setup();
}
