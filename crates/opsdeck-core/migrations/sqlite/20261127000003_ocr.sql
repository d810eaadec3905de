-- The OCR queue's truth: one row per image URL. Redis holds the dispatch stream, the retry
-- schedule and the kept results; this table says what must still happen.
CREATE TABLE ocr_requests (
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
    CONSTRAINT ocr_requests_status_known CHECK (status IN ('pending', 'in_flight', 'done', 'dead')),
    CONSTRAINT ocr_requests_done_has_result CHECK (status <> 'done' OR result IS NOT NULL)
);
CREATE INDEX ocr_requests_status ON ocr_requests (status, id);
