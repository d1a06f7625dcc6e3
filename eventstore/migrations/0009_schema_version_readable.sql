-- The services' role may read which migrations are applied, so that a process running as
-- samplan_app alone (a gateway without the owner's credentials) can tell that the schema is
-- current and start, or say that `samplan migrate` has to run first. It can still change
-- nothing in the schema.
GRANT SELECT ON schema_migrations TO samplan_app;
