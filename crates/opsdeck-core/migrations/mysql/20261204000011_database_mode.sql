-- What this database holds: 'sandbox' (written in sandbox mode: the built-in fakes, whose keys
-- are published, and the simulated shop) or 'live' (real providers). The first instance that
-- starts on the database marks it; an instance of the other kind refuses to start on it, so
-- fake payments never mix with real ones (issue 16). One row at most.
CREATE TABLE database_mode (
    id          INT         NOT NULL PRIMARY KEY,
    mode        VARCHAR(16) NOT NULL,
    marked_at   BIGINT      NOT NULL,
    -- The instance that marked it.
    marked_by   VARCHAR(128) NOT NULL,
    CONSTRAINT database_mode_one_row CHECK (id = 1),
    CONSTRAINT database_mode_known CHECK (mode IN ('sandbox', 'live'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
