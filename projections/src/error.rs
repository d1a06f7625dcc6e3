//! The projections' one error type.

use eventstore::StoreError;

/// Why a projection stopped or a read-model query failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the event store failed.
    #[error("händelselagret: {0}")]
    Store(#[from] StoreError),
    /// A statement on the read model's tables failed: the server's message and code, which the
    /// driver's own text ("db error") leaves out (an operator review found the log without them).
    #[error("läsmodellens databas: {}", eventstore::describe(.0))]
    Database(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool.
    #[error("anslutningspoolen: {}", eventstore::describe_pool(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A stored event could not be turned into a domain event: a bug or an event type this
    /// version does not know. The projection stops rather than skip it.
    #[error("händelse på position {position} ({event_type}) kunde inte tolkas: {reason}")]
    Decode {
        position: i64,
        event_type: String,
        reason: String,
    },
    /// The projection's lease (its advisory lock) could not be taken or was lost: another
    /// process may apply it now, so this one stops applying and tries again.
    #[error("lease: {0}")]
    Lease(String),
    /// Another process is rebuilding the read model (`samplan rebuild`, or a projector bringing
    /// it up to its rules): one rebuild of a read model at a time.
    #[error("en annan ombyggnad av {0} pågår")]
    RebuildUnderWay(String),
    /// NATS or JetStream could not be reached, refused, or did not acknowledge in time.
    #[error("NATS: {0}")]
    Nats(String),
    /// An event does not follow the row it should change (its stream version is not the next
    /// one): applying it would break exactly-once, in-order application, so the projection stops.
    #[error("händelse på position {position} i {stream_id} (version {stream_version}) följer inte läsmodellens rad")]
    OutOfOrder {
        position: i64,
        stream_id: String,
        stream_version: i64,
    },
    /// A wait for a position ended before the projection reached it ([`crate::runner::applied`]).
    #[error("{projection} har inte hunnit till position {position} (står på {at})")]
    Behind {
        projection: String,
        position: i64,
        at: i64,
    },
}

impl ProjectionError {
    /// True when retrying later may succeed (the database went away), as opposed to an event or
    /// a row that will be just as wrong on the next try. The judgement of database errors is the
    /// store's ([`eventstore::is_transient`]).
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Store(e) => e.is_unavailable(),
            ProjectionError::Pool(_)
            | ProjectionError::Lease(_)
            | ProjectionError::RebuildUnderWay(_)
            | ProjectionError::Nats(_)
            | ProjectionError::Behind { .. } => true,
            ProjectionError::Database(e) => eventstore::is_transient(e),
            ProjectionError::Decode { .. } | ProjectionError::OutOfOrder { .. } => false,
        }
    }

    /// What may be kept beside a stopped read model's checkpoint and shown to operators: this
    /// error without values from rows or payloads (a database error's detail and a decoder's
    /// message may quote them; the log has the whole error).
    pub fn summary(&self) -> String {
        match self {
            ProjectionError::Database(e) => match e.as_db_error() {
                Some(db) => format!(
                    "läsmodellens databas: {} ({})",
                    db.message(),
                    db.code().code()
                ),
                None => "läsmodellens databas: förbindelsen".into(),
            },
            ProjectionError::Decode {
                position,
                event_type,
                ..
            } => format!("händelse på position {position} ({event_type}) kunde inte tolkas"),
            other => other.to_string(),
        }
    }
}

/// A connection of its own that could not be opened: a refusal by the server is a database
/// error, anything before it (address, TLS files) the store's.
impl From<eventstore::ConnectError> for ProjectionError {
    fn from(e: eventstore::ConnectError) -> ProjectionError {
        match e {
            eventstore::ConnectError::Postgres(e) => ProjectionError::Database(e),
            other => ProjectionError::Store(other.into()),
        }
    }
}
