//! The projection runner: what every read model shares, so that a read model is only its schema,
//! its apply step and its queries.
//!
//! A read model implements [`Projection`]. [`run`] keeps it current:
//!
//! - **One process at a time.** A runner first takes the projection's *lease*, a PostgreSQL
//!   session advisory lock held on a connection of its own; other runners of the projection wait
//!   as standbys and try again every [`LEASE_RETRY_MS`]. A process that dies loses its connection
//!   and with it the lease, so a standby takes over within about a second. A lease whose
//!   connection stops answering is given up at once. A holder that stops without dying (a
//!   stopped process, a paused machine) keeps its connection open, so it also checks in on the
//!   lease's connection every [`LEASE_CHECK_MS`]; a standby that finds that connection silent
//!   for [`LEASE_STALE_SECS`] ends it and takes over, and the stopped holder's open batch, if
//!   any, is rolled back by the server once it has waited [`APPLY_IDLE_IN_TRANSACTION_MS`].
//! - **Exactly once, in commit order.** The holder follows the store from the checkpoint
//!   (`EventStore::tail`, which never skips a position that commits late) and applies what the
//!   store has ready in batches of at most [`BATCH_EVENTS_MAX`]. Each batch, its row changes and
//!   the new checkpoint are one transaction that first locks the checkpoint row, so an event takes
//!   effect exactly once even if the process dies mid-batch or a second runner slipped past the
//!   lease. Transient failures pause the runner with capped exponential backoff; an event that
//!   cannot be applied stops this read model alone, recorded beside its checkpoint, and is tried
//!   again now and then (ADR 0036).
//! - **Rebuild** ([`rebuild`]): replays the store into fresh tables in a schema of their own and
//!   swaps them in atomically (ADR 0015). Readers see the old tables until the swap, never
//!   half-built ones; the live runner waits for the swap on the checkpoint row and continues from
//!   the rebuilt position. A rebuild is [`Mode::Rebuild`], so it sends no pushes.
//!
//! A projection's tables live in its own schema ([`Projection::schema`]). Its apply step uses
//! unqualified table names: the runner sets `search_path` to the live schema, or to the rebuild
//! schema while rebuilding. A runner applies its batches on a connection of its own, where each
//! statement is prepared and planned once ([`Tx`]), not on the store's pool. Readers use [`checkpoint`] and [`wait_for`] (read-your-writes with
//! `?min_position`).

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use eventstore::{EventStore, RecordedEvent};
use futures::StreamExt;
use tokio::sync::watch;
use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;
use tokio_postgres::{Row, Statement};
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;

/// Most events applied in one transaction; a batch is only what the store has ready, so a quiet
/// system applies each event as soon as it commits.
pub const BATCH_EVENTS_MAX: usize = 256;
/// How often a standby tries to take the lease.
pub const LEASE_RETRY_MS: u64 = 1_000;
/// How often the holder checks that the lease's connection still answers, and how long it may
/// take to answer.
const LEASE_CHECK_MS: u64 = 1_000;
const LEASE_CHECK_TIMEOUT_MS: u64 = 3_000;
/// How long a holder's lease connection may go without its check ([`LEASE_CHECK_MS`]) before a
/// standby ends that connection and takes the lease: the holder is alive to the database but not
/// running (stopped, a paused machine, a runtime that never gets to the check). Well above the
/// check's interval and timeout, so a busy holder is not taken for a stopped one; well below
/// what makes a gateway unready (`SAMPLAN_READY_LAG_MS_MAX`, 30 s by default).
pub const LEASE_STALE_SECS: i32 = 15;
/// How long a transaction of an applying connection may wait for its client between
/// statements. A holder stopped mid-batch would otherwise keep the checkpoint row locked, and
/// the standby that took its lease over would wait for that row for good.
const APPLY_IDLE_IN_TRANSACTION_MS: u64 = 15_000;
/// Backoff after a transient failure (database gone), doubled up to the maximum.
const RETRY_MS_MIN: u64 = 100;
const RETRY_MS_MAX: u64 = 5_000;
/// How long a read model stopped on an event waits before it tries the event again (ADR 0036).
pub const STOPPED_RETRY_MS: u64 = 30_000;
/// Most characters of a stop's error kept beside the checkpoint (migration 19's limit).
const STOPPED_ERROR_CHARS_MAX: usize = 2_000;
/// How often [`wait_for`] looks at the checkpoint, doubled up to the maximum.
const WAIT_POLL_MS_MIN: u64 = 5;
const WAIT_POLL_MS_MAX: u64 = 100;
/// Events read at a time by a rebuild.
const REBUILD_READ_EVENTS: usize = 5_000;
/// How close to the live checkpoint a rebuild catches up before it takes the checkpoint's lock
/// and swaps (the rest is applied while the live runner waits).
const REBUILD_SWAP_WITHIN_EVENTS: i64 = 2_000;
/// The role the service runs as (created by the event store's migration 1); rebuilt tables are
/// granted to it as the migrations grant the live ones.
const APP_ROLE: &str = "samplan_app";

/// Whether events are applied as they happen or replayed by a rebuild. Side effects beyond the
/// projection's own rows (live pushes) happen only live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Rebuild,
}

/// One read model: its name, its schema, which events concern it and how one changes its rows.
/// The rows must be a function of the events alone (no clock, no random ids), so that a rebuild
/// gives the same tables as the live run.
pub trait Projection: Send + Sync + 'static {
    /// The projection's name in `projections.checkpoints`.
    fn name(&self) -> &'static str;

    /// The schema its tables live in; nothing else lives there.
    fn schema(&self) -> &'static str;

    /// The DDL that creates its tables (and indexes) with unqualified names, in whatever schema
    /// is first on the `search_path`: a rebuild creates fresh tables with it. It must create the
    /// same tables as the projection's migrations (a test compares the two).
    fn tables_sql(&self) -> &'static str;

    /// What the rows depend on besides the events: the version of the rules `apply` follows and
    /// the settings it applies (the policy profile's deadlines), recorded with the checkpoint
    /// (ADR 0034). When a running projector's differs from the recorded one, the rows were built
    /// by other rules and are wrong for this process: it rebuilds the read model beside the live
    /// tables ([`run_with`]). Raise the version whenever a change to `apply` would write other
    /// rows for events already applied.
    fn built_by(&self) -> String {
        "1".to_owned()
    }

    /// Whether `event` may change this projection's rows, judged without decoding it (by stream
    /// and type). Batches with no such event only move the checkpoint.
    fn wants(&self, event: &RecordedEvent) -> bool;

    /// Applies one event inside the batch's transaction, with `search_path` set to the schema
    /// being written. Called in global order, once per event after the checkpoint.
    fn apply<'a>(
        &'a self,
        tx: &'a Tx<'a>,
        event: &'a RecordedEvent,
        mode: Mode,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send + 'a;

    /// Runs after a live batch's transaction has committed: the place for effects beyond the
    /// projection's own rows, such as telling gateways that an inbox changed. Never runs for a
    /// rebuild, nor for a batch that rolled back (its effects are redone with the batch).
    fn committed(&self) -> impl Future<Output = ()> + Send + '_ {
        async {}
    }

    /// Applies `events` (all wanted, in global order) in one go. The default applies them one by
    /// one; a projection whose rows allow it overrides this with set-based statements, which is
    /// what makes a rebuild of millions of events fast.
    fn apply_all<'a>(
        &'a self,
        tx: &'a Tx<'a>,
        events: &'a [&'a RecordedEvent],
        mode: Mode,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send + 'a {
        async move {
            for event in events {
                self.apply(tx, event, mode).await?;
            }
            Ok(())
        }
    }
}

/// The statements a connection has prepared, by their text. Texts are constants (`&'static
/// str`), so the set is bounded by the code, not by the data.
#[derive(Default)]
pub struct Statements(Mutex<HashMap<&'static str, Statement>>);

impl Statements {
    /// `sql` prepared on `client`'s connection: the first time by the server, then from here.
    pub async fn prepared<C: GenericClient>(
        &self,
        client: &C,
        sql: &'static str,
    ) -> Result<Statement, tokio_postgres::Error> {
        let known = self.lock().get(sql).cloned();
        if let Some(statement) = known {
            return Ok(statement);
        }
        // Two calls may both miss and both prepare; the second simply replaces the first.
        let statement = client.prepare(sql).await?;
        self.lock().insert(sql, statement.clone());
        Ok(statement)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Statement>> {
        // The map is always whole (one insert at a time), so a poisoned lock is still good.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The transaction a batch is applied in, with `search_path` set to the schema being written.
///
/// Its `query`, `query_one`, `query_opt` and `execute` take the statement's text, a constant,
/// and prepare it once per connection: a runner applies every batch on one connection of its
/// own, so a statement is parsed and planned once for the projection's schema
/// rather than at every batch, as `tokio_postgres` does for a text. Everything else of the
/// transaction is reached through `Deref` ([`Tx::transaction`] for a statement prepared by
/// the caller).
pub struct Tx<'a> {
    tx: tokio_postgres::Transaction<'a>,
    statements: &'a Statements,
}

impl<'a> Tx<'a> {
    pub fn new(tx: tokio_postgres::Transaction<'a>, statements: &'a Statements) -> Tx<'a> {
        Tx { tx, statements }
    }

    /// The transaction itself.
    pub fn transaction(&self) -> &tokio_postgres::Transaction<'a> {
        &self.tx
    }

    /// `sql` prepared on this connection (once).
    pub async fn prepared(&self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        self.statements.prepared(&self.tx, sql).await
    }

    pub async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.tx.query(&self.prepared(sql).await?, params).await
    }

    pub async fn query_one(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        self.tx.query_one(&self.prepared(sql).await?, params).await
    }

    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        self.tx.query_opt(&self.prepared(sql).await?, params).await
    }

    pub async fn execute(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        self.tx.execute(&self.prepared(sql).await?, params).await
    }

    pub async fn commit(self) -> Result<(), tokio_postgres::Error> {
        self.tx.commit().await
    }
}

impl<'a> Deref for Tx<'a> {
    type Target = tokio_postgres::Transaction<'a>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

/// What a runner is doing, for tests and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Not yet holding the lease.
    Standby,
    /// Holding the lease and applying events.
    Active,
    /// Stopped on an event it cannot apply; it tries again after [`STOPPED_RETRY_MS`].
    Stopped,
}

/// Follows the event store and keeps `projection` up to date until `cancel` fires.
pub async fn run<P: Projection>(
    store: EventStore,
    projection: P,
    cancel: CancellationToken,
) -> Result<(), ProjectionError> {
    run_with(
        store,
        projection,
        cancel,
        watch::channel(Activity::Standby).0,
        None,
    )
    .await
}

/// [`run`], telling through `activity` whether this runner holds the lease.
///
/// Holding the lease, the runner compares the rules that built the rows with its own
/// ([`Projection::built_by`]); when they differ and `admin_url` (the owner role, which may create
/// schemas) is given, it rebuilds the read model beside the live tables while it goes on
/// applying to them, and swaps the rebuilt ones in ([`rebuild`]). Without `admin_url` it says
/// so in the log and goes on.
///
/// Transient failures (the database away, the lease lost) are logged and retried with backoff.
/// An event that cannot be applied (unknown type, out of order, a statement the database refuses)
/// stops this read model alone (ADR 0036): the checkpoint stays below it, the stop is recorded
/// beside the checkpoint (`samplan_projection_stopped` on `/metrics`) and the event is tried again
/// every [`STOPPED_RETRY_MS`]. Returns when `cancel` fires.
pub async fn run_with<P: Projection>(
    store: EventStore,
    projection: P,
    cancel: CancellationToken,
    activity: watch::Sender<Activity>,
    admin_url: Option<String>,
) -> Result<(), ProjectionError> {
    let name = projection.name();
    let mut retry_ms = RETRY_MS_MIN;
    loop {
        activity.send_replace(Activity::Standby);
        let result = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            r = hold_and_follow(&store, &projection, &activity, admin_url.as_deref()) => r,
        };
        activity.send_replace(Activity::Standby);
        match result {
            // The tail never ends by itself; if it does, start again from the checkpoint.
            Ok(()) => retry_ms = RETRY_MS_MIN,
            Err(e) if e.is_transient() => {
                tracing::warn!(projection = name, error = %e, retry_ms, "projection paused");
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(retry_ms)) => {}
                }
                retry_ms = (retry_ms * 2).min(RETRY_MS_MAX);
            }
            Err(e) => {
                // The read model stops here, alone (ADR 0036): its checkpoint stays below the
                // event, the other read models and the process go on, and the stop is recorded
                // for `/metrics`. A later try applies the event if what failed was mended (a
                // grant, a table an operator repaired); a bug needs a new version.
                // Recorded first, then said: whoever sees the read model stopped (a test, a
                // health check) finds the stop and its reason in the checkpoint already.
                let checkpoint = match record_stop(store.pool(), name, &e).await {
                    Ok(checkpoint) => checkpoint,
                    Err(recording) => {
                        tracing::warn!(projection = name, error = %recording, "stop not recorded");
                        None
                    }
                };
                activity.send_replace(Activity::Stopped);
                tracing::error!(
                    projection = name,
                    error = %e,
                    checkpoint,
                    retry_ms = STOPPED_RETRY_MS,
                    "projection stopped: an event after its checkpoint cannot be applied; the \
                     other read models go on"
                );
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(STOPPED_RETRY_MS)) => {}
                }
                retry_ms = RETRY_MS_MIN;
            }
        }
    }
}

/// Records that `name` stopped after its present checkpoint, and why ([`ProjectionError::summary`]:
/// no values from rows or payloads), and returns that checkpoint. The first time of a stop at one
/// checkpoint is kept.
async fn record_stop(
    pool: &Pool,
    name: &str,
    e: &ProjectionError,
) -> Result<Option<i64>, ProjectionError> {
    let error: String = e.summary().chars().take(STOPPED_ERROR_CHARS_MAX).collect();
    let row = pool
        .get()
        .await?
        .query_opt(
            "UPDATE projections.checkpoints
                SET stopped_since = CASE WHEN stopped_after = position THEN stopped_since
                                         ELSE statement_timestamp() END,
                    stopped_after = position,
                    stopped_error = $2
              WHERE projection = $1
              RETURNING position",
            &[&name, &error],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Takes the lease (waiting as a standby while another process holds it), then follows the
/// store until the lease is lost or something fails.
async fn hold_and_follow<P: Projection>(
    store: &EventStore,
    projection: &P,
    activity: &watch::Sender<Activity>,
    admin_url: Option<&str>,
) -> Result<(), ProjectionError> {
    let lease = Lease::take(store, projection.name()).await?;
    activity.send_replace(Activity::Active);
    // Judged before the first batch, which a read model nothing has reached yet gets by this
    // process's rules. The rebuild runs beside the live runner and ends with it.
    let rules = projection.built_by();
    let recorded = built_by(store, projection.name(), &rules).await?;
    let up_to_date = async {
        if recorded.as_deref() != Some(rules.as_str()) {
            bring_up_to_date(store, projection, &rules, recorded, admin_url).await;
        }
        std::future::pending().await
    };
    tokio::select! {
        r = follow(store, projection) => r,
        e = lease.lost() => Err(e),
        r = up_to_date => r,
    }
}

/// Rebuilds the read model when its rows were built by other rules than `projection`'s (ADR
/// 0034); see [`run_with`]. A failed rebuild leaves the live tables as they were and is logged:
/// the next holder of the lease tries again.
async fn bring_up_to_date<P: Projection>(
    store: &EventStore,
    projection: &P,
    rules: &str,
    recorded: Option<String>,
    admin_url: Option<&str>,
) {
    let name = projection.name();
    let recorded = recorded.unwrap_or_else(|| "(not recorded)".into());
    let Some(admin_url) = admin_url else {
        tracing::warn!(
            projection = name,
            built_by = %recorded,
            rules = %rules,
            "the read model was built by other rules than this process applies; rebuild it \
             (samplan rebuild --projection {name}) as the owner role"
        );
        return;
    };
    tracing::info!(
        projection = name,
        built_by = %recorded,
        rules = %rules,
        "the read model was built by other rules; rebuilding it beside the live tables"
    );
    match rebuild(store, admin_url, projection).await {
        Ok(_) => {}
        Err(ProjectionError::RebuildUnderWay(_)) => {
            tracing::info!(
                projection = name,
                "another process is rebuilding the read model"
            );
        }
        Err(e) => {
            tracing::error!(
                projection = name,
                error = %e,
                "rebuilding the read model failed; the live tables are as they were"
            );
        }
    }
}

/// The rules recorded as having built `name`'s rows. A read model no event has reached yet is
/// built by `rules` from its first row on, so that is recorded first.
async fn built_by(
    store: &EventStore,
    name: &str,
    rules: &str,
) -> Result<Option<String>, ProjectionError> {
    store
        .pool()
        .get()
        .await?
        .execute(
            "UPDATE projections.checkpoints SET built_by = $2
              WHERE projection = $1 AND position = 0 AND built_by IS DISTINCT FROM $2",
            &[&name, &rules],
        )
        .await?;
    rules_of(store.pool(), name).await
}

/// One attempt: tail from the stored checkpoint and apply batches until something fails.
///
/// Batches are applied on a connection of the runner's own, not one from the pool: a pooled
/// connection serves the store's reads and every other projection in between, each with its own
/// `search_path`, and PostgreSQL plans a prepared statement again whenever the `search_path`
/// differs from the one it was planned under. On a connection of its own the projection's
/// statements are prepared and planned once ([`Tx`]).
async fn follow<P: Projection>(store: &EventStore, projection: &P) -> Result<(), ProjectionError> {
    let mut client = applying_connection(store).await?;
    let statements = Statements::default();
    let start = ensure_checkpoint(&client, projection.name()).await?;
    tracing::info!(
        projection = projection.name(),
        after_position = start,
        "projection following the store"
    );
    let mut batches = Box::pin(store.tail(start).ready_chunks(BATCH_EVENTS_MAX));
    while let Some(batch) = batches.next().await {
        let events = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
        apply_batch_on(&mut client, &statements, projection, &events).await?;
    }
    Ok(())
}

/// A connection of its own to the store's database, set up as the pool's connections are (UTC,
/// the store's statement timeout).
async fn applying_connection(
    store: &EventStore,
) -> Result<tokio_postgres::Client, ProjectionError> {
    let client = store.connect_session("samplan-projection").await?;
    client
        .batch_execute(&format!(
            "SET TimeZone = 'UTC'; SET statement_timeout = {}; \
             SET idle_in_transaction_session_timeout = {APPLY_IDLE_IN_TRANSACTION_MS}",
            store.config().statement_timeout_ms
        ))
        .await?;
    Ok(client)
}

/// A projection's lease: a session advisory lock on a connection of its own.
pub struct Lease {
    client: tokio_postgres::Client,
    name: &'static str,
}

impl Lease {
    /// Takes the lease of projection `name`, waiting (as a standby) while another process holds
    /// it.
    pub async fn take(store: &EventStore, name: &'static str) -> Result<Lease, ProjectionError> {
        // The connection's driver ends when the client is dropped or the server goes away;
        // either way the lock goes with the connection.
        let client = store
            .connect_session("samplan-lease")
            .await
            .map_err(|e| ProjectionError::Lease(format!("connecting: {e}")))?;
        let key = lease_key(name);
        let mut waited = false;
        loop {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            if row.get::<_, bool>(0) {
                if waited {
                    tracing::info!(projection = name, "took over the lease");
                }
                let lease = Lease { client, name };
                lease.record_holder().await;
                return Ok(lease);
            }
            if !waited {
                tracing::info!(
                    projection = name,
                    "another process holds the lease; standing by"
                );
                waited = true;
            }
            if end_stale_holder(&client, name, key).await {
                // Its lock goes as soon as its backend has ended: try again at once.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(LEASE_RETRY_MS)).await;
        }
    }

    /// Notes in the checkpoint row which process holds the lease (for operators; the lock is
    /// what counts).
    async fn record_holder(&self) {
        let holder = this_process();
        let recorded = self
            .client
            .execute(
                "INSERT INTO projections.checkpoints (projection, position, holder, leased_at)
                 VALUES ($1, 0, $2, statement_timestamp())
                 ON CONFLICT (projection) DO UPDATE
                    SET holder = excluded.holder, leased_at = excluded.leased_at",
                &[&self.name, &holder],
            )
            .await;
        if let Err(e) = recorded {
            tracing::debug!(projection = self.name, error = %e, "lease holder not recorded");
        }
    }

    /// Resolves when the lease's connection stops answering: whoever holds the lease must stop
    /// applying then, since another process may take it over.
    pub async fn lost(&self) -> ProjectionError {
        loop {
            tokio::time::sleep(Duration::from_millis(LEASE_CHECK_MS)).await;
            let check = tokio::time::timeout(
                Duration::from_millis(LEASE_CHECK_TIMEOUT_MS),
                self.client.simple_query("SELECT 1"),
            )
            .await;
            match check {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return ProjectionError::Lease(format!("connection lost: {e}")),
                Err(_) => {
                    return ProjectionError::Lease(format!(
                        "connection did not answer within {LEASE_CHECK_TIMEOUT_MS} ms"
                    ))
                }
            }
        }
    }
}

/// Ends the connection of `name`'s lease holder when it has not checked in for
/// [`LEASE_STALE_SECS`] (its session has stood idle since): the holder's process is not running,
/// though its connection is open, and nothing else would ever free the lease. Whether it did.
/// A holder of another role cannot be ended (PostgreSQL allows it only within a role); that is
/// logged, and the standby goes on waiting.
async fn end_stale_holder(client: &tokio_postgres::Client, name: &str, key: i64) -> bool {
    let (high, low) = key_halves(key);
    let stale = client
        .query_opt(
            "SELECT l.pid, extract(epoch FROM now() - a.state_change)::float8
               FROM pg_catalog.pg_locks l
               JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                AND l.classid = $1 AND l.objid = $2
                AND l.database = (SELECT oid FROM pg_catalog.pg_database
                                   WHERE datname = pg_catalog.current_database())
                AND a.state = 'idle'
                AND a.state_change < now() - make_interval(secs => $3)",
            &[&high, &low, &f64::from(LEASE_STALE_SECS)],
        )
        .await;
    let (pid, silent_secs): (i32, f64) = match stale {
        Ok(Some(row)) => (row.get(0), row.get(1)),
        Ok(None) => return false,
        Err(e) => {
            tracing::debug!(projection = name, error = %e, "lease holder not looked at");
            return false;
        }
    };
    match client
        .query_one("SELECT pg_catalog.pg_terminate_backend($1)", &[&pid])
        .await
    {
        Ok(row) if row.get::<_, bool>(0) => {
            tracing::warn!(
                projection = name,
                holder_backend = pid,
                silent_secs = silent_secs.round(),
                "the lease holder has not checked in on its connection for {LEASE_STALE_SECS} s \
                 (its process is stopped or starved); ended that connection to take over"
            );
            true
        }
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(
                projection = name,
                holder_backend = pid,
                error = %e,
                "the lease holder has not checked in for {LEASE_STALE_SECS} s, and its \
                 connection could not be ended (another role holds it); still standing by"
            );
            false
        }
    }
}

/// A bigint advisory-lock key as `pg_locks` shows it: its high and low 32 bits.
fn key_halves(key: i64) -> (u32, u32) {
    let bits = u64::from_be_bytes(key.to_be_bytes());
    ((bits >> 32) as u32, (bits & 0xffff_ffff) as u32)
}

/// The advisory-lock key of a lease: FNV-1a over the name, so every process computes the same
/// key without a table of keys.
fn lease_key(name: &str) -> i64 {
    advisory_key("lease", name)
}

/// The advisory-lock key of `kind` (a lease, a rebuild) for projection `name`.
fn advisory_key(kind: &str, name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("samplan:{kind}:").bytes().chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

/// This process as a lease's holder is recorded (`host:pid`), and `/metrics` shows it.
pub fn this_process() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    format!("{host}:{}", std::process::id())
}

async fn ensure_checkpoint<C: GenericClient>(
    client: &C,
    name: &str,
) -> Result<i64, ProjectionError> {
    client
        .execute(
            "INSERT INTO projections.checkpoints (projection, position) VALUES ($1, 0)
             ON CONFLICT (projection) DO NOTHING",
            &[&name],
        )
        .await?;
    checkpoint_of(client, name).await
}

async fn checkpoint_of<C: GenericClient>(client: &C, name: &str) -> Result<i64, ProjectionError> {
    let row = client
        .query_one(
            "SELECT position FROM projections.checkpoints WHERE projection = $1",
            &[&name],
        )
        .await?;
    Ok(row.get(0))
}

/// `SET LOCAL search_path` to `schema` (quoted), for the rest of the transaction.
fn search_path_sql(schema: &str) -> String {
    format!(
        "SET LOCAL search_path TO \"{}\"",
        schema.replace('"', "\"\"")
    )
}

/// Applies `events` (in global order) that lie after the checkpoint, and moves the checkpoint,
/// in one transaction. Events at or before the checkpoint were applied already and are skipped.
/// Returns the checkpoint after the batch. (On a pooled connection, for tests and tools; a
/// runner applies on a connection of its own.)
pub async fn apply_batch<P: Projection>(
    pool: &Pool,
    projection: &P,
    events: &[RecordedEvent],
) -> Result<i64, ProjectionError> {
    let mut client = pool.get().await?;
    apply_batch_on(&mut client, &Statements::default(), projection, events).await
}

/// [`apply_batch`] on `client`, whose prepared statements `statements` holds.
async fn apply_batch_on<P: Projection>(
    client: &mut tokio_postgres::Client,
    statements: &Statements,
    projection: &P,
    events: &[RecordedEvent],
) -> Result<i64, ProjectionError> {
    let name = projection.name();
    let Some(last) = events.last() else {
        return ensure_checkpoint(&*client, name).await;
    };
    let (last_position, last_at) = (last.global_position, last.recorded_at);
    if !events.iter().any(|e| projection.wants(e)) {
        // Nothing to apply (for most projections most of the traffic), so exactly-once does not
        // matter here: the checkpoint only moves forward, in one statement instead of a
        // transaction. Committed without waiting for the WAL flush, like a batch below
        // (`set_config(…, true)` lasts until this statement's own commit).
        let moved = statements
            .prepared(
                &*client,
                "UPDATE projections.checkpoints
                    SET position = $2, recorded_at = $3, updated_at = statement_timestamp()
                  WHERE projection = $1 AND position < $2
                    AND set_config('synchronous_commit', 'off', true) = 'off'",
            )
            .await?;
        if client
            .execute(&moved, &[&name, &last_position, &last_at])
            .await?
            == 1
        {
            return Ok(last_position);
        }
        // Not moved: the row is missing (a first batch) or already further on.
        ensure_checkpoint(&*client, name).await?;
        client
            .execute(&moved, &[&name, &last_position, &last_at])
            .await?;
        return checkpoint_of(&*client, name).await;
    }
    let tx = Tx::new(client.transaction().await?, statements);
    // A read model is derived: if a crash loses this commit, its rows and its checkpoint are
    // lost together and the batch is applied again from the store. So the commit need not wait
    // for the WAL flush (it is visible to readers at once all the same), and the projection does
    // not queue its flushes behind the appends' ones.
    tx.batch_execute(&format!(
        "SET LOCAL synchronous_commit = off; {}",
        search_path_sql(projection.schema())
    ))
    .await?;
    // The row lock serialises concurrent runners and a rebuild's swap: the second waits, then
    // sees the new position.
    const LOCK: &str =
        "SELECT position FROM projections.checkpoints WHERE projection = $1 FOR UPDATE";
    let checkpoint: i64 = match tx.query_opt(LOCK, &[&name]).await? {
        Some(row) => row.get(0),
        None => {
            // The first batch ever (`follow` creates the row; a direct caller may not have).
            ensure_checkpoint(tx.transaction(), name).await?;
            tx.query_one(LOCK, &[&name]).await?.get(0)
        }
    };
    let applied = apply_after(&tx, projection, events, checkpoint, Mode::Live).await?;
    if let Some((position, at)) = applied {
        tx.execute(
            "UPDATE projections.checkpoints
                SET position = $2, recorded_at = $3, updated_at = statement_timestamp()
              WHERE projection = $1",
            &[&name, &position, &at],
        )
        .await?;
    }
    tx.commit().await?;
    projection.committed().await;
    Ok(applied.map_or(checkpoint, |(position, _)| position))
}

/// Applies the events after `checkpoint` that the projection wants; returns the position and
/// time of the last event passed (applied or not), if any was after the checkpoint.
async fn apply_after<P: Projection>(
    tx: &Tx<'_>,
    projection: &P,
    events: &[RecordedEvent],
    checkpoint: i64,
    mode: Mode,
) -> Result<Option<(i64, DateTime<Utc>)>, ProjectionError> {
    let after: Vec<&RecordedEvent> = events
        .iter()
        .filter(|e| e.global_position > checkpoint)
        .collect();
    let wanted: Vec<&RecordedEvent> = after
        .iter()
        .copied()
        .filter(|e| projection.wants(e))
        .collect();
    if !wanted.is_empty() {
        projection.apply_all(tx, &wanted, mode).await?;
    }
    Ok(after.last().map(|e| (e.global_position, e.recorded_at)))
}

/// Whether some process holds `projection`'s lease now: a runner is alive to apply it (the lease
/// is a session's advisory lock, gone with its process).
pub async fn lease_held(pool: &Pool, projection: &str) -> Result<bool, ProjectionError> {
    let key = lease_key(projection);
    // pg_advisory_lock(bigint) is shown as the key's high and low 32 bits, objsubid 1.
    let (high, low) = key_halves(key);
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks
              WHERE locktype = 'advisory' AND granted AND objsubid = 1
                AND classid = $1 AND objid = $2
                AND database = (SELECT oid FROM pg_catalog.pg_database
                                 WHERE datname = pg_catalog.current_database()))",
        )
        .await?;
    Ok(client.query_one(&stmt, &[&high, &low]).await?.get(0))
}

/// The global position of the last event `projection` has applied (0: none).
pub async fn checkpoint(pool: &Pool, projection: &str) -> Result<i64, ProjectionError> {
    let client = pool.get().await?;
    // Prepared once per pooled connection: every read that waits for a position asks this.
    let stmt = client
        .prepare_cached("SELECT position FROM projections.checkpoints WHERE projection = $1")
        .await?;
    let row = client.query_opt(&stmt, &[&projection]).await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// The rules recorded as having built `projection`'s rows ([`Projection::built_by`]); `None`
/// when not recorded.
pub async fn rules_of(pool: &Pool, projection: &str) -> Result<Option<String>, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT built_by FROM projections.checkpoints WHERE projection = $1",
            &[&projection],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

/// Waits until `projection` has applied `position` or `wait_ms_max` has passed, and returns
/// where it stands then (compare with `position` to know which).
pub async fn wait_for(
    pool: &Pool,
    projection: &str,
    position: i64,
    wait_ms_max: u64,
) -> Result<i64, ProjectionError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms_max);
    let mut poll_ms = WAIT_POLL_MS_MIN;
    loop {
        let at = checkpoint(pool, projection).await?;
        let now = tokio::time::Instant::now();
        if at >= position || now >= deadline {
            return Ok(at);
        }
        let pause = Duration::from_millis(poll_ms).min(deadline - now);
        tokio::time::sleep(pause).await;
        poll_ms = (poll_ms * 2).min(WAIT_POLL_MS_MAX);
    }
}

/// Waits until `projection` has applied `position`; a wait that ends first after `wait_ms_max`
/// is [`ProjectionError::Behind`], saying where it stands. For callers that must not go on with
/// a read model that has not caught up (tests, tools); [`wait_for`] answers where it stands
/// either way.
pub async fn applied(
    pool: &Pool,
    projection: &str,
    position: i64,
    wait_ms_max: u64,
) -> Result<(), ProjectionError> {
    let at = wait_for(pool, projection, position, wait_ms_max).await?;
    if at >= position {
        Ok(())
    } else {
        Err(ProjectionError::Behind {
            projection: projection.to_owned(),
            position,
            at,
        })
    }
}

/// How far a runner is behind the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lag {
    pub name: String,
    pub position: i64,
    /// Events committed after the position.
    pub events: i64,
    /// While behind: how long ago the oldest event not yet applied was recorded; 0 when caught
    /// up. (It was the age of the last applied one: after a quiet minute, one new event made
    /// every read model a minute behind, and `/readyz` failed on every gateway at once.)
    pub ms: i64,
    /// The process that last took the lease (`host:pid`).
    pub holder: Option<String>,
    /// Set while the read model is stopped on an event it cannot apply (ADR 0036): since when,
    /// and why ([`ProjectionError::summary`]).
    pub stopped: Option<(DateTime<Utc>, String)>,
}

/// How far every runner (each projection, the relay) is behind the store, by the database's
/// clock.
pub async fn lags(pool: &Pool) -> Result<Vec<Lag>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH head AS (SELECT coalesce(max(global_position), 0) AS p FROM events)
             SELECT c.projection, c.position, greatest(head.p - c.position, 0),
                    CASE WHEN c.position >= head.p THEN 0
                         ELSE greatest(0, (extract(epoch FROM statement_timestamp()
                                  - (SELECT e.recorded_at FROM events e
                                      WHERE e.global_position > c.position
                                      ORDER BY e.global_position LIMIT 1)) * 1000))::bigint
                    END,
                    c.holder,
                    CASE WHEN c.position <= c.stopped_after THEN c.stopped_since END,
                    CASE WHEN c.position <= c.stopped_after THEN c.stopped_error END
               FROM projections.checkpoints c, head
              ORDER BY c.projection",
        )
        .await?;
    let rows = client.query(&stmt, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| Lag {
            name: r.get(0),
            position: r.get(1),
            events: r.get(2),
            ms: r.get::<_, Option<i64>>(3).unwrap_or(0),
            holder: r.get(4),
            stopped: r
                .get::<_, Option<DateTime<Utc>>>(5)
                .map(|since| (since, r.get::<_, Option<String>>(6).unwrap_or_default())),
        })
        .collect())
}

/// Every row of every table in `schema`, as `table {json}` lines in a fixed order: what a rebuild
/// is compared with the live tables by (tests, and an operator checking a rebuild).
pub async fn dump(pool: &Pool, schema: &str) -> Result<Vec<String>, ProjectionError> {
    let client = pool.get().await?;
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
            &[&schema],
        )
        .await?;
    let mut out = Vec::new();
    for table in tables {
        let table: String = table.get(0);
        let sql = format!(
            "SELECT row_to_json(t)::text FROM \"{}\".\"{}\" t ORDER BY 1",
            schema.replace('"', "\"\""),
            table.replace('"', "\"\"")
        );
        for row in client.query(&sql, &[]).await? {
            out.push(format!("{table} {}", row.get::<_, String>(0)));
        }
    }
    Ok(out)
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The position the rebuilt tables stand at; the live runner continues from here.
    pub position: i64,
    /// Events read from the store.
    pub events_read: u64,
    /// Events the projection applied.
    pub events_applied: u64,
}

/// Rebuilds `projection` from the store into fresh tables and swaps them in (ADR 0015).
///
/// Runs as the owner role (`admin_url`), which may create and drop schemas. The fresh tables are
/// built in `<schema>_rebuild` while the live runner and readers go on with the live ones; the
/// rebuild catches up with the live checkpoint, then, in one transaction that holds the
/// checkpoint row (so the live runner waits), applies the last few events, renames the live
/// schema away and the rebuilt one into its place, drops the old one and sets the checkpoint.
pub async fn rebuild<P: Projection>(
    store: &EventStore,
    admin_url: &str,
    projection: &P,
) -> Result<Rebuilt, ProjectionError> {
    let name = projection.name();
    let schema = projection.schema();
    let fresh = format!("{schema}_rebuild");
    // The owner's connection string with the store's TLS files: one set for both roles.
    let mut client =
        eventstore::connect(admin_url, &store.config().tls, "samplan-rebuild", None).await?;
    // One rebuild of a read model at a time (an operator's and a projector's would drop each
    // other's fresh schema); the lock goes with the connection.
    let alone: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&advisory_key("rebuild", name)],
        )
        .await?
        .get(0);
    if !alone {
        return Err(ProjectionError::RebuildUnderWay(name.to_owned()));
    }
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{fresh}\" CASCADE;
             CREATE SCHEMA \"{fresh}\";
             SET search_path TO \"{fresh}\";
             {tables}
             RESET search_path;
             GRANT USAGE ON SCHEMA \"{fresh}\" TO {APP_ROLE};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{fresh}\" TO {APP_ROLE};",
            tables = projection.tables_sql(),
        ))
        .await?;
    let mut rebuilt = Rebuilt {
        position: 0,
        events_read: 0,
        events_applied: 0,
    };
    // Everything up to the store's head is settled; after that, up to the live checkpoint (the
    // live runner only applies settled events), until close enough to swap.
    let mut target = store.head_position().await?;
    loop {
        replay(store, &mut client, projection, &fresh, &mut rebuilt, target).await?;
        let live = checkpoint(store.pool(), name).await?;
        if live - rebuilt.position <= REBUILD_SWAP_WITHIN_EVENTS {
            break;
        }
        target = live;
    }
    let statements = Statements::default();
    let tx = Tx::new(client.transaction().await?, &statements);
    tx.execute(
        "INSERT INTO projections.checkpoints (projection, position) VALUES ($1, 0)
         ON CONFLICT (projection) DO NOTHING",
        &[&name],
    )
    .await?;
    let live: i64 = tx
        .query_one(
            "SELECT position FROM projections.checkpoints WHERE projection = $1 FOR UPDATE",
            &[&name],
        )
        .await?
        .get(0);
    let mut at = None;
    let mut position = rebuilt.position;
    while position < live {
        let events = store.read_all(position, REBUILD_READ_EVENTS).await?;
        let events: Vec<_> = events
            .into_iter()
            .filter(|e| e.global_position <= live)
            .collect();
        let Some(last) = events.last() else { break };
        position = last.global_position;
        at = Some(last.recorded_at);
        rebuilt.events_read += events.len() as u64;
        tx.batch_execute(&search_path_sql(&fresh)).await?;
        let wanted: Vec<&RecordedEvent> = events.iter().filter(|e| projection.wants(e)).collect();
        if !wanted.is_empty() {
            projection.apply_all(&tx, &wanted, Mode::Rebuild).await?;
        }
        rebuilt.events_applied += wanted.len() as u64;
    }
    rebuilt.position = rebuilt.position.max(live);
    tx.batch_execute(&format!(
        "RESET search_path;
         ALTER SCHEMA \"{schema}\" RENAME TO \"{schema}_old\";
         ALTER SCHEMA \"{fresh}\" RENAME TO \"{schema}\";
         DROP SCHEMA \"{schema}_old\" CASCADE;"
    ))
    .await?;
    tx.execute(
        "UPDATE projections.checkpoints
            SET position = $2, recorded_at = coalesce($3, recorded_at),
                updated_at = statement_timestamp(), built_by = $4
          WHERE projection = $1",
        &[&name, &rebuilt.position, &at, &projection.built_by()],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        projection = name,
        position = rebuilt.position,
        events_read = rebuilt.events_read,
        events_applied = rebuilt.events_applied,
        "projection rebuilt and swapped in"
    );
    Ok(rebuilt)
}

/// Applies the events after `rebuilt.position` up to `target` to the tables in `schema`, a batch
/// per transaction. A reader task reads the next batches while this one applies, so that the
/// store's read and the projection's writes overlap.
async fn replay<P: Projection>(
    store: &EventStore,
    client: &mut tokio_postgres::Client,
    projection: &P,
    schema: &str,
    rebuilt: &mut Rebuilt,
    target: i64,
) -> Result<(), ProjectionError> {
    let (batches, mut incoming) =
        tokio::sync::mpsc::channel::<Result<Vec<RecordedEvent>, ProjectionError>>(4);
    let reader = {
        let (store, mut after) = (store.clone(), rebuilt.position);
        tokio::spawn(async move {
            while after < target {
                let events = match store.read_all(after, REBUILD_READ_EVENTS).await {
                    Ok(events) => events,
                    Err(e) => {
                        let _ = batches.send(Err(e.into())).await;
                        return;
                    }
                };
                let events: Vec<_> = events
                    .into_iter()
                    .filter(|e| e.global_position <= target)
                    .collect();
                let Some(last) = events.last() else { return };
                after = last.global_position;
                if batches.send(Ok(events)).await.is_err() {
                    return;
                }
            }
        })
    };
    let statements = Statements::default();
    let result = async {
        while let Some(events) = incoming.recv().await {
            let events = events?;
            let Some(last) = events.last() else { continue };
            let last = last.global_position;
            rebuilt.events_read += events.len() as u64;
            let wanted: Vec<&RecordedEvent> =
                events.iter().filter(|e| projection.wants(e)).collect();
            if !wanted.is_empty() {
                let tx = Tx::new(client.transaction().await?, &statements);
                tx.batch_execute(&format!(
                    "SET LOCAL synchronous_commit = off; {}",
                    search_path_sql(schema)
                ))
                .await?;
                projection.apply_all(&tx, &wanted, Mode::Rebuild).await?;
                tx.commit().await?;
                rebuilt.events_applied += wanted.len() as u64;
            }
            rebuilt.position = last;
        }
        Ok(())
    }
    .await;
    reader.abort();
    result
}

/// Turns a stored event into a domain event with the domain's `decode_text` (which upcasts old
/// schema versions first); a failure names the position and type, and stops the projection.
pub fn decode<T>(
    event: &RecordedEvent,
    decode: impl Fn(&str, i32, &str) -> Result<T, domain::event::DecodeError>,
) -> Result<T, ProjectionError> {
    decode(&event.event_type, event.schema_version, event.data.get()).map_err(|e| {
        ProjectionError::Decode {
            position: event.global_position,
            event_type: event.event_type.clone(),
            reason: e.to_string(),
        }
    })
}

/// The error for an event that does not follow the row it should change.
pub fn out_of_order(event: &RecordedEvent) -> ProjectionError {
    ProjectionError::OutOfOrder {
        position: event.global_position,
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_differ_per_projection_and_never_change() {
        assert_ne!(lease_key("directory"), lease_key("inbox"));
        // Processes of different versions must agree on the key: pinned.
        assert_eq!(lease_key("directory"), -1_914_442_820_970_845_190);
        assert_ne!(lease_key("directory"), advisory_key("rebuild", "directory"));
        assert_eq!(
            search_path_sql("a\"b"),
            "SET LOCAL search_path TO \"a\"\"b\""
        );
    }
}
