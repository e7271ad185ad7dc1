-- SQLite part of migration 20: nothing (its triggers are per row and use the keys).
SELECT 1;
