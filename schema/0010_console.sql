-- 0010_console: what the console's door view reads (GET /api/v1/doors/status).
-- A door's state is its newest door_opened/_closed/_forced/_held event, and
-- a terminal's lock-down its newest lockdown event: these partial indexes
-- find them at once however many badge events came after (each ends with
-- the rowid, so the newest is the first entry read backwards).
CREATE INDEX IF NOT EXISTS events_door_state ON events (tenant_id, door_id, at)
    WHERE kind IN ('door_opened', 'door_closed', 'door_forced', 'door_held');
CREATE INDEX IF NOT EXISTS events_lockdown ON events (tenant_id, device_id, at) WHERE kind = 'lockdown';
