/* term_int: what the parts of one terminal (term.c, term_cmd.c,
 * term_sync.c) share; not for the rest of the simulator. */
#ifndef GH_DEVSIM_TERM_INT_H
#define GH_DEVSIM_TERM_INT_H

#include "devsim/term.h"

#include <cJSON.h>

#define STATUS_EVERY_MS 300000 /* "after connecting and every 5 minutes" */
/* The watermark and a changed copy are written at most this often (and at
 * exit): each write makes a new file (renamed over the old one), and
 * thousands of terminals renaming every few seconds keep the file system
 * busy allocating inodes. Commands, lockdown and firmware are written at
 * once. */
#define SAVE_EVERY_MS 60000

/* term.c */
long long term_clock_ms(const struct term *t);
/* Publish a JSON text at QoS 1 on gh/v1/<uid>/<suffix>. 0 or -1. */
int term_publish(struct term *t, const char *suffix, const char *json, uint16_t *pid);
void term_save_meta(struct term *t);
void term_save_copy(struct term *t);
/* Record an event (seq and at given here): log file first, then buffer. */
void term_add_event(struct term *t, struct devsim_event *e);
/* Publish what the buffer holds, as the window allows. */
void term_pump(struct term *t);

/* term_sync.c */
void term_send_status(struct term *t);
void term_request_sync(struct term *t, int full);
/* Sync now, or once the answer in progress is in. */
void term_want_sync(struct term *t, int full);
void term_on_sync(struct term *t, const cJSON *msg);
void term_on_hint(struct term *t, const cJSON *msg);

/* term_cmd.c */
void term_on_command(struct term *t, const cJSON *cmd);
void term_on_firmware(struct term *t, const cJSON *msg);
/* A command finished: remember it, count it, ack it. */
void term_finish(struct term *t, int64_t id, int done, enum store_why why, const char *result, int firmware);
/* Ask for the next chunk of the firmware download. */
void term_request_chunk(struct term *t);

#endif
