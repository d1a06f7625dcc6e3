//! Group commit: appends that arrive while others are being written share one transaction.
//!
//! A commit costs a round trip, a transaction and a WAL flush whatever it holds; on a small
//! machine that fixed cost, not the rows, limits how many appends per second the store takes
//! (ADR 0006, ADR 0009, ADR 0012). So every append goes through one queue. A dispatcher starts
//! a transaction for whatever is waiting as soon as none is in flight, and a further one beside
//! it (up to `append_concurrency`) only when a full batch waits or the one in flight is taking
//! long: one statement, one transaction, in which each append is judged by the same rules as a
//! lone one, in arrival order; its caller is answered once the transaction has committed.
//! Appends without a command id that expect an exact version (most of them) go through the lean
//! insert (`LEAN_INSERT_SQL`), which lets the unique key decide races; any other batch through
//! `samplan_append_batch`, which looks versions and command ids up first.
//!
//! No append waits for a timer. Before it starts a transaction the dispatcher yields a few
//! times (a *linger*), so callers that a finished transaction has just answered, and that come
//! straight back with their next append, join this transaction instead of the next one; the
//! linger ends as soon as yielding brings nothing new, so a lone writer loses only two yields.
//!
//! - A stream (or command id) is in at most one transaction at a time, and at most once in it
//!   (the SQL is set-based and relies on that): a second append to a stream waits for the
//!   first one's transaction to end and is then judged against its events, as if it had come
//!   later. So inside this process appends never race each other; waiting appends keep their
//!   order.
//! - A batch that fails as a whole (a race with another process, a duplicate event id, a
//!   broken check) rolled back completely; each of its appends is then written on its own, so
//!   one bad append never decides another's fate.
//! - When the connection is lost mid-batch nobody knows whether it committed: appends with a
//!   command id are retried (a committed one is recognised and replayed), the others get
//!   `Unavailable` — exactly what a lone append does.

use std::collections::{HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::append::{AppendRequest, Writer};
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::model::AppendOutcome;

/// An append waiting in the queue, with the way back to its caller.
struct Pending {
    request: AppendRequest,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// What became of a submitted append.
pub(crate) enum Submitted {
    /// A group-commit transaction wrote it (or tried to): its result.
    Answered(Result<AppendOutcome, StoreError>),
    /// Group commit is off or its dispatcher has stopped: the caller writes it itself.
    Direct(AppendRequest),
}

/// Appends the queue may hold before callers wait to enqueue: bounds memory under overload and
/// pushes back on the callers instead.
const QUEUE_DEPTH: usize = 1024;

/// Most bytes of event data in one batch; a single larger append still goes, alone.
const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// How much group commit has grouped, for metrics and for tests that check the mechanism.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions written by group commit (a lone append counts as one).
    pub transactions: u64,
    /// Appends those transactions carried.
    pub appends: u64,
    /// Time those transactions took, in microseconds, summed.
    pub busy_us: u64,
    /// Appends written by their caller in a transaction of their own, because group commit is
    /// off.
    pub direct: u64,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    appends: AtomicU64,
    busy_us: AtomicU64,
    direct: AtomicU64,
}

/// The queue into group commit. Without a sender group commit is off.
pub(crate) struct GroupCommit {
    sender: Option<mpsc::Sender<Pending>>,
    counters: Arc<Counters>,
}

impl GroupCommit {
    /// Starts the dispatcher when `config.append_concurrency` > 0. It ends when this handle is
    /// dropped (its queue closes) and the transactions in flight have ended.
    pub(crate) fn start(writer: Writer, config: &StoreConfig) -> GroupCommit {
        let counters = Arc::new(Counters::default());
        let sender = (config.append_concurrency > 0).then(|| {
            let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
            tokio::spawn(dispatch(
                writer,
                rx,
                config.append_concurrency,
                config.append_batch_max.max(1),
                counters.clone(),
            ));
            tx
        });
        GroupCommit { sender, counters }
    }

    /// Queues `request` and waits for the answer.
    pub(crate) async fn submit(&self, request: AppendRequest) -> Submitted {
        let Some(sender) = &self.sender else {
            self.counters.direct.fetch_add(1, Ordering::Relaxed);
            return Submitted::Direct(request);
        };
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(pending)) = sender.send(Pending { request, reply }).await
        {
            self.counters.direct.fetch_add(1, Ordering::Relaxed);
            return Submitted::Direct(pending.request);
        }
        match answer.await {
            Ok(result) => Submitted::Answered(result),
            // Only if a writer task died mid-batch (a panic): whether it committed is unknown.
            Err(_) => Submitted::Answered(Err(StoreError::Unavailable(
                "skrivkön avbröts; om händelserna sparades är okänt".into(),
            ))),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            appends: self.counters.appends.load(Ordering::Relaxed),
            busy_us: self.counters.busy_us.load(Ordering::Relaxed),
            direct: self.counters.direct.load(Ordering::Relaxed),
        }
    }
}

/// Most yields one linger before a batch may take (see [`dispatch`]).
const LINGER_YIELDS_MAX: usize = 16;

/// Yields in a row that brought no new append, after which a linger ends.
const LINGER_IDLE_YIELDS: usize = 2;

/// After how long a transaction in flight may be joined by another one (see [`Slots`]).
const OVERLAP_AFTER: Duration = Duration::from_millis(5);

/// When the dispatcher may start a transaction (ADR 0012). The first always starts at once.
/// Another one, while some are in flight, only when a full batch is waiting or the newest one in
/// flight has taken longer than [`OVERLAP_AFTER`] (a lock wait, a slow disk, a huge batch).
/// Otherwise the waiting appends go together in the next transaction: each transaction costs a
/// WAL flush of its own, and eight writers that wait for their answers were measured to get
/// through faster in one transaction of eight than in two of four.
struct Slots {
    in_flight_max: usize,
    batch_max: usize,
    newest_started: Instant,
}

impl Slots {
    fn may_start(&self, in_flight: usize, waiting: usize) -> bool {
        in_flight == 0
            || (in_flight < self.in_flight_max
                && (waiting >= self.batch_max || self.newest_started.elapsed() >= OVERLAP_AFTER))
    }
}

/// Starts a transaction for whatever is waiting when [`Slots::may_start`] says so. A stream or
/// command id that is in flight, or already in the batch being built, waits (in arrival order)
/// for a later batch.
///
/// The dispatcher drives its transactions itself instead of spawning a task for each: an answer
/// from the database then wakes one task, which answers the callers, frees the streams and
/// collects the next batch, instead of handing the work across tasks (and, on a small machine,
/// across threads that have to be woken) three times. A transaction that panics is caught: its
/// callers learn that the outcome is unknown and its streams are freed, as before.
async fn dispatch(
    writer: Writer,
    mut queue: mpsc::Receiver<Pending>,
    in_flight_max: usize,
    batch_max: usize,
    counters: Arc<Counters>,
) {
    let mut writing = FuturesUnordered::new();
    let mut waiting: VecDeque<Pending> = VecDeque::new();
    let mut busy_streams: HashSet<String> = HashSet::new();
    let mut busy_commands: HashSet<String> = HashSet::new();
    let mut slots = Slots {
        in_flight_max,
        batch_max,
        newest_started: Instant::now(),
    };
    // Whether the overlap timer may wake the dispatcher: after it has fired once, only a new
    // append or a finished transaction re-arms it (the waiting appends may all be for streams
    // in flight, and a timer in the past would otherwise fire again and again).
    let mut overlap_armed = false;
    let mut open = true;
    loop {
        // Wait for something to do: a finished transaction frees its streams and a slot; a new
        // append is only worth waking for when a slot is free; the overlap timer lets a
        // transaction start beside one that is taking long.
        let overlap_at = tokio::time::Instant::from_std(slots.newest_started + OVERLAP_AFTER);
        let overlap_pending = overlap_armed
            && !writing.is_empty()
            && writing.len() < in_flight_max
            && !waiting.is_empty();
        tokio::select! {
            biased;
            Some((streams, commands)) = writing.next(), if !writing.is_empty() => {
                for s in streams {
                    busy_streams.remove(&s);
                }
                for c in commands {
                    busy_commands.remove(&c);
                }
                overlap_armed = true;
            }
            next = queue.recv(), if open && writing.len() < in_flight_max => match next {
                Some(pending) => {
                    waiting.push_back(pending);
                    overlap_armed = true;
                }
                None => open = false,
            },
            () = tokio::time::sleep_until(overlap_at), if overlap_pending => {
                overlap_armed = false;
            }
            else => return,
        }
        while let Ok(pending) = queue.try_recv() {
            waiting.push_back(pending);
        }
        // Linger without a timer: the callers a finished transaction just answered usually
        // come straight back with their next append. Yielding to them a few times lets those
        // appends join this transaction instead of the next one; it stops as soon as yields
        // bring nothing new, so a lone writer pays for only a couple of yields. (Transactions
        // in flight are not polled meanwhile; their wake-ups are kept and served right after.)
        let mut idle_yields = 0;
        let mut yields = 0;
        while slots.may_start(writing.len(), waiting.len())
            && !waiting.is_empty()
            && yields < LINGER_YIELDS_MAX
            && idle_yields < LINGER_IDLE_YIELDS
        {
            let before = waiting.len();
            tokio::task::yield_now().await;
            while let Ok(pending) = queue.try_recv() {
                waiting.push_back(pending);
            }
            yields += 1;
            if waiting.len() == before {
                idle_yields += 1;
            } else {
                idle_yields = 0;
            }
        }
        // Start as many transactions as the slots and the admissible appends allow.
        while !waiting.is_empty() && slots.may_start(writing.len(), waiting.len()) {
            let mut batch = Batch::default();
            let mut put_back = VecDeque::new();
            while let Some(next) = waiting.pop_front() {
                if batch.len() < batch_max
                    && batch.admits(&next.request, &busy_streams, &busy_commands)
                {
                    batch.push(next);
                } else {
                    put_back.push_back(next);
                }
            }
            waiting = put_back;
            if batch.len() == 0 {
                break;
            }
            slots.newest_started = Instant::now();
            busy_streams.extend(batch.streams.iter().cloned());
            busy_commands.extend(batch.commands.iter().cloned());
            let Batch {
                pending,
                streams,
                commands,
                ..
            } = batch;
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters
                .appends
                .fetch_add(pending.len() as u64, Ordering::Relaxed);
            let counters = counters.clone();
            let writer = writer.clone();
            writing.push(async move {
                let started = Instant::now();
                // A panic while writing drops the callers' reply channels (they are told the
                // outcome is unknown); the streams must be handed back all the same, or their
                // next appends would wait forever.
                let (requests, mut replies): (Vec<_>, Vec<_>) = pending
                    .into_iter()
                    .map(|p| (p.request, Some(p.reply)))
                    .unzip();
                let write = writer.write_batch(&requests, |i, result| {
                    if let Some(reply) = replies.get_mut(i).and_then(Option::take) {
                        let _ = reply.send(result);
                    }
                });
                if AssertUnwindSafe(write).catch_unwind().await.is_err() {
                    tracing::error!("a group-commit transaction panicked; its outcome is unknown");
                }
                let spent = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                counters.busy_us.fetch_add(spent, Ordering::Relaxed);
                // Handed back to the dispatcher: these streams and command ids are free again.
                (streams, commands)
            });
        }
        if !open && waiting.is_empty() && writing.is_empty() {
            return;
        }
    }
}

/// A batch being built: appends with pairwise different streams and command ids, none of them
/// in flight, within the size bound.
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

    /// False when the request's stream or command id is in flight or already in the batch, or
    /// it would make the batch too large (a first append is always admitted by size).
    fn admits(
        &self,
        request: &AppendRequest,
        busy_streams: &HashSet<String>,
        busy_commands: &HashSet<String>,
    ) -> bool {
        let too_big = !self.pending.is_empty() && self.bytes + request.bytes > BATCH_BYTES_MAX;
        let command_taken = request.command.as_ref().is_some_and(|c| {
            self.commands.contains(&c.command_id) || busy_commands.contains(&c.command_id)
        });
        let stream_taken =
            self.streams.contains(&request.stream_id) || busy_streams.contains(&request.stream_id);
        !too_big && !command_taken && !stream_taken
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
