//! Black-box test support (feature `testing`): [`TestApp::spawn`] gives each test a fresh
//! database, a random token secret, a pinned clock and the real service listening on a free
//! loopback port; tests talk HTTP to it like any client.
//!
//! ```ignore
//! let app = gateway::testing::TestApp::spawn().await;
//! let admin = app.admin_token();
//! let (status, _headers, body) = app.post("/api/v1/units", &admin, &serde_json::json!({ … })).await;
//! ```

use crate::app::{Application, Roles};
use crate::auth::{random_hex, Signer};
use crate::clock::Clock;
use crate::config::{Config, EventsConfig, JwtKey};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use eventstore::testing::TestDatabase;
use eventstore::EventStore;
use serde_json::Value;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// Where the test clock starts: Tuesday 10 March 2026, 09:00 in Stockholm (08:00 UTC), an
/// ordinary working day far from holidays.
pub const TEST_NOW: &str = "2026-03-10T08:00:00Z";

/// The kind of key pair [`key_pair`] makes: as an identity provider signs tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, 2048 bits: RS256.
    Rs256,
    /// EC P-256: ES256.
    Es256,
}

/// A key pair made by the `openssl` command line for this run, as PEM (private, public). It
/// passes through a temporary directory that is removed again: nothing is kept, nothing is
/// written to the repository.
pub fn key_pair(kind: KeyKind) -> (String, String) {
    let dir = std::env::temp_dir().join(format!(
        "samplan-key-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let private = dir.join("private.pem");
    let path = private.to_str().expect("utf-8 path");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl command line tool makes the key pair");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("PEM")
    };
    let algorithm: &[&str] = match kind {
        KeyKind::Rs256 => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        KeyKind::Es256 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    openssl(&[&["genpkey"], algorithm, &["-out", path]].concat());
    let public = openssl(&["pkey", "-in", path, "-pubout"]);
    let private = std::fs::read_to_string(&private).expect("private key");
    let _ = std::fs::remove_dir_all(&dir);
    (private, public)
}

/// The form token (CSRF) on a web page, as a browser would send it back with the form.
pub fn csrf_on_page(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\"")?;
    let rest = &html[at..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let end = rest[value..].find('"')?;
    Some(rest[value..value + end].to_owned())
}

/// The NATS server tests may use: `SAMPLAN_TEST_NATS_URL`, default the local one.
pub fn test_nats_url() -> String {
    std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A JetStream stream of one test's own: a unique name and subject prefix (tests share one NATS
/// server), kept in memory.
pub fn test_events_config() -> EventsConfig {
    let id = ulid::Ulid::generate().to_string().to_lowercase();
    EventsConfig {
        stream: format!("SAMPLAN_TEST_{id}"),
        subject_prefix: format!("samplan-test.{id}"),
        replicas: 1,
        memory_storage: true,
        max_age_days: 1,
        duplicate_window_ms: 120_000,
        doorbell_subject: format!("samplan-test.{id}-inbox"),
        auth: projections::NatsAuth::default(),
    }
}

/// A running service on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    /// A client without timeouts of its own beyond 30 s.
    pub client: reqwest::Client,
    /// The service's event store (same pool), for looking behind the API.
    pub store: EventStore,
    /// The service's shared state.
    pub state: AppState,
    /// The service's clock: `app.clock.set(…)` moves time for the running service.
    pub clock: Clock,
    /// The test's database; dropped (with the app) at the end of the test.
    pub db: TestDatabase,
    /// The JetStream stream the relay publishes to (when it runs).
    pub events: EventsConfig,
    secret: String,
    shutdown: CancellationToken,
}

impl TestApp {
    /// Starts the service with the defaults of tests.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts the service after `configure` has adjusted the configuration (limits, policy, …),
    /// with the HTTP API and the projectors but no relay (tests of the relay use
    /// [`TestApp::spawn_with_relay`]). Panics with the reason when anything fails: this is for
    /// tests.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::spawn_roles(
            Roles {
                relay: false,
                ..Roles::ALL
            },
            configure,
        )
        .await
    }

    /// Starts every part, the relay included, publishing to a JetStream stream of this test's
    /// own (in memory, on the test NATS server), named in `self.events`.
    pub async fn spawn_with_relay(configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::spawn_roles(Roles::ALL, |config| {
            config.events = test_events_config();
            configure(config);
        })
        .await
    }

    /// Starts `roles` after `configure` has adjusted the configuration.
    pub async fn spawn_roles(roles: Roles, configure: impl FnOnce(&mut Config)) -> TestApp {
        crate::telemetry::init_for_tests();
        let db = TestDatabase::create()
            .await
            .unwrap_or_else(|e| panic!("creating the test database failed (is PostgreSQL running? SAMPLAN_TEST_DATABASE_URL): {e}"));
        let secret = random_hex(32).expect("reading /dev/urandom");
        let mut config = Config::from_lookup(|_| None).expect("the default configuration is valid");
        config.listen = "127.0.0.1:0".parse().expect("valid address");
        config.database_url = Some(db.app_url.clone());
        config.database_admin_url = Some(db.admin_url.clone());
        config.nats_url = Some(test_nats_url());
        config.jwt_key = JwtKey::Secret(secret.clone());
        config.shutdown_drain_ms = 2_000;
        // Tests share one NATS server: each app rings and hears its own inbox doorbell.
        config.events.doorbell_subject = format!(
            "samplan-test.{}-inbox",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        configure(&mut config);

        let start: DateTime<Utc> = TEST_NOW.parse().expect("valid time");
        let clock = Clock::fixed(start);
        let events = config.events.clone();
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("starting the service failed: {e}"))
            .with_roles(roles);
        let addr = app.local_addr();
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone()));
        TestApp {
            base_url: format!("http://{addr}"),
            addr,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("building the HTTP client"),
            store: state.store.clone(),
            state,
            clock,
            db,
            events,
            secret,
            shutdown,
        }
    }

    /// Waits until read model `projection` has caught up with the store, rebuilds it from the
    /// whole store (under the app's policy) and asserts every row equals what the live runner
    /// had built. Returns how many rows were compared, so a test can tell it compared something.
    pub async fn assert_rebuild_equals_live(&self, projection: &str) -> usize {
        let head = self.store.head_position().await.expect("head");
        projections::runner::applied(self.store.pool(), projection, head, 10_000)
            .await
            .expect("the read model caught up");
        let schema = projection;
        let live = projections::runner::dump(self.store.pool(), schema)
            .await
            .expect("dump");
        let settings = projections::Settings::new(self.state.policy.for_municipality(None).clone());
        projections::rebuild(&self.store, &self.db.admin_url, projection, &settings)
            .await
            .expect("rebuild")
            .expect("a read model of that name");
        let rebuilt = projections::runner::dump(self.store.pool(), schema)
            .await
            .expect("dump");
        assert_eq!(
            rebuilt, live,
            "{projection}: the rebuild differs from the live tables"
        );
        live.len()
    }

    /// A transaction that appended an event and is left open, as an operator's `BEGIN` at a
    /// console: its position may still commit, so whatever needs a settled position waits for it
    /// until the caller runs `ROLLBACK` (or `COMMIT`) on the connection returned.
    pub async fn leave_an_append_open(&self) -> deadpool_postgres::Object {
        let open = self.store.pool().get().await.expect("a connection");
        open.batch_execute(
            "BEGIN; SELECT samplan_append('left-open', 'any', NULL, \
             ARRAY['01ARZ3NDEKTSV4RRFFQ69G5FAV'], ARRAY['Noted'], ARRAY[1], ARRAY['{}'::jsonb], \
             ARRAY['operator'], ARRAY[NULL::text], ARRAY['staff'], ARRAY[NULL::text], \
             ARRAY[NULL::text], ARRAY[NULL::text], NULL, NULL)",
        )
        .await
        .expect("an append left open");
        open
    }

    /// The token secret of this app (to sign odd tokens with [`crate::auth::mint_token`]).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// A token for any role, issued now by the app's clock and valid for 8 hours.
    pub fn token(&self, role: &str, sub: &str, unit: Option<&str>, name: &str) -> String {
        Signer::hs256(&self.secret, "samplan", "samplan").sign(
            sub,
            role,
            unit,
            name,
            self.clock.now(),
            Duration::hours(8),
        )
    }

    /// A staff member's token for `unit`.
    pub fn staff_token(&self, sub: &str, unit: &str) -> String {
        self.token("staff", sub, Some(unit), "Testperson Personal")
    }

    /// An administrator's token.
    pub fn admin_token(&self) -> String {
        self.token("admin", "admin", None, "Administratör")
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `POST path` with a bearer token and a JSON body.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        json: &Value,
    ) -> (StatusCode, HeaderMap, Value) {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(json),
        )
        .await
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, HeaderMap, Value) {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// `GET path` as a browser signed in with `token` (the session cookie) asks for a page: the
    /// status and the HTML.
    pub async fn page(&self, path: &str, token: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .header("cookie", format!("samplan_session={token}"))
            .header("accept", "text/html")
            .send()
            .await
            .expect("the request reached the service");
        let status = response.status();
        (status, response.text().await.expect("reading the page"))
    }

    /// Sends any request; the body comes back as JSON, or as a JSON string when it is not JSON.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
        let response = request
            .send()
            .await
            .expect("the request reached the service");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("reading the response body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, headers, body)
    }
}

/// What a browser got: the status, where a redirect leads (empty when none), and the body.
#[derive(Debug)]
pub struct WebAnswer {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
}

impl TestApp {
    /// `GET path` for a page, as a browser sends it with `cookie`; a redirect is shown, not
    /// followed.
    pub async fn browser_get(&self, path: &str, cookie: &str) -> WebAnswer {
        web_answer(
            browser_client()
                .get(self.url(path))
                .header("cookie", cookie)
                .header("accept", "text/html"),
        )
        .await
    }

    /// A form posted to `path`, as a browser sends it with `cookie`.
    pub async fn browser_post(
        &self,
        path: &str,
        cookie: &str,
        form: &(impl serde::Serialize + ?Sized),
    ) -> WebAnswer {
        web_answer(
            browser_client()
                .post(self.url(path))
                .header("cookie", cookie)
                .header("accept", "text/html")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(form).expect("a form")),
        )
        .await
    }
}

/// A client as a browser's: redirects are shown, not followed.
fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("a client")
}

async fn web_answer(request: reqwest::RequestBuilder) -> WebAnswer {
    let response = request
        .send()
        .await
        .expect("the request reached the service");
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.expect("reading the body");
    WebAnswer {
        status,
        location,
        body,
    }
}

impl TestApp {
    /// Asks the service to stop as SIGTERM would: in-flight requests finish, new ones are refused.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
