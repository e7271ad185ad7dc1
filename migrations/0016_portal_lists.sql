-- The portal's lists read one kind of document of one company (or of one contact without
-- a company), newest first: an index per path, so an estimate list does not walk the
-- company's invoices.
CREATE INDEX invoices_company_kind ON invoices (company_id, kind, issue_day);
CREATE INDEX invoices_contact_kind ON invoices (contact_id, kind, issue_day);
