-- Foundation tables. Instants are Unix milliseconds (BIGINT); money is in fen (BIGINT).

CREATE TABLE users (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    mobile      VARCHAR(32)  NULL,
    username    VARCHAR(191) NOT NULL,
    balance     BIGINT       NOT NULL DEFAULT 0,
    created_at  BIGINT       NOT NULL,
    CONSTRAINT users_mobile_unique UNIQUE (mobile),
    CONSTRAINT users_balance_not_negative CHECK (balance >= 0),
    CONSTRAINT users_username_not_empty CHECK (CHAR_LENGTH(username) > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A user's linked third-party logins. Tokens are stored encrypted (ciphertext bytes), never plain.
CREATE TABLE oauth_accounts (
    id                 BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id            BIGINT       NOT NULL,
    provider           VARCHAR(32)  NOT NULL,
    uid                VARCHAR(128) NOT NULL,
    unionid            VARCHAR(128) NULL,
    access_token_enc   VARBINARY(2048) NULL,
    refresh_token_enc  VARBINARY(2048) NULL,
    token_expires_at   BIGINT       NULL,
    created_at         BIGINT       NOT NULL,
    CONSTRAINT oauth_accounts_provider_uid UNIQUE (provider, uid),
    CONSTRAINT oauth_accounts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT oauth_accounts_provider_not_empty CHECK (CHAR_LENGTH(provider) > 0),
    CONSTRAINT oauth_accounts_uid_not_empty CHECK (CHAR_LENGTH(uid) > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every manual action: who did what to which target, with a JSON detail.
CREATE TABLE audit_log (
    id      BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    who     VARCHAR(191) NOT NULL,
    action  VARCHAR(64)  NOT NULL,
    target  VARCHAR(255) NOT NULL,
    detail  TEXT         NULL,
    at      BIGINT       NOT NULL,
    INDEX audit_log_at (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
