-- projections migration 6: the plan as the person reads it on Min plan (the 1177 mirror).
-- Released migrations are never edited. Only the patient projection writes these tables;
-- `src/patient/tables.sql` holds the same DDL for a rebuild.
--
-- No draft is ever stored here: `plans.document` is domain::sip::patient::PatientPlan, which
-- holds published content only, and `visible` is false until something has been published.
CREATE SCHEMA patient;
SET search_path TO patient;

-- Persons, for the access rules (age from the personnummer, protected identity) and the FHIR
-- Patient resource (address and phone left out when protected).
CREATE TABLE persons (
    person_id                text    PRIMARY KEY,
    personal_identity_number text    NOT NULL,
    name                     text    NOT NULL,
    phone                    text,
    address                  text,
    protected_identity       boolean NOT NULL DEFAULT false,
    version                  bigint  NOT NULL
);
CREATE INDEX persons_pin_idx ON persons (personal_identity_number);
-- Guardians whose own personnummer staff recorded: what links a guardian's sign-in to a child.
CREATE TABLE guardians (
    person_id                text NOT NULL,
    relative_id              text NOT NULL,
    personal_identity_number text NOT NULL,
    name                     text NOT NULL,
    PRIMARY KEY (person_id, relative_id)
);
CREATE INDEX guardians_pin_idx ON guardians (personal_identity_number);
CREATE TABLE plans (
    sip_id        text    PRIMARY KEY,
    person_id     text    NOT NULL,
    visible       boolean NOT NULL,
    document      text    NOT NULL,
    version       bigint  NOT NULL,
    last_position bigint  NOT NULL
);
CREATE INDEX plans_person_idx ON plans (person_id) WHERE visible;

RESET search_path;
GRANT USAGE ON SCHEMA patient TO samplan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA patient TO samplan_app;
