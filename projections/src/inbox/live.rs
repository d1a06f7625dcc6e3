//! Live pushes, the gateway's side: [`Listener`] knows the position of each unit's latest change
//! and wakes whoever waits for a unit when it moves.
//!
//! Two sources move it: the inbox projection's doorbell on NATS (every gateway process hears
//! every doorbell, so a change made through one gateway reaches the clients of all of them
//! within milliseconds), and a look at `inbox.unit_positions` every [`POLL_MS`] for the units
//! somebody waits for, which repairs a doorbell lost while NATS was away. Either way, what
//! changed is then read from the tables ([`super::changes_since`]): the doorbell only says where
//! to look, so a lost, late or repeated doorbell can delay a push but never lose or duplicate a
//! change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{unit_positions, Doorbell};

/// How often the tables are looked at for the units someone waits for.
pub const POLL_MS: u64 = 2_000;

/// The latest known change position of every unit someone waits for.
#[derive(Clone, Default)]
pub struct Listener {
    units: Arc<Mutex<HashMap<String, watch::Sender<i64>>>>,
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
