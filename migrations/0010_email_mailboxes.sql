-- Mailboxes added on the email settings page (those of the configuration file are not
-- stored): the settings as JSON, credentials included, read at start-up and changed live.
CREATE TABLE email_mailboxes (
    name       TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
