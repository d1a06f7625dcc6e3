//! SIP events: the facts of a plan's life, stored for years and read by auditors and reporting.
//!
//! Every event says who recorded it (`recorded_by`: staff id, name, unit) and when
//! (`recorded_at`), so the plan can be folded, shown and audited without the envelope.
//! Field names are a contract: changing one needs a new schema version and an upcaster in
//! `crate::event`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::types::*;
use crate::context::StaffRef;
use crate::heading::Heading;
use crate::ids::{PersonId, SipId, UnitId};

/// Every event of a `sip-<ulid>` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SipEvent {
    NeedIdentified {
        sip_id: SipId,
        person_id: PersonId,
        identified_by: IdentifiedBy,
        reason: String,
        known_since: DateTime<Utc>,
        context: NeedContext,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    ConsentGiven {
        given_by: ConsentGiver,
        actors: Vec<UnitId>,
        /// Added in schema version 2; version-1 events are upcast with an empty list.
        topics: Vec<String>,
        valid_until: NaiveDate,
        /// For a child: every guardian (relative id) registered when this consent was recorded,
        /// all of whom must consent. Empty for an adult. Added in schema version 2.
        guardians_required: Vec<String>,
        /// The närstående (relative ids) the consent lets the meeting invite; absent when the
        /// consent does not say (any registered närstående may then be invited). Optional, so
        /// events without it read as before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relatives: Option<Vec<String>>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    ConsentDeclined {
        declined_by: ConsentGiver,
        note: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    ConsentWithdrawn {
        withdrawn_by: ConsentGiver,
        note: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    PlanBasisCreated {
        coordinator: StaffRef,
        initiated_by: Option<String>,
        fixed_care_contacts: Vec<FixedCareContact>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    CoordinatorChanged {
        previous: StaffRef,
        coordinator: StaffRef,
        reason: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    MappingDocumented {
        mapping_id: String,
        heading: Heading,
        text: String,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    InvitationSent {
        invitation_id: String,
        purpose: InvitationPurpose,
        scheduled_at: DateTime<Utc>,
        form: MeetingForm,
        place: Option<String>,
        reason: String,
        /// Each recipient with `delivery`: `letter` ones need a printed invitation.
        recipients: Vec<InvitationRecipient>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    /// "Spara": a kallelse saved unsent by the coordinator; it summons nobody, sends no message
    /// and is seen only by the coordinator's unit until it is sent (`InvitationSent` with the
    /// same `invitation_id`). A later save under the same id replaces it.
    InvitationDraftSaved {
        invitation_id: String,
        purpose: InvitationPurpose,
        scheduled_at: Option<DateTime<Utc>>,
        form: MeetingForm,
        place: Option<String>,
        reason: Option<String>,
        recipients: Vec<Recipient>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    RepresentativeAppointed {
        invitation_id: String,
        unit_id: UnitId,
        representative: Representative,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    InvitationCancelled {
        invitation_id: String,
        reason: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    MeetingRescheduled {
        invitation_id: String,
        scheduled_at: DateTime<Utc>,
        form: MeetingForm,
        place: Option<String>,
        reason: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    MeetingHeld {
        invitation_id: String,
        held_at: DateTime<Utc>,
        attendees: Vec<Attendee>,
        chair: String,
        secretary: String,
        /// The coordinator from now on (the same one, or the one the meeting chose).
        coordinator: StaffRef,
        follow_up_on: NaiveDate,
        sip_survey_offered: Option<bool>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    MainGoalDocumented {
        text: String,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    SubGoalDocumented {
        sub_goal_id: String,
        heading: Heading,
        text: String,
        responsible: Responsible,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    InterventionDocumented {
        intervention_id: String,
        sub_goal_id: String,
        what: String,
        responsible: Responsible,
        responsible_person: Option<String>,
        performer: Option<String>,
        contact: Option<String>,
        from: NaiveDate,
        to: Option<NaiveDate>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    ContributionPublished {
        /// The unit whose drafts became visible to all participants and the person.
        unit_id: UnitId,
        main_goal: bool,
        sub_goal_ids: Vec<String>,
        intervention_ids: Vec<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    FollowUpScheduled {
        follow_up_on: NaiveDate,
        note: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    FollowUpRecorded {
        follow_up_id: String,
        held_on: NaiveDate,
        /// The follow-up kallelse whose meeting this was (absent in events before it existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invitation_id: Option<String>,
        /// Recorded by the coordinator for the whole plan (counts as the plan's follow-up), or
        /// by an actor for its own interventions only.
        by_coordinator: bool,
        interventions: Vec<InterventionFollowUp>,
        goals: Vec<GoalFollowUp>,
        next_follow_up_on: Option<NaiveDate>,
        note: Option<String>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    SipClosed {
        reason: CloseReason,
        note: Option<String>,
        replaced_by: Option<SipId>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    DischargeRecorded {
        discharged_at: DateTime<Utc>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
    /// Letters about an invitation were printed and posted to these recipients (each reached
    /// by letter), telling the invitation as it stands now: the meeting, its new time, or that
    /// it is cancelled.
    LettersPosted {
        invitation_id: String,
        recipients: Vec<Recipient>,
        recorded_by: StaffRef,
        recorded_at: DateTime<Utc>,
    },
}

impl SipEvent {
    /// Every event type of this stream, as stored.
    pub const TYPES: &'static [&'static str] = &[
        "NeedIdentified",
        "ConsentGiven",
        "ConsentDeclined",
        "ConsentWithdrawn",
        "PlanBasisCreated",
        "CoordinatorChanged",
        "MappingDocumented",
        "InvitationSent",
        "RepresentativeAppointed",
        "InvitationCancelled",
        "MeetingRescheduled",
        "MeetingHeld",
        "MainGoalDocumented",
        "SubGoalDocumented",
        "InterventionDocumented",
        "ContributionPublished",
        "FollowUpScheduled",
        "FollowUpRecorded",
        "SipClosed",
        "DischargeRecorded",
        "LettersPosted",
        "InvitationDraftSaved",
    ];

    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            SipEvent::NeedIdentified { .. } => "NeedIdentified",
            SipEvent::ConsentGiven { .. } => "ConsentGiven",
            SipEvent::ConsentDeclined { .. } => "ConsentDeclined",
            SipEvent::ConsentWithdrawn { .. } => "ConsentWithdrawn",
            SipEvent::PlanBasisCreated { .. } => "PlanBasisCreated",
            SipEvent::CoordinatorChanged { .. } => "CoordinatorChanged",
            SipEvent::MappingDocumented { .. } => "MappingDocumented",
            SipEvent::InvitationSent { .. } => "InvitationSent",
            SipEvent::RepresentativeAppointed { .. } => "RepresentativeAppointed",
            SipEvent::InvitationCancelled { .. } => "InvitationCancelled",
            SipEvent::MeetingRescheduled { .. } => "MeetingRescheduled",
            SipEvent::MeetingHeld { .. } => "MeetingHeld",
            SipEvent::MainGoalDocumented { .. } => "MainGoalDocumented",
            SipEvent::SubGoalDocumented { .. } => "SubGoalDocumented",
            SipEvent::InterventionDocumented { .. } => "InterventionDocumented",
            SipEvent::ContributionPublished { .. } => "ContributionPublished",
            SipEvent::FollowUpScheduled { .. } => "FollowUpScheduled",
            SipEvent::FollowUpRecorded { .. } => "FollowUpRecorded",
            SipEvent::SipClosed { .. } => "SipClosed",
            SipEvent::DischargeRecorded { .. } => "DischargeRecorded",
            SipEvent::LettersPosted { .. } => "LettersPosted",
            SipEvent::InvitationDraftSaved { .. } => "InvitationDraftSaved",
        }
    }

    /// Who recorded the event and when.
    pub fn recorded(&self) -> (&StaffRef, DateTime<Utc>) {
        use SipEvent::*;
        match self {
            NeedIdentified {
                recorded_by,
                recorded_at,
                ..
            }
            | ConsentGiven {
                recorded_by,
                recorded_at,
                ..
            }
            | ConsentDeclined {
                recorded_by,
                recorded_at,
                ..
            }
            | ConsentWithdrawn {
                recorded_by,
                recorded_at,
                ..
            }
            | PlanBasisCreated {
                recorded_by,
                recorded_at,
                ..
            }
            | CoordinatorChanged {
                recorded_by,
                recorded_at,
                ..
            }
            | MappingDocumented {
                recorded_by,
                recorded_at,
                ..
            }
            | InvitationSent {
                recorded_by,
                recorded_at,
                ..
            }
            | RepresentativeAppointed {
                recorded_by,
                recorded_at,
                ..
            }
            | InvitationCancelled {
                recorded_by,
                recorded_at,
                ..
            }
            | MeetingRescheduled {
                recorded_by,
                recorded_at,
                ..
            }
            | MeetingHeld {
                recorded_by,
                recorded_at,
                ..
            }
            | MainGoalDocumented {
                recorded_by,
                recorded_at,
                ..
            }
            | SubGoalDocumented {
                recorded_by,
                recorded_at,
                ..
            }
            | InterventionDocumented {
                recorded_by,
                recorded_at,
                ..
            }
            | ContributionPublished {
                recorded_by,
                recorded_at,
                ..
            }
            | FollowUpScheduled {
                recorded_by,
                recorded_at,
                ..
            }
            | FollowUpRecorded {
                recorded_by,
                recorded_at,
                ..
            }
            | SipClosed {
                recorded_by,
                recorded_at,
                ..
            }
            | DischargeRecorded {
                recorded_by,
                recorded_at,
                ..
            }
            | LettersPosted {
                recorded_by,
                recorded_at,
                ..
            }
            | InvitationDraftSaved {
                recorded_by,
                recorded_at,
                ..
            } => (recorded_by, *recorded_at),
        }
    }
}
