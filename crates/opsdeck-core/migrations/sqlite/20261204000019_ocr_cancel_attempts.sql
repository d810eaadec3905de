-- OCR (issue 19): staff may cancel a pending request (status `cancelled`, terminal until the URL
-- is submitted again), and each call to Baidu is kept in `ocr_attempts` (a request's history).
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the new one, its
-- AUTOINCREMENT counter carried over (ids of purged requests are never given again: audit
-- entries name them) and its indexes recreated.
CREATE TABLE ocr_requests_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SHA-256 of the URL, hex: the dedupe key (a URL may be longer than an index allows).
    url_key          TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    side             TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    finished_at      INTEGER,
    error            TEXT,
    error_code       INTEGER,
    result           TEXT,
    instance         TEXT,
    -- Which submission batch inserted the row (how a batch tells its new rows from old ones).
    batch            TEXT    NOT NULL,
    CONSTRAINT ocr_requests_url_unique UNIQUE (url_key),
    CONSTRAINT ocr_requests_side_known CHECK (side IN ('front', 'back')),
    CONSTRAINT ocr_requests_status_known CHECK (status IN ('pending', 'in_flight', 'done', 'dead', 'cancelled')),
    CONSTRAINT ocr_requests_done_has_result CHECK (status <> 'done' OR result IS NOT NULL)
);
INSERT INTO ocr_requests_new (id, url_key, url, side, status, attempts, created_at, updated_at, next_attempt_at,
    finished_at, error, error_code, result, instance, batch)
    SELECT id, url_key, url, side, status, attempts, created_at, updated_at, next_attempt_at, finished_at, error,
        error_code, result, instance, batch FROM ocr_requests;
DELETE FROM sqlite_sequence WHERE name = 'ocr_requests_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'ocr_requests_new', seq FROM sqlite_sequence WHERE name = 'ocr_requests';
DROP TABLE ocr_requests;
ALTER TABLE ocr_requests_new RENAME TO ocr_requests;
CREATE INDEX ocr_requests_status ON ocr_requests (status, id);
CREATE INDEX ocr_requests_finished ON ocr_requests (finished_at);
-- The list's date range (submitted from/to).
CREATE INDEX ocr_requests_created ON ocr_requests (created_at, id);

-- One row per call to Baidu. `message` is the error's text only, never card data (a successful
-- call has none). No foreign key: a late write for a purged request must not fail (the
-- dispatcher retries a failed write until it succeeds); purging deletes a request's attempts.
CREATE TABLE ocr_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id   INTEGER NOT NULL,
    -- Random per call: the write repeated after a lost answer is still one row.
    call_key     TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,
    error_code   INTEGER,
    message      TEXT,
    duration_ms  INTEGER,
    instance     TEXT,
    CONSTRAINT ocr_attempts_call_unique UNIQUE (call_key),
    CONSTRAINT ocr_attempts_outcome_known CHECK (outcome IN ('ok', 'retry', 'dead'))
);
CREATE INDEX ocr_attempts_request ON ocr_attempts (request_id, at, id);
