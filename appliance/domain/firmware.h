/* firmware: images uploaded by admins (model, version, SHA-256), kept as
 * files in STATE/firmware/<sha256>, and their rollouts to terminals: one
 * 'firmware' command per terminal, chunks sent on request from any offset
 * (so a download interrupted by a disconnect resumes), progress per
 * terminal, done when the terminal reports the verified image installed. */
#ifndef GH_FIRMWARE_H
#define GH_FIRMWARE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define FIRMWARE_CHUNK 16384
#define FIRMWARE_MAX (64u << 20)

struct firmware {
	int64_t id, tenant;
	char model[65], version[65], sha256[65];
	long long size;
};

void firmware_set_dir(const char *state_dir);

/* Store an image; -1 with why (duplicate version, cannot write). */
int firmware_store(int64_t tenant, const char *model, const char *version, const void *data, size_t len,
		   int64_t *id, char *why, size_t whylen);
int firmware_get(int64_t tenant, int64_t id, struct firmware *f);  /* 0, 1, -1 */
cJSON *firmware_json(const struct firmware *f);
int firmware_list(int64_t tenant, cJSON *out);

/* Offer image id to devices: a rollout row and a command each. Returns the
 * number of devices, or -1 (*bad_device set to a device id not found). */
int firmware_rollout(int64_t tenant, int64_t id, const int64_t *devices, int n, const char *actor,
		     int64_t *bad_device);
int firmware_rollouts(int64_t tenant, int64_t id, cJSON *out);

/* A chunk for a terminal: up to FIRMWARE_CHUNK bytes at offset. Returns
 * the length (0 at the end) or -1; records progress. */
long firmware_chunk(int64_t device_id, int64_t image_id, long long offset, unsigned char *buf, int *last);

/* The terminal finished command_id. If it is a firmware command, record
 * the outcome: done only when the terminal reports success and the SHA-256
 * it computed over what it installed (hex, may be NULL) is the image's.
 * Returns 1 done, 0 failed, 2 not a firmware command, -1 error. */
int firmware_finished(int64_t device_id, int64_t command_id, int ok, const char *sha256);

#endif
