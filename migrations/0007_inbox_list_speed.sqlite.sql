-- SQLite part of migration 7.

-- Unresolved conversations by last activity, with the columns that views, filters and the
-- callers' scopes test: SQLite tests them in the index and reads a table row only for a
-- conversation that passes, so a filtered page walks index pages only.
CREATE INDEX conversations_open_by_activity ON conversations
    (last_message_at, id, status, channel, priority, tier, team, assignee_id, company_id, labels)
    WHERE status <> 'resolved';

DROP TRIGGER conversations_inbox_list;
CREATE TRIGGER conversations_inbox_list AFTER INSERT ON conversations BEGIN
    INSERT INTO conversation_activity (conversation_id, preview, unresolved)
    VALUES (NEW.id, '', CASE WHEN NEW.status = 'resolved' THEN 0 ELSE 1 END)
    ON CONFLICT (conversation_id) DO NOTHING;
    INSERT INTO conversation_fts (rowid, contact, body)
    SELECT NEW.number * 65536,
           COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), ''),
           COALESCE(NEW.subject, '')
    WHERE NOT EXISTS (SELECT 1 FROM conversation_fts f WHERE f.rowid = NEW.number * 65536);
END;

CREATE TRIGGER conversations_inbox_status AFTER UPDATE OF status ON conversations
WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE conversation_activity SET unresolved = CASE WHEN NEW.status = 'resolved' THEN 0 ELSE 1 END
    WHERE conversation_id = NEW.id;
END;

-- A message stored, or moved into another conversation (a merge of conversations): the
-- conversation's activity and search text. Internal notes are searched, but they are
-- neither the latest message shown nor an answer.
DROP TRIGGER messages_inbox_list;
CREATE TRIGGER messages_inbox_list AFTER INSERT ON messages BEGIN
    UPDATE conversation_activity SET
        preview = CASE WHEN NEW.internal = 0 AND (preview_message_id IS NULL OR preview_message_id < NEW.id)
            THEN substr(NEW.text, 1, 300) ELSE preview END,
        preview_author = CASE WHEN NEW.internal = 0 AND (preview_message_id IS NULL OR preview_message_id < NEW.id)
            THEN NEW.author_kind ELSE preview_author END,
        preview_message_id = CASE WHEN NEW.internal = 0 AND (preview_message_id IS NULL OR preview_message_id < NEW.id)
            THEN NEW.id ELSE preview_message_id END,
        last_inbound_at = CASE WHEN NEW.author_kind = 'contact'
            THEN max(COALESCE(last_inbound_at, NEW.created_at), NEW.created_at) ELSE last_inbound_at END,
        waiting_since = CASE
            WHEN NEW.author_kind = 'contact' AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
                THEN min(COALESCE(waiting_since, NEW.created_at), NEW.created_at)
            WHEN NEW.internal = 0 AND NEW.author_kind IN ('agent', 'bot') AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
                THEN (SELECT min(m.created_at) FROM messages m
                      WHERE m.conversation_id = NEW.conversation_id AND m.author_kind = 'contact' AND m.id > NEW.id)
            ELSE waiting_since END,
        last_reply_id = CASE WHEN NEW.internal = 0 AND NEW.author_kind IN ('agent', 'bot') AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
            THEN NEW.id ELSE last_reply_id END,
        search_chunk = CASE WHEN search_chunk_len >= 8000 AND search_chunk < 65535
            THEN search_chunk + 1 ELSE search_chunk END,
        search_chunk_len = CASE WHEN search_chunk_len >= 8000 AND search_chunk < 65535
            THEN 0 ELSE search_chunk_len END + length(NEW.text) + 1
    WHERE conversation_id = NEW.conversation_id;
    INSERT INTO conversation_fts (rowid, contact, body)
    SELECT c.number * 65536 + a.search_chunk,
           COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = c.contact_id), ''),
           ''
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
    WHERE c.id = NEW.conversation_id
      AND NOT EXISTS (SELECT 1 FROM conversation_fts f WHERE f.rowid = c.number * 65536 + a.search_chunk);
    UPDATE conversation_fts
    SET body = body || char(10) || replace(replace(NEW.text, char(2), ' '), char(3), ' ')
    WHERE rowid = (SELECT c.number * 65536 + a.search_chunk
                   FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                   WHERE c.id = NEW.conversation_id);
END;

CREATE TRIGGER messages_inbox_moved AFTER UPDATE OF conversation_id ON messages
WHEN OLD.conversation_id IS NOT NEW.conversation_id BEGIN
    UPDATE conversation_activity SET
        preview = CASE WHEN NEW.internal = 0 AND (preview_message_id IS NULL OR preview_message_id < NEW.id)
            THEN substr(NEW.text, 1, 300) ELSE preview END,
        preview_author = CASE WHEN NEW.internal = 0 AND (preview_message_id IS NULL OR preview_message_id < NEW.id)
            THEN NEW.author_kind ELSE preview_author END,
        preview_message_id = CASE WHEN NEW.internal = 0 AND (preview_message_id IS NULL OR preview_message_id < NEW.id)
            THEN NEW.id ELSE preview_message_id END,
        last_inbound_at = CASE WHEN NEW.author_kind = 'contact'
            THEN max(COALESCE(last_inbound_at, NEW.created_at), NEW.created_at) ELSE last_inbound_at END,
        waiting_since = CASE
            WHEN NEW.author_kind = 'contact' AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
                THEN min(COALESCE(waiting_since, NEW.created_at), NEW.created_at)
            WHEN NEW.internal = 0 AND NEW.author_kind IN ('agent', 'bot') AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
                THEN (SELECT min(m.created_at) FROM messages m
                      WHERE m.conversation_id = NEW.conversation_id AND m.author_kind = 'contact' AND m.id > NEW.id)
            ELSE waiting_since END,
        last_reply_id = CASE WHEN NEW.internal = 0 AND NEW.author_kind IN ('agent', 'bot') AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
            THEN NEW.id ELSE last_reply_id END,
        search_chunk = CASE WHEN search_chunk_len >= 8000 AND search_chunk < 65535
            THEN search_chunk + 1 ELSE search_chunk END,
        search_chunk_len = CASE WHEN search_chunk_len >= 8000 AND search_chunk < 65535
            THEN 0 ELSE search_chunk_len END + length(NEW.text) + 1
    WHERE conversation_id = NEW.conversation_id;
    INSERT INTO conversation_fts (rowid, contact, body)
    SELECT c.number * 65536 + a.search_chunk,
           COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = c.contact_id), ''),
           ''
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
    WHERE c.id = NEW.conversation_id
      AND NOT EXISTS (SELECT 1 FROM conversation_fts f WHERE f.rowid = c.number * 65536 + a.search_chunk);
    UPDATE conversation_fts
    SET body = body || char(10) || replace(replace(NEW.text, char(2), ' '), char(3), ' ')
    WHERE rowid = (SELECT c.number * 65536 + a.search_chunk
                   FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                   WHERE c.id = NEW.conversation_id);
END;
