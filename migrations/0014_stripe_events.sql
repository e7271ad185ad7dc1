-- Stripe events already handled, by their id: a delivery Stripe repeats is answered and
-- does nothing more. What each did is kept for the record.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
