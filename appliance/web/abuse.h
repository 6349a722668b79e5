/* abuse: in-memory defences against floods, guessing and scanning.
 *
 * - Rate limits: token buckets keyed by client address (and by API token),
 *   one class for logins and one for the API; a request over the limit gets
 *   429 with Retry-After.
 * - Failure counters: authentication failures and probes of unknown routes
 *   per address in a sliding window; crossing a threshold means "block this
 *   address" (the caller records the block in the database, audits it and
 *   raises an alert).
 * - Blocks: addresses refused until a time; removable by an admin.
 * Memory is bounded: at most ABUSE_MAX_KEYS addresses/tokens are tracked;
 * the least recently seen are forgotten first. Thread-safe. */
#ifndef GH_ABUSE_H
#define GH_ABUSE_H

#include <stddef.h>

#define ABUSE_MAX_KEYS 65536 /* keys are told apart on all their bytes */

enum abuse_class { ABUSE_API, ABUSE_LOGIN };

struct abuse_settings {
	double api_rate, api_burst;        /* requests per second, bucket size */
	double login_rate, login_burst;    /* login attempts per second, bucket size */
	int fail_threshold;                /* auth failures in the window that block */
	long long fail_window_ms;
	int probe_threshold;               /* unknown-route probes in the window that block */
	long long probe_window_ms;
};

/* A rate of 0 or less leaves that class unlimited; a burst under 1 acts as
 * 1. A threshold of 0 or less never blocks; thresholds are capped at 1000
 * (each tracked address keeps that many recent times). New thresholds
 * restart the failure counts. Until called, built-in defaults apply. */
void abuse_configure(const struct abuse_settings *s);

/* Take one token from key's bucket of that class. 1: allowed. 0: limited,
 * *retry_after_s = whole seconds until a token is available (at least 1). */
int abuse_allow(enum abuse_class cls, const char *key, long long now_ms, int *retry_after_s);

/* Count one authentication failure / probe for addr. Returns 1 exactly when
 * this one reached the threshold (block now), else 0: threshold events in
 * (now_ms - window_ms, now_ms]. Failures that go on above the threshold
 * return 1 again at most once per window, not on every one. */
int abuse_note_failure(const char *addr, long long now_ms);
int abuse_note_probe(const char *addr, long long now_ms);

void abuse_block(const char *addr, long long until_ms);
void abuse_unblock(const char *addr);
/* 1 if addr is blocked at now_ms (and *until_ms set), else 0. */
int abuse_blocked(const char *addr, long long now_ms, long long *until_ms);

/* Forget every address, token and block; the settings stay. */
void abuse_reset(void);

#endif
