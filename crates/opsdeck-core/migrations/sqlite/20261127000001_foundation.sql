-- Foundation tables. Instants are Unix milliseconds (INTEGER); money is in fen (INTEGER).

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    mobile      TEXT,
    username    TEXT    NOT NULL,
    balance     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    CONSTRAINT users_mobile_unique UNIQUE (mobile),
    CONSTRAINT users_balance_not_negative CHECK (balance >= 0),
    CONSTRAINT users_username_not_empty CHECK (length(username) > 0)
);

-- A user's linked third-party logins. Tokens are stored encrypted (ciphertext bytes), never plain.
CREATE TABLE oauth_accounts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider           TEXT    NOT NULL,
    uid                TEXT    NOT NULL,
    unionid            TEXT,
    access_token_enc   BLOB,
    refresh_token_enc  BLOB,
    token_expires_at   INTEGER,
    created_at         INTEGER NOT NULL,
    CONSTRAINT oauth_accounts_provider_uid UNIQUE (provider, uid),
    CONSTRAINT oauth_accounts_provider_not_empty CHECK (length(provider) > 0),
    CONSTRAINT oauth_accounts_uid_not_empty CHECK (length(uid) > 0)
);
CREATE INDEX oauth_accounts_user ON oauth_accounts (user_id);

-- Every manual action: who did what to which target, with a JSON detail.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    who     TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL,
    detail  TEXT,
    at      INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
