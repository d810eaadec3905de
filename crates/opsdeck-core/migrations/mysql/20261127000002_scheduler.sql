-- Scheduler: jobs and their run history. Instants are Unix milliseconds.

CREATE TABLE jobs (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(191) NOT NULL,
    kind        VARCHAR(64)  NOT NULL,
    trigger_spec TEXT        NOT NULL,
    timezone    VARCHAR(64)  NOT NULL,
    args        TEXT         NOT NULL,
    policy      TEXT         NOT NULL,
    paused      BIGINT       NOT NULL DEFAULT 0,
    origin      VARCHAR(16)  NOT NULL,
    trigger_since BIGINT       NOT NULL,
    cursor_at   BIGINT       NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    CONSTRAINT jobs_name_unique UNIQUE (name),
    CONSTRAINT jobs_origin_known CHECK (origin IN ('default', 'staff')),
    CONSTRAINT jobs_paused_bool CHECK (paused IN (0, 1))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE job_runs (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    run_key       VARCHAR(191) NOT NULL,
    job_id        BIGINT       NOT NULL,
    job_name      VARCHAR(191) NOT NULL,
    scheduled_at  BIGINT       NOT NULL,
    started_at    BIGINT       NULL,
    finished_at   BIGINT       NULL,
    duration_ms   BIGINT       NULL,
    outcome       VARCHAR(16)  NOT NULL,
    instance      VARCHAR(191) NOT NULL,
    manual        BIGINT       NOT NULL DEFAULT 0,
    attempts      BIGINT       NOT NULL DEFAULT 1,
    summary       MEDIUMTEXT   NULL,
    error         TEXT         NULL,
    CONSTRAINT job_runs_key_unique UNIQUE (run_key),
    CONSTRAINT job_runs_outcome_known CHECK (outcome IN ('running', 'ok', 'failed', 'timed_out', 'missed', 'skipped_overlap')),
    INDEX job_runs_job (job_id, id),
    INDEX job_runs_scheduled (scheduled_at),
    INDEX job_runs_outcome (outcome, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
