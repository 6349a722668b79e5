#include "exchange.h"

#include "apply.h"
#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "httpc.h"
#include "outbox.h"
#include "peer.h"
#include "status.h"

#include <cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANSWER (CSET_MAX_BYTES + 4096)

struct ex {
	struct sync_peer p;
	struct httpc_target t;
	char token[100];
	struct sync_stats *st;
	int (*stop)(void *);
	void *arg;
	char *err;
	size_t errlen;
};

/* What the central said, for an error message. */
static void central_said(const struct httpc_resp *r, char *out, size_t len)
{
	cJSON *doc = r->body && r->ctype[0] && strstr(r->ctype, "json") ? cJSON_Parse((const char *)r->body) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "error"), "message");

	snprintf(out, len, "%s", cJSON_IsString(m) ? m->valuestring : "no reason given");
	cJSON_Delete(doc);
}

/* Not a link problem: a side refused. 401 means the pairing is gone. */
static int refused(struct ex *x, const struct httpc_resp *r, const char *what)
{
	char why[300];

	central_said(r, why, sizeof why);
	if (r->status == 401)
		snprintf(x->err, x->errlen, "the central no longer accepts this site (pairing revoked?): %s", why);
	else
		snprintf(x->err, x->errlen, "the central refused %s (%d): %s", what, r->status, why);
	return r->status >= 500 || r->status == 429 ? SYNC_LINK : SYNC_REFUSED;
}

/* The central's applied positions of the site's streams become the site's
 * acknowledged ones, even lower ones (a central restored from an older
 * backup gets the rest again). */
static int take_cursors(struct ex *x, const cJSON *doc)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "cursors");

	for (int i = 0; sync_site_streams[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, sync_site_streams[i]);
		if (cJSON_IsNumber(v) && sync_cursor_set(x->p.pairing, sync_site_streams[i], 1, (int64_t)v->valuedouble, 1) < 0)
			return -1;
	}
	return 0;
}

static int push_one(struct ex *x, int *more)
{
	int64_t from[SYNC_NSTREAMS] = {0};
	struct sync_built b;
	struct httpc_resp r;
	cJSON *doc;
	int rc;

	for (int i = 0; sync_site_streams[i]; i++)
		from[i] = sync_cursor(x->p.pairing, sync_site_streams[i], 1);
	if (sync_build(&x->p, from, (size_t)cfg_int(CFG_SYNC_BATCH), 0, &b, x->err, x->errlen) < 0)
		return SYNC_REFUSED;
	*more = 0;
	if (!b.cs)
		return SYNC_DONE;
	rc = httpc_post(&x->t, "/api/v1/sync/push", x->token, "application/octet-stream", b.cs, b.len, 1 << 20, &r, x->err,
			x->errlen);
	free(b.cs);
	if (rc < 0)
		return SYNC_LINK;
	x->st->pushed++;
	x->st->rows_sent += b.rows;
	x->st->bytes_sent += (long long)b.len;
	if (r.status != 200 && r.status != 409) {
		rc = refused(x, &r, "a changeset");
		httpc_resp_free(&r);
		return rc;
	}
	doc = cJSON_Parse((const char *)r.body);
	/* 409 with cursors: the central misses earlier changes (it was restored
	 * from a backup); the next changeset starts where it stands. */
	if (r.status == 409 && !cJSON_GetObjectItemCaseSensitive(doc, "cursors")) {
		cJSON_Delete(doc);
		rc = refused(x, &r, "a changeset");
		httpc_resp_free(&r);
		return rc;
	}
	httpc_resp_free(&r);
	rc = take_cursors(x, doc);
	cJSON_Delete(doc);
	if (rc < 0) {
		snprintf(x->err, x->errlen, "cannot record what the central acknowledged");
		return SYNC_REFUSED;
	}
	int moved = 0, done = 1;
	for (int i = 0; sync_site_streams[i]; i++) {
		int64_t acked = sync_cursor(x->p.pairing, sync_site_streams[i], 1);
		moved |= acked != from[i];
		done &= acked >= b.to[i];
	}
	if (!moved) {
		snprintf(x->err, x->errlen, "the central took a changeset but acknowledged nothing of it");
		return SYNC_REFUSED;
	}
	/* Everything that was pending went: the rest is for the next exchange
	 * (terminals keep sending events; a push loop must end). */
	*more = b.more || !done;
	return SYNC_DONE;
}

static cJSON *pull_request(const struct ex *x)
{
	cJSON *doc = cJSON_CreateObject(), *c = cJSON_AddObjectToObject(doc, "cursors");

	for (int i = 0; sync_central_streams[i]; i++)
		cJSON_AddNumberToObject(c, sync_central_streams[i], (double)sync_cursor(x->p.pairing, sync_central_streams[i], 0));
	return doc;
}

static int pull_one(struct ex *x, int *more)
{
	struct sync_actor who = {"system", "job:sync", "", x->p.tenant};
	struct sync_result res;
	struct httpc_resp r;
	cJSON *req = pull_request(x);
	char *body = cJSON_PrintUnformatted(req);
	int rc;

	cJSON_Delete(req);
	*more = 0;
	rc = httpc_post(&x->t, "/api/v1/sync/pull", x->token, "application/json", body, strlen(body), MAX_ANSWER, &r, x->err,
			x->errlen);
	cJSON_free(body);
	if (rc < 0)
		return SYNC_LINK;
	if (r.status == 204)
		return SYNC_DONE;
	if (r.status != 200) {
		rc = refused(x, &r, "to send its changes");
		httpc_resp_free(&r);
		return rc;
	}
	x->st->pulled++;
	x->st->bytes_received += (long long)r.len;
	rc = sync_apply(&x->p, r.body, r.len, &who, &res, x->err, x->errlen);
	httpc_resp_free(&r);
	if (rc < 0)
		return SYNC_REFUSED;
	x->st->rows_received += res.rows + res.deleted;
	/* More waits, and this one moved us on (else we would ask again for
	 * the same). */
	*more = r.more && res.applied;
	return SYNC_DONE;
}

static int loop(struct ex *x, int (*one)(struct ex *, int *))
{
	for (;;) {
		int more, rc;
		if (x->stop && x->stop(x->arg))
			return SYNC_STOPPED;
		if ((rc = one(x, &more)) != SYNC_DONE || !more)
			return rc;
	}
}

int sync_exchange(struct sync_stats *st, int (*stop)(void *), void *arg, char *err, size_t errlen)
{
	struct ex *x = calloc(1, sizeof *x);
	int rc;

	memset(st, 0, sizeof *st);
	err[0] = '\0';
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return SYNC_REFUSED;
	}
	x->st = st;
	x->stop = stop;
	x->arg = arg;
	x->err = err;
	x->errlen = errlen;
	if (sync_site_peer(&x->p) != 0) {
		snprintf(err, errlen, "this appliance is not a site of a central");
		free(x);
		return SYNC_REFUSED;
	}
	if (httpc_target_init(&x->t, x->p.url, x->p.fingerprint, cfg_int(CFG_SYNC_TIMEOUT), err, errlen) < 0 ||
	    sync_site_credential(x->token, sizeof x->token) < 0) {
		if (!*err)
			snprintf(err, errlen, "cannot open the site credential");
		free(x);
		return SYNC_REFUSED;
	}
	/* Pull first: applying the central's changes writes audit entries here,
	 * which the push then carries, so an exchange leaves nothing behind. */
	rc = loop(x, pull_one);
	if (rc == SYNC_DONE)
		rc = loop(x, push_one);
	sodium_memzero(x->token, sizeof x->token);
	free(x);
	return rc;
}
