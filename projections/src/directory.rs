//! The directory read model: persons (with relatives) and units, as "Sök patient", the person
//! card and the unit list need them. Tables in schema `directory`, see
//! `migrations/0001_directory.sql`.
//!
//! [`run`] follows the event store from the checkpoint in commit order and applies `person-*` and
//! `unit-*` events. Each batch of events, its row changes and the new checkpoint are one
//! transaction that first locks the checkpoint row, so an event takes effect exactly once even if
//! a second runner is started by mistake or the process dies mid-batch. Each row also carries its
//! stream's version, and an event is applied only onto the version before it: an event applied
//! twice or out of order stops the projection instead of silently corrupting the rows.
//!
//! The rows are a function of the events alone (no clock, no random ids), so [`reset`] followed
//! by [`run`] rebuilds the same tables.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Transaction;
use deadpool_postgres::{GenericClient, Pool};
use domain::person::{PersonEvent, RelativeKind};
use domain::unit::{PrincipalKind, UnitEvent};
use eventstore::{EventStore, RecordedEvent};
use futures::StreamExt;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "directory";

/// Most events applied in one transaction; a batch is only what the store has ready, so a quiet
/// system applies each event as soon as it commits.
const BATCH_EVENTS_MAX: usize = 256;
/// Backoff after a transient failure (database gone), doubled up to the maximum.
const RETRY_MS_MIN: u64 = 100;
const RETRY_MS_MAX: u64 = 5_000;
/// How often [`wait_for`] looks at the checkpoint, doubled up to the maximum.
const WAIT_POLL_MS_MIN: u64 = 5;
const WAIT_POLL_MS_MAX: u64 = 100;

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

/// Follows the event store and keeps the directory up to date until `cancel` fires.
///
/// Transient failures (database restarting) are logged and retried with backoff; an event that
/// cannot be applied (unknown type, out of order) ends the run with the error, so the process
/// can say which worker stopped and why.
pub async fn run(store: EventStore, cancel: CancellationToken) -> Result<(), ProjectionError> {
    let mut retry_ms = RETRY_MS_MIN;
    loop {
        let result = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            r = follow(&store) => r,
        };
        match result {
            // The tail never ends by itself; if it does, start again from the checkpoint.
            Ok(()) => retry_ms = RETRY_MS_MIN,
            Err(e) if e.is_transient() => {
                tracing::warn!(projection = PROJECTION, error = %e, retry_ms, "projection paused");
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(retry_ms)) => {}
                }
                retry_ms = (retry_ms * 2).min(RETRY_MS_MAX);
            }
            Err(e) => {
                tracing::error!(projection = PROJECTION, error = %e, "projection stopped");
                return Err(e);
            }
        }
    }
}

/// One attempt: tail from the stored checkpoint and apply batches until something fails.
async fn follow(store: &EventStore) -> Result<(), ProjectionError> {
    let pool = store.pool();
    let start = {
        let client = pool.get().await?;
        ensure_checkpoint(&client).await?
    };
    tracing::info!(
        projection = PROJECTION,
        after_position = start,
        "projection following the store"
    );
    let mut batches = Box::pin(store.tail(start).ready_chunks(BATCH_EVENTS_MAX));
    while let Some(batch) = batches.next().await {
        let events = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
        apply_batch(pool, &events).await?;
    }
    Ok(())
}

async fn ensure_checkpoint<C: GenericClient>(client: &C) -> Result<i64, ProjectionError> {
    client
        .execute(
            "INSERT INTO projections.checkpoints (projection, position) VALUES ($1, 0)
             ON CONFLICT (projection) DO NOTHING",
            &[&PROJECTION],
        )
        .await?;
    checkpoint_of(client).await
}

/// Applies `events` (in global order) that lie after the checkpoint, and moves the checkpoint,
/// in one transaction. Events at or before the checkpoint were applied already and are skipped.
/// Returns the checkpoint after the batch.
pub async fn apply_batch(pool: &Pool, events: &[RecordedEvent]) -> Result<i64, ProjectionError> {
    let mut client = pool.get().await?;
    let Some(last) = events.iter().map(|e| e.global_position).max() else {
        return ensure_checkpoint(&client).await;
    };
    if !events
        .iter()
        .any(|e| domain::ids::is_person_or_unit_stream(&e.stream_id))
    {
        // Nothing to apply (plans, inboxes: most of the traffic), so exactly-once does not
        // matter here: the checkpoint only moves forward, in one statement instead of a
        // transaction of five. Committed without waiting for the WAL flush, like a batch below
        // (`set_config(…, true)` lasts until this statement's own commit).
        let moved = client
            .prepare_cached(
                "UPDATE projections.checkpoints
                    SET position = $2, updated_at = statement_timestamp()
                  WHERE projection = $1 AND position < $2
                    AND set_config('synchronous_commit', 'off', true) = 'off'",
            )
            .await?;
        if client.execute(&moved, &[&PROJECTION, &last]).await? == 1 {
            return Ok(last);
        }
        // Not moved: the row is missing (a first batch) or already further on.
        ensure_checkpoint(&client).await?;
        client.execute(&moved, &[&PROJECTION, &last]).await?;
        return checkpoint_of(&client).await;
    }
    // Prepared once per pooled connection: a batch is applied many times a second under load.
    let lock = client
        .prepare_cached(
            "SELECT position FROM projections.checkpoints WHERE projection = $1 FOR UPDATE",
        )
        .await?;
    let moved = client
        .prepare_cached(
            "UPDATE projections.checkpoints SET position = $2, updated_at = statement_timestamp()
              WHERE projection = $1",
        )
        .await?;
    let tx = client.transaction().await?;
    // A read model is derived: if a crash loses this commit, its rows and its checkpoint are
    // lost together and the batch is applied again from the store. So the commit need not wait
    // for the WAL flush (it is visible to readers at once all the same), and the projection does
    // not queue its flushes behind the appends' ones.
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    // The row lock serialises concurrent runners: the second waits, then sees the new position.
    let checkpoint: i64 = match tx.query_opt(&lock, &[&PROJECTION]).await? {
        Some(row) => row.get(0),
        None => {
            // The first batch ever (`follow` creates the row; a direct caller may not have).
            ensure_checkpoint(&tx).await?;
            tx.query_one(&lock, &[&PROJECTION]).await?.get(0)
        }
    };
    let mut last = checkpoint;
    for event in events.iter().filter(|e| e.global_position > checkpoint) {
        apply(&tx, event).await?;
        last = last.max(event.global_position);
    }
    if last > checkpoint {
        tx.execute(&moved, &[&PROJECTION, &last]).await?;
    }
    tx.commit().await?;
    Ok(last)
}

fn decode<T>(
    event: &RecordedEvent,
    decode: impl Fn(&str, i32, serde_json::Value) -> Result<T, domain::event::DecodeError>,
) -> Result<T, ProjectionError> {
    let failed = |reason: String| ProjectionError::Decode {
        position: event.global_position,
        event_type: event.event_type.clone(),
        reason,
    };
    let data = event.data_as().map_err(|e| failed(e.to_string()))?;
    // The domain upgrades old schema versions before deserialising.
    decode(&event.event_type, event.schema_version, data).map_err(|e| failed(e.to_string()))
}

fn out_of_order(event: &RecordedEvent) -> ProjectionError {
    ProjectionError::OutOfOrder {
        position: event.global_position,
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
    }
}

async fn checkpoint_of<C: GenericClient>(client: &C) -> Result<i64, ProjectionError> {
    let row = client
        .query_one(
            "SELECT position FROM projections.checkpoints WHERE projection = $1",
            &[&PROJECTION],
        )
        .await?;
    Ok(row.get(0))
}

async fn apply(tx: &Transaction<'_>, event: &RecordedEvent) -> Result<(), ProjectionError> {
    if let Some(person_id) = event.stream_id.strip_prefix("person-") {
        apply_person(tx, person_id, event, decode(event, PersonEvent::decode)?).await
    } else if let Some(unit_id) = event.stream_id.strip_prefix("unit-") {
        apply_unit(tx, unit_id, event, decode(event, UnitEvent::decode)?).await
    } else {
        // Plans, inboxes: not the directory's business.
        Ok(())
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
        "UPDATE directory.persons SET version = ${v}::bigint, last_position = ${p}::bigint{comma}{set}
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
                    "INSERT INTO directory.persons (person_id, personal_identity_number, name,
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
                "INSERT INTO directory.relatives (person_id, relative_id, kind, name, phone,
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
                "DELETE FROM directory.relatives WHERE person_id = $1 AND relative_id = $2",
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
                    "INSERT INTO directory.units (unit_id, name, principal_kind, principal_name,
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

/// The global position of the last event the directory has applied (0: none).
pub async fn checkpoint(pool: &Pool) -> Result<i64, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT position FROM projections.checkpoints WHERE projection = $1",
            &[&PROJECTION],
        )
        .await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Whether the directory projection has ever started on this database (its tables exist and it
/// has a checkpoint row). A process that does not run it (a tool, a test of the HTTP layer alone)
/// can then tell "behind" from "absent".
pub async fn is_started(pool: &Pool) -> Result<bool, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT to_regclass('projections.checkpoints') IS NOT NULL",
            &[],
        )
        .await?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    let row = client
        .query_opt(
            "SELECT 1 FROM projections.checkpoints WHERE projection = $1",
            &[&PROJECTION],
        )
        .await?;
    Ok(row.is_some())
}

/// Waits until the directory has applied `position` or `wait_ms_max` has passed, and returns
/// where it stands then (compare with `position` to know which).
pub async fn wait_for(
    pool: &Pool,
    position: i64,
    wait_ms_max: u64,
) -> Result<i64, ProjectionError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms_max);
    let mut poll_ms = WAIT_POLL_MS_MIN;
    loop {
        let at = checkpoint(pool).await?;
        let now = tokio::time::Instant::now();
        if at >= position || now >= deadline {
            return Ok(at);
        }
        let pause = Duration::from_millis(poll_ms).min(deadline - now);
        tokio::time::sleep(pause).await;
        poll_ms = (poll_ms * 2).min(WAIT_POLL_MS_MAX);
    }
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

/// Empties the directory and sets its checkpoint to 0, so the next [`run`] rebuilds it from
/// the first event. Stop the projection first; this needs DELETE, which only the projection's
/// own role should have.
pub async fn reset(pool: &Pool) -> Result<(), ProjectionError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    ensure_checkpoint(&tx).await?;
    tx.execute(
        "SELECT position FROM projections.checkpoints WHERE projection = $1 FOR UPDATE",
        &[&PROJECTION],
    )
    .await?;
    tx.batch_execute(
        "DELETE FROM directory.relatives; DELETE FROM directory.persons; DELETE FROM directory.units;",
    )
    .await?;
    tx.execute(
        "UPDATE projections.checkpoints SET position = 0, updated_at = statement_timestamp()
          WHERE projection = $1",
        &[&PROJECTION],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
