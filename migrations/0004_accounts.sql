-- Agent accounts: passwords, a TOTP second factor with recovery codes, browser sessions,
-- single-use links that set a password (reset, invitation), and what an admin edits.
-- Portable SQL, as in 0001_backbone.sql: TEXT ids, BIGINT epoch milliseconds, BIGINT 0/1
-- flags. Whatever a person presents (password, session, recovery code, link) is kept only
-- as a hash; the TOTP secret itself has to be kept to check codes.

-- argon2id PHC string; NULL until the person sets one (an invited user has none yet)
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_set_at BIGINT;
-- 0 once an admin deactivates the account: no login, no session, no API token
ALTER TABLE users ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN deactivated_at BIGINT;
-- en, es or pt-BR
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
-- how many open conversations the agent takes at once
ALTER TABLE users ADD COLUMN capacity BIGINT NOT NULL DEFAULT 10;
ALTER TABLE users ADD COLUMN last_login_at BIGINT;
-- base32 TOTP secret; NULL while two-factor authentication is off
ALTER TABLE users ADD COLUMN totp_secret TEXT;
-- an enrolment begun and not yet confirmed with a code
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
-- the last time step whose code was accepted; only a later step's code is taken, so no
-- code is accepted twice
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
-- wrong second-factor codes in a row; at the limit the factor locks until the time below
ALTER TABLE users ADD COLUMN second_factor_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN second_factor_locked_until BIGINT;

-- Single-use codes that stand in for a TOTP code (a lost phone). `used_at` is set once.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Browser sessions. The cookie holds the token; only its SHA-256 is kept.
CREATE TABLE sessions (
    token_hash          TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id),
    csrf_token          TEXT NOT NULL,
    -- 1 once the second factor was passed (or the login needed none)
    second_factor_done  BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Links mailed to set a password: `reset` (forgotten password) or `invite` (a new
-- account). Deleted when used, so each works once.
CREATE TABLE account_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    purpose     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX account_links_by_user ON account_links (user_id, purpose);
