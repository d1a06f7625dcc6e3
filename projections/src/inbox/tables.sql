CREATE TABLE units (
    unit_id      text    PRIMARY KEY,
    name         text    NOT NULL,
    uses_samplan boolean NOT NULL,
    version      bigint  NOT NULL
);
CREATE TABLE persons (
    person_id          text    PRIMARY KEY,
    name               text    NOT NULL,
    birth_year         integer NOT NULL,
    protected_identity boolean NOT NULL DEFAULT false,
    protected_position bigint,
    deceased_on        date,
    moved_out_on       date,
    version            bigint  NOT NULL,
    -- The 18th birthday, when a guardian's consent stops counting (projections migration 15).
    adult_on           date,
    -- The guardians registered now, sorted relative ids (projections migration 20).
    guardians          text[]
);
CREATE TABLE plans (
    sip_id        text   PRIMARY KEY,
    person_id     text   NOT NULL,
    version       bigint NOT NULL,
    last_position bigint NOT NULL,
    state         text   NOT NULL
);
CREATE INDEX plans_person_idx ON plans (person_id);
-- The snapshot is compressed with lz4 where the server has it (projections migration 13).
DO $$
BEGIN
    ALTER TABLE plans ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END $$;
CREATE TABLE participants (
    sip_id         text   NOT NULL,
    unit_id        text   NOT NULL,
    since_position bigint NOT NULL,
    PRIMARY KEY (sip_id, unit_id)
);
CREATE TABLE messages (
    unit_id        text        NOT NULL,
    message_id     text        NOT NULL,
    position       bigint      NOT NULL,
    kind           text        NOT NULL,
    subject        text        NOT NULL,
    body           text        NOT NULL,
    sip_id         text        NOT NULL,
    person_id      text        NOT NULL,
    invitation_id  text,
    sender_unit_id text        NOT NULL,
    sender_name    text        NOT NULL,
    sent_at        timestamptz NOT NULL,
    PRIMARY KEY (unit_id, message_id),
    -- The person as this unit may see them (projections migration 14): name and birth year are
    -- absent when the person has protected identity and the unit took part only after it was
    -- marked.
    person_name        text,
    person_birth_year  integer,
    person_protected   boolean     NOT NULL DEFAULT false
);
CREATE INDEX messages_unit_position_idx ON messages (unit_id, position);
CREATE TABLE message_reads (
    unit_id    text        NOT NULL,
    message_id text        NOT NULL,
    user_id    text        NOT NULL,
    read_at    timestamptz NOT NULL,
    position   bigint      NOT NULL,
    PRIMARY KEY (unit_id, message_id, user_id)
);
CREATE INDEX message_reads_position_idx ON message_reads (unit_id, position);
CREATE TABLE message_counts (
    unit_id  text   PRIMARY KEY,
    messages bigint NOT NULL
);
CREATE TABLE read_counts (
    unit_id text   NOT NULL,
    user_id text   NOT NULL,
    reads   bigint NOT NULL,
    PRIMARY KEY (unit_id, user_id)
);
CREATE TABLE todos (
    todo_id          text        PRIMARY KEY,
    unit_id          text        NOT NULL,
    staff_id         text,
    sip_id           text        NOT NULL,
    person_id        text        NOT NULL,
    kind             text        NOT NULL,
    reference        text        NOT NULL,
    title            text        NOT NULL,
    due_at           timestamptz,
    letter           text,
    opened_at        timestamptz NOT NULL,
    opened_position  bigint      NOT NULL,
    changed_position bigint      NOT NULL,
    ended_at         timestamptz,
    ended_position   bigint,
    ended_by         text,
    -- The person as this unit may see them (projections migration 14): name and birth year are
    -- absent when the person has protected identity and the unit took part only after it was
    -- marked.
    person_name        text,
    person_birth_year  integer,
    person_protected   boolean     NOT NULL DEFAULT false,
    -- Not listed before this instant: a reminder well ahead of its deadline; and the name of
    -- the staff member who owes it (projections migration 15).
    shown_from         timestamptz,
    staff_name         text
);
CREATE INDEX todos_open_sip_idx ON todos (sip_id) WHERE ended_position IS NULL;
CREATE INDEX todos_changed_idx ON todos (unit_id, changed_position);
-- The next reminder of a unit (migration 17).
CREATE INDEX todos_reminders_idx ON todos (unit_id, shown_from)
    WHERE ended_at IS NULL AND shown_from IS NOT NULL;
CREATE INDEX todos_open_page_idx ON todos
    (unit_id, (coalesce(due_at, 'infinity'::timestamptz)), todo_id)
    WHERE ended_position IS NULL;
CREATE TABLE ongoing (
    unit_id             text        NOT NULL,
    sip_id              text        NOT NULL,
    person_id           text        NOT NULL,
    phase               text        NOT NULL,
    coordinator_id      text,
    coordinator_name    text,
    coordinator_unit_id text,
    next_meeting_at     timestamptz,
    next_follow_up_on   date,
    owes_documentation  boolean     NOT NULL,
    started_at          timestamptz NOT NULL,
    closed_at           timestamptz,
    changed_position    bigint      NOT NULL,
    PRIMARY KEY (unit_id, sip_id),
    -- The person as this unit may see them (projections migration 14): name and birth year are
    -- absent when the person has protected identity and the unit took part only after it was
    -- marked.
    person_name        text,
    person_birth_year  integer,
    person_protected   boolean     NOT NULL DEFAULT false,
    -- Why the open plan is to be closed (projections migration 15).
    to_be_closed       text,
    -- A plan started at discharge from inpatient care: `discharge`, its track, when the person
    -- was ready for discharge and when they go home (projections migration 24).
    care_context       text,
    track              text,
    discharge_ready_at timestamptz,
    discharged_at      timestamptz
);
CREATE INDEX ongoing_changed_idx ON ongoing (unit_id, changed_position);
CREATE INDEX ongoing_sip_idx ON ongoing (sip_id);
CREATE INDEX ongoing_page_idx ON ongoing
    (unit_id, (closed_at IS NOT NULL), (coalesce(next_meeting_at, 'infinity'::timestamptz)),
     (coalesce(next_follow_up_on, 'infinity'::date)), started_at, sip_id);
CREATE TABLE unit_positions (
    unit_id  text   PRIMARY KEY,
    position bigint NOT NULL
);
