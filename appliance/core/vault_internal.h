/* vault_internal: what vault.c shares with vault_rotate.c. Not for other
 * modules: they use vault.h. */
#ifndef GH_VAULT_INTERNAL_H
#define GH_VAULT_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define VAULT_WRAPPED_BYTES (24 + 32 + 16)

int vault_wrap(const unsigned char *kek, const unsigned char key[32], const unsigned char *ad,
	       size_t adlen, unsigned char out[VAULT_WRAPPED_BYTES]);
int vault_unwrap(const unsigned char *kek, const unsigned char *in, size_t inlen,
		 const unsigned char *ad, size_t adlen, unsigned char key[32]);
int vault_master_wrap(int64_t tenant, const char *purpose, int64_t version,
		      const unsigned char key[32], unsigned char out[VAULT_WRAPPED_BYTES]);
int vault_master_unwrap(int64_t tenant, const char *purpose, int64_t version,
			const unsigned char *wrapped, size_t len, unsigned char key[32]);

/* Keys by id (cached per thread) and the active key of a tenant and purpose. */
int vault_tenant_key(int64_t key_id, int64_t tenant, unsigned char key[32]);
int vault_active_key_id(int64_t tenant, const char *purpose, int64_t *id);
int vault_create_tenant_key(int64_t tenant, const char *purpose, int64_t version, int64_t *id);
void vault_cache_flush(void);

/* The id for a new key (which 0: ks.tenant_keys, 1: ks.person_keys): the
 * next one in this appliance's key-id range (vault_sync.h). */
int vault_next_key_id(int which, int64_t *id);

/* Header of a sealed value: kind 'T' or 'P' and key id. */
int vault_parse_header(const unsigned char *sealed, size_t len, char *kind, int64_t *key_id);

/* Re-wrap a person key from one tenant data key to another. */
int vault_person_key_rewrap(int64_t tenant, int64_t person, int64_t old_tkid, const void *wrapped,
			    size_t len, int64_t new_tkid, unsigned char out[VAULT_WRAPPED_BYTES]);
/* Re-wrap a tenant key from one master key to another. */
int vault_tenant_key_rewrap(const unsigned char *old_mk, const unsigned char *new_mk, int64_t tenant,
			    const char *purpose, int64_t version, const void *wrapped, size_t len,
			    unsigned char out[VAULT_WRAPPED_BYTES]);

/* A subkey of the loaded master key (crypto_kdf: id, 8-byte context). */
int vault_master_kdf(uint64_t id, const char ctx[8], unsigned char out[32]);
/* A copy of the loaded master key (into locked memory of the caller). */
int vault_master_copy(unsigned char out[32]);
/* The additional data that names a tenant key; returns its length. */
size_t vault_tenant_key_ad(int64_t tenant, const char *purpose, int64_t version, unsigned char *out,
			   size_t cap);

/* The master key check value. */
int vault_master_check(void);
int vault_master_check_with(const unsigned char *mk);
int vault_master_check_write(const unsigned char *mk);
/* The same on any connection and schema (a restored key store). */
int vault_master_check_write_on(sqlite3 *db, const char *schema, const unsigned char *mk);
int vault_master_check_on(sqlite3 *db, const char *schema, const unsigned char *mk);

#endif
