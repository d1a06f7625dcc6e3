-- gateway migration 1: the access log (Patientdatalagen 4 kap. 3 §): every read of a person's
-- data, by whom, for which unit, when. Released migrations are never edited.
--
-- No names and no personnummer are stored here: the actor is their HSA-id, the person their id.
-- Append-only: the database refuses UPDATE, DELETE and TRUNCATE for every role, the owner included.

-- The role samplan_app and the refusal function come from the event store's migration 1, which
-- always runs first.

CREATE TABLE access_log (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    unit       text,
    role       text        NOT NULL,
    person_id  text        NOT NULL CHECK (length(person_id) = 26),
    action     text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    sip_id     text        CHECK (sip_id IS NULL OR length(sip_id) = 26),
    request_id text
);

-- The extract (loggutdrag) is read per person, newest last.
CREATE INDEX access_log_person_idx ON access_log (person_id, at, id);

CREATE TRIGGER access_log_refuse_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION samplan_refuse_change();
CREATE TRIGGER access_log_refuse_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change();

REVOKE ALL ON access_log FROM PUBLIC;
GRANT SELECT, INSERT ON access_log TO samplan_app;
