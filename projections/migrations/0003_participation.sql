-- projections migration 3: which units take part in which person's plans, and since when, for
-- the auditors' access review. Released migrations are never edited. Only the participation
-- projection writes these tables; `src/participation.rs` holds the same DDL for a rebuild.
CREATE SCHEMA participation;

CREATE TABLE participation.plans (
    sip_id    text PRIMARY KEY,
    person_id text NOT NULL
);
CREATE TABLE participation.plan_units (
    sip_id         text        NOT NULL,
    unit_id        text        NOT NULL,
    person_id      text        NOT NULL,
    since          timestamptz NOT NULL,
    since_position bigint      NOT NULL,
    PRIMARY KEY (sip_id, unit_id)
);
CREATE INDEX plan_units_person_idx ON participation.plan_units (person_id, unit_id, since);

GRANT USAGE ON SCHEMA participation TO samplan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA participation TO samplan_app;
