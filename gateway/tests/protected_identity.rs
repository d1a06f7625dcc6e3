//! Skyddade personuppgifter: once a person's identity is marked protected, their address and
//! phone vanish from every staff view, list, message and letter; the name shows only to units
//! that took part before the marking; and the coordinator gets the to-do to close the plan.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, _, body) = app.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

#[tokio::test]
async fn protected_identity_hides_contact_details_everywhere_and_the_name_from_late_comers() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    // The person gets a letter with their address; hemtjänsten takes part.
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting",
            "scheduled_at": "2026-03-17T10:00:00+01:00", "form": "in_person",
            "reason": "Planering.",
            "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "person"}],
        }),
    )
    .await);
    let view = get_ok(&app, &format!("/api/v1/sips/{sip}"), &w.vc).await;
    let person_recipient = |view: &Value| -> Value {
        view["invitations"][0]["recipients"]
            .as_array()
            .expect("recipients")
            .iter()
            .find(|r| r["recipient"]["kind"] == "person")
            .cloned()
            .expect("the person is a recipient")
    };
    assert_eq!(
        person_recipient(&view)["address"],
        "Storgatan 1, 123 45 Testby"
    );

    // A daughter as närstående, with her number, address, personnummer and a note.
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{}/add-relative", w.person_id),
            &w.vc,
            &json!({"relative_id": "dotter", "kind": "relative", "name": "Tova Tolvansson",
                    "phone": "070-555 12 34", "address": "Lillgatan 4, 123 45 Testby",
                    "note": "Bor granne med pappa", "personal_identity_number": "19870101-2398"}),
        )
        .await;
    assert!(status.is_success(), "{body}");

    // Skatteverket marks the identity protected; the vårdcentral records it.
    let (status, _, marked) = app
        .post(
            &format!("/api/v1/persons/{}/mark-protected-identity", w.person_id),
            &w.vc,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    let at = marked["position"].as_i64().expect("position");

    // The plan: no address in the invitation, and closing is the coordinator's to-do.
    let view = get_ok(&app, &format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(person_recipient(&view)["address"], Value::Null);
    let deadlines: Vec<&str> = view["deadlines"]
        .as_array()
        .expect("deadlines")
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(deadlines, vec!["close_plan"]);
    assert!(!view.to_string().contains("Storgatan"), "{view}");
    // A plan to be closed takes no new consent.
    let (status, refused) = command(&app, &w.vc, &sip, "record-consent", &consent()).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("protected_identity")),
        "{refused}"
    );

    // The inbox: the coordinator's only to-do is to close; the letter to-do is gone.
    let todos = get_ok(
        &app,
        &format!("/api/v1/inbox/todos?min_position={at}"),
        &w.vc,
    )
    .await;
    let kinds: Vec<&str> = todos["todos"]
        .as_array()
        .expect("todos")
        .iter()
        .filter_map(|t| t["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["close_plan"]);
    assert_eq!(
        todos["todos"][0]["title"],
        "Avsluta planen: personen har skyddade personuppgifter"
    );
    assert_eq!(todos["todos"][0]["person"]["protected_identity"], true);
    assert_eq!(
        todos["todos"][0]["person"]["name"], "Tolvan Tolvansson",
        "the coordinator's unit took part before"
    );
    let ht_messages = get_ok(
        &app,
        &format!("/api/v1/inbox/messages?min_position={at}"),
        &w.ht,
    )
    .await;
    assert_eq!(
        ht_messages["messages"][0]["person"]["name"],
        "Tolvan Tolvansson"
    );
    // A message that arrived before the marking shows it too.
    assert_eq!(
        ht_messages["messages"][0]["person"]["protected_identity"],
        true
    );
    assert!(!ht_messages.to_string().contains("Storgatan"));

    // The person's record: no address or phone for anyone; the name for units taking part
    // before the marking only.
    let person_path = format!("/api/v1/persons/{}?min_position={at}", w.person_id);
    let for_vc = get_ok(&app, &person_path, &w.vc).await;
    assert_eq!(for_vc["name"], "Tolvan Tolvansson");
    assert_eq!(for_vc["name_hidden"], false);
    assert_eq!(for_vc["address"], Value::Null);
    assert_eq!(for_vc["phone"], Value::Null);
    // The relatives lead to the person: no number, address or note of theirs either.
    let daughter = &for_vc["relatives"][0];
    assert_eq!(daughter["name"], "Tova Tolvansson");
    assert_eq!(
        (&daughter["phone"], &daughter["address"], &daughter["note"]),
        (&Value::Null, &Value::Null, &Value::Null),
        "{daughter}"
    );
    let for_other = get_ok(&app, &person_path, &w.other).await;
    assert_eq!(for_other["name"], "Skyddade personuppgifter");
    assert_eq!(for_other["name_hidden"], true);
    assert_eq!(for_other["address"], Value::Null);
    // A unit that may not see the name sees no relative: a relative's name, number or
    // personnummer would say who the person is.
    assert_eq!(for_other["relatives"], json!([]), "{for_other}");
    for leak in [
        "Tolvan",
        "Tova",
        "070-555",
        "Lillgatan",
        "19870101",
        "granne",
    ] {
        assert!(!for_other.to_string().contains(leak), "{leak}: {for_other}");
    }

    // Sök patient: by name only units that may see the name find the person; by personnummer
    // anyone does, without the name.
    let by_name = get_ok(&app, "/api/v1/persons?q=Tolvan", &w.vc).await;
    assert_eq!(by_name["persons"].as_array().map(Vec::len), Some(1));
    let by_name = get_ok(&app, "/api/v1/persons?q=Tolvan", &w.other).await;
    assert_eq!(by_name["persons"], json!([]));
    let by_pin = get_ok(&app, "/api/v1/persons?q=19121212-1212", &w.other).await;
    assert_eq!(by_pin["persons"][0]["name"], "Skyddade personuppgifter");
    assert_eq!(by_pin["persons"][0]["name_hidden"], true);

    // A unit that joins after the marking (psychiatry takes over as coordinator) sees the plan
    // in its lists, without the name.
    let changed = ok(command(
        &app,
        &w.vc,
        &sip,
        "change-coordinator",
        &json!({"staff_id": "SE2321000016-PS01", "name": "Per Psykiatri", "unit_id": PSYK}),
    )
    .await);
    let at = changed["position"].as_i64().expect("position");
    let psyk = get_ok(
        &app,
        &format!("/api/v1/inbox/todos?min_position={at}"),
        &w.psyk,
    )
    .await;
    assert_eq!(psyk["todos"][0]["kind"], "close_plan");
    assert_eq!(psyk["todos"][0]["person"]["name"], Value::Null);
    assert_eq!(psyk["todos"][0]["person"]["birth_year"], Value::Null);
    assert_eq!(psyk["todos"][0]["person"]["protected_identity"], true);
    let psyk_sips = get_ok(
        &app,
        &format!("/api/v1/inbox/sips?min_position={at}"),
        &w.psyk,
    )
    .await;
    assert_eq!(psyk_sips["sips"][0]["person"]["name"], Value::Null);
    let psyk_messages = get_ok(
        &app,
        &format!("/api/v1/inbox/messages?min_position={at}"),
        &w.psyk,
    )
    .await;
    assert_eq!(psyk_messages["messages"][0]["type"], "coordinator_changed");
    assert_eq!(psyk_messages["messages"][0]["person"]["name"], Value::Null);
    assert_eq!(
        psyk_messages["messages"][0]["person"]["birth_year"],
        Value::Null
    );
    assert!(
        !psyk_messages.to_string().contains("Tolvan"),
        "{psyk_messages}"
    );
    let psyk_person = get_ok(&app, &person_path, &w.psyk).await;
    assert_eq!(psyk_person["name_hidden"], true);
    // …while hemtjänsten, there from before, still does.
    let ht_sips = get_ok(
        &app,
        &format!("/api/v1/inbox/sips?min_position={at}"),
        &w.ht,
    )
    .await;
    assert_eq!(ht_sips["sips"][0]["person"]["name"], "Tolvan Tolvansson");
    assert_eq!(ht_sips["sips"][0]["person"]["protected_identity"], true);

    // Closing ends it.
    let closed = ok(command(
        &app,
        &{ app.staff_token("SE2321000016-PS01", PSYK) },
        &sip,
        "close-plan",
        &json!({"reason": "protected_identity"}),
    )
    .await);
    let at = closed["position"].as_i64().expect("position");
    let psyk = get_ok(
        &app,
        &format!("/api/v1/inbox/todos?min_position={at}"),
        &w.psyk,
    )
    .await;
    assert_eq!(psyk["todos"], json!([]));

    // Rows written before the marking were updated by it, rows after it were written with it:
    // a rebuild, which writes them all after the marking is known, gives the same tables.
    app.assert_rebuild_equals_live("inbox").await;
}

/// A guardian who has protected identity is not found through the child: the child's relative
/// record (linked to the guardian by personnummer) shows no phone, address or note to anyone,
/// and neither name nor personnummer to a unit that took part in none of the guardian's plans
/// before the marking — on the API and the person's page alike.
#[tokio::test]
async fn a_guardian_with_protected_identity_is_not_found_through_the_child() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let guardian = register_person(&app, &w, "19750505-4598", "Greta Gömd").await;
    // The vårdcentral takes part in a plan of hers before she is marked; hemtjänsten never.
    start_plan_for(&app, &w, &guardian).await;
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{guardian}/mark-protected-identity"),
            &w.vc,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let child = register_person(&app, &w, "20150310-2384", "Kim Gömd").await;
    let (status, _, added) = app
        .post(
            &format!("/api/v1/persons/{child}/add-relative"),
            &w.vc,
            &json!({"relative_id": "mamma", "kind": "guardian", "name": "Greta Gömd",
                    "phone": "070-999 88 77", "address": "Hemliga vägen 1, 123 45 Testby",
                    "note": "Nås via skolan", "personal_identity_number": "19750505-4598"}),
        )
        .await;
    assert!(status.is_success(), "{added}");
    let at = added["position"].as_i64().expect("position");

    let path = format!("/api/v1/persons/{child}?min_position={at}");
    let hidden = get_ok(&app, &path, &w.ht).await;
    assert_eq!(
        hidden["relatives"],
        json!([{"relative_id": "mamma", "kind": "guardian",
                "name": "Skyddade personuppgifter", "phone": null, "address": null,
                "note": null, "personal_identity_number": null,
                "protected_identity": true, "name_hidden": true}]),
        "{hidden}"
    );
    let known = get_ok(&app, &path, &w.vc).await;
    assert_eq!(
        known["relatives"],
        json!([{"relative_id": "mamma", "kind": "guardian", "name": "Greta Gömd",
                "phone": null, "address": null, "note": null,
                "personal_identity_number": "19750505-4598",
                "protected_identity": true, "name_hidden": false}]),
        "{known}"
    );

    let (status, html) = app.page(&format!("/patienter/{child}"), &w.ht).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Skyddade personuppgifter"), "{html}");
    for secret in ["Greta", "070-999", "Hemliga", "skolan", "19750505"] {
        assert!(!html.contains(secret), "{secret} on the page: {html}");
    }
}
