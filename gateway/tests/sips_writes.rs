//! How SIP writes behave at the edges: idempotent retries, `If-Match`, many clients racing on
//! one plan, and input that must be refused with its code and nothing appended.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;
use std::collections::{BTreeMap, BTreeSet};

/// Sends a command with extra headers; returns status and JSON body.
async fn command_with(
    app: &TestApp,
    token: &str,
    sip: &str,
    cmd: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/sips/{sip}/{cmd}")))
        .bearer_auth(token)
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, _, body) = app.send(request).await;
    (status, body)
}

/// Sends raw bytes as a command body.
async fn raw(
    app: &TestApp,
    token: &str,
    sip: &str,
    cmd: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = app
        .client
        .post(app.url(&format!("/api/v1/sips/{sip}/{cmd}")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    let (status, _, body) = app.send(request).await;
    (status, body)
}

fn mapping(id: &str, text: &str) -> Value {
    json!({"mapping_id": id, "heading": "housing", "text": text})
}

#[tokio::test]
async fn a_retried_command_is_applied_once_and_a_reused_key_is_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let before = version(&app, &sip).await;

    let key = [("idempotency-key", "mapping-2026-03-10-a")];
    let body = mapping("map-1", "Bor ensam.");
    let first = command_with(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &[key[0], ("x-request-id", "req-mapping-1")],
        &body,
    )
    .await;
    let first = ok(first);
    assert_eq!(first["version"], before + 1);
    // The events name the command (scoped to the user) and the request that caused them.
    let stored = events(&app, &sip).await;
    let written = stored.last().expect("an event");
    assert_eq!(
        written.metadata.command_id.as_deref(),
        Some("SE2321000016-VC01:mapping-2026-03-10-a")
    );
    assert_eq!(
        written.metadata.correlation_id.as_deref(),
        Some("req-mapping-1")
    );
    assert_eq!(written.metadata.causation_id, None);
    let again = ok(command_with(&app, &w.vc, &sip, "document-mapping", &key, &body).await);
    assert_eq!(again, first, "a retry gets the first answer");
    assert_eq!(version(&app, &sip).await, before + 1, "appended once");

    // The same key with another body is refused, and nothing is written.
    let other = mapping("map-1", "Bor med sin son.");
    problem(
        command_with(&app, &w.vc, &sip, "document-mapping", &key, &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    // … also on another command path.
    problem(
        command_with(
            &app,
            &w.vc,
            &sip,
            "document-main-goal",
            &key,
            &json!({"text": "x"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(version(&app, &sip).await, before + 1);

    // A retried answer stays the same even after the plan moved on and would now refuse it.
    ok(command(
        &app,
        &w.vc,
        &sip,
        "close-plan",
        &json!({"reason": "no_longer_needed"}),
    )
    .await);
    let late = ok(command_with(&app, &w.vc, &sip, "document-mapping", &key, &body).await);
    assert_eq!(late, first);

    // Keys belong to their user: a colleague may use the same key for their own command.
    let sip2 = prepared_plan(&app, &w).await;
    let colleague = command_with(
        &app,
        &w.vc_colleague,
        &sip2,
        "withdraw-consent",
        &key,
        &json!({"withdrawn_by": {"kind": "person"}}),
    )
    .await;
    assert_eq!(ok(colleague)["events"], json!(["ConsentWithdrawn"]));
}

#[tokio::test]
async fn a_retried_start_returns_the_same_plan() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let body = json!({
        "person_id": w.person_id, "identified_by": "relative",
        "reason": "Dottern ringde och berättade om behovet.", "context": {"kind": "outpatient"},
    });
    let send = || async {
        let request = app
            .client
            .post(app.url("/api/v1/sips"))
            .bearer_auth(&w.vc)
            .header("idempotency-key", "start-1")
            .json(&body);
        app.send(request).await
    };
    let (status, first_headers, first) = send().await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second_headers, second) = send().await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(first, second);
    let sip = first["id"].as_str().expect("id");
    assert_eq!(version(&app, sip).await, 1);
    // Both answers name the plan's address, and it reads the plan.
    let location = |headers: &reqwest::header::HeaderMap| {
        headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let address = format!("/api/v1/sips/{sip}");
    assert_eq!(location(&first_headers).as_deref(), Some(address.as_str()));
    assert_eq!(location(&second_headers), location(&first_headers));
    let at = first["position"].as_i64().expect("position");
    let (status, _, read) = app
        .get(&format!("{address}?min_position={at}"), &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["sip_id"], sip);
    let starts = app
        .store
        .read_all(0, 1000)
        .await
        .expect("read all")
        .into_iter()
        .filter(|e| e.event_type == "NeedIdentified")
        .count();
    assert_eq!(starts, 1, "one plan, not two");
}

#[tokio::test]
async fn a_stale_if_match_is_a_version_conflict_and_a_current_one_succeeds() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let (_, _, read) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    let seen = read["version"].as_i64().expect("version");

    // Someone else writes in between.
    ok(command(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &mapping("a", "Först."),
    )
    .await);
    let stale = format!("\"{seen}\"");
    let (status, body) = command_with(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &[("if-match", &stale)],
        &mapping("b", "Byggde på gammal läsning."),
    )
    .await;
    problem(
        (status, body.clone()),
        StatusCode::CONFLICT,
        "version_conflict",
    );
    assert_eq!(body["current_version"], seen + 1);
    assert_eq!(version(&app, &sip).await, seen + 1);

    let current = format!("\"{}\"", seen + 1);
    let written = ok(command_with(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &[("if-match", &current)],
        &mapping("b", "Byggde på aktuell läsning."),
    )
    .await);
    assert_eq!(written["version"], seen + 2);

    problem(
        command_with(
            &app,
            &w.vc,
            &sip,
            "document-mapping",
            &[("if-match", "senaste")],
            &mapping("c", "x"),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_if_match",
    );
}

#[tokio::test]
async fn many_staff_documenting_at_once_are_all_recorded_once_in_turn() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let before = version(&app, &sip).await;
    const CLIENTS: usize = 32;

    // After a SIP meeting several people document at once. None asked for optimistic
    // concurrency (no If-Match) and no command conflicts with another, so every one must be
    // recorded: commands on one plan take their turn inside the gateway.
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (client, url, token) = (
                app.client.clone(),
                app.url(&format!("/api/v1/sips/{sip}/document-mapping")),
                w.vc.clone(),
            );
            tokio::spawn(async move {
                let id = format!("race-{i}");
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&mapping(&id, &format!("Kartläggning {i}")))
                    .send()
                    .await
                    .expect("sent");
                let status = response.status();
                let body: Value = response.json().await.expect("json");
                (id, status, body)
            })
        })
        .collect();
    let mut acknowledged = BTreeMap::new();
    for task in tasks {
        let (id, status, body) = task.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{id}: {body}");
        acknowledged.insert(body["version"].as_i64().expect("version"), id);
    }
    assert_eq!(
        acknowledged.len(),
        CLIENTS,
        "every answer names its own version"
    );
    let stored = events(&app, &sip).await;
    let written: Vec<_> = stored
        .iter()
        .filter(|e| e.stream_version > before)
        .collect();
    let versions: Vec<i64> = written.iter().map(|e| e.stream_version).collect();
    assert_eq!(
        versions,
        (before + 1..=before + CLIENTS as i64).collect::<Vec<_>>(),
        "versions follow each other without a gap"
    );
    let mut ids = BTreeSet::new();
    for event in written {
        let id = acknowledged
            .get(&event.stream_version)
            .unwrap_or_else(|| panic!("version {} was not acknowledged", event.stream_version));
        let stored_id = event.data_as::<Value>().expect("payload")["mapping_id"].clone();
        assert_eq!(stored_id, id.as_str(), "the answer names the event written");
        assert!(ids.insert(id.clone()), "{id} stored twice");
    }

    // With If-Match every client insists on the version it read: exactly one wins.
    let seen = version(&app, &sip).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (client, url, token) = (
                app.client.clone(),
                app.url(&format!("/api/v1/sips/{sip}/document-mapping")),
                w.vc.clone(),
            );
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .header("if-match", format!("\"{seen}\""))
                    .json(&mapping(&format!("strict-{i}"), "Samtidigt"))
                    .send()
                    .await
                    .expect("sent");
                let status = response.status();
                let body: Value = response.json().await.expect("json");
                (status, body)
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            StatusCode::OK => winners += 1,
            StatusCode::CONFLICT => assert_eq!(body["code"], "version_conflict", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(version(&app, &sip).await, seen + 1);
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_and_nothing_is_appended() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    // Before consent: no plan basis.
    let fresh = start_plan(&app, &w).await;
    problem(
        command(&app, &w.vc, &fresh, "create-plan-basis", &json!({})).await,
        StatusCode::CONFLICT,
        "consent_missing",
    );
    assert_eq!(version(&app, &fresh).await, 1);

    let sip = prepared_plan(&app, &w).await;
    let before = version(&app, &sip).await;
    let cases: Vec<(&str, (StatusCode, Value), StatusCode, &str)> = vec![
        (
            "malformed JSON",
            raw(
                &app,
                &w.vc,
                &sip,
                "document-mapping",
                b"{\"heading\": \"housing\",".to_vec(),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "unknown field",
            command(
                &app,
                &w.vc,
                &sip,
                "document-main-goal",
                &json!({"text": "x", "priority": 1}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "unknown_field",
        ),
        (
            "missing field",
            command(
                &app,
                &w.vc,
                &sip,
                "document-mapping",
                &json!({"heading": "housing"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "missing_field",
        ),
        (
            "wrong type",
            command(
                &app,
                &w.vc,
                &sip,
                "schedule-follow-up",
                &json!({"follow_up_on": 20260612}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "unknown enum value",
            command(&app, &w.vc, &sip, "close-plan", &json!({"reason": "bored"})).await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            "oversized body",
            command(
                &app,
                &w.vc,
                &sip,
                "document-main-goal",
                &json!({"text": "x".repeat(70 * 1024)}),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "unknown command",
            command(&app, &w.vc, &sip, "delete-plan", &json!({})).await,
            StatusCode::NOT_FOUND,
            "unknown_command",
        ),
        (
            "a unit that takes no part",
            command(
                &app,
                &w.other,
                &sip,
                "document-mapping",
                &mapping("x", "Smygtitt."),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "a unit that takes no part, with a value only the domain would refuse",
            command(
                &app,
                &w.other,
                &sip,
                "document-mapping",
                &mapping_with_heading("kitchen"),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "not the coordinator",
            command(
                &app,
                &w.vc_colleague,
                &sip,
                "document-mapping",
                &mapping("x", "Kollega."),
            )
            .await,
            StatusCode::FORBIDDEN,
            "not_coordinator",
        ),
        (
            "an invalid heading",
            command(
                &app,
                &w.vc,
                &sip,
                "document-mapping",
                &mapping_with_heading("kitchen"),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_heading",
        ),
        (
            "an invalid unit id",
            command(
                &app,
                &w.vc,
                &sip,
                "change-coordinator",
                &json!({"staff_id": "SE1", "name": "N", "unit_id": "bad unit"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id",
        ),
        (
            "a citizen",
            command(
                &app,
                &app.token("citizen", &w.person_id, None, "Tolvan"),
                &sip,
                "document-mapping",
                &mapping("x", "Jag själv."),
            )
            .await,
            StatusCode::FORBIDDEN,
            "role_not_allowed",
        ),
        (
            "a plan that does not exist",
            command(
                &app,
                &w.vc,
                "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                "document-mapping",
                &mapping("x", "Finns inte."),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "a too long Idempotency-Key",
            command_with(
                &app,
                &w.vc,
                &sip,
                "document-mapping",
                &[("idempotency-key", &"k".repeat(65))],
                &mapping("x", "y"),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
        ),
    ];
    for (what, answer, status, code) in cases {
        assert_eq!(answer.0, status, "{what}: {}", answer.1);
        assert_eq!(answer.1["code"], code, "{what}: {}", answer.1);
        assert_eq!(
            version(&app, &sip).await,
            before,
            "{what} appended something"
        );
    }
    // An unknown command is answered as a person's is: its title, and the commands there are.
    let (_, body) = command(&app, &w.vc, &sip, "delete-plan", &json!({})).await;
    assert_eq!(body["title"], "Okänt kommando", "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Giltiga kommandon: record-consent, ") && detail.contains("close-plan"),
        "{detail}"
    );

    // No token at all.
    let (status, _, _) = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/sips/{sip}/document-mapping")))
                .json(&mapping("x", "y")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Starting a plan for a person who does not exist.
    let (status, _, body) = app
        .post(
            "/api/v1/sips",
            &w.vc,
            &json!({"person_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "identified_by": "staff", "reason": "x", "context": {"kind": "outpatient"}}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "person_not_found");
    let plans: BTreeSet<String> = app
        .store
        .read_all(0, 1000)
        .await
        .expect("read all")
        .into_iter()
        .filter(|e| e.event_type == "NeedIdentified")
        .map(|e| e.stream_id)
        .collect();
    assert_eq!(plans.len(), 2, "only the two plans started above exist");
}

fn mapping_with_heading(heading: &str) -> Value {
    json!({"mapping_id": "h", "heading": heading, "text": "Text."})
}

#[tokio::test]
async fn an_invited_unit_may_respond_but_not_coordinate() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting", "scheduled_at": "2026-03-13T13:00:00Z",
            "form": "video", "reason": "SIP-möte", "recipients": [{"kind": "unit", "unit_id": HT}],
        }),
    )
    .await);
    let before = version(&app, &sip).await;
    problem(
        command(
            &app,
            &w.ht,
            &sip,
            "cancel-invitation",
            &json!({"invitation_id": "inv-1"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_coordinator",
    );
    // Psykiatrin was not invited: the plan stays invisible to it.
    problem(
        command(
            &app,
            &w.psyk,
            &sip,
            "respond-to-invitation",
            &json!({"invitation_id": "inv-1", "representative": {"name": "P"}}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(version(&app, &sip).await, before);
    ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Hanna Hemtjänst"}}),
    )
    .await);
    assert_eq!(version(&app, &sip).await, before + 1);
}

#[tokio::test]
async fn a_colleague_at_the_coordinators_unit_hands_the_plan_over() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let hand_over = json!({"staff_id": "SE2120000001-HT01", "name": "Hanna Hemtjänst",
                           "unit_id": HT, "reason": "Samordnaren är sjukskriven."});
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-12T09:00:00+01:00"),
    )
    .await);
    // Another unit taking part does not take the plan over …
    let before = version(&app, &sip).await;
    problem(
        command(&app, &w.ht, &sip, "change-coordinator", &hand_over).await,
        StatusCode::FORBIDDEN,
        "not_coordinator",
    );
    assert_eq!(version(&app, &sip).await, before, "nothing appended");
    // … but the coordinator's colleague at the vårdcentral hands it over while she is away.
    let written = ok(command(
        &app,
        &w.vc_colleague,
        &sip,
        "change-coordinator",
        &hand_over,
    )
    .await);
    assert_eq!(written["events"], json!(["CoordinatorChanged"]));
    let (status, _, plan) = app.get(&format!("/api/v1/sips/{sip}"), &w.ht).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(
        plan["coordinator"]["staff_id"], "SE2120000001-HT01",
        "{plan}"
    );
    let stored = events(&app, &sip).await;
    let changed = stored.last().expect("an event");
    assert_eq!(
        changed.metadata.actor, "SE2321000016-VC02",
        "recorded as the colleague's act"
    );
}

/// The coordinator's role goes only to a unit that takes part in the plan or is covered by the
/// consent: handed to any other unit, that unit would read the plan from then on ("Nobody sees a
/// plan their unit takes no part in").
#[tokio::test]
async fn the_plan_is_never_handed_to_a_unit_outside_it_and_its_consent() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let before = version(&app, &sip).await;
    let outside = json!({"staff_id": "SE2321000016-AN01", "name": "Anna Annan",
                         "unit_id": OTHER, "reason": "Fel enhet."});
    let (status, body) = command(&app, &w.vc, &sip, "change-coordinator", &outside).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("coordinator_not_covered_by_consent")
        ),
        "{body}"
    );
    assert_eq!(
        body["detail"],
        "Samtycket omfattar inte Vårdcentralen Annan. Den samordningsansvariga enheten måste \
         omfattas av samtycket: inhämta samtycke som omfattar enheten, eller låt en enhet som \
         samtycket omfattar samordna planen."
    );
    assert_eq!(version(&app, &sip).await, before, "nothing appended");
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.other).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the other unit still cannot read it"
    );
    // The plan's page offers only the units that may take it over.
    let (status, html) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let form = html
        .split("id=\"samordnare\"")
        .nth(1)
        .and_then(|rest| rest.split("</form>").next())
        .expect("the form Byt samordningsansvarig");
    for (unit, offered) in [(VC, true), (HT, true), (PSYK, true), (OTHER, false)] {
        assert_eq!(
            form.contains(&format!("value=\"{unit}\"")),
            offered,
            "{unit} in {form}"
        );
    }

    // A unit the consent covers but that takes no part is outside the plan once it has its
    // basis: creating it again is a 404 like any other command, never a 409 that tells the plan
    // exists and how far it has come.
    let (status, body) = command(&app, &w.psyk, &sip, "create-plan-basis", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(version(&app, &sip).await, before, "nothing appended");

    // A unit the consent covers may take it over, though it has not acted in the plan yet.
    let covered = json!({"staff_id": "SE2321000016-PS01", "name": "Petra Psyk",
                         "unit_id": PSYK, "reason": "Psykiatrin har mest kontakt."});
    let written = ok(command(&app, &w.vc, &sip, "change-coordinator", &covered).await);
    assert_eq!(written["events"], json!(["CoordinatorChanged"]));
}

/// A refusal about a unit names it as staff know it, not by its id: "Samtycket omfattar inte
/// Vårdcentralen Annan".
#[tokio::test]
async fn refusals_name_units_as_staff_know_them() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let mut outside = kallelse("inv-1", "meeting", "2026-03-20T09:00:00Z");
    outside["recipients"] = json!([{"kind": "unit", "unit_id": OTHER}]);
    let (status, body) = command(&app, &w.vc, &sip, "send-invitation", &outside).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("actor_not_covered_by_consent")),
        "{body}"
    );
    assert_eq!(
        body["detail"],
        "Samtycket omfattar inte Vårdcentralen Annan. Inhämta samtycke som omfattar enheten \
         innan den kallas, deltar i mötet eller skriver i planen."
    );
    assert!(!body.to_string().contains(OTHER), "no unit id: {body}");
}

/// The plan's Historik tells another unit that a draft was written, not what it is about: a
/// heading such as "Psykisk hälsa" is part of the draft, its author's alone until published.
#[tokio::test]
async fn another_units_draft_shows_in_the_history_without_its_heading() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (sip, _) = invited_plan(&app, &w, "2026-03-12T09:00:00+01:00").await;
    hold_the_meeting(&app, &w, &sip).await;
    ok(command(
        &app,
        &w.vc,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-vc", "heading": "mental_health", "text": "Må bättre.",
                "responsible": {"kind": "unit", "unit_id": VC}}),
    )
    .await);
    let history = |html: String| -> String {
        html.split("id=\"rubrik-historik\"")
            .nth(1)
            .and_then(|rest| rest.split("</ol>").next())
            .expect("Historik")
            .to_owned()
    };
    let (status, html) = app.page(&format!("/sip/{sip}"), &w.ht).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let theirs = history(html);
    assert!(theirs.contains("Delmål dokumenterat (utkast)."), "{theirs}");
    assert!(!theirs.contains("Psykisk hälsa"), "{theirs}");
    let (_, html) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    let own = history(html);
    assert!(
        own.contains("Delmål dokumenterat under ”Psykisk hälsa” (utkast)."),
        "{own}"
    );
}

/// A letter nobody marked as posted is never shown as posted: once the meeting is held no letter
/// is owed any more, and the page says the person's was not posted.
#[tokio::test]
async fn a_letter_nobody_posted_is_not_shown_as_posted_after_the_meeting() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let mut invitation = kallelse("inv-1", "meeting", "2026-03-12T09:00:00+01:00");
    invitation["recipients"] = json!([{"kind": "unit", "unit_id": HT}, {"kind": "person"}]);
    ok(command(&app, &w.vc, &sip, "send-invitation", &invitation).await);
    let letters = |html: &str| -> String {
        html.split("Brev att skriva ut:")
            .nth(1)
            .and_then(|rest| rest.split("</li>").next())
            .expect("the letters of the kallelse")
            .to_owned()
    };
    let (_, html) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    assert!(letters(&html).contains("ska postas"), "{}", letters(&html));
    hold_the_meeting(&app, &w, &sip).await;
    let (_, html) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    let after = letters(&html);
    assert!(
        after.contains(r#"<span class="tag">inte postat</span>"#),
        "{after}"
    );
    assert!(
        !after.contains(r#"<span class="tag">postat</span>"#),
        "{after}"
    );
}

/// The coordinator documents for an actor without samplan only if the person let that actor take
/// part: a consent names it, as a kallelse to it would need (refused otherwise, nothing appended).
#[tokio::test]
async fn the_coordinator_documents_only_for_an_actor_the_consent_names() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
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
    let (sip, _) = invited_plan(&app, &w, "2026-03-17T09:00:00+01:00").await;
    ok(command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({"invitation_id": "inv-1", "held_at": "2026-03-10T08:00:00Z",
                "attendees": [{"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
                "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst",
                "follow_up_on": "2026-06-12"}),
    )
    .await);
    let before = version(&app, &sip).await;
    let (status, body) = command(
        &app,
        &w.vc,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-fk", "heading": "work_and_income", "text": "Sjukpenning utreds.",
                "responsible": {"kind": "unit", "unit_id": "fk-testby"}}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("actor_not_covered_by_consent")),
        "{body}"
    );
    assert_eq!(version(&app, &sip).await, before);
}

/// The plan's page tells the coordinator which units called have not named their representative
/// yet, and who each representative is, with title and phone.
#[tokio::test]
async fn the_plan_page_says_who_has_not_answered_the_kallelse() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (sip, _) = invited_plan(&app, &w, "2026-03-17T09:00:00+01:00").await;
    let (_, html) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    assert!(
        html.contains("Har inte utsett representant ännu: Hemtjänst Norr"),
        "{html}"
    );
    ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1",
                "representative": {"name": "Hanna Hemtjänst", "profession": "biståndshandläggare",
                                   "phone": "010-123 45 67"}}),
    )
    .await);
    let (_, html) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    assert!(!html.contains("Har inte utsett representant"), "{html}");
    assert!(
        html.contains(
            "Hanna Hemtjänst (biståndshandläggare), Hemtjänst Norr, telefon 010-123 45 67"
        ),
        "{html}"
    );
}

/// A unit the consent names but that takes no part does not make itself coordinator of a plan
/// another unit started in öppenvård: it is outside the plan, so the answer is the 404 any read
/// of it gets, and nothing is appended (an outside review took a plan over so, then recorded a
/// consent leaving out the unit that started it).
#[tokio::test]
async fn a_unit_the_consent_names_does_not_take_over_a_plan_it_is_not_in() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let before = version(&app, &sip).await;
    let (status, body) = command(&app, &w.ht, &sip, "create-plan-basis", &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{body}"
    );
    assert_eq!(version(&app, &sip).await, before, "nothing appended");
    // The attempt is in the person's log, as a refused read is, naming its request (it is
    // logged beside the answer, so it may land a moment after it).
    let client = app.store.pool().get().await.expect("connection");
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = client
            .query(
                "SELECT sip_id, request_id IS NOT NULL FROM access_log \
                  WHERE action = 'sip.refused' AND unit = $1",
                &[&HT],
            )
            .await
            .expect("access log")
            .iter()
            .map(|r| (r.get::<_, Option<String>>(0), r.get::<_, bool>(1)))
            .collect();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, vec![(Some(sip.clone()), true)]);
    // The unit that started it creates the basis, and coordinates.
    ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
}

/// ADR 0054: after a discharge, the fast vårdkontakt in the region's öppenvård takes up the plan
/// the ward started, and the ward is told; a municipality's unit the consent names learns no
/// more than any outsider (404), and nothing is appended.
#[tokio::test]
async fn the_fast_vardkontakt_takes_up_a_discharge_plan_and_no_municipal_unit_does() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // Psykiatrin stands for the ward here: it notices the need at discharge.
    let sip = start_discharge_plan(&app, &w, &w.psyk, "yellow").await;
    ok(command(&app, &w.psyk, &sip, "record-consent", &consent()).await);
    let before = version(&app, &sip).await;
    let (status, body) = command(&app, &w.ht, &sip, "create-plan-basis", &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{body}"
    );
    assert_eq!(version(&app, &sip).await, before, "nothing appended");
    // The vårdcentral finds it on the person's page (Sök patient), hemtjänsten does not.
    let cookie = |token: &str| format!("samplan_session={token}; samplan_csrf={}", "cd".repeat(32));
    let person_page = format!("/patienter/{}", w.person_id);
    let page = app.browser_get(&person_page, &cookie(&w.ht)).await;
    assert!(!page.body.contains("Ta upp planen"), "{}", page.body);
    let page = app.browser_get(&person_page, &cookie(&w.vc)).await;
    assert!(
        page.body
            .contains(&format!("action=\"/sip/{sip}/underlag\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Ta upp planen – SIP vid utskrivning"),
        "{}",
        page.body
    );
    let csrf = gateway::testing::csrf_on_page(&page.body).expect("a form token");
    let answer = app
        .browser_post(
            &format!("/sip/{sip}/underlag"),
            &cookie(&w.vc),
            &[("_csrf", csrf.as_str()), ("initiated_by", "Psykiatrin")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert!(
        answer.location.starts_with(&format!("/sip/{sip}")),
        "{}",
        answer.location
    );
    assert_eq!(version(&app, &sip).await, before + 1, "the basis, once");
    let at = head_position(&app).await;
    let page = app.browser_get(&person_page, &cookie(&w.vc)).await;
    assert!(
        !page.body.contains("Ta upp planen"),
        "taken up: {}",
        page.body
    );
    let (_, _, told) = app
        .get(
            &format!("/api/v1/inbox/messages?min_position={at}"),
            &w.psyk,
        )
        .await;
    assert_eq!(told["messages"][0]["type"], "coordinator_changed", "{told}");
}

async fn head_position(app: &TestApp) -> i64 {
    app.store.head_position().await.expect("head")
}
