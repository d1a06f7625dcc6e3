//! The SIP model: commands, events, state, `decide`/`evolve`, rules, deadlines and the Swedish
//! working-day calendar.
//!
//! This crate is pure: no I/O, no async, no database and no clock. Time always comes in as a
//! value (`Context::now`), so every rule can be tested exactly and every decision replayed by an
//! auditor. `GLOSSARY.md` maps the Swedish terms to the names used here.

pub mod calendar;
pub mod heading;
pub mod personnummer;
pub mod policy;
pub mod time;
