-- Issue 19: a run staff stopped is recorded as 'stopped', and a manual run keeps who started it
-- (`started_by`).

ALTER TABLE job_runs DROP CONSTRAINT job_runs_outcome_known;
ALTER TABLE job_runs
    ADD COLUMN started_by VARCHAR(191) NULL AFTER manual,
    ADD CONSTRAINT job_runs_outcome_known
        CHECK (outcome IN ('running', 'ok', 'failed', 'timed_out', 'missed', 'skipped_overlap', 'stopped'));
