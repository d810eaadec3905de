-- Accounts (issue 16): provider tokens and raw profiles are no longer kept, since no feature uses
-- them: the columns go (the values were AES-GCM sealed; they are nulled first, then dropped, which
-- rewrites the table). Link requests record what the provider verified (`mobile`, `email`,
-- comma-separated). Every decision on console roles holds the one row of `staff_lock`.
UPDATE oauth_accounts SET access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL,
    scope = NULL, raw_profile = NULL;
ALTER TABLE oauth_accounts DROP COLUMN access_token_enc;
ALTER TABLE oauth_accounts DROP COLUMN refresh_token_enc;
ALTER TABLE oauth_accounts DROP COLUMN token_expires_at;
ALTER TABLE oauth_accounts DROP COLUMN scope;
ALTER TABLE oauth_accounts DROP COLUMN raw_profile;

UPDATE link_requests SET access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL,
    scope = NULL, raw_profile = NULL;
ALTER TABLE link_requests DROP COLUMN access_token_enc;
ALTER TABLE link_requests DROP COLUMN refresh_token_enc;
ALTER TABLE link_requests DROP COLUMN token_expires_at;
ALTER TABLE link_requests DROP COLUMN scope;
ALTER TABLE link_requests DROP COLUMN raw_profile;
ALTER TABLE link_requests ADD COLUMN verified TEXT;

CREATE TABLE staff_lock (
    id       INTEGER PRIMARY KEY,
    version  INTEGER NOT NULL
);
INSERT INTO staff_lock (id, version) VALUES (1, 0);
