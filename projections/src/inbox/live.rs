//! Live pushes, the gateway's side: [`Listener`] knows the position of each unit's latest change
//! and wakes whoever waits for a unit when it moves.
//!
//! Two sources move it: the inbox projection's doorbell on NATS (every gateway process hears
//! every doorbell, so a change made through one gateway reaches the clients of all of them
//! within milliseconds), and a look at `inbox.unit_positions` every [`POLL_MS`] for the units
//! somebody waits for, which repairs a doorbell lost while NATS was away. Either way, what
//! changed is then read from the tables: the doorbell only says where to look, so a lost, late or
//! repeated doorbell can delay a push but never lose or duplicate a change.
//!
//! A unit's colleagues watch it together: when it moves, every open stream of the unit on this
//! gateway wakes at once. [`Feed`] reads what changed once for all of them
//! ([`super::unit_changes_since`]) and each stream takes its user's part, instead of each asking
//! the tables the same question (a unit with 250 open streams would otherwise read every change
//! 250 times, and the last stream would wait behind the other 249 reads).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{unit_changes_since, unit_positions, Change, Doorbell};
use crate::ProjectionError;

/// How often the tables are looked at for the units someone waits for.
pub const POLL_MS: u64 = 2_000;

/// The latest known change position of every unit someone waits for.
#[derive(Clone, Default)]
pub struct Listener {
    units: Arc<Mutex<HashMap<String, watch::Sender<i64>>>>,
    /// The shared feed of each unit with open streams; a feed lives as long as a stream holds it.
    feeds: Arc<Mutex<HashMap<String, Weak<Feed>>>>,
    /// [`Listener::run`] has ended: nothing will move again.
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl Listener {
    /// Waits on `unit_id`'s position: the receiver sees every move after this call. Once the
    /// listener has stopped, the receiver's sender is gone (`changed` fails at once).
    pub fn watch(&self, unit_id: &str) -> watch::Receiver<i64> {
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopped.load(std::sync::atomic::Ordering::Acquire) {
            return watch::channel(0).1;
        }
        units
            .entry(unit_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// The feed every stream of `unit_id` on this gateway reads its changes from.
    pub fn feed(&self, unit_id: &str) -> Arc<Feed> {
        let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get(unit_id).and_then(Weak::upgrade) {
            return feed;
        }
        feeds.retain(|_, feed| feed.strong_count() > 0);
        let feed = Arc::new(Feed::new(unit_id));
        feeds.insert(unit_id.to_owned(), Arc::downgrade(&feed));
        feed
    }

    /// Notes that `unit_id` changed at `position`, waking its watchers if that is news.
    pub fn moved(&self, unit_id: &str, position: i64) {
        let units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = units.get(unit_id) {
            sender.send_if_modified(|at| {
                let news = position > *at;
                if news {
                    *at = position;
                }
                news
            });
        }
    }

    /// The units someone waits for (forgetting those nobody waits for any more).
    fn watched(&self) -> Vec<String> {
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        units.retain(|_, sender| sender.receiver_count() > 0);
        units.keys().cloned().collect()
    }

    /// Listens to the doorbell (`subject` on `nats`) and looks at the tables every [`POLL_MS`]
    /// until `cancel` fires.
    pub async fn run(
        self,
        pool: Pool,
        nats: Option<(async_nats::Client, String)>,
        cancel: CancellationToken,
    ) {
        let doorbells = async {
            let Some((nats, subject)) = nats else {
                return std::future::pending::<()>().await;
            };
            loop {
                match nats.subscribe(subject.clone()).await {
                    Ok(mut subscription) => {
                        while let Some(message) = subscription.next().await {
                            match serde_json::from_slice::<Doorbell>(&message.payload) {
                                Ok(bell) => {
                                    for unit in bell.units {
                                        self.moved(&unit.unit_id, unit.position);
                                    }
                                }
                                Err(e) => tracing::debug!(error = %e, "doorbell not understood"),
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "doorbell subscription failed"),
                }
                tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
            }
        };
        let polls = async {
            let mut tick = tokio::time::interval(Duration::from_millis(POLL_MS));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let watched = self.watched();
                if watched.is_empty() {
                    continue;
                }
                match unit_positions(&pool, &watched).await {
                    Ok(positions) => {
                        for (unit, position) in positions {
                            self.moved(&unit, position);
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "unit positions not read"),
                }
            }
        };
        tokio::select! {
            () = cancel.cancelled() => {}
            () = doorbells => {}
            () = polls => {}
        }
        // Nothing moves any more: every watcher is told so (its receiver sees the sender gone),
        // and a live stream ends at once instead of waiting, silent, until the process exits.
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        units.clear();
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Most changes a feed keeps; a stream further behind than that reads for itself.
pub const FEED_CHANGES_MAX: usize = 1_000;

/// What a stream took from its unit's feed ([`Feed::since`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    /// The changes after the stream's position that its user may see, in position order.
    pub changes: Vec<(i64, Change)>,
    /// Every change up to here has been looked at: the stream stands here once it has sent
    /// `changes`, whether or not any was its user's.
    pub until: i64,
    /// Whether the tables were read for this (rather than the feed's window answering).
    pub read: bool,
}

/// The latest changes of one unit, read once for all the unit's streams on this gateway
/// ([`Listener::feed`]). It holds a window of consecutive positions, `(floor, until]`, with every
/// change of the unit in it (to-dos as shown when they were read: one shown later is a reminder,
/// which each stream looks for itself). A stream asks for what came after its own position;
/// when the unit has moved beyond the window, the first stream to ask reads the difference,
/// and those that ask meanwhile wait for that read instead of making their own.
pub struct Feed {
    unit_id: String,
    window: tokio::sync::Mutex<Window>,
}

#[derive(Default)]
struct Window {
    /// `(floor, until)`: every change after `floor` up to `until` is in `changes`. `None` until
    /// the first read.
    span: Option<(i64, i64)>,
    changes: VecDeque<(i64, Change)>,
}

impl Feed {
    fn new(unit_id: &str) -> Feed {
        Feed {
            unit_id: unit_id.to_owned(),
            window: tokio::sync::Mutex::new(Window::default()),
        }
    }

    /// What changed after position `after` that `user` may see, once the unit has moved to
    /// `known` (its position before this look; a change up to it is never missed). `None` when
    /// the window no longer reaches back to `after`: the caller then reads for itself
    /// ([`super::changes_since`]). At most `limit` positions' worth are read at once.
    pub async fn since(
        &self,
        pool: &Pool,
        user: &str,
        after: i64,
        known: i64,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Taken>, ProjectionError> {
        let mut window = self.window.lock().await;
        let (floor, until) = match window.span {
            Some((floor, _)) if after < floor => return Ok(None),
            Some(span) => span,
            None => (after, after),
        };
        let mut read = false;
        if until < known {
            let new = unit_changes_since(pool, &self.unit_id, until, limit, now).await?;
            read = true;
            // Unless a list was cut, the snapshot holds every change up to the unit's position
            // when it was taken, which is at least `known`, and the last change read. (A cut
            // that moves nothing, more changes at one position than `limit`, counts as none.)
            let reached = match new.complete_until {
                Some(cut) if cut > until => cut,
                _ => new
                    .changes
                    .last()
                    .map_or(known, |(position, _)| known.max(*position)),
            };
            window.changes.extend(new.changes);
            window.span = Some((floor, until.max(reached)));
            window.trim(FEED_CHANGES_MAX);
        } else if window.span.is_none() {
            window.span = Some((floor, until));
        }
        let Some((floor, until)) = window.span else {
            return Ok(None);
        };
        if after < floor {
            // Trimmed past this stream by its own read: the stream was that far behind.
            return Ok(None);
        }
        let changes = as_they_stand(window.changes.iter().filter(|(position, change)| {
            *position > after
                && match change {
                    Change::MessageRead { user_id, .. } => user_id == user,
                    _ => true,
                }
        }));
        Ok(Some(Taken {
            changes,
            until,
            read,
        }))
    }
}

/// What changed, as it stands now: the window keeps every read's version of a row (a to-do read
/// open, then again when it ended), and a stream gets only the latest of each, at its position,
/// as a read of the tables after the stream's position would give it (a to-do that opened and
/// ended while the client was away arrives once, ended: API.md, `GET /inbox/events`).
fn as_they_stand<'a>(changes: impl Iterator<Item = &'a (i64, Change)>) -> Vec<(i64, Change)> {
    let changes: Vec<&(i64, Change)> = changes.collect();
    let key = |change: &'a Change| -> (u8, &'a str) {
        match change {
            Change::Message { message } => (0, message.message_id.as_str()),
            // One user's marking of one message happens once (the table's key).
            Change::MessageRead { message_id, .. } => (1, message_id.as_str()),
            Change::Todo { todo } => (2, todo.todo_id.as_str()),
            Change::Ongoing { plan } => (3, plan.sip_id.as_str()),
        }
    };
    let mut latest: HashMap<(u8, &str), usize> = HashMap::new();
    for (i, (_, change)) in changes.iter().enumerate() {
        latest.insert(key(change), i);
    }
    changes
        .iter()
        .enumerate()
        .filter(|(i, (_, change))| latest.get(&key(change)) == Some(i))
        .map(|(_, change)| (*change).clone())
        .collect()
}

impl Window {
    /// Drops the oldest positions (all changes of a position together) until at most `max`
    /// changes are held, moving the floor up past them.
    fn trim(&mut self, max: usize) {
        while self.changes.len() > max {
            let Some((dropped, _)) = self.changes.pop_front() else {
                break;
            };
            while self.changes.front().is_some_and(|(p, _)| *p == dropped) {
                self.changes.pop_front();
            }
            if let Some((floor, until)) = self.span {
                self.span = Some((floor.max(dropped), until));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(position: i64, user: &str) -> (i64, Change) {
        (
            position,
            Change::MessageRead {
                message_id: format!("m{position}"),
                read_at: DateTime::<Utc>::UNIX_EPOCH,
                user_id: user.to_owned(),
            },
        )
    }

    fn todo(position: i64, id: &str, ended: bool) -> (i64, Change) {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        (
            position,
            Change::Todo {
                todo: crate::inbox::TodoRow {
                    todo_id: id.to_owned(),
                    kind: "get_consent".into(),
                    title: "Inhämta samtycke".into(),
                    sip_id: "sip".into(),
                    person: crate::inbox::PersonRef {
                        person_id: "p".into(),
                        name: None,
                        birth_year: None,
                        protected_identity: false,
                    },
                    unit_id: "vc".into(),
                    staff_id: None,
                    staff_name: None,
                    due_at: None,
                    shown_from: None,
                    letter: None,
                    opened_at: at,
                    changed_position: position,
                    ended_at: ended.then_some(at),
                    ended_position: ended.then_some(position),
                    ended_by: ended.then(|| "ConsentRecorded".to_owned()),
                },
            },
        )
    }

    #[test]
    fn a_row_read_twice_is_sent_once_as_it_stands() {
        let window = [
            todo(5, "t1", false),
            read(6, "a"),
            todo(6, "t2", false),
            todo(7, "t1", true),
        ];
        let sent = as_they_stand(window.iter());
        assert_eq!(
            sent.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            vec![6, 6, 7],
            "t1 once, at its last position"
        );
        assert!(matches!(&sent[2].1, Change::Todo { todo } if todo.ended_at.is_some()));
        // From after the first read of t1 it is the same: one t1, ended.
        assert_eq!(as_they_stand(window[1..].iter()), sent);
    }

    #[test]
    fn trimming_drops_whole_positions_and_raises_the_floor() {
        let mut window = Window {
            span: Some((0, 5)),
            changes: [
                read(1, "a"),
                read(2, "a"),
                read(2, "b"),
                read(4, "a"),
                read(5, "a"),
            ]
            .into_iter()
            .collect(),
        };
        window.trim(3);
        assert_eq!(
            window.span,
            Some((2, 5)),
            "position 2 went with both its changes"
        );
        assert_eq!(
            window.changes.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            vec![4, 5]
        );
        window.trim(3);
        assert_eq!(window.span, Some((2, 5)), "nothing more to drop");
    }
}
