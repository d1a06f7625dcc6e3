//! `EventStore`: the pool, the append path and the read paths. The SQL that does the real work
//! (the append function, the hash trigger) lives in `migrations/`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::StreamExt;
use serde_json::value::RawValue;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{NoTls, Row};
use ulid::Ulid;

use crate::config::StoreConfig;
use crate::error::{describe, is_connection_lost, StoreError};
use crate::group::{AppendRequest, GroupCommit, Submitted};
use crate::migrate::{migrate, MIGRATIONS};
use crate::model::{
    AppendOutcome, AppendedEvent, BrokenLink, BrokenReason, CommandKey, ExpectedVersion, Metadata,
    NewEvent, RecordedEvent, StoredCommand, VerifyReport,
};
use crate::wake::Wake;
use crate::COMPONENT;

/// The columns every read returns, in the order [`decode_event`] expects.
pub(crate) const EVENT_COLUMNS: &str = "global_position, stream_id, stream_version, event_id, \
     event_type, schema_version, recorded_at, payload, actor, unit, role, command_id, \
     correlation_id, causation_id, hash";

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
pub(crate) const LEAN_INSERT_SQL: &str = "INSERT INTO events (stream_id, stream_version, \
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

/// Handle to the store. Cheap to clone; all clones share one pool and one wake-up channel.
#[derive(Clone)]
pub struct EventStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) config: StoreConfig,
    pub(crate) wake: Wake,
    pub(crate) group_commit: GroupCommit,
}

impl EventStore {
    /// Builds the pool. Connections are opened lazily; the first call that needs one reports
    /// `Unavailable` if the server cannot be reached.
    pub async fn connect(cfg: StoreConfig) -> Result<EventStore, StoreError> {
        let mut pg: tokio_postgres::Config = cfg
            .database_url
            .parse()
            .map_err(|e| StoreError::InvalidInput(format!("ogiltig databas-URL: {e}")))?;
        if cfg.connect_timeout_ms > 0 {
            pg.connect_timeout(Duration::from_millis(cfg.connect_timeout_ms));
        }
        // Both settings are per connection: every pooled connection gets them at login.
        pg.options(format!(
            "-c statement_timeout={} -c TimeZone=UTC",
            cfg.statement_timeout_ms
        ));
        pg.application_name("samplan-eventstore");
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                // `is_closed` is enough: a connection whose server went away is discarded
                // when it is returned or handed out, so a restart costs at most one error.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_size_max.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(timeout(cfg.wait_timeout_ms))
            .create_timeout(timeout(cfg.connect_timeout_ms))
            .recycle_timeout(timeout(cfg.connect_timeout_ms))
            .build()
            .map_err(|e| StoreError::InvalidInput(format!("anslutningspoolen: {e}")))?;
        let wake = Wake::new(pool.clone(), cfg.clone());
        let inner = Arc::new_cyclic(|weak| Inner {
            group_commit: GroupCommit::start(weak.clone(), &cfg),
            pool,
            config: cfg,
            wake,
        });
        Ok(EventStore { inner })
    }

    /// Applies the event store's migrations as the owner role (`samplan migrate`, service start).
    pub async fn migrate(admin_database_url: &str) -> Result<(), StoreError> {
        migrate(admin_database_url, COMPONENT, MIGRATIONS).await
    }

    /// The pool, for other components' own tables in the same database.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.inner.pool.get().await?)
    }

    /// Runs `work` on a pooled connection. When the connection turns out to be dead (the
    /// server restarted or terminated it) and `idempotent` is true, the work is retried on
    /// another connection: every pooled connection may be dead after a restart, and the pool
    /// only notices one at a time. Failures to connect are not retried here; they surface as
    /// `Unavailable` at once.
    pub(crate) async fn with_client<T, F, Fut>(
        &self,
        idempotent: bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        F: Fn(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let attempts_max = if idempotent {
            self.inner.config.pool_size_max.max(1) + 1
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.client().await?;
            match work(client).await {
                Ok(value) => return Ok(value),
                Err(err) if attempt < attempts_max && is_connection_lost(&err) => {
                    tracing::info!(error = %describe(&err), "database connection lost; retrying");
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Appends `events` to `stream_id` atomically, if the stream is at `expected`.
    ///
    /// With a `command` key, a repeated command id returns the first outcome (`replayed: true`)
    /// and writes nothing; the same id with another request hash is
    /// [`StoreError::IdempotencyKeyReused`].
    ///
    /// Appends that arrive while others are being written share their transaction (group
    /// commit, ADR 0006); each is still judged, and answered, on its own, and only after the
    /// transaction that holds it has committed.
    #[tracing::instrument(
        name = "eventstore.append",
        skip(self, events, command),
        fields(stream_id = %stream_id, events = events.len(), global_position)
    )]
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: Option<CommandKey>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::InvalidInput(
                "en append måste innehålla minst en händelse".into(),
            ));
        }
        let max = self.inner.config.payload_bytes_max;
        let mut total = 0;
        for e in &events {
            // The limit is on the serialized JSON, which is what a client sent and what the
            // database stores (give or take jsonb's own layout).
            let bytes = serde_json::to_vec(&e.data)
                .map_err(|err| StoreError::InvalidInput(err.to_string()))?
                .len();
            if bytes > max {
                return Err(StoreError::PayloadTooLarge { bytes, max });
            }
            total += bytes;
        }
        let request = AppendRequest {
            stream_id: stream_id.to_owned(),
            expected,
            events,
            command,
            bytes: total,
        };
        let outcome = match self.inner.group_commit.submit(request).await {
            Submitted::Answered(result) => result?,
            Submitted::Direct(request) => self.append_one(&request).await?,
        };
        tracing::Span::current().record("global_position", outcome.global_position);
        Ok(outcome)
    }

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
                self.inner.wake.appended(outcome.global_position);
            }
            return Ok(outcome);
        }
    }

    /// The stored command with this id, if any: lets the gateway answer a retry before deciding.
    pub async fn find_command(
        &self,
        command_id: &str,
    ) -> Result<Option<StoredCommand>, StoreError> {
        let row = self
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
    pub async fn stream_version(&self, stream_id: &str) -> Result<i64, StoreError> {
        let row = self
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

    /// Events of one stream with version >= `from_version`, ascending.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version"
        );
        self.query_events(&sql, &[&stream_id, &from_version], 0)
            .await
    }

    /// Every event of several streams in one query: grouped by stream (in the order of
    /// `stream_ids`' sorted ids), ascending versions within each. Loading the facts of a
    /// command (a person and a few units) costs one round trip instead of one per stream.
    pub async fn read_streams(
        &self,
        stream_ids: &[&str],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ANY($1) \
             ORDER BY stream_id, stream_version"
        );
        self.query_events(&sql, &[&stream_ids], 0).await
    }

    /// The stream as it stood at `as_of`: its events recorded at or before that time.
    /// `recorded_at` never decreases within a stream, so this is always a prefix of the stream.
    pub async fn read_stream_as_of(
        &self,
        stream_id: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND recorded_at <= $2 \
             ORDER BY stream_version"
        );
        self.query_events(&sql, &[&stream_id, &as_of], 0).await
    }

    /// Up to `limit` committed events with position > `after_position`, ascending.
    ///
    /// This is what is committed now. A position that is missing may still appear later (its
    /// transaction was in flight); consumers that must see every event once use [`Self::tail`],
    /// or read only up to [`Self::head_position`].
    pub async fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_all_filtered(None, after_position, limit).await
    }

    /// Like [`Self::read_all`], restricted to one stream when `stream_id` is given (the audit
    /// API's `?stream=`).
    pub async fn read_all_filtered(
        &self,
        stream_id: Option<&str>,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // The limit is part of the statement text, not a parameter: a plan that knows it reads
        // a batch walks the index instead of sorting the table (see `tail`). Callers use a few
        // batch sizes, so only a few statements are prepared.
        let capacity = limit.min(10_000);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match stream_id {
            None => {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > $1 \
                     ORDER BY global_position LIMIT {limit}"
                );
                self.query_events(&sql, &[&after_position], capacity).await
            }
            Some(stream) => {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 \
                     AND global_position > $2 ORDER BY global_position LIMIT {limit}"
                );
                self.query_events(&sql, &[&stream, &after_position], 0)
                    .await
            }
        }
    }

    /// The highest position up to which everything is settled: every position at or below it
    /// is either committed or will never exist. A tailer started at 0 delivers all events up to
    /// here without waiting. Costs a transaction id and waits for transactions that were
    /// running when it was called (normally milliseconds; at most `statement_timeout_ms`, then
    /// `Unavailable`).
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        // The xid is taken in the same statement as the max, so after its snapshot: every
        // transaction that drew a position at or below the max took its xid before ours.
        let stmt = client
            .prepare_cached(
                "SELECT coalesce(max(global_position), 0), pg_current_xact_id()::text::bigint \
                 FROM events",
            )
            .await?;
        let row = client.query_one(&stmt, &[]).await?;
        let head: i64 = row.try_get(0)?;
        let bound: i64 = row.try_get(1)?;
        let xmin = client
            .prepare_cached("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .await?;
        // A forgotten open transaction would hold this forever; give up like a statement would.
        let wait_ms_max = match self.inner.config.statement_timeout_ms {
            0 => 30_000,
            ms => ms,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms_max);
        let mut pause = Duration::from_millis(1);
        loop {
            let current: i64 = client.query_one(&xmin, &[]).await?.try_get(0)?;
            if current >= bound {
                return Ok(head);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "en transaktion som startade före positionen {head} pågår fortfarande \
                     efter {wait_ms_max} ms"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Recomputes every hash chain in the database and reports the first broken link of each
    /// damaged stream.
    #[tracing::instrument(name = "eventstore.verify", skip(self))]
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH chain AS (
                     SELECT stream_id, stream_version, event_id, hash,
                            lag(stream_version) OVER w AS prev_version,
                            samplan_event_hash(lag(hash) OVER w, stream_id, stream_version,
                                event_id, event_type, schema_version, payload, actor, unit, role,
                                command_id, correlation_id, causation_id, recorded_at) AS computed
                       FROM events
                     WINDOW w AS (PARTITION BY stream_id ORDER BY stream_version)
                 ),
                 judged AS (
                     SELECT stream_id, stream_version, event_id,
                            CASE WHEN stream_version <> coalesce(prev_version, 0) + 1 THEN 'gap'
                                 WHEN computed <> hash THEN 'hash' END AS reason
                       FROM chain
                 )
                 SELECT stream_id, stream_version, event_id, reason,
                        (SELECT count(DISTINCT stream_id) FROM events),
                        (SELECT count(*) FROM events)
                   FROM (SELECT DISTINCT ON (stream_id) * FROM judged
                          WHERE reason IS NOT NULL ORDER BY stream_id, stream_version) broken
                  RIGHT JOIN (SELECT 1) one ON true
                  ORDER BY stream_id",
                &[],
            )
            .await?;
        let mut report = VerifyReport {
            streams_checked: 0,
            events_checked: 0,
            broken: Vec::new(),
        };
        for row in rows {
            report.streams_checked = row.try_get(4)?;
            report.events_checked = row.try_get(5)?;
            let Some(stream_id) = row.try_get::<_, Option<String>>(0)? else {
                continue;
            };
            let reason: String = row.try_get(3)?;
            report.broken.push(BrokenLink {
                stream_id,
                stream_version: row.try_get(1)?,
                event_id: row.try_get(2)?,
                reason: if reason == "gap" {
                    BrokenReason::VersionGap
                } else {
                    BrokenReason::HashMismatch
                },
            });
        }
        if !report.broken.is_empty() {
            tracing::warn!(
                broken = report.broken.len(),
                "hash chain verification failed"
            );
        }
        Ok(report)
    }

    async fn query_events(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        expected_rows: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.with_client(true, |client| async move {
            let stmt = client.prepare_cached(sql).await?;
            // Rows are decoded as they arrive, so the server produces the next rows while
            // this side turns the previous ones into values (both share two cores here).
            let rows = client.query_raw(&stmt, params.iter().copied()).await?;
            futures::pin_mut!(rows);
            // Sized for a full batch up front: growing a vector of large values copies them.
            let mut events = Vec::with_capacity(expected_rows);
            while let Some(row) = rows.next().await {
                match decode_event(&row?) {
                    Ok(e) => events.push(e),
                    Err(e) => return Ok(Err(e)),
                }
            }
            Ok(Ok(events))
        })
        .await?
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
pub(crate) fn settle(
    request: &AppendRequest,
    row: &Row,
    at: usize,
) -> Result<AppendOutcome, StoreError> {
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
pub(crate) fn expectation(expected: ExpectedVersion) -> (&'static str, Option<i64>) {
    match expected {
        ExpectedVersion::Any => ("any", None),
        ExpectedVersion::NoStream => ("no_stream", None),
        ExpectedVersion::Exact(v) => ("exact", Some(v)),
    }
}

/// The events of one or more appends as the parallel arrays the SQL functions take.
#[derive(Default)]
pub(crate) struct EventColumns<'a> {
    pub(crate) ids: Vec<String>,
    pub(crate) types: Vec<&'a str>,
    pub(crate) schemas: Vec<i32>,
    pub(crate) payloads: Vec<&'a serde_json::Value>,
    pub(crate) actors: Vec<&'a str>,
    pub(crate) units: Vec<Option<&'a str>>,
    pub(crate) roles: Vec<&'a str>,
    pub(crate) command_ids: Vec<Option<&'a str>>,
    pub(crate) correlations: Vec<Option<&'a str>>,
    pub(crate) causations: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    /// The columns as statement parameters, in the order both SQL functions take them.
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 10] {
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

    pub(crate) fn of(events: &'a [NewEvent]) -> Self {
        let mut columns = EventColumns::default();
        columns.extend(events);
        columns
    }

    pub(crate) fn extend(&mut self, events: &'a [NewEvent]) {
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
pub(crate) struct LeanInsert<'a> {
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    columns: EventColumns<'a>,
}

impl<'a> LeanInsert<'a> {
    /// Adds an append whose first event gets version `first`.
    pub(crate) fn push(&mut self, stream_id: &'a str, first: i64, events: &'a [NewEvent]) {
        for ord in 0..events.len() as i64 {
            self.streams.push(stream_id);
            self.versions.push(first + ord);
        }
        self.columns.extend(events);
    }

    /// Events added so far.
    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }

    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.streams, &self.versions];
        params.extend(self.columns.params());
        params
    }
}

/// Global positions of freshly inserted events: per stream, (version, position) pairs.
#[derive(Default)]
pub(crate) struct Written {
    by_stream: std::collections::HashMap<String, Vec<(i64, i64)>>,
    events: usize,
}

impl Written {
    /// The rows [`LEAN_INSERT_SQL`] returned: stream, version, position.
    pub(crate) fn from_rows(rows: &[Row]) -> Result<Written, StoreError> {
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
    pub(crate) fn len(&self) -> usize {
        self.events
    }

    /// The positions of an append's `count` events from version `first` on, in version order.
    pub(crate) fn positions(
        &self,
        stream_id: &str,
        first: i64,
        count: usize,
    ) -> Result<Vec<i64>, StoreError> {
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
pub(crate) fn outcome_of(
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

/// Turns a row of [`EVENT_COLUMNS`] (starting at column 0) into a `RecordedEvent`.
pub(crate) fn decode_event(row: &Row) -> Result<RecordedEvent, StoreError> {
    decode_event_at(row, 0)
}

/// Same as [`decode_event`] with the columns starting at `at`.
pub(crate) fn decode_event_at(row: &Row, at: usize) -> Result<RecordedEvent, StoreError> {
    // Borrowed where the value is only parsed or encoded: a read-all decodes hundreds of
    // thousands of rows a second, and every allocation saved shows.
    let event_id: &str = row.try_get(at + 3)?;
    let event_id = Ulid::from_string(event_id)
        .map_err(|e| StoreError::Decode(format!("händelse-id {event_id}: {e}")))?;
    let hash: &[u8] = row.try_get(at + 14)?;
    Ok(RecordedEvent {
        global_position: row.try_get(at)?,
        stream_id: row.try_get(at + 1)?,
        stream_version: row.try_get(at + 2)?,
        event_id,
        event_type: row.try_get(at + 4)?,
        schema_version: row.try_get(at + 5)?,
        recorded_at: row.try_get(at + 6)?,
        data: row.try_get::<_, Json<Box<RawValue>>>(at + 7)?.0,
        metadata: Metadata {
            actor: row.try_get(at + 8)?,
            unit: row.try_get(at + 9)?,
            role: row.try_get(at + 10)?,
            command_id: row.try_get(at + 11)?,
            correlation_id: row.try_get(at + 12)?,
            causation_id: row.try_get(at + 13)?,
        },
        hash: to_hex(hash)?,
    })
}

/// Lower-case hex of a SHA-256 hash, without the per-character iterator of `hex::encode`.
fn to_hex(hash: &[u8]) -> Result<String, StoreError> {
    let mut buf = [0u8; 64];
    let out = buf
        .get_mut(..hash.len() * 2)
        .ok_or_else(|| StoreError::Decode(format!("hash av {} byte", hash.len())))?;
    hex::encode_to_slice(hash, out).map_err(|e| StoreError::Decode(e.to_string()))?;
    let text = std::str::from_utf8(out).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(text.to_owned())
}
