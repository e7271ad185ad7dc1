-- WhatsApp.
--
-- What a channel says about a delivery beyond its state (WhatsApp's pricing and
-- conversation), as JSON, kept with the receipt.
ALTER TABLE delivery_receipts ADD COLUMN detail TEXT;

-- Numbers added on the WhatsApp settings page (those of the configuration file are not
-- stored): the settings as JSON, credentials included, read at start-up and changed live.
CREATE TABLE whatsapp_numbers (
    name       TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Message templates as the Graph API last listed them, per business number: what the
-- composer offers when the 24-hour window is closed.
CREATE TABLE whatsapp_templates (
    number     TEXT NOT NULL,
    name       TEXT NOT NULL,
    language   TEXT NOT NULL,
    status     TEXT NOT NULL,
    category   TEXT NOT NULL,
    body       TEXT NOT NULL,
    params     BIGINT NOT NULL,
    synced_at  BIGINT NOT NULL,
    PRIMARY KEY (number, name, language)
);
