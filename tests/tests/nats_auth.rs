//! samplan signs in to a NATS that requires it (`SAMPLAN_NATS_USER`, `SAMPLAN_NATS_PASSWORD`):
//! the relay publishes every event to JetStream, while a client without credentials is turned
//! away by the same server.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, serve_command, PrivateNats, Samplan, TempDir};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_signs_in_to_a_nats_that_requires_a_password() {
    let dir = TempDir::new("nats-auth");
    let password = random_hex(16).expect("password");
    let nats =
        PrivateNats::start_with(dir.path(), &["--user", "samplan", "--pass", &password]).await;
    // Without credentials the server refuses.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(std::time::Duration::from_secs(2))
        .connect(nats.url())
        .await;
    assert!(anonymous.is_err(), "the server let an anonymous client in");

    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("secret");
    let port = free_port();
    let mut cmd = serve_command(
        &db.app_url,
        &db.admin_url,
        &nats.url(),
        &secret,
        port,
        &dir.path().join("samplan"),
    );
    cmd.env("SAMPLAN_NATS_USER", "samplan")
        .env("SAMPLAN_NATS_PASSWORD", &password)
        .arg("serve");
    let server = Samplan::spawn(cmd, port, dir.path().join("samplan.log")).await;
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Admin", Utc::now(), Span::hours(1));
    let response = samplan_tests::http_client()
        .post(format!("{}/api/v1/units", server.base_url))
        .bearer_auth(&admin)
        .json(&json!({"id": "vc-centrum", "name": "Vårdcentralen Centrum",
                      "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}))
        .send()
        .await
        .expect("unit");
    assert_eq!(response.status(), 201);

    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    let head = store.head_position().await.expect("head");
    projections::runner::applied(store.pool(), projections::relay::RELAY, head, 30_000)
        .await
        .unwrap_or_else(|e| panic!("the relay did not publish: {e}\n{}", server.log_text()));
    let client = async_nats::ConnectOptions::with_user_and_password("samplan".into(), password)
        .connect(nats.url())
        .await
        .expect("signed in");
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("SAMPLAN_EVENTS").await.expect("stream");
    let messages = stream.info().await.expect("info").state.messages;
    let events = store.read_all(0, 1_000).await.expect("events").len();
    assert_eq!(messages as usize, events, "every event published once");
}
