//! Shared set-up of the person, unit and inbox tests: the service with its directory projection
//! running, a few units, staff tokens, and small request helpers.

#![allow(dead_code)] // Each test binary uses its own subset.

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The service, and the directory projection following its store until the test ends.
pub struct App {
    pub app: TestApp,
    _directory: DropGuard,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Starts the service and makes sure the directory projection runs on its database. Running it
/// here as well as in the service (once the composition root starts it) is harmless: runners
/// take turns on the checkpoint row.
pub async fn spawn() -> App {
    let app = TestApp::spawn().await;
    eventstore::migrate(
        &app.db.admin_url,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await
    .expect("projection migrations");
    let cancel = CancellationToken::new();
    tokio::spawn(projections::runner::run(
        app.store.clone(),
        projections::directory::Directory,
        cancel.clone(),
    ));
    App {
        app,
        _directory: cancel.drop_guard(),
    }
}

/// A vårdcentral (region).
pub const VC: &str = "vc-gardet";
/// Hemtjänst (municipality).
pub const HT: &str = "hemtjanst-ost";

/// Registers a unit as the administrator.
pub async fn register_unit(app: &TestApp, id: &str, kind: &str, uses_samplan: bool) -> Value {
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({
                "id": id,
                "name": format!("Enheten {id}"),
                "principal": {"kind": kind, "name": "Region Testlän"},
                "uses_samplan": uses_samplan,
                "address": "Box 1, 123 45 Testby",
                "phone": "010-123 00 00",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "registering {id}: {body}");
    body
}

/// The two units of most tests.
pub async fn units(app: &TestApp) {
    register_unit(app, VC, "region", true).await;
    register_unit(app, HT, "municipality", true).await;
}

/// A nurse at the vårdcentral.
pub fn nurse(app: &TestApp) -> String {
    app.staff_token("SE2321000016-VC11", VC)
}

/// Registers a person; returns the whole write answer.
pub async fn register_person(app: &TestApp, token: &str, pin: &str, name: &str) -> Value {
    let (status, headers, body) = app
        .post(
            "/api/v1/persons",
            token,
            &json!({
                "personal_identity_number": pin,
                "name": name,
                "phone": "070-111 22 33",
                "address": "Storgatan 1, 123 45 Testby",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "registering {name}: {body}");
    // The answer names the person's address.
    let location = headers.get("location").and_then(|v| v.to_str().ok());
    let address = format!(
        "/api/v1/persons/{}",
        body["id"].as_str().unwrap_or_default()
    );
    assert_eq!(location, Some(address.as_str()), "registering {name}");
    body
}

/// Asserts a problem answer with this status and code.
#[track_caller]
pub fn problem(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
}
