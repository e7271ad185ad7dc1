-- The email channel.
--
-- Where each IMAP mailbox was read up to: the folder's UIDVALIDITY and the last UID whose
-- message is durable in the inbound stream. A restart resumes after it; a different
-- UIDVALIDITY (the server renumbered the folder) reads the backfill window again, and the
-- messages' idempotency keys keep what was already stored from being stored twice.
CREATE TABLE email_cursors (
    inbox         TEXT PRIMARY KEY,
    uid_validity  BIGINT NOT NULL,
    last_uid      BIGINT NOT NULL,
    synced_at     BIGINT NOT NULL
);

-- The last state of each mailbox's connection, for the settings page.
CREATE TABLE email_status (
    inbox       TEXT PRIMARY KEY,
    ok          BIGINT NOT NULL,
    detail      TEXT NOT NULL,
    fetched     BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
);

-- Notices mailed to a conversation's customer (status changes, resolution): when the
-- last went, so they are throttled per conversation.
CREATE TABLE email_notices (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    last_sent_at    BIGINT NOT NULL
);

-- A contact's language for our mail, and whether they want notices by email
-- (1, the default, or 0). Replies from agents are the conversation itself and always go.
ALTER TABLE contacts ADD COLUMN language TEXT;
ALTER TABLE contacts ADD COLUMN email_notices BIGINT NOT NULL DEFAULT 1;
