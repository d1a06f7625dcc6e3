//! Behaviour tests of the SIP model: the lifecycle table row by row, the seeds' flows, property
//! tests, the person/unit/inbox streams and the event codec.

mod codec;
mod invitation_drafts;
mod lifecycle;
mod others;
mod properties;
mod read_side;
mod scenarios;
mod support;
