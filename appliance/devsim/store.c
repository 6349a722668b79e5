#include "devsim/store.h"

#include "devsim/util.h"
#include "web/json.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX (64u << 10)
#define LOG_MAX (1u << 30)
#define COPY_MAX (512u << 20)

/* --- the state file ---------------------------------------------------------- */

void store_meta_init(struct store_meta *m)
{
	memset(m, 0, sizeof *m);
	m->next_seq = 1;
}

static void copy_value(char *out, size_t len, const char *v)
{
	snprintf(out, len, "%s", v);
}

static void parse_exec(struct store_meta *m, char *v)
{
	char *save = NULL;

	/* Oldest first, as store_exec_add put them. */
	for (char *tok = strtok_r(v, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		long long id;
		unsigned done, why;
		if (sscanf(tok, "%lld:%u:%u", &id, &done, &why) == 3 && id > 0)
			store_exec_add(m, id, done != 0, (enum store_why)why);
	}
}

static int parse_line(struct store_meta *m, char *line)
{
	char *eq = strchr(line, '=');
	const char *k = line;
	char *v;

	if (!eq)
		return -1;
	*eq = '\0';
	v = eq + 1;
	if (!strcmp(k, "uid"))
		copy_value(m->uid, sizeof m->uid, v);
	else if (!strcmp(k, "name"))
		copy_value(m->name, sizeof m->name, v);
	else if (!strcmp(k, "device_id"))
		m->device_id = strtoll(v, NULL, 10);
	else if (!strcmp(k, "next_seq"))
		m->next_seq = strtoll(v, NULL, 10);
	else if (!strcmp(k, "acked"))
		m->acked = strtoll(v, NULL, 10);
	else if (!strcmp(k, "firmware"))
		copy_value(m->firmware, sizeof m->firmware, v);
	else if (!strcmp(k, "firmware_sha256"))
		copy_value(m->firmware_sha, sizeof m->firmware_sha, v);
	else if (!strcmp(k, "lockdown"))
		m->lockdown = atoi(v) != 0;
	else if (!strcmp(k, "executed"))
		parse_exec(m, v);
	/* Unknown keys: from a newer devsim; ignored. */
	return 0;
}

int store_meta_load(const char *dir, struct store_meta *m, char *err, size_t errlen)
{
	char path[4200], *text, *line, *save = NULL;

	store_meta_init(m);
	if (ds_path(path, sizeof path, dir, "state") < 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (!(text = ds_read_file(path, STATE_MAX, NULL))) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (parse_line(m, line) < 0) {
			snprintf(err, errlen, "%s: malformed line", path);
			free(text);
			return -1;
		}
	free(text);
	if (m->next_seq < 1 || m->acked < 0 || m->acked >= m->next_seq) {
		snprintf(err, errlen, "%s: inconsistent sequence numbers", path);
		return -1;
	}
	return 0;
}

int store_meta_save(const char *dir, const struct store_meta *m)
{
	char path[4200], buf[8192];
	size_t n;

	if (ds_path(path, sizeof path, dir, "state") < 0)
		return -1;
	n = (size_t)snprintf(buf, sizeof buf,
			     "uid=%s\nname=%s\ndevice_id=%lld\nnext_seq=%lld\nacked=%lld\nfirmware=%s\n"
			     "firmware_sha256=%s\nlockdown=%d\nexecuted=",
			     m->uid, m->name, (long long)m->device_id, m->next_seq, m->acked, m->firmware,
			     m->firmware_sha, m->lockdown);
	for (int i = 0; i < m->nexec && n < sizeof buf; i++) {
		/* Oldest first. */
		const struct store_exec *e = &m->exec[(m->exec_next - m->nexec + i + STORE_EXEC_MAX) % STORE_EXEC_MAX];
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld:%u:%u", i ? " " : "", (long long)e->id,
				      e->done, e->why);
	}
	if (n + 2 > sizeof buf)
		return -1;
	buf[n++] = '\n';
	return ds_write_file(path, buf, n, 0600);
}

void store_exec_add(struct store_meta *m, int64_t id, int done, enum store_why why)
{
	struct store_exec *e = &m->exec[m->exec_next];

	e->id = id;
	e->done = (uint8_t)(done != 0);
	e->why = (uint8_t)why;
	m->exec_next = (m->exec_next + 1) % STORE_EXEC_MAX;
	if (m->nexec < STORE_EXEC_MAX)
		m->nexec++;
}

const struct store_exec *store_exec_find(const struct store_meta *m, int64_t id)
{
	for (int i = 0; i < m->nexec; i++) {
		const struct store_exec *e = &m->exec[(m->exec_next - 1 - i + STORE_EXEC_MAX) % STORE_EXEC_MAX];
		if (e->id == id)
			return e;
	}
	return NULL;
}

/* --- the event buffer ---------------------------------------------------------------- */

int store_log_open(const char *dir)
{
	char path[4200];

	if (ds_path(path, sizeof path, dir, "events.log") < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

static void copy_member(const cJSON *o, const char *name, char *out, size_t len)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);

	snprintf(out, len, "%s", cJSON_IsString(m) ? m->valuestring : "");
}

static int parse_event(const char *line, struct devsim_event *e)
{
	cJSON *o = cJSON_Parse(line);
	long long v;
	int rc = -1;

	memset(e, 0, sizeof *e);
	if (!cJSON_IsObject(o))
		goto out;
	if (json_int(cJSON_GetObjectItemCaseSensitive(o, "seq"), 1, INT64_MAX, &e->seq) < 0 ||
	    json_int(cJSON_GetObjectItemCaseSensitive(o, "at"), 0, INT64_MAX, &e->at) < 0)
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(o, "door_id")) {
		if (json_int(cJSON_GetObjectItemCaseSensitive(o, "door_id"), 1, INT64_MAX, &v) < 0)
			goto out;
		e->door_id = v;
	}
	copy_member(o, "kind", e->kind, sizeof e->kind);
	copy_member(o, "card", e->card, sizeof e->card);
	copy_member(o, "result", e->result, sizeof e->result);
	copy_member(o, "reason", e->reason, sizeof e->reason);
	rc = e->kind[0] ? 0 : -1;
out:
	cJSON_Delete(o);
	return rc;
}

/* A last line without its newline was cut by a crash before it was ever
 * published: cut it off, or the next append would glue onto it. */
static void drop_partial_tail(const char *path, const char *text, size_t len)
{
	size_t keep = len;

	while (keep > 0 && text[keep - 1] != '\n')
		keep--;
	if (keep != len && truncate(path, (off_t)keep) < 0)
		return; /* the tail stays; parse_event refuses it next time too */
}

int store_log_load(const char *dir, struct evq *q, long long *last_seq, char *err, size_t errlen)
{
	char path[4200], *text, *line, *next;
	size_t len;
	int lineno = 0;

	*last_seq = 0;
	if (ds_path(path, sizeof path, dir, "events.log") < 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (!(text = ds_read_file(path, LOG_MAX, &len))) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	drop_partial_tail(path, text, len);
	for (line = text; line && *line; line = next) {
		struct devsim_event e;
		next = strchr(line, '\n');
		if (!next)
			break; /* the partial tail */
		*next++ = '\0';
		lineno++;
		if (parse_event(line, &e) < 0) {
			snprintf(err, errlen, "%s:%d: not an event", path, lineno);
			free(text);
			return -1;
		}
		if (e.seq > *last_seq)
			*last_seq = e.seq;
		if (e.seq <= q->watermark)
			continue;
		if (evq_push(q, &e) < 0) {
			snprintf(err, errlen, "%s:%d: seq %lld out of order", path, lineno, e.seq);
			free(text);
			return -1;
		}
	}
	free(text);
	return 0;
}

int store_log_append(int fd, const struct devsim_event *e)
{
	char line[512];
	int n = evq_event_json(e, line, sizeof line - 1);
	ssize_t w;

	if (n < 0)
		return -1;
	line[n++] = '\n';
	/* One write of a whole line with O_APPEND: lines never interleave. */
	do
		w = write(fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	return w == n ? 0 : -1;
}

int store_log_reset(int fd)
{
	return ftruncate(fd, 0);
}

/* --- the local copy -------------------------------------------------------------------- */

int store_copy_save(const char *dir, struct local *l)
{
	char path[4200];
	cJSON *doc = local_to_json(l);
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	int rc = -1;

	if (text && ds_path(path, sizeof path, dir, "copy.json") == 0)
		rc = ds_write_file(path, text, strlen(text), 0600);
	if (text) {
		/* It holds the terminal key. */
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	cJSON_Delete(doc);
	return rc;
}

int store_copy_load(const char *dir, struct local *l, char *err, size_t errlen)
{
	char path[4200], *text, why[120];
	size_t len;
	cJSON *doc;
	int rc;

	if (ds_path(path, sizeof path, dir, "copy.json") < 0 || !(text = ds_read_file(path, COPY_MAX, &len))) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	doc = cJSON_ParseWithLength(text, len);
	sodium_memzero(text, len);
	free(text);
	rc = local_from_json(l, doc, why, sizeof why);
	cJSON_Delete(doc);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc;
}

int store_has_identity(const char *dir)
{
	static const char *const files[] = {"key.pem", "cert.pem", "ca.pem", "state"};
	char path[4200];

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (ds_path(path, sizeof path, dir, files[i]) < 0 || access(path, R_OK) != 0)
			return 0;
	return 1;
}
