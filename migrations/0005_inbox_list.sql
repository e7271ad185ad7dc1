-- The agent inbox's list: what a row shows without reading the thread, who has read what,
-- and the indexes its views, sorts and keyset pages walk. Portable SQL, as in
-- 0001_backbone.sql; the full-text index and the triggers that keep these columns up to
-- date differ by backend and follow in 0005_inbox_list.sqlite.sql and
-- 0005_inbox_list.postgres.sql (the same migration, version 5, on each backend).

-- What a list row shows without reading the thread, one row per conversation, kept up to
-- date by triggers on `messages` in the writing transaction, whatever the insert site
-- (threading, replies, handoffs). A table of its own rather than columns of
-- `conversations`: on PostgreSQL a second update of a conversation row in one
-- transaction checks its contact's foreign key again, and a contact locked by a merge
-- would then wait on a threading transaction that waits on it.
CREATE TABLE conversation_activity (
    conversation_id    TEXT PRIMARY KEY REFERENCES conversations (id),
    -- The latest message by id (ids order messages by acceptance): its first 300
    -- characters, its author kind (contact, agent, bot, system) and its id.
    preview            TEXT NOT NULL,
    preview_author     TEXT,
    preview_message_id TEXT,
    -- When the contact last wrote: a conversation is unread for an agent when this is
    -- later than the agent last opened it.
    last_inbound_at    BIGINT,
    -- The latest answer by an agent or the bot, and since when the contact has been
    -- waiting for the next one (its first message after it; NULL when nobody waits).
    last_reply_id      TEXT,
    waiting_since      BIGINT
);
-- Longest waiting first; conversations where nobody waits come last.
CREATE INDEX conversation_activity_by_waiting ON conversation_activity
    ((COALESCE(waiting_since, 9223372036854775807)), conversation_id);

-- When each agent last opened each conversation.
CREATE TABLE conversation_reads (
    user_id         TEXT NOT NULL REFERENCES users (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    read_at         BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

-- The list's sort orders, each ending in the id so that a keyset page boundary is exact.
-- By last activity (this replaces the index on last_message_at alone).
DROP INDEX conversations_by_activity;
CREATE INDEX conversations_by_activity ON conversations (last_message_at, id);
-- "Mine" and the assignee filter.
CREATE INDEX conversations_by_assignee ON conversations (assignee_id, last_message_at, id);
-- Team views.
CREATE INDEX conversations_by_team ON conversations (team, last_message_at, id);
-- Most urgent first, then by last activity.
CREATE INDEX conversations_by_priority ON conversations
    ((CASE priority WHEN 'urgent' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END),
     last_message_at, id);

-- Conversations stored before this migration.
INSERT INTO conversation_activity (conversation_id, preview, preview_message_id, last_inbound_at, last_reply_id)
SELECT c.id, '',
       (SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = c.id),
       (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'contact'),
       (SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.author_kind IN ('agent', 'bot'))
FROM conversations c;
UPDATE conversation_activity SET
    preview = COALESCE((SELECT substr(m.text, 1, 300) FROM messages m WHERE m.id = conversation_activity.preview_message_id), ''),
    preview_author = (SELECT m.author_kind FROM messages m WHERE m.id = conversation_activity.preview_message_id),
    waiting_since = (SELECT MIN(m.created_at) FROM messages m
        WHERE m.conversation_id = conversation_activity.conversation_id AND m.author_kind = 'contact'
          AND m.id > COALESCE(conversation_activity.last_reply_id, ''));
