//! Helpers shared by the integration tests: a fresh database, a store on it, event builders,
//! raw connections as the owner or the app role.

#![allow(dead_code)]

use eventstore::testing::TestDatabase;
use eventstore::{EventStore, Metadata, NewEvent, StoreConfig};
use serde_json::json;
use tokio_postgres::{Client, NoTls};
use ulid::Ulid;

pub struct Env {
    pub store: EventStore,
    pub db: TestDatabase,
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(adjust: impl FnOnce(&mut StoreConfig)) -> Env {
    let db = TestDatabase::create().await.expect("test database");
    let mut cfg = StoreConfig::new(db.app_url.clone());
    cfg.pool_size_max = 8;
    adjust(&mut cfg);
    let store = EventStore::connect(cfg).await.expect("connect");
    Env { store, db }
}

pub fn meta() -> Metadata {
    Metadata {
        actor: "user-1".into(),
        unit: Some("unit-7".into()),
        role: "staff".into(),
        command_id: Some("cmd".into()),
        correlation_id: Some("corr".into()),
        causation_id: None,
    }
}

pub fn event(event_type: &str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        event_id: Ulid::generate(),
        event_type: event_type.into(),
        schema_version: 1,
        data,
        metadata: meta(),
    }
}

pub fn some_event(n: usize) -> NewEvent {
    event("Noted", json!({ "n": n, "text": "anteckning" }))
}

/// A connection of its own (not pooled), driven on a task.
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Every committed position, ascending.
pub async fn committed_positions(admin: &Client) -> Vec<i64> {
    admin
        .query(
            "SELECT global_position FROM events ORDER BY global_position",
            &[],
        )
        .await
        .expect("positions")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Calls `samplan_append` on a raw connection (possibly inside an open transaction), the same
/// function `EventStore::append` uses; returns the status.
pub async fn raw_append(client: &Client, stream: &str, n: usize) -> String {
    let ids = vec![Ulid::generate().to_string()];
    let payloads = vec![json!({ "n": n })];
    let row = client
        .query_one(
            "SELECT status FROM samplan_append($1, 'any', NULL, $2, ARRAY['Noted'], ARRAY[1], \
             $3, ARRAY['user-1'], ARRAY[NULL::text], ARRAY['staff'], ARRAY[NULL::text], \
             ARRAY[NULL::text], ARRAY[NULL::text], NULL, NULL)",
            &[&stream, &ids, &payloads],
        )
        .await
        .expect("raw append");
    row.get(0)
}
