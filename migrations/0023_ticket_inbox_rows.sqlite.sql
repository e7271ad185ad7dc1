-- SQLite part of migration 23: nothing (its inbox triggers are per row, and a ticket's
-- rows are written by them as for any conversation).
SELECT 1;
