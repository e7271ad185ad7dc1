-- PostgreSQL part of migration 21.
--
-- The statement trigger of new messages works out each conversation's new preview and new
-- words once per statement. Written as subqueries joined to the activity and search rows,
-- the planner (which takes a transition table for one row when it caches the trigger's
-- plans) could put the per-conversation aggregate on the inner side of a nested loop and
-- run it again for every conversation of the statement: the text search words of every
-- message of the statement, once per conversation. A statement of n conversations cost
-- n times n word extractions (about 5 ms at 12, over a second at 120). Materialized CTEs
-- are computed once whatever the plan. The last message's text and author come from one
-- plain aggregate instead of two ordered ones (a sort per conversation each).

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

    WITH b AS MATERIALIZED (
        SELECT conversation_id,
               max(id) FILTER (WHERE internal = 0) AS last_id,
               -- The last shown message's [id, text, author]: ids are unique, so the
               -- greatest array is that message's.
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
    FROM b
    WHERE a.conversation_id = b.conversation_id
      AND a.conversation_id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages));

    -- A tsvector holds at most 1 MB: a thread stops growing its row at 20,000 distinct
    -- words or 250 kB stored, and at most 100,000 characters of one statement's messages
    -- are added at once.
    WITH t AS MATERIALIZED (
        SELECT conversation_id,
               to_tsvector('switchboard_search',
                           switchboard_search_text(left(string_agg(text, ' ' ORDER BY id), 100000))) AS words
        FROM new_messages
        GROUP BY conversation_id
    )
    UPDATE conversation_search s SET body = strip(s.body || t.words)
    FROM t
    WHERE s.conversation_id = t.conversation_id
      AND s.conversation_id = ANY (ARRAY(SELECT DISTINCT conversation_id FROM new_messages))
      AND length(s.body) < 20000 AND pg_column_size(s.body) < 250000;
    RETURN NULL;
END
$$;

-- The attachments' blob keys of a new message: the trigger's function is called only for a
-- message that has attachments (most have none), not for every row.
DROP TRIGGER message_blobs_on_insert ON messages;
CREATE TRIGGER message_blobs_on_insert AFTER INSERT ON messages
FOR EACH ROW WHEN (NEW.attachments <> '[]') EXECUTE FUNCTION switchboard_message_blobs();
