-- projections migration 21: when the first invitation was sent and when it was due.
-- Released migrations are never edited.
--
-- Reports gave the working days to the first invitation of plans that were invited, in the
-- month of the invitation, and no share of invitations sent in time: a plan never invited was
-- in no figure, and one invited after eleven months appeared only then (an outside review as a
-- region's analyst). Norrbotten's guidance asks for the kallelse "senast inom tre arbetsdagar".
-- The row now keeps the invitation's time and deadline, and whether a refusal of consent stood
-- at that deadline (no invitation was owed then). The reporting read model's rules were raised
-- with it (RULES 3): its projector rebuilds it (ADR 0034), filling the columns.
ALTER TABLE reporting.plans
    ADD COLUMN invited_at timestamptz,
    ADD COLUMN invitation_due_at timestamptz,
    ADD COLUMN invitation_due_month date,
    ADD COLUMN consent_declined_at_invitation_due boolean NOT NULL DEFAULT false;
