-- Accounts: the foundation's users and oauth_accounts (a user's linked third-party logins) gain
-- what sign-in needs: profile fields, the console role, sign-in times; links waiting for staff to
-- confirm them get their own table. Tokens stay encrypted (`v1:` AES-256-GCM values as bytes);
-- an OpenID Connect access token may be a long JWT, hence BLOB.
ALTER TABLE users
    ADD COLUMN nickname VARCHAR(255) NULL,
    ADD COLUMN email VARCHAR(255) NULL,
    ADD COLUMN avatar TEXT NULL,
    ADD COLUMN role VARCHAR(16) NULL,
    ADD COLUMN last_sign_in_at BIGINT NULL,
    ADD CONSTRAINT users_role_known CHECK (role IS NULL OR role IN ('admin', 'operator', 'viewer')),
    ADD INDEX users_username (username);

ALTER TABLE oauth_accounts
    MODIFY access_token_enc BLOB NULL,
    MODIFY refresh_token_enc BLOB NULL,
    ADD COLUMN nickname VARCHAR(255) NULL,
    ADD COLUMN avatar TEXT NULL,
    ADD COLUMN scope VARCHAR(255) NULL,
    ADD COLUMN raw_profile MEDIUMTEXT NULL,
    ADD COLUMN last_sign_in_at BIGINT NULL;

CREATE TABLE link_requests (
    id                 BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id            BIGINT       NOT NULL,
    provider           VARCHAR(32)  NOT NULL,
    uid                VARCHAR(128) NOT NULL,
    unionid            VARCHAR(128) NULL,
    nickname           VARCHAR(255) NULL,
    avatar             TEXT         NULL,
    mobile             VARCHAR(32)  NOT NULL,
    email              VARCHAR(255) NULL,
    access_token_enc   BLOB         NULL,
    refresh_token_enc  BLOB         NULL,
    token_expires_at   BIGINT       NULL,
    scope              VARCHAR(255) NULL,
    raw_profile        MEDIUMTEXT   NULL,
    created_at         BIGINT       NOT NULL,
    CONSTRAINT link_requests_provider_uid UNIQUE (provider, uid),
    CONSTRAINT link_requests_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
