-- projections migration 16: which rules built each read model's rows (ADR 0034).
-- Released migrations are never edited.
--
-- built_by: what a read model's rows depend on besides the events — the version of its code's
--           rules and the settings it applies (the policy profile's deadlines), as
--           `Projection::built_by` writes it. A projector whose rules differ rebuilds the read
--           model beside the live tables and swaps it in. NULL: rows built before samplan kept
--           this, so by rules it cannot name; they are rebuilt once.
ALTER TABLE projections.checkpoints
    ADD COLUMN built_by text CHECK (built_by IS NULL OR length(built_by) <= 300);
