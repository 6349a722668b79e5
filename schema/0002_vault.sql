-- 0002_vault: tenants, and the key store.
--
-- Keys never live beside the data: every key is kept in the separate key
-- store database STATE/keys/keystore.db, attached to each connection as
-- "ks". A copy of gatehouse.db (or a backup of it) holds only ciphertexts.
-- See appliance/core/vault.h for the key hierarchy.

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE
               CHECK (length(slug) BETWEEN 1 AND 63 AND slug NOT GLOB '*[^a-z0-9-]*'),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at INTEGER NOT NULL
) STRICT;

-- Every column that holds sealed values. Key rotation re-seals the
-- 'tenant' ones; 'person' ones need nothing (person keys are re-wrapped);
-- 'archive' ones are tenant-sealed values that must never change (the
-- audit log's), so rotation keeps the key versions they use until they are
-- deleted. A module that adds a sealed column registers it in the same
-- migration.
CREATE TABLE sealed_columns (
    table_name    TEXT NOT NULL CHECK (table_name NOT GLOB '*[^a-z0-9_]*'),
    column_name   TEXT NOT NULL CHECK (column_name NOT GLOB '*[^a-z0-9_]*'),
    tenant_column TEXT CHECK (tenant_column NOT GLOB '*[^a-z0-9_]*'),  -- NULL: appliance scope (tenant 0)
    key_kind      TEXT NOT NULL CHECK (key_kind IN ('tenant', 'person', 'archive')),
    PRIMARY KEY (table_name, column_name)
) STRICT;

-- The key store. tenant_id 0 is the appliance itself (keys for secrets that
-- belong to no tenant).
CREATE TABLE ks.vault_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- Tenant keys, wrapped by the master key. purpose 'data' seals fields and
-- wraps person keys and is rotated; 'index' keys the blind indexes; 'token'
-- (appliance scope) keys digests of high-entropy tokens; 'audit' (appliance
-- scope) is the seed of the Ed25519 key that signs the audit chain;
-- 'terminal' keys the card hashes a tenant's door terminals store, so a
-- stolen terminal holds no card number and no index key.
CREATE TABLE ks.tenant_keys (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('data', 'index', 'token', 'audit', 'terminal')),
    version    INTEGER NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
    wrapped    BLOB,                      -- NULL once retired: the key is gone
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    UNIQUE (tenant_id, purpose, version)
) STRICT;
CREATE UNIQUE INDEX ks.tenant_keys_active ON tenant_keys (tenant_id, purpose) WHERE state = 'active';

-- One key per person, wrapped by a data key of the person's tenant.
-- Deleting the row is crypto-shredding.
CREATE TABLE ks.person_keys (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL,
    person_id     INTEGER NOT NULL,
    tenant_key_id INTEGER NOT NULL,
    wrapped       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, person_id)
) STRICT;
CREATE INDEX ks.person_keys_wrapping ON person_keys (tenant_key_id);

-- A data-key rotation in progress, so that a killed run resumes.
CREATE TABLE ks.rotations (
    tenant_id        INTEGER PRIMARY KEY,
    new_key_id       INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    column_no        INTEGER NOT NULL DEFAULT 0,
    row_cursor       INTEGER NOT NULL DEFAULT 0,
    person_keys_done INTEGER NOT NULL DEFAULT 0,
    fields_done      INTEGER NOT NULL DEFAULT 0
) STRICT;
