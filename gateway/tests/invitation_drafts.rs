//! "Spara" and "Skicka" of a kallelse through the API (ADR 0021): `save-invitation-draft` keeps
//! an unsent invitation that only the coordinator's unit sees, sends no message and creates no
//! to-do for its recipients; `send-invitation` with the same id sends it.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = app.get(path, token).await;
    (status, body)
}

fn position(answer: &Value) -> i64 {
    answer["position"].as_i64().expect("position")
}

fn kinds(list: &Value, key: &str, field: &str) -> Vec<String> {
    list[key]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_saved_kallelse_reaches_nobody_until_it_is_sent() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let draft = json!({
        "invitation_id": "inv-1", "purpose": "meeting", "form": "in_person",
        "reason": "Gemensam planering av stöd i hemmet.",
        "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "person"}],
    });

    // Only the coordinator saves; a unit outside the plan does not even learn it exists.
    problem(
        command(&app, &w.vc_colleague, &sip, "save-invitation-draft", &draft).await,
        StatusCode::FORBIDDEN,
        "not_coordinator",
    );
    problem(
        command(&app, &w.ht, &sip, "save-invitation-draft", &draft).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let saved = ok(command(&app, &w.vc, &sip, "save-invitation-draft", &draft).await);
    let at = position(&saved);

    // The coordinator's unit sees the draft, incomplete as it is (no time yet).
    let (status, plan) = get(
        &app,
        &w.vc,
        &format!("/api/v1/sips/{sip}?min_position={at}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["invitations"], json!([]));
    assert_eq!(plan["invitation_drafts"][0]["invitation_id"], "inv-1");
    assert_eq!(plan["invitation_drafts"][0]["scheduled_at"], Value::Null);
    assert_eq!(plan["phase"], "preparing");

    // Hemtjänsten: not a participant through a draft, no message, no to-do.
    let (status, _) = get(
        &app,
        &w.ht,
        &format!("/api/v1/sips/{sip}?min_position={at}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, messages) = get(
        &app,
        &w.ht,
        &format!("/api/v1/inbox/messages?min_position={at}"),
    )
    .await;
    assert!(
        kinds(&messages, "messages", "type").is_empty(),
        "{messages}"
    );
    let (_, todos) = get(
        &app,
        &w.ht,
        &format!("/api/v1/inbox/todos?min_position={at}"),
    )
    .await;
    assert!(kinds(&todos, "todos", "kind").is_empty(), "{todos}");

    // Edited and sent ("Skicka") under the same id.
    let sent = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting", "form": "in_person",
            "scheduled_at": "2031-03-17T10:00:00+01:00",
            "reason": "Gemensam planering av stöd i hemmet.",
            "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "person"}],
        }),
    )
    .await);
    let at = position(&sent);
    let (_, plan) = get(
        &app,
        &w.vc,
        &format!("/api/v1/sips/{sip}?min_position={at}"),
    )
    .await;
    assert_eq!(plan["invitation_drafts"], json!([]));
    assert_eq!(plan["invitations"][0]["invitation_id"], "inv-1");
    let (_, messages) = get(
        &app,
        &w.ht,
        &format!("/api/v1/inbox/messages?min_position={at}"),
    )
    .await;
    assert_eq!(kinds(&messages, "messages", "type"), ["invitation"]);

    // A sent kallelse cannot be saved as a draft again.
    problem(
        command(&app, &w.vc, &sip, "save-invitation-draft", &draft).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "id_already_used",
    );
}
