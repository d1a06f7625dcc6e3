//! Start-up and shutdown: the composition root. [`Application::build`] does the I/O (embedded
//! services, migrations, the store's pool, binding the port); [`router`] builds the HTTP service
//! without any I/O, so tests can drive it with `oneshot`; [`Application::run_until_stopped`]
//! serves until the cancellation token fires, drains in-flight requests with a time limit, then
//! stops what it started and says which task stopped and why.

use crate::auth::{development_secret, KeyError, Verifier};
use crate::clock::Clock;
use crate::config::{redact_url, Config, JwtKey};
use crate::embedded::{Embedded, EmbeddedError, EmbeddedNats, EmbeddedPostgres, Keeper};
use crate::error::{problem_response, AppError, Problem};
use crate::facts::FactCache;
use crate::keys::Keys;
use crate::request_id::{RequestId, REQUEST_ID_HEADER};
use crate::state::AppState;
use crate::turns::StreamTurns;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use domain::policy::{PolicyProfile, PolicySet};
use eventstore::{EventStore, StoreConfig, StoreError};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The gateway's own tables: the access log, the deployment's keys and the tokens signed out of.
pub const MIGRATIONS: &[eventstore::Migration] = &[
    eventstore::Migration {
        version: 1,
        name: "access_log",
        sql: include_str!("../migrations/0001_access_log.sql"),
    },
    eventstore::Migration {
        version: 2,
        name: "keys",
        sql: include_str!("../migrations/0002_keys.sql"),
    },
    eventstore::Migration {
        version: 3,
        name: "access_log_partitions",
        sql: include_str!("../migrations/0003_access_log_partitions.sql"),
    },
    eventstore::Migration {
        version: 4,
        name: "access_log_one_row_per_read",
        sql: include_str!("../migrations/0004_access_log_one_row_per_read.sql"),
    },
    eventstore::Migration {
        version: 5,
        name: "revoked_tokens",
        sql: include_str!("../migrations/0005_revoked_tokens.sql"),
    },
];

/// Says so at start when the server's autovacuum is off: nothing then refreshes the planner's
/// statistics of the read models or clears their dead rows, and reads slow down as they grow
/// (docs/runbook.md, "PostgreSQL settings"). A warning, not a refusal: a test server may run so.
async fn warn_if_autovacuum_off(state: &AppState) {
    let Ok(client) = state.store.pool().get().await else {
        return;
    };
    if let Ok(row) = client
        .query_one("SELECT current_setting('autovacuum')", &[])
        .await
    {
        let setting: String = row.get(0);
        if setting != "on" {
            tracing::warn!(
                autovacuum = %setting,
                "PostgreSQL's autovacuum is off: statistics and dead rows of the read models are \
                 not kept, and reads will slow down as the tables grow; turn it on"
            );
        }
    }
}

/// Applies every component's migrations as the owner role: the event store, the gateway's own
/// tables (access log, keys) and the read models.
pub async fn migrate_all(
    admin_database_url: &str,
    tls: &eventstore::DatabaseTls,
) -> Result<(), AppError> {
    EventStore::migrate_tls(admin_database_url, tls).await?;
    eventstore::migrate_tls(admin_database_url, tls, "gateway", MIGRATIONS).await?;
    eventstore::migrate_tls(
        admin_database_url,
        tls,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await?;
    Ok(())
}

/// The whole HTTP service for `state`, with its layers; no I/O happens here.
pub fn router(state: AppState) -> Router {
    router_for(state, false)
}

/// [`router`] for a service started with `--demo` when `demo_data` (the web's demo sign-in may
/// be on, `web::WebConfig::from_env`).
pub fn router_for(state: AppState, demo_data: bool) -> Router {
    let web = std::sync::Arc::new(crate::web::WebConfig::from_env(demo_data));
    let routes = Router::new()
        .merge(crate::routes::ops::router(true))
        .route("/api/v1/openapi.json", get(openapi_json))
        .nest("/api/v1", crate::routes::api_router())
        .merge(crate::web::router(web.clone()))
        .fallback(not_found)
        // An error page, also the fallback's, shows a signed-in visitor as every page does.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::web::error_pages_know_their_visitor,
        ))
        .layer(axum::Extension(web));
    with_layers(routes, state)
}

/// Only `/healthz`, `/readyz` and `/metrics`: what a relay or projector process serves, for its
/// orchestrator and monitoring.
/// `req` with its body passed through a stream that sets the flag returned once the body has
/// been read to its end (set already for a request without a body).
fn marking_body_received(req: Request) -> (Request, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use futures::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (parts, body) = req.into_parts();
    let empty = axum::body::HttpBody::size_hint(&body).exact() == Some(0);
    let received = std::sync::Arc::new(AtomicBool::new(empty));
    if empty {
        return (Request::from_parts(parts, body), received);
    }
    let flag = received.clone();
    let stream = futures::stream::unfold(
        (body.into_data_stream(), Some(flag)),
        |(mut data, flag)| async move {
            match data.next().await {
                Some(chunk) => Some((chunk, (data, flag))),
                None => {
                    if let Some(flag) = flag {
                        flag.store(true, Ordering::Release);
                    }
                    None
                }
            }
        },
    );
    (
        Request::from_parts(parts, axum::body::Body::from_stream(stream)),
        received,
    )
}

pub fn ops_router(state: AppState) -> Router {
    with_layers(crate::routes::ops::router(false).fallback(not_found), state)
}

/// How many times `SAMPLAN_BODY_BYTES_MAX` a web form's body may take. The API's commands hold
/// to the limit itself (`extract::Command`); a form spells å, ä and ö in six bytes each
/// (`%C3%B6`) where JSON takes two, and carries several text fields, so the same text in a form
/// takes several times the bytes (a review had 11 000 "ö" refused, within the domain's 20 000
/// characters).
const FORM_BYTES_PER_BODY_BYTE: usize = 8;

fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let body_bytes_max = state
        .limits
        .body_bytes_max
        .saturating_mul(FORM_BYTES_PER_BODY_BYTE);
    let request_timeout = Duration::from_millis(state.limits.request_timeout_ms);
    routes
        // Layers run outside-in from the last one added: request id, trace span, metrics,
        // problem documents for bare errors, panic catcher, timeout, body limit, handler.
        .layer(axum::extract::DefaultBodyLimit::max(body_bytes_max))
        .layer(RequestBodyLimitLayer::new(body_bytes_max))
        .layer(middleware::from_fn(
            move |req: Request, next: Next| async move {
                // Out of time while the client was still sending its body is the client's doing
                // (408); while the service worked, the service's (503).
                let (req, received) = marking_body_received(req);
                let reads = matches!(*req.method(), Method::GET | Method::HEAD);
                match tokio::time::timeout(request_timeout, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) if !received.load(std::sync::atomic::Ordering::Acquire) => {
                        AppError::RequestTimeout.into_response()
                    }
                    Err(_) => {
                        let what = format!("request exceeded {} ms", request_timeout.as_millis());
                        // A write cut off here may still commit when its transaction ends: the
                        // client is told that the outcome is unknown, and how to retry safely.
                        if reads {
                            AppError::Unavailable(what).into_response()
                        } else {
                            AppError::WriteOutcomeUnknown(what).into_response()
                        }
                    }
                }
            },
        ))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                // The payload may hold values from the request; it is printed by the panic hook
                // already, and never sent.
                AppError::internal("a handler panicked").into_response()
            },
        ))
        .layer(middleware::from_fn(headers_within_limits))
        .layer(middleware::map_response(problem_for_bare_errors))
        .layer(middleware::from_fn(pages_for_browsers))
        .layer(middleware::from_fn(baseline_headers))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_else(|| "(unmatched)".into());
                    let request_id = req
                        .extensions()
                        .get::<RequestId>()
                        .map(|r| r.0.clone())
                        .unwrap_or_default();
                    // Only the matched route template: a raw URI may carry a personnummer.
                    tracing::info_span!("request", %request_id, method = %req.method(), %route)
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(middleware::from_fn(crate::request_id::request_id))
        .with_state(state)
}

/// Most header fields a request may carry; real clients send a dozen or two. hyper parses up to
/// [`crate::serve::HEADERS_PARSED_MAX`], so that more than this is told in words.
pub const HEADERS_MAX: usize = 100;

/// Refuses a request with more than [`HEADERS_MAX`] header fields: 431 `too_many_headers`.
async fn headers_within_limits(request: Request, next: Next) -> Response {
    let count = request.headers().len();
    if count > HEADERS_MAX {
        return AppError::TooManyHeaders(count).into_response();
    }
    next.run(request).await
}

async fn openapi_json() -> Response {
    axum::Json(crate::openapi::document_json()).into_response()
}

/// No route: the problem document, or for a browser asking for a page the HTML 404 page.
async fn not_found(request: Request) -> Response {
    if crate::web::wants_html(&request) {
        crate::web::not_found_page()
    } else {
        AppError::NotFound.into_response()
    }
}

/// Counts requests by route and status, times them, and counts accepted commands.
async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".into());
    let response = next.run(req).await;
    let status = response.status();
    let labels = [
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("samplan_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "samplan_http_request_duration_seconds",
        &[("method", method.to_string()), ("route", route.clone())]
    )
    .record(started.elapsed().as_secs_f64());
    // Commands are counted by the pipeline (`samplan_commands_total{command, outcome}`), which
    // knows an append from a replay or a refusal; counting them here too would double them.
    response
}

/// Headers on every answer, whoever made it: answers carry personal data, so no browser or proxy
/// keeps them (`no-store`, unless the response chose its own caching, as the assets do; a live
/// stream's `no-cache` becomes `no-store`) and none is read as another type than it says
/// (`nosniff`); outside `/api/`, an error made outside the pages' handlers (a 405, a bad query)
/// gets the pages' security headers too.
async fn baseline_headers(req: Request, next: Next) -> Response {
    let web = !req.uri().path().starts_with("/api/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let event_stream = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let no_store = HeaderValue::from_static("no-store");
    if event_stream {
        headers.insert(header::CACHE_CONTROL, no_store);
    } else {
        headers.entry(header::CACHE_CONTROL).or_insert(no_store);
    }
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if web {
        crate::web::with_security_headers(response)
    } else {
        response
    }
}

/// Error responses made outside our handlers (axum's rejections, the body limit, 405) carry
/// plain text; clients are promised problem documents, so such responses are replaced.
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Problem documents, and the web pages' own HTML error pages, stay as they are.
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/problem+json")
                || v.as_bytes().starts_with(b"text/html")
        });
    if is_problem {
        return response;
    }
    let (code, title, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "För mycket data",
            "Begäran är för stor.",
        ),
        StatusCode::NOT_FOUND => (
            "not_found",
            "Hittades inte",
            // No caller is known for an address that names nothing: no unit to speak of.
            crate::error::NOT_FOUND_DETAIL,
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "Metoden stöds inte",
            "Adressen finns men tar inte emot den här HTTP-metoden.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Fel innehållstyp",
            crate::error::UNSUPPORTED_MEDIA_TYPE_DETAIL,
        ),
        StatusCode::UNAUTHORIZED => ("unauthorized", "Inloggning krävs", "Inloggning krävs."),
        StatusCode::FORBIDDEN => (
            "forbidden",
            "Åtgärden är inte tillåten för dig",
            "Din roll eller enhet får inte göra detta.",
        ),
        StatusCode::REQUEST_TIMEOUT
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => (
            "service_unavailable",
            "Tjänsten är tillfälligt otillgänglig",
            "Tjänsten kan inte svara just nu. Försök igen om en stund.",
        ),
        s if s.is_server_error() => (
            "internal_error",
            "Något gick fel hos oss",
            "Ett oväntat fel inträffade. Felet är loggat; försök igen eller kontakta support.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "unprocessable",
            "Uppgifterna bryter mot en regel",
            "Uppgifterna kunde inte behandlas.",
        ),
        _ => (
            "bad_request",
            "Felaktig begäran",
            "Begäran kunde inte tolkas.",
        ),
    };
    let mut replaced = problem_response(&Problem {
        kind: format!("urn:samplan:problem:{code}"),
        title: title.into(),
        status: status.as_u16(),
        detail: detail.into(),
        code: code.into(),
        current_version: None,
    });
    // Keep headers that matter to the client (Allow on 405, WWW-Authenticate, request id).
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, REQUEST_ID_HEADER] {
        if let Some(v) = response.headers().get(&name) {
            replaced.headers_mut().insert(name, v.clone());
        }
    }
    replaced
}

/// A browser asking for a page outside `/api/` gets an error as an HTML page, not as the problem
/// document an API client gets: a refusal made before any page handler ran (a body too large, a
/// form of the wrong type, a query that does not parse, a method the address does not take) is
/// shown in the pages' words, with the way back. The status and the headers that matter stay.
async fn pages_for_browsers(req: Request, next: Next) -> Response {
    let html = crate::web::wants_html(&req);
    let response = next.run(req).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !html || !is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return crate::web::error_page(status, "Något gick fel", "Begäran kunde inte besvaras.");
    };
    let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |key: &str, otherwise: &str| {
        problem[key]
            .as_str()
            .map_or_else(|| otherwise.to_owned(), str::to_owned)
    };
    let (title, detail) = if status == StatusCode::PAYLOAD_TOO_LARGE {
        // Said to someone who typed too much into a form, not to a client that sent a body.
        (
            "Texten är för lång".to_owned(),
            "Det du skickade var för långt för att tas emot, och inget sparades. Gå tillbaka med \
             webbläsarens bakåtknapp: texten finns kvar där. Korta den, eller dela upp den på \
             flera delar."
                .to_owned(),
        )
    } else {
        (
            text("title", "Något gick fel"),
            text("detail", "Begäran kunde inte besvaras."),
        )
    };
    let mut page = crate::web::error_page(status, &title, &detail);
    for name in [
        header::ALLOW,
        header::WWW_AUTHENTICATE,
        header::RETRY_AFTER,
        REQUEST_ID_HEADER,
    ] {
        if let Some(v) = parts.headers.get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

/// The process-wide Prometheus recorder; installed on first use (metrics are global, and tests
/// start many applications in one process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            // Histograms are drained into their buckets by upkeep; keep it going in the
            // background so that /metrics stays cheap.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .ok();
            handle
        })
        .clone()
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("embedded services: {0}")]
    Embedded(#[from] EmbeddedError),
    #[error("token key: {0}")]
    Key(#[from] KeyError),
    #[error("migrations on {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: AppError,
    },
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("demo data: {0}")]
    Demo(AppError),
    #[error("stopped on a failure: {0}")]
    Serve(std::io::Error),
}

/// The databases and message broker a process uses, started if embedded.
pub struct Services {
    pub database_url: String,
    pub admin_database_url: String,
    /// The TLS files for both connection strings (none for the embedded PostgreSQL).
    pub database_tls: eventstore::DatabaseTls,
    pub nats_url: Option<String>,
    /// The token of the embedded nats-server, which every connection presents.
    pub nats_token: Option<String>,
    pub embedded: Embedded,
}

impl Services {
    /// Starts the embedded PostgreSQL and nats-server where nothing is configured.
    /// `with_nats: false` skips NATS (migrations and the token command do not need it).
    pub async fn start(config: &Config, with_nats: bool) -> Result<Services, StartError> {
        let mut embedded = Embedded::default();
        let embeds_nats = with_nats && config.nats_url.is_none();
        let kept_by = if config.database_url.is_none() || embeds_nats {
            Keeper::other(&config.data_dir)
        } else {
            None
        };
        match kept_by {
            // `serve` would start its own services there and stop them when it stops: refused.
            Some(pid) if with_nats => {
                return Err(EmbeddedError::InUse {
                    pid,
                    dir: config.data_dir.display().to_string(),
                }
                .into())
            }
            Some(_) => {}
            None if config.database_url.is_none() || embeds_nats => {
                embedded.keeper = Some(Keeper::claim(&config.data_dir)?);
            }
            None => {}
        }
        let (database_url, admin_database_url) = match (&config.database_url, kept_by) {
            (Some(url), _) => (
                url.clone(),
                config
                    .database_admin_url
                    .clone()
                    .unwrap_or_else(|| url.clone()),
            ),
            // A command run beside the service uses its PostgreSQL and leaves it running.
            (None, Some(pid)) => {
                tracing::info!(
                    pid,
                    "using the embedded PostgreSQL of the samplan running on this data directory"
                );
                EmbeddedPostgres::urls_for(&config.data_dir)?
            }
            (None, None) => {
                match EmbeddedPostgres::start(&config.data_dir, config.auto_install).await {
                    Ok(pg) => {
                        let urls = (pg.database_url(), pg.admin_database_url());
                        embedded.postgres = Some(pg);
                        urls
                    }
                    Err(e) => {
                        embedded.stop().await;
                        return Err(e.into());
                    }
                }
            }
        };
        let mut nats_token = None;
        let nats_url = match (&config.nats_url, with_nats) {
            (Some(url), _) => Some(url.clone()),
            (None, false) => None,
            (None, true) => {
                match EmbeddedNats::start(&config.data_dir, config.auto_install).await {
                    Ok(nats) => {
                        let url = nats.url().to_string();
                        nats_token = Some(nats.token().to_owned());
                        embedded.nats = Some(nats);
                        Some(url)
                    }
                    Err(e) => {
                        embedded.stop().await;
                        return Err(e.into());
                    }
                }
            }
        };
        Ok(Services {
            database_url,
            admin_database_url,
            database_tls: config.database_tls.clone(),
            nats_url,
            nats_token,
            embedded,
        })
    }
}

/// Which parts of samplan run in a process (`samplan serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The HTTP API (and the fact cache it consults). Without it only `/healthz`, `/readyz`
    /// and `/metrics` are served.
    pub api: bool,
    /// The relay from the event store to NATS JetStream.
    pub relay: bool,
    /// The projectors that keep the read models current.
    pub projectors: bool,
}

impl Roles {
    /// Everything in one process: the embedded default.
    pub const ALL: Roles = Roles {
        api: true,
        relay: true,
        projectors: true,
    };
    /// Only the HTTP API.
    pub const GATEWAY: Roles = Roles {
        api: true,
        relay: false,
        projectors: false,
    };
    /// Only the relay.
    pub const RELAY: Roles = Roles {
        api: false,
        relay: true,
        projectors: false,
    };
    /// Only the projectors.
    pub const PROJECTOR: Roles = Roles {
        api: false,
        relay: false,
        projectors: true,
    };
}

/// A built service, ready to run: ports bound, database migrated.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    embedded: Embedded,
    config: Config,
    roles: Roles,
    /// The owner role's connection string (migrations; projectors rebuild with it).
    admin_database_url: String,
    /// Started with `--demo` (the web's demo sign-in).
    demo: bool,
}

impl Application {
    /// Builds the service from `config` with the system clock.
    pub async fn build(config: Config) -> Result<Application, StartError> {
        Application::build_with_clock(config, Clock::System).await
    }

    /// Builds the service with the given clock (tests pin time).
    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<Application, StartError> {
        // An address already taken is found before the embedded services are set up and started
        // for nothing (an operator review saw PostgreSQL and NATS start, then stop again).
        if config.listen.port() != 0 {
            std::net::TcpListener::bind(config.listen).map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        }
        let services = Services::start(&config, true).await?;
        let embedded_db = services.embedded.postgres.is_some();
        match Application::build_on(config, clock, &services).await {
            Ok((listener, state, config)) => {
                if embedded_db {
                    announce(&config, listener.local_addr().ok());
                }
                Ok(Application {
                    listener,
                    state,
                    embedded: services.embedded,
                    config,
                    roles: Roles::ALL,
                    admin_database_url: services.admin_database_url,
                    demo: false,
                })
            }
            Err(e) => {
                // Leave nothing running behind a failed start.
                services.embedded.stop().await;
                Err(e)
            }
        }
    }

    async fn build_on(
        mut config: Config,
        clock: Clock,
        services: &Services,
    ) -> Result<(TcpListener, AppState, Config), StartError> {
        if let Some(token) = &services.nats_token {
            config.events.auth.credentials = projections::NatsCredentials::Token(token.clone());
        }
        migrate_all(&services.admin_database_url, &services.database_tls)
            .await
            .map_err(|source| StartError::Migrate {
                url: redact_url(&services.admin_database_url),
                source,
            })?;
        let state = build_state(
            &config,
            &services.database_url,
            services.nats_url.clone(),
            clock,
        )
        .await?;
        // This month's and the next months' partitions of the access log, before the first read.
        crate::access_log::ensure_partitions(&state)
            .await
            .map_err(|source| StartError::Migrate {
                url: redact_url(&services.admin_database_url),
                source,
            })?;
        warn_if_autovacuum_off(&state).await;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok((listener, state, config))
    }

    /// Where the server listens (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// The shared state (demo loading, tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs only `roles` in this process (`samplan serve --role …`); the default is all.
    pub fn with_roles(mut self, roles: Roles) -> Application {
        self.roles = roles;
        self
    }

    /// Serves the demo's data (`samplan serve --demo`): the web may offer the demo's people at
    /// sign-in (`web::WebConfig::from_env`).
    pub fn with_demo(mut self, demo: bool) -> Application {
        self.demo = demo;
        self
    }

    /// Serves until `shutdown` is cancelled, or until a task stops by itself (which then stops
    /// the others). In-flight requests get `shutdown_drain_ms` to finish; then the embedded
    /// services are stopped.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartError> {
        let Application {
            listener,
            state,
            embedded,
            config,
            roles,
            admin_database_url,
            demo,
        } = self;
        let drain = Duration::from_millis(config.shutdown_drain_ms);
        let mut tasks: JoinSet<(&'static str, Result<(), String>)> = JoinSet::new();
        // The embedded services are watched while the process serves, and started again if they
        // stop; the watch hands them back to be stopped at the end.
        let watch_stop = shutdown.child_token();
        let watch = tokio::spawn(async move {
            let mut embedded = embedded;
            loop {
                tokio::select! {
                    () = watch_stop.cancelled() => break,
                    () = tokio::time::sleep(Embedded::WATCH_INTERVAL) => embedded.keep_running().await,
                }
            }
            embedded
        });

        let app = if roles.api {
            router_for(state.clone(), demo)
        } else {
            ops_router(state.clone())
        };
        if let Ok(addr) = listener.local_addr() {
            // Which region's deadlines are counted: the demo's data is Norrbotten's, the default
            // profile Stockholm's (SAMPLAN_POLICY).
            tracing::info!(%addr, policy = %config.policy, "listening");
        }
        // On a stop signal `/readyz` says 503 at once; the server accepts on for
        // `shutdown_delay_ms`, so that a load balancer takes it out before connections are
        // refused, and then drains.
        let server_stop = CancellationToken::new();
        let delay = Duration::from_millis(config.shutdown_delay_ms);
        tokio::spawn({
            let (shutdown, server_stop, stopping) = (
                shutdown.clone(),
                server_stop.clone(),
                state.stopping.clone(),
            );
            async move {
                shutdown.cancelled().await;
                stopping.store(true, std::sync::atomic::Ordering::Release);
                if !delay.is_zero() {
                    tracing::info!(
                        delay_ms = delay.as_millis() as u64,
                        "stopping: not ready any more, serving on until the load balancer has noticed"
                    );
                    tokio::time::sleep(delay).await;
                }
                server_stop.cancel();
            }
        });
        let header_read_timeout = Duration::from_millis(state.limits.header_read_timeout_ms);
        tasks.spawn(async move {
            let result = crate::serve::serve(listener, app, server_stop, header_read_timeout).await;
            ("http", result.map_err(|e| e.to_string()))
        });
        // The fact cache follows the store while the API serves; when it stops, commands read
        // facts from the store, so its end is not a failure of the service.
        let facts = roles.api.then(|| {
            tokio::spawn(
                state
                    .facts
                    .clone()
                    .follow(state.store.clone(), shutdown.child_token()),
            )
        });
        if roles.api {
            tokio::spawn(warn_if_another_policy(state.clone(), config.policy.clone()));
            tokio::spawn(crate::web::revocations::follow(
                state.clone(),
                shutdown.child_token(),
            ));
            tokio::spawn(crate::access_log::keep_partitions(
                state.clone(),
                shutdown.child_token(),
            ));
        }
        // The inbox's doorbell: rung by the projector, heard by the API's live pushes.
        let doorbell = match &state.nats_url {
            Some(url) if roles.api || roles.projectors => {
                match projections::nats_client(url, &config.events.auth).await {
                    Ok(client) => Some((client, config.events.doorbell_subject.clone())),
                    Err(e) => {
                        tracing::warn!(error = %e, "no NATS for live pushes; gateways look at the tables instead");
                        None
                    }
                }
            }
            _ => None,
        };
        if roles.api {
            tokio::spawn(state.live.clone().run(
                state.store.pool().clone(),
                doorbell.clone(),
                shutdown.child_token(),
            ));
        }
        if roles.projectors {
            let store = state.store.clone();
            let cancel = shutdown.child_token();
            let settings = projections::Settings {
                policy: state.policy.for_municipality(None).clone(),
                doorbell: doorbell.clone(),
                admin_url: Some(admin_database_url.clone()),
            };
            tasks.spawn(async move {
                let result = projections::run_all(store, &settings, cancel).await;
                ("projectors", result.map_err(|e| e.to_string()))
            });
        }
        match (&state.nats_url, roles.relay) {
            (Some(nats_url), true) => {
                let (store, cancel) = (state.store.clone(), shutdown.child_token());
                let relay_config = config.events.relay(nats_url);
                tasks.spawn(async move {
                    let result = projections::relay::run(store, relay_config, cancel).await;
                    ("relay", result.map_err(|e| e.to_string()))
                });
            }
            (None, true) => tracing::warn!("no NATS configured: the relay does not run"),
            (_, false) => {}
        }

        let mut failure = None;
        // The first task to end, unless a stop was asked for, is a failure: say which and why,
        // then stop the others.
        // `biased`: when the stop signal and a task's end are both ready, the signal wins. A task
        // that ends because it saw the cancellation first (the projector does at once) is then
        // an ordinary stop, not a failure that would make the process exit non-zero.
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                tracing::info!(drain_ms = config.shutdown_drain_ms, "stopping: draining in-flight requests");
            }
            Some(ended) = tasks.join_next() => {
                let (task, result) = named(ended);
                if shutdown.is_cancelled() {
                    // The stop was asked for between the poll of the signal and this task's end.
                    match result {
                        Ok(()) => tracing::info!(task, "stopped"),
                        Err(e) => tracing::warn!(task, error = %e, "stopped with an error"),
                    }
                } else {
                    tracing::error!(task, result = ?result, "a task stopped by itself; shutting down");
                    failure = Some(format!("{task} stopped: {}", result.err().unwrap_or_else(|| "without error".into())));
                    shutdown.cancel();
                }
            }
        }
        let deadline = tokio::time::Instant::now() + delay + drain;
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(ended)) => {
                    let (task, result) = named(ended);
                    match result {
                        Ok(()) => tracing::info!(task, "stopped"),
                        Err(e) => tracing::warn!(task, error = %e, "stopped with an error"),
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        drain_ms = config.shutdown_drain_ms,
                        remaining = tasks.len(),
                        "tasks still running after the drain time; aborting them"
                    );
                    tasks.shutdown().await;
                    break;
                }
            }
        }
        if let Some(facts) = facts {
            facts.abort();
        }
        // Close our connections before the embedded PostgreSQL goes, so that its fast
        // shutdown does not show up as connection errors.
        state.store.pool().close();
        drop(state);
        match watch.await {
            Ok(embedded) => embedded.stop().await,
            Err(e) => {
                tracing::error!(error = %e, "the watch over the embedded services ended abnormally")
            }
        }
        match failure {
            None => {
                tracing::info!("samplan stopped");
                Ok(())
            }
            Some(why) => Err(StartError::Serve(std::io::Error::other(why))),
        }
    }
}

fn named(
    ended: Result<(&'static str, Result<(), String>), tokio::task::JoinError>,
) -> (&'static str, Result<(), String>) {
    match ended {
        Ok(pair) => pair,
        Err(e) => ("(panicked task)", Err(e.to_string())),
    }
}

/// How often a JWKS file (`SAMPLAN_JWT_JWKS_FILE`) is read again for new or removed keys.
const JWKS_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// Reads the JWKS file again every [`JWKS_RELOAD_INTERVAL`] while the verifier is in use, so an
/// identity provider's key rotation needs no restart (a mounted Secret or ConfigMap is updated
/// in place). A file that cannot be used is logged and the keys in force stay.
async fn reload_jwks(verifier: std::sync::Weak<crate::auth::Verifier>) {
    let mut every = tokio::time::interval(JWKS_RELOAD_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        let Some(verifier) = verifier.upgrade() else {
            return;
        };
        match verifier.reload() {
            Ok(true) => tracing::info!("JWKS file changed: its keys are in force now"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "JWKS file not reloaded; the keys in force stay"),
        }
    }
}

/// Reads and parses the token keys a deployment names (`SAMPLAN_JWT_PUBLIC_KEY`,
/// `SAMPLAN_JWT_JWKS_FILE`), as every command does first: a key file that is missing or does
/// not parse stops any command with exit status 2, before anything is started (an operator
/// review had `migrate` succeed with a JWKS file that did not exist, and `serve` refuse it only
/// after setting up the embedded database).
pub fn check_token_key(config: &Config) -> Result<(), StartError> {
    let (issuer, audience) = (&config.jwt_issuer, &config.jwt_audience);
    match &config.jwt_key {
        JwtKey::PublicKeyPem(pem) => {
            Verifier::public_key_pem(pem, issuer, audience, Clock::System)?;
        }
        JwtKey::JwksFile(path) => {
            Verifier::jwks_file(path, issuer, audience, Clock::System)?;
        }
        JwtKey::Secret(_) | JwtKey::Development | JwtKey::Missing => {}
    }
    Ok(())
}

/// Builds the shared state: store pool, verifier, policy.
pub async fn build_state(
    config: &Config,
    database_url: &str,
    nats_url: Option<String>,
    clock: Clock,
) -> Result<AppState, StartError> {
    let verifier = match &config.jwt_key {
        JwtKey::Secret(secret) => {
            let mut secrets = vec![secret.as_str()];
            secrets.extend(config.jwt_secret_previous.iter().map(|p| p.0.as_str()));
            Verifier::hs256_secrets(
                &secrets,
                &config.jwt_issuer,
                &config.jwt_audience,
                clock.clone(),
            )
        }
        JwtKey::PublicKeyPem(pem) => {
            Verifier::public_key_pem(pem, &config.jwt_issuer, &config.jwt_audience, clock.clone())?
        }
        JwtKey::JwksFile(path) => Verifier::jwks_file(
            path,
            &config.jwt_issuer,
            &config.jwt_audience,
            clock.clone(),
        )?,
        JwtKey::Development => {
            let secret = development_secret(&config.data_dir)?;
            tracing::warn!(
                "DEVELOPMENT MODE: tokens are checked with a development secret kept in {}; \
                 set SAMPLAN_JWT_SECRET or SAMPLAN_JWT_PUBLIC_KEY for real use",
                crate::auth::development_secret_path(&config.data_dir).display()
            );
            Verifier::hs256(
                &secret,
                &config.jwt_issuer,
                &config.jwt_audience,
                clock.clone(),
            )
        }
        JwtKey::Missing => return Err(crate::config::ConfigError::key_missing().into()),
    };
    let profile = PolicyProfile::by_name(&config.policy).map_err(|e| {
        StartError::Config(crate::config::ConfigError::Invalid {
            var: "SAMPLAN_POLICY",
            value: config.policy.clone(),
            expected: e.message(),
        })
    })?;
    let mut store_config = StoreConfig::new(database_url);
    store_config.pool_size_max = config.db_pool_size;
    store_config.append_concurrency = config.append_concurrency;
    store_config.tls = config.database_tls.clone();
    let store = EventStore::connect(store_config).await?;
    let access_log = crate::access_log::Writer::start(store.pool());
    let verifier = Arc::new(verifier);
    if matches!(config.jwt_key, JwtKey::JwksFile(_)) {
        tokio::spawn(reload_jwks(Arc::downgrade(&verifier)));
    }
    Ok(AppState {
        access_log,
        store,
        verifier,
        policy: Arc::new(PolicySet::new(profile)),
        clock,
        limits: config.limits.clone(),
        metrics: metrics_handle(),
        nats_url,
        facts: FactCache::default(),
        turns: StreamTurns::default(),
        ready_lag_ms_max: config.ready_lag_ms_max,
        keys: Keys::default(),
        live: Default::default(),
        young_teens: config.young_teen_access,
        stopping: Default::default(),
    })
}

/// Warns when the inbox was built under another policy profile than this process decides
/// commands by: every process of a deployment must have the same `SAMPLAN_POLICY`, or the
/// gateway enforces one region's deadlines while staff read another's due times. Only a
/// warning: during a change of profile the processes differ for a while (the projector rebuilds
/// the inbox, ADR 0034).
async fn warn_if_another_policy(state: AppState, policy: String) {
    let Ok(client) = state.store.pool().get().await else {
        return;
    };
    let built_by: Option<String> = match client
        .query_opt(
            "SELECT built_by FROM projections.checkpoints WHERE projection = $1",
            &[&projections::inbox::PROJECTION],
        )
        .await
    {
        Ok(row) => row.and_then(|r| r.get(0)),
        Err(_) => return,
    };
    let Some(built_by) = built_by else { return };
    let inbox_policy = built_by
        .split(';')
        .find_map(|part| part.trim().strip_prefix("policy "))
        .map(str::trim);
    if let Some(inbox_policy) = inbox_policy.filter(|p| !p.eq_ignore_ascii_case(&policy)) {
        tracing::warn!(
            policy = %policy,
            inbox_policy,
            "this process decides commands by another policy profile than the inbox was built \
             with: give every process the same SAMPLAN_POLICY"
        );
    }
}

/// Tells the person who typed `samplan serve` where to go and how to get a token.
fn announce(config: &Config, addr: Option<SocketAddr>) {
    let addr = addr.unwrap_or(config.listen);
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = if addr.is_ipv6() {
        format!("http://[{host}]:{}/", addr.port())
    } else {
        format!("http://{host}:{}/", addr.port())
    };
    let data_dir = config.data_dir.display().to_string();
    let env = if data_dir == crate::config::defaults::DATA_DIR {
        String::new()
    } else {
        format!("SAMPLAN_DATA_DIR={data_dir} ")
    };
    tracing::info!(
        "samplan is ready: open {url} in a browser to sign in; API at {url}api/v1 (described by \
         {url}api/v1/openapi.json)"
    );
    tracing::info!(
        "get a token with: {env}samplan token --role admin --sub admin --name Administratör   \
         (staff: {env}samplan token --role staff --sub SE2321000016-A1B2 --unit <unit-id> --name \"…\")"
    );
}

/// Cancels `token` on Ctrl-C or SIGTERM, saying which arrived.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "stop requested"),
        () = term => tracing::info!(signal = "SIGTERM", "stop requested"),
        () = token.cancelled() => return,
    }
    token.cancel();
}
