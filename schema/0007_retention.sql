-- Retention: a tenant on legal hold keeps everything (the retention job
-- skips it, and the audit chain is not cut past its oldest entry).
ALTER TABLE tenants ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1));

-- Old rows are found by time without a scan.
CREATE INDEX job_runs_started ON job_runs (started_at);
CREATE INDEX device_commands_created ON device_commands (created_at);
CREATE INDEX sync_log_thing ON sync_log (tenant_id, entity, entity_id, seq);
