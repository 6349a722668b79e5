/* vault_escrow: what backups and restores need from the vault. Part of the
 * vault (the only code that touches keys); see docs/backup.md.
 *
 * Recovery key: an X25519 key pair (crypto_box) made at first start (or at
 * the first start of a program that has this module). Its public half is
 * kept in the key store, and every tenant key is also sealed to it
 * (crypto_box_seal, the "escrow" wrap in ks.tenant_keys.recovery_wrapped).
 * Whoever holds the secret half can rebuild the whole key hierarchy under a
 * new master key, so a backup can be restored when the appliance and its
 * master key are lost. The secret half waits in STATE/keys/recovery.key
 * (0600) until `gatehouse keys recovery-export` hands it out once, as text
 * to print or keep on a USB stick, and deletes it from the appliance.
 *
 * Backup file keys: every backup file has its own random key, stored in its
 * header twice: wrapped with a key derived from the master key (so the
 * master key alone opens it, no key store needed), and sealed to the
 * recovery public key.
 *
 * Erasure ledger: (tenant, person, time) of every person key shredded, in
 * ks.erasures, written by vault_person_key_shred. Nothing personal. */
#ifndef GH_VAULT_ESCROW_H
#define GH_VAULT_ESCROW_H

#include <sodium.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_ID_BYTES 8                   /* master key id, recovery key fingerprint */
#define VAULT_FILE_KEY_WRAPPED_BYTES 72    /* nonce 24 | key 32 | tag 16 */
#define VAULT_FILE_KEY_SEALED_BYTES (32 + crypto_box_SEALBYTES)
#define VAULT_ESCROW_BYTES (16 + 32 + crypto_box_SEALBYTES)
#define VAULT_RECOVERY_FILE "keys/recovery.key"

/* Called by vault_open: make the recovery key pair when the store has none
 * (its secret goes to STATE/keys/recovery.key), and give every tenant key
 * without one its escrow wrap. 0, or -1 with err. */
int vault_escrow_start(const char *state_dir, char *err, size_t errlen);

/* For vault_create_tenant_key: seal a new tenant key to the recovery key.
 * 1 done, 0 no recovery key yet, -1 error. */
int vault_escrow_seal(int64_t tenant, const char *purpose, int64_t version, const unsigned char key[32],
		      unsigned char out[VAULT_ESCROW_BYTES]);

struct vault_recovery_status {
	int present;             /* a recovery key exists */
	char fingerprint[20];    /* "1a2b-3c4d-5e6f-7a8b" */
	long long created_at;    /* unix s */
	long long exported_at;   /* unix s, 0: never exported */
	int secret_on_disk;      /* STATE/keys/recovery.key still there */
	long long escrow_missing;/* tenant keys without an escrow wrap (should be 0) */
};
int vault_recovery_status(const char *state_dir, struct vault_recovery_status *s);

/* The recovery key's text, read from STATE/keys/recovery.key. *text is
 * malloc'd (release with vault_free(*text, *len)). 0, or -1 with err (also
 * when it was exported already: it is no longer on the appliance). */
int vault_recovery_text(const char *state_dir, char **text, size_t *len, char *err, size_t errlen);
/* After the text was handed out: record when, then delete the file. */
int vault_recovery_mark_exported(const char *state_dir, char *err, size_t errlen);

/* Replace the recovery key pair (`gatehouse keys recovery-rotate`): a new
 * secret in STATE/keys/recovery.key (the old one, when never exported, is
 * shredded), every tenant key's escrow wrap re-sealed to the new public
 * half, and the export mark cleared. Backups made before keep their file
 * key sealed to the old key. 0, or -1 with err (nothing changed). */
struct vault_recovery_change {
	char old_fingerprint[20], new_fingerprint[20];
	int old_exported;        /* the old key had been handed out */
	long long rewrapped;     /* escrow wraps re-sealed */
};
int vault_recovery_rotate(const char *state_dir, struct vault_recovery_change *c, char *err, size_t errlen);

/* Parse a recovery key's text (as exported, or typed back from paper):
 * the secret, its check digits and, when present, its fingerprint must
 * agree. sk must be locked memory (sodium_malloc). 0, or -1 with err. */
int vault_recovery_parse(const char *text, size_t len, unsigned char sk[32], char fingerprint[20], char *err,
			 size_t errlen);
/* The fingerprint of a recovery secret's public key. */
void vault_recovery_fingerprint(const unsigned char sk[32], unsigned char fp[VAULT_ID_BYTES]);
void vault_id_text(const unsigned char id[VAULT_ID_BYTES], char out[20]);

/* What a backup header names: the loaded master key's id and (unless
 * recovery_fp is NULL) the recovery key's fingerprint. 0, or a VAULT_E_*
 * error. */
int vault_backup_ids(unsigned char master_id[VAULT_ID_BYTES], unsigned char *recovery_fp);
/* The fingerprint of a recovery public key (as a snapshot's key store holds it). */
void vault_recovery_pk_fingerprint(const unsigned char pk[32], unsigned char fp[VAULT_ID_BYTES]);
/* The id of a given master key. */
void vault_master_id_of(const unsigned char mk[32], unsigned char id[VAULT_ID_BYTES]);

/* Protect a new file key: wrapped under the master-derived backup key with
 * ad (the header bytes before it) bound, and sealed to recovery_pk (the
 * recovery public key of the key store the file carries). */
int vault_file_key_protect(const unsigned char key[32], const unsigned char recovery_pk[32], const unsigned char *ad,
			   size_t adlen,
			   unsigned char wrapped[VAULT_FILE_KEY_WRAPPED_BYTES],
			   unsigned char sealed[VAULT_FILE_KEY_SEALED_BYTES]);
/* Get a file key back with a master key (mk, or NULL for the loaded one),
 * or with the recovery secret. 0, or -1 (wrong key, or altered). */
int vault_file_key_unwrap(const unsigned char *mk, const unsigned char *wrapped, const unsigned char *ad,
			  size_t adlen, unsigned char key[32]);
int vault_file_key_unseal(const unsigned char sk[32], const unsigned char *sealed, unsigned char key[32]);

/* How a restored key store's tenant keys are opened: with the master key
 * they were wrapped with, or with the recovery secret (escrow wraps). */
struct vault_unlock {
	const unsigned char *master;      /* 32 bytes, or NULL */
	const unsigned char *recovery_sk; /* 32 bytes, or NULL */
};

/* A restored key store (schema `schema` of db, a constant name): re-wrap
 * every tenant key that still has its bytes under new_mk, and write the
 * check value for new_mk, in one transaction. Returns the number of keys,
 * or -1 with err. */
int vault_keystore_rekey(sqlite3 *db, const char *schema, const struct vault_unlock *from,
			 const unsigned char new_mk[32], char *err, size_t errlen);

/* Merging an events backup into a restored state (db_get()'s connection,
 * inside its write transaction, the loaded master key being that state's):
 * tenant keys of schema src (a constant name) that ks lacks are opened with
 * `from` and wrapped under the loaded master key. A newer active data key
 * makes the older one 'retiring' and records a rotation, so `gatehouse keys
 * rotate` finishes re-sealing. Refuses when both stores hold a different
 * key under one id (the states diverged). Returns keys added, or -1. */
int vault_merge_tenant_keys(const char *src, const struct vault_unlock *from, char *err, size_t errlen);

/* The erasure ledger. */
struct vault_erasure {
	int64_t tenant, person, erased_at;
};
/* Append every entry of the ledger in schema `schema` (a constant name) of
 * db to *list (grown with realloc; *n entries). 0, or -1. A store without
 * a ledger (older than the ledger) adds nothing. */
int vault_erasures_load(sqlite3 *db, const char *schema, struct vault_erasure **list, size_t *n);
/* Entries of the live ledger after time t (unix s), or -1. */
long long vault_erasures_since(long long t);
/* Record one (kept when already there). 0 or -1. */
int vault_erasure_record(int64_t tenant, int64_t person, int64_t erased_at);

/* Write the loaded master key to path (0600), for a restored state that
 * keeps the appliance's master key. */
int vault_master_export(const char *path, char *err, size_t errlen);

#endif
