-- What this database holds: 'sandbox' (written in sandbox mode: the built-in fakes, whose keys
-- are published, and the simulated shop) or 'live' (real providers). The first instance that
-- starts on the database marks it; an instance of the other kind refuses to start on it, so
-- fake payments never mix with real ones (issue 16). One row at most.
CREATE TABLE database_mode (
    id          INTEGER NOT NULL PRIMARY KEY,
    mode        TEXT    NOT NULL,
    marked_at   INTEGER NOT NULL,
    -- The instance that marked it.
    marked_by   TEXT    NOT NULL,
    CONSTRAINT database_mode_one_row CHECK (id = 1),
    CONSTRAINT database_mode_known CHECK (mode IN ('sandbox', 'live'))
);
