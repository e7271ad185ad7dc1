-- Surveys after a request is resolved or a visit done: how satisfied the client was
-- (CSAT, 1 to 5) and how likely they are to recommend us (NPS, 0 to 10), with a comment.
-- subject is what it asks about (`conversation:<id>`, `visit:<id>`): one survey each.
-- token is the survey's link (`/survey/<token>`): it lets its holder answer this survey
-- and nothing else, so it is kept as it is. agent_id, technician_id, team and company_id
-- say whose work it rates, for the results. An answer is kept once (answered_at) and may
-- be changed within a day (changed_at); a link past expires_at shows the survey closed.
CREATE TABLE surveys (
    id               TEXT PRIMARY KEY,
    token            TEXT NOT NULL UNIQUE,
    subject          TEXT NOT NULL UNIQUE,
    contact_id       TEXT NOT NULL REFERENCES contacts (id),
    company_id       TEXT REFERENCES companies (id),
    conversation_id  TEXT REFERENCES conversations (id),
    visit_id         TEXT REFERENCES visits (id),
    number           BIGINT NOT NULL,
    agent_id         TEXT REFERENCES users (id),
    technician_id    TEXT REFERENCES users (id),
    team             TEXT,
    channel          TEXT NOT NULL,
    lang             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    csat             BIGINT,
    nps              BIGINT,
    comment          TEXT,
    answered_at      BIGINT,
    changed_at       BIGINT
);
CREATE INDEX surveys_by_contact ON surveys (contact_id, created_at);
CREATE INDEX surveys_answered ON surveys (answered_at);
