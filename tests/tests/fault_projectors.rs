//! Two gateways and two projectors on one database under a mixed load (issue 15, faults 4 and
//! 6): staff start plans and document one shared plan through both gateways while others read
//! their inbox; the projector applying the inbox is killed with `kill -9` three times between
//! applying a batch and committing it, and a new standby started each time. No acknowledged
//! command is lost or doubled, no read fails, no concurrent update on the shared plan is lost,
//! the standby takes over the lease each time, nothing is applied twice — every read model
//! equals a fresh rebuild from the store.
//!
//! The moment of the kill is made, from outside: as the owner role the test locks the unit's row
//! in `inbox.unit_positions`, which an inbox batch updates after the batch's other rows (its
//! plans among them) and before its checkpoint; it waits until the holder's batch transaction is
//! blocked on that lock having already updated the shared plan's row (the row's `xmax` is the
//! batch's transaction), kills the holder, and only then lets the lock go. The killed batch can
//! only roll back — its checkpoint update and commit were never sent — and the standby must
//! apply it again, once.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::proof::{assert_equals_rebuild, assert_read_models_applied};
use samplan_tests::writers::{send, stored_plans, Writers};
use samplan_tests::{
    free_port, http_client, own_stream, pg_connect, serve_command, Samplan, TempDir,
};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The unit whose inbox row the test locks.
const UNIT: &str = "vc-centrum";
/// How long the test waits for each step of a round (a lease taken over, a batch blocked).
const STEP_WITHIN: Duration = Duration::from_secs(60);

struct Deployment {
    db: TestDatabase,
    secret: String,
    dir: TempDir,
    nats: String,
    id: String,
}

impl Deployment {
    async fn serve(&self, role: &str, name: &str) -> Samplan {
        let port = free_port();
        let mut cmd = serve_command(
            &self.db.app_url,
            &self.db.admin_url,
            &self.nats,
            &self.secret,
            port,
            &self.dir.path().join(name),
        );
        own_stream(&mut cmd, &self.id);
        cmd.args(["serve", "--role", role]);
        Samplan::spawn(cmd, port, self.dir.path().join(format!("{name}.log"))).await
    }
}

/// The pid in the inbox lease's holder (`host:pid`).
async fn inbox_holder(store: &EventStore) -> Option<u32> {
    projections::runner::lags(store.pool())
        .await
        .expect("lags")
        .into_iter()
        .find(|l| l.name == projections::inbox::PROJECTION)
        .and_then(|l| l.holder)
        .and_then(|h| h.rsplit(':').next().and_then(|p| p.parse().ok()))
}

/// The inbox's checkpoint.
async fn inbox_checkpoint(store: &EventStore) -> i64 {
    projections::runner::checkpoint(store.pool(), projections::inbox::PROJECTION)
        .await
        .expect("checkpoint")
}

/// Waits until the inbox lease is held by one of `pids`; returns the holder.
async fn holder_among(store: &EventStore, pids: &[u32], what: &str) -> u32 {
    let deadline = Instant::now() + STEP_WITHIN;
    loop {
        if let Some(holder) = inbox_holder(store).await.filter(|h| pids.contains(h)) {
            return holder;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the inbox lease is held by {:?}, none of {pids:?}, after {STEP_WITHIN:?}",
            inbox_holder(store).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An inbox batch transaction stopped between applying and committing: the backend's pid and
/// transaction id.
struct Stalled {
    pid: i32,
    xid: String,
}

/// Locks the unit's row in `inbox.unit_positions` on `lock` (a transaction left open) and waits
/// until a projector's batch transaction is blocked on it, having updated the shared plan's row
/// already. A blocked batch that did not touch the shared plan is let go and the next one
/// waited for.
async fn stall_inbox_batch(
    lock: &tokio_postgres::Client,
    watch: &tokio_postgres::Client,
    shared: &str,
) -> Stalled {
    let locker: i32 = lock
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let deadline = Instant::now() + STEP_WITHIN;
    loop {
        assert!(
            Instant::now() < deadline,
            "no inbox batch updated the shared plan and then waited for the lock"
        );
        lock.batch_execute("BEGIN").await.expect("begin");
        let locked = lock
            .query(
                "SELECT 1 FROM inbox.unit_positions WHERE unit_id = $1 FOR UPDATE",
                &[&UNIT],
            )
            .await
            .expect("lock the unit's row");
        if locked.is_empty() {
            // The inbox has not written the unit yet.
            lock.batch_execute("ROLLBACK").await.expect("rollback");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let waited = Instant::now();
        while waited.elapsed() < Duration::from_secs(10) {
            let blocked = watch
                .query_opt(
                    "SELECT a.pid, a.backend_xid::text,
                            EXISTS (SELECT 1 FROM inbox.plans p
                                     WHERE p.sip_id = $2 AND p.xmax = a.backend_xid)
                       FROM pg_stat_activity a
                      WHERE a.datname = current_database()
                        AND a.application_name = 'samplan-projection'
                        AND a.state = 'active' AND a.wait_event_type = 'Lock'
                        AND a.query LIKE '%unit_positions%'
                        AND $1 = ANY (pg_blocking_pids(a.pid))",
                    &[&locker, &shared],
                )
                .await
                .expect("pg_stat_activity");
            match blocked {
                Some(row) if row.get::<_, bool>(2) => {
                    return Stalled {
                        pid: row.get(0),
                        xid: row.get(1),
                    };
                }
                // A batch without the shared plan: let it commit and stop the next one.
                Some(_) => break,
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        lock.batch_execute("ROLLBACK").await.expect("rollback");
    }
}

/// Whether backend `pid` is still connected.
async fn backend_alive(watch: &tokio_postgres::Client, pid: i32) -> bool {
    watch
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
            &[&pid],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn projectors_killed_under_a_mixed_load_apply_nothing_twice_and_lose_nothing() {
    let d = Deployment {
        db: TestDatabase::create().await.expect("test database"),
        secret: random_hex(32).expect("secret"),
        dir: TempDir::new("fault-projectors"),
        nats: std::env::var("SAMPLAN_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        id: ulid::Ulid::generate().to_string().to_lowercase(),
    };
    let gateways = [
        d.serve("gateway", "gateway-a").await,
        d.serve("gateway", "gateway-b").await,
    ];
    let mut projectors = vec![
        d.serve("projector", "projector-0").await,
        d.serve("projector", "projector-1").await,
    ];
    let apis: Vec<String> = gateways
        .iter()
        .map(|g| format!("{}/api/v1", g.base_url))
        .collect();
    let signer = Signer::hs256(&d.secret, "samplan", "samplan");
    let token = |role: &str, sub: &str, unit: Option<&str>| {
        signer.sign(sub, role, unit, "Test", Utc::now(), Span::hours(1))
    };
    let admin = token("admin", "admin", None);
    let vc = token("staff", "SE2321000016-VC01", Some("vc-centrum"));
    let client = http_client();
    let (answer, body) = send(
        client
            .post(format!("{}/units", apis[0]))
            .bearer_auth(&admin)
            .json(&json!({"id": "vc-centrum", "name": "Vårdcentralen Centrum",
                "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true})),
    )
    .await;
    assert_eq!(answer.status, Some(201), "{body}");
    let (answer, body) = send(
        client
            .post(format!("{}/persons", apis[1]))
            .bearer_auth(&vc)
            .json(
                &json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"}),
            ),
    )
    .await;
    assert_eq!(answer.status, Some(201), "{body}");
    let person = body["id"].as_str().expect("person id").to_owned();
    // The shared plan, with consent and a plan basis, that both gateways document at once.
    let (answer, body) = send(
        client
            .post(format!("{}/sips", apis[0]))
            .bearer_auth(&vc)
            .json(&json!({"person_id": person, "identified_by": "staff",
                          "reason": "Behöver samordning.", "context": {"kind": "outpatient"}})),
    )
    .await;
    assert_eq!(answer.status, Some(201), "{body}");
    let shared = body["id"].as_str().expect("plan id").to_owned();
    for (command, body) in [
        (
            "record-consent",
            json!({"given_by": {"kind": "person"}, "actors": ["vc-centrum"],
                   "topics": ["Boende"], "valid_until": "2099-01-01"}),
        ),
        ("create-plan-basis", json!({})),
    ] {
        let (answer, body) = send(
            client
                .post(format!("{}/sips/{shared}/{command}", apis[0]))
                .bearer_auth(&vc)
                .json(&body),
        )
        .await;
        assert_eq!(answer.status, Some(200), "{command}: {body}");
    }

    // The mixed load: plans started through both gateways (two writers each with keys of their
    // own, and one each with the same keys as the other gateway's, as a client retrying a
    // command on the other gateway at once), the shared plan documented through both, and the
    // unit's inbox read through both.
    let writers: Vec<Writers> = apis
        .iter()
        .enumerate()
        .flat_map(|(g, api)| {
            [
                Writers::start_with_prefix(2, api, &vc, &person, &format!("g{g}w")),
                Writers::start_with_prefix(1, api, &vc, &person, "both"),
            ]
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mapped: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed_reads: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for (g, api) in apis.iter().enumerate() {
        let documenting = {
            let (client, api, vc, shared, stop, mapped) = (
                client.clone(),
                api.clone(),
                vc.clone(),
                shared.clone(),
                stop.clone(),
                mapped.clone(),
            );
            async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mapping = format!("g{g}-{i}");
                    i += 1;
                    let (answer, body) = send(
                        client
                            .post(format!("{api}/sips/{shared}/document-mapping"))
                            .bearer_auth(&vc)
                            .header("Idempotency-Key", format!("map-{mapping}"))
                            .json(&json!({"mapping_id": mapping, "heading": "housing",
                                          "text": format!("Anteckning {mapping}.")})),
                    )
                    .await;
                    assert_eq!(answer.status, Some(200), "{mapping}: {body}");
                    mapped.lock().expect("lock").push(mapping);
                }
            }
        };
        let reading = {
            let (client, api, vc, stop, failed_reads) = (
                client.clone(),
                api.clone(),
                vc.clone(),
                stop.clone(),
                failed_reads.clone(),
            );
            async move {
                while !stop.load(Ordering::Relaxed) {
                    for path in ["inbox/todos", "inbox/messages", "inbox/sips"] {
                        let (answer, _) =
                            send(client.get(format!("{api}/{path}")).bearer_auth(&vc)).await;
                        if answer.status != Some(200) {
                            failed_reads
                                .lock()
                                .expect("lock")
                                .push(format!("{path}: {answer:?}"));
                        }
                    }
                }
            }
        };
        tasks.push(tokio::spawn(documenting));
        tasks.push(tokio::spawn(reading));
    }

    // Three times: stop the inbox lease holder's batch between applying and committing, kill
    // the holder there, and see the standby take the lease over and apply past the batch; then
    // start a new standby.
    let store = EventStore::connect(StoreConfig::new(d.db.app_url.clone()))
        .await
        .expect("store");
    let lock = pg_connect(&d.db.admin_url).await;
    let watch = pg_connect(&d.db.admin_url).await;
    let acknowledged =
        |writers: &[Writers]| -> usize { writers.iter().map(Writers::acknowledged).sum() };
    for round in 0..3 {
        let pids: Vec<u32> = projectors.iter().map(Samplan::pid).collect();
        let holder = holder_among(&store, &pids, "before the kill").await;
        let stalled = stall_inbox_batch(&lock, &watch, &shared).await;
        let checkpoint = inbox_checkpoint(&store).await;
        // The lease cannot change hands while its holder's batch waits: the holder is the one
        // whose batch is stopped.
        assert_eq!(inbox_holder(&store).await, Some(holder));
        let at = projectors
            .iter()
            .position(|p| p.pid() == holder)
            .expect("the holder is one of ours");
        let mut killed = projectors.remove(at);
        killed.signal("KILL");
        assert!(!killed.wait_exit().await, "killed, not exited");
        assert!(
            backend_alive(&watch, stalled.pid).await,
            "the killed batch's transaction ended before the lock was let go"
        );
        lock.batch_execute("ROLLBACK")
            .await
            .expect("let the lock go");
        eprintln!(
            "round {round}: killed projector {holder} with inbox batch transaction {} \
             (backend {}) stopped before its commit, checkpoint {checkpoint}",
            stalled.xid, stalled.pid
        );
        // The killed batch's transaction ends without a commit (none was ever sent) ...
        let deadline = Instant::now() + STEP_WITHIN;
        while backend_alive(&watch, stalled.pid).await {
            assert!(
                Instant::now() < deadline,
                "the killed batch's transaction did not end"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // ... the standby takes the lease over and applies the batch again, once.
        let survivors: Vec<u32> = projectors.iter().map(Samplan::pid).collect();
        let standby = holder_among(&store, &survivors, "after the kill").await;
        assert_ne!(standby, holder);
        let deadline = Instant::now() + STEP_WITHIN;
        while inbox_checkpoint(&store).await <= checkpoint {
            assert!(
                Instant::now() < deadline,
                "the standby did not apply past the killed batch"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        projectors.push(
            d.serve("projector", &format!("projector-{}", round + 2))
                .await,
        );
    }
    // The load goes on after the last kill before it stops.
    let (plans, mappings) = (acknowledged(&writers), mapped.lock().expect("lock").len());
    let deadline = Instant::now() + STEP_WITHIN;
    while acknowledged(&writers) < plans + 20 || mapped.lock().expect("lock").len() < mappings + 10
    {
        assert!(
            Instant::now() < deadline,
            "the load did not go on after the last kill"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a load task failed");
    }
    let mut acknowledged = std::collections::BTreeMap::new();
    let mut answers = Vec::new();
    let mut on_both = 0;
    for w in writers {
        let written = w.stop().await;
        answers.extend(written.attempts);
        for (key, id) in written.acknowledged {
            if let Some(other) = acknowledged.insert(key.clone(), id.clone()) {
                assert_eq!(other, id, "{key}: the two gateways answered with two plans");
                on_both += 1;
            }
        }
    }
    assert!(on_both > 0, "no key was acknowledged by both gateways");
    let failed = failed_reads.lock().expect("lock").clone();
    assert!(
        failed.is_empty(),
        "reads failed: {:?}",
        &failed[..failed.len().min(5)]
    );
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.answer.status != Some(201))
        .collect();
    assert!(refused.is_empty(), "commands refused: {refused:?}");

    // No lost update on the shared plan: every acknowledged mapping is in its stream, once.
    let recorded: Vec<String> = store
        .read_stream(&format!("sip-{shared}"), 1)
        .await
        .expect("stream")
        .iter()
        .filter(|e| e.event_type == "MappingDocumented")
        .filter_map(|e| {
            e.data_as::<serde_json::Value>()
                .ok()
                .and_then(|p| p["mapping_id"].as_str().map(str::to_owned))
        })
        .collect();
    let unique: BTreeSet<&String> = recorded.iter().collect();
    assert_eq!(unique.len(), recorded.len(), "a mapping recorded twice");
    let mapped: BTreeSet<String> = mapped.lock().expect("lock").iter().cloned().collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        mapped,
        "acknowledged mappings differ from the stored ones"
    );
    // Every acknowledged plan stored once (the shared one is not a writer's).
    let mut stored = stored_plans(&d.db.admin_url).await;
    stored.remove(&format!("sip-{shared}"));
    let written = samplan_tests::writers::Written {
        attempts: answers,
        acknowledged,
    };
    written.report("mixed load");
    assert!(
        written.acknowledged.len() >= 50 && mapped.len() >= 30,
        "too little load to prove anything: {} plans, {} mappings",
        written.acknowledged.len(),
        mapped.len()
    );
    written.assert_stored_exactly_once(&stored);

    // Nothing applied twice or lost: every read model equals a fresh rebuild.
    let head = store.head_position().await.expect("head");
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    assert_read_models_applied(&store, head).await;
    for name in projections::PROJECTIONS {
        assert_equals_rebuild(&store, &d.db.admin_url, name, &settings).await;
    }
}
