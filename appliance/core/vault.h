/* vault: the only code that touches keys. Everything else asks it to seal
 * or open a field, compute a blind index, or hash a secret.
 *
 * Key hierarchy
 *   master key (32 bytes)        file STATE/keys/master.key (0600) or the systemd
 *   |                            credential $CREDENTIALS_DIRECTORY/master.key;
 *   |                            never in a database, a log or a backup
 *   +- tenant data key (per tenant and version), wrapped by the master key
 *   |  +- person key (per person), wrapped by a data key of its tenant
 *   +- tenant index key (per tenant), wrapped by the master key: blind indexes
 *   +- appliance token key (tenant 0): digests of high-entropy tokens
 *   +- appliance audit key (tenant 0): seed of the Ed25519 audit signing key
 * All wrapped keys live in the key store STATE/keys/keystore.db, never in
 * gatehouse.db beside the data they protect.
 *
 * Sealed field (XChaCha20-Poly1305-IETF):
 *   0x01 | kind ('T' tenant data key, 'P' person key) | key id (8, big-endian)
 *   | nonce (24) | ciphertext | tag (16)                 = plaintext + 50 bytes
 * The additional data binds the header, tenant, table, column and row id,
 * so a ciphertext moved to another row, column or tenant, or altered in one
 * byte, fails to open (VAULT_E_AUTH, or VAULT_E_TENANT when the key itself
 * belongs to another tenant).
 *
 * Rule for callers: seal a value inside the write transaction
 * (BEGIN IMMEDIATE) that stores it. Key rotation takes the same write lock
 * to switch keys, so no value sealed under a retiring key can be written
 * after the rotation has scanned past it.
 *
 * Threads: every function may be called from any thread; each thread uses
 * its own database connection (db_get) and its own small key cache, which
 * is flushed whenever another connection changed the key store. */
#ifndef GH_VAULT_H
#define GH_VAULT_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

enum vault_err {
	VAULT_OK = 0,
	VAULT_E_FORMAT = -1,   /* not a sealed value (too short, unknown version or kind) */
	VAULT_E_AUTH = -2,     /* altered, or moved from another row, column or tenant */
	VAULT_E_TENANT = -3,   /* sealed under another tenant's key */
	VAULT_E_SHREDDED = -4, /* the person key was destroyed: gone for good */
	VAULT_E_NOKEY = -5,    /* key unknown or retired */
	VAULT_E_DB = -6,       /* key store unavailable */
	VAULT_E_NOMEM = -7,
	VAULT_E_INPUT = -8,    /* bad argument (e.g. empty blind-index value) */
	VAULT_E_MASTER = -9,   /* master key missing or wrong */
};

const char *vault_strerror(int err);

#define VAULT_OVERHEAD 50
#define VAULT_INDEX_BYTES 32
#define VAULT_TOKEN_DIGEST_BYTES 32
#define VAULT_DEFAULT_TENANT 1

/* Where the master key comes from: the systemd credential if present, else
 * STATE/keys/master.key. Fills path. */
void vault_master_path(const char *state_dir, char *path, size_t len);

/* Load the master key and check it against the key store; on a brand-new
 * state create the master key, the appliance keys and the default tenant.
 * The database must be open (db_open) with the key store attached.
 * Refuses (-1 and a message) when the key file is readable by others, when
 * the database is initialised but the key is missing, or when the key does
 * not match. */
int vault_open(const char *state_dir, char *err, size_t errlen);
void vault_close(void);
/* Free this thread's key cache (thread exit). */
void vault_thread_done(void);

/* Where a sealed value lives: its binding. */
struct vault_ref {
	int64_t tenant;     /* 0 for appliance-scope secrets */
	const char *table;
	const char *column;
	int64_t row;
};

/* Seal under the tenant's current data key. *out is malloc'd (len + 50). */
int vault_seal(const struct vault_ref *ref, const void *plain, size_t len, unsigned char **out,
	       size_t *outlen);
/* Seal under the person's key (created by vault_person_key_create). */
int vault_seal_person(const struct vault_ref *ref, int64_t person, const void *plain, size_t len,
		      unsigned char **out, size_t *outlen);
/* Open either kind; the header says which key. *plain is malloc'd with a
 * terminating NUL after plainlen bytes; release it with vault_free. */
int vault_open_field(const struct vault_ref *ref, const unsigned char *sealed, size_t len,
		     unsigned char **plain, size_t *plainlen);
/* Wipe and free a buffer returned by vault_open_field. */
void vault_free(void *p, size_t len);

/* Person keys. create is idempotent; shred deletes the key for good and
 * returns VAULT_E_SHREDDED if there was none. */
int vault_person_key_create(int64_t tenant, int64_t person);
int vault_person_key_shred(int64_t tenant, int64_t person);
int vault_person_key_exists(int64_t tenant, int64_t person);

/* Blind indexes: keyed BLAKE2b-256 of the normalised value, per tenant. */
enum vault_index_kind {
	VI_TEXT,        /* trimmed */
	VI_EMAIL,       /* trimmed, ASCII case-folded */
	VI_CARD,        /* digits only */
	VI_EMPLOYEE_NO, /* trimmed */
};
/* The normalised form (also used to store what the index was computed on).
 * Returns its length, or -1 if nothing is left (empty value). */
int vault_normalize(enum vault_index_kind kind, const char *value, char *out, size_t outlen);
int vault_blind_index(int64_t tenant, enum vault_index_kind kind, const char *value,
		      unsigned char out[VAULT_INDEX_BYTES]);

/* Low-entropy secrets (passwords, PINs, recovery codes): Argon2id with the
 * parameters below, encoded with salt and parameters by libsodium. */
#define VAULT_PWHASH_OPSLIMIT 3
#define VAULT_PWHASH_MEMLIMIT (64u * 1024 * 1024)
int vault_secret_hash(const char *secret, char out[crypto_pwhash_STRBYTES]);
/* 0 when secret matches hash; -1 otherwise. */
int vault_secret_verify(const char *hash, const char *secret);

/* High-entropy tokens (session cookies, API tokens: 256 random bits) cannot
 * be guessed, so they need no slow hash; they are stored as a keyed
 * BLAKE2b digest that can be looked up in microseconds on every request. */
int vault_token_digest(const char *token, size_t len, unsigned char out[VAULT_TOKEN_DIGEST_BYTES]);

/* The appliance's Ed25519 audit key (its seed is a key-store key like the
 * others): sign a message, or get the public key for verification. */
int vault_audit_sign(const unsigned char *msg, size_t len, unsigned char sig[crypto_sign_BYTES]);
int vault_audit_public_key(unsigned char pk[crypto_sign_PUBLICKEYBYTES]);

/* Door terminals store card numbers only as keyed hashes, under a per-tenant
 * terminal key (created on first use) that they receive when they sync: a
 * stolen terminal yields neither card numbers nor the blind-index key.
 * vault_card_hash is what a terminal computes for a card it reads. */
int vault_terminal_key(int64_t tenant, unsigned char key[32]);
int vault_card_hash(const unsigned char key[32], const char *card, unsigned char out[32]);
/* The same for a mobile credential's token, over its bytes as presented. */
void vault_token_hash(const unsigned char key[32], const char *token, size_t len, unsigned char out[32]);

/* Tenants. Creates the row and its keys. */
int vault_tenant_create(const char *slug, const char *name, int64_t *id, char *err, size_t errlen);

#endif
