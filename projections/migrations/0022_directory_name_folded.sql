-- projections migration 22: "Sök patient" finds names with å, ä and ö whatever the database's
-- locale. Released migrations are never edited.
--
-- The search compared the query, lowercased by samplan, with `lower(name)`, which PostgreSQL
-- lowercases by the database's LC_CTYPE: under the C locale (the embedded PostgreSQL's, and a
-- common server default) `lower('Åberg')` stays 'Åberg', so "åberg" found nobody. The folded
-- name is now written by samplan itself, with the same Unicode lowercasing as the query.
-- Rows written before this migration get `lower(name)` here; the directory's rules version
-- changes with it, so every projector rebuilds the directory on its next start and writes
-- samplan's own.
ALTER TABLE directory.persons ADD COLUMN name_folded text;
UPDATE directory.persons SET name_folded = lower(name);
ALTER TABLE directory.persons ALTER COLUMN name_folded SET NOT NULL;
DROP INDEX directory.persons_name_trgm_idx;
DROP INDEX directory.persons_name_lower_idx;
CREATE INDEX persons_name_folded_trgm_idx ON directory.persons
    USING gin (name_folded public.gin_trgm_ops);
