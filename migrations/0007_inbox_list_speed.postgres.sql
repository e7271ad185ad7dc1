-- PostgreSQL part of migration 7.

-- Unresolved conversations by last activity (PostgreSQL tests other columns after reading
-- the row anyway).
CREATE INDEX conversations_open_by_activity ON conversations (last_message_at, id)
    WHERE status <> 'resolved';

-- Each contact's words, for finding contacts: small rows, so that the rows a search finds
-- are cheap to read (a conversation's search row carries its whole thread's words).
CREATE TABLE contact_search (
    contact_id TEXT PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    words      tsvector NOT NULL
);
INSERT INTO contact_search (contact_id, words)
SELECT id, switchboard_contact_search(id) FROM contacts;
CREATE INDEX contact_search_words ON contact_search USING gin (words);
DROP INDEX conversation_search_contact;

CREATE OR REPLACE FUNCTION switchboard_conversations_inserted() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO conversation_activity (conversation_id, preview, unresolved)
    SELECT n.id, '', CASE WHEN n.status = 'resolved' THEN 0 ELSE 1 END FROM new_conversations n
    ON CONFLICT (conversation_id) DO NOTHING;
    INSERT INTO conversation_search (conversation_id, contact, body)
    SELECT n.id,
           COALESCE((SELECT w.words FROM contact_search w WHERE w.contact_id = n.contact_id),
                    switchboard_contact_search(n.contact_id)),
           strip(to_tsvector('switchboard_search', switchboard_search_text(COALESCE(left(n.subject, 10000), ''))))
    FROM new_conversations n
    ON CONFLICT (conversation_id) DO NOTHING;
    RETURN NULL;
END
$$;


-- Once per INSERT statement, for all its messages at once. Internal notes are searched,
-- but they are neither the latest message shown nor an answer.
CREATE OR REPLACE FUNCTION switchboard_messages_inserted() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- The conversations' row locks first, in id order as threading takes them, and only
    -- then their activity and search rows: a merge (which locks the conversations it
    -- moves before their search rows) and two batches writing to the same conversations
    -- never wait for each other in a circle. A lock, not an update: the conversation row
    -- itself is not written here (see conversation_activity).
    PERFORM 1 FROM conversations
    WHERE id IN (SELECT conversation_id FROM new_messages)
    ORDER BY id
    FOR NO KEY UPDATE;

    UPDATE conversation_activity a SET
        preview = CASE WHEN b.last_id > COALESCE(a.preview_message_id, '')
            THEN b.last_text ELSE a.preview END,
        preview_author = CASE WHEN b.last_id > COALESCE(a.preview_message_id, '')
            THEN b.last_author ELSE a.preview_author END,
        preview_message_id = GREATEST(a.preview_message_id, b.last_id),
        last_inbound_at = GREATEST(a.last_inbound_at, b.inbound_at),
        last_reply_id = GREATEST(a.last_reply_id, b.reply_id),
        waiting_since = CASE
            -- A newer answer, or contact messages older than the last answer (stored late):
            -- the first contact message after the latest answer.
            WHEN b.reply_id > COALESCE(a.last_reply_id, '')
              OR b.first_inbound_id <= COALESCE(a.last_reply_id, '')
                THEN (SELECT min(m.created_at) FROM messages m
                      WHERE m.conversation_id = a.conversation_id AND m.author_kind = 'contact'
                        AND m.id > COALESCE(GREATEST(a.last_reply_id, b.reply_id), ''))
            WHEN b.first_inbound_id IS NOT NULL
                THEN LEAST(a.waiting_since, b.first_inbound_at)
            ELSE a.waiting_since END
    FROM (
        SELECT conversation_id,
               max(id) FILTER (WHERE internal = 0) AS last_id,
               (array_agg(left(text, 300) ORDER BY id DESC) FILTER (WHERE internal = 0))[1] AS last_text,
               (array_agg(author_kind ORDER BY id DESC) FILTER (WHERE internal = 0))[1] AS last_author,
               max(created_at) FILTER (WHERE author_kind = 'contact') AS inbound_at,
               min(id) FILTER (WHERE author_kind = 'contact') AS first_inbound_id,
               min(created_at) FILTER (WHERE author_kind = 'contact') AS first_inbound_at,
               max(id) FILTER (WHERE internal = 0 AND author_kind IN ('agent', 'bot')) AS reply_id
        FROM new_messages
        GROUP BY conversation_id
    ) b
    WHERE a.conversation_id = b.conversation_id;

    -- A tsvector holds at most 1 MB: a thread stops growing its row at 20,000 distinct
    -- words or 250 kB stored, and at most 100,000 characters of one statement's messages
    -- are added at once.
    UPDATE conversation_search s SET body = strip(s.body || t.words)
    FROM (
        SELECT conversation_id,
               to_tsvector('switchboard_search',
                           switchboard_search_text(left(string_agg(text, ' ' ORDER BY id), 100000))) AS words
        FROM new_messages
        GROUP BY conversation_id
    ) t
    WHERE s.conversation_id = t.conversation_id
      AND length(s.body) < 20000 AND pg_column_size(s.body) < 250000;
    RETURN NULL;
END
$$;

-- A message moved into another conversation (a merge of conversations): the target's
-- activity and search words, as for a message stored there.
CREATE FUNCTION switchboard_messages_moved() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- The conversations' row locks first, in id order as threading takes them, and only
    -- then their activity and search rows: a merge (which locks the conversations it
    -- moves before their search rows) and two batches writing to the same conversations
    -- never wait for each other in a circle. A lock, not an update: the conversation row
    -- itself is not written here (see conversation_activity).
    PERFORM 1 FROM conversations
    WHERE id IN (SELECT conversation_id FROM (SELECT (NEW).*) AS new_messages)
    ORDER BY id
    FOR NO KEY UPDATE;

    UPDATE conversation_activity a SET
        preview = CASE WHEN b.last_id > COALESCE(a.preview_message_id, '')
            THEN b.last_text ELSE a.preview END,
        preview_author = CASE WHEN b.last_id > COALESCE(a.preview_message_id, '')
            THEN b.last_author ELSE a.preview_author END,
        preview_message_id = GREATEST(a.preview_message_id, b.last_id),
        last_inbound_at = GREATEST(a.last_inbound_at, b.inbound_at),
        last_reply_id = GREATEST(a.last_reply_id, b.reply_id),
        waiting_since = CASE
            -- A newer answer, or contact messages older than the last answer (stored late):
            -- the first contact message after the latest answer.
            WHEN b.reply_id > COALESCE(a.last_reply_id, '')
              OR b.first_inbound_id <= COALESCE(a.last_reply_id, '')
                THEN (SELECT min(m.created_at) FROM messages m
                      WHERE m.conversation_id = a.conversation_id AND m.author_kind = 'contact'
                        AND m.id > COALESCE(GREATEST(a.last_reply_id, b.reply_id), ''))
            WHEN b.first_inbound_id IS NOT NULL
                THEN LEAST(a.waiting_since, b.first_inbound_at)
            ELSE a.waiting_since END
    FROM (
        SELECT conversation_id,
               max(id) FILTER (WHERE internal = 0) AS last_id,
               (array_agg(left(text, 300) ORDER BY id DESC) FILTER (WHERE internal = 0))[1] AS last_text,
               (array_agg(author_kind ORDER BY id DESC) FILTER (WHERE internal = 0))[1] AS last_author,
               max(created_at) FILTER (WHERE author_kind = 'contact') AS inbound_at,
               min(id) FILTER (WHERE author_kind = 'contact') AS first_inbound_id,
               min(created_at) FILTER (WHERE author_kind = 'contact') AS first_inbound_at,
               max(id) FILTER (WHERE internal = 0 AND author_kind IN ('agent', 'bot')) AS reply_id
        FROM (SELECT (NEW).*) AS new_messages
        GROUP BY conversation_id
    ) b
    WHERE a.conversation_id = b.conversation_id;

    -- A tsvector holds at most 1 MB: a thread stops growing its row at 20,000 distinct
    -- words or 250 kB stored, and at most 100,000 characters of one statement's messages
    -- are added at once.
    UPDATE conversation_search s SET body = strip(s.body || t.words)
    FROM (
        SELECT conversation_id,
               to_tsvector('switchboard_search',
                           switchboard_search_text(left(string_agg(text, ' ' ORDER BY id), 100000))) AS words
        FROM (SELECT (NEW).*) AS new_messages
        GROUP BY conversation_id
    ) t
    WHERE s.conversation_id = t.conversation_id
      AND length(s.body) < 20000 AND pg_column_size(s.body) < 250000;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_inbox_moved AFTER UPDATE OF conversation_id ON messages
FOR EACH ROW WHEN (OLD.conversation_id IS DISTINCT FROM NEW.conversation_id)
EXECUTE FUNCTION switchboard_messages_moved();

CREATE OR REPLACE FUNCTION switchboard_refresh_contact_search(cids text[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM conversations WHERE contact_id = ANY (cids) ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO contact_search (contact_id, words)
    SELECT ct.id, switchboard_contact_search(ct.id) FROM contacts ct WHERE ct.id = ANY (cids)
    ORDER BY ct.id
    ON CONFLICT (contact_id) DO UPDATE SET words = EXCLUDED.words;
    UPDATE conversation_search s SET contact = w.words
    FROM conversations c JOIN contact_search w ON w.contact_id = c.contact_id
    WHERE c.id = s.conversation_id AND c.contact_id = ANY (cids);
END
$$;

-- Contacts' words, once per statement rather than per row.
DROP TRIGGER contacts_search_name ON contacts;
DROP TRIGGER contact_identities_search ON contact_identities;
DROP TRIGGER contact_claims_search ON contact_claims;
DROP FUNCTION switchboard_contact_changed();

-- A contact renamed (rare: a name is taken once, when the contact had none).
CREATE FUNCTION switchboard_contact_renamed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM switchboard_refresh_contact_search(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_search_name AFTER UPDATE OF name ON contacts
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION switchboard_contact_renamed();

-- Identities or claims added, moved or removed: once per statement, for every contact
-- the statement touched (threading adds a batch's identities in one statement).
CREATE FUNCTION switchboard_contact_rows_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    cids text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        cids := ARRAY(SELECT DISTINCT contact_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        cids := ARRAY(SELECT DISTINCT contact_id FROM old_rows);
    ELSE
        cids := ARRAY(SELECT contact_id FROM new_rows UNION SELECT contact_id FROM old_rows);
    END IF;
    IF cardinality(cids) > 0 THEN
        PERFORM switchboard_refresh_contact_search(cids);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER contact_identities_search_insert AFTER INSERT ON contact_identities
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_contact_rows_changed();
CREATE TRIGGER contact_identities_search_update AFTER UPDATE ON contact_identities
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_contact_rows_changed();
CREATE TRIGGER contact_identities_search_delete AFTER DELETE ON contact_identities
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_contact_rows_changed();
CREATE TRIGGER contact_claims_search_insert AFTER INSERT ON contact_claims
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_contact_rows_changed();
CREATE TRIGGER contact_claims_search_delete AFTER DELETE ON contact_claims
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_contact_rows_changed();

-- A conversation resolved or opened again (the row is locked already: it is being
-- updated).
CREATE FUNCTION switchboard_conversation_status_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE conversation_activity
    SET unresolved = CASE WHEN NEW.status = 'resolved' THEN 0 ELSE 1 END
    WHERE conversation_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_inbox_status AFTER UPDATE OF status ON conversations
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION switchboard_conversation_status_changed();

-- A conversation moved to another contact (a merge of contacts).
CREATE OR REPLACE FUNCTION switchboard_conversation_contact_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE conversation_search SET contact = COALESCE(
        (SELECT w.words FROM contact_search w WHERE w.contact_id = NEW.contact_id),
        switchboard_contact_search(NEW.contact_id))
    WHERE conversation_id = NEW.id;
    RETURN NULL;
END
$$;

