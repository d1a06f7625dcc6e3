//! NATS stopped for 30 seconds under load (issue 15, fault 3): commands keep succeeding, because
//! nothing on the write path waits for NATS (ADR 0014) — every acknowledged command is stored
//! exactly once; when NATS is back the relay publishes what it missed, so every event is on
//! JetStream exactly once, and every read model equals a fresh rebuild from the store.
//!
//! The test runs a nats-server of its own (the shared one must not be stopped) and one
//! `samplan serve` with every role. The stream drops a repeated message id for five seconds
//! only (`SAMPLAN_NATS_DUPLICATE_WINDOW_MS`), so the 30-second outage outlasts the window: the
//! relay must not lean on it. To make sure, the service is finally restarted with its relay's
//! checkpoint set back by thousands of events the stream already holds, once the window has
//! passed; the relay must find them on the stream and send none again.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::proof::{
    assert_each_event_once, assert_equals_rebuild, assert_read_models_applied,
};
use samplan_tests::writers::{register_world, stored_plans, Writers, STAFF, UNIT};
use samplan_tests::{free_port, http_client, serve_command, PrivateNats, Samplan, TempDir};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WRITERS: usize = 2;
/// How long NATS stays away.
const OUTAGE: Duration = Duration::from_secs(30);
/// How long the stream drops a repeated message id.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(5);
/// How far the relay's checkpoint is set back before the last restart.
const REWIND_EVENTS: i64 = 2_000;

#[tokio::test(flavor = "multi_thread")]
async fn commands_go_on_while_nats_is_away_and_nothing_is_lost_or_doubled() {
    let dir = TempDir::new("nats-outage");
    let mut nats = PrivateNats::start(dir.path()).await;
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("random secret");
    let port = free_port();
    let stream = "SAMPLAN_EVENTS_OUTAGE";
    let nats_url = nats.url();
    let command = || {
        let mut cmd = serve_command(
            &db.app_url,
            &db.admin_url,
            &nats_url,
            &secret,
            port,
            &dir.path().join("samplan"),
        );
        cmd.env("SAMPLAN_NATS_STREAM", stream)
            .env(
                "SAMPLAN_NATS_DUPLICATE_WINDOW_MS",
                DUPLICATE_WINDOW.as_millis().to_string(),
            )
            .arg("serve");
        cmd
    };
    let server = Samplan::spawn(command(), port, dir.path().join("samplan.log")).await;
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

    // Writers start plans (each under its own key, retried until acknowledged), and others
    // start plans and record consent on them, for the whole test.
    let plan_writers = Writers::start(WRITERS, &api, &staff, &person);
    let started: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let during_outage = Arc::new(AtomicBool::new(false));
    let refused: Arc<Mutex<Vec<String>>> = Arc::default();
    let done_in_outage = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, api, staff, person) =
            (client.clone(), api.clone(), staff.clone(), person.clone());
        let (stop, during_outage, refused, done_in_outage, started) = (
            stop.clone(),
            during_outage.clone(),
            refused.clone(),
            done_in_outage.clone(),
            started.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("c{w}-{i}");
                i += 1;
                let answer = client
                    .post(format!("{api}/sips"))
                    .bearer_auth(&staff)
                    .header("Idempotency-Key", &key)
                    .json(&json!({"person_id": person, "identified_by": "staff",
                                  "reason": "Behöver samordning.", "context": {"kind": "outpatient"}}))
                    .send()
                    .await;
                let sip = match answer {
                    Ok(r) if r.status() == 201 => r.json::<serde_json::Value>().await.ok(),
                    Ok(r) => {
                        refused.lock().expect("lock").push(format!("POST /sips: {}", r.status()));
                        None
                    }
                    Err(e) => {
                        refused.lock().expect("lock").push(format!("POST /sips: {e}"));
                        None
                    }
                };
                let Some(id) = sip.and_then(|s| s["id"].as_str().map(str::to_owned)) else {
                    continue;
                };
                started.lock().expect("lock").insert(key, id.clone());
                let consent = client
                    .post(format!("{api}/sips/{id}/record-consent"))
                    .bearer_auth(&staff)
                    .json(&json!({"given_by": {"kind": "person"}, "actors": ["vc-centrum"],
                                  "topics": ["Boende"], "valid_until": "2099-01-01"}))
                    .send()
                    .await;
                match consent {
                    Ok(r) if r.status() == 200 => {
                        if during_outage.load(Ordering::Relaxed) {
                            done_in_outage.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(r) => refused
                        .lock()
                        .expect("lock")
                        .push(format!("record-consent: {}", r.status())),
                    Err(e) => refused
                        .lock()
                        .expect("lock")
                        .push(format!("record-consent: {e}")),
                }
            }
        }));
    }

    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    assert!(
        plan_writers.wait_for(20, Duration::from_secs(60)).await,
        "the load did not start"
    );
    nats.stop();
    during_outage.store(true, Ordering::Relaxed);
    let stopped_at = Instant::now();
    let (before, relayed_before) = (
        plan_writers.acknowledged(),
        projections::runner::checkpoint(store.pool(), projections::relay::RELAY)
            .await
            .expect("checkpoint"),
    );
    // Commands go on while NATS is away.
    assert!(
        plan_writers.wait_for(before + 20 * WRITERS, OUTAGE).await,
        "commands did not go on while NATS was away: {} acknowledged, {before} before",
        plan_writers.acknowledged()
    );
    tokio::time::sleep(OUTAGE.saturating_sub(stopped_at.elapsed())).await;
    during_outage.store(false, Ordering::Relaxed);
    let in_outage = plan_writers.acknowledged() - before;
    nats.start_again().await;
    // And after it is back.
    let back = plan_writers.acknowledged();
    assert!(
        plan_writers
            .wait_for(back + 10 * WRITERS, Duration::from_secs(60))
            .await,
        "commands did not go on after NATS came back"
    );
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let mut written = plan_writers.stop().await;
    written.report("nats outage");
    eprintln!("nats outage: {in_outage} plans acknowledged while NATS was away");
    let refused = refused.lock().expect("lock").clone();
    assert!(
        refused.is_empty(),
        "commands were refused: {:?}\n{}",
        &refused[..refused.len().min(10)],
        server.log_text()
    );
    let failed: Vec<_> = written
        .answers()
        .filter(|a| a.status != Some(201))
        .collect();
    assert!(failed.is_empty(), "commands failed: {failed:?}");
    assert!(
        done_in_outage.load(Ordering::Relaxed) > 0,
        "no consent recorded while NATS was away"
    );

    // Every acknowledged command stored exactly once: the writers' and the consent loops'.
    let consent_plans = started.lock().expect("lock").clone();
    assert!(
        !consent_plans.is_empty(),
        "the consent loops started no plan"
    );
    written.acknowledged.extend(consent_plans);
    written.assert_stored_exactly_once(&stored_plans(&db.admin_url).await);

    // The relay catches up: every event on JetStream once, under its own id.
    let head = store.head_position().await.expect("head");
    assert!(
        head > relayed_before,
        "nothing was left to publish after the outage"
    );
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 60_000)
        .await
        .unwrap_or_else(|e| panic!("the relay did not catch up: {e}\n{}", server.log_text()));
    let events = store.read_all(0, 1_000_000).await.expect("events");
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("nats"));
    let mut js_stream = js.get_stream(stream).await.expect("stream");
    let info = js_stream.info().await.expect("info").clone();
    assert_eq!(info.config.duplicate_window, DUPLICATE_WINDOW);
    assert_each_event_once(&mut js_stream, &events, &server.log_text()).await;

    // Every read model equals a fresh rebuild.
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    assert_read_models_applied(&store, head).await;
    for name in projections::PROJECTIONS {
        assert_equals_rebuild(&store, &db.admin_url, name, &settings).await;
    }

    // The relay starts again from a checkpoint thousands of events back, after the duplicate
    // window: what the stream holds already it does not send again.
    drop(server);
    let rewound = head - REWIND_EVENTS;
    assert!(rewound > 0, "too few events to set the relay back: {head}");
    let moved = samplan_tests::pg_connect(&db.admin_url)
        .await
        .execute(
            "UPDATE projections.checkpoints SET position = $2 WHERE projection = $1",
            &[&projections::relay::RELAY, &rewound],
        )
        .await
        .expect("set the relay back");
    assert_eq!(moved, 1);
    // The point of this pause: the window must have passed for the stream's own deduplication
    // to be no help.
    tokio::time::sleep(DUPLICATE_WINDOW + Duration::from_secs(1)).await;
    let server = Samplan::spawn(command(), port, dir.path().join("samplan-again.log")).await;
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 60_000)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the relay did not catch up again: {e}\n{}",
                server.log_text()
            )
        });
    let again = js_stream.info().await.expect("info").clone();
    assert_eq!(
        (again.state.messages, again.state.last_sequence),
        (info.state.messages, info.state.last_sequence),
        "the relay sent events again that the stream held"
    );
    drop(server);
    // Which the stream itself would have taken: the window is over for those ids.
    let subject = again.config.subjects[0].replace('>', "test");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        events.last().expect("events").event_id.to_string().as_str(),
    );
    let ack = js
        .publish_with_headers(subject, headers, "{}".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    assert!(
        !ack.duplicate,
        "the stream still drops a repeated id: the test proved nothing"
    );
}
