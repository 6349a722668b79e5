/* fw: downloading a firmware image chunk by chunk (docs/device-protocol.md,
 * section 8). The bytes go to DIR/devsim-N/firmware.part as they arrive,
 * and firmware.json names the image they belong to, so a download cut by a
 * disconnect or a restart resumes from the stored count (the file's size)
 * when the command arrives again. Complete, the image is checked against
 * the command's SHA-256 before it is "installed". */
#ifndef GH_DEVSIM_FW_H
#define GH_DEVSIM_FW_H

#include "devsim/store.h"

#include <cJSON.h>
#include <stdint.h>

#define FW_MAX_SIZE (64ll << 20) /* the appliance's own limit */

struct fw_job {
	int active;
	int64_t command_id, image_id;
	long long size, have;     /* image size; bytes stored so far */
	char sha256[65], version[65], model[65];
	long long asked_ms;       /* monotonic time of the outstanding request; 0 none */
};

enum fw_step {
	FW_MORE,      /* stored; ask for the next offset (have) */
	FW_COMPLETE,  /* every byte is here: verify */
	FW_IGNORE,    /* not the chunk we wait for (another image, a stale offset) */
	FW_ERROR,     /* the appliance refused, or the chunk cannot be stored */
};

/* Start the download a firmware command describes, or resume it when
 * firmware.json names the same image (id and SHA-256). 0, or -1 with why. */
int fw_begin(struct fw_job *j, const char *dir, int64_t command_id, const cJSON *params, const char *model,
	     enum store_why *why);

/* A download left by an earlier run (firmware.json names its command):
 * resume it without waiting for the command to come again, which it does
 * not after the appliance itself was killed. 0, or -1 when there is none. */
int fw_restore(struct fw_job *j, const char *dir);

/* A message from .../firmware. On FW_ERROR, err holds the appliance's
 * error or what went wrong here. */
enum fw_step fw_chunk(struct fw_job *j, const char *dir, const cJSON *msg, char *err, size_t errlen);

/* SHA-256 of the stored image, as hex, into hex. With corrupt, one byte
 * of the stored image is flipped first (a faulty flash, for tests).
 * Returns 1 when it is the command's, 0 when not, -1 if unreadable. */
int fw_verify(struct fw_job *j, const char *dir, int corrupt, char hex[65]);

/* Forget the download and delete its files. */
void fw_discard(struct fw_job *j, const char *dir);

#endif
