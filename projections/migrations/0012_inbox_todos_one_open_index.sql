-- projections migration 12: one index over a unit's open to-dos, not two. Released migrations
-- are never edited.
--
-- `todos_open_unit_idx` (unit, due time) came before the list's page index of migration 9
-- (unit, due time with a missing one as infinity, id), which leads with the same unit over the
-- same open rows: every query that found its rows by the first finds them by the second (the
-- page, the counts over a page, the urgent ones). Each index costs the projector an entry for
-- every to-do it opens and another whenever one changes or ends, under the command load.
DROP INDEX inbox.todos_open_unit_idx;
