/* /api/v1/sync: site sync over HTTPS (docs/sync.md).
 *
 * On a central: pairings (create, list, one, revoke), the claim a site
 * makes with a pairing code (public, counted like a login), and the two
 * endpoints a paired site's job calls with its credential: push (a
 * changeset of the site's) and pull (the next changeset for the site).
 * On a site: pair with a central. On both: status, and bundles for sites
 * without a link (download an export, upload a bundle to apply). */
#include "api.h"

#include "core/config.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault_sync.h"
#include "jobs/scheduler.h"
#include "sync/apply.h"
#include "sync/bundle.h"
#include "sync/outbox.h"
#include "sync/pairing.h"
#include "sync/peer.h"
#include "sync/status.h"
#include "web/http.h"
#include "web/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void who_of(struct http_req *req, struct sync_actor *w)
{
	w->type = req->auth.kind == AUTH_TOKEN ? "token" : req->auth.kind == AUTH_SESSION ? "admin" : "system";
	w->id = req->auth.actor[0] ? req->auth.actor : "anonymous";
	w->source = req->remote;
	w->tenant = req->auth.tenant;
}

static void reply_outcome(struct http_req *req, enum sync_outcome rc, const char *err)
{
	switch (rc) {
	case SYNC_E_NOTFOUND: return http_error(req, 404, "not_found", "%s", err);
	case SYNC_E_CONFLICT: return http_error(req, 409, "conflict", "%s", err);
	case SYNC_E_INVALID: return http_error(req, 400, "invalid", "%s", err);
	case SYNC_E_DENIED: return http_error(req, 422, "pairing_refused", "%s", err);
	case SYNC_E_LINK: return http_error(req, 502, "central_unreachable", "%s", err);
	default: return http_error(req, 503, "unavailable", "%s", *err ? err : "site sync is unavailable; retry");
	}
}

/* --- pairings (central) -------------------------------------------------------------- */

void api_sync_pairings_create(struct http_req *req)
{
	struct sync_actor who;
	struct jv v;
	long long site = 0;
	char err[400] = "";
	cJSON *out;
	enum sync_outcome rc;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	site = jv_int(&v, "site_id", 1, 1, INT64_MAX, 0);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	who_of(req, &who);
	rc = sync_pairing_create(api_tenant(req), site, &who, &out, err, sizeof err);
	if (rc != SYNC_OK)
		return reply_outcome(req, rc, err);
	http_reply_json(req, 201, out);
	cJSON_Delete(out);
}

/* A system admin without X-Tenant sees every tenant's pairings. */
static int64_t list_scope(struct http_req *req)
{
	return req->auth.admin_tenant == 0 && req->auth.tenant == 0 ? -1 : api_tenant(req);
}

void api_sync_pairings_list(struct http_req *req)
{
	api_reply_page(req, sync_pairing_list(list_scope(req)), 0);
}

void api_sync_pairings_get(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	cJSON *o;

	if (id < 0)
		return;
	if (!(o = sync_pairing_get(list_scope(req), id)))
		return http_error(req, 404, "not_found", "no such pairing");
	http_reply_json(req, 200, o);
	cJSON_Delete(o);
}

void api_sync_pairings_revoke(struct http_req *req)
{
	int64_t id = api_id_param(req, 0);
	struct sync_actor who;
	enum sync_outcome rc;

	if (id < 0)
		return;
	who_of(req, &who);
	rc = sync_pairing_revoke(list_scope(req), id, &who);
	if (rc == SYNC_E_NOTFOUND)
		return http_error(req, 404, "not_found", "no such pairing, or revoked already");
	if (rc != SYNC_OK)
		return api_db_error(req);
	http_reply(req, 204, NULL, NULL, 0, NULL);
}

void api_sync_claim(struct http_req *req)
{
	char err[400] = "";
	cJSON *out;
	enum sync_outcome rc;

	if (http_read_json(req) < 0)
		return;
	rc = sync_pairing_claim(req->json, req->remote, &out, err, sizeof err);
	if (rc == SYNC_E_DENIED) {
		/* Guessing codes is guessing passwords. */
		auth_note_failure(req);
		return http_error(req, 401, "invalid_code", "%s", err);
	}
	if (rc != SYNC_OK)
		return reply_outcome(req, rc, err);
	http_reply_json(req, 200, out);
	cJSON_Delete(out);
}

/* --- the site's exchange with its central (central side) --------------------------------- */

static int site_peer(struct http_req *req, struct sync_peer *p)
{
	if (sync_central_peer(req->auth.site_pairing, p) != 0) {
		http_error(req, 401, "unauthenticated", "the pairing of this credential is not active");
		return -1;
	}
	return 0;
}

static cJSON *applied_cursors(const struct sync_peer *p)
{
	cJSON *c = cJSON_CreateObject();

	for (int i = 0; sync_site_streams[i]; i++)
		cJSON_AddNumberToObject(c, sync_site_streams[i], (double)sync_cursor(p->pairing, sync_site_streams[i], 0));
	return c;
}

void api_sync_push(struct http_req *req)
{
	struct sync_actor who;
	struct sync_result res;
	struct sync_peer p;
	char err[400];
	cJSON *doc;

	if (site_peer(req, &p) < 0 || http_read_body(req) < 0)
		return;
	who_of(req, &who);
	if (sync_apply(&p, (const unsigned char *)req->body, req->body_len, &who, &res, err, sizeof err) < 0) {
		if (!res.gap)
			return http_error(req, 400, "changeset_refused", "%s", err);
		/* The site is ahead of what this central has (a restore): it sends
		 * again from here. */
		doc = cJSON_CreateObject();
		cJSON *e = cJSON_AddObjectToObject(doc, "error");
		cJSON_AddStringToObject(e, "code", "sync_gap");
		cJSON_AddStringToObject(e, "message", err);
		cJSON_AddItemToObject(doc, "cursors", applied_cursors(&p));
		http_reply_json(req, 409, doc);
		cJSON_Delete(doc);
		return;
	}
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "status", res.applied ? "applied" : "already_applied");
	cJSON_AddNumberToObject(doc, "rows", (double)(res.rows + res.deleted));
	cJSON_AddItemToObject(doc, "cursors", applied_cursors(&p));
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}

/* The site's applied positions: where the changeset starts, and what it
 * acknowledges. A position beyond this central's head (a central restored
 * from an older backup) starts again from the beginning. */
static int pull_positions(struct http_req *req, const struct sync_peer *p, int64_t from[SYNC_NSTREAMS])
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(req->json, "cursors");
	int64_t head[2] = {vault_sync_key_head(), sync_log_head()};

	for (int i = 0; sync_central_streams[i]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, sync_central_streams[i]);
		long long pos;
		if (json_int(v, 0, INT64_MAX, &pos) < 0) {
			http_field_error(req, "cursors", "must give keys and changes, whole numbers from 0");
			return -1;
		}
		from[i] = pos > head[i] ? 0 : pos;
		sync_cursor_set(p->pairing, sync_central_streams[i], 1, from[i], 0);
	}
	return 0;
}

void api_sync_pull(struct http_req *req)
{
	int64_t from[SYNC_NSTREAMS] = {0};
	struct sync_built b;
	struct sync_peer p;
	char err[400];

	if (site_peer(req, &p) < 0 || http_read_json(req) < 0 || pull_positions(req, &p, from) < 0)
		return;
	sync_pairing_touch(p.pairing);
	if (sync_build(&p, from, (size_t)cfg_int(CFG_SYNC_BATCH), 0, &b, err, sizeof err) < 0) {
		log_err("sync: cannot build a changeset for pairing %lld: %s", (long long)p.pairing, err);
		return http_error(req, 503, "unavailable", "cannot build the changeset now; retry");
	}
	if (!b.cs)
		return http_reply(req, 204, NULL, NULL, 0, NULL);
	const char *hdr[] = {"X-Gatehouse-Sync-More", b.more ? "1" : "0", NULL};
	http_reply(req, 200, "application/octet-stream", b.cs, b.len, hdr);
	free(b.cs);
}

/* --- the site's side ------------------------------------------------------------------ */

void api_sync_pair(struct http_req *req)
{
	struct sync_actor who;
	struct jv v;
	const char *url, *fp, *code;
	char err[600] = "";
	cJSON *out;
	enum sync_outcome rc;

	if (http_read_json(req) < 0)
		return;
	jv_init(&v, req->json);
	url = jv_string(&v, "central_url", 1, 9, 500);
	fp = jv_string(&v, "fingerprint", 1, 64, 100);
	code = jv_string(&v, "code", 1, 20, 40);
	jv_no_others(&v);
	if (jv_finish(&v, req) < 0)
		return;
	who_of(req, &who);
	rc = sync_pair(url, fp, code, &who, &out, err, sizeof err);
	if (rc != SYNC_OK)
		return reply_outcome(req, rc, err);
	/* The first exchange at once, not in five minutes (unless exchanges are
	 * off: a site that syncs by bundle files only). */
	if (strcmp(cfg_str(CFG_JOBS_SYNC), "off") != 0)
		scheduler_kick("sync");
	http_reply_json(req, 201, out);
	cJSON_Delete(out);
}

void api_sync_status(struct http_req *req)
{
	cJSON *o = sync_status_json(list_scope(req));

	http_reply_json(req, 200, o);
	cJSON_Delete(o);
}

/* --- bundles ------------------------------------------------------------------------------ */

/* The peer an export is for: a site's central, or a central's pairing
 * (?pairing=ID). */
static int export_peer(struct http_req *req, struct sync_peer *p)
{
	int64_t pairing;

	if (api_query_id(req, "pairing", &pairing) < 0)
		return -1;
	if (sync_role_here() == SYNC_SITE) {
		if (sync_site_peer(p) == 0)
			return 0;
	} else if (!pairing) {
		http_field_error(req, "pairing", "is required on a central: the pairing the bundle is for");
		return -1;
	} else if (sync_central_peer(pairing, p) == 0) {
		return 0;
	}
	http_error(req, 404, "not_found", "no active pairing to export for");
	return -1;
}

void api_sync_export(struct http_req *req)
{
	struct sync_bundle_stats st;
	struct sync_peer p;
	unsigned char *buf;
	size_t len;
	char err[400], disp[200], self[33], peer[33], target[40];

	if (export_peer(req, &p) < 0)
		return;
	if (sync_bundle_make(&p, &buf, &len, &st, err, sizeof err) < 0)
		return http_error(req, 503, "unavailable", "cannot make the bundle: %s", err);
	cset_id_to_hex(p.self_id, self);
	cset_id_to_hex(p.peer_id, peer);
	snprintf(disp, sizeof disp, "attachment; filename=\"gatehouse-sync-%.8s-to-%.8s.ghsync\"", self, peer);
	cJSON *d = cJSON_CreateObject();
	cJSON_AddNumberToObject(d, "changesets", st.changesets);
	cJSON_AddNumberToObject(d, "rows", (double)st.rows);
	cJSON_AddNumberToObject(d, "bytes", (double)st.bytes);
	snprintf(target, sizeof target, "pairing:%lld", (long long)p.pairing);
	api_audit(req, "sync.export", target, "ok", d);
	cJSON_Delete(d);
	const char *hdr[] = {"Content-Disposition", disp, NULL};
	http_reply(req, 200, "application/octet-stream", buf, len, hdr);
	free(buf);
}

void api_sync_import(struct http_req *req)
{
	struct sync_bundle_stats st;
	struct sync_actor who;
	struct sync_peer p;
	char err[600];
	cJSON *doc;

	if (http_read_body(req) < 0)
		return;
	who_of(req, &who);
	if (sync_bundle_apply((const unsigned char *)req->body, req->body_len, &who, &p, &st, err, sizeof err) < 0) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "reason", err);
		api_audit(req, "sync.import", "", "failed", d);
		cJSON_Delete(d);
		return http_error(req, 400, "bundle_refused", "%s", err);
	}
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "status", st.applied ? "applied" : "already_applied");
	cJSON_AddNumberToObject(doc, "changesets", st.changesets);
	cJSON_AddNumberToObject(doc, "applied", st.applied);
	cJSON_AddNumberToObject(doc, "already_applied", st.already);
	cJSON_AddNumberToObject(doc, "rows", (double)st.rows);
	char target[40];
	snprintf(target, sizeof target, "pairing:%lld", (long long)p.pairing);
	api_audit(req, "sync.import", target, "ok", doc);
	http_reply_json(req, 200, doc);
	cJSON_Delete(doc);
}
