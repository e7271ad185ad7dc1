-- Equipment contracts: a company's machines, the period they bill by, the fee, the copies
-- included and the price of the rest (terms, JSON for the portal crate's overage::Terms),
-- and every closed period with its calculation and invoice.

-- period is monthly or quarterly; days are day numbers (days since 1970-01-01); fee is in
-- minor units; read_before is how many days before a period ends the client reads the
-- counters (NULL: the business reads them).
CREATE TABLE contracts (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    number       TEXT NOT NULL,
    period       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    fee          BIGINT NOT NULL,
    terms        TEXT NOT NULL,
    start_day    BIGINT NOT NULL,
    renewal_day  BIGINT,
    end_day      BIGINT,
    read_before  BIGINT,
    document     TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX contracts_by_number ON contracts (company_id, number);

-- A machine serves a contract in a slot from a day until a day (exclusive; NULL while it
-- stays). A machine swapped mid-period leaves its slot to the one that replaces it.
CREATE TABLE contract_machines (
    contract_id  TEXT NOT NULL REFERENCES contracts (id),
    machine_id   TEXT NOT NULL REFERENCES machines (id),
    slot         TEXT NOT NULL,
    from_day     BIGINT NOT NULL,
    to_day       BIGINT,
    PRIMARY KEY (contract_id, machine_id, from_day)
);
CREATE INDEX contract_machines_by_machine ON contract_machines (machine_id);

-- A closed period: the primary key is what bills it once, whichever node closes it.
CREATE TABLE contract_periods (
    contract_id  TEXT NOT NULL REFERENCES contracts (id),
    n            BIGINT NOT NULL,
    from_day     BIGINT NOT NULL,
    to_day       BIGINT NOT NULL,
    calculation  TEXT NOT NULL,
    invoice_id   TEXT REFERENCES invoices (id),
    closed_at    BIGINT NOT NULL,
    PRIMARY KEY (contract_id, n)
);
