//! The `samplan` command line: `serve` (the default), `migrate`, `token` and `demo`. Parsing and
//! dispatch only; the work is done by `app`, `auth` and `demo`.

use crate::app::{cancel_on_signal, migrate_all, Application, Roles, Services, StartError};
use crate::auth::{development_secret, Signer};
use crate::clock::Clock;
use crate::config::{Config, ConfigError, JwtKey};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

const ENVIRONMENT_HELP: &str = "\
Configuration comes from the environment; docs/configuration.md describes every variable, its
default and valid values. A value that is not valid stops samplan with exit status 2, naming it.
  SAMPLAN_LISTEN              address to listen on            [127.0.0.1:8080]
  SAMPLAN_DATABASE_URL        PostgreSQL; unset: embedded PostgreSQL under SAMPLAN_DATA_DIR
  SAMPLAN_DATABASE_ADMIN_URL  the owner: migrate, rebuild, projectors [SAMPLAN_DATABASE_URL]
                              TLS as each URL's sslmode asks: disable (also when absent),
                              prefer, require or verify-full (both verify the certificate)
  SAMPLAN_DATABASE_TLS_CA     PEM CA for the database's certificate  [the system's roots]
  SAMPLAN_DATABASE_TLS_CERT, SAMPLAN_DATABASE_TLS_KEY  PEM client certificate and its key
  SAMPLAN_NATS_URL            NATS; unset: embedded nats-server under SAMPLAN_DATA_DIR
  SAMPLAN_NATS_USER, SAMPLAN_NATS_PASSWORD, SAMPLAN_NATS_TOKEN, SAMPLAN_NATS_NKEY_SEED,
  SAMPLAN_NATS_CREDS          NATS sign-in (one kind at most)
  SAMPLAN_NATS_TLS_CA, SAMPLAN_NATS_TLS_CERT, SAMPLAN_NATS_TLS_KEY   NATS TLS
  SAMPLAN_NATS_STREAM, SAMPLAN_NATS_SUBJECT_PREFIX, SAMPLAN_NATS_REPLICAS, SAMPLAN_NATS_STORAGE,
  SAMPLAN_NATS_MAX_AGE_DAYS, SAMPLAN_NATS_DUPLICATE_WINDOW_MS, SAMPLAN_NATS_DOORBELL_SUBJECT
                              the relay's stream and the inbox doorbell
  SAMPLAN_DATA_DIR            data of the embedded services   [./data]
  SAMPLAN_AUTO_INSTALL        off: never apt-get install a missing PostgreSQL/nats-server [on]
  SAMPLAN_JWT_SECRET          HS256 secret (at least 32 bytes, not an example's change-me)
  SAMPLAN_JWT_SECRET_PREVIOUS the HS256 secret being retired (accepted, never signs)
  SAMPLAN_JWT_PUBLIC_KEY      PEM public key(s) (RS256/ES256); several during a rotation
  SAMPLAN_JWT_JWKS_FILE       JWKS file of RS256/ES256 keys, selected by kid (instead)
                              neither: a development secret, only with the embedded database
  SAMPLAN_JWT_ISSUER, SAMPLAN_JWT_AUDIENCE                    [samplan, samplan]
  SAMPLAN_POLICY              norrbotten, orebro, stockholm   [stockholm]
  SAMPLAN_YOUNG_TEEN_ACCESS   neither, guardians, child, both [neither]
  SAMPLAN_WEB_DEMO_SIGN_IN, SAMPLAN_WEB_SECURE_COOKIES        auto, on, off [auto]
  SAMPLAN_LOG                 a level, or target=level directives [info]
  SAMPLAN_LOG_FORMAT          json or text                    [text]
  SAMPLAN_BODY_BYTES_MAX, SAMPLAN_REQUEST_TIMEOUT_MS, SAMPLAN_HEADER_READ_TIMEOUT_MS,
  SAMPLAN_WAIT_MS_MAX, SAMPLAN_CONFLICT_WAIT_MS_MAX, SAMPLAN_DB_POOL_SIZE,
  SAMPLAN_APPEND_CONCURRENCY, SAMPLAN_SHUTDOWN_DRAIN_MS, SAMPLAN_SHUTDOWN_DELAY_MS,
  SAMPLAN_READY_LAG_MS_MAX                                    limits
  SAMPLAN_WORKER_THREADS      the async runtime's threads     [one per core]";

const TOKEN_HELP: &str = "\
Examples:
  samplan token --role admin --sub admin --name Administratör
  samplan token --role staff --sub SE2321000016-A1B2 --unit vc-norrmalm --name \"Distriktssköterska\"
  curl -H \"Authorization: Bearer $(samplan token --role admin --sub admin)\" http://127.0.0.1:8080/…

The token is signed with SAMPLAN_JWT_SECRET, or, when nothing is configured, with the development
secret in SAMPLAN_DATA_DIR that `samplan serve` uses; issuer and audience follow
SAMPLAN_JWT_ISSUER and SAMPLAN_JWT_AUDIENCE.";

/// samplan: the system of record for SIP (samordnad individuell plan).
#[derive(Debug, Parser)]
#[command(name = "samplan", version, after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default). With nothing configured it starts its own PostgreSQL and
    /// nats-server, keeping their data under SAMPLAN_DATA_DIR, and uses a development token key.
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve(ServeArgs),
    /// Apply the database migrations of every component, then exit.
    #[command(after_help = ENVIRONMENT_HELP)]
    Migrate,
    /// Print a signed token for development and tests (HS256 with the configured secret, or the
    /// development secret of the embedded default).
    #[command(after_help = TOKEN_HELP)]
    Token(TokenArgs),
    /// Load the demonstration data (units, staff, persons, plans) into the database, then exit.
    #[command(after_help = ENVIRONMENT_HELP)]
    Demo,
    /// Rebuild read models from the event store into fresh tables and swap them in atomically;
    /// readers see the old tables until the swap, and the live projector continues from the
    /// rebuilt position. Runs as the owner role (SAMPLAN_DATABASE_ADMIN_URL).
    #[command(after_help = ENVIRONMENT_HELP)]
    Rebuild(RebuildArgs),
    /// Auditors' tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Measurements against a running service.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Load a running gateway from this process over loopback HTTP (units, persons and plans of
    /// its own, walked through their life: 80 % reads, 20 % commands), with the raw database
    /// measured beside it in the same run; prints Markdown tables with each ratio. Tokens are
    /// signed with the service's key (SAMPLAN_JWT_SECRET or the development secret); the
    /// baselines use SAMPLAN_DATABASE_ADMIN_URL (or the embedded PostgreSQL's socket).
    #[command(after_help = BENCH_HELP)]
    Load(LoadArgs),
}

const BENCH_HELP: &str = "\
Examples:
  samplan bench load                                  # every phase against 127.0.0.1:8080
  samplan bench load --phases mixed --seconds 600 --interval 60 --watch-pid $(pgrep -d, samplan)
                                                      # the soak: 10 minutes, memory watched";

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The gateway's root; loopback only.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Which phases to run, in their order: commands, reads, mixed, lag.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        crate::loadgen::Phase::Commands, crate::loadgen::Phase::Reads,
        crate::loadgen::Phase::Mixed, crate::loadgen::Phase::Lag])]
    pub phases: Vec<crate::loadgen::Phase>,
    /// Concurrent connections; the commands phase runs at each, the others at the last.
    #[arg(long, value_delimiter = ',', default_values_t = [8, 64],
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub connections: Vec<u16>,
    /// Length of each phase (and of each route's run in the reads phase).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// Most requests of one phase.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: u64,
    /// Units the run registers.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub units: u64,
    /// Persons the run registers.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub persons: u64,
    /// Share of reads in the mixed load.
    #[arg(long, default_value_t = 0.8)]
    pub read_share: f64,
    /// Commands per second of the lag phase [half the commands phase's rate at the last
    /// connection count].
    #[arg(long)]
    pub command_rate: Option<f64>,
    /// Rows of the mixed phase's table, and progress lines, every this many seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Processes whose resident memory is sampled (e.g. the gateway's), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub watch_pid: Vec<u32>,
    /// Also write the tables to this Markdown file.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
    /// Judge the run as a soak: exit status 1 when any request failed, a watched process's
    /// memory grew more than 10 % after warm-up (the median of its last interval against that of
    /// the interval after the first; intervals of at most 60 s), or the projection lag's p99 of
    /// an interval exceeded --lag-max-ms.
    #[arg(long)]
    pub check: bool,
    /// Leave the planner's statistics and the tables' dead rows to the server instead of running
    /// ANALYZE before each phase and autovacuum's work while it runs: measures a database in its
    /// first minute, before autovacuum has looked at it (or one whose autovacuum is off).
    #[arg(long)]
    pub no_analyze: bool,
    /// The lag --check allows.
    #[arg(long, default_value_t = 1000.0)]
    pub lag_max_ms: f64,
    /// Sign the run's tokens with this private key in PEM form (RSA: RS256, EC P-256: ES256), as
    /// an identity provider does, for a gateway that has its public key
    /// (SAMPLAN_JWT_PUBLIC_KEY); without it, with SAMPLAN_JWT_SECRET.
    #[arg(long)]
    pub signing_key: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The read model to rebuild; all of them when left out.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(projections::PROJECTIONS))]
    pub projection: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every stream's hash chain and every seal over the whole log, and name each
    /// broken link and seal; exit status 1 when any is broken. When everything holds, seal the
    /// events since the last seal (a write) and print its number and digest: keep that line
    /// outside the database, and give it to the next check with --expect.
    #[command(after_help = ENVIRONMENT_HELP)]
    Verify(VerifyArgs),
}

#[derive(Debug, Args, Default)]
pub struct VerifyArgs {
    /// A seal an earlier check printed, kept outside the database, as NUMBER:DIGEST: the check
    /// recomputes that seal from the events and fails unless its digest is still this one.
    #[arg(long, value_name = "NUMBER:DIGEST")]
    pub expect: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Which parts to run in this process: everything (the default), or one part, so that
    /// several gateways, a relay with a standby and projectors with standbys can share one
    /// database and one NATS cluster.
    #[arg(long, value_enum, default_value_t = ServeRole::All)]
    pub role: ServeRole,
    /// Load the demonstration data before serving.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ServeRole {
    /// The HTTP gateway, the relay and the projectors.
    #[default]
    All,
    /// Only the HTTP gateway.
    Gateway,
    /// Only the relay from the event store to NATS JetStream (serves /healthz, /readyz, /metrics).
    Relay,
    /// Only the projectors that build the read models (serves /healthz, /readyz, /metrics).
    Projector,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The caller's role.
    #[arg(long, value_enum)]
    pub role: TokenRole,
    /// Subject: staff HSA-id (e.g. SE2321000016-A1B2), or the person's id for a citizen.
    #[arg(long)]
    pub sub: String,
    /// The unit a staff member acts for (required for staff).
    #[arg(long)]
    pub unit: Option<String>,
    /// Display name.
    #[arg(long, default_value = "")]
    pub name: String,
    /// A citizen's personnummer, as a 1177/BankID sign-in establishes it (the claim
    /// `personal_identity_number`): a guardian signed in as themselves sees young children's
    /// plans through it.
    #[arg(long)]
    pub personal_identity_number: Option<String>,
    /// How long the token is valid.
    #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u32).range(1..=525_600))]
    pub ttl_minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenRole {
    Staff,
    Citizen,
    Auditor,
    Reporting,
    Admin,
}

impl TokenRole {
    fn as_str(self) -> &'static str {
        match self {
            TokenRole::Staff => "staff",
            TokenRole::Citizen => "citizen",
            TokenRole::Auditor => "auditor",
            TokenRole::Reporting => "reporting",
            TokenRole::Admin => "admin",
        }
    }
}

/// Parses the command line and the environment, runs the command, and maps the outcome to an
/// exit code: 0 done, 1 failed while running, 2 bad usage or configuration.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("samplan: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::app::check_token_key(&config) {
        eprintln!("samplan: configuration error: {e}");
        return ExitCode::from(2);
    }
    crate::telemetry::init(&config.log, config.log_format);
    // Sized here, so the runtime never reads `TOKIO_WORKER_THREADS` (it panics on a bad value).
    let workers = config.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("samplan: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let outcome = runtime.block_on(async move {
        match command {
            Command::Serve(args) => serve(config, args).await,
            Command::Migrate => migrate(config).await,
            Command::Token(args) => token(&config, &args),
            Command::Demo => demo(config).await,
            Command::Rebuild(args) => rebuild(config, args).await,
            Command::Audit(AuditCommand::Verify(args)) => audit_verify(config, args).await,
            Command::Bench(BenchCommand::Load(args)) => bench_load(&config, args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Broken(msg)) => {
            eprintln!("samplan: {msg}");
            ExitCode::FAILURE
        }
        Err(CliError::Usage(msg)) => {
            eprintln!("samplan: {msg}");
            ExitCode::from(2)
        }
        Err(CliError::NotChecked(msg)) => {
            eprintln!("samplan: nothing was checked: {msg}; run the check again later");
            ExitCode::from(3)
        }
        // A token key that does not parse is a setting that is not valid, as configuration.md
        // promises: exit status 2, as for any other.
        Err(CliError::Start(e @ (StartError::Config(_) | StartError::Key(_)))) => {
            tracing::error!(error = %e, "samplan failed");
            eprintln!("samplan: configuration error: {e}");
            ExitCode::from(2)
        }
        Err(CliError::Start(e)) => {
            tracing::error!(error = %e, "samplan failed");
            eprintln!("samplan: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    /// The command ran and found something wrong (a broken hash chain).
    #[error("{0}")]
    Broken(String),
    #[error(transparent)]
    Start(#[from] StartError),
    /// A check that could not be made (`audit verify`): exit status 3.
    #[error("{0}")]
    NotChecked(String),
}

/// Refuses, before anything starts, a command that checks or signs tokens without a key.
fn require_key(config: &Config) -> Result<(), CliError> {
    config
        .verification_key()
        .map(|_| ())
        .map_err(|e| CliError::Usage(e.to_string()))
}

async fn serve(config: Config, args: ServeArgs) -> Result<(), CliError> {
    require_key(&config)?;
    let roles = match args.role {
        ServeRole::All => Roles::ALL,
        ServeRole::Gateway => Roles::GATEWAY,
        ServeRole::Relay => Roles::RELAY,
        ServeRole::Projector => Roles::PROJECTOR,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let app = Application::build(config)
        .await?
        .with_roles(roles)
        .with_demo(args.demo);
    if args.demo {
        if let Err(e) = load_demo(app.state()).await {
            // The service still starts; the operator sees why the demo data is missing.
            tracing::error!(error = %e, "loading the demo data failed");
        }
    }
    app.run_until_stopped(shutdown).await?;
    Ok(())
}

async fn migrate(config: Config) -> Result<(), CliError> {
    migrate_as_owner(&config)
        .await
        .map_err(|e| needs_the_owner(&config, "migrate", e))
}

async fn migrate_as_owner(config: &Config) -> Result<(), CliError> {
    let services = Services::start(config, false).await?;
    let result = migrate_all(&services.admin_database_url, &services.database_tls).await;
    services.embedded.stop().await;
    result.map_err(|source| {
        CliError::Start(StartError::Migrate {
            url: crate::config::redact_url(&services.admin_database_url),
            source,
        })
    })?;
    tracing::info!("migrations applied");
    Ok(())
}

/// `migrate` and `rebuild` run as the database's owner (`SAMPLAN_DATABASE_ADMIN_URL`); without
/// it they use `SAMPLAN_DATABASE_URL`, which in a deployment is the service's role
/// (`samplan_app`), allowed no schema changes. Their failure then says which URL is missing
/// instead of only `permission denied for schema public`.
fn needs_the_owner(config: &Config, command: &str, error: CliError) -> CliError {
    if config.database_url.is_none() || config.database_admin_url.is_some() {
        return error;
    }
    let message = match error {
        CliError::Usage(_) | CliError::NotChecked(_) => return error,
        CliError::Broken(message) => message,
        CliError::Start(e) => e.to_string(),
    };
    CliError::Broken(format!(
        "{message}\nsamplan {command} runs as the database's owner, since it creates, alters and \
         drops schemas: set SAMPLAN_DATABASE_ADMIN_URL to the owner's URL (samplan_owner in \
         deploy/). It is unset, so SAMPLAN_DATABASE_URL was used, which in a deployment is the \
         service's role (samplan_app)."
    ))
}

async fn demo(config: Config) -> Result<(), CliError> {
    require_key(&config)?;
    let services = Services::start(&config, false).await?;
    let result = async {
        migrate_all(&services.admin_database_url, &services.database_tls)
            .await
            .map_err(|source| StartError::Migrate {
                url: crate::config::redact_url(&services.admin_database_url),
                source,
            })?;
        let state =
            crate::app::build_state(&config, &services.database_url, None, Clock::System).await?;
        load_demo(&state).await
    }
    .await;
    services.embedded.stop().await;
    result?;
    Ok(())
}

/// Runs `work` on the migrated database, with the embedded PostgreSQL started and stopped around
/// it when nothing is configured.
async fn with_store<T, F, Fut>(config: &Config, work: F) -> Result<T, CliError>
where
    F: FnOnce(eventstore::EventStore, String) -> Fut,
    Fut: std::future::Future<Output = Result<T, CliError>>,
{
    let services = Services::start(config, false).await?;
    let result = async {
        migrate_all(&services.admin_database_url, &services.database_tls)
            .await
            .map_err(|source| StartError::Migrate {
                url: crate::config::redact_url(&services.admin_database_url),
                source,
            })?;
        let mut store_config = eventstore::StoreConfig::new(services.database_url.clone());
        store_config.append_concurrency = 0;
        store_config.tls = services.database_tls.clone();
        let store = eventstore::EventStore::connect(store_config)
            .await
            .map_err(StartError::Store)?;
        work(store, services.admin_database_url.clone()).await
    }
    .await;
    services.embedded.stop().await;
    result
}

async fn rebuild(config: Config, args: RebuildArgs) -> Result<(), CliError> {
    let names: Vec<String> = match args.projection {
        Some(name) => vec![name],
        None => projections::PROJECTIONS
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
    };
    let policy = domain::policy::PolicyProfile::by_name(&config.policy)
        .map_err(|e| CliError::Usage(e.message()))?;
    let settings = projections::Settings::new(policy);
    let deployment_policy = config.policy.clone();
    let outcome = with_store(&config, |store, admin_url| async move {
        for name in names {
            // A read model built under the deployment's policy profile, rebuilt here under
            // another, would be swapped in and then written to by the live projector under the
            // first: two profiles' deadlines in one table, and nothing would say so.
            if let Some(recorded) = projections::runner::rules_of(store.pool(), &name)
                .await
                .map_err(|e| CliError::Broken(format!("reading {name}'s rules: {e}")))?
            {
                if let Some(built) = recorded.split("policy ").nth(1).map(str::trim) {
                    if built != deployment_policy {
                        return Err(CliError::Usage(format!(
                            "{name} was built under the policy profile {built}, and this rebuild \
                             would use {deployment_policy}: set SAMPLAN_POLICY={built} as the \
                             deployment has it (a change of profile is made on the deployment; \
                             its projectors rebuild by themselves)"
                        )));
                    }
                }
            }
            let started = std::time::Instant::now();
            match projections::rebuild(&store, &admin_url, &name, &settings).await {
                Ok(Some(rebuilt)) => println!(
                    "{name}: rebuilt at position {} ({} events read, {} applied) in {:.1} s",
                    rebuilt.position,
                    rebuilt.events_read,
                    rebuilt.events_applied,
                    started.elapsed().as_secs_f64()
                ),
                Ok(None) => return Err(CliError::Usage(format!("no read model is called {name}"))),
                Err(e) => return Err(CliError::Broken(format!("rebuilding {name} failed: {e}"))),
            }
        }
        Ok(())
    })
    .await;
    outcome.map_err(|e| needs_the_owner(&config, "rebuild", e))
}

async fn audit_verify(config: Config, args: VerifyArgs) -> Result<(), CliError> {
    let kept = match args.expect.as_deref().map(str::trim) {
        // The first check has no journal yet: `--expect "$(tail -1 audit-journal.txt)"` gives
        // nothing, which is no seal to hold to, not a mistake.
        Some("") => {
            println!("no seal kept outside the database was given: the first check");
            None
        }
        Some(text) => {
            // As the check prints it: "seal N:DIGEST", or the whole line it stands in.
            let seal = text
                .split_whitespace()
                .rev()
                .find(|word| word.contains(':') && !word.ends_with(':'))
                .unwrap_or(text);
            let (number, digest) = seal.split_once(':').ok_or_else(|| {
                CliError::Usage("--expect takes NUMBER:DIGEST, as the check printed them".into())
            })?;
            let number: i64 = number.trim().parse().map_err(|_| {
                CliError::Usage(format!("--expect: {number:?} is not a seal's number"))
            })?;
            Some(
                crate::routes::audit::kept_seal(number, digest)
                    .map_err(|e| CliError::Usage(format!("--expect: {}", e.problem().detail)))?,
            )
        }
        None => None,
    };
    with_store(&config, |store, _| async move {
        let report = store
            .verify_against(kept.as_ref())
            .await
            .map_err(|e| CliError::Start(StartError::Store(e)))?;
        println!(
            "{} events in {} streams checked",
            report.events_checked, report.streams_checked
        );
        // No events at all is no proof of anything: the wrong database, or a data directory
        // mistyped (the embedded default then makes a new, empty one). A daily check must fail.
        if report.events_checked == 0 {
            return Err(CliError::Broken(
                "the store holds no events: is this the service's database \
                 (SAMPLAN_DATABASE_URL, SAMPLAN_DATA_DIR)?"
                    .into(),
            ));
        }
        println!("{} seals checked", report.seals_checked);
        if let Some(k) = &kept {
            if report
                .broken_seals
                .iter()
                .all(|b| b.seal.seal_no != k.seal_no)
            {
                println!("seal {} is as kept: {}", k.seal_no, k.digest);
            }
        }
        if report.is_intact() {
            println!("every hash chain and seal is intact");
            match (&report.sealed, &report.latest_seal) {
                (Some(seal), _) => println!(
                    "sealed positions {}..={} ({} events) as seal {}; keep this line: seal {}:{}",
                    seal.after_position + 1,
                    seal.up_to_position,
                    seal.events,
                    seal.seal_no,
                    seal.seal_no,
                    seal.digest
                ),
                (None, Some(seal)) => println!(
                    "nothing new to seal; the latest seal is {} up to position {}: seal {}:{}",
                    seal.seal_no, seal.up_to_position, seal.seal_no, seal.digest
                ),
                (None, None) => {}
            }
            println!(
                "keep the latest seal outside the database and give it to the next check \
                 (--expect NUMBER:DIGEST): seals rewritten inside it would then show"
            );
            // Last, alone, for `tail -1` into the audit journal.
            if let Some(seal) = &report.latest_seal {
                println!("seal {}:{}", seal.seal_no, seal.digest);
            }
            return Ok(());
        }
        if report.events_before_the_first_position > 0 {
            println!(
                "BROKEN: {} event(s) at positions below 1, which the store never draws: \
                 slipped in",
                report.events_before_the_first_position
            );
        }
        for broken in &report.broken_seals {
            let seal = &broken.seal;
            let why = match broken.problem {
                eventstore::SealProblem::Changed if broken.events_now == seal.events => format!(
                    "positions {}..={} hold its {} events, but their hashes changed: an event \
                     was changed or replaced since",
                    seal.after_position + 1,
                    seal.up_to_position,
                    seal.events
                ),
                eventstore::SealProblem::Changed => format!(
                    "positions {}..={} held {} events when sealed and hold {} now: an event was \
                     removed or slipped in since",
                    seal.after_position + 1,
                    seal.up_to_position,
                    seal.events,
                    broken.events_now
                ),
                eventstore::SealProblem::NotContiguous => "it does not follow the seal before \
                     it: a seal was removed, or positions were left out"
                    .to_string(),
                eventstore::SealProblem::NotAsKept => "recomputed from the events, its digest \
                     is not the one kept (or it is gone): the events up to it or the seals were \
                     rewritten, or an older backup was restored"
                    .to_string(),
            };
            println!("BROKEN SEAL {}: {why}", seal.seal_no);
        }
        for link in &report.broken {
            println!(
                "BROKEN: {} version {} (event {}): {}",
                link.stream_id,
                link.stream_version,
                link.event_id,
                match link.reason {
                    eventstore::BrokenReason::VersionGap => "a version is missing before it",
                    eventstore::BrokenReason::HashMismatch =>
                        "its hash does not match its contents and its predecessor",
                }
            );
        }
        Err(CliError::Broken(format!(
            "{} broken link(s) in the hash chains, {} broken seal(s), {} event(s) before \
             position 1",
            report.broken.len(),
            report.broken_seals.len(),
            report.events_before_the_first_position
        )))
    })
    .await
    // The check could not be made (the database did not answer, a transaction writing events
    // held it): nothing was checked, which is not the broken log that exit status 1 reports.
    .map_err(|e| match e {
        CliError::Start(e @ (StartError::Config(_) | StartError::Key(_))) => CliError::Start(e),
        // Settings that waiting does not mend — no such database, a wrong role or password, a
        // role that may not migrate, TLS files — are exit status 2, not "run the check again".
        CliError::Start(e) if refused_by_settings(&e) => CliError::Usage(format!(
            "nothing was checked: {e}; check SAMPLAN_DATABASE_URL, SAMPLAN_DATABASE_ADMIN_URL \
             and SAMPLAN_DATA_DIR"
        )),
        CliError::Start(e) => CliError::NotChecked(e.to_string()),
        other => other,
    })
}

/// Whether `e` is the database refusing the settings (a migration refused, the connection
/// refused for good, TLS files), as opposed to the database being away for now.
fn refused_by_settings(e: &StartError) -> bool {
    let store = match e {
        StartError::Store(s) => s,
        StartError::Migrate {
            source: crate::error::AppError::Store(s),
            ..
        } => s,
        _ => return false,
    };
    use eventstore::StoreError;
    matches!(store, StoreError::Migration(_) | StoreError::Tls(_))
        || matches!(store, StoreError::Database(e) if eventstore::is_refused_by_settings(e))
}

async fn load_demo(state: &crate::state::AppState) -> Result<(), StartError> {
    let summary = crate::demo::load(state).await.map_err(StartError::Demo)?;
    tracing::info!(
        units = summary.units.len(),
        plans = summary.plans.len(),
        events_appended = summary.events_appended,
        "demo data loaded"
    );
    // The summary names (fictional) people and the token commands: for the operator's eyes on
    // stdout, not for the logs.
    println!("{summary}");
    Ok(())
}

/// The HS256 key `samplan serve` verifies with, for signing tokens here.
fn signing_secret(config: &Config) -> Result<String, CliError> {
    Ok(match &config.jwt_key {
        JwtKey::Secret(s) => s.clone(),
        JwtKey::Development => {
            // A data directory no service has used yet gets a new secret, which a service on
            // another directory does not know: say so, as a mistyped SAMPLAN_DATA_DIR is the
            // likely cause (an operator review got tokens the running service refused).
            if !crate::auth::development_secret_path(&config.data_dir).exists() {
                eprintln!(
                    "samplan: no development secret was kept in {} yet: a new one was made, \
                     which only a samplan serve on this data directory accepts (is \
                     SAMPLAN_DATA_DIR the running service's?)",
                    config.data_dir.display()
                );
            }
            development_secret(&config.data_dir).map_err(|e| CliError::Start(StartError::Key(e)))?
        }
        JwtKey::Missing => return Err(CliError::Usage(ConfigError::key_missing().to_string())),
        JwtKey::PublicKeyPem(_) | JwtKey::JwksFile(_) => {
            return Err(CliError::Usage(
                "SAMPLAN_JWT_PUBLIC_KEY or SAMPLAN_JWT_JWKS_FILE is configured: tokens are issued by your identity \
                 provider, samplan can only sign HS256 tokens (SAMPLAN_JWT_SECRET)"
                    .into(),
            ))
        }
    })
}

fn token(config: &Config, args: &TokenArgs) -> Result<(), CliError> {
    let secret = signing_secret(config)?;
    let unit = args
        .unit
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if args.role == TokenRole::Staff && unit.is_none() {
        return Err(CliError::Usage(
            "--unit is required for --role staff".into(),
        ));
    }
    if let Some(u) = unit {
        domain::ids::UnitId::parse(u)
            .map_err(|e| CliError::Usage(format!("--unit: {}", e.message())))?;
    }
    if args.sub.trim().is_empty() {
        return Err(CliError::Usage("--sub must not be empty".into()));
    }
    let signer = Signer::hs256(&secret, &config.jwt_issuer, &config.jwt_audience);
    let ttl = chrono::Duration::minutes(i64::from(args.ttl_minutes));
    let pin = args
        .personal_identity_number
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if let Some(p) = pin {
        if args.role != TokenRole::Citizen {
            return Err(CliError::Usage(
                "--personal-identity-number is for --role citizen".into(),
            ));
        }
        domain::personnummer::PersonalIdentityNumber::parse(
            p,
            domain::time::local_date(chrono::Utc::now()),
        )
        .map_err(|e| CliError::Usage(format!("--personal-identity-number: {}", e.message())))?;
    }
    let token = match args.role {
        TokenRole::Citizen => {
            signer.sign_citizen(args.sub.trim(), pin, &args.name, chrono::Utc::now(), ttl)
        }
        role => signer.sign(
            args.sub.trim(),
            role.as_str(),
            unit,
            &args.name,
            chrono::Utc::now(),
            ttl,
        ),
    };
    println!("{token}");
    Ok(())
}

async fn bench_load(config: &Config, args: LoadArgs) -> Result<(), CliError> {
    let target = crate::loadgen::Target::parse(&args.url).map_err(CliError::Usage)?;
    if !(0.0..=1.0).contains(&args.read_share) {
        return Err(CliError::Usage(
            "--read-share must be between 0 and 1".into(),
        ));
    }
    if args
        .command_rate
        .is_some_and(|r| !(r > 0.0 && r.is_finite()))
    {
        return Err(CliError::Usage("--command-rate must be above 0".into()));
    }
    let signer = match &args.signing_key {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--signing-key {}: {e}", path.display())))?;
            Signer::private_key_pem(&pem, &config.jwt_issuer, &config.jwt_audience).ok_or_else(
                || {
                    CliError::Usage(format!(
                        "--signing-key {}: not an RSA or EC P-256 private key in PEM form",
                        path.display()
                    ))
                },
            )?
        }
        None => Signer::hs256(
            &signing_secret(config)?,
            &config.jwt_issuer,
            &config.jwt_audience,
        ),
    };
    let admin_database_url = match (&config.database_admin_url, &config.database_url) {
        (Some(url), _) | (None, Some(url)) => url.clone(),
        (None, None) => crate::embedded::EmbeddedPostgres::admin_url_for(&config.data_dir)
            .map_err(|e| CliError::Start(StartError::Embedded(e)))?,
    };
    let mut phases = args.phases.clone();
    phases.sort();
    phases.dedup();
    let options = crate::loadgen::LoadOptions {
        target,
        database: crate::loadgen::Database {
            url: admin_database_url,
            tls: config.database_tls.clone(),
        },
        signer,
        phases,
        connections: args.connections.iter().map(|c| usize::from(*c)).collect(),
        seconds: args.seconds,
        max_requests: args.max_requests,
        units: args.units as usize,
        persons: args.persons as usize,
        read_share: args.read_share,
        command_rate: args.command_rate,
        interval: std::time::Duration::from_secs(args.interval),
        watch_pids: args.watch_pid.clone(),
        analyze: !args.no_analyze,
        seed: u64::from(ulid::Ulid::generate().random() as u32),
    };
    let report = crate::loadgen::run(options)
        .await
        .map_err(|e| CliError::Broken(e.to_string()))?;
    if let Some(path) = &args.report {
        std::fs::write(path, &report.text)
            .map_err(|e| CliError::Broken(format!("writing {}: {e}", path.display())))?;
    }
    if args.check {
        let violations = report.soak_violations(args.lag_max_ms);
        if !violations.is_empty() {
            return Err(CliError::Broken(format!(
                "the run does not hold up:\n  {}",
                violations.join("\n  ")
            )));
        }
        println!(
            "Check: no failed request, memory flat, lag within {} ms.",
            args.lag_max_ms
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--help` lists every variable the configuration reads (an operator review found two
    /// missing).
    #[test]
    fn the_help_names_every_variable_the_configuration_reads() {
        let source = include_str!("config.rs");
        let mut missing = Vec::new();
        for (at, _) in source.match_indices("\"SAMPLAN_") {
            let name: String = source[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // The stream's default name is a value, not a variable.
            if name != "SAMPLAN_EVENTS" && !ENVIRONMENT_HELP.contains(&name) {
                missing.push(name);
            }
        }
        missing.dedup();
        assert!(missing.is_empty(), "not in --help: {missing:?}");
    }

    #[test]
    fn a_failure_without_the_owners_url_says_so() {
        let vars = |admin: bool| {
            move |name: &str| match name {
                "SAMPLAN_DATABASE_URL" => Some("postgres://samplan_app:pw@db/samplan".to_string()),
                "SAMPLAN_DATABASE_ADMIN_URL" if admin => {
                    Some("postgres://samplan_owner:pw@db/samplan".to_string())
                }
                _ => None,
            }
        };
        let failure = || CliError::Broken("permission denied for schema public".into());
        let app_only = Config::from_lookup(vars(false)).expect("valid");
        let message = needs_the_owner(&app_only, "rebuild", failure()).to_string();
        assert!(message.contains("permission denied"), "{message}");
        assert!(message.contains("SAMPLAN_DATABASE_ADMIN_URL"), "{message}");
        let with_owner = Config::from_lookup(vars(true)).expect("valid");
        let message = needs_the_owner(&with_owner, "rebuild", failure()).to_string();
        assert!(!message.contains("SAMPLAN_DATABASE_ADMIN_URL"), "{message}");
        // A mistake on the command line is not about the database.
        let usage = needs_the_owner(
            &app_only,
            "rebuild",
            CliError::Usage("no read model".into()),
        );
        assert!(matches!(usage, CliError::Usage(_)));
    }

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["samplan"]).expect("parses");
        assert!(cli.command.is_none());
    }

    #[test]
    fn token_arguments_parse() {
        let cli = Cli::try_parse_from([
            "samplan",
            "token",
            "--role",
            "staff",
            "--sub",
            "SE2321000016-A1B2",
            "--unit",
            "vc-norr",
            "--name",
            "Test",
        ])
        .expect("parses");
        let Some(Command::Token(args)) = cli.command else {
            panic!("expected the token command");
        };
        assert_eq!(args.role, TokenRole::Staff);
        assert_eq!(args.ttl_minutes, 480);
    }
}
