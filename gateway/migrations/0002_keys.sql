-- gateway migration 2: keys the deployment keeps in its own database. Released migrations are
-- never edited.
--
-- `personnummer`: the key of the keyed digest (HMAC-SHA256) that names a personal identity
-- number's register stream (`pin-<digest>`, ADR 0013). Drawn once, here, from PostgreSQL's
-- strong random source (gen_random_uuid, version 4: 122 random bits each, 244 together), and
-- never changed: the stream names of every number registered so far depend on it. It travels
-- with the database (backups, replicas), so a restored database still finds its numbers; the
-- digest keeps numbers out of stream names, NATS subjects and logs for anyone without it.
CREATE TABLE keys (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    key        bytea       NOT NULL CHECK (length(key) >= 16),
    created_at timestamptz NOT NULL DEFAULT statement_timestamp()
);

INSERT INTO keys (name, key)
VALUES ('personnummer',
        decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

CREATE TRIGGER keys_refuse_update_delete BEFORE UPDATE OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION samplan_refuse_change();
CREATE TRIGGER keys_refuse_truncate BEFORE TRUNCATE ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION samplan_refuse_change();

REVOKE ALL ON keys FROM PUBLIC;
GRANT SELECT ON keys TO samplan_app;
