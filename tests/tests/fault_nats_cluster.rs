//! A three-node NATS JetStream cluster on loopback with the events' stream at three replicas
//! (issue 15, fault 5): the node samplan is connected to is killed under load; the relay goes on
//! publishing through the other two, a durable consumer goes on consuming, and nothing is lost —
//! JetStream ends up with every event of the store exactly once, and the consumer has seen them
//! all.

use async_nats::jetstream;
use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use futures::StreamExt;
use gateway::auth::{random_hex, Signer};
use samplan_tests::writers::{register_world, Writers, STAFF, UNIT};
use samplan_tests::{free_port, serve_command, PrivateNats, Samplan, TempDir};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STREAM: &str = "SAMPLAN_EVENTS_CLUSTER";

/// Three nodes of cluster `samplan-test`, routed to each other.
async fn cluster(dir: &TempDir) -> Vec<PrivateNats> {
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let all_routes = routes
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut nodes = Vec::new();
    for (n, port) in routes.iter().enumerate() {
        let name = format!("n{n}");
        let cluster = format!("nats://127.0.0.1:{port}");
        nodes.push(
            PrivateNats::start_with(
                &dir.path().join(&name),
                &[
                    "--server_name",
                    &name,
                    "--cluster_name",
                    "samplan-test",
                    "--cluster",
                    &cluster,
                    "--routes",
                    &all_routes,
                ],
            )
            .await,
        );
    }
    nodes
}

/// The last lines of each node's log, for a failure's message: who led the stream when.
fn cluster_logs(dir: &TempDir) -> String {
    (0..3)
        .map(|n| {
            let log = std::fs::read_to_string(dir.path().join(format!("n{n}")).join("nats.log"))
                .unwrap_or_default();
            format!("node n{n}:\n{}", tail(&log, 40))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A JetStream context on `url`, once the cluster has elected its leaders (a stream with three
/// replicas can be created).
async fn jetstream_ready(url: &str) -> jetstream::Context {
    let client = async_nats::connect(url).await.expect("nats");
    let js = jetstream::new(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let probe = js
            .get_or_create_stream(jetstream::stream::Config {
                name: "READY_PROBE".into(),
                subjects: vec!["ready-probe".into()],
                num_replicas: 3,
                storage: jetstream::stream::StorageType::Memory,
                ..Default::default()
            })
            .await;
        if probe.is_ok() {
            return js;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster did not form: {probe:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_one_of_three_nats_nodes_under_load_loses_nothing() {
    let dir = TempDir::new("nats-cluster");
    let mut nodes = cluster(&dir).await;
    let js = jetstream_ready(&nodes[1].url()).await;

    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("secret");
    let port = free_port();
    // samplan knows one node; it learns the others from the cluster.
    let mut cmd = serve_command(
        &db.app_url,
        &db.admin_url,
        &nodes[0].url(),
        &secret,
        port,
        &dir.path().join("samplan"),
    );
    cmd.env("SAMPLAN_NATS_STREAM", STREAM)
        .env("SAMPLAN_NATS_REPLICAS", "3")
        .arg("serve");
    let server = Samplan::spawn(cmd, port, dir.path().join("samplan.log")).await;
    let api = format!("{}/api/v1", server.base_url);
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Admin", Utc::now(), Span::hours(1));
    let staff = signer.sign(
        STAFF,
        "staff",
        Some(UNIT),
        "Vera",
        Utc::now(),
        Span::hours(1),
    );
    let person = register_world(&api, &admin, &staff).await;

    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    // The relay has made the stream; a reporting job consumes it through another node.
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 30_000)
        .await
        .expect("the relay published");
    let consumer = js
        .get_stream(STREAM)
        .await
        .expect("stream")
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
    let consumed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let consuming = {
        let consumed = consumed.clone();
        tokio::spawn(async move {
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(200)
                .messages()
                .await
                .expect("messages");
            while let Some(message) = messages.next().await {
                // A node going away surfaces as errors for a moment; the stream goes on.
                let Ok(message) = message else { continue };
                if let Some(id) = message.headers.as_ref().and_then(|h| {
                    h.get(async_nats::header::NATS_MESSAGE_ID)
                        .map(|v| v.as_str().to_owned())
                }) {
                    consumed.lock().expect("lock").insert(id);
                }
                let _ = message.ack().await;
            }
        })
    };

    let writers = Writers::start(4, &api, &staff, &person);
    writers.wait_for(100, Duration::from_secs(30)).await;
    let before = writers.acknowledged();
    // The node samplan connected to dies.
    nodes[0].stop();
    writers
        .wait_for(before + 200, Duration::from_secs(60))
        .await;
    let written = writers.stop().await;
    let refused: Vec<_> = written
        .answers
        .iter()
        .filter(|a| a.status != Some(201))
        .collect();
    assert!(refused.is_empty(), "commands failed: {refused:?}");

    // Publishing went on through the other nodes: the relay catches up with the store.
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 60_000)
        .await
        .unwrap_or_else(|e| panic!("the relay stalled: {e}\n{}", server.log_text()));
    let events = store.read_all(0, 1_000_000).await.expect("events");
    let ids: BTreeSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    // Every event the relay checkpointed was acknowledged by a quorum of the replicas; a leader
    // elected after the kill may still be applying its log when first asked, so its count is
    // read until it holds them all (or 30 s pass: then something was lost).
    let mut stream = js.get_stream(STREAM).await.expect("stream");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let info = loop {
        let info = stream.info().await.expect("info").clone();
        if info.state.messages as usize >= events.len() || tokio::time::Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(info.config.num_replicas, 3);
    assert_eq!(
        info.state.messages as usize,
        events.len(),
        "one message per event; stream state {:?}\n{}\nsamplan:\n{}",
        info.state,
        cluster_logs(&dir),
        tail(&server.log_text(), 40)
    );
    let mut published = BTreeSet::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let message = stream.get_raw_message(seq).await.expect("message");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .expect("message id");
        assert!(published.insert(id), "an event published twice");
    }
    assert_eq!(published, ids, "JetStream holds exactly the store's events");

    // Consuming went on: the consumer has every event.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumed.lock().expect("lock").len() < ids.len() && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    consuming.abort();
    assert_eq!(
        *consumed.lock().expect("lock"),
        ids,
        "the consumer missed events"
    );
    nodes.clear();
}
