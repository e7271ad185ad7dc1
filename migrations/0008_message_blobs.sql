-- Which messages carry which blob, so a download can be checked against who may see a
-- conversation holding it without reading every message's attachments. Kept by a trigger
-- on `messages` in the writing transaction, whatever the insert site (threading, replies,
-- notes), and filled for the messages already stored. Message ids never change (a merge
-- of conversations moves messages, not ids), so a row never goes stale. The trigger
-- differs by backend and follows in 0008_message_blobs.sqlite.sql and
-- 0008_message_blobs.postgres.sql (the same migration, version 8, on each backend).
CREATE TABLE message_blobs (
    blob_key   TEXT NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages (id),
    PRIMARY KEY (blob_key, message_id)
);
