//! Persons, units and the inbox over HTTP against a real PostgreSQL: registering, refusing bad or
//! duplicate personnummer with nothing appended, "Sök patient" by number in any form and by name,
//! every read in the access log, and protected identity withholding contact details.

mod persons_support;

use chrono::{DateTime, Utc};
use domain::ids::PersonId;
use gateway::testing::TEST_NOW;
use persons_support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn position(headers: &reqwest::header::HeaderMap) -> i64 {
    headers
        .get("x-samplan-position")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("X-Samplan-Position header")
}

async fn person_events(app: &App) -> usize {
    app.store
        .read_all(0, 10_000)
        .await
        .expect("read all")
        .iter()
        .filter(|e| e.stream_id.starts_with("person-"))
        .count()
}

fn ids(search: &Value) -> Vec<String> {
    search["persons"]
        .as_array()
        .expect("persons")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_registered_person_can_be_read_back_at_the_position_of_the_write() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let written = register_person(&app, &nurse, "121212+1212", "Tolvan Tolvansson").await;
    assert_eq!(written["events"], json!(["PersonRegistered"]));
    assert_eq!(written["version"], 1);
    let id = written["id"].as_str().expect("id");
    PersonId::parse(id).expect("the id is a person id (ULID)");
    let pos = written["position"].as_i64().expect("position");

    let (status, headers, body) = app
        .get(&format!("/api/v1/persons/{id}?min_position={pos}"), &nurse)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        position(&headers) >= pos,
        "the read waited for its own write"
    );
    assert_eq!(
        headers.get("etag").and_then(|v| v.to_str().ok()),
        Some("\"1\"")
    );
    assert_eq!(body["id"], id);
    // The short form (+: 100 years or older) was stored as the canonical number and is shown
    // with its century.
    assert_eq!(body["personal_identity_number"], "19121212-1212");
    assert_eq!(body["name"], "Tolvan Tolvansson");
    assert_eq!(body["address"], "Storgatan 1, 123 45 Testby");
    assert_eq!(body["protected_identity"], false);
    assert_eq!(body["relatives"], json!([]));

    // Unknown and malformed ids are simply not found.
    let unknown = PersonId::from_ulid(ulid::Ulid::generate());
    let (status, _, body) = app.get(&format!("/api/v1/persons/{unknown}"), &nurse).await;
    problem(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _, body) = app.get("/api/v1/persons/not-a-ulid", &nurse).await;
    problem(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_invalid_personnummer_is_refused_with_the_reason_and_nothing_is_appended() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    for (pin, hint) in [
        ("19121212-1213", "Kontrollsiffran"),
        ("19121312-1212", "Månaden"),
        ("191212121", "har 9"),
        ("", "saknas"),
    ] {
        let (status, _, body) = app
            .post(
                "/api/v1/persons",
                &nurse,
                &json!({"personal_identity_number": pin, "name": "Fel Felsson"}),
            )
            .await;
        problem(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_personal_identity_number",
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(hint)),
            "{pin}: the detail says what is wrong: {body}"
        );
    }
    // Unknown fields and missing fields are the client's mistake (400), not a rule (422).
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &nurse,
            &json!({"personal_identity_number": "19121212-1212", "name": "X", "shoe_size": 42}),
        )
        .await;
    problem(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
    assert_eq!(person_events(&app).await, 0, "nothing was appended");
}

#[tokio::test]
async fn the_same_personnummer_cannot_be_registered_twice_but_a_retry_is_answered_again() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let request = json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"});
    let send = |key: &'static str| {
        app.send(
            app.client
                .post(app.url("/api/v1/persons"))
                .bearer_auth(&nurse)
                .header("idempotency-key", key)
                .json(&request),
        )
    };
    let (status, _, first) = send("reg-tolvan-1").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The client did not get the answer and retries with the same key: same answer, no 409.
    let (status, _, again) = send("reg-tolvan-1").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again, first);
    // Another registration of the same number, in another form, by someone else.
    let other = app.staff_token("SE2120000001-HT07", HT);
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &other,
            &json!({"personal_identity_number": "121212+1212", "name": "Tolvan T"}),
        )
        .await;
    problem(
        status,
        &body,
        StatusCode::CONFLICT,
        "person_already_registered",
    );
    assert_eq!(person_events(&app).await, 1);
}

#[tokio::test]
async fn twins_of_one_registration_sent_at_once_all_get_its_answer() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    // A client that timed out and retried with the same key while the first was still running,
    // several times over: every copy is the same registration, so every copy gets its answer.
    for (round, number) in [
        "19450609-2008",
        "19450609-2016",
        "19450609-2024",
        "19450609-2032",
    ]
    .iter()
    .enumerate()
    {
        let key = format!("reg-greta-{round}");
        let body = json!({"personal_identity_number": number, "name": "Greta Gren"});
        let copies = (0..12).map(|_| {
            app.send(
                app.client
                    .post(app.url("/api/v1/persons"))
                    .bearer_auth(&nurse)
                    .header("idempotency-key", &key)
                    .json(&body),
            )
        });
        let answers = futures::future::join_all(copies).await;
        let first = &answers[0].2;
        for (status, _, answer) in &answers {
            assert_eq!(*status, StatusCode::CREATED, "{answers:?}");
            assert_eq!(answer["id"], first["id"], "{answers:?}");
        }
    }
    assert_eq!(person_events(&app).await, 4);
}

#[tokio::test]
async fn racing_registrations_of_one_personnummer_register_it_once() {
    let app = spawn().await;
    units(&app).await;
    let tokens: Vec<String> = (0..6)
        .map(|i| app.staff_token(&format!("SE2321000016-VC2{i}"), VC))
        .collect();
    // Different written forms of the same number, all at once.
    let forms = ["19450315-1237", "194503151237", "450315-1237", "4503151237"];
    let bodies: Vec<Value> = (0..tokens.len())
        .map(|i| json!({"personal_identity_number": forms[i % forms.len()], "name": "Anna Andersson"}))
        .collect();
    let requests = tokens
        .iter()
        .zip(&bodies)
        .map(|(token, body)| app.post("/api/v1/persons", token, body));
    let answers = futures::future::join_all(requests).await;
    let created = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, _, body) in answers.iter().filter(|(s, _, _)| *s != StatusCode::CREATED) {
        problem(
            *status,
            body,
            StatusCode::CONFLICT,
            "person_already_registered",
        );
    }
    assert_eq!(person_events(&app).await, 1);
}

#[tokio::test]
async fn a_registration_that_stopped_after_claiming_the_number_is_completed_by_the_next() {
    let app = spawn().await;
    units(&app).await;
    // A registration claimed the number and stopped (the process died) before the person was
    // registered: the claim is in the register stream, the person stream does not exist.
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).expect("date");
    let pin = domain::personnummer::PersonalIdentityNumber::parse("19121212-1212", today)
        .expect("valid number");
    let stream = app
        .state
        .keys
        .register_stream(app.store.pool(), &pin)
        .await
        .expect("the register stream");
    let stopped = domain::ids::PersonId::from_ulid(ulid::Ulid::generate());
    let claim = domain::registry::RegistryEvent::PersonalIdentityNumberClaimed {
        person_id: stopped,
        claimed_by: "SE2321000016-VC01".into(),
        claimed_at: "2026-03-10T07:00:00Z".parse().expect("time"),
    };
    let (event_type, schema_version, data) = claim.encode();
    app.store
        .append(
            &stream,
            eventstore::ExpectedVersion::NoStream,
            vec![eventstore::NewEvent {
                event_id: ulid::Ulid::generate(),
                event_type: event_type.into(),
                schema_version,
                data,
                metadata: eventstore::Metadata {
                    actor: "SE2321000016-VC01".into(),
                    unit: Some(VC.into()),
                    role: "staff".into(),
                    command_id: None,
                    correlation_id: None,
                    causation_id: None,
                },
            }],
            None,
        )
        .await
        .expect("the claim");
    assert_eq!(person_events(&app).await, 0);

    let body = register_person(&app, &nurse(&app), "121212+1212", "Tolvan Tolvansson").await;
    assert_eq!(
        body["id"],
        stopped.to_string(),
        "registered under the id the number was claimed for"
    );
    assert_eq!(person_events(&app).await, 1);
    let (status, _, again) = app
        .post(
            "/api/v1/persons",
            &nurse(&app),
            &json!({"personal_identity_number": "19121212-1212", "name": "Tolvan"}),
        )
        .await;
    problem(
        status,
        &again,
        StatusCode::CONFLICT,
        "person_already_registered",
    );
}

#[tokio::test]
async fn the_number_names_no_stream_and_an_invalid_registration_claims_nothing() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    // Refused by the domain (no name): nothing is claimed, so a correct registration follows.
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &nurse,
            &json!({"personal_identity_number": "19121212-1212", "name": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(app
        .store
        .read_all(0, 100)
        .await
        .expect("read")
        .iter()
        .all(|e| !e.stream_id.starts_with("pin-")));
    register_person(&app, &nurse, "19121212-1212", "Tolvan Tolvansson").await;
    for event in app.store.read_all(0, 100).await.expect("read") {
        assert!(
            !event.stream_id.contains("121212") && !event.stream_id.contains("1212-1212"),
            "{} names the number",
            event.stream_id
        );
    }
}

#[tokio::test]
async fn search_finds_by_personnummer_in_any_form_and_by_part_of_the_name() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let tolvan = register_person(&app, &nurse, "19121212-1212", "Tolvan Tolvansson").await;
    let tolvan = tolvan["id"].as_str().expect("id").to_owned();
    let anna = register_person(&app, &nurse, "19450315-1237", "Anna Andersson").await;
    let annika = register_person(&app, &nurse, "19720822-4563", "Annika Björk").await;
    let last = annika["position"].as_i64().expect("position");
    let (anna, annika) = (
        anna["id"].as_str().expect("id").to_owned(),
        annika["id"].as_str().expect("id").to_owned(),
    );

    for form in [
        "191212121212",
        "19121212-1212",
        "121212+1212",
        " 19121212 1212 ",
    ] {
        let q = form.replace(' ', "%20").replace('+', "%2B");
        let (status, headers, body) = app
            .get(
                &format!("/api/v1/persons?q={q}&min_position={last}"),
                &nurse,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
        assert!(position(&headers) >= last);
        assert_eq!(ids(&body), vec![tolvan.clone()], "{form}");
        assert_eq!(
            body["persons"][0]["personal_identity_number"],
            "19121212-1212"
        );
        assert_eq!(body["truncated"], false);
    }
    // Without `+` the short form means someone under 100: born 2012, another person.
    let (status, _, body) = app.get("/api/v1/persons?q=121212-1212", &nurse).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), Vec::<String>::new());
    // A child born 2012 with the same last ten digits.
    let child = register_person(&app, &nurse, "20121212-1212", "Tolva Barnsson").await;
    let child_pos = child["position"].as_i64().expect("position");
    let child = child["id"].as_str().expect("id").to_owned();
    // An unencoded `+` arrives as a space, which could also be a typed space for `-`: both
    // readings are listed, each with its full year, never silently only one of them.
    for raw in ["121212+1212", "121212%201212"] {
        let (status, _, body) = app
            .get(
                &format!("/api/v1/persons?q={raw}&min_position={child_pos}"),
                &nurse,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{raw}: {body}");
        let mut found = ids(&body);
        found.sort();
        let mut both = vec![tolvan.clone(), child.clone()];
        both.sort();
        assert_eq!(found, both, "{raw}");
    }
    let (_, _, body) = app.get("/api/v1/persons?q=121212-1212", &nurse).await;
    assert_eq!(ids(&body), vec![child.clone()]);

    let (status, _, body) = app.get("/api/v1/persons?q=ANN", &nurse).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ids(&body),
        vec![anna.clone(), annika.clone()],
        "case-insensitive, by name"
    );
    let (_, _, body) = app.get("/api/v1/persons?q=bj%C3%B6rk", &nurse).await;
    assert_eq!(ids(&body), vec![annika.clone()]);
    let (_, _, body) = app.get("/api/v1/persons?q=Svensson", &nurse).await;
    assert_eq!(ids(&body), Vec::<String>::new());

    // A mistyped number is told, not answered with "no match".
    let (status, _, body) = app.get("/api/v1/persons?q=121212-1213", &nurse).await;
    problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_personal_identity_number",
    );
    let (status, _, body) = app.get("/api/v1/persons?q=A", &nurse).await;
    problem(status, &body, StatusCode::BAD_REQUEST, "query_too_short");
    let (status, _, body) = app.get("/api/v1/persons", &nurse).await;
    problem(status, &body, StatusCode::BAD_REQUEST, "query_missing");
    let (status, _, body) = app.get("/api/v1/persons?q=Anna&sort=name", &nurse).await;
    problem(status, &body, StatusCode::BAD_REQUEST, "unknown_parameter");
}

#[tokio::test]
async fn every_read_is_in_the_access_log_with_who_when_and_which_person() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let anna = register_person(&app, &nurse, "19450315-1237", "Anna Andersson").await;
    let anna = PersonId::parse(anna["id"].as_str().expect("id")).expect("person id");
    let bertil = register_person(&app, &nurse, "19720822-4563", "Bertil Berg").await;
    // Reads name the last write's position, so the directory has both persons when they run.
    let last = bertil["position"].as_i64().expect("position");
    let bertil = PersonId::parse(bertil["id"].as_str().expect("id")).expect("person id");

    // Registering is no read: nothing logged yet.
    assert!(gateway::access_log::for_person(&app.state, &anna)
        .await
        .expect("log")
        .is_empty());

    let reader = app.staff_token("SE2120000001-HT07", HT);
    let (status, _, body) = app
        .get(
            &format!("/api/v1/persons?q=anna&min_position={last}"),
            &reader,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/persons/{anna}?min_position={last}")))
                .bearer_auth(&reader)
                .header("x-request-id", "req-anna-card"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let log = gateway::access_log::for_person(&app.state, &anna)
        .await
        .expect("log");
    assert_eq!(log.len(), 2, "{log:?}");
    let now: DateTime<Utc> = TEST_NOW.parse().expect("time");
    for entry in &log {
        assert_eq!(entry.actor, "SE2120000001-HT07");
        assert_eq!(entry.unit.as_deref(), Some(HT));
        assert_eq!(entry.role, "staff");
        assert_eq!(entry.person_id, anna.to_string());
        assert_eq!(entry.at, now, "the service's clock");
        assert_eq!(entry.sip_id, None);
    }
    assert_eq!(log[0].action, "person.search");
    assert_eq!(log[1].action, "person.read");
    assert_eq!(log[1].request_id.as_deref(), Some("req-anna-card"));
    // Bertil was not in the answer, so his data was not read.
    assert!(gateway::access_log::for_person(&app.state, &bertil)
        .await
        .expect("log")
        .is_empty());

    // The log is append-only for everybody, the owner included.
    let (client, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect as owner");
    tokio::spawn(connection);
    for sql in [
        "UPDATE access_log SET actor = 'someone-else'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"),
            "{sql}: {err:?}"
        );
    }
    assert_eq!(
        gateway::access_log::for_person(&app.state, &anna)
            .await
            .expect("log")
            .len(),
        2
    );
}

#[tokio::test]
async fn a_read_that_cannot_be_logged_is_not_answered() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let anna = register_person(&app, &nurse, "19450315-1237", "Anna Andersson").await;
    let pos = anna["position"].as_i64().expect("position");
    let anna = anna["id"].as_str().expect("id").to_owned();
    projections::runner::applied(
        app.store.pool(),
        projections::directory::PROJECTION,
        pos,
        5_000,
    )
    .await
    .expect("directory");
    let (client, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect as owner");
    tokio::spawn(connection);
    client
        .batch_execute("REVOKE INSERT ON access_log FROM samplan_app")
        .await
        .expect("revoke");

    let (status, _, body) = app.get(&format!("/api/v1/persons/{anna}"), &nurse).await;
    problem(
        status,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    );
    assert!(
        !body.to_string().contains("Anna"),
        "no personal data in the failure: {body}"
    );
    let (status, _, body) = app.get("/api/v1/persons?q=anna", &nurse).await;
    problem(
        status,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    );
    assert!(!body.to_string().contains("Anna"), "{body}");
}

#[tokio::test]
async fn protected_identity_is_flagged_and_withholds_contact_details() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let written = register_person(&app, &nurse, "19450315-1237", "Anna Andersson").await;
    let id = written["id"].as_str().expect("id").to_owned();
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{id}/add-relative"),
            &nurse,
            &json!({"relative_id": "dottern", "kind": "relative", "name": "Dottern Andersson",
                    "phone": "070-999 88 77", "address": "Lillgatan 2, 123 45 Testby"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, marked) = app
        .post(
            &format!("/api/v1/persons/{id}/mark-protected-identity"),
            &nurse,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    assert_eq!(marked["events"], json!(["ProtectedIdentityMarked"]));
    // Marking again changes nothing and records nothing.
    let (status, _, again) = app
        .post(
            &format!("/api/v1/persons/{id}/mark-protected-identity"),
            &nurse,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["events"], json!([]));
    assert_eq!(again["version"], marked["version"]);

    let pos = marked["position"].as_i64().expect("position");
    let (status, _, body) = app
        .get(&format!("/api/v1/persons/{id}?min_position={pos}"), &nurse)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["protected_identity"], true);
    assert_eq!(body["address"], Value::Null);
    assert_eq!(body["phone"], Value::Null);
    // The nurse's unit takes part in none of the person's plans: neither the name nor any
    // relative, whose name, number or address would lead to the person.
    assert_eq!(body["name_hidden"], true);
    assert_eq!(body["relatives"], json!([]), "{body}");
    assert!(!body.to_string().contains("Dottern"), "{body}");
    let (_, _, found) = app.get("/api/v1/persons?q=19450315-1237", &nurse).await;
    assert_eq!(found["persons"][0]["protected_identity"], true);
    assert!(!found.to_string().contains("Storgatan"), "{found}");
}

#[tokio::test]
async fn person_commands_change_the_person_and_unknown_ones_are_not_found() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let written = register_person(&app, &nurse, "20100101-0006", "Bo Barn").await;
    let id = written["id"].as_str().expect("id").to_owned();
    let post = |cmd: &str, body: Value| {
        let path = format!("/api/v1/persons/{id}/{cmd}");
        let nurse = nurse.clone();
        let app = &app;
        async move { app.post(&path, &nurse, &body).await }
    };

    for (rid, name) in [("vh-1", "Gun Förälder"), ("vh-2", "Gustav Förälder")] {
        let (status, _, body) = post(
            "add-relative",
            json!({"relative_id": rid, "kind": "guardian", "name": name, "phone": "070-1"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _, body) = post(
        "add-relative",
        json!({"relative_id": "vh-1", "kind": "guardian", "name": "X"}),
    )
    .await;
    problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "relative_exists",
    );
    let (status, _, body) = post(
        "add-relative",
        json!({"kind": "trustee", "name": "God Man"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a relative id is made when none is given: {body}"
    );
    let (status, _, body) = post("remove-relative", json!({"relative_id": "vh-2"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = post("change-contact-details", json!({"phone": "0920-12 34 56"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = post(
        "register-moved-out",
        json!({"moved_on": "2026-03-01", "to_region": "Region Stockholm"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = post("register-death", json!({"died_on": "2027-01-01"})).await;
    problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "date_in_future",
    );
    let (status, _, body) = post("register-death", json!({"died_on": "2026-03-09"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"], json!(["DeathRegistered"]));
    let pos = body["position"].as_i64().expect("position");

    let (status, _, person) = app
        .get(&format!("/api/v1/persons/{id}?min_position={pos}"), &nurse)
        .await;
    assert_eq!(status, StatusCode::OK, "{person}");
    assert_eq!(person["phone"], "0920-12 34 56");
    assert_eq!(person["address"], Value::Null, "the change replaced both");
    assert_eq!(person["deceased_on"], "2026-03-09");
    assert_eq!(person["moved_out"]["to_region"], "Region Stockholm");
    let kinds: Vec<(&str, &str)> = person["relatives"]
        .as_array()
        .expect("relatives")
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![("guardian", "Gun Förälder"), ("trustee", "God Man")]
    );

    // If-Match on an old version is a conflict; nothing is written.
    let (status, _, body) = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/persons/{id}/change-contact-details")))
                .bearer_auth(&nurse)
                .header("if-match", "\"2\"")
                .json(&json!({"phone": "1"})),
        )
        .await;
    problem(status, &body, StatusCode::CONFLICT, "version_conflict");

    let (status, _, body) = post("paint-the-house", json!({})).await;
    problem(status, &body, StatusCode::NOT_FOUND, "unknown_command");
    let unknown = PersonId::from_ulid(ulid::Ulid::generate());
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{unknown}/change-contact-details"),
            &nurse,
            &json!({}),
        )
        .await;
    problem(status, &body, StatusCode::NOT_FOUND, "person_not_found");
}

#[tokio::test]
async fn units_are_registered_once_by_an_administrator() {
    let app = spawn().await;
    let body = register_unit(&app, "fk-lulea", "external", false).await;
    assert_eq!(body["id"], "fk-lulea");
    assert_eq!(body["events"], json!(["UnitRegistered"]));
    let again = json!({"id": "fk-lulea", "name": "Försäkringskassan",
                       "principal": {"kind": "external", "name": "Försäkringskassan"}, "uses_samplan": false});
    let (status, _, body) = app.post("/api/v1/units", &app.admin_token(), &again).await;
    problem(
        status,
        &body,
        StatusCode::CONFLICT,
        "unit_already_registered",
    );
    let bad = json!({"id": "fk lulea/1", "name": "X", "principal": {"kind": "external", "name": "Y"}, "uses_samplan": false});
    let (status, _, body) = app.post("/api/v1/units", &app.admin_token(), &bad).await;
    problem(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_id",
    );
    let wrong_kind = json!({"id": "x", "name": "X", "principal": {"kind": "county", "name": "Y"}, "uses_samplan": false});
    let (status, _, body) = app
        .post("/api/v1/units", &app.admin_token(), &wrong_kind)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let pos = app.store.head_position().await.expect("head");
    let (status, headers, list) = app
        .get(
            &format!("/api/v1/units?min_position={pos}"),
            &app.admin_token(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(headers.contains_key("x-samplan-position"));
    assert_eq!(list["units"][0]["id"], "fk-lulea");
    assert_eq!(list["units"][0]["principal"]["kind"], "external");
    assert_eq!(list["units"][0]["uses_samplan"], false);
    assert_eq!(
        list["units"].as_array().map(Vec::len),
        Some(1),
        "the refused ones are not there"
    );
    let unit = projections::directory::unit(app.store.pool(), "fk-lulea")
        .await
        .expect("query")
        .expect("in the directory");
    assert_eq!(unit.principal_kind, "external");
    assert!(!unit.uses_samplan);
}

#[tokio::test]
async fn a_message_the_unit_does_not_have_cannot_be_marked_read() {
    let app = spawn().await;
    units(&app).await;
    let path = "/api/v1/inbox/messages/01JQ7ZK3M2V8X9Y0A1B2C3D4E5/read";
    let (status, _, problem) = app.post(path, &nurse(&app), &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["code"], "not_found");
    assert!(app
        .store
        .read_stream(&format!("inbox-{VC}"), 1)
        .await
        .expect("stream")
        .is_empty());
}

#[test]
fn the_openapi_document_describes_the_person_unit_and_inbox_routes() {
    let doc = serde_json::to_value(gateway::openapi::document()).expect("serialises");
    for (method, path) in [
        ("post", "/api/v1/units"),
        ("get", "/api/v1/units"),
        ("post", "/api/v1/persons"),
        ("get", "/api/v1/persons"),
        ("get", "/api/v1/persons/{id}"),
        ("post", "/api/v1/persons/{id}/{command}"),
        ("post", "/api/v1/inbox/messages/{id}/read"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    let search = &doc["paths"]["/api/v1/persons"]["get"]["parameters"];
    let q = search
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "q"))
        .expect("the q parameter");
    assert_eq!(q["in"], "query");
    for schema in [
        "RegisterPersonRequest",
        "PersonView",
        "PersonSearchResponse",
        "RegisterUnitRequest",
        "UnitList",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

/// A `min_position` the store has never reached was answered by no write here (another
/// database's, or made up): the read is answered at once with where the read models stand, not
/// after waiting `wait_ms_max` for a position that will not come.
#[tokio::test]
async fn a_position_never_written_here_is_not_waited_for() {
    let app = gateway::testing::TestApp::spawn_with(|config| {
        config.limits.wait_ms_max = 30_000;
        config.limits.request_timeout_ms = 60_000;
    })
    .await;
    units(&app).await;
    let nurse = nurse(&app);
    let written = register_person(&app, &nurse, "121212+1212", "Tolvan Tolvansson").await;
    let id = written["id"].as_str().expect("id");
    let at = written["position"].as_i64().expect("position");
    // The person is in the directory (a read that waits for the registration).
    let (status, _, body) = app
        .get(&format!("/api/v1/persons/{id}?min_position={at}"), &nurse)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let beyond = at + 1_000;
    for path in [
        format!("/api/v1/persons/{id}?min_position={beyond}"),
        format!("/api/v1/persons?q=Tolvan&min_position={beyond}"),
    ] {
        let asked = std::time::Instant::now();
        let (status, headers, body) = app.get(&path, &nurse).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            position(&headers) < beyond,
            "{path}: it says it did not get there"
        );
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(15),
            "{path}: answered without waiting the 30 s for a position nobody wrote"
        );
    }
    // A position the store never reached was written by nobody: a person not found is 404.
    let unknown = PersonId::from_ulid(ulid::Ulid::generate());
    let (status, _, body) = app
        .get(
            &format!("/api/v1/persons/{unknown}?min_position={beyond}"),
            &nurse,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// Any staff member finds and reads a person; only a unit with a care relation — one that takes
/// part in a plan for them, or registered them — changes what is known about them. A unit
/// without one adding a "guardian" with a personnummer would hand that citizen the person's
/// plans on Min plan; marking them dead or protected would stop other units' plans.
#[tokio::test]
async fn only_a_unit_with_a_care_relation_changes_what_is_known_about_a_person() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let person = register_person(&app, &nurse, "19121212-1212", "Tolvan Tolvansson").await;
    let id = person["id"].as_str().expect("id");
    let stream = format!("person-{id}");
    let home_care = app.staff_token("SE2120000001-HT11", HT);
    for (command, body) in [
        (
            "add-relative",
            json!({"relative_id": "vh", "kind": "guardian", "name": "Någon Annan",
                   "personal_identity_number": "19850412-9829"}),
        ),
        ("change-contact-details", json!({"phone": "070-000 00 00"})),
        ("mark-protected-identity", json!({})),
        ("register-death", json!({"died_on": "2026-01-01"})),
        ("register-moved-out", json!({"moved_on": "2026-01-01"})),
    ] {
        let (status, _, body) = app
            .post(
                &format!("/api/v1/persons/{id}/{command}"),
                &home_care,
                &body,
            )
            .await;
        problem(status, &body, StatusCode::FORBIDDEN, "no_care_relation");
    }
    assert_eq!(app.store.stream_version(&stream).await.expect("v"), 1);
    // Reading is open to every staff member (and logged); the person's page offers the unit
    // no form it may not use, and says who may.
    let (status, _, _) = app.get(&format!("/api/v1/persons/{id}"), &home_care).await;
    assert_eq!(status, StatusCode::OK);
    // As a browser comes from the registration (`?efter=`): under load the person list may not
    // have the person yet, and the page would be a 404 (a test that failed once in a full run).
    let registered = person["position"].as_i64().expect("position");
    let (status, html) = app
        .page(&format!("/patienter/{id}?efter={registered}"), &home_care)
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"ingen-vardrelation\""), "{html}");
    assert!(!html.contains("/kontaktuppgifter\""), "{html}");
    assert!(!html.contains("/narstaende\""), "{html}");

    // Hemtjänsten notices a need and starts a plan: from that answer on it may add a relative,
    // though the participation read model may not have seen the plan yet.
    let (status, _, started) = app
        .post(
            "/api/v1/sips",
            &home_care,
            &json!({"person_id": id, "identified_by": "staff",
                    "reason": "Behöver stöd från både hemtjänst och vårdcentral.",
                    "context": {"kind": "outpatient"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{id}/add-relative"),
            &home_care,
            &json!({"relative_id": "dotter", "kind": "relative", "name": "Anna Dotter"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, html) = app.page(&format!("/patienter/{id}"), &home_care).await;
    assert!(!html.contains("id=\"ingen-vardrelation\""), "{html}");
    assert!(html.contains("/narstaende\""), "{html}");
    // The unit that registered the person may, plan or not.
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{id}/change-contact-details"),
            &nurse,
            &json!({"phone": "070-999 99 99"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
