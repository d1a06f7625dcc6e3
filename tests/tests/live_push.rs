//! Live pushes across processes: a command through one gateway reaches a server-sent-event
//! client of another, because the projector (a third process) rings the inbox doorbell on NATS
//! and every gateway hears it. A rebuild of the inbox — by `samplan rebuild`, by the library
//! with a doorbell at hand, or by a projector that finds the rows built by other rules — rings
//! nothing (a replay must not fire side effects again).

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use futures::StreamExt;
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, http_client, pg_connect, serve_command, Samplan, TempDir};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct Deployment {
    db: TestDatabase,
    secret: String,
    dir: TempDir,
    nats: String,
    doorbell: String,
}

impl Deployment {
    async fn new() -> Deployment {
        let id = ulid::Ulid::generate().to_string().to_lowercase();
        Deployment {
            db: TestDatabase::create().await.expect("test database"),
            secret: random_hex(32).expect("secret"),
            dir: TempDir::new("live-push"),
            nats: std::env::var("SAMPLAN_TEST_NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
            doorbell: format!("live-push-test.{id}"),
        }
    }

    /// `samplan` with the deployment's settings; the caller adds the arguments.
    fn command(&self, port: u16, name: &str) -> std::process::Command {
        let mut cmd = serve_command(
            &self.db.app_url,
            &self.db.admin_url,
            &self.nats,
            &self.secret,
            port,
            &self.dir.path().join(name),
        );
        cmd.env("SAMPLAN_NATS_DOORBELL_SUBJECT", &self.doorbell)
            .env("SAMPLAN_LOG", "info");
        cmd
    }

    async fn serve(&self, role: &str, name: &str) -> Samplan {
        let port = free_port();
        let mut cmd = self.command(port, name);
        cmd.args(["serve", "--role", role]);
        Samplan::spawn(cmd, port, self.dir.path().join(format!("{name}.log"))).await
    }

    fn token(&self, role: &str, sub: &str, unit: Option<&str>) -> String {
        Signer::hs256(&self.secret, "samplan", "samplan").sign(
            sub,
            role,
            unit,
            "Test",
            Utc::now(),
            Span::hours(1),
        )
    }
}

async fn post(url: String, token: &str, body: Value) -> (u16, Value) {
    let response = http_client()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reads server-sent events until one of type `wanted`; returns its data.
async fn wait_for_event(
    response: &mut reqwest::Response,
    buffer: &mut String,
    wanted: &str,
) -> Value {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let event = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(str::trim)
                .unwrap_or("message")
                .to_owned();
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if event == wanted {
                return serde_json::from_str(&data).expect("json data");
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk())
            .await
            .expect("an event within 20 s")
            .expect("reading")
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// Through the gateway at `base_url`: the vårdcentral and hemtjänsten registered (`admin`), a
/// person, and a plan started for them by the vårdcentral (`vc`); the plan's id.
async fn start_plan(base_url: &str, admin: &str, vc: &str) -> String {
    for (id, kind) in [("vc-centrum", "region"), ("hemtjanst-norr", "municipality")] {
        let (status, body) = post(
            format!("{base_url}/api/v1/units"),
            admin,
            json!({"id": id, "name": format!("Enheten {id}"),
                   "principal": {"kind": kind, "name": "Testlän"}, "uses_samplan": true}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, person) = post(
        format!("{base_url}/api/v1/persons"),
        vc,
        json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"}),
    )
    .await;
    assert_eq!(status, 201, "{person}");
    let (status, sip) = post(
        format!("{base_url}/api/v1/sips"),
        vc,
        json!({"person_id": person["id"], "identified_by": "staff", "reason": "Samordning.",
               "context": {"kind": "outpatient"}}),
    )
    .await;
    assert_eq!(status, 201, "{sip}");
    sip["id"].as_str().expect("sip").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_through_one_gateway_is_pushed_to_a_client_of_another() {
    let d = Deployment::new().await;
    let a = d.serve("gateway", "gateway-a").await;
    let b = d.serve("gateway", "gateway-b").await;
    let _projector = d.serve("projector", "projector").await;
    let nats = async_nats::connect(&d.nats).await.expect("nats");
    let mut doorbells = nats.subscribe(d.doorbell.clone()).await.expect("subscribe");

    let admin = d.token("admin", "admin", None);
    let vc = d.token("staff", "SE2321000016-VC01", Some("vc-centrum"));
    let ht = d.token("staff", "SE2120000001-HT01", Some("hemtjanst-norr"));
    let sip = start_plan(&a.base_url, &admin, &vc).await;
    for (cmd, body) in [
        (
            "record-consent",
            json!({"given_by": {"kind": "person"}, "actors": ["vc-centrum", "hemtjanst-norr"],
                   "topics": ["Stöd"], "valid_until": "2030-01-01"}),
        ),
        ("create-plan-basis", json!({})),
    ] {
        let (status, body) =
            post(format!("{}/api/v1/sips/{sip}/{cmd}", a.base_url), &vc, body).await;
        assert_eq!(status, 200, "{cmd}: {body}");
    }

    // Hemtjänsten listens on gateway B (a client without an overall timeout: the stream stays
    // open; each read below has one).
    let mut stream = reqwest::Client::new()
        .get(format!("{}/api/v1/inbox/events", b.base_url))
        .bearer_auth(&ht)
        .send()
        .await
        .expect("connect");
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    wait_for_event(&mut stream, &mut buffer, "ready").await;

    // The coordinator invites hemtjänsten through gateway A.
    let scheduled = (Utc::now() + Span::days(7)).to_rfc3339();
    let (status, invited) = post(
        format!("{}/api/v1/sips/{sip}/send-invitation", a.base_url),
        &vc,
        json!({"invitation_id": "inv-1", "purpose": "meeting", "scheduled_at": scheduled,
               "form": "video", "reason": "Planering.",
               "recipients": [{"kind": "unit", "unit_id": "hemtjanst-norr"}]}),
    )
    .await;
    assert_eq!(status, 200, "{invited}");
    let message = wait_for_event(&mut stream, &mut buffer, "message").await;
    assert_eq!(message["type"], "invitation");
    assert_eq!(message["sip_id"], sip.as_str());
    assert_eq!(message["position"], invited["position"]);

    // The projector rang the doorbell on NATS for hemtjänsten at that position.
    let position = invited["position"].as_i64().expect("position");
    let rung = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(bell) = doorbells.next().await {
            let bell: Value = serde_json::from_slice(&bell.payload).expect("doorbell json");
            let units = bell["units"].as_array().cloned().unwrap_or_default();
            if units
                .iter()
                .any(|u| u["unit_id"] == "hemtjanst-norr" && u["position"] == position)
            {
                return true;
            }
        }
        false
    })
    .await
    .expect("a doorbell within 10 s");
    assert!(rung);
}

/// The `inbox` schema's identity: a rebuild swaps in a schema created anew.
async fn inbox_schema(admin: &tokio_postgres::Client) -> u32 {
    admin
        .query_one("SELECT oid FROM pg_namespace WHERE nspname = 'inbox'", &[])
        .await
        .expect("schema")
        .get(0)
}

/// Asserts no doorbell rings on `doorbells` while `work` runs and for a moment after it.
async fn silent_while<T>(
    doorbells: &mut async_nats::Subscriber,
    what: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let result = tokio::select! {
        bell = doorbells.next() => panic!(
            "{what} rang the doorbell: {:?}",
            bell.map(|b| String::from_utf8_lossy(&b.payload).into_owned())
        ),
        result = work => result,
    };
    if let Ok(bell) = tokio::time::timeout(Duration::from_secs(1), doorbells.next()).await {
        panic!(
            "{what} rang the doorbell: {:?}",
            bell.map(|b| String::from_utf8_lossy(&b.payload).into_owned())
        );
    }
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_of_the_inbox_rings_no_doorbell() {
    let d = Deployment::new().await;
    let a = d.serve("gateway", "gateway").await;
    let projector = d.serve("projector", "projector").await;
    let store = EventStore::connect(StoreConfig::new(d.db.app_url.clone()))
        .await
        .expect("store");
    let admin_db = pg_connect(&d.db.admin_url).await;
    let nats = async_nats::connect(&d.nats).await.expect("nats");
    let mut doorbells = nats.subscribe(d.doorbell.clone()).await.expect("subscribe");

    // An inbox with a plan and a message in it.
    let admin = d.token("admin", "admin", None);
    let vc = d.token("staff", "SE2321000016-VC01", Some("vc-centrum"));
    let sip = start_plan(&a.base_url, &admin, &vc).await;
    let scheduled = (Utc::now() + Span::days(7)).to_rfc3339();
    for (cmd, body) in [
        (
            "record-consent",
            json!({"given_by": {"kind": "person"}, "actors": ["vc-centrum", "hemtjanst-norr"],
                   "topics": ["Stöd"], "valid_until": "2030-01-01"}),
        ),
        ("create-plan-basis", json!({})),
        (
            "send-invitation",
            json!({"invitation_id": "inv-1", "purpose": "meeting", "scheduled_at": scheduled,
                   "form": "video", "reason": "Planering.",
                   "recipients": [{"kind": "unit", "unit_id": "hemtjanst-norr"}]}),
        ),
    ] {
        let (status, body) =
            post(format!("{}/api/v1/sips/{sip}/{cmd}", a.base_url), &vc, body).await;
        assert_eq!(status, 200, "{cmd}: {body}");
    }
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::inbox::PROJECTION, head, 30_000)
        .await
        .expect("the inbox caught up");
    // The live batches rang; let their doorbells pass (each batch rings once, after its commit).
    let mut rung = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), doorbells.next()).await {
        rung += 1;
    }
    assert!(
        rung > 0,
        "the live batches rang no doorbell: the subject is wrong"
    );
    let live = projections::runner::dump(store.pool(), projections::inbox::PROJECTION)
        .await
        .expect("dump");
    assert!(
        live.iter().any(|r| r.starts_with("messages ")),
        "no message in the inbox: {live:?}"
    );

    // `samplan rebuild --projection inbox`, first under another policy profile than the
    // deployment's: refused, nothing rebuilt.
    let schema = inbox_schema(&admin_db).await;
    let other = d
        .command(0, "rebuild-norrbotten")
        .args(["rebuild", "--projection", "inbox"])
        .env("SAMPLAN_POLICY", "norrbotten")
        .output()
        .expect("samplan rebuild");
    assert_eq!(other.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("built under the policy profile stockholm"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    assert_eq!(
        inbox_schema(&admin_db).await,
        schema,
        "rebuilt all the same"
    );
    let out = silent_while(&mut doorbells, "samplan rebuild", async {
        d.command(0, "rebuild")
            .args(["rebuild", "--projection", "inbox"])
            .output()
            .expect("samplan rebuild")
    })
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(inbox_schema(&admin_db).await, schema, "nothing was rebuilt");

    // A rebuild through the library with a doorbell at hand, as a projector has.
    let schema = inbox_schema(&admin_db).await;
    let mut settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    settings.doorbell = Some((nats.clone(), d.doorbell.clone()));
    let rebuilt = silent_while(
        &mut doorbells,
        "a rebuild with a doorbell",
        projections::rebuild(
            &store,
            &d.db.admin_url,
            projections::inbox::PROJECTION,
            &settings,
        ),
    )
    .await
    .expect("rebuild")
    .expect("a read model");
    assert!(rebuilt.events_applied > 0, "{rebuilt:?}");
    assert_ne!(inbox_schema(&admin_db).await, schema, "nothing was rebuilt");

    // A projector that finds the rows built by other rules rebuilds them on its own (ADR 0034),
    // with the doorbell it rings live batches with.
    drop(projector);
    let schema = inbox_schema(&admin_db).await;
    admin_db
        .execute(
            "UPDATE projections.checkpoints SET built_by = 'other rules' WHERE projection = $1",
            &[&projections::inbox::PROJECTION],
        )
        .await
        .expect("built_by");
    let _projector = silent_while(&mut doorbells, "a projector rebuilding", async {
        let projector = d.serve("projector", "projector-2").await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let built_by: Option<String> = admin_db
                .query_one(
                    "SELECT built_by FROM projections.checkpoints WHERE projection = $1",
                    &[&projections::inbox::PROJECTION],
                )
                .await
                .expect("built_by")
                .get(0);
            if built_by.as_deref() != Some("other rules") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the projector did not rebuild the inbox:\n{}",
                projector.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        projector
    })
    .await;
    assert_ne!(inbox_schema(&admin_db).await, schema, "nothing was rebuilt");
    assert_eq!(
        projections::runner::dump(store.pool(), projections::inbox::PROJECTION)
            .await
            .expect("dump"),
        live,
        "the rebuilt inbox differs from the live one"
    );

    // The doorbell still rings for a live batch (a message for hemtjänsten): the silence above
    // meant something.
    let (status, body) = post(
        format!("{}/api/v1/sips/{sip}/send-invitation", a.base_url),
        &vc,
        json!({"invitation_id": "inv-2", "purpose": "meeting", "scheduled_at": scheduled,
               "form": "video", "reason": "Uppföljning.",
               "recipients": [{"kind": "unit", "unit_id": "hemtjanst-norr"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::timeout(Duration::from_secs(20), doorbells.next())
        .await
        .expect("a doorbell for a live batch within 20 s")
        .expect("the subscription is open");
}
