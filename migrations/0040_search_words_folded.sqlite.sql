-- SQLite part of migration 40: nothing. FTS5 streams a word's matches in rowid order, so
-- a search counts and tests a message's row as cheaply as a thread's; folding rows would
-- only rewrite them (see 0040_search_words_folded.postgres.sql).
SELECT 1;
