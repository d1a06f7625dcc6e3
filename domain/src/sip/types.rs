//! Values shared by SIP commands, events, state and views.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{StaffId, UnitId};
use crate::policy::Track;

/// Who noticed the need for a SIP (steg 1: staff, the person or a relative may raise it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifiedBy {
    Staff,
    Person,
    Relative,
}

/// Outpatient care or discharge from inpatient care (SPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareContextKind {
    Outpatient,
    Discharge,
}

/// The situation the SIP starts in; deadlines depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedContext {
    pub kind: CareContextKind,
    /// Örebro's discharge track; only with `kind = discharge`.
    #[serde(default)]
    pub track: Option<Track>,
    /// When the discharge-ready notice (utskrivningsklarmeddelande) was sent.
    #[serde(default)]
    pub discharge_ready_at: Option<DateTime<Utc>>,
}

/// Who gives, declines or withdraws consent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsentGiver {
    /// The person (an adult).
    Person,
    /// A registered guardian of a child; every guardian must consent.
    Guardian { relative_id: String },
    /// A representative (företrädare) taking part instead of the person, which the person
    /// accepted; a registered relative, god man or förvaltare.
    Representative { relative_id: String },
}

/// A fixed care contact (fast vårdkontakt): the person's named contact in health care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedCareContact {
    pub name: String,
    pub unit_id: Option<UnitId>,
    pub phone: Option<String>,
}

/// What an invitation summons to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationPurpose {
    /// The SIP meeting where the plan is agreed.
    Meeting,
    /// A follow-up (uppföljning).
    FollowUp,
}

/// How the participants meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingForm {
    InPerson,
    Video,
    Phone,
}

/// Who an invitation goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    /// A unit (actor); digital when it uses samplan, otherwise a letter.
    Unit { unit_id: UnitId },
    /// The person; always a letter.
    Person,
    /// A relative registered on the person; always a letter.
    Relative { relative_id: String },
}

/// How an invitation reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// In the unit's samplan inbox.
    Digital,
    /// A printable letter, posted by the coordinator.
    Letter,
}

/// One recipient of an invitation and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRecipient {
    pub recipient: Recipient,
    pub delivery: Delivery,
    /// Name to print (unit name, the person, the relative), captured when sent.
    pub name: String,
    /// Postal address for a letter, captured when sent.
    pub address: Option<String>,
}

/// The representative an invited unit appoints ("verksamheten utser sin egen representant").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representative {
    pub name: String,
    pub staff_id: Option<StaffId>,
    /// Profession or title, e.g. "distriktssköterska".
    pub profession: Option<String>,
    pub phone: Option<String>,
}

/// How someone attended a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendeeRole {
    /// Staff representing a unit.
    Staff,
    /// The person.
    Person,
    Relative,
    /// A representative (företrädare) in the person's place.
    Representative,
    /// Interpreter or someone else.
    Other,
}

/// Someone who attended a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub name: String,
    pub role: AttendeeRole,
    /// The unit they represent, for staff.
    #[serde(default)]
    pub unit_id: Option<UnitId>,
}

/// Who is responsible for a sub-goal or intervention.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Responsible {
    /// An actor (unit), internal or external.
    Unit { unit_id: UnitId },
    /// The person (egenvård, self-care).
    Person,
}

/// What became of an intervention at a follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterventionOutcome {
    Continues,
    Changed,
    Completed,
}

/// An intervention's follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterventionFollowUp {
    pub intervention_id: String,
    pub outcome: InterventionOutcome,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Whether a goal was reached at a follow-up. `sub_goal_id = None` is the main goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalFollowUp {
    #[serde(default)]
    pub sub_goal_id: Option<String>,
    pub reached: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Why a plan was closed (avslut).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    GoalsMet,
    NoLongerNeeded,
    ConsentWithdrawn,
    /// The person never consented: the case is closed after the refusal has been documented in
    /// the journal and the municipality informed (Örebro, 001).
    ConsentDeclined,
    ProtectedIdentity,
    MovedOutOfRegion,
    Deceased,
    ReplacedByNewPlan,
}
