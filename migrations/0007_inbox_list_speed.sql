-- The inbox list at 100,000 conversations (docs/BENCHMARKS.md, "Agent inbox list and
-- search"), and the list's activity with internal notes and merged conversations
-- (migration 6). Portable SQL, as in 0001_backbone.sql; the backend parts follow in
-- 0007_inbox_list_speed.sqlite.sql and 0007_inbox_list_speed.postgres.sql (the same
-- migration, version 7, on each backend).

-- 1 unless the conversation is resolved (kept by a trigger on its status), so that the
-- waiting order can skip resolved conversations without reading them.
ALTER TABLE conversation_activity ADD COLUMN unresolved BIGINT NOT NULL DEFAULT 1;
UPDATE conversation_activity SET unresolved = 0
WHERE conversation_id IN (SELECT id FROM conversations WHERE status = 'resolved');

-- Longest waiting first, among unresolved conversations.
DROP INDEX conversation_activity_by_waiting;
CREATE INDEX conversation_activity_by_waiting ON conversation_activity
    ((COALESCE(waiting_since, 9223372036854775807)), conversation_id)
    WHERE unresolved = 1;

-- Most urgent first, then by last activity, among unresolved conversations (the others
-- have no urgency left).
DROP INDEX conversations_by_priority;
CREATE INDEX conversations_by_priority ON conversations
    ((CASE priority WHEN 'urgent' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END),
     last_message_at, id)
    WHERE status <> 'resolved';

-- The badges: every unresolved conversation with what the caller's scope and the views
-- look at, in id order, and what the unread state needs beside it, so that counting reads
-- three indexes in step and no table.
CREATE INDEX conversations_unresolved ON conversations (id, status, team, tier, assignee_id, company_id)
    WHERE status <> 'resolved';
CREATE INDEX conversation_activity_inbound ON conversation_activity (conversation_id, last_inbound_at);
CREATE INDEX conversation_reads_at ON conversation_reads (user_id, conversation_id, read_at);

-- An internal note is neither the thread's latest message nor an answer to the contact:
-- conversations that have notes get their preview and waiting time again without them.
UPDATE conversation_activity SET
    preview_message_id = (SELECT MAX(m.id) FROM messages m
        WHERE m.conversation_id = conversation_activity.conversation_id AND m.internal = 0),
    last_reply_id = (SELECT MAX(m.id) FROM messages m
        WHERE m.conversation_id = conversation_activity.conversation_id AND m.internal = 0
          AND m.author_kind IN ('agent', 'bot'))
WHERE conversation_id IN (SELECT conversation_id FROM messages WHERE internal = 1);
UPDATE conversation_activity SET
    preview = COALESCE((SELECT substr(m.text, 1, 300) FROM messages m WHERE m.id = conversation_activity.preview_message_id), ''),
    preview_author = (SELECT m.author_kind FROM messages m WHERE m.id = conversation_activity.preview_message_id),
    waiting_since = (SELECT MIN(m.created_at) FROM messages m
        WHERE m.conversation_id = conversation_activity.conversation_id AND m.author_kind = 'contact'
          AND m.id > COALESCE(conversation_activity.last_reply_id, ''))
WHERE conversation_id IN (SELECT conversation_id FROM messages WHERE internal = 1);
