-- SQLite part of migration 38 (PostgreSQL: 0038_search_rows.postgres.sql).
--
-- Until now a new message was appended to its conversation's current chunk of 8,000
-- characters: FTS5 updates a row by deleting every word of it from the index and entering
-- them all again, so each message cost up to 8,000 characters of words. Now each message is
-- an FTS row of its own (rowid = number * 65536 + chunk, the chunk counting messages; a
-- thread past 65,535 messages appends to its last row): nothing already written is read or
-- written again. Chunk 0 holds the conversation's contact and subject; only it carries the
-- contact's words, so a change of contact rewrites one row per conversation. A
-- conversation matches a search when each word occurs in one of its rows (see
-- `Store::inbox_list`).

-- Older chunks lose the contact's words they carried (chunk 0 keeps them).
UPDATE conversation_fts SET contact = '' WHERE (rowid & 65535) <> 0 AND contact <> '';

DROP TRIGGER messages_inbox_list;
DROP TRIGGER messages_inbox_moved;
DROP TRIGGER conversations_search_contact;
DROP TRIGGER contacts_search_name;
DROP TRIGGER contact_identities_search_insert;
DROP TRIGGER contact_identities_search_update;
DROP TRIGGER contact_identities_search_delete;
DROP TRIGGER contact_claims_search_insert;
DROP TRIGGER contact_claims_search_delete;

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
        search_chunk = CASE WHEN search_chunk < 65535 THEN search_chunk + 1 ELSE search_chunk END,
        search_chunk_len = length(NEW.text)
    WHERE conversation_id = NEW.conversation_id;
    -- A thread at its last chunk (65,535 messages) appends to it; every other message
    -- is a new row of its own.
    UPDATE conversation_fts
    SET body = body || char(10) || replace(replace(NEW.text, char(2), ' '), char(3), ' ')
    WHERE rowid = (SELECT c.number * 65536 + a.search_chunk
                   FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                   WHERE c.id = NEW.conversation_id);
    INSERT INTO conversation_fts (rowid, contact, body)
    SELECT c.number * 65536 + a.search_chunk, '', replace(replace(NEW.text, char(2), ' '), char(3), ' ')
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
    WHERE c.id = NEW.conversation_id
      AND NOT EXISTS (SELECT 1 FROM conversation_fts f WHERE f.rowid = c.number * 65536 + a.search_chunk);
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
        search_chunk = CASE WHEN search_chunk < 65535 THEN search_chunk + 1 ELSE search_chunk END,
        search_chunk_len = length(NEW.text)
    WHERE conversation_id = NEW.conversation_id;
    -- A thread at its last chunk (65,535 messages) appends to it; every other message
    -- is a new row of its own.
    UPDATE conversation_fts
    SET body = body || char(10) || replace(replace(NEW.text, char(2), ' '), char(3), ' ')
    WHERE rowid = (SELECT c.number * 65536 + a.search_chunk
                   FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                   WHERE c.id = NEW.conversation_id);
    INSERT INTO conversation_fts (rowid, contact, body)
    SELECT c.number * 65536 + a.search_chunk, '', replace(replace(NEW.text, char(2), ' '), char(3), ' ')
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
    WHERE c.id = NEW.conversation_id
      AND NOT EXISTS (SELECT 1 FROM conversation_fts f WHERE f.rowid = c.number * 65536 + a.search_chunk);
END;

-- A conversation moved to another contact (a merge), a contact's text changed: chunk 0 of
-- each of its conversations.
CREATE TRIGGER conversations_search_contact AFTER UPDATE OF contact_id ON conversations
WHEN OLD.contact_id IS NOT NEW.contact_id BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid = NEW.number * 65536;
END;

CREATE TRIGGER contacts_search_name AFTER UPDATE OF name ON contacts
WHEN OLD.name IS NOT NEW.name BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = NEW.id);
END;

CREATE TRIGGER contact_identities_search_insert AFTER INSERT ON contact_identities BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = NEW.contact_id);
END;

CREATE TRIGGER contact_identities_search_update AFTER UPDATE OF contact_id ON contact_identities BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = NEW.contact_id);
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = OLD.contact_id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = OLD.contact_id);
END;

CREATE TRIGGER contact_identities_search_delete AFTER DELETE ON contact_identities BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = OLD.contact_id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = OLD.contact_id);
END;

CREATE TRIGGER contact_claims_search_insert AFTER INSERT ON contact_claims BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = NEW.contact_id);
END;

CREATE TRIGGER contact_claims_search_delete AFTER DELETE ON contact_claims BEGIN
    UPDATE conversation_fts SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = OLD.contact_id), '')
    WHERE rowid IN (SELECT c.number * 65536 FROM conversations c WHERE c.contact_id = OLD.contact_id);
END;
