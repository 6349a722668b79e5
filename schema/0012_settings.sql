-- 0012_settings: configuration a system admin changed from the console.
-- Each row overrides the configuration file's value of one key (see
-- appliance/domain/settings.c for the keys that may be changed this way);
-- a --set on the command line still wins. The value is in the file's
-- syntax and checked like it; none of these keys is a secret.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at INTEGER NOT NULL
) STRICT;
