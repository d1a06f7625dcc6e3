//! Writing events: the SQL of every append path and the [`Writer`] that runs it.
//!
//! - A lone append ([`Writer::append_one`]) in its own transaction: the lean insert
//!   ([`LEAN_INSERT_SQL`], ADR 0012) when the append carries no command id and expects an exact
//!   version, `samplan_append` otherwise; with the handling of every race it can lose.
//! - A batch of appends in one transaction ([`Writer::write_batch`]), for group commit
//!   (`group.rs`, which decides *when* to write and *what* goes together; this module decides
//!   *how*). A batch that fails as a whole is written again append by append.
//!
//! Every path answers each append on its own, with the same rules: exact expectations, command
//! ids that replay the first outcome, conflicts that name the stream's actual version.

use std::sync::Arc;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::Db;
use crate::error::{describe, is_connection_lost, StoreError};
use crate::model::{
    AppendOutcome, AppendedEvent, CommandKey, ExpectedVersion, NewEvent, StoredCommand,
};
use crate::wake::Wake;

const APPEND_SQL: &str =
    "SELECT status, actual, positions, result, request_hash FROM samplan_append(\
     $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// The lean append (ADR 0012): events of appends without a command id that expect an exact
/// version (or no stream), inserted at the versions their callers computed, in one plain
/// statement. The unique key `(stream_id, stream_version)` and the hash trigger's predecessor
/// check decide every race (a stale expectation raises unique_violation or SP001 and nothing is
/// written), so nothing is looked up first. The filter takes the transaction id before the
/// first position is drawn (ADR 0001): the planner makes it a one-time filter under the
/// projection that calls the `nextval` default (and a per-row filter, were it one, would still
/// run for a row before that row is projected). Events come as parallel arrays in append
/// order and, within an append, version order, so the trigger finds each predecessor, also one
/// inserted by this statement.
const LEAN_INSERT_SQL: &str = "INSERT INTO events (stream_id, stream_version, \
     event_id, event_type, schema_version, payload, actor, unit, role, command_id, \
     correlation_id, causation_id) \
     SELECT u.stream_id, u.version, u.event_id, u.event_type, u.schema_version, u.payload, \
     u.actor, u.unit, u.role, u.command_id, u.correlation_id, u.causation_id \
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::integer[], \
     $6::jsonb[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) \
     WITH ORDINALITY AS u(stream_id, version, event_id, event_type, schema_version, payload, \
     actor, unit, role, command_id, correlation_id, causation_id, ord) \
     WHERE pg_current_xact_id() IS NOT NULL \
     ORDER BY u.ord \
     RETURNING stream_id, stream_version, global_position";

/// How often an append with `ExpectedVersion::Any` retries after losing a race.
const ANY_RETRIES_MAX: usize = 10;

/// One `samplan_append_batch` call: the appends of a batch that cannot all take the lean path.
const BATCH_SQL: &str = "SELECT idx, status, actual, positions, result, request_hash \
     FROM samplan_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
     $15, $16, $17) ORDER BY idx";

/// One validated append on its way to the database.
pub(crate) struct AppendRequest {
    pub(crate) stream_id: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) command: Option<CommandKey>,
    /// Serialized size of the events' data, to keep a batch's size bounded.
    pub(crate) bytes: usize,
}

impl AppendRequest {
    /// The version of the append's first event when the lean path may write it: no command id
    /// (nothing to record for idempotency) and a definite expectation. Then the unique key
    /// `(stream_id, stream_version)` and the hash trigger's predecessor check decide any race,
    /// and the stream need not be looked up first (migrations 0003 and 0004).
    pub(crate) fn lean_first(&self) -> Option<i64> {
        match (&self.command, self.expected) {
            (None, ExpectedVersion::NoStream) => Some(1),
            (None, ExpectedVersion::Exact(v)) if v >= 0 => Some(v + 1),
            _ => None,
        }
    }
}

/// Writes appends to the database and tells local tailers when something committed.
#[derive(Clone)]
pub(crate) struct Writer {
    pub(crate) db: Db,
    pub(crate) wake: Arc<Wake>,
}

impl Writer {
    /// One append in its own transaction (`samplan_append`), with the handling of every race
    /// it can lose. Group commit falls back to this for the appends of a batch that failed.
    pub(crate) async fn append_one(
        &self,
        request: &AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        let AppendRequest {
            stream_id,
            expected,
            events,
            command,
            ..
        } = request;
        let (stream_id, expected) = (stream_id.as_str(), *expected);
        let (kind, exact) = expectation(expected);
        let command_id = command.as_ref().map(|c| c.command_id.as_str());
        let request_hash = command.as_ref().map(|c| c.request_hash.as_slice());

        // Without a command id and with a definite expectation, the unique key and the hash
        // trigger decide the race by themselves: the lean insert writes the expected versions
        // without looking the stream up first (ADR 0012).
        let lean_first = request.lean_first();
        let mut lean = LeanInsert::default();
        let columns;
        let (sql, params): (_, Vec<&(dyn ToSql + Sync)>) = match lean_first {
            Some(first) => {
                lean.push(stream_id, first, events);
                (LEAN_INSERT_SQL, lean.params())
            }
            None => {
                columns = EventColumns::of(events);
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![&stream_id, &kind, &exact];
                params.extend(columns.params());
                params.extend([&command_id as &(dyn ToSql + Sync), &request_hash]);
                (APPEND_SQL, params)
            }
        };
        let params = &params[..];
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Retried on a lost connection only with a command id: then a first attempt that
            // did commit is recognised and replayed instead of written twice.
            let result = self
                .db
                .with_client(command.is_some(), |client| async move {
                    let stmt = client.prepare_cached(sql).await?;
                    client.query(&stmt, params).await
                })
                .await;
            let rows = match result {
                Ok(rows) => rows,
                Err(StoreError::Database(err)) => {
                    let constraint = err
                        .as_db_error()
                        .filter(|d| *d.code() == SqlState::UNIQUE_VIOLATION)
                        .and_then(|d| d.constraint().map(str::to_owned));
                    let gap = err.code().is_some_and(|c| c.code() == "SP001");
                    if constraint.is_none() && !gap {
                        return Err(StoreError::Database(err));
                    }
                    // A concurrent append with the same command id may have won; it decides.
                    if let Some(key) = command {
                        if let Some(stored) = self.find_command(&key.command_id).await? {
                            return replay(key, stored);
                        }
                    }
                    if constraint.as_deref() == Some("events_event_id_key") {
                        return Err(StoreError::InvalidInput(
                            "händelse-id finns redan i lagret".into(),
                        ));
                    }
                    if expected == ExpectedVersion::Any && attempt < ANY_RETRIES_MAX {
                        continue;
                    }
                    let actual = self.stream_version(stream_id).await?;
                    tracing::debug!(actual, "append lost a race");
                    return Err(StoreError::Conflict {
                        stream_id: stream_id.to_owned(),
                        expected,
                        actual,
                    });
                }
                Err(other) => return Err(other),
            };
            let outcome = match lean_first {
                Some(first) => {
                    let written = Written::from_rows(&rows)?;
                    let positions = written.positions(stream_id, first, events.len())?;
                    outcome_of(stream_id, first, &positions, events)?
                }
                None => {
                    let row = rows.first().ok_or_else(|| {
                        StoreError::Decode("samplan_append svarade utan rad".into())
                    })?;
                    settle(request, row, 0)?
                }
            };
            if !outcome.replayed {
                self.wake.appended(outcome.global_position);
            }
            return Ok(outcome);
        }
    }

    /// The stored command with this id, if any: lets the gateway answer a retry before deciding.
    pub(crate) async fn find_command(
        &self,
        command_id: &str,
    ) -> Result<Option<StoredCommand>, StoreError> {
        let row = self
            .db
            .with_client(true, |client| async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT request_hash, result FROM commands WHERE command_id = $1",
                    )
                    .await?;
                client.query_opt(&stmt, &[&command_id]).await
            })
            .await?;
        row.map(|r| {
            Ok(StoredCommand {
                request_hash: r.try_get(0)?,
                outcome: decode_outcome(r.try_get(1)?)?,
            })
        })
        .transpose()
    }

    /// The stream's current version; 0 when it has no events.
    pub(crate) async fn stream_version(&self, stream_id: &str) -> Result<i64, StoreError> {
        let row = self
            .db
            .with_client(true, |client| async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
                    )
                    .await?;
                client.query_one(&stmt, &[&stream_id]).await
            })
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Writes `batch` in one transaction and hands each append's result to `answer` (with the
    /// append's index) as soon as it is known. A batch that fails as a whole is written again
    /// append by append, so one bad append never decides another's fate.
    pub(crate) async fn write_batch(
        &self,
        batch: &[AppendRequest],
        mut answer: impl FnMut(usize, Result<AppendOutcome, StoreError>),
    ) {
        if let [request] = batch {
            answer(0, self.append_one(request).await);
            return;
        }
        let firsts: Option<Vec<i64>> = batch.iter().map(AppendRequest::lean_first).collect();
        let written = match &firsts {
            Some(firsts) => self.try_lean_batch(batch, firsts).await,
            None => self.try_batch(batch).await,
        };
        match written {
            Ok(results) => {
                let head = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .filter(|o| !o.replayed)
                    .map(|o| o.global_position)
                    .max();
                if let Some(position) = head {
                    self.wake.appended(position);
                }
                for (i, result) in results.into_iter().enumerate() {
                    answer(i, result);
                }
            }
            Err(BatchFailed::NoConnection(err)) => {
                for i in 0..batch.len() {
                    answer(i, Err(copy_of(&err)));
                }
            }
            Err(BatchFailed::Lost(message)) => {
                tracing::info!(error = %message, appends = batch.len(),
                    "connection lost during a group commit; retrying the appends that can be");
                for (i, request) in batch.iter().enumerate() {
                    let result = if request.command.is_some() {
                        self.append_one(request).await
                    } else {
                        Err(StoreError::Unavailable(format!(
                            "anslutningen bröts under skrivningen; om händelserna sparades är \
                             okänt: {message}"
                        )))
                    };
                    answer(i, result);
                }
            }
            Err(BatchFailed::RolledBack(message)) => {
                tracing::debug!(error = %message, appends = batch.len(),
                    "group commit rolled back; writing its appends one by one");
                for (i, request) in batch.iter().enumerate() {
                    answer(i, self.append_one(request).await);
                }
            }
        }
    }

    /// Sends one batch statement on a pooled connection: its rows, or why the batch as a whole
    /// did not go through.
    async fn run_batch(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, BatchFailed> {
        let client = self.db.client().await.map_err(BatchFailed::NoConnection)?;
        let stmt = client.prepare_cached(sql).await.map_err(batch_failed)?;
        client.query(&stmt, params).await.map_err(batch_failed)
    }

    /// One lean insert ([`LEAN_INSERT_SQL`]) for a batch whose appends all take the lean path
    /// ([`AppendRequest::lean_first`]): every event inserted at the version its append expects.
    /// A stale expectation fails the whole statement (unique key or missing predecessor), which
    /// rolls the batch back; the caller then writes its appends one by one.
    async fn try_lean_batch(
        &self,
        batch: &[AppendRequest],
        firsts: &[i64],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, BatchFailed> {
        let mut lean = LeanInsert::default();
        for (request, first) in batch.iter().zip(firsts) {
            lean.push(&request.stream_id, *first, &request.events);
        }
        let rows = self.run_batch(LEAN_INSERT_SQL, &lean.params()).await?;
        // The batch has committed: an answer that cannot be read leaves its appends unknown.
        let written = Written::from_rows(&rows).map_err(|e| BatchFailed::Lost(e.to_string()))?;
        if written.len() != lean.len() {
            return Err(BatchFailed::Lost(format!(
                "lagret skrev {} av {} händelser",
                written.len(),
                lean.len()
            )));
        }
        Ok(batch
            .iter()
            .zip(firsts)
            .map(|(request, first)| {
                let positions =
                    written.positions(&request.stream_id, *first, request.events.len())?;
                outcome_of(&request.stream_id, *first, &positions, &request.events)
            })
            .collect())
    }

    /// One `samplan_append_batch` call for the whole batch: one result per append, in order.
    async fn try_batch(
        &self,
        batch: &[AppendRequest],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, BatchFailed> {
        let mut columns = EventColumns::default();
        let (mut streams, mut kinds, mut exacts) = (Vec::new(), Vec::new(), Vec::new());
        let (mut command_ids, mut request_hashes) = (Vec::new(), Vec::new());
        let (mut owners, mut ords) = (Vec::new(), Vec::new());
        for (i, request) in batch.iter().enumerate() {
            let (kind, exact) = expectation(request.expected);
            streams.push(request.stream_id.as_str());
            kinds.push(kind);
            exacts.push(exact);
            command_ids.push(request.command.as_ref().map(|c| c.command_id.as_str()));
            request_hashes.push(request.command.as_ref().map(|c| c.request_hash.as_slice()));
            for ord in 1..=request.events.len() {
                owners.push(i32::try_from(i + 1).unwrap_or(i32::MAX));
                ords.push(i32::try_from(ord).unwrap_or(i32::MAX));
            }
            columns.extend(&request.events);
        }
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &streams,
            &kinds,
            &exacts,
            &command_ids,
            &request_hashes,
            &owners,
            &ords,
        ];
        params.extend(columns.params());
        let rows = self.run_batch(BATCH_SQL, &params).await?;
        if rows.len() != batch.len() {
            return Err(BatchFailed::Lost(format!(
                "samplan_append_batch gav {} rader för {} appends",
                rows.len(),
                batch.len()
            )));
        }
        Ok(rows
            .iter()
            .zip(batch)
            .map(|(row, request)| settle(request, row, 1))
            .collect())
    }
}

/// What a failed batch statement means for its appends: a broken connection leaves them
/// unknown, anything else rolled the transaction back.
fn batch_failed(err: tokio_postgres::Error) -> BatchFailed {
    if is_connection_lost(&err) {
        BatchFailed::Lost(describe(&err))
    } else {
        BatchFailed::RolledBack(describe(&err))
    }
}

/// Why a batch as a whole did not go through.
enum BatchFailed {
    /// No connection could be had: nothing was sent.
    NoConnection(StoreError),
    /// The connection broke (or the answer made no sense) after the batch was sent: it may or
    /// may not have committed.
    Lost(String),
    /// The database refused the statement: the transaction rolled back, nothing was written.
    RolledBack(String),
}

/// The same error again, for each caller of a batch that could not be sent.
fn copy_of(err: &StoreError) -> StoreError {
    match err {
        StoreError::Unavailable(message) => StoreError::Unavailable(message.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Answers a repeated command id: the stored outcome if the request is the same, an error if not.
fn replay(key: &CommandKey, stored: StoredCommand) -> Result<AppendOutcome, StoreError> {
    if stored.request_hash != key.request_hash {
        return Err(StoreError::IdempotencyKeyReused {
            command_id: key.command_id.clone(),
        });
    }
    tracing::debug!(command_id = %key.command_id, "command replayed");
    Ok(AppendOutcome {
        replayed: true,
        ..stored.outcome
    })
}

/// Turns the five outputs of `samplan_append` (status, actual, positions, result, request
/// hash), starting at column `at` of `row`, into the answer to `request`.
fn settle(request: &AppendRequest, row: &Row, at: usize) -> Result<AppendOutcome, StoreError> {
    let status: &str = row.try_get(at)?;
    match status {
        "appended" => {
            let version: i64 = row.try_get(at + 1)?;
            let positions: Vec<i64> = row.try_get(at + 2)?;
            let first = version - request.events.len() as i64 + 1;
            outcome_of(&request.stream_id, first, &positions, &request.events)
        }
        "replayed" => {
            let stored = StoredCommand {
                request_hash: row.try_get(at + 4)?,
                outcome: decode_outcome(row.try_get(at + 3)?)?,
            };
            let key = request
                .command
                .as_ref()
                .ok_or_else(|| StoreError::Decode("replay utan kommando-id".into()))?;
            replay(key, stored)
        }
        "conflict" => Err(StoreError::Conflict {
            stream_id: request.stream_id.clone(),
            expected: request.expected,
            actual: row.try_get(at + 1)?,
        }),
        other => Err(StoreError::Decode(format!(
            "okänt svar från samplan_append: {other}"
        ))),
    }
}

/// The expectation as `samplan_append` takes it: a kind and, for `exact`, the version.
fn expectation(expected: ExpectedVersion) -> (&'static str, Option<i64>) {
    match expected {
        ExpectedVersion::Any => ("any", None),
        ExpectedVersion::NoStream => ("no_stream", None),
        ExpectedVersion::Exact(v) => ("exact", Some(v)),
    }
}

/// The events of one or more appends as the parallel arrays the SQL functions take.
#[derive(Default)]
struct EventColumns<'a> {
    ids: Vec<String>,
    types: Vec<&'a str>,
    schemas: Vec<i32>,
    payloads: Vec<&'a serde_json::Value>,
    actors: Vec<&'a str>,
    units: Vec<Option<&'a str>>,
    roles: Vec<&'a str>,
    command_ids: Vec<Option<&'a str>>,
    correlations: Vec<Option<&'a str>>,
    causations: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    /// The columns as statement parameters, in the order both SQL functions take them.
    fn params(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.ids,
            &self.types,
            &self.schemas,
            &self.payloads,
            &self.actors,
            &self.units,
            &self.roles,
            &self.command_ids,
            &self.correlations,
            &self.causations,
        ]
    }

    fn of(events: &'a [NewEvent]) -> Self {
        let mut columns = EventColumns::default();
        columns.extend(events);
        columns
    }

    fn extend(&mut self, events: &'a [NewEvent]) {
        for e in events {
            self.ids.push(e.event_id.to_string());
            self.types.push(e.event_type.as_str());
            self.schemas.push(e.schema_version);
            self.payloads.push(&e.data);
            self.actors.push(e.metadata.actor.as_str());
            self.units.push(e.metadata.unit.as_deref());
            self.roles.push(e.metadata.role.as_str());
            self.command_ids.push(e.metadata.command_id.as_deref());
            self.correlations.push(e.metadata.correlation_id.as_deref());
            self.causations.push(e.metadata.causation_id.as_deref());
        }
    }
}

/// The parameters of [`LEAN_INSERT_SQL`] for one or more appends.
#[derive(Default)]
struct LeanInsert<'a> {
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    columns: EventColumns<'a>,
}

impl<'a> LeanInsert<'a> {
    /// Adds an append whose first event gets version `first`.
    fn push(&mut self, stream_id: &'a str, first: i64, events: &'a [NewEvent]) {
        for ord in 0..events.len() as i64 {
            self.streams.push(stream_id);
            self.versions.push(first + ord);
        }
        self.columns.extend(events);
    }

    /// Events added so far.
    fn len(&self) -> usize {
        self.streams.len()
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.streams, &self.versions];
        params.extend(self.columns.params());
        params
    }
}

/// Global positions of freshly inserted events: per stream, (version, position) pairs.
#[derive(Default)]
struct Written {
    by_stream: std::collections::HashMap<String, Vec<(i64, i64)>>,
    events: usize,
}

impl Written {
    /// The rows [`LEAN_INSERT_SQL`] returned: stream, version, position.
    fn from_rows(rows: &[Row]) -> Result<Written, StoreError> {
        let mut written = Written::default();
        for row in rows {
            let stream: String = row.try_get(0)?;
            let entry = (row.try_get::<_, i64>(1)?, row.try_get::<_, i64>(2)?);
            written.events += 1;
            written.by_stream.entry(stream).or_default().push(entry);
        }
        Ok(written)
    }

    /// Rows the insert returned.
    fn len(&self) -> usize {
        self.events
    }

    /// The positions of an append's `count` events from version `first` on, in version order.
    fn positions(&self, stream_id: &str, first: i64, count: usize) -> Result<Vec<i64>, StoreError> {
        let written = self.by_stream.get(stream_id).map(Vec::as_slice);
        (first..first + count as i64)
            .map(|version| {
                written
                    .unwrap_or_default()
                    .iter()
                    .find_map(|&(v, position)| (v == version).then_some(position))
                    .ok_or_else(|| {
                        StoreError::Decode(format!(
                            "händelse {version} i {stream_id} saknas i svaret från lagret"
                        ))
                    })
            })
            .collect()
    }
}

/// The outcome of a fresh append, from the version of its first event and the positions in
/// order.
fn outcome_of(
    stream_id: &str,
    first: i64,
    positions: &[i64],
    events: &[NewEvent],
) -> Result<AppendOutcome, StoreError> {
    if positions.len() != events.len() {
        return Err(StoreError::Decode(format!(
            "samplan_append gav {} positioner för {} händelser",
            positions.len(),
            events.len()
        )));
    }
    let version = first + events.len() as i64 - 1;
    let appended: Vec<AppendedEvent> = events
        .iter()
        .zip(positions)
        .enumerate()
        .map(|(i, (e, p))| AppendedEvent {
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            stream_version: first + i as i64,
            global_position: *p,
        })
        .collect();
    Ok(AppendOutcome {
        stream_id: stream_id.to_owned(),
        stream_version: version,
        global_position: positions.last().copied().unwrap_or_default(),
        events: appended,
        replayed: false,
    })
}

fn decode_outcome(value: serde_json::Value) -> Result<AppendOutcome, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Decode(format!("lagrat utfall: {e}")))
}
