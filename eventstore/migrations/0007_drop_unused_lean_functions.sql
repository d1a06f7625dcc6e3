-- eventstore migration 7: drop the lean append functions of migrations 3 and 4. Since ADR 0012
-- lean appends are one plain prepared INSERT (`LEAN_INSERT_SQL` in `src/append.rs`); the
-- functions stayed one release for processes of the previous version during a rolling upgrade,
-- and nothing calls them now. `samplan_append` and `samplan_append_batch` (appends with a command
-- id or an expectation the unique key alone cannot judge) stay.
DROP FUNCTION IF EXISTS samplan_append_lean(
    text, bigint, text[], text[], integer[], jsonb[], text[], text[], text[], text[], text[],
    text[]
);
DROP FUNCTION IF EXISTS samplan_append_lean_batch(
    text[], bigint[], text[], text[], integer[], jsonb[], text[], text[], text[], text[], text[],
    text[]
);
