-- 0004_people_access: sites and doors, people and their credentials,
-- schedules, holiday sets, access groups and access levels.
-- Every row carries its tenant; personal fields are sealed by the vault
-- under the person's key (registered in sealed_columns), with blind
-- indexes for exact lookups. `version` counts updates: it is the ETag.

CREATE TABLE sites (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone   TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE doors (
    id                INTEGER PRIMARY KEY,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id),
    site_id           INTEGER NOT NULL REFERENCES sites (id),
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    unlock_seconds    INTEGER NOT NULL DEFAULT 5 CHECK (unlock_seconds BETWEEN 1 AND 3600),
    held_open_seconds INTEGER NOT NULL DEFAULT 30 CHECK (held_open_seconds BETWEEN 1 AND 86400),
    terminal_id       INTEGER,
    output            INTEGER CHECK (output BETWEEN 1 AND 64),
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (site_id, name)
) STRICT;
CREATE INDEX doors_tenant ON doors (tenant_id, id);

-- AUTOINCREMENT: an erased person's id is never given to someone else.
CREATE TABLE people (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
    name            BLOB NOT NULL,        -- sealed
    email           BLOB,                 -- sealed
    email_idx       BLOB,                 -- blind index
    phone           BLOB,                 -- sealed
    employee_no     BLOB,                 -- sealed
    employee_no_idx BLOB,                 -- blind index
    photo           BLOB,                 -- sealed image bytes
    photo_type      TEXT CHECK (photo_type IN ('image/jpeg', 'image/png')),
    notes           BLOB,                 -- sealed
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    valid_from      TEXT,                 -- civil date-time in the door's site time zone
    valid_until     TEXT,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX people_tenant ON people (tenant_id, id);
CREATE INDEX people_email ON people (tenant_id, email_idx) WHERE email_idx IS NOT NULL;
CREATE UNIQUE INDEX people_employee_no ON people (tenant_id, employee_no_idx) WHERE employee_no_idx IS NOT NULL;

CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('card', 'pin', 'face', 'fingerprint', 'mobile')),
    lookup_idx  BLOB,                     -- card: blind index of the number; mobile: token digest
    secret      BLOB,                     -- sealed: card number, template, mobile token
    pin_hash    TEXT,                     -- Argon2id, kind 'pin'
    hint        TEXT NOT NULL DEFAULT '', -- not personal: "****5678", "template 2048 B"
    label       TEXT NOT NULL DEFAULT '' CHECK (length(label) <= 100),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'lost', 'revoked')),
    valid_from  TEXT,
    valid_until TEXT,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX credentials_person ON credentials (person_id);
CREATE UNIQUE INDEX credentials_lookup ON credentials (tenant_id, kind, lookup_idx) WHERE lookup_idx IS NOT NULL;

INSERT INTO sealed_columns VALUES
    ('people', 'name', 'tenant_id', 'person'),
    ('people', 'email', 'tenant_id', 'person'),
    ('people', 'phone', 'tenant_id', 'person'),
    ('people', 'employee_no', 'tenant_id', 'person'),
    ('people', 'photo', 'tenant_id', 'person'),
    ('people', 'notes', 'tenant_id', 'person'),
    ('credentials', 'secret', 'tenant_id', 'person');

CREATE TABLE holiday_sets (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE holidays (
    holiday_set_id INTEGER NOT NULL REFERENCES holiday_sets (id) ON DELETE CASCADE,
    date           TEXT NOT NULL,         -- YYYY-MM-DD
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    PRIMARY KEY (holiday_set_id, date)
) STRICT, WITHOUT ROWID;

CREATE TABLE schedules (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    holiday_set_id INTEGER REFERENCES holiday_sets (id),
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE schedule_windows (
    schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    day         INTEGER NOT NULL CHECK (day BETWEEN 0 AND 7),   -- 0 Monday .. 6 Sunday, 7 holiday
    start_min   INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
    end_min     INTEGER NOT NULL CHECK (end_min BETWEEN 1 AND 1440),
    PRIMARY KEY (schedule_id, day, start_min)
) STRICT, WITHOUT ROWID;

CREATE TABLE access_groups (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT NOT NULL DEFAULT '',
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, person_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_person ON group_members (person_id);

CREATE TABLE access_levels (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    group_id    INTEGER NOT NULL REFERENCES access_groups (id),
    schedule_id INTEGER NOT NULL REFERENCES schedules (id),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
) STRICT;
CREATE INDEX access_levels_group ON access_levels (group_id);

CREATE TABLE access_level_doors (
    level_id INTEGER NOT NULL REFERENCES access_levels (id) ON DELETE CASCADE,
    door_id  INTEGER NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
    PRIMARY KEY (level_id, door_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX access_level_doors_door ON access_level_doors (door_id);
