-- Staff sessions (issue 17): created at console sign-in, kept here so that they outlive a
-- restart of the app and can be listed and revoked. Only the token's SHA-256 is stored.
CREATE TABLE staff_sessions (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    token_hash    CHAR(64)    NOT NULL,
    user_id       BIGINT      NOT NULL,
    provider      VARCHAR(16) NOT NULL,
    created_at    BIGINT      NOT NULL,
    last_seen_at  BIGINT      NOT NULL,
    -- The absolute limit; the idle one is last_seen_at plus the idle timeout.
    expires_at    BIGINT      NOT NULL,
    revoked_at    BIGINT      NULL,
    CONSTRAINT staff_sessions_token UNIQUE (token_hash),
    KEY staff_sessions_user (user_id),
    CONSTRAINT staff_sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB;
