//! Append, read, idempotency, limits and migrations of the event store against real PostgreSQL.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use common::*;
use eventstore::testing::TestDatabase;
use eventstore::{CommandKey, EventStore, ExpectedVersion, Migration, StoreConfig, StoreError};
use serde_json::json;

#[tokio::test]
async fn append_then_read_back_the_envelope() {
    let env = env().await;
    let events = vec![some_event(1), some_event(2), some_event(3)];
    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    let out = env
        .store
        .append("sip-1", ExpectedVersion::NoStream, events, None)
        .await
        .expect("append");
    assert_eq!(out.stream_version, 3);
    assert!(!out.replayed);
    assert_eq!(out.events.len(), 3);
    assert_eq!(out.global_position, out.events[2].global_position);

    let read = env.store.read_stream("sip-1", 1).await.expect("read");
    assert_eq!(
        read.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(read.iter().map(|e| e.event_id).collect::<Vec<_>>(), ids);
    // One command's events are contiguous in global order.
    assert_eq!(read[1].global_position, read[0].global_position + 1);
    assert_eq!(read[2].global_position, read[1].global_position + 1);
    assert_eq!(read[0].metadata, meta());
    assert_eq!(
        read[0].data_as::<serde_json::Value>().expect("payload"),
        json!({ "n": 1, "text": "anteckning" })
    );
    assert_eq!(read[0].hash.len(), 64);
    assert_ne!(read[0].hash, read[1].hash);

    let from_two = env.store.read_stream("sip-1", 2).await.expect("read");
    assert_eq!(from_two.len(), 2);
    assert_eq!(env.store.stream_version("sip-1").await.expect("v"), 3);
    assert_eq!(env.store.stream_version("nobody").await.expect("v"), 0);

    // The JSON is the envelope of API.md plus the hash.
    let envelope = serde_json::to_value(&read[0]).expect("json");
    for field in [
        "event_id",
        "global_position",
        "stream_id",
        "stream_version",
        "event_type",
        "schema_version",
        "recorded_at",
        "data",
        "metadata",
        "hash",
    ] {
        assert!(envelope.get(field).is_some(), "missing {field}");
    }
    for field in [
        "actor",
        "unit",
        "role",
        "command_id",
        "correlation_id",
        "causation_id",
    ] {
        assert!(
            envelope["metadata"].get(field).is_some(),
            "missing metadata.{field}"
        );
    }
}

#[tokio::test]
async fn expected_version_is_enforced() {
    let env = env().await;
    let s = &env.store;
    s.append("a", ExpectedVersion::NoStream, vec![some_event(1)], None)
        .await
        .expect("first");

    let err = s
        .append("a", ExpectedVersion::NoStream, vec![some_event(2)], None)
        .await;
    assert!(
        matches!(err, Err(StoreError::Conflict { actual: 1, .. })),
        "{err:?}"
    );
    // Too high would leave a gap in the stream's versions.
    let err = s
        .append("a", ExpectedVersion::Exact(5), vec![some_event(2)], None)
        .await;
    assert!(
        matches!(
            err,
            Err(StoreError::Conflict {
                actual: 1,
                expected: ExpectedVersion::Exact(5),
                ..
            })
        ),
        "{err:?}"
    );
    let err = s
        .append("a", ExpectedVersion::Exact(0), vec![some_event(2)], None)
        .await;
    assert!(
        matches!(err, Err(StoreError::Conflict { actual: 1, .. })),
        "{err:?}"
    );
    let err = s
        .append("new", ExpectedVersion::Exact(1), vec![some_event(2)], None)
        .await;
    assert!(
        matches!(err, Err(StoreError::Conflict { actual: 0, .. })),
        "{err:?}"
    );

    let out = s
        .append("a", ExpectedVersion::Exact(1), vec![some_event(2)], None)
        .await
        .expect("exact");
    assert_eq!(out.stream_version, 2);
    let out = s
        .append(
            "a",
            ExpectedVersion::Any,
            vec![some_event(3), some_event(4)],
            None,
        )
        .await
        .expect("any");
    assert_eq!(out.stream_version, 4);
    let out = s
        .append("b", ExpectedVersion::Any, vec![some_event(1)], None)
        .await
        .expect("any new");
    assert_eq!(out.stream_version, 1);
    assert_eq!(s.read_stream("a", 1).await.expect("read").len(), 4);

    let err = s.append("a", ExpectedVersion::Any, vec![], None).await;
    assert!(matches!(err, Err(StoreError::InvalidInput(_))), "{err:?}");
}

#[tokio::test]
async fn sixteen_concurrent_writers_with_exact_versions_write_each_version_once() {
    let env = env_with(|c| c.pool_size_max = 16).await;
    let store = env.store.clone();
    let per_task = 8;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut conflicts = 0;
            while written.len() < per_task {
                let v = store.stream_version("contended").await.expect("version");
                let e = some_event(t * 100 + written.len());
                let id = e.event_id;
                match store
                    .append("contended", ExpectedVersion::Exact(v), vec![e], None)
                    .await
                {
                    Ok(out) => {
                        assert_eq!(out.stream_version, v + 1);
                        written.push((out.stream_version, id));
                    }
                    Err(StoreError::Conflict { actual, .. }) => {
                        assert!(actual >= v, "actual version never goes back");
                        conflicts += 1;
                    }
                    Err(other) => panic!("unexpected error: {other}"),
                }
            }
            (written, conflicts)
        }));
    }
    let mut written = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        let (w, c) = t.await.expect("task");
        written.extend(w);
        conflicts += c;
    }
    assert!(
        conflicts > 0,
        "16 writers on one stream must collide at least once"
    );
    let stored = store.read_stream("contended", 1).await.expect("read");
    assert_eq!(stored.len(), 16 * per_task);
    let versions: Vec<i64> = stored.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=(16 * per_task) as i64).collect::<Vec<_>>());
    // Exactly the winners' events are stored, each once, at the version the winner was told.
    written.sort_by_key(|(v, _)| *v);
    let stored_pairs: Vec<_> = stored
        .iter()
        .map(|e| (e.stream_version, e.event_id))
        .collect();
    assert_eq!(stored_pairs, written);
    assert!(store.verify().await.expect("verify").is_intact());
}

#[tokio::test]
async fn a_repeated_command_returns_the_first_result_and_writes_nothing() {
    let env = env().await;
    let s = &env.store;
    let key = CommandKey {
        command_id: "cmd-1".into(),
        request_hash: vec![1, 2, 3],
    };
    let first = s
        .append(
            "sip",
            ExpectedVersion::NoStream,
            vec![some_event(1), some_event(2)],
            Some(key.clone()),
        )
        .await
        .expect("first");
    assert!(!first.replayed);

    // A retry: even with an expectation that no longer holds, the stored result comes back.
    let again = s
        .append(
            "sip",
            ExpectedVersion::NoStream,
            vec![some_event(1), some_event(2)],
            Some(key.clone()),
        )
        .await
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(again.events, first.events);
    assert_eq!(again.global_position, first.global_position);
    assert_eq!(s.stream_version("sip").await.expect("v"), 2);

    let stored = s
        .find_command("cmd-1")
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(stored.request_hash, vec![1, 2, 3]);
    assert_eq!(stored.outcome.events, first.events);
    assert!(s.find_command("cmd-unknown").await.expect("find").is_none());

    let other_body = CommandKey {
        command_id: "cmd-1".into(),
        request_hash: vec![9],
    };
    let err = s
        .append(
            "sip",
            ExpectedVersion::Any,
            vec![some_event(3)],
            Some(other_body),
        )
        .await;
    assert!(
        matches!(err, Err(StoreError::IdempotencyKeyReused { ref command_id }) if command_id == "cmd-1"),
        "{err:?}"
    );
    assert_eq!(s.stream_version("sip").await.expect("v"), 2);
}

#[tokio::test]
async fn concurrent_duplicates_of_one_command_write_once() {
    let env = env().await;
    let key = CommandKey {
        command_id: "dup".into(),
        request_hash: vec![7],
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = env.store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append("s", ExpectedVersion::Any, vec![some_event(1)], Some(key))
                .await
        }));
    }
    let mut fresh = 0;
    let mut positions = HashSet::new();
    for t in tasks {
        let out = t.await.expect("task").expect("append or replay");
        if !out.replayed {
            fresh += 1;
        }
        positions.insert(out.global_position);
    }
    assert_eq!(fresh, 1, "exactly one append wrote");
    assert_eq!(positions.len(), 1, "everyone got the same result");
    assert_eq!(env.store.stream_version("s").await.expect("v"), 1);
}

#[tokio::test]
async fn payload_limit_refuses_too_large_and_accepts_just_under() {
    let env = env().await;
    let max = env.store.config().payload_bytes_max;
    assert_eq!(max, eventstore::EVENT_DATA_BYTES_MAX);
    // {"text":"…"} is 11 bytes of framing.
    let just_under = json!({ "text": "x".repeat(max - 12) });
    assert_eq!(
        serde_json::to_vec(&just_under).expect("json").len(),
        max - 1
    );
    let out = env
        .store
        .append(
            "big",
            ExpectedVersion::NoStream,
            vec![event("Big", just_under.clone())],
            None,
        )
        .await
        .expect("just under the limit is accepted");
    let read = env.store.read_stream("big", 1).await.expect("read");
    assert_eq!(
        read[0].data_as::<serde_json::Value>().expect("payload"),
        just_under
    );

    let over = json!({ "text": "x".repeat(max - 10) });
    let err = env
        .store
        .append(
            "big",
            ExpectedVersion::Any,
            vec![some_event(1), event("Big", over)],
            None,
        )
        .await;
    match err {
        Err(e @ StoreError::PayloadTooLarge { bytes, max: m }) => {
            assert_eq!(bytes, max + 1);
            assert_eq!(m, max);
            assert!(e.to_string().contains("byte"), "clear message: {e}");
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    assert_eq!(
        env.store.stream_version("big").await.expect("v"),
        out.stream_version,
        "nothing written"
    );

    // The limit is configurable.
    let small = env_with(|c| c.payload_bytes_max = 100).await;
    let err = small
        .store
        .append(
            "s",
            ExpectedVersion::Any,
            vec![event("Big", json!({ "text": "x".repeat(200) }))],
            None,
        )
        .await;
    assert!(
        matches!(err, Err(StoreError::PayloadTooLarge { max: 100, .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn reads_the_stream_as_it_stood_at_a_time() {
    let env = env().await;
    let s = &env.store;
    s.append("plan", ExpectedVersion::NoStream, vec![some_event(1)], None)
        .await
        .expect("1");
    s.append("plan", ExpectedVersion::Exact(1), vec![some_event(2)], None)
        .await
        .expect("2");
    s.append(
        "plan",
        ExpectedVersion::Exact(2),
        vec![some_event(3), some_event(4)],
        None,
    )
    .await
    .expect("3");
    let all = s.read_stream("plan", 1).await.expect("read");
    let t1 = all[0].recorded_at;
    let t2 = all[1].recorded_at;
    assert!(
        t1 < t2 && t2 < all[2].recorded_at,
        "separate appends get increasing times"
    );
    assert_eq!(
        all[2].recorded_at, all[3].recorded_at,
        "one append, one time"
    );

    let versions =
        |v: Vec<eventstore::RecordedEvent>| v.iter().map(|e| e.stream_version).collect::<Vec<_>>();
    assert_eq!(
        versions(s.read_stream_as_of("plan", t2).await.expect("as of")),
        vec![1, 2]
    );
    assert_eq!(
        versions(s.read_stream_as_of("plan", t1).await.expect("as of")),
        vec![1]
    );
    let before = t1 - chrono::Duration::microseconds(1);
    assert!(s
        .read_stream_as_of("plan", before)
        .await
        .expect("as of")
        .is_empty());
    assert_eq!(
        versions(
            s.read_stream_as_of("plan", chrono::Utc::now())
                .await
                .expect("as of")
        ),
        vec![1, 2, 3, 4]
    );
}

#[tokio::test]
async fn read_all_returns_global_order_in_batches_and_filters_by_stream() {
    let env = env().await;
    let s = &env.store;
    for i in 0..5 {
        s.append("x", ExpectedVersion::Any, vec![some_event(i)], None)
            .await
            .expect("x");
        s.append("y", ExpectedVersion::Any, vec![some_event(i)], None)
            .await
            .expect("y");
    }
    let first = s.read_all(0, 4).await.expect("read");
    assert_eq!(first.len(), 4);
    let rest = s
        .read_all(first[3].global_position, 100)
        .await
        .expect("read");
    assert_eq!(rest.len(), 6);
    let all: Vec<i64> = first
        .iter()
        .chain(&rest)
        .map(|e| e.global_position)
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "ascending, no duplicates");

    let only_y = s
        .read_all_filtered(Some("y"), 0, 100)
        .await
        .expect("filtered");
    assert_eq!(only_y.len(), 5);
    assert!(only_y.iter().all(|e| e.stream_id == "y"));
    let after = s
        .read_all_filtered(Some("y"), only_y[1].global_position, 2)
        .await
        .expect("filtered");
    assert_eq!(
        after.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![3, 4]
    );
    assert_eq!(
        s.head_position().await.expect("head"),
        *all.last().expect("last")
    );
}

#[tokio::test]
async fn migrations_are_idempotent_serialised_and_never_edited() {
    let db = TestDatabase::create().await.expect("db");
    // Applying again is a no-op.
    EventStore::migrate(&db.admin_url).await.expect("again");

    let v2 = probe_migrations();
    // Concurrent migrators (two instances starting at once) both succeed, one applies.
    let url = Arc::new(db.admin_url.clone());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            eventstore::migrate(&url, "probe", &v2).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("concurrent migrate");
    }
    let admin = connect(&db.admin_url).await;
    let applied: Vec<i32> = admin
        .query(
            "SELECT version FROM schema_migrations WHERE component = 'probe' ORDER BY 1",
            &[],
        )
        .await
        .expect("q")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(applied, vec![1, 2]);

    let edited = [Migration {
        version: 1,
        name: "probe",
        sql: "CREATE TABLE probe (id bigint)",
    }];
    let err = eventstore::migrate(&db.admin_url, "probe", &edited).await;
    match err {
        Err(StoreError::Migration(m)) => {
            assert!(m.contains("migrering 1") && m.contains("probe"), "{m}")
        }
        other => panic!("expected a migration error, got {other:?}"),
    }
    let broken = [Migration {
        version: 1,
        name: "bad",
        sql: "CREATE TABLE (",
    }];
    assert!(matches!(
        eventstore::migrate(&db.admin_url, "other", &broken).await,
        Err(StoreError::Migration(_))
    ));
}

/// A component's two releases: the first creates `probe`, the second adds a column.
fn probe_migrations() -> [Migration; 2] {
    [
        Migration {
            version: 1,
            name: "probe",
            sql: "CREATE TABLE probe (id int)",
        },
        Migration {
            version: 2,
            name: "probe more",
            sql: "ALTER TABLE probe ADD COLUMN x int",
        },
    ]
}

/// The services' role may not change the schema, but starts on one that is current: checking
/// takes no lock and no DDL. Where a migration is missing it is told to run `samplan migrate`
/// as the owner, and nothing changes.
#[tokio::test]
async fn the_application_role_starts_on_a_current_schema_and_is_told_to_migrate_otherwise() {
    let db = TestDatabase::create().await.expect("db");
    let v2 = probe_migrations();
    let v1 = [v2[0]];
    // Nothing of "probe" yet: the application role may not create it — also where it could
    // create tables in `public` (PostgreSQL 14 and older let PUBLIC), since only the database's
    // owner migrates.
    let admin = connect(&db.admin_url).await;
    admin
        .batch_execute("GRANT CREATE ON SCHEMA public TO samplan_app")
        .await
        .expect("grant");
    match eventstore::migrate(&db.app_url, "probe", &v1).await {
        Err(StoreError::Migration(m)) => assert!(m.contains("samplan migrate"), "{m}"),
        other => panic!("expected to be told to migrate, got {other:?}"),
    }
    let created: bool = admin
        .query_one("SELECT to_regclass('probe') IS NOT NULL", &[])
        .await
        .expect("probe")
        .get(0);
    assert!(!created, "the application role created nothing");
    eventstore::migrate(&db.admin_url, "probe", &v1)
        .await
        .expect("the owner migrates");
    // Current: the application role passes, for the event store's own migrations too.
    eventstore::migrate(&db.app_url, "probe", &v1)
        .await
        .expect("a current schema needs no owner");
    EventStore::migrate(&db.app_url)
        .await
        .expect("the event store is current");
    // A release with one more migration: told, and the table is as it was.
    match eventstore::migrate(&db.app_url, "probe", &v2).await {
        Err(StoreError::Migration(m)) => {
            assert!(m.contains("samplan migrate") && m.contains("probe"), "{m}")
        }
        other => panic!("expected to be told to migrate, got {other:?}"),
    }
    let columns: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'probe'",
            &[],
        )
        .await
        .expect("columns")
        .get(0);
    assert_eq!(columns, 1, "nothing was changed");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_unavailable_error() {
    let mut cfg = StoreConfig::new("postgres://samplan_app@127.0.0.1:1/none");
    cfg.connect_timeout_ms = 500;
    let store = EventStore::connect(cfg).await.expect("connect is lazy");
    let err = store.stream_version("s").await;
    assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
}

#[tokio::test]
async fn killed_connections_cost_at_most_one_error_then_recover() {
    let env = env_with(|c| c.pool_size_max = 4).await;
    let s = &env.store;
    // Open all four pooled connections.
    let warm: Vec<_> = (0..4)
        .map(|i| s.append("w", ExpectedVersion::Any, vec![some_event(i)], None))
        .collect();
    for r in futures::future::join_all(warm).await {
        r.expect("warm up");
    }
    let admin = connect(&env.db.admin_url).await;
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND usename = 'samplan_app'",
            &[&env.db.name],
        )
        .await
        .expect("terminate");
    assert!(!killed.is_empty(), "the pool had connections to kill");

    let mut errors = Vec::new();
    let mut ok = 0;
    for _ in 0..10 {
        match s.stream_version("w").await {
            Ok(v) => {
                assert_eq!(v, 4);
                ok += 1;
            }
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.len() <= 1, "at most one failed call: {errors:?}");
    for e in &errors {
        assert!(
            e.is_unavailable(),
            "a connection loss is reported as Unavailable: {e:?}"
        );
    }
    assert!(ok >= 9);
    let out = s
        .append("w", ExpectedVersion::Exact(4), vec![some_event(9)], None)
        .await
        .expect("append after recovery");
    assert_eq!(out.stream_version, 5);
    let distinct: BTreeSet<i64> = s
        .read_stream("w", 1)
        .await
        .expect("read")
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(distinct.len(), 5);
}

#[tokio::test]
async fn several_streams_are_read_in_one_query_grouped_by_stream() {
    let env = env().await;
    let s = &env.store;
    for (stream, n) in [("unit-b", 2), ("person-a", 3), ("other", 1)] {
        let events = (0..n).map(some_event).collect();
        s.append(stream, ExpectedVersion::NoStream, events, None)
            .await
            .expect("append");
    }
    let read = s
        .read_streams(&["unit-b", "person-a", "missing"])
        .await
        .expect("read");
    let got: Vec<(&str, i64)> = read
        .iter()
        .map(|e| (e.stream_id.as_str(), e.stream_version))
        .collect();
    assert_eq!(
        got,
        vec![
            ("person-a", 1),
            ("person-a", 2),
            ("person-a", 3),
            ("unit-b", 1),
            ("unit-b", 2)
        ]
    );
    assert!(s.read_streams(&[]).await.expect("none").is_empty());
}
