//! The directory read model: persons (with relatives) and units, as "Sök patient", the person
//! card and the unit list need them. Tables in schema `directory`, see
//! `migrations/0001_directory.sql`.
//!
//! [`Directory`] is a [`Projection`] on the runner (`crate::runner`), which follows the store and
//! applies `person-*` and `unit-*` events here in commit order, exactly once. Each row also
//! carries its stream's version, and an event is applied only onto the version before it: an
//! event applied twice or out of order stops the projection instead of silently corrupting the
//! rows.
//!
//! The rows are a function of the events alone (no clock, no random ids), so `runner::rebuild`
//! gives the same tables as the live run.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use domain::person::{PersonEvent, RelativeKind};
use domain::unit::{PrincipalKind, UnitEvent};
use eventstore::RecordedEvent;
use serde::Serialize;
use tokio_postgres::Transaction;

use crate::error::ProjectionError;
use crate::runner::{decode, out_of_order, Mode, Projection};

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "directory";

/// The directory's tables, as migration 1 creates them (a test compares the two), for a rebuild.
/// Names are unqualified: the runner sets the schema.
const TABLES_SQL: &str = "
CREATE TABLE persons (
    person_id                text        PRIMARY KEY,
    personal_identity_number text        NOT NULL,
    name                     text        NOT NULL,
    phone                    text,
    address                  text,
    protected_identity       boolean     NOT NULL DEFAULT false,
    deceased_on              date,
    moved_out_on             date,
    moved_to_region          text,
    registered_at            timestamptz NOT NULL,
    version                  bigint      NOT NULL,
    last_position            bigint      NOT NULL
);
CREATE INDEX persons_pin_idx ON persons (personal_identity_number);
CREATE INDEX persons_name_lower_idx ON persons (lower(name) text_pattern_ops);
CREATE TABLE relatives (
    person_id   text NOT NULL REFERENCES persons (person_id),
    relative_id text NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    phone       text,
    address     text,
    note        text,
    PRIMARY KEY (person_id, relative_id)
);
CREATE TABLE units (
    unit_id        text        PRIMARY KEY,
    name           text        NOT NULL,
    principal_kind text        NOT NULL,
    principal_name text        NOT NULL,
    uses_samplan   boolean     NOT NULL,
    address        text,
    phone          text,
    registered_at  timestamptz NOT NULL,
    version        bigint      NOT NULL,
    last_position  bigint      NOT NULL
);
";

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRow {
    pub person_id: String,
    /// Canonical twelve digits `YYYYMMDDNNNC`.
    pub personal_identity_number: String,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Skyddade personuppgifter.
    pub protected_identity: bool,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub moved_to_region: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// The person stream's version this row reflects.
    pub version: i64,
    /// Global position of the last event applied to this row.
    pub last_position: i64,
}

/// A relative, god man, förvaltare or guardian of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelativeRow {
    pub relative_id: String,
    /// `relative`, `trustee`, `administrator` or `guardian`.
    pub kind: String,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub note: Option<String>,
}

/// A unit as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitRow {
    pub unit_id: String,
    pub name: String,
    /// `region`, `municipality` or `external`.
    pub principal_kind: String,
    pub principal_name: String,
    pub uses_samplan: bool,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub version: i64,
    pub last_position: i64,
}

/// What "Sök patient" searches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonQuery {
    /// Exactly this personnummer, canonical twelve digits (parse the input first).
    PersonalIdentityNumber(String),
    /// A case-insensitive part of the name.
    Name(String),
}

/// The directory projection: persons with their relatives, and units.
#[derive(Debug, Clone, Copy, Default)]
pub struct Directory;

impl Projection for Directory {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "directory"
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        domain::ids::is_person_or_unit_stream(&event.stream_id)
    }

    async fn apply(
        &self,
        tx: &Transaction<'_>,
        event: &RecordedEvent,
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        if let Some(person_id) = event.stream_id.strip_prefix("person-") {
            apply_person(tx, person_id, event, decode(event, PersonEvent::decode)?).await
        } else if let Some(unit_id) = event.stream_id.strip_prefix("unit-") {
            apply_unit(tx, unit_id, event, decode(event, UnitEvent::decode)?).await
        } else {
            // Plans, inboxes: not the directory's business.
            Ok(())
        }
    }
}

fn relative_kind(kind: RelativeKind) -> &'static str {
    match kind {
        RelativeKind::Relative => "relative",
        RelativeKind::Trustee => "trustee",
        RelativeKind::Administrator => "administrator",
        RelativeKind::Guardian => "guardian",
    }
}

fn principal_kind(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Region => "region",
        PrincipalKind::Municipality => "municipality",
        PrincipalKind::External => "external",
    }
}

/// Moves the person row to this event's version; fails if the row is not at the version before
/// (the event was applied already, or one before it is missing).
async fn bump_person(
    tx: &Transaction<'_>,
    person_id: &str,
    event: &RecordedEvent,
    set: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<(), ProjectionError> {
    let n = params.len();
    let sql = format!(
        "UPDATE persons SET version = ${v}::bigint, last_position = ${p}::bigint{comma}{set}
          WHERE person_id = ${id} AND version = ${v}::bigint - 1",
        v = n + 1,
        p = n + 2,
        id = n + 3,
        comma = if set.is_empty() { "" } else { ", " },
    );
    let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.to_vec();
    all.push(&event.stream_version);
    all.push(&event.global_position);
    all.push(&person_id);
    let changed = tx.execute(&sql, &all).await?;
    if changed == 1 {
        Ok(())
    } else {
        Err(out_of_order(event))
    }
}

async fn apply_person(
    tx: &Transaction<'_>,
    person_id: &str,
    event: &RecordedEvent,
    person_event: PersonEvent,
) -> Result<(), ProjectionError> {
    match person_event {
        PersonEvent::PersonRegistered {
            personal_identity_number,
            name,
            phone,
            address,
            recorded_at,
            ..
        } => {
            if event.stream_version != 1 {
                return Err(out_of_order(event));
            }
            let inserted = tx
                .execute(
                    "INSERT INTO persons (person_id, personal_identity_number, name,
                         phone, address, registered_at, version, last_position)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (person_id) DO NOTHING",
                    &[
                        &person_id,
                        &personal_identity_number.as_str(),
                        &name,
                        &phone,
                        &address,
                        &recorded_at,
                        &event.stream_version,
                        &event.global_position,
                    ],
                )
                .await?;
            if inserted != 1 {
                return Err(out_of_order(event));
            }
        }
        PersonEvent::ContactDetailsChanged { phone, address, .. } => {
            bump_person(
                tx,
                person_id,
                event,
                "phone = $1, address = $2",
                &[&phone, &address],
            )
            .await?;
        }
        PersonEvent::RelativeAdded {
            relative_id,
            kind,
            name,
            phone,
            address,
            note,
            ..
        } => {
            bump_person(tx, person_id, event, "", &[]).await?;
            tx.execute(
                "INSERT INTO relatives (person_id, relative_id, kind, name, phone,
                     address, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &person_id,
                    &relative_id,
                    &relative_kind(kind),
                    &name,
                    &phone,
                    &address,
                    &note,
                ],
            )
            .await?;
        }
        PersonEvent::RelativeRemoved { relative_id, .. } => {
            bump_person(tx, person_id, event, "", &[]).await?;
            tx.execute(
                "DELETE FROM relatives WHERE person_id = $1 AND relative_id = $2",
                &[&person_id, &relative_id],
            )
            .await?;
        }
        PersonEvent::ProtectedIdentityMarked { .. } => {
            bump_person(tx, person_id, event, "protected_identity = true", &[]).await?;
        }
        PersonEvent::DeathRegistered { died_on, .. } => {
            bump_person(tx, person_id, event, "deceased_on = $1", &[&died_on]).await?;
        }
        PersonEvent::MovedOutOfRegion {
            moved_on,
            to_region,
            ..
        } => {
            bump_person(
                tx,
                person_id,
                event,
                "moved_out_on = $1, moved_to_region = $2",
                &[&moved_on, &to_region],
            )
            .await?;
        }
    }
    Ok(())
}

async fn apply_unit(
    tx: &Transaction<'_>,
    unit_id: &str,
    event: &RecordedEvent,
    unit_event: UnitEvent,
) -> Result<(), ProjectionError> {
    match unit_event {
        UnitEvent::UnitRegistered {
            name,
            principal,
            uses_samplan,
            address,
            phone,
            registered_at,
            ..
        } => {
            if event.stream_version != 1 {
                return Err(out_of_order(event));
            }
            let inserted = tx
                .execute(
                    "INSERT INTO units (unit_id, name, principal_kind, principal_name,
                         uses_samplan, address, phone, registered_at, version, last_position)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (unit_id) DO NOTHING",
                    &[
                        &unit_id,
                        &name,
                        &principal_kind(principal.kind),
                        &principal.name,
                        &uses_samplan,
                        &address,
                        &phone,
                        &registered_at,
                        &event.stream_version,
                        &event.global_position,
                    ],
                )
                .await?;
            if inserted != 1 {
                return Err(out_of_order(event));
            }
        }
    }
    Ok(())
}

const PERSON_COLUMNS: &str = "person_id, personal_identity_number, name, phone, address, \
     protected_identity, deceased_on, moved_out_on, moved_to_region, registered_at, version, \
     last_position";

fn person_row(r: &tokio_postgres::Row) -> PersonRow {
    PersonRow {
        person_id: r.get(0),
        personal_identity_number: r.get(1),
        name: r.get(2),
        phone: r.get(3),
        address: r.get(4),
        protected_identity: r.get(5),
        deceased_on: r.get(6),
        moved_out_on: r.get(7),
        moved_to_region: r.get(8),
        registered_at: r.get(9),
        version: r.get(10),
        last_position: r.get(11),
    }
}

/// Escapes `%`, `_` and `\` so user input matches literally inside a LIKE pattern.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Persons matching `query`, by name then id, at most `limit`.
pub async fn search_persons(
    pool: &Pool,
    query: &PersonQuery,
    limit: i64,
) -> Result<Vec<PersonRow>, ProjectionError> {
    let client = pool.get().await?;
    let rows = match query {
        PersonQuery::PersonalIdentityNumber(pin) => {
            client
                .query(
                    &format!(
                        "SELECT {PERSON_COLUMNS} FROM directory.persons
                          WHERE personal_identity_number = $1
                          ORDER BY name, person_id LIMIT $2"
                    ),
                    &[pin, &limit],
                )
                .await?
        }
        PersonQuery::Name(part) => {
            let pattern = format!("%{}%", like_literal(&part.to_lowercase()));
            client
                .query(
                    &format!(
                        "SELECT {PERSON_COLUMNS} FROM directory.persons
                          WHERE lower(name) LIKE $1
                          ORDER BY name, person_id LIMIT $2"
                    ),
                    &[&pattern, &limit],
                )
                .await?
        }
    };
    Ok(rows.iter().map(person_row).collect())
}

/// One person, if the directory knows them.
pub async fn person(pool: &Pool, person_id: &str) -> Result<Option<PersonRow>, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {PERSON_COLUMNS} FROM directory.persons WHERE person_id = $1"),
            &[&person_id],
        )
        .await?;
    Ok(row.as_ref().map(person_row))
}

/// A person's relatives, god man, förvaltare and guardians, by kind then name.
pub async fn relatives(pool: &Pool, person_id: &str) -> Result<Vec<RelativeRow>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT relative_id, kind, name, phone, address, note FROM directory.relatives
              WHERE person_id = $1 ORDER BY kind, name, relative_id",
            &[&person_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RelativeRow {
            relative_id: r.get(0),
            kind: r.get(1),
            name: r.get(2),
            phone: r.get(3),
            address: r.get(4),
            note: r.get(5),
        })
        .collect())
}

const UNIT_COLUMNS: &str = "unit_id, name, principal_kind, principal_name, uses_samplan, address, \
     phone, registered_at, version, last_position";

fn unit_row(r: &tokio_postgres::Row) -> UnitRow {
    UnitRow {
        unit_id: r.get(0),
        name: r.get(1),
        principal_kind: r.get(2),
        principal_name: r.get(3),
        uses_samplan: r.get(4),
        address: r.get(5),
        phone: r.get(6),
        registered_at: r.get(7),
        version: r.get(8),
        last_position: r.get(9),
    }
}

/// One unit, if the directory knows it.
pub async fn unit(pool: &Pool, unit_id: &str) -> Result<Option<UnitRow>, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {UNIT_COLUMNS} FROM directory.units WHERE unit_id = $1"),
            &[&unit_id],
        )
        .await?;
    Ok(row.as_ref().map(unit_row))
}

/// Every unit, by principal then name.
pub async fn units(pool: &Pool) -> Result<Vec<UnitRow>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {UNIT_COLUMNS} FROM directory.units
                  ORDER BY principal_name, name, unit_id"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(unit_row).collect())
}
