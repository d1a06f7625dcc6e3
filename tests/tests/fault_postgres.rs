//! A PostgreSQL restart under load (issue 15, fault 2): while the database is away the service
//! answers 503 problem documents with `Retry-After`, never a 500; when it is back the service
//! recovers by itself, and every command that was acknowledged is stored exactly once — also
//! those a client had to retry with the same `Idempotency-Key`.
//!
//! The test starts a PostgreSQL cluster of its own (the shared server of the other tests must
//! not be restarted) and a `samplan serve` process on it, loads it with four writers, stops the
//! database with a fast shutdown for three seconds and starts it again.

use chrono::{Duration as Span, Utc};
use gateway::auth::{random_hex, Signer};
use samplan_tests::writers::{register_world, send, stored_plans, Answer, Writers, STAFF, UNIT};
use samplan_tests::{free_port, own_stream, serve_command, PrivatePostgres, Samplan, TempDir};
use std::time::Duration;

const WRITERS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restart_under_load_answers_503_then_recovers_and_loses_nothing() {
    let dir = TempDir::new("pg-restart");
    let pg = PrivatePostgres::start(dir.path());
    let secret = random_hex(32).expect("random secret");
    let port = free_port();
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    let nats =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut cmd = serve_command(
        &pg.app_url(),
        &pg.admin_url(),
        &nats,
        &secret,
        port,
        &dir.path().join("samplan"),
    );
    own_stream(&mut cmd, &tag);
    cmd.arg("serve");
    let mut server = Samplan::spawn(cmd, port, dir.path().join("samplan.log")).await;
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
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = writers.acknowledged();
    assert!(before > 0, "nothing was acknowledged before the restart");
    pg.stop("fast");
    // While the database is away, a read answers 503 with Retry-After too.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (probe, _) = send(
        reqwest::Client::new()
            .get(format!("{api}/persons?q=Tolvan"))
            .bearer_auth(&staff),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    pg.start_again();
    // Load goes on until the writers have been acknowledged well after the restart.
    writers
        .wait_for(before + 40 * WRITERS, Duration::from_secs(30))
        .await;
    let written = writers.stop().await;

    // While it was away: 503 problem documents with Retry-After, never another 5xx.
    let unavailable: Vec<&Answer> = written
        .answers
        .iter()
        .filter(|a| a.status == Some(503))
        .collect();
    assert!(
        !unavailable.is_empty(),
        "no 503 while the database was away"
    );
    for a in unavailable.iter().copied().chain([&probe]) {
        assert_eq!(a.status, Some(503), "{a:?}");
        assert_eq!(a.retry_after.as_deref(), Some("1"), "{a:?}");
        assert!(
            a.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/problem+json")),
            "{a:?}"
        );
        assert_eq!(a.code.as_deref(), Some("service_unavailable"), "{a:?}");
    }
    let others: Vec<&Answer> = written
        .answers
        .iter()
        .filter(|a| a.status != Some(201) && a.status != Some(503))
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    assert!(
        written.acknowledged.len() >= before + 40 * WRITERS,
        "the service did not recover: {} acknowledged, {before} before the restart\n{}",
        written.acknowledged.len(),
        server.log_text()
    );

    // Every acknowledged command stored exactly once, and nothing else.
    written.assert_stored_exactly_once(&stored_plans(&pg.admin_url()).await);

    // Ready again by itself.
    server.wait_ready().await;
}
