-- The OCR queue's controls staff (or the dispatcher) set at run time: the calls-per-second cap
-- and the pause. Redis carries a copy every instance reads on each call; this table is the
-- truth, so a Redis flush or failover cannot silently resume a paused queue or reset the cap
-- (the reconcile job writes the copy back).
CREATE TABLE ocr_controls (
    name        VARCHAR(16) NOT NULL PRIMARY KEY,
    -- 'cap': the number as text; 'pause': the pause as JSON (kind, reason, since, until).
    value       TEXT        NOT NULL,
    updated_at  BIGINT      NOT NULL,
    CONSTRAINT ocr_controls_name_known CHECK (name IN ('cap', 'pause'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
