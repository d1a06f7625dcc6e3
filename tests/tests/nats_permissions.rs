//! The NATS users of `deploy/nats/users.conf`, on a real nats-server: the relay, signed in as
//! `samplan-relay`, publishes every event; gateways and projectors, as `samplan`, ring and hear
//! the inbox doorbell; a consuming system, as `samplan-reader`, reads every event with a durable
//! consumer — and can neither put a forged event on the stream nor delete it, and neither can the
//! services' own user. Nothing samplan itself does is refused by the server.

use std::time::Duration;

use async_nats::jetstream;
use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use futures::StreamExt;
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, serve_command, PrivateNats, Samplan, TempDir};
use serde_json::json;

/// `deploy/nats/users.conf` with these passwords in place of the server's environment.
fn users_conf(relay: &str, service: &str, reader: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/users.conf");
    let text = std::fs::read_to_string(&path).expect("deploy/nats/users.conf");
    for var in [
        "$NATS_RELAY_PASSWORD",
        "$NATS_SERVICE_PASSWORD",
        "$NATS_READER_PASSWORD",
        "$NATS_OPERATOR_PASSWORD",
    ] {
        assert_eq!(text.matches(var).count(), 1, "{var} once in users.conf");
    }
    text.replace("$NATS_RELAY_PASSWORD", &format!("\"{relay}\""))
        .replace("$NATS_SERVICE_PASSWORD", &format!("\"{service}\""))
        .replace("$NATS_READER_PASSWORD", &format!("\"{reader}\""))
        .replace(
            "$NATS_OPERATOR_PASSWORD",
            &format!("\"{}\"", random_hex(16).expect("pw")),
        )
}

async fn connect(url: &str, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(3)))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} signs in: {e}"))
}

/// What a samplan process's `/metrics` says.
async fn metrics_of(base_url: &str) -> String {
    samplan_tests::http_client()
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

async fn stream_messages(js: &jetstream::Context) -> u64 {
    js.get_stream("SAMPLAN_EVENTS")
        .await
        .expect("the stream")
        .info()
        .await
        .expect("stream info")
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread")]
async fn each_nats_user_may_do_its_work_and_no_more() {
    let dir = TempDir::new("nats-permissions");
    let (relay_pw, service_pw, reader_pw) = (
        random_hex(16).expect("pw"),
        random_hex(16).expect("pw"),
        random_hex(16).expect("pw"),
    );
    let nats_dir = dir.path().join("nats-config");
    std::fs::create_dir_all(&nats_dir).expect("dir");
    std::fs::write(
        nats_dir.join("users.conf"),
        users_conf(&relay_pw, &service_pw, &reader_pw),
    )
    .expect("users.conf");
    std::fs::write(nats_dir.join("nats.conf"), "include ./users.conf\n").expect("nats.conf");
    let config = nats_dir.join("nats.conf");
    let nats = PrivateNats::start_with(dir.path(), &["-c", config.to_str().expect("path")]).await;

    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("secret");
    let serve = |role: &str, user: &str, password: &str| {
        let port = free_port();
        let mut cmd = serve_command(
            &db.app_url,
            &db.admin_url,
            &nats.url(),
            &secret,
            port,
            &dir.path().join(role),
        );
        cmd.env("SAMPLAN_NATS_USER", user)
            .env("SAMPLAN_NATS_PASSWORD", password)
            .args(["serve", "--role", role]);
        (cmd, port, dir.path().join(format!("{role}.log")))
    };
    let (cmd, port, log) = serve("gateway", "samplan", &service_pw);
    let gateway = Samplan::spawn(cmd, port, log).await;
    let (cmd, port, log) = serve("projector", "samplan", &service_pw);
    let _projector = Samplan::spawn(cmd, port, log).await;
    // A relay signed in as the services' user is refused by the server, and says so in its
    // own words, naming the user it should sign in as (not "NATS did not answer").
    {
        let (mut cmd, port, log) = serve("relay", "samplan", &service_pw);
        cmd.env("SAMPLAN_LOG", "info");
        let wrong = Samplan::spawn(cmd, port, log).await;
        let started = std::time::Instant::now();
        while !wrong.log_text().contains("NATS refused the relay") {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the relay never said what NATS refused: {}",
                wrong.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            wrong.log_text().contains("samplan-relay"),
            "{}",
            wrong.log_text()
        );
    }
    let (cmd, port, log) = serve("relay", "samplan-relay", &relay_pw);
    let relay = Samplan::spawn(cmd, port, log).await;

    // A gateway hears the doorbell the projector rings after applying a change.
    let service = connect(&nats.url(), "samplan", &service_pw).await;
    let mut doorbell = service
        .subscribe("samplan.inbox.changed")
        .await
        .expect("the doorbell");
    service.flush().await.expect("flush");

    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Admin", Utc::now(), Span::hours(1));
    for (id, name) in [
        ("vc-centrum", "Vårdcentralen Centrum"),
        ("ht-norr", "Hemtjänst Norr"),
    ] {
        let response = samplan_tests::http_client()
            .post(format!("{}/api/v1/units", gateway.base_url))
            .bearer_auth(&admin)
            .json(&json!({"id": id, "name": name,
                          "principal": {"kind": "region", "name": "Region Testlän"},
                          "uses_samplan": true}))
            .send()
            .await
            .expect("unit");
        assert_eq!(response.status(), 201);
    }
    // A person and a plan: the plan gives the unit a to-do, and its inbox changes.
    let nurse = signer.sign(
        "SE2321000016-VC01",
        "staff",
        Some("vc-centrum"),
        "Sjuksköterska",
        Utc::now(),
        Span::hours(1),
    );
    let post = |path: &str, body: serde_json::Value| {
        samplan_tests::http_client()
            .post(format!("{}/api/v1{path}", gateway.base_url))
            .bearer_auth(&nurse)
            .json(&body)
            .send()
    };
    let person: serde_json::Value = post(
        "/persons",
        json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"}),
    )
    .await
    .expect("person")
    .json()
    .await
    .expect("answer");
    let person_id = person["id"].as_str().expect("person id");
    let plan = post("/sips", samplan_tests::writers::plan_body(person_id))
        .await
        .expect("plan");
    assert_eq!(plan.status(), 201);
    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 30_000)
        .await
        .unwrap_or_else(|e| panic!("the relay did not publish: {e}\n{}", relay.log_text()));
    let nats_log =
        || std::fs::read_to_string(dir.path().join("nats").join("nats.log")).unwrap_or_default();
    tokio::time::timeout(Duration::from_secs(15), doorbell.next())
        .await
        .unwrap_or_else(|_| panic!("the projector rang no doorbell: {}", nats_log()))
        .expect("a ring");

    // /metrics says the gateway's NATS connection is up; one given a wrong password says it is
    // not (it still pushes, by looking at the tables), and its log names the user.
    let metrics = metrics_of(&gateway.base_url).await;
    assert!(metrics.contains("samplan_nats_connected 1"), "{metrics}");
    {
        let (mut cmd, port, log) = serve("gateway", "samplan", "not-the-password");
        cmd.env("SAMPLAN_LOG", "info");
        let refused = Samplan::spawn(cmd, port, log).await;
        let started = std::time::Instant::now();
        loop {
            let metrics = metrics_of(&refused.base_url).await;
            if metrics.contains("samplan_nats_connected 0")
                && refused.log_text().contains("NATS refused the sign-in")
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{metrics}\n{}",
                refused.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The reader reads every event with a durable consumer of its own.
    let reader = connect(&nats.url(), "samplan-reader", &reader_pw).await;
    let js = jetstream::new(reader.clone());
    let stream = js.get_stream("SAMPLAN_EVENTS").await.expect("the stream");
    let consumer = stream
        .get_or_create_consumer(
            "reporting",
            jetstream::consumer::pull::Config {
                durable_name: Some("reporting".into()),
                ..Default::default()
            },
        )
        .await
        .expect("a durable consumer");
    let mut messages = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("pull");
    let mut read = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.expect("a message");
        let envelope: serde_json::Value =
            serde_json::from_slice(&message.payload).expect("an envelope");
        read.push(envelope["event_type"].as_str().unwrap_or("").to_owned());
        message.ack().await.expect("ack");
    }
    let events = store.read_all(0, 1_000).await.expect("events");
    assert_eq!(read.len(), events.len(), "every event read: {read:?}");
    let before = stream_messages(&js).await;

    // A forged event: refused to the reader and to the services' own user alike, in JetStream and
    // on core NATS, and the stream is as it was.
    let forged = json!({"event_id": "01M9FAKE000000000000000000", "event_type": "SipClosed",
                        "global_position": 999_999, "stream_id": "sip-01JGFJJZ000000006Y80004001"});
    for (who, client) in [
        ("samplan-reader", reader.clone()),
        ("samplan", service.clone()),
    ] {
        let js = jetstream::new(client.clone());
        let acked = match js
            .publish("samplan.events.sip.SipClosed", forged.to_string().into())
            .await
        {
            Ok(ack) => tokio::time::timeout(Duration::from_secs(3), ack)
                .await
                .map(|r| r.is_ok())
                .unwrap_or(false),
            Err(_) => false,
        };
        assert!(!acked, "{who} put a forged event on the stream");
        client
            .publish("samplan.events.sip.SipClosed", forged.to_string().into())
            .await
            .expect("sent (the server refuses it)");
        client.flush().await.expect("flush");
    }
    // Nor may they delete or purge the stream.
    for (who, client) in [
        ("samplan-reader", reader.clone()),
        ("samplan", service.clone()),
    ] {
        let js = jetstream::new(client);
        assert!(
            js.delete_stream("SAMPLAN_EVENTS").await.is_err(),
            "{who} deleted the stream"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stream_messages(&js).await, before, "no forged event stored");

    // The server refused exactly the forgeries: nothing samplan's own processes did.
    let log = nats_log();
    let violations: Vec<&str> = log.lines().filter(|l| l.contains("Violation")).collect();
    assert!(
        violations
            .iter()
            .any(|l| l.contains("User \"samplan-reader\"")
                && l.contains("samplan.events.sip.SipClosed")),
        "the reader's forgery was refused: {log}"
    );
    assert!(
        !violations
            .iter()
            .any(|l| l.contains("User \"samplan-relay\"")),
        "the relay was refused something: {violations:?}"
    );
    for line in &violations {
        assert!(
            line.contains("samplan.events.sip.SipClosed")
                || line.contains("$JS.API.STREAM.DELETE.SAMPLAN_EVENTS")
                // The relay signed in as the services' user, above.
                || (line.contains("User \"samplan\"") && line.contains("$JS.API.")),
            "only the forgeries, deletions and the wrong relay were refused: {line}"
        );
    }
}
