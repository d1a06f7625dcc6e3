//! Units (enheter), stream `unit-<id>`: who the principal is and whether the unit uses samplan.
//!
//! A unit that does not use samplan (Försäkringskassan, a school…) is still an actor in plans; it
//! is reached by letter and the coordinator documents on its behalf.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::context::{Context, Role};
use crate::error::DomainError;
use crate::ids::UnitId;

/// What kind of body is responsible for the unit (huvudman).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A region: health care.
    Region,
    /// A municipality: social services, home care, LSS.
    Municipality,
    /// Anyone else: Försäkringskassan, Arbetsförmedlingen, a school, kriminalvården…
    External,
}

/// The responsible body (huvudman), e.g. `Region Norrbotten`, `Luleå kommun`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub name: String,
}

/// Registers a unit (admin only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterUnit {
    pub id: UnitId,
    pub name: String,
    pub principal: Principal,
    /// false: the unit gets invitations as printable letters.
    pub uses_samplan: bool,
    /// Postal address, used on letters.
    pub address: Option<String>,
    pub phone: Option<String>,
}

/// Commands on a unit stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitCommand {
    RegisterUnit(RegisterUnit),
}

/// Events of a unit stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitEvent {
    UnitRegistered {
        id: UnitId,
        name: String,
        principal: Principal,
        uses_samplan: bool,
        address: Option<String>,
        phone: Option<String>,
        /// The administrator's id.
        registered_by: String,
        registered_at: DateTime<Utc>,
    },
}

impl UnitEvent {
    /// Every event type of this stream, as stored.
    pub const TYPES: &'static [&'static str] = &["UnitRegistered"];

    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            UnitEvent::UnitRegistered { .. } => "UnitRegistered",
        }
    }
}

/// A registered unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub principal: Principal,
    pub uses_samplan: bool,
    pub address: Option<String>,
    pub phone: Option<String>,
}

/// A unit stream folded; `Default` is "not registered".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitState {
    pub unit: Option<Unit>,
}

impl UnitState {
    /// The state of a registered unit (for callers that already hold the facts, and tests).
    pub fn registered(unit: Unit) -> UnitState {
        UnitState { unit: Some(unit) }
    }

    pub fn is_registered(&self) -> bool {
        self.unit.is_some()
    }

    /// Whether the unit works in samplan; unknown units count as not.
    pub fn uses_samplan(&self) -> bool {
        self.unit.as_ref().is_some_and(|u| u.uses_samplan)
    }
}

/// Longest name of a unit or of its principal (region, municipality, care provider).
pub const NAME_CHARS_MAX: usize = 200;
/// Longest address or phone of a unit.
pub const CONTACT_CHARS_MAX: usize = 500;

/// Decides a unit command: only an administrator registers units, each once.
pub fn decide(
    state: &UnitState,
    cmd: &UnitCommand,
    ctx: &Context,
) -> Result<Vec<UnitEvent>, DomainError> {
    if ctx.actor.role != Role::Admin {
        return Err(DomainError::RoleNotAllowed {
            role: ctx.actor.role,
        });
    }
    match cmd {
        UnitCommand::RegisterUnit(c) => {
            if state.is_registered() {
                return Err(DomainError::UnitAlreadyRegistered);
            }
            if crate::text::blank(&c.name) {
                return Err(DomainError::FieldMissing("name"));
            }
            if crate::text::blank(&c.principal.name) {
                return Err(DomainError::FieldMissing("principal.name"));
            }
            // Names stand in headings, lists and the access log (whose care provider column
            // holds 300): a unit is named in a line, not a paragraph.
            for (field, text) in [("name", &c.name), ("principal.name", &c.principal.name)] {
                if text.chars().count() > NAME_CHARS_MAX {
                    return Err(DomainError::FieldTooLong {
                        field,
                        max: NAME_CHARS_MAX,
                    });
                }
            }
            for (field, text) in [("address", &c.address), ("phone", &c.phone)] {
                if text
                    .as_deref()
                    .is_some_and(|t| t.chars().count() > CONTACT_CHARS_MAX)
                {
                    return Err(DomainError::FieldTooLong {
                        field,
                        max: CONTACT_CHARS_MAX,
                    });
                }
            }
            let mut principal = c.principal.clone();
            principal.name = crate::text::name(&principal.name);
            Ok(vec![UnitEvent::UnitRegistered {
                id: c.id.clone(),
                name: crate::text::name(&c.name),
                principal,
                uses_samplan: c.uses_samplan,
                address: c.address.clone(),
                phone: c.phone.clone(),
                registered_by: ctx.actor.id.clone(),
                registered_at: ctx.now,
            }])
        }
    }
}

/// Folds one unit event.
pub fn evolve(state: UnitState, ev: &UnitEvent) -> UnitState {
    let _ = state;
    match ev {
        UnitEvent::UnitRegistered {
            id,
            name,
            principal,
            uses_samplan,
            address,
            phone,
            ..
        } => UnitState {
            unit: Some(Unit {
                id: id.clone(),
                name: name.clone(),
                principal: principal.clone(),
                uses_samplan: *uses_samplan,
                address: address.clone(),
                phone: phone.clone(),
            }),
        },
    }
}
