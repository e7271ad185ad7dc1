-- Billing: invoices and estimates, and the ledger of payments and refunds against them.
-- Amounts are whole minor units of the document's currency. `paid` is kept in the same
-- transaction as every ledger row (payments less refunds), so it always equals the
-- ledger's sum. A payment's (method, kind, reference) is unique: a provider's event
-- delivered twice is recorded once.
CREATE TABLE billing_counters (
    scope TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE invoices (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    number      TEXT NOT NULL,
    company_id  TEXT REFERENCES companies (id),
    contact_id  TEXT NOT NULL REFERENCES contacts (id),
    status      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    document    TEXT NOT NULL,
    subtotal    BIGINT NOT NULL,
    tax         BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    paid        BIGINT NOT NULL DEFAULT 0,
    issue_day   BIGINT NOT NULL,
    due_day     BIGINT,
    external_id TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (kind, number)
);
CREATE UNIQUE INDEX invoices_external ON invoices (kind, external_id);
CREATE INDEX invoices_company ON invoices (company_id, issue_day);
CREATE INDEX invoices_contact ON invoices (contact_id, issue_day);

CREATE TABLE invoice_payments (
    id         TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    kind       TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    currency   TEXT NOT NULL,
    method     TEXT NOT NULL,
    reference  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (method, kind, reference)
);
CREATE INDEX invoice_payments_invoice ON invoice_payments (invoice_id, created_at);
