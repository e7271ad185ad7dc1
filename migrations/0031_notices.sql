-- The client's notification centre: what a contact is told, one row per event and contact.
-- event is what happened (`visit:<id>:scheduled`), unique per contact: an event replayed,
-- or seen by two nodes, is one notice. kind names it for the contact's preferences
-- (ticket_status, visit_scheduled, visit_done, invoice_issued, invoice_paid,
-- invoice_due_soon, invoice_overdue, reading_due, survey_waiting, new_message); params
-- (JSON) carry what its words need, so it reads in any language; link is the portal page
-- it opens. Each also goes by the contact's channel for its kind: channel is where it
-- went (email, whatsapp; none when the contact opted out or could not be reached), NULL
-- while it waits to go. A node claims waiting notices (claimed_at) and sends a contact's
-- that arrived together as one message. (Agents' notifications are `notifications`.)
CREATE TABLE notices (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    company_id   TEXT REFERENCES companies (id),
    kind         TEXT NOT NULL,
    event        TEXT NOT NULL,
    params       TEXT NOT NULL,
    link         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    read_at      BIGINT,
    channel      TEXT,
    claimed_at   BIGINT,
    sent_at      BIGINT
);
CREATE UNIQUE INDEX notices_once ON notices (contact_id, event);
CREATE INDEX notices_by_contact ON notices (contact_id, created_at);
CREATE INDEX notices_waiting ON notices (channel, created_at);

-- A contact's channel for a kind of notice: email, whatsapp or none (opted out). Without a
-- row, the kind goes by the contact's notice channel (contacts.notice_channel).
CREATE TABLE notice_preferences (
    contact_id  TEXT NOT NULL REFERENCES contacts (id),
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    PRIMARY KEY (contact_id, kind)
);
