-- A ticket about a machine: what is asked (failure, toner, support, reading), the toner
-- colours asked for (JSON list), and the contract the machine served that day, so toner is
-- counted against it.
CREATE TABLE machine_requests (
    ticket_id    TEXT PRIMARY KEY REFERENCES tickets (id),
    machine_id   TEXT NOT NULL REFERENCES machines (id),
    kind         TEXT NOT NULL,
    toner        TEXT NOT NULL DEFAULT '[]',
    contract_id  TEXT REFERENCES contracts (id),
    day          BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX machine_requests_by_machine ON machine_requests (machine_id, created_at);
CREATE INDEX machine_requests_by_contract ON machine_requests (contract_id, day);
