-- The OCR queue's controls staff (or the dispatcher) set at run time: the calls-per-second cap
-- and the pause. Redis carries a copy every instance reads on each call; this table is the
-- truth, so a Redis flush or failover cannot silently resume a paused queue or reset the cap
-- (the reconcile job writes the copy back).
CREATE TABLE ocr_controls (
    name        TEXT    NOT NULL PRIMARY KEY,
    -- 'cap': the number as text; 'pause': the pause as JSON (kind, reason, since, until).
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT ocr_controls_name_known CHECK (name IN ('cap', 'pause'))
);
