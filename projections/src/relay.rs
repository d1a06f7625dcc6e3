//! The relay: every event of the store, in commit order, to the JetStream stream `SAMPLAN_EVENTS`
//! (subjects `samplan.events.<category>.<EventType>`), for reporting jobs, other systems and
//! whatever else consumes events (API.md, "Events on NATS").
//!
//! - It follows the store's gap-safe tail from its checkpoint (row `relay` in
//!   `projections.checkpoints`), so it never skips an event that commits late.
//! - Each event is published with `Nats-Msg-Id` = its event id; many publishes are in flight at
//!   once (pipelined acknowledgements), and the checkpoint moves only past events JetStream has
//!   acknowledged, in order. After a crash it resumes at the checkpoint, and first reads which
//!   events after the checkpoint the stream already holds (stored, but their acknowledgement or
//!   the checkpoint lost) and does not send them again; JetStream's duplicate window absorbs the
//!   rest. So each event is on the stream once, also after an outage longer than the window.
//! - Each publish expects the stream's last sequence to be the one before it
//!   (`Nats-Expected-Last-Sequence`), so a publish JetStream lost while later ones were in flight
//!   (a leader gone mid-flight) makes those later ones refused rather than stored ahead of it: the
//!   stream holds the events in commit order, as the store does.
//! - It creates the stream on start, or updates it to the configured replicas, storage, maximum
//!   age and duplicate window.
//! - NATS away: commands are not affected (nothing on the write path waits for NATS); the relay
//!   retries with capped backoff and catches up.
//! - One relay applies at a time: it holds the `relay` lease, like a projection
//!   (`runner::Lease`); a standby takes over when the holder dies.

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream::StorageType};
use chrono::{DateTime, Utc};
use eventstore::{EventStore, Metadata, RecordedEvent};
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::error::ProjectionError;
use crate::runner::Lease;

/// The relay's name in `projections.checkpoints` and its lease.
pub const RELAY: &str = "relay";

/// Backoff after a failure (NATS or the database away), doubled up to the maximum.
const RETRY_MS_MIN: u64 = 100;
const RETRY_MS_MAX: u64 = 5_000;
/// Longest time the checkpoint lags behind the acknowledged events while more keep coming.
const CHECKPOINT_EVERY_MS: u64 = 50;
/// Most events read from the tail at a time.
const BATCH_EVENTS_MAX: usize = 512;
/// Most messages read back from the stream's end at a start, looking for events after the
/// checkpoint (a few thousand at most in flight or acknowledged past it; beyond this the
/// stream was not written by this store's relay, and the duplicate window is left to judge).
const READ_BACK_MAX: u64 = 65_536;

/// Where and how the relay publishes.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The NATS server.
    pub nats_url: String,
    /// The JetStream stream, `SAMPLAN_EVENTS`.
    pub stream: String,
    /// The subject prefix, `samplan.events`; the stream takes `<prefix>.>`.
    pub subject_prefix: String,
    /// Copies of each message in a cluster (1 on one server, 3 in production).
    pub replicas: usize,
    /// Kept on disk (the default) or only in memory.
    pub memory_storage: bool,
    /// How long messages are kept; zero keeps them until the stream is purged.
    pub max_age: Duration,
    /// How long JetStream remembers a message id to drop a duplicate: longer than a relay's
    /// restart takes.
    pub duplicate_window: Duration,
    /// Most publishes awaiting their acknowledgement at once.
    pub acks_in_flight_max: usize,
    /// How to sign in to NATS and trust its servers.
    pub auth: crate::NatsAuth,
}

impl RelayConfig {
    /// The defaults of API.md: stream `SAMPLAN_EVENTS`, subjects `samplan.events.…`, one
    /// replica on disk, kept forever, a two-minute duplicate window.
    pub fn new(nats_url: impl Into<String>) -> RelayConfig {
        RelayConfig {
            nats_url: nats_url.into(),
            stream: "SAMPLAN_EVENTS".into(),
            subject_prefix: "samplan.events".into(),
            replicas: 1,
            memory_storage: false,
            max_age: Duration::ZERO,
            duplicate_window: Duration::from_secs(120),
            acks_in_flight_max: 1024,
            auth: crate::NatsAuth::default(),
        }
    }

    /// The subject of `event`: `<prefix>.<category>.<EventType>`, the category being the
    /// stream's kind (`sip`, `person`, `unit`, `inbox`, `pin`).
    pub fn subject(&self, event: &RecordedEvent) -> String {
        let category = event
            .stream_id
            .split_once('-')
            .map_or(event.stream_id.as_str(), |(c, _)| c);
        format!("{}.{category}.{}", self.subject_prefix, event.event_type)
    }

    fn stream_config(&self) -> jetstream::stream::Config {
        jetstream::stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            num_replicas: self.replicas.max(1),
            storage: if self.memory_storage {
                StorageType::Memory
            } else {
                StorageType::File
            },
            max_age: self.max_age,
            duplicate_window: self.duplicate_window,
            description: Some("samplan: every event of the event store, in commit order".into()),
            ..Default::default()
        }
    }
}

/// The payload of a message: the stored event envelope (API.md).
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub event_id: String,
    pub global_position: i64,
    pub stream_id: &'a str,
    pub stream_version: i64,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub recorded_at: DateTime<Utc>,
    pub data: &'a RawValue,
    pub metadata: &'a Metadata,
    /// The event's link in its stream's hash chain (hex SHA-256).
    pub hash: &'a str,
}

impl<'a> Envelope<'a> {
    pub fn of(event: &'a RecordedEvent) -> Envelope<'a> {
        Envelope {
            event_id: event.event_id.to_string(),
            global_position: event.global_position,
            stream_id: &event.stream_id,
            stream_version: event.stream_version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            data: &event.data,
            metadata: &event.metadata,
            hash: &event.hash,
        }
    }
}

/// Connects to NATS with a JetStream context whose acknowledgements time out after a few
/// seconds (a server that went away is then noticed, and the relay starts again).
pub async fn connect(nats_url: &str) -> Result<jetstream::Context, ProjectionError> {
    connect_with(nats_url, &crate::NatsAuth::default()).await
}

/// [`connect`], signing in with `auth`.
pub async fn connect_with(
    nats_url: &str,
    auth: &crate::NatsAuth,
) -> Result<jetstream::Context, ProjectionError> {
    let options = auth
        .apply(async_nats::ConnectOptions::new())
        .await
        .map_err(|e| ProjectionError::Nats(format!("NATS credentials: {e}")))?;
    // Not connected until it is: an active relay that cannot reach NATS shows
    // `samplan_nats_connected 0`, not the absence a standby (which never tries) shows.
    let connection = crate::nats_connection_started();
    // The configured servers, and those a cluster told an earlier connection about: when the
    // one node configured is the one that died, a fresh connection still finds the others.
    let servers = with_learned_servers(nats_url);
    let user = auth.user().map(str::to_owned);
    let client = options
        .event_callback(move |event| on_event(event, user.clone(), connection))
        .connection_timeout(Duration::from_secs(5))
        .connect(servers)
        .await
        .map_err(|e| {
            crate::nats_connection_ended(connection);
            ProjectionError::Nats(format!("connecting to {nats_url}: {e}"))
        })?;
    learn_servers(&client.server_info().connect_urls);
    Ok(jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .ack_timeout(Duration::from_secs(5))
        .max_ack_inflight(8_192)
        .backpressure_on_inflight(true)
        .build(client))
}

/// How long one publish may wait for the client to take it (as long as an acknowledgement).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting and making sure of the stream may take before the relay tries again.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Follows the relay's NATS connection: what the server refused it is said at once, naming what
/// to look at (a refused request answers nothing, and the relay would only see its wait run
/// out); the rest as every NATS connection of the process (`crate::follow_nats`).
async fn on_event(event: async_nats::Event, user: Option<String>, connection: u64) {
    match event {
        async_nats::Event::ServerError(async_nats::ServerError::Other(text))
            if text.to_lowercase().contains("permissions violation") =>
        {
            tracing::error!(
                refused = %text,
                "NATS refused the relay: the user it signs in as (SAMPLAN_NATS_USER) may not do \
                 this; deploy/nats/users.conf gives the relay samplan-relay"
            );
            *LAST_REFUSAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        }
        other => crate::follow_nats(other, user, connection).await,
    }
}

/// What a NATS server last refused this process's relay (a permissions violation), if anything:
/// named when a request then times out.
static LAST_REFUSAL: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Why a request to NATS got no answer, as far as the server said: "did not answer", or what it
/// refused.
fn no_answer(what: &str) -> String {
    match LAST_REFUSAL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        Some(refused) => format!(
            "NATS refused {what}: {refused} (the relay signs in as SAMPLAN_NATS_USER; \
             deploy/nats/users.conf lets only samplan-relay publish the events and manage their \
             stream)"
        ),
        None => format!(
            "NATS did not answer within {} s ({what})",
            SETUP_TIMEOUT.as_secs()
        ),
    }
}

/// Servers of the cluster learned from earlier connections of this process (`host:port`).
static LEARNED_SERVERS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn learn_servers(connect_urls: &[String]) {
    let mut learned = LEARNED_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    for url in connect_urls {
        if !learned.contains(url) {
            learned.push(url.clone());
        }
    }
}

/// The servers of `nats_url` (one, or a comma-separated list) followed by the learned ones.
pub(crate) fn with_learned_servers(nats_url: &str) -> Vec<String> {
    let learned = LEARNED_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    merge_servers(nats_url, &learned)
}

fn merge_servers(nats_url: &str, learned: &[String]) -> Vec<String> {
    let mut servers: Vec<String> = nats_url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    let scheme = if servers.iter().any(|u| u.starts_with("tls://")) {
        "tls"
    } else {
        "nats"
    };
    for url in learned.iter() {
        if !servers.iter().any(|s| s.ends_with(url.as_str())) {
            servers.push(format!("{scheme}://{url}"));
        }
    }
    servers
}

/// Creates the stream, or updates it when its configuration differs from `config`.
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &RelayConfig,
) -> Result<(), ProjectionError> {
    let wanted = config.stream_config();
    let mut stream = js
        .get_or_create_stream(wanted.clone())
        .await
        .map_err(|e| ProjectionError::Nats(format!("stream {}: {e}", config.stream)))?;
    let info = stream
        .info()
        .await
        .map_err(|e| ProjectionError::Nats(format!("stream {}: {e}", config.stream)))?;
    let have = &info.config;
    let differs = have.subjects != wanted.subjects
        || have.num_replicas != wanted.num_replicas
        || have.max_age != wanted.max_age
        || have.duplicate_window != wanted.duplicate_window;
    if differs {
        tracing::info!(stream = %config.stream, "updating the stream's configuration");
        // Storage cannot change on an existing stream; keep what it has.
        let mut update = wanted;
        update.storage = have.storage;
        js.update_stream(update)
            .await
            .map_err(|e| ProjectionError::Nats(format!("updating {}: {e}", config.stream)))?;
    }
    Ok(())
}

/// Publishes the store's events to JetStream until `cancel` fires (see the module
/// documentation). Returns only on cancel or an error that retrying cannot mend.
pub async fn run(
    store: EventStore,
    config: RelayConfig,
    cancel: CancellationToken,
) -> Result<(), ProjectionError> {
    let mut retry_ms = RETRY_MS_MIN;
    loop {
        let result = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            r = hold_and_relay(&store, &config) => r,
        };
        match result {
            Ok(()) => retry_ms = RETRY_MS_MIN,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, retry_ms, "relay paused");
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(retry_ms)) => {}
                }
                retry_ms = (retry_ms * 2).min(RETRY_MS_MAX);
            }
            Err(e) => {
                tracing::error!(error = %e, "relay stopped");
                return Err(e);
            }
        }
    }
}

async fn hold_and_relay(store: &EventStore, config: &RelayConfig) -> Result<(), ProjectionError> {
    let lease = Lease::take(store, RELAY).await?;
    tokio::select! {
        r = relay(store, config) => r,
        e = lease.lost() => Err(e),
    }
}

/// What this process's relay has done since it started, for `/metrics`.
struct Counts {
    /// Events JetStream acknowledged.
    published: AtomicU64,
    /// Events found on the stream already at a start, so not sent again.
    already_on_stream: AtomicU64,
    /// Starts that found the stream without events the relay had published (sent again).
    stream_behind: AtomicU64,
}

static COUNTS: Counts = Counts {
    published: AtomicU64::new(0),
    already_on_stream: AtomicU64::new(0),
    stream_behind: AtomicU64::new(0),
};

/// This process's relay counts: (events published, events found on the stream already, starts
/// that found the stream behind the checkpoint). All 0 in a process that runs no relay.
pub fn counts() -> (u64, u64, u64) {
    (
        COUNTS.published.load(Ordering::Relaxed),
        COUNTS.already_on_stream.load(Ordering::Relaxed),
        COUNTS.stream_behind.load(Ordering::Relaxed),
    )
}

/// An event published and awaiting its acknowledgement, or found on the stream already.
type Pending = std::pin::Pin<
    Box<dyn std::future::Future<Output = (i64, DateTime<Utc>, Result<(), String>)> + Send>,
>;

/// What the relay finds on the stream when it starts.
#[derive(Debug, Default)]
pub struct OnStream {
    /// The positions after the checkpoint whose events the stream already holds, with the event
    /// id each message names.
    pub positions: std::collections::HashMap<i64, String>,
    /// The stream's last sequence: what the first publish expects to follow.
    pub last_sequence: u64,
    /// The position and event id of the newest message the stream holds, if it holds any.
    pub newest: Option<(i64, String)>,
}

/// The positions after `after` whose events the stream already holds, read back from its last
/// message until one at or before `after` (see the module documentation), and the stream's last
/// sequence.
pub async fn already_on_stream(
    js: &jetstream::Context,
    config: &RelayConfig,
    after: i64,
) -> Result<OnStream, ProjectionError> {
    #[derive(serde::Deserialize)]
    struct Position {
        global_position: i64,
        event_id: String,
    }
    let nats = |e: &dyn std::fmt::Display| {
        ProjectionError::Nats(format!("reading back {}: {e}", config.stream))
    };
    let mut stream = js.get_stream(&config.stream).await.map_err(|e| nats(&e))?;
    let state = stream.info().await.map_err(|e| nats(&e))?.state.clone();
    let mut present = std::collections::HashMap::new();
    if state.messages == 0 {
        return Ok(OnStream {
            positions: present,
            last_sequence: state.last_sequence,
            newest: None,
        });
    }
    let mut newest = None;
    let mut sequence = state.last_sequence;
    let mut read = 0;
    while sequence >= state.first_sequence.max(1) {
        if read == READ_BACK_MAX {
            tracing::warn!(
                stream = %config.stream,
                after_position = after,
                "read back {READ_BACK_MAX} messages without reaching the checkpoint; leaving \
                 duplicates to the stream's duplicate window"
            );
            break;
        }
        read += 1;
        match stream.get_raw_message(sequence).await {
            Ok(message) => {
                let Position {
                    global_position: position,
                    event_id,
                } = serde_json::from_slice::<Position>(&message.payload).map_err(|e| nats(&e))?;
                if newest.is_none() {
                    newest = Some((position, event_id.clone()));
                }
                if position <= after {
                    break;
                }
                present.insert(position, event_id);
            }
            // A message deleted from the stream: look further back.
            Err(e)
                if matches!(
                    e.kind(),
                    jetstream::stream::RawMessageErrorKind::NoMessageFound
                ) => {}
            Err(e) => return Err(nats(&e)),
        }
        sequence -= 1;
    }
    Ok(OnStream {
        positions: present,
        last_sequence: state.last_sequence,
        newest,
    })
}

/// One attempt: connect, make sure of the stream, publish from the checkpoint on.
async fn relay(store: &EventStore, config: &RelayConfig) -> Result<(), ProjectionError> {
    // A server that hangs takes the TCP connection and never says hello: without a bound the
    // relay would wait there, silent, for as long as it hangs.
    let setup = tokio::time::timeout(SETUP_TIMEOUT, async {
        let js = connect_with(&config.nats_url, &config.auth).await?;
        ensure_stream(&js, config).await?;
        Ok::<_, ProjectionError>(js)
    })
    .await;
    let js = match setup {
        Ok(Ok(js)) => js,
        // A refused request fails as a timeout: say what the server refused instead.
        Ok(Err(e))
            if LAST_REFUSAL
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some() =>
        {
            tracing::debug!(error = %e, "the stream could not be set up");
            return Err(ProjectionError::Nats(no_answer("setting up the stream")));
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ProjectionError::Nats(no_answer("connecting, the stream"))),
    };
    let pool = store.pool();
    let start = {
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO projections.checkpoints (projection, position) VALUES ($1, 0)
                 ON CONFLICT (projection) DO NOTHING",
                &[&RELAY],
            )
            .await?;
        client
            .query_one(
                "SELECT position FROM projections.checkpoints WHERE projection = $1",
                &[&RELAY],
            )
            .await?
            .get::<_, i64>(0)
    };
    let OnStream {
        positions: mut on_stream,
        last_sequence,
        newest,
    } = already_on_stream(&js, config, start).await?;
    // A stream that never held a message (its sequence is 0; one emptied by age keeps its last
    // sequence) while the checkpoint says events were published: the stream was lost — deleted,
    // a volume wiped, memory storage restarted — or a new one named. Publishing after the
    // checkpoint would leave every earlier event off it for good; all of them go again.
    let start = if last_sequence == 0 && start > 0 {
        tracing::warn!(
            stream = %config.stream,
            checkpoint = start,
            "the stream holds nothing, though events were published to it: it was lost or is \
             new; publishing every event again from the start"
        );
        pool.get()
            .await?
            .execute(
                "UPDATE projections.checkpoints SET position = 0 WHERE projection = $1",
                &[&RELAY],
            )
            .await?;
        0
    } else if let Some((newest, id)) = newest.filter(|(position, _)| *position < start) {
        // The stream's newest event is older than the checkpoint: events the relay published
        // (and JetStream acknowledged) are no longer on it. A node that lost what it had not
        // written to disk, a stream restored from a backup, a purge, or a while pointed at
        // another server that took them: publishing after the checkpoint would leave them off
        // the stream for good, and its consumers could not tell. They go again, from the
        // stream's newest event on, if that event is this database's.
        let ours = store.event_ids_at(&[newest]).await?;
        if ours.get(&newest) != Some(&id) {
            return Err(foreign_event(config, newest, &id));
        }
        tracing::error!(
            stream = %config.stream,
            checkpoint = start,
            newest_on_stream = newest,
            "the stream lacks events the relay had published after its newest one: it lost \
             them, or was restored, purged or replaced; publishing them again from there"
        );
        COUNTS.stream_behind.fetch_add(1, Ordering::Relaxed);
        pool.get()
            .await?
            .execute(
                "UPDATE projections.checkpoints SET position = $2 WHERE projection = $1",
                &[&RELAY, &newest],
            )
            .await?;
        newest
    } else {
        start
    };
    // The stream sequence the next publish expects to follow (`Nats-Expected-Last-Sequence`):
    // with many publishes in flight, one that JetStream never stored (a leader lost mid-flight)
    // would otherwise be followed by later ones that it did store, and sent again after them,
    // out of commit order. Expecting the sequence, every publish after a lost one is refused; the
    // relay starts again at its checkpoint, reads back what the stream holds and goes on from
    // the lost event.
    // What the stream holds after the checkpoint must be this database's events. After a restore
    // to an earlier time (the runbook deletes the stream first) or with another database
    // publishing to the same stream, it holds events this store does not have: skipped as
    // "published already", this store's own events at those positions would never reach the
    // stream. Nothing is published until an operator has seen to it.
    if !on_stream.is_empty() {
        let positions: Vec<i64> = on_stream.keys().copied().collect();
        let ours = store.event_ids_at(&positions).await?;
        let foreign = on_stream
            .iter()
            .filter(|(position, id)| ours.get(*position) != Some(*id))
            .map(|(position, id)| (*position, id.clone()))
            .min();
        if let Some((position, id)) = foreign {
            return Err(foreign_event(config, position, &id));
        }
    }
    let mut expected_sequence = last_sequence;
    if !on_stream.is_empty() {
        tracing::info!(
            events = on_stream.len(),
            after_position = start,
            "events after the checkpoint are on the stream already; not sending them again"
        );
    }
    tracing::info!(after_position = start, stream = %config.stream, "relay publishing");
    let mut events = Box::pin(store.tail(start).ready_chunks(BATCH_EVENTS_MAX));
    let mut in_flight: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut acked: Option<(i64, DateTime<Utc>)> = None;
    let mut stored = start;
    let mut last_store = Instant::now();
    let mut waiting: VecDeque<RecordedEvent> = VecDeque::new();
    loop {
        // Publish what waits, while acknowledgements may be outstanding.
        while in_flight.len() < config.acks_in_flight_max {
            let Some(event) = waiting.pop_front() else {
                break;
            };
            let (position, at) = (event.global_position, event.recorded_at);
            if on_stream.remove(&position).is_some() {
                COUNTS.already_on_stream.fetch_add(1, Ordering::Relaxed);
                // Acknowledged as soon as those before it are: the checkpoint passes it in order.
                in_flight.push_back(Box::pin(std::future::ready((position, at, Ok(())))));
                continue;
            }
            let payload = serde_json::to_vec(&Envelope::of(&event))
                .map_err(|e| ProjectionError::Nats(format!("envelope: {e}")))?;
            // A message larger than the server takes is refused by closing the connection, which
            // the relay would see only as acknowledgements timing out: say why instead.
            fits(
                position,
                payload.len(),
                js.client().server_info().max_payload,
            )?;
            let mut message = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(event.event_id.to_string());
            if expected_sequence > 0 {
                message = message.expected_last_sequence(expected_sequence);
            }
            expected_sequence += 1;
            // A server that hangs (the port takes connections, nothing answers) would hold the
            // publish, and with it this loop and the acknowledgements' time limits, in silence
            // until it answered again; bounded, the relay gives up, says so and tries again.
            let ack = tokio::time::timeout(
                PUBLISH_TIMEOUT,
                js.send_publish(config.subject(&event), message),
            )
            .await
            .map_err(|_| {
                ProjectionError::Nats(format!(
                    "publishing: NATS did not take the event within {} s",
                    PUBLISH_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| ProjectionError::Nats(format!("publishing: {e}")))?;
            in_flight.push_back(Box::pin(async move {
                let acked = ack
                    .into_future()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                if acked.is_ok() {
                    COUNTS.published.fetch_add(1, Ordering::Relaxed);
                }
                (position, at, acked)
            }));
        }
        let due = acked.is_some_and(|(p, _)| p > stored)
            && (in_flight.is_empty()
                || last_store.elapsed() >= Duration::from_millis(CHECKPOINT_EVERY_MS));
        if due {
            if let Some((position, at)) = acked {
                store_checkpoint(store, position, at).await?;
                stored = position;
                last_store = Instant::now();
            }
        }
        tokio::select! {
            // Acknowledgements come back in publish order; the checkpoint follows them.
            Some((position, at, ack)) = in_flight.next(), if !in_flight.is_empty() => {
                ack.map_err(|e| ProjectionError::Nats(format!("acknowledgement of {position}: {e}")))?;
                acked = Some((position, at));
            }
            batch = events.next(), if waiting.is_empty() && in_flight.len() < config.acks_in_flight_max => {
                let Some(batch) = batch else { return Ok(()) };
                for event in batch {
                    waiting.push_back(event?);
                }
            }
            () = tokio::time::sleep(Duration::from_millis(CHECKPOINT_EVERY_MS)), if acked.is_some_and(|(p, _)| p > stored) => {}
        }
    }
}

/// What NATS counts beside a message's payload against its `max_payload`: the headers
/// (`Nats-Msg-Id`, `Nats-Expected-Last-Sequence`) and their framing, with room to spare.
const HEADER_BYTES_RESERVE: usize = 8 * 1024;

/// Whether the event at `position`, `payload` bytes as published, fits a server whose largest
/// message is `max_payload` bytes; if not, the error that stops this attempt and says what to do.
/// The store keeps events small enough for NATS's default ([`eventstore::EVENT_DATA_BYTES_MAX`]),
/// so this happens only with a server set to take less.
fn fits(position: i64, payload: usize, max_payload: usize) -> Result<(), ProjectionError> {
    if payload.saturating_add(HEADER_BYTES_RESERVE) <= max_payload {
        return Ok(());
    }
    Err(ProjectionError::Nats(format!(
        "the event at position {position} is {payload} bytes as published, more than the NATS \
         server takes with its headers (max_payload {max_payload} bytes): set max_payload to at \
         least 1 MiB on every NATS server (the event store takes events of up to {} bytes of \
         data); nothing after it is published until then",
        eventstore::EVENT_DATA_BYTES_MAX
    )))
}

/// Says (an ERROR) that the stream holds an event this database does not have, and gives the
/// error that stops this attempt: nothing is published until an operator has seen to it.
fn foreign_event(config: &RelayConfig, position: i64, id: &str) -> ProjectionError {
    tracing::error!(
        stream = %config.stream,
        position,
        event_id = %id,
        "the stream holds an event this database does not have: the database was restored to \
         an earlier time, or another database publishes to this stream; publishing nothing \
         until the stream is deleted (runbook, Point-in-time restore, NATS) or the relay is \
         pointed at its own stream"
    );
    ProjectionError::Nats(format!(
        "the stream {} holds event {id} at position {position}, which this database does not \
         have",
        config.stream
    ))
}

async fn store_checkpoint(
    store: &EventStore,
    position: i64,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let client = store.pool().get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE projections.checkpoints
                SET position = $2, recorded_at = $3, updated_at = statement_timestamp()
              WHERE projection = $1 AND position < $2
                AND set_config('synchronous_commit', 'off', true) = 'off'",
        )
        .await?;
    client.execute(&stmt, &[&RELAY, &position, &at]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stream: &str, event_type: &str) -> RecordedEvent {
        RecordedEvent {
            event_id: ulid::Ulid::from_parts(1, 2),
            global_position: 7,
            stream_id: stream.into(),
            stream_version: 1,
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at: DateTime::UNIX_EPOCH,
            data: RawValue::from_string(r#"{"a":1}"#.into()).expect("json"),
            metadata: Metadata {
                actor: "SE2321000016-A1B2".into(),
                unit: Some("vc-test".into()),
                role: "staff".into(),
                command_id: Some("c".into()),
                correlation_id: Some("r".into()),
                causation_id: None,
            },
            hash: "ab".into(),
        }
    }

    /// An event larger than the server takes stops the relay with why and what to do, rather
    /// than acknowledgements timing out (an outside review saw only those).
    #[test]
    fn an_event_the_server_would_refuse_says_so() {
        assert!(fits(7, 900_000, 1024 * 1024).is_ok());
        let refused = fits(7, 70_000, 64 * 1024)
            .expect_err("too large")
            .to_string();
        assert!(
            refused.contains("position 7")
                && refused.contains("max_payload 65536")
                && refused.contains("at least 1 MiB"),
            "{refused}"
        );
    }

    #[test]
    fn subjects_name_the_category_and_the_event_type() {
        let config = RelayConfig::new("nats://127.0.0.1:4222");
        assert_eq!(
            config.subject(&event("sip-01ARZ3NDEKTSV4RRFFQ69G5FAV", "ConsentWithdrawn")),
            "samplan.events.sip.ConsentWithdrawn"
        );
        assert_eq!(
            config.subject(&event("unit-vc-norr", "UnitRegistered")),
            "samplan.events.unit.UnitRegistered"
        );
    }

    #[test]
    fn the_envelope_has_the_fields_of_the_api() {
        let e = event("sip-01ARZ3NDEKTSV4RRFFQ69G5FAV", "ConsentWithdrawn");
        let json = serde_json::to_value(Envelope::of(&e)).expect("json");
        for field in [
            "event_id",
            "global_position",
            "stream_id",
            "stream_version",
            "event_type",
            "schema_version",
            "recorded_at",
            "data",
            "metadata",
        ] {
            assert!(json.get(field).is_some(), "{field} missing: {json}");
        }
        assert_eq!(json["data"]["a"], 1);
        for field in [
            "actor",
            "unit",
            "role",
            "command_id",
            "correlation_id",
            "causation_id",
        ] {
            assert!(json["metadata"].get(field).is_some(), "metadata.{field}");
        }
    }
}

#[cfg(test)]
mod learned_server_tests {
    use super::merge_servers;

    #[test]
    fn a_fresh_connection_also_tries_the_servers_a_cluster_told_of() {
        let learned = ["127.0.0.1:4223".to_owned(), "127.0.0.1:4222".to_owned()];
        let servers = merge_servers("nats://127.0.0.1:4222, nats://127.0.0.1:4224", &learned);
        assert_eq!(
            servers,
            vec![
                "nats://127.0.0.1:4222",
                "nats://127.0.0.1:4224",
                "nats://127.0.0.1:4223"
            ]
        );
    }
}
