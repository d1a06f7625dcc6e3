//! NATS hung, not gone (SIGSTOP: the port still takes connections, nothing answers): commands go
//! on, the relay says in its log, again and again, that it cannot publish instead of waiting in
//! silence, and when NATS answers again every event is on JetStream once, in commit order.
//!
//! The test runs a nats-server of its own (the shared one must not be frozen) and one
//! `samplan serve` with every role.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::proof::assert_each_event_once;
use samplan_tests::writers::{register_world, Writers, STAFF, UNIT};
use samplan_tests::{free_port, serve_command, PrivateNats, Samplan, TempDir};
use std::time::Duration;

/// How long NATS stays frozen: several of the relay's attempts.
const HANG: Duration = Duration::from_secs(25);

fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {signal} {pid}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_says_so_while_nats_hangs_and_loses_nothing() {
    let dir = TempDir::new("nats-hang");
    let nats = PrivateNats::start(dir.path()).await;
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("random secret");
    let port = free_port();
    let stream = "SAMPLAN_EVENTS_HANG";
    let mut command = serve_command(
        &db.app_url,
        &db.admin_url,
        &nats.url(),
        &secret,
        port,
        &dir.path().join("samplan"),
    );
    command.env("SAMPLAN_NATS_STREAM", stream).arg("serve");
    let server = Samplan::spawn(command, port, dir.path().join("samplan.log")).await;
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
    let writers = Writers::start(2, &api, &staff, &person);
    assert!(
        writers.wait_for(20, Duration::from_secs(60)).await,
        "the load did not start"
    );
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 30_000)
        .await
        .unwrap_or_else(|e| panic!("the relay did not start: {e}\n{}", server.log_text()));

    let paused_before = server.log_text().matches("relay paused").count();
    signal(nats.pid(), "-STOP");
    let before = writers.acknowledged();
    // Commands go on while NATS hangs.
    assert!(
        writers.wait_for(before + 20, HANG).await,
        "commands did not go on while NATS hung"
    );
    tokio::time::sleep(HANG.saturating_sub(Duration::from_secs(1))).await;
    let log = server.log_text();
    let paused = log.matches("relay paused").count() - paused_before;
    signal(nats.pid(), "-CONT");
    assert!(
        paused >= 2,
        "the relay said {paused} times in {HANG:?} that it could not publish:\n{log}"
    );

    let written = writers.stop().await;
    written.report("nats hang");
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 90_000)
        .await
        .unwrap_or_else(|e| panic!("the relay did not catch up: {e}\n{}", server.log_text()));
    let events = store.read_all(0, 1_000_000).await.expect("events");
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("nats"));
    let mut js_stream = js.get_stream(stream).await.expect("stream");
    assert_each_event_once(&mut js_stream, &events, &server.log_text()).await;
    drop(server);
}
