//! A read model that meets an event it cannot apply stops alone (ADR 0036): the reporting tables
//! refuse a plan's row (a fault put into the database, as a bad migration or a revoked grant
//! would), and staff go on working — commands are stored, the inbox and the other read models
//! follow, `/readyz` stays ready — while `/metrics` says which read model stopped, its checkpoint
//! stays below the event, and nothing of the person is kept in the stop's record. Once the fault
//! is mended the read model applies the event by itself and equals a rebuild.

mod sips_support;

use std::time::Duration;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use sips_support::*;

const REPORTING: &str = projections::reporting::PROJECTION;

async fn admin(app: &TestApp) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    client
}

/// `GET /readyz` of `router`: its status and body.
async fn readyz(router: axum::Router) -> (StatusCode, String) {
    use tower::ServiceExt;
    let response = router
        .oneshot(
            axum::http::Request::get("/readyz")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn lag(app: &TestApp, name: &str) -> projections::runner::Lag {
    projections::runner::lags(app.store.pool())
        .await
        .expect("lags")
        .into_iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no checkpoint of {name}"))
}

/// The line of `/metrics` that says whether `projection` is stopped.
async fn stopped_gauge(app: &TestApp, projection: &str) -> String {
    let (status, _, body) = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("text").to_owned();
    text.lines()
        .find(|l| {
            l.starts_with("samplan_projection_stopped")
                && l.contains(&format!("projection=\"{projection}\""))
        })
        .unwrap_or_else(|| panic!("no stopped gauge of {projection} in\n{text}"))
        .to_owned()
}

#[tokio::test]
async fn a_read_model_that_cannot_apply_an_event_stops_alone_and_resumes_once_mended() {
    // Every read model but reporting must be caught up to count as ready: 1 ms of lag is enough
    // to fail readiness, so reporting's standing still shows that readiness leaves it out.
    let app = TestApp::spawn_with(|config| config.ready_lag_ms_max = 1).await;
    let w = world(&app).await;
    let before = app.store.head_position().await.expect("head");
    projections::runner::applied(app.store.pool(), REPORTING, before, 10_000)
        .await
        .expect("reporting caught up with the units");

    // The fault: the reporting tables refuse every new plan.
    let db = admin(&app).await;
    db.batch_execute(
        "CREATE FUNCTION reporting.refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON reporting.plans
           FOR EACH ROW EXECUTE FUNCTION reporting.refuse();",
    )
    .await
    .expect("fault");

    let sip = start_plan(&app, &w).await;
    let started = app.store.head_position().await.expect("head");

    // Staff go on: the other read models follow the store, the plan is in the coordinator's
    // Pågående SIP, and the next command is stored.
    for name in ["directory", "participation", "inbox", "patient"] {
        projections::runner::applied(app.store.pool(), name, started, 10_000)
            .await
            .unwrap_or_else(|e| panic!("{name} stopped with reporting: {e}"));
    }
    let (status, _, body) = app
        .get(&format!("/api/v1/inbox/sips?min_position={started}"), &w.vc)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["sips"].as_array().expect("sips");
    assert!(items.iter().any(|i| i["sip_id"] == sip.as_str()), "{body}");

    // Reporting stopped below the plan's first event, said so, and kept nothing of the person.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let stopped = loop {
        let l = lag(&app, REPORTING).await;
        if let Some(stopped) = l.stopped.clone() {
            break (l, stopped);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reporting never stopped: {l:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (reporting, (_, error)) = stopped;
    assert!(reporting.position < started, "{reporting:?}");
    assert!(reporting.position >= before, "{reporting:?}");
    assert!(
        error.contains("refused by the test") && error.contains("P0001"),
        "{error}"
    );
    for personal in ["Tolvan", "19121212", w.person_id.as_str()] {
        assert!(!error.contains(personal), "{personal} in {error}");
    }
    assert!(stopped_gauge(&app, REPORTING).await.ends_with(" 1"));
    assert!(stopped_gauge(&app, "inbox").await.ends_with(" 0"));
    let (status, _, body) = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "reporting stopped is no outage: {body}"
    );
    let other = register_person(&app, &w, "19500101-2391", "Berit Andersson").await;
    let (status, body) = try_start_plan_for(&app, &w, &other).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let head = app.store.head_position().await.expect("head");
    projections::runner::applied(app.store.pool(), "inbox", head, 10_000)
        .await
        .expect("the inbox follows the next command too");
    assert!(
        lag(&app, REPORTING).await.position < started,
        "nothing skipped"
    );

    // Mended: the read model applies the event by itself, and equals a rebuild.
    db.batch_execute("DROP TRIGGER refuse ON reporting.plans")
        .await
        .expect("mend");
    let wait_ms = projections::runner::STOPPED_RETRY_MS + 15_000;
    projections::runner::applied(app.store.pool(), REPORTING, head, wait_ms)
        .await
        .expect("reporting resumed");
    assert_eq!(lag(&app, REPORTING).await.stopped, None);
    assert!(stopped_gauge(&app, REPORTING).await.ends_with(" 0"));
    let live = projections::runner::dump(app.store.pool(), REPORTING)
        .await
        .expect("dump");
    assert!(
        live.iter().any(|row| row.starts_with("plans ")),
        "the plan is reported: {live:#?}"
    );
    let settings = projections::Settings::new(app.state.policy.for_municipality(None).clone());
    projections::rebuild(&app.store, &app.db.admin_url, REPORTING, &settings)
        .await
        .expect("rebuild")
        .expect("a read model");
    let rebuilt = projections::runner::dump(app.store.pool(), REPORTING)
        .await
        .expect("dump");
    assert_eq!(rebuilt, live);
}

/// A gateway whose inbox stopped is not ready — staff would read stale lists — and says which
/// read model and why. A process that only relays or projects stays ready while its database
/// answers: its readiness must not follow the lag it exists to work off, or a standby, and a new
/// version rolled out to mend the read model, would never become ready to take over.
#[tokio::test]
async fn a_gateway_behind_says_which_read_model_while_a_worker_stays_ready() {
    let app = TestApp::spawn_with(|config| config.ready_lag_ms_max = 1).await;
    let w = world(&app).await;
    admin(&app)
        .await
        .batch_execute(
            "CREATE FUNCTION inbox.refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON inbox.todos
               FOR EACH ROW EXECUTE FUNCTION inbox.refuse();",
        )
        .await
        .expect("fault");
    start_plan(&app, &w).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while lag(&app, "inbox").await.stopped.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the inbox never stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = readyz(gateway::app::router(app.state.clone())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).expect("a problem document");
    assert_eq!(problem["code"], "read_model_behind");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("Läsmodellen inbox") && detail.contains("refused by the test"),
        "{detail}"
    );
    let (status, body) = readyz(gateway::app::ops_router(app.state.clone())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready"));
}

/// Every read model waits, on every gateway alike, for a transaction that wrote events and has
/// not ended (an operator's `BEGIN` at a console): the gateways stay ready and say so, since
/// taking them all out of the load balancer would stop the writes that still work and mend
/// nothing. Once it ends, everything catches up.
#[tokio::test]
async fn read_models_waiting_for_an_open_writer_of_events_leave_the_gateways_ready() {
    let app = TestApp::spawn_with(|config| config.ready_lag_ms_max = 200).await;
    let w = world(&app).await;
    let open = app.leave_an_append_open().await;
    start_plan(&app, &w).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // The directory's checkpoint row appears when its projector first takes it: on a busy
    // machine that may come after the plan (a full run once found no row yet).
    let behind = || async {
        projections::runner::lags(app.store.pool())
            .await
            .expect("lags")
            .into_iter()
            .any(|l| l.name == "directory" && l.ms > 200)
    };
    while !behind().await {
        assert!(tokio::time::Instant::now() < deadline, "never behind");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = readyz(gateway::app::router(app.state.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("wait at position"), "{body}");

    open.batch_execute("ROLLBACK").await.expect("rollback");
    let head = app.store.head_position().await.expect("head");
    for name in ["directory", "inbox", "participation", "patient"] {
        projections::runner::applied(app.store.pool(), name, head, 10_000)
            .await
            .expect("caught up");
    }
    assert_eq!(
        readyz(gateway::app::router(app.state.clone())).await,
        (StatusCode::OK, "ready".to_string())
    );
}

/// The exception above is for read models that wait, not for read models nobody applies: with
/// no projector running, a gateway behind stays unready though a transaction writing events is
/// open too (an outside review saw a dead projector's gateway turn ready again, blaming the
/// open transaction).
#[tokio::test]
async fn a_gateway_without_a_projector_stays_unready_though_a_writer_of_events_is_open() {
    let app = TestApp::spawn_roles(gateway::app::Roles::GATEWAY, |config| {
        config.ready_lag_ms_max = 200;
    })
    .await;
    assert!(
        !projections::runner::lease_held(app.store.pool(), "directory")
            .await
            .expect("lease")
    );
    // The directory applied position 1 and its projector died; position 2 was rolled back long
    // ago (a hole right after the checkpoint), 3 and later wait to be applied, and then an
    // operator leaves a transaction writing events open.
    let append = |n: usize| {
        let store = app.store.clone();
        async move {
            store
                .append(
                    &format!("unit-vc-{n}"),
                    eventstore::ExpectedVersion::Any,
                    vec![eventstore::NewEvent {
                        event_id: ulid::Ulid::generate(),
                        event_type: "Noted".into(),
                        schema_version: 1,
                        data: serde_json::json!({}),
                        metadata: eventstore::Metadata {
                            actor: "operator".into(),
                            unit: None,
                            role: "admin".into(),
                            command_id: None,
                            correlation_id: None,
                            causation_id: None,
                        },
                    }],
                    None,
                )
                .await
                .expect("append")
        }
    };
    assert_eq!(append(1).await.global_position, 1);
    admin(&app)
        .await
        .batch_execute(
            "INSERT INTO projections.checkpoints (projection, position) VALUES ('directory', 1)",
        )
        .await
        .expect("checkpoint");
    let rolled_back = app.leave_an_append_open().await;
    rolled_back
        .batch_execute("ROLLBACK")
        .await
        .expect("rollback");
    assert_eq!(append(2).await.global_position, 3);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let open = app.leave_an_append_open().await;
    let (status, body) = readyz(gateway::app::router(app.state.clone())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("read_model_behind"), "{body}");
    open.batch_execute("ROLLBACK").await.expect("rollback");
}

/// A person registered through one gateway and read back with `min_position` while the directory
/// cannot follow (stopped here; in the review, a projector process stopped) is not "not found":
/// it may well exist. The read answers 503 `read_model_behind`, saying where the directory stood,
/// and the client tries again; once the directory follows, the same read finds the person.
#[tokio::test]
async fn a_person_written_but_not_yet_in_the_directory_is_503_not_404() {
    let app = TestApp::spawn_with(|config| config.limits.wait_ms_max = 300).await;
    let w = world(&app).await;
    let db = admin(&app).await;
    db.batch_execute(
        "CREATE FUNCTION directory.refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON directory.persons
           FOR EACH ROW EXECUTE FUNCTION directory.refuse();",
    )
    .await
    .expect("fault");
    let (status, _, written) = app
        .post(
            "/api/v1/persons",
            &w.vc,
            &serde_json::json!({"personal_identity_number": "19500101-2391",
                                "name": "Berit Andersson"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{written}");
    let (id, at) = (
        written["id"].as_str().expect("id"),
        written["position"].as_i64().expect("position"),
    );
    let path = format!("/api/v1/persons/{id}?min_position={at}");
    let (status, headers, body) = app.get(&path, &w.vc).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "read_model_behind");
    assert_eq!(headers["retry-after"], "1");
    let stood: i64 = headers["x-samplan-position"]
        .to_str()
        .expect("header")
        .parse()
        .expect("a position");
    assert!(stood < at, "{stood} < {at}");

    db.batch_execute("DROP TRIGGER refuse ON directory.persons")
        .await
        .expect("mended");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = app.get(&path, &w.vc).await;
        if status == StatusCode::OK {
            assert_eq!(body["name"], "Berit Andersson");
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(tokio::time::Instant::now() < deadline, "never found");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
