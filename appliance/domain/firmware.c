#include "firmware.h"

#include "commands.h"
#include "core/db.h"
#include "core/state.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[4200];

void firmware_set_dir(const char *state_dir)
{
	snprintf(dir, sizeof dir, "%s/firmware", state_dir);
}

static void path_of(const char *sha, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.bin", dir, sha);
}

int firmware_store(int64_t tenant, const char *model, const char *version, const void *data, size_t len,
		   int64_t *id, char *why, size_t whylen)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char sha[65], path[4300];
	sqlite3_stmt *st;
	int rc;

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(sha, sizeof sha, h, sizeof h);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	path_of(sha, path, sizeof path);
	if (state_write_file(path, data, len, 0600, why, whylen) < 0)
		return -1;
	st = db_stmt("INSERT INTO firmware_images (tenant_id, model, version, sha256, size, created_at) "
		     "VALUES (?, ?, ?, ?, ?, unixepoch())");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, sha, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)len);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(why, whylen, rc == SQLITE_CONSTRAINT ? "this model already has that version" : "cannot be stored");
		return -1;
	}
	*id = sqlite3_last_insert_rowid(db_get());
	return 0;
}

static int fetch(sqlite3_stmt *st, struct firmware *f)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		memset(f, 0, sizeof *f);
		f->id = sqlite3_column_int64(st, 0);
		f->tenant = sqlite3_column_int64(st, 1);
		snprintf(f->model, sizeof f->model, "%s", sqlite3_column_text(st, 2));
		snprintf(f->version, sizeof f->version, "%s", sqlite3_column_text(st, 3));
		snprintf(f->sha256, sizeof f->sha256, "%s", sqlite3_column_text(st, 4));
		f->size = sqlite3_column_int64(st, 5);
	}
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int firmware_get(int64_t tenant, int64_t id, struct firmware *f)
{
	sqlite3_stmt *st = db_stmt("SELECT id, tenant_id, model, version, sha256, size FROM firmware_images "
				   "WHERE id = ? AND tenant_id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	rc = fetch(st, f);
	sqlite3_reset(st);
	return rc;
}

cJSON *firmware_json(const struct firmware *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)f->id);
	cJSON_AddStringToObject(o, "model", f->model);
	cJSON_AddStringToObject(o, "version", f->version);
	cJSON_AddStringToObject(o, "sha256", f->sha256);
	cJSON_AddNumberToObject(o, "size", (double)f->size);
	return o;
}

int firmware_list(int64_t tenant, cJSON *out)
{
	sqlite3_stmt *st = db_stmt("SELECT id, tenant_id, model, version, sha256, size FROM firmware_images "
				   "WHERE tenant_id = ? ORDER BY id");
	struct firmware f;
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, tenant);
	while (fetch(st, &f) == 0) {
		cJSON_AddItemToArray(out, firmware_json(&f));
		n++;
	}
	sqlite3_reset(st);
	return n;
}

int firmware_rollout(int64_t tenant, int64_t id, const int64_t *devices, int n, const char *actor,
		     int64_t *bad_device)
{
	struct firmware f;
	sqlite3_stmt *st;

	if (firmware_get(tenant, id, &f) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int64_t cmd;
		cJSON *params = firmware_json(&f);
		cJSON_AddNumberToObject(params, "image_id", (double)f.id);
		cJSON_AddNumberToObject(params, "chunk_size", FIRMWARE_CHUNK);
		st = db_stmt("SELECT 1 FROM devices WHERE id = ? AND tenant_id = ?");
		sqlite3_bind_int64(st, 1, devices[i]);
		sqlite3_bind_int64(st, 2, tenant);
		int found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		/* A week to come online and fetch it. */
		if (!found || command_create(tenant, devices[i], "firmware", params, 7LL * 86400 * 1000, actor, &cmd) < 0) {
			cJSON_Delete(params);
			*bad_device = devices[i];
			return -1;
		}
		cJSON_Delete(params);
		st = db_stmt("INSERT INTO firmware_rollouts (image_id, device_id, command_id, updated_at) "
			     "VALUES (?, ?, ?, unixepoch()) ON CONFLICT (image_id, device_id) DO UPDATE "
			     "SET command_id = excluded.command_id, state = 'pending', bytes_sent = 0, updated_at = unixepoch()");
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, devices[i]);
		sqlite3_bind_int64(st, 3, cmd);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	return n;
}

int firmware_rollouts(int64_t tenant, int64_t id, cJSON *out)
{
	sqlite3_stmt *st = db_stmt("SELECT r.device_id, d.uid, r.state, r.bytes_sent, i.size, coalesce(c.state, '') "
				   "FROM firmware_rollouts r JOIN firmware_images i ON i.id = r.image_id "
				   "JOIN devices d ON d.id = r.device_id LEFT JOIN device_commands c ON c.id = r.command_id "
				   "WHERE r.image_id = ? AND i.tenant_id = ? ORDER BY r.device_id");
	int n = 0;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		long long sent = sqlite3_column_int64(st, 3), size = sqlite3_column_int64(st, 4);
		cJSON_AddNumberToObject(o, "device_id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "uid", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddStringToObject(o, "state", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddNumberToObject(o, "bytes_sent", (double)sent);
		cJSON_AddNumberToObject(o, "size", (double)size);
		cJSON_AddNumberToObject(o, "percent", size ? (double)(sent * 100 / size) : 0);
		cJSON_AddStringToObject(o, "command_state", (const char *)sqlite3_column_text(st, 5));
		cJSON_AddItemToArray(out, o);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

long firmware_chunk(int64_t device_id, int64_t image_id, long long offset, unsigned char *buf, int *last)
{
	sqlite3_stmt *st = db_stmt("SELECT i.sha256, i.size FROM firmware_images i JOIN firmware_rollouts r "
				   "ON r.image_id = i.id WHERE i.id = ? AND r.device_id = ?");
	char sha[65] = "", path[4300];
	long long size = -1;
	ssize_t n = -1;
	int fd;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, image_id);
	sqlite3_bind_int64(st, 2, device_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(sha, sizeof sha, "%s", sqlite3_column_text(st, 0));
		size = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (size < 0 || offset < 0 || offset > size)
		return -1;
	path_of(sha, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, FIRMWARE_CHUNK, (off_t)offset);
	close(fd);
	if (n < 0)
		return -1;
	*last = offset + n >= size;
	st = db_stmt("UPDATE firmware_rollouts SET state = CASE WHEN state = 'done' THEN state ELSE 'sending' END, "
		     "bytes_sent = ?, updated_at = unixepoch() WHERE image_id = ? AND device_id = ?");
	sqlite3_bind_int64(st, 1, offset + n);
	sqlite3_bind_int64(st, 2, image_id);
	sqlite3_bind_int64(st, 3, device_id);
	sqlite3_step(st);
	sqlite3_reset(st);
	return (long)n;
}

int firmware_finished(int64_t device_id, int64_t command_id, int ok, const char *sha256)
{
	sqlite3_stmt *st = db_stmt("SELECT i.sha256 FROM firmware_rollouts r JOIN firmware_images i ON i.id = r.image_id "
				   "WHERE r.device_id = ? AND r.command_id = ?");
	char want[65] = "";
	int found = 0, rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, command_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(want, sizeof want, "%s", sqlite3_column_text(st, 0));
		found = 1;
	}
	sqlite3_reset(st);
	if (!found)
		return 2;
	/* "Installed" counts only with the image's own hash: a terminal that
	 * got a corrupted image must not be reported as updated. */
	ok = ok && sha256 && strcasecmp(sha256, want) == 0;
	st = db_stmt("UPDATE firmware_rollouts SET state = ?, updated_at = unixepoch() WHERE device_id = ? AND command_id = ?");
	sqlite3_bind_text(st, 1, ok ? "done" : "failed", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, device_id);
	sqlite3_bind_int64(st, 3, command_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? ok : -1;
	sqlite3_reset(st);
	return rc;
}
