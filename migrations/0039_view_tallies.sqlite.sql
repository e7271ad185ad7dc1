-- SQLite part of migration 39: the inbox's view counts kept as tallies.
--
-- The rail's badges counted every unresolved conversation in the caller's scope, with its
-- activity and the caller's read, on each request: 40-135 ms at 100,000 conversations.
-- Now triggers keep two tallies, and a count reads a few hundred rows of them:
--
-- * `inbox_tally`: unresolved conversations, and those among them the contact wrote in,
--   per group (team, tier, assignee; and company);
-- * `inbox_seen`: per user and group, the unresolved conversations the contact wrote in
--   that the user has read since the contact last wrote. Unread = inbound - seen.
--
-- Each group is counted twice: once without its company (`by_company` 0, what admins,
-- supervisors and support agents count, whose scope never looks at companies) and once
-- with it, for conversations that have one (`by_company` 1, what coordinators and
-- technicians count, by their companies). Without that split a support agent's count
-- would read one row per company.
--
-- The triggers only ever insert rows of differences (+1, -1), so that two transactions
-- never wait on one hot row; the store folds them into one row per group now and then
-- (`Store::compact_inbox_tallies`), and a count sums whatever rows there are.
--
-- SQLite has one writer at a time, so each trigger reads the other tables as they are.
-- (PostgreSQL's part copies the group into the activity row instead, whose row lock then
-- orders concurrent changes.)

CREATE TABLE inbox_tally (
    id          INTEGER PRIMARY KEY,
    by_company  INTEGER NOT NULL,
    company_id  TEXT,
    team        TEXT,
    tier        TEXT NOT NULL,
    assignee_id TEXT,
    unresolved  INTEGER NOT NULL,
    inbound     INTEGER NOT NULL
);
CREATE INDEX inbox_tally_by_company ON inbox_tally (by_company, company_id);

CREATE TABLE inbox_seen (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL,
    by_company  INTEGER NOT NULL,
    company_id  TEXT,
    team        TEXT,
    tier        TEXT NOT NULL,
    assignee_id TEXT,
    seen        INTEGER NOT NULL
);
CREATE INDEX inbox_seen_by_user ON inbox_seen (user_id, by_company, company_id);

-- The reads of one conversation, for the triggers below.
CREATE INDEX conversation_reads_by_conversation ON conversation_reads (conversation_id, read_at);

-- The two ways each conversation is counted.
CREATE TABLE inbox_tally_kinds (by_company INTEGER PRIMARY KEY);
INSERT INTO inbox_tally_kinds (by_company) VALUES (0), (1);

-- What there is already.
INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
SELECT k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team, c.tier,
       c.assignee_id, COUNT(*), SUM(CASE WHEN a.last_inbound_at IS NULL THEN 0 ELSE 1 END)
FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id, inbox_tally_kinds k
WHERE c.status <> 'resolved' AND (k.by_company = 0 OR c.company_id IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
       c.tier, c.assignee_id, COUNT(*)
FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id
JOIN conversation_reads r ON r.conversation_id = c.id, inbox_tally_kinds k
WHERE c.status <> 'resolved' AND r.read_at >= a.last_inbound_at
  AND (k.by_company = 0 OR c.company_id IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5, 6;

-- A conversation's activity row is written when the conversation is (by a trigger or by
-- the ticket batch): the conversation is counted from then on.
CREATE TRIGGER conversation_activity_tally_insert AFTER INSERT ON conversation_activity BEGIN
    INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
    SELECT k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team, c.tier,
           c.assignee_id, 1, CASE WHEN NEW.last_inbound_at IS NULL THEN 0 ELSE 1 END
    FROM conversations c, inbox_tally_kinds k
    WHERE c.id = NEW.conversation_id AND c.status <> 'resolved'
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
           c.tier, c.assignee_id, 1
    FROM conversations c JOIN conversation_reads r ON r.conversation_id = c.id, inbox_tally_kinds k
    WHERE c.id = NEW.conversation_id AND c.status <> 'resolved'
      AND r.read_at >= NEW.last_inbound_at
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
END;

-- The contact wrote: the conversation has inbound messages now, and whoever had read it
-- has not read this.
CREATE TRIGGER conversation_activity_tally_inbound AFTER UPDATE OF last_inbound_at ON conversation_activity
WHEN OLD.last_inbound_at IS NOT NEW.last_inbound_at BEGIN
    INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
    SELECT k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team, c.tier,
           c.assignee_id, 0,
           CASE WHEN NEW.last_inbound_at IS NULL THEN 0 ELSE 1 END
           - CASE WHEN OLD.last_inbound_at IS NULL THEN 0 ELSE 1 END
    FROM conversations c, inbox_tally_kinds k
    WHERE (OLD.last_inbound_at IS NULL) <> (NEW.last_inbound_at IS NULL)
      AND c.id = NEW.conversation_id AND c.status <> 'resolved'
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
           c.tier, c.assignee_id,
           CASE WHEN r.read_at >= NEW.last_inbound_at THEN 1 ELSE 0 END
           - CASE WHEN r.read_at >= OLD.last_inbound_at THEN 1 ELSE 0 END
    FROM conversations c JOIN conversation_reads r ON r.conversation_id = c.id, inbox_tally_kinds k
    WHERE c.id = NEW.conversation_id AND c.status <> 'resolved'
      AND (k.by_company = 0 OR c.company_id IS NOT NULL)
      AND CASE WHEN r.read_at >= NEW.last_inbound_at THEN 1 ELSE 0 END
          <> CASE WHEN r.read_at >= OLD.last_inbound_at THEN 1 ELSE 0 END;
END;

-- Resolved, opened again, assigned, moved to another team, tier or company: out of the
-- old group, into the new one.
CREATE TRIGGER conversations_tally AFTER UPDATE OF status, team, tier, assignee_id, company_id ON conversations
WHEN (OLD.status = 'resolved') IS NOT (NEW.status = 'resolved') OR OLD.team IS NOT NEW.team
  OR OLD.tier IS NOT NEW.tier OR OLD.assignee_id IS NOT NEW.assignee_id
  OR OLD.company_id IS NOT NEW.company_id BEGIN
    INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
    SELECT k.by_company, CASE WHEN k.by_company = 1 THEN OLD.company_id END, OLD.team, OLD.tier,
           OLD.assignee_id, -1, CASE WHEN a.last_inbound_at IS NULL THEN 0 ELSE -1 END
    FROM conversation_activity a, inbox_tally_kinds k
    WHERE a.conversation_id = OLD.id AND OLD.status <> 'resolved'
      AND (k.by_company = 0 OR OLD.company_id IS NOT NULL);
    INSERT INTO inbox_tally (by_company, company_id, team, tier, assignee_id, unresolved, inbound)
    SELECT k.by_company, CASE WHEN k.by_company = 1 THEN NEW.company_id END, NEW.team, NEW.tier,
           NEW.assignee_id, 1, CASE WHEN a.last_inbound_at IS NULL THEN 0 ELSE 1 END
    FROM conversation_activity a, inbox_tally_kinds k
    WHERE a.conversation_id = NEW.id AND NEW.status <> 'resolved'
      AND (k.by_company = 0 OR NEW.company_id IS NOT NULL);
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN OLD.company_id END, OLD.team,
           OLD.tier, OLD.assignee_id, -1
    FROM conversation_activity a JOIN conversation_reads r ON r.conversation_id = a.conversation_id,
         inbox_tally_kinds k
    WHERE a.conversation_id = OLD.id AND OLD.status <> 'resolved'
      AND r.read_at >= a.last_inbound_at
      AND (k.by_company = 0 OR OLD.company_id IS NOT NULL);
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT r.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN NEW.company_id END, NEW.team,
           NEW.tier, NEW.assignee_id, 1
    FROM conversation_activity a JOIN conversation_reads r ON r.conversation_id = a.conversation_id,
         inbox_tally_kinds k
    WHERE a.conversation_id = NEW.id AND NEW.status <> 'resolved'
      AND r.read_at >= a.last_inbound_at
      AND (k.by_company = 0 OR NEW.company_id IS NOT NULL);
END;

-- An agent opened a conversation, or marked it unread.
CREATE TRIGGER conversation_reads_tally_insert AFTER INSERT ON conversation_reads BEGIN
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT NEW.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
           c.tier, c.assignee_id, 1
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id, inbox_tally_kinds k
    WHERE c.id = NEW.conversation_id AND c.status <> 'resolved'
      AND NEW.read_at >= a.last_inbound_at
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
END;

CREATE TRIGGER conversation_reads_tally_update AFTER UPDATE ON conversation_reads
WHEN OLD.read_at IS NOT NEW.read_at OR OLD.user_id IS NOT NEW.user_id
  OR OLD.conversation_id IS NOT NEW.conversation_id BEGIN
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT OLD.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
           c.tier, c.assignee_id, -1
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id, inbox_tally_kinds k
    WHERE c.id = OLD.conversation_id AND c.status <> 'resolved'
      AND OLD.read_at >= a.last_inbound_at
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT NEW.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
           c.tier, c.assignee_id, 1
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id, inbox_tally_kinds k
    WHERE c.id = NEW.conversation_id AND c.status <> 'resolved'
      AND NEW.read_at >= a.last_inbound_at
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
END;

CREATE TRIGGER conversation_reads_tally_delete AFTER DELETE ON conversation_reads BEGIN
    INSERT INTO inbox_seen (user_id, by_company, company_id, team, tier, assignee_id, seen)
    SELECT OLD.user_id, k.by_company, CASE WHEN k.by_company = 1 THEN c.company_id END, c.team,
           c.tier, c.assignee_id, -1
    FROM conversations c JOIN conversation_activity a ON a.conversation_id = c.id, inbox_tally_kinds k
    WHERE c.id = OLD.conversation_id AND c.status <> 'resolved'
      AND OLD.read_at >= a.last_inbound_at
      AND (k.by_company = 0 OR c.company_id IS NOT NULL);
END;
