//! Text that PostgreSQL's jsonb cannot store (`\u0000`) or that has no place in a plan (control
//! characters other than tab and newline) is refused at the edge with a stable code, in every
//! text field of every write route and in query and path parameters, and nothing is appended.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

/// The characters each text field is tried with: NUL (which jsonb refuses), another C0 control,
/// DEL, a C1 control and a raw escape (none of which a person types into a plan).
const HOSTILE: &[&str] = &["a\u{0}b", "a\u{1}b", "a\u{7f}b", "a\u{85}b", "a\u{1b}[31mb"];

/// A valid body for every write route, with every optional text field filled in.
fn routes(sip: &str, person: &str) -> Vec<(String, Value)> {
    let s = |segment: &str| format!("/api/v1/sips/{sip}/{segment}");
    let p = |segment: &str| format!("/api/v1/persons/{person}/{segment}");
    vec![
        (
            "/api/v1/units".into(),
            json!({"id": "vc-ny", "name": "Vårdcentralen Ny",
                   "principal": {"kind": "region", "name": "Region Testlän"},
                   "uses_samplan": true, "address": "Vägen 1", "phone": "010-1"}),
        ),
        (
            "/api/v1/persons".into(),
            json!({"personal_identity_number": "19450315-1237", "name": "Nils Nilsson",
                   "phone": "070-1", "address": "Gatan 2"}),
        ),
        (
            p("change-contact-details"),
            json!({"phone": "070-2", "address": "Gatan 3"}),
        ),
        (
            p("add-relative"),
            json!({"relative_id": "r-1", "kind": "relative", "name": "Anna",
                   "phone": "070-3", "address": "Gatan 4", "note": "dotter"}),
        ),
        (p("remove-relative"), json!({"relative_id": "r-1"})),
        (
            p("register-moved-out"),
            json!({"moved_on": "2026-03-01", "to_region": "Region Annan"}),
        ),
        (
            "/api/v1/sips".into(),
            json!({"person_id": person, "identified_by": "staff", "reason": "Behov",
                   "context": {"kind": "discharge", "track": "yellow"}}),
        ),
        (
            s("record-consent"),
            json!({"given_by": {"kind": "guardian", "relative_id": "vh-1"},
                   "actors": [VC], "topics": ["Boende"], "valid_until": "2027-01-01"}),
        ),
        (
            s("decline-consent"),
            json!({"declined_by": {"kind": "representative", "relative_id": "r-2"},
                   "note": "Vill inte"}),
        ),
        (
            s("withdraw-consent"),
            json!({"withdrawn_by": {"kind": "person"}, "note": "Återkallat"}),
        ),
        (
            s("create-plan-basis"),
            json!({"initiated_by": "Vårdcentralen",
                   "fixed_care_contacts": [{"name": "Eva", "unit_id": VC, "phone": "010-2"}]}),
        ),
        (
            s("change-coordinator"),
            json!({"staff_id": "SE2321000016-VC02", "name": "Vera", "unit_id": VC,
                   "reason": "Semester"}),
        ),
        (
            s("document-mapping"),
            json!({"mapping_id": "m-1", "heading": "Boende", "text": "Bor ensam"}),
        ),
        (
            s("send-invitation"),
            json!({"invitation_id": "inv-1", "purpose": "meeting",
                   "scheduled_at": "2026-03-12T09:00:00Z", "form": "in_person",
                   "place": "Rum 4", "reason": "SIP-möte",
                   "recipients": [{"kind": "unit", "unit_id": HT},
                                  {"kind": "relative", "relative_id": "r-1"}]}),
        ),
        (
            s("respond-to-invitation"),
            json!({"invitation_id": "inv-1",
                   "representative": {"name": "Hugo", "staff_id": "SE2120000001-HT01",
                                      "profession": "Undersköterska", "phone": "070-4"}}),
        ),
        (
            s("cancel-invitation"),
            json!({"invitation_id": "inv-1", "reason": "Sjuk"}),
        ),
        (
            s("reschedule-meeting"),
            json!({"invitation_id": "inv-1", "scheduled_at": "2026-03-13T09:00:00Z",
                   "form": "video", "place": "Länk", "reason": "Krock"}),
        ),
        (
            s("record-meeting"),
            json!({"invitation_id": "inv-1", "held_at": "2026-03-12T09:00:00Z",
                   "attendees": [{"name": "Vera", "role": "staff", "unit_id": VC}],
                   "chair": "Vera", "secretary": "Hugo",
                   "new_coordinator": {"staff_id": "SE2321000016-VC02", "name": "Vera",
                                       "unit_id": VC, "reason": "Beslut"},
                   "follow_up_on": "2026-06-01"}),
        ),
        (s("document-main-goal"), json!({"text": "Bo kvar hemma"})),
        (
            s("document-sub-goal"),
            json!({"sub_goal_id": "sg-1", "heading": "Boende", "text": "Klara vardagen",
                   "responsible": {"kind": "unit", "unit_id": VC}}),
        ),
        (
            s("document-intervention"),
            json!({"intervention_id": "i-1", "sub_goal_id": "sg-1", "what": "Hemtjänst",
                   "responsible": {"kind": "unit", "unit_id": HT},
                   "responsible_person": "Hugo", "performer": "Hemtjänst Norr",
                   "contact": "070-5", "from": "2026-03-15"}),
        ),
        (
            s("schedule-follow-up"),
            json!({"follow_up_on": "2026-06-01", "note": "Uppföljning"}),
        ),
        (
            s("record-follow-up"),
            json!({"follow_up_id": "f-1", "held_on": "2026-06-01",
                   "interventions": [{"intervention_id": "i-1", "outcome": "continues",
                                      "comment": "Bra"}],
                   "goals": [{"sub_goal_id": "sg-1", "reached": true, "comment": "Nått"}],
                   "note": "Klart"}),
        ),
        (
            s("close-plan"),
            json!({"reason": "replaced_by_new_plan", "note": "Ny plan",
                   "replaced_by": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        ),
    ]
}

/// Every way to put `bad` in one string of `body`: one copy per string leaf (object values and
/// array items), with the JSON path of the leaf.
fn variants(body: &Value, bad: &str) -> Vec<(String, Value)> {
    fn walk(value: &Value, path: String, out: &mut Vec<String>) {
        match value {
            Value::String(_) => out.push(path),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{path}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(item, format!("{path}/{key}"), out);
                }
            }
            _ => {}
        }
    }
    let mut paths = Vec::new();
    walk(body, String::new(), &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let mut copy = body.clone();
            *copy.pointer_mut(&path).expect("the path exists") = Value::String(bad.into());
            (path, copy)
        })
        .collect()
}

#[tokio::test]
async fn control_characters_in_any_text_field_of_any_write_are_refused_and_nothing_is_appended() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let admin = app.admin_token();
    let head = app.store.head_position().await.expect("head");
    let mut tried = 0;
    for (path, body) in routes(&sip, &w.person_id) {
        let token = if path == "/api/v1/units" {
            &admin
        } else {
            &w.vc
        };
        for bad in HOSTILE {
            for (field, hostile) in variants(&body, bad) {
                let (status, _, answer) = app.post(&path, token, &hostile).await;
                assert_eq!(
                    status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{path} with {bad:?} in {field}: {answer}"
                );
                assert_eq!(
                    answer["code"], "invalid_characters",
                    "{path} {field}: {answer}"
                );
                let detail = answer["detail"].as_str().expect("detail");
                assert!(
                    detail.contains(field.trim_start_matches('/')),
                    "the detail names the field {field}: {detail}"
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 300, "only {tried} variants were tried");
    assert_eq!(
        app.store.head_position().await.expect("head"),
        head,
        "a refused write appended something"
    );
}

#[tokio::test]
async fn tab_newline_and_ordinary_unicode_are_kept() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let text = "Rad ett\r\nRad två\tmed tabb – och ”citat”, åäö ÅÄÖ é ü 🙂";
    let (status, body) = command(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &json!({"heading": "housing", "text": text}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = events(&app, &sip).await;
    let last = stored.last().expect("an event");
    assert_eq!(
        last.data_as::<Value>().expect("payload")["text"],
        text,
        "the text is stored as sent"
    );
}

#[tokio::test]
async fn control_characters_in_query_and_path_parameters_are_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let head = app.store.head_position().await.expect("head");
    for path in [
        "/api/v1/persons?q=Tol%00van",
        "/api/v1/persons?q=Tol%01van",
        "/api/v1/persons?q=Tol%C2%85van",
    ] {
        let (status, _, body) = app.get(path, &w.vc).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["code"], "invalid_characters", "{path}: {body}");
    }
    for path in [
        "/api/v1/inbox/messages/a%00b/read",
        "/api/v1/inbox/messages/a%1Bb/read",
    ] {
        let (status, _, body) = app.post(path, &w.vc, &json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["code"], "invalid_characters", "{path}: {body}");
    }
    assert_eq!(app.store.head_position().await.expect("head"), head);
}

/// A name made only of invisible characters shows as nothing, and a direction override in it
/// turns what is printed after it around (a personnummer beside the name in a list would read
/// backwards): the first is a name missing, the second a character refused.
#[tokio::test]
async fn invisible_names_and_direction_overrides_are_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let head = app.store.head_position().await.expect("head");
    for (name, code) in [
        ("\u{200b}", "field_missing"),
        ("\u{feff}\u{200d} \u{2060}", "field_missing"),
        ("Eva \u{202e}nossleinaD", "invalid_characters"),
        ("\u{2067}Eva", "invalid_characters"),
    ] {
        let (status, _, body) = app
            .post(
                "/api/v1/persons",
                &w.vc,
                &json!({"personal_identity_number": "19800101-0001", "name": name}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{name:?}: {body}"
        );
        let reason = start_plan_body(&w, name);
        let (status, _, body) = app.post("/api/v1/sips", &w.vc, &reason).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{name:?}: {body}"
        );
    }
    assert_eq!(app.store.head_position().await.expect("head"), head);
    // A right-to-left name, with the direction marks that turn nothing around, is a name.
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &w.vc,
            &json!({"personal_identity_number": "19800101-0001", "name": "\u{200f}נעמי כהן"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Two persons whose names look alike are named alike: a name is stored on one line and without
/// the characters that take no room (a hostile-content review registered 22 "Erik Lindqvist"
/// that a search listed side by side, and a name carrying a c/o address over three lines).
#[tokio::test]
async fn a_name_is_stored_on_one_line_without_invisible_characters() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    for (pin, given, stored) in [
        (
            "19800101-0001",
            "Erik\u{200b} Lindqvist\u{feff}",
            "Erik Lindqvist",
        ),
        ("19800102-0000", "Erik\u{200e}Lindqvist", "ErikLindqvist"),
        (
            "19800103-0009",
            "Anna Svensson\nc/o Bolaget AB",
            "Anna Svensson c/o Bolaget AB",
        ),
    ] {
        let (status, _, body) = app
            .post(
                "/api/v1/persons",
                &w.vc,
                &json!({"personal_identity_number": pin, "name": given}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{given:?}: {body}");
        let id = body["id"].as_str().expect("id");
        let at = body["position"].as_i64().expect("position");
        let (_, _, person) = app
            .get(&format!("/api/v1/persons/{id}?min_position={at}"), &w.vc)
            .await;
        assert_eq!(person["name"], stored, "{given:?}");
    }
}

/// `POST /sips` for the world's person with `reason`.
fn start_plan_body(w: &World, reason: &str) -> Value {
    json!({"person_id": w.person_id, "identified_by": "staff", "reason": reason,
           "context": {"kind": "outpatient"}})
}
