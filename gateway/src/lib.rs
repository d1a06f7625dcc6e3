//! The HTTP API, authentication, authorisation, web pages and the `samplan` binary: the
//! composition root that wires domain, event store and projections together.
//!
//! Only this crate knows HTTP, and within it only `routes`, `extract`, `request_id`,
//! `consistency` and `app` do. Requests are taken apart at the edge (`extract`), turned into
//! domain commands by the command path (`commands`), which the demo loader uses too, run through
//! one pipeline (`pipeline`), and every failure becomes an RFC 9457 problem response in one place
//! (`error`).

pub mod access_log;
pub mod aggregate;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod consistency;
pub mod demo;
pub mod embedded;
pub mod error;
pub mod extract;
pub mod facts;
pub mod fhir;
pub mod keys;
pub mod loadgen;
pub mod moments;
pub mod openapi;
pub mod pipeline;
pub mod request_id;
pub mod routes;
pub mod serve;
pub mod state;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod turns;
pub mod web;
