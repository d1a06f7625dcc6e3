//! NATS stopped for 30 seconds under load (issue 15, fault 3): commands keep succeeding, because
//! nothing on the write path waits for NATS (ADR 0014); when NATS is back the relay publishes
//! what it missed, so every event is on JetStream exactly once, and every read model equals a
//! fresh rebuild from the store.
//!
//! The test runs a nats-server of its own (the shared one must not be stopped) and one
//! `samplan serve` with every role.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::writers::{register_world, STAFF, UNIT};
use samplan_tests::{free_port, serve_command, PrivateNats, Samplan, TempDir};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WRITERS: usize = 2;
/// How long NATS stays away.
const OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn commands_go_on_while_nats_is_away_and_nothing_is_lost_or_doubled() {
    let dir = TempDir::new("nats-outage");
    let mut nats = PrivateNats::start(dir.path()).await;
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("random secret");
    let port = free_port();
    let stream = "SAMPLAN_EVENTS_OUTAGE";
    let mut cmd = serve_command(
        &db.app_url,
        &db.admin_url,
        &nats.url(),
        &secret,
        port,
        &dir.path().join("samplan"),
    );
    cmd.env("SAMPLAN_NATS_STREAM", stream).arg("serve");
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
    let client = reqwest::Client::new();

    // Writers start plans and record consent, for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let during_outage = Arc::new(AtomicBool::new(false));
    let refused: Arc<Mutex<Vec<String>>> = Arc::default();
    let done_in_outage = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (client, api, staff, person) =
            (client.clone(), api.clone(), staff.clone(), person.clone());
        let (stop, during_outage, refused, done_in_outage) = (
            stop.clone(),
            during_outage.clone(),
            refused.clone(),
            done_in_outage.clone(),
        );
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let answer = client
                    .post(format!("{api}/sips"))
                    .bearer_auth(&staff)
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

    tokio::time::sleep(Duration::from_secs(1)).await;
    nats.stop();
    during_outage.store(true, Ordering::Relaxed);
    tokio::time::sleep(OUTAGE).await;
    during_outage.store(false, Ordering::Relaxed);
    nats.start_again().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let refused = refused.lock().expect("lock").clone();
    assert!(
        refused.is_empty(),
        "commands were refused: {:?}\n{}",
        &refused[..refused.len().min(10)],
        server.log_text()
    );
    assert!(
        done_in_outage.load(Ordering::Relaxed) > 0,
        "no command completed while NATS was away"
    );

    // The relay catches up: every event on JetStream once, under its own id.
    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    let head = store.head_position().await.expect("head");
    projections::runner::wait_for(store.pool(), projections::relay::RELAY, head, 60_000)
        .await
        .expect("the relay caught up");
    let events = store.read_all(0, 1_000_000).await.expect("events");
    let ids: BTreeSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("nats"));
    let mut js_stream = js.get_stream(stream).await.expect("stream");
    let info = js_stream.info().await.expect("info").clone();
    assert_eq!(
        info.state.messages as usize,
        events.len(),
        "one message per event"
    );
    let mut published = BTreeSet::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let message = js_stream.get_raw_message(seq).await.expect("message");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .expect("message id");
        assert!(published.insert(id), "an event published twice");
    }
    assert_eq!(published, ids, "JetStream holds exactly the store's events");

    // Every read model equals a fresh rebuild.
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    for name in projections::PROJECTIONS {
        projections::runner::wait_for(store.pool(), name, head, 60_000)
            .await
            .expect("caught up");
        let live = projections::runner::dump(store.pool(), name)
            .await
            .expect("dump");
        projections::rebuild(&store, &db.admin_url, name, &settings)
            .await
            .expect("rebuild")
            .expect("a read model");
        let rebuilt = projections::runner::dump(store.pool(), name)
            .await
            .expect("dump");
        assert_eq!(rebuilt, live, "{name}: live tables differ from a rebuild");
    }
    drop(server);
}
