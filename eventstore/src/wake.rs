//! Wake-ups for tailers, so they react to a commit at once instead of polling slowly.
//!
//! A NOTIFY inside the append transaction would be simplest, but PostgreSQL serialises the
//! commits of notifying transactions on one global lock; measured here it cut concurrent
//! append throughput by two thirds (ADR 0001). So:
//! - in this process, a successful append bumps a `watch` channel that local tailers wait on;
//! - for other processes, a background task sends one `pg_notify` per burst of appends
//!   (coalesced, outside the append transaction, at most one per 10 ms), and a lazily started LISTEN connection turns
//!   other processes' notifications into the same local bump;
//! - tailers also poll on a short timer, so a lost notification only delays, never loses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use crate::config::StoreConfig;

/// The channel name used with LISTEN/NOTIFY.
pub(crate) const CHANNEL: &str = "samplan_events";

pub(crate) struct Wake {
    generation: watch::Sender<u64>,
    outgoing: Arc<Notify>,
    /// Identifies this process's notifications so its own listener ignores them.
    instance: String,
    listener_started: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    config: StoreConfig,
}

impl Wake {
    pub(crate) fn new(pool: Pool, config: StoreConfig) -> Wake {
        let (generation, _) = watch::channel(0);
        let outgoing = Arc::new(Notify::new());
        let instance = ulid::Ulid::generate().to_string();
        let notifier = tokio::spawn(notifier(pool, outgoing.clone(), instance.clone()));
        Wake {
            generation,
            outgoing,
            instance,
            listener_started: AtomicBool::new(false),
            tasks: Mutex::new(vec![notifier]),
            config,
        }
    }

    /// Called after an append committed.
    pub(crate) fn appended(&self, _global_position: i64) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
        self.outgoing.notify_one();
    }

    /// A receiver that changes whenever something may have been committed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.ensure_listener();
        self.generation.subscribe()
    }

    fn ensure_listener(&self) {
        if self.listener_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let task = tokio::spawn(listener(
            self.config.clone(),
            self.generation.clone(),
            self.instance.clone(),
        ));
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }
}

/// Least time between two NOTIFYs: bounds their cost under load (each is a transaction that
/// takes PostgreSQL's notification lock) at the price of this much latency for other processes.
const NOTIFY_INTERVAL_MS_MIN: u64 = 10;

/// Sends one NOTIFY per burst of local appends: `Notify` keeps at most one pending permit, so
/// appends that happen while a NOTIFY is in flight, or during the pause after it, are covered by
/// the next one.
async fn notifier(pool: Pool, outgoing: Arc<Notify>, instance: String) {
    loop {
        outgoing.notified().await;
        let started = tokio::time::Instant::now();
        let sent = async {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            client
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &instance])
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(e) = sent {
            // Other processes fall back to their poll timer; nothing is lost.
            tracing::debug!(error = %e, "could not send commit notification");
        }
        tokio::time::sleep_until(started + Duration::from_millis(NOTIFY_INTERVAL_MS_MIN)).await;
    }
}

/// Keeps a LISTEN connection open and bumps `generation` for other processes' commits.
async fn listener(config: StoreConfig, generation: watch::Sender<u64>, instance: String) {
    let mut pause = Duration::from_millis(100);
    loop {
        match listen_once(&config, &generation, &instance).await {
            Ok(()) => pause = Duration::from_millis(100),
            Err(e) => tracing::debug!(error = %e, "commit listener connection lost"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

async fn listen_once(
    config: &StoreConfig,
    generation: &watch::Sender<u64>,
    instance: &str,
) -> Result<(), ListenError> {
    // Not `connect::connect`: this connection's messages (the notifications) are read here, so
    // its driver is this task's own; the configuration and connector come from the same place.
    let (mut pg, tls) = crate::connect::pg_config(&config.database_url, &config.tls)?;
    if config.connect_timeout_ms > 0 {
        pg.connect_timeout(Duration::from_millis(config.connect_timeout_ms));
    }
    pg.application_name("samplan-eventstore-listener");
    let (client, mut connection) = pg.connect(tls).await?;
    let own = instance.to_owned();
    let bump = generation.clone();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) if n.payload() != own => {
                    bump.send_modify(|g| *g = g.wrapping_add(1));
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // Commits may have happened while we were not listening.
    generation.send_modify(|g| *g = g.wrapping_add(1));
    let ended = driver.await;
    drop(client);
    match ended {
        Ok(result) => Ok(result?),
        Err(_) => Ok(()),
    }
}

/// Why the listener's connection ended.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error("{0}")]
    Connect(#[from] crate::connect::ConnectError),
    #[error("{}", crate::error::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
}
