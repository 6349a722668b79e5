/* events: what terminals report (badges granted or denied, doors forced or
 * held open, tamper ...), stored once per (terminal, sequence number) with
 * the time it happened on the terminal. The card number presented and the
 * person it belonged to are personal: they are sealed under the person's
 * key (erasure shreds them), or the tenant's key when the card is unknown. */
#ifndef GH_EVENTS_H
#define GH_EVENTS_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct jv;

struct event_in {
	long long seq;
	long long at_ms;          /* Unix ms on the terminal's clock */
	char kind[24];            /* access, door_forced, door_held, tamper, door_opened, door_closed */
	int64_t door_id;          /* 0 if none */
	char card[40];            /* as read, "" if none */
	char result[12];          /* granted, denied, "" */
	char reason[32];          /* decide_reason_name, or "" */
};

/* Parse and validate one event object from a terminal. 0, or -1 with why. */
int event_parse(const cJSON *o, struct event_in *ev, char *why, size_t whylen);

/* Store events of one device inside the caller's write transaction. A
 * (device, seq) already stored is skipped. Returns the number newly stored,
 * or -1. */
int events_store(int64_t tenant, int64_t device_id, const struct event_in *evs, int n);

/* The highest sequence number stored for a device (0 if none). */
long long events_last_seq(int64_t device_id);

#endif
