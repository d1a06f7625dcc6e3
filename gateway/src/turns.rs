//! Commands on one stream take their turn inside a process.
//!
//! Without turns, twelve staff documenting one plan at the same moment each read version N,
//! decide, and race to append N+1: one wins, the others reload and race again, and some run out
//! of retries although nothing they asked for conflicts with anything. So a command first takes
//! the stream's turn ([`StreamTurns::take`]), then reads, decides and appends, and hands the turn
//! to the next command waiting for that stream (first come, first served). The retry loop of the
//! pipeline is left for races with other processes.
//!
//! Bounded: at most [`StreamTurns`]`::waiting_max` commands hold or wait for one stream's turn;
//! beyond that a command is refused at once (503, try again) instead of queueing without end.
//! A wait is also bounded by the request's own timeout. An entry lives only while someone holds
//! or waits for the turn, so the map holds the streams being written right now, nothing more.

use crate::error::AppError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

/// Most commands holding or waiting for one stream's turn by default.
pub const WAITING_MAX: usize = 256;

/// The turns of every stream being written in this process. Cheap to clone.
#[derive(Clone)]
pub struct StreamTurns {
    inner: Arc<Inner>,
}

struct Inner {
    streams: Mutex<HashMap<String, Slot>>,
    waiting_max: usize,
}

struct Slot {
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Commands holding or waiting for this turn.
    users: usize,
}

impl Default for StreamTurns {
    fn default() -> Self {
        StreamTurns::new(WAITING_MAX)
    }
}

impl StreamTurns {
    /// Turns with at most `waiting_max` commands per stream.
    pub fn new(waiting_max: usize) -> Self {
        StreamTurns {
            inner: Arc::new(Inner {
                streams: Mutex::new(HashMap::new()),
                waiting_max: waiting_max.max(1),
            }),
        }
    }

    /// Waits for `stream_id`'s turn. The turn is held until the returned [`Turn`] is dropped.
    pub async fn take(&self, stream_id: &str) -> Result<Turn, AppError> {
        let turn = {
            let mut streams = self.inner.lock();
            let slot = streams.entry(stream_id.to_owned()).or_insert_with(|| Slot {
                turn: Arc::new(tokio::sync::Mutex::new(())),
                users: 0,
            });
            if slot.users >= self.inner.waiting_max {
                return Err(AppError::Unavailable(format!(
                    "{} commands already wait for the same stream",
                    slot.users
                )));
            }
            slot.users += 1;
            slot.turn.clone()
        };
        // Counted from here on: if this future is dropped while waiting (the client went away,
        // the request timed out), the ticket still gives its place back.
        let ticket = Ticket {
            turns: self.inner.clone(),
            stream_id: stream_id.to_owned(),
        };
        let guard = turn.lock_owned().await;
        Ok(Turn {
            _guard: guard,
            _ticket: ticket,
        })
    }

    /// Streams someone holds or waits for right now (for tests and metrics).
    pub fn busy_streams(&self) -> usize {
        self.inner.lock().len()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // The map only counts; a panic while holding it leaves counts that are at worst too
        // high for one stream, which its last ticket then removes.
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The turn of one stream, held until dropped.
pub struct Turn {
    // Dropped in this order: the lock first, then the place in the count.
    _guard: OwnedMutexGuard<()>,
    _ticket: Ticket,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("stream_id", &self._ticket.stream_id)
            .finish()
    }
}

impl Turn {
    /// The stream whose turn this is.
    pub fn stream_id(&self) -> &str {
        &self._ticket.stream_id
    }
}

/// A place among the holders and waiters of one stream's turn.
struct Ticket {
    turns: Arc<Inner>,
    stream_id: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut streams = self.turns.lock();
        if let Some(slot) = streams.get_mut(&self.stream_id) {
            slot.users = slot.users.saturating_sub(1);
            if slot.users == 0 {
                streams.remove(&self.stream_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn commands_on_one_stream_take_turns_in_order_and_others_do_not_wait() {
        let turns = StreamTurns::default();
        let first = turns.take("sip-a").await.expect("first");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..3 {
            let (turns, order) = (turns.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = turns.take("sip-a").await.expect("turn");
                order.lock().expect("order").push(i);
            }));
            // Let each one queue before the next, so the order of arrival is known.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another stream is not held up.
        let other = tokio::time::timeout(Duration::from_millis(100), turns.take("sip-b")).await;
        assert!(other.is_ok(), "another stream waited");
        drop(other);
        assert!(
            order.lock().expect("order").is_empty(),
            "nobody ran before the first ended"
        );
        drop(first);
        for task in waiting {
            task.await.expect("task");
        }
        assert_eq!(*order.lock().expect("order"), vec![0, 1, 2]);
        assert_eq!(turns.busy_streams(), 0, "nothing is left behind");
    }

    #[tokio::test]
    async fn a_stream_with_too_many_waiting_commands_refuses_more_and_a_dropped_wait_gives_its_place_back(
    ) {
        let turns = StreamTurns::new(2);
        let held = turns.take("sip-a").await.expect("first");
        let waiter = {
            let turns = turns.clone();
            tokio::spawn(async move { turns.take("sip-a").await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let refused = turns.take("sip-a").await;
        assert!(matches!(refused, Err(AppError::Unavailable(_))));
        waiter.abort();
        let _ = waiter.await;
        let again = tokio::time::timeout(Duration::from_millis(50), turns.take("sip-a")).await;
        assert!(again.is_err(), "still held, so the new one waits");
        drop(held);
        let last = turns.take("sip-a").await.expect("free again");
        drop(last);
        assert_eq!(turns.busy_streams(), 0);
    }
}
