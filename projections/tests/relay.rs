//! The relay against a real PostgreSQL and a real nats-server with JetStream: every event reaches
//! the stream once and in position order, also when the relay dies mid-batch and starts again
//! behind what it had published (also after JetStream's duplicate window), when transactions
//! commit out of position order or abort after taking a position, and when NATS is away while
//! commands go on.

mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{setup, Setup};

use async_nats::jetstream;
use eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent};
use projections::relay::{self, RelayConfig, RELAY};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

const WAIT_MS: u64 = 30_000;

fn nats_url() -> String {
    std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A stream of this test's own (tests share the NATS server), in memory.
fn config(url: &str) -> RelayConfig {
    let id = Ulid::generate().to_string().to_lowercase();
    let mut config = RelayConfig::new(url);
    config.stream = format!("RELAY_TEST_{id}");
    config.subject_prefix = format!("relay-test.{id}");
    config.memory_storage = true;
    config.max_age = Duration::from_secs(3_600);
    config
}

fn new_event(stream: &str) -> NewEvent {
    NewEvent {
        event_id: Ulid::generate(),
        event_type: "NeedIdentified".into(),
        schema_version: 1,
        data: serde_json::json!({"stream": stream}),
        metadata: Metadata {
            actor: "SE2321000016-A1B2".into(),
            unit: Some("vc-test".into()),
            role: "staff".into(),
            command_id: None,
            correlation_id: None,
            causation_id: None,
        },
    }
}

async fn append(store: &EventStore, stream: &str) {
    store
        .append(stream, ExpectedVersion::Any, vec![new_event(stream)], None)
        .await
        .expect("append");
}

/// Waits until the relay's checkpoint has reached the store's head.
async fn relayed(store: &EventStore) -> i64 {
    let head = store.head_position().await.expect("head");
    let at = projections::runner::wait_for(store.pool(), RELAY, head, WAIT_MS)
        .await
        .expect("checkpoint");
    assert_eq!(at, head, "the relay did not catch up");
    head
}

/// Every message of the stream, in stream order: (message id header, envelope).
async fn messages(js: &jetstream::Context, config: &RelayConfig) -> Vec<(String, Value)> {
    let mut stream = js.get_stream(&config.stream).await.expect("stream");
    let last = stream.info().await.expect("info").state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.expect("message");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        out.push((id, serde_json::from_slice(&message.payload).expect("json")));
    }
    out
}

/// The stream holds every event of the store once, in position order, each under its own id and
/// subject.
async fn assert_complete(store: &EventStore, js: &jetstream::Context, config: &RelayConfig) {
    let events = store.read_all(0, 100_000).await.expect("events");
    let got = messages(js, config).await;
    assert_eq!(got.len(), events.len(), "one message per event");
    for ((id, envelope), event) in got.iter().zip(&events) {
        assert_eq!(envelope["global_position"], event.global_position);
        assert_eq!(
            id,
            &event.event_id.to_string(),
            "Nats-Msg-Id is the event id"
        );
        assert_eq!(envelope["event_id"], event.event_id.to_string());
        assert_eq!(envelope["stream_id"], event.stream_id.as_str());
        assert_eq!(envelope["metadata"]["actor"], event.metadata.actor.as_str());
        let data: Value = serde_json::from_str(event.data.get()).expect("stored data");
        assert_eq!(envelope["data"], data);
    }
}

async fn delete(js: &jetstream::Context, config: &RelayConfig) {
    let _ = js.delete_stream(&config.stream).await;
}

/// A stream lost — deleted, its volume wiped, memory storage restarted — is filled again from
/// the first event, not from where the relay's checkpoint stood (which left every earlier event
/// off it for good, without a word).
#[tokio::test]
async fn a_lost_stream_is_filled_again_from_the_first_event() {
    let Setup { db, store } = setup().await;
    let config = config(&nats_url());
    let js = relay::connect(&config.nats_url).await.expect("nats");
    for i in 0..10 {
        append(&store, &format!("sip-lost-{i}")).await;
    }
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    relayed(&store).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");

    delete(&js, &config).await;
    append(&store, "sip-lost-after").await;
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    relayed(&store).await;
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
}

#[tokio::test]
async fn every_event_reaches_jetstream_once_in_order_also_when_the_relay_dies_mid_batch() {
    let Setup { db, store } = setup().await;
    let config = config(&nats_url());
    let js = relay::connect(&config.nats_url).await.expect("nats");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..40 {
                    append(&store, &format!("sip-w{w}-{}", i % 4)).await;
                }
            })
        })
        .collect();
    // Kill the relay mid-stream, then pretend it had not stored its last checkpoints (a crash
    // between publishing and checkpointing): it publishes those events again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    let client = store.pool().get().await.expect("client");
    client
        .execute(
            "UPDATE projections.checkpoints SET position = greatest(position - 100, 0)
              WHERE projection = $1",
            &[&RELAY],
        )
        .await
        .expect("rewind");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    for w in writers {
        w.await.expect("writer");
    }
    assert_eq!(relayed(&store).await, 640);
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
}

/// Sets the stream's largest message (-1: no limit), as an operator might.
async fn limit_message_size(js: &jetstream::Context, config: &RelayConfig, bytes: i32) {
    let mut stream = js.get_stream(&config.stream).await.expect("stream");
    let mut limited = stream.info().await.expect("info").config.clone();
    limited.max_message_size = bytes;
    js.update_stream(limited).await.expect("limit");
}

/// A publish JetStream does not store while later ones are in flight — here one it refuses as
/// too large, as a leader lost mid-flight loses one — holds back those after it: the stream
/// never holds an event ahead of one committed before it, and once the cause is gone the relay
/// goes on from the held-back event.
#[tokio::test]
async fn a_publish_jetstream_does_not_store_holds_back_the_later_ones_so_the_order_stays() {
    let Setup { db, store } = setup().await;
    let config = config(&nats_url());
    let js = relay::connect(&config.nats_url).await.expect("nats");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    for i in 0..3 {
        append(&store, &format!("sip-before-{i}")).await;
    }
    let before = relayed(&store).await;

    limit_message_size(&js, &config, 2_048).await;
    let mut large = new_event("sip-large");
    large.data = serde_json::json!({"stream": "sip-large", "note": "x".repeat(4_000)});
    store
        .append("sip-large", ExpectedVersion::Any, vec![large], None)
        .await
        .expect("append");
    for i in 0..5 {
        append(&store, &format!("sip-after-{i}")).await;
    }
    // The relay tries (and tries again); nothing after the refused event reaches the stream.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = messages(&js, &config).await;
    assert_eq!(
        held.len() as i64,
        before,
        "only the events before the refused one: {:?}",
        held.iter()
            .map(|(_, e)| e["global_position"].clone())
            .collect::<Vec<_>>()
    );
    let at = projections::runner::checkpoint(store.pool(), RELAY)
        .await
        .expect("checkpoint");
    assert_eq!(at, before, "the checkpoint waits at the refused event");

    limit_message_size(&js, &config, -1).await;
    assert_eq!(relayed(&store).await, before + 6);
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
}

/// The largest event the store takes, with long metadata, reaches a NATS server of the default
/// largest message (1 MiB), and the events after it follow. An outside review had a command's
/// event of 1 MiB of data refused by NATS, which stopped the relay for good.
#[tokio::test]
async fn the_largest_event_the_store_takes_fits_a_nats_message() {
    let Setup { db, store } = setup().await;
    let config = config(&nats_url());
    let js = relay::connect(&config.nats_url).await.expect("nats");
    let max_payload = js.client().server_info().max_payload;
    assert_eq!(max_payload, 1024 * 1024, "the server's default");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    let max = store.config().payload_bytes_max;
    assert_eq!(max, eventstore::EVENT_DATA_BYTES_MAX);
    let mut largest = new_event("sip-largest");
    // {"note":"…"} is 11 bytes of framing.
    largest.data = serde_json::json!({ "note": "x".repeat(max - 11) });
    assert_eq!(serde_json::to_vec(&largest.data).expect("json").len(), max);
    largest.metadata.actor = "a".repeat(256);
    largest.metadata.command_id = Some(format!("{}:{}", "a".repeat(256), "k".repeat(200)));
    largest.metadata.correlation_id = Some("c".repeat(128));
    store
        .append("sip-largest", ExpectedVersion::Any, vec![largest], None)
        .await
        .expect("the store takes it");
    append(&store, "sip-after").await;
    assert_eq!(relayed(&store).await, 2);
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
}

/// A stream that holds events this database does not have — the database was restored to an
/// earlier time and the stream kept, or another database's relay publishes to the same stream —
/// is not taken for "published already": the relay publishes nothing and says why, until the
/// stream is deleted, and then fills it again from the first event.
/// A stream that lacks events the relay had published after its newest one gets them again: the
/// relay was pointed at another server for a while, a node lost what it had not written to disk,
/// a backup of the stream was restored. Before, the relay went on after its checkpoint, and the
/// events were missing from the stream for good without a word (outside review).
#[tokio::test]
async fn a_stream_behind_the_checkpoint_gets_the_events_it_lacks() {
    let Setup { db, store } = setup().await;
    let own = config(&nats_url());
    let js = relay::connect(&own.nats_url).await.expect("nats");
    let relay_until_caught_up = |config: RelayConfig| {
        let store = store.clone();
        async move {
            let cancel = CancellationToken::new();
            let run = tokio::spawn(relay::run(store.clone(), config, cancel.clone()));
            let head = relayed(&store).await;
            cancel.cancel();
            run.await.expect("task").expect("relay");
            head
        }
    };
    for i in 0..10 {
        append(&store, &format!("sip-behind-{i}")).await;
    }
    relay_until_caught_up(own.clone()).await;

    // For a while the relay publishes to another stream (another server, an operator's slip).
    let elsewhere = config(&nats_url());
    for i in 0..5 {
        append(&store, &format!("sip-elsewhere-{i}")).await;
    }
    assert_eq!(relay_until_caught_up(elsewhere.clone()).await, 15);
    assert_eq!(messages(&js, &own).await.len(), 10, "five are not on it");
    let (_, _, behind_before) = relay::counts();

    // Back on its own stream, the relay sends the five it lacks, once, in order.
    append(&store, "sip-behind-after").await;
    relay_until_caught_up(own.clone()).await;
    assert_complete(&store, &js, &own).await;
    let (_, _, behind) = relay::counts();
    assert!(behind > behind_before, "counted for /metrics");
    delete(&js, &own).await;
    delete(&js, &elsewhere).await;
    drop(db);
}

/// An active relay that cannot reach NATS says so on `/metrics` (`samplan_nats_connected 0`),
/// where it showed nothing, as a standby does, and looked healthy (outside review).
#[tokio::test]
async fn an_active_relay_that_cannot_reach_nats_shows_it_is_not_connected() {
    let Setup { db, store } = setup().await;
    append(&store, "sip-unreachable").await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(
        store.clone(),
        config(&format!("nats://127.0.0.1:{port}")),
        cancel.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while projections::nats_connected() != Some(false) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?}",
            projections::nats_connected()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cancel.cancel();
    run.await.expect("task").expect("relay");
    drop(db);
}

#[tokio::test]
async fn a_stream_holding_another_historys_events_is_refused_until_it_is_deleted() {
    let config = config(&nats_url());
    let js = relay::connect(&config.nats_url).await.expect("nats");
    // The lost history: ten events on the stream.
    let lost = setup().await;
    for i in 0..10 {
        append(&lost.store, &format!("sip-lost-history-{i}")).await;
    }
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(
        lost.store.clone(),
        config.clone(),
        cancel.clone(),
    ));
    relayed(&lost.store).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");

    // The restored database has three events of its own at positions 1–3.
    let Setup { db, store } = setup().await;
    for i in 0..3 {
        append(&store, &format!("sip-restored-{i}")).await;
    }
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let checkpoint = projections::runner::checkpoint(store.pool(), RELAY)
        .await
        .expect("checkpoint");
    assert_eq!(
        checkpoint, 0,
        "nothing of this database was taken as published"
    );
    assert_eq!(
        messages(&js, &config).await.len(),
        10,
        "nothing was published"
    );

    // The operator deletes the stream, as the runbook says: the relay fills it from the start.
    delete(&js, &config).await;
    relayed(&store).await;
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
    drop(lost);
}

#[tokio::test]
async fn events_already_on_the_stream_are_not_sent_again_after_the_duplicate_window() {
    // A relay that lost its last checkpoints (it died before storing them, or PostgreSQL lost
    // the commit) and starts again after JetStream's duplicate window has passed — a NATS or
    // relay outage longer than two minutes by default — must not rely on the window.
    let Setup { db, store } = setup().await;
    let mut config = config(&nats_url());
    config.duplicate_window = Duration::from_secs(1);
    let js = relay::connect(&config.nats_url).await.expect("nats");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    for i in 0..60 {
        append(&store, &format!("sip-window-{}", i % 6)).await;
    }
    assert_eq!(relayed(&store).await, 60);
    cancel.cancel();
    run.await.expect("task").expect("relay");
    let client = store.pool().get().await.expect("client");
    client
        .execute(
            "UPDATE projections.checkpoints SET position = 15 WHERE projection = $1",
            &[&RELAY],
        )
        .await
        .expect("rewind");
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    for i in 0..5 {
        append(&store, &format!("sip-window-{i}")).await;
    }
    assert_eq!(relayed(&store).await, 65);
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
}

#[tokio::test]
async fn transactions_that_commit_late_or_abort_are_waited_for_and_published_in_position_order() {
    let Setup { db, store } = setup().await;
    let config = config(&nats_url());
    let js = relay::connect(&config.nats_url).await.expect("nats");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    append(&store, "sip-first").await;
    // Published before the rest begins, so the check below waits only for what must not come.
    assert_eq!(relayed(&store).await, 1);
    // A writer draws a position and commits after later ones.
    let (mut client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    let tx = client.transaction().await.expect("tx");
    tx.execute(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
             payload, actor, unit, role)
         VALUES ('sip-late', 1, $1, 'NeedIdentified', 1, '{}'::jsonb, 'SE2321000016-A1B2',
                 'vc-test', 'staff')",
        &[&Ulid::generate().to_string()],
    )
    .await
    .expect("insert");
    // And one that takes a position and rolls back: a hole that never fills.
    let (mut aborting, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    let aborted = aborting.transaction().await.expect("tx");
    aborted
        .execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                 payload, actor, unit, role)
             VALUES ('sip-aborted', 1, $1, 'NeedIdentified', 1, '{}'::jsonb, 'SE2321000016-A1B2',
                     'vc-test', 'staff')",
            &[&Ulid::generate().to_string()],
        )
        .await
        .expect("insert");
    for i in 0..5 {
        append(&store, &format!("sip-after-{i}")).await;
    }
    aborted.rollback().await.expect("rollback");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Nothing after the open transaction's position may be published before it.
    let published = messages(&js, &config).await;
    assert_eq!(
        published.len(),
        1,
        "the relay waited for the open transaction"
    );
    tx.commit().await.expect("commit");
    // Positions: 1, the late one (2), the aborted one (3, never committed), five after it.
    assert_eq!(relayed(&store).await, 8);
    assert_complete(&store, &js, &config).await;
    cancel.cancel();
    run.await.expect("task").expect("relay");
    delete(&js, &config).await;
    drop(db);
}

/// A nats-server of this test's own, which the test stops and starts again.
struct Nats {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl Nats {
    fn binary() -> String {
        [
            "nats-server",
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
        ]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("nats-server (scripts/test puts it on PATH)")
        .to_owned()
    }

    fn start(port: u16, dir: std::path::PathBuf) -> Nats {
        let mut nats = Nats {
            child: None,
            port,
            dir,
        };
        nats.restart();
        nats
    }

    fn restart(&mut self) {
        let child = Command::new(Nats::binary())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not start");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A nats-server of the test's own on a free port, and a relay configuration for it whose stream
/// is kept on disk, so that it outlives the server's restart.
fn own_nats(name: &str) -> (Nats, RelayConfig) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = std::env::temp_dir().join(format!("samplan-relay-{name}-{}", Ulid::generate()));
    let nats = Nats::start(port, dir);
    let mut config = config(&nats.url());
    config.memory_storage = false;
    (nats, config)
}

#[tokio::test]
async fn with_nats_away_commands_go_on_and_the_relay_and_a_consumer_catch_up() {
    let Setup { db, store } = setup().await;
    let (mut nats, config) = own_nats("nats");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    for i in 0..30 {
        append(&store, &format!("sip-before-{}", i % 3)).await;
    }
    relayed(&store).await;
    // A consumer that reads the events as a reporting job would: durable, acknowledging each.
    let js = relay::connect(&nats.url()).await.expect("nats");
    let stream = js.get_stream(&config.stream).await.expect("stream");
    let consumer = stream
        .get_or_create_consumer(
            "reporting",
            jetstream::consumer::pull::Config {
                durable_name: Some("reporting".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .expect("consumer");

    nats.stop();
    // Commands go on while NATS is away: nothing on the write path waits for it.
    for i in 0..30 {
        append(&store, &format!("sip-during-{}", i % 3)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart();
    assert_eq!(relayed(&store).await, 60);
    let js = relay::connect(&nats.url()).await.expect("nats");
    assert_complete(&store, &js, &config).await;

    let mut positions = BTreeSet::new();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(100)
        .messages()
        .await
        .expect("messages");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    use futures::StreamExt;
    while positions.len() < 60 {
        let next = tokio::time::timeout_at(deadline, messages.next())
            .await
            .expect("the consumer received every event in time")
            .expect("a message")
            .expect("no error");
        let envelope: Value = serde_json::from_slice(&next.payload).expect("json");
        positions.insert(envelope["global_position"].as_i64().expect("position"));
        next.ack().await.expect("ack");
    }
    assert_eq!(positions, (1..=60).collect::<BTreeSet<i64>>());
    cancel.cancel();
    run.await.expect("task").expect("relay");
    drop(db);
}

/// After NATS was away and came back, the active relay says it is connected again (an outside
/// review saw `samplan_nats_connected 0` for minutes on a relay that was publishing; the order
/// of events that did it is the unit test `an_old_connection_closing_does_not_undo_a_new_one`).
#[tokio::test]
async fn the_relay_says_it_is_connected_again_once_nats_is_back() {
    let Setup { db, store } = setup().await;
    let (mut nats, config) = own_nats("gauge");
    let cancel = CancellationToken::new();
    let run = tokio::spawn(relay::run(store.clone(), config.clone(), cancel.clone()));
    append(&store, "sip-gauge-1").await;
    relayed(&store).await;
    assert_eq!(projections::nats_connected(), Some(true));

    nats.stop();
    append(&store, "sip-gauge-2").await;
    let until = |want: bool, within: Duration| async move {
        let deadline = tokio::time::Instant::now() + within;
        while projections::nats_connected() != Some(want) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "samplan_nats_connected should be {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    until(false, Duration::from_secs(30)).await;
    nats.restart();
    assert_eq!(relayed(&store).await, 2);
    until(true, Duration::from_secs(30)).await;
    // And it stays so, once every old connection has closed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(projections::nats_connected(), Some(true));
    cancel.cancel();
    run.await.expect("task").expect("relay");
    drop(db);
}

#[tokio::test]
async fn the_doorbell_client_takes_a_list_of_servers_and_uses_the_one_that_answers() {
    // The first URL names a port nothing listens on; the second is the test server.
    let url = format!("nats://127.0.0.1:1,{}", nats_url());
    let client = projections::nats_client(&url, &projections::NatsAuth::default())
        .await
        .expect("a client");
    let subject = format!(
        "doorbell-test.{}",
        Ulid::generate().to_string().to_lowercase()
    );
    let mut heard = client.subscribe(subject.clone()).await.expect("subscribe");
    client
        .publish(subject, "ring".into())
        .await
        .expect("publish");
    let message = tokio::time::timeout(
        Duration::from_secs(20),
        futures::StreamExt::next(&mut heard),
    )
    .await
    .expect("rung within the time")
    .expect("a message");
    assert_eq!(&message.payload[..], b"ring");
}
