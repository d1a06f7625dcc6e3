#!/bin/bash
# Runs once, on the primary's first start (docker-entrypoint-initdb.d), as the superuser:
#
# - samplan_owner: owns the database and runs `samplan migrate` and `samplan rebuild`
#   (SAMPLAN_DATABASE_ADMIN_URL), given to `migrate` and the projectors only; gateways and
#   relays run as samplan_app alone.
# - samplan_app: the services' role (SAMPLAN_DATABASE_URL). The event store's first migration
#   creates it without a password when it does not exist; creating it here first gives it one.
#   The migrations grant it INSERT and SELECT on the events, never UPDATE or DELETE.
# - replicator: streaming replication and base backups, nothing else.
# - slot standby1: the primary keeps the WAL the replica has not received yet
#   (max_slot_wal_keep_size caps how much).
set -euo pipefail
: "${DB_OWNER_PASSWORD:?}" "${DB_APP_PASSWORD:?}" "${DB_REPLICATION_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$DB_OWNER_PASSWORD" \
  -v app_password="$DB_APP_PASSWORD" \
  -v replication_password="$DB_REPLICATION_PASSWORD" <<'SQL'
-- The server already runs with synchronous_standby_names, and the replica does not exist yet:
-- these commits must not wait for it.
SET synchronous_commit = local;
SET password_encryption = 'scram-sha-256';
CREATE ROLE samplan_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE samplan_app LOGIN PASSWORD :'app_password';
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'replication_password';
CREATE DATABASE samplan OWNER samplan_owner ENCODING 'UTF8';
REVOKE ALL ON DATABASE samplan FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE samplan TO samplan_app;
SELECT pg_create_physical_replication_slot('standby1');
SQL

# Password logins over the network only (the image adds `host all all all scram-sha-256`);
# replication connections are a separate rule.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"

# With TLS (compose.tls.yaml, PG_TLS=on) the samplan database refuses logins without it, so a
# samplan process configured without sslmode fails at start instead of talking in plain text.
# The first matching line decides: this one goes before the image's `host all all all` line.
if [ "${PG_TLS:-off}" = on ]; then
  sed -i '1i hostnossl samplan all all reject' "$PGDATA/pg_hba.conf"
fi
