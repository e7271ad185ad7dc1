-- SQLite part of migration 5: full-text search over conversations (their messages and
-- their contact) with FTS5, and the triggers that keep the list's columns and the index
-- up to date.
--
-- One FTS row per chunk of a conversation's text: rowid = number * 65536 + chunk. A new
-- message is appended to the current chunk, and a chunk that has reached 8,000 characters
-- is left as it is for a new one, so a message never rewrites more than one chunk however
-- long the thread grows. Each chunk also carries the contact's text (name, identities,
-- claimed identities), so a search for a name and a word of the thread finds it. The
-- conversation number of a row is rowid >> 16: matching conversations come straight from
-- the index, without reading any content.

-- The chunk new messages go to, and its length in characters.
ALTER TABLE conversation_activity ADD COLUMN search_chunk BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversation_activity ADD COLUMN search_chunk_len BIGINT NOT NULL DEFAULT 0;

CREATE VIRTUAL TABLE conversation_fts USING fts5(
    contact,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- What a contact is found by.
CREATE VIEW contact_search_text AS
SELECT c.id AS contact_id,
       trim(COALESCE(c.name, '') || ' '
            || COALESCE((SELECT group_concat(i.value, ' ') FROM contact_identities i WHERE i.contact_id = c.id), '') || ' '
            || COALESCE((SELECT group_concat(l.value, ' ') FROM contact_claims l WHERE l.contact_id = c.id), '')) AS text
FROM contacts c;

-- Conversations stored before this migration: their whole text in chunk 0.
INSERT INTO conversation_fts (rowid, contact, body)
SELECT c.number * 65536,
       COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = c.contact_id), ''),
       COALESCE(c.subject, '') || char(10) || COALESCE((SELECT group_concat(replace(replace(m.text, char(2), ' '), char(3), ' '), char(10))
                                                         FROM messages m WHERE m.conversation_id = c.id), '')
FROM conversations c;
UPDATE conversation_activity SET search_chunk_len = COALESCE(
    (SELECT length(f.body) FROM conversation_fts f JOIN conversations c ON f.rowid = c.number * 65536
     WHERE c.id = conversation_activity.conversation_id), 0);

CREATE TRIGGER conversations_inbox_list AFTER INSERT ON conversations BEGIN
    INSERT INTO conversation_activity (conversation_id, preview) VALUES (NEW.id, '')
    ON CONFLICT (conversation_id) DO NOTHING;
    INSERT INTO conversation_fts (rowid, contact, body)
    SELECT NEW.number * 65536,
           COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), ''),
           COALESCE(NEW.subject, '')
    WHERE NOT EXISTS (SELECT 1 FROM conversation_fts f WHERE f.rowid = NEW.number * 65536);
END;

CREATE TRIGGER messages_inbox_list AFTER INSERT ON messages BEGIN
    UPDATE conversation_activity SET
        preview = CASE WHEN preview_message_id IS NULL OR preview_message_id < NEW.id
            THEN substr(NEW.text, 1, 300) ELSE preview END,
        preview_author = CASE WHEN preview_message_id IS NULL OR preview_message_id < NEW.id
            THEN NEW.author_kind ELSE preview_author END,
        preview_message_id = CASE WHEN preview_message_id IS NULL OR preview_message_id < NEW.id
            THEN NEW.id ELSE preview_message_id END,
        last_inbound_at = CASE WHEN NEW.author_kind = 'contact'
            THEN max(COALESCE(last_inbound_at, NEW.created_at), NEW.created_at) ELSE last_inbound_at END,
        waiting_since = CASE
            WHEN NEW.author_kind = 'contact' AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
                THEN min(COALESCE(waiting_since, NEW.created_at), NEW.created_at)
            WHEN NEW.author_kind IN ('agent', 'bot') AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
                THEN (SELECT min(m.created_at) FROM messages m
                      WHERE m.conversation_id = NEW.conversation_id AND m.author_kind = 'contact' AND m.id > NEW.id)
            ELSE waiting_since END,
        last_reply_id = CASE WHEN NEW.author_kind IN ('agent', 'bot') AND (last_reply_id IS NULL OR last_reply_id < NEW.id)
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

-- A conversation moved to another contact (a merge).
CREATE TRIGGER conversations_search_contact AFTER UPDATE OF contact_id ON conversations
WHEN OLD.contact_id IS NOT NEW.contact_id BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid >= NEW.number * 65536
      AND rowid <= NEW.number * 65536 + COALESCE((SELECT a.search_chunk FROM conversation_activity a WHERE a.conversation_id = NEW.id), 0);
END;

-- A contact's text changed: every chunk of each of its conversations. (FTS5 looks rows up
-- by rowid equality from a subquery, not by a range joined from another table, hence the
-- list of chunk rowids.)
CREATE TRIGGER contacts_search_name AFTER UPDATE OF name ON contacts
WHEN OLD.name IS NOT NEW.name BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = NEW.id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = NEW.id);
END;

CREATE TRIGGER contact_identities_search_insert AFTER INSERT ON contact_identities BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = NEW.contact_id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = NEW.contact_id);
END;

CREATE TRIGGER contact_identities_search_update AFTER UPDATE OF contact_id ON contact_identities BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = NEW.contact_id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = NEW.contact_id);
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = OLD.contact_id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = OLD.contact_id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = OLD.contact_id);
END;

CREATE TRIGGER contact_identities_search_delete AFTER DELETE ON contact_identities BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = OLD.contact_id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = OLD.contact_id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = OLD.contact_id);
END;

CREATE TRIGGER contact_claims_search_insert AFTER INSERT ON contact_claims BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = NEW.contact_id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = NEW.contact_id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = NEW.contact_id);
END;

CREATE TRIGGER contact_claims_search_delete AFTER DELETE ON contact_claims BEGIN
    UPDATE conversation_fts
    SET contact = COALESCE((SELECT t.text FROM contact_search_text t WHERE t.contact_id = OLD.contact_id), '')
    WHERE rowid IN (
        WITH RECURSIVE chunk(n) AS (
            SELECT 0 UNION ALL SELECT n + 1 FROM chunk
            WHERE n < (SELECT COALESCE(max(a.search_chunk), 0) FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
                     WHERE c.contact_id = OLD.contact_id))
        SELECT c.number * 65536 + chunk.n
        FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id JOIN chunk ON chunk.n <= a.search_chunk
        WHERE c.contact_id = OLD.contact_id);
END;
