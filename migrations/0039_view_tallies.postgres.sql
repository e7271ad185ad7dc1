-- PostgreSQL part of migration 39: the inbox's view counts kept as tallies (see the
-- SQLite part for what they count and why).
--
-- Here transactions run side by side, and a trigger reading another table sees it as its
-- snapshot left it: an inbound message counted against a conversation's old team while a
-- concurrent assignment moves its counts would be counted in the wrong group for good. So
-- the conversation's group (status, team, tier, assignee, company) is copied into its
-- activity row, which every change of what is counted then updates: a new inbound message
-- (the messages' trigger), a status or group change (the conversations' trigger below),
-- and the tallies are written from the activity rows' old and new versions alone. The
-- activity row's lock orders those changes; a read (`conversation_reads`) takes a share
-- lock on it before it counts, so it waits for a message being stored, and a message
-- waits for it.

-- Other nodes keep serving while one migrates: no conversation changes group, and nobody
-- opens one, between the copy below and the triggers that follow it (a change committed
-- in between would be counted nowhere).
LOCK TABLE conversations, conversation_reads IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE inbox_tally (
    id          BIGSERIAL PRIMARY KEY,
    by_company  SMALLINT NOT NULL,
    company_id  TEXT,
    team        TEXT,
    tier        TEXT NOT NULL,
    assignee_id TEXT,
    unresolved  BIGINT NOT NULL,
    inbound     BIGINT NOT NULL
);
CREATE INDEX inbox_tally_by_company ON inbox_tally (by_company, company_id);

CREATE TABLE inbox_seen (
    id          BIGSERIAL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    by_company  SMALLINT NOT NULL,
    company_id  TEXT,
    team        TEXT,
    tier        TEXT NOT NULL,
    assignee_id TEXT,
    seen        BIGINT NOT NULL
);
CREATE INDEX inbox_seen_by_user ON inbox_seen (user_id, by_company, company_id);

CREATE INDEX conversation_reads_by_conversation ON conversation_reads (conversation_id, read_at);

CREATE TABLE inbox_tally_kinds (by_company SMALLINT PRIMARY KEY);
INSERT INTO inbox_tally_kinds (by_company) VALUES (0), (1);

-- The conversation's group, beside `unresolved` (migration 7).
-- (Named apart from the conversation's own columns, which the list's queries read
-- unqualified beside the activity row.)
ALTER TABLE conversation_activity ADD COLUMN tally_team TEXT;
ALTER TABLE conversation_activity ADD COLUMN tally_tier TEXT;
ALTER TABLE conversation_activity ADD COLUMN tally_assignee_id TEXT;
ALTER TABLE conversation_activity ADD COLUMN tally_company_id TEXT;
UPDATE conversation_activity a
SET tally_team = c.team, tally_tier = c.tier, tally_assignee_id = c.assignee_id,
    tally_company_id = c.company_id,
    unresolved = CASE WHEN c.status = 'resolved' THEN 0 ELSE 1 END
FROM conversations c WHERE c.id = a.conversation_id;

-- What there is already.
INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
SELECT k.by_company, CASE WHEN k.by_company = 1 THEN a.tally_company_id END, a.tally_team, a.tally_tier,
       a.tally_assignee_id, COUNT(*), COUNT(a.last_inbound_at)
FROM conversation_activity a CROSS JOIN inbox_tally_kinds k
WHERE a.unresolved = 1 AND (k.by_company = 0 OR a.tally_company_id IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN a.tally_company_id END, a.tally_team,
       a.tally_tier, a.tally_assignee_id, COUNT(*)
FROM conversation_activity a JOIN conversation_reads r ON r.conversation_id = a.conversation_id
CROSS JOIN inbox_tally_kinds k
WHERE a.unresolved = 1 AND r.read_at >= a.last_inbound_at
  AND (k.by_company = 0 OR a.tally_company_id IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5, 6;

-- A new activity row takes its conversation's group, whoever writes it (the
-- conversations' trigger, the ticket batch).
CREATE FUNCTION switchboard_activity_group() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT c.team, c.tier, c.assignee_id, c.company_id,
           CASE WHEN c.status = 'resolved' THEN 0 ELSE 1 END
    INTO NEW.tally_team, NEW.tally_tier, NEW.tally_assignee_id, NEW.tally_company_id, NEW.unresolved
    FROM conversations c WHERE c.id = NEW.conversation_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER conversation_activity_group BEFORE INSERT ON conversation_activity
FOR EACH ROW EXECUTE FUNCTION switchboard_activity_group();

-- A conversation resolved, opened again, assigned, or moved to another team, tier or
-- company: its activity row follows (the row is locked already: it is being updated).
-- This replaces migration 7's trigger on the status alone.
DROP TRIGGER conversations_inbox_status ON conversations;
CREATE FUNCTION switchboard_conversation_group_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE conversation_activity
    SET unresolved = CASE WHEN NEW.status = 'resolved' THEN 0 ELSE 1 END,
        tally_team = NEW.team, tally_tier = NEW.tier, tally_assignee_id = NEW.assignee_id,
        tally_company_id = NEW.company_id
    WHERE conversation_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER conversations_inbox_group AFTER UPDATE OF status, team, tier, assignee_id, company_id
ON conversations
FOR EACH ROW WHEN ((OLD.status = 'resolved') IS DISTINCT FROM (NEW.status = 'resolved')
    OR OLD.team IS DISTINCT FROM NEW.team OR OLD.tier IS DISTINCT FROM NEW.tier
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
    OR OLD.company_id IS DISTINCT FROM NEW.company_id)
EXECUTE FUNCTION switchboard_conversation_group_changed();

-- New activity rows: counted (once per statement).
CREATE FUNCTION switchboard_tally_activity_inserted() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
    SELECT k.by_company, CASE WHEN k.by_company = 1 THEN n.tally_company_id END, n.tally_team, n.tally_tier,
           n.tally_assignee_id, COUNT(*), COUNT(n.last_inbound_at)
    FROM new_activity n CROSS JOIN inbox_tally_kinds k
    WHERE n.unresolved = 1 AND (k.by_company = 0 OR n.tally_company_id IS NOT NULL)
    GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN n.tally_company_id END, n.tally_team,
           n.tally_tier, n.tally_assignee_id, COUNT(*)
    FROM new_activity n JOIN conversation_reads r ON r.conversation_id = n.conversation_id
    CROSS JOIN inbox_tally_kinds k
    WHERE n.unresolved = 1 AND r.read_at >= n.last_inbound_at
      AND (k.by_company = 0 OR n.tally_company_id IS NOT NULL)
    GROUP BY 1, 2, 3, 4, 5, 6;
    RETURN NULL;
END
$$;
CREATE TRIGGER conversation_activity_tally_insert AFTER INSERT ON conversation_activity
REFERENCING NEW TABLE AS new_activity
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_tally_activity_inserted();

-- Changed activity rows: the old versions' counts out, the new ones' in. Rows whose
-- counted columns did not change (most updates change only the preview) cancel out in the
-- sums. (Joining the old and new rows instead, to keep only the changed ones, was planned
-- as a nested loop over the two transition tables: 0.6 s for 2,000 rows.)
CREATE FUNCTION switchboard_tally_activity_updated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
    SELECT k.by_company, CASE WHEN k.by_company = 1 THEN x.company_id END, x.team, x.tier,
           x.assignee_id, SUM(x.sign), SUM(x.inbound)
    FROM (SELECT 1 AS sign, tally_team AS team, tally_tier AS tier, tally_assignee_id AS assignee_id,
                 tally_company_id AS company_id, CASE WHEN last_inbound_at IS NULL THEN 0 ELSE 1 END AS inbound
          FROM new_activity WHERE unresolved = 1
          UNION ALL
          SELECT -1, tally_team, tally_tier, tally_assignee_id, tally_company_id,
                 CASE WHEN last_inbound_at IS NULL THEN 0 ELSE -1 END
          FROM old_activity WHERE unresolved = 1) AS x
    CROSS JOIN inbox_tally_kinds k
    WHERE k.by_company = 0 OR x.company_id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
    HAVING SUM(x.sign) <> 0 OR SUM(x.inbound) <> 0;

    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN x.company_id END, x.team,
           x.tier, x.assignee_id, SUM(x.sign)
    FROM (SELECT 1 AS sign, conversation_id, tally_team AS team, tally_tier AS tier,
                 tally_assignee_id AS assignee_id, tally_company_id AS company_id, last_inbound_at
          FROM new_activity WHERE unresolved = 1 AND last_inbound_at IS NOT NULL
          UNION ALL
          SELECT -1, conversation_id, tally_team, tally_tier, tally_assignee_id, tally_company_id,
                 last_inbound_at
          FROM old_activity WHERE unresolved = 1 AND last_inbound_at IS NOT NULL) AS x
    JOIN conversation_reads r ON r.conversation_id = x.conversation_id
                             AND r.read_at >= x.last_inbound_at
    CROSS JOIN inbox_tally_kinds k
    WHERE k.by_company = 0 OR x.company_id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING SUM(x.sign) <> 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER conversation_activity_tally_update AFTER UPDATE ON conversation_activity
REFERENCING OLD TABLE AS old_activity NEW TABLE AS new_activity
FOR EACH STATEMENT EXECUTE FUNCTION switchboard_tally_activity_updated();

-- An agent opened a conversation, or marked it unread. The share lock on the activity row
-- waits for a message being stored in it, and makes the message wait for this.
CREATE FUNCTION switchboard_tally_read_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    a conversation_activity%ROWTYPE;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT * INTO a FROM conversation_activity
        WHERE conversation_id = OLD.conversation_id FOR SHARE;
        IF FOUND AND a.unresolved = 1 AND OLD.read_at >= a.last_inbound_at THEN
            INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
            SELECT OLD.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN a.tally_company_id END,
                   a.tally_team, a.tally_tier, a.tally_assignee_id, -1
            FROM inbox_tally_kinds k WHERE k.by_company = 0 OR a.tally_company_id IS NOT NULL;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT * INTO a FROM conversation_activity
        WHERE conversation_id = NEW.conversation_id FOR SHARE;
        IF FOUND AND a.unresolved = 1 AND NEW.read_at >= a.last_inbound_at THEN
            INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
            SELECT NEW.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN a.tally_company_id END,
                   a.tally_team, a.tally_tier, a.tally_assignee_id, 1
            FROM inbox_tally_kinds k WHERE k.by_company = 0 OR a.tally_company_id IS NOT NULL;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER conversation_reads_tally AFTER INSERT OR DELETE ON conversation_reads
FOR EACH ROW EXECUTE FUNCTION switchboard_tally_read_changed();
CREATE TRIGGER conversation_reads_tally_update AFTER UPDATE ON conversation_reads
FOR EACH ROW WHEN (OLD.read_at IS DISTINCT FROM NEW.read_at OR OLD.user_id IS DISTINCT FROM NEW.user_id
    OR OLD.conversation_id IS DISTINCT FROM NEW.conversation_id)
EXECUTE FUNCTION switchboard_tally_read_changed();

-- The messages' trigger (migration 38) and the tallies' update read a statement's rows of
-- tables that only grow, by their keys. Planned once per connection, when a table is new
-- and has no statistics yet (autovacuum off, or not yet run), PostgreSQL chose to scan the
-- activity table whole for each conversation of the statement, and kept that plan while
-- the table grew: the intake fell to a fifth. Their plans may use the keys' indexes only.
ALTER FUNCTION switchboard_messages_inserted() SET enable_seqscan = off;
ALTER FUNCTION switchboard_tally_activity_updated() SET enable_seqscan = off;
