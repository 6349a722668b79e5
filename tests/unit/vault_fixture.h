/* Shared set-up for tests that need an open state directory, database, key
 * store and vault (a real SQLite file in a temporary directory). */
#ifndef GH_TEST_VAULT_FIXTURE_H
#define GH_TEST_VAULT_FIXTURE_H

#include "core/db.h"
#include "core/state.h"
#include "core/vault.h"

#include <stdio.h>

/* Open (creating on first use) the store in dir. 0 or -1 (message printed). */
static inline int store_open(const char *dir)
{
	char err[700], db[600], ks[600], keys[600];

	if (sodium_init() < 0 || state_open(dir, err, sizeof err) < 0 ||
	    state_mkdir("keys", err, sizeof err) < 0) {
		printf("#   store_open: %s\n", err);
		return -1;
	}
	snprintf(db, sizeof db, "%s/gatehouse.db", dir);
	snprintf(ks, sizeof ks, "%s/keys/keystore.db", dir);
	snprintf(keys, sizeof keys, "%s/keys", dir);
	if (db_open(db, ks, 5000, err, sizeof err) < 0 || vault_open(dir, err, sizeof err) < 0) {
		printf("#   store_open: %s\n", err);
		return -1;
	}
	return 0;
}

static inline void store_close(void)
{
	vault_close();
	db_close();
}

#endif
