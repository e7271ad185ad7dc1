-- A request about a machine belongs to its conversation, whatever the channel: a portal
-- ticket (ticket_id kept), a WhatsApp chat or a mail that the bot or an agent linked to
-- the machine. One request per conversation; the rows of machine_requests move over as
-- they are.
CREATE TABLE service_requests (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id),
    ticket_id        TEXT REFERENCES tickets (id),
    machine_id       TEXT NOT NULL REFERENCES machines (id),
    kind             TEXT NOT NULL,
    toner            TEXT NOT NULL DEFAULT '[]',
    contract_id      TEXT REFERENCES contracts (id),
    day              BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
INSERT INTO service_requests (conversation_id, ticket_id, machine_id, kind, toner, contract_id, day, created_at)
    SELECT t.conversation_id, r.ticket_id, r.machine_id, r.kind, r.toner, r.contract_id, r.day, r.created_at
    FROM machine_requests r JOIN tickets t ON t.id = r.ticket_id;
DROP TABLE machine_requests;
CREATE INDEX service_requests_by_machine ON service_requests (machine_id, created_at);
CREATE INDEX service_requests_by_contract ON service_requests (contract_id, day);
