-- Allowances shared by every node (sign-in and second-factor attempts, sign-in links):
-- one row per key, its GCRA "theoretical arrival time" in epoch-ms. A key whose time has
-- passed is whole again and may be deleted.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
