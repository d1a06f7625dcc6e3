-- gateway migration 4: one access-log row per read, naming every person the read showed
-- (ADR 0027). Released migrations are never edited.
--
-- A list (Meddelanden, Att göra, Pågående SIP, a search, Min plan of a guardian) shows many
-- persons at once. It was logged as one row per person: fifty rows, each with four index
-- entries, written before the list could be answered — the largest part of the database's work
-- for a list read (docs/benchmarks.md). Such a read is now one row whose `person_ids` names
-- them all; a read of one person's data still fills `person_id`. Exactly one of the two is set.
-- What the log says is unchanged: the extract finds a person in either column and the review
-- counts every person a read showed, as before. Rows written before this migration keep
-- `person_id`; nothing is rewritten (the table refuses UPDATE).

ALTER TABLE access_log ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE access_log ADD COLUMN person_ids text[];
ALTER TABLE access_log ADD CONSTRAINT access_log_one_person_column
    CHECK ((person_id IS NULL) <> (person_ids IS NULL));
ALTER TABLE access_log ADD CONSTRAINT access_log_person_ids_size
    CHECK (person_ids IS NULL
           OR (cardinality(person_ids) >= 2 AND array_position(person_ids, NULL) IS NULL));

-- The extract looks a person up in the arrays too. A GIN index on the partitioned table is
-- created on every partition, and on every partition made later. Partial: GIN would otherwise
-- keep an entry for every NULL, that is for every read of one person, which the extract never
-- asks for (`person_ids @> …` is strict, so it implies `person_ids IS NOT NULL`).
CREATE INDEX access_log_person_ids_idx ON access_log USING gin (person_ids)
    WHERE person_ids IS NOT NULL;
