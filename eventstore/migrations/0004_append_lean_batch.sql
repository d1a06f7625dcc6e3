-- eventstore migration 4: the lean batch. Group commit (ADR 0006) writes most batches with this
-- function: appends without a command id that expect an exact version or no stream. As in the
-- lean single append (migration 0003), the unique key (stream_id, stream_version) and the hash
-- trigger's predecessor check decide every race, so nothing is looked up first: each event is
-- inserted at the version its caller computed (expected + 1, + 2, …). An append whose
-- expectation was stale raises unique_violation (or SP001) and rolls the whole batch back; the
-- caller then writes the batch's appends one by one, each with its own answer (ADR 0009).
-- Measured with pgbench, batches of eight appends at 8 clients: about 1.5 times the appends per
-- second of `samplan_append_batch`, whose set-based look-ups cost more than the inserts.
--
-- Events are given as parallel arrays, in append order and, within an append, version order
-- (so the trigger finds each predecessor, also one inserted by this statement). Returns the
-- stream, version and global position of every event written.
CREATE FUNCTION samplan_append_lean_batch(
    p_stream_ids text[], p_versions bigint[],
    p_event_ids text[], p_event_types text[], p_schema_versions integer[], p_payloads jsonb[],
    p_actors text[], p_units text[], p_roles text[], p_command_ids text[],
    p_correlation_ids text[], p_causation_ids text[],
    OUT stream_ids text[], OUT versions bigint[], OUT positions bigint[]
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- The transaction id is taken BEFORE any position is drawn (ADR 0001).
    PERFORM pg_current_xact_id();
    WITH ins AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                            payload, actor, unit, role, command_id, correlation_id, causation_id)
        SELECT u.stream_id, u.version, u.event_id, u.event_type, u.schema_version, u.payload,
               u.actor, u.unit, u.role, u.command_id, u.correlation_id, u.causation_id
          FROM unnest(p_stream_ids, p_versions, p_event_ids, p_event_types, p_schema_versions,
                      p_payloads, p_actors, p_units, p_roles, p_command_ids, p_correlation_ids,
                      p_causation_ids)
               WITH ORDINALITY AS u(stream_id, version, event_id, event_type, schema_version,
                                    payload, actor, unit, role, command_id, correlation_id,
                                    causation_id, ord)
         ORDER BY u.ord
        RETURNING events.stream_id, events.stream_version, events.global_position
    )
    SELECT array_agg(ins.stream_id), array_agg(ins.stream_version),
           array_agg(ins.global_position)
      INTO stream_ids, versions, positions
      FROM ins;
END
$$;

REVOKE ALL ON FUNCTION samplan_append_lean_batch FROM PUBLIC;
GRANT EXECUTE ON FUNCTION samplan_append_lean_batch TO samplan_app;
