//! A follow-up meeting summoned by a kallelse (002: "När man kallar till Uppföljning gör man
//! precis som vid en kallelse till SIP … men man väljer istället Uppföljning"), through the API:
//! recording the follow-up names its kallelse, which is then held — no longer the plan's next
//! meeting in the plan, in Pågående SIP or on Min plan.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

fn invitation<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["invitations"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["invitation_id"] == id))
        .unwrap_or_else(|| panic!("no invitation {id} in {plan}"))
}

#[tokio::test]
async fn recording_a_follow_up_holds_its_kallelse() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-12T09:00:00+01:00"),
    )
    .await);
    set_time(&app, &mut w, "2026-03-12T10:30:00Z");
    ok(command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({
            "invitation_id": "inv-1", "held_at": "2026-03-12T09:00:00+01:00",
            "attendees": [{"name": "Tolvan Tolvansson", "role": "person"}],
            "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst", "follow_up_on": "2026-06-12",
        }),
    )
    .await);
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-fu", "follow_up", "2026-06-12T09:00:00+02:00"),
    )
    .await);
    set_time(&app, &mut w, "2026-06-12T11:00:00Z");
    let follow_up = |invitation: &str| {
        json!({"held_on": "2026-06-12", "invitation_id": invitation, "next_follow_up_on": "2026-12-12",
               "note": "Stödet fungerar; fortsätter som planerat."})
    };
    // The SIP meeting's kallelse is not a follow-up's, and hemtjänsten does not record the
    // plan's follow-up meeting.
    problem(
        command(&app, &w.vc, &sip, "record-follow-up", &follow_up("inv-1")).await,
        StatusCode::CONFLICT,
        "invitation_not_active",
    );
    problem(
        command(&app, &w.ht, &sip, "record-follow-up", &follow_up("inv-fu")).await,
        StatusCode::FORBIDDEN,
        "not_coordinator",
    );
    let (_, _, before) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(invitation(&before, "inv-fu")["held"], false);

    let written = ok(command(&app, &w.vc, &sip, "record-follow-up", &follow_up("inv-fu")).await);
    assert_eq!(written["events"], json!(["FollowUpRecorded"]));
    let position = written["position"].as_i64().expect("position");
    let (status, _, plan) = app
        .get(
            &format!("/api/v1/sips/{sip}?min_position={position}"),
            &w.vc,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(invitation(&plan, "inv-fu")["held"], true);
    // Pågående SIP: no meeting ahead any more, the next follow-up agreed.
    let (status, _, ongoing) = app
        .get(
            &format!("/api/v1/inbox/sips?min_position={position}"),
            &w.vc,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ongoing}");
    let row = ongoing["sips"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["sip_id"] == sip.as_str()))
        .unwrap_or_else(|| panic!("{sip} not in {ongoing}"));
    assert_eq!(row["next_meeting_at"], Value::Null, "{row}");
    assert_eq!(row["next_follow_up_on"], "2026-12-12", "{row}");
    // Twice is once too many.
    problem(
        command(&app, &w.vc, &sip, "record-follow-up", &follow_up("inv-fu")).await,
        StatusCode::CONFLICT,
        "invitation_not_active",
    );
}
