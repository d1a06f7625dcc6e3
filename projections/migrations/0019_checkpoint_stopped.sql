-- projections migration 19: a read model stopped on an event it cannot apply (ADR 0036).
-- Released migrations are never edited.
--
-- stopped_after: the checkpoint the runner could not get past (the event after it, or one of the
--                batch after it, failed in a way a retry will not mend); the read model counts
--                as stopped while its position is not beyond it. NULL: never stopped.
-- stopped_since: when it first stopped there.
-- stopped_error: what failed, as the runner's log says it (no personal data: positions, types,
--                the database's message).
ALTER TABLE projections.checkpoints
    ADD COLUMN stopped_after bigint,
    ADD COLUMN stopped_since timestamptz,
    ADD COLUMN stopped_error text CHECK (stopped_error IS NULL OR length(stopped_error) <= 2000);
