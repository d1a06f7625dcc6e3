-- eventstore migration 1: the append-only events table, the idempotency table, the hash chain,
-- the append function and the application role. Released migrations are never edited; a change
-- is a new migration.

-- The application role may only INSERT and SELECT. Roles are cluster-wide and several databases
-- (tests) may run this at the same moment, so a concurrent creation is tolerated. This is the
-- one place the role is created: the store's migrations always run before other components'.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'samplan_app') THEN
        CREATE ROLE samplan_app LOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE SEQUENCE events_global_position_seq AS bigint;

CREATE TABLE events (
    -- Drawn by nextval; holes appear when a transaction rolls back. See ADR 0001 for how readers
    -- deliver positions in order without skipping a position that commits late.
    global_position bigint PRIMARY KEY DEFAULT nextval('events_global_position_seq'),
    stream_id       text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_id        text        NOT NULL UNIQUE CHECK (length(event_id) = 26),
    event_type      text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 200),
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    payload         jsonb       NOT NULL,
    actor           text        NOT NULL,
    unit            text,
    role            text        NOT NULL,
    command_id      text,
    correlation_id  text,
    causation_id    text,
    recorded_at     timestamptz NOT NULL,
    hash            bytea       NOT NULL,
    -- Optimistic concurrency: two writers of the same version collide here.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
ALTER SEQUENCE events_global_position_seq OWNED BY events.global_position;

-- The canonical bytes an event's hash covers: the previous hash of the stream and every stored
-- field. A jsonb array is used because its text form is deterministic and unambiguous (strings
-- are quoted and escaped, so no separator can be forged). Time is microseconds since the epoch so
-- the session's TimeZone cannot change the bytes.
-- PL/pgSQL rather than SQL on purpose: the insert trigger calls it once per event, and a SQL
-- function called from PL/pgSQL is planned again on every call while PL/pgSQL caches its plan
-- per session (measured with pgbench: about 20 % more appends per second).
CREATE FUNCTION samplan_event_hash(
    prev_hash bytea, stream_id text, stream_version bigint, event_id text, event_type text,
    schema_version integer, payload jsonb, actor text, unit text, role text, command_id text,
    correlation_id text, causation_id text, recorded_at timestamptz
) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN sha256(
        coalesce(prev_hash, ''::bytea) || convert_to(jsonb_build_array(
            stream_id, stream_version, event_id, event_type, schema_version, payload,
            actor, unit, role, command_id, correlation_id, causation_id,
            (extract(epoch FROM recorded_at) * 1000000)::bigint
        )::text, 'UTF8'));
END
$$;

-- Fills recorded_at and hash. The previous event of the stream is looked up by (stream, version
-- - 1); rows inserted earlier by the same INSERT are visible here because the function is
-- VOLATILE (PostgreSQL "Visibility of Data Changes"), so a multi-event append chains correctly.
-- A missing predecessor is refused: stream versions have no gaps.
-- recorded_at never goes backwards within a stream, so "the stream as of T" is a prefix.
CREATE FUNCTION samplan_events_before_insert() RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    prev_hash bytea;
    prev_recorded_at timestamptz;
BEGIN
    IF NEW.stream_version > 1 THEN
        SELECT e.hash, e.recorded_at INTO prev_hash, prev_recorded_at FROM events e
         WHERE e.stream_id = NEW.stream_id AND e.stream_version = NEW.stream_version - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'stream % has no version %', NEW.stream_id, NEW.stream_version - 1
                USING ERRCODE = 'SP001';
        END IF;
    END IF;
    NEW.recorded_at := greatest(statement_timestamp(), prev_recorded_at);
    NEW.hash := samplan_event_hash(
        prev_hash, NEW.stream_id, NEW.stream_version, NEW.event_id, NEW.event_type,
        NEW.schema_version, NEW.payload, NEW.actor, NEW.unit, NEW.role, NEW.command_id,
        NEW.correlation_id, NEW.causation_id, NEW.recorded_at);
    RETURN NEW;
END
$$;

CREATE TRIGGER events_before_insert BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION samplan_events_before_insert();

-- Append-only for everybody, the owner included. Only a superuser can disable these triggers.
-- One function for every append-only table of every component (events, commands, the gateway's
-- access log): the message names the table the refused statement touched.
CREATE FUNCTION samplan_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% är append-only: % är inte tillåtet', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'SP002';
END
$$;

CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION samplan_refuse_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change();

-- No index on recorded_at: "a stream as of T" goes through (stream_id, stream_version), and
-- every extra index costs each append.

-- Idempotency: one row per command id, written in the same transaction as its events.
CREATE TABLE commands (
    command_id   text        PRIMARY KEY CHECK (length(command_id) BETWEEN 1 AND 200),
    request_hash bytea       NOT NULL,
    stream_id    text        NOT NULL,
    result       jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT statement_timestamp()
);

CREATE TRIGGER commands_refuse_update_delete BEFORE UPDATE OR DELETE ON commands
    FOR EACH ROW EXECUTE FUNCTION samplan_refuse_change();
CREATE TRIGGER commands_refuse_truncate BEFORE TRUNCATE ON commands
    FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change();

-- One append in one round trip. Returns one row:
-- - 'appended': `actual` is the stream version after the append, `positions` the global
--   positions of the new events in version order;
-- - 'replayed': the stored outcome of an earlier command with the same id in `result`, with its
--   request hash so the caller compares;
-- - 'conflict': the expectation failed; `actual` is the current version.
-- expected_kind: 'any', 'no_stream' or 'exact'.
-- A lost race surfaces as unique_violation on events_stream_version_key (or commands_pkey) and
-- is mapped by the caller; no EXCEPTION block here, as that would open a subtransaction per call.
CREATE FUNCTION samplan_append(
    p_stream_id text, p_expected_kind text, p_expected bigint,
    p_event_ids text[], p_event_types text[], p_schema_versions integer[], p_payloads jsonb[],
    p_actors text[], p_units text[], p_roles text[], p_command_ids text[],
    p_correlation_ids text[], p_causation_ids text[],
    p_command_id text, p_request_hash bytea,
    OUT status text, OUT actual bigint, OUT positions bigint[], OUT result jsonb,
    OUT request_hash bytea
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_current bigint;
BEGIN
    IF p_command_id IS NOT NULL THEN
        SELECT c.result, c.request_hash INTO result, request_hash
          FROM commands c WHERE c.command_id = p_command_id;
        IF FOUND THEN
            status := 'replayed';
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(max(e.stream_version), 0) INTO v_current
      FROM events e WHERE e.stream_id = p_stream_id;

    IF (p_expected_kind = 'no_stream' AND v_current <> 0)
       OR (p_expected_kind = 'exact' AND v_current <> p_expected) THEN
        status := 'conflict';
        actual := v_current;
        RETURN;
    END IF;

    -- The transaction id is taken BEFORE any position is drawn: a reader relies on it to tell
    -- a position that may still commit from one that never will (ADR 0001).
    PERFORM pg_current_xact_id();

    WITH ins AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                            payload, actor, unit, role, command_id, correlation_id, causation_id)
        SELECT p_stream_id, v_current + u.ord, u.event_id, u.event_type, u.schema_version,
               u.payload, u.actor, u.unit, u.role, u.command_id, u.correlation_id, u.causation_id
          FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_payloads, p_actors,
                      p_units, p_roles, p_command_ids, p_correlation_ids, p_causation_ids)
               WITH ORDINALITY AS u(event_id, event_type, schema_version, payload, actor, unit,
                                    role, command_id, correlation_id, causation_id, ord)
         ORDER BY u.ord
        RETURNING events.stream_version, events.global_position
    )
    SELECT array_agg(ins.global_position ORDER BY ins.stream_version), max(ins.stream_version)
      INTO positions, actual
      FROM ins;

    IF p_command_id IS NOT NULL THEN
        -- The stored outcome has the shape of the Rust AppendOutcome.
        SELECT jsonb_build_object(
                   'stream_id', p_stream_id,
                   'stream_version', actual,
                   'global_position', positions[array_length(positions, 1)],
                   'events', jsonb_agg(jsonb_build_object(
                       'event_id', u.event_id, 'event_type', u.event_type,
                       'stream_version', v_current + u.ord,
                       'global_position', positions[u.ord]) ORDER BY u.ord),
                   'replayed', false)
          INTO result
          FROM unnest(p_event_ids, p_event_types) WITH ORDINALITY AS u(event_id, event_type, ord);
        INSERT INTO commands (command_id, request_hash, stream_id, result)
        VALUES (p_command_id, p_request_hash, p_stream_id, result);
        request_hash := p_request_hash;
    END IF;

    status := 'appended';
END
$$;

REVOKE ALL ON events, commands FROM PUBLIC;
GRANT SELECT, INSERT ON events, commands TO samplan_app;
GRANT USAGE ON SEQUENCE events_global_position_seq TO samplan_app;
