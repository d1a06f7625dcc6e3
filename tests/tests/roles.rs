//! samplan as many processes, the way deploy/ describes it: two gateways, a relay with a
//! standby, two projectors (one a standby), all on one PostgreSQL database and one NATS stream.
//! Only `samplan migrate` and the projectors hold the owner's URL; gateways and relays run as
//! samplan_app alone, and a gateway started before the migrations refuses to start, saying so.
//! Commands through either gateway reach the read models and JetStream; when the active
//! projector and the active relay are killed (-9) their standbys take over; and
//! `samplan rebuild` then gives every read model exactly the tables the live projectors built.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, serve_command, Samplan, TempDir};
use serde_json::{json, Value};
use std::time::Duration;

struct Cluster {
    db: TestDatabase,
    secret: String,
    dir: TempDir,
    stream: String,
    prefix: String,
    nats: String,
}

impl Cluster {
    async fn new() -> Cluster {
        let id = ulid::Ulid::generate().to_string().to_lowercase();
        Cluster {
            db: TestDatabase::create().await.expect("test database"),
            secret: random_hex(32).expect("secret"),
            dir: TempDir::new("roles"),
            // Deleted when the last process using it is dropped, also after a failure.
            stream: format!("{}{id}", samplan_tests::ROLES_STREAM_PREFIX),
            prefix: format!("roles-test.{id}"),
            nats: std::env::var("SAMPLAN_TEST_NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        }
    }

    fn command(&self, port: u16, name: &str) -> std::process::Command {
        let mut cmd = serve_command(
            &self.db.app_url,
            &self.db.admin_url,
            &self.nats,
            &self.secret,
            port,
            &self.dir.path().join(name),
        );
        cmd.env("SAMPLAN_NATS_STREAM", &self.stream)
            .env("SAMPLAN_NATS_SUBJECT_PREFIX", &self.prefix)
            .env("SAMPLAN_NATS_STORAGE", "memory")
            .env("SAMPLAN_LOG", "info");
        cmd
    }

    /// `samplan serve --role <role>`; as deploy/ runs them, only projectors get the owner's URL.
    async fn serve(&self, role: &str, name: &str) -> Samplan {
        let port = free_port();
        let mut cmd = self.command(port, name);
        if role != "projector" {
            cmd.env_remove("SAMPLAN_DATABASE_ADMIN_URL");
        }
        cmd.args(["serve", "--role", role]);
        Samplan::spawn(cmd, port, self.dir.path().join(format!("{name}.log"))).await
    }

    /// Runs `samplan <args>` to its end (at most a minute): whether it succeeded, and its output.
    fn run(&self, args: &[&str], owner: bool) -> (bool, String) {
        let mut cmd = self.command(free_port(), "once");
        if !owner {
            cmd.env_remove("SAMPLAN_DATABASE_ADMIN_URL");
        }
        let mut child = cmd
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("samplan");
        let started = std::time::Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let output = child.wait_with_output().expect("output");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
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
    let response = samplan_tests::http_client()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(url: String, token: &str) -> (u16, Value) {
    let response = samplan_tests::http_client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Which of two processes holds a runner's lease right now, by the lease holder recorded in
/// the checkpoint row (`host:pid`).
async fn holder(store: &EventStore, name: &str) -> Option<String> {
    let lags = projections::runner::lags(store.pool()).await.expect("lags");
    lags.into_iter()
        .find(|l| l.name == name)
        .and_then(|l| l.holder)
}

async fn caught_up(store: &EventStore, name: &str) {
    let head = store.head_position().await.expect("head");
    let at = projections::runner::wait_for(store.pool(), name, head, 30_000)
        .await
        .expect("checkpoint");
    assert_eq!(at, head, "{name} did not catch up");
}

/// Every row of every read model, as text.
async fn dump(store: &EventStore) -> Vec<String> {
    let mut out = Vec::new();
    for name in projections::PROJECTIONS {
        out.extend(
            projections::runner::dump(store.pool(), name)
                .await
                .expect("dump"),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn gateways_a_relay_and_projectors_with_standbys_share_one_database_and_stream() {
    let c = Cluster::new().await;
    // Before the release's migrations, a gateway without the owner's URL cannot apply them: it
    // stops, naming what to run, and changes nothing.
    let (started, said) = c.run(&["serve", "--role", "gateway"], false);
    assert!(!started, "{said}");
    assert!(said.contains("samplan migrate"), "{said}");
    let (migrated, said) = c.run(&["migrate"], true);
    assert!(migrated, "{said}");
    let a = c.serve("gateway", "gateway-a").await;
    let b = c.serve("gateway", "gateway-b").await;
    let mut projector = c.serve("projector", "projector-1").await;
    let _projector_standby = c.serve("projector", "projector-2").await;
    let mut relay = c.serve("relay", "relay-1").await;
    let _relay_standby = c.serve("relay", "relay-2").await;
    let store = EventStore::connect(StoreConfig::new(c.db.app_url.clone()))
        .await
        .expect("store");

    let admin = c.token("admin", "admin", None);
    let vc = c.token("staff", "SE2321000016-VC01", Some("vc-centrum"));
    let (status, body) = post(
        format!("{}/api/v1/units", a.base_url),
        &admin,
        json!({"id": "vc-centrum", "name": "Vårdcentralen Centrum",
               "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut persons = Vec::new();
    for (i, (gateway, pin)) in [(&a, "19121212-1212"), (&b, "19450315-1237")]
        .into_iter()
        .enumerate()
    {
        let (status, body) = post(
            format!("{}/api/v1/persons", gateway.base_url),
            &vc,
            json!({"personal_identity_number": pin, "name": format!("Person {i}")}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        persons.push((
            body["id"].as_str().expect("id").to_owned(),
            body["position"].clone(),
        ));
    }
    // Read-your-writes through the other gateway: the projector (another process) applied it.
    let (id, position) = &persons[0];
    let (status, person) = get(
        format!("{}/api/v1/persons/{id}?min_position={position}", b.base_url),
        &vc,
    )
    .await;
    assert_eq!(status, 200, "{person}");
    assert_eq!(person["name"], "Person 0");
    let (status, body) = post(
        format!("{}/api/v1/sips", b.base_url),
        &vc,
        json!({"person_id": id, "identified_by": "staff", "reason": "Behov.",
               "context": {"kind": "outpatient"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    for name in ["directory", "participation", "relay"] {
        caught_up(&store, name).await;
    }
    let first_projector = holder(&store, "directory").await.expect("a holder");
    let first_relay = holder(&store, "relay").await.expect("a holder");

    // The active projector and relay die without a word; the standbys take over.
    let projector_pid = first_projector.rsplit(':').next().expect("pid").to_owned();
    let relay_pid = first_relay.rsplit(':').next().expect("pid").to_owned();
    for (process, pid) in [(&mut projector, &projector_pid), (&mut relay, &relay_pid)] {
        let _ = process;
        std::process::Command::new("kill")
            .args(["-KILL", pid])
            .status()
            .expect("kill");
    }
    let (status, body) = post(
        format!("{}/api/v1/persons", a.base_url),
        &vc,
        json!({"personal_identity_number": "19720822-4563", "name": "Person 2"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for name in ["directory", "participation", "relay"] {
        caught_up(&store, name).await;
    }
    let second_projector = holder(&store, "directory").await.expect("a holder");
    let second_relay = holder(&store, "relay").await.expect("a holder");
    assert_ne!(
        second_projector, first_projector,
        "the standby projector took over"
    );
    assert_ne!(second_relay, first_relay, "the standby relay took over");

    // Every event is on the stream once, in order.
    let js = projections::relay::connect(&c.nats).await.expect("nats");
    let mut stream = js.get_stream(&c.stream).await.expect("stream");
    let head = store.head_position().await.expect("head");
    let info = stream.info().await.expect("info").clone();
    assert_eq!(info.state.messages as i64, head, "one message per event");
    let events = store.read_all(0, 10_000).await.expect("events");
    let mut published = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let message = stream.get_raw_message(seq).await.expect("message");
        published.push(
            message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .expect("message id"),
        );
    }
    let stored: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(
        published, stored,
        "the stream holds the store's events, in order"
    );

    // A rebuild of every read model gives exactly the live tables.
    let live = dump(&store).await;
    assert!(live.len() >= 6, "{live:?}");
    let out = c
        .command(0, "rebuild")
        .arg("rebuild")
        .output()
        .expect("samplan rebuild");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        dump(&store).await,
        live,
        "rebuilt tables equal the live ones"
    );
    drop((a, b));
}
