//! Several gateway processes on one database, as behind a load balancer: staff posting to one
//! plan through different processes at the same moment are all recorded, each once, with the
//! plan's versions following each other without a gap (inside a process commands on one plan
//! take their turn; between processes a lost append race is decided again, with jittered backoff
//! bounded in time), and a personnummer registered through both at once belongs to one person.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, unconfigured_command, Samplan, TempDir};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// One `samplan serve --role gateway` on the test's database.
async fn gateway(db: &TestDatabase, secret: &str, dir: &TempDir, name: &str) -> Samplan {
    let port = free_port();
    let nats =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut cmd = unconfigured_command();
    cmd.env("SAMPLAN_DATABASE_URL", &db.app_url)
        .env("SAMPLAN_DATABASE_ADMIN_URL", &db.admin_url)
        .env("SAMPLAN_NATS_URL", nats)
        .env("SAMPLAN_JWT_SECRET", secret)
        .env("SAMPLAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("SAMPLAN_DATA_DIR", dir.path().join(name))
        .env("SAMPLAN_LOG", "warn")
        .args(["serve", "--role", "gateway"]);
    Samplan::spawn(cmd, port, dir.path().join(format!("{name}.log"))).await
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_on_two_gateways_documenting_one_plan_at_once_are_all_recorded_once() {
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("random secret");
    let dir = TempDir::new("multi-gateway");
    let a = gateway(&db, &secret, &dir, "a").await;
    let b = gateway(&db, &secret, &dir, "b").await;
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let token = |role: &str, sub: &str, unit: Option<&str>| {
        signer.sign(sub, role, unit, "Test", Utc::now(), Span::hours(1))
    };
    let admin = token("admin", "admin", None);
    let vc = token("staff", "SE2321000016-VC01", Some("vc-centrum"));
    let client = samplan_tests::http_client();
    let api = |s: &Samplan, path: &str| format!("{}/api/v1{path}", s.base_url);

    let (status, body) = post(
        &client,
        api(&a, "/units"),
        &admin,
        json!({"id": "vc-centrum", "name": "Vårdcentralen Centrum",
               "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        &client,
        api(&a, "/persons"),
        &vc,
        json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let person = body["id"].as_str().expect("person id").to_owned();
    let (status, body) = post(
        &client,
        api(&b, "/sips"),
        &vc,
        json!({"person_id": person, "identified_by": "staff", "reason": "Behov av samordning.",
               "context": {"kind": "outpatient"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sip = body["id"].as_str().expect("sip id").to_owned();
    for (command, body) in [
        (
            "record-consent",
            json!({"given_by": {"kind": "person"}, "actors": ["vc-centrum"],
                   "topics": ["Boende"], "valid_until": "2030-01-01"}),
        ),
        ("create-plan-basis", json!({})),
    ] {
        let (status, answer) = post(
            &client,
            api(&a, &format!("/sips/{sip}/{command}")),
            &vc,
            body,
        )
        .await;
        assert_eq!(status, 200, "{command}: {answer}");
    }
    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    let stream = format!("sip-{sip}");
    let before = store.stream_version(&stream).await.expect("version");

    const PER_GATEWAY: usize = 16;
    let mut tasks = Vec::new();
    for (g, server) in [&a, &b].into_iter().enumerate() {
        for i in 0..PER_GATEWAY {
            let (client, url, vc) = (
                client.clone(),
                api(server, &format!("/sips/{sip}/document-mapping")),
                vc.clone(),
            );
            let id = format!("g{g}-{i}");
            tasks.push(tokio::spawn(async move {
                let (status, body) = post(
                    &client,
                    url,
                    &vc,
                    json!({"mapping_id": id, "heading": "housing", "text": "Samtidigt"}),
                )
                .await;
                (id, status, body)
            }));
        }
    }
    let mut acknowledged = BTreeSet::new();
    for task in tasks {
        let (id, status, body) = task.await.expect("task");
        assert_eq!(
            status,
            200,
            "{id}: {body}\n{}\n{}",
            a.log_text(),
            b.log_text()
        );
        acknowledged.insert(id);
    }
    assert_eq!(acknowledged.len(), 2 * PER_GATEWAY);

    let written: Vec<_> = store
        .read_stream(&stream, before + 1)
        .await
        .expect("stream");
    let versions: Vec<i64> = written.iter().map(|e| e.stream_version).collect();
    assert_eq!(
        versions,
        (before + 1..=before + 2 * PER_GATEWAY as i64).collect::<Vec<_>>(),
        "versions follow each other without a gap"
    );
    let stored: BTreeSet<String> = written
        .iter()
        .map(|e| {
            e.data_as::<Value>().expect("payload")["mapping_id"]
                .as_str()
                .expect("mapping id")
                .to_owned()
        })
        .collect();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged command is stored once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_personnummer_registered_through_two_gateways_at_once_belongs_to_one_person() {
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("random secret");
    let dir = TempDir::new("multi-gateway-pin");
    let a = gateway(&db, &secret, &dir, "a").await;
    let b = gateway(&db, &secret, &dir, "b").await;
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Admin", Utc::now(), Span::hours(1));
    let client = samplan_tests::http_client();
    let (status, body) = post(
        &client,
        format!("{}/api/v1/units", a.base_url),
        &admin,
        json!({"id": "vc-centrum", "name": "Vårdcentralen Centrum",
               "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let forms = ["19450315-1237", "194503151237", "450315-1237", "4503151237"];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let server = if i % 2 == 0 { &a } else { &b };
        let url = format!("{}/api/v1/persons", server.base_url);
        let token = signer.sign(
            &format!("SE2321000016-VC{i:02}"),
            "staff",
            Some("vc-centrum"),
            "Test",
            Utc::now(),
            Span::hours(1),
        );
        let client = client.clone();
        let body =
            json!({"personal_identity_number": forms[i % forms.len()], "name": "Anna Andersson"});
        tasks.push(tokio::spawn(async move {
            post(&client, url, &token, body).await
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            201 => created.push(body["id"].clone()),
            409 => assert_eq!(body["code"], "person_already_registered", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        created.len(),
        1,
        "exactly one registration succeeds: {created:?}"
    );
    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    let persons: Vec<String> = store
        .read_all(0, 1_000)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.event_type == "PersonRegistered")
        .map(|e| e.stream_id)
        .collect();
    assert_eq!(
        persons,
        vec![format!("person-{}", created[0].as_str().expect("id"))]
    );
}
