-- PostgreSQL part of migration 20.
--
-- The statement trigger of new messages reaches each conversation's rows by key. Joined
-- to the statement's transition table alone, the planner (which cannot know how many rows
-- that table will hold when it caches the trigger's plans) read the whole activity and
-- search tables of a small or middle-sized business on every insert: about 4 ms per
-- statement at 6,000 conversations, growing with them. An `= ANY (ARRAY(...))` of the
-- statement's conversation ids is an index lookup whatever the tables' sizes.

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
    WHERE id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages))
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
    WHERE a.conversation_id = b.conversation_id
      AND a.conversation_id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages));

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
      AND s.conversation_id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages))
      AND length(s.body) < 20000 AND pg_column_size(s.body) < 250000;
    RETURN NULL;
END
$$;
