-- projections migration 17: the next reminder of a unit, found without scanning its to-dos.
-- Released migrations are never edited.
--
-- Each open live stream (GET /inbox/events, the start page) waits for the next reminder of its
-- unit and user to be shown (ADR 0033) and looks it up again whenever the unit moves: with a
-- thousand streams open, a thousand look-ups per change. Only reminders have `shown_from`, so the
-- index holds few rows and costs other to-dos nothing.
CREATE INDEX todos_reminders_idx ON inbox.todos (unit_id, shown_from)
    WHERE ended_at IS NULL AND shown_from IS NOT NULL;
