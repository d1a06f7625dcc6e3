-- projections migration 1: the shared checkpoint table and the person/unit directory read model.
-- Released migrations are never edited; a change is a new migration.
--
-- The directory is what "Sök patient" and the unit list read. It is derived from the event store
-- only: nothing but the directory projection writes these tables, and a rebuild from scratch (drop
-- the rows, reset the checkpoint) gives the same rows.

CREATE SCHEMA IF NOT EXISTS projections;

-- One row per projection: the global position of the last event it has applied. Updated in the
-- same transaction as the projection's rows, so an event's effect and the checkpoint move together
-- (exactly-once effect, also across restarts).
CREATE TABLE projections.checkpoints (
    projection text        PRIMARY KEY CHECK (length(projection) BETWEEN 1 AND 100),
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT statement_timestamp()
);

CREATE SCHEMA directory;

CREATE TABLE directory.persons (
    person_id                text        PRIMARY KEY,
    -- Canonical twelve digits YYYYMMDDNNNC; searched exactly, never logged.
    personal_identity_number text        NOT NULL,
    name                     text        NOT NULL,
    phone                    text,
    address                  text,
    protected_identity       boolean     NOT NULL DEFAULT false,
    deceased_on              date,
    moved_out_on             date,
    moved_to_region          text,
    registered_at            timestamptz NOT NULL,
    -- The person stream's version and the global position of the last event applied to this row.
    version                  bigint      NOT NULL,
    last_position            bigint      NOT NULL
);

-- Not unique: the store is the truth, and a duplicate that slipped through the (eventually
-- consistent) check at registration must still project instead of stopping the projection.
CREATE INDEX persons_pin_idx ON directory.persons (personal_identity_number);
CREATE INDEX persons_name_lower_idx ON directory.persons (lower(name) text_pattern_ops);

-- Närstående, god man, förvaltare, vårdnadshavare.
CREATE TABLE directory.relatives (
    person_id   text NOT NULL REFERENCES directory.persons (person_id),
    relative_id text NOT NULL,
    -- relative, trustee (god man), administrator (förvaltare), guardian (vårdnadshavare)
    kind        text NOT NULL,
    name        text NOT NULL,
    phone       text,
    address     text,
    note        text,
    PRIMARY KEY (person_id, relative_id)
);

CREATE TABLE directory.units (
    unit_id        text        PRIMARY KEY,
    name           text        NOT NULL,
    principal_kind text        NOT NULL,
    principal_name text        NOT NULL,
    uses_samplan   boolean     NOT NULL,
    address        text,
    phone          text,
    registered_at  timestamptz NOT NULL,
    version        bigint      NOT NULL,
    last_position  bigint      NOT NULL
);

-- The role samplan_app is created by the event store's migration 1, which always runs first.
-- The gateway reads the directory; the projection (which may run as the same role) writes it.
GRANT USAGE ON SCHEMA projections, directory TO samplan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON projections.checkpoints TO samplan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA directory TO samplan_app;
