#!/bin/bash
# Entry point of both PostgreSQL containers (official image), around its docker-entrypoint.sh.
#
#   PG_ROLE=primary  first start: initdb, then initdb.d/10-samplan.sh creates the roles, the
#                    database and the replication slot. Every start: synchronous_standby_names
#                    from PG_SYNCHRONOUS_STANDBY_NAMES (on the command line, so that a base
#                    backup taken from this server does not carry it to a replica).
#   PG_ROLE=replica  first start (empty data directory): slot standby1 on the primary when it
#                    has none (a restored or promoted primary never has it: slots are not in base
#                    backups), a base backup of the primary streamed with its WAL through that
#                    slot, and a standby.signal: a hot standby that follows the primary as
#                    application_name standby1 (the name the primary's synchronous_standby_names
#                    waits for). The copied postgresql.auto.conf loses the settings that must not
#                    reach a standby: a restore's restore_command and recovery_target* (with them
#                    the standby would stop following and promote itself at the target: two
#                    primaries), an earlier primary_conninfo/primary_slot_name, and
#                    synchronous_standby_names (once promoted it must not wait for a standby it
#                    does not have).
#
# Both: the WAL archive directory belongs to postgres (a fresh named volume belongs to root).
#
# PG_TLS=on (compose.tls.yaml): the server key and certificate from /run/secrets are copied where
# PostgreSQL accepts them (owned by postgres, mode 0600) and the server starts with ssl=on; the
# replica then streams from the primary with sslmode=verify-full against /run/secrets/pg_ca_cert.
# samplan connects with sslmode=verify-full too (compose.tls.yaml; docs/configuration.md,
# "PostgreSQL: authentication and TLS").
set -euo pipefail

archive=/var/lib/postgresql/wal-archive
mkdir -p "$archive"
chown postgres:postgres "$archive"
chmod 0700 "$archive"

if [ "${PG_ROLE:-primary}" = primary ] && [ -n "${PG_SYNCHRONOUS_STANDBY_NAMES:-}" ]; then
  set -- "$@" -c "synchronous_standby_names=$PG_SYNCHRONOUS_STANDBY_NAMES"
fi

ssl_conninfo=""
sslmode=prefer
if [ "${PG_TLS:-off}" = on ]; then
  tls=/var/lib/postgresql/tls
  mkdir -p "$tls"
  install -o postgres -g postgres -m 0600 /run/secrets/pg_server_key "$tls/server.key"
  install -o postgres -g postgres -m 0644 /run/secrets/pg_server_cert "$tls/server.crt"
  install -o postgres -g postgres -m 0644 /run/secrets/pg_ca_cert "$tls/ca.crt"
  set -- "$@" -c ssl=on -c ssl_cert_file="$tls/server.crt" -c ssl_key_file="$tls/server.key"
  ssl_conninfo=" sslmode=verify-full sslrootcert=$tls/ca.crt"
  sslmode=verify-full
fi

if [ "${PG_ROLE:-primary}" = replica ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${PG_PRIMARY_HOST:?the replica needs PG_PRIMARY_HOST}"
  : "${PG_REPLICATION_PASSWORD:?the replica needs PG_REPLICATION_PASSWORD}"
  echo "replica: waiting for the primary at $PG_PRIMARY_HOST"
  until pg_isready -q -d "host=$PG_PRIMARY_HOST port=5432 sslmode=$sslmode${ssl_conninfo:+ sslrootcert=/var/lib/postgresql/tls/ca.crt}"; do sleep 1; done
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  echo "replica: slot standby1 on $PG_PRIMARY_HOST (created when missing)"
  gosu postgres env PGPASSWORD="$PG_REPLICATION_PASSWORD" PGSSLMODE="$sslmode" \
      PGSSLROOTCERT=/var/lib/postgresql/tls/ca.crt \
    psql -v ON_ERROR_STOP=1 -qAt \
      -d "host=$PG_PRIMARY_HOST port=5432 user=replicator dbname=postgres" \
      -c "SELECT pg_create_physical_replication_slot('standby1') WHERE NOT EXISTS
            (SELECT FROM pg_replication_slots WHERE slot_name = 'standby1')" >/dev/null
  echo "replica: base backup from $PG_PRIMARY_HOST (slot standby1)"
  gosu postgres env PGPASSWORD="$PG_REPLICATION_PASSWORD" PGSSLMODE="$sslmode" \
      PGSSLROOTCERT=/var/lib/postgresql/tls/ca.crt \
    pg_basebackup --host="$PG_PRIMARY_HOST" --port=5432 --username=replicator \
      --pgdata="$PGDATA" --wal-method=stream --slot=standby1 --checkpoint=fast --progress
  # Settings of the primary (or of its restore) that a standby must not run with: see above.
  gosu postgres sed -i -E \
    '/^[[:space:]]*(restore_command|recovery_target[a-z_]*|recovery_end_command|primary_conninfo|primary_slot_name|synchronous_standby_names)[[:space:]]*=/d' \
    "$PGDATA/postgresql.auto.conf"
  gosu postgres touch "$PGDATA/standby.signal"
  # Later lines of postgresql.auto.conf win; the password stays in the data directory (0700).
  gosu postgres tee -a "$PGDATA/postgresql.auto.conf" >/dev/null <<CONF
primary_conninfo = 'host=$PG_PRIMARY_HOST port=5432 user=replicator password=$PG_REPLICATION_PASSWORD application_name=standby1$ssl_conninfo'
primary_slot_name = 'standby1'
CONF
fi

exec docker-entrypoint.sh "$@"
