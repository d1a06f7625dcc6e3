//! The directory projection against a real PostgreSQL: events are applied exactly once and in
//! order, the checkpoint survives a restart, a rebuild from scratch equals the live tables, and
//! the queries find what "Sök patient" should find.

mod support;

use std::time::Duration;
use support::*;

use chrono::NaiveDate;
use domain::ids::{PersonId, StaffId};
use domain::inbox::InboxEvent;
use domain::person::{PersonEvent, RelativeKind};
use domain::personnummer::PersonalIdentityNumber;
use eventstore::EventStore;
use projections::directory::{self, Directory, PersonQuery};
use projections::runner;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

const WAIT_MS: u64 = 10_000;

fn pin(s: &str) -> PersonalIdentityNumber {
    PersonalIdentityNumber::parse(s, NaiveDate::from_ymd_opt(2026, 3, 2).expect("date"))
        .expect("valid test personnummer")
}

async fn register_person(store: &EventStore, id: PersonId, number: &str, name: &str) -> i64 {
    let ev = PersonEvent::PersonRegistered {
        person_id: id,
        personal_identity_number: pin(number),
        name: name.into(),
        phone: Some("070-123 45 67".into()),
        address: Some("Storgatan 1, 972 31 Luleå".into()),
        recorded_by: staff("vc-test"),
        recorded_at: at(0),
    };
    append(store, "vc-test", &id.stream_id(), vec![ev.encode()]).await
}

async fn person_event(store: &EventStore, id: PersonId, ev: PersonEvent) -> i64 {
    append(store, "vc-test", &id.stream_id(), vec![ev.encode()]).await
}

fn relative(id: &str, kind: RelativeKind, name: &str) -> PersonEvent {
    PersonEvent::RelativeAdded {
        relative_id: id.into(),
        kind,
        name: name.into(),
        phone: Some("070-000 00 00".into()),
        address: None,
        note: None,
        personal_identity_number: None,
        recorded_by: staff("vc-test"),
        recorded_at: at(1),
    }
}

fn spawn(
    store: &EventStore,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<(), projections::ProjectionError>>,
) {
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(runner::run(store.clone(), Directory, cancel.clone()));
    (cancel, handle)
}

async fn caught_up(store: &EventStore) -> i64 {
    let head = store.head_position().await.expect("head");
    let at = runner::wait_for(store.pool(), directory::PROJECTION, head, WAIT_MS)
        .await
        .expect("checkpoint");
    assert_eq!(at, head, "the directory did not catch up with the store");
    at
}

async fn stop(
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<Result<(), projections::ProjectionError>>,
) {
    cancel.cancel();
    handle
        .await
        .expect("projection task")
        .expect("the projection stopped with an error");
}

/// Every row of the directory as text, in a fixed order: what "the same tables" means.
async fn dump(store: &EventStore) -> Vec<String> {
    let client = store.pool().get().await.expect("client");
    let mut out = Vec::new();
    for sql in [
        "SELECT row_to_json(p)::text FROM directory.persons p ORDER BY person_id",
        "SELECT row_to_json(r)::text FROM directory.relatives r ORDER BY person_id, relative_id",
        "SELECT row_to_json(u)::text FROM directory.units u ORDER BY unit_id",
    ] {
        for row in client.query(sql, &[]).await.expect("dump") {
            out.push(row.get(0));
        }
    }
    out
}

#[tokio::test]
async fn applies_person_and_unit_events_in_order() {
    let s = setup().await;
    let (cancel, handle) = spawn(&s.store);

    register_unit(&s.store, "vc-test", "Vårdcentralen Test").await;
    let anna = PersonId::from_ulid(Ulid::generate());
    register_person(&s.store, anna, "19121212-1212", "Anna Andersson").await;
    person_event(
        &s.store,
        anna,
        relative("r1", RelativeKind::Guardian, "Bo Andersson"),
    )
    .await;
    person_event(
        &s.store,
        anna,
        relative("r2", RelativeKind::Trustee, "Cecilia Gode"),
    )
    .await;
    person_event(
        &s.store,
        anna,
        PersonEvent::RelativeRemoved {
            relative_id: "r1".into(),
            recorded_by: staff("vc-test"),
            recorded_at: at(2),
        },
    )
    .await;
    person_event(
        &s.store,
        anna,
        PersonEvent::ContactDetailsChanged {
            phone: Some("0920-11 11 11".into()),
            address: None,
            recorded_by: staff("vc-test"),
            recorded_at: at(3),
        },
    )
    .await;
    person_event(
        &s.store,
        anna,
        PersonEvent::ProtectedIdentityMarked {
            recorded_by: staff("vc-test"),
            recorded_at: at(4),
        },
    )
    .await;
    let died_on = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
    person_event(
        &s.store,
        anna,
        PersonEvent::DeathRegistered {
            died_on,
            recorded_by: staff("vc-test"),
            recorded_at: at(5),
        },
    )
    .await;
    // Events of other streams move the checkpoint but touch no row.
    let inbox = InboxEvent::MessageRead {
        message_id: "m1".into(),
        user: StaffId::parse("SE2321000016-A1B2").expect("staff id"),
        read_at: at(6),
    };
    let last = append(&s.store, "vc-test", "inbox-vc-test", vec![inbox.encode()]).await;

    assert_eq!(caught_up(&s.store).await, last);
    let row = directory::person(s.store.pool(), "vc-viewer", &anna.to_string())
        .await
        .expect("query")
        .expect("the person is in the directory");
    assert_eq!(row.personal_identity_number, "191212121212");
    assert_eq!(row.name, "Anna Andersson");
    assert_eq!(row.phone.as_deref(), Some("0920-11 11 11"));
    assert_eq!(row.address, None, "the change cleared the address");
    assert!(row.protected_identity);
    assert_eq!(row.deceased_on, Some(died_on));
    assert_eq!(row.version, 7, "every person event applied once");
    let relatives = directory::relatives(s.store.pool(), "vc-viewer", &anna.to_string())
        .await
        .expect("relatives");
    assert_eq!(relatives.len(), 1);
    assert_eq!(relatives[0].relative_id, "r2");
    assert_eq!(relatives[0].kind, "trustee");
    let units = directory::units(s.store.pool()).await.expect("units");
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].unit_id, "vc-test");
    assert_eq!(units[0].principal_kind, "region");

    stop(cancel, handle).await;
}

#[tokio::test]
async fn checkpoint_survives_restart_and_nothing_is_applied_twice() {
    let s = setup().await;
    let bo = PersonId::from_ulid(Ulid::generate());
    register_person(&s.store, bo, "20100101-0006", "Bo Barn").await;
    person_event(
        &s.store,
        bo,
        relative("g1", RelativeKind::Guardian, "Gun Förälder"),
    )
    .await;

    let (cancel, handle) = spawn(&s.store);
    let first = caught_up(&s.store).await;
    stop(cancel, handle).await;
    assert_eq!(
        runner::checkpoint(s.store.pool(), directory::PROJECTION)
            .await
            .expect("checkpoint"),
        first
    );

    // Written while no projection runs: picked up after the restart, from the checkpoint.
    person_event(
        &s.store,
        bo,
        relative("g2", RelativeKind::Guardian, "Gustav Förälder"),
    )
    .await;

    // Two runners at once (a standby started by mistake): the checkpoint lock keeps every event
    // to one application; a second application would fail the version check and stop a runner.
    let (cancel_a, handle_a) = spawn(&s.store);
    let (cancel_b, handle_b) = spawn(&s.store);
    for i in 0..20 {
        person_event(
            &s.store,
            bo,
            PersonEvent::ContactDetailsChanged {
                phone: Some(format!("070-{i:03}")),
                address: None,
                recorded_by: staff("vc-test"),
                recorded_at: at(10),
            },
        )
        .await;
    }
    caught_up(&s.store).await;
    stop(cancel_a, handle_a).await;
    stop(cancel_b, handle_b).await;

    let row = directory::person(s.store.pool(), "vc-viewer", &bo.to_string())
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.version, 23);
    assert_eq!(
        row.phone.as_deref(),
        Some("070-019"),
        "the last change wins: order kept"
    );
    let guardians = directory::relatives(s.store.pool(), "vc-viewer", &bo.to_string())
        .await
        .expect("relatives");
    assert_eq!(guardians.len(), 2);
}

#[tokio::test]
async fn redelivered_events_are_skipped_and_gaps_refused() {
    let s = setup().await;
    let id = PersonId::from_ulid(Ulid::generate());
    register_person(&s.store, id, "19121212-1212", "Cilla Citron").await;
    person_event(
        &s.store,
        id,
        PersonEvent::ProtectedIdentityMarked {
            recorded_by: staff("vc-test"),
            recorded_at: at(1),
        },
    )
    .await;
    let events = s.store.read_all(0, 100).await.expect("read all");
    assert_eq!(events.len(), 2);

    let cp = runner::apply_batch(s.store.pool(), &Directory, &events)
        .await
        .expect("first delivery");
    assert_eq!(cp, events[1].global_position);
    // The same batch again (a crash after commit, before the runner knew): nothing changes.
    let again = runner::apply_batch(s.store.pool(), &Directory, &events)
        .await
        .expect("redelivery");
    assert_eq!(again, cp);
    let row = directory::person(s.store.pool(), "vc-viewer", &id.to_string())
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.version, 2);

    // An event whose predecessor was never applied is refused, not applied on a wrong row.
    let other = PersonId::from_ulid(Ulid::generate());
    register_person(&s.store, other, "20100101-0006", "Doris Dadel").await;
    person_event(
        &s.store,
        other,
        PersonEvent::ProtectedIdentityMarked {
            recorded_by: staff("vc-test"),
            recorded_at: at(2),
        },
    )
    .await;
    let later = s.store.read_all(cp, 100).await.expect("read all");
    let only_second = vec![later[1].clone()];
    let err = runner::apply_batch(s.store.pool(), &Directory, &only_second)
        .await
        .expect_err("gap");
    assert!(
        matches!(err, projections::ProjectionError::OutOfOrder { .. }),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(
        runner::checkpoint(s.store.pool(), directory::PROJECTION)
            .await
            .expect("checkpoint"),
        cp,
        "nothing committed"
    );
}

#[tokio::test]
async fn a_rebuild_from_scratch_equals_the_live_tables_and_the_runner_goes_on() {
    let s = setup().await;
    let (cancel, handle) = spawn(&s.store);
    // Writers in parallel with the live projection, so it sees events in many small batches
    // while the rebuild will see them in few big ones.
    let mut writers = Vec::new();
    for w in 0..4u32 {
        let store = s.store.clone();
        writers.push(tokio::spawn(async move {
            register_unit(&store, &format!("unit-{w}"), &format!("Enhet {w}")).await;
            for n in 0..5u32 {
                let id = PersonId::from_ulid(Ulid::generate());
                register_person(&store, id, "19121212-1212", &format!("Person {w}-{n}")).await;
                person_event(
                    &store,
                    id,
                    relative("r1", RelativeKind::Relative, "Närstående"),
                )
                .await;
                if n % 2 == 0 {
                    person_event(
                        &store,
                        id,
                        PersonEvent::RelativeRemoved {
                            relative_id: "r1".into(),
                            recorded_by: staff("vc-test"),
                            recorded_at: at(3),
                        },
                    )
                    .await;
                    person_event(
                        &store,
                        id,
                        PersonEvent::MovedOutOfRegion {
                            moved_on: NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
                            to_region: Some("Region Stockholm".into()),
                            recorded_by: staff("vc-test"),
                            recorded_at: at(4),
                        },
                    )
                    .await;
                }
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    let head = caught_up(&s.store).await;
    stop(cancel, handle).await;
    let live = dump(&s.store).await;
    assert_eq!(
        live.iter()
            .filter(|r| r.contains("\"person_id\"") && r.contains("\"registered_at\""))
            .count(),
        20
    );

    let rebuilt = runner::rebuild(&s.store, &s.db.admin_url, &Directory)
        .await
        .expect("rebuild");
    assert_eq!(rebuilt.position, head);
    assert_eq!(
        runner::checkpoint(s.store.pool(), directory::PROJECTION)
            .await
            .expect("checkpoint"),
        head
    );
    assert_eq!(
        dump(&s.store).await,
        live,
        "the rebuilt tables equal the live ones"
    );

    // The live runner goes on from the rebuilt position, on the rebuilt tables.
    let (cancel, handle) = spawn(&s.store);
    register_unit(&s.store, "vc-efter", "Vårdcentralen Efter").await;
    caught_up(&s.store).await;
    stop(cancel, handle).await;
    assert_eq!(dump(&s.store).await.len(), live.len() + 1);
    drop(s.db);
}

#[tokio::test]
async fn search_by_number_and_by_part_of_the_name() {
    let s = setup().await;
    let anna = PersonId::from_ulid(Ulid::generate());
    let annika = PersonId::from_ulid(Ulid::generate());
    register_person(&s.store, anna, "19121212-1212", "Anna Andersson").await;
    register_person(&s.store, annika, "20100101-0006", "Annika Ek").await;
    let sofia = PersonId::from_ulid(Ulid::generate());
    register_person(&s.store, sofia, "19800101-0001", "Sofia Åberg Öst").await;
    let (cancel, handle) = spawn(&s.store);
    caught_up(&s.store).await;
    stop(cancel, handle).await;
    let pool = s.store.pool();

    let by_pin = directory::search_persons(
        pool,
        "vc-viewer",
        &PersonQuery::PersonalIdentityNumber("191212121212".into()),
        50,
    )
    .await
    .expect("search");
    assert_eq!(
        by_pin
            .iter()
            .map(|p| p.person_id.clone())
            .collect::<Vec<_>>(),
        vec![anna.to_string()]
    );

    let by_name =
        directory::search_persons(pool, "vc-viewer", &PersonQuery::Name("ANN".into()), 50)
            .await
            .expect("search");
    assert_eq!(by_name.len(), 2, "case-insensitive substring");
    assert_eq!(by_name[0].name, "Anna Andersson", "ordered by name");

    let limited = directory::search_persons(pool, "vc-viewer", &PersonQuery::Name("ann".into()), 1)
        .await
        .expect("search");
    assert_eq!(limited.len(), 1);

    // LIKE wildcards in the input match literally, they do not list everyone.
    let wildcard = directory::search_persons(pool, "vc-viewer", &PersonQuery::Name("%".into()), 50)
        .await
        .expect("search");
    assert!(wildcard.is_empty());
    let underscore =
        directory::search_persons(pool, "vc-viewer", &PersonQuery::Name("A_na".into()), 50)
            .await
            .expect("search");
    assert!(underscore.is_empty());

    // Words in any order, each somewhere in the name: surname first, as staff often type.
    let names = |q: &str| {
        let q = q.to_owned();
        async move {
            directory::search_persons(pool, "vc-viewer", &PersonQuery::Name(q), 50)
                .await
                .expect("search")
                .into_iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("andersson anna").await, ["Anna Andersson"]);
    // Å, Ä and Ö in either case, whatever the database's locale (the test's is C).
    assert_eq!(names("åberg").await, ["Sofia Åberg Öst"]);
    assert_eq!(names("ÅBERG ÖST").await, ["Sofia Åberg Öst"]);
    assert_eq!(names("Åb").await, ["Sofia Åberg Öst"]);
    assert_eq!(names("  ek   ANNI ").await, ["Annika Ek"]);
    assert!(
        names("andersson annika").await.is_empty(),
        "every word must match"
    );
}

#[tokio::test]
async fn wait_for_gives_up_after_the_limit_and_says_where_it_stands() {
    let s = setup().await;
    let started = std::time::Instant::now();
    let at = runner::wait_for(s.store.pool(), directory::PROJECTION, 1_000, 200)
        .await
        .expect("wait");
    assert_eq!(at, 0);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_millis(2_000));
}

/// The patient read model (Min plan's persons and guardians) applies a person's events written
/// in one append, live and in a rebuild, and keeps the guardian's personnummer.
#[tokio::test]
async fn the_patient_model_applies_a_persons_events_written_in_one_append() {
    let s = setup().await;
    let id = PersonId::from_ulid(Ulid::generate());
    let registered = PersonEvent::PersonRegistered {
        person_id: id,
        personal_identity_number: pin("20140120-2393"),
        name: "Liten Tolvansson".into(),
        phone: None,
        address: None,
        recorded_by: staff("vc-test"),
        recorded_at: at(0),
    };
    let mut guardian = relative("g1", RelativeKind::Guardian, "Vårdnadshavare");
    if let PersonEvent::RelativeAdded {
        personal_identity_number,
        ..
    } = &mut guardian
    {
        *personal_identity_number = Some(pin("19800101-0001"));
    }
    let moved = PersonEvent::ContactDetailsChanged {
        phone: Some("070-111 22 33".into()),
        address: Some("Skolvägen 2".into()),
        recorded_by: staff("vc-test"),
        recorded_at: at(2),
    };
    let head = append(
        &s.store,
        "vc-test",
        &id.stream_id(),
        vec![registered.encode(), guardian.encode(), moved.encode()],
    )
    .await;
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    let cancel = CancellationToken::new();
    let live = tokio::spawn({
        let (store, cancel) = (s.store.clone(), cancel.clone());
        async move {
            runner::run(
                store.clone(),
                projections::patient::Patient::new(store),
                cancel,
            )
            .await
        }
    });
    runner::applied(
        s.store.pool(),
        projections::patient::PROJECTION,
        head,
        WAIT_MS,
    )
    .await
    .expect("the live run applied the append");
    let found = projections::patient::candidates(s.store.pool(), None, Some("198001010001"))
        .await
        .expect("query");
    assert_eq!(found.len(), 1, "the guardian finds the child");
    assert_eq!(found[0].phone.as_deref(), Some("070-111 22 33"));
    assert_eq!(found[0].guardians, vec!["198001010001".to_owned()]);
    cancel.cancel();
    live.await
        .expect("task")
        .expect("the live run stopped cleanly");
    let dumped = runner::dump(s.store.pool(), "patient").await.expect("dump");
    projections::rebuild(&s.store, &s.db.admin_url, "patient", &settings)
        .await
        .expect("rebuild")
        .expect("a read model");
    assert_eq!(
        runner::dump(s.store.pool(), "patient").await.expect("dump"),
        dumped
    );
}
