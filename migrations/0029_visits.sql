-- Technicians' visits to clients' machines, and the reminders that a contract's meter
-- readings are due.

-- A visit to a machine, booked for a window of the business's local day (window_from and
-- window_to are instants, epoch milliseconds). number comes from the `visit` counter of
-- billing_counters (people say "visit 42"); company_id is the machine's, kept so a scope
-- check needs no join; conversation_id is the request it answers (a portal ticket's, a
-- WhatsApp chat's, a mail's), if any. status is scheduled,
-- on_site, done or cancelled. When done: work_done, parts (a JSON list of {name,
-- quantity}), signed_by (the client's person who signed) and machine_status (what the
-- machine was left as); report is the visit report's PDF (the JSON of an Attachment).
-- version moves at every change, so two people at once change it once; key makes a
-- booking form sent twice one visit.
CREATE TABLE visits (
    id              TEXT PRIMARY KEY,
    number          BIGINT NOT NULL UNIQUE,
    machine_id      TEXT NOT NULL REFERENCES machines (id),
    company_id      TEXT NOT NULL REFERENCES companies (id),
    conversation_id TEXT REFERENCES conversations (id),
    technician_id   TEXT NOT NULL REFERENCES users (id),
    status          TEXT NOT NULL,
    window_from     BIGINT NOT NULL,
    window_to       BIGINT NOT NULL,
    arrived_at      BIGINT,
    done_at         BIGINT,
    work_done       TEXT,
    parts           TEXT NOT NULL DEFAULT '[]',
    signed_by       TEXT,
    machine_status  TEXT,
    report          TEXT,
    version         BIGINT NOT NULL DEFAULT 1,
    key             TEXT NOT NULL UNIQUE,
    created_by      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX visits_by_machine ON visits (machine_id, window_from);
CREATE INDEX visits_by_technician ON visits (technician_id, window_from);
CREATE INDEX visits_by_company ON visits (company_id, window_from);
CREATE INDEX visits_by_conversation ON visits (conversation_id);

-- A reminder that a contract's readings are due, sent once per contract and period
-- whichever node's job sends it: the primary key is the claim.
CREATE TABLE reading_reminders (
    contract_id  TEXT NOT NULL REFERENCES contracts (id),
    n            BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    sent_at      BIGINT NOT NULL,
    PRIMARY KEY (contract_id, n)
);
