//! The register of personal identity numbers, one stream per number: `pin-<key>`, where the key is
//! a keyed digest of the number (computed by the gateway; the number itself never names a
//! stream, a subject on NATS or a line in a log).
//!
//! A registration first claims its number here, with "no stream yet" expected, and only then
//! registers the person: the store's unique key on `(stream, version)` lets exactly one claim of a
//! number be the first, whichever process it comes from, so a number can never belong to two
//! persons (ADR 0013). The first claim names the person the number belongs to from then on;
//! claiming it again records nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::context::{Context, Role};
use crate::error::DomainError;
use crate::ids::PersonId;

/// The stream of the number whose keyed digest (lower-case hex) is `key`.
pub fn stream_id(key: &str) -> String {
    format!("pin-{key}")
}

/// Commands on a number's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryCommand {
    /// This number belongs to `person_id`, unless it already belongs to someone.
    Claim { person_id: PersonId },
}

/// Events of a number's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistryEvent {
    PersonalIdentityNumberClaimed {
        person_id: PersonId,
        /// The staff member's HSA-id.
        claimed_by: String,
        claimed_at: DateTime<Utc>,
    },
}

impl RegistryEvent {
    /// Every event type of this stream, as stored.
    pub const TYPES: &'static [&'static str] = &["PersonalIdentityNumberClaimed"];

    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            RegistryEvent::PersonalIdentityNumberClaimed { .. } => "PersonalIdentityNumberClaimed",
        }
    }
}

/// Whom a number belongs to, if anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryState {
    pub person_id: Option<PersonId>,
}

/// Claims the number for a person (staff only). A number that belongs to someone already records
/// nothing: the caller reads whom it belongs to and decides from there.
pub fn decide(
    state: &RegistryState,
    cmd: &RegistryCommand,
    ctx: &Context,
) -> Result<Vec<RegistryEvent>, DomainError> {
    if ctx.actor.role != Role::Staff {
        return Err(DomainError::RoleNotAllowed {
            role: ctx.actor.role,
        });
    }
    match cmd {
        RegistryCommand::Claim { person_id } => {
            if state.person_id.is_some() {
                return Ok(Vec::new());
            }
            Ok(vec![RegistryEvent::PersonalIdentityNumberClaimed {
                person_id: *person_id,
                claimed_by: ctx.actor.id.clone(),
                claimed_at: ctx.now,
            }])
        }
    }
}

pub fn evolve(mut state: RegistryState, ev: &RegistryEvent) -> RegistryState {
    match ev {
        RegistryEvent::PersonalIdentityNumberClaimed { person_id, .. } => {
            // The first claim stands; the store lets no second one be appended anyway.
            state.person_id.get_or_insert(*person_id);
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Actor;
    use chrono::TimeZone;

    fn ctx(role: Role) -> Context {
        Context {
            actor: Actor {
                id: "SE2321000016-A1B2".into(),
                name: "Test".into(),
                unit: None,
                role,
            },
            now: Utc
                .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                .single()
                .expect("time"),
        }
    }

    fn person(n: u128) -> PersonId {
        PersonId::from_ulid(ulid::Ulid::from_parts(1, n))
    }

    #[test]
    fn the_first_claim_of_a_number_stands_and_a_second_records_nothing() {
        let first = decide(
            &RegistryState::default(),
            &RegistryCommand::Claim {
                person_id: person(1),
            },
            &ctx(Role::Staff),
        )
        .expect("claimed");
        assert_eq!(first.len(), 1);
        let state = first.iter().fold(RegistryState::default(), evolve);
        assert_eq!(state.person_id, Some(person(1)));
        let again = decide(
            &state,
            &RegistryCommand::Claim {
                person_id: person(2),
            },
            &ctx(Role::Staff),
        )
        .expect("nothing to record");
        assert!(again.is_empty());
    }

    #[test]
    fn only_staff_claim_numbers() {
        let refused = decide(
            &RegistryState::default(),
            &RegistryCommand::Claim {
                person_id: person(1),
            },
            &ctx(Role::Citizen),
        );
        assert_eq!(
            refused,
            Err(DomainError::RoleNotAllowed {
                role: Role::Citizen
            })
        );
    }
}
