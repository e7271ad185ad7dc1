-- Sign-in links for the client portal (OWASP: at least 256 random bits, only their SHA-256
-- kept, bound to one contact and address, a lifetime, one use). A link is used up by the
-- confirmation's POST alone, so a mail scanner's GET or HEAD never burns it.
CREATE TABLE magic_links (
    hash        TEXT PRIMARY KEY,
    contact_id  TEXT NOT NULL REFERENCES contacts (id),
    email       TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX magic_links_contact ON magic_links (contact_id, created_at);
