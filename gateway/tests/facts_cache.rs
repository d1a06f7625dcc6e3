//! The fact cache (persons and units as SIP commands consult them) never lets a command decide
//! on a person older than what this process wrote, and follows what other processes write.

mod sips_support;

use domain::context::{Actor, Context, Role};
use domain::ids::{PersonId, UnitId};
use domain::person::{self, PersonCommand, RegisterDeath};
use eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreConfig};
use gateway::aggregate::{self, PersonAggregate};
use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use sips_support::*;
use std::time::{Duration, Instant};
use ulid::Ulid;

#[tokio::test]
async fn a_death_registered_here_is_seen_by_the_very_next_command() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // The first plan reads the person (and keeps it); the second uses what was kept.
    start_plan(&app, &w).await;
    start_plan(&app, &w).await;

    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{}/register-death", w.person_id),
            &w.vc,
            &json!({"died_on": "2026-03-09"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No waiting: the append itself made the kept person stale.
    let answer = try_start_plan(&app, &w).await;
    problem(answer, StatusCode::CONFLICT, "person_deceased");
}

#[tokio::test]
async fn a_death_registered_by_another_process_reaches_the_cache() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    start_plan(&app, &w).await;
    start_plan(&app, &w).await;

    // Another service process on the same database: its own store, its own pool.
    let other = EventStore::connect(StoreConfig::new(app.db.app_url.clone()))
        .await
        .expect("second store");
    let person_id = PersonId::parse(&w.person_id).expect("person id");
    let stream = person_id.stream_id();
    let loaded = aggregate::fold::<PersonAggregate>(
        &other.read_stream(&stream, 1).await.expect("read person"),
    )
    .expect("fold");
    let ctx = Context {
        actor: Actor {
            id: "SE2321000016-VC01".into(),
            name: "Sköterska".into(),
            unit: Some(UnitId::parse(VC).expect("unit")),
            role: Role::Staff,
        },
        now: app.clock.now(),
    };
    let events = person::decide(
        &loaded.state,
        &PersonCommand::RegisterDeath(RegisterDeath {
            died_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 9).expect("date"),
        }),
        &ctx,
    )
    .expect("decide");
    let new_events = events
        .iter()
        .map(|e| {
            let (event_type, schema_version, data) = e.encode();
            NewEvent {
                event_id: Ulid::generate(),
                event_type: event_type.into(),
                schema_version,
                data,
                metadata: Metadata {
                    actor: "SE2321000016-VC01".into(),
                    unit: Some(VC.into()),
                    role: "staff".into(),
                    command_id: None,
                    correlation_id: None,
                    causation_id: None,
                },
            }
        })
        .collect();
    other
        .append(
            &stream,
            ExpectedVersion::Exact(loaded.version),
            new_events,
            None,
        )
        .await
        .expect("the other process appends");

    // The tail brings it within moments; until then the old person may still be used (the
    // same window as between reading facts and appending).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = try_start_plan(&app, &w).await;
        if status == StatusCode::CONFLICT {
            assert_eq!(body["code"], "person_deceased", "{body}");
            break;
        }
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(
            Instant::now() < deadline,
            "the cache never learnt of the other process's event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
