-- Scheduler: jobs and their run history. Instants are Unix milliseconds.

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    trigger_spec TEXT   NOT NULL,            -- TriggerSpec as JSON
    timezone    TEXT    NOT NULL,
    args        TEXT    NOT NULL,            -- JSON
    policy      TEXT    NOT NULL,            -- JobPolicy as JSON
    paused      INTEGER NOT NULL DEFAULT 0,
    origin      TEXT    NOT NULL,
    trigger_since INTEGER NOT NULL,                -- when the trigger was last set: anchors intervals
    cursor_at   INTEGER,                     -- every scheduled instant <= cursor_at is handled
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT jobs_name_unique UNIQUE (name),
    CONSTRAINT jobs_origin_known CHECK (origin IN ('default', 'staff')),
    CONSTRAINT jobs_paused_bool CHECK (paused IN (0, 1))
);

-- One row per scheduled instant of a job (run_key 's:<job>:<ms>') or per manual run
-- ('m:<job>:<ms>:<nonce>'): the unique run_key is the last line of defence against duplicates.
CREATE TABLE job_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_key       TEXT    NOT NULL,
    job_id        INTEGER NOT NULL,
    job_name      TEXT    NOT NULL,
    scheduled_at  INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    duration_ms   INTEGER,
    outcome       TEXT    NOT NULL,
    instance      TEXT    NOT NULL,
    manual        INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 1,
    summary       TEXT,
    error         TEXT,
    CONSTRAINT job_runs_key_unique UNIQUE (run_key),
    CONSTRAINT job_runs_outcome_known CHECK (outcome IN ('running', 'ok', 'failed', 'timed_out', 'missed', 'skipped_overlap'))
);
CREATE INDEX job_runs_job ON job_runs (job_id, id);
CREATE INDEX job_runs_scheduled ON job_runs (scheduled_at);
CREATE INDEX job_runs_outcome ON job_runs (outcome, id);
