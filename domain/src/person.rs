//! The person a plan is for (den enskilde), stream `person-<ulid>`.
//!
//! Other streams refer to the person by id, never by personnummer. What the SIP rules need from
//! here: whether the person is a child on a given day (from the personnummer), who the
//! registered guardians are, and whether the identity is protected, the person has died or has
//! moved out of the region (each means the plan must be closed).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::context::{Context, StaffRef};
use crate::error::DomainError;
use crate::ids::PersonId;
use crate::personnummer::PersonalIdentityNumber;

/// How a relative stands to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelativeKind {
    /// Närstående: family or someone close.
    Relative,
    /// God man.
    Trustee,
    /// Förvaltare.
    Administrator,
    /// Vårdnadshavare: gives consent for a child.
    Guardian,
}

/// Registers a person. The personnummer arrives raw and is parsed in `decide`, so a bad one is
/// refused with `invalid_personal_identity_number` and a Swedish explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterPerson {
    pub person_id: PersonId,
    pub personal_identity_number: String,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeContactDetails {
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddRelative {
    /// Chosen by the caller (a ULID string); unique within the person.
    pub relative_id: String,
    pub kind: RelativeKind,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub note: Option<String>,
    /// The relative's own personnummer, raw (parsed in `decide`). For a guardian it links the
    /// guardian's own 1177 sign-in to the child's plans.
    #[serde(default)]
    pub personal_identity_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveRelative {
    pub relative_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDeath {
    pub died_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterMovedOut {
    pub moved_on: NaiveDate,
    pub to_region: Option<String>,
}

/// Commands on a person stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonCommand {
    RegisterPerson(RegisterPerson),
    ChangeContactDetails(ChangeContactDetails),
    AddRelative(AddRelative),
    RemoveRelative(RemoveRelative),
    MarkProtectedIdentity,
    RegisterDeath(RegisterDeath),
    RegisterMovedOut(RegisterMovedOut),
}

impl PersonCommand {
    /// The command's name, for logs and the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            PersonCommand::RegisterPerson(_) => "RegisterPerson",
            PersonCommand::ChangeContactDetails(_) => "ChangeContactDetails",
            PersonCommand::AddRelative(_) => "AddRelative",
            PersonCommand::RemoveRelative(_) => "RemoveRelative",
            PersonCommand::MarkProtectedIdentity => "MarkProtectedIdentity",
            PersonCommand::RegisterDeath(_) => "RegisterDeath",
            PersonCommand::RegisterMovedOut(_) => "RegisterMovedOut",
        }
    }
}

/// Events of a person stream. Every event records the staff member who recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersonEvent {
    PersonRegistered {
        person_id: PersonId,
        personal_identity_number: PersonalIdentityNumber,
        name: String,
        phone: Option<String>,
        address: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    ContactDetailsChanged {
        phone: Option<String>,
        address: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    RelativeAdded {
        relative_id: String,
        kind: RelativeKind,
        name: String,
        phone: Option<String>,
        address: Option<String>,
        note: Option<String>,
        /// The relative's own personnummer, when recorded. Added in schema version 2;
        /// version-1 events are upcast with none.
        personal_identity_number: Option<PersonalIdentityNumber>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    RelativeRemoved {
        relative_id: String,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    ProtectedIdentityMarked {
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    DeathRegistered {
        died_on: NaiveDate,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    MovedOutOfRegion {
        moved_on: NaiveDate,
        to_region: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
}

impl PersonEvent {
    /// Every event type of this stream, as stored.
    pub const TYPES: &'static [&'static str] = &[
        "PersonRegistered",
        "ContactDetailsChanged",
        "RelativeAdded",
        "RelativeRemoved",
        "ProtectedIdentityMarked",
        "DeathRegistered",
        "MovedOutOfRegion",
    ];

    /// When it was recorded, by the gateway's clock (as a plan's events: `SipEvent::recorded`).
    pub fn recorded_at(&self) -> DateTime<Utc> {
        match self {
            PersonEvent::PersonRegistered { recorded_at, .. }
            | PersonEvent::ContactDetailsChanged { recorded_at, .. }
            | PersonEvent::RelativeAdded { recorded_at, .. }
            | PersonEvent::RelativeRemoved { recorded_at, .. }
            | PersonEvent::ProtectedIdentityMarked { recorded_at, .. }
            | PersonEvent::DeathRegistered { recorded_at, .. }
            | PersonEvent::MovedOutOfRegion { recorded_at, .. } => *recorded_at,
        }
    }

    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            PersonEvent::PersonRegistered { .. } => "PersonRegistered",
            PersonEvent::ContactDetailsChanged { .. } => "ContactDetailsChanged",
            PersonEvent::RelativeAdded { .. } => "RelativeAdded",
            PersonEvent::RelativeRemoved { .. } => "RelativeRemoved",
            PersonEvent::ProtectedIdentityMarked { .. } => "ProtectedIdentityMarked",
            PersonEvent::DeathRegistered { .. } => "DeathRegistered",
            PersonEvent::MovedOutOfRegion { .. } => "MovedOutOfRegion",
        }
    }
}

/// A relative, god man, förvaltare or guardian.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relative {
    pub relative_id: String,
    pub kind: RelativeKind,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub note: Option<String>,
    /// The relative's own personnummer, when recorded.
    #[serde(default)]
    pub personal_identity_number: Option<PersonalIdentityNumber>,
}

/// Where the person moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedOut {
    pub moved_on: NaiveDate,
    pub to_region: Option<String>,
}

/// A person stream folded; `Default` is "not registered".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PersonState {
    pub person_id: Option<PersonId>,
    pub personal_identity_number: Option<PersonalIdentityNumber>,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Keyed by relative id.
    pub relatives: BTreeMap<String, Relative>,
    pub protected_identity: bool,
    /// The day the person died, when registered.
    pub deceased: Option<NaiveDate>,
    pub moved_out: Option<MovedOut>,
}

impl PersonState {
    pub fn is_registered(&self) -> bool {
        self.person_id.is_some()
    }

    /// The registered guardians (vårdnadshavare), in id order.
    pub fn guardians(&self) -> Vec<&Relative> {
        self.relatives
            .values()
            .filter(|r| r.kind == RelativeKind::Guardian)
            .collect()
    }

    /// Whether the person is under 18 on `date` (Swedish date), from the personnummer.
    pub fn is_child_on(&self, date: NaiveDate) -> bool {
        self.personal_identity_number
            .as_ref()
            .is_some_and(|pin| pin.is_child_on(date))
    }

    /// The 18th birthday, from the personnummer (`None` without one).
    pub fn adult_on(&self) -> Option<NaiveDate> {
        self.personal_identity_number
            .as_ref()
            .map(|pin| pin.adult_on())
    }

    /// A relative by id.
    pub fn relative(&self, relative_id: &str) -> Option<&Relative> {
        self.relatives.get(relative_id)
    }
}

/// Longest name, phone, address or note we accept.
const FIELD_LEN_MAX_CHARS: usize = 500;

fn non_empty(s: &str, field: &'static str) -> Result<String, DomainError> {
    let t = s.trim();
    if crate::text::blank(t) {
        Err(DomainError::FieldMissing(field))
    } else if t.chars().count() > FIELD_LEN_MAX_CHARS {
        Err(DomainError::FieldTooLong {
            field,
            max: FIELD_LEN_MAX_CHARS,
        })
    } else {
        Ok(t.to_string())
    }
}

fn trimmed(s: &Option<String>, field: &'static str) -> Result<Option<String>, DomainError> {
    match s
        .as_deref()
        .map(str::trim)
        .filter(|v| !crate::text::blank(v))
    {
        Some(t) => non_empty(t, field).map(Some),
        None => Ok(None),
    }
}

/// Decides a person command. Staff only.
pub fn decide(
    state: &PersonState,
    cmd: &PersonCommand,
    ctx: &Context,
) -> Result<Vec<PersonEvent>, DomainError> {
    let by = StaffRef::from_context(ctx)?;
    let at = ctx.now;
    if let PersonCommand::RegisterPerson(c) = cmd {
        if state.is_registered() {
            return Err(DomainError::PersonAlreadyRegistered);
        }
        let pin = PersonalIdentityNumber::parse(&c.personal_identity_number, ctx.today()).map_err(
            |e| DomainError::InvalidPersonalIdentityNumber {
                message: e.message(),
            },
        )?;
        return Ok(vec![PersonEvent::PersonRegistered {
            person_id: c.person_id,
            personal_identity_number: pin,
            name: non_empty(&crate::text::name(&c.name), "name")?,
            phone: trimmed(&c.phone, "phone")?,
            address: trimmed(&c.address, "address")?,
            recorded_by: by,
            recorded_at: at,
        }]);
    }
    if !state.is_registered() {
        return Err(DomainError::PersonNotFound);
    }
    let events = match cmd {
        PersonCommand::RegisterPerson(_) => Vec::new(),
        PersonCommand::ChangeContactDetails(c) => vec![PersonEvent::ContactDetailsChanged {
            phone: trimmed(&c.phone, "phone")?,
            address: trimmed(&c.address, "address")?,
            recorded_by: by,
            recorded_at: at,
        }],
        PersonCommand::AddRelative(c) => {
            let relative_id = crate::ids::item_id(&c.relative_id, "närstående")?;
            if state.relatives.contains_key(&relative_id) {
                return Err(DomainError::RelativeExists(relative_id));
            }
            let personal_identity_number =
                match trimmed(&c.personal_identity_number, "personal_identity_number")? {
                    Some(raw) => {
                        let pin =
                            PersonalIdentityNumber::parse(&raw, ctx.today()).map_err(|e| {
                                DomainError::InvalidPersonalIdentityNumber {
                                    message: e.message(),
                                }
                            })?;
                        if state.personal_identity_number == Some(pin) {
                            return Err(DomainError::RelativeIsThePerson);
                        }
                        Some(pin)
                    }
                    None => None,
                };
            vec![PersonEvent::RelativeAdded {
                relative_id,
                kind: c.kind,
                name: non_empty(&crate::text::name(&c.name), "name")?,
                phone: trimmed(&c.phone, "phone")?,
                address: trimmed(&c.address, "address")?,
                note: trimmed(&c.note, "note")?,
                personal_identity_number,
                recorded_by: by,
                recorded_at: at,
            }]
        }
        PersonCommand::RemoveRelative(c) => {
            if !state.relatives.contains_key(&c.relative_id) {
                return Err(DomainError::UnknownRelative(c.relative_id.clone()));
            }
            vec![PersonEvent::RelativeRemoved {
                relative_id: c.relative_id.clone(),
                recorded_by: by,
                recorded_at: at,
            }]
        }
        // Marking twice changes nothing, so a retried request is harmless.
        PersonCommand::MarkProtectedIdentity if state.protected_identity => Vec::new(),
        PersonCommand::MarkProtectedIdentity => vec![PersonEvent::ProtectedIdentityMarked {
            recorded_by: by,
            recorded_at: at,
        }],
        PersonCommand::RegisterDeath(c) => {
            if state.deceased.is_some() {
                return Err(DomainError::PersonDeceased);
            }
            if !crate::calendar::covers(c.died_on) {
                return Err(DomainError::DateOutOfRange("died_on"));
            }
            if c.died_on > ctx.today() {
                return Err(DomainError::InFuture("dödsfallet"));
            }
            vec![PersonEvent::DeathRegistered {
                died_on: c.died_on,
                recorded_by: by,
                recorded_at: at,
            }]
        }
        PersonCommand::RegisterMovedOut(c) => {
            if state.deceased.is_some() {
                return Err(DomainError::PersonDeceased);
            }
            if !crate::calendar::covers(c.moved_on) {
                return Err(DomainError::DateOutOfRange("moved_on"));
            }
            vec![PersonEvent::MovedOutOfRegion {
                moved_on: c.moved_on,
                to_region: trimmed(&c.to_region, "to_region")?,
                recorded_by: by,
                recorded_at: at,
            }]
        }
    };
    Ok(events)
}

/// Folds one person event.
pub fn evolve(mut state: PersonState, ev: &PersonEvent) -> PersonState {
    match ev {
        PersonEvent::PersonRegistered {
            person_id,
            personal_identity_number,
            name,
            phone,
            address,
            ..
        } => {
            state.person_id = Some(*person_id);
            state.personal_identity_number = Some(*personal_identity_number);
            state.name = name.clone();
            state.phone = phone.clone();
            state.address = address.clone();
        }
        PersonEvent::ContactDetailsChanged { phone, address, .. } => {
            state.phone = phone.clone();
            state.address = address.clone();
        }
        PersonEvent::RelativeAdded {
            relative_id,
            kind,
            name,
            phone,
            address,
            note,
            personal_identity_number,
            ..
        } => {
            state.relatives.insert(
                relative_id.clone(),
                Relative {
                    relative_id: relative_id.clone(),
                    kind: *kind,
                    name: name.clone(),
                    phone: phone.clone(),
                    address: address.clone(),
                    note: note.clone(),
                    personal_identity_number: *personal_identity_number,
                },
            );
        }
        PersonEvent::RelativeRemoved { relative_id, .. } => {
            state.relatives.remove(relative_id);
        }
        PersonEvent::ProtectedIdentityMarked { .. } => state.protected_identity = true,
        PersonEvent::DeathRegistered { died_on, .. } => state.deceased = Some(*died_on),
        PersonEvent::MovedOutOfRegion {
            moved_on,
            to_region,
            ..
        } => {
            state.moved_out = Some(MovedOut {
                moved_on: *moved_on,
                to_region: to_region.clone(),
            })
        }
    }
    state
}
