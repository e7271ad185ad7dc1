-- PostgreSQL part of migration 5: full-text search over conversations (their messages and
-- their contact) with tsvectors and a GIN index, and the triggers that keep the list's
-- columns and the index up to date.
--
-- Words are matched without accents in any language ("acao" finds "ação"): a text search
-- configuration that passes every word through `unaccent` and then `simple` (lower case,
-- no stemming, no stop words, as SQLite's unicode61 tokenizer does). Punctuation is turned
-- into spaces first, so an address or a phone number is found by its parts, as on SQLite.
--
-- One row per conversation in `conversation_search`: the contact's words and the thread's
-- words, each a stripped tsvector (the set of lexemes, no positions), so a row grows with
-- the thread's vocabulary, not with its length.

CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION switchboard_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION switchboard_search
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part,
                      numword, numhword, hword_numpart
    WITH unaccent, simple;

CREATE FUNCTION switchboard_search_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT regexp_replace(t, '[[:punct:][:cntrl:]]+', ' ', 'g') $$;

-- What a contact is found by: its name, identities and claimed identities.
CREATE FUNCTION switchboard_contact_search(cid text) RETURNS tsvector
LANGUAGE sql STABLE
AS $$
    SELECT strip(to_tsvector('switchboard_search', switchboard_search_text(concat_ws(' ',
        (SELECT name FROM contacts WHERE id = cid),
        (SELECT string_agg(value, ' ') FROM contact_identities WHERE contact_id = cid),
        (SELECT string_agg(value, ' ') FROM contact_claims WHERE contact_id = cid)))))
$$;

CREATE TABLE conversation_search (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    contact         tsvector NOT NULL,
    body            tsvector NOT NULL
);

-- Conversations stored before this migration (at most 100,000 characters of each thread).
INSERT INTO conversation_search (conversation_id, contact, body)
SELECT c.id,
       switchboard_contact_search(c.contact_id),
       strip(to_tsvector('switchboard_search', switchboard_search_text(left(concat_ws(' ', c.subject,
           (SELECT string_agg(m.text, ' ') FROM messages m WHERE m.conversation_id = c.id)), 100000))))
FROM conversations c;

CREATE INDEX conversation_search_all ON conversation_search USING gin ((contact || body));
CREATE INDEX conversation_search_contact ON conversation_search USING gin (contact);

CREATE FUNCTION switchboard_conversations_inserted() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO conversation_activity (conversation_id, preview)
    SELECT n.id, '' FROM new_conversations n
    ON CONFLICT (conversation_id) DO NOTHING;
    INSERT INTO conversation_search (conversation_id, contact, body)
    SELECT n.id, switchboard_contact_search(n.contact_id),
           strip(to_tsvector('switchboard_search', switchboard_search_text(COALESCE(left(n.subject, 10000), ''))))
    FROM new_conversations n
    ON CONFLICT (conversation_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_inbox_list AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_conversations
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_conversations_inserted();

-- Once per INSERT statement, for all its messages at once.
CREATE FUNCTION switchboard_messages_inserted() RETURNS trigger
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
        preview = CASE WHEN a.preview_message_id IS NULL OR a.preview_message_id < b.last_id
            THEN b.last_text ELSE a.preview END,
        preview_author = CASE WHEN a.preview_message_id IS NULL OR a.preview_message_id < b.last_id
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
               max(id) AS last_id,
               (array_agg(left(text, 300) ORDER BY id DESC))[1] AS last_text,
               (array_agg(author_kind ORDER BY id DESC))[1] AS last_author,
               max(created_at) FILTER (WHERE author_kind = 'contact') AS inbound_at,
               min(id) FILTER (WHERE author_kind = 'contact') AS first_inbound_id,
               min(created_at) FILTER (WHERE author_kind = 'contact') AS first_inbound_at,
               max(id) FILTER (WHERE author_kind IN ('agent', 'bot')) AS reply_id
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

CREATE TRIGGER messages_inbox_list AFTER INSERT ON messages
REFERENCING NEW TABLE AS new_messages
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_messages_inserted();

-- Contacts' words changed: every conversation of those contacts. Conversation rows are
-- locked first, all at once in id order, as the message trigger does.
CREATE FUNCTION switchboard_refresh_contact_search(cids text[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM conversations WHERE contact_id = ANY (cids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE conversation_search s SET contact = switchboard_contact_search(c.contact_id)
    FROM conversations c
    WHERE c.id = s.conversation_id AND c.contact_id = ANY (cids);
END
$$;

CREATE FUNCTION switchboard_contact_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_TABLE_NAME = 'contacts' THEN
        PERFORM switchboard_refresh_contact_search(ARRAY[NEW.id]);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM switchboard_refresh_contact_search(ARRAY[NEW.contact_id]);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM switchboard_refresh_contact_search(ARRAY[OLD.contact_id]);
    ELSE
        PERFORM switchboard_refresh_contact_search(ARRAY[NEW.contact_id, OLD.contact_id]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER contacts_search_name AFTER UPDATE OF name ON contacts
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION switchboard_contact_changed();
CREATE TRIGGER contact_identities_search AFTER INSERT OR UPDATE OR DELETE ON contact_identities
FOR EACH ROW EXECUTE FUNCTION switchboard_contact_changed();
CREATE TRIGGER contact_claims_search AFTER INSERT OR DELETE ON contact_claims
FOR EACH ROW EXECUTE FUNCTION switchboard_contact_changed();

-- A conversation moved to another contact (a merge).
CREATE FUNCTION switchboard_conversation_contact_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE conversation_search SET contact = switchboard_contact_search(NEW.contact_id)
    WHERE conversation_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_search_contact AFTER UPDATE OF contact_id ON conversations
FOR EACH ROW WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id)
EXECUTE FUNCTION switchboard_conversation_contact_changed();
