-- Accounts (issue 16): provider tokens and raw profiles are no longer kept, since no feature uses
-- them: the columns go (the values were AES-GCM sealed; they are nulled first, then dropped).
-- Link requests record what the provider verified (`mobile`, `email`, comma-separated). Every
-- decision on console roles holds the one row of `staff_lock` (`UPDATE … WHERE id = 1` first in
-- the transaction: a row lock that serialises them).
UPDATE oauth_accounts SET access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL,
    scope = NULL, raw_profile = NULL;
ALTER TABLE oauth_accounts
    DROP COLUMN access_token_enc,
    DROP COLUMN refresh_token_enc,
    DROP COLUMN token_expires_at,
    DROP COLUMN scope,
    DROP COLUMN raw_profile;

UPDATE link_requests SET access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL,
    scope = NULL, raw_profile = NULL;
ALTER TABLE link_requests
    DROP COLUMN access_token_enc,
    DROP COLUMN refresh_token_enc,
    DROP COLUMN token_expires_at,
    DROP COLUMN scope,
    DROP COLUMN raw_profile,
    ADD COLUMN verified VARCHAR(64) NULL;

CREATE TABLE staff_lock (
    id       BIGINT NOT NULL PRIMARY KEY,
    version  BIGINT NOT NULL
) ENGINE = InnoDB;
INSERT INTO staff_lock (id, version) VALUES (1, 0);
