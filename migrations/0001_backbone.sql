-- The conversation backbone. Portable SQL for SQLite and PostgreSQL alike:
-- ids are TEXT (UUIDv7, so they sort by creation time), timestamps are BIGINT epoch
-- milliseconds, money is BIGINT minor units, structured values are TEXT JSON, and flags
-- are BIGINT 0/1 (a BOOLEAN does not decode through sqlx's Any driver on SQLite).

-- A business's client company. Contacts and client users belong to one.
CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- People who log in: agents (support tiers, coordinators, supervisors, admins) and the
-- clients' portal users.
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT,
    role        TEXT NOT NULL,
    -- N1/N2/N3 for support agents, NULL otherwise
    tier        TEXT,
    company_id  TEXT REFERENCES companies (id),
    created_at  BIGINT NOT NULL
);

-- Bearer tokens for the API. Only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    label       TEXT,
    created_at  BIGINT NOT NULL
);

-- The people who write in. `merged_into` points at the surviving contact after a merge.
CREATE TABLE contacts (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    company_id  TEXT REFERENCES companies (id),
    merged_into TEXT REFERENCES contacts (id),
    created_at  BIGINT NOT NULL
);

-- How a contact is recognised on each channel: (kind, normalized value) is unique, so two
-- messages from one address can never create two contacts.
CREATE TABLE contact_identities (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    contact_id  TEXT NOT NULL REFERENCES contacts (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX contact_identities_by_contact ON contact_identities (contact_id);

-- Named counters. Taking a value locks the row until commit, so values are handed out in
-- commit order (the embedded stream relies on this).
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
-- Human conversation numbers start at #1001.
INSERT INTO counters (name, value) VALUES ('conversation_number', 1000);
INSERT INTO counters (name, value) VALUES ('stream_seq', 0);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    -- the human number, #1042
    number          BIGINT NOT NULL UNIQUE,
    inbox           TEXT NOT NULL,
    channel         TEXT NOT NULL,
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    company_id      TEXT REFERENCES companies (id),
    subject         TEXT,
    -- open, pending, snoozed, resolved
    status          TEXT NOT NULL,
    priority        TEXT NOT NULL,
    tier            TEXT NOT NULL,
    assignee_id     TEXT REFERENCES users (id),
    team            TEXT,
    -- JSON array of strings
    labels          TEXT NOT NULL,
    snoozed_until   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL
);
-- At most one unresolved conversation per contact and inbox, whatever the number of
-- nodes: a burst of messages from one contact threads into one conversation.
CREATE UNIQUE INDEX conversations_one_open ON conversations (contact_id, inbox)
    WHERE status <> 'resolved';
CREATE INDEX conversations_by_activity ON conversations (last_message_at);
CREATE INDEX conversations_by_contact ON conversations (contact_id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    -- inbound, outbound
    direction       TEXT NOT NULL,
    -- contact, agent, bot, system
    author_kind     TEXT NOT NULL,
    author_id       TEXT,
    channel         TEXT NOT NULL,
    text            TEXT NOT NULL,
    -- sanitized before it is stored
    html            TEXT,
    -- JSON array of {name, mime, size, blob}
    attachments     TEXT NOT NULL,
    -- received, queued, sent, delivered, read, failed
    delivery_state  TEXT NOT NULL,
    external_id     TEXT,
    -- channel + external id; a replayed envelope hits this and changes nothing
    idempotency_key TEXT UNIQUE,
    attempts        BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- ids are UUIDv7 taken at acceptance, so (conversation_id, id) is the thread in order
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
-- the dispatcher's sweep for queued messages whose delivery job was lost; partial, so it
-- stays as small as the outbound queue
CREATE INDEX messages_queued ON messages (updated_at) WHERE delivery_state = 'queued';

-- Invoices, estimates, payments, tickets and surveys shown inside a conversation.
CREATE TABLE cards (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    kind            TEXT NOT NULL,
    -- JSON, typed by kind
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX cards_by_conversation ON cards (conversation_id);

-- Conversation lifecycle events (opened, status changed, assigned, dead-lettered), kept
-- for the audit trail and outgoing webhooks.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_by_conversation ON events (conversation_id);

-- Outbound messages that kept failing. An admin sees them and can send them again.
CREATE TABLE dead_letters (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE REFERENCES messages (id),
    channel     TEXT NOT NULL,
    error       TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- The embedded stream: used when no Redis is configured. Entries get their `seq` from
-- the `stream_seq` counter inside the appending transaction, so seq order is commit order
-- and a group's cursor never skips an entry that committed late.
CREATE TABLE stream_entries (
    seq         BIGINT PRIMARY KEY,
    topic       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX stream_entries_by_topic ON stream_entries (topic, seq);

-- A consumer group's cursor: every entry after last_seq is new to the group.
CREATE TABLE stream_groups (
    topic       TEXT NOT NULL,
    grp         TEXT NOT NULL,
    last_seq    BIGINT NOT NULL,
    PRIMARY KEY (topic, grp)
);

-- Entries delivered to a consumer and not yet acknowledged; reclaimed when idle too long.
CREATE TABLE stream_pending (
    topic       TEXT NOT NULL,
    grp         TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    consumer    TEXT NOT NULL,
    claimed_at  BIGINT NOT NULL,
    deliveries  BIGINT NOT NULL,
    PRIMARY KEY (topic, grp, seq)
);
CREATE INDEX stream_pending_by_claim ON stream_pending (topic, grp, claimed_at);

-- Stream entries a consumer could not process after repeated tries (e.g. an envelope the
-- router rejects). Parked with the reason instead of dropped: accepted data is never lost.
CREATE TABLE stream_parked (
    topic       TEXT NOT NULL,
    seq         TEXT NOT NULL,
    payload     TEXT NOT NULL,
    error       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (topic, seq)
);
