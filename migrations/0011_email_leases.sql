-- Which node reads each IMAP mailbox: with several nodes on one database, one holds a
-- mailbox's lease and renews it every round; another takes over once it lapses (or at
-- once when the holder stops and lets it go).
CREATE TABLE email_leases (
    inbox  TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  BIGINT NOT NULL
);
