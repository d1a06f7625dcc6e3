//! A three-node NATS JetStream cluster on loopback with the events' stream at three replicas
//! (issue 15, fault 5): under load, the node that leads the stream and its consumer — and that
//! samplan and the consumer are connected to — is killed with SIGKILL (no graceful hand-over of
//! leadership); the other two elect new leaders, the relay goes on publishing through them, the
//! durable consumer goes on consuming, commands go on being acknowledged, and nothing is lost —
//! every acknowledged command is stored exactly once, JetStream ends up with every event of the
//! store exactly once, and the consumer has seen them all.

use async_nats::jetstream;
use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use futures::StreamExt;
use gateway::auth::{random_hex, Signer};
use samplan_tests::proof::assert_each_event_once;
use samplan_tests::writers::{register_world, stored_plans, Writers, STAFF, UNIT};
use samplan_tests::{free_port, serve_command, PrivateNats, Samplan, TempDir};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STREAM: &str = "SAMPLAN_EVENTS_CLUSTER";
const CONSUMER: &str = "reporting";
/// The node samplan and the consumer connect to, made to lead the stream and the consumer, and
/// killed.
const VICTIM: usize = 0;
/// Commands acknowledged after the kill, at least.
const AFTER_KILL: usize = 200;

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

/// Which node leads the stream, and which its consumer (server names, `n0`…).
async fn leaders(js: &jetstream::Context) -> (Option<String>, Option<String>) {
    let stream = js.get_stream(STREAM).await.ok();
    let stream_leader = match stream {
        Some(mut s) => s
            .info()
            .await
            .ok()
            .and_then(|i| i.cluster.clone())
            .and_then(|c| c.leader),
        None => None,
    };
    let consumer_leader = match js.get_stream(STREAM).await {
        Ok(s) => match s
            .get_consumer::<jetstream::consumer::pull::Config>(CONSUMER)
            .await
        {
            Ok(mut c) => c
                .info()
                .await
                .ok()
                .and_then(|i| i.cluster.clone())
                .and_then(|c| c.leader),
            Err(_) => None,
        },
        Err(_) => None,
    };
    (stream_leader, consumer_leader)
}

/// Asks the stream's and the consumer's leaders to step down (`$JS.API.…LEADER.STEPDOWN`) until
/// node `target` leads both; a step-down hands leadership to another replica at random.
async fn lead_from(js: &jetstream::Context, target: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (stream_leader, consumer_leader) = leaders(js).await;
        if stream_leader.as_deref() == Some(target) && consumer_leader.as_deref() == Some(target) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{target} did not come to lead the stream and the consumer: {stream_leader:?}, \
             {consumer_leader:?}"
        );
        let request = if stream_leader.is_some() && stream_leader.as_deref() != Some(target) {
            format!("STREAM.LEADER.STEPDOWN.{STREAM}")
        } else if consumer_leader.is_some() && consumer_leader.as_deref() != Some(target) {
            format!("CONSUMER.LEADER.STEPDOWN.{STREAM}.{CONSUMER}")
        } else {
            // An election is under way.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let _: Result<serde_json::Value, _> = js.request(request, &serde_json::json!({})).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_one_of_three_nats_nodes_under_load_loses_nothing() {
    let dir = TempDir::new("nats-cluster");
    let mut nodes = cluster(&dir).await;
    // The test's own checks go through a node that stays up.
    let js = jetstream_ready(&nodes[1].url()).await;

    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("secret");
    let port = free_port();
    // samplan knows one node; it learns the others from the cluster.
    let mut cmd = serve_command(
        &db.app_url,
        &db.admin_url,
        &nodes[VICTIM].url(),
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
    // The relay has made the stream; a reporting job consumes it through the node samplan
    // is connected to, so both clients lose their node.
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 30_000)
        .await
        .expect("the relay published");
    let consumer_js = jetstream::new(
        async_nats::connect(nodes[VICTIM].url())
            .await
            .expect("nats"),
    );
    let consumer = consumer_js
        .get_stream(STREAM)
        .await
        .expect("stream")
        .get_or_create_consumer(
            CONSUMER,
            jetstream::consumer::pull::Config {
                durable_name: Some(CONSUMER.into()),
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
            // A node going away surfaces as errors, or the end of the batch stream, for a
            // moment; the consumer goes on where it was.
            loop {
                let Ok(mut messages) = consumer
                    .stream()
                    .max_messages_per_batch(200)
                    .messages()
                    .await
                else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                while let Some(message) = messages.next().await {
                    let Ok(message) = message else { continue };
                    if let Some(id) = message.headers.as_ref().and_then(|h| {
                        h.get(async_nats::header::NATS_MESSAGE_ID)
                            .map(|v| v.as_str().to_owned())
                    }) {
                        consumed.lock().expect("lock").insert(id);
                    }
                    let _ = message.ack().await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let writers = Writers::start(4, &api, &staff, &person);
    assert!(
        writers.wait_for(100, Duration::from_secs(60)).await,
        "the load did not start"
    );
    // The victim leads the stream and the consumer; then it dies, with no word to the others.
    let victim = format!("n{VICTIM}");
    lead_from(&js, &victim).await;
    let before = writers.acknowledged();
    let relayed_at_kill = projections::runner::checkpoint(store.pool(), projections::relay::RELAY)
        .await
        .expect("checkpoint");
    nodes[VICTIM].kill();
    let load_went_on = writers
        .wait_for(before + AFTER_KILL, Duration::from_secs(90))
        .await;
    let written = writers.stop().await;
    written.report("nats node killed");
    assert!(
        load_went_on,
        "fewer than {AFTER_KILL} commands acknowledged after the kill: {} in all, {before} before",
        written.acknowledged.len()
    );
    let refused: Vec<_> = written
        .answers()
        .filter(|a| a.status != Some(201))
        .collect();
    assert!(refused.is_empty(), "commands failed: {refused:?}");
    written.assert_stored_exactly_once(&stored_plans(&db.admin_url).await);

    // Publishing went on through the other nodes: the relay catches up with the store.
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 60_000)
        .await
        .unwrap_or_else(|e| panic!("the relay stalled: {e}\n{}", server.log_text()));
    assert!(
        head > relayed_at_kill,
        "nothing was left to publish after the kill (relayed {relayed_at_kill}, head {head})"
    );
    let (stream_leader, consumer_leader) = leaders(&js).await;
    assert!(
        stream_leader.is_some()
            && stream_leader.as_deref() != Some(victim.as_str())
            && consumer_leader.as_deref() != Some(victim.as_str()),
        "no new leaders: {stream_leader:?}, {consumer_leader:?}"
    );
    eprintln!(
        "nats node killed: {victim} led the stream and the consumer; now {stream_leader:?} and \
         {consumer_leader:?}; {} commands acknowledged after the kill; relayed {relayed_at_kill} \
         at the kill, {head} after",
        written.acknowledged.len() - before
    );
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
    let context = format!(
        "{}\nsamplan:\n{}",
        cluster_logs(&dir),
        tail(&server.log_text(), 40)
    );
    assert_each_event_once(&mut stream, &events, &context).await;

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
