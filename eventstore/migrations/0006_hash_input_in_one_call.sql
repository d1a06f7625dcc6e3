-- eventstore migration 6: the same hash bytes in one call. Measured on the store's benchmark
-- (8 writers, each append in a group-commit transaction of eight): the hash expression of
-- migration 5 (nine `to_json` calls and two dozen concatenations per event) was about a tenth
-- of a transaction's latency.
--
-- `json_build_array(...)::text` prints exactly the bytes of migration 1's
-- `jsonb_build_array(...)::text` and migration 5's piecewise text: elements separated by ", ",
-- strings through the same JSON escaping, integers as digits, NULL as `null`, and a jsonb
-- argument through jsonb's own output (so the payload prints as its stored jsonb text). Every
-- stored hash still verifies; `integrity.rs` pins the function against migration 1's formula
-- byte for byte (escapes, control characters, unicode, every JSON number form, key order,
-- scalar payloads, NULL metadata, times before 1970).
CREATE OR REPLACE FUNCTION samplan_event_hash(
    prev_hash bytea, stream_id text, stream_version bigint, event_id text, event_type text,
    schema_version integer, payload jsonb, actor text, unit text, role text, command_id text,
    correlation_id text, causation_id text, recorded_at timestamptz
) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN sha256(coalesce(prev_hash, ''::bytea) || convert_to(json_build_array(
        stream_id, stream_version, event_id, event_type, schema_version, payload, actor, unit,
        role, command_id, correlation_id, causation_id,
        (extract(epoch FROM recorded_at) * 1000000)::bigint
    )::text, 'UTF8'));
END
$$;
