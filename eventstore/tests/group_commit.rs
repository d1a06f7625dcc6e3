//! Group commit (ADR 0006) against real PostgreSQL: appends that share a transaction are still
//! judged and answered one by one, a bad append does not take its batch-mates down, and
//! several processes racing on one stream still write each version once.

mod common;

use std::collections::BTreeMap;

use common::*;
use eventstore::{CommandKey, EventStore, ExpectedVersion, StoreConfig, StoreError};
use futures::future::join_all;

#[tokio::test]
async fn concurrent_appends_share_transactions_and_each_gets_its_own_answer() {
    let env = env_with(|c| c.append_concurrency = 1).await;
    let s = &env.store;
    let key = CommandKey {
        command_id: "same-command".into(),
        request_hash: vec![1],
    };
    let mut appends = Vec::new();
    // 30 streams of their own, some with several events per append.
    for i in 0..30 {
        let events = (0..1 + i % 3).map(|n| some_event(i * 10 + n)).collect();
        appends.push((
            "own",
            format!("own-{i}"),
            ExpectedVersion::NoStream,
            events,
            None,
        ));
    }
    // 5 writers expecting the same empty stream: one wins.
    for i in 0..5 {
        appends.push((
            "hot",
            "hot".into(),
            ExpectedVersion::Exact(0),
            vec![some_event(i)],
            None,
        ));
    }
    // 5 retries of one command: written once, replayed four times.
    for i in 0..5 {
        appends.push((
            "retry",
            "retried".into(),
            ExpectedVersion::NoStream,
            vec![some_event(i)],
            Some(key.clone()),
        ));
    }
    let results = join_all(appends.iter().map(|(_, stream, expected, events, key)| {
        s.append(stream, *expected, events.clone(), key.clone())
    }))
    .await;

    let mut by_kind: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for ((kind, stream, _, events, _), result) in appends.iter().zip(&results) {
        let label = match result {
            Ok(out) if out.replayed => "replayed",
            Ok(out) => {
                assert_eq!(&out.stream_id, stream);
                assert_eq!(out.events.len(), events.len());
                let ids: Vec<_> = out.events.iter().map(|e| e.event_id).collect();
                let sent: Vec<_> = events.iter().map(|e| e.event_id).collect();
                assert_eq!(ids, sent, "the answer names this append's own events");
                "appended"
            }
            Err(StoreError::Conflict { actual, .. }) => {
                assert_eq!(*actual, 1, "the winner's version");
                "conflict"
            }
            Err(other) => panic!("{stream}: {other}"),
        };
        *by_kind.entry((kind, label)).or_default() += 1;
    }
    assert_eq!(
        by_kind,
        BTreeMap::from([
            (("own", "appended"), 30),
            (("hot", "appended"), 1),
            (("hot", "conflict"), 4),
            (("retry", "appended"), 1),
            (("retry", "replayed"), 4),
        ])
    );

    // What was answered is what is stored.
    for ((_, stream, _, events, _), result) in appends.iter().zip(&results) {
        if let Ok(out) = result {
            if out.replayed || stream != "own-7" {
                continue;
            }
            let stored = s.read_stream(stream, 1).await.expect("read");
            let ids: Vec<_> = stored.iter().map(|e| e.event_id).collect();
            let sent: Vec<_> = events.iter().map(|e| e.event_id).collect();
            assert_eq!(ids, sent);
            assert_eq!(
                stored.last().map(|e| e.global_position),
                Some(out.global_position)
            );
        }
    }
    assert_eq!(s.stream_version("hot").await.expect("v"), 1);
    assert_eq!(s.stream_version("retried").await.expect("v"), 1);
    assert!(s.verify().await.expect("verify").is_intact());

    // Every append went through group commit; simultaneous ones shared transactions.
    let stats = s.group_commit_stats();
    assert_eq!((stats.appends, stats.direct), (40, 0), "{stats:?}");
    assert!(
        stats.transactions < stats.appends,
        "40 simultaneous appends share transactions: {stats:?}"
    );
}

#[tokio::test]
async fn a_bad_append_does_not_fail_the_appends_it_was_grouped_with() {
    let env = env_with(|c| c.append_concurrency = 1).await;
    let s = &env.store;
    let taken = some_event(0);
    s.append(
        "first",
        ExpectedVersion::NoStream,
        vec![taken.clone()],
        None,
    )
    .await
    .expect("first");

    // The duplicate event id makes the database raise, which rolls back the whole batch.
    let mut calls = Vec::new();
    for i in 0..20 {
        let events = if i == 10 {
            vec![taken.clone()]
        } else {
            vec![some_event(i)]
        };
        calls.push(s.append_owned(format!("s-{i}"), ExpectedVersion::NoStream, events));
    }
    let results = join_all(calls).await;
    for (i, result) in results.iter().enumerate() {
        if i == 10 {
            assert!(
                matches!(result, Err(StoreError::InvalidInput(_))),
                "the duplicate is refused: {result:?}"
            );
            assert_eq!(s.stream_version("s-10").await.expect("v"), 0);
        } else {
            let out = result.as_ref().expect("the others are written");
            assert_eq!(out.stream_version, 1);
            assert_eq!(s.stream_version(&format!("s-{i}")).await.expect("v"), 1);
        }
    }
    let stats = s.group_commit_stats();
    assert!(stats.transactions < stats.appends, "{stats:?}");
    assert!(s.verify().await.expect("verify").is_intact());
}

#[tokio::test]
async fn a_lean_batch_answers_each_append_with_its_own_positions_and_a_stale_one_with_conflict() {
    // No command ids and exact expectations: the batch goes through the lean function, which
    // looks nothing up first (migration 0004). One stale expectation rolls such a batch back;
    // its batch-mates must still be written, each told exactly where its events stand.
    let env = env_with(|c| c.append_concurrency = 1).await;
    let s = &env.store;
    for i in 0..20 {
        let events = vec![some_event(1000 + i), some_event(2000 + i)];
        s.append(&format!("s-{i}"), ExpectedVersion::NoStream, events, None)
            .await
            .expect("set up");
    }
    let mut calls = Vec::new();
    let mut sent = Vec::new();
    for i in 0..20 {
        // Stream 7 is expected at version 1 while it stands at 2.
        let expected = ExpectedVersion::Exact(if i == 7 { 1 } else { 2 });
        let events: Vec<_> = (0..1 + i % 3).map(|n| some_event(i * 10 + n)).collect();
        sent.push(events.iter().map(|e| e.event_id).collect::<Vec<_>>());
        calls.push(s.append_owned(format!("s-{i}"), expected, events));
    }
    let before = s.group_commit_stats();
    let results = join_all(calls).await;
    for (i, result) in results.iter().enumerate() {
        let stream = format!("s-{i}");
        if i == 7 {
            assert!(
                matches!(result, Err(StoreError::Conflict { actual: 2, .. })),
                "the stale append is told where the stream stands: {result:?}"
            );
            assert_eq!(s.stream_version(&stream).await.expect("v"), 2);
            continue;
        }
        let out = result.as_ref().expect("the others are written");
        let stored = s.read_stream(&stream, 3).await.expect("read");
        let answered: Vec<_> = out
            .events
            .iter()
            .map(|e| (e.event_id, e.stream_version, e.global_position))
            .collect();
        let found: Vec<_> = stored
            .iter()
            .map(|e| (e.event_id, e.stream_version, e.global_position))
            .collect();
        assert_eq!(answered, found, "{stream}: the answer is what is stored");
        let ids: Vec<_> = stored.iter().map(|e| e.event_id).collect();
        assert_eq!(ids, sent[i], "{stream}: in the order sent");
        assert_eq!(out.stream_version, 2 + sent[i].len() as i64);
    }
    let after = s.group_commit_stats();
    assert!(
        after.transactions - before.transactions < after.appends - before.appends,
        "simultaneous appends shared transactions: {after:?}"
    );
    assert!(s.verify().await.expect("verify").is_intact());
}

/// The extension the tests above use: an append that owns its arguments, so many can be
/// collected into one `join_all`.
trait AppendOwned {
    fn append_owned(
        &self,
        stream: String,
        expected: ExpectedVersion,
        events: Vec<eventstore::NewEvent>,
    ) -> impl std::future::Future<Output = Result<eventstore::AppendOutcome, StoreError>>;
}

impl AppendOwned for EventStore {
    async fn append_owned(
        &self,
        stream: String,
        expected: ExpectedVersion,
        events: Vec<eventstore::NewEvent>,
    ) -> Result<eventstore::AppendOutcome, StoreError> {
        self.append(&stream, expected, events, None).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_racing_on_one_stream_still_write_each_version_once() {
    // Four stores on one database stand for four service processes: their lanes do not know
    // each other, so their batches race in the database and lose by unique violation.
    let env = env().await;
    let mut stores = vec![env.store.clone()];
    for _ in 0..3 {
        let mut cfg = StoreConfig::new(env.db.app_url.clone());
        cfg.pool_size_max = 4;
        stores.push(EventStore::connect(cfg).await.expect("connect"));
    }
    let per_task = 6;
    let mut tasks = Vec::new();
    for (p, store) in stores.iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut written = Vec::new();
                let mut n = 0;
                while written.len() < per_task {
                    n += 1;
                    // A stream of its own too, so that the contended append has batch-mates.
                    let own = format!("own-{p}-{t}");
                    let v = store.stream_version("contended").await.expect("version");
                    let e = some_event(n);
                    let id = e.event_id;
                    let (contended, mine) = tokio::join!(
                        store.append("contended", ExpectedVersion::Exact(v), vec![e], None),
                        store.append(&own, ExpectedVersion::Any, vec![some_event(n)], None),
                    );
                    mine.expect("an uncontended append is written");
                    match contended {
                        Ok(out) => written.push((out.stream_version, id)),
                        Err(StoreError::Conflict { actual, .. }) => assert!(actual >= v),
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
                written
            }));
        }
    }
    let mut written = Vec::new();
    for t in tasks {
        written.extend(t.await.expect("task"));
    }
    written.sort_by_key(|(v, _)| *v);
    let stored: Vec<_> = env
        .store
        .read_stream("contended", 1)
        .await
        .expect("read")
        .iter()
        .map(|e| (e.stream_version, e.event_id))
        .collect();
    assert_eq!(stored.len(), 16 * per_task);
    assert_eq!(
        stored, written,
        "each version once, by the writer that was told so"
    );
    assert!(env.store.verify().await.expect("verify").is_intact());
}

#[tokio::test]
async fn without_lanes_every_append_is_its_own_transaction() {
    let env = env_with(|c| c.append_concurrency = 0).await;
    let s = &env.store;
    let results = join_all((0..10).map(|i| {
        s.append_owned(
            format!("s-{i}"),
            ExpectedVersion::NoStream,
            vec![some_event(i)],
        )
    }))
    .await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let stats = s.group_commit_stats();
    assert_eq!((stats.transactions, stats.direct), (0, 10), "{stats:?}");
    assert_eq!(s.read_all(0, 100).await.expect("read").len(), 10);
}

/// Whether `append` finishes within `wait`.
async fn finishes_within<T>(
    wait: std::time::Duration,
    append: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::time::timeout(wait, append).await.ok()
}

type Appending<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<eventstore::AppendOutcome, StoreError>> + 'a>,
>;

/// Another process writes version 1 of "stuck" and does not commit yet; the store's append of
/// the same version then waits for that transaction's fate. Returns the other process's
/// connection (inside its transaction) and the waiting append.
async fn a_stuck_append(env: &Env) -> (tokio_postgres::Client, Appending<'_>) {
    let other = connect(&env.db.admin_url).await;
    other.batch_execute("BEGIN").await.expect("begin");
    assert_eq!(raw_append(&other, "stuck", 1).await, "appended");
    let mut stuck: Appending<'_> = Box::pin(env.store.append_owned(
        "stuck".into(),
        ExpectedVersion::NoStream,
        vec![some_event(1)],
    ));
    assert!(
        finishes_within(std::time::Duration::from_millis(200), &mut stuck)
            .await
            .is_none(),
        "the append should wait for the other transaction"
    );
    (other, stuck)
}

#[tokio::test]
async fn a_transaction_stuck_on_a_lock_does_not_hold_up_other_streams() {
    let env = env_with(|c| c.append_concurrency = 2).await;
    let (other, stuck) = a_stuck_append(&env).await;

    // Meanwhile appends to other streams go through, in a second transaction beside it.
    for i in 0..3 {
        let free = env.store.append_owned(
            format!("free-{i}"),
            ExpectedVersion::NoStream,
            vec![some_event(i)],
        );
        let out = finishes_within(std::time::Duration::from_secs(5), free)
            .await
            .expect("an append to another stream must not wait for the stuck one")
            .expect("append");
        assert_eq!(out.stream_version, 1);
    }

    // The other process commits: the stuck append lost the race and says so.
    other.batch_execute("COMMIT").await.expect("commit");
    match stuck.await {
        Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(env.store.verify().await.expect("verify").is_intact());
}

#[tokio::test]
async fn with_one_transaction_in_flight_other_streams_wait_for_it() {
    let env = env_with(|c| c.append_concurrency = 1).await;
    let (other, stuck) = a_stuck_append(&env).await;
    let mut free = Box::pin(env.store.append_owned(
        "free".into(),
        ExpectedVersion::NoStream,
        vec![some_event(2)],
    ));
    assert!(
        finishes_within(std::time::Duration::from_millis(300), &mut free)
            .await
            .is_none(),
        "with one slot the append waits behind the stuck transaction"
    );
    // The other process rolls back: the stuck append wins after all, and the free one follows.
    other.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(stuck.await.expect("stuck append").stream_version, 1);
    assert_eq!(free.await.expect("free append").stream_version, 1);
}
