//! Two gateways and two projectors on one database under a mixed load (issue 15, faults 4 and
//! 6): staff start plans and document one shared plan through both gateways while others read
//! their inbox; the projector applying the read models is killed with `kill -9` three times in
//! the middle of its work and a new standby started each time. No acknowledged command is lost
//! or doubled, no read fails, no concurrent update on the shared plan is lost, nothing is applied
//! twice — every read model equals a fresh rebuild from the store.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::writers::{send, stored_plans, Writers};
use samplan_tests::{free_port, own_stream, serve_command, Samplan, TempDir};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    let client = reqwest::Client::new();
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

    // The mixed load: plans started through both gateways, the shared plan documented through
    // both, and the unit's inbox read through both.
    let writers: Vec<Writers> = apis
        .iter()
        .map(|api| Writers::start(2, api, &vc, &person))
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

    // Kill the projector holding the inbox lease three times mid-work; start a new standby.
    let store = EventStore::connect(StoreConfig::new(d.db.app_url.clone()))
        .await
        .expect("store");
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let holder = inbox_holder(&store)
            .await
            .expect("a projector holds the inbox");
        let at = projectors
            .iter()
            .position(|p| p.pid() == holder)
            .expect("the holder is one of ours");
        let mut killed = projectors.remove(at);
        killed.signal("KILL");
        assert!(!killed.wait_exit().await);
        projectors.push(
            d.serve("projector", &format!("projector-{}", round + 2))
                .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a load task failed");
    }
    let mut acknowledged = std::collections::BTreeMap::new();
    let mut answers = Vec::new();
    for w in writers {
        let written = w.stop().await;
        answers.extend(written.answers);
        acknowledged.extend(written.acknowledged);
    }
    let failed = failed_reads.lock().expect("lock").clone();
    assert!(
        failed.is_empty(),
        "reads failed: {:?}",
        &failed[..failed.len().min(5)]
    );
    let refused: Vec<_> = answers.iter().filter(|a| a.status != Some(201)).collect();
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
        answers,
        acknowledged,
    };
    written.assert_stored_exactly_once(&stored);

    // Nothing applied twice or lost: every read model equals a fresh rebuild.
    let head = store.head_position().await.expect("head");
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    for name in projections::PROJECTIONS {
        projections::runner::applied(store.pool(), name, head, 60_000)
            .await
            .expect("caught up");
        let live = projections::runner::dump(store.pool(), name)
            .await
            .expect("dump");
        projections::rebuild(&store, &d.db.admin_url, name, &settings)
            .await
            .expect("rebuild")
            .expect("a read model");
        let rebuilt = projections::runner::dump(store.pool(), name)
            .await
            .expect("dump");
        let only_live: Vec<&String> = live.iter().filter(|r| !rebuilt.contains(r)).collect();
        let only_rebuilt: Vec<&String> = rebuilt.iter().filter(|r| !live.contains(r)).collect();
        assert!(
            only_live.is_empty() && only_rebuilt.is_empty() && live.len() == rebuilt.len(),
            "{name}: live tables differ from a rebuild ({} and {} rows)\nonly live: {:?}\nonly rebuilt: {:?}",
            live.len(),
            rebuilt.len(),
            &only_live[..only_live.len().min(4)],
            &only_rebuilt[..only_rebuilt.len().min(4)],
        );
    }
}
