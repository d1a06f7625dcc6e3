//! The append-only event store on PostgreSQL: the only source of truth.
