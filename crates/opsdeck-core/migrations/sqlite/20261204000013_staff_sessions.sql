-- Staff sessions (issue 17): created at console sign-in, kept here so that they outlive a
-- restart of the app and can be listed and revoked. Only the token's SHA-256 is stored.
CREATE TABLE staff_sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    -- The absolute limit; the idle one is last_seen_at plus the idle timeout.
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    CONSTRAINT staff_sessions_token UNIQUE (token_hash)
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);
