-- projections migration 15: reminders ahead of a deadline, whose a to-do is, and plans to be
-- closed. Released migrations are never edited.
--
-- Consent is time-limited ("Samtycket är tidsbegränsat") and a child's guardians stop consenting
-- for them at 18, so the one responsible for a plan gets a to-do to renew consent some weeks
-- before it stops holding. Such a to-do exists from the moment consent is recorded but is not
-- listed before `shown_from`; the lists compare it with their clock when read. The inbox keeps
-- each person's 18th birthday to know when a guardian's consent ends.
--
-- A to-do owed by one staff member showed colleagues only "Tilldelad en kollega": the row now
-- keeps the name the plan recorded for them.
--
-- Pågående SIP showed a plan to be closed (consent withdrawn, protected identity, moved, dead)
-- as if it went on, with its next meeting and follow-up: the row now says why it is to be
-- closed, and shows neither.
--
-- Rows already here have none of these: plans get their reminder and names at their next event,
-- persons their birthday at a rebuild (`samplan rebuild --projection inbox`, docs/runbook.md).
ALTER TABLE inbox.persons ADD COLUMN adult_on date;
ALTER TABLE inbox.todos ADD COLUMN shown_from timestamptz, ADD COLUMN staff_name text;
ALTER TABLE inbox.ongoing ADD COLUMN to_be_closed text;
