-- projections migration 23: the person's page and FHIR export know of a death, and when the
-- person's own record last changed. Released migrations are never edited.
--
-- The FHIR Patient carries what samplan knows (R4 `Patient.deceased[x]`); an outside review found
-- the export without the date the person stream holds, and its `lastUpdated` unmoved by a death
-- or new contact details. Rows written before this migration have neither; the patient read
-- model's rules version changes with it, so every projector rebuilds it on its next start and
-- fills the columns from the events.
ALTER TABLE patient.persons ADD COLUMN died_on date;
ALTER TABLE patient.persons ADD COLUMN changed_at timestamptz;
