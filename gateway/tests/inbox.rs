//! Meddelanden, Att göra and Pågående SIP through the API, with the clock injected: a plan walked
//! through its life, and after each step exactly which messages and to-dos each unit has, which
//! are urgent, and when they end; deadlines across Easter, midsummer and Christmas under each
//! policy profile; the live pushes; and a rebuild that gives the same tables.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

/// Försäkringskassan: an external actor without samplan, reached by letter.
const FK: &str = "fk-testby";

const NURSE: &str = "SE2321000016-VC01";
const NURSE_2: &str = "SE2321000016-VC02";

/// The world of `sips_support`, with Försäkringskassan registered too.
async fn world_with_letters(app: &TestApp) -> World {
    let w = world(app).await;
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({"id": FK, "name": "Försäkringskassan Testby",
                    "principal": {"kind": "external", "name": "Försäkringskassan"},
                    "uses_samplan": false, "address": "Box 9, 123 45 Testby"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    w
}

/// What a unit's staff member sees, once the inbox has caught up with `position`.
struct Inbox {
    messages: Value,
    todos: Value,
    sips: Value,
}

async fn inbox(app: &TestApp, token: &str, position: i64) -> Inbox {
    let get = |path: String| async move {
        let (status, headers, body) = app.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let at: i64 = headers["x-samplan-position"]
            .to_str()
            .expect("header")
            .parse()
            .expect("position");
        assert!(at >= position, "{path}: the inbox did not catch up");
        body
    };
    Inbox {
        messages: get(format!("/api/v1/inbox/messages?min_position={position}")).await,
        todos: get(format!("/api/v1/inbox/todos?min_position={position}")).await,
        sips: get(format!("/api/v1/inbox/sips?min_position={position}")).await,
    }
}

impl Inbox {
    /// The to-dos as (kind, assigned to, due at, urgent), in the order listed.
    fn todos(&self) -> Vec<(String, Option<String>, Option<String>, bool)> {
        self.todos["todos"]
            .as_array()
            .expect("todos")
            .iter()
            .map(|t| {
                (
                    t["kind"].as_str().expect("kind").to_owned(),
                    t["assigned_to"].as_str().map(str::to_owned),
                    t["due_at"].as_str().map(str::to_owned),
                    t["urgent"].as_bool().expect("urgent"),
                )
            })
            .collect()
    }

    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.todos().into_iter().map(|t| t.0).collect();
        kinds.sort();
        kinds
    }

    /// The message types, newest first.
    fn messages(&self) -> Vec<String> {
        self.messages["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["type"].as_str().expect("type").to_owned())
            .collect()
    }

    fn plan(&self, sip: &str) -> Value {
        self.sips["sips"]
            .as_array()
            .expect("sips")
            .iter()
            .find(|s| s["sip_id"] == sip)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

fn todo(
    kind: &str,
    assigned: Option<&str>,
    due: &str,
    urgent: bool,
) -> (String, Option<String>, Option<String>, bool) {
    (
        kind.to_owned(),
        assigned.map(str::to_owned),
        Some(due.to_owned()),
        urgent,
    )
}

fn position(answer: &Value) -> i64 {
    answer["position"].as_i64().expect("position")
}

#[tokio::test]
async fn a_plan_walked_through_its_life_fills_and_empties_each_units_inbox() {
    let app = TestApp::spawn().await;
    let mut w = world_with_letters(&app).await;

    // 1. Tuesday 10 March 09:00: the nurse notices the need. Consent is to be had within 3
    //    working days (Stockholm): by the end of Friday 13 March.
    let sip = start_plan(&app, &w).await;
    let head = app.store.head_position().await.expect("head");
    let vc = inbox(&app, &w.vc, head).await;
    assert_eq!(
        vc.todos(),
        vec![todo(
            "get_consent",
            Some(NURSE),
            "2026-03-13T22:59:59Z",
            false
        )]
    );
    assert_eq!(vc.todos["urgent_until"], "2026-03-11T22:59:59Z");
    assert!(vc.messages().is_empty());
    assert_eq!(vc.plan(&sip)["phase"], "awaiting_consent");
    assert_eq!(vc.plan(&sip)["phase_text"], "Inväntar samtycke");
    assert_eq!(vc.plan(&sip)["person"]["name"], "Tolvan Tolvansson");
    assert_eq!(vc.plan(&sip)["person"]["birth_year"], 1912);
    let ht = inbox(&app, &w.ht, head).await;
    assert!(ht.todos().is_empty() && ht.messages().is_empty());
    assert_eq!(ht.plan(&sip), Value::Null, "hemtjänsten takes no part yet");

    // 2. Consent (covering Försäkringskassan too) ends that to-do; the basis is next.
    let mut consent = consent();
    consent["actors"] = json!([VC, HT, PSYK, FK]);
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &consent).await);
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(
        vc.todos(),
        vec![todo(
            "create_plan_basis",
            Some(NURSE),
            "2026-03-13T22:59:59Z",
            false
        )]
    );
    let answer = ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(
        vc.todos(),
        vec![todo(
            "send_invitation",
            Some(NURSE),
            "2026-03-13T22:59:59Z",
            false
        )]
    );

    // 3. The invitation: hemtjänsten in samplan, Försäkringskassan and the person by letter.
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting",
            "scheduled_at": "2026-03-17T10:00:00+01:00", "form": "in_person",
            "place": "Vårdcentralen Centrum, rum 3",
            "reason": "Gemensam planering av stöd i hemmet.",
            "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "unit", "unit_id": FK},
                           {"kind": "person"}],
        }),
    )
    .await);
    let at = position(&answer);
    let ht = inbox(&app, &w.ht, at).await;
    assert_eq!(ht.messages(), vec!["invitation"]);
    let message = &ht.messages["messages"][0];
    assert_eq!(
        message["subject"],
        "Kallelse till SIP-möte tisdag 17 mars 2026 kl. 10.00"
    );
    assert_eq!(message["sender"]["unit_id"], VC);
    assert_eq!(message["sender"]["unit_name"], "Vårdcentralen Centrum");
    assert_eq!(message["person"]["name"], "Tolvan Tolvansson");
    assert_eq!(message["person"]["birth_year"], 1912);
    assert!(
        !message.to_string().contains("19121212"),
        "never the personnummer in a list: {message}"
    );
    assert_eq!(message["read"], false);
    assert_eq!(ht.messages["unread_count"], 1);
    assert_eq!(
        ht.todos(),
        vec![todo(
            "appoint_representative",
            None,
            "2026-03-17T09:00:00Z",
            false
        )]
    );
    assert_eq!(ht.plan(&sip)["phase"], "invited");
    assert_eq!(ht.plan(&sip)["next_meeting_at"], "2026-03-17T09:00:00Z");
    // The coordinator prints two letters by the end of tomorrow (urgent already) and is to
    // hold the meeting; no message for the unit that sent the invitation.
    let vc = inbox(&app, &w.vc, at).await;
    assert!(vc.messages().is_empty());
    assert_eq!(
        vc.todos(),
        vec![
            todo("send_letter", Some(NURSE), "2026-03-11T22:59:59Z", true),
            todo("send_letter", Some(NURSE), "2026-03-11T22:59:59Z", true),
            todo("record_meeting", Some(NURSE), "2026-03-17T22:59:59Z", false),
        ]
    );
    let letters: Vec<&Value> = vc.todos["todos"]
        .as_array()
        .expect("todos")
        .iter()
        .filter_map(|t| t.get("letter").filter(|l| !l.is_null()))
        .collect();
    let mut names: Vec<&str> = letters.iter().filter_map(|l| l["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, vec!["Försäkringskassan Testby", "Tolvan Tolvansson"]);
    assert!(letters
        .iter()
        .any(|l| l["address"] == "Storgatan 1, 123 45 Testby"));

    // Reading a message is per user.
    let message_id = message["id"].as_str().expect("id").to_owned();
    let read = mark_read(&app, &w.ht, &message_id).await;
    assert_eq!(read["events"], json!(["MessageRead"]));
    let again = mark_read(&app, &w.ht, &message_id).await;
    assert_eq!(again["events"], json!([]), "already read: nothing recorded");
    let ht = inbox(&app, &w.ht, position(&read)).await;
    assert_eq!(ht.messages["messages"][0]["read"], true);
    assert_eq!(ht.messages["unread_count"], 0);
    let colleague = app.staff_token("SE2120000001-HT02", HT);
    let other_user = inbox(&app, &colleague, position(&read)).await;
    assert_eq!(other_user.messages["unread_count"], 1, "read is per user");
    let (status, _, unread) = app.get("/api/v1/inbox/messages?unread=true", &w.ht).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unread["messages"], json!([]));
    // The vårdcentral cannot mark hemtjänsten's message.
    let (status, _, problem) = app
        .post(
            &format!("/api/v1/inbox/messages/{message_id}/read"),
            &w.vc,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");

    // 4. Hemtjänsten appoints its representative; the nurse posts the letters.
    let answer = ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Hanna Hemtjänst"}}),
    )
    .await);
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert!(ht.todos().is_empty());
    // The nurse, who coordinates, hears who comes (seed 002: the inbox is where she looks).
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(vc.messages(), vec!["invitation_answered"]);
    assert_eq!(
        vc.messages["messages"][0]["body"],
        "Hanna Hemtjänst företräder enheten vid SIP-möte tisdag 17 mars 2026 kl. 10.00."
    );
    assert_eq!(vc.messages["messages"][0]["sender"]["unit_id"], HT);
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "record-letters-posted",
        &json!({"invitation_id": "inv-1"}),
    )
    .await);
    assert_eq!(answer["events"], json!(["LettersPosted"]));
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(vc.kinds(), vec!["record_meeting"]);

    // 5. Thursday: the meeting moves a day. Hemtjänsten hears of it; the letters are owed again,
    //    by the end of Friday; the meeting to-do follows the new day.
    set_time(&app, &mut w, "2026-03-12T08:00:00Z");
    let answer = reschedule_to_18_march(&app, &w, &sip).await;
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(ht.messages(), vec!["meeting_rescheduled", "invitation"]);
    assert_eq!(
        ht.messages["messages"][0]["subject"],
        "Ny tid för SIP-möte: onsdag 18 mars 2026 kl. 10.00"
    );
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(
        vc.todos(),
        vec![
            todo("send_letter", Some(NURSE), "2026-03-13T22:59:59Z", true),
            todo("send_letter", Some(NURSE), "2026-03-13T22:59:59Z", true),
            todo("record_meeting", Some(NURSE), "2026-03-18T22:59:59Z", false),
        ]
    );
    assert!(vc.todos["todos"][0]["title"]
        .as_str()
        .expect("title")
        .starts_with("Skicka den nya tiden för SIP-mötet per brev till"));
    // Monday: the letters are overdue and still urgent; the meeting is due within the window.
    set_time(&app, &mut w, "2026-03-16T08:00:00Z");
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(vc.todos["todos"][0]["overdue"], true);
    assert_eq!(vc.todos["todos"][0]["urgent"], true);
    assert_eq!(vc.todos["todos"][2]["urgent"], false, "due Wednesday");
    let (_, _, urgent) = app.get("/api/v1/inbox/todos?urgent=true", &w.vc).await;
    assert_eq!(urgent["todos"].as_array().map(Vec::len), Some(2));
    let (_, _, calm) = app.get("/api/v1/inbox/todos?urgent=false", &w.vc).await;
    assert_eq!(calm["todos"].as_array().map(Vec::len), Some(1));
    ok(command(
        &app,
        &w.vc,
        &sip,
        "record-letters-posted",
        &json!({"invitation_id": "inv-1"}),
    )
    .await);

    // 6. The meeting, Wednesday 18 March: everyone documents within 3 days (by Saturday).
    set_time(&app, &mut w, "2026-03-18T11:00:00Z");
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({
            "invitation_id": "inv-1", "held_at": "2026-03-18T10:00:00+01:00",
            "attendees": [{"name": "Tolvan Tolvansson", "role": "person"},
                          {"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
            "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst",
            "follow_up_on": "2026-06-12",
        }),
    )
    .await);
    let at = position(&answer);
    let ht = inbox(&app, &w.ht, at).await;
    assert_eq!(
        ht.todos(),
        vec![todo(
            "document_contribution",
            None,
            "2026-03-21T22:59:59Z",
            false
        )]
    );
    assert_eq!(ht.plan(&sip)["owes_documentation"], true);
    assert_eq!(ht.plan(&sip)["next_follow_up_on"], "2026-06-12");
    let vc = inbox(&app, &w.vc, at).await;
    assert_eq!(
        vc.todos(),
        vec![
            todo(
                "document_main_goal",
                Some(NURSE),
                "2026-03-21T22:59:59Z",
                false
            ),
            todo("document_contribution", None, "2026-03-21T22:59:59Z", false),
            todo(
                "document_for_external_actor",
                Some(NURSE),
                "2026-03-21T22:59:59Z",
                false
            ),
            todo("hold_follow_up", Some(NURSE), "2026-06-12T21:59:59Z", false),
        ]
    );

    // 7. Hemtjänsten documents a delmål and its insats and publishes: its to-do ends, the
    // others hear of it.
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht", "heading": "daily_living", "text": "Städat hem.",
                "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-intervention",
        &json!({"intervention_id": "in-ht", "sub_goal_id": "sg-ht", "what": "Städning varannan vecka.",
                "responsible": {"kind": "unit", "unit_id": HT}, "performer": "Hemtjänstpersonalen",
                "contact": "Hemtjänst Norr, 010-123 45 67", "from": "2026-03-23"}),
    )
    .await);
    let answer = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert!(ht.todos().is_empty());
    assert_eq!(ht.plan(&sip)["owes_documentation"], false);
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(
        vc.messages(),
        vec!["contribution_published", "invitation_answered"]
    );
    assert_eq!(vc.messages["messages"][0]["sender"]["unit_id"], HT);

    // 8. A colleague takes over: the nurse's to-dos move to her, hemtjänsten hears of it.
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "change-coordinator",
        &json!({"staff_id": NURSE_2, "name": "Vilma Vårdcentral", "unit_id": VC}),
    )
    .await);
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(
        vc.kinds(),
        vec!["document_contribution"],
        "the nurse keeps the unit's only"
    );
    let colleague = inbox(&app, &w.vc_colleague, position(&answer)).await;
    assert_eq!(
        colleague.kinds(),
        vec![
            "document_contribution",
            "document_for_external_actor",
            "document_main_goal",
            "hold_follow_up"
        ]
    );
    let (_, _, everyone) = app.get("/api/v1/inbox/todos?scope=unit", &w.vc).await;
    assert_eq!(everyone["todos"].as_array().map(Vec::len), Some(4));
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(ht.messages()[0], "coordinator_changed");
    assert_eq!(
        ht.messages["messages"][0]["subject"],
        "Ny samordningsansvarig: Vilma Vårdcentral"
    );
    assert_eq!(ht.plan(&sip)["coordinator"]["name"], "Vilma Vårdcentral");

    // 9. The person withdraws consent: closing is the only to-do left, and hemtjänsten hears.
    let answer = ok(command(
        &app,
        &w.vc_colleague,
        &sip,
        "withdraw-consent",
        &json!({"withdrawn_by": {"kind": "person"}}),
    )
    .await);
    let colleague = inbox(&app, &w.vc_colleague, position(&answer)).await;
    assert_eq!(colleague.kinds(), vec!["close_plan"]);
    assert_eq!(colleague.todos()[0].2, None, "closing has no deadline");
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(ht.messages()[0], "consent_withdrawn");
    assert_eq!(ht.plan(&sip)["phase"], "consent_withdrawn");
    // Pågående SIP says why it is to be closed, and no follow-up is ahead any more.
    assert_eq!(ht.plan(&sip)["to_be_closed"], "samtycket har återkallats");
    assert_eq!(ht.plan(&sip)["next_follow_up_on"], Value::Null);
    assert_eq!(ht.plan(&sip)["next_meeting_at"], Value::Null);

    // 10. Closed: every to-do ends, the plan leaves Pågående SIP, everyone hears.
    let answer = ok(command(
        &app,
        &w.vc_colleague,
        &sip,
        "close-plan",
        &json!({"reason": "consent_withdrawn"}),
    )
    .await);
    let at = position(&answer);
    for token in [&w.vc, &w.vc_colleague, &w.ht] {
        let unit = inbox(&app, token, at).await;
        assert!(unit.todos().is_empty(), "{:?}", unit.todos());
        assert_eq!(unit.plan(&sip), Value::Null, "closed plans are not ongoing");
    }
    let ht = inbox(&app, &w.ht, at).await;
    assert_eq!(
        ht.messages(),
        vec![
            "plan_closed",
            "consent_withdrawn",
            "coordinator_changed",
            "meeting_rescheduled",
            "invitation"
        ]
    );
    assert_eq!(
        ht.messages["messages"][0]["body"],
        "Planen avslutades: samtycket är återkallat."
    );
    let (_, _, closed) = app.get("/api/v1/inbox/sips?closed=true", &w.ht).await;
    assert_eq!(closed["sips"][0]["phase"], "closed");
    assert!(closed["sips"][0]["closed_at"].is_string());
    // Nothing is ahead of a closed plan: the follow-up booked at the meeting is not held.
    assert_eq!(closed["sips"][0]["next_follow_up_on"], Value::Null);
    assert_eq!(closed["sips"][0]["next_meeting_at"], Value::Null);

    // Paging and filters.
    let (_, _, page) = app.get("/api/v1/inbox/messages?limit=2", &w.ht).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, _, rest) = app
        .get(
            &format!("/api/v1/inbox/messages?limit=2&cursor={cursor}"),
            &w.ht,
        )
        .await;
    let (_, _, last) = app
        .get(
            &format!(
                "/api/v1/inbox/messages?limit=2&cursor={}",
                rest["next_cursor"].as_str().expect("a third page")
            ),
            &w.ht,
        )
        .await;
    assert_eq!(last["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["next_cursor"], Value::Null);
    let (_, _, invitations) = app
        .get("/api/v1/inbox/messages?type=invitation", &w.ht)
        .await;
    assert_eq!(invitations["messages"].as_array().map(Vec::len), Some(1));
    let (_, _, recent) = app
        .get("/api/v1/inbox/messages?since=2026-03-18", &w.ht)
        .await;
    assert_eq!(recent["messages"].as_array().map(Vec::len), Some(3));
    let (_, _, theirs) = app
        .get(
            &format!("/api/v1/inbox/messages?person_id={}", w.person_id),
            &w.ht,
        )
        .await;
    assert_eq!(theirs["messages"].as_array().map(Vec::len), Some(5));
    for bad in [
        "type=nonsense",
        "cursor=x",
        "limit=0",
        "since=igår",
        "person_id=abc",
    ] {
        let (status, _, problem) = app
            .get(&format!("/api/v1/inbox/messages?{bad}"), &w.ht)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["code"], "invalid_parameter", "{bad}");
    }
    let (status, _, problem) = app.get("/api/v1/inbox/todos?scope=all", &w.ht).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    // Every list read is in the access log, for each person shown.
    let person = domain::PersonId::parse(&w.person_id).expect("id");
    let log = gateway::access_log::for_person(&app.state, &person)
        .await
        .expect("log");
    assert!(log
        .iter()
        .any(|e| e.action == "inbox.read" && e.unit.as_deref() == Some(HT)));

    // A rebuild gives the tables the live run built.
    rebuild_gives_the_live_tables(&app).await;
}

/// Rebuilds the inbox and compares every row with what the live runner had built.
async fn rebuild_gives_the_live_tables(app: &TestApp) {
    inbox_caught_up(app).await;
    unread_counts_equal_counting(app).await;
    rebuilt_tables_equal_the_live_ones(app).await;
    unread_counts_equal_counting(app).await;
}

/// Waits until the live inbox has applied every event in the store.
async fn inbox_caught_up(app: &TestApp) {
    let head = app.store.head_position().await.expect("head");
    projections::runner::applied(
        app.store.pool(),
        projections::inbox::PROJECTION,
        head,
        10_000,
    )
    .await
    .expect("caught up");
}

/// Rebuilding the inbox from the events gives exactly the tables the live projector wrote.
async fn rebuilt_tables_equal_the_live_ones(app: &TestApp) {
    inbox_caught_up(app).await;
    let live = projections::runner::dump(app.store.pool(), "inbox")
        .await
        .expect("dump");
    assert!(live.len() > 20, "{live:?}");
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    projections::rebuild(&app.store, &app.db.admin_url, "inbox", &settings)
        .await
        .expect("rebuild")
        .expect("a read model");
    let rebuilt = projections::runner::dump(app.store.pool(), "inbox")
        .await
        .expect("dump");
    assert_eq!(rebuilt, live);
}

/// The unread count (two counters, migration 10) equals counting the unit's messages that the
/// user has no read row for, for every unit, every user who read something and one who never
/// read anything.
async fn unread_counts_equal_counting(app: &TestApp) {
    let client = app.store.pool().get().await.expect("client");
    let pairs = client
        .query(
            "SELECT u.unit_id, x.user_id
               FROM (SELECT DISTINCT unit_id FROM inbox.messages) u
              CROSS JOIN (SELECT DISTINCT user_id FROM inbox.message_reads
                          UNION SELECT 'nobody-has-read') x",
            &[],
        )
        .await
        .expect("pairs");
    assert!(pairs.len() >= 4, "units and readers: {}", pairs.len());
    let mut some_read = false;
    for pair in &pairs {
        let (unit, user): (String, String) = (pair.get(0), pair.get(1));
        let counted: i64 = client
            .query_one(
                "SELECT count(*) FROM inbox.messages m
                  WHERE m.unit_id = $1 AND NOT EXISTS (
                        SELECT 1 FROM inbox.message_reads r
                         WHERE r.unit_id = m.unit_id AND r.message_id = m.message_id
                           AND r.user_id = $2)",
                &[&unit, &user],
            )
            .await
            .expect("count")
            .get(0);
        let all: i64 = client
            .query_one(
                "SELECT count(*) FROM inbox.messages WHERE unit_id = $1",
                &[&unit],
            )
            .await
            .expect("count")
            .get(0);
        some_read |= counted < all;
        let kept = projections::inbox::unread_count(app.store.pool(), &unit, &user)
            .await
            .expect("unread");
        assert_eq!(kept, counted, "unit {unit}, user {user}");
    }
    assert!(
        some_read,
        "the walk reads a message, so some count is below the total"
    );
}

/// Starts a plan at `now` under `profile` and returns the due time of its first to-do and
/// whether it is urgent.
async fn first_deadline(profile: &str, now: &str) -> (String, bool) {
    let app = TestApp::spawn_with(|c| c.policy = profile.into()).await;
    app.clock.set(now.parse().expect("time"));
    let w = world(&app).await;
    start_plan(&app, &w).await;
    let head = app.store.head_position().await.expect("head");
    let vc = inbox(&app, &w.vc, head).await;
    let first = vc.todos()[0].clone();
    assert_eq!(first.0, "get_consent");
    (first.2.expect("a due time"), first.3)
}

#[tokio::test]
async fn deadlines_skip_easter_midsummer_and_christmas_under_every_profile() {
    // (profile, need known at, consent due, urgent at once)
    let cases = [
        // Thursday before Easter: Långfredag, the weekend and Annandag påsk are no working days.
        (
            "stockholm",
            "2026-04-02T08:00:00Z",
            "2026-04-09T21:59:59Z",
            false,
        ),
        (
            "norrbotten",
            "2026-04-02T08:00:00Z",
            "2026-04-09T21:59:59Z",
            false,
        ),
        // Örebro asks for one working day: Tuesday after Easter, urgent already.
        (
            "orebro",
            "2026-04-02T08:00:00Z",
            "2026-04-07T21:59:59Z",
            true,
        ),
        // Thursday before midsommarafton (a de facto day off) and midsommardagen.
        (
            "stockholm",
            "2026-06-18T08:00:00Z",
            "2026-06-24T21:59:59Z",
            false,
        ),
        (
            "norrbotten",
            "2026-06-18T08:00:00Z",
            "2026-06-24T21:59:59Z",
            false,
        ),
        (
            "orebro",
            "2026-06-18T08:00:00Z",
            "2026-06-22T21:59:59Z",
            true,
        ),
        // Wednesday 23 December: julafton, juldagen, annandag jul and a weekend.
        (
            "stockholm",
            "2026-12-23T08:00:00Z",
            "2026-12-30T22:59:59Z",
            false,
        ),
        (
            "norrbotten",
            "2026-12-23T08:00:00Z",
            "2026-12-30T22:59:59Z",
            false,
        ),
        (
            "orebro",
            "2026-12-23T08:00:00Z",
            "2026-12-28T22:59:59Z",
            true,
        ),
    ];
    for (profile, now, due, urgent) in cases {
        assert_eq!(
            first_deadline(profile, now).await,
            (due.to_owned(), urgent),
            "{profile} from {now}"
        );
    }
}

#[tokio::test]
async fn norrbotten_wants_the_meeting_within_21_days_and_documentation_within_3() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let mut w = world(&app).await;
    // Midsummer week: the need is known Wednesday 17 June.
    set_time(&app, &mut w, "2026-06-17T07:00:00Z");
    let sip = prepared_plan(&app, &w).await;
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting",
            "scheduled_at": "2026-06-25T09:00:00+02:00", "form": "video",
            "reason": "Planering.", "recipients": [{"kind": "unit", "unit_id": HT}],
        }),
    )
    .await);
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    // 21 calendar days after 17 June: 8 July.
    assert!(vc.todos().contains(&todo(
        "record_meeting",
        Some(NURSE),
        "2026-07-08T21:59:59Z",
        false
    )));
    // The meeting on Thursday 25 June; documentation in 3 calendar days, to Sunday 28 June.
    set_time(&app, &mut w, "2026-06-25T09:00:00Z");
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({
            "invitation_id": "inv-1", "held_at": "2026-06-25T09:00:00+02:00",
            "attendees": [{"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
            "chair": "Vera", "secretary": "Hanna", "follow_up_on": "2026-09-01",
        }),
    )
    .await);
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(
        ht.todos(),
        vec![todo(
            "document_contribution",
            None,
            "2026-06-28T21:59:59Z",
            false
        )]
    );
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct Sse {
    event: String,
    id: Option<String>,
    data: Value,
}

/// A server-sent event stream read chunk by chunk.
struct SseStream {
    response: reqwest::Response,
    buffer: String,
}

impl SseStream {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> SseStream {
        let mut request = app
            .client
            .get(app.url("/api/v1/inbox/events"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("connect");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream; charset=utf-8",
            "an event stream, in UTF-8"
        );
        SseStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), waiting at most 10 s.
    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Sse {
                    event,
                    id,
                    data: serde_json::from_str(&data).expect("json data"),
                };
            }
            self.read_chunk().await;
        }
    }

    /// Reads the next chunk into the buffer, waiting at most 10 s; the stream must stay open.
    async fn read_chunk(&mut self) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), self.response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("reading the stream")
            .expect("the stream stays open");
        self.buffer.push_str(&String::from_utf8_lossy(&chunk));
    }

    /// Whether no event (keep-alive comments aside) arrives within `ms`.
    async fn quiet_for(&mut self, ms: u64) -> bool {
        let until = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        loop {
            if self.buffer.contains("data:") {
                return false;
            }
            match tokio::time::timeout_at(until, self.response.chunk()).await {
                Err(_) => return true,
                Ok(chunk) => {
                    let chunk = chunk.expect("reading the stream").expect("open");
                    self.buffer.push_str(&String::from_utf8_lossy(&chunk));
                }
            }
        }
    }

    /// The stream's text so far, once its first event has arrived (the event stays to be read).
    async fn head(&mut self) -> String {
        while !self.buffer.contains("\n\n") {
            self.read_chunk().await;
        }
        self.buffer.clone()
    }

    /// Whether the stream ends cleanly (the whole body arrives) within 10 s, without another
    /// event.
    async fn ended(&mut self) -> bool {
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), self.response.chunk())
                .await
            {
                Ok(Ok(None)) => return !self.buffer.contains("data:"),
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }

    /// Events until one of type `event`, which is returned with those before it.
    async fn until(&mut self, event: &str) -> Vec<Sse> {
        self.until_one(|e| e.event == event).await
    }

    /// Events until the first that `last` accepts, which is returned with those before it.
    async fn until_one(&mut self, last: impl Fn(&Sse) -> bool) -> Vec<Sse> {
        let mut seen = Vec::new();
        loop {
            let next = self.next().await;
            let done = last(&next);
            seen.push(next);
            if done {
                return seen;
            }
        }
    }
}

/// The vårdcentral moves the meeting of `inv-1` to 18 March: the answer.
async fn reschedule_to_18_march(app: &TestApp, w: &World, sip: &str) -> Value {
    ok(command(
        app,
        &w.vc,
        sip,
        "reschedule-meeting",
        &json!({"invitation_id": "inv-1", "scheduled_at": "2026-03-18T10:00:00+01:00"}),
    )
    .await)
}

/// `POST /inbox/messages/{id}/read` as `token`'s user: the answer.
async fn mark_read(app: &TestApp, token: &str, message_id: &str) -> Value {
    let (status, _, body) = app
        .post(
            &format!("/api/v1/inbox/messages/{message_id}/read"),
            token,
            &json!({}),
        )
        .await;
    ok((status, body))
}

/// The vårdcentral invites hemtjänsten to a SIP meeting (`inv-1`, 17 March): the answer.
async fn invite_hemtjansten(app: &TestApp, w: &World, sip: &str) -> Value {
    ok(command(
        app,
        &w.vc,
        sip,
        "send-invitation",
        &json!({
            "invitation_id": "inv-1", "purpose": "meeting",
            "scheduled_at": "2026-03-17T10:00:00+01:00", "form": "video",
            "reason": "Planering.", "recipients": [{"kind": "unit", "unit_id": HT}],
        }),
    )
    .await)
}

/// A stream lasts as long as its token: signed out (revoked), it ends at once, saying so; at
/// the token's expiry (with the leeway every request gets) likewise. Left open, it would keep
/// pushing names to a workstation whose user had signed out.
#[tokio::test]
async fn a_stream_ends_when_its_token_is_revoked_or_expires() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2026-11-02T08:00:00Z");
    let mut expiring = SseStream::open(&app, &w.vc, None).await;
    let mut signed_out = SseStream::open(&app, &w.vc_colleague, None).await;
    assert_eq!(expiring.next().await.event, "ready");
    assert_eq!(signed_out.next().await.event, "ready");

    // "Logga ut" revokes the session's token (web_security.rs walks the page itself).
    app.state
        .verifier
        .revoke(&w.vc_colleague)
        .expect("a token to revoke");
    let end = signed_out.next().await;
    assert_eq!(end.event, "signed_out", "{:?}", end.data);
    assert_eq!(end.data["code"], "token_revoked");
    assert!(end.data["detail"]
        .as_str()
        .is_some_and(|d| d.contains("Logga in")));
    assert!(signed_out.ended().await, "the stream ends after saying why");

    // The other stream goes on until its token's time is up: 8 hours and 30 s of leeway.
    start_plan(&app, &w).await;
    assert!(!expiring.until("ongoing").await.is_empty());
    app.clock.set("2026-11-02T16:00:29Z".parse().expect("time"));
    assert!(
        expiring.quiet_for(300).await,
        "still accepted within the leeway"
    );
    app.clock.set("2026-11-02T16:00:30Z".parse().expect("time"));
    let end = expiring.next().await;
    assert_eq!(end.event, "signed_out", "{:?}", end.data);
    assert_eq!(end.data["code"], "token_expired");
    assert!(expiring.ended().await);
}

/// A gateway asked to stop (SIGTERM) ends its streams at once and cleanly, instead of holding
/// them silent until the process exits and then cutting them: the clients reconnect (after the
/// `retry` the stream gave them, spread over seconds) to another gateway.
#[tokio::test]
async fn a_stopping_gateway_ends_its_streams_at_once_and_says_when_to_come_back() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let mut stream = SseStream::open(&app, &w.vc, None).await;
    let retry: u64 = stream
        .head()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("retry:"))
        .expect("a retry in the first event")
        .trim()
        .parse()
        .expect("milliseconds");
    assert!((2_000..5_000).contains(&retry), "{retry}");
    assert_eq!(stream.next().await.event, "ready");
    app.stop();
    let started = std::time::Instant::now();
    assert!(stream.ended().await, "a clean end of the stream");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "not held until the drain is over"
    );
}

#[tokio::test]
async fn changes_are_pushed_live_and_a_reconnect_resumes_without_a_gap() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;

    let mut ht = SseStream::open(&app, &w.ht, None).await;
    let ready = ht.next().await;
    assert_eq!(ready.event, "ready");
    let start = ready.id.clone().expect("ready has an id");

    let invited = invite_hemtjansten(&app, &w, &sip).await;
    let pushed = ht.until("message").await;
    let message = pushed.last().expect("message");
    assert_eq!(message.data["type"], "invitation");
    assert_eq!(message.data["person"]["name"], "Tolvan Tolvansson");
    // The same position brings the to-do and the plan; the last of them carries the id.
    let mut rest = vec![ht.next().await, ht.next().await];
    rest.sort_by(|a, b| a.event.cmp(&b.event));
    assert_eq!(rest[0].event, "ongoing");
    assert_eq!(rest[1].event, "todo");
    assert_eq!(rest[1].data["kind"], "appoint_representative");
    let ids: Vec<Option<String>> = pushed.iter().chain(&rest).map(|e| e.id.clone()).collect();
    assert_eq!(
        ids.iter().flatten().collect::<Vec<_>>(),
        vec![&position(&invited).to_string()],
        "one id for the position, on its last event: {ids:?}"
    );

    // Disconnected, two changes happen; reconnecting with the last id gets both, in order.
    drop(ht);
    ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Hanna"}}),
    )
    .await);
    let moved = reschedule_to_18_march(&app, &w, &sip).await;
    let mut ht = SseStream::open(&app, &w.ht, Some(&position(&invited).to_string())).await;
    assert_eq!(ht.next().await.event, "ready");
    let todo = ht.until("todo").await;
    let ended = todo.last().expect("todo");
    assert_eq!(ended.data["kind"], "appoint_representative");
    assert_eq!(ended.data["ended_by"], "RepresentativeAppointed");
    let moved_message = ht.until("message").await;
    assert_eq!(
        moved_message.last().expect("message").data["type"],
        "meeting_rescheduled"
    );
    assert!(moved_message
        .iter()
        .filter_map(|e| e.id.as_deref())
        .all(|id| id.parse::<i64>().expect("id") <= position(&moved)));

    // From the very start, everything of the unit comes again.
    let mut again = SseStream::open(&app, &w.ht, Some(&start)).await;
    assert_eq!(again.next().await.event, "ready");
    assert_eq!(
        again.until("message").await.last().expect("m").data["type"],
        "invitation"
    );

    // A Last-Event-ID that is no position of the stream is refused.
    let (status, _, problem) = app
        .send(
            app.client
                .get(app.url("/api/v1/inbox/events"))
                .bearer_auth(&w.ht)
                .header("Last-Event-ID", "not-a-position"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
}

/// The service's clock has nanoseconds, PostgreSQL keeps microseconds: a live run, which reads
/// its rows back at every batch, must stamp exactly the changes a rebuild (one long batch) does.
#[tokio::test]
async fn a_clock_with_nanoseconds_gives_the_same_rows_live_and_rebuilt() {
    let app = TestApp::spawn().await;
    app.clock
        .set("2026-03-10T08:00:00.123456789Z".parse().expect("time"));
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    // Each command waits for the inbox, so each event is a batch of its own.
    for (n, step) in ["record-consent", "create-plan-basis"]
        .into_iter()
        .enumerate()
    {
        app.clock.set(
            format!("2026-03-10T09:0{n}:00.987654321Z")
                .parse()
                .expect("time"),
        );
        let body = if step == "record-consent" {
            consent()
        } else {
            json!({})
        };
        let written = ok(command(&app, &w.vc, &sip, step, &body).await);
        inbox(&app, &w.vc, position(&written)).await;
    }
    for n in 0..3 {
        let written = ok(command(
            &app,
            &w.vc,
            &sip,
            "document-mapping",
            &json!({"mapping_id": format!("m{n}"), "heading": "housing", "text": "Bor ensam."}),
        )
        .await);
        inbox(&app, &w.vc, position(&written)).await;
    }
    let rows = app.assert_rebuild_equals_live("inbox").await;
    assert!(rows > 5, "{rows}");
}

/// Follows `next_cursor` from the first page to the last, `limit` rows at a time; the ids of
/// `key`'s rows in the order listed, and the number of pages.
async fn all_pages(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    id: &str,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let (status, _, body) = app.get(&url, token).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let rows = body[key].as_array().expect("rows");
        assert!(rows.len() <= limit, "{url}: {} rows", rows.len());
        ids.extend(rows.iter().map(|r| r[id].as_str().expect("id").to_owned()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (ids, pages),
        }
        assert!(pages < 100, "paging does not end");
    }
}

/// The start page's lists as the signed-in staff member sees them (the session cookie holds
/// the token).
async fn start_lists(app: &TestApp, token: &str, query: &str) -> String {
    let request = app
        .client
        .get(app.url(&format!("/start/listor{query}")))
        .header("cookie", format!("samplan_session={token}"));
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_str().expect("html").to_owned()
}

/// The plans linked from one section of the start page (`/sip/{id}`, without the part of the
/// page a link points at), in order.
fn section_links(html: &str, section: &str) -> Vec<String> {
    let start = html
        .find(&format!("id=\"{section}\""))
        .unwrap_or_else(|| panic!("no section {section}"));
    let rest = &html[start..];
    let end = rest[1..].find("<section").map_or(rest.len(), |e| e + 1);
    rest[..end]
        .split("href=\"/sip/")
        .skip(1)
        .map(|s| s.split(['"', '#']).next().expect("a link").to_owned())
        .collect()
}

#[tokio::test]
async fn long_lists_come_in_pages_that_add_up_to_the_whole_list() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // 53 plans: most wait for consent (due in 3 working days, the same instant for all, so the
    // order within a due time is by id); some have consent and wait for a plan basis (no due
    // time: listed last); some have an invitation out (a next meeting in Pågående SIP).
    let mut head = 0;
    for i in 0..53 {
        let (status, body) = try_start_plan(&app, &w).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        head = position(&body);
        let sip = body["id"].as_str().expect("id").to_owned();
        if i % 5 == 0 {
            head = position(&ok(command(
                &app,
                &w.vc,
                &sip,
                "record-consent",
                &consent(),
            )
            .await));
        }
        if i % 10 == 0 {
            ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
            let invited = ok(command(
                &app,
                &w.vc,
                &sip,
                "send-invitation",
                &json!({
                    "invitation_id": "inv-1", "purpose": "meeting",
                    "scheduled_at": format!("2026-04-{:02}T09:00:00+02:00", 1 + i / 10),
                    "form": "in_person", "place": "Rum 3", "reason": "Planering.",
                    "recipients": [{"kind": "unit", "unit_id": HT}],
                }),
            )
            .await);
            head = position(&invited);
        }
    }
    let (status, _, _) = app
        .get(&format!("/api/v1/inbox/todos?min_position={head}"), &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK);

    // The whole list in one page, and the same list 7 at a time: nothing missing, nothing twice,
    // the same order.
    for (path, key, id) in [
        ("/api/v1/inbox/todos", "todos", "id"),
        ("/api/v1/inbox/sips", "sips", "sip_id"),
    ] {
        let (whole, pages) = all_pages(&app, &w.vc, path, key, id, 200).await;
        assert_eq!(pages, 1);
        assert!(whole.len() >= 53, "{path}: {} rows", whole.len());
        let (paged, pages) = all_pages(&app, &w.vc, path, key, id, 7).await;
        assert_eq!(paged, whole, "{path}");
        assert_eq!(pages, whole.len().div_ceil(7), "{path}");
        // The default page is 50.
        let (status, _, body) = app.get(path, &w.vc).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body[key].as_array().expect("rows").len(), 50, "{path}");
        assert!(body["next_cursor"].is_string(), "{path}: {body}");
        // A made-up cursor or a page size out of range is refused, not read as the first page.
        for bad in [
            "cursor=p12",
            "cursor=tq.x",
            "cursor=o9",
            // Times beyond what PostgreSQL holds: refused here, never a 500 from the database.
            "cursor=o0.-80003322807549100.n.-7035167490369901949.0yuG",
            "cursor=t-7035167490369901949.x",
            "limit=0",
            "limit=201",
        ] {
            let (status, _, body) = app.get(&format!("{path}?{bad}"), &w.vc).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{bad}: {body}");
            assert_eq!(body["code"], "invalid_parameter", "{path}?{bad}");
        }
    }
    let (todos, _) = all_pages(&app, &w.vc, "/api/v1/inbox/todos", "todos", "sip_id", 200).await;
    let (plans, _) = all_pages(&app, &w.vc, "/api/v1/inbox/sips", "sips", "sip_id", 200).await;

    // The start page shows the first 50 of each, with a link to the rest.
    let first = start_lists(&app, &w.vc, "").await;
    assert_eq!(section_links(&first, "att-gora"), todos[..50]);
    assert_eq!(section_links(&first, "pagaende"), plans[..50]);
    assert!(first.contains("Visa fler att göra"), "{first}");
    assert!(first.contains("Visa fler pågående SIP"));
    // Each list says how much of it shows.
    assert!(
        first.contains(&format!("Visar 50 av {}, de som ska", todos.len())),
        "{first}"
    );
    assert!(
        first.contains(&format!("Visar 50 av {}, de med närmast", plans.len())),
        "{first}"
    );
    // (The first link to the start page is Att göra's "Hela enheten".)
    let next = first
        .split("href=\"/?")
        .skip(1)
        .filter_map(|s| s.split('#').next())
        .find(|s| s.contains("att_gora_efter="))
        .expect("a link to the next page")
        .replace("&amp;", "&");
    assert!(next.starts_with("att_gora_efter="), "{next}");
    let second = start_lists(&app, &w.vc, &format!("?{next}")).await;
    assert_eq!(section_links(&second, "att-gora"), todos[50..]);
    assert_eq!(section_links(&second, "pagaende"), plans[..50]);
    assert!(second.contains("Till början"));
    // A stale link says so and shows the first page.
    let stale = start_lists(&app, &w.vc, "?att_gora_efter=bogus").await;
    assert!(stale.contains("gäller inte längre"), "{stale}");
    assert_eq!(section_links(&stale, "att-gora"), todos[..50]);
}

/// After a point-in-time restore the runbook moves the positions past the lost history: an id
/// from that history then names no event (it lies in the hole) and is refused, so the client
/// reads its lists again instead of resuming above what the restored history holds.
#[tokio::test]
async fn an_id_that_names_no_event_is_refused_as_from_another_history() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    prepared_plan(&app, &w).await;
    let head = app.store.head_position().await.expect("head");
    let (owner, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("owner");
    tokio::spawn(connection);
    owner
        .batch_execute(&format!(
            "SELECT setval('events_global_position_seq', {})",
            head + 1_000
        ))
        .await
        .expect("the positions moved on");
    let sip = prepared_plan(&app, &w).await;
    let after = app.store.head_position().await.expect("head");
    assert!(after > head + 1_000, "{after}");

    let lost = (head + 500).to_string();
    let (status, _, problem) = app
        .send(
            app.client
                .get(app.url("/api/v1/inbox/events"))
                .bearer_auth(&w.ht)
                .header("Last-Event-ID", lost.as_str()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "position_unknown", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("återställdes")),
        "{problem}"
    );

    // An id of this history resumes, and what comes after it arrives.
    let mut ht = SseStream::open(&app, &w.ht, Some(&head.to_string())).await;
    assert_eq!(ht.next().await.event, "ready");
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-17T10:00:00+01:00"),
    )
    .await);
    let pushed = ht.until("message").await;
    assert_eq!(pushed.last().expect("message").data["type"], "invitation");
}

/// A `Last-Event-ID` (or `from_position`) beyond every position the store has reached was issued
/// by another database or by nobody: accepted, the stream would wait for that position and never
/// send what happens meanwhile. It is refused; an id the stream gave resumes without a gap.
#[tokio::test]
async fn an_id_beyond_the_store_is_refused_and_the_last_one_given_resumes() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let head = app.store.head_position().await.expect("head");

    let beyond = (head + 1_000_000).to_string();
    for request in [
        app.client
            .get(app.url("/api/v1/inbox/events"))
            .bearer_auth(&w.ht)
            .header("Last-Event-ID", beyond.as_str()),
        app.client
            .get(app.url(&format!("/api/v1/inbox/events?from_position={beyond}")))
            .bearer_auth(&w.ht),
    ] {
        let (status, headers, problem) = app.send(request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(problem["code"], "position_unknown", "{problem}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains(&beyond), "{detail}");
    }

    // The store's head is a position the store has: accepted, and what comes after it arrives.
    let mut ht = SseStream::open(&app, &w.ht, Some(&head.to_string())).await;
    let ready = ht.next().await;
    assert_eq!(ready.event, "ready");
    assert_eq!(ready.id.as_deref(), Some(head.to_string().as_str()));
    let invited = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-17T10:00:00+01:00"),
    )
    .await);
    let pushed = ht.until("message").await;
    assert_eq!(pushed.last().expect("message").data["type"], "invitation");

    // Disconnected after the last id it got, the client misses nothing of what followed.
    let last = position(&invited).to_string();
    drop(ht);
    ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Hanna"}}),
    )
    .await);
    let mut ht = SseStream::open(&app, &w.ht, Some(&last)).await;
    assert_eq!(ht.next().await.event, "ready");
    let ended = ht.until("todo").await;
    let ended = ended.last().expect("todo");
    assert_eq!(ended.data["kind"], "appoint_representative");
    assert_eq!(ended.data["ended_by"], "RepresentativeAppointed");
}

/// The to-dos of `kind` the unit lists at the app's current time.
async fn listed(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let (status, _, body) = app.get("/api/v1/inbox/todos", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["todos"]
        .as_array()
        .expect("todos")
        .iter()
        .filter(|t| t["kind"] == kind)
        .cloned()
        .collect()
}

/// A reminder is shown from a later day than the event that owes it (ADR 0033): a live stream
/// open when that moment comes pushes it then, without an id (it has no position), and only to
/// the one it is for.
#[tokio::test]
async fn a_reminder_is_pushed_live_the_moment_it_is_shown() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2027-01-20T08:00:00Z");
    // Consent holds through 10 March 2027: the reminder is shown from 8 February, Swedish time.
    let sip = prepared_plan(&app, &w).await;
    let head = app.store.head_position().await.expect("head");
    inbox(&app, &w.vc, head).await;
    inbox(&app, &w.ht, head).await;
    // The streams stay open across the weeks the clock jumps: their tokens must last as long
    // (a stream ends with its token).
    let lasting = |sub: &str, unit: &str| {
        gateway::auth::Signer::hs256(app.secret(), "samplan", "samplan").sign(
            sub,
            "staff",
            Some(unit),
            "Testperson Personal",
            app.clock.now(),
            chrono::Duration::days(800),
        )
    };
    let mut vc = SseStream::open(&app, &lasting("SE2321000016-VC01", VC), None).await;
    assert_eq!(vc.next().await.event, "ready");
    let mut ht = SseStream::open(&app, &lasting("SE2120000001-HT01", HT), None).await;
    assert_eq!(ht.next().await.event, "ready");

    set_time(&app, &mut w, "2027-02-07T22:59:59Z");
    assert!(vc.quiet_for(700).await, "nothing before its moment");
    set_time(&app, &mut w, "2027-02-07T23:00:00Z");
    let pushed = vc.next().await;
    assert_eq!(pushed.event, "todo");
    assert_eq!(pushed.data["kind"], "renew_consent");
    assert_eq!(pushed.data["sip_id"], sip.as_str());
    assert_eq!(pushed.data["shown_from"], "2027-02-07T23:00:00Z");
    assert_eq!(
        pushed.id, None,
        "no position: the last id stays the client's"
    );
    // Hemtjänsten, taking part, owes nothing of it and hears nothing.
    assert!(ht.quiet_for(700).await);
    // Once is enough; a client that lost the stream meanwhile and resumes gets it again.
    assert!(vc.quiet_for(500).await);
    let mut resumed = SseStream::open(&app, &w.vc, Some(&head.to_string())).await;
    let again = resumed.until("todo").await;
    assert_eq!(again.last().expect("todo").data["kind"], "renew_consent");
    drop(resumed);

    // Renewed: the next reminder waits for February 2028. The unit's lists moved, but with
    // nothing this stream may show yet it waits quietly instead of looking again and again.
    let mut renewed = consent();
    renewed["valid_until"] = json!("2028-03-10");
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &renewed).await);
    inbox(&app, &w.vc, position(&answer)).await;
    vc.quiet_for(2_500).await;
    let before = live_reads(&app).await;
    vc.quiet_for(2_500).await;
    let looks = live_reads(&app).await - before;
    assert!(
        looks <= 4.0,
        "{looks} looks at the tables in 2.5 s of quiet"
    );
    // The next moment comes.
    set_time(&app, &mut w, "2028-02-08T23:00:00Z");
    let next = vc.next().await;
    assert_eq!(
        (next.event.as_str(), &next.data["kind"]),
        ("todo", &json!("renew_consent"))
    );
    assert_eq!(next.data["shown_from"], "2028-02-08T23:00:00Z");
}

/// How often the live pushes have read the inbox tables (`/metrics`).
async fn live_reads(app: &TestApp) -> f64 {
    metric(app, "samplan_live_reads_total").await
}

/// The value of the metric `name` on `/metrics` (0 when it is not there yet).
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Events until the one that carries `id` (a position's last change), which is returned last.
async fn until_id(stream: &mut SseStream, id: i64) -> Vec<Sse> {
    let id = id.to_string();
    stream
        .until_one(|e| e.id.as_deref() == Some(id.as_str()))
        .await
}

/// A unit's colleagues watch it together. One read of the tables serves all their open streams,
/// and each stream still gets every change of the unit; a message marked read reaches that
/// user's other streams (another tab, another device), never a colleague's.
#[tokio::test]
async fn colleagues_streams_share_one_read_and_a_marking_reaches_only_its_user() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let colleague = app.staff_token("SE2120000001-HT02", HT);
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        mine.push(SseStream::open(&app, &w.ht, None).await);
        theirs.push(SseStream::open(&app, &colleague, None).await);
    }
    for stream in mine.iter_mut().chain(theirs.iter_mut()) {
        assert_eq!(stream.next().await.event, "ready");
    }
    assert_eq!(metric(&app, "samplan_live_streams").await, 8.0);
    let before = live_reads(&app).await;
    let invited = invite_hemtjansten(&app, &w, &sip).await;
    let mut message_id = String::new();
    for stream in mine.iter_mut().chain(theirs.iter_mut()) {
        let pushed = until_id(stream, position(&invited)).await;
        let mut kinds: Vec<&str> = pushed.iter().map(|e| e.event.as_str()).collect();
        kinds.sort();
        assert_eq!(kinds, vec!["message", "ongoing", "todo"], "{pushed:?}");
        let message = pushed
            .iter()
            .find(|e| e.event == "message")
            .expect("message");
        assert_eq!(message.data["type"], "invitation");
        message_id = message.data["id"].as_str().expect("id").to_owned();
    }
    let reads = live_reads(&app).await - before;
    assert!(
        (1.0..=2.0).contains(&reads),
        "eight streams of one unit, one change: {reads} reads of the tables"
    );

    // The user reads the message in one tab: their other tabs hear it, the colleague's do not.
    let read = mark_read(&app, &w.ht, &message_id).await;
    for stream in &mut mine {
        let pushed = stream.next().await;
        assert_eq!(pushed.event, "message_read", "{pushed:?}");
        assert_eq!(pushed.data["id"], message_id.as_str());
        assert_eq!(pushed.id, Some(position(&read).to_string()));
    }
    for stream in &mut theirs {
        assert!(
            stream.quiet_for(300).await,
            "a colleague's reading is theirs"
        );
    }
    // And the other way round.
    mark_read(&app, &colleague, &message_id).await;
    for stream in &mut theirs {
        assert_eq!(stream.next().await.event, "message_read");
    }
    for stream in &mut mine {
        assert!(stream.quiet_for(300).await);
    }
    // Hemtjänsten names its representative: the to-do the invitation opened ends, on every
    // stream (the streams share a read that holds the to-do twice now: open, then ended).
    let responded = ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1", "representative": {"name": "Hanna"}}),
    )
    .await);
    for stream in mine.iter_mut().chain(theirs.iter_mut()) {
        let pushed = until_id(stream, position(&responded)).await;
        assert!(pushed
            .iter()
            .any(|e| e.event == "todo" && e.data["ended_by"] == "RepresentativeAppointed"));
    }

    // Streams that resume from before the invitation get everything since, each as it stands
    // now, with their own user's reading: the to-do that opened and ended arrives once, ended.
    // One resumes from within what the streams share, one from far behind it (which reads for
    // itself).
    for after in [position(&invited) - 1, 1] {
        let mut resumed = SseStream::open(&app, &w.ht, Some(&after.to_string())).await;
        assert_eq!(resumed.next().await.event, "ready");
        let all = until_id(&mut resumed, position(&responded)).await;
        let reads: Vec<&Sse> = all.iter().filter(|e| e.event == "message_read").collect();
        assert_eq!(reads.len(), 1, "from {after}: {all:?}");
        assert_eq!(reads[0].id, Some(position(&read).to_string()));
        assert!(all
            .iter()
            .any(|e| e.event == "message" && e.data["type"] == "invitation"));
        let representative: Vec<&Sse> = all
            .iter()
            .filter(|e| e.event == "todo" && e.data["kind"] == "appoint_representative")
            .collect();
        assert_eq!(representative.len(), 1, "from {after}: {representative:?}");
        assert_eq!(
            representative[0].data["ended_by"],
            "RepresentativeAppointed"
        );
    }
}

/// Consent is time-limited (003): a month before it runs out the coordinator is asked to renew
/// it, in the list and the live pushes alike; the to-do stays, urgent, once it has run out, and
/// consent recorded anew ends it. A child's guardians consent only until the child turns 18: the
/// coordinator is asked for the young person's own consent ahead of the birthday.
#[tokio::test]
async fn consent_running_out_is_listed_a_month_ahead_and_ends_when_renewed() {
    let app = TestApp::spawn_with(|c| c.policy = "norrbotten".into()).await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2027-01-20T08:00:00Z");
    // Consent holds through 10 March 2027 (`sips_support::consent`).
    let sip = prepared_plan(&app, &w).await;
    let head = app.store.head_position().await.expect("head");
    let before = inbox(&app, &w.vc, head).await;
    assert!(!before.kinds().contains(&"renew_consent".to_owned()));
    let vc_user = "SE2321000016-VC01";
    let pushed = |at: &str| {
        let app = &app;
        let at: chrono::DateTime<chrono::Utc> = at.parse().expect("time");
        async move {
            projections::inbox::changes_since(app.store.pool(), VC, vc_user, 0, 1000, at)
                .await
                .expect("changes")
                .into_iter()
                .filter(|(_, c)| {
                    matches!(c, projections::inbox::Change::Todo { todo } if todo.kind == "renew_consent")
                })
                .count()
        }
    };
    assert_eq!(pushed("2027-02-07T22:59:59Z").await, 0);

    // Listed from the start of 8 February, Swedish time, a month before the last day.
    set_time(&app, &mut w, "2027-02-07T22:59:59Z");
    assert!(listed(&app, &w.vc, "renew_consent").await.is_empty());
    set_time(&app, &mut w, "2027-02-07T23:00:00Z");
    let renew = listed(&app, &w.vc, "renew_consent").await;
    assert_eq!(renew.len(), 1, "{renew:?}");
    assert_eq!(renew[0]["sip_id"], sip.as_str());
    assert_eq!(renew[0]["assigned_to"], vc_user);
    // Whose it is, by name, for colleagues looking at the whole unit's list.
    assert_eq!(renew[0]["assigned_to_name"], "Testperson Personal");
    assert_eq!(
        renew[0]["title"],
        "Förnya samtycket till SIP: det gäller till och med 10 mars 2027"
    );
    assert_eq!(renew[0]["due_at"], "2027-03-10T22:59:59Z");
    assert_eq!(renew[0]["shown_from"], "2027-02-07T23:00:00Z");
    assert_eq!(renew[0]["urgent"], false);
    assert_eq!(pushed("2027-02-07T23:00:00Z").await, 1);
    // Hemtjänsten, taking part, owes nothing of it.
    assert!(listed(&app, &w.ht, "renew_consent").await.is_empty());
    // The last day it is urgent; after it, overdue.
    set_time(&app, &mut w, "2027-03-10T08:00:00Z");
    assert_eq!(
        listed(&app, &w.vc, "renew_consent").await[0]["urgent"],
        true
    );
    set_time(&app, &mut w, "2027-03-11T08:00:00Z");
    let late = listed(&app, &w.vc, "renew_consent").await;
    assert_eq!(
        (&late[0]["urgent"], &late[0]["overdue"]),
        (&json!(true), &json!(true))
    );

    // Renewed for a year: ended, and the next reminder waits for February 2028.
    let mut renewed = consent();
    renewed["valid_until"] = json!("2028-03-10");
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &renewed).await);
    let after = inbox(&app, &w.vc, position(&answer)).await;
    assert!(!after.kinds().contains(&"renew_consent".to_owned()));
    let client = app.store.pool().get().await.expect("client");
    let rows: Vec<(String, Option<String>, chrono::DateTime<chrono::Utc>)> = client
        .query(
            "SELECT reference, ended_by, shown_from FROM inbox.todos
              WHERE kind = 'renew_consent' ORDER BY opened_position",
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "2027-03-10".to_owned(),
                Some("ConsentGiven".to_owned()),
                "2027-02-07T23:00:00Z".parse().expect("time")
            ),
            (
                "2028-03-10".to_owned(),
                None,
                "2028-02-08T23:00:00Z".parse().expect("time")
            ),
        ]
    );

    // A child born on 20 May 2009, consented for by their guardian until January 2028.
    let child = register_person(&app, &w, "20090520-2388", "Unga Tolvansson").await;
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{child}/add-relative"),
            &w.vc,
            &json!({"relative_id": "g0", "kind": "guardian", "name": "Vårdnadshavare Tolvansson",
                    "personal_identity_number": "19870101-2398"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let child_sip = start_plan_for(&app, &w, &child).await;
    let mut guardian = consent();
    guardian["given_by"] = json!({"kind": "guardian", "relative_id": "g0"});
    guardian["valid_until"] = json!("2028-01-31");
    ok(command(&app, &w.vc, &child_sip, "record-consent", &guardian).await);
    let answer = ok(command(&app, &w.vc, &child_sip, "create-plan-basis", &json!({})).await);
    inbox(&app, &w.vc, position(&answer)).await;
    let ask = renewals_of(&app, &w.vc, &child_sip).await;
    assert!(ask.is_empty(), "not before 19 April: {ask:?}");
    set_time(&app, &mut w, "2027-04-18T22:00:00Z");
    let ask = renewals_of(&app, &w.vc, &child_sip).await;
    assert_eq!(ask.len(), 1, "{ask:?}");
    assert_eq!(
        ask[0]["title"],
        "Inhämta personens eget samtycke till SIP: vårdnadshavarnas gäller inte från \
         18-årsdagen 20 maj 2027"
    );
    assert_eq!(ask[0]["due_at"], "2027-05-19T21:59:59Z");
    let (_, _, view) = app.get(&format!("/api/v1/sips/{child_sip}"), &w.vc).await;
    assert_eq!(view["consent"]["status"], "given", "{view}");

    // As asked, before the birthday: the young person consents themselves. Their consent holds
    // from the birthday on, so the to-do ends, and the next one waits for its own expiry.
    let mut own = consent();
    own["given_by"] = json!({"kind": "person"});
    own["valid_until"] = json!("2028-05-31");
    let answer = ok(command(&app, &w.vc, &child_sip, "record-consent", &own).await);
    inbox(&app, &w.vc, position(&answer)).await;
    let ask = renewals_of(&app, &w.vc, &child_sip).await;
    assert!(ask.is_empty(), "{ask:?}");
    // Past the birthday the plan goes on under the person's own consent.
    set_time(&app, &mut w, "2027-05-21T08:00:00Z");
    let (_, _, view) = app.get(&format!("/api/v1/sips/{child_sip}"), &w.vc).await;
    assert_eq!(view["consent"]["status"], "given", "{view}");
    assert_eq!(view["consent"]["valid_until"], "2028-05-31", "{view}");
    ok(command(
        &app,
        &w.vc,
        &child_sip,
        "send-invitation",
        &kallelse("inv-18", "meeting", "2027-05-26T09:00:00+02:00"),
    )
    .await);

    // Another child whose guardian's consent is all there is: from the birthday the plan says
    // consent no longer holds, as every command that needs it answers.
    let other = register_person(&app, &w, "20090520-2370", "Andra Tolvansson").await;
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{other}/add-relative"),
            &w.vc,
            &json!({"relative_id": "g0", "kind": "guardian", "name": "Vårdnadshavare Två"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    set_time(&app, &mut w, "2027-05-10T08:00:00Z");
    let other_sip = start_plan_for(&app, &w, &other).await;
    ok(command(&app, &w.vc, &other_sip, "record-consent", &guardian).await);
    set_time(&app, &mut w, "2027-05-21T08:00:00Z");
    let (_, _, view) = app.get(&format!("/api/v1/sips/{other_sip}"), &w.vc).await;
    assert_eq!(view["consent"]["status"], "expired", "{view}");
    assert!(app.assert_rebuild_equals_live("inbox").await > 10);
}

/// The renew_consent to-dos listed for plan `sip`.
async fn renewals_of(app: &TestApp, token: &str, sip: &str) -> Vec<Value> {
    listed(app, token, "renew_consent")
        .await
        .into_iter()
        .filter(|t| t["sip_id"] == sip)
        .collect()
}

/// The unit's first plan in Pågående SIP, as the API answers it.
async fn ongoing(app: &TestApp, token: &str) -> Value {
    let (status, _, body) = app.get("/api/v1/inbox/sips", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sips"][0].clone()
}

/// Pågående SIP says when a kallelse's time has passed without the meeting being registered:
/// the coordinator is asked to register it, the other units are told it is not.
#[tokio::test]
async fn a_passed_meeting_not_registered_is_marked_in_pagaende_sip() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2026-11-02T08:00:00Z");
    let (sip, answer) = invited_plan(&app, &w, "2026-11-10T09:00:00Z").await;
    inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(ongoing(&app, &w.ht).await["next_meeting_passed"], false);
    let coordinator = "(tiden har passerat: registrera mötet)";
    let others = "(tiden har passerat; mötet är inte registrerat)";
    let before = start_lists(&app, &w.vc, "").await;
    assert!(
        before.contains("Nästa möte: tisdag 10 november kl. 10.00"),
        "{before}"
    );
    assert!(!before.contains(coordinator) && !before.contains(others));
    set_time(&app, &mut w, "2026-11-10T11:00:00Z");
    let vc = start_lists(&app, &w.vc, "").await;
    assert!(
        vc.contains(&format!("Nästa möte: i dag kl. 10.00 {coordinator}")),
        "{vc}"
    );
    let ht = start_lists(&app, &w.ht, "").await;
    assert!(
        ht.contains(&format!("Nästa möte: i dag kl. 10.00 {others}")),
        "{ht}"
    );
    let row = ongoing(&app, &w.ht).await;
    assert_eq!(
        (&row["next_meeting_at"], &row["next_meeting_passed"]),
        (&json!("2026-11-10T09:00:00Z"), &json!(true))
    );
    // Registered: no meeting is next any more.
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({"invitation_id": "inv-1", "held_at": "2026-11-10T09:00:00Z",
                "attendees": [{"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
                "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst",
                "follow_up_on": "2027-02-01"}),
    )
    .await);
    inbox(&app, &w.vc, position(&answer)).await;
    let after = start_lists(&app, &w.vc, "").await;
    assert!(!after.contains("Nästa möte"), "{after}");
}

/// A plan that must be closed (seed 000: consent withdrawn, protected identity, moved out of the
/// county, deceased) shows why in Pågående SIP, and no meeting ahead that nobody will hold.
#[tokio::test]
async fn a_plan_to_be_closed_says_why_in_pagaende_sip() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2026-11-02T08:00:00Z");
    let (sip, _) = invited_plan(&app, &w, "2026-11-10T09:00:00Z").await;
    let (status, _, answer) = app
        .post(
            &format!("/api/v1/persons/{}/register-death", w.person_id),
            &w.vc,
            &json!({"died_on": "2026-11-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    let row = ht.plan(&sip);
    assert_eq!(row["to_be_closed"], "personen har avlidit", "{row}");
    assert_eq!(row["next_meeting_at"], Value::Null, "{row}");
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert_eq!(vc.kinds(), vec!["close_plan"]);
    let page = start_lists(&app, &w.ht, "").await;
    assert!(
        page.contains("Ska avslutas: personen har avlidit"),
        "{page}"
    );
    assert!(!page.contains("Nästa möte"), "{page}");
    assert!(app.assert_rebuild_equals_live("inbox").await > 5);
}

/// Meddelanden filter by person too (DESIGN.md: "filters by type, person, date"): each message
/// links to the unit's messages about its person, and the list then holds only those.
#[tokio::test]
async fn messages_are_filtered_by_person_on_the_start_page() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (first, _) = invited_plan(&app, &w, "2026-03-20T09:00:00Z").await;
    let stina = register_person(&app, &w, "19870101-2398", "Stina Svensson").await;
    let second = prepared_plan_for(&app, &w, &stina).await;
    let answer = ok(command(
        &app,
        &w.vc,
        &second,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-21T09:00:00Z"),
    )
    .await);
    inbox(&app, &w.ht, position(&answer)).await;

    let all = start_lists(&app, &w.ht, "").await;
    assert_eq!(
        section_links(&all, "meddelanden"),
        vec![second.clone(), first.clone()]
    );
    assert!(
        all.contains(&format!("/?person={stina}#meddelanden")),
        "{all}"
    );
    let hers = start_lists(&app, &w.ht, &format!("?person={stina}")).await;
    assert_eq!(section_links(&hers, "meddelanden"), vec![second]);
    assert!(
        hers.contains("Visar meddelanden om Stina Svensson"),
        "{hers}"
    );
    let unknown = start_lists(&app, &w.ht, "?person=inte-ett-id").await;
    assert!(
        unknown.contains("Okänd person; meddelanden om alla visas."),
        "{unknown}"
    );
    assert_eq!(section_links(&unknown, "meddelanden").len(), 2);
}

/// A child's consent needs every guardian registered now, as every command judges it: a guardian
/// registered after the others consented is asked for theirs — the coordinator's to-do says so,
/// the plan says consent is missing, and the kallelse waits — and one removed before consenting
/// is no longer waited for.
#[tokio::test]
async fn a_guardian_registered_after_consent_is_asked_for_theirs() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let child = register_person(&app, &w, "20150312-2382", "Lilla Testsson").await;
    let add_guardian = |id: &'static str, name: &'static str| {
        let (app, w, child) = (&app, &w, &child);
        async move {
            let (status, _, body) = app
                .post(
                    &format!("/api/v1/persons/{child}/add-relative"),
                    &w.vc,
                    &json!({"relative_id": id, "kind": "guardian", "name": name}),
                )
                .await;
            assert!(status.is_success(), "{body}");
            position(&body)
        }
    };
    let by_guardian = |id: &str| {
        let mut c = consent();
        c["given_by"] = json!({"kind": "guardian", "relative_id": id});
        c
    };
    let consent_status = |sip: String| {
        let (app, w) = (&app, &w);
        async move {
            let (status, _, view) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
            assert_eq!(status, StatusCode::OK, "{view}");
            view["consent"]["status"]
                .as_str()
                .expect("status")
                .to_owned()
        }
    };
    add_guardian("mor", "Mor Testsson").await;
    add_guardian("far", "Far Testsson").await;
    let sip = start_plan_for(&app, &w, &child).await;
    ok(command(&app, &w.vc, &sip, "record-consent", &by_guardian("mor")).await);
    ok(command(&app, &w.vc, &sip, "record-consent", &by_guardian("far")).await);
    let answer = ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    let kinds = inbox(&app, &w.vc, position(&answer)).await.kinds();
    assert_eq!(kinds, ["send_invitation"], "both guardians consented");

    // A third guardian is registered (a custody change): their consent is asked for, by the one
    // who is to obtain it, and nothing needing consent can be done without it.
    let at = add_guardian("bonus", "Bonusförälder Testsson").await;
    let kinds = inbox(&app, &w.vc, at).await.kinds();
    assert_eq!(kinds, ["get_consent"]);
    assert_eq!(consent_status(sip.clone()).await, "missing");
    problem(
        command(
            &app,
            &w.vc,
            &sip,
            "send-invitation",
            &kallelse("inv-1", "meeting", "2027-01-20T09:00:00+01:00"),
        )
        .await,
        StatusCode::CONFLICT,
        "child_needs_guardian_consent",
    );

    // Removed again before consenting (registered in error): no longer waited for.
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{child}/remove-relative"),
            &w.vc,
            &json!({"relative_id": "bonus"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let kinds = inbox(&app, &w.vc, position(&body)).await.kinds();
    assert_eq!(kinds, ["send_invitation"]);
    assert_eq!(consent_status(sip.clone()).await, "given");

    // Registered once more, and this time they consent: the to-do ends with their consent.
    let at = add_guardian("bonus", "Bonusförälder Testsson").await;
    assert_eq!(inbox(&app, &w.vc, at).await.kinds(), ["get_consent"]);
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &by_guardian("bonus")).await);
    let kinds = inbox(&app, &w.vc, position(&answer)).await.kinds();
    assert_eq!(kinds, ["send_invitation"]);
    assert_eq!(consent_status(sip.clone()).await, "given");
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2027-01-20T09:00:00+01:00"),
    )
    .await);

    let client = app.store.pool().get().await.expect("client");
    let ended: Vec<Option<String>> = client
        .query(
            "SELECT ended_by FROM inbox.todos WHERE sip_id = $1 AND kind = 'get_consent'
              ORDER BY opened_position",
            &[&sip],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ended,
        [
            Some("ConsentGiven".to_owned()),
            Some("RelativeRemoved".to_owned()),
            Some("ConsentGiven".to_owned()),
        ]
    );
    assert!(app.assert_rebuild_equals_live("inbox").await > 5);
}

/// Every unit at the meeting documents its part within the deadline (002: "Efter mötet ska
/// respektive deltagare dokumentera sin del"), the unit that called it too: handing the
/// coordinator's role to another unit, at the meeting or after it, leaves the first unit's part
/// owed.
#[tokio::test]
async fn a_coordinator_handed_to_another_unit_leaves_the_first_units_part_owed() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let (sip, _) = meeting_held_on_10_november(&app, &mut w).await;
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "change-coordinator",
        &json!({"staff_id": "SE2120000001-HT01", "name": "Hanna Hemtjänst", "unit_id": HT,
                "reason": "Hemtjänsten har mest kontakt med personen."}),
    )
    .await);
    let at = position(&answer);
    // Documentation within 3 days of Tuesday's meeting: through Friday 13 November.
    let due = "2026-11-13T22:59:59Z";
    let vc = inbox(&app, &w.vc, at).await;
    assert_eq!(
        vc.todos(),
        vec![todo("document_contribution", None, due, false)]
    );
    assert_eq!(vc.plan(&sip)["owes_documentation"], true);
    let ht = inbox(&app, &w.ht, at).await;
    assert_eq!(
        ht.kinds(),
        [
            "document_contribution",
            "document_main_goal",
            "hold_follow_up"
        ]
    );
    // The vårdcentral says it has nothing of its own: its part is done.
    let answer = ok(command(&app, &w.vc, &sip, "publish-contribution", &json!({})).await);
    let vc = inbox(&app, &w.vc, position(&answer)).await;
    assert!(vc.todos().is_empty(), "{:?}", vc.todos());
    assert_eq!(vc.plan(&sip)["owes_documentation"], false);
    assert!(app.assert_rebuild_equals_live("inbox").await > 5);
}

/// A message that changes nothing else of the unit's — another unit's contribution published —
/// is pushed live like any other, not left until something else changes for the unit.
#[tokio::test]
async fn a_contribution_published_is_pushed_live_to_the_others() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let (sip, held) = meeting_held_on_10_november(&app, &mut w).await;
    inbox(&app, &w.vc, position(&held)).await;
    let mut vc = SseStream::open(&app, &w.vc, Some(&position(&held).to_string())).await;
    assert_eq!(vc.next().await.event, "ready");

    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht", "heading": "daily_living", "text": "Städat hem.",
                "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    let published = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    let pushed = vc.until("message").await;
    let message = pushed.last().expect("message");
    assert_eq!(message.data["type"], "contribution_published");
    assert_eq!(message.id, Some(position(&published).to_string()));
}

/// Whoever was told of a meeting by letter is told by letter that it is off, also when it is off
/// because the plan ends: consent withdrawn, the coordinator may still call the meeting off (and
/// is asked to write); closing the plan calls off every meeting still ahead, and the letters owed
/// outlive the plan until they are recorded as posted.
#[tokio::test]
async fn a_meeting_ahead_is_called_off_by_letter_when_the_plan_ends() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2026-11-02T08:00:00Z");
    let letters_to_person = |sip: String| {
        let (app, w) = (&app, &w);
        async move {
            listed(app, &w.vc, "send_letter")
                .await
                .into_iter()
                .filter(|t| t["sip_id"] == sip.as_str())
                .map(|t| t["title"].as_str().expect("title").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mut invitation = kallelse("inv-1", "meeting", "2026-11-16T09:00:00Z");
    invitation["recipients"] = json!([{"kind": "unit", "unit_id": HT}, {"kind": "person"}]);

    // Consent withdrawn after the person was sent the kallelse.
    let sip = prepared_plan(&app, &w).await;
    ok(command(&app, &w.vc, &sip, "send-invitation", &invitation).await);
    ok(command(
        &app,
        &w.vc,
        &sip,
        "record-letters-posted",
        &json!({"invitation_id": "inv-1"}),
    )
    .await);
    ok(command(
        &app,
        &w.vc,
        &sip,
        "withdraw-consent",
        &json!({"withdrawn_by": {"kind": "person"}}),
    )
    .await);
    let called_off = ok(command(
        &app,
        &w.vc,
        &sip,
        "cancel-invitation",
        &json!({"invitation_id": "inv-1", "reason": "Samtycket är återkallat."}),
    )
    .await);
    inbox(&app, &w.vc, position(&called_off)).await;
    assert_eq!(
        letters_to_person(sip.clone()).await,
        ["Meddela Tolvan Tolvansson per brev att SIP-mötet är inställt"]
    );
    assert!(inbox(&app, &w.vc, position(&called_off))
        .await
        .kinds()
        .contains(&"close_plan".to_owned()));

    // Another plan closed with its meeting still ahead: the meeting is called off with it.
    let other = prepared_plan(&app, &w).await;
    ok(command(&app, &w.vc, &other, "send-invitation", &invitation).await);
    ok(command(
        &app,
        &w.vc,
        &other,
        "record-letters-posted",
        &json!({"invitation_id": "inv-1"}),
    )
    .await);
    let closed = ok(command(
        &app,
        &w.vc,
        &other,
        "close-plan",
        &json!({"reason": "replaced_by_new_plan", "replaced_by": sip}),
    )
    .await);
    assert_eq!(
        closed["events"],
        json!(["InvitationCancelled", "SipClosed"])
    );
    let ht = inbox(&app, &w.ht, position(&closed)).await;
    assert_eq!(&ht.messages()[..2], ["plan_closed", "invitation_cancelled"]);
    assert_eq!(
        letters_to_person(other.clone()).await,
        ["Meddela Tolvan Tolvansson per brev att SIP-mötet är inställt"]
    );
    // Posted: the to-do ends; nothing else is taken on a closed plan.
    let posted = ok(command(
        &app,
        &w.vc,
        &other,
        "record-letters-posted",
        &json!({"invitation_id": "inv-1"}),
    )
    .await);
    inbox(&app, &w.vc, position(&posted)).await;
    assert!(letters_to_person(other.clone()).await.is_empty());
    problem(
        command(
            &app,
            &w.vc,
            &other,
            "schedule-follow-up",
            &json!({"follow_up_on": "2027-01-10"}),
        )
        .await,
        StatusCode::CONFLICT,
        "plan_closed",
    );
    assert!(app.assert_rebuild_equals_live("inbox").await > 10);
}

/// A unit's part is documented when each sub-goal it is responsible for has an intervention
/// (seed 002: "delmål med kopplade insatser"): a sub-goal published alone keeps the to-do, which
/// now says what is missing, and the intervention published ends it.
#[tokio::test]
async fn a_sub_goal_published_without_its_intervention_is_named_as_what_is_missing() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let (sip, _) = meeting_held_on_10_november(&app, &mut w).await;
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht", "heading": "daily_living", "text": "Städat hem.",
                "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    let published = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    let ht = inbox(&app, &w.ht, position(&published)).await;
    let titles: Vec<&str> = ht.todos["todos"]
        .as_array()
        .expect("todos")
        .iter()
        .map(|t| t["title"].as_str().expect("title"))
        .collect();
    assert_eq!(
        titles,
        ["Ett delmål ni ansvarar för saknar insats: dokumentera och dela ut insatsen (inom 3 dagar)"]
    );
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-intervention",
        &json!({"intervention_id": "in-ht", "sub_goal_id": "sg-ht", "what": "Städning varannan vecka.",
                "responsible": {"kind": "unit", "unit_id": HT}, "performer": "Hemtjänstpersonalen",
                "contact": "Hemtjänst Norr, 010-123 45 67", "from": "2026-11-16"}),
    )
    .await);
    let done = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    let ht = inbox(&app, &w.ht, position(&done)).await;
    assert!(ht.todos().is_empty(), "{:?}", ht.todos());

    // Weeks later hemtjänsten adds a sub-goal, its intervention still to come: the to-do falls
    // due 3 days after that goal was shared, not overdue since November's meeting.
    set_time(&app, &mut w, "2026-12-01T09:00:00Z");
    ok(command(
        &app,
        &w.ht,
        &sip,
        "document-sub-goal",
        &json!({"sub_goal_id": "sg-ht-2", "heading": "daily_living", "text": "Handlar själv.",
                "responsible": {"kind": "unit", "unit_id": HT}}),
    )
    .await);
    let later = ok(command(&app, &w.ht, &sip, "publish-contribution", &json!({})).await);
    let ht = inbox(&app, &w.ht, position(&later)).await;
    assert_eq!(
        ht.todos(),
        vec![todo(
            "document_contribution",
            None,
            "2026-12-04T22:59:59Z",
            false
        )]
    );
}

/// One event of the person's ends up owed on every plan of theirs: moving out of the county asks
/// each plan's coordinator to close it. Each gets a to-do of its own, with an id of its own — a
/// ULID, as every id the API gives.
#[tokio::test]
async fn a_person_moving_out_asks_every_plan_to_be_closed_each_with_its_own_to_do() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let vc_plan = prepared_plan(&app, &w).await;
    let (status, _, started) = app
        .post(
            "/api/v1/sips",
            &w.ht,
            &json!({"person_id": w.person_id, "identified_by": "staff",
                    "reason": "Behöver hemtjänst och stöd i vardagen.",
                    "context": {"kind": "outpatient"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let ht_plan = started["id"].as_str().expect("id").to_owned();
    let (status, _, moved) = app
        .post(
            &format!("/api/v1/persons/{}/register-moved-out", w.person_id),
            &w.vc,
            &json!({"moved_on": "2026-03-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let at = position(&moved);
    let close_todos = |inbox: &Inbox| {
        inbox.todos["todos"]
            .as_array()
            .expect("todos")
            .iter()
            .filter(|t| t["kind"] == "close_plan")
            .map(|t| {
                (
                    t["sip_id"].as_str().expect("sip").to_owned(),
                    t["id"].as_str().expect("id").to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let vc = close_todos(&inbox(&app, &w.vc, at).await);
    let ht = close_todos(&inbox(&app, &w.ht, at).await);
    assert_eq!(vc.iter().map(|t| &t.0).collect::<Vec<_>>(), [&vc_plan]);
    assert_eq!(ht.iter().map(|t| &t.0).collect::<Vec<_>>(), [&ht_plan]);
    assert_ne!(vc[0].1, ht[0].1);
    for (_, id) in vc.iter().chain(&ht) {
        assert!(ulid::Ulid::from_string(id).is_ok(), "{id} is no ULID");
    }
    assert!(app.assert_rebuild_equals_live("inbox").await > 5);
}

/// A plan whose SIP-möte with hemtjänsten (kallelse `inv-1`, sent 2 November) was held on Tuesday
/// 10 November 2026 at 09.00 UTC and recorded at 10.30, the follow-up booked for 1 February: the
/// plan, and the answer to recording the meeting. The clock stands at the recording.
async fn meeting_held_on_10_november(app: &TestApp, w: &mut World) -> (String, Value) {
    set_time(app, w, "2026-11-02T08:00:00Z");
    let (sip, _) = invited_plan(app, w, "2026-11-10T09:00:00Z").await;
    set_time(app, w, "2026-11-10T10:30:00Z");
    let held = ok(command(
        app,
        &w.vc,
        &sip,
        "record-meeting",
        &json!({"invitation_id": "inv-1", "held_at": "2026-11-10T09:00:00Z",
                "attendees": [{"name": "Hanna Hemtjänst", "role": "staff", "unit_id": HT}],
                "chair": "Vera Vårdcentral", "secretary": "Hanna Hemtjänst",
                "follow_up_on": "2027-02-01"}),
    )
    .await);
    (sip, held)
}

/// The unread count over the list is the list's own, and the answer's position is where both
/// stood, also while messages keep arriving: a badge saying "3 olästa" over two unread messages
/// (or a list holding messages the position says were not there yet) was read in two moments.
#[tokio::test]
async fn the_unread_count_and_the_position_are_the_lists_own_while_messages_arrive() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        let mut last = 0;
        for i in 0..25 {
            let sip = prepared_plan(&app, &w).await;
            let sent = ok(command(
                &app,
                &w.vc,
                &sip,
                "send-invitation",
                &kallelse(&format!("inv-{i}"), "meeting", "2026-03-17T10:00:00+01:00"),
            )
            .await);
            last = position(&sent);
        }
        done.store(true, std::sync::atomic::Ordering::Release);
        last
    };
    let reader = async {
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::Acquire) || reads < 20 {
            let (status, headers, body) = app.get("/api/v1/inbox/messages?limit=200", &w.ht).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let at: i64 = headers["x-samplan-position"]
                .to_str()
                .expect("header")
                .parse()
                .expect("position");
            let messages = body["messages"].as_array().expect("messages");
            let unread = messages.iter().filter(|m| m["read"] == false).count() as i64;
            assert_eq!(body["unread_count"], unread, "read {reads}: {body}");
            for m in messages {
                assert!(m["position"].as_i64().expect("position") <= at, "{at}: {m}");
            }
            reads += 1;
        }
        reads
    };
    let (last, reads) = futures::join!(writer, reader);
    assert!(reads >= 20, "{reads}");
    let (_, _, body) = app
        .get(
            &format!("/api/v1/inbox/messages?limit=200&min_position={last}"),
            &w.ht,
        )
        .await;
    assert_eq!(body["unread_count"], 25, "{body}");
}

/// The start page's "N brådskande" over Att göra counts the red clocks listed under it, also
/// while to-dos end: counted in another moment than the list, the badge said 3 over 2.
#[tokio::test]
async fn the_start_pages_urgent_count_is_its_lists_own_while_to_dos_end() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    set_time(&app, &mut w, "2026-11-02T08:00:00Z");
    let mut plans = Vec::new();
    for _ in 0..20 {
        plans.push(start_plan(&app, &w).await);
    }
    // Two weeks on every consent to get is overdue; the person's no ends the plan and its
    // to-do: one red clock fewer each time.
    set_time(&app, &mut w, "2026-11-16T08:00:00Z");
    let urgent_in = |html: &str| {
        let section = &html[html.find("id=\"att-gora\"").expect("Att göra")..];
        let section = &section[..section.find("<section").unwrap_or(section.len())];
        let badge = section.split("urgent-count\">").nth(1).map_or(0, |rest| {
            rest.split(' ')
                .next()
                .expect("a number")
                .parse::<usize>()
                .expect("a count")
        });
        (badge, section.matches("class=\"row urgent\"").count())
    };
    let head = app.store.head_position().await.expect("head");
    let query = format!("?att_gora=enheten&min_position={head}");
    assert_eq!(urgent_in(&start_lists(&app, &w.vc, &query).await), (20, 20));
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        for sip in &plans {
            ok(command(
                &app,
                &w.vc,
                sip,
                "decline-consent",
                &json!({"declined_by": {"kind": "person"}, "note": "Vill inte."}),
            )
            .await);
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    };
    let reader = async {
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            let html = start_lists(&app, &w.vc, "?att_gora=enheten").await;
            let (badge, listed) = urgent_in(&html);
            assert_eq!(
                badge, listed,
                "read {reads}: the badge and the red clocks differ"
            );
            reads += 1;
        }
        reads
    };
    let ((), reads) = futures::join!(writer, reader);
    assert!(reads > 0);
    let head = app.store.head_position().await.expect("head");
    let html = start_lists(
        &app,
        &w.vc,
        &format!("?att_gora=enheten&min_position={head}"),
    )
    .await;
    assert_eq!(urgent_in(&html), (0, 0));
}

/// The stream carries the unit's to-do changes (API.md), also those assigned to a colleague,
/// each saying whose it is: a client showing the unit's list (`scope=unit`) stays current, one
/// showing only its own leaves the others out.
#[tokio::test]
async fn a_colleagues_to_dos_are_pushed_to_the_unit_saying_whose_they_are() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let mut colleague = SseStream::open(&app, &w.vc_colleague, None).await;
    assert_eq!(colleague.next().await.event, "ready");
    // The coordinator's own to-do (the kallelse to send), not the colleague's.
    let sent = ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-17T10:00:00+01:00"),
    )
    .await);
    let mut pushed = Vec::new();
    while !pushed
        .iter()
        .any(|e: &Sse| e.id.as_deref() == Some(position(&sent).to_string().as_str()))
    {
        pushed.push(colleague.next().await);
    }
    // The last word on each to-do pushed: open ones are on the unit's list, as pushed.
    let mut last: std::collections::BTreeMap<String, &Value> = Default::default();
    for event in pushed.iter().filter(|e| e.event == "todo") {
        last.insert(event.data["id"].to_string(), &event.data);
    }
    let (_, _, unit_list) = app
        .get(
            &format!(
                "/api/v1/inbox/todos?scope=unit&min_position={}",
                position(&sent)
            ),
            &w.vc_colleague,
        )
        .await;
    let listed = unit_list["todos"].as_array().expect("todos");
    let open: Vec<&&Value> = last.values().filter(|t| t["ended_at"].is_null()).collect();
    assert_eq!(open.len(), listed.len(), "{open:?} {unit_list}");
    for todo in open {
        let on_list = listed
            .iter()
            .find(|t| t["id"] == todo["id"])
            .expect("listed");
        assert_eq!(on_list["assigned_to"], todo["assigned_to"]);
    }
    // The coordinator's, pushed to the colleague.
    assert!(
        last.values().any(|t| t["assigned_to"] == NURSE),
        "no to-do of the coordinator pushed to the colleague: {last:?}"
    );
}

/// A negative position is a client's mistake, told as such (400 `invalid_parameter`), not read
/// as "no wait" or "from now".
#[tokio::test]
async fn a_negative_position_is_refused_on_every_read() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    for (path, token) in [
        ("/api/v1/inbox/messages?min_position=-1".to_owned(), &w.vc),
        ("/api/v1/inbox/todos?min_position=-1".to_owned(), &w.vc),
        (format!("/api/v1/sips/{sip}?min_position=-1"), &w.vc),
        ("/api/v1/inbox/events?from_position=-5".to_owned(), &w.vc),
        ("/api/v1/audit/events?from_position=-1".to_owned(), &auditor),
        ("/api/v1/audit/events?min_position=-1".to_owned(), &auditor),
    ] {
        let (status, _, body) = app.get(&path, token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], "invalid_parameter", "{path}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("0 eller större"),
            "{body}"
        );
    }
    let (status, _, _) = app
        .get("/api/v1/inbox/messages?min_position=0", &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// "Markera som läst" on the start page takes the reader on to the next message: the form names
/// it, and the answer sends the browser back to the list with that message in the address (the
/// script puts the keyboard there); after the last message, to the list's heading. Each button
/// says which message it marks, also where subjects are alike.
#[tokio::test]
async fn marking_a_message_read_on_the_start_page_goes_on_to_the_next() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    invite_hemtjansten(&app, &w, &sip).await;
    let moved = reschedule_to_18_march(&app, &w, &sip).await;
    inbox(&app, &w.ht, position(&moved)).await;
    let csrf_key = "ab".repeat(32);
    let cookie = format!("samplan_session={}; samplan_csrf={csrf_key}", w.ht);
    let html = start_lists(&app, &w.ht, "").await;
    let rows: Vec<&str> = html.split("data-message=\"").skip(1).collect();
    assert_eq!(rows.len(), 2, "{html}");
    let id_of = |row: &str| row.split('"').next().expect("id").to_owned();
    let (first, second) = (id_of(rows[0]), id_of(rows[1]));
    assert!(
        rows[0].contains(&format!("name=\"nasta\" value=\"{second}\"")),
        "{html}"
    );
    assert!(
        !rows[1].contains("name=\"nasta\""),
        "the last names no next"
    );
    assert!(
        rows[0].contains("Markera som läst<span class=\"visually-hidden\">: ")
            && rows[0].contains("Tolvan Tolvansson"),
        "the button names the message and the person: {html}"
    );
    let page = app
        .client
        .get(app.url("/"))
        .header("cookie", &cookie)
        .header("accept", "text/html")
        .send()
        .await
        .expect("start")
        .text()
        .await
        .expect("html");
    let csrf = gateway::testing::csrf_on_page(&page).expect("form token");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (id, next, place) in [
        (&first, Some(&second), format!("#meddelande-{second}")),
        (&second, None, "#rubrik-meddelanden".to_owned()),
    ] {
        let mut form = format!("_csrf={csrf}");
        if let Some(next) = next {
            form.push_str(&format!("&nasta={next}"));
        }
        let answer = browser
            .post(app.url(&format!("/meddelanden/{id}/las")))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("mark read");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let location = answer.headers()["location"].to_str().expect("location");
        assert!(location.ends_with(&place), "{location}");
    }
    // Something else in the field than an id leads to the heading, not elsewhere.
    let answer = browser
        .post(app.url(&format!("/meddelanden/{first}/las")))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&nasta=%22%3E%3Cscript%3E"))
        .send()
        .await
        .expect("mark read");
    let location = answer.headers()["location"].to_str().expect("location");
    assert!(location.ends_with("#rubrik-meddelanden"), "{location}");

    // Back to the filters the list had ("Olästa" stays "Olästa"), and only to filters: anything
    // else in the field is left out of the address.
    let answer = browser
        .post(app.url(&format!("/meddelanden/{first}/las")))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "_csrf={csrf}&filter=visa%3Dolasta%26evil%3Dhttps%253A%252F%252Fx.example"
        ))
        .send()
        .await
        .expect("mark read");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers()["location"].to_str().expect("location");
    assert!(location.starts_with("/?min_position="), "{location}");
    assert!(
        location.contains("&visa=olasta#rubrik-meddelanden"),
        "{location}"
    );
    assert!(!location.contains("example"), "{location}");
}

/// The person's letter, not yet posted, no longer says hemtjänsten is coming once the consent
/// leaves it out (a review found it did, while the plan's page said it is called no more).
#[tokio::test]
async fn a_letter_names_no_unit_the_consent_has_left_out_among_those_called() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let mut called = kallelse("inv-1", "meeting", "2026-03-17T09:00:00+01:00");
    called["recipients"] = json!([{"kind": "unit", "unit_id": HT}, {"kind": "person"}]);
    ok(command(&app, &w.vc, &sip, "send-invitation", &called).await);
    let letter = format!("/sip/{sip}/kallelse/inv-1/brev/person");
    let (status, html) = app.page(&letter, &w.vc).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Andra som är kallade"), "{html}");
    assert!(html.contains("Hemtjänst Norr"), "{html}");

    let mut renewed = consent();
    renewed["actors"] = json!([VC, PSYK]);
    ok(command(&app, &w.vc, &sip, "record-consent", &renewed).await);
    let (status, html) = app.page(&letter, &w.vc).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(!html.contains("Hemtjänst Norr"), "{html}");
    assert!(!html.contains("Andra som är kallade"), "{html}");
}

/// ADR 0053: a renewed consent that no longer names hemtjänsten stops sharing the plan with it.
/// Hemtjänsten is told so once; the plan leaves its Pågående SIP; reading the plan, through the
/// API or the web page, is refused with why (and logged as refused); what the coordinator shares
/// next reaches it no more. A rebuild gives the same tables.
#[tokio::test]
async fn a_unit_the_renewed_consent_leaves_out_no_longer_reads_the_plan() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = invited_plan(&app, &w, "2026-03-17T09:00:00+01:00").await.0;
    let answer = ok(command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1",
                "representative": {"name": "Hanna Hemtjänst", "profession": "undersköterska"}}),
    )
    .await);
    let listed = inbox(&app, &w.ht, position(&answer)).await;
    assert_ne!(listed.plan(&sip), Value::Null, "hemtjänsten lists the plan");
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.ht).await;
    assert_eq!(status, StatusCode::OK);

    let mut renewed = consent();
    renewed["actors"] = json!([VC, PSYK]);
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &renewed).await);
    let left_out = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(left_out.plan(&sip), Value::Null, "{}", left_out.sips);
    assert_eq!(left_out.messages()[0], "left_out_by_consent");
    assert_eq!(
        left_out.messages["messages"][0]["subject"],
        "Samtycket omfattar inte längre er enhet"
    );
    assert!(left_out.todos().is_empty(), "{:?}", left_out.todos());

    // The plan is not read, but the unit is told why, and whom to ask: it knows the plan exists.
    let (status, _, body) = app.get(&format!("/api/v1/sips/{sip}"), &w.ht).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("actor_not_covered_by_consent")),
        "{body}"
    );
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("kontakta den samordningsansvariga")
            && detail.contains("Vårdcentralen Centrum"),
        "{detail}"
    );
    // Nor written, answered as the read is, and told whom to ask (a support review found the
    // refusal asking the unit for a consent it may not record).
    let (status, body) = command(
        &app,
        &w.ht,
        &sip,
        "respond-to-invitation",
        &json!({"invitation_id": "inv-1",
                "representative": {"name": "Hugo Hemtjänst", "profession": "undersköterska"}}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("actor_not_covered_by_consent")),
        "{body}"
    );
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("kontakta den samordningsansvariga")
            && detail.contains("Vårdcentralen Centrum"),
        "{detail}"
    );
    let (status, html) = app.page(&format!("/sip/{sip}"), &w.ht).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("omfattar inte er enhet"), "{html}");
    assert!(!html.contains("Tolvan"), "no personal data: {html}");
    // The refused attempt is logged beside the answer, so it may land a moment after it.
    let client = app.store.pool().get().await.expect("connection");
    let mut refused: i64 = 0;
    for _ in 0..50 {
        refused = client
            .query_one(
                "SELECT count(*) FROM access_log WHERE action = 'sip.refused' AND unit = $1",
                &[&HT],
            )
            .await
            .expect("access log")
            .get(0);
        if refused == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(refused, 2, "both refused reads are logged");
    // The coordinator and psykiatrin still read it, and see hemtjänsten no more among those
    // taking part.
    let (status, _, view) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["participants"], json!([VC]), "{view}");
    // The coordinator's page says whom the consent no longer covers, and that the kallelse no
    // longer calls them (a review found the coordinator waiting for their answer).
    let (_, page) = app.page(&format!("/sip/{sip}"), &w.vc).await;
    assert!(
        page.contains("Samtycket omfattar inte längre Hemtjänst Norr: enheten kallas inte"),
        "{page}"
    );
    assert!(
        page.contains("Hemtjänst Norr (utanför samtycket, kallas inte längre)"),
        "{page}"
    );
    // Nor is its representative listed as coming (a review read both at once).
    assert!(!page.contains("Representant: Hanna Hemtjänst"), "{page}");
    assert!(
        page.contains("Samtycket omfattar ingen som är kallad längre"),
        "{page}"
    );
    // Nor does it change what is known about the person (an outside review had it change a
    // child's phone number): it has no care relation through a plan it is left out of.
    let contact = format!("/api/v1/persons/{}/change-contact-details", w.person_id);
    let (status, _, body) = app
        .post(&contact, &w.ht, &json!({"phone": "070-999 99 99"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("no_care_relation")),
        "{body}"
    );
    let (_, person_page) = app
        .page(&format!("/patienter/{}", w.person_id), &w.ht)
        .await;
    assert!(
        person_page.contains("id=\"ingen-vardrelation\""),
        "{person_page}"
    );

    // What happens next reaches hemtjänsten no more.
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "reschedule-meeting",
        &json!({"invitation_id": "inv-1", "scheduled_at": "2026-03-18T09:00:00+01:00",
                "form": "in_person", "place": "Vårdcentralen Centrum, rum 3"}),
    )
    .await);
    let after = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(after.messages(), left_out.messages());

    // Named again, the plan is shared with it again, and it is told so with the meeting's
    // time as it stands now.
    let answer = ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    let back = inbox(&app, &w.ht, position(&answer)).await;
    assert_ne!(back.plan(&sip), Value::Null, "{}", back.sips);
    assert_eq!(back.messages()[0], "included_by_consent");
    let told = back.messages["messages"][0]["body"].as_str().expect("body");
    assert!(told.contains("18 mars 2026"), "{told}");
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.ht).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = app
        .post(&contact, &w.ht, &json!({"phone": "070-999 99 99"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    rebuilt_tables_equal_the_live_ones(&app).await;
}

/// A plan started at discharge shows its track and its days in each unit's Pågående SIP, and a
/// red-track meeting booked after the day home is marked there and in the message every unit
/// gets: the municipality plans the homecoming by them (an outside review found hemtjänsten's
/// list showing such a plan like any other). A rebuild gives the same tables.
#[tokio::test]
async fn pagaende_sip_shows_a_discharge_and_a_red_track_meeting_after_the_day_home() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_discharge_plan(&app, &w, &w.vc, "red").await;
    ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    ok(command(
        &app,
        &w.vc,
        &sip,
        "send-invitation",
        &kallelse("inv-1", "meeting", "2026-03-12T09:00:00+01:00"),
    )
    .await);
    let answer = ok(command(
        &app,
        &w.vc,
        &sip,
        "record-discharge",
        &json!({"discharged_at": "2026-03-11T10:00:00+01:00"}),
    )
    .await);
    let ht = inbox(&app, &w.ht, position(&answer)).await;
    assert_eq!(
        ht.plan(&sip)["discharge"],
        json!({"track": "red", "track_text": "Rött spår – SIP-mötet före hemgång",
               "ready_at": "2026-03-10T07:00:00Z", "discharged_at": "2026-03-11T09:00:00Z"})
    );
    assert_eq!(ht.messages()[0], "discharge_recorded");
    let body = ht.messages["messages"][0]["body"].as_str().expect("body");
    assert!(
        body.contains(
            "SIP-mötet är bokat till torsdag 12 mars 2026 kl. 09.00, efter utskrivningen"
        ),
        "{body}"
    );
    let (status, page) = app.page("/", &w.ht).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(
            "Utskrivning från slutenvården, rött spår – SIP-mötet före hemgång: \
             utskrivningsklar"
        ),
        "{page}"
    );
    assert!(
        page.contains("SIP-mötet är bokat efter hemgången"),
        "{page}"
    );
    // A plan started in outpatient care says nothing of it.
    let other = invited_plan(&app, &w, "2026-03-17T09:00:00+01:00").await;
    let ht = inbox(&app, &w.ht, position(&other.1)).await;
    assert_eq!(ht.plan(&other.0).get("discharge"), None);
    rebuilt_tables_equal_the_live_ones(&app).await;
}

/// "Mina" says what lies with colleagues, so a coordinator's overdue work is not out of sight
/// while she is away (an outside review saw "Inget att göra just nu" beside two urgent to-dos).
#[tokio::test]
async fn mina_says_what_lies_with_colleagues() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let at = app.store.head_position().await.expect("head");
    // The nurse coordinates: the kallelse is hers to send.
    let vc = inbox(&app, &w.vc, at).await;
    assert_eq!(vc.kinds(), vec!["send_invitation"], "{sip}");
    let (_, page) = app
        .page(&format!("/?min_position={at}"), &w.vc_colleague)
        .await;
    assert!(page.contains("Inget att göra för dig just nu."), "{page}");
    assert!(
        page.contains("1 att göra ligger hos kollegor på enheten"),
        "{page}"
    );
    assert!(page.contains("Visa hela enheten</a>"), "{page}");
    let (_, page) = app.page(&format!("/?min_position={at}"), &w.vc).await;
    assert!(!page.contains("ligger hos kollegor"), "{page}");
}
