-- projections migration 13: the inbox's plan snapshots compressed with lz4 where the server has
-- it. Released migrations are never edited.
--
-- A plan's snapshot (`inbox.plans.state`, the plan's state as JSON, 2–3 KB) is rewritten with
-- every event of the plan and read by every `GET /sips/{id}`. Beyond 2 KB PostgreSQL compresses
-- a value before it stores it, by default with pglz: about 16 µs for one snapshot on this
-- project's benchmark machine against 6 µs with lz4, in the projector's transaction, for each
-- event of a plan. Only values written from now on use lz4; those already there stay readable
-- as they are. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE inbox.plans ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server: inbox.plans.state keeps pglz';
END $$;
