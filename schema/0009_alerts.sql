-- 0008_alerts: alerts raised once per condition and resolved when it
-- clears, their deliveries by e-mail and webhook (with retries), and the
-- indexes the event log's filters need at ten million events.

-- An alert with a dedupe_key is open at most once per (kind, dedupe_key):
-- raising it again while it is unresolved counts an occurrence instead.
ALTER TABLE alerts ADD COLUMN dedupe_key TEXT;
ALTER TABLE alerts ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_seen_at INTEGER;            -- Unix s of the last occurrence
ALTER TABLE alerts ADD COLUMN resolved_by TEXT;                -- "admin:3", "token:2", "system"
ALTER TABLE alerts ADD COLUMN resolution TEXT;                 -- why, e.g. "terminal back online"
CREATE UNIQUE INDEX alerts_dedupe ON alerts (kind, dedupe_key)
    WHERE resolved_at IS NULL AND dedupe_key IS NOT NULL;
CREATE INDEX alerts_tenant ON alerts (tenant_id, id);
CREATE INDEX alerts_kind ON alerts (kind, created_at);

-- One row per alert, notice (raised or resolved) and channel ('email',
-- 'webhook:1', ...). Made in the transaction that raises or resolves the
-- alert; the alerts-deliver job sends it and retries with back-off.
CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    notice          TEXT NOT NULL DEFAULT 'raised' CHECK (notice IN ('raised', 'resolved')),
    channel         TEXT NOT NULL,
    target          TEXT NOT NULL DEFAULT '',   -- the webhook URL, or the recipients
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,           -- Unix ms
    last_error      TEXT,
    created_at      INTEGER NOT NULL,           -- Unix ms
    sent_at         INTEGER,                    -- Unix ms
    UNIQUE (alert_id, notice, channel)
) STRICT;
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE state = 'pending';

-- Event log filters: newest first within a tenant by terminal and by kind
-- (by person and by door exist since 0005). Every index ends with the
-- rowid, so ORDER BY at DESC, id DESC is read straight from it.
CREATE INDEX events_device ON events (tenant_id, device_id, at);
CREATE INDEX events_kind ON events (tenant_id, kind, at);
