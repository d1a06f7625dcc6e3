//! A PostgreSQL restart under load (issue 15, fault 2): while the database is away the service
//! answers 503 problem documents with `Retry-After`, never a 500; when it is back the service
//! recovers by itself, and every command that was acknowledged is stored exactly once — also
//! those a client had to retry with the same `Idempotency-Key`.
//!
//! The test starts a PostgreSQL cluster of its own (the shared server of the other tests must
//! not be restarted) and a `samplan serve` process on it, loads it with four writers, stops the
//! database with a fast shutdown for three seconds and starts it again.

use chrono::{Duration as Span, Utc};
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, unconfigured_command, PrivatePostgres, Samplan, TempDir};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WRITERS: usize = 4;

/// What a writer or the probe saw of one answer.
#[derive(Debug, Clone)]
struct Seen {
    status: u16,
    retry_after: Option<String>,
    content_type: Option<String>,
    code: Option<String>,
}

async fn send(request: reqwest::RequestBuilder) -> Result<(Seen, Value), reqwest::Error> {
    let response = request.send().await?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut seen = Seen {
        status: response.status().as_u16(),
        retry_after: header("retry-after"),
        content_type: header("content-type"),
        code: None,
    };
    let body: Value = response.json().await.unwrap_or(Value::Null);
    seen.code = body["code"].as_str().map(str::to_owned);
    Ok((seen, body))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restart_under_load_answers_503_then_recovers_and_loses_nothing() {
    let dir = TempDir::new("pg-restart");
    let pg = PrivatePostgres::start(dir.path());
    let secret = random_hex(32).expect("random secret");
    let port = free_port();
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    let nats =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut cmd = unconfigured_command();
    cmd.env("SAMPLAN_DATABASE_URL", pg.app_url())
        .env("SAMPLAN_DATABASE_ADMIN_URL", pg.admin_url())
        .env("SAMPLAN_NATS_URL", nats)
        .env(
            "SAMPLAN_NATS_STREAM",
            format!("FAULT_PG_{tag}").to_uppercase(),
        )
        .env("SAMPLAN_NATS_SUBJECT_PREFIX", format!("fault.{tag}"))
        .env(
            "SAMPLAN_NATS_DOORBELL_SUBJECT",
            format!("fault-doorbell.{tag}"),
        )
        .env("SAMPLAN_NATS_STORAGE", "memory")
        .env("SAMPLAN_JWT_SECRET", &secret)
        .env("SAMPLAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("SAMPLAN_DATA_DIR", dir.path().join("samplan"))
        .env("SAMPLAN_LOG", "warn")
        .arg("serve");
    let mut server = Samplan::spawn(cmd, port, dir.path().join("samplan.log")).await;
    let api = format!("{}/api/v1", server.base_url);
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Admin", Utc::now(), Span::hours(1));
    let staff = signer.sign(
        "SE2321000016-VC01",
        "staff",
        Some("vc-centrum"),
        "Vera",
        Utc::now(),
        Span::hours(1),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let (seen, body) = send(
        client
            .post(format!("{api}/units"))
            .bearer_auth(&admin)
            .json(&json!({
            "id": "vc-centrum", "name": "Vårdcentralen Centrum",
            "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true})),
    )
    .await
    .expect("register unit");
    assert_eq!(seen.status, 201, "{body}");
    let (seen, body) = send(
        client
            .post(format!("{api}/persons"))
            .bearer_auth(&staff)
            .json(&json!({
            "personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"})),
    )
    .await
    .expect("register person");
    assert_eq!(seen.status, 201, "{body}");
    let person = body["id"].as_str().expect("person id").to_owned();

    // Writers: each command retried with its own key until acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let seen_all: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, api, staff, person) =
            (client.clone(), api.clone(), staff.clone(), person.clone());
        let (stop, seen_all, acknowledged) = (stop.clone(), seen_all.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}-{i}");
                i += 1;
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let request = client
                        .post(format!("{api}/sips"))
                        .bearer_auth(&staff)
                        .header("Idempotency-Key", &key)
                        .json(&json!({"person_id": person, "identified_by": "staff",
                                      "reason": "Behöver samordning.", "context": {"kind": "outpatient"}}));
                    // When the connection itself fails the answer is unknown: retry.
                    if let Ok((seen, body)) = send(request).await {
                        let ok = seen.status == 201;
                        seen_all.lock().expect("lock").push(seen);
                        if ok {
                            let id = body["id"].as_str().expect("sip id").to_owned();
                            acknowledged.lock().expect("lock").insert(key.clone(), id);
                            break;
                        }
                    }
                    assert!(Instant::now() < deadline, "{key} never acknowledged");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = acknowledged.lock().expect("lock").len();
    assert!(before > 0, "nothing was acknowledged before the restart");
    pg.stop("fast");
    // While the database is away, a read answers 503 with Retry-After too.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (probe, _) = send(
        client
            .get(format!("{api}/persons?q=Tolvan"))
            .bearer_auth(&staff),
    )
    .await
    .expect("the gateway answers while the database is away");
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    pg.start_again();
    // Load goes on until every writer has been acknowledged well after the restart.
    let restarted = Instant::now();
    loop {
        let after = acknowledged.lock().expect("lock").len();
        if after >= before + 40 * WRITERS || restarted.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }

    // While it was away: 503 problem documents with Retry-After, never another 5xx.
    let seen_all = seen_all.lock().expect("lock").clone();
    let unavailable: Vec<&Seen> = seen_all.iter().filter(|s| s.status == 503).collect();
    assert!(
        !unavailable.is_empty(),
        "no 503 while the database was away"
    );
    for s in unavailable.iter().copied().chain([&probe]) {
        assert_eq!(s.status, 503, "{s:?}");
        assert_eq!(s.retry_after.as_deref(), Some("1"), "{s:?}");
        assert!(
            s.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/problem+json")),
            "{s:?}"
        );
        assert_eq!(s.code.as_deref(), Some("service_unavailable"), "{s:?}");
    }
    let others: Vec<&Seen> = seen_all
        .iter()
        .filter(|s| s.status != 201 && s.status != 503)
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= before + 40 * WRITERS,
        "the service did not recover: {} acknowledged, {before} before the restart\n{}",
        acknowledged.len(),
        server.log_text()
    );

    // Every acknowledged command stored exactly once, and nothing else.
    let (db, connection) = tokio_postgres::connect(&pg.admin_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let rows = db
        .query(
            "SELECT stream_id, count(*) FROM events WHERE event_type = 'NeedIdentified'
              GROUP BY stream_id",
            &[],
        )
        .await
        .expect("query");
    let stored: BTreeMap<String, i64> = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    let ids: BTreeSet<String> = acknowledged
        .values()
        .map(|id| format!("sip-{id}"))
        .collect();
    assert_eq!(ids.len(), acknowledged.len(), "two keys got one plan");
    assert!(stored.values().all(|&n| n == 1), "a plan started twice");
    let stored: BTreeSet<String> = stored.into_keys().collect();
    assert_eq!(
        stored.len(),
        ids.len(),
        "{} plans stored, {} acknowledged",
        stored.len(),
        ids.len()
    );
    assert!(
        stored == ids,
        "the stored plans are not the acknowledged ones"
    );

    // Ready again by itself.
    server.wait_ready().await;
}
