//! Who may call what: every route of API.md implemented so far × every kind of caller, with the
//! status each cell must answer. 401 without a token, 403 for a role that may not, 404 for staff
//! whose unit takes no part in the plan, the domain's answer otherwise. Every refusal is checked
//! down to its problem `code`; a refused cell appends nothing and logs no read, an accepted SIP
//! command appends.

mod persons_support;

use gateway::testing::TestApp;
use persons_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The callers of the matrix, in column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The coordinator of the plan (staff of the coordinating unit) until the matrix hands the
    /// role to a colleague of the same unit.
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
    expected: [Cell; 7],
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

/// What one cell must answer: the status and, for a refusal, the problem document's `code`.
type Cell = (u16, Option<&'static str>);

/// Accepted: the write was recorded or the read answered.
const OK: Cell = (200, None);
const CREATED: Cell = (201, None);
/// No bearer token at all.
const NO_TOKEN: Cell = (401, Some("token_missing"));
/// The caller's role may not use the route.
const ROLE: Cell = (403, Some("role_not_allowed"));
/// The same answer as for a plan that does not exist: nothing is revealed.
const HIDDEN: Cell = (404, Some("not_found"));

/// The answer of a SIP command route for every caller but the involved unit: it never learns of
/// the plan, only staff may act, and only with a token.
const fn sip_command(involved: Cell) -> [Cell; 7] {
    [involved, HIDDEN, ROLE, ROLE, ROLE, ROLE, NO_TOKEN]
}

/// `POST /api/v1/sips/{sip}/{command}` with this body.
fn sip_post(f: &Fixture, command: &str, body: Value) -> (String, Option<Value>) {
    (format!("/api/v1/sips/{}/{command}", f.sip_id), Some(body))
}

/// The invitation the involved unit sends in the matrix and later rows refer to.
const INVITATION: &str = "kallelse-matris";
/// The sub-goal the involved unit documents and its intervention works towards.
const SUB_GOAL: &str = "delmal-matris";
const INTERVENTION: &str = "insats-matris";
/// The colleague at the coordinating unit who takes over as coordinator.
const COLLEAGUE: &str = "SE2321000016-VC12";

/// The routes in the order they run. The involved cell comes first in each row and is the
/// coordinator herself, so the SIP command rows walk the fixture's plan through its lifecycle
/// (consent and basis → invitation → meeting → goals and interventions → follow-up → hand-over →
/// withdrawn consent); every later cell of a row meets the plan as that cell left it. Reordering
/// the rows changes the domain's answers to the involved cells, never the other columns.
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
            expected: [ROLE, ROLE, ROLE, ROLE, ROLE, CREATED, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /units",
            request: |_, _| ("/api/v1/units".into(), None),
            // Staff name units in consents and invitations; administrators keep the register.
            expected: [OK, OK, ROLE, ROLE, ROLE, OK, NO_TOKEN],
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
            expected: [CREATED, CREATED, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
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
            // Any staff member reads the person; only a unit with a plan for them (or that
            // registered them) changes what is known about them.
            expected: [
                OK,
                (403, Some("no_care_relation")),
                ROLE,
                ROLE,
                ROLE,
                ROLE,
                NO_TOKEN,
            ],
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
            expected: [
                (404, Some("unknown_command")),
                (404, Some("unknown_command")),
                ROLE,
                ROLE,
                ROLE,
                ROLE,
                NO_TOKEN,
            ],
        },
        Row {
            method: Method::GET,
            route: "GET /persons?q=",
            request: |_, _| ("/api/v1/persons?q=Tolvan".into(), None),
            // "Sök patient" is open to all staff; every read is logged instead.
            expected: [OK, OK, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /persons/{id}",
            request: |f, _| (format!("/api/v1/persons/{}", f.person_id), None),
            expected: [OK, OK, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /audit/events",
            request: |_, _| ("/api/v1/audit/events?limit=5".into(), None),
            // Auditors only: staff never see other units' raw events.
            expected: [ROLE, ROLE, ROLE, OK, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /audit/sips/{id}",
            request: |f, _| (format!("/api/v1/audit/sips/{}", f.sip_id), None),
            expected: [ROLE, ROLE, ROLE, OK, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::POST,
            route: "POST /audit/verify",
            request: |_, _| ("/api/v1/audit/verify".into(), None),
            expected: [ROLE, ROLE, ROLE, OK, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /audit/access-log",
            request: |f, _| {
                (
                    format!("/api/v1/audit/access-log?person_id={}", f.person_id),
                    None,
                )
            },
            expected: [ROLE, ROLE, ROLE, OK, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /audit/access-review",
            request: |_, _| {
                (
                    "/api/v1/audit/access-review?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z"
                        .into(),
                    None,
                )
            },
            expected: [ROLE, ROLE, ROLE, OK, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /reports/kpis",
            request: |_, _| {
                (
                    "/api/v1/reports/kpis?from=2026-01&to=2026-12&group_by=region".into(),
                    None,
                )
            },
            // Figures without personal data, for the reporting role alone.
            expected: [ROLE, ROLE, ROLE, ROLE, OK, ROLE, NO_TOKEN],
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
            // No such message in either unit's inbox (the inbox's own tests read real ones).
            expected: [HIDDEN, HIDDEN, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /inbox/messages",
            request: |_, _| ("/api/v1/inbox/messages?unread=true".into(), None),
            expected: [OK, OK, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /inbox/todos",
            request: |_, _| ("/api/v1/inbox/todos?urgent=true".into(), None),
            expected: [OK, OK, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /inbox/sips",
            request: |_, _| ("/api/v1/inbox/sips".into(), None),
            expected: [OK, OK, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /me/plans",
            request: |_, _| ("/api/v1/me/plans".into(), None),
            // Min plan is the person's own: staff read plans through their own routes.
            expected: [ROLE, ROLE, OK, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /me/plans/{id}",
            request: |f, _| (format!("/api/v1/me/plans/{}", f.sip_id), None),
            // The fixture's plan has nothing published: it does not exist for the person yet.
            expected: [ROLE, ROLE, HIDDEN, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /me/plans/{id}/fhir",
            request: |f, _| (format!("/api/v1/me/plans/{}/fhir", f.sip_id), None),
            expected: [ROLE, ROLE, HIDDEN, ROLE, ROLE, ROLE, NO_TOKEN],
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
            expected: [CREATED, CREATED, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::GET,
            route: "GET /sips/{id}",
            request: |f, _| (format!("/api/v1/sips/{}", f.sip_id), None),
            expected: [OK, HIDDEN, ROLE, ROLE, ROLE, ROLE, NO_TOKEN],
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/document-mapping",
            request: |f, n| {
                sip_post(
                    f,
                    "document-mapping",
                    json!({"mapping_id": format!("kartlaggning-{n}"), "heading": "housing",
                           "text": "Bor ensam i lägenhet."}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/create-plan-basis",
            request: |f, _| sip_post(f, "create-plan-basis", json!({})),
            // The plan has its basis already: the involved unit gets the domain's refusal.
            expected: sip_command((409, Some("plan_basis_exists"))),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/record-consent",
            request: |f, _| {
                sip_post(
                    f,
                    "record-consent",
                    json!({"given_by": {"kind": "person"}, "actors": [VC, HT],
                           "topics": ["Boende", "Stöd i hemmet"], "valid_until": "2027-06-30"}),
                )
            },
            // A renewed consent from the adult person is always welcome in an open plan.
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/decline-consent",
            request: |f, _| {
                sip_post(
                    f,
                    "decline-consent",
                    json!({"declined_by": {"kind": "person"}, "note": "Vill inte längre."}),
                )
            },
            // The plan basis rests on given consent; a later no is a withdrawal.
            expected: sip_command((409, Some("consent_already_given"))),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/send-invitation",
            request: |f, _| {
                sip_post(
                    f,
                    "send-invitation",
                    json!({"invitation_id": INVITATION, "purpose": "meeting",
                           "scheduled_at": "2026-03-17T09:00:00Z", "form": "in_person",
                           "place": "Vårdcentralen, rum 3", "reason": "SIP-möte om stöd i hemmet.",
                           "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "person"}]}),
                )
            },
            // The coordinator summons hemtjänst, which the consent covers.
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/respond-to-invitation",
            request: |f, _| {
                sip_post(
                    f,
                    "respond-to-invitation",
                    json!({"invitation_id": INVITATION,
                           "representative": {"name": "Sjuksköterska Vårdcentralen",
                                              "profession": "distriktssköterska"}}),
                )
            },
            // Only hemtjänst was summoned; the coordinating unit has nobody to appoint.
            expected: sip_command((403, Some("not_invited"))),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/reschedule-meeting",
            request: |f, _| {
                sip_post(
                    f,
                    "reschedule-meeting",
                    json!({"invitation_id": INVITATION, "scheduled_at": "2026-03-18T13:00:00Z",
                           "form": "video", "reason": "Hemtjänsten kunde inte den 17:e."}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/record-meeting",
            request: |f, _| {
                sip_post(
                    f,
                    "record-meeting",
                    json!({"invitation_id": INVITATION, "held_at": "2026-03-10T08:00:00Z",
                           "attendees": [
                               {"name": "Tolvan Tolvansson", "role": "person"},
                               {"name": "Sjuksköterska Vårdcentralen", "role": "staff", "unit_id": VC},
                               {"name": "Undersköterska Hemtjänsten", "role": "staff", "unit_id": HT}],
                           "chair": "Sjuksköterska Vårdcentralen",
                           "secretary": "Undersköterska Hemtjänsten",
                           "follow_up_on": "2026-06-10", "sip_survey_offered": true}),
                )
            },
            // Held earlier than planned (the kallelse was sent at this very moment), which the
            // domain records as it happened.
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/cancel-invitation",
            request: |f, _| {
                sip_post(
                    f,
                    "cancel-invitation",
                    json!({"invitation_id": INVITATION, "reason": "Dubbelbokad."}),
                )
            },
            // The meeting of that invitation was held: nothing left to cancel.
            expected: sip_command((409, Some("invitation_not_active"))),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/document-main-goal",
            request: |f, _| {
                sip_post(
                    f,
                    "document-main-goal",
                    json!({"text": "Att kunna bo kvar hemma med stöd."}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/document-sub-goal",
            request: |f, _| {
                sip_post(
                    f,
                    "document-sub-goal",
                    json!({"sub_goal_id": SUB_GOAL, "heading": "housing",
                           "text": "Klarar vardagen i lägenheten.",
                           "responsible": {"kind": "unit", "unit_id": VC}}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/document-intervention",
            request: |f, _| {
                sip_post(
                    f,
                    "document-intervention",
                    json!({"intervention_id": INTERVENTION, "sub_goal_id": SUB_GOAL,
                           "what": "Läkemedelsgenomgång varje månad.",
                           "responsible": {"kind": "unit", "unit_id": VC},
                           "contact": "010-123 00 00", "from": "2026-03-11", "to": "2026-06-10"}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/publish-contribution",
            request: |f, _| sip_post(f, "publish-contribution", json!({})),
            // Publishes the coordinating unit's drafts documented just before.
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/schedule-follow-up",
            request: |f, _| {
                sip_post(
                    f,
                    "schedule-follow-up",
                    json!({"follow_up_on": "2026-06-17", "note": "Flyttad en vecka."}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/record-follow-up",
            request: |f, _| {
                sip_post(
                    f,
                    "record-follow-up",
                    json!({"follow_up_id": "uppfoljning-matris", "held_on": "2026-03-10",
                           "interventions": [{"intervention_id": INTERVENTION, "outcome": "continues"}],
                           "goals": [{"sub_goal_id": SUB_GOAL, "reached": false},
                                     {"reached": false, "comment": "På god väg."}],
                           "next_follow_up_on": "2026-09-10"}),
                )
            },
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/record-discharge",
            request: |f, _| {
                sip_post(
                    f,
                    "record-discharge",
                    json!({"discharged_at": "2026-03-09T10:00:00Z"}),
                )
            },
            // The plan started in outpatient care: there is no inpatient stay to leave.
            expected: sip_command((409, Some("not_a_discharge"))),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/change-coordinator",
            request: |f, _| {
                sip_post(
                    f,
                    "change-coordinator",
                    json!({"staff_id": COLLEAGUE, "name": "Kollega Vårdcentralen",
                           "unit_id": VC, "reason": "Föräldraledighet."}),
                )
            },
            // The coordinator hands over to a colleague; from here on she is not coordinator.
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/withdraw-consent",
            request: |f, _| {
                sip_post(
                    f,
                    "withdraw-consent",
                    json!({"withdrawn_by": {"kind": "person"}, "note": "Vill avsluta."}),
                )
            },
            // Any participating unit records what the person says.
            expected: sip_command(OK),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/close-plan",
            request: |f, _| {
                sip_post(
                    f,
                    "close-plan",
                    json!({"reason": "consent_withdrawn", "note": "Samtycket återkallat."}),
                )
            },
            // Only the coordinator closes, and the role went to the colleague.
            expected: sip_command((403, Some("not_coordinator"))),
        },
        Row {
            method: Method::POST,
            route: "POST /sips/{id}/{unknown}",
            request: |f, _| sip_post(f, "paint-the-house", json!({})),
            // The command is unknown whatever the plan: the answer does not depend on the plan,
            // so it reveals nothing about it to a unit outside.
            expected: [
                (404, Some("unknown_command")),
                (404, Some("unknown_command")),
                ROLE,
                ROLE,
                ROLE,
                ROLE,
                NO_TOKEN,
            ],
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
    projections::runner::applied(
        app.store.pool(),
        projections::directory::PROJECTION,
        head,
        10_000,
    )
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
            let (expected, code) = row.expected[col];
            if status.as_u16() != expected || code.is_some_and(|c| answer["code"] != c) {
                failures.push(format!(
                    "{} as {who:?}: expected {expected} {}, got {} {answer}",
                    row.route,
                    code.unwrap_or("(success)"),
                    status.as_u16()
                ));
                continue;
            }
            let head_after = app.store.head_position().await.expect("head");
            if status.is_success() {
                // An accepted SIP command is recorded: the involved cell really acted.
                if row.route.starts_with("POST /sips/{id}/") {
                    assert!(
                        head_after > head_before,
                        "{} as {who:?} answered {expected} but appended nothing",
                        row.route
                    );
                }
            } else {
                assert_eq!(
                    answer["status"].as_u64(),
                    Some(u64::from(expected)),
                    "{} as {who:?}: a problem document: {answer}",
                    row.route
                );
                assert_eq!(head_after, head_before, "{} as {who:?} appended", row.route);
                // A refusal read nothing: the log may gain an attempt on a plan
                // (`sip.refused`, for a review on suspicion), never a read.
                let after = gateway::access_log::for_person(&app.state, &person)
                    .await
                    .expect("log");
                assert!(
                    after
                        .iter()
                        .skip(logged_before)
                        .all(|e| e.action == gateway::access_log::action::REFUSED_SIP),
                    "{} as {who:?} logged a read: {:?}",
                    row.route,
                    &after[logged_before.min(after.len())..]
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
