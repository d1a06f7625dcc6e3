//! The command path apart from HTTP: one function per write of the API, taking the caller, the
//! write's metadata and the request body as data, and running it through the pipeline
//! (`crate::pipeline`) with the same checks — role, visibility, the facts the rules consult —
//! whoever calls it: the HTTP routes (`crate::routes`) and the demo loader (`crate::demo`).
//!
//! The request bodies (DTOs) live here too (ADR 0003): what clients send, with
//! `deny_unknown_fields` and an OpenAPI schema, turned into domain commands at this edge and
//! nowhere else.

pub mod inbox;
pub mod persons;
pub mod sips;
pub mod units;
