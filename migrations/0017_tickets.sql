-- Tickets a client opens from the portal. Each is a conversation of its own (thread key
-- `ticket:<id>`), numbered with the conversation's number, so "#1042" is the same thing
-- to the client and to the agent. Its status and assignee are the conversation's; the
-- ticket keeps what the conversation does not: who opened it for which company, and its
-- category. `client_key` is the form's own key: a form sent twice opens one ticket.
CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    number          BIGINT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL UNIQUE REFERENCES conversations (id),
    company_id      TEXT REFERENCES companies (id),
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    subject         TEXT NOT NULL,
    category        TEXT NOT NULL,
    client_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX tickets_client_key ON tickets (contact_id, client_key);
CREATE INDEX tickets_company ON tickets (company_id, created_at);
CREATE INDEX tickets_contact ON tickets (contact_id, created_at);
