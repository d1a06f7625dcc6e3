//! The service's outer layer as a client sees it: health, readiness, metrics, problem documents
//! for oversized bodies, unknown routes and wrong methods, and request ids.

use axum::http::StatusCode;
use gateway::testing::TestApp;
use serde_json::{json, Value};
use tower::ServiceExt;

fn assert_problem(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: &Value,
    expected: StatusCode,
    code: &str,
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{body}"
    );
    assert_eq!(body["status"], expected.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(
        body["type"],
        format!("urn:samplan:problem:{code}"),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
}

/// Registers unit `id`: a staff token for a unit samplan does not know is refused (403
/// `unit_unknown`).
async fn register_unit(app: &TestApp, id: &str) {
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({"id": id, "name": "Vårdcentralen Norr",
                    "principal": {"kind": "region", "name": "Region Testlän"},
                    "uses_samplan": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let app = TestApp::spawn().await;
    let (status, _, body) = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
    let (status, _, body) = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ready")));
}

/// The service's router with `app`'s key and clock and a database nobody listens for (port 1;
/// the pool connects lazily, so building the state succeeds).
async fn router_without_database(app: &TestApp) -> axum::Router {
    let mut config = gateway::config::Config::from_lookup(|_| None).expect("defaults");
    config.jwt_key = gateway::config::JwtKey::Secret(app.secret().to_string());
    let state = gateway::app::build_state(
        &config,
        "postgres://postgres@127.0.0.1:1/none",
        None,
        app.clock.clone(),
    )
    .await
    .expect("state");
    gateway::app::router(state)
}

#[tokio::test]
async fn readiness_is_503_problem_when_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let response = router_without_database(&app)
        .await
        .oneshot(
            axum::http::Request::get("/readyz")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["code"], "service_unavailable");
    // A 5xx never leaks internals such as the database address.
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.send(app.client.get(app.url("/healthz"))).await;
    app.send(app.client.get(app.url("/no/such/page"))).await;
    let (status, headers, body) = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = body.as_str().expect("text");
    assert!(
        text.lines()
            .any(|l| l.starts_with("samplan_http_requests_total")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("samplan_http_requests_total") && l.contains("status=\"404\"")),
        "{text}"
    );
    assert!(
        text.contains("samplan_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_show_how_appends_were_written() {
    let app = TestApp::spawn().await;
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &serde_json::json!({
                "id": "vc-metrik",
                "name": "Vårdcentralen Metrik",
                "principal": { "kind": "region", "name": "Region Testlän" },
                "uses_samplan": true
            }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    // The inbox's runner has taken its lease once it has applied the unit (on a loaded machine
    // the runners start after the first request is answered).
    let head = app.store.head_position().await.expect("head");
    projections::runner::applied(app.store.pool(), "inbox", head, 10_000)
        .await
        .expect("the inbox applied the unit");
    let (status, _, body) = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("text");
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    };
    // The unit's append went through group commit (a lone append is a transaction of one);
    // nothing was written outside it.
    let transactions = value("samplan_group_commit_transactions_total");
    let appends = value("samplan_group_commit_appends_total");
    assert!(transactions >= 1, "{text}");
    assert!(appends >= transactions, "{text}");
    assert_eq!(value("samplan_direct_appends_total"), 0, "{text}");
    // Which process holds each lease: this one runs the read models, so it names itself.
    let holder = projections::runner::this_process();
    let held = text
        .lines()
        .find(|l| {
            l.starts_with("samplan_projection_lease_holder{") && l.contains("projection=\"inbox\"")
        })
        .unwrap_or_else(|| panic!("no lease holder for the inbox: {text}"));
    assert!(held.contains(&format!("holder=\"{holder}\"")), "{held}");
    assert!(held.ends_with(" 1"), "{held}");
}

#[tokio::test]
async fn an_oversized_body_is_413_problem() {
    let app = TestApp::spawn_with(|c| c.limits.body_bytes_max = 4096).await;
    let big = json!({ "name": "x".repeat(10_000) });
    let (status, headers, body) = app.post("/api/v1/units", &app.admin_token(), &big).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn an_oversized_body_without_length_is_413_problem_too() {
    let app = TestApp::spawn_with(|c| c.limits.body_bytes_max = 4096).await;
    // No Content-Length: the limit has to bite while the body is read.
    let body = axum::body::Body::from_stream(futures::stream::iter(
        (0..10).map(|_| Ok::<_, std::io::Error>(bytes_of(1024))),
    ));
    let request = axum::http::Request::post("/api/v1/units")
        .header("authorization", format!("Bearer {}", app.admin_token()))
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let response = gateway::app::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

fn bytes_of(n: usize) -> axum::body::Bytes {
    axum::body::Bytes::from(vec![b' '; n])
}

#[tokio::test]
async fn unknown_routes_are_404_problem() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/api/v1/nope", "/api/v2/units"] {
        let (status, headers, body) = app.get(path, &app.admin_token()).await;
        assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_problem() {
    let app = TestApp::spawn().await;
    let (status, headers, body) = app.send(app.client.delete(app.url("/healthz"))).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = TestApp::spawn().await;
    let (_, headers, _) = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "abc-123"),
        )
        .await;
    assert_eq!(headers["x-request-id"], "abc-123");

    let (_, first, _) = app.send(app.client.get(app.url("/nope"))).await;
    let (_, second, _) = app.send(app.client.get(app.url("/nope"))).await;
    let first = first["x-request-id"].to_str().expect("ascii").to_string();
    let second = second["x-request-id"].to_str().expect("ascii").to_string();
    assert_eq!(first.len(), 26, "a ULID: {first}");
    assert_ne!(first, second);

    // Unprintable or overlong ids from outside are replaced, not echoed.
    let (_, headers, _) = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "a".repeat(500)),
        )
        .await;
    assert_eq!(headers["x-request-id"].len(), 26);
}

#[tokio::test]
async fn the_openapi_document_needs_no_token() {
    let app = TestApp::spawn().await;
    let (status, _, body) = app
        .send(app.client.get(app.url("/api/v1/openapi.json")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{body}"
    );
}

#[tokio::test]
async fn a_request_that_runs_too_long_is_503_problem() {
    // The audit's list of events waits (up to wait_ms_max) for a transaction that wrote events
    // and is left open, longer than the request limit.
    let app = TestApp::spawn_with(|c| {
        c.limits.request_timeout_ms = 300;
        c.limits.wait_ms_max = 10_000;
    })
    .await;
    let open = app.leave_an_append_open().await;
    let token = app.token("auditor", "revisor-1", None, "Rut Revisor");
    let started = std::time::Instant::now();
    let (status, headers, body) = app.get("/api/v1/audit/events?limit=10", &token).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    open.batch_execute("ROLLBACK").await.expect("rollback");
}

/// A client that does not send the body it announced within the request's time is answered
/// 408 — its own doing — not 503, and nothing is appended.
#[tokio::test]
async fn a_body_sent_too_slowly_is_408_problem() {
    let app = TestApp::spawn_with(|c| c.limits.request_timeout_ms = 300).await;
    let head = app.store.head_position().await.expect("head");
    let token = app.admin_token();
    let address = app
        .url("/")
        .replace("http://", "")
        .trim_end_matches('/')
        .to_owned();
    let request = format!(
        "POST /api/v1/units HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\nConnection: close\r\n\r\n\
         {{\"id\": \"vc-lang"
    );
    let answer = raw_exchange(&app, request).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert_eq!(app.store.head_position().await.expect("head"), head);
}

#[tokio::test]
async fn a_stop_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let app = TestApp::spawn_with(|c| c.limits.wait_ms_max = 1_000).await;
    register_unit(&app, "vc-norr").await;
    let token = app.staff_token("SE2321000016-A1B2", "vc-norr");
    // A read that waits (up to 1 s) for a position the read model never reaches.
    let slow = app
        .client
        .get(app.url("/api/v1/persons?q=Tolvan&min_position=999999"))
        .bearer_auth(&token)
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.stop();
    let answered = slow
        .await
        .expect("task")
        .expect("the in-flight request was answered, not cut off");
    assert!(
        answered.status().as_u16() < 500 || answered.status() == StatusCode::SERVICE_UNAVAILABLE
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let fresh = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(
        fresh.is_err(),
        "a new connection after the stop was served: {fresh:?}"
    );
}

/// With `SAMPLAN_SHUTDOWN_DELAY_MS`, a stopped gateway first tells the load balancer (`/readyz`
/// 503) and goes on serving new connections for that long; only then are connections refused.
/// Without it, a rolling restart refused requests during the seconds the balancer's health check
/// took to notice (an operator review).
#[tokio::test]
async fn a_stop_with_a_delay_says_not_ready_and_serves_on_until_the_delay_is_over() {
    let app = TestApp::spawn_with(|c| c.shutdown_delay_ms = 1_500).await;
    register_unit(&app, "vc-norr").await;
    let token = app.staff_token("SE2321000016-A1B2", "vc-norr");
    app.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let fresh = reqwest::Client::new();
    let ready = fresh.get(app.url("/readyz")).send().await.expect("served");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = ready.json().await.expect("a problem document");
    assert_eq!(problem["code"], "service_unavailable");
    let units = fresh
        .get(app.url("/api/v1/units"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("still served");
    assert_eq!(units.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await;
    let after = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(after.is_err(), "served after the delay: {after:?}");
}

/// The raw answer to `request`, sent over a fresh connection (read until the server closes).
async fn raw_exchange(app: &TestApp, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.url("/").replace("http://", "");
    let address = address.trim_end_matches('/');
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    socket.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        socket.read_to_string(&mut answer),
    )
    .await
    .expect("answered")
    .expect("read");
    answer
}

/// More header fields than anyone sends is refused in words (431 `too_many_headers`), not with
/// hyper's empty answer; a hundred are still served.
#[tokio::test]
async fn too_many_headers_are_431_problem() {
    let app = TestApp::spawn().await;
    let request = |n: usize| {
        let extra: String = (0..n - 2).map(|i| format!("X-Extra-{i}: v\r\n")).collect();
        format!("GET /healthz HTTP/1.1\r\nHost: samplan\r\n{extra}Connection: close\r\n\r\n")
    };
    let fine = raw_exchange(&app, request(100)).await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
    for n in [101, 200] {
        let refused = raw_exchange(&app, request(n)).await;
        assert!(refused.starts_with("HTTP/1.1 431"), "{n}: {refused}");
        assert!(refused.contains("application/problem+json"), "{refused}");
        assert!(refused.contains("\"too_many_headers\""), "{refused}");
        assert!(refused.contains("högst 100"), "{refused}");
    }
}

/// A client that opens a connection and never finishes its headers (slowloris) is let go when
/// the header time is up, rather than holding the connection for ever; one that is in time is
/// served.
#[tokio::test]
async fn a_client_slow_with_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| c.limits.header_read_timeout_ms = 1_000).await;
    let address = app.url("/").replace("http://", "");
    let address = address.trim_end_matches('/').to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: samp")
        .await
        .expect("send");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut rest),
    )
    .await
    .expect("the server let the slow client go");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "closed after {:?}, before the header time was up",
        started.elapsed()
    );
    // Closed (or reset) without serving the half request.
    assert!(
        read.is_err() || !String::from_utf8_lossy(&rest).contains("200 OK"),
        "{read:?} {}",
        String::from_utf8_lossy(&rest)
    );
    // A client in time on the same server is served.
    let fine = raw_exchange(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: samplan\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
}

/// A write that runs out of time after its body arrived may still be committed when its
/// transaction ends: the client is told so, and how to retry safely — not "try again", which
/// without a key would write it twice.
#[tokio::test]
async fn a_write_out_of_time_says_its_outcome_is_unknown() {
    let app = TestApp::spawn_with(|c| c.limits.request_timeout_ms = 300).await;
    let token = app.admin_token();
    // Appends wait while another transaction holds the events table.
    let (mut blocker, connection) =
        tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
            .await
            .expect("owner connection");
    tokio::spawn(connection);
    let lock = blocker.transaction().await.expect("begin");
    lock.batch_execute("LOCK TABLE events IN EXCLUSIVE MODE")
        .await
        .expect("lock");
    let (status, headers, body) = app
        .post(
            "/api/v1/units",
            &token,
            &serde_json::json!({"id": "vc-sen", "name": "Vårdcentralen Sen",
                "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}),
        )
        .await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains("kan ändå ha sparats"), "{detail}");
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    lock.rollback().await.expect("release");
    // What the answer warned of: the write went in once the table was free.
    let mut registered = false;
    for _ in 0..50 {
        let (status, _, _) = app.get("/api/v1/units?min_position=1", &token).await;
        let (_, _, units) = app.get("/api/v1/units", &token).await;
        if status == StatusCode::OK && units.to_string().contains("vc-sen") {
            registered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        registered,
        "the write cut off by the time limit was not committed after all"
    );
}

/// `/metrics` says whether the read models' lags could be read at this scrape: while the
/// database cannot be asked, the lag gauges are stale (a 0 from before the outage is not "no
/// lag"), and `samplan_projection_lags_read` is 0.
#[tokio::test]
async fn metrics_say_when_the_lags_could_not_be_read() {
    let app = TestApp::spawn().await;
    let (status, _, _) = app.get("/readyz", "").await;
    assert_eq!(status, StatusCode::OK);
    let scrape = |url: String| async move {
        reqwest::get(url)
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text")
    };
    let metrics = scrape(app.url("/metrics")).await;
    assert!(
        metrics.contains("samplan_projection_lags_read 1"),
        "{metrics}"
    );
    let response = router_without_database(&app)
        .await
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("samplan_projection_lags_read 0"), "{text}");
}

/// A database that does not answer (here: the checkpoints locked by a transaction left open)
/// does not make `/metrics` fail: the scrape is answered after the readiness check's bound, with
/// `samplan_projection_lags_read 0`, not refused when the request's own limit runs out (503),
/// which would lose every series.
#[tokio::test]
async fn metrics_answer_while_the_database_hangs() {
    let app = TestApp::spawn().await;
    let (status, _, _) = app.get("/readyz", "").await;
    assert_eq!(status, StatusCode::OK);
    let (mut owner, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("owner connection");
    tokio::spawn(connection);
    let lock = owner.transaction().await.expect("transaction");
    lock.batch_execute("LOCK TABLE projections.checkpoints IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let response = reqwest::get(app.url("/metrics")).await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    assert!(text.contains("samplan_projection_lags_read 0"), "{text}");
    lock.rollback().await.expect("rollback");
}
