-- SQLite part of migration 22: nothing (a batch of tickets is written statement by
-- statement inside one transaction; the database is in the process, so a statement costs
-- no round trip).
SELECT 1;
