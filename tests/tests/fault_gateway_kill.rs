//! `kill -9` of the gateway under load (issue 15, fault 1): clients whose answer was lost retry
//! with the same `Idempotency-Key` once the gateway is back, and every command that got a 2xx is
//! stored exactly once — none lost, none doubled.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use gateway::auth::{random_hex, Signer};
use samplan_tests::writers::{register_world, stored_plans, Writers, STAFF, UNIT};
use samplan_tests::{free_port, serve_command, Samplan, TempDir};
use std::process::Command;
use std::time::Duration;

const WRITERS: usize = 8;

fn serve(db: &TestDatabase, secret: &str, dir: &TempDir, port: u16) -> Command {
    let nats =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut cmd = serve_command(
        &db.app_url,
        &db.admin_url,
        &nats,
        secret,
        port,
        &dir.path().join("samplan"),
    );
    cmd.args(["serve", "--role", "gateway"]);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_killed_under_load_loses_and_doubles_nothing() {
    let db = TestDatabase::create().await.expect("test database");
    let dir = TempDir::new("gateway-kill");
    let secret = random_hex(32).expect("random secret");
    let port = free_port();
    let mut server = Samplan::spawn(
        serve(&db, &secret, &dir, port),
        port,
        dir.path().join("first.log"),
    )
    .await;
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

    let writers = Writers::start(WRITERS, &api, &staff, &person);
    writers.wait_for(200, Duration::from_secs(30)).await;
    let before = writers.acknowledged();
    server.signal("KILL");
    assert!(!server.wait_exit().await, "killed, not exited");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _again = Samplan::spawn(
        serve(&db, &secret, &dir, port),
        port,
        dir.path().join("second.log"),
    )
    .await;
    writers
        .wait_for(before + 25 * WRITERS, Duration::from_secs(60))
        .await;
    let written = writers.stop().await;

    // Some answers were lost with the process; every command was acknowledged in the end.
    let lost = written
        .answers
        .iter()
        .filter(|a| a.status.is_none())
        .count();
    assert!(lost > 0, "the kill cut no request: the test proved nothing");
    let refused: Vec<_> = written
        .answers
        .iter()
        .filter(|a| a.status.is_some_and(|s| s != 201))
        .collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    assert!(written.acknowledged.len() >= before + 25 * WRITERS);
    written.assert_stored_exactly_once(&stored_plans(&db.admin_url).await);
}
