//! The plan as the person reads it on Min plan, the 1177 mirror: published content only.
//!
//! Drafts never appear here, whoever wrote them: only what a unit published ("Spara & dela ut"),
//! which is what the national GetCarePlans contract calls *approved for the patient*. A plan
//! with nothing published yet is not shown to the person at all ([`PatientPlan::visible`]).
//! Units are named by id; whoever shows the plan adds their names and how to reach them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::event::SipEvent;
use super::state::{Drafted, SipState};
use super::types::*;
use crate::context::StaffRef;
use crate::heading::Heading;
use crate::ids::{PersonId, SipId, UnitId};

/// Where the plan stands, in the words the person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientPlanStatus {
    /// Pågående: the plan is in force.
    Active,
    /// The person withdrew consent; the plan is about to be closed.
    ConsentWithdrawn,
    /// Avslutad.
    Closed,
}

/// A sub-goal (delmål) as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSubGoal {
    pub id: String,
    pub heading: Heading,
    pub text: String,
    pub responsible: Responsible,
    pub published_at: Option<DateTime<Utc>>,
    /// As judged at the latest follow-up that judged it.
    pub reached: Option<bool>,
}

/// An intervention (insats) as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientIntervention {
    pub id: String,
    pub sub_goal_id: String,
    pub what: String,
    pub responsible: Responsible,
    pub responsible_person: Option<String>,
    pub performer: Option<String>,
    /// How to reach whoever is responsible.
    pub contact: Option<String>,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    /// As judged at the latest follow-up that judged it.
    pub outcome: Option<InterventionOutcome>,
}

/// The next meeting or follow-up meeting the person is invited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientMeeting {
    pub purpose: InvitationPurpose,
    pub scheduled_at: DateTime<Utc>,
    pub form: MeetingForm,
    pub place: Option<String>,
}

/// How the plan ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientClosure {
    pub reason: CloseReason,
    /// The reason in Swedish.
    pub reason_text: String,
    pub closed_at: DateTime<Utc>,
}

/// The plan as the person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientPlan {
    pub sip_id: SipId,
    pub person_id: PersonId,
    pub status: PatientPlanStatus,
    /// The status in Swedish, e.g. "Pågående" or "Avslutad: målen är uppnådda".
    pub status_text: String,
    /// When the need became known: the plan's start.
    pub started_at: DateTime<Utc>,
    /// The first and the latest publication.
    pub first_published_at: Option<DateTime<Utc>>,
    pub last_published_at: Option<DateTime<Utc>>,
    /// When what the person reads last changed ([`patient_plan_of`]): the FHIR export's
    /// `meta.lastUpdated` and Min plan's "Senast uppdaterad". Absent from documents written
    /// before it existed, which a rebuild fills in, and from a document built from a state alone
    /// ([`patient_plan`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// Huvudmål, the person's own goal.
    pub main_goal: Option<String>,
    /// Whether the main goal was reached, as judged at the latest follow-up that judged it.
    pub main_goal_reached: Option<bool>,
    pub sub_goals: Vec<PatientSubGoal>,
    pub interventions: Vec<PatientIntervention>,
    /// Samordningsansvarig.
    pub coordinator: Option<StaffRef>,
    pub fixed_care_contacts: Vec<FixedCareContact>,
    /// The agreed date of the next follow-up.
    pub next_follow_up_on: Option<NaiveDate>,
    /// The earliest meeting the person (or a relative of theirs) is invited to and neither held
    /// nor cancelled, whatever the time; a meeting of the units alone is not shown.
    pub next_meeting: Option<PatientMeeting>,
    /// Every such meeting, earliest first: a reader applies the clock with
    /// [`PatientPlan::next_meeting_at`] (this document is a fold of the events, equal on every
    /// rebuild, so it cannot know which of them are past). Absent from documents written before it
    /// existed, which a rebuild fills in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meetings: Vec<PatientMeeting>,
    /// Units taking part with published content, and the coordinator's unit.
    pub units: Vec<UnitId>,
    /// Every unit taking part in the plan that others may know of
    /// ([`SipState::shown_participants`]: not one named only in a draft), whether it has
    /// published anything or not: "De som är med i planen" on Min plan. Units only, never what
    /// they drafted.
    /// Absent from documents written before it existed, which a rebuild fills in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<UnitId>,
    /// The guardians (relative ids, sorted) whose consent to this plan is on record: for a
    /// child, the plan is read by the guardians who agreed to it, not by whoever a unit later
    /// records as a guardian (ADR 0050). Absent from documents written before it existed, which
    /// a rebuild fills in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consenting_guardians: Vec<String>,
    /// Units that took part and that the consent speaking now no longer names (ADR 0053): what
    /// they published stands as the plan's history, but they are no longer in the plan, and
    /// the person is told so beside it ([`PatientPlan::outside_consent`]). Absent from
    /// documents written before it existed, which a rebuild fills in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<UnitId>,
    pub closed: Option<PatientClosure>,
}

impl PatientPlan {
    /// When what the person reads last changed: [`PatientPlan::changed_at`], or for a document
    /// written before it was kept, the latest publication or the closing.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.changed_at
            .into_iter()
            .chain(self.last_published_at)
            .chain(self.closed.as_ref().map(|c| c.closed_at))
            .max()
            .unwrap_or(self.started_at)
    }

    /// Every unit taking part, in id order: `participants`, or for documents written before
    /// they were kept, the units with published content and the coordinator's (`units`). A unit
    /// the consent no longer names is not among `participants` though its published items may
    /// still name it (ADR 0053), so `units` is not added to them.
    pub fn taking_part(&self) -> Vec<&UnitId> {
        let mut all: Vec<&UnitId> = if self.participants.is_empty() {
            self.units.iter().collect()
        } else {
            self.participants.iter().collect()
        };
        all.sort();
        all.dedup();
        all
    }

    /// The next meeting as of `now`: the earliest one invited to whose time has not come. A
    /// kallelse whose time passed without its meeting being recorded hides no later one.
    pub fn next_meeting_at(&self, now: DateTime<Utc>) -> Option<&PatientMeeting> {
        let upcoming = |m: &&PatientMeeting| m.scheduled_at > now;
        if self.meetings.is_empty() {
            self.next_meeting.as_ref().filter(upcoming)
        } else {
            self.meetings.iter().find(upcoming)
        }
    }

    /// Whether a guardian recorded on the child under any of `relative_ids` consented to this
    /// plan, and so may read it.
    pub fn consented_by_guardian(&self, relative_ids: &[String]) -> bool {
        relative_ids
            .iter()
            .any(|id| self.consenting_guardians.binary_search(id).is_ok())
    }

    /// Whether a goal or an intervention is the responsibility of a unit the person's consent
    /// no longer names: it stands in the plan as published, but that unit is no longer in it
    /// (an outside review found Min plan naming it as working on the plan).
    pub fn outside_consent(&self, responsible: &Responsible) -> bool {
        matches!(responsible, Responsible::Unit { unit_id } if self.left_out.contains(unit_id))
    }

    /// Whether the person may see the plan at all: something has been published.
    pub fn visible(&self) -> bool {
        self.first_published_at.is_some()
    }
}

fn published<T: Clone>(d: &Drafted<T>) -> Option<T> {
    d.published.clone()
}

/// The plan as the person may read it, or `None` before the plan exists.
pub fn patient_plan(state: &SipState) -> Option<PatientPlan> {
    let (sip_id, person_id, need) = (state.sip_id?, state.person_id?, state.need.as_ref()?);
    // The latest judgement of each goal and intervention, follow-ups in order.
    let mut reached = std::collections::BTreeMap::new();
    let mut outcomes = std::collections::BTreeMap::new();
    for f in &state.follow_ups {
        for g in &f.goals {
            reached.insert(g.sub_goal_id.clone(), g.reached);
        }
        for i in &f.interventions {
            outcomes.insert(i.intervention_id.clone(), i.outcome);
        }
    }
    let sub_goals: Vec<PatientSubGoal> = state
        .sub_goals
        .iter()
        .filter_map(|(id, d)| {
            published(d).map(|g| PatientSubGoal {
                id: id.clone(),
                heading: g.heading,
                text: g.text,
                responsible: g.responsible,
                published_at: d.published_at,
                reached: reached.get(&Some(id.clone())).copied(),
            })
        })
        .collect();
    let interventions: Vec<PatientIntervention> = state
        .interventions
        .iter()
        .filter_map(|(id, d)| {
            published(d).map(|i| PatientIntervention {
                id: id.clone(),
                sub_goal_id: i.sub_goal_id,
                what: i.what,
                responsible: i.responsible,
                responsible_person: i.responsible_person,
                performer: i.performer,
                contact: i.contact,
                from: i.from,
                to: i.to,
                outcome: outcomes.get(id).copied(),
            })
        })
        .collect();
    let main_goal = state.main_goal.as_ref().and_then(published).map(|g| g.text);
    let mut units: Vec<UnitId> = state
        .publications
        .iter()
        .map(|p| p.unit_id.clone())
        .collect();
    units.extend(sub_goals.iter().filter_map(|g| match &g.responsible {
        Responsible::Unit { unit_id } => Some(unit_id.clone()),
        Responsible::Person => None,
    }));
    units.extend(interventions.iter().filter_map(|i| match &i.responsible {
        Responsible::Unit { unit_id } => Some(unit_id.clone()),
        Responsible::Person => None,
    }));
    units.extend(state.coordinator.iter().map(|c| c.unit_id.clone()));
    units.sort();
    units.dedup();
    let closed = state.closed.as_ref().map(|c| PatientClosure {
        reason: c.reason,
        reason_text: closed_because(c.reason).to_string(),
        closed_at: c.recorded_at,
    });
    let (status, status_text) = match (&closed, &state.consent_withdrawn) {
        (Some(c), _) => (
            PatientPlanStatus::Closed,
            format!("Avslutad: {}", c.reason_text),
        ),
        (None, Some(_)) => (
            PatientPlanStatus::ConsentWithdrawn,
            "Samtycket är återkallat; planen avslutas".to_string(),
        ),
        (None, None) => (PatientPlanStatus::Active, "Pågående".to_string()),
    };
    // Nothing is held without consent: a meeting booked before the withdrawal is not shown,
    // as the FHIR export (built from this) shows none (a review saw the page name one).
    let mut meetings: Vec<PatientMeeting> = if closed.is_some() || state.consent_withdrawn.is_some()
    {
        Vec::new()
    } else {
        state
            .invitations
            .values()
            // The meetings the person (or a relative on their behalf) is called to: a meeting
            // of the units alone is not theirs to be told of.
            .filter(|i| i.is_active() && i.calls_the_person())
            .map(|i| PatientMeeting {
                purpose: i.purpose,
                scheduled_at: i.scheduled_at,
                form: i.form,
                place: i.place.clone(),
            })
            .collect()
    };
    meetings.sort_by_key(|m| m.scheduled_at);
    let next_meeting = meetings.first().cloned();
    let mut consenting_guardians: Vec<String> = state
        .consents
        .iter()
        .filter_map(|c| match &c.given_by {
            ConsentGiver::Guardian { relative_id } => Some(relative_id.clone()),
            _ => None,
        })
        .collect();
    consenting_guardians.sort();
    consenting_guardians.dedup();
    Some(PatientPlan {
        sip_id,
        person_id,
        status,
        status_text,
        started_at: need.known_since,
        first_published_at: state.publications.first().map(|p| p.recorded_at),
        last_published_at: state.publications.last().map(|p| p.recorded_at),
        // Known only from the history: `patient_plan_of`.
        changed_at: None,
        main_goal_reached: main_goal.as_ref().and_then(|_| reached.get(&None).copied()),
        main_goal,
        sub_goals,
        interventions,
        coordinator: state.coordinator.clone(),
        fixed_care_contacts: state
            .basis
            .as_ref()
            .map(|b| b.fixed_care_contacts.clone())
            .unwrap_or_default(),
        // None once the plan is closed or its consent withdrawn: no follow-up will be held.
        next_follow_up_on: state
            .next_follow_up_on
            .filter(|_| state.closed.is_none() && state.consent_withdrawn.is_none()),
        next_meeting,
        meetings,
        units,
        participants: state.shown_participants().into_iter().collect(),
        consenting_guardians,
        left_out: state
            .participants
            .iter()
            .filter(|u| state.left_out_by_consent(u))
            .cloned()
            .collect(),
        closed,
    })
}

/// The plan as its person reads it after `history`, with when that last changed: the time of
/// the latest event after which the person's document differs from the one before it. An
/// outside review found the FHIR export's `lastUpdated` and Min plan's "Senast uppdaterad"
/// standing at the last publication after a withdrawal, a follow-up, a new coordinator and a
/// moved meeting had changed what they show; a draft, a kallelse of the units alone and a mapping
/// change nothing the person reads, and do not move it. The same history gives the same time,
/// live and on a rebuild.
pub fn patient_plan_of<'a>(history: impl IntoIterator<Item = &'a SipEvent>) -> Option<PatientPlan> {
    let mut state = SipState::default();
    let mut shown: Option<PatientPlan> = None;
    let mut changed_at = None;
    for event in history {
        state = super::evolve::evolve(state, event);
        let now = patient_plan(&state);
        if now != shown {
            changed_at = Some(event.recorded().1);
        }
        shown = now;
    }
    shown.map(|plan| PatientPlan { changed_at, ..plan })
}

/// Why the plan was closed, in words for the person or their guardian (not the staff's "den
/// enskilde", which a review found on a parent's page after a child's death).
pub fn closed_because(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::GoalsMet => "målen är uppnådda",
        CloseReason::NoLongerNeeded => "samordningen behövs inte längre",
        CloseReason::ConsentWithdrawn => "samtycket är återkallat",
        CloseReason::ConsentDeclined => "inget samtycke gavs",
        CloseReason::ProtectedIdentity => "skyddade personuppgifter",
        CloseReason::MovedOutOfRegion => "flytt till ett annat län",
        CloseReason::Deceased => "dödsfall",
        CloseReason::ReplacedByNewPlan => "en ny plan ersätter den",
    }
}
