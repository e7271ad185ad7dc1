
CREATE FUNCTION switchboard_message_blobs() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.attachments <> '[]' THEN
        INSERT INTO message_blobs (blob_key, message_id)
        SELECT DISTINCT a ->> 'blob', NEW.id FROM json_array_elements(NEW.attachments::json) a
        WHERE a ->> 'blob' IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_blobs_on_insert AFTER INSERT ON messages
FOR EACH ROW EXECUTE FUNCTION switchboard_message_blobs();

INSERT INTO message_blobs (blob_key, message_id)
SELECT DISTINCT a ->> 'blob', m.id FROM messages m, json_array_elements(m.attachments::json) a
WHERE m.attachments <> '[]' AND a ->> 'blob' IS NOT NULL
ON CONFLICT DO NOTHING;
