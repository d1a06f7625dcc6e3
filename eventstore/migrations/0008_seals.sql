-- eventstore migration 8: seals over the whole log. Each stream's hash chain shows an event
-- changed or removed inside a stream, but not the newest event of a stream removed, nor a whole
-- stream: nothing pointed at a stream's head. A seal does, for every event at once: the digest
-- of the hashes of all events after the previous seal up to a position, chained to the previous
-- seal's digest. `EventStore::verify` recomputes every seal from the events, with PostgreSQL's own
-- functions only (the owner may replace samplan's), and seals what came since the last one when
-- every chain and seal holds (ADR 0040).

CREATE TABLE seals (
    seal_no        bigint      PRIMARY KEY CHECK (seal_no >= 1),
    -- The seal covers the events with after_position < global_position <= up_to_position.
    after_position bigint      NOT NULL CHECK (after_position >= 0),
    up_to_position bigint      NOT NULL CHECK (up_to_position > after_position),
    events         bigint      NOT NULL CHECK (events >= 0),
    -- sha256(previous seal's digest || the events' hashes in position order).
    digest         bytea       NOT NULL CHECK (length(digest) = 32),
    sealed_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER seals_refuse_update_delete BEFORE UPDATE OR DELETE ON seals
    FOR EACH ROW EXECUTE FUNCTION samplan_refuse_change();
CREATE TRIGGER seals_refuse_truncate BEFORE TRUNCATE ON seals
    FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change();

GRANT SELECT, INSERT ON seals TO samplan_app;
