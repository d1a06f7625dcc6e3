-- projections migration 18: whether a refusal of consent stood when the meeting was due.
-- Released migrations are never edited.
--
-- "Meeting in time" leaves out plans that owed no meeting: those whose consent had been
-- declined before the deadline. It judged by the first refusal, so a person who said no and
-- then yes, and whose meeting was never held, dropped out of the figure and the share came out
-- too high (an outside audit found it). The row now says whether the refusal still stood at
-- the deadline. The reporting read model's rules were raised with it (RULES 2): its projector
-- rebuilds it (ADR 0034), filling the column for plans stored before.
ALTER TABLE reporting.plans
    ADD COLUMN consent_declined_at_meeting_due boolean NOT NULL DEFAULT false;
