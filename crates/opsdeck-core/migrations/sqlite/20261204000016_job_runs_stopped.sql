-- Issue 19: a run staff stopped is recorded as 'stopped', and a manual run keeps who started it
-- (`started_by`). SQLite cannot change a CHECK constraint in place: the table is rebuilt with the
-- same rows, ids and id sequence, then its indexes.

CREATE TABLE job_runs_new (
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
    started_by    TEXT,
    attempts      INTEGER NOT NULL DEFAULT 1,
    summary       TEXT,
    error         TEXT,
    CONSTRAINT job_runs_key_unique UNIQUE (run_key),
    CONSTRAINT job_runs_outcome_known CHECK (outcome IN ('running', 'ok', 'failed', 'timed_out', 'missed', 'skipped_overlap', 'stopped'))
);
INSERT INTO job_runs_new (id, run_key, job_id, job_name, scheduled_at, started_at, finished_at, duration_ms,
                          outcome, instance, manual, attempts, summary, error)
    SELECT id, run_key, job_id, job_name, scheduled_at, started_at, finished_at, duration_ms,
           outcome, instance, manual, attempts, summary, error
    FROM job_runs;
-- Ids are never handed out twice, even those of runs pruned from the end.
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'job_runs')
    WHERE name = 'job_runs_new' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'job_runs');
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'job_runs_new', seq FROM sqlite_sequence
    WHERE name = 'job_runs' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'job_runs_new');
DROP TABLE job_runs;
ALTER TABLE job_runs_new RENAME TO job_runs;
CREATE INDEX job_runs_job ON job_runs (job_id, id);
CREATE INDEX job_runs_scheduled ON job_runs (scheduled_at);
CREATE INDEX job_runs_outcome ON job_runs (outcome, id);
