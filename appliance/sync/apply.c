#include "apply.h"

#include "apply_rows.h"
#include "core/db.h"
#include "core/log.h"
#include "core/vault.h"
#include "core/vault_sync.h"
#include "domain/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void (*sync_terminal_gone)(const char *uid);

static int unseal_with_vault(void *arg, const unsigned char *sealed, size_t len, unsigned char *out)
{
	(void)arg;
	return vault_sync_unseal(sealed, len, out) == VAULT_OK ? 0 : -1;
}

/* Is this changeset between p and this appliance, in the right direction?
 * The first mismatch found is the one reported, in the order a person
 * holding a wrong file needs to hear it. */
static int same_pairing(const struct sync_peer *p, const struct cset_header *h, char *err, size_t errlen)
{
	char hex[33], own[33];
	int site = p->role == SYNC_SITE;

	if (h->direction != (site ? 'C' : 'S')) {
		snprintf(err, errlen, site ? "this bundle was made by a site for its central, not for this site"
					   : "this bundle was made by a central for a site, not for this central");
		return -1;
	}
	if (memcmp(h->sender, p->peer_id, 16) != 0) {
		cset_id_to_hex(h->sender, hex);
		if (site)
			snprintf(err, errlen, "this bundle comes from a central this site is not paired with (appliance %s)",
				 hex);
		else
			snprintf(err, errlen, "this bundle comes from an appliance that is not the site of pairing %lld "
				 "(appliance %s)", (long long)p->pairing, hex);
		return -1;
	}
	if (memcmp(h->receiver, p->self_id, 16) != 0) {
		cset_id_to_hex(h->receiver, hex);
		cset_id_to_hex(p->self_id, own);
		snprintf(err, errlen, "this bundle is for another %s (appliance %s), not for this one (%s)",
			 site ? "site" : "central", hex, own);
		return -1;
	}
	if (h->pairing != p->pairing) {
		snprintf(err, errlen, "this bundle is for pairing %lld, not %lld", (long long)h->pairing,
			 (long long)p->pairing);
		return -1;
	}
	return 0;
}

int sync_peer_of(const unsigned char *cs, size_t len, struct sync_peer *p, char *err, size_t errlen)
{
	struct cset_header h;
	enum sync_role role = sync_role_here();
	int rc;

	if (cset_parse(cs, len, &h, err, errlen) < 0)
		return -1;
	if (role == SYNC_NONE) {
		snprintf(err, errlen, "this appliance is not paired: it is neither a site nor a central");
		return -1;
	}
	if (role == SYNC_SITE) {
		rc = sync_site_peer(p);
	} else if (h.direction != 'S') {
		snprintf(err, errlen, "this bundle was made by a central for a site, not for this central");
		return -1;
	} else if ((rc = sync_central_peer(h.pairing, p)) == 1) {
		snprintf(err, errlen, "this bundle comes from a site this central is not paired with (pairing %lld is "
			 "unknown or revoked)", (long long)h.pairing);
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot read the pairing");
		return -1;
	}
	return same_pairing(p, &h, err, errlen);
}

/* Where each received stream stands; is_new[i] for the ones this changeset
 * moves forward. 0, or -1 (gap) with err. */
static int check_ranges(const struct sync_peer *p, const struct cset_header *h, int *is_new, int *any, char *err,
			size_t errlen)
{
	const char *const *recv = sync_streams_received(p->role);

	*any = 0;
	for (int i = 0; i < h->nstreams; i++) {
		int k = -1;
		for (int j = 0; recv[j]; j++)
			if (strcmp(recv[j], h->streams[i].name) == 0)
				k = j;
		if (k < 0) {
			snprintf(err, errlen, "the changeset carries stream %s, which this appliance does not take",
				 h->streams[i].name);
			return -1;
		}
		int64_t applied = sync_cursor(p->pairing, recv[k], 0);
		if (h->streams[i].from > applied) {
			snprintf(err, errlen,
				 "changes of %s after position %lld are missing (this one starts at %lld): apply the "
				 "earlier bundle first",
				 recv[k], (long long)applied, (long long)h->streams[i].from);
			return -1;
		}
		is_new[k] = h->streams[i].to > applied;
		*any |= is_new[k];
	}
	return 0;
}

static int move_cursors(const struct sync_peer *p, const struct cset_header *h)
{
	const char *const *sent = sync_streams_sent(p->role);

	for (int i = 0; i < h->nstreams; i++)
		if (sync_cursor_set(p->pairing, h->streams[i].name, 0, h->streams[i].to, 0) < 0)
			return -1;
	/* What the peer says it applied of ours: exports start after it. */
	for (int i = 0; i < h->nacks; i++)
		for (int j = 0; sent[j]; j++)
			if (strcmp(sent[j], h->acks[i].name) == 0 &&
			    sync_cursor_set(p->pairing, sent[j], 1, h->acks[i].to, 0) < 0)
				return -1;
	return 0;
}

static void audit_applied(const struct sync_peer *p, const struct sync_actor *who, const struct sync_result *res)
{
	cJSON *d = cJSON_CreateObject(), *streams = cJSON_AddObjectToObject(d, "streams");
	char target[48];

	for (int i = 0; i < res->h.nstreams; i++) {
		cJSON *r = cJSON_AddArrayToObject(streams, res->h.streams[i].name);
		cJSON_AddItemToArray(r, cJSON_CreateNumber((double)res->h.streams[i].from));
		cJSON_AddItemToArray(r, cJSON_CreateNumber((double)res->h.streams[i].to));
	}
	cJSON_AddStringToObject(d, "from", p->role == SYNC_SITE ? "central" : "site");
	cJSON_AddNumberToObject(d, "rows", (double)res->rows);
	cJSON_AddNumberToObject(d, "deleted", (double)res->deleted);
	if (res->skipped)
		cJSON_AddNumberToObject(d, "skipped", (double)res->skipped);
	if (res->unreadable)
		cJSON_AddNumberToObject(d, "details_unreadable", (double)res->unreadable);
	snprintf(target, sizeof target, "pairing:%lld", (long long)p->pairing);
	struct audit_event ev = {who->tenant, who->type, who->id, who->source, "sync.apply", target, "ok", d, NULL, 0};
	audit_append(&ev);
	cJSON_Delete(d);
}

/* The transaction: ranges, rows, cursors, acknowledgements, audit. */
static int apply_in_tx(const struct sync_peer *p, const unsigned char *body, size_t blen, const struct sync_actor *who,
		       struct sync_result *res, char *err, size_t errlen)
{
	int is_new[SYNC_NSTREAMS] = {0}, any;

	if (db_begin() < 0) {
		snprintf(err, errlen, "the database is busy; try again");
		return -1;
	}
	if (check_ranges(p, &res->h, is_new, &any, err, errlen) < 0) {
		res->gap = 1;
		goto fail;
	}
	if (any && sync_rows_apply(p, body, blen, is_new, res, err, errlen) < 0)
		goto fail;
	if (move_cursors(p, &res->h) < 0) {
		snprintf(err, errlen, "cannot record the cursors: %s", sqlite3_errmsg(db_get()));
		goto fail;
	}
	res->applied = any;
	/* A changeset that only moved ranges over nothing of interest (the
	 * other side's log moved) changes nothing worth an audit entry. */
	if (any && (res->rows || res->deleted || res->skipped || res->unreadable))
		audit_applied(p, who, res);
	if (p->role == SYNC_CENTRAL)
		sync_pairing_touch(p->pairing);
	if (db_commit() == 0)
		return 0;
	snprintf(err, errlen, "cannot commit: %s", sqlite3_errmsg(db_get()));
fail:
	db_rollback();
	return -1;
}

int sync_apply(const struct sync_peer *p, const unsigned char *cs, size_t len, const struct sync_actor *who,
	       struct sync_result *res, char *err, size_t errlen)
{
	unsigned char *body = NULL;
	size_t blen = 0;
	int rc;

	memset(res, 0, sizeof *res);
	if (cset_parse(cs, len, &res->h, err, errlen) < 0 || same_pairing(p, &res->h, err, errlen) < 0)
		return -1;
	if (cset_verify(cs, len, &res->h, p->peer_sign_pk) < 0) {
		snprintf(err, errlen, "the changeset was altered or is damaged: its signature does not check");
		return -1;
	}
	if (cset_open(cs, len, &res->h, unseal_with_vault, NULL, &body, &blen, err, errlen) < 0)
		return -1;
	/* A site takes the central's rows before the rows they refer to may be
	 * there (see apply.h). The pragma works only outside a transaction. */
	if (p->role == SYNC_SITE)
		db_exec(db_get(), "PRAGMA foreign_keys = OFF");
	rc = apply_in_tx(p, body, blen, who, res, err, errlen);
	if (p->role == SYNC_SITE)
		db_exec(db_get(), "PRAGMA foreign_keys = ON");
	sodium_memzero(body, blen);
	free(body);
	for (int i = 0; rc == 0 && sync_terminal_gone && i < res->ngone; i++)
		sync_terminal_gone(res->gone[i]);
	if (rc == 0 && res->applied)
		log_info("sync: applied a changeset of pairing %lld from the %s: %lld rows, %lld deleted", (long long)p->pairing,
			 p->role == SYNC_SITE ? "central" : "site", res->rows, res->deleted);
	return rc;
}
