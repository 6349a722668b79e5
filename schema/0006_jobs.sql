-- Scheduled jobs: one row per job (its schedule and last outcome), one row
-- per run (the history shown by GET /api/v1/jobs). See appliance/jobs/job.h.

CREATE TABLE jobs (
    name             TEXT PRIMARY KEY,
    schedule         TEXT NOT NULL,              -- "every 30s", "cron 0 3 * * *", "off"
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    next_run_at      INTEGER,                    -- Unix s; NULL when off
    last_run_id      INTEGER,
    last_started_at  INTEGER,
    last_finished_at INTEGER,
    last_status      TEXT CHECK (last_status IN ('running', 'ok', 'failed', 'interrupted')),
    last_duration_ms INTEGER,
    last_error       TEXT,
    last_ok_at       INTEGER                     -- end of the last successful run
) STRICT;

CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    trigger     TEXT NOT NULL CHECK (trigger IN ('schedule', 'catch-up', 'manual')),
    started_by  TEXT,                            -- "admin:3", "cli:root", NULL for the scheduler
    pid         INTEGER NOT NULL,                -- the process running it (a dead one's run is stale)
    started_at  INTEGER NOT NULL,                -- Unix ms
    finished_at INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    progress    REAL NOT NULL DEFAULT 0,
    duration_ms INTEGER,
    error       TEXT,
    details     TEXT NOT NULL DEFAULT '{}'       -- JSON: the job's summary numbers
) STRICT;
CREATE INDEX job_runs_name ON job_runs (name, id);
