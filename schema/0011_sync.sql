-- 0011_sync: site sync between a central appliance and its site appliances.
-- The contract is docs/sync.md; this migration holds what both sides store.

-- --- the key store ---------------------------------------------------------

-- Two more appliance keys (tenant 0), made on first use: the Ed25519 seed
-- that signs changesets ('sync-sign') and the X25519 secret that opens the
-- ones sealed to this appliance ('sync-box'). A CHECK constraint cannot be
-- altered in SQLite, so the table is rebuilt with the same rows.
CREATE TABLE ks.tenant_keys_new (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL,
    purpose          TEXT NOT NULL
                     CHECK (purpose IN ('data', 'index', 'token', 'audit', 'terminal', 'sync-sign', 'sync-box')),
    version          INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('active', 'retiring', 'retired')),
    wrapped          BLOB,
    created_at       INTEGER NOT NULL,
    retired_at       INTEGER,
    recovery_wrapped BLOB,
    UNIQUE (tenant_id, purpose, version)
) STRICT;
INSERT INTO ks.tenant_keys_new (id, tenant_id, purpose, version, state, wrapped, created_at, retired_at, recovery_wrapped)
    SELECT id, tenant_id, purpose, version, state, wrapped, created_at, retired_at, recovery_wrapped FROM ks.tenant_keys;
DROP TABLE ks.tenant_keys;
ALTER TABLE ks.tenant_keys_new RENAME TO tenant_keys;
CREATE UNIQUE INDEX ks.tenant_keys_active ON tenant_keys (tenant_id, purpose) WHERE state = 'active';

-- Key ids are written into every sealed value, so a site must hold the
-- central's keys under the central's ids. Keys made from now on take their
-- id in this appliance's own range (this random 22-bit number times 2^40,
-- see vault_sync.h), so keys made on a central and on its sites never share
-- an id. Keys made before keep theirs; pairing deals with those.
INSERT INTO ks.vault_meta (key, value) VALUES ('key_range', randomblob(3));

-- Every change to a tenant's keys, in order, so that a central can send its
-- sites new key versions, re-wrapped person keys and shredded ones after a
-- cursor (the "keys" stream). Appliance keys (tenant 0) are never shared.
-- A tenant key's `wrapped` is this appliance's own (under its master key):
-- re-wrapping it (a restore, `keys rewrap`) changes nothing another
-- appliance holds, so it is not logged; its state (retired) is.
CREATE TABLE ks.key_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('tenant', 'person')),
    key_id    INTEGER NOT NULL,
    person_id INTEGER
) STRICT;
CREATE INDEX ks.key_log_tenant ON key_log (tenant_id, seq);
CREATE INDEX ks.key_log_thing ON key_log (tenant_id, kind, key_id, seq);

CREATE TRIGGER ks.key_log_tenant_i AFTER INSERT ON tenant_keys WHEN NEW.tenant_id > 0 BEGIN
    INSERT INTO key_log (tenant_id, kind, key_id) VALUES (NEW.tenant_id, 'tenant', NEW.id); END;
CREATE TRIGGER ks.key_log_tenant_u AFTER UPDATE OF state ON tenant_keys WHEN NEW.tenant_id > 0 BEGIN
    INSERT INTO key_log (tenant_id, kind, key_id) VALUES (NEW.tenant_id, 'tenant', NEW.id); END;
CREATE TRIGGER ks.key_log_person_i AFTER INSERT ON person_keys BEGIN
    INSERT INTO key_log (tenant_id, kind, key_id, person_id) VALUES (NEW.tenant_id, 'person', NEW.id, NEW.person_id); END;
CREATE TRIGGER ks.key_log_person_u AFTER UPDATE OF tenant_key_id, wrapped ON person_keys BEGIN
    INSERT INTO key_log (tenant_id, kind, key_id, person_id) VALUES (NEW.tenant_id, 'person', NEW.id, NEW.person_id); END;
CREATE TRIGGER ks.key_log_person_d AFTER DELETE ON person_keys BEGIN
    INSERT INTO key_log (tenant_id, kind, key_id, person_id) VALUES (OLD.tenant_id, 'person', OLD.id, OLD.person_id); END;

INSERT INTO ks.key_log (tenant_id, kind, key_id)
    SELECT tenant_id, 'tenant', id FROM ks.tenant_keys WHERE tenant_id > 0 ORDER BY id;
INSERT INTO ks.key_log (tenant_id, kind, key_id, person_id)
    SELECT tenant_id, 'person', id, person_id FROM ks.person_keys ORDER BY id;

-- --- change capture for sites ------------------------------------------------

-- sync_log (0005) records what terminals decide with, as terminals see it.
-- A site needs every change of what the central owns, names and photos
-- included, each thing under its table's name; terminals ignore these
-- entities and sites ignore the terminals' ones. A child row (a member, a
-- window, a holiday date, a level's door) logs its parent, which is sent
-- with its children. device_status is the other way round: a site's
-- terminals' status, sent to the central. People and credentials are
-- logged when their version (the ETag, which every change bumps) moves, so
-- creating a person with five sealed fields logs it once, not six times.
CREATE TRIGGER site_people_i AFTER INSERT ON people BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'people', NEW.id, 'upsert'); END;
CREATE TRIGGER site_people_u AFTER UPDATE OF version ON people BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'people', NEW.id, 'upsert'); END;
CREATE TRIGGER site_people_d AFTER DELETE ON people BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'people', OLD.id, 'delete'); END;
CREATE TRIGGER site_members_i AFTER INSERT ON group_members BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'people', id, 'upsert' FROM people WHERE id = NEW.person_id; END;
CREATE TRIGGER site_members_d AFTER DELETE ON group_members BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'people', id, 'upsert' FROM people WHERE id = OLD.person_id; END;
CREATE TRIGGER site_credentials_i AFTER INSERT ON credentials BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'credentials', NEW.id, 'upsert'); END;
CREATE TRIGGER site_credentials_u AFTER UPDATE OF version ON credentials BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'credentials', NEW.id, 'upsert'); END;
CREATE TRIGGER site_credentials_d AFTER DELETE ON credentials BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'credentials', OLD.id, 'delete'); END;
CREATE TRIGGER site_sites_i AFTER INSERT ON sites BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'sites', NEW.id, 'upsert'); END;
CREATE TRIGGER site_sites_u AFTER UPDATE ON sites BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'sites', NEW.id, 'upsert'); END;
CREATE TRIGGER site_sites_d AFTER DELETE ON sites BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'sites', OLD.id, 'delete'); END;
CREATE TRIGGER site_doors_i AFTER INSERT ON doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'doors', NEW.id, 'upsert'); END;
CREATE TRIGGER site_doors_u AFTER UPDATE ON doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'doors', NEW.id, 'upsert'); END;
CREATE TRIGGER site_doors_d AFTER DELETE ON doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'doors', OLD.id, 'delete'); END;
CREATE TRIGGER site_devices_i AFTER INSERT ON devices BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'devices', NEW.id, 'upsert'); END;
CREATE TRIGGER site_devices_u AFTER UPDATE OF tenant_id, site_id, uid, name, model ON devices BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'devices', NEW.id, 'upsert'); END;
CREATE TRIGGER site_devices_d AFTER DELETE ON devices BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'devices', OLD.id, 'delete'); END;
-- (device_status is logged by site_device_status_u, after sync_central below.)
CREATE TRIGGER site_holiday_sets_i AFTER INSERT ON holiday_sets BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'holiday_sets', NEW.id, 'upsert'); END;
CREATE TRIGGER site_holiday_sets_u AFTER UPDATE ON holiday_sets BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'holiday_sets', NEW.id, 'upsert'); END;
CREATE TRIGGER site_holiday_sets_d AFTER DELETE ON holiday_sets BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'holiday_sets', OLD.id, 'delete'); END;
CREATE TRIGGER site_holidays_i AFTER INSERT ON holidays BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'holiday_sets', id, 'upsert' FROM holiday_sets WHERE id = NEW.holiday_set_id; END;
CREATE TRIGGER site_holidays_u AFTER UPDATE ON holidays BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'holiday_sets', id, 'upsert' FROM holiday_sets WHERE id = NEW.holiday_set_id; END;
CREATE TRIGGER site_holidays_d AFTER DELETE ON holidays BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'holiday_sets', id, 'upsert' FROM holiday_sets WHERE id = OLD.holiday_set_id; END;
CREATE TRIGGER site_schedules_i AFTER INSERT ON schedules BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'schedules', NEW.id, 'upsert'); END;
CREATE TRIGGER site_schedules_u AFTER UPDATE ON schedules BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'schedules', NEW.id, 'upsert'); END;
CREATE TRIGGER site_schedules_d AFTER DELETE ON schedules BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'schedules', OLD.id, 'delete'); END;
CREATE TRIGGER site_windows_i AFTER INSERT ON schedule_windows BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedules', id, 'upsert' FROM schedules WHERE id = NEW.schedule_id; END;
CREATE TRIGGER site_windows_u AFTER UPDATE ON schedule_windows BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedules', id, 'upsert' FROM schedules WHERE id = NEW.schedule_id; END;
CREATE TRIGGER site_windows_d AFTER DELETE ON schedule_windows BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedules', id, 'upsert' FROM schedules WHERE id = OLD.schedule_id; END;
CREATE TRIGGER site_groups_i AFTER INSERT ON access_groups BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'access_groups', NEW.id, 'upsert'); END;
CREATE TRIGGER site_groups_u AFTER UPDATE ON access_groups BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'access_groups', NEW.id, 'upsert'); END;
CREATE TRIGGER site_groups_d AFTER DELETE ON access_groups BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'access_groups', OLD.id, 'delete'); END;
CREATE TRIGGER site_levels_i AFTER INSERT ON access_levels BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'access_levels', NEW.id, 'upsert'); END;
CREATE TRIGGER site_levels_u AFTER UPDATE ON access_levels BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'access_levels', NEW.id, 'upsert'); END;
CREATE TRIGGER site_levels_d AFTER DELETE ON access_levels BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'access_levels', OLD.id, 'delete'); END;
CREATE TRIGGER site_level_doors_i AFTER INSERT ON access_level_doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'access_levels', id, 'upsert' FROM access_levels WHERE id = NEW.level_id; END;
CREATE TRIGGER site_level_doors_d AFTER DELETE ON access_level_doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'access_levels', id, 'upsert' FROM access_levels WHERE id = OLD.level_id; END;

-- What existed before this migration is logged once, so a site paired with
-- an upgraded central receives it like anything made later.
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'sites', id, 'upsert' FROM sites ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'holiday_sets', id, 'upsert' FROM holiday_sets ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'schedules', id, 'upsert' FROM schedules ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'access_groups', id, 'upsert' FROM access_groups ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'devices', id, 'upsert' FROM devices ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'doors', id, 'upsert' FROM doors ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'access_levels', id, 'upsert' FROM access_levels ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'people', id, 'upsert' FROM people ORDER BY id;
INSERT INTO sync_log (tenant_id, entity, entity_id, op) SELECT tenant_id, 'credentials', id, 'upsert' FROM credentials ORDER BY id;

-- The sync streams read the log by entity; the thing index (0007) finds
-- whether a thing changed again later.
CREATE INDEX sync_log_entity ON sync_log (tenant_id, entity, seq);

-- --- the central's side: its pairings with sites -----------------------------

-- One row per pairing a central admin created. The one-time pairing code
-- and the site's credential are stored only as keyed digests (like API
-- tokens). A site_id has at most one pairing that is not revoked.
CREATE TABLE sync_pairings (
    id                INTEGER PRIMARY KEY,
    tenant_id         INTEGER NOT NULL,
    site_id           INTEGER NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'revoked')),
    code_digest       BLOB UNIQUE,
    code_expires_at   INTEGER NOT NULL,          -- Unix s
    created_by        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    claimed_at        INTEGER,
    site_appliance_id TEXT,                      -- 32 hex digits
    site_sign_pk      BLOB,                      -- Ed25519: the site's changesets
    site_box_pk       BLOB,                      -- X25519: what is sealed to the site
    site_audit_pk     BLOB,                      -- Ed25519: the site's audit anchors
    token_digest      BLOB UNIQUE,               -- the site credential's keyed digest
    last_contact_at   INTEGER,                   -- Unix s: last changeset or pull from the site
    revoked_at        INTEGER
) STRICT;
CREATE UNIQUE INDEX sync_pairings_site ON sync_pairings (site_id) WHERE state != 'revoked';

-- The site's audit chain, kept per pairing beside the central's own (which
-- stays the central's alone), with the site's anchors, so that it can be
-- verified here with the site's audit public key.
CREATE TABLE site_audit_log (
    pairing_id INTEGER NOT NULL,
    id         INTEGER NOT NULL,
    uid        TEXT NOT NULL,
    at         INTEGER NOT NULL,
    tenant_id  INTEGER,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    source     TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    details    TEXT NOT NULL,
    sealed     BLOB,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (pairing_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE site_audit_anchors (
    pairing_id INTEGER NOT NULL,
    id         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    entry_id   INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    signature  BLOB NOT NULL,
    signed_at  INTEGER NOT NULL,
    PRIMARY KEY (pairing_id, id)
) STRICT, WITHOUT ROWID;

-- --- the site's side: its central --------------------------------------------

-- At most one row: the central this appliance is a site of. The site
-- credential is sealed under the appliance's data key.
CREATE TABLE sync_central (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    pairing_id           INTEGER NOT NULL,       -- the central's id of the pairing
    tenant_id            INTEGER NOT NULL,
    site_id              INTEGER NOT NULL,
    central_url          TEXT NOT NULL,
    fingerprint          TEXT NOT NULL,          -- SHA-256 of the central's certificate, AA:BB:...
    central_appliance_id TEXT NOT NULL,
    central_sign_pk      BLOB NOT NULL,
    central_box_pk       BLOB NOT NULL,
    credential           BLOB NOT NULL,
    paired_at            INTEGER NOT NULL,       -- Unix s
    last_ok_at           INTEGER,                -- last complete exchange over the network, or import
    last_attempt_at      INTEGER,
    next_attempt_at      INTEGER,                -- back-off after failures
    failures             INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT
) STRICT;
INSERT INTO sealed_columns VALUES ('sync_central', 'credential', NULL, 'tenant');

-- --- both sides: where each stream stands --------------------------------------

-- applied: for a stream this appliance receives, the newest position it
-- applied (a changeset at or below it changes nothing). acked: for a stream
-- it sends, the newest position the peer confirmed (exports start there).
CREATE TABLE sync_cursors (
    pairing_id INTEGER NOT NULL,
    stream     TEXT NOT NULL,
    applied    INTEGER NOT NULL DEFAULT 0,
    acked      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pairing_id, stream)
) STRICT, WITHOUT ROWID;

-- A site's terminals' status, for its central: logged only on a paired
-- site (a status message every few minutes from thousands of terminals
-- would otherwise fill sync_log on every appliance for nothing). Pairing
-- logs every terminal's status once (site_pair.c), so the central starts
-- from all of them.
CREATE TRIGGER site_device_status_u AFTER UPDATE OF status, cert_serial, cert_not_after, firmware_version, online,
    last_seen_at, clock_offset_ms ON devices WHEN EXISTS (SELECT 1 FROM sync_central WHERE id = 1) BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'device_status', NEW.id, 'upsert'); END;
