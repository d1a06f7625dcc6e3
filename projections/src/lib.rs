//! The relay to NATS JetStream and the read models built from the event store (inbox, to-dos,
//! ongoing plans, the patient-facing plan, audit trail and access log, reporting tables).
//!
//! Every read model follows the store in global commit order (`EventStore::tail`) and writes its
//! rows and its checkpoint in one transaction, so each event takes effect exactly once, also
//! across restarts, and a rebuild from scratch gives the same tables. Nothing else writes a
//! projection's tables.
//!
//! - [`runner`]: what every read model shares — following the store, batching, the checkpoint in
//!   the same transaction as the rows, backoff, `wait_for`, reset.
//! - [`relay`]: every event, in commit order, to the JetStream stream `SAMPLAN_EVENTS`.
//! - [`directory`]: persons and units, for "Sök patient" and the unit list.
//! - [`participation`]: which units take part in which person's plans since when, for the
//!   auditors' access review.
//! - [`inbox`]: Meddelanden, Att göra and Pågående SIP for every unit, and each plan's snapshot.
//! - [`patient`]: each plan as the person reads it on Min plan (published content only).
//! - [`reporting`]: the facts of follow-up statistics, without personal data, and the figures.

pub mod directory;
mod error;
mod history;
pub mod inbox;
mod nats_auth;
pub mod participation;
pub mod patient;
pub mod relay;
pub mod reporting;
pub mod runner;

pub use error::ProjectionError;

/// The years a time from a client may name where it meets a `timestamptz` or `date` column: the
/// database holds 4713 BC – 294276 AD while chrono reads far beyond, and the database's refusal
/// would be a 500. Years 1 to 9999 hold every moment a plan, a log or a cursor has.
pub const STORABLE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;
pub use nats_auth::{is_server_url, NatsAuth, NatsCredentials};

/// The read models' migrations (schemas `projections` and `directory`), applied by the
/// composition root with `eventstore::migrate(admin_url, COMPONENT, MIGRATIONS)`.
pub const MIGRATIONS: &[eventstore::Migration] = &[
    eventstore::Migration {
        version: 1,
        name: "directory",
        sql: include_str!("../migrations/0001_directory.sql"),
    },
    eventstore::Migration {
        version: 2,
        name: "checkpoint_progress",
        sql: include_str!("../migrations/0002_checkpoint_progress.sql"),
    },
    eventstore::Migration {
        version: 3,
        name: "participation",
        sql: include_str!("../migrations/0003_participation.sql"),
    },
    eventstore::Migration {
        version: 4,
        name: "inbox",
        sql: include_str!("../migrations/0004_inbox.sql"),
    },
    eventstore::Migration {
        version: 5,
        name: "directory_protection",
        sql: include_str!("../migrations/0005_directory_protection.sql"),
    },
    eventstore::Migration {
        version: 6,
        name: "patient",
        sql: include_str!("../migrations/0006_patient.sql"),
    },
    eventstore::Migration {
        version: 7,
        name: "reporting",
        sql: include_str!("../migrations/0007_reporting.sql"),
    },
    eventstore::Migration {
        version: 8,
        name: "directory_name_search",
        sql: include_str!("../migrations/0008_directory_name_search.sql"),
    },
    eventstore::Migration {
        version: 9,
        name: "inbox_list_pages",
        sql: include_str!("../migrations/0009_inbox_list_pages.sql"),
    },
    eventstore::Migration {
        version: 10,
        name: "inbox_unread_counts",
        sql: include_str!("../migrations/0010_inbox_unread_counts.sql"),
    },
    eventstore::Migration {
        version: 11,
        name: "inbox_ongoing_by_plan",
        sql: include_str!("../migrations/0011_inbox_ongoing_by_plan.sql"),
    },
    eventstore::Migration {
        version: 12,
        name: "inbox_todos_one_open_index",
        sql: include_str!("../migrations/0012_inbox_todos_one_open_index.sql"),
    },
    eventstore::Migration {
        version: 13,
        name: "inbox_plan_snapshots_lz4",
        sql: include_str!("../migrations/0013_inbox_plan_snapshots_lz4.sql"),
    },
    eventstore::Migration {
        version: 14,
        name: "inbox_person_in_rows",
        sql: include_str!("../migrations/0014_inbox_person_in_rows.sql"),
    },
    eventstore::Migration {
        version: 15,
        name: "inbox_reminders",
        sql: include_str!("../migrations/0015_inbox_reminders.sql"),
    },
    eventstore::Migration {
        version: 16,
        name: "checkpoint_built_by",
        sql: include_str!("../migrations/0016_checkpoint_built_by.sql"),
    },
    eventstore::Migration {
        version: 17,
        name: "inbox_reminder_index",
        sql: include_str!("../migrations/0017_inbox_reminder_index.sql"),
    },
    eventstore::Migration {
        version: 18,
        name: "reporting_refusal_at_deadline",
        sql: include_str!("../migrations/0018_reporting_refusal_at_deadline.sql"),
    },
    eventstore::Migration {
        version: 19,
        name: "checkpoint_stopped",
        sql: include_str!("../migrations/0019_checkpoint_stopped.sql"),
    },
    eventstore::Migration {
        version: 20,
        name: "inbox_person_guardians",
        sql: include_str!("../migrations/0020_inbox_person_guardians.sql"),
    },
    eventstore::Migration {
        version: 21,
        name: "reporting_invitation_due",
        sql: include_str!("../migrations/0021_reporting_invitation_due.sql"),
    },
    eventstore::Migration {
        version: 22,
        name: "directory_name_folded",
        sql: include_str!("../migrations/0022_directory_name_folded.sql"),
    },
    eventstore::Migration {
        version: 23,
        name: "patient_died_on",
        sql: include_str!("../migrations/0023_patient_died_on.sql"),
    },
    eventstore::Migration {
        version: 24,
        name: "inbox_ongoing_discharge",
        sql: include_str!("../migrations/0024_inbox_ongoing_discharge.sql"),
    },
];

/// Name of this component in `schema_migrations`.
pub const COMPONENT: &str = "projections";

/// Every read model by name, as `samplan rebuild --projection NAME` takes it.
pub const PROJECTIONS: &[&str] = &[
    directory::PROJECTION,
    participation::PROJECTION,
    inbox::PROJECTION,
    patient::PROJECTION,
    reporting::PROJECTION,
];

/// What the read models need besides the store.
#[derive(Clone)]
pub struct Settings {
    /// The deployment's policy profile: the to-dos' due times.
    pub policy: domain::policy::PolicyProfile,
    /// Where the inbox rings the gateways' doorbell after each batch (client and subject);
    /// `None`: gateways learn of changes by looking at the tables.
    pub doorbell: Option<(async_nats::Client, String)>,
    /// The owner role's connection string, with which a runner rebuilds a read model built by
    /// other rules than its own (ADR 0034); `None`: it only says so in the log.
    pub admin_url: Option<String>,
}

impl Settings {
    /// Settings with `policy` and no NATS.
    pub fn new(policy: domain::policy::PolicyProfile) -> Settings {
        Settings {
            policy,
            doorbell: None,
            admin_url: None,
        }
    }

    fn inbox(&self) -> inbox::Inbox {
        let inbox = inbox::Inbox::new(self.policy.clone());
        match &self.doorbell {
            Some((nats, subject)) => inbox.with_doorbell(nats.clone(), subject.clone()),
            None => inbox,
        }
    }
}

/// Runs every read model's runner until `cancel` fires. A read model that meets an event it
/// cannot apply stops alone (ADR 0036): the others, and the process, go on.
pub async fn run_all(
    store: eventstore::EventStore,
    settings: &Settings,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<(), ProjectionError> {
    fn run<P: runner::Projection>(
        store: &eventstore::EventStore,
        projection: P,
        settings: &Settings,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> futures::future::BoxFuture<'static, Result<(), ProjectionError>> {
        Box::pin(runner::run_with(
            store.clone(),
            projection,
            cancel.clone(),
            tokio::sync::watch::channel(runner::Activity::Standby).0,
            settings.admin_url.clone(),
        ))
    }
    let runners = vec![
        run(&store, directory::Directory, settings, &cancel),
        run(&store, participation::Participation, settings, &cancel),
        run(&store, settings.inbox(), settings, &cancel),
        run(
            &store,
            patient::Patient::new(store.clone()),
            settings,
            &cancel,
        ),
        run(
            &store,
            reporting::Reporting::new(store.clone(), settings.policy.clone()),
            settings,
            &cancel,
        ),
    ];
    futures::future::try_join_all(runners).await.map(|_| ())
}

/// Rebuilds the read model called `name` (see `runner::rebuild`); `None` for a name no read
/// model has. A rebuild rings no doorbell.
pub async fn rebuild(
    store: &eventstore::EventStore,
    admin_url: &str,
    name: &str,
    settings: &Settings,
) -> Result<Option<runner::Rebuilt>, ProjectionError> {
    Ok(match name {
        directory::PROJECTION => {
            Some(runner::rebuild(store, admin_url, &directory::Directory).await?)
        }
        participation::PROJECTION => {
            Some(runner::rebuild(store, admin_url, &participation::Participation).await?)
        }
        inbox::PROJECTION => {
            let inbox = inbox::Inbox::new(settings.policy.clone());
            Some(runner::rebuild(store, admin_url, &inbox).await?)
        }
        patient::PROJECTION => {
            let patient = patient::Patient::new(store.clone());
            Some(runner::rebuild(store, admin_url, &patient).await?)
        }
        reporting::PROJECTION => {
            let reporting = reporting::Reporting::new(store.clone(), settings.policy.clone());
            Some(runner::rebuild(store, admin_url, &reporting).await?)
        }
        _ => None,
    })
}

/// This process's NATS connections, by a number drawn for each, and whether each is connected
/// now. A connection is forgotten when it is closed: the relay makes a new one after NATS was
/// away, and the old one's `Closed` arrives after the new one's `Connected` (an outside review
/// saw the active relay report `samplan_nats_connected 0` for minutes while it published).
static NATS_CONNECTIONS: std::sync::Mutex<std::collections::BTreeMap<u64, bool>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The number of the next NATS connection.
static NATS_NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Whether this process ever tried to connect to NATS.
static NATS_TRIED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn nats_connections() -> std::sync::MutexGuard<'static, std::collections::BTreeMap<u64, bool>> {
    NATS_CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A NATS connection about to be made: not connected until its `Connected` event.
pub(crate) fn nats_connection_started() -> u64 {
    let id = NATS_NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    NATS_TRIED.store(true, std::sync::atomic::Ordering::Relaxed);
    nats_connections().insert(id, false);
    id
}

/// A NATS connection that was closed, or never made: it no longer counts.
pub(crate) fn nats_connection_ended(id: u64) {
    nats_connections().remove(&id);
}

/// Whether this process's NATS connection is up (any of them, when there are several): `None`
/// before it tried to make one. `/metrics` shows it (`samplan_nats_connected`): a gateway
/// without NATS still pushes, by looking at the tables, a little later, and nothing else would
/// tell.
pub fn nats_connected() -> Option<bool> {
    let connections = nats_connections();
    if connections.is_empty() {
        return NATS_TRIED
            .load(std::sync::atomic::Ordering::Relaxed)
            .then_some(false);
    }
    Some(connections.values().any(|up| *up))
}

/// Whether the refusal of this process's sign-in was said since it last connected.
static REFUSAL_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Follows a NATS connection's events into [`nats_connected`], and says once, in words an
/// operator can act on, that the server refused the sign-in (the client retries, and logs each
/// attempt in its own words).
pub(crate) async fn follow_nats(event: async_nats::Event, user: Option<String>, connection: u64) {
    use std::sync::atomic::Ordering;
    let refused = match &event {
        async_nats::Event::ServerError(async_nats::ServerError::AuthorizationViolation) => true,
        async_nats::Event::ClientError(async_nats::ClientError::Other(text)) => {
            text.contains("authorization violation")
        }
        _ => false,
    };
    match event {
        async_nats::Event::Connected => {
            nats_connections().insert(connection, true);
            REFUSAL_SAID.store(false, Ordering::Relaxed);
        }
        async_nats::Event::Disconnected => {
            nats_connections().insert(connection, false);
        }
        async_nats::Event::Closed => nats_connection_ended(connection),
        _ if refused => {
            nats_connections().insert(connection, false);
            if !REFUSAL_SAID.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    user = user.as_deref().unwrap_or("(none)"),
                    "NATS refused the sign-in: check SAMPLAN_NATS_USER and SAMPLAN_NATS_PASSWORD \
                     (or the token, NKey or .creds) against the servers' users; until then live \
                     pushes look at the tables, and a relay publishes nothing"
                );
            }
        }
        _ => {}
    }
}

/// A NATS client that connects in the background and reconnects by itself, so that a process
/// starts while NATS is away and pushes resume when it is back.
pub async fn nats_client(
    nats_url: &str,
    auth: &NatsAuth,
) -> Result<async_nats::Client, ProjectionError> {
    let user = auth.user().map(str::to_owned);
    let options = auth
        .apply(async_nats::ConnectOptions::new())
        .await
        .map_err(|e| ProjectionError::Nats(format!("NATS credentials: {e}")))?;
    let connection = nats_connection_started();
    options
        .event_callback(move |event| follow_nats(event, user.clone(), connection))
        .retry_on_initial_connect()
        .connection_timeout(std::time::Duration::from_secs(5))
        // One URL or a comma-separated list of a cluster's nodes, as the relay takes it.
        .connect(relay::with_learned_servers(nats_url))
        .await
        .map_err(|e| {
            nats_connection_ended(connection);
            ProjectionError::Nats(format!("connecting to {nats_url}: {e}"))
        })
}

#[cfg(test)]
mod nats_state_tests {
    use super::*;

    /// The relay's old connection closes after its new one connected, beside the doorbell
    /// client: the process is connected. (Each test runs in a process of its own under
    /// nextest, so these counters are this test's.)
    #[tokio::test]
    async fn an_old_connection_closing_does_not_undo_a_new_one() {
        let old = nats_connection_started();
        follow_nats(async_nats::Event::Connected, None, old).await;
        let doorbell = nats_connection_started();
        follow_nats(async_nats::Event::Connected, None, doorbell).await;
        assert_eq!(nats_connected(), Some(true));
        // NATS goes away: every connection is down.
        follow_nats(async_nats::Event::Disconnected, None, old).await;
        follow_nats(async_nats::Event::Disconnected, None, doorbell).await;
        assert_eq!(nats_connected(), Some(false));
        // Back: the relay's new connection and the doorbell connect, then the old one closes.
        let new = nats_connection_started();
        assert_eq!(nats_connected(), Some(false), "not connected until it is");
        follow_nats(async_nats::Event::Connected, None, new).await;
        follow_nats(async_nats::Event::Connected, None, doorbell).await;
        follow_nats(async_nats::Event::Closed, None, old).await;
        assert_eq!(nats_connected(), Some(true));
        // A connection never made is forgotten; with none left the process is not connected.
        nats_connection_ended(new);
        follow_nats(async_nats::Event::Closed, None, doorbell).await;
        assert_eq!(nats_connected(), Some(false));
    }
}
