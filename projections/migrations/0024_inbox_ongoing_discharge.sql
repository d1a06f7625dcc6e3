-- projections migration 24: Pågående SIP says a plan started at discharge from inpatient care,
-- its track, when the person was ready for discharge and when they go (or went) home. Released
-- migrations are never edited.
--
-- An outside review found the municipality's list showing a red-track plan like any other, so
-- its staff did not see that the person goes home before the meeting. Rows written before this
-- migration have none of it; the inbox read model's rules version changes with it (17), so
-- every projector rebuilds it on its next start and fills the columns from the events.
ALTER TABLE inbox.ongoing ADD COLUMN care_context text;
ALTER TABLE inbox.ongoing ADD COLUMN track text;
ALTER TABLE inbox.ongoing ADD COLUMN discharge_ready_at timestamptz;
ALTER TABLE inbox.ongoing ADD COLUMN discharged_at timestamptz;
