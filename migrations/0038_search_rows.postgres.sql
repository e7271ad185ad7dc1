-- PostgreSQL part of migration 38.
--
-- Until now each statement of new messages appended their words to the conversation's one
-- `conversation_search` row: a new version of a row that grows with the thread, stored
-- again whole (TOAST) with every one of its words entered again in the GIN index. A thread
-- of a few hundred messages cost more per message than the message itself, and the intake
-- slowed with every message a conversation received.
--
-- Now a statement's messages add one row per conversation to `conversation_words` (their
-- words only), keyed by the first of those messages; nothing already written is touched.
-- `conversation_search` keeps the contact's words and the subject (and, for conversations
-- stored before this migration, their words until now). A conversation matches a search
-- when each word occurs in one of its rows (see `Store::inbox_list`).

CREATE TABLE conversation_words (
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    first_message_id TEXT NOT NULL,
    body             tsvector NOT NULL,
    PRIMARY KEY (conversation_id, first_message_id)
);
CREATE INDEX conversation_words_body ON conversation_words USING gin (body);

CREATE OR REPLACE FUNCTION switchboard_messages_inserted() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- The conversations' row locks first, in id order as threading takes them (see
    -- migration 21).
    PERFORM 1 FROM conversations
    WHERE id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages))
    ORDER BY id
    FOR NO KEY UPDATE;

    WITH b AS MATERIALIZED (
        SELECT conversation_id,
               max(id) FILTER (WHERE internal = 0) AS last_id,
               max(ARRAY[id, left(text, 300), author_kind]) FILTER (WHERE internal = 0) AS last,
               max(created_at) FILTER (WHERE author_kind = 'contact') AS inbound_at,
               min(id) FILTER (WHERE author_kind = 'contact') AS first_inbound_id,
               min(created_at) FILTER (WHERE author_kind = 'contact') AS first_inbound_at,
               max(id) FILTER (WHERE internal = 0 AND author_kind IN ('agent', 'bot')) AS reply_id
        FROM new_messages
        GROUP BY conversation_id
    )
    UPDATE conversation_activity a SET
        preview = CASE WHEN b.last_id > COALESCE(a.preview_message_id, '')
            THEN b.last[2] ELSE a.preview END,
        preview_author = CASE WHEN b.last_id > COALESCE(a.preview_message_id, '')
            THEN b.last[3] ELSE a.preview_author END,
        preview_message_id = GREATEST(a.preview_message_id, b.last_id),
        last_inbound_at = GREATEST(a.last_inbound_at, b.inbound_at),
        last_reply_id = GREATEST(a.last_reply_id, b.reply_id),
        waiting_since = CASE
            WHEN b.reply_id > COALESCE(a.last_reply_id, '')
              OR b.first_inbound_id <= COALESCE(a.last_reply_id, '')
                THEN (SELECT min(m.created_at) FROM messages m
                      WHERE m.conversation_id = a.conversation_id AND m.author_kind = 'contact'
                        AND m.id > COALESCE(GREATEST(a.last_reply_id, b.reply_id), ''))
            WHEN b.first_inbound_id IS NOT NULL
                THEN LEAST(a.waiting_since, b.first_inbound_at)
            ELSE a.waiting_since END
    FROM b
    WHERE a.conversation_id = b.conversation_id
      AND a.conversation_id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages));

    -- The statement's words, one new row per conversation (at most 100,000 characters of
    -- its messages; a tsvector holds at most 1 MB).
    INSERT INTO conversation_words (conversation_id, first_message_id, body)
    SELECT conversation_id, first_id, words
    FROM (
        SELECT conversation_id, min(id) AS first_id,
               strip(to_tsvector('switchboard_search',
                     switchboard_search_text(left(string_agg(text, ' ' ORDER BY id), 100000)))) AS words
        FROM new_messages
        GROUP BY conversation_id
    ) t
    WHERE length(words) > 0
    ORDER BY conversation_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- Messages moved by a merge (rare) keep adding their words to the target's
-- `conversation_search` row (`switchboard_messages_moved`, migration 7): searches read that
-- row and the words rows alike, so the function stays as it is.
