//! `GET /reports/kpis` through the API, with the clock injected: three plans walked through
//! March–May 2026 across a region and two municipalities under the Norrbotten profile, and the
//! figures (docs/kpis.md) compared with figures worked out by hand, as JSON and as CSV; a draft
//! that changes nothing in any report; a rebuild that gives the same tables; who may ask and
//! what a bad question answers; the follow-up page (`/uppfoljning`), which shows the same
//! figures in words and gives the same file.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

/// Omsorg Syd: the second municipality's unit.
const OMS: &str = "omsorg-syd";
/// Försäkringskassan: an external actor without samplan, named only in a draft.
const FK: &str = "fk-testby";

fn oms_token(app: &TestApp) -> String {
    app.staff_token("SE2120000002-OM01", OMS)
}

fn reporting_token(app: &TestApp) -> String {
    app.token("reporting", "uppfoljning", None, "Uppföljning")
}

fn position(answer: &Value) -> i64 {
    answer["position"].as_i64().expect("position")
}

/// `GET /api/v1/reports/kpis?{query}` once the reporting read model has seen `position`: the
/// status, the content type and the body (JSON, or the CSV text as a JSON string).
async fn ask(app: &TestApp, query: &str, position: i64) -> (String, Value) {
    let (status, headers, body) = app
        .get(
            &format!("/api/v1/reports/kpis?{query}&min_position={position}"),
            &reporting_token(app),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let at: i64 = headers["x-samplan-position"]
        .to_str()
        .expect("header")
        .parse()
        .expect("position");
    assert!(at >= position, "{query}: the read model did not catch up");
    let content_type = headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .expect("content type")
        .to_owned();
    (content_type, body)
}

async fn report(app: &TestApp, query: &str, position: i64) -> Value {
    let (content_type, body) = ask(app, query, position).await;
    assert_eq!(content_type, "application/json");
    body
}

fn spread(count: i64, median: Option<i64>, p90: Option<i64>) -> Value {
    json!({"count": count, "median": median, "p90": p90})
}

const NONE: (i64, Option<i64>, Option<i64>) = (0, None, None);

fn share(counted: i64, in_time: i64, share: Option<f64>) -> Value {
    json!({"counted": counted, "in_time": in_time, "share": share})
}

fn closed(goals_met: i64, consent_declined: i64) -> Value {
    json!({"goals_met": goals_met, "no_longer_needed": 0, "consent_withdrawn": 0,
           "consent_declined": consent_declined, "protected_identity": 0,
           "moved_out_of_region": 0, "deceased": 0, "replaced_by_new_plan": 0})
}

/// One expected row; `kept` is invitations, meetings, documentation and follow-ups as
/// (counted, in time, share).
#[allow(clippy::too_many_arguments)]
fn row(
    month: &str,
    group: (&str, &str),
    started: i64,
    declined: i64,
    invitation: (i64, Option<i64>, Option<i64>),
    meeting: (i64, Option<i64>, Option<i64>),
    kept: [(i64, i64, Option<f64>); 4],
    closed: Value,
) -> Value {
    let [i, m, d, f] = kept;
    json!({
        "month": month, "group_id": group.0, "group_name": group.1, "group_principal": null,
        "sips_started": started, "consent_declined": declined,
        "working_days_to_invitation": spread(invitation.0, invitation.1, invitation.2),
        "working_days_to_meeting": spread(meeting.0, meeting.1, meeting.2),
        "invitations_in_time": share(i.0, i.1, i.2),
        "meetings_in_time": share(m.0, m.1, m.2),
        "documented_in_time": share(d.0, d.1, d.2),
        "followed_up_in_time": share(f.0, f.1, f.2),
        "closed": closed,
    })
}

const NOTHING: (i64, i64, Option<f64>) = (0, 0, None);

/// The world of `sips_support` with a unit of a second municipality and Försäkringskassan.
async fn world_of_two_municipalities(app: &TestApp) -> World {
    let w = world(app).await;
    for (id, name, kind, principal, uses_samplan) in [
        (OMS, "Omsorg Syd", "municipality", "Sydby kommun", true),
        (
            FK,
            "Försäkringskassan Testby",
            "external",
            "Försäkringskassan",
            false,
        ),
    ] {
        let (status, _, body) = app
            .post(
                "/api/v1/units",
                &app.admin_token(),
                &json!({"id": id, "name": name, "principal": {"kind": kind, "name": principal},
                        "uses_samplan": uses_samplan, "address": "Box 1, 123 45 Testby"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    w
}

fn consent_for(units: &[&str]) -> Value {
    json!({"given_by": {"kind": "person"}, "actors": units, "topics": ["Stöd i hemmet"],
           "valid_until": "2027-03-10"})
}

fn invitation(id: &str, at: &str, unit: &str) -> Value {
    json!({"invitation_id": id, "purpose": "meeting", "scheduled_at": at, "form": "in_person",
           "reason": "Gemensam planering.", "recipients": [{"kind": "unit", "unit_id": unit}]})
}

fn meeting(id: &str, held_at: &str, unit: &str, follow_up_on: &str) -> Value {
    json!({"invitation_id": id, "held_at": held_at,
           "attendees": [{"name": "Representant", "role": "staff", "unit_id": unit}],
           "chair": "Vera Vårdcentral", "secretary": "Sam Sekreterare",
           "follow_up_on": follow_up_on})
}

fn sub_goal(id: &str, unit: &str) -> Value {
    json!({"sub_goal_id": id, "heading": "housing", "text": "Kunna bo kvar hemma.",
           "responsible": {"kind": "unit", "unit_id": unit}})
}

/// Plan A (vårdcentralen and Testby's hemtjänst), plan B (vårdcentralen and Sydby's omsorg) and
/// plan C (vårdcentralen alone, consent declined), under Norrbotten's profile: the meeting within
/// 21 calendar days of the need, documentation within 3 calendar days of the meeting. Returns
/// the world, plan B's id and the position of the last write.
async fn three_plans(app: &TestApp) -> (World, String, i64) {
    let mut w = world_of_two_municipalities(app).await;
    // Tuesday 10 March: A's need becomes known; consent and basis at once.
    let a = start_plan(app, &w).await;
    ok(command(app, &w.vc, &a, "record-consent", &consent_for(&[VC, HT])).await);
    ok(command(app, &w.vc, &a, "create-plan-basis", &json!({})).await);
    // Wednesday 11 March: B's need.
    set_time(app, &mut w, "2026-03-11T08:00:00Z");
    let b = start_plan(app, &w).await;
    ok(command(
        app,
        &w.vc,
        &b,
        "record-consent",
        &consent_for(&[VC, OMS, FK]),
    )
    .await);
    ok(command(app, &w.vc, &b, "create-plan-basis", &json!({})).await);
    // Thursday 12 March: A's invitation (2 working days after 10 March); C's need.
    set_time(app, &mut w, "2026-03-12T08:00:00Z");
    let inv = invitation("inv-a", "2026-03-17T09:00:00Z", HT);
    ok(command(app, &w.vc, &a, "send-invitation", &inv).await);
    let c = start_plan(app, &w).await;
    // Friday 13 March: the person declines consent to C.
    set_time(app, &mut w, "2026-03-13T08:00:00Z");
    let declined = json!({"declined_by": {"kind": "person"}});
    ok(command(app, &w.vc, &c, "decline-consent", &declined).await);
    // Monday 16 March: B's invitation (3 working days after 11 March: 12, 13, 16); C closed.
    set_time(app, &mut w, "2026-03-16T08:00:00Z");
    let inv = invitation("inv-b", "2026-04-02T08:00:00Z", OMS);
    ok(command(app, &w.vc, &b, "send-invitation", &inv).await);
    let close = json!({"reason": "consent_declined"});
    ok(command(app, &w.vc, &c, "close-plan", &close).await);
    // Tuesday 17 March: A's meeting, 5 working days after 10 March, within its deadline (the
    // end of 31 March); documentation due by the end of Friday 20 March.
    set_time(app, &mut w, "2026-03-17T10:00:00Z");
    let held = meeting("inv-a", "2026-03-17T09:00:00Z", HT, "2026-04-14");
    ok(command(app, &w.vc, &a, "record-meeting", &held).await);
    // Wednesday 18 March: the vårdcentral documents and publishes in time.
    set_time(app, &mut w, "2026-03-18T08:00:00Z");
    let goal = json!({"text": "Att bo kvar hemma med stöd."});
    ok(command(app, &w.vc, &a, "document-main-goal", &goal).await);
    ok(command(app, &w.vc, &a, "document-sub-goal", &sub_goal("sg-vc", VC)).await);
    ok(command(app, &w.vc, &a, "publish-contribution", &json!({})).await);
    // Monday 23 March: hemtjänsten publishes, three days late.
    set_time(app, &mut w, "2026-03-23T08:00:00Z");
    ok(command(app, &w.ht, &a, "document-sub-goal", &sub_goal("sg-ht", HT)).await);
    ok(command(app, &w.ht, &a, "publish-contribution", &json!({})).await);
    // Thursday 2 April: B's meeting, 16 working days after 11 March, a day after its deadline
    // (the end of 1 April); documentation due by the end of Sunday 5 April; nobody documents.
    set_time(app, &mut w, "2026-04-02T09:00:00Z");
    let held = meeting("inv-b", "2026-04-02T08:00:00Z", OMS, "2026-05-04");
    ok(command(app, &w.vc, &b, "record-meeting", &held).await);
    // Tuesday 14 April: A followed up on the agreed day; closed on 20 April, goals met.
    set_time(app, &mut w, "2026-04-14T08:00:00Z");
    let follow_up = json!({"held_on": "2026-04-14"});
    ok(command(app, &w.vc, &a, "record-follow-up", &follow_up).await);
    set_time(app, &mut w, "2026-04-20T08:00:00Z");
    let last = ok(command(
        app,
        &w.vc,
        &a,
        "close-plan",
        &json!({"reason": "goals_met"}),
    )
    .await);
    // Monday 11 May: B's follow-up (agreed for 4 May) never happened.
    set_time(app, &mut w, "2026-05-11T08:00:00Z");
    (w, b, position(&last))
}

/// A plan never invited counts against the invitation deadline once it has passed, in the
/// deadline's month: the working days to invitation count only the plans that were invited, and
/// an analyst would otherwise see a backlog improve the median (outside review).
#[tokio::test]
async fn an_invitation_never_sent_counts_as_late_once_its_deadline_has_passed() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let mut w = world_of_two_municipalities(&app).await;
    // Tuesday 10 March: the need becomes known; Norrbotten wants the kallelse by the end of
    // Friday 13 March (three working days).
    set_time(&app, &mut w, "2026-03-10T08:00:00Z");
    let a = start_plan(&app, &w).await;
    let answer = ok(command(&app, &w.vc, &a, "record-consent", &consent_for(&[VC, HT])).await);
    let invitations = |body: &Value| body["rows"][0]["invitations_in_time"].clone();
    // Friday noon: not due yet, not judged.
    set_time(&app, &mut w, "2026-03-13T11:00:00Z");
    let march = report(
        &app,
        "from=2026-03&to=2026-03&group_by=region",
        position(&answer),
    )
    .await;
    assert_eq!(invitations(&march), share(0, 0, None), "{march}");
    // Monday: the deadline has passed without a kallelse.
    set_time(&app, &mut w, "2026-03-16T08:00:00Z");
    let march = report(
        &app,
        "from=2026-03&to=2026-03&group_by=region",
        position(&answer),
    )
    .await;
    assert_eq!(invitations(&march), share(1, 0, Some(0.0)), "{march}");
    // Sent on Tuesday: late, and still counted once.
    set_time(&app, &mut w, "2026-03-17T08:00:00Z");
    ok(command(&app, &w.vc, &a, "create-plan-basis", &json!({})).await);
    let inv = invitation("inv-a", "2026-03-24T09:00:00Z", HT);
    let sent = ok(command(&app, &w.vc, &a, "send-invitation", &inv).await);
    let march = report(
        &app,
        "from=2026-03&to=2026-03&group_by=region",
        position(&sent),
    )
    .await;
    assert_eq!(invitations(&march), share(1, 0, Some(0.0)), "{march}");
    assert_eq!(
        march["rows"][0]["working_days_to_invitation"],
        spread(1, Some(5), Some(5))
    );
}

#[tokio::test]
async fn figures_per_month_equal_the_ones_worked_out_by_hand() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let (_w, _b, at) = three_plans(&app).await;

    // Municipalities: A counts for Testby (hemtjänsten), B for Sydby (omsorgen); C has no
    // municipal unit. Documentation counts in the group of the unit that owes it.
    let testby = ("Testby kommun", "Testby kommun");
    let sydby = ("Sydby kommun", "Sydby kommun");
    let by_municipality = report(&app, "from=2026-03&to=2026-05&group_by=municipality", at).await;
    assert_eq!(by_municipality["from"], "2026-03");
    assert_eq!(by_municipality["to"], "2026-05");
    assert_eq!(by_municipality["group_by"], "municipality");
    assert_eq!(by_municipality["policy"], "norrbotten");
    assert_eq!(by_municipality["as_of"], "2026-05-11T08:00:00Z");
    let expected = vec![
        // March, Sydby: B started; invited after 3 working days, on the last day of its deadline
        // (Norrbotten: three working days after the need, so the end of 16 March).
        row(
            "2026-03",
            sydby,
            1,
            0,
            (1, Some(3), Some(3)),
            NONE,
            [(1, 1, Some(1.0)), NOTHING, NOTHING, NOTHING],
            closed(0, 0),
        ),
        // March, Testby: A started, invited after 2 (due by 13 March, in time) and met after 5
        // working days, within the deadline due 31 March; hemtjänsten's documentation (due 20 March) came on 23 March.
        row(
            "2026-03",
            testby,
            1,
            0,
            (1, Some(2), Some(2)),
            (1, Some(5), Some(5)),
            [
                (1, 1, Some(1.0)),
                (1, 1, Some(1.0)),
                (1, 0, Some(0.0)),
                NOTHING,
            ],
            closed(0, 0),
        ),
        // April, Sydby: B met after 16 working days, after its deadline (due 1 April, so an
        // April deadline); omsorgen's documentation due 5 April never came.
        row(
            "2026-04",
            sydby,
            0,
            0,
            NONE,
            (1, Some(16), Some(16)),
            [NOTHING, (1, 0, Some(0.0)), (1, 0, Some(0.0)), NOTHING],
            closed(0, 0),
        ),
        // April, Testby: A followed up on the agreed 14 April and closed with its goals met.
        row(
            "2026-04",
            testby,
            0,
            0,
            NONE,
            NONE,
            [NOTHING, NOTHING, NOTHING, (1, 1, Some(1.0))],
            closed(1, 0),
        ),
        // May, Sydby: B's follow-up agreed for 4 May has passed without one.
        row(
            "2026-05",
            sydby,
            0,
            0,
            NONE,
            NONE,
            [NOTHING, NOTHING, NOTHING, (1, 0, Some(0.0))],
            closed(0, 0),
        ),
    ];
    assert_eq!(by_municipality["rows"], Value::Array(expected));

    // The region: the vårdcentral takes part in all three plans.
    let region = ("Region Testlän", "Region Testlän");
    let by_region = report(&app, "from=2026-03&to=2026-05&group_by=region", at).await;
    let expected = vec![
        // March: A, B and C started; C's consent declined and C closed for it. Invitations
        // after 2 and 3 working days: percentile_disc gives the median 2 (the first value whose
        // cumulative share reaches 0.5) and the 90th percentile 3. A's meeting (due in March)
        // in time; the vårdcentral documented A on 18 March, in time. C never had an invitation
        // or a meeting: consent was declined before their deadlines (17 and 2 April), so
        // neither is judged.
        row(
            "2026-03",
            region,
            3,
            1,
            (2, Some(2), Some(3)),
            (1, Some(5), Some(5)),
            [
                (2, 2, Some(1.0)),
                (1, 1, Some(1.0)),
                (1, 1, Some(1.0)),
                NOTHING,
            ],
            closed(0, 1),
        ),
        // April: B's late meeting; the vårdcentral's documentation of B (due 5 April) missing;
        // A followed up in time and closed.
        row(
            "2026-04",
            region,
            0,
            0,
            NONE,
            (1, Some(16), Some(16)),
            [
                NOTHING,
                (1, 0, Some(0.0)),
                (1, 0, Some(0.0)),
                (1, 1, Some(1.0)),
            ],
            closed(1, 0),
        ),
        // May: B's follow-up missed.
        row(
            "2026-05",
            region,
            0,
            0,
            NONE,
            NONE,
            [NOTHING, NOTHING, NOTHING, (1, 0, Some(0.0))],
            closed(0, 0),
        ),
    ];
    assert_eq!(by_region["rows"], Value::Array(expected));

    // Per unit, March, as CSV: semicolons, decimal comma, empty cells for figures of nothing.
    let (content_type, csv) =
        ask(&app, "from=2026-03&to=2026-03&group_by=unit&format=csv", at).await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let csv = csv.as_str().expect("CSV text");
    let lines: Vec<&str> = csv.split("\r\n").collect();
    // UTF-8's byte order mark, then the header.
    assert_eq!(
        lines[0],
        format!("\u{feff}{}", gateway::routes::reports::CSV_HEADER)
    );
    assert_eq!(
        lines[1..],
        [
            // Hemtjänsten: as Testby in March.
            "2026-03;hemtjanst-norr;Hemtjänst Norr;Testby kommun;1;0;1;2;2;1;5;5;1;1;1,000;1;1;1,000;1;0;0,000;0;0;;\
             0;0;0;0;0;0;0;0;2026-05-11T08:00:00Z;norrbotten",
            // Omsorgen: as Sydby in March.
            "2026-03;omsorg-syd;Omsorg Syd;Sydby kommun;1;0;1;3;3;0;;;1;1;1,000;0;0;;0;0;;0;0;;0;0;0;0;0;0;0;0;2026-05-11T08:00:00Z;norrbotten",
            // The vårdcentral: as the region in March.
            "2026-03;vc-centrum;Vårdcentralen Centrum;Region Testlän;3;1;2;2;3;1;5;5;2;2;1,000;1;1;1,000;1;1;1,000;0;0;;\
             0;0;0;1;0;0;0;0;2026-05-11T08:00:00Z;norrbotten",
            "",
        ]
    );
    // The same figures as JSON.
    let by_unit = report(&app, "from=2026-03&to=2026-03&group_by=unit", at).await;
    let ids: Vec<&str> = by_unit["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["group_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![HT, OMS, VC]);
    // Each unit with its principal, so a unit report can be split by municipality.
    let principals: Vec<&str> = by_unit["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["group_principal"].as_str().expect("a principal"))
        .collect();
    assert_eq!(
        principals,
        vec!["Testby kommun", "Sydby kommun", "Region Testlän"]
    );
    assert_eq!(
        by_unit["rows"][2]["working_days_to_invitation"],
        spread(2, Some(2), Some(3))
    );
    assert_eq!(
        by_unit["rows"][0]["documented_in_time"],
        share(1, 0, Some(0.0))
    );

    // A month outside the range is left out; a range with nothing in it has no rows.
    let april = report(&app, "from=2026-04&to=2026-04&group_by=region", at).await;
    assert_eq!(april["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(april["rows"][0]["month"], "2026-04");
    let empty = report(&app, "from=2025-01&to=2026-02&group_by=region", at).await;
    assert_eq!(empty["rows"], json!([]));
}

#[tokio::test]
async fn a_draft_changes_nothing_in_any_report_and_a_rebuild_gives_the_same_tables() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let (w, b, at) = three_plans(&app).await;
    let queries = [
        "from=2026-03&to=2026-05&group_by=unit",
        "from=2026-03&to=2026-05&group_by=region",
        "from=2026-03&to=2026-05&group_by=municipality",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push(report(&app, q, at).await);
    }
    // The coordinator drafts B's main goal and a sub-goal that names Försäkringskassan (which
    // takes part in nothing else), and publishes nothing: the plan itself now counts
    // Försäkringskassan as taking part, reporting must not.
    // Omsorgen drafts its own sub-goal and publishes nothing either: its documentation of B
    // stays missing.
    ok(command(
        &app,
        &w.vc,
        &b,
        "document-main-goal",
        &json!({"text": "Utkast."}),
    )
    .await);
    ok(command(&app, &w.vc, &b, "document-sub-goal", &sub_goal("sg-fk", FK)).await);
    let oms = oms_token(&app);
    let drafted = ok(command(
        &app,
        &oms,
        &b,
        "document-sub-goal",
        &sub_goal("sg-oms", OMS),
    )
    .await);
    for (q, was) in queries.iter().zip(&before) {
        assert_eq!(&report(&app, q, position(&drafted)).await, was, "{q}");
    }
    let by_unit = &before[0]["rows"];
    assert!(
        by_unit
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["group_id"] != FK && r["group_id"] != PSYK),
        "{by_unit}"
    );

    // The tables hold no person, name or personnummer.
    let head = app.store.head_position().await.expect("head");
    projections::runner::applied(
        app.store.pool(),
        projections::reporting::PROJECTION,
        head,
        10_000,
    )
    .await
    .expect("caught up");
    let live = projections::runner::dump(app.store.pool(), "reporting")
        .await
        .expect("dump");
    // 6 units, 3 plans, 5 plan–unit rows (A: vc, ht; B: vc, omsorgen; C: vc), 4 contributions
    // (A: vc, ht; B: vc, omsorgen).
    assert_eq!(live.len(), 6 + 3 + 5 + 4, "{live:#?}");
    let text = live.join("\n");
    for personal in [
        w.person_id.as_str(),
        "Tolvan",
        "19121212",
        "SE2321000016",
        FK,
    ] {
        let leaked = live
            .iter()
            .filter(|l| !l.starts_with("units "))
            .any(|l| l.contains(personal));
        assert!(!leaked, "{personal} in {text}");
    }

    // A rebuild gives the same rows, and the same report.
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Norrbotten,
    ));
    projections::rebuild(&app.store, &app.db.admin_url, "reporting", &settings)
        .await
        .expect("rebuild")
        .expect("a read model");
    let rebuilt = projections::runner::dump(app.store.pool(), "reporting")
        .await
        .expect("dump");
    assert_eq!(rebuilt, live);
    assert_eq!(report(&app, queries[0], head).await, before[0]);
}

#[tokio::test]
async fn only_the_reporting_role_asks_and_bad_questions_are_refused() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let good = "/api/v1/reports/kpis?from=2026-01&to=2026-12&group_by=unit";
    for token in [
        w.vc.clone(),
        app.token("auditor", "SE2321000016-RE01", None, "Revisor"),
        app.admin_token(),
    ] {
        let (status, _, body) = app.get(good, &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "role_not_allowed");
    }
    let token = reporting_token(&app);
    let (status, _, body) = app.get(good, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([]), "no plan yet");
    // Ten years is the most one report covers.
    let (status, _, _) = app
        .get(
            "/api/v1/reports/kpis?from=2017-01&to=2026-12&group_by=unit",
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Dates as API.md writes them stand for their months.
    let (status, _, days) = app
        .get(
            "/api/v1/reports/kpis?from=2026-01-15&to=2026-12-31&group_by=unit",
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{days}");
    assert_eq!(
        (&days["from"], &days["to"]),
        (&json!("2026-01"), &json!("2026-12"))
    );
    for (query, code) in [
        ("to=2026-12&group_by=unit", "missing_parameter"),
        ("from=2026-01&group_by=unit", "missing_parameter"),
        ("from=2026-01&to=2026-12", "missing_parameter"),
        ("from=2026-1&to=2026-12&group_by=unit", "invalid_parameter"),
        (
            "from=2026-01-32&to=2026-12&group_by=unit",
            "invalid_parameter",
        ),
        ("from=2026-01&to=2026-13&group_by=unit", "invalid_parameter"),
        ("from=2026-02&to=2026-01&group_by=unit", "invalid_parameter"),
        ("from=2016-12&to=2026-12&group_by=unit", "invalid_parameter"),
        (
            "from=2026-01&to=2026-12&group_by=county",
            "invalid_parameter",
        ),
        (
            "from=2026-01&to=2026-12&group_by=unit&format=xml",
            "invalid_parameter",
        ),
        (
            "from=2026-01&to=2026-12&group_by=unit&person_id=x",
            "unknown_parameter",
        ),
    ] {
        let (status, _, body) = app
            .get(&format!("/api/v1/reports/kpis?{query}"), &token)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], code, "{query}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// A person who first says no and then yes still owes the plan its meeting: a plan whose
/// meeting never came counts as missed, whether or not consent was declined on the way; only a
/// refusal that still stood when the meeting was due leaves the plan out. And a follow-up held
/// before the plan's first meeting is refused, so it cannot count as the one agreed there.
#[tokio::test]
async fn a_refusal_taken_back_leaves_the_meeting_owed_and_a_follow_up_comes_after_the_meeting() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let mut w = world(&app).await;
    // Tuesday 10 March: two needs; the meeting is due by the end of 31 March.
    let refused_then_given = start_plan(&app, &w).await;
    let given = start_plan(&app, &w).await;
    let refused = start_plan(&app, &w).await;
    let declined = json!({"declined_by": {"kind": "person"}});
    ok(command(
        &app,
        &w.vc,
        &refused_then_given,
        "decline-consent",
        &declined,
    )
    .await);
    ok(command(&app, &w.vc, &refused, "decline-consent", &declined).await);
    set_time(&app, &mut w, "2026-03-12T08:00:00Z");
    for sip in [&refused_then_given, &given] {
        ok(command(&app, &w.vc, sip, "record-consent", &consent_for(&[VC, HT])).await);
        ok(command(&app, &w.vc, sip, "create-plan-basis", &json!({})).await);
    }
    // 1 April: no meeting was held for either; the third still refuses.
    set_time(&app, &mut w, "2026-04-01T08:00:00Z");
    let at = app.store.head_position().await.expect("head");
    let by_region = report(&app, "from=2026-03&to=2026-03&group_by=region", at).await;
    let march = &by_region["rows"][0];
    assert_eq!(march["month"], "2026-03", "{by_region}");
    assert_eq!(march["consent_declined"], 2);
    assert_eq!(
        march["meetings_in_time"],
        share(2, 0, Some(0.0)),
        "both plans that owed a meeting missed it; the refusing one owed none"
    );

    // The plan's first meeting is on 7 April; a follow-up dated before it is refused.
    set_time(&app, &mut w, "2026-04-02T08:00:00Z");
    let inv = invitation("inv-1", "2026-04-07T09:00:00Z", HT);
    ok(command(&app, &w.vc, &given, "send-invitation", &inv).await);
    set_time(&app, &mut w, "2026-04-07T10:00:00Z");
    let held = meeting("inv-1", "2026-04-07T09:00:00Z", HT, "2026-05-05");
    ok(command(&app, &w.vc, &given, "record-meeting", &held).await);
    let (status, body) = command(
        &app,
        &w.vc,
        &given,
        "record-follow-up",
        &json!({"held_on": "2026-04-06"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "follow_up_before_meeting");
    ok(command(
        &app,
        &w.vc,
        &given,
        "record-follow-up",
        &json!({"held_on": "2026-04-07"}),
    )
    .await);
}

/// The answer names the profile the figures were computed with: while the rows of another
/// profile wait for their rebuild (ADR 0034), that one, not the deployment's.
#[tokio::test]
async fn a_report_names_the_profile_its_figures_were_computed_with() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let at = app.store.head_position().await.expect("head");
    let asked = report(&app, "from=2026-03&to=2026-03&group_by=region", at).await;
    assert_eq!(asked["policy"], "norrbotten", "{sip}");
    let client = app.store.pool().get().await.expect("client");
    client
        .execute(
            "UPDATE projections.checkpoints SET built_by = 'rules 2; policy orebro'
              WHERE projection = 'reporting'",
            &[],
        )
        .await
        .expect("rows of another profile");
    let asked = report(&app, "from=2026-03&to=2026-03&group_by=region", at).await;
    assert_eq!(asked["policy"], "orebro");
}

/// `GET path` as a browser signed in with `token`: the status, the headers and the body.
async fn browse(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(app.url(path))
        .header("cookie", format!("samplan_session={token}"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_follow_up_page_shows_the_figures_in_words_and_gives_the_same_file() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let (w, _b, at) = three_plans(&app).await;
    // The read model has caught up with the last command (the API waits for it).
    report(&app, "from=2026-03&to=2026-05&group_by=region", at).await;
    let token = reporting_token(&app);

    // Signed in, the start page leads to Uppföljning.
    let (status, headers, _) = browse(&app, "/", &token).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(headers["location"], "/uppfoljning");

    // The form alone: the year so far per region, months picked as months.
    let (status, _, form) = browse(&app, "/uppfoljning", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"type="month" name="fran""#), "{form}");
    assert!(form.contains(r#"value="2026-01""#) && form.contains(r#"value="2026-05""#));
    assert!(
        !form.contains("Påbörjade SIP"),
        "no report before one is asked for"
    );

    // The report, a table a month with a row per region: the figures worked out by hand in
    // `figures_per_month_equal_the_ones_worked_out_by_hand`, in words.
    // Small figures shown: the three plans would otherwise be hidden (below).
    let query = "fran=2026-03&till=2026-05&grupp=region&sma=visa";
    let (status, _, page) = browse(&app, &format!("/uppfoljning?{query}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("mars–maj 2026, per region"), "{page}");
    assert!(page.contains("bedömda måndag 11 maj 2026 kl. 10.00 enligt profilen Norrbotten"));
    // One table for the region, a row per month, down the page.
    let heading = r#"<bdi>Region Testlän</bdi></h3>"#;
    let start = page.find(heading).unwrap_or_else(|| panic!("{page}"));
    let table = &page[start..start + page[start..].find("</table>").expect("table")];
    // Figures keep their parts together with no-break spaces.
    let table = table.replace('\u{a0}', " ");
    // A dash (no figure) is read out in words too.
    let row = |month: &str, cells: &[&str]| {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| match *c {
                "–" => r#"<span aria-hidden="true">–</span><span class="visually-hidden">ingen uppgift</span>"#.to_owned(),
                other => other.to_owned(),
            })
            .collect();
        format!(
            r#"<tr><th scope="row">{month}</th><td>{}</td></tr>"#,
            cells.join("</td><td>")
        )
    };
    let rows = [
        row(
            "mars 2026",
            &[
                "3",
                "1",
                "2 (3), 2 SIP",
                "5 (5), 1 SIP",
                "100 %, 2 av 2",
                "100 %, 1 av 1",
                "100 %, 1 av 1",
                "–",
                "1 (samtycke nekat)",
            ],
        ),
        row(
            "april 2026",
            &[
                "0",
                "0",
                "–",
                "16 (16), 1 SIP",
                "–",
                "0 %, 0 av 1",
                "0 %, 0 av 1",
                "100 %, 1 av 1",
                "1 (målen uppnådda)",
            ],
        ),
        row(
            "maj 2026",
            &["0", "0", "–", "–", "–", "–", "–", "0 %, 0 av 1", "0"],
        ),
    ];
    let mut from = 0;
    for expected in &rows {
        let found = table[from..]
            .find(expected.as_str())
            .unwrap_or_else(|| panic!("{expected} in order: {table}"));
        from += found + expected.len();
    }

    // The file the page links to is the API's CSV, byte for byte, under the same name.
    let href = page
        .split(r#"href=""#)
        .map(|rest| rest.split('"').next().unwrap_or(""))
        .find(|href| href.starts_with("/uppfoljning/csv?"))
        .expect("a link to the file")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert_eq!(href, format!("/uppfoljning/csv?{query}"));
    let (status, headers, file) = browse(&app, &href, &token).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    let (_, api_csv) = ask(
        &app,
        "from=2026-03&to=2026-05&group_by=region&format=csv",
        at,
    )
    .await;
    assert_eq!(file, api_csv.as_str().expect("CSV text"));
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"sip-nyckeltal-2026-03-2026-05-region-2026-05-11.csv\""
    );
    assert!(page.contains("Alla tal visas"), "{page}");

    // By default figures over one or two plans are hidden, on the page and in its file: the
    // March row of the same report, and a closing for one reason among others.
    let (status, _, hidden) = browse(
        &app,
        "/uppfoljning?fran=2026-03&till=2026-05&grupp=region",
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hidden}");
    let hidden = hidden.replace('\u{a0}', " ");
    assert!(
        hidden.contains(
            r#"<tr><th scope="row">mars 2026</th><td>3</td><td>färre än 3</td><td>färre än 3 SIP</td><td>färre än 3 SIP</td><td>färre än 3 bedömda</td><td>färre än 3 bedömda</td><td>färre än 3 bedömda</td><td><span aria-hidden="true">–</span><span class="visually-hidden">ingen uppgift</span></td><td>färre än 3</td></tr>"#
        ),
        "{hidden}"
    );
    assert!(hidden.contains(r#"value="dolj" checked"#), "{hidden}");
    assert!(hidden.contains("döljs om du inte väljer att visa dem"));
    assert!(!hidden.contains("Inga personuppgifter"));
    let (status, headers, file) = browse(
        &app,
        "/uppfoljning/csv?fran=2026-03&till=2026-03&grupp=region&sma=dolj",
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"sip-nyckeltal-2026-03-2026-03-region-sma-tal-dolda-2026-05-11.csv\""
    );
    let lines: Vec<&str> = file.split("\r\n").collect();
    assert_eq!(
        lines[1],
        "2026-03;Region Testlän;Region Testlän;;3;<3;<3;;;<3;;;<3;;;<3;;;<3;;;0;0;;<3;<3;<3;<3;<3;<3;<3;<3;\
         2026-05-11T08:00:00Z;norrbotten"
    );

    // Per unit, a unit's name with its id.
    let (_, _, units) = browse(
        &app,
        "/uppfoljning?fran=2026-03&till=2026-03&grupp=unit",
        &token,
    )
    .await;
    assert!(units.contains("mars 2026, per enhet"), "{units}");
    assert!(units
        .contains(r#"<bdi>Hemtjänst Norr</bdi> <span class="meta">hemtjanst-norr</span> <span class="meta">· <bdi>Testby kommun</bdi></span></h3>"#));

    // Every month of the period has its row, also one with nothing to count; a day stands for
    // its month, and the form shows it as the month.
    let (_, _, year) = browse(
        &app,
        "/uppfoljning?fran=2026-01-15&till=2026-06-30&grupp=region",
        &token,
    )
    .await;
    let start = year
        .find("<bdi>Region Testlän</bdi></h3>")
        .expect("the region");
    let table = &year[start..start + year[start..].find("</table>").expect("table")];
    let months: Vec<&str> = table
        .split(r#"<th scope="row">"#)
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap_or(""))
        .collect();
    assert_eq!(
        months,
        [
            "januari 2026",
            "februari 2026",
            "mars 2026",
            "april 2026",
            "maj 2026",
            "juni 2026"
        ]
    );
    let dash = r#"<td><span aria-hidden="true">–</span><span class="visually-hidden">ingen uppgift</span></td>"#;
    assert!(table.contains(&format!(
        r#"<tr><th scope="row">januari 2026</th><td>0</td><td>0</td>{}<td>0</td></tr>"#,
        dash.repeat(6)
    )));
    assert!(
        year.contains(r#"name="fran" id="rapport-fran" value="2026-01""#),
        "{year}"
    );
    assert!(year.contains(r#"name="till" id="rapport-till" value="2026-06""#));

    // A period without plans says so.
    let (status, _, empty) = browse(
        &app,
        "/uppfoljning?fran=2025-01&till=2025-02&grupp=municipality",
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty.contains("Inga SIP under perioden."), "{empty}");

    // What the form cannot take is said beside its field, with what was typed kept.
    for (query, field, message) in [
        (
            "fran=2026-13&till=2026-05&grupp=region",
            "fran",
            "Ange månaden som ÅÅÅÅ-MM",
        ),
        (
            "fran=2026-05&till=2026-03&grupp=region",
            "till",
            "Till och med ska vara samma månad",
        ),
        (
            "fran=2000-01&till=2026-03&grupp=region",
            "till",
            "En rapport omfattar högst 120",
        ),
        (
            "fran=2026-03&till=2026-05&grupp=land",
            "grupp",
            "Välj region, kommun eller enhet.",
        ),
        (
            "fran=&till=2026-05&grupp=region",
            "fran",
            "Fyll i det här fältet.",
        ),
    ] {
        let (status, _, refused) = browse(&app, &format!("/uppfoljning?{query}"), &token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            refused.contains(&format!(r#"id="rapport-{field}-fel">{message}"#)),
            "{query}: {refused}"
        );
        assert!(!refused.contains("Påbörjade SIP"), "{query}: no report");
    }
    let (status, _, _) = browse(
        &app,
        "/uppfoljning/csv?fran=2026-13&till=2026-05&grupp=region",
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A parameter given twice is refused as a page that names it, not as the API's JSON.
    for path in [
        "/uppfoljning?fran=2026-03&till=2026-05&grupp=region&grupp=unit",
        "/uppfoljning/csv?fran=2026-03&till=2026-05&grupp=region&grupp=unit",
    ] {
        let (status, headers, body) = browse(&app, path, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert!(body.contains("grupp"), "{path}: {body}");
    }

    // Staff and auditors get the page that says it is not theirs.
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    for other in [&w.vc, &auditor] {
        for path in [
            "/uppfoljning",
            "/uppfoljning/csv?fran=2026-03&till=2026-05&grupp=region",
        ] {
            let (status, _, body) = browse(&app, path, other).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(body.contains("rollen uppföljning"), "{path}: {body}");
        }
    }
}
