-- 0001_init: appliance identity and settings that belong to the database.
-- Each migration runs in its own transaction (appliance/core/migrate.c).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- A random identity for this appliance's database: named in backups and in
-- site sync so that files from another appliance are recognised.
INSERT INTO meta (key, value) VALUES
    ('appliance_id', lower(hex(randomblob(16)))),
    ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
