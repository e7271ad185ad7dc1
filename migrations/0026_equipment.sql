-- Equipment: the machines a business leases and services at its clients, and their meter
-- readings.

-- A machine at a client's company: status in_service, down, maintenance or removed;
-- installed_on is a day number (days since 1970-01-01).
CREATE TABLE machines (
    id             TEXT PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies (id),
    location       TEXT,
    maker          TEXT,
    model          TEXT NOT NULL,
    serial         TEXT NOT NULL,
    asset_tag      TEXT,
    installed_on   BIGINT,
    status         TEXT NOT NULL,
    technician_id  TEXT REFERENCES users (id),
    last_visit_at  BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
-- A serial names one machine; an asset tag one machine of its company.
CREATE UNIQUE INDEX machines_by_serial ON machines (serial);
CREATE UNIQUE INDEX machines_by_tag ON machines (company_id, asset_tag);
CREATE INDEX machines_by_company ON machines (company_id);

-- A machine's counters on a day, as someone read them (portal, whatsapp, email, agent).
-- The key makes a retried or repeated submission one reading.
CREATE TABLE meter_readings (
    id          TEXT PRIMARY KEY,
    machine_id  TEXT NOT NULL REFERENCES machines (id),
    day         BIGINT NOT NULL,
    mono        BIGINT,
    colour      BIGINT,
    scans       BIGINT,
    source      TEXT NOT NULL,
    user_id     TEXT,
    photo       TEXT,
    key         TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX meter_readings_by_machine ON meter_readings (machine_id, day);
