-- Trust boundaries.
--
-- An invitation to a company's portal is a sign-in link that carries the company and the
-- role the invitee joins with when they use it: inviting an address moves nobody, and
-- only an address that belongs to no company may join (the link's use checks it).
ALTER TABLE magic_links ADD COLUMN company_id TEXT;
ALTER TABLE magic_links ADD COLUMN role TEXT;
ALTER TABLE magic_links ADD COLUMN invited_by TEXT;
CREATE INDEX magic_links_company ON magic_links (company_id, purpose);
