//! The findings of the outside audit of the HTTP contract (API.md), each pinned: a staff token
//! for a unit samplan does not know (F2), a role that may not is told 403 before its body or
//! query is read (F3), `min_position` on the access-log extract (F7), Swedish details for what
//! the parsers refuse (F8), one idempotent request however its JSON is spelled (F12), and the
//! smaller ones (F14, F15).

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

/// English words of serde's and the standard parsers' messages, which a Swedish detail must not
/// carry.
const ENGLISH: &[&str] = &[
    "expected",
    "unknown field",
    "missing field",
    "unknown variant",
    "invalid type",
    "invalid digit",
    "provided string",
    "at line",
    "premature end",
    "too large",
];

#[track_caller]
fn assert_swedish(problem: &Value) {
    let detail = problem["detail"].as_str().expect("detail");
    for word in ENGLISH {
        assert!(!detail.contains(word), "{word:?} in {detail:?}");
    }
}

async fn head(app: &TestApp) -> i64 {
    app.store.head_position().await.expect("head")
}

#[tokio::test]
async fn a_staff_token_for_a_unit_samplan_does_not_know_is_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let stranger = app.staff_token("SE2321000016-XX01", "no-such-unit");
    let before = head(&app).await;

    let (status, headers, problem) = app
        .post(
            "/api/v1/sips",
            &stranger,
            &json!({
                "person_id": w.person_id, "identified_by": "staff", "reason": "x",
                "context": {"kind": "outpatient"},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(problem["code"], "unit_unknown", "{problem}");
    assert_eq!(problem["type"], "urn:samplan:problem:unit_unknown");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("inte registrerad i samplan") && detail.contains("no-such-unit"),
        "{detail}"
    );

    // No read of personal data, no list, no write of any kind.
    for path in [
        format!("/api/v1/persons/{}", w.person_id),
        "/api/v1/persons?q=Tolvan".to_owned(),
        "/api/v1/inbox/todos".to_owned(),
        "/api/v1/inbox/events".to_owned(),
        "/api/v1/units".to_owned(),
    ] {
        let (status, _, problem) = app.get(&path, &stranger).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
        assert_eq!(problem["code"], "unit_unknown", "{path}: {problem}");
    }
    let (status, _, problem) = app
        .post(
            "/api/v1/persons",
            &stranger,
            &json!({"personal_identity_number": "19121212-1212", "name": "X"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("unit_unknown")),
        "{problem}"
    );
    assert_eq!(head(&app).await, before, "nothing was appended");

    // Once an administrator registers the unit, the same token works at once (the fact cache
    // remembered the unit as unknown; this process's own append makes that stale).
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({"id": "no-such-unit", "name": "Ny enhet",
                    "principal": {"kind": "region", "name": "Region Testlän"},
                    "uses_samplan": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Read at the store's head: the person was registered before, and on a loaded machine the
    // directory may not have applied it yet (a read without it may answer 404 for that).
    let (status, _, body) = app
        .get(
            &format!(
                "/api/v1/persons/{}?min_position={}",
                w.person_id,
                head(&app).await
            ),
            &stranger,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A unit registered as reached by letter (`uses_samplan: false`) has no inbox and its part is
/// documented by the coordinator: a staff token for it reads and writes nothing.
#[tokio::test]
async fn a_staff_token_for_a_unit_reached_by_letter_is_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({"id": "fk-testby", "name": "Försäkringskassan Testby",
                    "principal": {"kind": "external", "name": "Försäkringskassan"},
                    "uses_samplan": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let letter_unit = app.staff_token("FK-0001", "fk-testby");
    let before = head(&app).await;
    for path in [
        format!("/api/v1/persons/{}", w.person_id),
        format!("/api/v1/sips/{sip}"),
        "/api/v1/inbox/todos".to_owned(),
        "/api/v1/units".to_owned(),
    ] {
        let (status, headers, problem) = app.get(&path, &letter_unit).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(problem["code"], "unit_outside_samplan", "{path}: {problem}");
        assert_swedish(&problem);
    }
    let (status, _, problem) = app
        .post(
            &format!("/api/v1/sips/{sip}/record-consent"),
            &letter_unit,
            &consent(),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("unit_outside_samplan")),
        "{problem}"
    );
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("nås med brev") && detail.contains("fk-testby"),
        "{detail}"
    );
    assert_eq!(head(&app).await, before, "nothing was appended");
}

#[tokio::test]
async fn a_role_that_may_not_is_refused_before_its_body_or_query_is_read() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let citizen = app.token("citizen", &w.person_id, None, "Tolvan Tolvansson");
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    let reporting = app.token("reporting", "rapport-1", None, "Rapport");
    let admin = app.admin_token();
    let stranger = app.staff_token("SE2321000016-XX01", "no-such-unit");

    // Writes with an empty, incomplete or malformed body.
    for (token, path, body, code) in [
        (&w.vc, "/api/v1/units", "{}", "role_not_allowed"),
        (&citizen, "/api/v1/units", "{", "role_not_allowed"),
        (&citizen, "/api/v1/persons", "{}", "role_not_allowed"),
        (&admin, "/api/v1/persons", "[1]", "role_not_allowed"),
        (&citizen, "/api/v1/sips", "{}", "role_not_allowed"),
        (&auditor, "/api/v1/sips", "{\"x\": 1}", "role_not_allowed"),
        (
            &citizen,
            &format!("/api/v1/sips/{sip}/record-consent"),
            "{}",
            "role_not_allowed",
        ),
        (
            &admin,
            &format!("/api/v1/sips/{sip}/close-plan"),
            "not json",
            "role_not_allowed",
        ),
        (
            &reporting,
            &format!("/api/v1/persons/{}/change-contact-details", w.person_id),
            "{\"x\": 1}",
            "role_not_allowed",
        ),
        (
            &citizen,
            "/api/v1/inbox/messages/m-1/read",
            "{",
            "role_not_allowed",
        ),
        (
            &w.vc,
            "/api/v1/audit/verify",
            "{\"x\": 1}",
            "role_not_allowed",
        ),
        (&stranger, "/api/v1/sips", "{}", "unit_unknown"),
        (
            &stranger,
            &format!("/api/v1/sips/{sip}/record-consent"),
            "{",
            "unit_unknown",
        ),
    ] {
        let (status, _, problem) = app
            .send(
                app.client
                    .post(app.url(path))
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.to_owned()),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} {body}: {problem}");
        assert_eq!(problem["code"], code, "{path} {body}: {problem}");
    }

    // Reads with missing, unknown or malformed parameters.
    for (token, path) in [
        (&w.vc, "/api/v1/audit/access-review"),
        (&w.vc, "/api/v1/audit/access-review?from=yesterday"),
        (&w.vc, "/api/v1/audit/access-log"),
        (&w.vc, "/api/v1/audit/events?limit=abc"),
        (&citizen, "/api/v1/audit/sips/x?as_of=nu"),
        (&auditor, "/api/v1/inbox/messages?unread=maybe"),
        (&auditor, "/api/v1/inbox/todos?bogus=1"),
        (&auditor, "/api/v1/inbox/events?from_position=x"),
        (&citizen, "/api/v1/persons?q=Tolvan&limit=x"),
        (&citizen, "/api/v1/persons/x?min_position=x"),
        (&citizen, "/api/v1/sips/x?min_position=x"),
        (&w.vc, "/api/v1/me/plans?min_position=x"),
        (&w.vc, "/api/v1/me/plans/x/fhir?bogus=1"),
        (&w.vc, "/api/v1/reports/kpis"),
        (&auditor, "/api/v1/units?bogus=1"),
    ] {
        let (status, _, problem) = app.get(path, token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {problem}");
        assert_eq!(problem["code"], "role_not_allowed", "{path}: {problem}");
    }

    // The right role with the same wrong input is still told what is wrong with it.
    let (status, _, problem) = app.get("/api/v1/audit/access-review", &auditor).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let (status, _, problem) = app.post("/api/v1/units", &admin, &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

#[tokio::test]
async fn the_access_log_extract_reads_ones_own_write_and_tells_its_position() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    let sip = start_plan(&app, &w).await;
    let written = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let position = written["position"].as_i64().expect("position");
    let (status, _, read) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK, "{read}");

    for format in ["json", "csv"] {
        let (status, headers, body) = app
            .get(
                &format!(
                    "/api/v1/audit/access-log?person_id={}&min_position={position}&format={format}",
                    w.person_id
                ),
                &auditor,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{format}: {body}");
        let at: i64 = headers["x-samplan-position"]
            .to_str()
            .expect("header")
            .parse()
            .expect("a position");
        assert!(at >= position, "{format}: {at} < {position}");
    }
    let (status, _, body) = app
        .get(
            &format!(
                "/api/v1/audit/access-log?person_id={}&min_position=x",
                w.person_id
            ),
            &auditor,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_parameter");
}

#[tokio::test]
async fn what_the_parsers_refuse_is_told_in_swedish_naming_the_field() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    let cases = [
        (
            json!({"personal_identity_number": "19121212-1212", "name": "A", "favourite_colour": "blå"}),
            "/api/v1/persons",
            "unknown_field",
            vec!["`favourite_colour`", "`personal_identity_number`"],
        ),
        (
            json!({"personal_identity_number": 19121212, "name": "A"}),
            "/api/v1/persons",
            "invalid_body",
            vec![
                "`personal_identity_number`",
                "heltalet `19121212`",
                "en text",
            ],
        ),
        (
            json!({"name": "A"}),
            "/api/v1/persons",
            "missing_field",
            vec!["`personal_identity_number`"],
        ),
        (
            json!({"person_id": w.person_id, "identified_by": "robot", "reason": "x",
                   "context": {"kind": "outpatient"}}),
            "/api/v1/sips",
            "invalid_body",
            vec!["`identified_by`", "`robot`", "`staff`"],
        ),
        (
            json!({"person_id": w.person_id, "identified_by": "staff", "reason": "x",
                   "known_since": "2026-03-01T10:00", "context": {"kind": "outpatient"}}),
            "/api/v1/sips",
            "invalid_body",
            vec!["`known_since`", "RFC 3339"],
        ),
        (
            json!({"person_id": w.person_id, "identified_by": "staff", "reason": "x",
                   "context": {"kind": "outpatient", "colour": "red"}}),
            "/api/v1/sips",
            "unknown_field",
            vec!["`colour`"],
        ),
    ];
    for (body, path, code, words) in cases {
        let (status, _, problem) = app.post(path, &w.vc, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert_eq!(problem["code"], code, "{body}: {problem}");
        assert_swedish(&problem);
        let detail = problem["detail"].as_str().expect("detail");
        for word in words {
            assert!(detail.contains(word), "{word:?} not in {detail:?}");
        }
    }

    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    for (token, path, code, words) in [
        (
            &w.vc,
            "/api/v1/inbox/messages?unread=maybe",
            "invalid_parameter",
            vec!["`unread`", "true eller false"],
        ),
        (
            &w.vc,
            "/api/v1/inbox/todos?urgent=maybe",
            "invalid_parameter",
            vec!["`urgent`", "true eller false"],
        ),
        (
            &w.vc,
            "/api/v1/inbox/messages?limit=abc",
            "invalid_parameter",
            vec!["`limit`", "heltal"],
        ),
        (
            &w.vc,
            "/api/v1/inbox/messages?min_position=99999999999999999999",
            "invalid_parameter",
            vec!["`min_position`", "för stort"],
        ),
        (
            &w.vc,
            "/api/v1/inbox/messages?favourite=1",
            "unknown_parameter",
            vec!["`favourite`", "`unread`"],
        ),
        (
            &w.vc,
            "/api/v1/inbox/messages?unread=true&unread=false",
            "invalid_parameter",
            vec!["`unread`"],
        ),
        (
            &auditor,
            "/api/v1/audit/access-review?from=1%20mars&to=2026-03-02T00:00:00Z",
            "invalid_parameter",
            vec!["`from`", "RFC 3339"],
        ),
        (
            &auditor,
            "/api/v1/audit/access-review?to=2026-03-02T00:00:00Z",
            "missing_parameter",
            vec!["`from`"],
        ),
    ] {
        let (status, _, problem) = app.get(path, token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert_eq!(problem["code"], code, "{path}: {problem}");
        assert_swedish(&problem);
        let detail = problem["detail"].as_str().expect("detail");
        for word in words {
            assert!(detail.contains(word), "{path}: {word:?} not in {detail:?}");
        }
    }
}

#[tokio::test]
async fn a_retry_spelled_differently_is_the_same_request() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let path = format!("/api/v1/sips/{sip}/record-consent");
    let send = |body: String| {
        app.send(
            app.client
                .post(app.url(&path))
                .bearer_auth(&w.vc)
                .header("content-type", "application/json")
                .header("idempotency-key", "consent-1")
                .body(body),
        )
    };
    let first_body = format!(
        r#"{{"given_by":{{"kind":"person"}},"actors":["{VC}","{HT}"],"topics":["Boende"],"valid_until":"2027-03-10"}}"#
    );
    let (status, _, first) = send(first_body).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let before = version(&app, &sip).await;
    // Whitespace, key order (also nested) and escapes differ; the request is the same.
    for retry in [
        format!(
            "{{ \"given_by\" : {{ \"kind\" : \"person\" }},\n  \"actors\" : [ \"{VC}\", \"{HT}\" ],\n  \"topics\": [\"Boende\"], \"valid_until\": \"2027-03-10\" }}"
        ),
        format!(
            r#"{{"valid_until":"2027-03-10","topics":["Boende"],"actors":["{VC}","{HT}"],"given_by":{{"kind":"\u0070erson"}}}}"#
        ),
    ] {
        let (status, _, again) = send(retry.clone()).await;
        assert_eq!(status, StatusCode::OK, "{retry}: {again}");
        assert_eq!(again, first, "{retry}");
    }
    assert_eq!(version(&app, &sip).await, before, "appended once");
    // Another value under the same key is another request; so is another order of a list.
    for other in [
        format!(
            r#"{{"given_by":{{"kind":"person"}},"actors":["{VC}","{HT}"],"topics":["Boende"],"valid_until":"2027-03-11"}}"#
        ),
        format!(
            r#"{{"given_by":{{"kind":"person"}},"actors":["{HT}","{VC}"],"topics":["Boende"],"valid_until":"2027-03-10"}}"#
        ),
    ] {
        let (status, _, problem) = send(other.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{other}: {problem}"
        );
        assert_eq!(problem["code"], "idempotency_key_reused");
    }
}

#[tokio::test]
async fn the_audit_routes_refuse_what_the_other_routes_refuse() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");

    // A period that ends before it begins.
    let (status, _, problem) = app
        .get(
            &format!(
                "/api/v1/audit/access-log?person_id={}&from=2026-12-07T00:00:00Z&to=2026-12-01T00:00:00Z",
                w.person_id
            ),
            &auditor,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "invalid_parameter");

    // POST /audit/verify reads its body like every other: an unknown field is 400.
    let (status, _, problem) = app
        .post("/api/v1/audit/verify", &auditor, &json!({"x": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "unknown_field", "{problem}");
    let (status, _, answer) = app.post("/api/v1/audit/verify", &auditor, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["intact"], true);
    let (status, _, answer) = app
        .send(
            app.client
                .post(app.url("/api/v1/audit/verify"))
                .bearer_auth(&auditor),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn problem_texts_speak_of_what_the_caller_did() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    // A person registered twice: the title is not about a plan.
    let (status, _, problem) = app
        .post(
            "/api/v1/persons",
            &w.vc,
            &json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Igen"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "person_already_registered");
    let title = problem["title"].as_str().expect("title");
    assert!(!title.contains("plan"), "{title}");

    // 404: a staff member hears of their unit; a citizen and an auditor, who have none, do not.
    let unknown = "01JGFJJZ000000006Y8000ZZZZ";
    let citizen = app.token("citizen", &w.person_id, None, "Tolvan Tolvansson");
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    let (status, _, staff) = app.get(&format!("/api/v1/sips/{unknown}"), &w.vc).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{staff}");
    assert!(
        staff["detail"]
            .as_str()
            .expect("detail")
            .contains("din enhet"),
        "{staff}"
    );
    for (token, path) in [
        (&citizen, format!("/api/v1/me/plans/{unknown}")),
        (&citizen, format!("/api/v1/me/plans/{unknown}/fhir")),
        (&auditor, format!("/api/v1/audit/sips/{unknown}")),
        // An address that names nothing: nobody's unit to speak of.
        (&citizen, "/api/v1/no-such-route".to_string()),
    ] {
        let (status, _, problem) = app.get(&path, token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {problem}");
        assert_eq!(problem["code"], "not_found");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(!detail.contains("enhet"), "{path}: {detail}");
    }
}

#[tokio::test]
async fn a_year_the_calendar_does_not_cover_is_refused_and_the_read_models_go_on() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let before = head(&app).await;
    // Accepted once, such a date stopped every projection that counts with it, on every restart.
    for (known_since, field) in [
        ("-100000-01-01T00:00:00Z", "known_since"),
        ("0001-01-01T00:00:00Z", "known_since"),
    ] {
        let (status, _, problem) = app
            .post(
                "/api/v1/sips",
                &w.vc,
                &json!({"person_id": w.person_id, "identified_by": "staff", "reason": "Behov.",
                        "known_since": known_since, "context": {"kind": "outpatient"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["code"], "date_out_of_range", "{problem}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains(field) && detail.contains("1900"),
            "{detail}"
        );
        assert_swedish(&problem);
    }
    assert_eq!(head(&app).await, before, "nothing appended");
    // A plan in the years it covers is still started and read back through the read models.
    let sip = start_plan(&app, &w).await;
    let position = head(&app).await;
    let (status, _, ongoing) = app
        .get(
            &format!("/api/v1/inbox/sips?min_position={position}"),
            &w.vc,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ongoing}");
    assert!(ongoing.to_string().contains(&sip), "{ongoing}");
}
