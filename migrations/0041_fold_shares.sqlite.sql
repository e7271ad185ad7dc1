-- SQLite part of migration 41: nothing (SQLite folds no words rows; see
-- 0041_fold_shares.postgres.sql).
SELECT 1;
