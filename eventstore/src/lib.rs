//! The append-only event store on PostgreSQL: the only source of truth of samplan.
//!
//! - [`EventStore::append`] writes the events of one command atomically, with optimistic
//!   concurrency ([`ExpectedVersion`]) and idempotency by command id ([`CommandKey`]).
//! - [`EventStore::read_stream`], [`EventStore::read_stream_as_of`], [`EventStore::read_all`]
//!   read; [`EventStore::tail`] follows all events in commit-safe global order without ever
//!   skipping one (ADR 0001 explains how).
//! - The database itself refuses UPDATE, DELETE and TRUNCATE of events, and every event carries
//!   a hash chained to its stream's previous event; [`EventStore::verify`] checks the chains.
//! - [`migrate()`] is the generic migration runner other components use for their own tables.
//! - [`connect()`] opens every connection that is not the pool's, with the same TLS rules
//!   (`sslmode`, [`DatabaseTls`]) as the pool.

mod append;
mod config;
mod connect;
mod db;
mod error;
mod group;
mod migrate;
mod model;
mod store;
mod tail;
mod wake;
mod writers;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{StoreConfig, EVENT_DATA_BYTES_MAX};
pub use connect::{connect, pg_config, ssl_mode, ConnectError, DatabaseTls, SslMode, TlsError};
pub use error::{describe, describe_pool, is_refused_by_settings, is_transient, StoreError};
pub use group::GroupCommitStats;
pub use migrate::{migrate, migrate_tls, migrate_with_client, Migration, MIGRATIONS};
pub use model::{
    AppendOutcome, AppendedEvent, BrokenLink, BrokenReason, BrokenSeal, CommandKey,
    ExpectedVersion, KeptSeal, Metadata, NewEvent, RecordedEvent, Seal, SealProblem, StoredCommand,
    VerifyReport,
};
pub use store::EventStore;

/// Name of the component in `schema_migrations`.
pub const COMPONENT: &str = "eventstore";
