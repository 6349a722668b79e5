-- 0005_devices: door terminals (their certificates, status, synced rules),
-- the events they send, commands to them, firmware images and rollouts,
-- and the change log terminals sync from.

-- The appliance's device CA (one row) and the device link's own server
-- certificate, issued by that CA. The CA key is sealed by the vault
-- (appliance scope) and re-sealed by key rotation.
CREATE TABLE device_ca (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    cert_pem    TEXT NOT NULL,
    key_sealed  BLOB NOT NULL,
    server_cert_pem TEXT NOT NULL,
    server_key_sealed BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
INSERT INTO sealed_columns VALUES
    ('device_ca', 'key_sealed', NULL, 'tenant'),
    ('device_ca', 'server_key_sealed', NULL, 'tenant');

CREATE TABLE devices (
    id                 INTEGER PRIMARY KEY,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id),
    site_id            INTEGER REFERENCES sites (id),
    uid                TEXT NOT NULL UNIQUE,    -- MQTT client id, topic segment, certificate CN
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    model              TEXT NOT NULL DEFAULT '' CHECK (length(model) <= 64),
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'disabled')),
    enroll_digest      BLOB,                    -- keyed digest of the one-time enrolment token
    enroll_expires_at  INTEGER,
    cert_serial        TEXT,                    -- the certificate that may connect
    cert_not_after     INTEGER,
    firmware_version   TEXT NOT NULL DEFAULT '',
    online             INTEGER NOT NULL DEFAULT 0,
    last_seen_at       INTEGER,
    clock_offset_ms    INTEGER,
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX devices_tenant ON devices (tenant_id, id);

-- Events from terminals. (device_id, seq) is unique: a terminal re-sending
-- after an outage never doubles an event. Details are sealed under the
-- person's key (or the tenant's when the card is unknown).
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL,
    device_id     INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    at            INTEGER NOT NULL,             -- when it happened, Unix ms (terminal clock)
    received_at   INTEGER NOT NULL,             -- Unix ms
    kind          TEXT NOT NULL,
    door_id       INTEGER,
    person_id     INTEGER,
    credential_id INTEGER,
    result        TEXT,
    reason        TEXT,
    details       BLOB,
    UNIQUE (device_id, seq)
) STRICT;
CREATE INDEX events_tenant_at ON events (tenant_id, at);
CREATE INDEX events_person ON events (tenant_id, person_id, at) WHERE person_id IS NOT NULL;
CREATE INDEX events_door ON events (tenant_id, door_id, at);
INSERT INTO sealed_columns VALUES ('events', 'details', 'tenant_id', 'person');

CREATE TABLE device_commands (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL,
    device_id   INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('unlock', 'lockdown', 'resync', 'reboot', 'set_time', 'firmware')),
    params      TEXT NOT NULL DEFAULT '{}',
    state       TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'done', 'failed', 'expired')),
    result      TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,               -- Unix ms
    sent_at     INTEGER,
    done_at     INTEGER
) STRICT;
CREATE INDEX device_commands_pending ON device_commands (device_id, id) WHERE state IN ('queued', 'sent');

CREATE TABLE firmware_images (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    model      TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 64),
    version    TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, model, version)
) STRICT;

CREATE TABLE firmware_rollouts (
    id          INTEGER PRIMARY KEY,
    image_id    INTEGER NOT NULL REFERENCES firmware_images (id),
    device_id   INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    command_id  INTEGER,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'done', 'failed')),
    bytes_sent  INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    UNIQUE (image_id, device_id)
) STRICT;

-- Every change to what terminals decide with, in order: terminals (and the
-- site sync) fetch the changes after their cursor. Updates are logged only
-- when a column a terminal uses changes (a name, a photo or a key rotation
-- re-sealing a field is none of a terminal's business).
CREATE TABLE sync_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    entity    TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('upsert', 'delete'))
) STRICT;
CREATE INDEX sync_log_tenant ON sync_log (tenant_id, seq);

CREATE TRIGGER sync_people_i AFTER INSERT ON people BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'person', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_people_u AFTER UPDATE OF status, valid_from, valid_until ON people BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'person', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_people_d AFTER DELETE ON people BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'person', OLD.id, 'delete'); END;
CREATE TRIGGER sync_credentials_i AFTER INSERT ON credentials BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'credential', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_credentials_u AFTER UPDATE OF kind, person_id, status, valid_from, valid_until ON credentials BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'credential', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_credentials_d AFTER DELETE ON credentials BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'credential', OLD.id, 'delete'); END;
CREATE TRIGGER sync_members_i AFTER INSERT ON group_members BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'person', id, 'upsert' FROM people WHERE id = NEW.person_id; END;
CREATE TRIGGER sync_members_d AFTER DELETE ON group_members BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'person', id, 'upsert' FROM people WHERE id = OLD.person_id; END;
CREATE TRIGGER sync_doors_i AFTER INSERT ON doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'door', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_doors_u AFTER UPDATE OF site_id, name, unlock_seconds, held_open_seconds, terminal_id ON doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'door', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_doors_d AFTER DELETE ON doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'door', OLD.id, 'delete'); END;
CREATE TRIGGER sync_levels_i AFTER INSERT ON access_levels BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'level', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_levels_u AFTER UPDATE OF group_id, schedule_id ON access_levels BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'level', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_levels_d AFTER DELETE ON access_levels BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'level', OLD.id, 'delete'); END;
CREATE TRIGGER sync_level_doors_i AFTER INSERT ON access_level_doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'level', id, 'upsert' FROM access_levels WHERE id = NEW.level_id; END;
CREATE TRIGGER sync_level_doors_d AFTER DELETE ON access_level_doors BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'level', id, 'upsert' FROM access_levels WHERE id = OLD.level_id; END;
CREATE TRIGGER sync_schedules_u AFTER UPDATE OF holiday_set_id ON schedules BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (NEW.tenant_id, 'schedule', NEW.id, 'upsert'); END;
CREATE TRIGGER sync_schedules_d AFTER DELETE ON schedules BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op) VALUES (OLD.tenant_id, 'schedule', OLD.id, 'delete'); END;
CREATE TRIGGER sync_windows_i AFTER INSERT ON schedule_windows BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedule', id, 'upsert' FROM schedules WHERE id = NEW.schedule_id; END;
CREATE TRIGGER sync_windows_d AFTER DELETE ON schedule_windows BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedule', id, 'upsert' FROM schedules WHERE id = OLD.schedule_id; END;
CREATE TRIGGER sync_holidays_i AFTER INSERT ON holidays BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedule', id, 'upsert' FROM schedules WHERE holiday_set_id = NEW.holiday_set_id; END;
CREATE TRIGGER sync_holidays_d AFTER DELETE ON holidays BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'schedule', id, 'upsert' FROM schedules WHERE holiday_set_id = OLD.holiday_set_id; END;
CREATE TRIGGER sync_sites_u AFTER UPDATE OF timezone ON sites BEGIN
    INSERT INTO sync_log (tenant_id, entity, entity_id, op)
    SELECT tenant_id, 'door', id, 'upsert' FROM doors WHERE site_id = NEW.id; END;
