//! Rules that follow the deployment's policy profile (`SAMPLAN_POLICY`), through the HTTP API.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use sips_support::*;

/// A plan under `policy` whose meeting the coordinator led and minuted alone.
async fn meeting_led_and_minuted_by_one(
    policy: &str,
) -> (TestApp, String, (StatusCode, serde_json::Value)) {
    let app = TestApp::spawn_with(|config| config.policy = policy.to_string()).await;
    let mut w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1",
            "purpose": "meeting",
            "scheduled_at": "2026-03-12T09:00:00+01:00",
            "form": "phone",
            "reason": "Kort avstämning per telefon.",
            "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "person"}],
        }),
    )
    .await);
    set_time(&app, &mut w, "2026-03-12T10:30:00Z");
    let answer = command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({
            "invitation_id": "inv-1",
            "held_at": "2026-03-12T09:00:00+01:00",
            "attendees": [{"name": "Tolvan Tolvansson", "role": "person"}],
            "chair": "Vera Vårdcentral",
            "secretary": "vera vårdcentral",
            "follow_up_on": "2026-06-12",
        }),
    )
    .await;
    (app, sip, answer)
}

#[tokio::test]
async fn one_person_may_lead_and_minute_a_meeting_unless_the_profile_asks_for_two() {
    // Norrbotten (002) and Örebro (001: "Samordnande fast vårdkontakt leder SIP-mötet") name no
    // secretary; Stockholm (003): "Mötesledare och mötessekreterare … ska inte vara samma person".
    for policy in ["norrbotten", "orebro"] {
        let (app, sip, answer) = meeting_led_and_minuted_by_one(policy).await;
        let written = ok(answer);
        assert_eq!(written["events"], json!(["MeetingHeld"]), "{policy}");
        assert_eq!(
            version(&app, &sip).await,
            written["version"].as_i64().unwrap_or(0)
        );
    }
    let (app, sip, answer) = meeting_led_and_minuted_by_one("stockholm").await;
    let before = version(&app, &sip).await;
    problem(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "chair_is_secretary",
    );
    assert_eq!(version(&app, &sip).await, before, "nothing appended");
}

/// `POST /sips` for the world's person in `context`.
async fn start(
    app: &TestApp,
    w: &World,
    context: serde_json::Value,
) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
    let body = json!({"person_id": w.person_id, "identified_by": "staff",
                      "reason": "Utskrivning från slutenvården.", "context": context});
    app.post("/api/v1/sips", &w.vc, &body).await
}

#[tokio::test]
async fn a_discharge_names_its_track_where_the_deadline_is_counted_by_it() {
    // Örebro (001): green and yellow track, the meeting within four weeks of discharge; red,
    // before going home. Without the track there is no deadline to count, so it is asked for.
    let untracked = json!({"kind": "discharge", "discharge_ready_at": "2026-03-10T07:00:00Z"});
    let app = TestApp::spawn_with(|config| config.policy = "orebro".to_string()).await;
    let w = world(&app).await;
    let (status, _, body) = start(&app, &w, untracked.clone()).await;
    problem(
        (status, body),
        StatusCode::UNPROCESSABLE_ENTITY,
        "track_missing",
    );
    let (status, _, body) = start(
        &app,
        &w,
        json!({"kind": "discharge", "track": "red", "discharge_ready_at": "2026-03-10T07:00:00Z"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Norrbotten counts from when the need became known, track or not.
    let app = TestApp::spawn_with(|config| config.policy = "norrbotten".to_string()).await;
    let w = world(&app).await;
    let (status, _, body) = start(&app, &w, untracked).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
