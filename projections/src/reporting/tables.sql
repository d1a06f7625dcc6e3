CREATE TABLE units (
    unit_id        text PRIMARY KEY,
    name           text NOT NULL,
    principal_kind text NOT NULL,
    principal_name text NOT NULL
);
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
    version                    bigint      NOT NULL,
    -- A refusal of consent stood when the meeting was due (migration 18).
    consent_declined_at_meeting_due boolean NOT NULL DEFAULT false,
    -- The first invitation's time and deadline (migration 21).
    invited_at                 timestamptz,
    invitation_due_at          timestamptz,
    invitation_due_month       date,
    consent_declined_at_invitation_due boolean NOT NULL DEFAULT false
);
CREATE TABLE plan_units (
    sip_id  text NOT NULL,
    unit_id text NOT NULL,
    PRIMARY KEY (sip_id, unit_id)
);
CREATE INDEX plan_units_unit_idx ON plan_units (unit_id);
CREATE TABLE contributions (
    sip_id        text        NOT NULL,
    unit_id       text        NOT NULL,
    due_at        timestamptz NOT NULL,
    due_month     date        NOT NULL,
    documented_at timestamptz,
    PRIMARY KEY (sip_id, unit_id)
);
