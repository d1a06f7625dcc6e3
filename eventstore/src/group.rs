//! Group commit: appends that arrive while others are being written share one transaction.
//!
//! A commit costs a round trip, a transaction and a WAL flush whatever it holds; on a small
//! machine that fixed cost, not the rows, limits how many appends per second the store takes
//! (ADR 0006). So appends are queued on a few *lanes*. A lane writes whatever is waiting as one
//! call of `samplan_append_batch` (one statement, one transaction): each append is judged by the
//! same SQL as a lone one, in arrival order, and its caller is answered once the transaction
//! has committed. Nothing waits for a timer: a lone append goes at once, and a batch grows only
//! from appends that arrived while the lane's previous transaction was in flight.
//!
//! - Appends to one stream always take the same lane, so inside this process they never race
//!   each other across transactions. A batch holds each stream and each command id at most
//!   once (the SQL is set-based and relies on it); a second append to a stream waits for the
//!   next batch and is then judged against the first one's events, as if it had come later.
//! - A batch that fails as a whole (a race with another process, a duplicate event id, a
//!   broken check) rolled back completely; each of its appends is then written on its own, so
//!   one bad append never decides another's fate.
//! - When the connection is lost mid-batch nobody knows whether it committed: appends with a
//!   command id are retried (a committed one is recognised and replayed), the others get
//!   `Unavailable` — exactly what a lone append does.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;

use tokio::sync::{mpsc, oneshot};

use crate::config::StoreConfig;
use crate::error::{describe, is_connection_lost, StoreError};
use crate::model::{AppendOutcome, CommandKey, ExpectedVersion, NewEvent};
use crate::store::{expectation, settle, EventColumns, EventStore, Inner};

/// One validated append on its way to the database.
pub(crate) struct AppendRequest {
    pub(crate) stream_id: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) command: Option<CommandKey>,
    /// Serialized size of the events' data, to keep a batch's size bounded.
    pub(crate) bytes: usize,
}

/// An append waiting on a lane, with the way back to its caller.
struct Pending {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// What became of a submitted append.
pub(crate) enum Submitted {
    /// A lane wrote it (or tried to): its result.
    Answered(Result<AppendOutcome, StoreError>),
    /// Group commit is off or its lane has stopped: the caller writes it itself.
    Direct(AppendRequest),
}

/// Appends a lane's queue may hold before callers wait to enqueue: bounds memory under
/// overload and pushes back on the callers instead.
const QUEUE_DEPTH: usize = 1024;

/// Most bytes of event data in one batch; a single larger append still goes, alone.
const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

const BATCH_SQL: &str = "SELECT idx, status, actual, positions, result, request_hash \
     FROM samplan_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
     $15, $16, $17) ORDER BY idx";

/// How much group commit has grouped, for metrics and for tests that check the mechanism.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions written by lanes (a lone append counts as one).
    pub transactions: u64,
    /// Appends those transactions carried.
    pub appends: u64,
    /// Time the lanes spent writing, in microseconds (summed over lanes).
    pub busy_us: u64,
}

/// The lanes of one store. Empty when group commit is off.
pub(crate) struct Lanes {
    senders: Vec<mpsc::Sender<Pending>>,
    transactions: std::sync::Arc<AtomicU64>,
    appends: std::sync::Arc<AtomicU64>,
    busy_us: std::sync::Arc<AtomicU64>,
}

impl Lanes {
    /// Starts `config.append_lanes` lane tasks. They hold the store only weakly and end when
    /// the last handle to it is dropped (their queues close).
    pub(crate) fn start(store: Weak<Inner>, config: &StoreConfig) -> Lanes {
        let transactions = std::sync::Arc::new(AtomicU64::new(0));
        let appends = std::sync::Arc::new(AtomicU64::new(0));
        let busy_us = std::sync::Arc::new(AtomicU64::new(0));
        let batch_max = config.append_batch_max.max(1);
        let senders = (0..config.append_lanes)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                tokio::spawn(lane(
                    store.clone(),
                    rx,
                    batch_max,
                    transactions.clone(),
                    appends.clone(),
                    busy_us.clone(),
                ));
                tx
            })
            .collect();
        Lanes {
            senders,
            transactions,
            appends,
            busy_us,
        }
    }

    /// Queues `request` on its stream's lane and waits for the answer.
    pub(crate) async fn submit(&self, request: AppendRequest) -> Submitted {
        if self.senders.is_empty() {
            return Submitted::Direct(request);
        }
        let lane = &self.senders[lane_of(&request.stream_id, self.senders.len())];
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(pending)) = lane.send(Pending { request, reply }).await {
            return Submitted::Direct(pending.request);
        }
        match answer.await {
            Ok(result) => Submitted::Answered(result),
            // Only if the lane task died mid-batch (a panic): whether it committed is unknown.
            Err(_) => Submitted::Answered(Err(StoreError::Unavailable(
                "skrivkön avbröts; om händelserna sparades är okänt".into(),
            ))),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            busy_us: self.busy_us.load(Ordering::Relaxed),
        }
    }
}

/// The lane a stream's appends take: fixed for the life of the process.
fn lane_of(stream_id: &str, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    stream_id.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

async fn lane(
    store: Weak<Inner>,
    mut queue: mpsc::Receiver<Pending>,
    batch_max: usize,
    transactions: std::sync::Arc<AtomicU64>,
    appends: std::sync::Arc<AtomicU64>,
    busy_us: std::sync::Arc<AtomicU64>,
) {
    // Appends put back because their stream or command id was already in the batch being
    // built; they go first next time, in the order they came, so a stream's appends keep
    // their order.
    let mut waiting: VecDeque<Pending> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match queue.recv().await {
                Some(pending) => waiting.push_back(pending),
                None => return,
            }
        }
        let mut batch = Batch::default();
        let mut put_back = VecDeque::new();
        while batch.len() < batch_max {
            let next = match waiting.pop_front() {
                Some(pending) => pending,
                None => match queue.try_recv() {
                    Ok(pending) => pending,
                    Err(_) => break,
                },
            };
            if batch.admits(&next.request) {
                batch.push(next);
            } else {
                let full = batch.bytes >= BATCH_BYTES_MAX;
                put_back.push_back(next);
                if full {
                    break;
                }
            }
        }
        put_back.extend(waiting.drain(..));
        waiting = put_back;
        // Callers hold the store while they wait, so this only fails once nobody waits.
        let Some(inner) = store.upgrade() else { return };
        transactions.fetch_add(1, Ordering::Relaxed);
        appends.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let started = std::time::Instant::now();
        EventStore { inner }.write_batch(batch.pending).await;
        let spent = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        busy_us.fetch_add(spent, Ordering::Relaxed);
    }
}

/// A batch being built: appends with pairwise different streams and command ids, within the
/// size bound.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    streams: HashSet<String>,
    commands: HashSet<String>,
    bytes: usize,
}

impl Batch {
    fn len(&self) -> usize {
        self.pending.len()
    }

    /// False when the request's stream or command id is already in the batch or it would make
    /// the batch too large (a first append is always admitted).
    fn admits(&self, request: &AppendRequest) -> bool {
        let too_big = !self.pending.is_empty() && self.bytes + request.bytes > BATCH_BYTES_MAX;
        let command_taken = request
            .command
            .as_ref()
            .is_some_and(|c| self.commands.contains(&c.command_id));
        !too_big && !command_taken && !self.streams.contains(&request.stream_id)
    }

    fn push(&mut self, next: Pending) {
        let request = &next.request;
        self.streams.insert(request.stream_id.clone());
        if let Some(c) = &request.command {
            self.commands.insert(c.command_id.clone());
        }
        self.bytes += request.bytes;
        self.pending.push(next);
    }
}

impl EventStore {
    /// How much group commit has grouped since the store was connected.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.inner.lanes.stats()
    }

    /// Writes a lane's batch and answers every caller in it.
    async fn write_batch(&self, mut batch: Vec<Pending>) {
        if batch.len() == 1 {
            if let Some(Pending { request, reply }) = batch.pop() {
                let _ = reply.send(self.append_one(&request).await);
            }
            return;
        }
        match self.try_batch(&batch).await {
            Ok(results) => {
                let head = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .filter(|o| !o.replayed)
                    .map(|o| o.global_position)
                    .max();
                if let Some(position) = head {
                    self.inner.wake.appended(position);
                }
                for (pending, result) in batch.into_iter().zip(results) {
                    let _ = pending.reply.send(result);
                }
            }
            Err(BatchFailed::NoConnection(err)) => {
                for pending in batch {
                    let _ = pending.reply.send(Err(copy_of(&err)));
                }
            }
            Err(BatchFailed::Lost(message)) => {
                tracing::info!(error = %message, appends = batch.len(),
                    "connection lost during a group commit; retrying the appends that can be");
                for Pending { request, reply } in batch {
                    let result = if request.command.is_some() {
                        self.append_one(&request).await
                    } else {
                        Err(StoreError::Unavailable(format!(
                            "anslutningen bröts under skrivningen; om händelserna sparades är \
                             okänt: {message}"
                        )))
                    };
                    let _ = reply.send(result);
                }
            }
            Err(BatchFailed::RolledBack(message)) => {
                tracing::debug!(error = %message, appends = batch.len(),
                    "group commit rolled back; writing its appends one by one");
                for Pending { request, reply } in batch {
                    let _ = reply.send(self.append_one(&request).await);
                }
            }
        }
    }

    /// One `samplan_append_batch` call for the whole batch: one result per append, in order.
    async fn try_batch(
        &self,
        batch: &[Pending],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, BatchFailed> {
        let client = self.client().await.map_err(BatchFailed::NoConnection)?;
        let mut columns = EventColumns::default();
        let (mut streams, mut kinds, mut exacts) = (Vec::new(), Vec::new(), Vec::new());
        let (mut command_ids, mut request_hashes) = (Vec::new(), Vec::new());
        let (mut owners, mut ords) = (Vec::new(), Vec::new());
        for (i, Pending { request, .. }) in batch.iter().enumerate() {
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
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 17] = [
            &streams,
            &kinds,
            &exacts,
            &command_ids,
            &request_hashes,
            &owners,
            &ords,
            &columns.ids,
            &columns.types,
            &columns.schemas,
            &columns.payloads,
            &columns.actors,
            &columns.units,
            &columns.roles,
            &columns.command_ids,
            &columns.correlations,
            &columns.causations,
        ];
        let failed = |err: tokio_postgres::Error| {
            if is_connection_lost(&err) {
                BatchFailed::Lost(describe(&err))
            } else {
                BatchFailed::RolledBack(describe(&err))
            }
        };
        let stmt = client.prepare_cached(BATCH_SQL).await.map_err(failed)?;
        let rows = client.query(&stmt, &params).await.map_err(failed)?;
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
            .map(|(row, pending)| settle(&pending.request, row, 1))
            .collect())
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

#[cfg(test)]
mod tests {
    use super::lane_of;

    #[test]
    fn a_stream_always_takes_the_same_lane_and_lanes_are_all_used() {
        let lanes: Vec<usize> = (0..64).map(|i| lane_of(&format!("sip-{i}"), 4)).collect();
        for (i, lane) in lanes.iter().enumerate() {
            assert_eq!(lane_of(&format!("sip-{i}"), 4), *lane);
        }
        for lane in 0..4 {
            assert!(lanes.contains(&lane), "lane {lane} unused: {lanes:?}");
        }
    }
}
