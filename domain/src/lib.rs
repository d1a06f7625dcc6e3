//! The SIP model: commands, events, state, `decide`/`evolve`, rules, deadlines and the Swedish
//! working-day calendar.
//!
//! This crate is pure: no I/O, no async, no database and no clock. Time always comes in as a
//! value (`Context::now`), so every rule can be tested exactly and every decision replayed by an
//! auditor. `GLOSSARY.md` maps the Swedish terms to the names used here.
//!
//! Map: [`ids`] and [`context`] are the values every command carries; [`person`], [`unit`],
//! [`sip`], [`inbox`] and [`registry`] are the five kinds of stream, each with `decide` and
//! `evolve`;
//! [`obligations`] derives the to-dos; [`event`] is the stored form of every event, with
//! upcasting of old schema versions; [`error`] is why a command is refused.

pub mod calendar;
pub mod citizen;
pub mod heading;
pub mod personnummer;
pub mod policy;
pub mod time;

pub mod context;
pub mod error;
pub mod event;
pub mod ids;
pub mod inbox;
pub mod obligations;
pub mod person;
pub mod registry;
pub mod reporting;
pub mod sip;
pub mod text;
pub mod unit;

pub use context::{Actor, Context, Role, StaffRef};
pub use error::{DomainError, ErrorKind};
pub use event::{DecodeError, DomainEvent};
pub use ids::{PersonId, SipId, StaffId, UnitId};
pub use obligations::{obligations, Obligation, ObligationKind, ObligationOwner};
