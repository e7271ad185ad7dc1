-- SQLite part of migration 21: nothing (its triggers are per row).
SELECT 1;
