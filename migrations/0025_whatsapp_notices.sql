-- The channel a contact's notices (a request's status, an invoice issued) go by:
-- 'whatsapp' for clients who prefer it; NULL or 'email' for mail.
ALTER TABLE contacts ADD COLUMN notice_channel TEXT;

-- "Continue on WhatsApp" from the portal: a one-time code the signed-in client sends from
-- WhatsApp, which joins that WhatsApp number to their contact. Only the code's hash is
-- kept; it is used once, before it expires.
CREATE TABLE whatsapp_handovers (
    code_hash  TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- What the channel last said about an outbound message's delivery beyond its state
-- (WhatsApp's pricing and conversation), as JSON: on the message, as on its receipts.
ALTER TABLE messages ADD COLUMN delivery_detail TEXT;
