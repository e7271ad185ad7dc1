
CREATE TRIGGER message_blobs_on_insert AFTER INSERT ON messages
WHEN NEW.attachments <> '[]'
BEGIN
    INSERT OR IGNORE INTO message_blobs (blob_key, message_id)
    SELECT json_extract(a.value, '$.blob'), NEW.id FROM json_each(NEW.attachments) a
    WHERE json_extract(a.value, '$.blob') IS NOT NULL;
END;

INSERT OR IGNORE INTO message_blobs (blob_key, message_id)
SELECT json_extract(a.value, '$.blob'), m.id FROM messages m, json_each(m.attachments) a
WHERE m.attachments <> '[]' AND json_extract(a.value, '$.blob') IS NOT NULL;
