//! Redelivery to the inbox against a real PostgreSQL (issue 15, "redelivery after a restart
//! duplicates nothing"): a batch delivered again — whole, overlapping a later one, or after its
//! first transaction was killed between applying and committing — leaves the tables as one
//! delivery does, its messages, reads and the unread counters (`message_counts`, `read_counts`,
//! which add up inserted rows) included, and equal to a rebuild from scratch.

mod support;

use std::time::{Duration, Instant};
use support::*;

use chrono::NaiveDate;
use domain::heading::Heading;
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::inbox::InboxEvent;
use domain::person::PersonEvent;
use domain::personnummer::PersonalIdentityNumber;
use domain::policy::{PolicyName, PolicyProfile};
use domain::sip::*;
use eventstore::{EventStore, RecordedEvent, StoreConfig};
use projections::inbox::{self, Inbox};
use projections::runner;
use ulid::Ulid;

const VC: &str = "vc-redelivery";
const HT: &str = "ht-redelivery";
const READER: &str = "SE2321000016-R001";

fn inbox() -> Inbox {
    Inbox::new(PolicyProfile::get(PolicyName::Stockholm))
}

/// Two units with an inbox, a person, and a plan of the first unit's with consent and a plan
/// basis: to-dos and ongoing rows for the first unit.
async fn a_plan(store: &EventStore) -> SipId {
    for unit in [VC, HT] {
        register_unit(store, unit, &format!("Enheten {unit}")).await;
    }
    let person = PersonId::from_ulid(Ulid::generate());
    let number = PersonalIdentityNumber::parse(
        "19121212-1212",
        NaiveDate::from_ymd_opt(2026, 3, 2).expect("date"),
    )
    .expect("personnummer");
    let registered = PersonEvent::PersonRegistered {
        person_id: person,
        personal_identity_number: number,
        name: "Tolvan Tolvansson".into(),
        phone: None,
        address: None,
        recorded_by: staff(VC),
        recorded_at: at(0),
    };
    append(store, VC, &person.stream_id(), vec![registered.encode()]).await;
    let sip = SipId::from_ulid(Ulid::generate());
    let events = [
        SipEvent::NeedIdentified {
            sip_id: sip,
            person_id: person,
            identified_by: IdentifiedBy::Staff,
            reason: "Behov av samordning.".into(),
            known_since: at(1),
            context: NeedContext {
                kind: CareContextKind::Outpatient,
                track: None,
                discharge_ready_at: None,
            },
            recorded_by: staff(VC),
            recorded_at: at(1),
        },
        SipEvent::ConsentGiven {
            given_by: ConsentGiver::Person,
            actors: vec![
                UnitId::parse(VC).expect("unit"),
                UnitId::parse(HT).expect("unit"),
            ],
            topics: vec!["Boende".into()],
            valid_until: NaiveDate::from_ymd_opt(2027, 3, 2).expect("date"),
            guardians_required: vec![],
            relatives: None,
            recorded_by: staff(VC),
            recorded_at: at(2),
        },
        SipEvent::PlanBasisCreated {
            coordinator: staff(VC),
            initiated_by: Some("Vårdcentralen".into()),
            fixed_care_contacts: vec![],
            recorded_by: staff(VC),
            recorded_at: at(3),
        },
    ];
    for e in events {
        append(store, VC, &sip.stream_id(), vec![e.encode()]).await;
    }
    sip
}

/// Invitations `numbers` of the second unit to the plan (a message each, and to-dos), and a
/// mapping after the last.
async fn invitations(store: &EventStore, sip: SipId, numbers: &[u32]) {
    for &n in numbers {
        let minute = 10 * n;
        let invited = SipEvent::InvitationSent {
            invitation_id: format!("k{n}"),
            purpose: InvitationPurpose::Meeting,
            scheduled_at: at(minute + 30),
            form: MeetingForm::InPerson,
            place: Some("Vårdcentralen, rum 4".into()),
            reason: "SIP-möte".into(),
            recipients: vec![InvitationRecipient {
                recipient: Recipient::Unit {
                    unit_id: UnitId::parse(HT).expect("unit"),
                },
                delivery: Delivery::Digital,
                name: "Hemtjänsten".into(),
                address: None,
            }],
            recorded_by: staff(VC),
            recorded_at: at(minute),
        };
        append(store, VC, &sip.stream_id(), vec![invited.encode()]).await;
    }
    let mapped = SipEvent::MappingDocumented {
        mapping_id: format!("m{}", numbers.last().copied().unwrap_or(0)),
        heading: Heading::PhysicalHealth,
        text: "Går med rollator inomhus.".into(),
        recorded_by: staff(VC),
        recorded_at: at(45),
    };
    append(store, VC, &sip.stream_id(), vec![mapped.encode()]).await;
}

/// The second unit's messages, by id.
async fn messages(store: &EventStore) -> Vec<String> {
    let client = store.pool().get().await.expect("client");
    client
        .query(
            "SELECT message_id FROM inbox.messages WHERE unit_id = $1 ORDER BY position",
            &[&HT],
        )
        .await
        .expect("messages")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A user of the second unit reads every message given.
async fn read(store: &EventStore, message_ids: &[String]) {
    let unit = UnitId::parse(HT).expect("unit");
    for id in message_ids {
        let ev = InboxEvent::MessageRead {
            message_id: id.clone(),
            user: StaffId::parse(READER).expect("staff id"),
            read_at: at(50),
        };
        append(store, VC, &unit.inbox_stream_id(), vec![ev.encode()]).await;
    }
}

/// The unread counters of the second unit: (messages, reads by [`READER`]).
async fn counters(store: &EventStore) -> (i64, i64) {
    let client = store.pool().get().await.expect("client");
    let messages = client
        .query_opt(
            "SELECT messages FROM inbox.message_counts WHERE unit_id = $1",
            &[&HT],
        )
        .await
        .expect("message_counts")
        .map_or(0, |r| r.get(0));
    let reads = client
        .query_opt(
            "SELECT reads FROM inbox.read_counts WHERE unit_id = $1 AND user_id = $2",
            &[&HT, &READER],
        )
        .await
        .expect("read_counts")
        .map_or(0, |r| r.get(0));
    (messages, reads)
}

async fn all_events(store: &EventStore) -> Vec<RecordedEvent> {
    store.read_all(0, 10_000).await.expect("read all")
}

async fn dump(store: &EventStore) -> Vec<String> {
    runner::dump(store.pool(), inbox::PROJECTION)
        .await
        .expect("dump")
}

/// The live tables equal those a rebuild from scratch writes (and the rebuild swaps in).
async fn assert_equals_rebuild(s: &Setup, live: &[String]) {
    runner::rebuild(&s.store, &s.db.admin_url, &inbox())
        .await
        .expect("rebuild");
    assert_eq!(
        dump(&s.store).await,
        live,
        "the live tables differ from a rebuild"
    );
}

#[tokio::test]
async fn an_inbox_batch_delivered_again_changes_nothing() {
    let s = setup().await;
    let inbox = inbox();
    let sip = a_plan(&s.store).await;
    invitations(&s.store, sip, &[1, 2]).await;
    let first = all_events(&s.store).await;
    let cp = runner::apply_batch(s.store.pool(), &inbox, &first)
        .await
        .expect("first delivery");
    assert_eq!(cp, first.last().expect("events").global_position);
    let ids = messages(&s.store).await;
    assert_eq!(ids.len(), 2, "one message per invitation");
    assert_eq!(counters(&s.store).await, (2, 0));
    let once = dump(&s.store).await;
    for table in [
        "plans",
        "todos",
        "ongoing",
        "messages",
        "message_counts",
        "unit_positions",
    ] {
        assert!(
            once.iter().any(|r| r.starts_with(&format!("{table} "))),
            "the batch wrote no {table} row: {once:?}"
        );
    }

    // The same batch again (a crash after the commit, before the runner knew): nothing changes.
    let again = runner::apply_batch(s.store.pool(), &inbox, &first)
        .await
        .expect("redelivery");
    assert_eq!(again, cp);
    assert_eq!(
        dump(&s.store).await,
        once,
        "a redelivered batch changed the tables"
    );

    // The messages read; a batch from the start again, overlapping the first (a restart from an
    // older position): the reads apply once, the first batch's events not again.
    read(&s.store, &ids).await;
    let overlapping = all_events(&s.store).await;
    assert!(overlapping.len() > first.len());
    runner::apply_batch(s.store.pool(), &inbox, &overlapping)
        .await
        .expect("overlapping delivery");
    assert_eq!(counters(&s.store).await, (2, 2));
    let twice = dump(&s.store).await;
    assert!(
        twice.iter().any(|r| r.starts_with("read_counts ")),
        "no read counted: {twice:?}"
    );
    for batch in [&first, &overlapping] {
        runner::apply_batch(s.store.pool(), &inbox, batch)
            .await
            .expect("redelivery");
        assert_eq!(
            dump(&s.store).await,
            twice,
            "a redelivered batch changed the tables"
        );
    }
    assert_equals_rebuild(&s, &twice).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inbox_batch_killed_between_applying_and_committing_applies_once_when_delivered_again() {
    let mut s = setup().await;
    let inbox = inbox();
    let sip = a_plan(&s.store).await;
    invitations(&s.store, sip, &[1]).await;
    let first = all_events(&s.store).await;
    let cp = runner::apply_batch(s.store.pool(), &inbox, &first)
        .await
        .expect("first delivery");
    assert_eq!(counters(&s.store).await, (1, 0));
    invitations(&s.store, sip, &[2]).await;
    let later: Vec<RecordedEvent> = all_events(&s.store)
        .await
        .into_iter()
        .filter(|e| e.global_position > cp)
        .collect();

    // The owner locks the second unit's row in `unit_positions`, which the batch updates after
    // its plans, its message and the unit's message counter, its to-dos and ongoing rows, and
    // before its checkpoint.
    let (lock, connection) = tokio_postgres::connect(&s.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    lock.batch_execute("BEGIN").await.expect("begin");
    let locked = lock
        .query(
            "SELECT 1 FROM inbox.unit_positions WHERE unit_id = $1 FOR UPDATE",
            &[&HT],
        )
        .await
        .expect("lock");
    assert_eq!(locked.len(), 1, "the first batch wrote the unit's row");
    let locker: i32 = lock
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let applying = {
        let (pool, inbox, later) = (s.store.pool().clone(), inbox.clone(), later.clone());
        tokio::spawn(async move { runner::apply_batch(&pool, &inbox, &later).await })
    };
    let (watch, connection) = tokio_postgres::connect(&s.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let deadline = Instant::now() + Duration::from_secs(30);
    let blocked: i32 = loop {
        let row = watch
            .query_opt(
                "SELECT a.pid FROM pg_stat_activity a
                  WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
                    AND a.query LIKE '%unit_positions%' AND $1 = ANY (pg_blocking_pids(a.pid))",
                &[&locker],
            )
            .await
            .expect("pg_stat_activity");
        if let Some(row) = row {
            break row.get(0);
        }
        assert!(
            Instant::now() < deadline,
            "the batch never waited for the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Its rows written, its checkpoint not: the connection dies, as with the process.
    watch
        .execute("SELECT pg_terminate_backend($1)", &[&blocked])
        .await
        .expect("terminate");
    lock.batch_execute("ROLLBACK")
        .await
        .expect("let the lock go");
    let result = applying.await.expect("the applying task");
    assert!(result.is_err(), "the killed batch committed: {result:?}");
    // A pool of connections none of which was killed (the pool may not yet know of its dead
    // one), as a restarted process has.
    s.store = EventStore::connect(StoreConfig::new(s.db.app_url.clone()))
        .await
        .expect("store");
    assert_eq!(
        runner::checkpoint(s.store.pool(), inbox::PROJECTION)
            .await
            .expect("checkpoint"),
        cp,
        "the killed batch moved the checkpoint"
    );
    assert_eq!(
        messages(&s.store).await.len(),
        1,
        "the killed batch left a message"
    );
    assert_eq!(
        counters(&s.store).await,
        (1, 0),
        "the killed batch left a count"
    );

    // Delivered again: applied once.
    let again = runner::apply_batch(s.store.pool(), &inbox, &later)
        .await
        .expect("redelivery");
    assert_eq!(again, later.last().expect("events").global_position);
    assert_eq!(counters(&s.store).await, (2, 0));
    let live = dump(&s.store).await;
    assert_equals_rebuild(&s, &live).await;
}
