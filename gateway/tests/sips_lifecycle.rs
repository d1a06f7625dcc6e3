//! A SIP's whole life through the HTTP API, as staff of three units of two principals: a
//! vårdcentral (region) that notices the need and coordinates, hemtjänst (municipality) and a
//! psykiatrisk mottagning (region) that are invited, appoint representatives, document and
//! publish their parts; follow-up and closing; and a closed plan that accepts nothing more.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

async fn read(app: &TestApp, token: &str, sip: &str) -> Value {
    let (status, headers, body) = app.get(&format!("/api/v1/sips/{sip}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers.contains_key("x-samplan-position"));
    body
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_plan_goes_from_need_to_closing_across_three_units() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;

    // 1. The vårdcentral notices the need; the plan gets its id at the edge.
    let sip = start_plan(&app, &w).await;
    assert_eq!(version(&app, &sip).await, 1);
    let first = read(&app, &w.vc, &sip).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["phase"], "awaiting_consent");
    // Hemtjänst takes no part yet: the plan is invisible to it.
    let (status, _, body) = app.get(&format!("/api/v1/sips/{sip}"), &w.ht).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");

    // Consent, then the plan basis: the vårdcentral's staff member becomes coordinator.
    let written = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    assert_eq!(written["id"], sip.as_str());
    assert_eq!(written["version"], 2);
    assert_eq!(written["events"], json!(["ConsentGiven"]));
    ok(command(
        &app,
        &w.vc,
        &sip,
        "create-plan-basis",
        &json!({"initiated_by": "Vårdcentralen"}),
    )
    .await);
    ok(command(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &json!({"mapping_id": "map-1", "heading": "housing", "text": "Bor ensam i lägenhet, klarar inte städning."}),
    )
    .await);

    // 3. Kallelse to the meeting, to both other units and the person.
    let invited = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1",
            "purpose": "meeting",
            "scheduled_at": "2026-03-12T09:00:00+01:00",
            "form": "in_person",
            "place": "Vårdcentralen Centrum, rum 3",
            "reason": "Gemensam planering av stöd i hemmet och psykiatrisk behandling.",
            "recipients": [
                {"kind": "unit", "unit_id": HT},
                {"kind": "unit", "unit_id": PSYK},
                {"kind": "person"},
            ],
        }),
    )
    .await);
    assert_eq!(invited["events"], json!(["InvitationSent"]));

    // The invited units see the plan and appoint their representatives.
    read(&app, &w.ht, &sip).await;
    ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Hanna Hemtjänst", "profession": "biståndshandläggare"}}),
    )
    .await);
    let responded = ok(command(
        &app,
        &w.psyk,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Per Psykiatri", "staff_id": "SE2321000016-PS01"}}),
    )
    .await);
    assert_eq!(responded["events"], json!(["RepresentativeAppointed"]));

    // 4. The meeting is held two days later.
    set_time(&app, &mut w, "2026-03-12T10:30:00Z");
    ok(command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({
            "invitation_id": "inv-1",
            "held_at": "2026-03-12T09:00:00+01:00",
            "attendees": [
                {"name": "Tolvan Tolvansson", "role": "person"},
                {"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT},
                {"name": "Per Psykiatri", "role": "staff", "unit_id": PSYK},
            ],
            "chair": "Vera Vårdcentral",
            "secretary": "Hanna Hemtjänst",
            "follow_up_on": "2026-06-12",
            "sip_survey_offered": true,
        }),
    )
    .await);

    // 5. Goals and interventions: the coordinator the main goal, each unit its own parts.
    ok(command(
        &app,
        &w.vc,
        &sip,
        "document-main-goal",
        &json!({"text": "Jag vill kunna bo kvar hemma."}),
    )
    .await);
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht", "heading": "daily_living", "text": "Städat hem varje vecka.", "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-intervention",
        &json!({
            "intervention_id": "in-ht", "sub_goal_id": "sg-ht", "what": "Städning varannan vecka.",
            "responsible": {"kind": "unit", "unit_id": HT}, "performer": "Hemtjänstpersonalen",
            "contact": "Hemtjänst Norr, 010-123 45 67", "from": "2026-03-16",
        }),
    )
    .await);
    ok(command(
        &app,
        &w.psyk,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-psyk", "heading": "mental_health", "text": "Färre ångestattacker.", "responsible": {"kind": "unit", "unit_id": PSYK}}),
    )
    .await);

    // Drafts are seen only by their own unit until published.
    let psyk_view = read(&app, &w.psyk, &sip).await;
    assert_eq!(ids(&psyk_view["sub_goals"]), vec!["sg-psyk"]);
    assert_eq!(psyk_view["sub_goals"][0]["published"], false);
    let ht_view = read(&app, &w.ht, &sip).await;
    assert_eq!(ids(&ht_view["sub_goals"]), vec!["sg-ht"]);

    // "Spara & dela ut".
    let published = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    assert_eq!(published["events"], json!(["ContributionPublished"]));
    ok(command(&app, &w.psyk, &sip, "publish-contribution", &json!({})).await);
    ok(command(&app, &w.vc, &sip, "publish-contribution", &json!({})).await);
    let psyk_view = read(&app, &w.psyk, &sip).await;
    assert_eq!(ids(&psyk_view["sub_goals"]), vec!["sg-ht", "sg-psyk"]);
    assert_eq!(ids(&psyk_view["interventions"]), vec!["in-ht"]);
    assert_eq!(psyk_view["interventions"][0]["published"], true);

    // 6. Follow-up on the agreed date.
    ok(command(
        &app,
        &w.vc,
        &sip,
        "schedule-follow-up",
        &json!({"follow_up_on": "2026-06-12"}),
    )
    .await);
    set_time(&app, &mut w, "2026-06-12T12:00:00Z");
    ok(command(
        &app,
        &w.vc,
        &sip,
        "record-follow-up",
        &json!({
            "follow_up_id": "fu-1", "held_on": "2026-06-12",
            "interventions": [{"intervention_id": "in-ht", "outcome": "completed"}],
            "goals": [{"reached": true}, {"sub_goal_id": "sg-ht", "reached": true}],
        }),
    )
    .await);
    // The plan section says where each goal and insats stands, not only the meetings' history
    // (a review found a goal reached shown there alone).
    let (_, page) = app.page(&format!("/sip/{sip}"), &w.ht).await;
    let plan_section = page
        .split("id=\"rubrik-plan\"")
        .nth(1)
        .and_then(|rest| rest.split("id=\"rubrik-moten\"").next())
        .expect("the plan section");
    assert_eq!(
        plan_section
            .matches("Uppnått vid uppföljningen fredag 12 juni")
            .count(),
        2,
        "the main goal and hemtjänstens delmål: {plan_section}"
    );
    assert!(
        plan_section.contains("Avslutad vid uppföljningen fredag 12 juni"),
        "{plan_section}"
    );

    // 7. Avslut.
    let closed = ok(command(
        &app,
        &w.vc,
        &sip,
        "close-plan",
        &json!({"reason": "goals_met"}),
    )
    .await);
    assert_eq!(closed["events"], json!(["SipClosed"]));
    let closed_version = closed["version"].as_i64().expect("version");
    assert_eq!(version(&app, &sip).await, closed_version);
    let view = read(&app, &w.psyk, &sip).await;
    assert_eq!(view["phase"], "closed");
    assert_eq!(view["version"], closed_version);
    assert_eq!(
        view["next_follow_up_on"],
        Value::Null,
        "no follow-up is held in a closed plan"
    );

    // Every step was recorded once, in order, with who did it.
    let stored = events(&app, &sip).await;
    let types: Vec<&str> = stored.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "NeedIdentified",
            "ConsentGiven",
            "PlanBasisCreated",
            "MappingDocumented",
            "InvitationSent",
            "RepresentativeAppointed",
            "RepresentativeAppointed",
            "MeetingHeld",
            "MainGoalDocumented",
            "SubGoalDocumented",
            "InterventionDocumented",
            "SubGoalDocumented",
            "ContributionPublished",
            "ContributionPublished",
            "ContributionPublished",
            "FollowUpScheduled",
            "FollowUpRecorded",
            "SipClosed",
        ]
    );
    assert_eq!(stored[5].metadata.unit.as_deref(), Some(HT));
    assert_eq!(stored[5].metadata.actor, "SE2120000001-HT01");
    assert_eq!(stored[5].metadata.role, "staff");

    // A closed plan accepts nothing, whoever asks, and nothing is appended.
    for (token, cmd, body) in [
        (
            &w.vc,
            "document-main-goal",
            json!({"text": "Ett nytt mål."}),
        ),
        (&w.ht, "publish-contribution", json!({})),
        (&w.vc, "close-plan", json!({"reason": "no_longer_needed"})),
    ] {
        problem(
            command(&app, token, &sip, cmd, &body).await,
            StatusCode::CONFLICT,
            "plan_closed",
        );
    }
    assert_eq!(version(&app, &sip).await, closed_version);
    assert_eq!(read(&app, &w.vc, &sip).await["version"], closed_version);

    // Commands are counted by name and outcome.
    let (status, _, metrics) = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = metrics.as_str().expect("Prometheus text");
    let counted = |command: &str, outcome: &str| {
        metrics.lines().any(|l| {
            l.starts_with("samplan_commands_total{")
                && l.contains(&format!("command=\"{command}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
    };
    assert!(counted("ClosePlan", "appended"), "{metrics}");
    assert!(counted("DocumentMainGoal", "refused"), "{metrics}");
}

#[tokio::test]
async fn reads_of_a_plan_are_in_the_access_log() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK);
    let log = gateway::access_log::for_person(
        &app.state,
        &domain::ids::PersonId::parse(&w.person_id).expect("person id"),
    )
    .await
    .expect("reading the access log");
    assert!(
        log.iter()
            .any(|e| e.action == gateway::access_log::action::READ_SIP
                && e.sip_id.as_deref() == Some(sip.as_str())
                && e.actor == "SE2321000016-VC01"),
        "no sip.read entry in {log:?}"
    );
    // A unit outside the plan is refused before anything is read: no read is logged for it,
    // only its attempt (beside the answer), for a review on suspicion.
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut attempts = 0;
    for _ in 0..50 {
        let log = gateway::access_log::for_person(
            &app.state,
            &domain::ids::PersonId::parse(&w.person_id).expect("person id"),
        )
        .await
        .expect("reading the access log");
        let outsider: Vec<_> = log
            .iter()
            .filter(|e| e.actor == "SE2321000016-AN01")
            .collect();
        assert!(
            outsider
                .iter()
                .all(|e| e.action == gateway::access_log::action::REFUSED_SIP),
            "{outsider:?}"
        );
        attempts = outsider.len();
        if attempts == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(attempts, 1, "the attempt is logged once");
}

#[tokio::test]
async fn a_read_waits_for_min_position_and_says_where_the_store_stood() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let written = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let position = written["position"].as_i64().expect("position");
    let (status, headers, body) = app
        .get(
            &format!("/api/v1/sips/{sip}?min_position={position}"),
            &w.vc,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let at = store_position(&headers);
    assert!(at >= position, "{at} < {position}");
    assert_eq!(body["consent"]["status"], "given");

    // Another plan written since: the header says where the store stood when this plan was
    // read, not where this plan's own last event is.
    let other = start_plan(&app, &w).await;
    let later = ok(command(&app, &w.vc, &other, "record-consent", &consent()).await);
    let later = later["position"].as_i64().expect("position");
    let (_, headers, _) = app
        .get(&format!("/api/v1/sips/{sip}?min_position={later}"), &w.vc)
        .await;
    let at = store_position(&headers);
    assert!(at >= later, "{at} < {later}: a fresh read looked stale");
}

/// A transaction that wrote events and was left open (an operator's `BEGIN` at the console)
/// holds what must wait for it, and nothing else: a plan is read from its stream at once, with
/// its `min_position`; the audit's list of events, which must not show a position while one
/// below it may still commit, answers 503 (`Retry-After`) after `wait_ms_max`, not at the
/// request's time limit.
#[tokio::test]
async fn a_writer_of_events_left_open_holds_only_what_must_wait_for_it() {
    let app = TestApp::spawn_with(|config| {
        config.limits.wait_ms_max = 500;
        config.limits.request_timeout_ms = 20_000;
    })
    .await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let written = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let position = written["position"].as_i64().expect("position");

    let open = app.leave_an_append_open().await;

    let asked = std::time::Instant::now();
    let (status, _, body) = app
        .get(
            &format!("/api/v1/sips/{sip}?min_position={position}"),
            &w.vc,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["consent"]["status"], "given");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(10),
        "the plan's read waited for the open transaction"
    );

    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    let (status, headers, body) = app.get("/api/v1/audit/events?limit=10", &auditor).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert_eq!(body["code"], "service_unavailable", "{body}");
    // The check of the log, which seals up to the settled head, likewise.
    let asked = std::time::Instant::now();
    let (status, headers, body) = app.post("/api/v1/audit/verify", &auditor, &json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(10),
        "answered after wait_ms_max, not at the request's time limit"
    );

    open.batch_execute("ROLLBACK").await.expect("rollback");
    let (status, _, body) = app.get("/api/v1/audit/events?limit=10", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_plan_read_does_not_wait_for_a_position_no_write_here_answered() {
    let app = TestApp::spawn_with(|config| {
        config.limits.wait_ms_max = 30_000;
        config.limits.request_timeout_ms = 60_000;
    })
    .await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let written = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let beyond = written["position"].as_i64().expect("position") + 1_000;
    let asked = std::time::Instant::now();
    let (status, headers, body) = app
        .get(&format!("/api/v1/sips/{sip}?min_position={beyond}"), &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let at = store_position(&headers);
    assert!(at < beyond, "it says where the store stood");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(15),
        "answered without waiting the 30 s for a position nobody wrote"
    );
}

#[tokio::test]
async fn the_other_commands_reach_the_domain_with_the_fields_clients_send() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;

    // Kallelse, a new time, then cancelled.
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting", "scheduled_at": "2026-03-13T13:00:00Z",
            "form": "in_person", "place": "Rum 3", "reason": "SIP-möte",
            "recipients": [{"kind": "unit", "unit_id": HT}],
        }),
    )
    .await);
    let moved = ok(command(
        &app,
        &w.vc,
        &sip,
        "reschedule-meeting",
        &json!({"invitation_id": "inv-1", "scheduled_at": "2026-03-16T13:00:00Z", "form": "video", "reason": "Krock"}),
    )
    .await);
    assert_eq!(moved["events"], json!(["MeetingRescheduled"]));
    // Moved to where it already is: refused, nobody is told of a "new" time.
    let before = version(&app, &sip).await;
    problem(
        command(
            &app,
            &w.vc,
            &sip,
            "reschedule-meeting",
            &json!({"invitation_id": "inv-1", "scheduled_at": "2026-03-16T14:00:00+01:00"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "meeting_unchanged",
    );
    assert_eq!(version(&app, &sip).await, before);
    // The same time in another place is a change, and hemtjänsten is told just that.
    let placed = ok(command(
        &app,
        &w.vc,
        &sip,
        "reschedule-meeting",
        &json!({"invitation_id": "inv-1", "scheduled_at": "2026-03-16T13:00:00Z", "place": "Rum 4"}),
    )
    .await);
    let (_, _, told) = app
        .get(
            &format!("/api/v1/inbox/messages?min_position={}", placed["position"]),
            &w.ht,
        )
        .await;
    assert_eq!(
        told["messages"][0]["subject"],
        "Ny plats eller form för SIP-möte: måndag 16 mars 2026 kl. 14.00",
        "{told}"
    );
    assert_eq!(
        told["messages"][0]["body"],
        "SIP-mötet måndag 16 mars 2026 kl. 14.00 hålls som tidigare bestämt, men nu via video, Rum 4."
    );
    let cancelled = ok(command(
        &app,
        &w.vc,
        &sip,
        "cancel-invitation",
        &json!({"invitation_id": "inv-1", "reason": "Sjuk"}),
    )
    .await);
    assert_eq!(cancelled["events"], json!(["InvitationCancelled"]));

    // Hemtjänst takes over as coordinator; the vårdcentral no longer may document the mapping.
    let changed = ok(command(
        &app,
        &w.vc,
        &sip,
        "change-coordinator",
        &json!({"staff_id": "SE2120000001-HT01", "name": "Hanna Hemtjänst", "unit_id": HT, "reason": "Störst insats"}),
    )
    .await);
    assert_eq!(changed["events"], json!(["CoordinatorChanged"]));
    problem(
        command(
            &app,
            &w.vc,
            &sip,
            "document-mapping",
            &json!({"heading": "housing", "text": "x"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_coordinator",
    );
    // An id the client leaves out is drawn by the service.
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-mapping",
        &json!({"heading": "housing", "text": "Bor ensam."}),
    )
    .await);
    let view = read(&app, &w.ht, &sip).await;
    assert_eq!(view["coordinator"]["unit_id"], HT);
    let mapping_id = view["mappings"][0]["mapping_id"]
        .as_str()
        .expect("mapping id");
    assert_eq!(mapping_id.len(), 26, "a ULID: {mapping_id}");

    // Withdrawn consent leaves one thing to do: the coordinator closes the plan.
    let withdrawn = ok(command(
        &app,
        &w.ht,
        &sip,
        "withdraw-consent",
        &json!({"withdrawn_by": {"kind": "person"}, "note": "Vill inte längre"}),
    )
    .await);
    assert_eq!(withdrawn["events"], json!(["ConsentWithdrawn"]));
    problem(
        command(
            &app,
            &w.ht,
            &sip,
            "document-mapping",
            &json!({"heading": "housing", "text": "x"}),
        )
        .await,
        StatusCode::CONFLICT,
        "consent_withdrawn",
    );
    let closed = ok(command(
        &app,
        &w.ht,
        &sip,
        "close-plan",
        &json!({"reason": "consent_withdrawn"}),
    )
    .await);
    assert_eq!(closed["events"], json!(["SipClosed"]));

    // A discharge from inpatient care on the red track; the patient says no.
    let (status, _, body) = app
        .post(
            "/api/v1/sips",
            &w.vc,
            &json!({
                "person_id": w.person_id, "identified_by": "staff", "reason": "Utskrivningsklar, behöver hemtjänst.",
                "known_since": "2026-03-09T14:00:00+01:00",
                "context": {"kind": "discharge", "track": "red", "discharge_ready_at": "2026-03-09T14:00:00+01:00"},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let discharge = body["id"].as_str().expect("id").to_owned();
    let recorded = ok(command(
        &app,
        &w.vc,
        &discharge,
        "record-discharge",
        &json!({"discharged_at": "2026-03-12T10:00:00+01:00"}),
    )
    .await);
    assert_eq!(recorded["events"], json!(["DischargeRecorded"]));
    let declined = ok(command(
        &app,
        &w.vc,
        &discharge,
        "decline-consent",
        &json!({"declined_by": {"kind": "person"}}),
    )
    .await);
    assert_eq!(declined["events"], json!(["ConsentDeclined"]));
    ok(command(
        &app,
        &w.vc,
        &discharge,
        "close-plan",
        &json!({"reason": "consent_declined", "note": "Journalfört, kommunen informerad."}),
    )
    .await);
    let view = read(&app, &w.vc, &discharge).await;
    assert_eq!(view["phase"], "closed");
    assert_eq!(view["need"]["context"]["track"], "red");

    // A track belongs to a discharge only; a need cannot be known in the future, nor before the
    // person was born.
    for (context, known_since, code) in [
        (
            json!({"kind": "outpatient", "track": "green"}),
            None,
            "track_without_discharge",
        ),
        (
            json!({"kind": "outpatient"}),
            Some("2026-03-11T08:00:00Z"),
            "known_since_in_future",
        ),
        // Tolvan was born 12 December 1912: a need known before that is a slip of the keyboard.
        (
            json!({"kind": "outpatient"}),
            Some("1911-06-01T08:00:00Z"),
            "known_since_before_birth",
        ),
    ] {
        let mut body = json!({"person_id": w.person_id, "identified_by": "person", "reason": "x", "context": context});
        if let Some(at) = known_since {
            body["known_since"] = json!(at);
        }
        let (status, _, answer) = app.post("/api/v1/sips", &w.vc, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["code"], code);
    }
}

/// Where the store stood when a read was answered (`X-Samplan-Position`).
fn store_position(headers: &reqwest::header::HeaderMap) -> i64 {
    headers["x-samplan-position"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number")
}
