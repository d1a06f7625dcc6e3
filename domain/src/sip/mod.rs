//! One SIP (samordnad individuell plan), stream `sip-<ulid>`: commands, events, state,
//! `decide`/`evolve` and the unit's view. DESIGN.md's lifecycle table is the contract.

mod command;
mod decide;
mod event;
mod evolve;
pub mod history;
pub mod messages;
pub mod patient;
mod state;
mod types;
mod view;

pub use command::*;
pub use decide::{consent_cover, decide, relatives_cover, SipFacts};
pub use event::SipEvent;
pub use evolve::{evolve, fold, units_joining};
pub use state::*;
pub use types::*;
pub use view::*;
