-- The backbone's second pass: threads, participants, verified identities, delivery
-- receipts, scheduled retries, bot runs and cards that point to their subject. Portable
-- SQL for SQLite and PostgreSQL, as in 0001.

-- Threads. A contact may have several open conversations in one inbox (two portal
-- tickets, two email subjects); each has a thread key chosen by its channel, and the
-- database still allows one unresolved conversation per contact, inbox and thread.
ALTER TABLE conversations ADD COLUMN thread_key TEXT NOT NULL DEFAULT 'default';
-- 1 while the bot may speak; 0 for good once a person is involved.
ALTER TABLE conversations ADD COLUMN bot_active BIGINT NOT NULL DEFAULT 1;
DROP INDEX conversations_one_open;
CREATE UNIQUE INDEX conversations_one_open_thread ON conversations (contact_id, inbox, thread_key)
    WHERE status <> 'resolved';

-- People in a conversation besides its contact (an email's Cc). A reply that names one
-- of the conversation's messages joins it only if its sender is its contact or one of
-- these.
CREATE TABLE conversation_participants (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    -- to, cc
    role            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, contact_id)
);
CREATE INDEX participants_by_contact ON conversation_participants (contact_id);

-- Identities a contact merely claimed (an email typed into a pre-chat form, a phone number
-- in a form), apart from `contact_identities`, which holds only identities a channel vouched
-- for or whose owner proved them. A claim is a note on the contact that typed it: it never
-- decides whose messages are whose. Proof (a link or code sent to it) moves it into
-- `contact_identities`.
CREATE TABLE contact_claims (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    contact_id  TEXT NOT NULL REFERENCES contacts (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, value, contact_id)
);
CREATE INDEX contact_claims_by_contact ON contact_claims (contact_id);
-- Claims made before this migration were stored as identities; they stay as they were.

-- Messages: the full text beside the visible reply, structured content, unknown
-- envelope fields kept as they came, provider error codes, and the dispatcher's
-- schedule (a retry waits in the database, not in a sleeping worker).
ALTER TABLE messages ADD COLUMN full_text TEXT;
ALTER TABLE messages ADD COLUMN content TEXT;
ALTER TABLE messages ADD COLUMN extra TEXT;
ALTER TABLE messages ADD COLUMN error_code TEXT;
-- queued: not before this time; sending: the sender's lease ends then
ALTER TABLE messages ADD COLUMN next_attempt_at BIGINT;
-- when a delivery job was last appended for the message
ALTER TABLE messages ADD COLUMN enqueued_at BIGINT;
UPDATE messages SET next_attempt_at = updated_at, enqueued_at = updated_at
    WHERE delivery_state IN ('queued', 'sending');
DROP INDEX messages_queued;
CREATE INDEX messages_undelivered ON messages (next_attempt_at)
    WHERE delivery_state IN ('queued', 'sending');
-- Replies name our messages by the channel's id for them (email Message-ID, WhatsApp
-- wamid), and so do delivery receipts. Partial: inbound messages are found by their
-- idempotency key (channel:external id), already unique, so the hot inbound path pays
-- for no second index.
CREATE INDEX messages_outbound_by_external_id ON messages (channel, external_id)
    WHERE direction = 'outbound';

-- Delivery receipts as channels reported them, in order. One for a message we do not
-- know yet (receipts can beat the send call's answer) waits here, unapplied, until the
-- message's external id is recorded.
CREATE TABLE delivery_receipts (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    error_code  TEXT,
    error_title TEXT,
    at          BIGINT NOT NULL,
    message_id  TEXT REFERENCES messages (id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX delivery_receipts_by_external_id ON delivery_receipts (channel, external_id);

-- Inbound messages that open nothing: auto-replies, bounces, loops. Kept, with the
-- conversation they relate to when one is known, so nothing accepted is lost.
CREATE TABLE inbound_noise (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    inbox           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    reason          TEXT NOT NULL,
    conversation_id TEXT REFERENCES conversations (id),
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- The bot's work, one row per inbound message it has handled: a replayed or reclaimed
-- entry finds its row and does nothing again.
CREATE TABLE bot_runs (
    message_id      TEXT PRIMARY KEY REFERENCES messages (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    -- answered, handed_off, answered_and_handed_off, silent, skipped
    outcome         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Cards point to their subject; one card per subject in a conversation, updated in place.
ALTER TABLE cards ADD COLUMN subject_id TEXT NOT NULL DEFAULT '';
ALTER TABLE cards ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE cards SET subject_id = id, updated_at = created_at;
CREATE UNIQUE INDEX cards_one_per_subject ON cards (conversation_id, kind, subject_id);
CREATE INDEX cards_by_subject ON cards (kind, subject_id);

-- Inboxes and their channel settings, which senders receive with every message.
CREATE TABLE inboxes (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    -- JSON, read by the inbox's channel
    settings    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- API tokens can expire and be revoked.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN revoked_at BIGINT;

-- Single-use, short-lived tickets that open an agent's events socket: browsers cannot put
-- a bearer token on a websocket, and a token in a URL ends up in logs. Only a hash is kept.
CREATE TABLE ws_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    expires_at  BIGINT NOT NULL
);

-- What an agent may see beyond its role: its teams, and a coordinator's companies.
CREATE TABLE user_teams (
    user_id TEXT NOT NULL REFERENCES users (id),
    team    TEXT NOT NULL,
    PRIMARY KEY (user_id, team)
);
CREATE TABLE user_companies (
    user_id    TEXT NOT NULL REFERENCES users (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    PRIMARY KEY (user_id, company_id)
);
