-- Portal users a client admin manages: a company may require two-step verification of
-- all its portal users, and an invited user remembers who invited it.
ALTER TABLE companies ADD COLUMN portal_require_2fa BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN invited_by TEXT;
