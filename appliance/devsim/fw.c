#include "devsim/fw.h"

#include "devsim/util.h"
#include "web/json.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FW_CHUNK_MAX (1 << 20)

static int paths(const char *dir, char part[4200], char meta[4200])
{
	return ds_path(part, 4200, dir, "firmware.part") < 0 || ds_path(meta, 4200, dir, "firmware.json") < 0 ? -1 : 0;
}

static int hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
			return 0;
	return 1;
}

static int text_param(const cJSON *params, const char *name, char *out, size_t len, int required)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(params, name);

	out[0] = '\0';
	if (!cJSON_IsString(m))
		return required ? -1 : 0;
	if (strlen(m->valuestring) >= len)
		return -1;
	snprintf(out, len, "%s", m->valuestring);
	return 0;
}

/* Is the partial download on disk for this very image? Its size then. */
static long long resumable(const char *part, const char *meta, const struct fw_job *j)
{
	char *text = ds_read_file(meta, 4096, NULL);
	cJSON *doc = text ? cJSON_Parse(text) : NULL;
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(doc, "sha256");
	long long image, have = -1;
	struct stat st;

	if (json_int(cJSON_GetObjectItemCaseSensitive(doc, "image_id"), 1, INT64_MAX, &image) == 0 &&
	    image == j->image_id && cJSON_IsString(sha) && strcasecmp(sha->valuestring, j->sha256) == 0 &&
	    stat(part, &st) == 0 && st.st_size <= j->size)
		have = st.st_size;
	cJSON_Delete(doc);
	free(text);
	return have;
}

/* firmware.json: which image firmware.part belongs to. */
static int write_meta(const char *path, const struct fw_job *j)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;
	int rc = -1;

	if (!doc)
		return -1;
	cJSON_AddNumberToObject(doc, "command_id", (double)j->command_id);
	cJSON_AddNumberToObject(doc, "image_id", (double)j->image_id);
	cJSON_AddStringToObject(doc, "sha256", j->sha256);
	cJSON_AddNumberToObject(doc, "size", (double)j->size);
	cJSON_AddStringToObject(doc, "version", j->version);
	cJSON_AddStringToObject(doc, "model", j->model);
	if ((text = cJSON_PrintUnformatted(doc))) {
		rc = ds_write_file(path, text, strlen(text), 0600);
		cJSON_free(text);
	}
	cJSON_Delete(doc);
	return rc;
}

int fw_begin(struct fw_job *j, const char *dir, int64_t command_id, const cJSON *params, const char *model,
	     enum store_why *why)
{
	char part[4200], meta[4200];
	long long image, size, have;
	int fd;

	memset(j, 0, sizeof *j);
	*why = SW_BAD_PARAMS;
	if (paths(dir, part, meta) < 0 ||
	    json_int(cJSON_GetObjectItemCaseSensitive(params, "image_id"), 1, INT64_MAX, &image) < 0 ||
	    json_int(cJSON_GetObjectItemCaseSensitive(params, "size"), 1, FW_MAX_SIZE, &size) < 0 ||
	    text_param(params, "sha256", j->sha256, sizeof j->sha256, 1) < 0 || !hex64(j->sha256) ||
	    text_param(params, "version", j->version, sizeof j->version, 1) < 0 || !j->version[0] ||
	    text_param(params, "model", j->model, sizeof j->model, 0) < 0)
		return -1;
	/* An image for another model would brick this one. */
	if (j->model[0] && model && strcmp(j->model, model) != 0) {
		*why = SW_WRONG_MODEL;
		return -1;
	}
	j->command_id = command_id;
	j->image_id = image;
	j->size = size;
	have = resumable(part, meta, j);
	if (have >= 0 && write_meta(meta, j) < 0) {
		*why = SW_STORAGE; /* the same image under this command's id */
		return -1;
	}
	if (have < 0) {
		/* A new image: start from nothing. */
		*why = SW_STORAGE;
		fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
		if (write_meta(meta, j) < 0)
			return -1;
		have = 0;
	}
	j->have = have;
	j->active = 1;
	*why = SW_NONE;
	return 0;
}

enum fw_step fw_chunk(struct fw_job *j, const char *dir, const cJSON *msg, char *err, size_t errlen)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(msg, "data");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(msg, "last");
	char part[4200], meta[4200];
	unsigned char *bin;
	long long image, offset;
	size_t len = 0, cap;
	ssize_t w;
	int fd;

	if (!j->active || json_int(cJSON_GetObjectItemCaseSensitive(msg, "image_id"), 1, INT64_MAX, &image) < 0 ||
	    image != j->image_id || json_int(cJSON_GetObjectItemCaseSensitive(msg, "offset"), 0, INT64_MAX, &offset) < 0)
		return FW_IGNORE;
	if (cJSON_IsString(error)) {
		snprintf(err, errlen, "%.200s", error->valuestring);
		return FW_ERROR;
	}
	/* One request is outstanding; anything else is a stale answer. */
	if (offset != j->have || !cJSON_IsString(data))
		return FW_IGNORE;
	j->asked_ms = 0;
	cap = strlen(data->valuestring) / 4 * 3 + 3;
	if (cap > FW_CHUNK_MAX || !(bin = malloc(cap ? cap : 1))) {
		snprintf(err, errlen, "chunk too large");
		return FW_ERROR;
	}
	if (sodium_base642bin(bin, cap, data->valuestring, strlen(data->valuestring), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    (long long)len > j->size - j->have) {
		free(bin);
		snprintf(err, errlen, "chunk is not base64, or runs past the image's size");
		return FW_ERROR;
	}
	if (paths(dir, part, meta) < 0 || (fd = open(part, O_WRONLY | O_CLOEXEC)) < 0) {
		free(bin);
		snprintf(err, errlen, "cannot store the image: %s", strerror(errno));
		return FW_ERROR;
	}
	w = pwrite(fd, bin, len, (off_t)offset);
	close(fd);
	free(bin);
	if (w != (ssize_t)len) {
		snprintf(err, errlen, "cannot store the image");
		return FW_ERROR;
	}
	j->have += (long long)len;
	if (j->have == j->size)
		return FW_COMPLETE;
	if (cJSON_IsTrue(last) || len == 0) {
		snprintf(err, errlen, "image ended at %lld of %lld bytes", j->have, j->size);
		return FW_ERROR;
	}
	return FW_MORE;
}

int fw_verify(struct fw_job *j, const char *dir, int corrupt, char hex[65])
{
	char part[4200], meta[4200];
	unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	int fd;
	ssize_t n;

	hex[0] = '\0';
	if (paths(dir, part, meta) < 0 || (fd = open(part, O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	if (corrupt && j->size > 0) {
		unsigned char b;
		off_t at = (off_t)(j->size / 2);
		if (pread(fd, &b, 1, at) == 1) {
			b ^= 0x01;
			(void)!pwrite(fd, &b, 1, at);
		}
	}
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
	close(fd);
	if (n < 0)
		return -1;
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof h);
	return strcasecmp(hex, j->sha256) == 0;
}

void fw_discard(struct fw_job *j, const char *dir)
{
	char part[4200], meta[4200];

	if (paths(dir, part, meta) == 0) {
		unlink(part);
		unlink(meta);
	}
	memset(j, 0, sizeof *j);
}

int fw_restore(struct fw_job *j, const char *dir)
{
	char part[4200], meta[4200];
	char *text;
	cJSON *doc;
	long long cmd = 0;
	int rc = -1;

	memset(j, 0, sizeof *j);
	if (paths(dir, part, meta) < 0 || !(text = ds_read_file(meta, 4096, NULL)))
		return -1;
	doc = cJSON_Parse(text);
	free(text);
	/* Everything a firmware command's params hold, so fw_begin reads it. */
	if (cJSON_IsObject(doc) &&
	    json_int(cJSON_GetObjectItemCaseSensitive(doc, "command_id"), 1, INT64_MAX, &cmd) == 0) {
		enum store_why why;
		const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
		rc = fw_begin(j, dir, cmd, doc, cJSON_IsString(model) ? model->valuestring : NULL, &why);
	}
	cJSON_Delete(doc);
	return rc;
}
