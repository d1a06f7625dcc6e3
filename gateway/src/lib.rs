//! The HTTP API, authentication, authorisation, web pages and the `samplan` binary: the
//! composition root that wires domain, event store and projections together.
