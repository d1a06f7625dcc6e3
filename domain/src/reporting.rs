//! The facts of one plan that follow-up statistics are computed from, without personal data:
//! when things happened, how many working days they took, whether deadlines were kept, why the
//! plan ended. `docs/kpis.md` defines the figures built from them.
//!
//! A pure function of the plan's state and the policy profile, so the reporting read model is
//! rebuilt to the same rows. Nothing here names the person, a staff member or what was written.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::working_days_between;
use crate::ids::{SipId, UnitId};
use crate::policy::PolicyProfile;
use crate::sip::{CloseReason, Delivery, InvitationPurpose, Recipient, SipEvent, SipState};
use crate::time::local_date;

/// One unit's documentation owed after the first meeting (sub-goals and interventions,
/// "inom tre dagar").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub unit_id: UnitId,
    pub due_at: DateTime<Utc>,
    /// The unit's first publication at or after the meeting.
    pub documented_at: Option<DateTime<Utc>>,
}

/// What reporting knows of one plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFacts {
    pub sip_id: SipId,
    /// When the need became known.
    pub started_at: DateTime<Utc>,
    /// Every unit taking part.
    pub units: Vec<UnitId>,
    /// The first time consent was declined.
    pub consent_declined_at: Option<DateTime<Utc>>,
    /// When the first invitation to a SIP meeting was sent.
    pub invited_at: Option<DateTime<Utc>>,
    /// Working days from the day the need became known to the day of the first invitation.
    pub working_days_to_invitation: Option<i64>,
    /// When the first SIP meeting was held.
    pub meeting_held_at: Option<DateTime<Utc>>,
    /// Working days from the day the need became known to the day of the first meeting.
    pub working_days_to_meeting: Option<i64>,
    /// When the profile wanted the first meeting held by; `None` when it sets no deadline.
    pub meeting_due_at: Option<DateTime<Utc>>,
    /// Documentation owed after the first meeting, per unit.
    pub contributions: Vec<Contribution>,
    /// The follow-up date agreed at the first meeting.
    pub follow_up_agreed_on: Option<NaiveDate>,
    /// The day of the coordinator's first follow-up of the plan.
    pub followed_up_on: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_reason: Option<CloseReason>,
}

/// The facts of the plan with history `events` (in order), with deadlines from `policy`;
/// `None` before the plan exists.
pub fn plan_facts(events: &[SipEvent], policy: &PolicyProfile) -> Option<PlanFacts> {
    let state: SipState = crate::sip::fold(events);
    let (sip_id, need) = (state.sip_id?, state.need.as_ref()?);
    // The plan keeps only the latest refusal, and forgets it when consent is given after all.
    let consent_declined_at = events.iter().find_map(|e| match e {
        SipEvent::ConsentDeclined { recorded_at, .. } => Some(*recorded_at),
        _ => None,
    });
    let start_day = local_date(need.known_since);
    let days_from_start = |at: DateTime<Utc>| working_days_between(start_day, local_date(at));
    let invited_at = state
        .invitations
        .values()
        .filter(|i| i.purpose == InvitationPurpose::Meeting)
        .map(|i| i.sent_at)
        .min();
    let first_meeting = state.meetings.first();
    let meeting_held_at = first_meeting.map(|m| m.held_at);
    let meeting_due_at = policy.meeting_due(
        need.known_since,
        need.context.track,
        need.context.discharge_ready_at,
        state.discharged_at,
    );
    let contributions = first_meeting
        .map(|meeting| {
            let due_at = policy.documentation_due(meeting.held_at);
            // The same units the to-dos ask: the coordinator's and those invited in samplan.
            let mut units = vec![meeting.coordinator.unit_id.clone()];
            if let Some(inv) = state.invitations.get(&meeting.invitation_id) {
                units.extend(inv.recipients.iter().filter_map(|r| match &r.recipient {
                    Recipient::Unit { unit_id } if r.delivery == Delivery::Digital => {
                        Some(unit_id.clone())
                    }
                    _ => None,
                }));
            }
            units.sort();
            units.dedup();
            units
                .into_iter()
                .map(|unit_id| Contribution {
                    documented_at: state
                        .publications
                        .iter()
                        .find(|p| p.unit_id == unit_id && p.recorded_at >= meeting.held_at)
                        .map(|p| p.recorded_at),
                    unit_id,
                    due_at,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(PlanFacts {
        sip_id,
        started_at: need.known_since,
        units: state.participants.iter().cloned().collect(),
        consent_declined_at,
        invited_at,
        working_days_to_invitation: invited_at.map(days_from_start),
        meeting_held_at,
        working_days_to_meeting: meeting_held_at.map(days_from_start),
        meeting_due_at,
        contributions,
        follow_up_agreed_on: first_meeting.map(|m| m.follow_up_on),
        followed_up_on: state
            .follow_ups
            .iter()
            .filter(|f| f.by_coordinator)
            .map(|f| f.held_on)
            .min(),
        closed_at: state.closed.as_ref().map(|c| c.recorded_at),
        close_reason: state.closed.as_ref().map(|c| c.reason),
    })
}
