-- projections migration 7: the reporting read model, the facts follow-up statistics are counted
-- from (docs/kpis.md). Released migrations are never edited. Only the reporting projection
-- writes these tables; `src/reporting/tables.sql` holds the same DDL for a rebuild.
--
-- No personal data: no person id, name, personnummer, staff member or free text. A plan is its
-- opaque id (a ULID), the months and instants of its milestones, working-day counts, deadlines
-- and its close reason; units are the public register of care units and their principals.
-- Nothing here comes from a draft (domain::reporting::plan_facts).
CREATE SCHEMA reporting;
SET search_path TO reporting;

-- Every registered unit and its principal (huvudman): what groups plans by region,
-- municipality and unit.
CREATE TABLE units (
    unit_id        text PRIMARY KEY,
    name           text NOT NULL,
    -- region, municipality or external
    principal_kind text NOT NULL,
    principal_name text NOT NULL
);
-- One row per plan: domain::reporting::PlanFacts with each figure's month (the first day of the
-- Swedish calendar month) beside the instant it comes from.
CREATE TABLE plans (
    sip_id                     text        PRIMARY KEY,
    started_month              date        NOT NULL,
    consent_declined_at        timestamptz,
    consent_declined_month     date,
    invited_month              date,
    working_days_to_invitation bigint,
    meeting_held_at            timestamptz,
    meeting_month              date,
    working_days_to_meeting    bigint,
    meeting_due_at             timestamptz,
    meeting_due_month          date,
    follow_up_agreed_on        date,
    follow_up_due_at           timestamptz,
    follow_up_month            date,
    followed_up_on             date,
    closed_at                  timestamptz,
    closed_month               date,
    close_reason               text,
    -- The plan's stream version these facts were folded at.
    version                    bigint      NOT NULL
);
-- The units taking part in each plan, as far as shared (published) content shows.
CREATE TABLE plan_units (
    sip_id  text NOT NULL,
    unit_id text NOT NULL,
    PRIMARY KEY (sip_id, unit_id)
);
CREATE INDEX plan_units_unit_idx ON plan_units (unit_id);
-- Documentation each unit owes after a plan's first meeting, and when it published.
CREATE TABLE contributions (
    sip_id        text        NOT NULL,
    unit_id       text        NOT NULL,
    due_at        timestamptz NOT NULL,
    due_month     date        NOT NULL,
    documented_at timestamptz,
    PRIMARY KEY (sip_id, unit_id)
);

RESET search_path;
GRANT USAGE ON SCHEMA reporting TO samplan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA reporting TO samplan_app;
