#include "bundle.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "cset.h"
#include "domain/audit.h"
#include "outbox.h"
#include "peer.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mem {
	unsigned char *p;
	size_t len, cap;
};

static int mem_write(void *arg, const void *p, size_t n)
{
	struct mem *m = arg;

	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 1 << 20;
		unsigned char *b;
		while (cap < m->len + n)
			cap *= 2;
		if (!(b = realloc(m->p, cap)))
			return -1;
		m->p = b;
		m->cap = cap;
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

int sync_bundle_make(const struct sync_peer *p, unsigned char **buf, size_t *len, struct sync_bundle_stats *st,
		     char *err, size_t errlen)
{
	const char *const *sent = sync_streams_sent(p->role);
	int64_t from[SYNC_NSTREAMS] = {0};
	struct mem m = {0};
	int more = 1, rc = 0;

	memset(st, 0, sizeof *st);
	*buf = NULL;
	for (int i = 0; sent[i]; i++)
		from[i] = sync_cursor(p->pairing, sent[i], 1);
	if (cbundle_begin(mem_write, &m) < 0)
		goto oom;
	while (more && rc == 0) {
		struct sync_built b;
		if (sync_build(p, from, (size_t)cfg_int(CFG_SYNC_BATCH), st->changesets == 0, &b, err, errlen) < 0) {
			rc = -1;
			break;
		}
		more = b.more;
		if (!b.cs)
			break;
		if (cbundle_add(mem_write, &m, b.cs, b.len) < 0) {
			free(b.cs);
			goto oom;
		}
		free(b.cs);
		st->changesets++;
		st->rows += b.rows;
		st->raw += b.raw;
		memcpy(from, b.to, sizeof from);
	}
	if (rc == 0 && cbundle_end(mem_write, &m, (uint32_t)st->changesets) < 0)
		goto oom;
	if (rc < 0) {
		free(m.p);
		return -1;
	}
	*buf = m.p;
	*len = m.len;
	st->bytes = (long long)m.len;
	return 0;
oom:
	free(m.p);
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* gatehouse-sync-<sender>-to-<receiver>-<UTC time>.ghsync, never an
 * existing name. */
static int new_name(const struct sync_peer *p, const char *dir, char *path, size_t len)
{
	char self[33], peer[33], when[32];
	time_t t = time(NULL);
	struct tm tm;

	cset_id_to_hex(p->self_id, self);
	cset_id_to_hex(p->peer_id, peer);
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
	for (int n = 1; n < 1000; n++) {
		if (n == 1)
			snprintf(path, len, "%s/gatehouse-sync-%.8s-to-%.8s-%s.ghsync", dir, self, peer, when);
		else
			snprintf(path, len, "%s/gatehouse-sync-%.8s-to-%.8s-%s-%d.ghsync", dir, self, peer, when, n);
		if (access(path, F_OK) != 0)
			return 0;
	}
	return -1;
}

static int save(const char *path, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	char tmp[4300];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.partial", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int sync_bundle_write(const struct sync_peer *p, const char *dir, const struct sync_actor *who,
		      struct sync_bundle_stats *st, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len;
	struct stat sb;
	char target[40];

	err[0] = '\0';
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (sync_bundle_make(p, &buf, &len, st, err, errlen) < 0)
		return -1;
	if (new_name(p, dir, st->path, sizeof st->path) < 0 || save(st->path, buf, len, err, errlen) < 0) {
		if (!*err)
			snprintf(err, errlen, "cannot find a free file name in %s", dir);
		free(buf);
		return -1;
	}
	free(buf);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "file", st->path);
	cJSON_AddNumberToObject(d, "changesets", st->changesets);
	cJSON_AddNumberToObject(d, "rows", (double)st->rows);
	cJSON_AddNumberToObject(d, "bytes", (double)st->bytes);
	snprintf(target, sizeof target, "pairing:%lld", (long long)p->pairing);
	struct audit_event ev = {who->tenant, who->type, who->id, who->source, "sync.export", target, "ok", d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
	return 0;
}

/* Every changeset is from the same peer, for this appliance, and signed:
 * nothing is applied from a bundle of which one part is wrong. */
static int check_all(const struct cbundle_entry *list, size_t n, struct sync_peer *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct sync_peer q;
		struct cset_header h;
		if (sync_peer_of(list[i].p, list[i].len, i ? &q : p, err, errlen) < 0)
			return -1;
		if (i && q.pairing != p->pairing) {
			snprintf(err, errlen, "the bundle mixes changesets of two pairings");
			return -1;
		}
		if (cset_parse(list[i].p, list[i].len, &h, err, errlen) < 0 ||
		    cset_verify(list[i].p, list[i].len, &h, p->peer_sign_pk) < 0) {
			snprintf(err, errlen, "the bundle was altered or is damaged: changeset %zu of %zu does not check",
				 i + 1, n);
			return -1;
		}
	}
	return 0;
}

int sync_bundle_apply(const unsigned char *buf, size_t len, const struct sync_actor *who, struct sync_peer *p,
		      struct sync_bundle_stats *st, char *err, size_t errlen)
{
	struct cbundle_entry *list;
	size_t n;
	int rc = 0;

	memset(st, 0, sizeof *st);
	if (cbundle_parse(buf, len, &list, &n, err, errlen) < 0)
		return -1;
	if (n == 0 || check_all(list, n, p, err, errlen) < 0) {
		if (n == 0)
			snprintf(err, errlen, "the bundle holds no changeset");
		free(list);
		return -1;
	}
	st->changesets = (int)n;
	st->bytes = (long long)len;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct sync_result res;
		struct sync_actor w = *who;
		w.tenant = p->tenant;
		rc = sync_apply(p, list[i].p, list[i].len, &w, &res, err, errlen);
		if (rc == 0) {
			st->applied += res.applied;
			st->already += !res.applied;
			st->rows += res.rows + res.deleted;
		}
	}
	free(list);
	/* A site that took in what its central sent is in step with it as of
	 * that bundle: "last synced" moves and a sync.stale alert resolves, as
	 * after an exchange over the network. A replayed bundle proves nothing. */
	if (rc == 0 && st->applied > 0 && sync_role_here() == SYNC_SITE) {
		sync_site_record(1, NULL);
		sync_stale_rule();
	}
	return rc;
}
