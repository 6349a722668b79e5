/* store: what one simulated terminal keeps "in flash", in its own
 * directory DIR/devsim-N, so that devsim can be stopped and restarted and
 * every terminal continues where it was:
 *
 *   key.pem, cert.pem, ca.pem   its identity (enroll.c writes them)
 *   state                       key=value lines: uid, device id, the next
 *                               seq, the acknowledged watermark, firmware
 *                               version, lockdown, recently executed
 *                               command ids
 *   events.log                  the event buffer: one JSON event a line,
 *                               appended before the event is published;
 *                               lines at or below the watermark are done
 *   copy.json                   the local copy with its sync cursor and
 *                               the terminal key (mode 0600)
 *   firmware.part, firmware.json  a firmware download in progress (fw.c)
 *
 * Sequence numbers are never reused and never skipped: the next seq is
 * the larger of the saved one and the last one in events.log plus one, and
 * events.log is emptied only after the state file recorded both. */
#ifndef GH_DEVSIM_STORE_H
#define GH_DEVSIM_STORE_H

#include "devsim/evq.h"
#include "devsim/local.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_EXEC_MAX 64 /* command ids remembered (the protocol asks for 64) */

/* Why a command failed, kept as a code so a repeat is acked the same way. */
enum store_why {
	SW_NONE,
	SW_EXPIRED,
	SW_UNSUPPORTED,
	SW_NOT_MY_DOOR,
	SW_BAD_PARAMS,
	SW_SHA_MISMATCH,
	SW_WRONG_MODEL,
	SW_IMAGE_ERROR,
	SW_STORAGE,
};

struct store_exec {
	int64_t id;
	uint8_t done;  /* 1 done, 0 failed */
	uint8_t why;   /* enum store_why */
};

struct store_meta {
	char uid[24], name[48];
	int64_t device_id;
	long long next_seq;  /* the seq the next event gets */
	long long acked;     /* every seq up to this one is acknowledged */
	char firmware[65], firmware_sha[65];
	int lockdown;
	struct store_exec exec[STORE_EXEC_MAX];
	int nexec, exec_next;  /* a ring */
};

void store_meta_init(struct store_meta *m);
/* 0, 1 when there is no state file yet, -1 with err. */
int store_meta_load(const char *dir, struct store_meta *m, char *err, size_t errlen);
int store_meta_save(const char *dir, const struct store_meta *m);

/* Remember that command id finished (the oldest of 64 is forgotten). */
void store_exec_add(struct store_meta *m, int64_t id, int done, enum store_why why);
const struct store_exec *store_exec_find(const struct store_meta *m, int64_t id);

/* The event buffer file. store_log_load reads events after q's watermark
 * into q and the highest seq in the file into *last_seq (0 if none); a
 * line cut short by a crash is dropped (it was never published). */
int store_log_open(const char *dir);
int store_log_load(const char *dir, struct evq *q, long long *last_seq, char *err, size_t errlen);
int store_log_append(int fd, const struct devsim_event *e);
int store_log_reset(int fd);

int store_copy_save(const char *dir, struct local *l);
/* 0, 1 when there is none, -1 with err. */
int store_copy_load(const char *dir, struct local *l, char *err, size_t errlen);

/* Does dir hold a complete identity (key, certificate, CA, uid)? */
int store_has_identity(const char *dir);

#endif
