//! Min plan, the 1177 mirror: the person reads their published plan and never a draft; 1177's
//! rules decide which guardians read a child's plans; a stranger gets 404; protected identity
//! ends a guardian's access and hides contact details from the FHIR export, which an independent
//! FHIR R4 library validates.

mod sips_support;

use gateway::auth::{mint_token, Claims};
use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Parents, children and a stranger (personnummer with valid check digits). Today is
/// 2026-03-10.
const PARENT_A: &str = "19800101-0001";
const PARENT_B: &str = "19820202-0007";
const STRANGER: &str = "19750303-0004";
/// 14 years old: between 13 and 15, read by neither by default.
const CHILD_14: &str = "20110615-2380";
/// 12 years old: read by every guardian.
const CHILD_12: &str = "20140120-2393";

/// A citizen's token: `sub` the person's id (or another id for someone not registered), and the
/// personnummer the sign-in established.
fn citizen(app: &TestApp, sub: &str, pin: Option<&str>) -> String {
    let now = app.clock.now().timestamp();
    mint_token(
        app.secret(),
        &Claims {
            sub: sub.to_owned(),
            role: "citizen".into(),
            unit: None,
            name: "Medborgare".into(),
            personal_identity_number: pin.map(str::to_owned),
            iat: now,
            exp: now + 3_600,
            nbf: None,
            iss: "samplan".into(),
            aud: "samplan".into(),
        },
    )
}

fn unregistered() -> String {
    ulid::Ulid::generate().to_string()
}

async fn get(app: &TestApp, path: &str, token: &str, position: i64) -> (StatusCode, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let (status, _, body) = app
        .get(&format!("{path}{sep}min_position={position}"), token)
        .await;
    (status, body)
}

async fn head(app: &TestApp) -> i64 {
    app.store.head_position().await.expect("head")
}

/// Registers a child with guardians (each with their personnummer); returns the child's id.
async fn child(app: &TestApp, w: &World, pin: &str, name: &str, guardians: &[&str]) -> String {
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &w.vc,
            &json!({"personal_identity_number": pin, "name": name,
                    "address": "Skolvägen 2, 123 45 Testby", "phone": "070-111 22 33"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    for (n, guardian) in guardians.iter().enumerate() {
        let (status, _, body) = app
            .post(
                &format!("/api/v1/persons/{id}/add-relative"),
                &w.vc,
                &json!({"relative_id": format!("g{n}"), "kind": "guardian",
                        "name": format!("Vårdnadshavare {n}"), "personal_identity_number": guardian}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    id
}

/// A plan for `person_id` taken to its first meeting, with consent from `givers`: the
/// vårdcentral coordinates, hemtjänst takes part.
async fn plan_with_meeting(app: &TestApp, w: &World, person_id: &str, givers: &[Value]) -> String {
    let (status, _, body) = app
        .post(
            "/api/v1/sips",
            &w.vc,
            &json!({"person_id": person_id, "identified_by": "staff",
                    "reason": "Behöver samordnade insatser.", "context": {"kind": "outpatient"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sip = body["id"].as_str().expect("id").to_owned();
    for giver in givers {
        let mut c = consent();
        c["given_by"] = giver.clone();
        ok(command(app, &w.vc, &sip, "record-consent", &c).await);
    }
    ok(command(app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    ok(command(
        app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({"invitation_id": "inv-1", "purpose": "meeting",
                "scheduled_at": "2026-03-12T09:00:00+01:00", "form": "in_person",
                "place": "Vårdcentralen Centrum", "reason": "Gemensam planering.",
                "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "unit", "unit_id": PSYK}]}),
    )
    .await);
    ok(command(
        app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({"invitation_id": "inv-1", "held_at": "2026-03-10T09:00:00+01:00",
                "attendees": [{"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
                "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst",
                "follow_up_on": "2026-06-12", "sip_survey_offered": true}),
    )
    .await);
    sip
}

/// Hemtjänsten drafts its sub-goal ("Städat hem varje vecka.") and its intervention
/// ("Städning varannan vecka.", from `from`), unpublished.
async fn hemtjanst_drafts_its_part(app: &TestApp, w: &World, sip: &str, from: &str) {
    ok(command(
        app,
        &w.ht,
        sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht", "heading": "daily_living", "text": "Städat hem varje vecka.",
                "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    ok(command(
        app,
        &w.ht,
        sip,
        "document-intervention",
        &json!({"intervention_id": "in-ht", "sub_goal_id": "sg-ht", "what": "Städning varannan vecka.",
                "responsible": {"kind": "unit", "unit_id": HT}, "performer": "Hemtjänstpersonalen",
                "contact": "Hemtjänst Norr, 010-123 45 67", "from": from}),
    )
    .await);
}

/// The coordinator writes and publishes the main goal.
async fn publish_main_goal(app: &TestApp, w: &World, sip: &str, text: &str) -> i64 {
    ok(command(
        app,
        &w.vc,
        sip,
        "document-main-goal",
        &json!({ "text": text }),
    )
    .await);
    let answer = ok(command(app, &w.vc, sip, "publish-contribution", &json!({})).await);
    answer["position"].as_i64().expect("position")
}

/// The coordinator calls `recipients` to follow-up `inv-2` on 12 June, 10.00.
async fn call_to_follow_up(app: &TestApp, w: &World, sip: &str, recipients: Value) -> Value {
    ok(command(
        app,
        &w.vc,
        sip,
        "send-invitation",
        &json!({"invitation_id": "inv-2", "purpose": "follow_up",
                "scheduled_at": "2026-06-12T10:00:00+02:00", "form": "in_person",
                "place": "Vårdcentralen Centrum", "reason": "Uppföljning av planen.",
                "recipients": recipients}),
    )
    .await)
}

fn plan_ids(list: &Value) -> Vec<(String, String)> {
    list["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_owned(),
                p["relation"].as_str().expect("relation").to_owned(),
            )
        })
        .collect()
}

async fn access_log_actions(app: &TestApp, person_id: &str) -> Vec<String> {
    let client = app.store.pool().get().await.expect("connection");
    client
        .query(
            "SELECT action FROM access_log WHERE (person_id = $1 OR person_ids @> ARRAY[$1::text]) \
               AND role = 'citizen' ORDER BY id",
            &[&person_id],
        )
        .await
        .expect("access log")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn the_person_reads_what_was_published_never_a_draft_and_a_stranger_gets_404() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    let me = citizen(&app, &w.person_id, None);
    let at = head(&app).await;

    // Nothing published: the plan does not exist for the person.
    let (status, list) = get(&app, "/api/v1/me/plans", &me, at).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(plan_ids(&list), vec![]);
    let (status, body) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");

    // Hemtjänst drafts its sub-goal and intervention; psykiatrin drafts one it never publishes.
    hemtjanst_drafts_its_part(&app, &w, &sip, "2026-03-16").await;
    ok(command(
        &app,
        &w.psyk,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-psyk", "heading": "mental_health", "text": "HEMLIGT UTKAST",
                "responsible": {"kind": "unit", "unit_id": PSYK}}),
    )
    .await);
    let at = publish_main_goal(&app, &w, &sip, "Jag vill kunna bo kvar hemma.").await;

    // The coordinator's publication: the plan shows, with the main goal only.
    let (status, list) = get(&app, "/api/v1/me/plans", &me, at).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(plan_ids(&list), vec![(sip.clone(), "own".to_owned())]);
    let summary = &list["plans"][0];
    assert_eq!(summary["main_goal"], "Jag vill kunna bo kvar hemma.");
    assert_eq!(summary["status"], "active");
    assert_eq!(summary["status_text"], "Pågående");
    assert_eq!(summary["person"]["birth_year"], 1912);
    assert_eq!(
        summary["coordinator"]["unit"]["name"],
        "Vårdcentralen Centrum"
    );
    assert_eq!(summary["next_follow_up_on"], "2026-06-12");
    let (status, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["headings"], json!([]), "drafts are not shown: {plan}");
    assert_eq!(plan["coordinator"]["unit"]["id"], VC);

    // Hemtjänst publishes: its sub-goal under its heading, with the intervention and who to call.
    let published = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    let at = published["position"].as_i64().expect("position");
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(plan["headings"].as_array().expect("headings").len(), 1);
    let heading = &plan["headings"][0];
    assert_eq!(heading["heading"], "daily_living");
    assert_eq!(heading["heading_text"], "Hem och vardag");
    assert_eq!(heading["sub_goals"][0]["text"], "Städat hem varje vecka.");
    assert_eq!(
        heading["sub_goals"][0]["responsible"]["text"],
        "Hemtjänst Norr"
    );
    let intervention = &heading["sub_goals"][0]["interventions"][0];
    assert_eq!(intervention["what"], "Städning varannan vecka.");
    assert_eq!(intervention["performer"], "Hemtjänstpersonalen");
    assert_eq!(intervention["contact"], "Hemtjänst Norr, 010-123 45 67");
    let units: Vec<&str> = plan["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| u["id"].as_str().expect("unit id"))
        .collect();
    assert_eq!(
        units,
        vec![HT, PSYK, VC],
        "every unit taking part, psykiatrin too though it published nothing (ADR 0020: \
         participatingCareUnitHSAId)"
    );

    // The FHIR export carries the same, and never the draft.
    let (status, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    for (status, shown) in [(StatusCode::OK, &plan), (StatusCode::OK, &bundle)] {
        assert_eq!(status, StatusCode::OK);
        assert!(
            !shown.to_string().contains("HEMLIGT UTKAST"),
            "a draft reached the person: {shown}"
        );
    }
    let care_plan = resource(&bundle, "CarePlan");
    assert_eq!(care_plan["status"], "active");
    assert_eq!(care_plan["intent"], "plan");
    assert_eq!(care_plan["category"][0]["coding"][0]["code"], "SIP");
    assert_eq!(care_plan["period"]["start"], "2026-03-10T08:00:00Z");
    assert_eq!(care_plan["goal"].as_array().expect("goals").len(), 2);
    assert_eq!(
        care_plan["activity"].as_array().expect("activities").len(),
        2
    );
    assert_eq!(
        care_plan["activity"][0]["detail"]["status"], "not-started",
        "the intervention starts on 16 March"
    );
    assert_eq!(care_plan["activity"][1]["detail"]["kind"], "Appointment");
    let goals = resources(&bundle, "Goal");
    let categories: Vec<&str> = goals
        .iter()
        .map(|g| g["category"][0]["text"].as_str().expect("category"))
        .collect();
    assert_eq!(categories, vec!["Huvudmål", "Hem och vardag"]);
    let organizations: Vec<&str> = resources(&bundle, "Organization")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(
        organizations.contains(&"Psykiatriska mottagningen"),
        "every unit taking part is an Organization: {organizations:?}"
    );
    let patient = resource(&bundle, "Patient");
    assert_eq!(patient["identifier"][0]["value"], "191212121212");
    assert_eq!(patient["address"][0]["text"], "Storgatan 1, 123 45 Testby");
    validate_fhir(&bundle);

    // Every read is in the access log as the person's own.
    let actions = access_log_actions(&app, &w.person_id).await;
    assert!(
        actions.contains(&"patient_plan.read".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"patient_plan.fhir".to_owned()),
        "{actions:?}"
    );
    // Each names the plan it read, the list's reads too (a review found those without it).
    let client = app.store.pool().get().await.expect("connection");
    let unnamed: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE role = 'citizen' AND sip_id IS DISTINCT FROM $1",
            &[&sip],
        )
        .await
        .expect("access log")
        .get(0);
    assert_eq!(unnamed, 0, "every citizen read names the plan");

    // A stranger, signed in with their own personnummer, sees nothing and learns nothing.
    let stranger_sub = unregistered();
    let stranger = citizen(&app, &stranger_sub, Some(STRANGER));
    let (_, list) = get(&app, "/api/v1/me/plans", &stranger, at).await;
    assert_eq!(plan_ids(&list), vec![]);
    for path in [
        format!("/api/v1/me/plans/{sip}"),
        format!("/api/v1/me/plans/{sip}/fhir"),
        format!("/api/v1/me/plans/{}", unregistered()),
        "/api/v1/me/plans/not-an-id".to_owned(),
    ] {
        let (status, body) = get(&app, &path, &stranger, at).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // But the person's log shows the two attempts on the plan (they are logged beside the
    // answer, so they may land a moment after it).
    let mut refused = Vec::new();
    for _ in 0..50 {
        refused = client
            .query(
                "SELECT sip_id FROM access_log WHERE action = 'patient_plan.refused' \
                   AND person_id = $1 AND actor = $2",
                &[&w.person_id, &stranger_sub],
            )
            .await
            .expect("access log")
            .iter()
            .map(|r| r.get::<_, Option<String>>(0))
            .collect();
        if refused.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(refused, vec![Some(sip.clone()), Some(sip.clone())]);
    // Staff read plans through their own routes, not Min plan.
    let (status, body) = get(&app, "/api/v1/me/plans", &w.vc, at).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Protected identity: the FHIR Patient loses address and phone.
    let marked = app
        .post(
            &format!("/api/v1/persons/{}/mark-protected-identity", w.person_id),
            &w.vc,
            &json!({}),
        )
        .await;
    assert!(marked.0.is_success(), "{}", marked.2);
    let at = marked.2["position"].as_i64().expect("position");
    let (status, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    let patient = resource(&bundle, "Patient");
    assert!(patient.get("address").is_none(), "{patient}");
    assert!(patient.get("telecom").is_none(), "{patient}");
    assert!(!bundle.to_string().contains("Storgatan"), "{bundle}");
    validate_fhir(&bundle);
}

#[tokio::test]
async fn guardians_read_a_childs_plan_until_13_and_never_with_protected_identity() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let twelve = child(
        &app,
        &w,
        CHILD_12,
        "Liten Tolvansson",
        &[PARENT_A, PARENT_B],
    )
    .await;
    let fourteen = child(&app, &w, CHILD_14, "Stor Tolvansson", &[PARENT_A]).await;
    let guardian = |n: usize| json!({"kind": "guardian", "relative_id": format!("g{n}")});
    let plan_12 = plan_with_meeting(&app, &w, &twelve, &[guardian(0), guardian(1)]).await;
    publish_main_goal(&app, &w, &plan_12, "Trivas i skolan.").await;
    let plan_14 = plan_with_meeting(&app, &w, &fourteen, &[guardian(0)]).await;
    let at = publish_main_goal(&app, &w, &plan_14, "Komma tillbaka till skolan.").await;

    // Both guardians of the 12-year-old read the plan, signed in as themselves.
    let parent_a = citizen(&app, &unregistered(), Some(PARENT_A));
    let parent_b = citizen(&app, &unregistered(), Some(PARENT_B));
    let (_, list) = get(&app, "/api/v1/me/plans", &parent_a, at).await;
    assert_eq!(
        plan_ids(&list),
        vec![(plan_12.clone(), "guardian".to_owned())]
    );
    assert_eq!(list["plans"][0]["person"]["name"], "Liten Tolvansson");
    // The child's log says a guardian read it, not the child (the extract's action).
    assert_eq!(
        access_log_actions(&app, &twelve).await,
        vec!["patient_plan.read_by_guardian"]
    );
    let (_, list) = get(&app, "/api/v1/me/plans", &parent_b, at).await;
    assert_eq!(
        plan_ids(&list),
        vec![(plan_12.clone(), "guardian".to_owned())]
    );
    let (status, plan) = get(&app, &format!("/api/v1/me/plans/{plan_12}"), &parent_b, at).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["main_goal"], "Trivas i skolan.");
    let (status, bundle) = get(
        &app,
        &format!("/api/v1/me/plans/{plan_12}/fhir"),
        &parent_a,
        at,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    validate_fhir(&bundle);

    // The 14-year-old's plan: neither the guardian nor the child (the default).
    let (status, _) = get(&app, &format!("/api/v1/me/plans/{plan_14}"), &parent_a, at).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let the_14_year_old = citizen(&app, &fourteen, Some(CHILD_14));
    let (_, list) = get(&app, "/api/v1/me/plans", &the_14_year_old, at).await;
    assert_eq!(plan_ids(&list), vec![]);
    // Nor does the 12-year-old read their own.
    let the_12_year_old = citizen(&app, &twelve, None);
    let (status, _) = get(
        &app,
        &format!("/api/v1/me/plans/{plan_12}"),
        &the_12_year_old,
        at,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Protected identity of the child ends the guardians' access.
    let marked = app
        .post(
            &format!("/api/v1/persons/{twelve}/mark-protected-identity"),
            &w.vc,
            &json!({}),
        )
        .await;
    assert!(marked.0.is_success(), "{}", marked.2);
    let at = marked.2["position"].as_i64().expect("position");
    let (_, list) = get(&app, "/api/v1/me/plans", &parent_a, at).await;
    assert_eq!(plan_ids(&list), vec![]);
    let (status, _) = get(&app, &format!("/api/v1/me/plans/{plan_12}"), &parent_b, at).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Persons, guardians, protected identity and plans: a rebuild gives the same tables.
    let rows = app.assert_rebuild_equals_live("patient").await;
    assert!(
        rows >= 7,
        "persons, guardians and plans were compared: {rows}"
    );
}

/// Who is recorded as a child's guardian is staff's entry, which any unit with a plan for the
/// child may make (an outside review: a unit started a plan of its own, recorded a stranger as
/// guardian, and the stranger read another unit's plan in Min plan). A guardian reads the plans
/// they consented to as guardian; a guardian recorded later reads a plan once its coordinator
/// has their consent, as the plan needs anyway (ADR 0050).
#[tokio::test]
async fn a_guardian_recorded_later_reads_only_the_plans_they_consented_to() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let twelve = child(&app, &w, CHILD_12, "Liten Tolvansson", &[PARENT_A]).await;
    let guardian = |id: &str| json!({"kind": "guardian", "relative_id": id});
    let plan = plan_with_meeting(&app, &w, &twelve, &[guardian("g0")]).await;
    publish_main_goal(&app, &w, &plan, "Trivas i skolan.").await;

    // Hemtjänsten, in none of the child's plans, starts one of its own and records a guardian.
    let (status, _, body) = app
        .post(
            "/api/v1/sips",
            &w.ht,
            &json!({"person_id": twelve, "identified_by": "staff",
                    "reason": "Behöver stöd i hemmet.", "context": {"kind": "outpatient"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{twelve}/add-relative"),
            &w.ht,
            &json!({"relative_id": "g9", "kind": "guardian", "name": "Ny Vårdnadshavare",
                    "personal_identity_number": STRANGER}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let at = head(&app).await;

    let stranger = citizen(&app, &unregistered(), Some(STRANGER));
    let (status, list) = get(&app, "/api/v1/me/plans", &stranger, at).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        plan_ids(&list),
        vec![],
        "the vårdcentral's plan is not theirs to read"
    );
    let (status, _) = get(&app, &format!("/api/v1/me/plans/{plan}"), &stranger, at).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(
        &app,
        &format!("/api/v1/me/plans/{plan}/fhir"),
        &stranger,
        at,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, html) = web_page(&app, &format!("/min-plan/{plan}"), &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{html}");
    assert!(!html.contains("Trivas i skolan."), "{html}");
    // The guardian who consented reads it as before.
    let parent_a = citizen(&app, &unregistered(), Some(PARENT_A));
    let (_, list) = get(&app, "/api/v1/me/plans", &parent_a, at).await;
    assert_eq!(plan_ids(&list), vec![(plan.clone(), "guardian".to_owned())]);

    // The plan's coordinator is told (Meddelanden), naming who did it and whom...
    let (status, messages) = get(
        &app,
        "/api/v1/inbox/messages?type=guardians_changed",
        &w.vc,
        at,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{messages}");
    let told = messages["messages"].as_array().expect("messages");
    assert_eq!(told.len(), 1, "{messages}");
    assert_eq!(told[0]["subject"], "Vårdnadshavare registrerad");
    assert_eq!(told[0]["sip_id"], plan.as_str());
    assert!(
        told[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("Ny Vårdnadshavare")),
        "{messages}"
    );
    // ... and hemtjänsten, which did it, is not.
    let (_, theirs) = get(
        &app,
        "/api/v1/inbox/messages?type=guardians_changed",
        &w.ht,
        at,
    )
    .await;
    assert_eq!(
        theirs["messages"].as_array().map(Vec::len),
        Some(0),
        "{theirs}"
    );
    // The plan's coordinator is asked for the new guardian's consent (the plan needs it).
    let (status, todos) = get(&app, "/api/v1/inbox/todos", &w.vc, at).await;
    assert_eq!(status, StatusCode::OK, "{todos}");
    assert!(
        todos.to_string().contains("Inhämta samtycke") && todos.to_string().contains(&plan),
        "{todos}"
    );
    // The plan's coordinator records the new guardian's consent: from then on they read it.
    let mut c = consent();
    c["given_by"] = guardian("g9");
    let answer = ok(command(&app, &w.vc, &plan, "record-consent", &c).await);
    let at = answer["position"].as_i64().expect("position");
    let (_, list) = get(&app, "/api/v1/me/plans", &stranger, at).await;
    assert_eq!(plan_ids(&list), vec![(plan.clone(), "guardian".to_owned())]);

    let rows = app.assert_rebuild_equals_live("patient").await;
    assert!(
        rows >= 4,
        "persons, guardians and plans were compared: {rows}"
    );
    // The message about the guardian too: a rebuild sends it again, with the same id.
    let rows = app.assert_rebuild_equals_live("inbox").await;
    assert!(rows > 0, "the inbox was compared: {rows}");
}

#[tokio::test]
async fn a_deployment_may_let_guardians_read_a_young_teens_plan() {
    let app = TestApp::spawn_with(|config| {
        config.young_teen_access = domain::citizen::YoungTeenAccess::Guardians;
    })
    .await;
    let w = world(&app).await;
    let fourteen = child(&app, &w, CHILD_14, "Stor Tolvansson", &[PARENT_A]).await;
    let plan_14 = plan_with_meeting(
        &app,
        &w,
        &fourteen,
        &[json!({"kind": "guardian", "relative_id": "g0"})],
    )
    .await;
    let at = publish_main_goal(&app, &w, &plan_14, "Komma tillbaka till skolan.").await;
    let parent_a = citizen(&app, &unregistered(), Some(PARENT_A));
    let (_, list) = get(&app, "/api/v1/me/plans", &parent_a, at).await;
    assert_eq!(plan_ids(&list), vec![(plan_14, "guardian".to_owned())]);
    // The young person still does not.
    let the_14_year_old = citizen(&app, &fourteen, Some(CHILD_14));
    let (_, list) = get(&app, "/api/v1/me/plans", &the_14_year_old, at).await;
    assert_eq!(plan_ids(&list), vec![]);
    // And Min plan tells them why it shows nothing, rather than that there is nothing.
    let (status, page) = web_page(&app, "/min-plan", &the_14_year_old).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("från det att du fyller 16 år"), "{page}");
    assert!(!page.contains("Just nu finns ingen plan"), "{page}");
    // A grown-up without plans is told there is none.
    let parent_a = citizen(&app, &unregistered(), Some(PARENT_A));
    let (_, page) = web_page(&app, "/min-plan", &parent_a).await;
    assert!(!page.contains("fyller 16"), "{page}");
}

/// `GET path` of the web client, signed in with `token` as the session cookie: the status and
/// the page.
async fn web_page(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let (status, _, body) = app
        .send(
            reqwest::Client::new()
                .get(app.url(path))
                .header("cookie", format!("samplan_session={token}")),
        )
        .await;
    (status, body.as_str().unwrap_or_default().to_owned())
}

/// Min plan as the web page shows it, signed in with `token` as the session cookie.
async fn min_plan_page(app: &TestApp, sip: &str, token: &str) -> String {
    let (status, page) = web_page(app, &format!("/min-plan/{sip}"), token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

#[tokio::test]
async fn a_meeting_whose_time_has_passed_is_not_the_next_meeting() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let sip = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    publish_main_goal(&app, &w, &sip, "Jag vill kunna bo kvar hemma.").await;
    // A follow-up is called on the agreed day (08:00 UTC); recording the follow-up names no
    // kallelse, so the read model keeps it as the earliest active one after its time.
    let sent = call_to_follow_up(
        &app,
        &w,
        &sip,
        json!([{"kind": "person"}, {"kind": "unit", "unit_id": HT}]),
    )
    .await;
    let at = sent["position"].as_i64().expect("position");

    // Before the meeting: it is the next one, in the list, the plan, the FHIR export and the page.
    let me = citizen(&app, &w.person_id, None);
    let (_, list) = get(&app, "/api/v1/me/plans", &me, at).await;
    assert_eq!(
        list["plans"][0]["next_meeting"]["scheduled_at"], "2026-06-12T08:00:00Z",
        "{list}"
    );
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(plan["next_meeting"]["purpose"], "follow_up", "{plan}");
    assert_eq!(plan["next_meeting"]["scheduled_at"], "2026-06-12T08:00:00Z");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    let appointment = |bundle: &Value| {
        resource(bundle, "CarePlan")["activity"]
            .as_array()
            .expect("activities")
            .iter()
            .find(|a| a["detail"]["kind"] == "Appointment")
            .map(|a| a["detail"]["scheduledPeriod"]["start"].clone())
    };
    assert_eq!(appointment(&bundle), Some(json!("2026-06-12T08:00:00Z")));
    let appointment_code = |bundle: &Value| {
        resource(bundle, "CarePlan")["activity"]
            .as_array()
            .expect("activities")
            .iter()
            .find(|a| a["detail"]["kind"] == "Appointment")
            .map(|a| a["detail"]["code"]["text"].clone())
    };
    assert_eq!(appointment_code(&bundle), Some(json!("Uppföljning")));
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(page.contains("Uppföljning: "), "{page}");
    assert!(
        !page.contains("Planen följs upp"),
        "the follow-up called is the follow-up, not a second date beside it: {page}"
    );

    // An hour after it began: no "Nästa möte" anywhere; the agreed follow-up date still shows.
    app.clock
        .set("2026-06-12T09:00:00Z".parse().expect("an instant"));
    let me = citizen(&app, &w.person_id, None);
    let (_, list) = get(&app, "/api/v1/me/plans", &me, at).await;
    assert_eq!(list["plans"][0]["next_meeting"], Value::Null, "{list}");
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(plan["next_meeting"], Value::Null, "{plan}");
    assert_eq!(plan["next_follow_up_on"], "2026-06-12");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(
        appointment(&bundle),
        Some(json!("2026-06-12")),
        "only the agreed date, not the passed meeting: {bundle}"
    );
    validate_fhir(&bundle);
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(!page.contains("Uppföljning: "), "{page}");
    assert!(page.contains("Planen följs upp"), "{page}");

    // A new SIP-möte the person is called to later is told as one, not as the follow-up.
    w.refresh(&app);
    let sent = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({"invitation_id": "inv-3", "purpose": "meeting",
                "scheduled_at": "2026-06-20T10:00:00+02:00", "form": "video",
                "reason": "Behoven har ändrats.",
                "recipients": [{"kind": "person"}, {"kind": "unit", "unit_id": HT}]}),
    )
    .await);
    let at = sent["position"].as_i64().expect("position");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(appointment(&bundle), Some(json!("2026-06-20T08:00:00Z")));
    assert_eq!(
        appointment_code(&bundle),
        Some(json!("SIP-möte")),
        "{bundle}"
    );
    validate_fhir(&bundle);
    // On the page under a heading of its own, beside the follow-up's agreed date.
    let page = min_plan_page(&app, &sip, &me).await;
    let meeting = page
        .find("<h2 id=\"rubrik-mote\">Nästa möte</h2>")
        .expect("Nästa möte");
    assert!(page[meeting..].contains("SIP-möte: "), "{page}");
    assert!(page.contains("Planen följs upp"), "{page}");
}

// ---- FHIR ---------------------------------------------------------------------------------

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn resource<'a>(bundle: &'a Value, kind: &str) -> &'a Value {
    let found = resources(bundle, kind);
    assert_eq!(found.len(), 1, "one {kind} in {bundle}");
    found[0]
}

/// A Python with `fhir.resources` 6.5 and `pydantic<2`: `SAMPLAN_FHIR_PYTHON` when
/// `scripts/test` made one, else a virtual environment made once here under `target/` (test
/// processes run in parallel: the first to take the lock builds it, the others wait for it).
fn fhir_python() -> PathBuf {
    if let Some(python) = std::env::var_os("SAMPLAN_FHIR_PYTHON") {
        return PathBuf::from(python);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let venv = target.join("fhir-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(".ready");
    let lock = target.join("fhir-venv.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !ready.exists() {
        if std::fs::create_dir(&lock).is_ok() {
            let built = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(&python)
                    .args(["-m", "pip", "install", "--quiet"])
                    .args(["fhir.resources==6.5.*", "pydantic<2"])
                    .status()
                    .is_ok_and(|s| s.success());
            if built {
                std::fs::write(&ready, b"").expect("marking the venv ready");
            }
            let _ = std::fs::remove_dir(&lock);
            assert!(built, "making a venv with fhir.resources failed");
        } else {
            assert!(
                std::time::Instant::now() < deadline,
                "waited too long for another test to make the venv"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    python
}

/// Validates `bundle` with `fhir.resources` (R4): every resource against its model, the
/// references between entries, and the status and intent codes against R4's value sets.
fn validate_fhir(bundle: &Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhir/validate.py");
    let dir = std::env::temp_dir().join(format!("samplan-fhir-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bundle.json");
    std::fs::write(&file, bundle.to_string()).expect("writing the bundle");
    let out = Command::new(fhir_python())
        .arg(&script)
        .arg(&file)
        .output()
        .expect("the validator runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "FHIR validation failed:\n{}\n{}\n{bundle}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A unit named only in a draft is not yet among those taking part for anyone but the draft's
/// author: the person (Min plan, FHIR) and the other units learn that Försäkringskassan is
/// written into the plan when the coordinator publishes it, not when she drafts it.
#[tokio::test]
async fn a_unit_named_only_in_a_draft_is_not_shown_as_taking_part() {
    const FK: &str = "fk-norr";
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({"id": FK, "name": "Försäkringskassan Norr",
                    "principal": {"kind": "external", "name": "Försäkringskassan"},
                    "uses_samplan": false, "address": "Box 1, 123 45 Testby"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let sip = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    // A renewal names every unit the person lets take part (the newest consent speaks, ADR 0052).
    let mut fk_consent = consent();
    fk_consent["actors"]
        .as_array_mut()
        .expect("actors")
        .push(json!(FK));
    ok(command(&app, &w.vc, &sip, "record-consent", &fk_consent).await);
    publish_main_goal(&app, &w, &sip, "Jag vill kunna bo kvar hemma.").await;
    // The coordinator drafts Försäkringskassan's part (it has no samplan of its own).
    let drafted = ok(command(
        &app,
        &w.vc,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-fk", "heading": "occupation", "text": "Prövning av arbetsförmåga.",
                "responsible": {"kind": "unit", "unit_id": FK}}),
    )
    .await);
    let at = drafted["position"].as_i64().expect("position");
    let me = citizen(&app, &w.person_id, None);
    let unit_ids = |units: &Value| -> Vec<String> {
        units
            .as_array()
            .expect("a list")
            .iter()
            .map(|u| u.as_str().or(u["id"].as_str()).expect("unit id").to_owned())
            .collect()
    };
    let names_fk = |bundle: &Value| bundle.to_string().contains("Försäkringskassan Norr");

    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert!(!unit_ids(&plan["units"]).contains(&FK.to_owned()), "{plan}");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert!(!names_fk(&bundle), "{bundle}");
    let (_, other) = get(&app, &format!("/api/v1/sips/{sip}"), &w.ht, at).await;
    assert!(
        !unit_ids(&other["participants"]).contains(&FK.to_owned()),
        "{other}"
    );
    let (_, author) = get(&app, &format!("/api/v1/sips/{sip}"), &w.vc, at).await;
    assert!(
        unit_ids(&author["participants"]).contains(&FK.to_owned()),
        "the author sees whom her draft names: {author}"
    );

    // Published: everyone may know.
    let published = ok(command(&app, &w.vc, &sip, "publish-contribution", &json!({})).await);
    let at = published["position"].as_i64().expect("position");
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert!(unit_ids(&plan["units"]).contains(&FK.to_owned()), "{plan}");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert!(names_fk(&bundle), "{bundle}");
    let (_, other) = get(&app, &format!("/api/v1/sips/{sip}"), &w.ht, at).await;
    assert!(
        unit_ids(&other["participants"]).contains(&FK.to_owned()),
        "{other}"
    );
}

/// What a unit published stays in the plan when a renewed consent leaves the unit out, but the
/// person is told that unit is no longer in it, beside its goal and intervention, on the page,
/// in the API and in FHIR (an outside review found Min plan and FHIR naming it as working on
/// the plan while listing it no more among those taking part). Named again, it is in it again.
#[tokio::test]
async fn what_a_unit_left_out_by_the_consent_published_is_said_to_be_outside_the_plan() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    hemtjanst_drafts_its_part(&app, &w, &sip, "2026-03-16").await;
    ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    publish_main_goal(&app, &w, &sip, "Jag vill kunna bo kvar hemma.").await;
    let me = citizen(&app, &w.person_id, None);

    let mut renewed = consent();
    renewed["actors"] = json!([VC, PSYK]);
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &renewed).await);
    let at = answer["position"].as_i64().expect("position");
    let (status, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let goal = &plan["headings"][0]["sub_goals"][0];
    assert_eq!(goal["id"], "sg-ht", "{plan}");
    assert_eq!(goal["outside_consent"], true, "{plan}");
    assert_eq!(goal["interventions"][0]["outside_consent"], true, "{plan}");
    assert!(!plan["units"].to_string().contains(HT), "{plan}");
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(
        page.contains(
            "Hemtjänst Norr är inte längre med i planen: ditt samtycke omfattar dem inte."
        ),
        "{page}"
    );
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    let care_plan = resource(&bundle, "CarePlan");
    let detail = &care_plan["activity"][0]["detail"];
    assert_eq!(
        detail["code"]["text"], "Städning varannan vecka.",
        "{care_plan}"
    );
    // Not begun (the plan's clock stands at 10 March): called off before it began.
    assert_eq!(detail["status"], "cancelled", "{care_plan}");
    assert!(
        detail["statusReason"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("inte längre med i planen")),
        "{care_plan}"
    );
    validate_fhir(&bundle);

    // Named again: in the plan again, and nothing said.
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let at = answer["position"].as_i64().expect("position");
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    let goal = &plan["headings"][0]["sub_goals"][0];
    assert_eq!(goal["outside_consent"], false, "{plan}");
    assert_eq!(goal["interventions"][0]["outside_consent"], false, "{plan}");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    let detail = &resource(&bundle, "CarePlan")["activity"][0]["detail"];
    assert_eq!(detail["status"], "not-started", "{detail}");
    assert!(detail.get("statusReason").is_none(), "{detail}");
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(!page.contains("inte längre med i planen"), "{page}");
}

/// Once consent is withdrawn the plan is to be closed and nothing more is done in it: its FHIR
/// CarePlan is revoked (R4: terminated before completion — not on-hold, which expects it to
/// resume), its goals cancelled, an intervention not yet begun cancelled and no meeting or
/// follow-up scheduled; closed, the bundle's lastUpdated is the closing.
#[tokio::test]
async fn a_plan_without_consent_is_revoked_in_fhir_with_nothing_scheduled() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    hemtjanst_drafts_its_part(&app, &w, &sip, "2026-04-01").await;
    ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    publish_main_goal(&app, &w, &sip, "Jag vill kunna bo kvar hemma.").await;
    let me = citizen(&app, &w.person_id, None);
    // A follow-up the person is called to, booked before the withdrawal.
    call_to_follow_up(&app, &w, &sip, json!([{"kind": "person"}])).await;

    let before = head(&app).await;
    let (_, earlier) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, before).await;
    let mut w = w;
    set_time(&app, &mut w, "2026-03-10T15:00:00Z");
    let me = citizen(&app, &w.person_id, None);
    let withdrawn = ok(command(
        &app,
        &w.vc,
        &sip,
        "withdraw-consent",
        &json!({"withdrawn_by": {"kind": "person"}}),
    )
    .await);
    let at = withdrawn["position"].as_i64().expect("position");
    let (status, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    // What changed says so: a consumer caching by lastUpdated or the Bundle's id sees the
    // withdrawal (a review found both standing at the last publication).
    assert_eq!(
        bundle["meta"]["lastUpdated"], "2026-03-10T15:00:00Z",
        "{bundle}"
    );
    assert_ne!(bundle["id"], earlier["id"]);
    assert_eq!(resource(&bundle, "CareTeam")["status"], "inactive");
    let care_plan = resource(&bundle, "CarePlan");
    assert_eq!(care_plan["status"], "revoked", "{care_plan}");
    let activities = care_plan["activity"].as_array().expect("activities");
    assert_eq!(
        activities.len(),
        1,
        "no follow-up is scheduled: {care_plan}"
    );
    assert_eq!(activities[0]["detail"]["status"], "cancelled", "not begun");
    for goal in resources(&bundle, "Goal") {
        assert_eq!(goal["lifecycleStatus"], "cancelled", "{goal}");
    }
    validate_fhir(&bundle);
    // The page and the API say the same: no meeting ahead (a review saw the page name the
    // follow-up booked before the withdrawal beside "planen avslutas").
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(plan["next_meeting"], Value::Null, "{plan}");
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(!page.contains("12 juni"), "{page}");
    assert!(
        page.contains(
            "Samtycket är återkallat och planen avslutas. Det blir inga fler uppföljningar."
        ),
        "{page}"
    );

    // Closed a day later: the bundle says so by its lastUpdated.
    set_time(&app, &mut w, "2026-03-11T10:00:00Z");
    let closed = ok(command(
        &app,
        &w.vc,
        &sip,
        "close-plan",
        &json!({"reason": "consent_withdrawn"}),
    )
    .await);
    let at = closed["position"].as_i64().expect("position");
    let me = citizen(&app, &w.person_id, None);
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(resource(&bundle, "CarePlan")["status"], "revoked");
    assert_eq!(
        bundle["meta"]["lastUpdated"], "2026-03-11T10:00:00Z",
        "{bundle}"
    );
    assert_eq!(
        resource(&bundle, "CarePlan")["period"]["end"],
        "2026-03-11T10:00:00Z"
    );
    // The page too: updated the day it closed, and no goal "not reached yet" on a closed plan.
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(page.contains("Senast uppdaterad 11 mars 2026."), "{page}");
    assert!(!page.contains("inte nått ännu"), "{page}");

    // A death samplan knows of is in the export, as R4's Patient.deceased[x], registered a
    // day after the close.
    assert_eq!(resource(&bundle, "Patient").get("deceasedDateTime"), None);
    set_time(&app, &mut w, "2026-03-12T10:00:00Z");
    let me = citizen(&app, &w.person_id, None);
    let (status, _, died) = app
        .post(
            &format!("/api/v1/persons/{}/register-death", w.person_id),
            &w.vc,
            &json!({"died_on": "2026-03-11"}),
        )
        .await;
    assert!(status.is_success(), "{died}");
    let at = died["position"].as_i64().expect("position");
    let (_, after) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert_eq!(
        resource(&after, "Patient")["deceasedDateTime"],
        "2026-03-11",
        "{after}"
    );
    // A change of the person's own record moves the export's stamp too (a review found a
    // death unseen by a consumer caching on it).
    assert_ne!(after["id"], bundle["id"]);
    assert_eq!(
        after["meta"]["lastUpdated"], "2026-03-12T10:00:00Z",
        "{after}"
    );
    let bundle = after;
    validate_fhir(&bundle);
}

/// A meeting of the units alone (a staff pre-meeting, the person not called) is not the
/// person's: Min plan, its list and the FHIR export show the next meeting the person or a
/// relative is called to, and nothing of the other — its time and place hid the person's own.
#[tokio::test]
async fn a_meeting_the_person_is_not_called_to_is_not_shown_to_them() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    publish_main_goal(&app, &w, &sip, "Jag vill kunna bo kvar hemma.").await;
    call_to_follow_up(
        &app,
        &w,
        &sip,
        json!([{"kind": "person"}, {"kind": "unit", "unit_id": HT}]),
    )
    .await;
    let staff_only = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({"invitation_id": "inv-3", "purpose": "meeting",
                "scheduled_at": "2026-06-01T09:00:00+02:00", "form": "in_person",
                "place": "Personalrum plan 3", "reason": "Förberedande möte för personalen.",
                "recipients": [{"kind": "unit", "unit_id": HT}]}),
    )
    .await);
    let at = staff_only["position"].as_i64().expect("position");
    let me = citizen(&app, &w.person_id, None);
    let (_, list) = get(&app, "/api/v1/me/plans", &me, at).await;
    assert_eq!(
        list["plans"][0]["next_meeting"]["scheduled_at"], "2026-06-12T08:00:00Z",
        "{list}"
    );
    let (_, plan) = get(&app, &format!("/api/v1/me/plans/{sip}"), &me, at).await;
    assert_eq!(plan["next_meeting"]["purpose"], "follow_up", "{plan}");
    assert!(!plan.to_string().contains("Personalrum"), "{plan}");
    let (_, bundle) = get(&app, &format!("/api/v1/me/plans/{sip}/fhir"), &me, at).await;
    assert!(!bundle.to_string().contains("Personalrum"), "{bundle}");
    assert!(
        bundle.to_string().contains("2026-06-12T08:00:00Z"),
        "{bundle}"
    );
    let page = min_plan_page(&app, &sip, &me).await;
    assert!(!page.contains("Personalrum"), "{page}");
    assert!(page.contains("Uppföljning: "), "{page}");
}

/// Min plan names the person responsible for an insats beside the one who performs it (seed
/// 000: "ansvarig med kontaktuppgifter"; the contact given may be theirs), and a person with
/// two plans tells them apart in the list by the day each began, with a way back from each.
#[tokio::test]
async fn min_plan_names_the_responsible_and_tells_two_plans_apart() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let first = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    publish_main_goal(&app, &w, &first, "Jag vill kunna bo kvar hemma.").await;
    ok(command(
        &app,
        &w.ht,
        &first,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht", "heading": "daily_living", "text": "Städat hem varje vecka.",
                "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    ok(command(
        &app,
        &w.ht,
        &first,
        "document-intervention",
        &json!({"intervention_id": "in-ht", "sub_goal_id": "sg-ht", "what": "Städning varannan vecka.",
                "responsible": {"kind": "unit", "unit_id": HT}, "performer": "Hemtjänstpersonalen",
                "responsible_person": "Anna Andersson",
                "contact": "anna.andersson@hemtjanst.example", "from": "2026-03-16"}),
    )
    .await);
    ok(command(&app, &w.ht, &first, "publish-contribution", &json!({})).await);
    let second = plan_with_meeting(&app, &w, &w.person_id, &[json!({"kind": "person"})]).await;
    publish_main_goal(&app, &w, &second, "Jag vill må bättre.").await;

    let me = citizen(&app, &w.person_id, None);
    let page = min_plan_page(&app, &first, &me).await;
    assert!(page.contains("<li>Ansvarig: Anna Andersson</li>"), "{page}");
    assert!(page.contains("(Hemtjänstpersonalen)"), "{page}");
    assert!(
        page.contains("href=\"/min-plan\">Alla dina planer</a>"),
        "{page}"
    );
    // The list reads the patient read model, which may not have applied the second plan's goal
    // yet on a loaded machine: read again until it has (bounded).
    let mut list = String::new();
    for _ in 0..50 {
        let (status, page) = web_page(&app, "/min-plan", &me).await;
        assert_eq!(status, StatusCode::OK);
        list = page;
        if list.contains("Jag vill må bättre.") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for goal in ["Jag vill kunna bo kvar hemma.", "Jag vill må bättre."] {
        assert!(
            list.contains(&format!(", startad 10 mars 2026: {goal}</a>")),
            "{list}"
        );
    }
}
