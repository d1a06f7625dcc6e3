-- projections migration 9: the inbox lists read one page in their own order (ADR 0023).
-- Released migrations are never edited.
--
-- To-dos and ongoing plans are listed a page at a time, ordered by a key in which a missing
-- time sorts as infinity. An index in exactly that order lets a page read its 51 rows (and join
-- the person for those only) instead of sorting every open row of the unit first.
CREATE INDEX todos_open_page_idx ON inbox.todos
    (unit_id, (coalesce(due_at, 'infinity'::timestamptz)), todo_id)
    WHERE ended_position IS NULL;
CREATE INDEX ongoing_page_idx ON inbox.ongoing
    (unit_id, (closed_at IS NOT NULL), (coalesce(next_meeting_at, 'infinity'::timestamptz)),
     (coalesce(next_follow_up_on, 'infinity'::date)), started_at, sip_id);
