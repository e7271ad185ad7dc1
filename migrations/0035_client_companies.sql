-- Companies a client admin manages beside its own (a group's subsidiaries), granted by
-- the business, never by a link, an invitation or a merge. A session may work in one of
-- them (sessions.company_id); the scope falls back to the contact's own company when
-- the grant is gone, so revoking takes effect at the next request.
CREATE TABLE portal_user_companies (
    user_id     TEXT NOT NULL REFERENCES users (id),
    company_id  TEXT NOT NULL REFERENCES companies (id),
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, company_id)
);
ALTER TABLE sessions ADD COLUMN company_id TEXT;
