-- gateway migration 3: the access log as HSLF-FS 2016:40 4 kap. 9 § asks for it, and ready for
-- tens of millions of rows kept at least five years (ADR 0016). Released migrations are never
-- edited.
--
-- Each row now also names the user (actor_name) and the care provider (vårdgivare, the unit's
-- principal, care_provider) as they were at the time of the read. The table is partitioned by
-- month of `at`: an extract for one person or a review of one month reads a few partitions'
-- indexes, and old months can be moved to cheaper storage by an operator without touching the
-- rest. Nothing in samplan deletes a row or a partition; the database refuses UPDATE, DELETE and
-- TRUNCATE on every partition, as it did on the table.

ALTER TABLE access_log RENAME TO access_log_unpartitioned;
ALTER INDEX access_log_person_idx RENAME TO access_log_unpartitioned_person_idx;

CREATE SEQUENCE access_log_row_id;
SELECT setval('access_log_row_id', coalesce((SELECT max(id) FROM access_log_unpartitioned), 0) + 1,
              false);

CREATE TABLE access_log (
    id            bigint      NOT NULL DEFAULT nextval('access_log_row_id'),
    at            timestamptz NOT NULL,
    actor         text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    actor_name    text        CHECK (actor_name IS NULL OR length(actor_name) <= 300),
    unit          text,
    care_provider text        CHECK (care_provider IS NULL OR length(care_provider) <= 300),
    role          text        NOT NULL,
    person_id     text        NOT NULL CHECK (length(person_id) = 26),
    action        text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    sip_id        text        CHECK (sip_id IS NULL OR length(sip_id) = 26),
    request_id    text,
    PRIMARY KEY (at, id)
) PARTITION BY RANGE (at);
ALTER SEQUENCE access_log_row_id OWNED BY access_log.id;

-- The extract (loggutdrag) reads per person; the review per unit and per user.
CREATE INDEX access_log_person_idx ON access_log (person_id, at);
CREATE INDEX access_log_unit_idx ON access_log (unit, at);
CREATE INDEX access_log_actor_idx ON access_log (actor, at);

-- Row triggers on the partitioned table are cloned onto every partition; TRUNCATE triggers are
-- not, so the function that creates a partition adds one to it.
CREATE TRIGGER access_log_refuse_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION samplan_refuse_change();
CREATE TRIGGER access_log_refuse_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change();

-- Makes sure the months from `p_from` to `p_months` months after it have their partitions (UTC
-- months). Runs with the owner's rights, so the service (which may only insert and select) can
-- keep partitions ahead of time: it calls this at start and once a day.
CREATE FUNCTION samplan_access_log_partitions(p_from date, p_months integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    v_month date := date_trunc('month', p_from)::date;
    v_name  text;
    v_made  integer := 0;
BEGIN
    FOR i IN 0..greatest(p_months, 0) LOOP
        v_name := format('access_log_%s', to_char(v_month, 'YYYY_MM'));
        IF to_regclass(v_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF access_log FOR VALUES FROM (%L) TO (%L)',
                v_name,
                (v_month::timestamp AT TIME ZONE 'UTC'),
                ((v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            EXECUTE format(
                'CREATE TRIGGER %I BEFORE TRUNCATE ON %I
                     FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change()',
                v_name || '_refuse_truncate', v_name);
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', v_name);
            v_made := v_made + 1;
        END IF;
        v_month := (v_month + interval '1 month')::date;
    END LOOP;
    RETURN v_made;
END;
$$;
REVOKE ALL ON FUNCTION samplan_access_log_partitions(date, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION samplan_access_log_partitions(date, integer) TO samplan_app;

-- Partitions from the oldest row's month to three months ahead, then the rows move over.
SELECT samplan_access_log_partitions(
    coalesce((SELECT min(at) FROM access_log_unpartitioned), now())::date,
    (extract(year FROM age(now() + interval '3 months',
                           coalesce((SELECT min(at) FROM access_log_unpartitioned), now()))) * 12
     + extract(month FROM age(now() + interval '3 months',
                              coalesce((SELECT min(at) FROM access_log_unpartitioned), now()))))::integer + 1);

INSERT INTO access_log (id, at, actor, unit, role, person_id, action, sip_id, request_id)
SELECT id, at, actor, unit, role, person_id, action, sip_id, request_id
  FROM access_log_unpartitioned;
-- The rows live on in the partitioned table; the old table goes (DROP, not a DELETE of rows,
-- which its trigger would refuse).
DROP TABLE access_log_unpartitioned;

REVOKE ALL ON access_log FROM PUBLIC;
GRANT SELECT, INSERT ON access_log TO samplan_app;
GRANT USAGE ON SEQUENCE access_log_row_id TO samplan_app;
