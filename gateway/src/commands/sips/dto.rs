//! Request bodies of the SIP routes (ADR 0003): what clients send, with `deny_unknown_fields` and
//! an OpenAPI schema, converted into `domain::sip` commands here and nowhere else.
//!
//! Ids the domain knows as newtypes travel as strings and are parsed by the domain's own parsers,
//! so a bad unit id is a 422 with the domain's code. Ids of new items (invitation, mapping,
//! sub-goal, intervention, follow-up) may be chosen by the client, which makes a retry without
//! `Idempotency-Key` still address the same item; otherwise a ULID is drawn here.

use chrono::{DateTime, NaiveDate, Utc};
use domain::error::DomainError;
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::policy::Track;
use domain::sip::{self as dsip, SipCommand};
use serde::Deserialize;
use ulid::Ulid;
use utoipa::ToSchema;

/// A plain enum of the API mirrored onto the domain's enum of the same variants.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident => $target:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$name> for $target {
            fn from(value: $name) -> Self {
                use $target as Target;
                match value {
                    $($name::$variant => Target::$variant),+
                }
            }
        }
    };
}

mirror_enum!(
    /// Who noticed the need: staff, the person or a relative.
    IdentifiedBy => dsip::IdentifiedBy { Staff, Person, Relative }
);
mirror_enum!(
    /// Outpatient care, or discharge from inpatient care.
    CareContextKind => dsip::CareContextKind { Outpatient, Discharge }
);
mirror_enum!(
    /// Discharge track (grönt, gult, rött spår); only with `kind = discharge`.
    DischargeTrack => Track { Green, Yellow, Red }
);
mirror_enum!(
    /// What an invitation summons to.
    InvitationPurpose => dsip::InvitationPurpose { Meeting, FollowUp }
);
mirror_enum!(
    /// How the participants meet.
    MeetingForm => dsip::MeetingForm { InPerson, Video, Phone }
);
mirror_enum!(
    /// How someone attended a meeting.
    AttendeeRole => dsip::AttendeeRole { Staff, Person, Relative, Representative, Other }
);
mirror_enum!(
    /// What became of an intervention at a follow-up.
    InterventionOutcome => dsip::InterventionOutcome { Continues, Changed, Completed }
);
mirror_enum!(
    /// Why a plan is closed (avslut).
    CloseReason => dsip::CloseReason {
        GoalsMet, NoLongerNeeded, ConsentWithdrawn, ConsentDeclined, ProtectedIdentity,
        MovedOutOfRegion, Deceased, ReplacedByNewPlan
    }
);

/// The heading codes (delmålsrubriker) of `domain::heading::Heading`, for the OpenAPI document
/// only: the request carries the code as a string and the domain parses it (case-insensitively).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum HeadingCode {
    PhysicalHealth,
    MentalHealth,
    SubstanceUse,
    SelfCare,
    Housing,
    DailyLiving,
    Mobility,
    Communication,
    Education,
    Occupation,
    Finances,
    Relationships,
    Leisure,
    Safety,
    Other,
}

/// A client-chosen id of a new item, or a fresh ULID.
fn item_id(given: Option<String>) -> Result<String, DomainError> {
    match given {
        None => Ok(Ulid::generate().to_string()),
        Some(id) => domain::ids::item_id(&id, "post"),
    }
}

fn unit(id: &str) -> Result<UnitId, DomainError> {
    UnitId::parse(id)
}

fn units(ids: &[String]) -> Result<Vec<UnitId>, DomainError> {
    ids.iter().map(|id| unit(id)).collect()
}

/// The situation the SIP starts in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedContext {
    pub kind: CareContextKind,
    /// Only with `kind = discharge`.
    #[serde(default)]
    pub track: Option<DischargeTrack>,
    /// When the discharge-ready notice (utskrivningsklarmeddelande) was sent.
    #[serde(default)]
    pub discharge_ready_at: Option<DateTime<Utc>>,
}

/// `POST /sips` — IdentifyNeed: a need for a SIP is noticed; starts the plan.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyNeedRequest {
    /// The person the plan is for (a ULID from `POST /persons`).
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub person_id: String,
    pub identified_by: IdentifiedBy,
    /// Why a SIP is needed.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
    /// When the need became known; default now, never in the future. Deadlines count from it.
    #[serde(default)]
    pub known_since: Option<DateTime<Utc>>,
    pub context: NeedContext,
}

impl IdentifyNeedRequest {
    /// The domain command for a plan with the id drawn by the route.
    pub fn into_command(self, sip_id: SipId) -> Result<dsip::IdentifyNeed, DomainError> {
        Ok(dsip::IdentifyNeed {
            sip_id,
            person_id: PersonId::parse(&self.person_id)?,
            identified_by: self.identified_by.into(),
            reason: self.reason,
            known_since: self.known_since,
            context: dsip::NeedContext {
                kind: self.context.kind.into(),
                track: self.context.track.map(Into::into),
                discharge_ready_at: self.context.discharge_ready_at,
            },
        })
    }
}

/// Who gives, declines or withdraws consent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConsentGiver {
    /// The person (an adult).
    Person,
    /// A registered guardian of a child (a relative id of the person); every guardian must
    /// consent.
    Guardian {
        #[schema(min_length = 1, max_length = 500)]
        relative_id: String,
    },
    /// A representative the person accepted (a relative id of the person).
    Representative {
        #[schema(min_length = 1, max_length = 500)]
        relative_id: String,
    },
}

impl From<ConsentGiver> for dsip::ConsentGiver {
    fn from(value: ConsentGiver) -> Self {
        match value {
            ConsentGiver::Person => dsip::ConsentGiver::Person,
            ConsentGiver::Guardian { relative_id } => dsip::ConsentGiver::Guardian { relative_id },
            ConsentGiver::Representative { relative_id } => {
                dsip::ConsentGiver::Representative { relative_id }
            }
        }
    }
}

/// Conversion of a request body into the domain command.
pub trait IntoSipCommand {
    /// The route segment, e.g. `record-consent`.
    const SEGMENT: &'static str;
    fn into_command(self) -> Result<SipCommand, DomainError>;
}

/// `record-consent` — samtycke: consent was given.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsentRequest {
    pub given_by: ConsentGiver,
    /// The units (actors) the consent covers.
    #[schema(min_items = 1, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub actors: Vec<String>,
    /// What the meeting may be about.
    #[serde(default)]
    #[schema(min_items = 1, min_length = 1)]
    pub topics: Vec<String>,
    /// Last date the consent is valid.
    pub valid_until: NaiveDate,
    /// With a representative: the person accepted that the representative takes part instead.
    #[serde(default)]
    pub person_accepted_representative: bool,
    /// The närstående (relative ids) the person agreed may be invited to the meeting. Absent: the
    /// consent does not say, and any registered närstående may be invited; `[]`: none.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub relatives: Option<Vec<String>>,
}

impl IntoSipCommand for RecordConsentRequest {
    const SEGMENT: &'static str = "record-consent";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::RecordConsent(dsip::RecordConsent {
            given_by: self.given_by.into(),
            actors: units(&self.actors)?,
            topics: self.topics,
            valid_until: self.valid_until,
            person_accepted_representative: self.person_accepted_representative,
            relatives: self.relatives,
        }))
    }
}

/// `decline-consent` — the person (or a guardian) said no.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineConsentRequest {
    pub declined_by: ConsentGiver,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub note: Option<String>,
}

impl IntoSipCommand for DeclineConsentRequest {
    const SEGMENT: &'static str = "decline-consent";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::DeclineConsent(dsip::DeclineConsent {
            declined_by: self.declined_by.into(),
            note: self.note,
        }))
    }
}

/// `withdraw-consent` — consent taken back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawConsentRequest {
    pub withdrawn_by: ConsentGiver,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub note: Option<String>,
}

impl IntoSipCommand for WithdrawConsentRequest {
    const SEGMENT: &'static str = "withdraw-consent";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::WithdrawConsent(dsip::WithdrawConsent {
            withdrawn_by: self.withdrawn_by.into(),
            note: self.note,
        }))
    }
}

/// A fixed care contact (fast vårdkontakt).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedCareContact {
    #[schema(min_length = 1, max_length = 20000)]
    pub name: String,
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub unit_id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub phone: Option<String>,
}

/// `create-plan-basis` — the SIP-underlag; the caller becomes coordinator.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlanBasisRequest {
    /// "Plan initierad av", free text.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub initiated_by: Option<String>,
    #[serde(default)]
    pub fixed_care_contacts: Vec<FixedCareContact>,
}

impl IntoSipCommand for CreatePlanBasisRequest {
    const SEGMENT: &'static str = "create-plan-basis";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        let contacts = self
            .fixed_care_contacts
            .into_iter()
            .map(|c| {
                Ok(dsip::FixedCareContact {
                    name: c.name,
                    unit_id: c.unit_id.as_deref().map(unit).transpose()?,
                    phone: c.phone,
                })
            })
            .collect::<Result<_, DomainError>>()?;
        Ok(SipCommand::CreatePlanBasis(dsip::CreatePlanBasis {
            initiated_by: self.initiated_by,
            fixed_care_contacts: contacts,
        }))
    }
}

/// `change-coordinator` — hands the coordinator role to someone else.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeCoordinatorRequest {
    /// The new coordinator's HSA-id.
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub staff_id: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub name: String,
    /// The unit the new coordinator acts for.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub unit_id: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub reason: Option<String>,
}

impl ChangeCoordinatorRequest {
    fn into_domain(self) -> Result<dsip::ChangeCoordinator, DomainError> {
        Ok(dsip::ChangeCoordinator {
            staff_id: StaffId::parse(&self.staff_id)?,
            name: self.name,
            unit_id: unit(&self.unit_id)?,
            reason: self.reason,
        })
    }
}

impl IntoSipCommand for ChangeCoordinatorRequest {
    const SEGMENT: &'static str = "change-coordinator";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::ChangeCoordinator(self.into_domain()?))
    }
}

/// `document-mapping` — kartläggning under a heading (coordinator only).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentMappingRequest {
    /// An existing id revises that entry; omitted, a new entry is made.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub mapping_id: Option<String>,
    /// A heading code (delmålsrubrik), e.g. `housing`.
    #[schema(value_type = HeadingCode)]
    pub heading: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

impl IntoSipCommand for DocumentMappingRequest {
    const SEGMENT: &'static str = "document-mapping";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::DocumentMapping(dsip::DocumentMapping {
            mapping_id: item_id(self.mapping_id)?,
            heading: self.heading,
            text: self.text,
        }))
    }
}

/// Who an invitation goes to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    /// A unit; digital when it uses samplan, otherwise a letter.
    Unit {
        #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
        unit_id: String,
    },
    /// The person; always a letter.
    Person,
    /// A relative registered on the person; always a letter.
    Relative {
        #[schema(min_length = 1, max_length = 500)]
        relative_id: String,
    },
}

impl Recipient {
    fn into_domain(self) -> Result<dsip::Recipient, DomainError> {
        Ok(match self {
            Recipient::Unit { unit_id } => dsip::Recipient::Unit {
                unit_id: unit(&unit_id)?,
            },
            Recipient::Person => dsip::Recipient::Person,
            Recipient::Relative { relative_id } => dsip::Recipient::Relative { relative_id },
        })
    }
}

/// `send-invitation` — kallelse to a meeting or a follow-up (coordinator).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInvitationRequest {
    /// Omitted: a new id is drawn (read it from `GET /sips/{id}`). Choose one to refer to the
    /// invitation in later commands without reading the plan first.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: Option<String>,
    pub purpose: InvitationPurpose,
    pub scheduled_at: DateTime<Utc>,
    pub form: MeetingForm,
    /// Address or room; for video, the link or instructions.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub place: Option<String>,
    /// Why the meeting is held.
    #[schema(min_length = 1, max_length = 20000)]
    pub reason: String,
    #[schema(min_items = 1)]
    pub recipients: Vec<Recipient>,
}

impl IntoSipCommand for SendInvitationRequest {
    const SEGMENT: &'static str = "send-invitation";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::SendInvitation(dsip::SendInvitation {
            invitation_id: item_id(self.invitation_id)?,
            purpose: self.purpose.into(),
            scheduled_at: self.scheduled_at,
            form: self.form.into(),
            place: self.place,
            reason: self.reason,
            recipients: self
                .recipients
                .into_iter()
                .map(Recipient::into_domain)
                .collect::<Result<_, _>>()?,
        }))
    }
}

/// `save-invitation-draft` — "Spara" of a kallelse (coordinator): saved unsent, seen only by
/// the coordinator's unit, summoning nobody. Any field may still be missing; saving again with
/// the same `invitation_id` replaces the draft, and `send-invitation` with that id sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveInvitationDraftRequest {
    /// Omitted: a new id is drawn (read it from `GET /sips/{id}`, `invitation_drafts`).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: Option<String>,
    pub purpose: InvitationPurpose,
    #[serde(default)]
    pub scheduled_at: Option<DateTime<Utc>>,
    pub form: MeetingForm,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub place: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub reason: Option<String>,
    #[serde(default)]
    pub recipients: Vec<Recipient>,
}

impl IntoSipCommand for SaveInvitationDraftRequest {
    const SEGMENT: &'static str = "save-invitation-draft";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::SaveInvitationDraft(dsip::SaveInvitationDraft {
            invitation_id: item_id(self.invitation_id)?,
            purpose: self.purpose.into(),
            scheduled_at: self.scheduled_at,
            form: self.form.into(),
            place: self.place,
            reason: self.reason,
            recipients: self
                .recipients
                .into_iter()
                .map(Recipient::into_domain)
                .collect::<Result<_, _>>()?,
        }))
    }
}

/// The representative an invited unit appoints.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Representative {
    #[schema(min_length = 1, max_length = 20000)]
    pub name: String,
    /// HSA-id, when the representative has one.
    #[serde(default)]
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub staff_id: Option<String>,
    /// Profession or title, e.g. "distriktssköterska".
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub profession: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub phone: Option<String>,
}

/// `respond-to-invitation` — the invited unit appoints its representative (it cannot decline).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondToInvitationRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: String,
    pub representative: Representative,
}

impl IntoSipCommand for RespondToInvitationRequest {
    const SEGMENT: &'static str = "respond-to-invitation";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        let r = self.representative;
        Ok(SipCommand::RespondToInvitation(dsip::RespondToInvitation {
            invitation_id: self.invitation_id,
            representative: dsip::Representative {
                name: r.name,
                staff_id: r.staff_id.as_deref().map(StaffId::parse).transpose()?,
                profession: r.profession,
                phone: r.phone,
            },
        }))
    }
}

/// `cancel-invitation` (coordinator).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInvitationRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub reason: Option<String>,
}

impl IntoSipCommand for CancelInvitationRequest {
    const SEGMENT: &'static str = "cancel-invitation";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::CancelInvitation(dsip::CancelInvitation {
            invitation_id: self.invitation_id,
            reason: self.reason,
        }))
    }
}

/// `reschedule-meeting` (coordinator).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleMeetingRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: String,
    pub scheduled_at: DateTime<Utc>,
    /// Omitted: the invitation's form stays.
    #[serde(default)]
    pub form: Option<MeetingForm>,
    /// Omitted: the invitation's place stays.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub place: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub reason: Option<String>,
}

impl IntoSipCommand for RescheduleMeetingRequest {
    const SEGMENT: &'static str = "reschedule-meeting";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::RescheduleMeeting(dsip::RescheduleMeeting {
            invitation_id: self.invitation_id,
            scheduled_at: self.scheduled_at,
            form: self.form.map(Into::into),
            place: self.place,
            reason: self.reason,
        }))
    }
}

/// Someone who attended a meeting.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attendee {
    #[schema(min_length = 1, max_length = 20000)]
    pub name: String,
    pub role: AttendeeRole,
    /// The unit they represent, for staff.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub unit_id: Option<String>,
}

/// `record-meeting` — the SIP meeting was held (coordinator).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordMeetingRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: String,
    pub held_at: DateTime<Utc>,
    pub attendees: Vec<Attendee>,
    /// Mötesledare.
    #[schema(min_length = 1, max_length = 20000)]
    pub chair: String,
    /// Mötessekreterare; never the chair.
    #[schema(min_length = 1, max_length = 20000)]
    pub secretary: String,
    /// The coordinator from now on, when the meeting chose someone else.
    #[serde(default)]
    pub new_coordinator: Option<ChangeCoordinatorRequest>,
    /// The agreed follow-up date; a plan needs one.
    #[serde(default)]
    pub follow_up_on: Option<NaiveDate>,
    /// Whether the person was offered SIP-kollen.
    #[serde(default)]
    pub sip_survey_offered: Option<bool>,
}

impl IntoSipCommand for RecordMeetingRequest {
    const SEGMENT: &'static str = "record-meeting";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        let attendees = self
            .attendees
            .into_iter()
            .map(|a| {
                Ok(dsip::Attendee {
                    name: a.name,
                    role: a.role.into(),
                    unit_id: a.unit_id.as_deref().map(unit).transpose()?,
                })
            })
            .collect::<Result<_, DomainError>>()?;
        Ok(SipCommand::RecordMeeting(dsip::RecordMeeting {
            invitation_id: self.invitation_id,
            held_at: self.held_at,
            attendees,
            chair: self.chair,
            secretary: self.secretary,
            new_coordinator: self
                .new_coordinator
                .map(ChangeCoordinatorRequest::into_domain)
                .transpose()?,
            follow_up_on: self.follow_up_on,
            sip_survey_offered: self.sip_survey_offered,
        }))
    }
}

/// `document-main-goal` — huvudmål, the person's own goal (coordinator).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentMainGoalRequest {
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
}

impl IntoSipCommand for DocumentMainGoalRequest {
    const SEGMENT: &'static str = "document-main-goal";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::DocumentMainGoal(dsip::DocumentMainGoal {
            text: self.text,
        }))
    }
}

/// Who is responsible for a sub-goal or intervention.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Responsible {
    /// A unit (actor), internal or external.
    Unit {
        #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
        unit_id: String,
    },
    /// The person (egenvård).
    Person,
}

impl Responsible {
    fn into_domain(self) -> Result<dsip::Responsible, DomainError> {
        Ok(match self {
            Responsible::Unit { unit_id } => dsip::Responsible::Unit {
                unit_id: unit(&unit_id)?,
            },
            Responsible::Person => dsip::Responsible::Person,
        })
    }
}

/// `document-sub-goal` — delmål under a heading; a draft until published.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSubGoalRequest {
    /// An existing id revises that sub-goal; omitted, a new one is made.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sub_goal_id: Option<String>,
    /// A heading code (delmålsrubrik).
    #[schema(value_type = HeadingCode)]
    pub heading: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub text: String,
    pub responsible: Responsible,
}

impl IntoSipCommand for DocumentSubGoalRequest {
    const SEGMENT: &'static str = "document-sub-goal";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::DocumentSubGoal(dsip::DocumentSubGoal {
            sub_goal_id: item_id(self.sub_goal_id)?,
            heading: self.heading,
            text: self.text,
            responsible: self.responsible.into_domain()?,
        }))
    }
}

/// `document-intervention` — insats towards a sub-goal; a draft until published.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInterventionRequest {
    /// An existing id revises that intervention; omitted, a new one is made.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub intervention_id: Option<String>,
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sub_goal_id: String,
    /// What is done.
    #[schema(min_length = 1, max_length = 20000)]
    pub what: String,
    pub responsible: Responsible,
    /// The named person responsible.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub responsible_person: Option<String>,
    /// Who performs it.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub performer: Option<String>,
    /// How to reach the responsible; required for units.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub contact: Option<String>,
    pub from: NaiveDate,
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

impl IntoSipCommand for DocumentInterventionRequest {
    const SEGMENT: &'static str = "document-intervention";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::DocumentIntervention(
            dsip::DocumentIntervention {
                intervention_id: item_id(self.intervention_id)?,
                sub_goal_id: self.sub_goal_id,
                what: self.what,
                responsible: self.responsible.into_domain()?,
                responsible_person: self.responsible_person,
                performer: self.performer,
                contact: self.contact,
                from: self.from,
                to: self.to,
            },
        ))
    }
}

/// `publish-contribution` — "Spara & dela ut": publishes the caller's unit's drafts. No fields.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishContributionRequest {}

impl IntoSipCommand for PublishContributionRequest {
    const SEGMENT: &'static str = "publish-contribution";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::PublishContribution(
            dsip::PublishContribution::default(),
        ))
    }
}

/// `schedule-follow-up` (coordinator).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFollowUpRequest {
    pub follow_up_on: NaiveDate,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub note: Option<String>,
}

impl IntoSipCommand for ScheduleFollowUpRequest {
    const SEGMENT: &'static str = "schedule-follow-up";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::ScheduleFollowUp(dsip::ScheduleFollowUp {
            follow_up_on: self.follow_up_on,
            note: self.note,
        }))
    }
}

/// An intervention's follow-up.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterventionFollowUp {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub intervention_id: String,
    pub outcome: InterventionOutcome,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Whether a goal was reached; no `sub_goal_id` means the main goal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalFollowUp {
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub sub_goal_id: Option<String>,
    pub reached: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `record-follow-up` — uppföljning (coordinator; each actor for its own interventions).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordFollowUpRequest {
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub follow_up_id: Option<String>,
    pub held_on: NaiveDate,
    /// The follow-up kallelse (`send-invitation` with purpose `follow_up`) whose meeting this
    /// was: it is then held, and no longer the plan's next meeting. Coordinator only.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: Option<String>,
    #[serde(default)]
    pub interventions: Vec<InterventionFollowUp>,
    #[serde(default)]
    pub goals: Vec<GoalFollowUp>,
    /// The next follow-up, when the plan continues.
    #[serde(default)]
    pub next_follow_up_on: Option<NaiveDate>,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub note: Option<String>,
}

impl IntoSipCommand for RecordFollowUpRequest {
    const SEGMENT: &'static str = "record-follow-up";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::RecordFollowUp(dsip::RecordFollowUp {
            follow_up_id: item_id(self.follow_up_id)?,
            held_on: self.held_on,
            invitation_id: self.invitation_id,
            interventions: self
                .interventions
                .into_iter()
                .map(|i| dsip::InterventionFollowUp {
                    intervention_id: i.intervention_id,
                    outcome: i.outcome.into(),
                    comment: i.comment,
                })
                .collect(),
            goals: self
                .goals
                .into_iter()
                .map(|g| dsip::GoalFollowUp {
                    sub_goal_id: g.sub_goal_id,
                    reached: g.reached,
                    comment: g.comment,
                })
                .collect(),
            next_follow_up_on: self.next_follow_up_on,
            note: self.note,
        }))
    }
}

/// `close-plan` — avslut (coordinator); afterwards the plan accepts no command.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePlanRequest {
    pub reason: CloseReason,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub note: Option<String>,
    /// With `replaced_by_new_plan`, when the new plan is already started: its id. Optional: a
    /// plan may be closed as replaced before its successor is recorded (the staff's close form
    /// says "annars lämna tomt").
    #[serde(default)]
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub replaced_by: Option<String>,
}

impl IntoSipCommand for ClosePlanRequest {
    const SEGMENT: &'static str = "close-plan";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::ClosePlan(dsip::ClosePlan {
            reason: self.reason.into(),
            note: self.note,
            replaced_by: self.replaced_by.as_deref().map(SipId::parse).transpose()?,
        }))
    }
}

/// `record-discharge` — when the patient is (planned to be) discharged from inpatient care.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordDischargeRequest {
    pub discharged_at: DateTime<Utc>,
}

impl IntoSipCommand for RecordDischargeRequest {
    const SEGMENT: &'static str = "record-discharge";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        Ok(SipCommand::RecordDischarge(dsip::RecordDischarge {
            discharged_at: self.discharged_at,
        }))
    }
}

/// `record-letters-posted` — the letters an invitation owes were printed and posted (the
/// invitation, its new time, or its cancellation) to recipients reached by letter. The coordinator's
/// unit records it; the letter to-dos end.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordLettersPostedRequest {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub invitation_id: String,
    /// Who was sent a letter; omitted: every recipient still owed one.
    #[serde(default)]
    pub recipients: Option<Vec<Recipient>>,
}

impl IntoSipCommand for RecordLettersPostedRequest {
    const SEGMENT: &'static str = "record-letters-posted";
    fn into_command(self) -> Result<SipCommand, DomainError> {
        let recipients = match self.recipients {
            Some(list) => Some(
                list.into_iter()
                    .map(Recipient::into_domain)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        Ok(SipCommand::RecordLettersPosted(dsip::RecordLettersPosted {
            invitation_id: self.invitation_id,
            recipients,
        }))
    }
}
