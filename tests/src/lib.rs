//! End-to-end tests across crates and processes, against real PostgreSQL and NATS.
