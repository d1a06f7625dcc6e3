//! The HTTP API, authentication, authorisation, web pages and the `samplan` binary: the
//! composition root that wires domain, event store and projections together.
//!
//! Only this crate knows HTTP. Requests are turned into domain commands at the edge
//! (`routes`), run through one command pipeline (`pipeline`), and every failure becomes an
//! RFC 9457 problem response in one place (`error`).

pub mod access_log;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod embedded;
pub mod error;
pub mod extract;
pub mod facts;
pub mod openapi;
pub mod pipeline;
pub mod routes;
pub mod state;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
