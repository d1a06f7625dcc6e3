//! Who may call what: every route of API.md implemented so far × every kind of caller, with the
//! status each cell must answer. 401 without a token, 403 for a role that may not, 404 for staff
//! whose unit takes no part in the plan, the domain's answer otherwise. A refused cell appends
//! nothing and logs no read.

mod persons_support;

use gateway::testing::TestApp;
use persons_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The callers of the matrix, in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Staff of the unit that coordinates the plan.
    StaffInvolved,
    /// Staff of a registered unit that takes no part in the plan.
    StaffNotInvolved,
    Citizen,
    Auditor,
    Reporting,
    Admin,
    NoToken,
}

const COLUMNS: [Who; 7] = [
    Who::StaffInvolved,
    Who::StaffNotInvolved,
    Who::Citizen,
    Who::Auditor,
    Who::Reporting,
    Who::Admin,
    Who::NoToken,
];

/// A unit that takes part in no plan.
const OUTSIDER: &str = "vc-utanfor";

struct Fixture {
    person_id: String,
    sip_id: String,
}

/// A route and what it answers each column. `request` builds path and body for cell number `n`
/// (bodies differ per cell where a second identical write would be refused).
struct Row {
    method: Method,
    route: &'static str,
    request: fn(&Fixture, u32) -> (String, Option<Value>),
    expected: [u16; 7],
}

/// A valid personnummer born 1950-01-01 with serial `100 + n`: the check digit is computed here
/// by hand (Luhn over the ten-digit form), independently of the domain's parser.
fn pin(n: u32) -> String {
    let ten = format!("500101{:03}", 100 + n);
    let sum: u32 = ten
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            let p = if i % 2 == 0 { d * 2 } else { d };
            p / 10 + p % 10
        })
        .sum();
    format!("19{}-{:03}{}", &ten[..6], 100 + n, (10 - sum % 10) % 10)
}

fn rows() -> Vec<Row> {
    //                  involved, not inv., citizen, auditor, reporting, admin, no token
    vec![
        Row {
            method: Method::POST,
            route: "POST /units",
            request: |_, n| {
                (
                    "/api/v1/units".into(),
                    Some(json!({"id": format!("matris-{n}"), "name": "Matrisenheten",
                                "principal": {"kind": "municipality", "name": "Testby kommun"},
                                "uses_samplan": true})),
                )
            },
            expected: [403, 403, 403, 403, 403, 201, 401],
        },
        Row {
            method: Method::GET,
            route: "GET /units",
            request: |_, _| ("/api/v1/units".into(), None),
            // Staff name units in consents and invitations; administrators keep the register.
            expected: [200, 200, 403, 403, 403, 200, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /persons",
            request: |_, n| {
                (
                    "/api/v1/persons".into(),
                    Some(
                        json!({"personal_identity_number": pin(n), "name": format!("Matris Person {n}")}),
                    ),
                )
            },
            // Any staff member may register a person; the unit is recorded with the event.
            expected: [201, 201, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /persons/{id}/change-contact-details",
            request: |f, n| {
                (
                    format!("/api/v1/persons/{}/change-contact-details", f.person_id),
                    Some(json!({"phone": format!("070-{n:03}")})),
                )
            },
            expected: [200, 200, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /persons/{id}/{unknown}",
            request: |f, _| {
                (
                    format!("/api/v1/persons/{}/paint-the-house", f.person_id),
                    Some(json!({})),
                )
            },
            expected: [404, 404, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::GET,
            route: "GET /persons?q=",
            request: |_, _| ("/api/v1/persons?q=Tolvan".into(), None),
            // "Sök patient" is open to all staff; every read is logged instead.
            expected: [200, 200, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::GET,
            route: "GET /persons/{id}",
            request: |f, _| (format!("/api/v1/persons/{}", f.person_id), None),
            expected: [200, 200, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /inbox/messages/{id}/read",
            request: |_, _| {
                (
                    "/api/v1/inbox/messages/01JQ7ZK3M2V8X9Y0A1B2C3D4E5/read".into(),
                    Some(json!({})),
                )
            },
            expected: [200, 200, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /sips",
            request: |f, _| {
                (
                    "/api/v1/sips".into(),
                    Some(json!({"person_id": f.person_id, "identified_by": "staff",
                                "reason": "Behöver samordning.", "context": {"kind": "outpatient"}})),
                )
            },
            // Any staff member may notice a need and start a plan.
            expected: [201, 201, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::GET,
            route: "GET /sips/{id}",
            request: |f, _| (format!("/api/v1/sips/{}", f.sip_id), None),
            expected: [200, 404, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/document-mapping",
            request: |f, n| {
                (
                    format!("/api/v1/sips/{}/document-mapping", f.sip_id),
                    Some(
                        json!({"mapping_id": format!("kartlaggning-{n}"), "heading": "housing",
                                "text": "Bor ensam i lägenhet."}),
                    ),
                )
            },
            expected: [200, 404, 403, 403, 403, 403, 401],
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/create-plan-basis",
            request: |f, _| {
                (
                    format!("/api/v1/sips/{}/create-plan-basis", f.sip_id),
                    Some(json!({})),
                )
            },
            // The plan has its basis already: the involved unit gets the domain's refusal.
            expected: [409, 404, 403, 403, 403, 403, 401],
        },
    ]
}

fn token(app: &TestApp, who: Who, person_id: &str) -> Option<String> {
    match who {
        Who::StaffInvolved => Some(app.staff_token("SE2321000016-VC11", VC)),
        Who::StaffNotInvolved => Some(app.staff_token("SE2321000016-UT01", OUTSIDER)),
        Who::Citizen => Some(app.token("citizen", person_id, None, "Tolvan Tolvansson")),
        Who::Auditor => Some(app.token("auditor", "SE2321000016-RE01", None, "Revisor")),
        Who::Reporting => Some(app.token("reporting", "uppfoljning", None, "Uppföljning")),
        Who::Admin => Some(app.admin_token()),
        Who::NoToken => None,
    }
}

async fn fixture(app: &TestApp) -> Fixture {
    units(app).await;
    register_unit(app, OUTSIDER, "region", true).await;
    let nurse = nurse(app);
    let person = register_person(app, &nurse, "19121212-1212", "Tolvan Tolvansson").await;
    let person_id = person["id"].as_str().expect("person id").to_owned();
    let (status, _, sip) = app
        .post(
            "/api/v1/sips",
            &nurse,
            &json!({"person_id": person_id, "identified_by": "staff",
                    "reason": "Behöver insatser från både region och kommun.",
                    "context": {"kind": "outpatient"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sip}");
    let sip_id = sip["id"].as_str().expect("sip id").to_owned();
    for (cmd, body) in [
        (
            "record-consent",
            json!({"given_by": {"kind": "person"}, "actors": [VC, HT],
                   "topics": ["Boende"], "valid_until": "2027-03-10"}),
        ),
        ("create-plan-basis", json!({})),
    ] {
        let (status, _, body) = app
            .post(&format!("/api/v1/sips/{sip_id}/{cmd}"), &nurse, &body)
            .await;
        assert_eq!(status, StatusCode::OK, "{cmd}: {body}");
    }
    // The directory must know the person before the read cells run.
    let head = app.store.head_position().await.expect("head");
    projections::directory::wait_for(app.store.pool(), head, 10_000)
        .await
        .expect("directory");
    Fixture { person_id, sip_id }
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_specified() {
    let app = spawn().await;
    let f = fixture(&app).await;
    let person = domain::ids::PersonId::parse(&f.person_id).expect("person id");
    let mut failures = Vec::new();
    let mut n = 0;
    for row in rows() {
        for (col, who) in COLUMNS.iter().enumerate() {
            n += 1;
            let (path, body) = (row.request)(&f, n);
            let mut request = app.client.request(row.method.clone(), app.url(&path));
            if let Some(t) = token(&app, *who, &f.person_id) {
                request = request.bearer_auth(t);
            }
            if let Some(b) = &body {
                request = request.json(b);
            }
            let head_before = app.store.head_position().await.expect("head");
            let logged_before = gateway::access_log::for_person(&app.state, &person)
                .await
                .expect("log")
                .len();
            let (status, _, answer) = app.send(request).await;
            let expected = row.expected[col];
            if status.as_u16() != expected {
                failures.push(format!(
                    "{} as {who:?}: expected {expected}, got {} {answer}",
                    row.route,
                    status.as_u16()
                ));
                continue;
            }
            if !status.is_success() {
                assert_eq!(
                    answer["status"].as_u64(),
                    Some(u64::from(expected)),
                    "{} as {who:?}: a problem document: {answer}",
                    row.route
                );
                let head_after = app.store.head_position().await.expect("head");
                assert_eq!(head_after, head_before, "{} as {who:?} appended", row.route);
                let logged_after = gateway::access_log::for_person(&app.state, &person)
                    .await
                    .expect("log")
                    .len();
                assert_eq!(
                    logged_after, logged_before,
                    "{} as {who:?} logged a read",
                    row.route
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "cells that differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_matrix_personnummer_are_valid_and_distinct() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).expect("date");
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..200 {
        let p = pin(n);
        domain::personnummer::PersonalIdentityNumber::parse(&p, today)
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(seen.insert(p));
    }
}
