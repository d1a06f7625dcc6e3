//! A PostgreSQL restart under load (issue 15, fault 2): while the database is away the service
//! answers 503 problem documents with `Retry-After`, never a 500; when it is back the service
//! recovers by itself, and every command that was acknowledged is stored exactly once — also
//! those a client had to retry with the same `Idempotency-Key`. The read side recovers too:
//! every read model and the relay apply everything the store holds, the read models equal a
//! fresh rebuild, and the stream holds every event once.
//!
//! The test starts a PostgreSQL cluster of its own (the shared server of the other tests must
//! not be restarted) and a `samplan serve` process with every role on it, loads it with four
//! writers, and stops the database twice: with a fast shutdown (connections cut, a clean stop),
//! and with an immediate one (as a crash: the next start recovers from the WAL, so an
//! acknowledged commit that was not in the WAL would be lost). Each time the database stays
//! away until the writers have been answered 503.

use chrono::{Duration as Span, Utc};
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::proof::{assert_each_event_once, assert_equals_rebuild};
use samplan_tests::writers::{register_world, send, stored_plans, Answer, Writers, STAFF, UNIT};
use samplan_tests::{
    free_port, http_client, own_stream, serve_command, PrivatePostgres, Samplan, TempDir,
};
use std::time::{Duration, Instant};

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
    let stream_name = cmd
        .get_envs()
        .find(|(k, _)| *k == "SAMPLAN_NATS_STREAM")
        .and_then(|(_, v)| v)
        .map(|v| v.to_string_lossy().into_owned())
        .expect("the stream's name");
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
    let client = http_client();

    let writers = Writers::start(WRITERS, &api, &staff, &person);
    let mut probes = Vec::new();
    for mode in ["fast", "immediate"] {
        let before = writers.acknowledged();
        assert!(
            writers
                .wait_for(before + 10 * WRITERS, Duration::from_secs(60))
                .await,
            "nothing was acknowledged before the {mode} stop"
        );
        let before = writers.acknowledged();
        let unavailable_before = writers.answered(503);
        pg.stop(mode);
        // Away until the writers have been answered 503 ...
        let deadline = Instant::now() + Duration::from_secs(30);
        while writers.answered(503) == unavailable_before {
            assert!(
                Instant::now() < deadline,
                "no 503 while the database was away ({mode} stop)\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // ... and a read too answers 503 with Retry-After.
        let (probe, _) = send(
            client
                .get(format!("{api}/persons?q=Tolvan"))
                .bearer_auth(&staff),
        )
        .await;
        probes.push(probe);
        pg.start_again();
        // Load goes on until the writers have been acknowledged well after the restart.
        assert!(
            writers
                .wait_for(before + 40 * WRITERS, Duration::from_secs(60))
                .await,
            "the service did not recover after the {mode} stop: {} acknowledged, {before} \
             before\n{}",
            writers.acknowledged(),
            server.log_text()
        );
    }
    let written = writers.stop().await;
    written.report("postgres restarts");

    // While it was away: 503 problem documents with Retry-After, never another 5xx.
    let unavailable: Vec<&Answer> = written
        .answers()
        .filter(|a| a.status == Some(503))
        .collect();
    assert!(
        !unavailable.is_empty(),
        "no 503 while the database was away"
    );
    for a in unavailable.iter().copied().chain(&probes) {
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
        .answers()
        .filter(|a| a.status != Some(201) && a.status != Some(503))
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");

    // Every acknowledged command stored exactly once, and nothing else.
    written.assert_stored_exactly_once(&stored_plans(&pg.admin_url()).await);

    // Ready again by itself.
    server.wait_ready().await;

    // The read side recovered by itself: every read model and the relay apply the head, the
    // read models equal a fresh rebuild, and the stream holds every event once.
    let store = EventStore::connect(StoreConfig::new(pg.app_url()))
        .await
        .expect("store");
    let head = store.head_position().await.expect("head");
    for name in projections::PROJECTIONS
        .iter()
        .chain([&projections::relay::RELAY])
    {
        projections::runner::applied(store.pool(), name, head, 60_000)
            .await
            .unwrap_or_else(|e| panic!("{name} did not recover: {e}\n{}", server.log_text()));
    }
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    for name in projections::PROJECTIONS {
        assert_equals_rebuild(&store, &pg.admin_url(), name, &settings).await;
    }
    let events = store.read_all(0, 1_000_000).await.expect("events");
    let js = async_nats::jetstream::new(async_nats::connect(&nats).await.expect("nats"));
    let mut stream = js.get_stream(&stream_name).await.expect("stream");
    assert_each_event_once(&mut stream, &events, &server.log_text()).await;
}
