/* vault_sync: what site sync needs from the vault. Part of the vault, the
 * only code that touches keys; the contract is docs/sync.md.
 *
 * Identity. Every appliance has a sync signing key (Ed25519, purpose
 * 'sync-sign') and a sync sealing key (X25519, 'sync-box'): tenant 0 keys
 * of the key store, wrapped by the master key and escrowed to the recovery
 * key like every other, made on first use. Changesets are signed with the
 * first and sealed to the receiver's second.
 *
 * Key ids. A sealed value names its key by id (vault.h), so a site must
 * hold the central's keys under the central's ids. Every key made since
 * migration 0010 takes its id in this appliance's own range: a random
 * 22-bit number kept in the key store, times 2^40, plus a counter. A
 * central and its sites therefore never make keys with the same id; keys
 * made before (small ids) are dealt with once, at pairing, by
 * vault_sync_make_room on the (fresh) site.
 *
 * Sharing. A tenant's data, index and terminal keys travel to its sites
 * sealed to the site's X25519 key (crypto_box_seal), with a tag of the
 * key's name (tenant, purpose, version) inside the box, so a sealed key
 * cannot be passed off as another. Person keys travel as they are stored:
 * wrapped by a data key of the tenant, which the site holds. */
#ifndef GH_VAULT_SYNC_H
#define GH_VAULT_SYNC_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_KEY_RANGE_SHIFT 40
#define VAULT_SHARED_KEY_BYTES (64 + crypto_box_SEALBYTES)
#define VAULT_PERSON_WRAPPED_BYTES 72

/* This appliance's key-id range, 1 .. 2^22 - 1. */
int vault_key_range(int64_t *range);

/* The public halves of this appliance's sync keys (made when missing). */
int vault_sync_identity(unsigned char sign_pk[32], unsigned char box_pk[32]);
/* Sign with the sync key. */
int vault_sync_sign(const unsigned char *msg, size_t len, unsigned char sig[crypto_sign_BYTES]);
/* Open what was sealed to this appliance's sync key (crypto_box_seal of
 * len - crypto_box_SEALBYTES bytes into out). 0, or VAULT_E_AUTH. */
int vault_sync_unseal(const unsigned char *sealed, size_t len, unsigned char *out);

/* A tenant key as it travels from a central to a site. */
struct vault_shared_key {
	int64_t id, tenant, version, created_at, retired_at; /* retired_at 0: none */
	char purpose[16], state[12];
	int has_key;                                         /* 0 once retired: the key is gone */
	unsigned char sealed[VAULT_SHARED_KEY_BYTES];
};

/* Every key of a tenant that sites need (data, index, terminal: the
 * terminal key is made first when the tenant has none, so that a site
 * never makes its own), sealed to peer_box_pk, in id order. *list is
 * malloc'd (free it). 0, or a VAULT_E_* error. */
int vault_sync_tenant_keys(int64_t tenant, const unsigned char peer_box_pk[32], struct vault_shared_key **list,
			   size_t *n);
/* One key by id: 0, 1 when it is not one of the tenant's shareable keys,
 * or an error. */
int vault_sync_tenant_key(int64_t key_id, int64_t tenant, const unsigned char peer_box_pk[32],
			  struct vault_shared_key *out);
/* A key received from the central, stored under its id inside the
 * caller's write transaction (a newer active key makes the older one
 * 'retiring'; a retired one loses its bytes). 0, or -1 with err. */
int vault_sync_tenant_key_put(const struct vault_shared_key *k, char *err, size_t errlen);

/* On a site being paired, before the central's keys of tenant arrive:
 * the site's own keys of that tenant are dropped (they are replaced), and
 * its keys of other tenants whose ids the central's keys take are moved to
 * new ids in the site's range. Refused (-1 with err) when anything is
 * sealed with a key that would be dropped or moved, or when both
 * appliances' ranges are the same. */
int vault_sync_make_room(int64_t tenant, const struct vault_shared_key *keys, size_t n, int64_t peer_range,
			 char *err, size_t errlen);

/* Person keys, as stored. get: 0 found, 1 gone (shredded), or an error. */
struct vault_person_key_row {
	int64_t id, tenant, person, tenant_key_id, created_at;
	unsigned char wrapped[VAULT_PERSON_WRAPPED_BYTES];
};
int vault_sync_person_key_get(int64_t key_id, int64_t tenant, struct vault_person_key_row *out);
/* Store (insert or replace) a person key received from the central, inside
 * the caller's write transaction. Its wrapping key must be here. */
int vault_sync_person_key_put(const struct vault_person_key_row *r, char *err, size_t errlen);

/* The key changes of a tenant after a position of its key log, each key
 * once (at its newest entry), in log order, at most max. kind 'T' tenant
 * key, 'P' person key (person set). Returns the count, or -1. *last is the
 * log position of the last one returned, or, when fewer than max were
 * found, the head of the log. */
struct vault_key_change {
	char kind;
	int64_t key_id, person;
};
int vault_sync_key_changes(int64_t tenant, long long after, int max, struct vault_key_change *out, long long *last);
/* The key log's head (its last position), or 0. */
int64_t vault_sync_key_head(void);
/* The number of key changes of a tenant after a position (for status). */
long long vault_sync_key_pending(int64_t tenant, long long after);

#endif
