//! Shared set-up of the SIP end-to-end tests: three units of two principals, their staff, a
//! registered person, and small helpers to send commands and look behind the API at the store.

#![allow(dead_code)] // Each test binary uses its own subset.

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The vårdcentral (region) that notices the need and coordinates.
pub const VC: &str = "vc-centrum";
/// Hemtjänst (municipality).
pub const HT: &str = "hemtjanst-norr";
/// Psykiatrisk mottagning (region).
pub const PSYK: &str = "psyk-mott";
/// A unit that takes part in no plan.
pub const OTHER: &str = "vc-annan";

/// Tokens of one staff member per unit, and the person a plan is for.
pub struct World {
    pub vc: String,
    pub ht: String,
    pub psyk: String,
    pub other: String,
    /// A second staff member at the vårdcentral (not the coordinator).
    pub vc_colleague: String,
    pub person_id: String,
}

/// Registers the units and the person.
pub async fn world(app: &TestApp) -> World {
    let admin = app.admin_token();
    for (id, name, kind, principal) in [
        (VC, "Vårdcentralen Centrum", "region", "Region Testlän"),
        (HT, "Hemtjänst Norr", "municipality", "Testby kommun"),
        (
            PSYK,
            "Psykiatriska mottagningen",
            "region",
            "Region Testlän",
        ),
        (OTHER, "Vårdcentralen Annan", "region", "Region Testlän"),
    ] {
        let (status, _, body) = app
            .post(
                "/api/v1/units",
                &admin,
                &json!({
                    "id": id, "name": name,
                    "principal": {"kind": kind, "name": principal},
                    "uses_samplan": true,
                }),
            )
            .await;
        assert!(status.is_success(), "registering {id}: {status} {body}");
    }
    let vc = app.staff_token("SE2321000016-VC01", VC);
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &vc,
            &json!({
                "personal_identity_number": "19121212-1212",
                "name": "Tolvan Tolvansson",
                "address": "Storgatan 1, 123 45 Testby",
            }),
        )
        .await;
    assert!(
        status.is_success(),
        "registering the person: {status} {body}"
    );
    let mut w = World {
        vc,
        ht: String::new(),
        psyk: String::new(),
        other: String::new(),
        vc_colleague: String::new(),
        person_id: body["id"].as_str().expect("person id").to_owned(),
    };
    w.refresh(app);
    w
}

impl World {
    /// New tokens issued at the app's current time (tokens live 8 hours; tests move the clock
    /// by days).
    pub fn refresh(&mut self, app: &TestApp) {
        self.vc = app.staff_token("SE2321000016-VC01", VC);
        self.ht = app.staff_token("SE2120000001-HT01", HT);
        self.psyk = app.staff_token("SE2321000016-PS01", PSYK);
        self.other = app.staff_token("SE2321000016-AN01", OTHER);
        self.vc_colleague = app.staff_token("SE2321000016-VC02", VC);
    }
}

/// The vårdcentral records the SIP-möte of kallelse `inv-1` as held now (the test clock's
/// morning), hemtjänsten attending, the follow-up agreed for 12 June.
pub async fn hold_the_meeting(app: &TestApp, w: &World, sip: &str) {
    ok(command(
        app,
        &w.vc,
        sip,
        "record-meeting",
        &json!({"invitation_id": "inv-1", "held_at": "2026-03-10T09:00:00+01:00",
                "attendees": [{"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
                "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst",
                "follow_up_on": "2026-06-12"}),
    )
    .await);
}

/// `POST /sips` for the world's person; returns the new plan's id.
pub async fn start_plan(app: &TestApp, w: &World) -> String {
    start_plan_for(app, w, &w.person_id).await
}

/// `POST /sips` by the vårdcentral for `person_id`; returns the new plan's id.
pub async fn start_plan_for(app: &TestApp, w: &World, person_id: &str) -> String {
    let (status, body) = try_start_plan_for(app, w, person_id).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("sip id").to_owned()
}

/// `POST /sips` for the world's person, whatever the answer.
pub async fn try_start_plan(app: &TestApp, w: &World) -> (StatusCode, Value) {
    try_start_plan_for(app, w, &w.person_id).await
}

pub async fn try_start_plan_for(app: &TestApp, w: &World, person_id: &str) -> (StatusCode, Value) {
    let (status, _, body) = app
        .post(
            "/api/v1/sips",
            &w.vc,
            &json!({
                "person_id": person_id,
                "identified_by": "staff",
                "reason": "Behöver samordnade insatser från vård och omsorg efter utskrivning.",
                "context": {"kind": "outpatient"},
            }),
        )
        .await;
    (status, body)
}

/// `POST /persons` by the vårdcentral: a person with personnummer `pin` and `name`; returns the
/// new person's id.
pub async fn register_person(app: &TestApp, w: &World, pin: &str, name: &str) -> String {
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &w.vc,
            &json!({"personal_identity_number": pin, "name": name}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("person id").to_owned()
}

/// Consent covering the three units, recorded by the vårdcentral.
pub fn consent() -> Value {
    json!({
        "given_by": {"kind": "person"},
        "actors": [VC, HT, PSYK],
        "topics": ["Boende och stöd i hemmet", "Psykisk hälsa"],
        "valid_until": "2027-03-10",
    })
}

/// The body of a `send-invitation` to hemtjänsten: kallelse `id` with `purpose` (`meeting` or
/// `follow_up`) at `scheduled_at`.
pub fn kallelse(id: &str, purpose: &str, scheduled_at: &str) -> Value {
    json!({
        "invitation_id": id, "purpose": purpose, "scheduled_at": scheduled_at,
        "form": "in_person", "place": "Vårdcentralen Centrum, rum 3",
        "reason": "Planera stödet tillsammans.",
        "recipients": [{"kind": "unit", "unit_id": HT}],
    })
}

/// A plan started by `token`'s unit when the person is ready for discharge (10 March 07:00 UTC)
/// on `track`; its id.
pub async fn start_discharge_plan(app: &TestApp, w: &World, token: &str, track: &str) -> String {
    let (status, _, started) = app
        .post(
            "/api/v1/sips",
            token,
            &json!({"person_id": w.person_id, "identified_by": "staff",
                    "reason": "Utskrivningsklar från vårdavdelningen; behöver stöd hemma.",
                    "context": {"kind": "discharge", "track": track,
                                "discharge_ready_at": "2026-03-10T07:00:00Z"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    started["id"].as_str().expect("id").to_owned()
}

/// A plan with consent and a plan basis: the vårdcentral's staff member coordinates.
pub async fn prepared_plan(app: &TestApp, w: &World) -> String {
    prepared_plan_for(app, w, &w.person_id).await
}

/// [`prepared_plan`] for `person_id`.
pub async fn prepared_plan_for(app: &TestApp, w: &World, person_id: &str) -> String {
    let sip = start_plan_for(app, w, person_id).await;
    ok(command(app, &w.vc, &sip, "record-consent", &consent()).await);
    ok(command(app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    sip
}

/// [`prepared_plan`] with kallelse `inv-1` to hemtjänsten's SIP-möte at `scheduled_at`: the plan
/// and the answer to the kallelse.
pub async fn invited_plan(app: &TestApp, w: &World, scheduled_at: &str) -> (String, Value) {
    let sip = prepared_plan(app, w).await;
    let answer = ok(command(
        app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", scheduled_at),
    )
    .await);
    (sip, answer)
}

/// `POST /sips/{sip}/{command}`.
pub async fn command(
    app: &TestApp,
    token: &str,
    sip: &str,
    command: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let (status, _, body) = app
        .post(&format!("/api/v1/sips/{sip}/{command}"), token, body)
        .await;
    (status, body)
}

/// Asserts a successful write and returns its answer.
#[track_caller]
pub fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "expected success, got {body}");
    body
}

/// Asserts a problem answer with this status and code.
#[track_caller]
pub fn problem((status, body): (StatusCode, Value), expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
}

/// The plan's stream version, read from the store (not through the API).
pub async fn version(app: &TestApp, sip: &str) -> i64 {
    app.store
        .stream_version(&format!("sip-{sip}"))
        .await
        .expect("reading the stream version")
}

/// The plan's stored events, in order.
pub async fn events(app: &TestApp, sip: &str) -> Vec<eventstore::RecordedEvent> {
    app.store
        .read_stream(&format!("sip-{sip}"), 1)
        .await
        .expect("reading the stream")
}

/// Moves the service's clock, and the world's tokens with it.
pub fn set_time(app: &TestApp, w: &mut World, rfc3339: &str) {
    app.clock.set(rfc3339.parse().expect("valid time"));
    w.refresh(app);
}
