-- A company's sites: where its machines stand, with an address and coordinates entered
-- or imported (no geocoding), in millionths of a degree so both databases keep them
-- exactly. A site's name is one per company. A machine's site is one of its own
-- company's (the store checks it on every write).
CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    name        TEXT NOT NULL,
    address     TEXT,
    lat_e6      BIGINT,
    lon_e6      BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (company_id, name)
);
ALTER TABLE machines ADD COLUMN site_id TEXT REFERENCES sites (id);
CREATE INDEX machines_by_site ON machines (site_id);
