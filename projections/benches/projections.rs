//! Relay throughput and rebuild speed, each beside a baseline measured in the same run.
//!
//! `cargo bench -p projections` fills a fresh database with plans as a region's would look
//! (`SAMPLAN_BENCH_EVENTS`, default 1,000,000 events: ten per plan — need, consent, basis,
//! mappings, invitation, representative, meeting, goal, publishing — and two per person), written
//! through the store's own append. Then:
//!
//! - **rebuild**: `runner::rebuild` of each read model from the whole store, against a raw
//!   sequential read of the events table (`COPY (SELECT … ORDER BY global_position) TO STDOUT`).
//!   Target: at least 0.3 of the raw read's events per second.
//! - **relay**: the relay publishing the last `SAMPLAN_BENCH_RELAY_EVENTS` (default 200,000)
//!   events to a JetStream stream of its own, from its checkpoint to the head, against a plain
//!   pipelined publish of the same envelopes (the same number of acknowledgements in flight) to
//!   another stream. Target: at least 0.5.
//!
//! NATS is `SAMPLAN_TEST_NATS_URL` (default the local server); streams are in memory and deleted
//! afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use domain::context::StaffRef;
use domain::heading::Heading;
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::person::{PersonEvent, RelativeKind};
use domain::personnummer::PersonalIdentityNumber;
use domain::sip::*;
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreConfig};
use futures::StreamExt;
use projections::relay::{self, Envelope, RelayConfig, RELAY};
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WRITERS: usize = 16;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

fn staff(unit: &str) -> StaffRef {
    StaffRef {
        staff_id: StaffId::parse("SE2321000016-B001").expect("staff"),
        name: "Bänk Personal".into(),
        unit_id: UnitId::parse(unit).expect("unit"),
    }
}

fn metadata() -> Metadata {
    Metadata {
        actor: "SE2321000016-B001".into(),
        unit: Some("vc-bench".into()),
        role: "staff".into(),
        command_id: None,
        correlation_id: None,
        causation_id: None,
    }
}

fn new_event(encoded: (&'static str, i32, serde_json::Value)) -> NewEvent {
    NewEvent {
        event_id: Ulid::generate(),
        event_type: encoded.0.into(),
        schema_version: encoded.1,
        data: encoded.2,
        metadata: metadata(),
    }
}

/// A personnummer born 1940–1999 with a valid check digit, distinct per `n`.
fn personnummer(n: u64) -> PersonalIdentityNumber {
    let year = 1940 + (n / 900) % 60;
    let day = 1 + (n / 9) % 28;
    let serial = 100 + n % 900;
    let ten = format!("{:02}01{day:02}{serial:03}", year % 100);
    let sum: u32 = ten
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            let p = if i % 2 == 0 { d * 2 } else { d };
            p / 10 + p % 10
        })
        .sum();
    let text = format!("{year}01{day:02}-{serial:03}{}", (10 - sum % 10) % 10);
    PersonalIdentityNumber::parse(&text, NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"))
        .expect("a valid personnummer")
}

/// The ten events of one plan, as the domain writes them.
fn plan_events(sip: SipId, person: PersonId) -> Vec<NewEvent> {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("time");
    let vc = staff("vc-bench");
    let ht = staff("ht-bench");
    let ids = |s: &str| UnitId::parse(s).expect("unit");
    let events = vec![
        SipEvent::NeedIdentified {
            sip_id: sip,
            person_id: person,
            identified_by: IdentifiedBy::Staff,
            reason: "Behov av samordning mellan vård och omsorg.".into(),
            known_since: at,
            context: NeedContext {
                kind: CareContextKind::Outpatient,
                track: None,
                discharge_ready_at: None,
            },
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::ConsentGiven {
            given_by: ConsentGiver::Person,
            actors: vec![ids("vc-bench"), ids("ht-bench")],
            topics: vec!["Boende".into()],
            valid_until: NaiveDate::from_ymd_opt(2027, 1, 5).expect("date"),
            guardians_required: vec![],
            relatives: None,
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::PlanBasisCreated {
            coordinator: vc.clone(),
            initiated_by: Some("Vårdcentralen".into()),
            fixed_care_contacts: vec![],
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::MappingDocumented {
            mapping_id: "m1".into(),
            heading: Heading::PhysicalHealth,
            text: "Går med rollator inomhus, behöver hjälp i trappor.".into(),
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::MappingDocumented {
            mapping_id: "m2".into(),
            heading: Heading::MentalHealth,
            text: "Oro på kvällarna; sover dåligt.".into(),
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::InvitationSent {
            invitation_id: "k1".into(),
            purpose: InvitationPurpose::Meeting,
            scheduled_at: at,
            form: MeetingForm::InPerson,
            place: Some("Vårdcentralen, rum 4".into()),
            reason: "SIP-möte".into(),
            recipients: vec![InvitationRecipient {
                recipient: Recipient::Unit {
                    unit_id: ids("ht-bench"),
                },
                delivery: Delivery::Digital,
                name: "Hemtjänst Bänk".into(),
                address: None,
            }],
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::RepresentativeAppointed {
            invitation_id: "k1".into(),
            unit_id: ids("ht-bench"),
            representative: Representative {
                name: "Hugo Hemtjänst".into(),
                staff_id: None,
                profession: Some("Undersköterska".into()),
                phone: None,
            },
            recorded_by: ht.clone(),
            recorded_at: at,
        },
        SipEvent::MeetingHeld {
            invitation_id: "k1".into(),
            held_at: at,
            attendees: vec![Attendee {
                name: "Hugo Hemtjänst".into(),
                role: AttendeeRole::Staff,
                unit_id: Some(ids("ht-bench")),
            }],
            chair: "Vera".into(),
            secretary: "Hugo".into(),
            coordinator: vc.clone(),
            follow_up_on: NaiveDate::from_ymd_opt(2026, 4, 5).expect("date"),
            sip_survey_offered: None,
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::MainGoalDocumented {
            text: "Jag vill bo kvar hemma.".into(),
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::ContributionPublished {
            unit_id: ids("vc-bench"),
            main_goal: true,
            sub_goal_ids: vec![],
            intervention_ids: vec![],
            recorded_by: vc,
            recorded_at: at,
        },
    ];
    events.iter().map(|e| new_event(e.encode())).collect()
}

fn person_events(person: PersonId, n: u64) -> Vec<NewEvent> {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 2, 9, 0, 0)
        .single()
        .expect("time");
    let events = [
        PersonEvent::PersonRegistered {
            person_id: person,
            personal_identity_number: personnummer(n),
            name: format!("Bänk Person {n}"),
            phone: Some("070-123 45 67".into()),
            address: Some("Storgatan 1, 972 31 Luleå".into()),
            recorded_by: staff("vc-bench"),
            recorded_at: at,
        },
        PersonEvent::RelativeAdded {
            relative_id: "r1".into(),
            kind: RelativeKind::Relative,
            name: "Anhörig".into(),
            phone: None,
            address: None,
            note: None,
            personal_identity_number: None,
            recorded_by: staff("vc-bench"),
            recorded_at: at,
        },
    ];
    events.iter().map(|e| new_event(e.encode())).collect()
}

/// Writes `events` worth of persons and plans through the store's own append, from parallel
/// writers (group commit shares their transactions).
async fn fill(store: &EventStore, events: u64) {
    let plans = events * 9 / 100;
    let persons = (events - plans * 10) / 2;
    let person_ids: Arc<Vec<PersonId>> = Arc::new(
        (0..persons)
            .map(|_| PersonId::from_ulid(Ulid::generate()))
            .collect(),
    );
    let mut tasks = Vec::new();
    for w in 0..WRITERS as u64 {
        let (store, person_ids) = (store.clone(), person_ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < persons {
                let id = person_ids[i as usize];
                store
                    .append(
                        &id.stream_id(),
                        ExpectedVersion::NoStream,
                        person_events(id, i),
                        None,
                    )
                    .await
                    .expect("person");
                i += WRITERS as u64;
            }
            let mut i = w;
            while i < plans {
                let sip = SipId::from_ulid(Ulid::generate());
                let person = person_ids[(i % persons.max(1)) as usize];
                store
                    .append(
                        &sip.stream_id(),
                        ExpectedVersion::NoStream,
                        plan_events(sip, person),
                        None,
                    )
                    .await
                    .expect("plan");
                i += WRITERS as u64;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// Events per second of a raw sequential read of the whole table (best of three).
async fn raw_read(admin_url: &str) -> f64 {
    let client = connect(admin_url).await;
    let mut best = 0.0_f64;
    for _ in 0..3 {
        let started = Instant::now();
        let stream = client
            .copy_out("COPY (SELECT * FROM events ORDER BY global_position) TO STDOUT")
            .await
            .expect("copy");
        futures::pin_mut!(stream);
        let mut rows = 0_u64;
        while let Some(chunk) = stream.next().await {
            rows += chunk
                .expect("chunk")
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
        }
        best = best.max(rows as f64 / started.elapsed().as_secs_f64());
    }
    best
}

async fn bench() {
    let events = knob("SAMPLAN_BENCH_EVENTS", 1_000_000);
    let relay_events = knob("SAMPLAN_BENCH_RELAY_EVENTS", 200_000).min(events);
    let nats_url =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let db = TestDatabase::create().await.expect("database");
    eventstore::migrate(
        &db.admin_url,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await
    .expect("migrations");
    let mut config = StoreConfig::new(db.app_url.clone());
    config.pool_size_max = WRITERS + 4;
    let store = EventStore::connect(config).await.expect("store");
    println!("projections benchmark (database {})", db.name);

    let started = Instant::now();
    fill(&store, events).await;
    connect(&db.admin_url)
        .await
        .batch_execute("VACUUM (ANALYZE) events")
        .await
        .expect("vacuum");
    let head = store.head_position().await.expect("head");
    println!(
        "filled {head} events in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Rebuild vs a raw sequential read.
    let raw = raw_read(&db.admin_url).await;
    println!("| rebuild of | events | seconds | events/s | raw read events/s | ratio | target |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    for name in projections::PROJECTIONS {
        let started = Instant::now();
        let rebuilt = projections::rebuild(&store, &db.admin_url, name, &settings)
            .await
            .expect("rebuild")
            .expect("a read model");
        let secs = started.elapsed().as_secs_f64();
        let rate = rebuilt.events_read as f64 / secs;
        println!(
            "| {name} | {} | {secs:.1} | {rate:.0} | {raw:.0} | {:.2} | ≥ 0.3 |",
            rebuilt.events_read,
            rate / raw
        );
    }

    // The relay from `head - relay_events` vs a plain pipelined publish.
    let id = Ulid::generate().to_string().to_lowercase();
    let mut relay_config = RelayConfig::new(&nats_url);
    relay_config.stream = format!("BENCH_RELAY_{id}");
    relay_config.subject_prefix = format!("bench-relay.{id}");
    relay_config.memory_storage = true;
    let from = head - relay_events as i64;
    let client = store.pool().get().await.expect("client");
    client
        .execute(
            "INSERT INTO projections.checkpoints (projection, position) VALUES ($1, $2)
             ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
            &[&RELAY, &from],
        )
        .await
        .expect("relay checkpoint");
    let js = relay::connect(&nats_url).await.expect("nats");
    relay::ensure_stream(&js, &relay_config)
        .await
        .expect("stream");
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let run = tokio::spawn(relay::run(
        store.clone(),
        relay_config.clone(),
        cancel.clone(),
    ));
    let at = projections::runner::wait_for(store.pool(), RELAY, head, 600_000)
        .await
        .expect("relay checkpoint");
    let relay_secs = started.elapsed().as_secs_f64();
    assert_eq!(at, head, "the relay reached the head");
    cancel.cancel();
    run.await.expect("task").expect("relay");
    let relay_rate = relay_events as f64 / relay_secs;

    let mut plain_config = relay_config.clone();
    plain_config.stream = format!("BENCH_PLAIN_{id}");
    plain_config.subject_prefix = format!("bench-plain.{id}");
    relay::ensure_stream(&js, &plain_config)
        .await
        .expect("stream");
    let mut payloads = Vec::with_capacity(relay_events as usize);
    let mut after = from;
    while after < head {
        let batch = store.read_all(after, 5_000).await.expect("read");
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        for e in &batch {
            payloads.push((
                plain_config.subject(e),
                e.event_id.to_string(),
                bytes::Bytes::from(serde_json::to_vec(&Envelope::of(e)).expect("json")),
            ));
        }
    }
    let started = Instant::now();
    let mut in_flight = futures::stream::FuturesOrdered::new();
    for (subject, id, payload) in payloads {
        if in_flight.len() >= relay_config.acks_in_flight_max {
            let ack: Result<_, _> = in_flight.next().await.expect("an ack");
            ack.expect("acknowledged");
        }
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(payload)
            .message_id(id);
        let ack = js.send_publish(subject, message).await.expect("publish");
        in_flight.push_back(std::future::IntoFuture::into_future(ack));
    }
    while let Some(ack) = in_flight.next().await {
        ack.expect("acknowledged");
    }
    let plain_rate = relay_events as f64 / started.elapsed().as_secs_f64();
    println!();
    println!("| relay of {relay_events} events | events/s | plain pipelined publish events/s | ratio | target |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| store → JetStream, checkpointed | {relay_rate:.0} | {plain_rate:.0} | {:.2} | ≥ 0.5 |",
        relay_rate / plain_rate
    );
    let _ = js.delete_stream(&relay_config.stream).await;
    let _ = js.delete_stream(&plain_config.stream).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}
