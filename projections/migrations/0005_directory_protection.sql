-- projections migration 5: what the directory needs for protected identity and for guardians'
-- own sign-in. Released migrations are never edited.
--
-- protected_position: where protected identity was marked. A unit that took part in one of the
--                     person's plans before it still sees the name; no other unit does, and a
--                     search by name does not find the person for them. Rows marked before this
--                     migration get 0 (no unit took part before it): the name is hidden from
--                     everyone until `samplan rebuild --projection directory` sets the real one.
-- relatives.personal_identity_number: the relative's own personnummer, when recorded; for a
--                     guardian it links their own sign-in on Min plan to the child.
ALTER TABLE directory.persons ADD COLUMN protected_position bigint;
UPDATE directory.persons SET protected_position = 0 WHERE protected_identity;
ALTER TABLE directory.relatives ADD COLUMN personal_identity_number text;
CREATE INDEX relatives_pin_idx ON directory.relatives (personal_identity_number)
    WHERE personal_identity_number IS NOT NULL;
