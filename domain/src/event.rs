//! Every stream's events in one enum, and their stored form: a type name, a schema version and
//! the fields as JSON (`data`, snake_case, no type tag inside).
//!
//! Stored events are read for years, so decoding upgrades old schema versions step by step
//! ([`upcast`]) before deserialising into today's types. Changing an event's fields means:
//! bump its version in [`current_schema_version`], add a step in `upcast_step`, and pin the new
//! JSON with a snapshot test.

use serde_json::{Map, Value};

use crate::inbox::InboxEvent;
use crate::person::PersonEvent;
use crate::registry::RegistryEvent;
use crate::sip::SipEvent;
use crate::unit::UnitEvent;

/// An event of any stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    Person(PersonEvent),
    Unit(UnitEvent),
    Sip(SipEvent),
    Inbox(InboxEvent),
    Registry(RegistryEvent),
}

/// A stored event that cannot be turned into a `DomainEvent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0:?}")]
    UnknownEventType(String),
    #[error("{event_type} has no schema version {version}")]
    UnsupportedSchemaVersion { event_type: String, version: i32 },
    #[error("{event_type} v{version} data does not match its schema: {message}")]
    Malformed {
        event_type: String,
        version: i32,
        message: String,
    },
    #[error("{event_type} is not a {expected} event")]
    WrongCategory {
        expected: &'static str,
        event_type: String,
    },
}

/// The schema version events of this type are written with today, or `None` for an unknown type.
pub fn current_schema_version(event_type: &str) -> Option<i32> {
    match event_type {
        // v2 added `topics` (what the consent covers, Stockholm 003) and `guardians_required`.
        "ConsentGiven" => Some(2),
        // v2 added the relative's own `personal_identity_number` (a guardian's 1177 sign-in).
        "RelativeAdded" => Some(2),
        t if SipEvent::TYPES.contains(&t)
            || PersonEvent::TYPES.contains(&t)
            || UnitEvent::TYPES.contains(&t)
            || InboxEvent::TYPES.contains(&t)
            || RegistryEvent::TYPES.contains(&t) =>
        {
            Some(1)
        }
        _ => None,
    }
}

/// One upgrade from `version` to `version + 1`.
fn upcast_step(event_type: &str, version: i32, data: Value) -> Result<Value, DecodeError> {
    match (event_type, version) {
        // ConsentGiven v1 recorded who consented, to which actors and until when, but neither
        // the topics nor the guardians of a child. Topics were agreed on paper then: an empty
        // list means "not recorded". Without the guardian list the plan's own summary counts a
        // v1 guardian consent as incomplete; `decide` checks the guardians registered today
        // anyway, so nothing is allowed that should not be.
        ("ConsentGiven", 1) => {
            let mut map = into_object(event_type, version, data)?;
            map.entry("topics")
                .or_insert_with(|| Value::Array(Vec::new()));
            map.entry("guardians_required")
                .or_insert_with(|| Value::Array(Vec::new()));
            Ok(Value::Object(map))
        }
        // RelativeAdded v1 did not record the relative's personnummer.
        ("RelativeAdded", 1) => {
            let mut map = into_object(event_type, version, data)?;
            map.entry("personal_identity_number").or_insert(Value::Null);
            Ok(Value::Object(map))
        }
        _ => Err(DecodeError::UnsupportedSchemaVersion {
            event_type: event_type.to_string(),
            version,
        }),
    }
}

fn into_object(
    event_type: &str,
    version: i32,
    data: Value,
) -> Result<Map<String, Value>, DecodeError> {
    match data {
        Value::Object(map) => Ok(map),
        other => Err(DecodeError::Malformed {
            event_type: event_type.to_string(),
            version,
            message: format!("expected an object, got {other}"),
        }),
    }
}

/// Upgrades `data` written as `schema_version` of `event_type` to the current version, one step
/// at a time. Versions below 1 or above the current one are refused.
pub fn upcast(event_type: &str, schema_version: i32, data: Value) -> Result<Value, DecodeError> {
    let current = current_schema_version(event_type)
        .ok_or_else(|| DecodeError::UnknownEventType(event_type.to_string()))?;
    if schema_version < 1 || schema_version > current {
        return Err(DecodeError::UnsupportedSchemaVersion {
            event_type: event_type.to_string(),
            version: schema_version,
        });
    }
    let mut data = data;
    for version in schema_version..current {
        data = upcast_step(event_type, version, data)?;
    }
    Ok(data)
}

/// Serialises an externally tagged enum value `{ "Type": { fields } }` and keeps the fields.
fn fields_of<T: serde::Serialize>(event: &T) -> Value {
    match serde_json::to_value(event) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        // Unit variants serialise as a bare string: they have no fields.
        Ok(Value::String(_)) => Value::Object(Map::new()),
        // Our event types are plain data with string keys; serialising them cannot fail.
        _ => Value::Null,
    }
}

fn from_fields<T: serde::de::DeserializeOwned>(
    event_type: &str,
    version: i32,
    data: Value,
) -> Result<T, DecodeError> {
    let mut tagged = Map::new();
    tagged.insert(event_type.to_string(), data);
    serde_json::from_value(Value::Object(tagged)).map_err(|e| DecodeError::Malformed {
        event_type: event_type.to_string(),
        version,
        message: e.to_string(),
    })
}

impl DomainEvent {
    /// The stored type name, e.g. `ConsentGiven`.
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::Person(e) => e.event_type(),
            DomainEvent::Unit(e) => e.event_type(),
            DomainEvent::Sip(e) => e.event_type(),
            DomainEvent::Inbox(e) => e.event_type(),
            DomainEvent::Registry(e) => e.event_type(),
        }
    }

    /// The schema version this event is written with.
    pub fn schema_version(&self) -> i32 {
        current_schema_version(self.event_type()).unwrap_or(1)
    }

    /// The stream category: `person`, `unit`, `sip`, `inbox` or `pin` (also the NATS subject
    /// part).
    pub fn category(&self) -> &'static str {
        match self {
            DomainEvent::Person(_) => "person",
            DomainEvent::Unit(_) => "unit",
            DomainEvent::Sip(_) => "sip",
            DomainEvent::Inbox(_) => "inbox",
            DomainEvent::Registry(_) => "pin",
        }
    }

    /// The event's fields as stored in `data`.
    pub fn to_data(&self) -> Value {
        match self {
            DomainEvent::Person(e) => fields_of(e),
            DomainEvent::Unit(e) => fields_of(e),
            DomainEvent::Sip(e) => fields_of(e),
            DomainEvent::Inbox(e) => fields_of(e),
            DomainEvent::Registry(e) => fields_of(e),
        }
    }

    /// Reads a stored event from its JSON text: in one pass when it has today's schema version
    /// (the common case, and what a rebuild of millions of events spends its time on), through
    /// [`DomainEvent::decode`]'s upcasting otherwise.
    pub fn decode_text(
        event_type: &str,
        schema_version: i32,
        data: &str,
    ) -> Result<DomainEvent, DecodeError> {
        if current_schema_version(event_type) != Some(schema_version) {
            let value: Value = serde_json::from_str(data).map_err(|e| DecodeError::Malformed {
                event_type: event_type.to_string(),
                version: schema_version,
                message: e.to_string(),
            })?;
            return DomainEvent::decode(event_type, schema_version, value);
        }
        let malformed = |e: serde_json::Error| DecodeError::Malformed {
            event_type: event_type.to_string(),
            version: schema_version,
            message: e.to_string(),
        };
        // The enums are externally tagged: `{"<type>": <data>}`. Type names are plain
        // identifiers (checked by `current_schema_version` above), so no escaping is needed.
        let tagged = format!("{{\"{event_type}\":{data}}}");
        let t = event_type;
        if SipEvent::TYPES.contains(&t) {
            serde_json::from_str(&tagged)
                .map(DomainEvent::Sip)
                .map_err(malformed)
        } else if PersonEvent::TYPES.contains(&t) {
            serde_json::from_str(&tagged)
                .map(DomainEvent::Person)
                .map_err(malformed)
        } else if UnitEvent::TYPES.contains(&t) {
            serde_json::from_str(&tagged)
                .map(DomainEvent::Unit)
                .map_err(malformed)
        } else if InboxEvent::TYPES.contains(&t) {
            serde_json::from_str(&tagged)
                .map(DomainEvent::Inbox)
                .map_err(malformed)
        } else if RegistryEvent::TYPES.contains(&t) {
            serde_json::from_str(&tagged)
                .map(DomainEvent::Registry)
                .map_err(malformed)
        } else {
            Err(DecodeError::UnknownEventType(t.to_string()))
        }
    }

    /// Reads a stored event, upgrading older schema versions first.
    pub fn decode(
        event_type: &str,
        schema_version: i32,
        data: Value,
    ) -> Result<DomainEvent, DecodeError> {
        let data = upcast(event_type, schema_version, data)?;
        let t = event_type;
        if SipEvent::TYPES.contains(&t) {
            from_fields(t, schema_version, data).map(DomainEvent::Sip)
        } else if PersonEvent::TYPES.contains(&t) {
            from_fields(t, schema_version, data).map(DomainEvent::Person)
        } else if UnitEvent::TYPES.contains(&t) {
            from_fields(t, schema_version, data).map(DomainEvent::Unit)
        } else if InboxEvent::TYPES.contains(&t) {
            from_fields(t, schema_version, data).map(DomainEvent::Inbox)
        } else if RegistryEvent::TYPES.contains(&t) {
            from_fields(t, schema_version, data).map(DomainEvent::Registry)
        } else {
            Err(DecodeError::UnknownEventType(t.to_string()))
        }
    }
}

macro_rules! stream_event {
    ($ty:ty, $variant:ident, $category:literal) => {
        impl From<$ty> for DomainEvent {
            fn from(e: $ty) -> DomainEvent {
                DomainEvent::$variant(e)
            }
        }

        impl TryFrom<DomainEvent> for $ty {
            type Error = DecodeError;
            fn try_from(e: DomainEvent) -> Result<$ty, DecodeError> {
                match e {
                    DomainEvent::$variant(inner) => Ok(inner),
                    other => Err(DecodeError::WrongCategory {
                        expected: $category,
                        event_type: other.event_type().to_string(),
                    }),
                }
            }
        }

        impl $ty {
            /// Decodes a stored event of this stream (upcasting old versions).
            pub fn decode(
                event_type: &str,
                schema_version: i32,
                data: Value,
            ) -> Result<$ty, DecodeError> {
                DomainEvent::decode(event_type, schema_version, data)?.try_into()
            }

            /// Decodes a stored event of this stream from its JSON text (see
            /// [`DomainEvent::decode_text`]).
            pub fn decode_text(
                event_type: &str,
                schema_version: i32,
                data: &str,
            ) -> Result<$ty, DecodeError> {
                DomainEvent::decode_text(event_type, schema_version, data)?.try_into()
            }

            /// This event's stored form: (type, schema version, data).
            pub fn encode(&self) -> (&'static str, i32, Value) {
                let e = DomainEvent::from(self.clone());
                (e.event_type(), e.schema_version(), e.to_data())
            }
        }
    };
}

stream_event!(SipEvent, Sip, "sip");
stream_event!(PersonEvent, Person, "person");
stream_event!(UnitEvent, Unit, "unit");
stream_event!(InboxEvent, Inbox, "inbox");
stream_event!(RegistryEvent, Registry, "pin");
