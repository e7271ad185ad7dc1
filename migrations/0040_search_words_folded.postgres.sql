-- PostgreSQL part of migration 40.
--
-- Since migration 38 each statement of new messages adds a `conversation_words` row per
-- conversation, so that the intake never rewrites a row that grows with the thread. A
-- conversation then has a words row per message or so, and a search tests each word
-- against all of them: at 100,000 conversations and a million messages a common word
-- took 100-200 ms, and two words could not be intersected by one index scan.
--
-- Now the dispatcher's housekeeping folds words rows older than a minute into the
-- conversation's `conversation_search` row (`Store::fold_search_words`), outside the
-- intake's transactions, a few hundred conversations per statement: a quiet conversation
-- is one search row again, whose GIN entry answers a search of several words at once.
-- Searches read both tables as before (see `Store::inbox_list`), so a row not yet folded
-- is found all the same.

-- The union of tsvectors (`||` over rows).
CREATE AGGREGATE switchboard_tsvector_agg(tsvector) (
    SFUNC = tsvector_concat,
    STYPE = tsvector,
    INITCOND = ''
);

-- Folds the words rows written before the message id `before` (ids are UUIDv7: ordered by
-- time) of at most `most` conversations; returns how many conversations it folded.
-- Search rows another transaction holds are skipped (next time), so a fold never waits
-- and never deadlocks. A conversation whose words would grow past ~200 kB compressed
-- keeps its rows unfolded (a tsvector holds at most 1 MB); its search is still right.
-- Index scans only: the tables are large and the statement is planned once per session.
CREATE FUNCTION switchboard_fold_search_words(before text, most bigint) RETURNS bigint
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
              LIMIT most) p
        JOIN conversation_search s ON s.conversation_id = p.conversation_id
        WHERE pg_column_size(s.body) < 200000
        ORDER BY s.conversation_id
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
