#include "peer.h"

#include "core/db.h"
#include "cset.h"

#include <stdio.h>
#include <string.h>

const char *const sync_central_streams[] = {"keys", "changes", NULL};
const char *const sync_site_streams[] = {"status", "audit", "anchors", "events", NULL};

const char *const *sync_streams_sent(enum sync_role role)
{
	return role == SYNC_CENTRAL ? sync_central_streams : sync_site_streams;
}

const char *const *sync_streams_received(enum sync_role role)
{
	return role == SYNC_CENTRAL ? sync_site_streams : sync_central_streams;
}

int sync_self_id(unsigned char id[16])
{
	sqlite3_stmt *st = db_stmt("SELECT value FROM meta WHERE key = 'appliance_id'");
	int rc = -1;

	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = cset_id_from_hex((const char *)sqlite3_column_text(st, 0), id);
	sqlite3_reset(st);
	return rc;
}

static int copy_key(unsigned char out[32], sqlite3_stmt *st, int col)
{
	if (sqlite3_column_bytes(st, col) != 32)
		return -1;
	memcpy(out, sqlite3_column_blob(st, col), 32);
	return 0;
}

int sync_site_peer(struct sync_peer *p)
{
	sqlite3_stmt *st = db_stmt("SELECT pairing_id, tenant_id, site_id, central_url, fingerprint, "
				   "central_appliance_id, central_sign_pk, central_box_pk FROM sync_central WHERE id = 1");
	int rc = 1;

	memset(p, 0, sizeof *p);
	if (!st || sync_self_id(p->self_id) < 0) {
		if (st)
			sqlite3_reset(st);
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		p->role = SYNC_SITE;
		p->pairing = sqlite3_column_int64(st, 0);
		p->tenant = sqlite3_column_int64(st, 1);
		p->site = sqlite3_column_int64(st, 2);
		snprintf(p->url, sizeof p->url, "%s", sqlite3_column_text(st, 3));
		snprintf(p->fingerprint, sizeof p->fingerprint, "%s", sqlite3_column_text(st, 4));
		rc = cset_id_from_hex((const char *)sqlite3_column_text(st, 5), p->peer_id) < 0 ||
				     copy_key(p->peer_sign_pk, st, 6) < 0 || copy_key(p->peer_box_pk, st, 7) < 0
			     ? -1
			     : 0;
	}
	sqlite3_reset(st);
	return rc;
}

int sync_central_peer(int64_t pairing, struct sync_peer *p)
{
	sqlite3_stmt *st = db_stmt("SELECT tenant_id, site_id, site_appliance_id, site_sign_pk, site_box_pk "
				   "FROM sync_pairings WHERE id = ? AND state = 'active'");
	int rc = 1;

	memset(p, 0, sizeof *p);
	if (!st || sync_self_id(p->self_id) < 0) {
		if (st)
			sqlite3_reset(st);
		return -1;
	}
	sqlite3_bind_int64(st, 1, pairing);
	if (sqlite3_step(st) == SQLITE_ROW) {
		p->role = SYNC_CENTRAL;
		p->pairing = pairing;
		p->tenant = sqlite3_column_int64(st, 0);
		p->site = sqlite3_column_int64(st, 1);
		rc = cset_id_from_hex((const char *)sqlite3_column_text(st, 2), p->peer_id) < 0 ||
				     copy_key(p->peer_sign_pk, st, 3) < 0 || copy_key(p->peer_box_pk, st, 4) < 0
			     ? -1
			     : 0;
	}
	sqlite3_reset(st);
	return rc;
}

enum sync_role sync_role_here(void)
{
	sqlite3_stmt *st = db_stmt("SELECT (SELECT count(*) FROM sync_central), "
				   "(SELECT count(*) FROM sync_pairings WHERE state != 'revoked')");
	enum sync_role r = SYNC_NONE;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		r = sqlite3_column_int(st, 0) ? SYNC_SITE : sqlite3_column_int(st, 1) ? SYNC_CENTRAL : SYNC_NONE;
	if (st)
		sqlite3_reset(st);
	return r;
}

int64_t sync_cursor(int64_t pairing, const char *stream, int acked)
{
	sqlite3_stmt *st = db_stmt(acked ? "SELECT acked FROM sync_cursors WHERE pairing_id = ? AND stream = ?"
					 : "SELECT applied FROM sync_cursors WHERE pairing_id = ? AND stream = ?");
	int64_t v = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, pairing);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

int sync_cursor_set(int64_t pairing, const char *stream, int acked, int64_t v, int force)
{
	sqlite3_stmt *st;
	int rc;

	if (acked)
		st = db_stmt(force ? "INSERT INTO sync_cursors (pairing_id, stream, acked) VALUES (?1, ?2, ?3) "
				     "ON CONFLICT DO UPDATE SET acked = excluded.acked"
				   : "INSERT INTO sync_cursors (pairing_id, stream, acked) VALUES (?1, ?2, ?3) "
				     "ON CONFLICT DO UPDATE SET acked = max(acked, excluded.acked)");
	else
		st = db_stmt(force ? "INSERT INTO sync_cursors (pairing_id, stream, applied) VALUES (?1, ?2, ?3) "
				     "ON CONFLICT DO UPDATE SET applied = excluded.applied"
				   : "INSERT INTO sync_cursors (pairing_id, stream, applied) VALUES (?1, ?2, ?3) "
				     "ON CONFLICT DO UPDATE SET applied = max(applied, excluded.applied)");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, pairing);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, v);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

void sync_pairing_touch(int64_t pairing)
{
	sqlite3_stmt *st = db_stmt("UPDATE sync_pairings SET last_contact_at = unixepoch() WHERE id = ?");

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, pairing);
	sqlite3_step(st);
	sqlite3_reset(st);
}
