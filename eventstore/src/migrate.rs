//! A small, generic migration runner shared by every component that owns tables (eventstore,
//! gateway, projections). Each component has an ordered list of SQL migrations; applied ones are
//! recorded with a checksum in `schema_migrations`, and a released migration that was edited is
//! refused instead of silently diverging between databases.

use crate::connect::{connect, ConnectError, DatabaseTls};
use crate::error::StoreError;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

/// One forward-only migration. `version`s of a component start at 1 and increase by one.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The event store's own migrations.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "append_batch",
        sql: include_str!("../migrations/0002_append_batch.sql"),
    },
    Migration {
        version: 3,
        name: "append_lean",
        sql: include_str!("../migrations/0003_append_lean.sql"),
    },
    Migration {
        version: 4,
        name: "append_lean_batch",
        sql: include_str!("../migrations/0004_append_lean_batch.sql"),
    },
    Migration {
        version: 5,
        name: "cheaper_hash_and_byte_order_ids",
        sql: include_str!("../migrations/0005_cheaper_hash_and_byte_order_ids.sql"),
    },
    Migration {
        version: 6,
        name: "hash_input_in_one_call",
        sql: include_str!("../migrations/0006_hash_input_in_one_call.sql"),
    },
    Migration {
        version: 7,
        name: "drop_unused_lean_functions",
        sql: include_str!("../migrations/0007_drop_unused_lean_functions.sql"),
    },
    Migration {
        version: 8,
        name: "seals",
        sql: include_str!("../migrations/0008_seals.sql"),
    },
    Migration {
        version: 9,
        name: "schema_version_readable",
        sql: include_str!("../migrations/0009_schema_version_readable.sql"),
    },
];

/// Arbitrary but fixed key of the advisory lock that serialises concurrent migrators of one
/// database (two service instances starting at once).
const MIGRATION_LOCK_KEY: i64 = 0x5341_4D50_4C41_4E00; // "SAMPLAN\0"

/// Applies `migrations` of `component` that are not yet applied, in one transaction, as the
/// owner role given by `admin_database_url`, connecting without TLS files (a connection string
/// with `sslmode` then trusts the system's roots). Already-applied migrations are checked
/// against their checksum.
pub async fn migrate(
    admin_database_url: &str,
    component: &str,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    migrate_tls(
        admin_database_url,
        &DatabaseTls::default(),
        component,
        migrations,
    )
    .await
}

/// [`migrate`] with the deployment's TLS files (`SAMPLAN_DATABASE_TLS_*`).
pub async fn migrate_tls(
    admin_database_url: &str,
    tls: &DatabaseTls,
    component: &str,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    check_order(component, migrations)?;
    let mut client = connect(
        admin_database_url,
        tls,
        "samplan-migrate",
        Some(std::time::Duration::from_secs(10)),
    )
    .await
    .map_err(|e| match e {
        // A database that does not exist, a wrong role or password, a socket this user may not
        // open: the settings, which waiting does not mend (an operator review had a daily
        // `audit verify` say "run the check again later" for them).
        ConnectError::Postgres(e) if crate::error::is_refused_by_settings(&e) => {
            StoreError::Migration(format!(
                "kunde inte ansluta för migrering: {}",
                crate::error::describe(&e)
            ))
        }
        ConnectError::Postgres(e) => StoreError::Unavailable(format!(
            "kunde inte ansluta för migrering: {}",
            crate::error::describe(&e)
        )),
        other => other.into(),
    })?;
    migrate_with_client(&mut client, component, migrations).await
}

/// Same as [`migrate`] on a connection the caller already has.
pub async fn migrate_with_client(
    client: &mut tokio_postgres::Client,
    component: &str,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    check_order(component, migrations)?;
    // Nothing to apply: done without a lock or any DDL, so that a role that may not change the
    // schema (samplan_app, as gateways run) starts on a database the owner has migrated.
    if is_current(client, component, migrations).await? {
        return Ok(());
    }
    // Only the database's owner (or a superuser) migrates. Where PUBLIC may still create in
    // schema `public` (PostgreSQL 14 and older), the services' role could otherwise create the
    // store itself and own it, guards and all.
    if !may_migrate(client).await? {
        return Err(not_the_owner(component));
    }
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component  text        NOT NULL,
             version    integer     NOT NULL,
             name       text        NOT NULL,
             checksum   bytea       NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (component, version)
         )",
    )
    .await
    .map_err(|e| match e.code() {
        Some(&SqlState::INSUFFICIENT_PRIVILEGE) => not_the_owner(component),
        _ => e.into(),
    })?;
    let applied = applied(&tx, component).await?;
    for m in migrations {
        let checksum = Sha256::digest(m.sql.as_bytes()).to_vec();
        match applied.get(&m.version) {
            Some(stored) if *stored == checksum => continue,
            Some(_) => {
                return Err(StoreError::Migration(format!(
                    "migrering {} ({}) av {component} har ändrats efter att den släppts; \
                     skriv en ny migrering i stället",
                    m.version, m.name
                )))
            }
            None => {}
        }
        tracing::info!(
            component,
            version = m.version,
            name = m.name,
            "applying migration"
        );
        tx.batch_execute(m.sql).await.map_err(|e| {
            if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
                return not_the_owner(component);
            }
            StoreError::Migration(format!(
                "migrering {} ({}) av {component} misslyckades: {}",
                m.version,
                m.name,
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (component, version, name, checksum)
             VALUES ($1, $2, $3, $4)",
            &[&component, &m.version, &m.name, &checksum],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether every migration of `component` is applied, each as released (a changed checksum is
/// refused as in [`migrate_with_client`]). Reads `schema_migrations` only; a role that may not
/// read it (before migration 9 of the event store granted it) learns nothing and is told "not
/// current".
pub async fn is_current(
    client: &tokio_postgres::Client,
    component: &str,
    migrations: &[Migration],
) -> Result<bool, StoreError> {
    let row = client
        .query_one(
            "SELECT to_regclass('schema_migrations') IS NOT NULL, \
                    CASE WHEN to_regclass('schema_migrations') IS NULL THEN false \
                    ELSE has_table_privilege('schema_migrations', 'SELECT') END, current_user",
            &[],
        )
        .await?;
    let (exists, readable, role): (bool, bool, String) = (row.get(0), row.get(1), row.get(2));
    if exists && !readable {
        // A role without the service's grants: not a database that lacks migrations (an
        // operator review was sent to run `migrate` by that message).
        return Err(StoreError::Migration(format!(
            "rollen {role} får inte läsa samplans tabeller i databasen: använd tjänstens roll \
             (samplan_app i deploy/) eller ge rollen dess rättigheter. (The role may not read \
             samplan's tables: use the service's role, or grant it the same rights.)"
        )));
    }
    if !readable {
        return Ok(false);
    }
    let applied = applied(client, component).await?;
    Ok(migrations.iter().all(|m| {
        applied
            .get(&m.version)
            .is_some_and(|stored| *stored == Sha256::digest(m.sql.as_bytes()).as_slice())
    }))
}

/// Whether the connected role owns the database (or is a member of its owner, or a superuser):
/// the role migrations are applied as.
async fn may_migrate(client: &tokio_postgres::Client) -> Result<bool, StoreError> {
    Ok(client
        .query_one(
            "SELECT pg_has_role(current_user, d.datdba, 'MEMBER') \
                 OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
               FROM pg_database d WHERE d.datname = current_database()",
            &[],
        )
        .await?
        .get(0))
}

/// The applied migrations of `component`: version and checksum.
async fn applied(
    client: &impl tokio_postgres::GenericClient,
    component: &str,
) -> Result<std::collections::HashMap<i32, Vec<u8>>, StoreError> {
    Ok(client
        .query(
            "SELECT version, checksum FROM schema_migrations WHERE component = $1",
            &[&component],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, i32>(0), r.get::<_, Vec<u8>>(1)))
        .collect())
}

/// The database lacks migrations of `component` and the connected role may not apply them.
fn not_the_owner(component: &str) -> StoreError {
    StoreError::Migration(format!(
        "databasen saknar migreringar av {component} för den här versionen av samplan, och \
         rollen äger inte databasen: kör `samplan migrate` som databasens ägare \
         (SAMPLAN_DATABASE_ADMIN_URL) och starta sedan om. (The database lacks this release's \
         migrations of {component} and this role does not own the database: run `samplan \
         migrate` as the owner, then start again.)"
    ))
}

/// Refuses a list whose versions are not 1, 2, 3, …: a hole or duplicate is a programming error
/// that would otherwise apply migrations in a surprising order.
fn check_order(component: &str, migrations: &[Migration]) -> Result<(), StoreError> {
    for (i, m) in migrations.iter().enumerate() {
        let want = i32::try_from(i + 1).unwrap_or(i32::MAX);
        if m.version != want {
            return Err(StoreError::Migration(format!(
                "migreringarna för {component} måste numreras 1, 2, 3 …; \
                 plats {} har version {}",
                i + 1,
                m.version
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_must_be_numbered_from_one_without_holes() {
        let ok = [
            Migration {
                version: 1,
                name: "a",
                sql: "",
            },
            Migration {
                version: 2,
                name: "b",
                sql: "",
            },
        ];
        assert!(check_order("x", &ok).is_ok());
        let hole = [
            Migration {
                version: 1,
                name: "a",
                sql: "",
            },
            Migration {
                version: 3,
                name: "b",
                sql: "",
            },
        ];
        assert!(matches!(
            check_order("x", &hole),
            Err(StoreError::Migration(_))
        ));
    }

    #[test]
    fn store_migrations_are_in_order() {
        assert!(check_order("eventstore", MIGRATIONS).is_ok());
    }
}
