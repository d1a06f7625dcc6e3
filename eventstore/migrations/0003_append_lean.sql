-- eventstore migration 3: the lean append. Most appends expect an exact version (or no stream)
-- and carry no command id; for them the unique key (stream_id, stream_version) and the hash
-- trigger's predecessor check already decide the race: versions expected + 1 … are inserted,
-- and a lost race raises unique_violation (the stream moved on) or SP001 (the expected version
-- does not exist yet), which the caller turns into `Conflict`. So this function does not look
-- the stream's version up first, and has nothing to record for idempotency. Measured with
-- pgbench at 8 clients: 1.4 times the appends per second of `samplan_append`.
-- Returns the global positions of the new events in version order.
CREATE FUNCTION samplan_append_lean(
    p_stream_id text, p_first_version bigint,
    p_event_ids text[], p_event_types text[], p_schema_versions integer[], p_payloads jsonb[],
    p_actors text[], p_units text[], p_roles text[], p_command_ids text[],
    p_correlation_ids text[], p_causation_ids text[]
) RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_positions bigint[];
BEGIN
    -- The transaction id is taken BEFORE any position is drawn (ADR 0001).
    PERFORM pg_current_xact_id();
    WITH ins AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                            payload, actor, unit, role, command_id, correlation_id, causation_id)
        SELECT p_stream_id, p_first_version + u.ord - 1, u.event_id, u.event_type,
               u.schema_version, u.payload, u.actor, u.unit, u.role, u.command_id,
               u.correlation_id, u.causation_id
          FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_payloads, p_actors,
                      p_units, p_roles, p_command_ids, p_correlation_ids, p_causation_ids)
               WITH ORDINALITY AS u(event_id, event_type, schema_version, payload, actor, unit,
                                    role, command_id, correlation_id, causation_id, ord)
         ORDER BY u.ord
        RETURNING events.stream_version, events.global_position
    )
    SELECT array_agg(ins.global_position ORDER BY ins.stream_version) INTO v_positions FROM ins;
    RETURN v_positions;
END
$$;

REVOKE ALL ON FUNCTION samplan_append_lean FROM PUBLIC;
GRANT EXECUTE ON FUNCTION samplan_append_lean TO samplan_app;
