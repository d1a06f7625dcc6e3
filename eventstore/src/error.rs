//! The store's one error type. Messages are Swedish because operators and the gateway's logs
//! read them; the gateway decides what (if anything) reaches a user.

use crate::model::ExpectedVersion;

/// Everything that can go wrong in the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the expected version: somebody else appended first.
    #[error("versionskonflikt i ström {stream_id}: förväntad version {expected}, aktuell version {actual}")]
    Conflict {
        stream_id: String,
        expected: ExpectedVersion,
        actual: i64,
    },
    /// The command id was already used for a request with a different body.
    #[error("kommando-id {command_id} har redan använts för en annan begäran")]
    IdempotencyKeyReused { command_id: String },
    /// An event's data is larger than the configured limit.
    #[error("händelsens data är {bytes} byte; högst {max} byte är tillåtet")]
    PayloadTooLarge { bytes: usize, max: usize },
    /// The request itself is malformed (for example an append without events).
    #[error("ogiltig begäran till händelselagret: {0}")]
    InvalidInput(String),
    /// The database cannot be reached right now (pool exhausted, connection lost, server
    /// restarting). Retrying later is the right reaction.
    #[error("databasen är inte tillgänglig: {0}")]
    Unavailable(String),
    /// Applying migrations failed, or an applied migration was edited.
    #[error("migrering: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("databasfel: {}", describe(.0))]
    Database(#[source] tokio_postgres::Error),
    /// The connection string's `sslmode` or the TLS files cannot be used (ADR 0024).
    #[error("TLS mot PostgreSQL: {0}")]
    Tls(#[from] crate::connect::TlsError),
    /// A stored row could not be turned into a Rust value.
    #[error("kunde inte tolka lagrad data: {0}")]
    Decode(String),
}

/// SQLSTATE classes and codes that mean "the server or the connection is gone", as opposed to
/// "the statement was wrong".
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code == "57P01" // admin_shutdown (also pg_terminate_backend)
        || code == "57P02" // crash_shutdown
        || code == "57P03" // cannot_connect_now (starting up)
        || code == "53300" // too_many_connections
}

/// True when the server or the connection is gone (restart, terminated backend, network), as
/// opposed to a statement that was wrong.
fn is_unavailable(err: &tokio_postgres::Error) -> bool {
    err.is_closed()
        || err.code().is_some_and(|c| is_unavailable_code(c.code()))
        || (err.as_db_error().is_none() && err.code().is_none() && is_io_error(err))
}

/// True when the connection was refused for a reason a later try does not mend: the database
/// does not exist, the role or its password is wrong or may not connect, or the socket may not be
/// opened by this user. A daily job failing so is misconfigured, not waiting for the database.
pub fn is_refused_by_settings(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::PermissionDenied;
        }
        source = s.source();
    }
    !is_unavailable(err)
}

/// True when running the same work again later may succeed: the database is away, or the
/// transaction lost a serialization race or a deadlock. Every component that retries database
/// work (the projections, the relay) asks this one function.
pub fn is_transient(err: &tokio_postgres::Error) -> bool {
    is_unavailable(err)
        || err.code().is_some_and(|c| {
            *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                || *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
        })
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        // Text the database cannot store (jsonb refuses `\u0000`): the caller's input, not a
        // fault of ours. The gateway refuses such text at the edge; this is the second line.
        let unstorable = err.code().is_some_and(|c| {
            *c == tokio_postgres::error::SqlState::UNTRANSLATABLE_CHARACTER
                || *c == tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE
        });
        if unstorable {
            return StoreError::InvalidInput(format!("texten kan inte lagras: {}", describe(&err)));
        }
        if is_unavailable(&err) {
            StoreError::Unavailable(format!(
                "anslutningen till PostgreSQL bröts: {}",
                describe(&err)
            ))
        } else {
            StoreError::Database(err)
        }
    }
}

/// True when the error means the connection is gone (server restart, terminated backend):
/// the statement can be retried on another connection if it is idempotent.
pub(crate) fn is_connection_lost(err: &tokio_postgres::Error) -> bool {
    err.is_closed()
        || err.code().is_some_and(|c| {
            c.code().starts_with("08") || c.code() == "57P01" || c.code() == "57P02"
        })
        || (err.code().is_none() && is_io_error(err))
}

/// `tokio_postgres::Error`'s own text for server errors is just "db error"; the server's
/// message and code are what an operator needs.
pub fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(err) {
            Some(source) => format!("{err}: {source}"),
            None => err.to_string(),
        },
    }
}

/// [`describe`] for the pool's errors, whose own text for a refused connection is "Error occurred
/// while creating a new object: db error" (the server's reason, such as "too many clients", is
/// what an operator needs).
pub fn describe_pool(err: &deadpool_postgres::PoolError) -> String {
    match err {
        deadpool_postgres::PoolError::Backend(e) => describe(e),
        other => other.to_string(),
    }
}

fn is_io_error(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match err {
            PoolError::Backend(e) => match StoreError::from(e) {
                StoreError::Database(e) => StoreError::Unavailable(format!(
                    "kunde inte ansluta till PostgreSQL: {}",
                    describe(&e)
                )),
                other => other,
            },
            PoolError::Timeout(kind) => StoreError::Unavailable(format!(
                "ingen databasanslutning inom tidsgränsen ({kind:?})"
            )),
            other => {
                StoreError::Unavailable(format!("anslutningspoolen: {}", describe_pool(&other)))
            }
        }
    }
}

impl From<crate::connect::ConnectError> for StoreError {
    fn from(err: crate::connect::ConnectError) -> Self {
        use crate::connect::ConnectError;
        match err {
            ConnectError::Tls(e) => StoreError::Tls(e),
            ConnectError::ConnectionString(e) => {
                StoreError::InvalidInput(format!("ogiltig databas-URL: {e}"))
            }
            ConnectError::Postgres(e) => StoreError::Unavailable(format!(
                "kunde inte ansluta till PostgreSQL: {}",
                describe(&e)
            )),
        }
    }
}

impl StoreError {
    /// True when retrying the same call later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
