//! What a participating unit sees of a plan (`GET /sips/{id}`): published content, its own
//! drafts, the state and the deadlines. Drafts of other units are left out entirely.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeSet;

use super::state::*;
use super::types::{ConsentGiver, Recipient, Responsible};
use crate::context::StaffRef;
use crate::ids::{PersonId, SipId, UnitId};
use crate::obligations::{obligations, Obligation};
use crate::policy::PolicyProfile;
use crate::time::local_date;

/// Where consent stands, as far as the plan itself knows (guardian completeness uses the
/// guardians registered when consent was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Missing,
    Given,
    Expired,
    Declined,
    Withdrawn,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentView {
    pub status: ConsentStatus,
    /// The latest date any current consent is valid.
    pub valid_until: Option<NaiveDate>,
    /// Actors covered by a current consent.
    pub actors: Vec<UnitId>,
    pub topics: Vec<String>,
    pub history: Vec<Consent>,
}

/// A documented item as this unit may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemView<T> {
    pub id: String,
    pub author_unit: UnitId,
    /// false: this is the unit's own unpublished draft.
    pub published: bool,
    /// The unit's own item has a draft not yet published ("Spara" without "dela ut").
    pub has_unpublished_changes: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub content: T,
}

/// A to-do with whether it is overdue now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadlineView {
    #[serde(flatten)]
    pub obligation: Obligation,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingView {
    pub mapping_id: String,
    #[serde(flatten)]
    pub mapping: Mapping,
}

/// The plan as `unit` may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SipView {
    pub sip_id: Option<SipId>,
    pub person_id: Option<PersonId>,
    pub phase: SipPhase,
    pub need: Option<Need>,
    pub consent: ConsentView,
    pub discharged_at: Option<DateTime<Utc>>,
    pub basis: Option<PlanBasis>,
    pub coordinator: Option<StaffRef>,
    pub former_coordinators: Vec<StaffRef>,
    /// The units taking part that this unit may know of (a unit named only in another unit's
    /// draft is not among them): `SipState::shown_participants` and its own drafts' units.
    pub participants: Vec<UnitId>,
    /// Kartläggning: readable by every participant.
    pub mappings: Vec<MappingView>,
    pub invitations: Vec<Invitation>,
    /// Kallelser saved unsent ("Spara"): only for the coordinator's unit, empty for any other.
    pub invitation_drafts: Vec<InvitationDraft>,
    pub meetings: Vec<Meeting>,
    pub main_goal: Option<ItemView<MainGoal>>,
    pub sub_goals: Vec<ItemView<SubGoal>>,
    pub interventions: Vec<ItemView<Intervention>>,
    /// The agreed follow-up date while one will be held (not once the plan is closed or consent
    /// is withdrawn).
    pub next_follow_up_on: Option<NaiveDate>,
    pub follow_ups: Vec<FollowUp>,
    pub closed: Option<Closure>,
    /// The region offers SIP-kollen at the end of the meeting and the meeting is still ahead.
    pub offer_sip_survey: bool,
    pub deadlines: Vec<DeadlineView>,
}

fn item_view<T: Clone>(id: &str, d: &Drafted<T>, unit: &UnitId) -> Option<ItemView<T>> {
    let own = d.author_unit == *unit;
    let (content, published) = match (&d.draft, &d.published) {
        (Some(draft), _) if own => (draft.clone(), false),
        (_, Some(p)) => (p.clone(), true),
        _ => return None,
    };
    Some(ItemView {
        id: id.to_string(),
        author_unit: d.author_unit.clone(),
        published,
        has_unpublished_changes: own && d.draft.is_some(),
        published_at: d.published_at,
        content,
    })
}

fn consent_view(state: &SipState, today: NaiveDate) -> ConsentView {
    // Whose consent counts today, as `decide::consent_cover` judges it: from the 18th birthday
    // the person's own (or a representative's), not the guardians' any more; before it, while
    // the guardians' are what counts, theirs (a young person's own, given ahead, waits).
    let adult = state.person_status.adult_on.is_some_and(|d| d <= today);
    let guardians_count = !state.guardians_required.is_empty() && !adult;
    let counts = |giver: &ConsentGiver| {
        let by_guardian = matches!(giver, ConsentGiver::Guardian { .. });
        if adult {
            !by_guardian
        } else if guardians_count {
            by_guardian
        } else {
            true
        }
    };
    // Each giver's newest consent in force speaks for them (a renewal replaces what they agreed
    // to before), as `decide::consent_cover` judges what a kallelse may do.
    let current: Vec<&Consent> = state.consents_in_force(today, counts);
    let status = if state.consent_withdrawn.is_some() {
        ConsentStatus::Withdrawn
    } else if state.consent_complete() && !current.is_empty() {
        ConsentStatus::Given
    } else if state.consent_complete() {
        ConsentStatus::Expired
    } else if state.consent_declined.is_some() {
        ConsentStatus::Declined
    } else {
        ConsentStatus::Missing
    };
    // A child's guardians each for themselves, so only what every guardian agreed to, until the
    // first of their consents ends; an adult and their representative with one voice, the
    // newest consent.
    let (actors, topics, valid_until) = if guardians_count {
        (
            in_every(&current, |c| &c.actors),
            in_every(&current, |c| &c.topics),
            current.iter().map(|c| c.valid_until).min(),
        )
    } else {
        match current.last() {
            Some(newest) => (
                sorted(&newest.actors),
                sorted(&newest.topics),
                Some(newest.valid_until),
            ),
            None => (Vec::new(), Vec::new(), None),
        }
    };
    ConsentView {
        status,
        valid_until,
        actors,
        topics,
        history: state.consents.clone(),
    }
}

/// `items` in order, each once.
fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    items
        .iter()
        .cloned()
        .collect::<BTreeSet<T>>()
        .into_iter()
        .collect()
}

/// What every one of `consents` names, in order.
fn in_every<T: Ord + Clone>(consents: &[&Consent], of: impl Fn(&Consent) -> &Vec<T>) -> Vec<T> {
    let mut sets = consents
        .iter()
        .map(|c| of(c).iter().cloned().collect::<BTreeSet<T>>());
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, set| &acc & &set)
        .into_iter()
        .collect()
}

/// The postal address of a letter recipient as staff may see it: none for the person and their
/// relatives once the person has protected identity (skyddade personuppgifter), since either
/// could lead to where the person lives. Units' addresses are not protected.
pub fn shown_address(
    state: &SipState,
    recipient: &Recipient,
    address: Option<String>,
) -> Option<String> {
    match recipient {
        Recipient::Person | Recipient::Relative { .. }
            if state.person_status.protected_identity =>
        {
            None
        }
        _ => address,
    }
}

/// The units `unit` may see take part: [`SipState::shown_participants`], and the units its own
/// drafts name, which it sees anyway.
fn participants_for(state: &SipState, unit: &UnitId) -> Vec<UnitId> {
    let own_drafts = state
        .sub_goals
        .values()
        .filter(|d| d.author_unit == *unit)
        .filter_map(|d| d.draft.as_ref().map(|g| &g.responsible))
        .chain(
            state
                .interventions
                .values()
                .filter(|d| d.author_unit == *unit)
                .filter_map(|d| d.draft.as_ref().map(|i| &i.responsible)),
        )
        .filter_map(|r| match r {
            Responsible::Unit { unit_id } => Some(unit_id.clone()),
            Responsible::Person => None,
        });
    let mut units = state.shown_participants();
    units.extend(own_drafts);
    units.into_iter().collect()
}

/// What `unit` may see of the plan at `now`. The caller checks `participates` first.
pub fn view_for_unit(
    state: &SipState,
    unit: &UnitId,
    policy: &PolicyProfile,
    now: DateTime<Utc>,
) -> SipView {
    SipView {
        sip_id: state.sip_id,
        person_id: state.person_id,
        phase: state.phase(),
        need: state.need.clone(),
        consent: consent_view(state, local_date(now)),
        discharged_at: state.discharged_at,
        basis: state.basis.clone(),
        coordinator: state.coordinator.clone(),
        former_coordinators: state.former_coordinators.clone(),
        participants: participants_for(state, unit),
        mappings: state
            .mappings
            .iter()
            .map(|(id, m)| MappingView {
                mapping_id: id.clone(),
                mapping: m.clone(),
            })
            .collect(),
        invitations: state
            .invitations
            .values()
            .cloned()
            .map(|mut inv| {
                for r in &mut inv.recipients {
                    r.address = shown_address(state, &r.recipient, r.address.take());
                }
                inv
            })
            .collect(),
        invitation_drafts: if state.coordinator.as_ref().map(|c| &c.unit_id) == Some(unit) {
            state.invitation_drafts.values().cloned().collect()
        } else {
            Vec::new()
        },
        meetings: state.meetings.clone(),
        main_goal: state
            .main_goal
            .as_ref()
            .and_then(|g| item_view("main_goal", g, unit)),
        sub_goals: state
            .sub_goals
            .iter()
            .filter_map(|(id, g)| item_view(id, g, unit))
            .collect(),
        interventions: state
            .interventions
            .iter()
            .filter_map(|(id, i)| item_view(id, i, unit))
            .collect(),
        // None once the plan is closed or without consent: no follow-up will be held.
        next_follow_up_on: state
            .next_follow_up_on
            .filter(|_| !state.is_closed() && state.consent_withdrawn.is_none()),
        follow_ups: state.follow_ups.clone(),
        closed: state.closed.clone(),
        offer_sip_survey: policy.offers_sip_survey && !state.meeting_held() && !state.is_closed(),
        deadlines: obligations(state, policy)
            .into_iter()
            .filter(|o| o.shown_from.is_none_or(|from| from <= now))
            .map(|mut o| {
                if let Some(letter) = o.letter.as_mut() {
                    letter.address = shown_address(state, &letter.recipient, letter.address.take());
                }
                DeadlineView {
                    overdue: o.due_at.is_some_and(|d| d < now),
                    obligation: o,
                }
            })
            .collect(),
    }
}
