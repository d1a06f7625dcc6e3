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
