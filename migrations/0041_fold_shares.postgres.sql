-- PostgreSQL part of migration 41: several nodes fold words rows side by side.
--
-- Migration 40's fold chose its `most` conversations first and locked them after, skipping
-- those another node held: two nodes folding at once chose the same conversations, and the
-- second folded none of them. With three nodes under a steady load the words rows then grew
-- faster than one node folded them (61,744 conversations unfolded after 20 minutes of the
-- soak bench), and each fold, and each search, grew slower with them.
--
-- Now the fold looks at four times as many candidates as it may fold and locks as it goes,
-- skipping what another node holds, until it holds `most`: nodes folding at once fold
-- different conversations. Otherwise as in migration 40.
CREATE OR REPLACE FUNCTION switchboard_fold_search_words(before text, most bigint) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    n bigint;
BEGIN
    WITH pick AS (
        SELECT s.conversation_id
        FROM (SELECT w.conversation_id FROM conversation_words w
              WHERE w.first_message_id < before
              GROUP BY w.conversation_id
              HAVING SUM(pg_column_size(w.body)) < 200000
              LIMIT most * 4) p
        JOIN conversation_search s ON s.conversation_id = p.conversation_id
        WHERE pg_column_size(s.body) < 200000
        ORDER BY s.conversation_id
        LIMIT most
        FOR UPDATE OF s SKIP LOCKED
    ), gone AS (
        -- Exactly the rows read: a words row committed meanwhile stays for the next fold.
        DELETE FROM conversation_words w USING pick
        WHERE w.conversation_id = pick.conversation_id AND w.first_message_id < before
        RETURNING w.conversation_id, w.body
    ), summed AS (
        SELECT conversation_id, switchboard_tsvector_agg(body) AS body
        FROM gone
        GROUP BY conversation_id
    )
    UPDATE conversation_search s SET body = s.body || summed.body
    FROM summed
    WHERE s.conversation_id = summed.conversation_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
