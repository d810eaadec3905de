-- The OCR queue's truth: one row per image URL. Redis holds the dispatch stream, the retry
-- schedule and the kept results; this table says what must still happen.
CREATE TABLE ocr_requests (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- SHA-256 of the URL, hex: the dedupe key (a URL may be longer than an index allows).
    url_key          CHAR(64)     NOT NULL,
    url              TEXT         NOT NULL,
    side             VARCHAR(8)   NOT NULL,
    status           VARCHAR(16)  NOT NULL DEFAULT 'pending',
    attempts         BIGINT       NOT NULL DEFAULT 0,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL,
    next_attempt_at  BIGINT       NULL,
    finished_at      BIGINT       NULL,
    error            TEXT         NULL,
    error_code       BIGINT       NULL,
    result           MEDIUMTEXT   NULL,
    instance         VARCHAR(191) NULL,
    -- Which submission batch inserted the row (how a batch tells its new rows from old ones).
    batch            VARCHAR(64)  NOT NULL,
    CONSTRAINT ocr_requests_url_unique UNIQUE (url_key),
    CONSTRAINT ocr_requests_side_known CHECK (side IN ('front', 'back')),
    CONSTRAINT ocr_requests_status_known CHECK (status IN ('pending', 'in_flight', 'done', 'dead')),
    CONSTRAINT ocr_requests_done_has_result CHECK (status <> 'done' OR result IS NOT NULL),
    INDEX ocr_requests_status (status, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
