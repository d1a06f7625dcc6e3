//! Configuration from the environment: every `SAMPLAN_*` variable of docs/configuration.md,
//! parsed once at start-up into a typed [`Config`]. A bad value stops the process with a message
//! naming the variable and what would be valid, instead of surfacing later as a confusing
//! failure.

use crate::state::Limits;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A setting that is on, off, or left to samplan to judge (`auto`, the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Auto,
    On,
    Off,
}

/// The [`Switch`] `var` holds: `auto`, `on`/`1`/`true` or `off`/`0`/`false`, any case; unset or
/// empty is `auto`; anything else is refused (it would silently mean `auto`).
fn switch(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<Switch, ConfigError> {
    let Some(value) = get(var) else {
        return Ok(Switch::Auto);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => Ok(Switch::Auto),
        "on" | "1" | "true" => Ok(Switch::On),
        "off" | "0" | "false" => Ok(Switch::Off),
        _ => Err(ConfigError::Invalid {
            var,
            value,
            expected: "auto, on (or 1, true) or off (or 0, false)".into(),
        }),
    }
}

/// Where the tokens' verification key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// `SAMPLAN_JWT_SECRET`: a shared HS256 secret.
    Secret(String),
    /// `SAMPLAN_JWT_PUBLIC_KEY`: one or more PEM public keys (RS256 or ES256).
    PublicKeyPem(String),
    /// `SAMPLAN_JWT_JWKS_FILE`: a JSON Web Key Set file of RS256/ES256 public keys, selected by
    /// the token's `kid` where the keys have ids.
    JwksFile(PathBuf),
    /// Nothing configured, with the embedded database: a development secret kept in the data
    /// directory is used (see [`crate::auth::development_secret`]).
    Development,
    /// Nothing configured, with an external database: fine for commands that check no token
    /// (`samplan migrate`); [`Config::verification_key`] refuses it for those that do.
    Missing,
}

impl std::fmt::Debug for JwtKey {
    // Never print key material, not even in debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKey::Secret(_) => f.write_str("JwtKey::Secret(..)"),
            JwtKey::PublicKeyPem(_) => f.write_str("JwtKey::PublicKeyPem(..)"),
            JwtKey::JwksFile(path) => write!(f, "JwtKey::JwksFile({path:?})"),
            JwtKey::Development => f.write_str("JwtKey::Development"),
            JwtKey::Missing => f.write_str("JwtKey::Missing"),
        }
    }
}

/// A secret that is never printed, not even by `{:?}`: `SAMPLAN_JWT_SECRET_PREVIOUS`.
#[derive(Clone, PartialEq, Eq)]
pub struct HiddenSecret(pub String);

impl std::fmt::Debug for HiddenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HiddenSecret(..)")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (`SAMPLAN_LOG_FORMAT=json`).
    Json,
}

/// The whole configuration of a `samplan` process.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SAMPLAN_LISTEN`: where the HTTP server listens (port 0 picks a free port).
    pub listen: SocketAddr,
    /// `SAMPLAN_DATABASE_URL`; `None` means the embedded PostgreSQL under `data_dir`.
    pub database_url: Option<String>,
    /// `SAMPLAN_DATABASE_ADMIN_URL`: the role that runs migrations; defaults to `database_url`.
    pub database_admin_url: Option<String>,
    /// `SAMPLAN_DATABASE_TLS_CA`, `SAMPLAN_DATABASE_TLS_CERT`, `SAMPLAN_DATABASE_TLS_KEY`: the
    /// TLS files of every connection to the external database; whether TLS is used is each
    /// connection string's `sslmode` (ADR 0024).
    pub database_tls: eventstore::DatabaseTls,
    /// `SAMPLAN_NATS_URL`; `None` means the embedded nats-server under `data_dir`.
    pub nats_url: Option<String>,
    /// `SAMPLAN_DATA_DIR`: where the embedded services keep their data.
    pub data_dir: PathBuf,
    /// `SAMPLAN_JWT_SECRET` / `SAMPLAN_JWT_PUBLIC_KEY`.
    pub jwt_key: JwtKey,
    /// `SAMPLAN_JWT_SECRET_PREVIOUS`: the HS256 secret being retired, still accepted beside
    /// `SAMPLAN_JWT_SECRET` (which alone signs) until its tokens have expired.
    pub jwt_secret_previous: Option<HiddenSecret>,
    /// `SAMPLAN_JWT_ISSUER`: the required `iss` claim.
    pub jwt_issuer: String,
    /// `SAMPLAN_JWT_AUDIENCE`: the required `aud` claim.
    pub jwt_audience: String,
    /// `SAMPLAN_POLICY`: the deadline policy profile.
    pub policy: String,
    /// `SAMPLAN_LOG`: the log filter (`tracing_subscriber::EnvFilter` syntax).
    pub log: String,
    /// `SAMPLAN_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// Per-request limits (`SAMPLAN_BODY_BYTES_MAX`, `SAMPLAN_REQUEST_TIMEOUT_MS`,
    /// `SAMPLAN_WAIT_MS_MAX`, `SAMPLAN_CONFLICT_WAIT_MS_MAX`).
    pub limits: Limits,
    /// `SAMPLAN_DB_POOL_SIZE`: connections in the event store's pool.
    pub db_pool_size: usize,
    /// `SAMPLAN_APPEND_CONCURRENCY`: the most group-commit transactions in flight at once (ADR
    /// 0006, 0012: a second starts only when a full batch waits or the first has taken 5 ms);
    /// 0 writes every append in its own transaction.
    pub append_concurrency: usize,
    /// `SAMPLAN_WORKER_THREADS`: the async runtime's worker threads; unset, one per core the
    /// process may use (the standard library's count, which follows a container's CPU quota).
    pub worker_threads: Option<usize>,
    /// `SAMPLAN_SHUTDOWN_DRAIN_MS`: how long in-flight requests may run after a stop signal.
    pub shutdown_drain_ms: u64,
    /// `SAMPLAN_SHUTDOWN_DELAY_MS`: after a stop signal, how long the process goes on serving with
    /// `/readyz` answering 503, so that a load balancer stops sending to it before it stops
    /// accepting (0, the default, stops accepting at once).
    pub shutdown_delay_ms: u64,
    /// `SAMPLAN_AUTO_INSTALL`: whether a missing PostgreSQL or nats-server may be installed with
    /// apt-get when running as root: on by default and with `on`/`1`/`true`/`yes`, off with
    /// `off`/`0`/`false`/`no`; any other value is refused.
    pub auto_install: bool,
    /// `SAMPLAN_WEB_SECURE_COOKIES`: `Secure` and the `__Host-` prefix on the web's cookies
    /// (`web::session`); `Auto`: when a proxy says the request came over TLS.
    pub web_secure_cookies: Switch,
    /// `SAMPLAN_WEB_DEMO_SIGN_IN`: the web's sign-in page offers the demo's people
    /// (`web::session`); `Auto`: with `--demo` and the development key only.
    pub web_demo_sign_in: Switch,
    /// Where and how the relay publishes events (`SAMPLAN_NATS_*`).
    pub events: EventsConfig,
    /// `SAMPLAN_READY_LAG_MS_MAX`: `/readyz` answers 503 while a read model is further behind
    /// the store than this.
    pub ready_lag_ms_max: u64,
    /// `SAMPLAN_YOUNG_TEEN_ACCESS`: who reads the plans of a child of 13 to 15 on Min plan —
    /// `neither` (default, as 1177 Journalen), `guardians`, `child` or `both`.
    pub young_teen_access: domain::citizen::YoungTeenAccess,
}

/// The JetStream stream events are published to (docs/configuration.md, "Events on NATS").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// `SAMPLAN_NATS_STREAM`, default `SAMPLAN_EVENTS`.
    pub stream: String,
    /// `SAMPLAN_NATS_SUBJECT_PREFIX`, default `samplan.events`.
    pub subject_prefix: String,
    /// `SAMPLAN_NATS_REPLICAS`: copies of each message in a cluster, default 1 (3 in production).
    pub replicas: usize,
    /// `SAMPLAN_NATS_STORAGE`: `file` (default) or `memory`.
    pub memory_storage: bool,
    /// `SAMPLAN_NATS_MAX_AGE_DAYS`: how long messages are kept; 0 (default) keeps them.
    pub max_age_days: u64,
    /// `SAMPLAN_NATS_DUPLICATE_WINDOW_MS`: how long JetStream drops a repeated message id,
    /// default 120000.
    pub duplicate_window_ms: u64,
    /// `SAMPLAN_NATS_DOORBELL_SUBJECT`: the core NATS subject the inbox projection rings after
    /// each batch so that every gateway pushes the change, default `samplan.inbox.changed`.
    pub doorbell_subject: String,
    /// How every connection signs in to NATS and trusts its servers (`SAMPLAN_NATS_USER` and
    /// `SAMPLAN_NATS_PASSWORD`, `SAMPLAN_NATS_TOKEN`, `SAMPLAN_NATS_NKEY_SEED` or
    /// `SAMPLAN_NATS_CREDS`; `SAMPLAN_NATS_TLS_CA`, `SAMPLAN_NATS_TLS_CERT` and
    /// `SAMPLAN_NATS_TLS_KEY`).
    pub auth: projections::NatsAuth,
}

impl EventsConfig {
    /// The relay's configuration for the NATS server(s) at `nats_url`.
    pub fn relay(&self, nats_url: &str) -> projections::relay::RelayConfig {
        let mut relay = projections::relay::RelayConfig::new(nats_url);
        relay.stream = self.stream.clone();
        relay.subject_prefix = self.subject_prefix.clone();
        relay.replicas = self.replicas;
        relay.memory_storage = self.memory_storage;
        relay.max_age = std::time::Duration::from_secs(self.max_age_days * 86_400);
        relay.duplicate_window = std::time::Duration::from_millis(self.duplicate_window_ms);
        relay.auth = self.auth.clone();
        relay
    }
}

/// The TLS files of every PostgreSQL connection (`SAMPLAN_DATABASE_TLS_CA`, `_CERT`, `_KEY`):
/// only with an external database, and a client certificate needs its key.
fn database_tls(
    get: &impl Fn(&str) -> Option<String>,
    external: bool,
) -> Result<eventstore::DatabaseTls, ConfigError> {
    let path = |name: &str| get(name).map(|v| PathBuf::from(v.trim()));
    let tls = eventstore::DatabaseTls {
        ca: path("SAMPLAN_DATABASE_TLS_CA"),
        cert: path("SAMPLAN_DATABASE_TLS_CERT"),
        key: path("SAMPLAN_DATABASE_TLS_KEY"),
    };
    if let Some(var) = tls.set_variable() {
        if !external {
            return Err(ConfigError::Inconsistent(format!(
                "{var} is set but SAMPLAN_DATABASE_URL is not: the embedded PostgreSQL is reached \
                 over its Unix socket without TLS; set SAMPLAN_DATABASE_URL with sslmode=verify-full, \
                 or unset {var}"
            )));
        }
    }
    match (&tls.cert, &tls.key) {
        (Some(_), None) => Err(ConfigError::Invalid {
            var: "SAMPLAN_DATABASE_TLS_KEY",
            value: String::new(),
            expected: "the key of SAMPLAN_DATABASE_TLS_CERT".into(),
        }),
        (None, Some(_)) => Err(ConfigError::Invalid {
            var: "SAMPLAN_DATABASE_TLS_CERT",
            value: String::new(),
            expected: "the certificate of SAMPLAN_DATABASE_TLS_KEY".into(),
        }),
        _ => Ok(tls),
    }
}

/// The name of the first `SAMPLAN_DATABASE_TLS_*` variable that is set, for error messages.
trait TlsVariables {
    fn set_variable(&self) -> Option<&'static str>;
}

impl TlsVariables for eventstore::DatabaseTls {
    fn set_variable(&self) -> Option<&'static str> {
        if self.ca.is_some() {
            Some("SAMPLAN_DATABASE_TLS_CA")
        } else if self.cert.is_some() {
            Some("SAMPLAN_DATABASE_TLS_CERT")
        } else if self.key.is_some() {
            Some("SAMPLAN_DATABASE_TLS_KEY")
        } else {
            None
        }
    }
}

/// The NATS sign-in and TLS settings: at most one kind of credentials; a client certificate
/// needs its key.
fn nats_auth(get: &impl Fn(&str) -> Option<String>) -> Result<projections::NatsAuth, ConfigError> {
    use projections::NatsCredentials;
    let value = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut found: Vec<(&'static str, NatsCredentials)> = Vec::new();
    if value("SAMPLAN_NATS_USER").is_none() && value("SAMPLAN_NATS_PASSWORD").is_some() {
        return Err(ConfigError::Invalid {
            var: "SAMPLAN_NATS_PASSWORD",
            value: "(hidden)".into(),
            expected: "set only together with SAMPLAN_NATS_USER, its user".into(),
        });
    }
    if let Some(user) = value("SAMPLAN_NATS_USER") {
        let password = value("SAMPLAN_NATS_PASSWORD").ok_or_else(|| ConfigError::Invalid {
            var: "SAMPLAN_NATS_PASSWORD",
            value: String::new(),
            expected: "the password of SAMPLAN_NATS_USER".into(),
        })?;
        found.push((
            "SAMPLAN_NATS_USER",
            NatsCredentials::UserPassword { user, password },
        ));
    }
    if let Some(token) = value("SAMPLAN_NATS_TOKEN") {
        found.push(("SAMPLAN_NATS_TOKEN", NatsCredentials::Token(token)));
    }
    if let Some(seed) = value("SAMPLAN_NATS_NKEY_SEED") {
        found.push(("SAMPLAN_NATS_NKEY_SEED", NatsCredentials::NkeySeed(seed)));
    }
    if let Some(path) = value("SAMPLAN_NATS_CREDS") {
        found.push((
            "SAMPLAN_NATS_CREDS",
            NatsCredentials::CredsFile(path.into()),
        ));
    }
    if found.len() > 1 {
        return Err(ConfigError::Invalid {
            var: found[1].0,
            value: "(set)".into(),
            expected: format!("one kind of NATS credentials; {} is set too", found[0].0),
        });
    }
    let tls_client = match (
        value("SAMPLAN_NATS_TLS_CERT"),
        value("SAMPLAN_NATS_TLS_KEY"),
    ) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((cert.into(), key.into())),
        (Some(_), None) => {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_NATS_TLS_KEY",
                value: String::new(),
                expected: "the key of SAMPLAN_NATS_TLS_CERT".into(),
            })
        }
        (None, Some(_)) => {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_NATS_TLS_CERT",
                value: String::new(),
                expected: "the client certificate of SAMPLAN_NATS_TLS_KEY".into(),
            })
        }
    };
    Ok(projections::NatsAuth {
        credentials: found.pop().map(|f| f.1).unwrap_or_default(),
        tls_ca: value("SAMPLAN_NATS_TLS_CA").map(Into::into),
        tls_client,
    })
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable has a value that does not parse.
    #[error("{var}={value:?} is not valid: {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: String,
    },
    /// Two variables contradict each other, or a required one is missing.
    #[error("{0}")]
    Inconsistent(String),
}

impl ConfigError {
    /// No token key with an external database.
    pub fn key_missing() -> ConfigError {
        ConfigError::Inconsistent(
            "SAMPLAN_DATABASE_URL points at an external database but no token key is \
             configured: set SAMPLAN_JWT_SECRET (HS256, at least 32 bytes) or \
             SAMPLAN_JWT_PUBLIC_KEY (PEM, RS256/ES256). The development secret is only used with \
             the embedded database."
                .into(),
        )
    }
}

/// Default values, also used by the CLI's `--help`.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const DATA_DIR: &str = "./data";
    pub const JWT_ISSUER: &str = "samplan";
    pub const JWT_AUDIENCE: &str = "samplan";
    pub const POLICY: &str = "stockholm";
    pub const LOG: &str = "info";
    pub const DB_POOL_SIZE: usize = 16;
    pub const APPEND_CONCURRENCY: usize = 2;
    pub const SHUTDOWN_DRAIN_MS: u64 = 10_000;
    pub const NATS_STREAM: &str = "SAMPLAN_EVENTS";
    pub const NATS_SUBJECT_PREFIX: &str = "samplan.events";
    pub const NATS_DUPLICATE_WINDOW_MS: u64 = 120_000;
    pub const NATS_DOORBELL_SUBJECT: &str = projections::inbox::DOORBELL_SUBJECT;
    pub const READY_LAG_MS_MAX: u64 = 30_000;
}

impl Config {
    /// The token key, for the commands that check or sign tokens (`serve`, `demo`, `token`):
    /// refused when an external database is configured without one, since the development
    /// secret is only for the embedded database.
    pub fn verification_key(&self) -> Result<&JwtKey, ConfigError> {
        match self.jwt_key {
            JwtKey::Missing => Err(ConfigError::key_missing()),
            ref key => Ok(key),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests). Empty
    /// values count as unset, so `SAMPLAN_DATABASE_URL=` in a unit file means "embedded".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let listen_text = get("SAMPLAN_LISTEN").unwrap_or_else(|| defaults::LISTEN.into());
        let listen =
            listen_text
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| ConfigError::Invalid {
                    var: "SAMPLAN_LISTEN",
                    value: listen_text.clone(),
                    expected: "an address with port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080".into(),
                })?;

        let database_url = get("SAMPLAN_DATABASE_URL");
        let database_admin_url = get("SAMPLAN_DATABASE_ADMIN_URL");
        if database_admin_url.is_some() && database_url.is_none() {
            return Err(ConfigError::Inconsistent(
                "SAMPLAN_DATABASE_ADMIN_URL is set but SAMPLAN_DATABASE_URL is not: set both, or \
                 neither to use the embedded PostgreSQL"
                    .into(),
            ));
        }
        let database_tls = database_tls(&get, database_url.is_some())?;
        for (var, url) in [
            ("SAMPLAN_DATABASE_URL", &database_url),
            ("SAMPLAN_DATABASE_ADMIN_URL", &database_admin_url),
        ] {
            if let Some(url) = url {
                let (mode, readable) =
                    eventstore::ssl_mode(url).map_err(|e| ConfigError::Invalid {
                        var,
                        value: redact_url(url),
                        expected: e.to_string(),
                    })?;
                if !mode.uses_tls() {
                    if let Some(tls_var) = database_tls.set_variable() {
                        return Err(ConfigError::Inconsistent(format!(
                            "{tls_var} is set but {var} asks for no TLS (no sslmode, or \
                             sslmode=disable): add sslmode=verify-full to {var}, or unset {tls_var}"
                        )));
                    }
                }
                readable
                    .parse::<tokio_postgres::Config>()
                    .map_err(|e| ConfigError::Invalid {
                        var,
                        value: redact_url(url),
                        expected: format!(
                            "a PostgreSQL connection string such as \
                             postgres://user@host:5432/samplan ({e})"
                        ),
                    })?;
            }
        }

        let nats_url = get("SAMPLAN_NATS_URL");
        if let Some(urls) = &nats_url {
            // One or more servers, comma-separated, each as the NATS client takes it: a wrong one
            // would only show when the relay or a standby first needs it.
            let bad = urls
                .split(',')
                .map(str::trim)
                .find(|u| !projections::is_server_url(u));
            if let Some(bad) = bad {
                return Err(ConfigError::Invalid {
                    var: "SAMPLAN_NATS_URL",
                    value: redact_url(bad),
                    expected: "one or more NATS servers, comma-separated, such as \
                               nats://nats-1:4222,nats://nats-2:4222 (or tls://…)"
                        .into(),
                });
            }
        }
        let data_dir =
            PathBuf::from(get("SAMPLAN_DATA_DIR").unwrap_or_else(|| defaults::DATA_DIR.into()));

        let jwks_file = get("SAMPLAN_JWT_JWKS_FILE").map(|p| PathBuf::from(p.trim()));
        if jwks_file.is_some() {
            for other in ["SAMPLAN_JWT_SECRET", "SAMPLAN_JWT_PUBLIC_KEY"] {
                if get(other).is_some() {
                    return Err(ConfigError::Inconsistent(format!(
                        "both SAMPLAN_JWT_JWKS_FILE and {other} are set: choose one"
                    )));
                }
            }
        }
        let jwt_key = match (get("SAMPLAN_JWT_SECRET"), get("SAMPLAN_JWT_PUBLIC_KEY")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Inconsistent(
                    "both SAMPLAN_JWT_SECRET and SAMPLAN_JWT_PUBLIC_KEY are set: choose one".into(),
                ))
            }
            (Some(secret), None) => {
                if secret.len() < 32 {
                    return Err(ConfigError::Invalid {
                        var: "SAMPLAN_JWT_SECRET",
                        value: "(hidden)".into(),
                        expected: format!(
                            "at least 32 bytes, so that it cannot be guessed (got {})",
                            secret.len()
                        ),
                    });
                }
                refuse_placeholder("SAMPLAN_JWT_SECRET", &secret)?;
                JwtKey::Secret(secret)
            }
            (None, Some(pem)) => {
                if !pem.contains("-----BEGIN") {
                    return Err(ConfigError::Invalid {
                        var: "SAMPLAN_JWT_PUBLIC_KEY",
                        value: "(not shown)".into(),
                        expected: "one or more PEM public keys (-----BEGIN PUBLIC KEY----- …)"
                            .into(),
                    });
                }
                JwtKey::PublicKeyPem(pem)
            }
            (None, None) if database_url.is_none() => JwtKey::Development,
            (None, None) => JwtKey::Missing,
        };
        let jwt_key = match jwks_file {
            Some(path) => JwtKey::JwksFile(path),
            None => jwt_key,
        };
        let jwt_secret_previous = match (get("SAMPLAN_JWT_SECRET_PREVIOUS"), &jwt_key) {
            (None, _) => None,
            (Some(_), JwtKey::PublicKeyPem(_) | JwtKey::JwksFile(_)) => {
                return Err(ConfigError::Inconsistent(
                    "SAMPLAN_JWT_SECRET_PREVIOUS is set with public keys: these are rotated by \
                     giving the old and the new key in SAMPLAN_JWT_PUBLIC_KEY (one PEM block after \
                     the other) or in SAMPLAN_JWT_JWKS_FILE"
                        .into(),
                ))
            }
            (Some(previous), JwtKey::Secret(current)) => {
                if previous.len() < 32 {
                    return Err(ConfigError::Invalid {
                        var: "SAMPLAN_JWT_SECRET_PREVIOUS",
                        value: "(hidden)".into(),
                        expected: format!(
                            "at least 32 bytes, like SAMPLAN_JWT_SECRET (got {})",
                            previous.len()
                        ),
                    });
                }
                refuse_placeholder("SAMPLAN_JWT_SECRET_PREVIOUS", &previous)?;
                if previous == *current {
                    return Err(ConfigError::Invalid {
                        var: "SAMPLAN_JWT_SECRET_PREVIOUS",
                        value: "(hidden)".into(),
                        expected: "the secret being retired, not SAMPLAN_JWT_SECRET itself".into(),
                    });
                }
                Some(HiddenSecret(previous))
            }
            (Some(_), _) => {
                return Err(ConfigError::Inconsistent(
                    "SAMPLAN_JWT_SECRET_PREVIOUS is set without SAMPLAN_JWT_SECRET: the previous \
                     secret is only accepted beside the current one, which signs"
                        .into(),
                ))
            }
        };

        let jwt_issuer = get("SAMPLAN_JWT_ISSUER").unwrap_or_else(|| defaults::JWT_ISSUER.into());
        let jwt_audience =
            get("SAMPLAN_JWT_AUDIENCE").unwrap_or_else(|| defaults::JWT_AUDIENCE.into());

        let policy = get("SAMPLAN_POLICY").unwrap_or_else(|| defaults::POLICY.into());
        if let Err(e) = domain::policy::PolicyProfile::by_name(policy.trim()) {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_POLICY",
                value: policy,
                expected: e.message(),
            });
        }

        let log = get("SAMPLAN_LOG").unwrap_or_else(|| defaults::LOG.into());
        if let Some(problem) = log_filter_problem(&log) {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_LOG",
                value: log,
                expected: format!(
                    "a level (off, error, warn, info, debug, trace) or a filter of target=level \
                     directives such as gateway=debug,info ({problem})"
                ),
            });
        }
        let log_format = match get("SAMPLAN_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") | Some("pretty") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "SAMPLAN_LOG_FORMAT",
                    value: other.into(),
                    expected: "json or text".into(),
                })
            }
        };

        let base = Limits::default();
        let limits = Limits {
            body_bytes_max: number(
                &get,
                "SAMPLAN_BODY_BYTES_MAX",
                base.body_bytes_max,
                1024,
                64 << 20,
            )?,
            request_timeout_ms: number(
                &get,
                "SAMPLAN_REQUEST_TIMEOUT_MS",
                base.request_timeout_ms,
                100,
                600_000,
            )?,
            wait_ms_max: number(&get, "SAMPLAN_WAIT_MS_MAX", base.wait_ms_max, 0, 60_000)?,
            conflict_wait_ms_max: number(
                &get,
                "SAMPLAN_CONFLICT_WAIT_MS_MAX",
                base.conflict_wait_ms_max,
                0,
                60_000,
            )?,
            header_read_timeout_ms: number(
                &get,
                "SAMPLAN_HEADER_READ_TIMEOUT_MS",
                base.header_read_timeout_ms,
                1_000,
                600_000,
            )?,
        };
        // Fewer than four can wait on themselves: a read holds one connection while its
        // access-log row needs another, and a relay with one published an event and then stood
        // still for good (an outside review).
        let db_pool_size = number(
            &get,
            "SAMPLAN_DB_POOL_SIZE",
            defaults::DB_POOL_SIZE,
            4,
            1000,
        )?;
        let append_concurrency = number(
            &get,
            "SAMPLAN_APPEND_CONCURRENCY",
            defaults::APPEND_CONCURRENCY,
            0,
            64,
        )?;
        // Read here, not by the runtime from `TOKIO_WORKER_THREADS`, which panics on a bad value.
        let worker_threads = match get("SAMPLAN_WORKER_THREADS") {
            None => None,
            Some(_) => Some(number(&get, "SAMPLAN_WORKER_THREADS", 1, 1, 1024)?),
        };
        let shutdown_drain_ms = number(
            &get,
            "SAMPLAN_SHUTDOWN_DRAIN_MS",
            defaults::SHUTDOWN_DRAIN_MS,
            0,
            600_000,
        )?;
        let shutdown_delay_ms = number(&get, "SAMPLAN_SHUTDOWN_DELAY_MS", 0, 0, 120_000)?;
        let auto_install = match get("SAMPLAN_AUTO_INSTALL") {
            None => true,
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "on" | "1" | "true" | "yes" => true,
                "off" | "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "SAMPLAN_AUTO_INSTALL",
                        value,
                        expected: "off, 0, false or no (never install); on, 1, true or yes (the \
                                   default: install when root with apt-get)"
                            .into(),
                    })
                }
            },
        };
        let web_secure_cookies = switch(&get, "SAMPLAN_WEB_SECURE_COOKIES")?;
        let web_demo_sign_in = switch(&get, "SAMPLAN_WEB_DEMO_SIGN_IN")?;

        let stream = get("SAMPLAN_NATS_STREAM").unwrap_or_else(|| defaults::NATS_STREAM.into());
        let name_ok = |s: &str, extra: &[char]| {
            !s.is_empty()
                && s.len() <= 100
                && s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '_' || c == '-' || extra.contains(&c)
                })
        };
        if !name_ok(stream.trim(), &[]) {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_NATS_STREAM",
                value: stream,
                expected: "a JetStream stream name: letters, digits, _ and -".into(),
            });
        }
        let subject_prefix = get("SAMPLAN_NATS_SUBJECT_PREFIX")
            .unwrap_or_else(|| defaults::NATS_SUBJECT_PREFIX.into());
        if !name_ok(subject_prefix.trim(), &['.']) || subject_prefix.trim().ends_with('.') {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_NATS_SUBJECT_PREFIX",
                value: subject_prefix,
                expected: "a subject prefix such as samplan.events".into(),
            });
        }
        let doorbell_subject = get("SAMPLAN_NATS_DOORBELL_SUBJECT")
            .unwrap_or_else(|| defaults::NATS_DOORBELL_SUBJECT.into());
        let doorbell_subject = doorbell_subject.trim().to_string();
        if !name_ok(&doorbell_subject, &['.'])
            || doorbell_subject.ends_with('.')
            || doorbell_subject.starts_with(&format!("{}.", subject_prefix.trim()))
        {
            return Err(ConfigError::Invalid {
                var: "SAMPLAN_NATS_DOORBELL_SUBJECT",
                value: doorbell_subject,
                expected: "a subject such as samplan.inbox.changed, outside the events' prefix"
                    .into(),
            });
        }
        let memory_storage = match get("SAMPLAN_NATS_STORAGE").as_deref().map(str::trim) {
            None | Some("file") => false,
            Some("memory") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "SAMPLAN_NATS_STORAGE",
                    value: other.into(),
                    expected: "file or memory".into(),
                })
            }
        };
        let events = EventsConfig {
            stream: stream.trim().to_string(),
            subject_prefix: subject_prefix.trim().to_string(),
            replicas: number(&get, "SAMPLAN_NATS_REPLICAS", 1, 1, 5)?,
            memory_storage,
            max_age_days: number(&get, "SAMPLAN_NATS_MAX_AGE_DAYS", 0, 0, 36_500)?,
            duplicate_window_ms: number(
                &get,
                "SAMPLAN_NATS_DUPLICATE_WINDOW_MS",
                defaults::NATS_DUPLICATE_WINDOW_MS,
                1_000,
                86_400_000,
            )?,
            doorbell_subject,
            auth: nats_auth(&get)?,
        };
        let ready_lag_ms_max = number(
            &get,
            "SAMPLAN_READY_LAG_MS_MAX",
            defaults::READY_LAG_MS_MAX,
            0,
            86_400_000,
        )?;

        let young_teen_access = match get("SAMPLAN_YOUNG_TEEN_ACCESS") {
            None => domain::citizen::YoungTeenAccess::default(),
            Some(value) => domain::citizen::YoungTeenAccess::parse(&value).ok_or_else(|| {
                ConfigError::Invalid {
                    var: "SAMPLAN_YOUNG_TEEN_ACCESS",
                    value,
                    expected: "neither, guardians, child or both".into(),
                }
            })?,
        };

        Ok(Config {
            listen,
            database_url,
            database_admin_url,
            database_tls,
            nats_url,
            data_dir,
            jwt_key,
            jwt_secret_previous,
            jwt_issuer,
            jwt_audience,
            policy: policy.trim().to_string(),
            log,
            log_format,
            limits,
            db_pool_size,
            append_concurrency,
            worker_threads,
            shutdown_drain_ms,
            shutdown_delay_ms,
            auto_install,
            web_secure_cookies,
            web_demo_sign_in,
            events,
            ready_lag_ms_max,
            young_teen_access,
        })
    }

    /// Whether the embedded PostgreSQL is used.
    pub fn embedded_database(&self) -> bool {
        self.database_url.is_none()
    }
}

/// Refuses a secret copied from an example file (deploy/compose/.env.example has
/// `change-me-to-a-random-secret-of-at-least-32-bytes`, long enough to pass the length check):
/// anyone with the repository could sign tokens with it. The secret itself is never echoed.
fn refuse_placeholder(var: &'static str, secret: &str) -> Result<(), ConfigError> {
    let lower = secret.to_ascii_lowercase();
    if ["change-me", "change_me", "changeme"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return Err(ConfigError::Invalid {
            var,
            value: "(hidden)".into(),
            expected: "a secret of your own, not an example file's placeholder (it contains \
                       \"change-me\"): generate one with `openssl rand -hex 32`"
                .into(),
        });
    }
    Ok(())
}

/// What is wrong with a `SAMPLAN_LOG` filter, if anything. `EnvFilter` takes a bare word that is
/// not a level as a target to log at every level (`warning`, `verbose`: nothing is logged but
/// that target's lines, errors included), so a bare word must be a level here; `target=level`
/// directives and span filters are left to `EnvFilter`'s own parser.
fn log_filter_problem(filter: &str) -> Option<String> {
    use tracing_subscriber::filter::LevelFilter;
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains(['=', '[']) && directive.parse::<LevelFilter>().is_err() {
            return Some(format!(
                "{directive:?} is neither a level nor a target=level directive"
            ));
        }
    }
    filter
        .parse::<tracing_subscriber::EnvFilter>()
        .err()
        .map(|e| e.to_string())
}

/// Parses a bounded number; the bounds keep a typo (`SAMPLAN_BODY_BYTES_MAX=64`) from disabling
/// the service in a way that is hard to diagnose.
fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(text) = get(var) else {
        return Ok(default);
    };
    match text.trim().replace('_', "").parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(ConfigError::Invalid {
            var,
            value: text,
            expected: format!("a whole number from {min} to {max}"),
        }),
    }
}

/// Hides a password in a connection string before it is shown in an error message.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
        return url.to_string();
    }
    // key=value form: drop any password=… pair.
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_means_embedded_services_and_development_key() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.embedded_database());
        assert_eq!(c.nats_url, None);
        assert_eq!(c.jwt_key, JwtKey::Development);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(
            (c.jwt_issuer.as_str(), c.jwt_audience.as_str()),
            ("samplan", "samplan")
        );
        assert_eq!(c.policy, "stockholm");
        assert_eq!(c.limits.body_bytes_max, 64 * 1024);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn nats_servers_are_checked_when_the_process_starts() {
        for ok in [
            "nats://127.0.0.1:4222",
            "nats://nats-1:4222, nats://nats-2:4222,tls://nats-3:4222",
            "127.0.0.1:4222",
        ] {
            assert!(config(&[("SAMPLAN_NATS_URL", ok)]).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:4",
            "nats://a:4222,,nats://b:4222",
            "nats://a:notaport",
        ] {
            assert!(
                matches!(
                    config(&[("SAMPLAN_NATS_URL", bad)]),
                    Err(ConfigError::Invalid {
                        var: "SAMPLAN_NATS_URL",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn nats_credentials_are_one_kind_and_never_printed() {
        use projections::NatsCredentials;
        let c = config(&[
            ("SAMPLAN_NATS_USER", "samplan"),
            ("SAMPLAN_NATS_PASSWORD", "hemligt-lösen"),
            ("SAMPLAN_NATS_TLS_CA", "/etc/samplan/nats-ca.pem"),
        ])
        .expect("valid");
        assert_eq!(
            c.events.auth.credentials,
            NatsCredentials::UserPassword {
                user: "samplan".into(),
                password: "hemligt-lösen".into()
            }
        );
        assert_eq!(
            c.events.relay("nats://nats:4222").auth.tls_ca,
            Some(PathBuf::from("/etc/samplan/nats-ca.pem"))
        );
        assert!(
            !format!("{c:?}").contains("hemligt"),
            "the password was printed"
        );
        let err = config(&[("SAMPLAN_NATS_USER", "samplan")]).unwrap_err();
        assert!(err.to_string().contains("SAMPLAN_NATS_PASSWORD"), "{err}");
        let err = config(&[
            ("SAMPLAN_NATS_TOKEN", "t0k3n"),
            ("SAMPLAN_NATS_CREDS", "/etc/samplan/nats.creds"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("one kind"), "{err}");
        assert!(!err.to_string().contains("t0k3n"), "{err}");
        let err = config(&[("SAMPLAN_NATS_TLS_CERT", "/etc/samplan/client.pem")]).unwrap_err();
        assert!(err.to_string().contains("SAMPLAN_NATS_TLS_KEY"), "{err}");
        assert_eq!(
            config(&[]).expect("defaults").events.auth,
            Default::default()
        );
    }

    #[test]
    fn external_database_without_a_key_migrates_but_serves_nothing() {
        let c = config(&[("SAMPLAN_DATABASE_URL", "postgres://samplan@db:5432/samplan")])
            .expect("migrating needs no key");
        assert_eq!(c.jwt_key, JwtKey::Missing);
        let err = c.verification_key().unwrap_err();
        assert!(err.to_string().contains("SAMPLAN_JWT_SECRET"), "{err}");
    }

    #[test]
    fn short_secret_is_refused_without_echoing_it() {
        let err = config(&[("SAMPLAN_JWT_SECRET", "hemligt")]).unwrap_err();
        assert!(!err.to_string().contains("hemligt"), "{err}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("SAMPLAN_LISTEN", "localhost"),
            ("SAMPLAN_POLICY", "uppsala"),
            ("SAMPLAN_BODY_BYTES_MAX", "lots"),
            ("SAMPLAN_BODY_BYTES_MAX", "10"),
            ("SAMPLAN_LOG_FORMAT", "xml"),
            ("SAMPLAN_DB_POOL_SIZE", "0"),
            ("SAMPLAN_DB_POOL_SIZE", "3"),
            ("SAMPLAN_WORKER_THREADS", "0"),
            ("SAMPLAN_WORKER_THREADS", "två"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert!(err.to_string().contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn limits_and_keys_are_read() {
        let c = config(&[
            ("SAMPLAN_DATABASE_URL", "postgres://samplan@db/samplan"),
            ("SAMPLAN_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("SAMPLAN_BODY_BYTES_MAX", "131072"),
            ("SAMPLAN_REQUEST_TIMEOUT_MS", "2500"),
            ("SAMPLAN_LOG_FORMAT", "json"),
            ("SAMPLAN_POLICY", "norrbotten"),
            ("SAMPLAN_WORKER_THREADS", "3"),
        ])
        .expect("valid");
        assert_eq!(c.limits.body_bytes_max, 131_072);
        assert_eq!(c.worker_threads, Some(3));
        assert_eq!(config(&[]).expect("defaults").worker_threads, None);
        assert_eq!(c.limits.request_timeout_ms, 2_500);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.policy, "norrbotten");
        assert!(matches!(c.jwt_key, JwtKey::Secret(_)));
        assert_eq!(c.database_admin_url, None);
    }

    #[test]
    fn database_tls_files_need_an_external_database_that_asks_for_tls() {
        let url = (
            "SAMPLAN_DATABASE_URL",
            "postgres://samplan_app@db/samplan?sslmode=verify-full",
        );
        let admin = (
            "SAMPLAN_DATABASE_ADMIN_URL",
            "postgres://samplan_owner@db/samplan?sslmode=require",
        );
        let ca = ("SAMPLAN_DATABASE_TLS_CA", "/etc/samplan/postgres-ca.pem");
        let c = config(&[url, admin, ca]).expect("valid");
        assert_eq!(
            c.database_tls.ca,
            Some(PathBuf::from("/etc/samplan/postgres-ca.pem"))
        );
        assert_eq!(
            config(&[]).expect("defaults").database_tls,
            Default::default()
        );

        // Each bad combination names the variable to fix.
        let cert = ("SAMPLAN_DATABASE_TLS_CERT", "/etc/samplan/client.pem");
        let key = ("SAMPLAN_DATABASE_TLS_KEY", "/etc/samplan/client.key");
        for (vars, named) in [
            // Files with the embedded database, which is reached without TLS.
            (vec![ca], "SAMPLAN_DATABASE_TLS_CA"),
            // A certificate without its key, a key without its certificate.
            (vec![url, cert], "SAMPLAN_DATABASE_TLS_KEY"),
            (vec![url, key], "SAMPLAN_DATABASE_TLS_CERT"),
            // Files, but a connection string that asks for no TLS.
            (
                vec![
                    ("SAMPLAN_DATABASE_URL", "postgres://samplan_app@db/samplan"),
                    ca,
                ],
                "sslmode=verify-full to SAMPLAN_DATABASE_URL",
            ),
            (
                vec![
                    url,
                    (
                        "SAMPLAN_DATABASE_ADMIN_URL",
                        "host=db user=o sslmode=disable",
                    ),
                    cert,
                    key,
                ],
                "SAMPLAN_DATABASE_ADMIN_URL",
            ),
            // What samplan does not offer, or reads from elsewhere.
            (
                vec![(
                    "SAMPLAN_DATABASE_URL",
                    "postgres://u:pw@db/s?sslmode=verify-ca",
                )],
                "verify-full",
            ),
            (
                vec![(
                    "SAMPLAN_DATABASE_URL",
                    "postgres://u@db/s?sslmode=require&sslrootcert=/ca",
                )],
                "SAMPLAN_DATABASE_TLS_CA",
            ),
        ] {
            let err = config(&vars).expect_err(named);
            assert!(err.to_string().contains(named), "{vars:?}: {err}");
            assert!(!err.to_string().contains(":pw@"), "{err}");
        }
    }

    #[test]
    fn a_previous_secret_is_accepted_only_beside_a_current_one() {
        let current = ("SAMPLAN_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let previous = (
            "SAMPLAN_JWT_SECRET_PREVIOUS",
            "fedcba9876543210fedcba9876543210",
        );
        let c = config(&[current, previous]).expect("valid");
        assert_eq!(
            c.jwt_secret_previous,
            Some(HiddenSecret(previous.1.to_string()))
        );
        assert!(
            !format!("{c:?}").contains(previous.1),
            "the secret was printed"
        );
        for vars in [
            vec![previous],
            vec![current, ("SAMPLAN_JWT_SECRET_PREVIOUS", "kort")],
            vec![current, ("SAMPLAN_JWT_SECRET_PREVIOUS", current.1)],
            vec![
                ("SAMPLAN_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----"),
                previous,
            ],
        ] {
            let err = config(&vars).expect_err("refused");
            assert!(
                err.to_string().contains("SAMPLAN_JWT_SECRET_PREVIOUS"),
                "{err}"
            );
            assert!(!err.to_string().contains(previous.1), "{err}");
        }
    }

    #[test]
    fn a_jwks_file_is_the_only_key_source() {
        let jwks = ("SAMPLAN_JWT_JWKS_FILE", "/etc/samplan/jwks.json");
        let c = config(&[jwks]).expect("valid");
        assert_eq!(
            c.jwt_key,
            JwtKey::JwksFile(PathBuf::from("/etc/samplan/jwks.json"))
        );
        for other in [
            ("SAMPLAN_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("SAMPLAN_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----"),
            (
                "SAMPLAN_JWT_SECRET_PREVIOUS",
                "0123456789abcdef0123456789abcdef",
            ),
        ] {
            let err = config(&[jwks, other]).expect_err(other.0);
            assert!(err.to_string().contains("SAMPLAN_JWT_JWKS_FILE"), "{err}");
            assert!(!err.to_string().contains("0123456789"), "{err}");
        }
    }

    #[test]
    fn an_example_files_placeholder_secret_is_refused() {
        // deploy/compose/.env.example's placeholder: 49 bytes, long enough for the length check.
        let placeholder = "change-me-to-a-random-secret-of-at-least-32-bytes";
        let err = config(&[("SAMPLAN_JWT_SECRET", placeholder)]).unwrap_err();
        assert!(err.to_string().contains("SAMPLAN_JWT_SECRET"), "{err}");
        assert!(!err.to_string().contains(placeholder), "{err}");
        for secret in [
            "0123456789abcdef-CHANGE-ME-0123456789abcdef",
            "please_change_me_0123456789abcdef0123456789",
        ] {
            let err = config(&[("SAMPLAN_JWT_SECRET", secret)]).unwrap_err();
            assert!(err.to_string().contains("SAMPLAN_JWT_SECRET"), "{err}");
        }
        let current = ("SAMPLAN_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let err = config(&[current, ("SAMPLAN_JWT_SECRET_PREVIOUS", placeholder)]).unwrap_err();
        assert!(
            err.to_string().contains("SAMPLAN_JWT_SECRET_PREVIOUS"),
            "{err}"
        );
        assert!(!err.to_string().contains(placeholder), "{err}");
        // A real secret is still accepted.
        config(&[current]).expect("a random secret");
    }

    #[test]
    fn the_log_filter_is_a_level_or_directives() {
        for good in [
            "info",
            "WARN",
            "off",
            "gateway=debug,info",
            "info,gateway=warn",
            "gateway=debug",
            "warn,tokio_postgres=error",
            "[request]=debug",
        ] {
            let c = config(&[("SAMPLAN_LOG", good)]).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(c.log, good);
        }
        // Bare words that are not levels would be taken as targets: nothing else is logged.
        for bad in [
            "warning",
            "verbose",
            "info,warning",
            "gateway=loud",
            "gateway=debug,,x y",
        ] {
            let err = config(&[("SAMPLAN_LOG", bad)]).expect_err(bad);
            assert!(err.to_string().contains("SAMPLAN_LOG"), "{bad}: {err}");
        }
    }

    #[test]
    fn switches_refuse_values_they_do_not_know() {
        for (value, on) in [
            ("0", false),
            ("off", false),
            ("no", false),
            ("FALSE", false),
            ("1", true),
            ("on", true),
            ("yes", true),
        ] {
            let c = config(&[("SAMPLAN_AUTO_INSTALL", value)]).expect(value);
            assert_eq!(c.auto_install, on, "{value}");
        }
        assert!(config(&[]).expect("defaults").auto_install);
        for (var, value) in [
            ("SAMPLAN_AUTO_INSTALL", "nej"),
            ("SAMPLAN_AUTO_INSTALL", "disabled"),
            ("SAMPLAN_WEB_SECURE_COOKIES", "always"),
            ("SAMPLAN_WEB_SECURE_COOKIES", "yes"),
            ("SAMPLAN_WEB_DEMO_SIGN_IN", "yes"),
        ] {
            let err = config(&[(var, value)]).expect_err(value);
            assert!(err.to_string().contains(var), "{var}={value}: {err}");
        }
        for var in ["SAMPLAN_WEB_SECURE_COOKIES", "SAMPLAN_WEB_DEMO_SIGN_IN"] {
            for value in ["auto", "on", "1", "true", "Off", "0", "false", " on "] {
                config(&[(var, value)]).unwrap_or_else(|e| panic!("{var}={value}: {e}"));
            }
        }
    }

    #[test]
    fn a_nats_password_needs_its_user() {
        let err = config(&[("SAMPLAN_NATS_PASSWORD", "hemligt-lösen")]).unwrap_err();
        assert!(err.to_string().contains("SAMPLAN_NATS_PASSWORD"), "{err}");
        assert!(err.to_string().contains("SAMPLAN_NATS_USER"), "{err}");
        assert!(!err.to_string().contains("hemligt"), "{err}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact_url("host=h password=pw user=u"),
            "host=h password=*** user=u"
        );
    }
}
