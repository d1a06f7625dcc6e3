//! The facts of one plan that follow-up statistics are computed from, without personal data:
//! when things happened, how many working days they took, whether deadlines were kept, why the
//! plan ended. `docs/kpis.md` defines the figures built from them.
//!
//! A pure function of the plan's state and the policy profile, so the reporting read model is
//! rebuilt to the same rows. Nothing here names the person, a staff member or what was written.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::working_days_between;
use crate::ids::{SipId, UnitId};
use crate::policy::PolicyProfile;
use crate::sip::{
    units_joining, CloseReason, Delivery, InvitationPurpose, Recipient, Responsible, SipEvent,
    SipState,
};
use crate::time::{end_of_local_day, local_date};

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
    /// Every unit taking part as far as shared content shows: a unit named only in a draft (a
    /// sub-goal or intervention not yet published) is not counted, so reporting never reveals a
    /// draft. Sorted.
    pub units: Vec<UnitId>,
    /// The first time consent was declined.
    pub consent_declined_at: Option<DateTime<Utc>>,
    /// Whether a refusal of consent stood when the first meeting was due (declined or withdrawn
    /// before the deadline and not given again by it): no meeting was owed then. A refusal followed by
    /// consent before the deadline leaves the plan owing its meeting like any other.
    #[serde(default)]
    pub consent_declined_at_meeting_due: bool,
    /// When the first invitation to a SIP meeting was sent.
    pub invited_at: Option<DateTime<Utc>>,
    /// When the profile wanted the first invitation sent by (`PolicyProfile::invitation_due`,
    /// the to-do "Skicka kallelse"); `None` only in facts stored before it was recorded.
    #[serde(default)]
    pub invitation_due_at: Option<DateTime<Utc>>,
    /// Whether a refusal of consent (declined or withdrawn) stood when the invitation was due:
    /// no invitation was owed then, as no meeting is owed while it stands.
    #[serde(default)]
    pub consent_declined_at_invitation_due: bool,
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
    /// The end of the agreed follow-up day (23:59:59 Swedish time): a follow-up held on or before
    /// the agreed day is in time.
    pub follow_up_due_at: Option<DateTime<Utc>>,
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
    let invitation_due_at = policy.invitation_due(
        need.known_since,
        need.context.track,
        need.context.discharge_ready_at,
        state.discharged_at,
    );
    // Whether consent was refused (declined or withdrawn, and not given again) at `due`: a
    // plan without consent can send no kallelse and hold no meeting, so neither is owed.
    let declined_at = |due: DateTime<Utc>| {
        let mut declined = false;
        for event in events {
            match event {
                SipEvent::ConsentDeclined { recorded_at, .. }
                | SipEvent::ConsentWithdrawn { recorded_at, .. }
                    if *recorded_at <= due =>
                {
                    declined = true
                }
                SipEvent::ConsentGiven { recorded_at, .. } if *recorded_at <= due => {
                    declined = false
                }
                _ => {}
            }
        }
        declined
    };
    let consent_declined_at_meeting_due = meeting_due_at.is_some_and(declined_at);
    let consent_declined_at_invitation_due = declined_at(invitation_due_at);
    let follow_up_agreed_on = first_meeting.map(|m| m.follow_up_on);
    // Only a follow-up held after the first meeting follows up what was agreed there (events
    // from before `decide` refused earlier days may hold one).
    let meeting_day = first_meeting.map(|m| local_date(m.held_at));
    Some(PlanFacts {
        sip_id,
        started_at: need.known_since,
        units: shared_units(events, &state),
        consent_declined_at,
        consent_declined_at_meeting_due,
        invited_at,
        invitation_due_at: Some(invitation_due_at),
        consent_declined_at_invitation_due,
        working_days_to_invitation: invited_at.map(days_from_start),
        meeting_held_at,
        working_days_to_meeting: meeting_held_at.map(days_from_start),
        meeting_due_at,
        contributions,
        follow_up_agreed_on,
        follow_up_due_at: follow_up_agreed_on.map(end_of_local_day),
        followed_up_on: state
            .follow_ups
            .iter()
            .filter(|f| f.by_coordinator)
            .filter(|f| meeting_day.is_some_and(|day| f.held_on >= day))
            .map(|f| f.held_on)
            .min(),
        closed_at: state.closed.as_ref().map(|c| c.recorded_at),
        close_reason: state.closed.as_ref().map(|c| c.reason),
    })
}

/// The units taking part, leaving out what only drafts say: every unit an event other than
/// documenting a goal or an intervention makes a participant (`sip::units_joining`), and the
/// units responsible for published sub-goals and interventions. A documenting event is left out
/// whole: its author's unit takes part already (only participants may write), and the
/// responsible unit it names is a draft until published.
fn shared_units(events: &[SipEvent], state: &SipState) -> Vec<UnitId> {
    let mut units: BTreeSet<UnitId> = BTreeSet::new();
    for event in events {
        if matches!(
            event,
            SipEvent::MainGoalDocumented { .. }
                | SipEvent::SubGoalDocumented { .. }
                | SipEvent::InterventionDocumented { .. }
        ) {
            continue;
        }
        units.extend(units_joining(event).into_iter().cloned());
    }
    let published = state
        .sub_goals
        .values()
        .filter_map(|d| d.published.as_ref().map(|g| &g.responsible))
        .chain(
            state
                .interventions
                .values()
                .filter_map(|d| d.published.as_ref().map(|i| &i.responsible)),
        );
    for responsible in published {
        if let Responsible::Unit { unit_id } = responsible {
            units.insert(unit_id.clone());
        }
    }
    units.into_iter().collect()
}

/// The Swedish calendar month of the instant `at`, as its first day: the month a figure falls
/// in (`docs/kpis.md`). 22:30 UTC on 31 March is already April in Stockholm.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    let day = local_date(at);
    day.with_day(1).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::StaffRef;
    use crate::heading::Heading;
    use crate::ids::{PersonId, StaffId};
    use crate::policy::PolicyName;
    use crate::sip::{CareContextKind, ConsentGiver, IdentifiedBy, NeedContext};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid test time")
            .with_timezone(&Utc)
    }

    fn unit(id: &str) -> UnitId {
        UnitId::parse(id).expect("unit id")
    }

    fn vc() -> StaffRef {
        StaffRef {
            staff_id: StaffId::parse("SE2321000016-A1B2").expect("staff id"),
            name: "Vera".into(),
            unit_id: unit("vc-test"),
        }
    }

    fn need() -> SipEvent {
        SipEvent::NeedIdentified {
            sip_id: SipId::parse("01JQ7ZK3M2V8X9Y0A1B2C3D4E5").expect("sip id"),
            person_id: PersonId::parse("01JQ7ZK3M2V8X9Y0A1B2C3D4E6").expect("person id"),
            identified_by: IdentifiedBy::Staff,
            reason: "Behov av samordning.".into(),
            known_since: utc("2026-03-10T08:00:00Z"),
            context: NeedContext {
                kind: CareContextKind::Outpatient,
                track: None,
                discharge_ready_at: None,
            },
            recorded_by: vc(),
            recorded_at: utc("2026-03-10T08:00:00Z"),
        }
    }

    fn sub_goal_for(responsible: &str) -> SipEvent {
        SipEvent::SubGoalDocumented {
            sub_goal_id: "sg-1".into(),
            heading: Heading::parse("housing").expect("heading"),
            text: "Bo kvar hemma.".into(),
            responsible: Responsible::Unit {
                unit_id: unit(responsible),
            },
            recorded_by: vc(),
            recorded_at: utc("2026-03-11T08:00:00Z"),
        }
    }

    fn policy() -> PolicyProfile {
        PolicyProfile::get(PolicyName::Norrbotten)
    }

    #[test]
    fn a_unit_named_only_in_a_draft_is_not_counted_until_published() {
        let mut events = vec![need(), sub_goal_for("psyk-test")];
        let facts = plan_facts(&events, &policy()).expect("facts");
        assert_eq!(facts.units, vec![unit("vc-test")]);
        // The plan itself already counts the named unit as a participant: reporting must not.
        assert!(crate::sip::fold(&events).participates(&unit("psyk-test")));
        events.push(SipEvent::ContributionPublished {
            unit_id: unit("vc-test"),
            main_goal: false,
            sub_goal_ids: vec!["sg-1".into()],
            intervention_ids: Vec::new(),
            recorded_by: vc(),
            recorded_at: utc("2026-03-12T08:00:00Z"),
        });
        let facts = plan_facts(&events, &policy()).expect("facts");
        assert_eq!(facts.units, vec![unit("psyk-test"), unit("vc-test")]);
    }

    #[test]
    fn a_month_is_the_swedish_one() {
        let first = |y, m| NaiveDate::from_ymd_opt(y, m, 1).expect("date");
        // 22:30 UTC on 31 March 2026 is 00:30 on 1 April in Stockholm (summer time, +02:00).
        assert_eq!(month_of(utc("2026-03-31T22:30:00Z")), first(2026, 4));
        assert_eq!(month_of(utc("2026-03-31T21:59:59Z")), first(2026, 3));
        // 23:30 UTC on 31 December is already January (+01:00).
        assert_eq!(month_of(utc("2026-12-31T23:30:00Z")), first(2027, 1));
        assert_eq!(month_of(utc("2026-12-31T22:59:59Z")), first(2026, 12));
    }

    #[test]
    fn the_follow_up_is_due_at_the_end_of_the_agreed_swedish_day() {
        let mut events = vec![need()];
        assert_eq!(
            plan_facts(&events, &policy())
                .expect("facts")
                .follow_up_due_at,
            None
        );
        events.push(SipEvent::MeetingHeld {
            invitation_id: "inv-1".into(),
            held_at: utc("2026-03-17T09:00:00Z"),
            attendees: Vec::new(),
            chair: "Vera".into(),
            secretary: "Hugo".into(),
            coordinator: vc(),
            follow_up_on: NaiveDate::from_ymd_opt(2026, 6, 12).expect("date"),
            sip_survey_offered: None,
            recorded_by: vc(),
            recorded_at: utc("2026-03-17T11:00:00Z"),
        });
        let facts = plan_facts(&events, &policy()).expect("facts");
        // Summer time: 23:59:59 on 12 June in Stockholm is 21:59:59 UTC.
        assert_eq!(facts.follow_up_due_at, Some(utc("2026-06-12T21:59:59Z")));
        assert_eq!(facts.working_days_to_meeting, Some(5));
    }

    #[test]
    fn the_invitation_is_due_by_the_profile_and_not_owed_while_consent_is_refused() {
        // Norrbotten: "senast inom tre arbetsdagar" from Tuesday 10 March, so by the end of
        // Friday 13 March, Swedish time (23:59:59 +01:00).
        let mut events = vec![need()];
        let facts = plan_facts(&events, &policy()).expect("facts");
        assert_eq!(facts.invitation_due_at, Some(utc("2026-03-13T22:59:59Z")));
        assert!(!facts.consent_declined_at_invitation_due);
        events.push(SipEvent::ConsentDeclined {
            declined_by: ConsentGiver::Person,
            note: None,
            recorded_by: vc(),
            recorded_at: utc("2026-03-11T08:00:00Z"),
        });
        let facts = plan_facts(&events, &policy()).expect("facts");
        assert!(
            facts.consent_declined_at_invitation_due,
            "no invitation owed"
        );
        // Consent given after the deadline: the refusal stood when the invitation was due.
        let mut later = events.clone();
        later.push(consent_given("2026-03-16T08:00:00Z"));
        assert!(
            plan_facts(&later, &policy())
                .expect("facts")
                .consent_declined_at_invitation_due
        );
        // Given again before it: the invitation was owed after all.
        events.push(consent_given("2026-03-12T08:00:00Z"));
        assert!(
            !plan_facts(&events, &policy())
                .expect("facts")
                .consent_declined_at_invitation_due
        );
        // Withdrawn before it, and not given again: no kallelse could be sent, none was owed.
        events.push(SipEvent::ConsentWithdrawn {
            withdrawn_by: ConsentGiver::Person,
            note: None,
            recorded_by: vc(),
            recorded_at: utc("2026-03-13T08:00:00Z"),
        });
        assert!(
            plan_facts(&events, &policy())
                .expect("facts")
                .consent_declined_at_invitation_due
        );
    }

    fn consent_given(at: &str) -> SipEvent {
        SipEvent::ConsentGiven {
            given_by: ConsentGiver::Person,
            actors: vec![unit("vc-test")],
            topics: Vec::new(),
            valid_until: NaiveDate::from_ymd_opt(2027, 3, 10).expect("date"),
            guardians_required: Vec::new(),
            relatives: None,
            recorded_by: vc(),
            recorded_at: utc(at),
        }
    }
}
