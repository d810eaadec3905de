-- OCR (issue 19): staff may cancel a pending request (status `cancelled`, terminal until the URL
-- is submitted again), and each call to Baidu is kept in `ocr_attempts` (a request's history).
ALTER TABLE ocr_requests
    DROP CONSTRAINT ocr_requests_status_known,
    ADD CONSTRAINT ocr_requests_status_known CHECK (status IN ('pending', 'in_flight', 'done', 'dead', 'cancelled')),
    -- The list's date range (submitted from/to).
    ADD INDEX ocr_requests_created (created_at, id);

-- One row per call to Baidu. `message` is the error's text only, never card data (a successful
-- call has none). No foreign key: a late write for a purged request must not fail (the
-- dispatcher retries a failed write until it succeeds); purging deletes a request's attempts.
CREATE TABLE ocr_attempts (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    request_id   BIGINT       NOT NULL,
    -- Random per call: the write repeated after a lost answer is still one row.
    call_key     CHAR(32)     NOT NULL,
    at           BIGINT       NOT NULL,
    outcome      VARCHAR(8)   NOT NULL,
    error_code   BIGINT       NULL,
    message      TEXT         NULL,
    duration_ms  BIGINT       NULL,
    instance     VARCHAR(191) NULL,
    CONSTRAINT ocr_attempts_call_unique UNIQUE (call_key),
    CONSTRAINT ocr_attempts_outcome_known CHECK (outcome IN ('ok', 'retry', 'dead')),
    INDEX ocr_attempts_request (request_id, at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
