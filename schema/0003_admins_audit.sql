-- 0003_admins_audit: admin accounts, sessions, API tokens, admin access
-- allow-lists, blocked addresses, alert rows, and the tamper-evident audit log.

CREATE TABLE admins (
    id                   INTEGER PRIMARY KEY,
    tenant_id            INTEGER REFERENCES tenants (id),  -- NULL: system admin
    username             TEXT NOT NULL UNIQUE COLLATE NOCASE
                         CHECK (length(username) BETWEEN 1 AND 64),
    role                 TEXT NOT NULL
                         CHECK (role IN ('system-admin', 'tenant-admin', 'operator', 'auditor')),
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         INTEGER,             -- unix seconds; NULL or past: not locked
    totp_secret          BLOB,                -- sealed by the vault (tenant key, or appliance key)
    totp_enabled         INTEGER NOT NULL DEFAULT 0,
    totp_last_step       INTEGER NOT NULL DEFAULT 0,  -- codes are not reusable
    language             TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CHECK ((role = 'system-admin') = (tenant_id IS NULL))
) STRICT;

INSERT INTO sealed_columns VALUES ('admins', 'totp_secret', 'tenant_id', 'tenant');

CREATE TABLE admin_recovery_codes (
    id        INTEGER PRIMARY KEY,
    admin_id  INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,                   -- Argon2id
    used_at   INTEGER
) STRICT;
CREATE INDEX admin_recovery_codes_admin ON admin_recovery_codes (admin_id);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_digest BLOB NOT NULL UNIQUE,         -- keyed BLAKE2b of the cookie value
    csrf_token   TEXT NOT NULL,
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    remote_addr  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,             -- absolute timeout
    ended_at     INTEGER,
    end_reason   TEXT
) STRICT;
CREATE INDEX sessions_admin ON sessions (admin_id) WHERE ended_at IS NULL;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'operate', 'manage')),
    token_digest BLOB NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,                -- shown in lists to tell tokens apart
    created_by   INTEGER REFERENCES admins (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

-- Admin access allow-lists: CIDR ranges per tenant; tenant_id NULL is the
-- list for system admins. An empty list allows every address.
CREATE TABLE allowlist (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER REFERENCES tenants (id),
    cidr       TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, cidr)
) STRICT;

CREATE TABLE blocked_addresses (
    addr       TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    blocked_at INTEGER NOT NULL,
    until      INTEGER NOT NULL
) STRICT;

-- Alert rows: raised by any module, delivered by the alerts job.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    tenant_id       INTEGER,
    subject         TEXT NOT NULL,
    details         TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by INTEGER,
    resolved_at     INTEGER
) STRICT;
CREATE INDEX alerts_open ON alerts (created_at) WHERE resolved_at IS NULL;

-- The audit log: append-only, hash-chained. hash = BLAKE2b-256(prev_hash ||
-- canonical form of the entry); see appliance/domain/audit.c.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    at         INTEGER NOT NULL,               -- unix milliseconds
    tenant_id  INTEGER,                        -- NULL: the appliance
    actor_type TEXT NOT NULL CHECK (actor_type IN ('admin', 'token', 'terminal', 'system', 'anonymous')),
    actor_id   TEXT NOT NULL,
    source     TEXT NOT NULL,                  -- client address, or 'cli'
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    details    TEXT NOT NULL DEFAULT '{}',     -- JSON without personal values
    sealed     BLOB,                           -- personal values, sealed by the vault
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);
-- Sealed values in the log are part of its hash chain: never re-sealed.
INSERT INTO sealed_columns VALUES ('audit_log', 'sealed', 'tenant_id', 'archive');
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);

-- Signed anchors: the chain head signed with the appliance's Ed25519 audit
-- key at intervals, and the cut left by retention.
CREATE TABLE audit_anchors (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('head', 'cut')),
    entry_id  INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    signature BLOB NOT NULL,
    signed_at INTEGER NOT NULL
) STRICT;
