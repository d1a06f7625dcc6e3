-- projections migration 2: what operators need to know about each runner, beside its position.
-- Released migrations are never edited.
--
-- recorded_at: when the event at `position` was recorded, so that lag in time (now − recorded_at
--              while behind) is on /metrics;
-- holder, leased_at: the process (host:pid) that last took the runner's lease (an advisory lock;
--              the lock is what counts, this is for people), and when.
ALTER TABLE projections.checkpoints
    ADD COLUMN recorded_at timestamptz,
    ADD COLUMN holder      text CHECK (holder IS NULL OR length(holder) <= 300),
    ADD COLUMN leased_at   timestamptz;
