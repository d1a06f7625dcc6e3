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
//! - [`directory`]: persons and units, for "Sök patient" and the unit list.

pub mod directory;
mod error;
pub mod runner;

pub use error::ProjectionError;

/// The read models' migrations (schemas `projections` and `directory`), applied by the
/// composition root with `eventstore::migrate(admin_url, COMPONENT, MIGRATIONS)`.
pub const MIGRATIONS: &[eventstore::Migration] = &[eventstore::Migration {
    version: 1,
    name: "directory",
    sql: include_str!("../migrations/0001_directory.sql"),
}];

/// Name of this component in `schema_migrations`.
pub const COMPONENT: &str = "projections";
