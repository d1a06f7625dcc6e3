//! The projection runner: what every read model shares, so that a read model is only its schema,
//! its apply step and its queries.
//!
//! A read model implements [`Projection`]. [`run`] follows the event store from the projection's
//! checkpoint in commit order (`EventStore::tail`, which never skips a position that commits
//! late) and applies what the store has ready in batches of at most [`BATCH_EVENTS_MAX`]. Each
//! batch, its row changes and the new checkpoint are one transaction that first locks the
//! checkpoint row, so an event takes effect exactly once even if a second runner is started by
//! mistake or the process dies mid-batch. Transient failures (the database restarting) pause the
//! runner with capped exponential backoff; an event that cannot be applied stops it with the
//! error, so the process can say which worker stopped and why.
//!
//! Readers use [`checkpoint`] and [`wait_for`] (read-your-writes with `?min_position`), and
//! [`reset`] empties a projection so that the next [`run`] rebuilds it from the first event.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool, Transaction};
use eventstore::{EventStore, RecordedEvent};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;

/// Most events applied in one transaction; a batch is only what the store has ready, so a quiet
/// system applies each event as soon as it commits.
pub const BATCH_EVENTS_MAX: usize = 256;
/// Backoff after a transient failure (database gone), doubled up to the maximum.
const RETRY_MS_MIN: u64 = 100;
const RETRY_MS_MAX: u64 = 5_000;
/// How often [`wait_for`] looks at the checkpoint, doubled up to the maximum.
const WAIT_POLL_MS_MIN: u64 = 5;
const WAIT_POLL_MS_MAX: u64 = 100;

/// One read model: its name, which events concern it, how one changes its rows, and how its rows
/// are emptied for a rebuild. The rows must be a function of the events alone (no clock, no
/// random ids), so that a rebuild gives the same tables as the live run.
pub trait Projection: Send + Sync + 'static {
    /// The projection's name in `projections.checkpoints`.
    fn name(&self) -> &'static str;

    /// Whether `event` may change this projection's rows, judged without decoding it (by stream
    /// and type). Batches with no such event only move the checkpoint.
    fn wants(&self, event: &RecordedEvent) -> bool;

    /// Applies one event inside the batch's transaction. Called in global order, once per event
    /// after the checkpoint.
    fn apply<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        event: &'a RecordedEvent,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send + 'a;

    /// Deletes every row of the projection (the checkpoint is the runner's business).
    fn reset<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send + 'a;
}

/// Follows the event store and keeps `projection` up to date until `cancel` fires.
///
/// Transient failures are logged and retried with backoff; an event that cannot be applied
/// (unknown type, out of order) ends the run with the error.
pub async fn run<P: Projection>(
    store: EventStore,
    projection: P,
    cancel: CancellationToken,
) -> Result<(), ProjectionError> {
    let name = projection.name();
    let mut retry_ms = RETRY_MS_MIN;
    loop {
        let result = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            r = follow(&store, &projection) => r,
        };
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
                tracing::error!(projection = name, error = %e, "projection stopped");
                return Err(e);
            }
        }
    }
}

/// One attempt: tail from the stored checkpoint and apply batches until something fails.
async fn follow<P: Projection>(store: &EventStore, projection: &P) -> Result<(), ProjectionError> {
    let pool = store.pool();
    let start = {
        let client = pool.get().await?;
        ensure_checkpoint(&client, projection.name()).await?
    };
    tracing::info!(
        projection = projection.name(),
        after_position = start,
        "projection following the store"
    );
    let mut batches = Box::pin(store.tail(start).ready_chunks(BATCH_EVENTS_MAX));
    while let Some(batch) = batches.next().await {
        let events = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
        apply_batch(pool, projection, &events).await?;
    }
    Ok(())
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

/// Applies `events` (in global order) that lie after the checkpoint, and moves the checkpoint,
/// in one transaction. Events at or before the checkpoint were applied already and are skipped.
/// Returns the checkpoint after the batch.
pub async fn apply_batch<P: Projection>(
    pool: &Pool,
    projection: &P,
    events: &[RecordedEvent],
) -> Result<i64, ProjectionError> {
    let name = projection.name();
    let mut client = pool.get().await?;
    let Some(last) = events.iter().map(|e| e.global_position).max() else {
        return ensure_checkpoint(&client, name).await;
    };
    if !events.iter().any(|e| projection.wants(e)) {
        // Nothing to apply (for most projections most of the traffic), so exactly-once does not
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
        if client.execute(&moved, &[&name, &last]).await? == 1 {
            return Ok(last);
        }
        // Not moved: the row is missing (a first batch) or already further on.
        ensure_checkpoint(&client, name).await?;
        client.execute(&moved, &[&name, &last]).await?;
        return checkpoint_of(&client, name).await;
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
    let checkpoint: i64 = match tx.query_opt(&lock, &[&name]).await? {
        Some(row) => row.get(0),
        None => {
            // The first batch ever (`follow` creates the row; a direct caller may not have).
            ensure_checkpoint(&tx, name).await?;
            tx.query_one(&lock, &[&name]).await?.get(0)
        }
    };
    let mut last = checkpoint;
    for event in events.iter().filter(|e| e.global_position > checkpoint) {
        if projection.wants(event) {
            projection.apply(&tx, event).await?;
        }
        last = last.max(event.global_position);
    }
    if last > checkpoint {
        tx.execute(&moved, &[&name, &last]).await?;
    }
    tx.commit().await?;
    Ok(last)
}

/// The global position of the last event `projection` has applied (0: none).
pub async fn checkpoint(pool: &Pool, projection: &str) -> Result<i64, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT position FROM projections.checkpoints WHERE projection = $1",
            &[&projection],
        )
        .await?;
    Ok(row.map_or(0, |r| r.get(0)))
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

/// Empties `projection` and sets its checkpoint to 0, so the next [`run`] rebuilds it from the
/// first event. Stop the projection first; this needs DELETE, which only the projection's own
/// role should have.
pub async fn reset<P: Projection>(pool: &Pool, projection: &P) -> Result<(), ProjectionError> {
    let name = projection.name();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    ensure_checkpoint(&tx, name).await?;
    tx.execute(
        "SELECT position FROM projections.checkpoints WHERE projection = $1 FOR UPDATE",
        &[&name],
    )
    .await?;
    projection.reset(&tx).await?;
    tx.execute(
        "UPDATE projections.checkpoints SET position = 0, updated_at = statement_timestamp()
          WHERE projection = $1",
        &[&name],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Turns a stored event into a domain event with the domain's `decode` (which upcasts old schema
/// versions first); a failure names the position and type, and stops the projection.
pub fn decode<T>(
    event: &RecordedEvent,
    decode: impl Fn(&str, i32, serde_json::Value) -> Result<T, domain::event::DecodeError>,
) -> Result<T, ProjectionError> {
    let failed = |reason: String| ProjectionError::Decode {
        position: event.global_position,
        event_type: event.event_type.clone(),
        reason,
    };
    let data = event.data_as().map_err(|e| failed(e.to_string()))?;
    decode(&event.event_type, event.schema_version, data).map_err(|e| failed(e.to_string()))
}

/// The error for an event that does not follow the row it should change.
pub fn out_of_order(event: &RecordedEvent) -> ProjectionError {
    ProjectionError::OutOfOrder {
        position: event.global_position,
        stream_id: event.stream_id.clone(),
        stream_version: event.stream_version,
    }
}
