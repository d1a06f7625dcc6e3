//! The auditors' API: a plan as it stood before and after a change, its history in Swedish,
//! raw events with their hash links, tampering found by the API and by `samplan audit verify`,
//! the access-log extract in JSON and CSV, and the systematic review of reads without a care
//! relation and of unusual read volumes.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sips_support::*;

fn auditor(app: &TestApp) -> String {
    app.token("auditor", "revisor-1", None, "Rut Revisor")
}

async fn wait_for_projections(app: &TestApp) {
    let head = app.store.head_position().await.expect("head");
    for name in projections::PROJECTIONS {
        let at = projections::runner::wait_for(app.store.pool(), name, head, 10_000)
            .await
            .expect("checkpoint");
        assert_eq!(at, head, "{name} caught up");
    }
}

#[tokio::test]
async fn a_plan_as_it_stood_before_and_after_a_change_with_its_history_in_swedish() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    let audit = auditor(&app);

    let (status, _, page) = app
        .get(&format!("/api/v1/audit/events?stream=sip-{sip}"), &audit)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 3);
    assert!(events[0]["previous_hash"].is_null());
    for pair in events.windows(2) {
        assert_eq!(
            pair[1]["previous_hash"], pair[0]["hash"],
            "each link names its predecessor"
        );
    }
    let consent_at = events[1]["recorded_at"].as_str().expect("time");

    let (status, _, before) = app
        .get(
            &format!("/api/v1/audit/sips/{sip}?as_of={}", urlencode(consent_at)),
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["version"], 2);
    assert_eq!(before["phase"], "awaiting_plan_basis");
    assert!(before["plan"]["coordinator"].is_null());
    let (_, _, now) = app.get(&format!("/api/v1/audit/sips/{sip}"), &audit).await;
    assert_eq!(now["version"], 3);
    assert_eq!(now["phase"], "preparing");
    assert_eq!(now["plan"]["coordinator"]["unit_id"], VC);
    let history = now["history"].as_array().expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["event_type"], "PlanBasisCreated");
    assert_eq!(history[2]["unit"], VC);
    assert_eq!(history[2]["role"], "staff");
    assert!(
        history[2]["what"]
            .as_str()
            .expect("what")
            .starts_with("SIP-underlag skapat"),
        "{}",
        history[2]
    );
    assert!(history[1]["what"]
        .as_str()
        .expect("what")
        .starts_with("Samtycke givet av den enskilde"));
    // An auditor replays the history: `as_of` set to an entry's `stored_at` shows the plan
    // with that entry and without the next.
    assert_eq!(history[1]["stored_at"], events[1]["recorded_at"]);
    let stored_at = history[1]["stored_at"].as_str().expect("stored_at");
    let (_, _, replayed) = app
        .get(
            &format!("/api/v1/audit/sips/{sip}?as_of={}", urlencode(stored_at)),
            &audit,
        )
        .await;
    assert_eq!(replayed["version"], 2, "{replayed}");
    assert_eq!(replayed["history"].as_array().map(Vec::len), Some(2));

    // Before the plan existed there is nothing to show.
    let (status, _, _) = app
        .get(
            &format!("/api/v1/audit/sips/{sip}?as_of=2000-01-01T00:00:00Z"),
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Paging: one event a page, each page says where the next starts.
    let (_, _, first) = app.get("/api/v1/audit/events?limit=1", &audit).await;
    let next = first["next_from_position"].as_i64().expect("next");
    let (_, _, second) = app
        .get(
            &format!("/api/v1/audit/events?limit=1&from_position={next}"),
            &audit,
        )
        .await;
    assert_eq!(second["events"][0]["global_position"], next);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn tampering_behind_the_databases_back_is_found_by_the_api_and_the_command_line() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let audit = auditor(&app);
    let (status, _, clean) = app.post("/api/v1/audit/verify", &audit, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{clean}");
    assert_eq!(clean["intact"], true);

    // Someone with the owner's rights switches the guard off and edits a stored event.
    let client = owner(&app).await;
    client
        .batch_execute(&format!(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             UPDATE events SET payload = jsonb_set(payload, '{{valid_until}}', '\"2099-12-31\"')
              WHERE stream_id = 'sip-{sip}' AND stream_version = 2;
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;"
        ))
        .await
        .expect("tampering");

    let (status, _, found) = app.post("/api/v1/audit/verify", &audit, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["intact"], false);
    let broken = found["broken"].as_array().expect("broken");
    assert_eq!(broken.len(), 1, "{found}");
    assert_eq!(broken[0]["stream_id"], format!("sip-{sip}"));
    assert_eq!(broken[0]["stream_version"], 2);
    assert_eq!(broken[0]["reason"], "hash_mismatch");

    let out = audit_verify_cli(&app, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("BROKEN: sip-{sip} version 2")),
        "{stdout}"
    );
}

/// A plan's newest event removed leaves its stream's chain whole: the seal the auditor's last
/// check made shows it (ADR 0040), through the API and the command line, and names its digest
/// for the auditor to keep outside the database.
#[tokio::test]
async fn an_event_removed_after_a_check_is_found_by_the_next_one() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let audit = auditor(&app);
    let (status, _, clean) = app.post("/api/v1/audit/verify", &audit, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{clean}");
    assert_eq!(clean["intact"], true, "{clean}");
    let seal = clean["sealed"].clone();
    assert_eq!(seal["seal_no"], 1, "{clean}");
    assert_eq!(
        seal["events"], clean["events_checked"],
        "every event sealed"
    );
    assert_eq!(clean["latest_seal"], seal);
    let digest = seal["digest"].as_str().expect("digest");
    let out = audit_verify_cli(&app, Some(&format!("1:{digest}")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("seal 1 is as kept: {digest}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "the latest seal is 1 up to position {}: seal 1:{digest}",
            seal["up_to_position"]
        )),
        "{stdout}"
    );
    // The daily check of the runbook: the journal's last line is the seal alone, and the check
    // takes it as written — "seal N:DIGEST", the whole line it stands in, or nothing on the
    // first day.
    assert_eq!(
        stdout.lines().last(),
        Some(format!("seal 1:{digest}").as_str()),
        "{stdout}"
    );
    for kept in [
        format!("seal 1:{digest}"),
        format!("nothing new to seal; the latest seal is 1 up to position 9: seal 1:{digest}"),
    ] {
        let out = audit_verify_cli(&app, Some(&kept));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{kept}: {stdout}");
        assert!(
            stdout.contains(&format!("seal 1 is as kept: {digest}")),
            "{stdout}"
        );
    }
    let out = audit_verify_cli(&app, Some(""));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("the first check"), "{stdout}");
    // The seal kept outside, given to the API: as kept; a digest that is not one is refused.
    let (status, _, held) = app
        .post(
            "/api/v1/audit/verify",
            &audit,
            &json!({"expect": {"seal_no": 1, "digest": digest}}),
        )
        .await;
    assert_eq!(
        (status, &held["intact"]),
        (StatusCode::OK, &json!(true)),
        "{held}"
    );
    let (status, _, refused) = app
        .post(
            "/api/v1/audit/verify",
            &audit,
            &json!({"expect": {"seal_no": 1, "digest": "abc"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "invalid_seal");

    let client = owner(&app).await;
    client
        .batch_execute(&format!(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             DELETE FROM events WHERE stream_id = 'sip-{sip}'
                AND stream_version = (SELECT max(stream_version) FROM events
                                       WHERE stream_id = 'sip-{sip}');
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;"
        ))
        .await
        .expect("tampering");

    let (status, _, found) = app.post("/api/v1/audit/verify", &audit, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["intact"], false, "{found}");
    assert_eq!(
        found["broken"],
        json!([]),
        "the plan's chain is whole without its head"
    );
    let broken = &found["broken_seals"][0];
    assert_eq!(broken["seal"], seal, "{found}");
    assert_eq!(
        broken["events_now"],
        seal["events"].as_i64().expect("n") - 1
    );
    assert!(broken["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("tagits bort")));
    assert_eq!(
        found["sealed"],
        Value::Null,
        "nothing sealed over a broken log"
    );
    assert_eq!(broken["reason"], "changed");
    let out = audit_verify_cli(&app, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("BROKEN SEAL 1: positions 1..=")
            && stdout.contains("an event was removed or slipped in since"),
        "{stdout}"
    );
    assert!(!stdout.contains("  "), "no runs of spaces: {stdout}");
}

#[tokio::test]
async fn the_extract_lists_who_read_the_person_from_which_unit_and_care_provider() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    wait_for_projections(&app).await;
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app
        .get(&format!("/api/v1/persons/{}", w.person_id), &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK);
    let audit = auditor(&app);
    let (status, _, _) = app.get(&format!("/api/v1/audit/sips/{sip}"), &audit).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, extract) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={}", w.person_id),
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{extract}");
    let entries = extract["entries"].as_array().expect("entries");
    let staff_reads: Vec<&Value> = entries.iter().filter(|e| e["role"] == "staff").collect();
    assert!(staff_reads.iter().any(|e| e["action"] == "sip.read"));
    let read = staff_reads
        .iter()
        .find(|e| e["action"] == "person.read")
        .expect("the person read");
    assert_eq!(read["actor"], "SE2321000016-VC01");
    assert_eq!(read["actor_name"], "Testperson Personal");
    assert_eq!(read["unit"], VC);
    assert_eq!(read["unit_name"], "Vårdcentralen Centrum");
    assert_eq!(read["care_provider"], "Region Testlän");
    assert_eq!(read["role_text"], "personal");
    assert_eq!(read["action_text"], "personuppgifter lästes");
    let read_at: chrono::DateTime<chrono::Utc> =
        read["at"].as_str().expect("at").parse().expect("time");
    let audited = entries
        .iter()
        .find(|e| e["role"] == "auditor")
        .expect("the auditor's read is logged too");
    assert_eq!(audited["actor_name"], "Rut Revisor");

    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/audit/access-log?person_id={}&format=csv",
            w.person_id
        )))
        .bearer_auth(&audit)
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/csv"));
    let csv = response.text().await.expect("body");
    let lines: Vec<&str> = csv.lines().collect();
    // Readable by the person it is about: Swedish time, the unit by name, role and action in
    // words; the codes after them.
    // UTF-8's byte order mark first, so that a spreadsheet opening the saved file reads å, ä, ö.
    assert_eq!(
        lines[0],
        "\u{feff}tid (svensk tid);användare;namn;roll;enhet;vårdgivare;vad som lästes;enhetens id;\
         åtgärdskod;plan"
    );
    let swedish = domain::time::to_local(read_at)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "{swedish};SE2321000016-VC01;Testperson Personal;personal;Vårdcentralen Centrum;\
             Region Testlän;personuppgifter lästes;vc-centrum;person.read;"
        ))),
        "{csv}"
    );

    // An id of nobody is not an extract with nobody in it; no id at all is a request to mend.
    let nobody = domain::ids::PersonId::from_ulid(ulid::Ulid::generate());
    let (status, _, body) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={nobody}"),
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, body) = app.get("/api/v1/audit/access-log?person_id=", &audit).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_parameter")),
        "{body}"
    );
}

#[tokio::test]
async fn the_review_finds_reads_without_a_care_relation_and_users_who_read_far_more() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    // Persons for a heavy reader: one user of another unit reads many.
    let others = register_persons(&app, &w, 25).await;
    wait_for_projections(&app).await;
    // The coordinating unit reads its own plan's person: a care relation.
    app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    app.get(&format!("/api/v1/persons/{}", w.person_id), &w.vc)
        .await;
    // A unit with no plan of the person reads the person.
    let (status, _, _) = app
        .get(&format!("/api/v1/persons/{}", w.person_id), &w.other)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Ordinary users read a person or two; one reads all 25.
    for token in [&w.ht, &w.psyk] {
        app.get(&format!("/api/v1/persons/{}", others[0]), token)
            .await;
    }
    let curious = app.staff_token("SE2321000016-AN09", OTHER);
    for id in &others {
        app.get(&format!("/api/v1/persons/{id}"), &curious).await;
    }

    let (status, _, review) = app
        .get(
            "/api/v1/audit/access-review?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z",
            &auditor(&app),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    let unrelated = review["without_relation"].as_array().expect("list");
    let of_person: Vec<&Value> = unrelated
        .iter()
        .filter(|r| r["person_id"] == w.person_id.as_str())
        .collect();
    assert_eq!(of_person.len(), 1, "{review}");
    assert_eq!(of_person[0]["unit"], OTHER);
    assert_eq!(of_person[0]["actor"], "SE2321000016-AN01");
    assert_eq!(of_person[0]["actions"], json!(["person.read"]));
    assert!(
        !unrelated
            .iter()
            .any(|r| r["unit"] == VC && r["person_id"] == w.person_id.as_str()),
        "the coordinating unit's reads have a care relation"
    );
    let heavy = review["heavy_readers"].as_array().expect("heavy");
    assert_eq!(heavy.len(), 1, "{review}");
    assert_eq!(heavy[0]["actor"], "SE2321000016-AN09");
    assert_eq!(heavy[0]["persons"], 25);

    // The same period in days (API.md's dates), read on the Swedish clock: all of 31 March.
    let (status, _, by_days) = app
        .get(
            "/api/v1/audit/access-review?from=2026-03-01&to=2026-03-31",
            &auditor(&app),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_days}");
    assert_eq!(by_days["without_relation"], review["without_relation"]);
    assert_eq!(by_days["heavy_readers"], review["heavy_readers"]);
    assert_eq!(by_days["from"], "2026-02-28T23:00:00Z", "{by_days}");
    assert_eq!(by_days["to"], "2026-03-31T22:00:00Z", "{by_days}");
    // Reads are on 10 March: a period of the 11th on has none of them.
    let (status, _, later) = app
        .get(
            "/api/v1/audit/access-review?from=2026-03-11&to=2026-03-31",
            &auditor(&app),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{later}");
    assert_eq!(later["without_relation"], json!([]), "{later}");
    // Listing who was read is a read of them: the person's extract has the auditor's reviews
    // (the two that listed them), as the page's review is there.
    let client = app.store.pool().get().await.expect("connection");
    let reviews: i64 = client
        .query_one(
            "SELECT count(*) FROM access_log WHERE role = 'auditor' AND action = 'audit.review' \
               AND (person_id = $1 OR person_ids @> ARRAY[$1::text])",
            &[&w.person_id],
        )
        .await
        .expect("access log")
        .get(0);
    assert_eq!(reviews, 2);
    let (status, _, bad) = app
        .get(
            "/api/v1/audit/access-review?from=2026-03-32&to=2026-04-01",
            &auditor(&app),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["code"], "invalid_parameter");
    assert!(
        bad["detail"].as_str().is_some_and(|d| d.contains("`from`")),
        "{bad}"
    );
}

/// Registers `n` persons named "Person 0", "Person 1", … through the API; their ids.
async fn register_persons(app: &TestApp, w: &World, n: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..n {
        let ten = format!("600101{:03}", 200 + n);
        let sum: u32 = ten
            .chars()
            .filter_map(|c| c.to_digit(10))
            .enumerate()
            .map(|(i, d)| {
                let p = if i % 2 == 0 { d * 2 } else { d };
                p / 10 + p % 10
            })
            .sum();
        let pin = format!("19{}-{:03}{}", &ten[..6], 200 + n, (10 - sum % 10) % 10);
        let (status, _, body) = app
            .post(
                "/api/v1/persons",
                &w.vc,
                &json!({"personal_identity_number": pin, "name": format!("Person {n}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test]
async fn a_read_that_shows_many_persons_is_one_row_found_by_each_persons_extract_and_the_review() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let persons = register_persons(&app, &w, 12).await;
    wait_for_projections(&app).await;
    let searcher = app.staff_token("SE2321000016-AN07", OTHER);
    let (status, _, found) = app.get("/api/v1/persons?q=Person", &searcher).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let shown: Vec<String> = found
        .as_array()
        .or_else(|| found["persons"].as_array())
        .expect("a list")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    let mut expected = persons.clone();
    expected.sort();
    let mut sorted = shown.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "the search shows the twelve");
    // One person read alone: `person_id`, as always.
    let (status, _, _) = app
        .get(&format!("/api/v1/persons/{}", persons[3]), &searcher)
        .await;
    assert_eq!(status, StatusCode::OK);

    let client = app.store.pool().get().await.expect("client");
    let rows = client
        .query(
            "SELECT action, person_id, person_ids FROM access_log
              WHERE actor = 'SE2321000016-AN07' ORDER BY id",
            &[],
        )
        .await
        .expect("log");
    assert_eq!(rows.len(), 2, "one row per read");
    assert_eq!(rows[0].get::<_, String>(0), "person.search");
    assert_eq!(rows[0].get::<_, Option<String>>(1), None);
    assert_eq!(
        rows[0].get::<_, Option<Vec<String>>>(2),
        Some(shown.clone())
    );
    assert_eq!(rows[1].get::<_, String>(0), "person.read");
    assert_eq!(
        rows[1].get::<_, Option<String>>(1),
        Some(persons[3].clone())
    );
    assert_eq!(rows[1].get::<_, Option<Vec<String>>>(2), None);

    // Every person the search showed finds it in their own extract, under their own id.
    let audit = auditor(&app);
    for (i, person) in persons.iter().enumerate() {
        let (status, _, extract) = app
            .get(
                &format!("/api/v1/audit/access-log?person_id={person}"),
                &audit,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{extract}");
        let mine: Vec<(&str, &str)> = extract["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["actor"] == "SE2321000016-AN07")
            .map(|e| {
                assert_eq!(e["person_id"], person.as_str(), "{e}");
                (
                    e["action"].as_str().expect("action"),
                    e["action_text"].as_str().expect("text"),
                )
            })
            .collect();
        let mut want = vec![("person.search", "visades i en sökning (Sök patient)")];
        if i == 3 {
            want.push(("person.read", "personuppgifter lästes"));
        }
        assert_eq!(mine, want, "person {i}");
    }
    // A person the search did not show finds nothing of it.
    let (_, _, extract) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={}", w.person_id),
            &audit,
        )
        .await;
    assert!(!extract["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .any(|e| e["actor"] == "SE2321000016-AN07"));

    // The review counts every person the search showed, as it did when each had a row.
    let (status, _, review) = app
        .get(
            "/api/v1/audit/access-review?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z",
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    let unrelated: Vec<&Value> = review["without_relation"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["actor"] == "SE2321000016-AN07")
        .collect();
    assert_eq!(unrelated.len(), 12, "{review}");
    for r in &unrelated {
        let reads = if r["person_id"] == persons[3].as_str() {
            2
        } else {
            1
        };
        assert_eq!(r["reads"], reads, "{r}");
    }
}

#[tokio::test]
async fn the_access_log_keeps_every_month_and_refuses_changes_even_to_its_owner() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    wait_for_projections(&app).await;
    // A read more than a year on: its month's partition is made on the spot.
    set_time(&app, &mut w, "2027-06-15T08:00:00Z");
    let (status, _, _) = app
        .get(&format!("/api/v1/persons/{}", w.person_id), &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK);
    let person = domain::ids::PersonId::parse(&w.person_id).expect("id");
    let log = gateway::access_log::for_person(&app.state, &person)
        .await
        .expect("log");
    assert!(log
        .iter()
        .any(|e| e.at.to_rfc3339().starts_with("2027-06-15")));

    let client = owner(&app).await;
    for refused in [
        "DELETE FROM access_log",
        "UPDATE access_log SET actor = 'someone else'",
        "TRUNCATE access_log",
        "TRUNCATE access_log_2027_06",
        "DELETE FROM access_log_2027_06",
    ] {
        assert!(
            client.batch_execute(refused).await.is_err(),
            "{refused} was allowed"
        );
    }
    let months: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'access_log'::regclass",
            &[],
        )
        .await
        .expect("partitions")
        .get(0);
    assert!(months >= 4, "monthly partitions: {months}");
}

#[tokio::test]
async fn rows_logged_before_the_partitioned_table_are_kept_by_its_migration() {
    let db = eventstore::testing::TestDatabase::create()
        .await
        .expect("database");
    let migrations = gateway::app::MIGRATIONS;
    eventstore::migrate(&db.admin_url, "gateway", &migrations[..2])
        .await
        .expect("the first two migrations");
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    client
        .batch_execute(
            "INSERT INTO access_log (at, actor, unit, role, person_id, action)
             VALUES ('2025-11-03T10:00:00Z', 'SE1', 'vc', 'staff', '01JQ2V3W4X5Y6Z7A8B9C0D1E2F',
                     'person.read'),
                    ('2026-02-20T10:00:00Z', 'SE2', 'ht', 'staff', '01JQ2V3W4X5Y6Z7A8B9C0D1E2F',
                     'sip.read')",
        )
        .await
        .expect("old rows");
    eventstore::migrate(&db.admin_url, "gateway", migrations)
        .await
        .expect("migration 3");
    let rows = client
        .query(
            "SELECT id, actor, action, tableoid::regclass::text FROM access_log ORDER BY at",
            &[],
        )
        .await
        .expect("rows");
    let kept: Vec<(i64, String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        kept,
        vec![
            (
                1,
                "SE1".into(),
                "person.read".into(),
                "access_log_2025_11".into()
            ),
            (
                2,
                "SE2".into(),
                "sip.read".into(),
                "access_log_2026_02".into()
            ),
        ]
    );
    // New rows continue the numbering.
    let next: i64 = client
        .query_one(
            "INSERT INTO access_log (at, actor, role, person_id, action)
             VALUES ('2026-02-21T10:00:00Z', 'SE3', 'staff', '01JQ2V3W4X5Y6Z7A8B9C0D1E2F',
                     'person.read') RETURNING id",
            &[],
        )
        .await
        .expect("insert")
        .get(0);
    assert_eq!(next, 3);
}

#[tokio::test]
async fn migration_4_keeps_old_rows_and_the_database_holds_a_read_to_one_form() {
    let db = eventstore::testing::TestDatabase::create()
        .await
        .expect("database");
    let migrations = gateway::app::MIGRATIONS;
    eventstore::migrate(&db.admin_url, "gateway", &migrations[..3])
        .await
        .expect("the first three migrations");
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    const ANNA: &str = "01JQ2V3W4X5Y6Z7A8B9C0D1E2F";
    const BO: &str = "01JQ2V3W4X5Y6Z7A8B9C0D1E2G";
    client
        .batch_execute(&format!(
            "SELECT samplan_access_log_partitions('2026-02-01', 0);
             INSERT INTO access_log (at, actor, unit, role, person_id, action)
             VALUES ('2026-02-20T10:00:00Z', 'SE1', 'vc', 'staff', '{ANNA}', 'inbox.read'),
                    ('2026-02-20T10:00:00Z', 'SE1', 'vc', 'staff', '{BO}', 'inbox.read')"
        ))
        .await
        .expect("rows of a list, one per person, as before");
    eventstore::migrate(&db.admin_url, "gateway", migrations)
        .await
        .expect("migration 4");
    client
        .batch_execute(&format!(
            "SELECT samplan_access_log_partitions('2026-03-01', 0);
             INSERT INTO access_log (at, actor, unit, role, person_ids, action)
             VALUES ('2026-03-02T10:00:00Z', 'SE2', 'ht', 'staff', ARRAY['{ANNA}', '{BO}'],
                     'inbox.read')"
        ))
        .await
        .expect("a list read after migration 4 is one row");
    // The extract's look-up finds a person in both forms; the GIN index serves a partition made
    // after the migration too.
    let found = client
        .query(
            "SELECT actor FROM access_log
              WHERE person_id = $1 OR person_ids @> ARRAY[$1::text] ORDER BY at, id",
            &[&BO],
        )
        .await
        .expect("extract");
    let actors: Vec<String> = found.iter().map(|r| r.get(0)).collect();
    assert_eq!(actors, vec!["SE1".to_string(), "SE2".to_string()]);
    let indexed: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes
              WHERE tablename = 'access_log_2026_03' AND indexdef LIKE '%gin (person_ids)%'",
            &[],
        )
        .await
        .expect("indexes")
        .get(0);
    assert_eq!(indexed, 1);
    // Exactly one of the two columns, and an array names at least two persons.
    for (what, columns, values) in [
        (
            "both",
            "person_id, person_ids",
            format!("'{ANNA}', ARRAY['{BO}', '{ANNA}']"),
        ),
        ("neither", "action", "'inbox.read'".to_string()),
        ("one in an array", "person_ids", format!("ARRAY['{ANNA}']")),
        (
            "a NULL in an array",
            "person_ids",
            format!("ARRAY['{ANNA}', NULL]"),
        ),
    ] {
        let extra = if columns == "action" { "" } else { ", action" };
        let extra_value = if columns == "action" {
            ""
        } else {
            ", 'inbox.read'"
        };
        let refused = client
            .batch_execute(&format!(
                "INSERT INTO access_log (at, actor, role, {columns}{extra})
                 VALUES ('2026-03-02T11:00:00Z', 'SE3', 'staff', {values}{extra_value})"
            ))
            .await
            .expect_err(what);
        assert_eq!(
            refused.code(),
            Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION),
            "{what}: {refused}"
        );
    }
}

/// `samplan audit verify` on a store without a single event says so and fails: a mistyped
/// SAMPLAN_DATA_DIR (the embedded default then makes a new, empty cluster) or the wrong database
/// must not turn the daily check green.
#[tokio::test]
async fn verifying_a_store_without_events_fails() {
    let app = TestApp::spawn().await;
    assert_eq!(app.store.head_position().await.expect("head"), 0);
    let out = audit_verify_cli(&app, None);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("holds no events"), "{said}");
}

/// A transaction that wrote events and stays open holds the check (its position may still
/// commit): the daily check then says it checked nothing, with its own exit status (3), not the
/// broken log's (1), which the runbook treats as a security incident.
#[tokio::test]
async fn a_check_held_by_an_open_writer_of_events_checked_nothing() {
    let app = TestApp::spawn().await;
    world(&app).await;
    let open = app.leave_an_append_open().await;
    let out = audit_verify_cli(&app, None);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("nothing was checked"), "{said}");
    open.batch_execute("ROLLBACK").await.expect("rollback");
    let out = audit_verify_cli(&app, None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// Settings that waiting does not mend are the settings' exit status (2), not "run the check
/// again later" (3): an operator review had a daily check against a database that does not
/// exist, or with a role that does not, look like the database being away. A server that does
/// not answer stays 3.
#[tokio::test]
async fn a_check_with_wrong_settings_is_a_usage_error_and_a_missing_server_a_later_one() {
    let app = TestApp::spawn().await;
    let with_url = |url: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_samplan"))
            .args(["audit", "verify"])
            .env("SAMPLAN_DATABASE_URL", &url)
            .env("SAMPLAN_DATABASE_ADMIN_URL", &url)
            .env("SAMPLAN_LOG", "warn")
            .output()
            .expect("samplan audit verify")
    };
    let database = app.db.admin_url.rsplit_once('/').expect("a database").0;
    let no_database = with_url(format!("{database}/samplan_no_such_database"));
    assert_eq!(no_database.status.code(), Some(2), "{no_database:?}");
    let said = String::from_utf8_lossy(&no_database.stderr);
    assert!(
        said.contains("3D000") && said.contains("SAMPLAN_DATABASE_URL"),
        "{said}"
    );
    let (scheme, rest) = app.db.admin_url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let out = with_url(format!("{scheme}://samplan_no_such_role@{host}"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let away = with_url(format!("postgres://postgres@127.0.0.1:{port}/samplan"));
    assert_eq!(away.status.code(), Some(3), "{away:?}");

    // A role without the service's grants on a migrated database is told so, not sent to
    // migrate (an operator review). Roles belong to the server: this one is dropped after.
    let role = format!("{}_nogrants", app.db.name);
    let owner = owner(&app).await;
    owner
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .expect("a role");
    let out = with_url(format!("{scheme}://{role}@{host}"));
    owner
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .expect("dropped");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("får inte läsa samplans tabeller"), "{said}");
}

/// A connection as the database's owner (who can switch the guards off), driven on a task.
async fn owner(app: &TestApp) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    client
}

/// `samplan audit verify` run against the test's database, as an operator runs it.
fn audit_verify_cli(app: &TestApp, expect: Option<&str>) -> std::process::Output {
    let mut args = vec!["audit", "verify"];
    if let Some(kept) = expect {
        args.extend(["--expect", kept]);
    }
    std::process::Command::new(env!("CARGO_BIN_EXE_samplan"))
        .args(args)
        .env("SAMPLAN_DATABASE_URL", &app.db.app_url)
        .env("SAMPLAN_DATABASE_ADMIN_URL", &app.db.admin_url)
        .env("SAMPLAN_LOG", "warn")
        .output()
        .expect("samplan audit verify")
}

/// A registration refused because the personnummer is registered tells the caller that the
/// person is in samplan, as a search would: it is in the access log, so that trying numbers
/// leaves a trace (and the review lists it for a unit without a care relation).
#[tokio::test]
async fn a_registration_refused_for_a_registered_number_is_logged() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let other = app.staff_token("SE2321000016-AN01", OTHER);
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &other,
            &json!({"personal_identity_number": "19121212-1212", "name": "Vem Som Helst"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "person_already_registered");
    let (status, _, extract) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={}", w.person_id),
            &auditor(&app),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{extract}");
    let tried = extract["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "person.already_registered")
        .unwrap_or_else(|| panic!("the refused registration is not in the log: {extract}"));
    assert_eq!(tried["actor"], "SE2321000016-AN01");
    assert_eq!(tried["unit"], OTHER);
    assert_eq!(
        tried["action_text"],
        "registrering nekades: personnumret finns redan"
    );

    // The same on the page, which shows the person the number belongs to: one view, one row
    // (an outside review counted a refusal and a search).
    let cookie = format!("samplan_session={other}; samplan_csrf={}", "cd".repeat(32));
    let page = app.browser_get("/patienter", &cookie).await;
    let csrf = gateway::testing::csrf_on_page(&page.body).expect("a form token");
    let answer = app
        .browser_post(
            "/patienter",
            &cookie,
            &[
                ("_csrf", csrf.as_str()),
                ("personal_identity_number", "19121212-1212"),
                ("name", "Vem Som Helst"),
            ],
        )
        .await;
    assert!(
        answer.body.contains("Tolvan"),
        "the person is shown: {}",
        answer.body
    );
    let (_, _, extract) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={}", w.person_id),
            &auditor(&app),
        )
        .await;
    let by_other: Vec<&str> = extract["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["actor"] == "SE2321000016-AN01")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        by_other,
        vec!["person.already_registered", "person.already_registered"],
        "{extract}"
    );
}

/// A moment before a plan was recorded is told as such — from when the plan is there, on the
/// store's clock — rather than as a plan that does not exist; an id of no plan is still the
/// plain 404.
#[tokio::test]
async fn a_moment_before_the_plan_was_recorded_says_from_when_it_is_there() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    let audit = auditor(&app);
    let (status, _, body) = app
        .get(
            &format!("/api/v1/audit/sips/{sip}?as_of=2000-01-01T00:00:00Z"),
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("Planen fanns inte i samplan vid 1 januari 2000 kl. 01.00"),
        "{detail}"
    );
    assert!(detail.contains("registrerades"), "{detail}");
    let nobody = "01JGFJJZ000000000000000000";
    let (status, _, body) = app
        .get(
            &format!("/api/v1/audit/sips/{nobody}?as_of=2000-01-01T00:00:00Z"),
            &audit,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("registrerades"), "{body}");
}

/// An auditor detached a month of the access log (as the runbook's archiving does) and the
/// review of that month answered, empty, without a word: it now names the months whose log is
/// not in the database, between the first and the last held.
#[tokio::test]
async fn the_review_names_a_month_whose_log_is_not_in_the_database() {
    let app = TestApp::spawn().await;
    let (owner, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("owner");
    tokio::spawn(connection);
    let path = "/api/v1/audit/access-review?from=2026-03-01T00:00:00Z&to=2026-06-01T00:00:00Z";
    let (status, _, body) = app.get(path, &auditor(&app)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["missing_months"],
        json!([]),
        "the log is whole: {body}"
    );
    owner
        .batch_execute("ALTER TABLE access_log DETACH PARTITION access_log_2026_04")
        .await
        .expect("detach April");
    let (status, _, body) = app.get(path, &auditor(&app)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["missing_months"], json!(["2026-04"]), "{body}");
}
