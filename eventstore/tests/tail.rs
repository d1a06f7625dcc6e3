//! Tailing: every committed event exactly once, in position order, also when transactions
//! commit out of order and some roll back; and a naive tailer that fails under the same load.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use eventstore::{EventStore, ExpectedVersion, RecordedEvent, StoreConfig, StoreError};
use futures::StreamExt;
use rand::RngExt;
use tokio::sync::mpsc;

/// Runs `store.tail(after)` on a task and forwards what it yields.
fn spawn_tail(store: &EventStore, after: i64) -> mpsc::UnboundedReceiver<RecordedEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut stream = Box::pin(store.tail(after));
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let event = item.expect("tail yields no errors while the database is up");
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receives until `n` events arrived or `within` passed.
async fn receive(
    rx: &mut mpsc::UnboundedReceiver<RecordedEvent>,
    n: usize,
    within: Duration,
) -> Vec<i64> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while got.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => got.push(e.global_position),
            _ => break,
        }
    }
    got
}

/// The naive tailer the ADR rejects: remember the highest position seen and ask for
/// `position > last_seen ORDER BY position`. Kept as a helper so the gap test can show it loses
/// events under the same load.
async fn naive_tail(url: String, stop: Arc<AtomicBool>) -> Vec<i64> {
    let client = connect(&url).await;
    let mut last_seen = 0i64;
    let mut seen = Vec::new();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let rows = client
            .query(
                "SELECT global_position FROM events WHERE global_position > $1 \
                 ORDER BY global_position LIMIT 1000",
                &[&last_seen],
            )
            .await
            .expect("naive read");
        for row in &rows {
            let p: i64 = row.get(0);
            seen.push(p);
            last_seen = p;
        }
        if stopping && rows.is_empty() {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn gap_test_duration() -> Duration {
    let ms = std::env::var("SAMPLAN_GAP_TEST_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    Duration::from_millis(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tail_sees_every_event_once_in_order_while_a_naive_tailer_misses_some() {
    let env = env_with(|c| c.pool_size_max = 12).await;
    let mut tail = spawn_tail(&env.store, 0);
    // Two more tailers of the same process, one of them started late: they share the run of
    // settled events the others read (ADR 0026) and must deliver exactly the same.
    let mut beside = spawn_tail(&env.store, 0);
    let late_store = env.store.clone();
    let late = tokio::spawn(async move {
        tokio::time::sleep(gap_test_duration() / 2).await;
        spawn_tail(&late_store, 0)
    });
    let stop_naive = Arc::new(AtomicBool::new(false));
    let naive = tokio::spawn(naive_tail(env.db.app_url.clone(), stop_naive.clone()));

    let deadline = Instant::now() + gap_test_duration();
    let mut writers = Vec::new();
    // Writers that hold their transaction open for a random time after drawing positions,
    // and sometimes roll back: positions commit out of order and some never commit.
    for w in 0..8 {
        let url = env.db.app_url.clone();
        writers.push(tokio::spawn(async move {
            let client = connect(&url).await;
            let mut n = 0usize;
            while Instant::now() < deadline {
                let (hold_ms, roll_back) = {
                    let mut rng = rand::rng();
                    (rng.random_range(0..6u64), rng.random_range(0..10u32) == 0)
                };
                client.batch_execute("BEGIN").await.expect("begin");
                raw_append(&client, &format!("held-{w}"), n).await;
                if hold_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(hold_ms)).await;
                }
                client
                    .batch_execute(if roll_back { "ROLLBACK" } else { "COMMIT" })
                    .await
                    .expect("end");
                n += 1;
            }
        }));
    }
    // Writers racing on one stream through the store: losers of the unique key roll back after
    // drawing a position, the everyday source of holes.
    for _ in 0..4 {
        let store = env.store.clone();
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                let v = store.stream_version("contended").await.expect("version");
                match store
                    .append(
                        "contended",
                        ExpectedVersion::Exact(v),
                        vec![some_event(n)],
                        None,
                    )
                    .await
                {
                    Ok(_) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => panic!("append: {e}"),
                }
                n += 1;
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }

    let admin = connect(&env.db.admin_url).await;
    let committed = committed_positions(&admin).await;
    let last = *committed.last().expect("events were written");
    let holes = usize::try_from(last).expect("positive") - committed.len();
    assert!(
        holes > 0,
        "the load must produce holes (rolled back positions)"
    );

    let delivered = receive(&mut tail, committed.len(), Duration::from_secs(20)).await;
    assert_eq!(
        delivered.len(),
        committed.len(),
        "the tailer delivered every committed event"
    );
    assert_eq!(
        delivered, committed,
        "exactly once, strictly in position order"
    );
    // Nothing more arrives: no duplicates after the last one.
    assert!(receive(&mut tail, 1, Duration::from_millis(300))
        .await
        .is_empty());
    let mut late = late.await.expect("late tailer");
    for (name, other) in [("beside", &mut beside), ("late", &mut late)] {
        let seen = receive(other, committed.len(), Duration::from_secs(20)).await;
        assert_eq!(seen, committed, "the {name} tailer of the same process");
        assert!(receive(other, 1, Duration::from_millis(300))
            .await
            .is_empty());
    }

    stop_naive.store(true, Ordering::SeqCst);
    let naive = naive.await.expect("naive");
    let mut sorted = naive.clone();
    sorted.dedup();
    assert_eq!(
        sorted, naive,
        "the naive tailer does not duplicate, it loses"
    );
    let missed = committed.len() - naive.len();
    eprintln!(
        "committed {} events with {holes} holes; gap-safe tailer delivered all, naive tailer missed {missed}",
        committed.len()
    );
    assert!(
        missed > 0,
        "under this load the naive tailer skips events that commit late"
    );
}

#[tokio::test]
async fn tail_waits_for_a_transaction_whose_xid_is_newer_than_a_later_commit() {
    // The case that makes snapshot xmax unusable as a bound: U takes its xid first, T takes a
    // newer xid and draws position 1, U draws 2 and commits. PostgreSQL's snapshot xmax is then
    // U's xid + 1 <= T's xid, so "xmin >= remembered xmax" could hold while T is running.
    let env = env().await;
    let u = connect(&env.db.app_url).await;
    let t = connect(&env.db.app_url).await;
    u.batch_execute("BEGIN; SELECT pg_current_xact_id();")
        .await
        .expect("u begin");
    t.batch_execute("BEGIN").await.expect("t begin");
    raw_append(&t, "t", 1).await;
    raw_append(&u, "u", 2).await;
    u.batch_execute("COMMIT").await.expect("u commit");
    // Evidence for ADR 0001 (informative only: other databases of the cluster consume xids,
    // which hides the effect when the server is busy).
    let t_xid: i64 = t
        .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
        .await
        .expect("xid")
        .get(0);
    let observer = connect(&env.db.app_url).await;
    let snap = observer
        .query_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, \
                    pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .expect("snapshot");
    let (xmin, xmax): (i64, i64) = (snap.get(0), snap.get(1));
    eprintln!("running T has xid {t_xid}; a snapshot now has xmin {xmin}, xmax {xmax}");
    if xmax <= t_xid {
        eprintln!(
            "xmax <= T's xid: a rule 'skip when xmin >= remembered xmax' would lose position 1"
        );
    }

    let mut tail = spawn_tail(&env.store, 0);
    let early = receive(&mut tail, 1, Duration::from_millis(500)).await;
    assert!(
        early.is_empty(),
        "position 2 must wait for position 1: {early:?}"
    );
    t.batch_execute("COMMIT").await.expect("t commit");
    assert_eq!(
        receive(&mut tail, 2, Duration::from_secs(5)).await,
        vec![1, 2]
    );
}

/// Position 1 drawn and rolled back, then 2 and 3 committed.
async fn a_rolled_back_position_then_two_events(env: &Env) {
    let r = connect(&env.db.app_url).await;
    r.batch_execute("BEGIN").await.expect("begin");
    raw_append(&r, "r", 1).await;
    r.batch_execute("ROLLBACK").await.expect("rollback");
    env.store
        .append(
            "s",
            ExpectedVersion::Any,
            vec![some_event(1), some_event(2)],
            None,
        )
        .await
        .expect("append");
}

#[tokio::test]
async fn tail_moves_past_a_rolled_back_position_quickly() {
    let env = env().await;
    a_rolled_back_position_then_two_events(&env).await;

    let mut tail = spawn_tail(&env.store, 0);
    // Past the hole without waiting for any timeout: the hole is provably permanent at once.
    assert_eq!(
        receive(&mut tail, 2, Duration::from_secs(5)).await,
        vec![2, 3]
    );
    assert_eq!(env.store.head_position().await.expect("head"), 3);
}

/// A transaction that holds an xid and never writes events, as a migration or a load job of
/// another database of the cluster would: it holds every snapshot's xmin back while it runs.
async fn an_unrelated_transaction(url: &str) -> tokio_postgres::Client {
    let u = connect(url).await;
    u.batch_execute("BEGIN; CREATE TEMP TABLE unrelated (n int); SELECT pg_current_xact_id();")
        .await
        .expect("an unrelated transaction");
    u
}

#[tokio::test]
async fn tail_moves_past_a_rolled_back_position_while_unrelated_work_runs() {
    let env = env().await;
    let _unrelated = an_unrelated_transaction(&env.db.app_url).await;
    a_rolled_back_position_then_two_events(&env).await;

    let mut tail = spawn_tail(&env.store, 0);
    // Nothing that writes events runs, so the hole is permanent now; the transaction that
    // holds the cluster's xmin back has nothing to do with it.
    assert_eq!(
        receive(&mut tail, 2, Duration::from_secs(5)).await,
        vec![2, 3]
    );
}

#[tokio::test]
async fn head_position_waits_for_writers_of_events_only() {
    let env = env().await;
    env.store
        .append("a", ExpectedVersion::Any, vec![some_event(1)], None)
        .await
        .expect("append");
    let _unrelated = an_unrelated_transaction(&env.db.app_url).await;
    let head = tokio::time::timeout(Duration::from_secs(5), env.store.head_position()).await;
    assert_eq!(
        head.expect("answered while the unrelated transaction runs")
            .expect("head"),
        1
    );

    // A writer that drew position 2 and has not committed holds position 3 back, unrelated
    // work or not.
    let t = connect(&env.db.app_url).await;
    t.batch_execute("BEGIN").await.expect("begin");
    raw_append(&t, "t", 2).await;
    env.store
        .append("b", ExpectedVersion::Any, vec![some_event(3)], None)
        .await
        .expect("append");
    let store = env.store.clone();
    let head = tokio::spawn(async move { store.head_position().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!head.is_finished(), "position 2 may still commit");
    t.batch_execute("ROLLBACK").await.expect("rollback");
    let head = tokio::time::timeout(Duration::from_secs(5), head)
        .await
        .expect("answered once the writer ended");
    assert_eq!(head.expect("task").expect("head"), 3);
}

/// Readers waiting in `head_position` for a writer of events left open give their connections
/// back between looks: with a pool of two and three of them waiting, an append still gets one.
#[tokio::test]
async fn head_position_waits_without_holding_the_pool() {
    let env = env_with(|c| c.pool_size_max = 2).await;
    let t = connect(&env.db.app_url).await;
    t.batch_execute("BEGIN").await.expect("begin");
    raw_append(&t, "t", 1).await;
    env.store
        .append("a", ExpectedVersion::Any, vec![some_event(2)], None)
        .await
        .expect("append");
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let store = env.store.clone();
            tokio::spawn(async move { store.head_position().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "position 1 may still commit"
    );
    let appended = tokio::time::timeout(
        Duration::from_secs(5),
        env.store
            .append("b", ExpectedVersion::Any, vec![some_event(3)], None),
    )
    .await
    .expect("an append gets a connection while readers wait")
    .expect("append");
    t.batch_execute("ROLLBACK").await.expect("rollback");
    for w in waiting {
        let head = w.await.expect("task").expect("head");
        assert!(head >= 2, "{head}");
    }
    assert_eq!(appended.global_position, 3);
}

/// After a point-in-time restore the runbook moves the position sequence past every position
/// the lost history used: the tailer crosses a hole of millions of positions at once, without
/// walking it position by position.
#[tokio::test]
async fn tail_crosses_a_hole_of_millions_of_positions_at_once() {
    let env = env().await;
    env.store
        .append("a", ExpectedVersion::Any, vec![some_event(1)], None)
        .await
        .expect("append");
    let owner = connect(&env.db.admin_url).await;
    owner
        .batch_execute("SELECT setval('events_global_position_seq', 50000000)")
        .await
        .expect("the sequence moved on");
    env.store
        .append("b", ExpectedVersion::Any, vec![some_event(2)], None)
        .await
        .expect("append");
    let mut tail = spawn_tail(&env.store, 0);
    assert_eq!(
        receive(&mut tail, 2, Duration::from_secs(5)).await,
        vec![1, 50_000_001]
    );
    assert_eq!(env.store.head_position().await.expect("head"), 50_000_001);
}

#[tokio::test]
async fn tail_resumes_after_a_checkpoint_and_follows_new_events() {
    let env = env().await;
    let s = &env.store;
    s.append(
        "a",
        ExpectedVersion::Any,
        vec![some_event(1), some_event(2), some_event(3)],
        None,
    )
    .await
    .expect("append");
    let mut tail = spawn_tail(s, 2);
    assert_eq!(receive(&mut tail, 1, Duration::from_secs(5)).await, vec![3]);
    s.append("b", ExpectedVersion::Any, vec![some_event(4)], None)
        .await
        .expect("append");
    assert_eq!(receive(&mut tail, 1, Duration::from_secs(5)).await, vec![4]);
}

/// Two stores on the database, each with its own pool and wake-up listener, as two processes
/// have, whose tailers never poll within a test (the safety poll is ten minutes): an event can
/// reach them in time only through a wake-up.
async fn two_processes_that_never_poll(url: &str) -> (EventStore, EventStore) {
    let connect = || async {
        let mut config = StoreConfig::new(url.to_owned());
        config.tail_idle_poll_ms = 600_000;
        EventStore::connect(config).await.expect("connect")
    };
    (connect().await, connect().await)
}

/// Like [`spawn_tail`], but the consumer takes `pause` over each event (a read model that is
/// slower to apply than its neighbours).
fn spawn_slow_tail(store: &EventStore, pause: Duration) -> mpsc::UnboundedReceiver<RecordedEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut stream = Box::pin(store.tail(0));
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let event = item.expect("tail yields no errors while the database is up");
            tokio::time::sleep(pause).await;
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test]
async fn every_tailer_of_a_process_wakes_for_every_commit_though_they_share_reads() {
    let env = env().await;
    // No safety poll within the test: a tailer that went to sleep on the shared run while a
    // commit was still unread would wait here for ten minutes and fail the test.
    let (here, other) = two_processes_that_never_poll(&env.db.app_url).await;
    // Five tailers in the writing process and five in another, two of each slow to apply.
    let mut tailers = Vec::new();
    for store in [&here, &other] {
        for i in 0..5u64 {
            tailers.push(if i < 2 {
                spawn_slow_tail(store, Duration::from_millis(1 + 2 * i))
            } else {
                spawn_tail(store, 0)
            });
        }
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut written = Vec::new();
    for round in 0..30u64 {
        // Bursts of 1 to 3 appends at once, then a pause of 0 to 20 ms.
        let burst = 1 + round % 3;
        let appends = (0..burst).map(|k| {
            here.append(
                "w",
                ExpectedVersion::Any,
                vec![some_event(usize::try_from(round * 3 + k).expect("small"))],
                None,
            )
        });
        for out in futures::future::join_all(appends).await {
            written.push(out.expect("append").global_position);
        }
        written.sort_unstable();
        let expected = usize::try_from(burst).expect("small");
        for (i, tailer) in tailers.iter_mut().enumerate() {
            let got = receive(tailer, expected, Duration::from_secs(20)).await;
            assert_eq!(
                got,
                written[written.len() - expected..],
                "tailer {i} (0-4 here, 5-9 in the other process), round {round}"
            );
        }
        tokio::time::sleep(Duration::from_millis(round % 21)).await;
    }
}

#[tokio::test]
async fn tailers_that_share_reads_still_find_a_commit_nobody_announced() {
    let env = env().await;
    let mut config = StoreConfig::new(env.db.app_url.clone());
    config.tail_idle_poll_ms = 100;
    let store = EventStore::connect(config).await.expect("connect");
    let mut first = spawn_tail(&store, 0);
    let mut second = spawn_tail(&store, 0);
    // An append through the store is announced: both learn of it, and the settled run records
    // that nothing came after it as of that announcement.
    let out = store
        .append("announced", ExpectedVersion::Any, vec![some_event(1)], None)
        .await
        .expect("append");
    for tailer in [&mut first, &mut second] {
        assert_eq!(
            receive(tailer, 1, Duration::from_secs(10)).await,
            vec![out.global_position]
        );
    }
    // A commit from outside the store announces nothing (as when a notification is lost): only
    // the safety poll can find it, and it must read the database rather than trust the run.
    let client = connect(&env.db.app_url).await;
    raw_append(&client, "unannounced", 0).await;
    let committed = committed_positions(&connect(&env.db.admin_url).await).await;
    let last = *committed.last().expect("two events");
    for (name, tailer) in [("first", &mut first), ("second", &mut second)] {
        assert_eq!(
            receive(tailer, 1, Duration::from_secs(10)).await,
            vec![last],
            "the {name} tailer polled the database"
        );
    }
}

#[tokio::test]
async fn a_tailer_wakes_at_once_in_this_process_and_in_another() {
    let env = env().await;
    // The safety poll is set far beyond the wait below, so an event can only arrive in time
    // through a wake-up: in-process from the append, across processes by NOTIFY. This checks
    // the mechanism without asserting how fast the machine is.
    let (here, other) = two_processes_that_never_poll(&env.db.app_url).await;
    let mut local = spawn_tail(&here, 0);
    let mut remote = spawn_tail(&other, 0);
    // Let both reach their idle wait (and the remote one its LISTEN).
    tokio::time::sleep(Duration::from_millis(400)).await;
    for i in 0..5 {
        let out = here
            .append("w", ExpectedVersion::Any, vec![some_event(i)], None)
            .await
            .expect("append");
        let got_local = receive(&mut local, 1, Duration::from_secs(20)).await;
        let got_remote = receive(&mut remote, 1, Duration::from_secs(20)).await;
        assert_eq!(got_local, vec![out.global_position], "in-process wake-up");
        assert_eq!(
            got_remote,
            vec![out.global_position],
            "cross-process wake-up"
        );
        // Past the notifier's rate limit, so every append is announced on its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_tailer_survives_killed_connections() {
    let env = env().await;
    let s = &env.store;
    let mut tail = spawn_tail(s, 0);
    s.append("a", ExpectedVersion::Any, vec![some_event(1)], None)
        .await
        .expect("append");
    assert_eq!(receive(&mut tail, 1, Duration::from_secs(5)).await, vec![1]);
    let admin = connect(&env.db.admin_url).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND usename = 'samplan_app'",
            &[&env.db.name],
        )
        .await
        .expect("terminate");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let out = s
        .append("a", ExpectedVersion::Any, vec![some_event(2)], None)
        .await;
    let position = match out {
        Ok(out) => out.global_position,
        // At most one call may see the lost connection; the next one works.
        Err(e) => {
            assert!(e.is_unavailable(), "{e:?}");
            s.append("a", ExpectedVersion::Any, vec![some_event(2)], None)
                .await
                .expect("append")
                .global_position
        }
    };
    assert_eq!(
        receive(&mut tail, 1, Duration::from_secs(5)).await,
        vec![position]
    );
}

#[tokio::test]
async fn head_position_waits_until_everything_below_it_is_settled() {
    let env = env().await;
    env.store
        .append("a", ExpectedVersion::Any, vec![some_event(1)], None)
        .await
        .expect("append");
    let t = connect(&env.db.app_url).await;
    t.batch_execute("BEGIN").await.expect("begin");
    raw_append(&t, "t", 2).await;
    env.store
        .append("b", ExpectedVersion::Any, vec![some_event(3)], None)
        .await
        .expect("append");

    let store = env.store.clone();
    let head = tokio::spawn(async move { store.head_position().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !head.is_finished(),
        "position 2 may still commit, so 3 is not settled yet"
    );
    t.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(head.await.expect("task").expect("head"), 3);
}
