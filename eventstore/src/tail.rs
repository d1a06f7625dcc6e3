//! Following all events in global order without ever skipping one (ADR 0001).
//!
//! Positions come from a sequence, so they are drawn in one order and committed in another: a
//! reader can see position 11 while 10 is still in flight. The tailer therefore delivers only
//! the contiguous run after its checkpoint and stops at the first hole. A hole is skipped only
//! when it is provably permanent (its transaction rolled back, or nobody drew it), which is
//! decided with transaction ids:
//!
//! 1. Every append takes its xid before drawing positions (`samplan_append`).
//! 2. When the tailer first sees a hole below a visible position `h_max`, it takes an xid `B`
//!    of its own *after* that read. Whoever drew a hole `g < h_max` took its xid before `h_max`
//!    was drawn, hence before that read, hence before `B`: its xid is `< B`.
//! 3. A later read whose snapshot has `xmin >= B` knows all xids `< B` have finished; if `g`
//!    is still missing in that snapshot it never will appear, and the tailer moves past it.
//! 4. The xmin waits for every transaction with an xid in the whole cluster, also those that
//!    never touch events (another database's migration). So with `B` the tailer also notes the
//!    transactions writing events right then (`crate::writers`, ADR 0045): whoever drew `g`
//!    and is still running is among them. Once none of them runs, a read after that check
//!    judges `g` as one with `xmin >= B` would. Either proof moves the tailer on.
//!
//! `pg_snapshot_xmax` cannot replace `B`: PostgreSQL sets a snapshot's xmax to the latest
//! *completed* xid + 1, so a running transaction may hold an xid at or above it.

use std::collections::VecDeque;
use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;

use crate::error::StoreError;
use crate::model::RecordedEvent;
use crate::store::{decode_event_at, EventStore, EVENT_COLUMNS};
use crate::writers::{beside_writers, still_running};

/// Rows read per round trip.
const BATCH_SIZE: i64 = 500;
/// Re-check of a pending hole: short, since most holes are rolled-back appends that become
/// provably permanent within milliseconds.
const HOLE_RECHECK_MS_MIN: u64 = 2;
/// A hole held by a long transaction is re-checked less and less often, up to this.
const HOLE_RECHECK_MS_MAX: u64 = 100;
/// Backoff after a failed read. (Without any wake-up an idle tailer still polls every
/// `StoreConfig::tail_idle_poll_ms`, in case a notification from another process was lost.)
const ERROR_BACKOFF_MS_MIN: u64 = 50;
const ERROR_BACKOFF_MS_MAX: u64 = 5_000;

/// The hole-skipping rule, without I/O so it can be tested on its own.
#[derive(Debug, Default, Clone)]
pub(crate) struct GapTracker {
    bound: Option<Bound>,
}

/// What settles the holes below `below` (an `h_max`): a snapshot with `xmin >= xid`, or a read
/// after every one of `writers` has ended.
#[derive(Debug, Clone)]
struct Bound {
    xid: i64,
    below: i64,
    /// The transactions writing events when the bound was taken, narrowed as they end.
    writers: Vec<String>,
    /// None of `writers` runs any more: every read from now on may judge the holes.
    writers_ended: bool,
}

/// What one read allows.
#[derive(Debug, PartialEq)]
pub(crate) struct Step {
    /// Events to deliver now, in order.
    pub(crate) deliver: Vec<RecordedEvent>,
    /// Runs of positions skipped as permanent holes, as ranges: a hole may be millions of
    /// positions wide (a sequence moved on after a restore), and is not listed one by one.
    pub(crate) skipped: Vec<std::ops::RangeInclusive<i64>>,
    /// The first position the tailer is waiting for, if it stopped at a hole.
    pub(crate) waiting_for: Option<i64>,
    /// Set when the caller must take a fresh xid `B` (after this read) and pass it to
    /// [`GapTracker::set_bound`] with this `h_max`.
    pub(crate) needs_bound_below: Option<i64>,
}

impl GapTracker {
    /// Advances `checkpoint` over `rows` (ascending positions > checkpoint, read in one
    /// statement whose snapshot had `xmin`).
    pub(crate) fn step(&self, checkpoint: &mut i64, xmin: i64, rows: Vec<RecordedEvent>) -> Step {
        let h_max = rows.last().map(|r| r.global_position);
        let mut step = Step {
            deliver: Vec::new(),
            skipped: Vec::new(),
            waiting_for: None,
            needs_bound_below: None,
        };
        for row in rows {
            let pos = row.global_position;
            if pos <= *checkpoint {
                continue;
            }
            if pos > *checkpoint + 1 {
                if let Some(bound) = &self.bound {
                    if xmin >= bound.xid || bound.writers_ended {
                        let covered_below = bound.below;
                        // Holes below `covered_below` are settled; skip those within reach.
                        let skip_to = (pos - 1).min(covered_below - 1);
                        if *checkpoint < skip_to {
                            step.skipped.push(*checkpoint + 1..=skip_to);
                            *checkpoint = skip_to;
                        }
                    }
                }
            }
            if pos > *checkpoint + 1 {
                let hole = *checkpoint + 1;
                step.waiting_for = Some(hole);
                let covered = self.bound.as_ref().is_some_and(|b| hole < b.below);
                if !covered {
                    step.needs_bound_below = h_max;
                }
                return step;
            }
            *checkpoint = pos;
            step.deliver.push(row);
        }
        step
    }

    /// A new bound for the holes below `h_max`: `xid` and `writers` were both taken after the
    /// read that saw `h_max`.
    pub(crate) fn set_bound(&mut self, xid: i64, h_max: i64, writers: Vec<String>) {
        self.bound = Some(Bound {
            xid,
            below: h_max,
            writers_ended: writers.is_empty(),
            writers,
        });
    }

    /// The writers a bound still waits for, when there are any.
    pub(crate) fn writers_waited_for(&self) -> Option<&[String]> {
        self.bound
            .as_ref()
            .filter(|b| !b.writers_ended)
            .map(|b| b.writers.as_slice())
    }

    /// Of the bound's writers these still run (checked before the next read); none: every
    /// later read may judge the holes the bound covers.
    pub(crate) fn writers_running(&mut self, running: Vec<String>) {
        if let Some(bound) = &mut self.bound {
            bound.writers_ended = running.is_empty();
            bound.writers = running;
        }
    }
}

/// Most events the settled run keeps; older ones fall off its front.
const SETTLED_EVENTS_MAX: usize = 4 * BATCH_SIZE as usize;

/// The run of events that some tailer of this process last read and found settled: every
/// position in `(after, through]` is either one of `events` or a hole proven permanent. Settled
/// events never change (the store is append-only), so another tailer at a checkpoint inside the
/// run takes the rest of it from here instead of reading the same rows again; and when the read
/// that ended the run found nothing after it, a tailer that marked its wake-up no later than
/// that reader did knows it is caught up without a read of its own. The tailers of a process
/// read the database one at a time ([`Inner::tail_read`](crate::store::Inner)), so the five
/// read models of a projector woken by one commit read it once, not five times (ADR 0026).
#[derive(Debug, Default)]
pub(crate) struct SettledRun {
    after: i64,
    through: i64,
    events: VecDeque<RecordedEvent>,
    /// `Some(g)`: a read that ended at `through` found nothing beyond it (no hole, not a full
    /// batch) and its reader had marked wake-up generation `g` before reading, so every commit
    /// announced up to `g` is in the run.
    complete_at: Option<u64>,
}

/// One database read of a tailer, as the settled run learns of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SettledRead {
    /// The checkpoint before the read and after it.
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// The wake-up generation the reader had marked before reading.
    pub(crate) generation: u64,
    /// The read stopped at neither a hole nor its row limit: nothing more was committed.
    pub(crate) complete: bool,
}

/// What the settled run has for a tailer.
#[derive(Debug)]
pub(crate) enum FromRun {
    /// The next events and the checkpoint after them; `caught_up` when they end the run and
    /// nothing was committed after it as of the tailer's wake-up mark.
    Events {
        events: Vec<RecordedEvent>,
        next: i64,
        caught_up: bool,
    },
    /// The tailer is at the run's end and nothing was committed after it as of its mark.
    UpToDate,
    /// The run does not say: read the database.
    Unknown,
}

impl SettledRun {
    /// A tailer read the database and moved its checkpoint from `read.from` to `read.to` over
    /// `events` (ascending, all in that range, every other position there a permanent hole).
    pub(crate) fn record(&mut self, read: SettledRead, events: &[RecordedEvent]) {
        let SettledRead {
            from,
            to,
            generation,
            complete,
        } = read;
        if to < from {
            return;
        }
        if self.after <= from && from <= self.through {
            if to > self.through {
                // Continues the run: keep what extends it.
                let first_new = events.partition_point(|e| e.global_position <= self.through);
                self.events.extend(events[first_new..].iter().cloned());
                self.through = to;
                self.complete_at = complete.then_some(generation);
            } else if to == self.through && complete {
                // Nothing new at the end, as of this reader's mark.
                self.complete_at = Some(self.complete_at.map_or(generation, |g| g.max(generation)));
            }
        } else if from > self.through {
            // Further on, with unknown positions between: the newer run replaces the old one.
            self.after = from;
            self.through = to;
            self.events = events.iter().cloned().collect();
            self.complete_at = complete.then_some(generation);
        }
        // Otherwise behind the run's start (a tailer catching up): nothing to add.
        while self.events.len() > SETTLED_EVENTS_MAX {
            if let Some(dropped) = self.events.pop_front() {
                self.after = dropped.global_position;
            }
        }
    }

    /// What the run has for a tailer at `checkpoint` that marked wake-up generation `marked`:
    /// at most `max` events.
    pub(crate) fn take(&self, checkpoint: i64, max: usize, marked: u64) -> FromRun {
        let complete = self.complete_at.is_some_and(|g| g >= marked);
        if checkpoint < self.after || checkpoint > self.through {
            return FromRun::Unknown;
        }
        if checkpoint == self.through {
            return if complete {
                FromRun::UpToDate
            } else {
                FromRun::Unknown
            };
        }
        let first = self
            .events
            .partition_point(|e| e.global_position <= checkpoint);
        let events: Vec<RecordedEvent> = self.events.range(first..).take(max).cloned().collect();
        let reached_end = first + events.len() == self.events.len();
        let next = if reached_end {
            self.through
        } else {
            events.last().map_or(checkpoint, |e| e.global_position)
        };
        FromRun::Events {
            events,
            next,
            caught_up: reached_end && complete,
        }
    }
}

struct TailState {
    store: EventStore,
    checkpoint: i64,
    buffer: VecDeque<RecordedEvent>,
    gaps: GapTracker,
    wake: Option<watch::Receiver<u64>>,
    hole_wait_ms: u64,
    error_wait_ms: u64,
    /// The last read delivered everything there was (no hole, not a full batch): once the
    /// buffer is empty, wait for a wake-up before reading again rather than read once more
    /// only to find nothing (one read per commit instead of two).
    caught_up: bool,
    /// The last wait ended by its timeout, not by a wake-up: the next fill reads the database
    /// even where the settled run says nothing is new. The run knows only of commits that were
    /// announced; the safety poll is there for those that were not (a lost notification, a
    /// writer outside samplan), so it must really read.
    must_read: bool,
}

impl EventStore {
    /// Every committed event with position > `after_position`, in global order, each exactly
    /// once, waiting for new ones forever. Database errors are logged and retried with
    /// backoff; the stream ends only when dropped.
    pub fn tail(
        &self,
        after_position: i64,
    ) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
        let state = TailState {
            store: self.clone(),
            checkpoint: after_position,
            buffer: VecDeque::new(),
            gaps: GapTracker::default(),
            wake: None,
            hole_wait_ms: HOLE_RECHECK_MS_MIN,
            error_wait_ms: ERROR_BACKOFF_MS_MIN,
            caught_up: false,
            must_read: false,
        };
        futures::stream::unfold(state, |mut state| async move {
            let event = state.next().await;
            Some((event, state))
        })
    }

    /// One gap-aware read: the events after `after` and the xmin of the same snapshot.
    async fn read_for_tail(&self, after: i64) -> Result<(i64, Vec<RecordedEvent>), StoreError> {
        // pg_current_snapshot() is the statement's own snapshot, the one the rows come from.
        // The limit is written into the statement: a generic plan that knows it reads a few
        // hundred rows walks the primary key, while one with an unknown limit may scan and
        // sort the whole table on every wake-up (seen before the table was analyzed).
        // The position is `(SELECT $1)`, a value the planner does not look at: given the value,
        // it estimates (by probing the index's end) that almost nothing lies after it, finds that
        // plan cheaper than the generic one and so plans every read again — three quarters of
        // the read's time under load. Unseen, both plans cost the same and the generic one is
        // kept after the first five reads; it is the same walk of the primary key.
        let sql = format!(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, {EVENT_COLUMNS} \
             FROM events WHERE global_position > (SELECT $1::bigint) \
             ORDER BY global_position LIMIT {BATCH_SIZE}"
        );
        let sql = sql.as_str();
        let rows = self
            .inner
            .db
            .with_client(true, |client| async move {
                let stmt = client.prepare_cached(sql).await?;
                client.query(&stmt, &[&after]).await
            })
            .await?;
        let mut xmin = 0;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            xmin = row.try_get(0)?;
            events.push(decode_event_at(row, 1)?);
        }
        Ok((xmin, events))
    }

    /// An xid assigned now (larger than every xid assigned before this call) and the
    /// transactions writing events now.
    async fn take_bound(&self) -> Result<(i64, Vec<String>), StoreError> {
        beside_writers(&self.inner.db, "pg_current_xact_id()::text::bigint").await
    }

    /// Those of `writers` still running.
    async fn writers_still_running(&self, writers: &[String]) -> Result<Vec<String>, StoreError> {
        let client = self.inner.db.client().await?;
        still_running(&client, writers).await
    }
}

impl TailState {
    async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(event);
            }
            if std::mem::take(&mut self.caught_up) {
                // The wake-up was marked as seen before that read: a commit during or after it
                // ends this wait at once.
                self.sleep_or_wake(Duration::from_millis(self.store.config().tail_idle_poll_ms))
                    .await;
            }
            let wake = self
                .wake
                .get_or_insert_with(|| self.store.inner.wake.subscribe());
            // Mark what we have seen before reading, so a commit during the read wakes us.
            let marked = *wake.borrow_and_update();
            match self.fill(marked).await {
                Ok(Fill::Delivered) => {
                    self.error_wait_ms = ERROR_BACKOFF_MS_MIN;
                }
                Ok(Fill::Full) => continue,
                Ok(Fill::Hole) => {
                    self.error_wait_ms = ERROR_BACKOFF_MS_MIN;
                    let wait = Duration::from_millis(self.hole_wait_ms);
                    self.hole_wait_ms = (self.hole_wait_ms * 2).min(HOLE_RECHECK_MS_MAX);
                    self.sleep_or_wake(wait).await;
                }
                Ok(Fill::CaughtUp) => {
                    self.error_wait_ms = ERROR_BACKOFF_MS_MIN;
                    self.sleep_or_wake(Duration::from_millis(
                        self.store.config().tail_idle_poll_ms,
                    ))
                    .await;
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        checkpoint = self.checkpoint,
                        retry_ms = self.error_wait_ms,
                        "tail read failed; retrying"
                    );
                    tokio::time::sleep(Duration::from_millis(self.error_wait_ms)).await;
                    self.error_wait_ms = (self.error_wait_ms * 2).min(ERROR_BACKOFF_MS_MAX);
                }
            }
        }
    }

    /// Waits for a wake-up or `wait`; a wait that ends by its timeout makes the next fill read
    /// the database (`must_read`).
    async fn sleep_or_wake(&mut self, wait: Duration) {
        let woken = match self.wake.as_mut() {
            Some(wake) => tokio::time::timeout(wait, wake.changed()).await.is_ok(),
            None => {
                tokio::time::sleep(wait).await;
                false
            }
        };
        if !woken {
            self.must_read = true;
        }
    }

    /// Takes what the settled run has for this tailer, if it says anything.
    fn take_from_run(&mut self, marked: u64) -> Option<Fill> {
        let shared = self
            .store
            .inner
            .settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take(self.checkpoint, BATCH_SIZE as usize, marked);
        match shared {
            FromRun::Events {
                events,
                next,
                caught_up,
            } => {
                self.checkpoint = next;
                self.hole_wait_ms = HOLE_RECHECK_MS_MIN;
                if events.is_empty() {
                    // Only permanent holes: on to what follows them.
                    return Some(Fill::Full);
                }
                self.caught_up = caught_up && !self.must_read;
                self.buffer.extend(events);
                Some(Fill::Delivered)
            }
            FromRun::UpToDate if !self.must_read => Some(Fill::CaughtUp),
            FromRun::UpToDate | FromRun::Unknown => None,
        }
    }

    async fn fill(&mut self, marked: u64) -> Result<Fill, StoreError> {
        if let Some(fill) = self.take_from_run(marked) {
            return Ok(fill);
        }
        // One database read at a time per process: a tailer that waited here usually finds
        // what it needs read by the one before it.
        let store = self.store.clone();
        let _turn = store.inner.tail_read.lock().await;
        if let Some(fill) = self.take_from_run(marked) {
            return Ok(fill);
        }
        // A hole still waited for: when the transactions that may hold it have all ended, the
        // read below judges it (whatever other databases' transactions hold the xmin back).
        if let Some(writers) = self.gaps.writers_waited_for() {
            let running = self.store.writers_still_running(writers).await?;
            self.gaps.writers_running(running);
        }
        let from = self.checkpoint;
        let (xmin, rows) = self.store.read_for_tail(from).await?;
        self.must_read = false;
        let full = rows.len() as i64 == BATCH_SIZE;
        let step = self.gaps.step(&mut self.checkpoint, xmin, rows);
        self.store
            .inner
            .settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(
                SettledRead {
                    from,
                    to: self.checkpoint,
                    generation: marked,
                    complete: step.waiting_for.is_none() && !full,
                },
                &step.deliver,
            );
        for skipped in &step.skipped {
            tracing::debug!(
                from = skipped.start(),
                to = skipped.end(),
                "tail skipped positions that never committed"
            );
        }
        if let Some(h_max) = step.needs_bound_below {
            // Taken after the read above, so it exceeds the xid of whoever drew the hole, and
            // names that transaction among the writers if it still runs.
            let (xid, writers) = self.store.take_bound().await?;
            self.gaps.set_bound(xid, h_max, writers);
        }
        let delivered = !step.deliver.is_empty();
        self.buffer.extend(step.deliver);
        if delivered || !step.skipped.is_empty() {
            self.hole_wait_ms = HOLE_RECHECK_MS_MIN;
        }
        self.caught_up = delivered && step.waiting_for.is_none() && !full;
        Ok(match (delivered, step.waiting_for.is_some(), full) {
            (_, true, _) if !delivered => Fill::Hole,
            (true, _, _) => Fill::Delivered,
            (false, false, true) => Fill::Full,
            (false, false, false) => Fill::CaughtUp,
            // Only skipped positions: read again at once.
            _ => Fill::Full,
        })
    }
}

enum Fill {
    /// Events are in the buffer.
    Delivered,
    /// Nothing delivered but there may be more right away.
    Full,
    /// Stopped at a hole that may still fill.
    Hole,
    /// Nothing new.
    CaughtUp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Metadata;

    fn ev(pos: i64) -> RecordedEvent {
        RecordedEvent {
            event_id: ulid::Ulid::generate(),
            global_position: pos,
            stream_id: format!("s-{pos}"),
            stream_version: 1,
            event_type: "T".into(),
            schema_version: 1,
            recorded_at: chrono::Utc::now(),
            data: serde_json::value::RawValue::from_string("{}".into()).expect("json"),
            metadata: Metadata {
                actor: "a".into(),
                unit: None,
                role: "staff".into(),
                command_id: None,
                correlation_id: None,
                causation_id: None,
            },
            hash: String::new(),
        }
    }

    fn positions(step: &Step) -> Vec<i64> {
        step.deliver.iter().map(|e| e.global_position).collect()
    }

    #[test]
    fn delivers_a_contiguous_run() {
        let g = GapTracker::default();
        let mut cp = 0;
        let s = g.step(&mut cp, 100, vec![ev(1), ev(2), ev(3)]);
        assert_eq!(positions(&s), vec![1, 2, 3]);
        assert_eq!(cp, 3);
        assert_eq!(s.waiting_for, None);
    }

    #[test]
    fn stops_at_a_hole_and_asks_for_a_bound() {
        let g = GapTracker::default();
        let mut cp = 0;
        let s = g.step(&mut cp, 100, vec![ev(1), ev(3), ev(4)]);
        assert_eq!(positions(&s), vec![1]);
        assert_eq!(cp, 1);
        assert_eq!(s.waiting_for, Some(2));
        assert_eq!(s.needs_bound_below, Some(4));
    }

    #[test]
    fn keeps_waiting_while_a_transaction_older_than_the_bound_runs() {
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec!["3/7".into()]);
        let mut cp = 1;
        // xmin 150 < 200: the hole's owner may still commit.
        let s = g.step(&mut cp, 150, vec![ev(3), ev(4)]);
        assert!(s.deliver.is_empty());
        assert_eq!(s.waiting_for, Some(2));
        assert_eq!(
            s.needs_bound_below, None,
            "the existing bound still covers the hole"
        );
        assert_eq!(cp, 1);
    }

    #[test]
    fn a_late_commit_fills_the_hole() {
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec!["3/7".into()]);
        let mut cp = 1;
        let s = g.step(&mut cp, 150, vec![ev(2), ev(3), ev(4)]);
        assert_eq!(positions(&s), vec![2, 3, 4]);
    }

    #[test]
    fn skips_a_hole_once_every_older_transaction_finished() {
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec!["3/7".into()]);
        let mut cp = 1;
        let s = g.step(&mut cp, 200, vec![ev(3), ev(4)]);
        assert_eq!(s.skipped, vec![2..=2]);
        assert_eq!(positions(&s), vec![3, 4]);
    }

    #[test]
    fn skips_a_hole_once_the_writers_of_events_ended_though_the_xmin_lags() {
        // A transaction of another database holds the cluster's xmin at 150 all along.
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec!["3/7".into(), "4/9".into()]);
        let mut cp = 1;
        let s = g.step(&mut cp, 150, vec![ev(3), ev(4)]);
        assert_eq!(s.waiting_for, Some(2));
        assert_eq!(
            g.writers_waited_for(),
            Some(&["3/7".to_string(), "4/9".to_string()][..])
        );
        g.writers_running(vec!["4/9".into()]);
        let s = g.step(&mut cp, 150, vec![ev(3), ev(4)]);
        assert_eq!(
            s.waiting_for,
            Some(2),
            "4/9 may have drawn 2 and still commit it"
        );
        g.writers_running(vec![]);
        assert_eq!(g.writers_waited_for(), None);
        let s = g.step(&mut cp, 150, vec![ev(3), ev(4)]);
        assert_eq!(s.skipped, vec![2..=2]);
        assert_eq!(positions(&s), vec![3, 4]);
    }

    #[test]
    fn a_bound_taken_when_nobody_writes_settles_the_next_read() {
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec![]);
        assert_eq!(g.writers_waited_for(), None);
        let mut cp = 1;
        let s = g.step(&mut cp, 150, vec![ev(3), ev(4)]);
        assert_eq!(s.skipped, vec![2..=2]);
    }

    #[test]
    fn a_hole_above_the_covered_range_needs_a_new_bound() {
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec!["3/7".into()]);
        let mut cp = 4;
        let s = g.step(&mut cp, 300, vec![ev(6), ev(7)]);
        assert!(s.skipped.is_empty(), "5 was not covered by the old bound");
        assert_eq!(s.waiting_for, Some(5));
        assert_eq!(s.needs_bound_below, Some(7));
    }

    #[test]
    fn skips_only_the_covered_part_of_a_wide_hole() {
        let mut g = GapTracker::default();
        g.set_bound(200, 4, vec!["3/7".into()]);
        let mut cp = 1;
        let s = g.step(&mut cp, 250, vec![ev(8)]);
        assert_eq!(s.skipped, vec![2..=3]);
        assert_eq!(s.waiting_for, Some(4));
        assert_eq!(s.needs_bound_below, Some(8));
    }

    /// What the run gives a tailer at `checkpoint` that marked generation `marked`, as
    /// positions: `Some((positions, next, caught_up))`, or `None` for "read the database";
    /// up to date is `Some(([], checkpoint, true))`.
    fn taken(
        run: &SettledRun,
        checkpoint: i64,
        max: usize,
        marked: u64,
    ) -> Option<(Vec<i64>, i64, bool)> {
        match run.take(checkpoint, max, marked) {
            FromRun::Events {
                events,
                next,
                caught_up,
            } => Some((
                events.iter().map(|e| e.global_position).collect(),
                next,
                caught_up,
            )),
            FromRun::UpToDate => Some((vec![], checkpoint, true)),
            FromRun::Unknown => None,
        }
    }

    fn read(from: i64, to: i64, generation: u64, complete: bool) -> SettledRead {
        SettledRead {
            from,
            to,
            generation,
            complete,
        }
    }

    #[test]
    fn the_settled_run_serves_a_tailer_inside_it_holes_included() {
        let mut run = SettledRun::default();
        assert_eq!(taken(&run, 0, 10, 0), None, "nothing settled yet");
        // 3 and 6 are permanent holes; the reader settled up to 7 and found nothing after.
        run.record(read(0, 7, 5, true), &[ev(1), ev(2), ev(4), ev(5), ev(7)]);
        assert_eq!(taken(&run, 0, 10, 5), Some((vec![1, 2, 4, 5, 7], 7, true)));
        assert_eq!(taken(&run, 2, 10, 4), Some((vec![4, 5, 7], 7, true)));
        assert_eq!(
            taken(&run, 2, 2, 5),
            Some((vec![4, 5], 5, false)),
            "at most max, checkpoint at the last, more to come"
        );
        assert_eq!(taken(&run, 7, 10, 5), Some((vec![], 7, true)), "up to date");
        // A tailer woken by a later commit than the reader saw must read for itself.
        assert_eq!(taken(&run, 2, 10, 6), Some((vec![4, 5, 7], 7, false)));
        assert_eq!(taken(&run, 7, 10, 6), None);
        // Settled through 9 with 8 and 9 holes: the tailer at 7 moves to 9 with nothing.
        run.record(read(7, 9, 6, true), &[]);
        assert_eq!(taken(&run, 7, 10, 6), Some((vec![], 9, true)));
    }

    #[test]
    fn a_read_that_stopped_at_a_hole_or_its_limit_proves_nothing_after_the_run() {
        let mut run = SettledRun::default();
        run.record(read(0, 3, 1, false), &[ev(1), ev(2), ev(3)]);
        assert_eq!(taken(&run, 1, 10, 1), Some((vec![2, 3], 3, false)));
        assert_eq!(taken(&run, 3, 10, 1), None);
        // A later complete read that found nothing new says so from then on.
        run.record(read(3, 3, 2, true), &[]);
        assert_eq!(taken(&run, 3, 10, 2), Some((vec![], 3, true)));
        // An incomplete read at the same end does not take that back.
        run.record(read(3, 3, 3, false), &[]);
        assert_eq!(taken(&run, 3, 10, 2), Some((vec![], 3, true)));
        assert_eq!(taken(&run, 3, 10, 3), None);
    }

    #[test]
    fn the_settled_run_grows_from_any_reader_inside_it_and_restarts_further_on() {
        let mut run = SettledRun::default();
        run.record(read(0, 3, 1, true), &[ev(1), ev(2), ev(3)]);
        // A reader that was at 2 read 3..=5: only 4 and 5 are new; its mark is the run's now.
        run.record(read(2, 5, 1, true), &[ev(3), ev(4), ev(5)]);
        assert_eq!(taken(&run, 0, 10, 1), Some((vec![1, 2, 3, 4, 5], 5, true)));
        // A reader behind the run adds nothing and changes nothing.
        run.record(read(0, 2, 9, true), &[ev(1), ev(2)]);
        assert_eq!(taken(&run, 0, 10, 1), Some((vec![1, 2, 3, 4, 5], 5, true)));
        assert_eq!(taken(&run, 5, 10, 9), None);
        // One far ahead, with unknown positions between: a new run; the old one is gone, so a
        // tailer at 3 reads the database (6..=9 are not known to be settled).
        run.record(read(9, 11, 2, true), &[ev(10), ev(11)]);
        assert_eq!(taken(&run, 3, 10, 0), None);
        assert_eq!(taken(&run, 9, 10, 2), Some((vec![10, 11], 11, true)));
    }

    #[test]
    fn the_settled_run_keeps_a_bounded_tail() {
        let mut run = SettledRun::default();
        let n = i64::try_from(SETTLED_EVENTS_MAX).expect("small") + 10;
        let events: Vec<RecordedEvent> = (1..=n).map(ev).collect();
        run.record(read(0, n, 1, true), &events);
        assert_eq!(run.events.len(), SETTLED_EVENTS_MAX);
        assert_eq!(
            taken(&run, 5, 1, 1),
            None,
            "fallen off the front: read the database"
        );
        assert_eq!(taken(&run, 10, 1, 1), Some((vec![11], 11, false)));
    }
}
