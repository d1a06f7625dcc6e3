//! A projector and a relay that stop without dying (`kill -STOP`: a paused machine, a process
//! that no longer runs) while they hold their leases. Their connections stay open, so their
//! advisory locks stay held; the standbys must see that the holders no longer check in, end their
//! connections and take over, so the read models and the stream go on while the holders are
//! stopped. When the stopped processes run again they apply and publish nothing twice: every read
//! model equals a fresh rebuild, and every event is on the stream once.

use chrono::{Duration as Span, Utc};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};
use gateway::auth::{random_hex, Signer};
use samplan_tests::proof::{
    assert_each_event_once, assert_equals_rebuild, assert_read_models_applied,
};
use samplan_tests::writers::send;
use samplan_tests::{free_port, http_client, own_stream, serve_command, Samplan, TempDir};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long a standby may take to take over from a stopped holder: the holder's silence the
/// standbys wait for (15 s), a standby's retry, and room for a loaded machine.
const TAKEOVER_WITHIN: Duration = Duration::from_secs(45);

/// The pid of the process holding `name`'s lease (`host:pid`).
async fn holder(store: &EventStore, name: &str) -> Option<u32> {
    projections::runner::lags(store.pool())
        .await
        .expect("lags")
        .into_iter()
        .find(|l| l.name == name)
        .and_then(|l| l.holder)
        .and_then(|h| h.rsplit(':').next().and_then(|p| p.parse().ok()))
}

#[tokio::test]
async fn a_stopped_lease_holder_is_taken_over_and_applies_nothing_twice_when_it_runs_again() {
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("secret");
    let dir = TempDir::new("fault-frozen");
    let nats =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let id = ulid::Ulid::generate().to_string().to_lowercase();
    let serve = |role: &'static str, name: &'static str| {
        let port = free_port();
        let mut cmd = serve_command(
            &db.app_url,
            &db.admin_url,
            &nats,
            &secret,
            port,
            &dir.path().join(name),
        );
        own_stream(&mut cmd, &id);
        cmd.args(["serve", "--role", role]);
        Samplan::spawn(cmd, port, dir.path().join(format!("{name}.log")))
    };
    let gateway = serve("gateway", "gateway").await;
    let first_projector = serve("projector", "projector-0").await;
    let first_relay = serve("relay", "relay-0").await;
    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
    // The first of each holds the leases before the standbys start.
    let deadline = Instant::now() + TAKEOVER_WITHIN;
    while holder(&store, projections::inbox::PROJECTION).await != Some(first_projector.pid())
        || holder(&store, "relay").await != Some(first_relay.pid())
    {
        assert!(
            Instant::now() < deadline,
            "the first processes took no lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second_projector = serve("projector", "projector-1").await;
    let second_relay = serve("relay", "relay-1").await;

    let api = format!("{}/api/v1", gateway.base_url);
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Test", Utc::now(), Span::hours(1));
    let client = http_client();
    let (answer, body) = send(
        client
            .post(format!("{api}/units"))
            .bearer_auth(&admin)
            .json(&json!({"id": "vc-centrum", "name": "Vårdcentralen Centrum",
                "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true})),
    )
    .await;
    assert_eq!(answer.status, Some(201), "{body}");

    // Both holders stop; the writes go on.
    first_projector.signal("STOP");
    first_relay.signal("STOP");
    let stopped_at = Instant::now();
    let register = |n: usize| {
        client
            .post(format!("{api}/units"))
            .bearer_auth(&admin)
            .json(
                &json!({"id": format!("hc-{n}"), "name": format!("Hälsocentral {n}"),
                "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}),
            )
    };
    let mut written = 0;
    let mut n = 0;
    loop {
        n += 1;
        let (answer, body) = send(register(n)).await;
        assert_eq!(
            answer.status,
            Some(201),
            "a write failed while the holders were stopped: {body}"
        );
        written += 1;
        let directory = holder(&store, projections::directory::PROJECTION).await;
        let relay = holder(&store, "relay").await;
        let head = store.head_position().await.expect("head");
        let applied =
            projections::runner::checkpoint(store.pool(), projections::directory::PROJECTION)
                .await
                .expect("checkpoint");
        let relayed = projections::runner::checkpoint(store.pool(), "relay")
            .await
            .expect("checkpoint");
        if written >= 20
            && directory == Some(second_projector.pid())
            && relay == Some(second_relay.pid())
            && applied == head
            && relayed == head
        {
            break;
        }
        assert!(
            stopped_at.elapsed() < TAKEOVER_WITHIN,
            "after {:?} the directory is held by {directory:?} at {applied}, the relay by \
             {relay:?} at {relayed}, the head at {head}; the standbys are {} and {}",
            stopped_at.elapsed(),
            second_projector.pid(),
            second_relay.pid()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        second_projector
            .log_text()
            .contains("ended that connection to take over"),
        "the standby says why it took over:\n{}",
        second_projector.log_text()
    );

    // The stopped ones run again: they find their leases gone and stand by; a few more writes.
    first_projector.signal("CONT");
    first_relay.signal("CONT");
    for m in 0..20 {
        let (answer, body) = send(register(n + 1 + m)).await;
        assert_eq!(answer.status, Some(201), "{body}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Nothing applied or published twice, nothing lost.
    let head = store.head_position().await.expect("head");
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    assert_read_models_applied(&store, head).await;
    // The units written are the directory's rows (the other read models have none to compare).
    assert_equals_rebuild(
        &store,
        &db.admin_url,
        projections::directory::PROJECTION,
        &settings,
    )
    .await;
    projections::runner::applied(store.pool(), "relay", head, 60_000)
        .await
        .expect("the relay caught up");
    let events = store.read_all(0, 1_000_000).await.expect("events");
    let nats_client = async_nats::connect(&nats).await.expect("nats");
    let jetstream = async_nats::jetstream::new(nats_client);
    let mut stream = jetstream
        .get_stream(format!("TEST_{id}").to_uppercase())
        .await
        .expect("the stream");
    assert_each_event_once(&mut stream, &events, "after the stopped holders ran again").await;
    drop((
        second_projector,
        second_relay,
        first_projector,
        first_relay,
        gateway,
    ));
}
