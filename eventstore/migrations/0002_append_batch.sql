-- eventstore migration 2: group commit. Appends that arrive at the same moment are written by
-- one statement in one transaction (ADR 0006), set-based: one look-up of the streams' versions
-- and stored commands, one INSERT of all their events (the hash-chain trigger runs per row as
-- always), one INSERT of their idempotency records. Per append the outcome is what
-- `samplan_append` would answer: 'appended', 'replayed' or 'conflict'.
--
-- The caller groups so that no stream and no command id occurs twice in one batch; a second
-- append to a stream waits for the next batch, where it sees the first one's events.
--
-- Appends are given as parallel arrays (index i); events as parallel arrays too, each naming
-- its append (`p_event_appends`, an i) and its place in that append (`p_event_ords`, from 1).
-- Returns one row per append, `idx` = i.
-- Anything that raises (a race with another process on the same stream or command id, a
-- duplicate event id, a broken check) rolls back the whole batch; the caller then writes each
-- append on its own with `samplan_append`, so one bad append never decides another's fate.
CREATE FUNCTION samplan_append_batch(
    p_stream_ids text[], p_expected_kinds text[], p_expected bigint[],
    p_command_id text[], p_request_hash bytea[],
    p_event_appends integer[], p_event_ords integer[],
    p_event_ids text[], p_event_types text[], p_schema_versions integer[], p_payloads jsonb[],
    p_actors text[], p_units text[], p_roles text[], p_command_ids text[],
    p_correlation_ids text[], p_causation_ids text[]
)
RETURNS TABLE (idx integer, status text, actual bigint, positions bigint[], result jsonb,
               request_hash bytea)
LANGUAGE plpgsql VOLATILE
-- The statements take arrays, so a custom plan is no better than the generic one; planning
-- them again on every call cost a third of a small batch's time (measured with pgbench). Every
-- look-up here is by key, so sequential scans are ruled out: a generic plan made while the
-- tables were still small (a new deployment) would otherwise scan them until the next ANALYZE.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    v_status text[];
    v_base bigint[];
    v_stored jsonb[];
    v_stored_hash bytea[];
BEGIN
    -- What each append finds: its command already stored, or its stream's current version.
    SELECT array_agg(CASE
               WHEN c.command_id IS NOT NULL THEN 'replayed'
               WHEN (r.kind = 'no_stream' AND cur.version <> 0)
                 OR (r.kind = 'exact' AND cur.version <> r.expected) THEN 'conflict'
               ELSE 'ok' END ORDER BY r.i),
           array_agg(cur.version ORDER BY r.i),
           array_agg(c.result ORDER BY r.i),
           array_agg(c.request_hash ORDER BY r.i)
      INTO v_status, v_base, v_stored, v_stored_hash
      FROM unnest(p_stream_ids, p_expected_kinds, p_expected, p_command_id)
           WITH ORDINALITY AS r(stream_id, kind, expected, command_id, i)
      LEFT JOIN commands c ON c.command_id = r.command_id
     CROSS JOIN LATERAL (SELECT coalesce(max(e.stream_version), 0) AS version
                           FROM events e WHERE e.stream_id = r.stream_id) cur;

    IF NOT 'ok' = ANY (v_status) THEN
        RETURN QUERY
        SELECT r.i::integer, v_status[r.i], v_base[r.i], NULL::bigint[], v_stored[r.i],
               v_stored_hash[r.i]
          FROM generate_subscripts(p_stream_ids, 1) AS r(i);
        RETURN;
    END IF;

    -- The transaction id is taken BEFORE any position is drawn (ADR 0001).
    PERFORM pg_current_xact_id();

    IF p_command_id = array_fill(NULL::text, ARRAY[cardinality(p_command_id)]) THEN
        -- No idempotency records to write: no stored outcome to build either.
        RETURN QUERY
        WITH ins AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                            payload, actor, unit, role, command_id, correlation_id, causation_id)
        SELECT p_stream_ids[u.i], v_base[u.i] + u.ord, u.event_id, u.event_type,
               u.schema_version, u.payload, u.actor, u.unit, u.role, u.command_id,
               u.correlation_id, u.causation_id
          FROM unnest(p_event_appends, p_event_ords, p_event_ids, p_event_types,
                      p_schema_versions, p_payloads, p_actors, p_units, p_roles, p_command_ids,
                      p_correlation_ids, p_causation_ids)
               AS u(i, ord, event_id, event_type, schema_version, payload, actor, unit, role,
                    command_id, correlation_id, causation_id)
         WHERE v_status[u.i] = 'ok'
         ORDER BY u.i, u.ord
        RETURNING events.stream_id, events.stream_version, events.global_position
        ),
        written AS (
            SELECT ins.stream_id, max(ins.stream_version) AS version,
                   array_agg(ins.global_position ORDER BY ins.stream_version) AS positions
              FROM ins
             GROUP BY ins.stream_id
        )
        SELECT r.i::integer,
               CASE WHEN v_status[r.i] = 'ok' THEN 'appended' ELSE v_status[r.i] END,
               CASE WHEN v_status[r.i] = 'ok' THEN w.version ELSE v_base[r.i] END,
               w.positions, v_stored[r.i], v_stored_hash[r.i]
          FROM generate_subscripts(p_stream_ids, 1) AS r(i)
          LEFT JOIN written w ON w.stream_id = p_stream_ids[r.i] AND v_status[r.i] = 'ok'
         ORDER BY r.i;
        RETURN;
    END IF;

    RETURN QUERY
    WITH ins AS (
        -- Rows go in append order and, within an append, in version order: the trigger finds
        -- each event's predecessor, also one inserted earlier by this statement.
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                            payload, actor, unit, role, command_id, correlation_id, causation_id)
        SELECT p_stream_ids[u.i], v_base[u.i] + u.ord, u.event_id, u.event_type,
               u.schema_version, u.payload, u.actor, u.unit, u.role, u.command_id,
               u.correlation_id, u.causation_id
          FROM unnest(p_event_appends, p_event_ords, p_event_ids, p_event_types,
                      p_schema_versions, p_payloads, p_actors, p_units, p_roles, p_command_ids,
                      p_correlation_ids, p_causation_ids)
               AS u(i, ord, event_id, event_type, schema_version, payload, actor, unit, role,
                    command_id, correlation_id, causation_id)
         WHERE v_status[u.i] = 'ok'
         ORDER BY u.i, u.ord
        RETURNING events.stream_id, events.stream_version, events.global_position,
                  events.event_id, events.event_type
    ),
    written AS (
        SELECT ins.stream_id,
               max(ins.stream_version) AS version,
               array_agg(ins.global_position ORDER BY ins.stream_version) AS positions,
               -- The stored outcome has the shape of the Rust AppendOutcome.
               jsonb_build_object(
                   'stream_id', ins.stream_id,
                   'stream_version', max(ins.stream_version),
                   'global_position', max(ins.global_position),
                   'events', jsonb_agg(jsonb_build_object(
                       'event_id', ins.event_id, 'event_type', ins.event_type,
                       'stream_version', ins.stream_version,
                       'global_position', ins.global_position) ORDER BY ins.stream_version),
                   'replayed', false) AS outcome
          FROM ins
         GROUP BY ins.stream_id
    ),
    -- Written whether or not the answer reads it (a data-modifying WITH always runs to the end).
    recorded AS (
        INSERT INTO commands (command_id, request_hash, stream_id, result)
        SELECT p_command_id[r.i], p_request_hash[r.i], w.stream_id, w.outcome
          FROM generate_subscripts(p_stream_ids, 1) AS r(i)
          JOIN written w ON w.stream_id = p_stream_ids[r.i]
         WHERE p_command_id[r.i] IS NOT NULL
        RETURNING commands.command_id
    )
    SELECT r.i::integer,
           CASE WHEN v_status[r.i] = 'ok' THEN 'appended' ELSE v_status[r.i] END,
           CASE WHEN v_status[r.i] = 'ok' THEN w.version ELSE v_base[r.i] END,
           w.positions,
           CASE WHEN v_status[r.i] = 'ok' THEN
                    CASE WHEN p_command_id[r.i] IS NOT NULL THEN w.outcome END
                ELSE v_stored[r.i] END,
           CASE WHEN v_status[r.i] = 'ok' THEN p_request_hash[r.i]
                ELSE v_stored_hash[r.i] END
      FROM generate_subscripts(p_stream_ids, 1) AS r(i)
      LEFT JOIN written w ON w.stream_id = p_stream_ids[r.i] AND v_status[r.i] = 'ok'
     ORDER BY r.i;
END
$$;

REVOKE ALL ON FUNCTION samplan_append_batch FROM PUBLIC;
GRANT EXECUTE ON FUNCTION samplan_append_batch TO samplan_app;
