-- projections migration 8: "Sök patient" by any part of a name without reading every person.
-- Released migrations are never edited.
--
-- A search by name is `lower(name) LIKE '%part%'`, which the B-tree on lower(name) cannot serve
-- (it helps only a prefix); a trigram index serves any part of three letters or more. pg_trgm
-- ships with PostgreSQL and is a trusted extension, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE INDEX persons_name_trgm_idx ON directory.persons USING gin (lower(name) public.gin_trgm_ops);
