-- projections migration 15: reminders ahead of a deadline, and whose a to-do is. Released
-- migrations are never edited.
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
-- Rows already here have none of these: plans get their reminder and names at their next event,
-- persons their birthday at a rebuild (`samplan rebuild --projection inbox`, docs/runbook.md).
ALTER TABLE inbox.persons ADD COLUMN adult_on date;
ALTER TABLE inbox.todos ADD COLUMN shown_from timestamptz, ADD COLUMN staff_name text;
