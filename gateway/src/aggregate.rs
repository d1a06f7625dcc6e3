//! The kinds of stream the gateway writes and reads, and their codecs: how a stream's events fold
//! into its state ([`Aggregate::evolve`]) and travel to and from the store ([`Aggregate::encode`],
//! [`Aggregate::decode`], which upcasts old schema versions through the domain). [`load`] reads
//! and folds one stream; [`fold`] folds events read by any other means.

use crate::error::AppError;
use eventstore::{EventStore, RecordedEvent};

/// One kind of stream: how its events fold into state and travel to and from the store.
pub trait Aggregate {
    type State: Default + Send + Sync;
    type Event: Send + Sync;
    /// Folds one event into the state.
    fn evolve(state: Self::State, ev: &Self::Event) -> Self::State;
    /// Turns a stored event back into a domain event (upcasting old schema versions).
    fn decode(ev: &RecordedEvent) -> Result<Self::Event, AppError>;
    /// Event type, schema version and JSON data of a domain event.
    fn encode(ev: &Self::Event) -> (&'static str, i32, serde_json::Value);
}

/// A folded stream with its version and the position of its last event.
pub struct Loaded<S> {
    pub state: S,
    /// The stream's version; 0 when it has no events.
    pub version: i64,
    /// Global position of the stream's last event; 0 when it has none.
    pub position: i64,
}

impl<S: Default> Loaded<S> {
    /// A stream that has no events: what a stream whose id was just drawn holds.
    pub fn empty() -> Self {
        Loaded {
            state: S::default(),
            version: 0,
            position: 0,
        }
    }
}

/// Reads and folds one stream (an empty state at version 0 when it has no events).
pub async fn load<A: Aggregate>(
    store: &EventStore,
    stream_id: &str,
) -> Result<Loaded<A::State>, AppError> {
    let events = store.read_stream(stream_id, 1).await?;
    fold::<A>(&events)
}

/// Folds the events of one stream, read by any means, into its state.
pub fn fold<A: Aggregate>(events: &[RecordedEvent]) -> Result<Loaded<A::State>, AppError> {
    let mut loaded = Loaded::<A::State>::empty();
    for recorded in events {
        let ev = A::decode(recorded)?;
        loaded.state = A::evolve(loaded.state, &ev);
        loaded.version = recorded.stream_version;
        loaded.position = recorded.global_position;
    }
    Ok(loaded)
}

/// An [`Aggregate`] over one of the domain's streams. Events travel in the domain's stored form
/// (`domain::event`: type name, schema version, JSON; old versions upcast on decode).
macro_rules! domain_aggregate {
    ($(#[$meta:meta])* $name:ident, $state:ty, $event:ty, $evolve:path) => {
        $(#[$meta])*
        pub struct $name;

        impl Aggregate for $name {
            type State = $state;
            type Event = $event;

            fn evolve(state: Self::State, ev: &Self::Event) -> Self::State {
                $evolve(state, ev)
            }

            fn decode(ev: &RecordedEvent) -> Result<Self::Event, AppError> {
                // A stored event we cannot read is our bug or a missing upcaster, never the
                // client's: 500, with the event named in the log.
                let failed = |e: &dyn std::fmt::Display| {
                    AppError::internal(format!(
                        "cannot decode {} v{} at {}#{}: {e}",
                        ev.event_type, ev.schema_version, ev.stream_id, ev.stream_version
                    ))
                };
                let data = ev.data_as().map_err(|e| failed(&e))?;
                <$event>::decode(&ev.event_type, ev.schema_version, data).map_err(|e| failed(&e))
            }

            fn encode(ev: &Self::Event) -> (&'static str, i32, serde_json::Value) {
                ev.encode()
            }
        }
    };
}

domain_aggregate!(
    /// `sip-<ulid>`: one plan.
    SipAggregate,
    domain::sip::SipState,
    domain::sip::SipEvent,
    domain::sip::evolve
);
domain_aggregate!(
    /// `person-<ulid>`: the person.
    PersonAggregate,
    domain::person::PersonState,
    domain::person::PersonEvent,
    domain::person::evolve
);
domain_aggregate!(
    /// `unit-<id>`: a unit and its principal.
    UnitAggregate,
    domain::unit::UnitState,
    domain::unit::UnitEvent,
    domain::unit::evolve
);
domain_aggregate!(
    /// `pin-<key>`: whom a personal identity number belongs to.
    RegistryAggregate,
    domain::registry::RegistryState,
    domain::registry::RegistryEvent,
    domain::registry::evolve
);
domain_aggregate!(
    /// `inbox-<unit>`: read marks of a unit's inbox.
    InboxAggregate,
    domain::inbox::InboxState,
    domain::inbox::InboxEvent,
    domain::inbox::evolve
);
