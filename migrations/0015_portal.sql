-- The client portal. A portal user is a `users` row with a client role, tied to the
-- contact whose magic link it signed in with (one user per contact) and to that contact's
-- company. Invoices remember when they were sent and first viewed, and the conversation
-- their card was posted in. The audit log keeps who signed in, viewed, downloaded and
-- paid what, for the client's admin and the business's agents.
ALTER TABLE users ADD COLUMN contact_id TEXT REFERENCES contacts (id);
CREATE UNIQUE INDEX users_contact ON users (contact_id);

ALTER TABLE invoices ADD COLUMN sent_at BIGINT;
ALTER TABLE invoices ADD COLUMN viewed_at BIGINT;
ALTER TABLE invoices ADD COLUMN conversation_id TEXT;

CREATE TABLE portal_audit (
    id          TEXT PRIMARY KEY,
    company_id  TEXT,
    contact_id  TEXT NOT NULL,
    user_id     TEXT,
    action      TEXT NOT NULL,
    subject     TEXT,
    detail      TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX portal_audit_company ON portal_audit (company_id, created_at);
CREATE INDEX portal_audit_contact ON portal_audit (contact_id, created_at);
