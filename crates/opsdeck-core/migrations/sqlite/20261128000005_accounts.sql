-- Accounts: the foundation's users and oauth_accounts (a user's linked third-party logins) gain
-- what sign-in needs: profile fields, the console role, sign-in times; links waiting for staff to
-- confirm them get their own table. Tokens stay encrypted (`v1:` AES-256-GCM values as bytes).
ALTER TABLE users ADD COLUMN nickname TEXT;
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN avatar TEXT;
-- The console role: admin, operator, viewer; NULL for a shop customer.
ALTER TABLE users ADD COLUMN role TEXT CHECK (role IS NULL OR role IN ('admin', 'operator', 'viewer'));
ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER;
CREATE INDEX users_username ON users (username);

ALTER TABLE oauth_accounts ADD COLUMN nickname TEXT;
ALTER TABLE oauth_accounts ADD COLUMN avatar TEXT;
ALTER TABLE oauth_accounts ADD COLUMN scope TEXT;
ALTER TABLE oauth_accounts ADD COLUMN raw_profile TEXT;
ALTER TABLE oauth_accounts ADD COLUMN last_sign_in_at INTEGER;

CREATE TABLE link_requests (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider           TEXT    NOT NULL,
    uid                TEXT    NOT NULL,
    unionid            TEXT,
    nickname           TEXT,
    avatar             TEXT,
    mobile             TEXT    NOT NULL,
    email              TEXT,
    access_token_enc   BLOB,
    refresh_token_enc  BLOB,
    token_expires_at   INTEGER,
    scope              TEXT,
    raw_profile        TEXT,
    created_at         INTEGER NOT NULL,
    CONSTRAINT link_requests_provider_uid UNIQUE (provider, uid)
);
