//! What the projections' integration tests share: a database of their own with the projections'
//! migrations, the store connected as the application role (as the projector runs in
//! production), and events appended as a staff member of a unit would write them.

#![allow(dead_code)] // Each test binary uses its own subset.

use chrono::{DateTime, TimeZone, Utc};
use domain::context::StaffRef;
use domain::ids::{StaffId, UnitId};
use domain::unit::{Principal, PrincipalKind, UnitEvent};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreConfig};
use ulid::Ulid;

/// A test's database and its store.
pub struct Setup {
    pub db: TestDatabase,
    pub store: EventStore,
}

/// A database of this test's own, migrated, and the store on it.
pub async fn setup() -> Setup {
    let db = TestDatabase::create().await.expect("test database");
    eventstore::migrate(
        &db.admin_url,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await
    .expect("projection migrations");
    let store = connect(&db).await;
    Setup { db, store }
}

/// A store of its own on `db`, as another process would have, as the application role.
pub async fn connect(db: &TestDatabase) -> EventStore {
    EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store")
}

/// 2 March 2026 at 09:`minute` UTC.
pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, minute, 0)
        .single()
        .expect("valid time")
}

/// The staff member of `unit` who records the tests' events.
pub fn staff(unit: &str) -> StaffRef {
    StaffRef {
        staff_id: StaffId::parse("SE2321000016-A1B2").expect("staff id"),
        name: "Test Testsson".into(),
        unit_id: UnitId::parse(unit).expect("unit id"),
    }
}

/// Appends `events` (type, schema version, data) to `stream` as [`staff`] of `unit`; the position
/// of the last.
pub async fn append(
    store: &EventStore,
    unit: &str,
    stream: &str,
    events: Vec<(&'static str, i32, serde_json::Value)>,
) -> i64 {
    let new = events
        .into_iter()
        .map(|(t, v, data)| NewEvent {
            event_id: Ulid::generate(),
            event_type: t.to_owned(),
            schema_version: v,
            data,
            metadata: Metadata {
                actor: "SE2321000016-A1B2".into(),
                unit: Some(unit.into()),
                role: "staff".into(),
                command_id: None,
                correlation_id: None,
                causation_id: None,
            },
        })
        .collect();
    store
        .append(stream, ExpectedVersion::Any, new, None)
        .await
        .expect("append")
        .global_position
}

/// Registers unit `id` called `name`, of Region Norrbotten, using samplan; its position.
pub async fn register_unit(store: &EventStore, id: &str, name: &str) -> i64 {
    let ev = UnitEvent::UnitRegistered {
        id: UnitId::parse(id).expect("unit id"),
        name: name.into(),
        principal: Principal {
            kind: PrincipalKind::Region,
            name: "Region Norrbotten".into(),
        },
        uses_samplan: true,
        address: None,
        phone: None,
        registered_by: "admin".into(),
        registered_at: at(0),
    };
    append(store, id, &format!("unit-{id}"), vec![ev.encode()]).await
}
