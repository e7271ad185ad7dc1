-- Server secrets every node sharing this database must agree on, made once by whichever
-- node needs one first (`Store::secret_or_create`). The web chat keys its visitor-id
-- signatures with one. Portable SQL, as in 0001_backbone.sql: TEXT values (hex), BIGINT
-- epoch milliseconds.
CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
