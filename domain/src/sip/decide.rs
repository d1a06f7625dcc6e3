//! Deciding SIP commands: who may, in which state, under which rules (DESIGN.md, "The SIP
//! lifecycle"). Pure: the facts from other streams and the time come in as values.
//!
//! Checks run in a fixed order so the same situation always gives the same code: a closed plan
//! first (`plan_closed`), then whether the plan exists, the caller's role and unit, withdrawn
//! consent, then per command: the plan's state, who may, and the input's rules.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, DurationRound, NaiveDate, Utc};

use super::command::*;
use super::event::SipEvent;
use super::state::{Drafted, SipState};
use super::types::*;
use crate::calendar;
use crate::context::{Context, StaffRef};
use crate::error::DomainError;
use crate::heading::Heading;
use crate::ids::UnitId;
use crate::person::{PersonState, RelativeKind};
use crate::policy::{PolicyProfile, Track};
use crate::time::local_date;
use crate::unit::{Unit, UnitState};

/// Facts from other streams that SIP rules need; the gateway loads them: the person of the plan
/// (or of `IdentifyNeed`) and every unit the command names (`SipCommand::referenced_units`) plus
/// the plan's participants it cares to load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SipFacts {
    pub person: Option<PersonState>,
    pub units: BTreeMap<UnitId, UnitState>,
    /// The policy profile in force lets one person both chair the meeting and keep its minutes
    /// (every profile but Stockholm's: `PolicyProfile::chair_and_secretary_differ`). `false`, the
    /// stricter reading, unless [`SipFacts::under`] a profile says otherwise.
    pub chair_may_be_secretary: bool,
    /// The profile in force counts the meeting's deadline at discharge by track (Örebro's green,
    /// yellow and red, `001_981d6886037d185d.txt`), so a discharge need must name its track
    /// (`PolicyProfile::discharge_needs_track`).
    pub discharge_needs_track: bool,
    /// How many days before their 18th birthday a young person may give their own consent, which
    /// holds from the birthday on: the days before it that the coordinator is asked for it
    /// (`PolicyProfile::consent_renewal_notice_days`). 0, none, unless [`SipFacts::under`] a
    /// profile.
    pub own_consent_days_before_18: u32,
}

impl SipFacts {
    /// These facts under `policy`: the rules of the profile `decide` needs.
    pub fn under(self, policy: &PolicyProfile) -> SipFacts {
        SipFacts {
            chair_may_be_secretary: !policy.chair_and_secretary_differ,
            discharge_needs_track: policy.discharge_needs_track(),
            own_consent_days_before_18: policy.consent_renewal_notice_days,
            ..self
        }
    }

    fn person(&self) -> Result<&PersonState, DomainError> {
        self.person
            .as_ref()
            .filter(|p| p.is_registered())
            .ok_or(DomainError::PersonNotFound)
    }

    fn unit(&self, id: &UnitId) -> Result<&Unit, DomainError> {
        self.units
            .get(id)
            .and_then(|u| u.unit.as_ref())
            .ok_or_else(|| DomainError::UnknownUnit(id.clone()))
    }
}

/// Longest free text we accept in one field (a mapping or goal text is a few paragraphs).
const TEXT_LEN_MAX_CHARS: usize = 20_000;
/// Longest id a caller may choose for an item of the plan (ULIDs are 26).
const ITEM_ID_LEN_MAX_CHARS: usize = 64;

fn bounded(t: &str, field: &'static str, max: usize) -> Result<String, DomainError> {
    if t.chars().count() > max {
        Err(DomainError::FieldTooLong { field, max })
    } else {
        Ok(t.to_string())
    }
}

fn required(s: &str, field: &'static str) -> Result<String, DomainError> {
    let t = s.trim();
    if crate::text::blank(t) {
        Err(DomainError::FieldMissing(field))
    } else {
        bounded(t, field, TEXT_LEN_MAX_CHARS)
    }
}

/// An id chosen by the caller for an item of the plan (invitation, goal…).
fn item_id(s: &str, field: &'static str) -> Result<String, DomainError> {
    let t = required(s, field)?;
    bounded(&t, field, ITEM_ID_LEN_MAX_CHARS)
}

fn optional(s: &Option<String>, field: &'static str) -> Result<Option<String>, DomainError> {
    match s
        .as_deref()
        .map(str::trim)
        .filter(|v| !crate::text::blank(v))
    {
        Some(t) => bounded(t, field, TEXT_LEN_MAX_CHARS).map(Some),
        None => Ok(None),
    }
}

fn heading(code: &str) -> Result<Heading, DomainError> {
    Heading::parse(code.trim()).map_err(|_| DomainError::InvalidHeading(code.to_string()))
}

fn is_coordinator(state: &SipState, ctx: &Context) -> bool {
    state
        .coordinator
        .as_ref()
        .is_some_and(|c| c.staff_id.as_str() == ctx.actor.id)
}

/// Coordinator-only commands need a plan basis (which names the coordinator) and the caller to
/// be that coordinator.
/// Red track: "Vid rött spår ska SIP-möte hållas innan hemgång från sjukhuset"
/// (`001_981d6886037d185d.txt`). While the patient is still in hospital and the plan's SIP-möte
/// is not yet held, a meeting called (or moved) to after the recorded discharge is refused,
/// whatever the profile's deadlines: the coordinator picks an earlier time, or records the
/// discharge's new time first. Once the patient has gone home the meeting is still to be held,
/// so nothing is refused then.
fn before_going_home(
    state: &SipState,
    scheduled_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let red = state.need.as_ref().is_some_and(|n| {
        n.context.kind == CareContextKind::Discharge && n.context.track == Some(Track::Red)
    });
    match state.discharged_at {
        // Before going home: a meeting at the discharge minute is not before it.
        Some(home) if red && home > now && scheduled_at >= home && !state.meeting_held() => {
            Err(DomainError::MeetingAfterDischarge(home))
        }
        _ => Ok(()),
    }
}

/// How many goals (the main goal and the sub-goals still in the plan) the latest follow-up that
/// judged each of them found not reached.
fn goals_judged_not_reached(state: &SipState) -> usize {
    let mut latest: BTreeMap<Option<&str>, bool> = BTreeMap::new();
    for f in &state.follow_ups {
        for g in &f.goals {
            latest.insert(g.sub_goal_id.as_deref(), g.reached);
        }
    }
    latest
        .into_iter()
        .filter(|(goal, reached)| {
            !reached
                && match goal {
                    None => state.main_goal.is_some(),
                    Some(id) => state.sub_goals.contains_key(*id),
                }
        })
        .count()
}

fn require_coordinator(state: &SipState, ctx: &Context) -> Result<(), DomainError> {
    if state.basis.is_none() {
        return Err(DomainError::PlanBasisMissing);
    }
    if !is_coordinator(state, ctx) {
        return Err(DomainError::NotCoordinator);
    }
    Ok(())
}

/// The coordinator, or a colleague at the coordinator's unit: the unit holds the coordination, so
/// a colleague hands the plan over when the coordinator is away or has left ("Behöver man ändra
/// den samordningsansvariga klickar man på pennan", `002_e8f513fd830d8301.txt`).
fn require_coordinators_unit(
    state: &SipState,
    ctx: &Context,
    by: &StaffRef,
) -> Result<(), DomainError> {
    if state.basis.is_none() {
        return Err(DomainError::PlanBasisMissing);
    }
    let colleague = state
        .coordinator
        .as_ref()
        .is_some_and(|c| c.unit_id == by.unit_id);
    if is_coordinator(state, ctx) || colleague {
        Ok(())
    } else {
        Err(DomainError::NotCoordinator)
    }
}

/// The unit takes part. That the plan is still shared with it is checked for every command at
/// the top of [`decide`]: a unit the newest consent leaves out records nothing more (ADR 0053).
fn require_participant(state: &SipState, by: &StaffRef) -> Result<(), DomainError> {
    if !state.participates(&by.unit_id) {
        return Err(DomainError::UnitNotParticipating(by.unit_id.clone()));
    }
    Ok(())
}

fn require_meeting(state: &SipState) -> Result<(), DomainError> {
    if state.basis.is_none() {
        return Err(DomainError::PlanBasisMissing);
    }
    if !state.meeting_held() {
        return Err(DomainError::MeetingNotHeld);
    }
    Ok(())
}

/// The person may still have a plan here: not protected, not deceased, not moved away.
fn require_person_active(person: &PersonState) -> Result<(), DomainError> {
    if person.protected_identity {
        return Err(DomainError::ProtectedIdentity);
    }
    if person.deceased.is_some() {
        return Err(DomainError::PersonDeceased);
    }
    if person.moved_out.is_some() {
        return Err(DomainError::PersonMovedOut);
    }
    Ok(())
}

/// The actors covered by valid consent today, or why there is none.
///
/// An adult consents themselves or through a representative they accepted; the newest valid
/// consent of either speaks. A child (under 18 on `today`, from the personnummer) needs valid
/// consent from every registered guardian; only actors every guardian's newest consent names
/// count. A renewal replaces what was agreed before: a unit it leaves out is no longer covered
/// ([`SipState::consents_in_force`]).
pub fn consent_cover(
    state: &SipState,
    person: &PersonState,
    today: NaiveDate,
) -> Result<BTreeSet<UnitId>, DomainError> {
    if state.consent_withdrawn.is_some() {
        return Err(DomainError::ConsentWithdrawn);
    }
    let valid_union = |givers: &dyn Fn(&ConsentGiver) -> bool| {
        if !state.consents.iter().any(|c| givers(&c.given_by)) {
            return Err(None);
        }
        // The newest consent in force of these givers speaks: for a child each guardian is a
        // giver of their own; an adult and their representative speak with one voice, the
        // latest thing said (an outside review had a representative's older consent keep a
        // unit the person's own newer one left out).
        let in_force = state.consents_in_force(today, givers);
        let Some(newest) = in_force.last() else {
            return Err(Some(DomainError::ConsentExpired));
        };
        Ok(newest.actors.iter().cloned().collect::<BTreeSet<_>>())
    };
    if person.is_child_on(today) {
        let guardians = person.guardians();
        if guardians.is_empty() {
            return Err(DomainError::ChildNeedsGuardianConsent);
        }
        let mut cover: Option<BTreeSet<UnitId>> = None;
        for g in guardians {
            let set = valid_union(&|giver: &ConsentGiver| {
                matches!(giver, ConsentGiver::Guardian { relative_id } if *relative_id == g.relative_id)
            })
            .map_err(|e| e.unwrap_or_else(|| DomainError::GuardianConsentMissing(g.name.clone())))?;
            cover = Some(match cover {
                None => set,
                Some(c) => c.intersection(&set).cloned().collect(),
            });
        }
        Ok(cover.unwrap_or_default())
    } else {
        valid_union(&|giver: &ConsentGiver| !matches!(giver, ConsentGiver::Guardian { .. }))
            .map_err(|e| e.unwrap_or(DomainError::ConsentMissing))
    }
}

/// The närstående the consent in force lets a meeting invite, or `None` when it does not limit
/// them (a consent in force that does not say: recorded before it was asked, or by a client
/// that does not ask). The newest consent in force speaks — a renewal that leaves a närstående
/// out takes them out, as the plan page shows it; for an adult the newest of the person's and a
/// representative's, and for a child (`child`, with the relative ids of the
/// person's `guardians`) what every guardian's names. The kallelse form marks whom it leaves out.
pub fn relatives_cover(
    state: &SipState,
    child: bool,
    guardians: &[&str],
    today: NaiveDate,
) -> Option<BTreeSet<String>> {
    let newest = |giver: &dyn Fn(&ConsentGiver) -> bool| -> Option<Option<BTreeSet<String>>> {
        let c = state
            .consents
            .iter()
            .rev()
            .find(|c| giver(&c.given_by) && c.valid_until >= today)?;
        Some(
            c.relatives
                .as_ref()
                .map(|ids| ids.iter().cloned().collect()),
        )
    };
    if child {
        let mut cover: Option<BTreeSet<String>> = None;
        for g in guardians {
            let theirs = newest(&|giver: &ConsentGiver| {
                matches!(giver, ConsentGiver::Guardian { relative_id } if relative_id == g)
            })
            .unwrap_or_default()?;
            cover = Some(match cover {
                None => theirs,
                Some(c) => c.intersection(&theirs).cloned().collect(),
            });
        }
        cover
    } else {
        // The person and their representative speak with one voice: the newest consent.
        newest(&|giver: &ConsentGiver| !matches!(giver, ConsentGiver::Guardian { .. }))
            .unwrap_or_default()
    }
}

/// A unit the newest consent leaves out ([`SipState::left_out_by_consent`]) shares nothing more
/// into the plan (seed 003: consent is given "för vilka aktörer som ska delta").
fn require_not_left_out(
    state: &SipState,
    facts: &SipFacts,
    unit_id: &UnitId,
) -> Result<(), DomainError> {
    if !state.left_out_by_consent(unit_id) {
        return Ok(());
    }
    // Told who can have it named again: the coordinator (a support review found the refusal
    // asking the left-out unit for a consent it may not record).
    let coordinator = state.coordinator.as_ref().map_or_else(
        || "den som samordnar planen".to_string(),
        |c| format!("{}, {}", c.name, unit_name(facts, &c.unit_id)),
    );
    Err(DomainError::UnitLeftOutByConsent(
        unit_id.clone(),
        unit_name(facts, unit_id),
        coordinator,
    ))
}

/// A unit's name as staff know it, for a refusal that names it (its id if it is unknown).
fn unit_name(facts: &SipFacts, unit_id: &UnitId) -> String {
    facts
        .unit(unit_id)
        .map_or_else(|_| unit_id.to_string(), |u| u.name.clone())
}

/// Each actor documents its own; the coordinator documents for the person (egenvård) and for
/// actors without samplan.
fn require_may_document(
    state: &SipState,
    facts: &SipFacts,
    by: &StaffRef,
    ctx: &Context,
    responsible: &Responsible,
) -> Result<(), DomainError> {
    let coordinator = is_coordinator(state, ctx);
    require_not_left_out(state, facts, &by.unit_id)?;
    match responsible {
        Responsible::Person if coordinator => Ok(()),
        Responsible::Person => Err(DomainError::NotResponsibleActor),
        Responsible::Unit { unit_id } if *unit_id == by.unit_id => Ok(()),
        Responsible::Unit { unit_id } => {
            let unit = facts.unit(unit_id)?;
            if !coordinator || unit.uses_samplan {
                return Err(DomainError::NotResponsibleActor);
            }
            // An actor without samplan is written into the plan only if the person let it take
            // part: it takes part already, or a consent on record names it — as a kallelse to it
            // would need.
            if consent_lets_take_part(state, unit_id) {
                Ok(())
            } else {
                Err(DomainError::ActorNotCoveredByConsent(
                    unit_id.clone(),
                    unit.name.clone(),
                ))
            }
        }
    }
}

/// An item with an unpublished draft belongs to the draft's unit until it is published.
fn require_not_others_draft<T>(
    item: Option<&Drafted<T>>,
    by: &StaffRef,
) -> Result<(), DomainError> {
    match item {
        Some(d) if d.draft.is_some() && d.author_unit != by.unit_id => Err(DomainError::NotAuthor),
        _ => Ok(()),
    }
}

/// An item already in the plan stays with the actor responsible for it: only who may document
/// for that actor may change it ("varje aktör dokumenterar sina egna delmål och insatser"), so a
/// unit cannot take over another's published sub-goal by reusing its id with itself responsible.
fn require_may_change<T>(
    state: &SipState,
    facts: &SipFacts,
    by: &StaffRef,
    ctx: &Context,
    item: Option<&Drafted<T>>,
    responsible: impl Fn(&T) -> &Responsible,
) -> Result<(), DomainError> {
    let Some(current) = item.and_then(|d| d.published.as_ref().or(d.draft.as_ref())) else {
        return Ok(());
    };
    require_may_document(state, facts, by, ctx, responsible(current))
        .map_err(|_| DomainError::NotAuthor)
}

/// Who declines or withdraws consent stands as one who may give it (an outside review had an
/// aunt end a child's plan, and a närstående an adult's): for a child a registered guardian,
/// never the child or a representative; for an adult the person, no guardian, and a
/// representative only a god man or förvaltare, or one who consented on this plan as
/// företrädare (which the person accepted). A removed relative, or a name nobody registered,
/// speaks for no one.
fn check_giver(
    state: &SipState,
    person: &PersonState,
    today: NaiveDate,
    giver: &ConsentGiver,
) -> Result<(), DomainError> {
    let child = person.is_child_on(today);
    match giver {
        // "Oavsett barnets ålder är det alltid vårdnadshavarna som ska ge sitt samtycke" (001):
        // a child neither declines nor withdraws it on their own.
        ConsentGiver::Person if child => Err(DomainError::ChildCannotConsent),
        ConsentGiver::Person => Ok(()),
        ConsentGiver::Guardian { relative_id } => {
            if check_relative(person, relative_id)? != RelativeKind::Guardian {
                return Err(DomainError::NotAGuardian(relative_id.clone()));
            }
            if !child {
                return Err(DomainError::GuardianConsentForAdult);
            }
            Ok(())
        }
        ConsentGiver::Representative { relative_id } => {
            let kind = check_relative(person, relative_id)?;
            if child {
                return Err(DomainError::ChildCannotConsent);
            }
            let legal = matches!(kind, RelativeKind::Trustee | RelativeKind::Administrator);
            if !legal && !state.accepted_representative(relative_id) {
                return Err(DomainError::RepresentativeNotAccepted);
            }
            Ok(())
        }
    }
}

fn check_relative(person: &PersonState, relative_id: &str) -> Result<RelativeKind, DomainError> {
    person
        .relative(relative_id)
        .map(|r| r.kind)
        .ok_or_else(|| DomainError::UnknownRelative(relative_id.to_string()))
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Decides a SIP command against the plan's state.
pub fn decide(
    state: &SipState,
    cmd: &SipCommand,
    facts: &SipFacts,
    ctx: &Context,
) -> Result<Vec<SipEvent>, DomainError> {
    // A unit the consent has left out records nothing more on the plan (ADR 0053), and is told
    // so whatever the plan's state: a refusal naming the state (not held yet, closed, someone
    // else coordinates) would share the plan with it after all (an outside review).
    if let Some(unit) = ctx.actor.unit.as_ref().filter(|u| state.participates(u)) {
        require_not_left_out(state, facts, unit)?;
    }
    // After avslut the plan accepts nothing but the record that the letters telling of a
    // meeting called off were posted.
    if state.is_closed() && !matches!(cmd, SipCommand::RecordLettersPosted(_)) {
        return Err(DomainError::PlanClosed);
    }
    if let Some((field, _)) = cmd.dates().into_iter().find(|(_, d)| !calendar::covers(*d)) {
        return Err(DomainError::DateOutOfRange(field));
    }
    let is_start = matches!(cmd, SipCommand::IdentifyNeed(_));
    if state.exists() && is_start {
        return Err(DomainError::SipAlreadyExists);
    }
    if !state.exists() && !is_start {
        return Err(DomainError::SipNotFound);
    }
    let by = StaffRef::from_context(ctx)?;
    // Withdrawn consent leaves one thing to do: close the plan ("sker inte med automatik") —
    // and to call off a meeting booked, and tell by letter those who were told of it by letter.
    if state.consent_withdrawn.is_some()
        && !matches!(
            cmd,
            SipCommand::ClosePlan(_)
                | SipCommand::CancelInvitation(_)
                | SipCommand::RecordLettersPosted(_)
        )
    {
        return Err(DomainError::ConsentWithdrawn);
    }
    let now = ctx.now;
    let today = ctx.today();
    let event = match cmd {
        SipCommand::IdentifyNeed(c) => {
            let person = facts.person()?;
            if person.person_id != Some(c.person_id) {
                return Err(DomainError::PersonNotFound);
            }
            require_person_active(person)?;
            let known_since = c.known_since.unwrap_or(now);
            if known_since > now {
                return Err(DomainError::KnownSinceInFuture);
            }
            // A date before the person was born is a slip of the keyboard (1975 for 2025), and
            // it would count the plan in a month decades back (docs/kpis.md).
            if let Some(born) = person.personal_identity_number.map(|p| p.birth_date()) {
                if crate::time::local_date(known_since) < born {
                    return Err(DomainError::KnownSinceBeforeBirth { born });
                }
            }
            if c.context.kind == CareContextKind::Outpatient && c.context.track.is_some() {
                return Err(DomainError::TrackWithoutDischarge);
            }
            // The notice is a fact, not a plan: one dated ahead would push the deadlines with it.
            if c.context
                .discharge_ready_at
                .is_some_and(|ready| ready > now)
            {
                return Err(DomainError::InFuture("utskrivningsklarmeddelandet"));
            }
            if c.context.kind == CareContextKind::Discharge
                && c.context.track.is_none()
                && facts.discharge_needs_track
            {
                return Err(DomainError::TrackMissing);
            }
            SipEvent::NeedIdentified {
                sip_id: c.sip_id,
                person_id: c.person_id,
                identified_by: c.identified_by,
                reason: required(&c.reason, "reason")?,
                known_since,
                context: c.context.clone(),
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::RecordConsent(c) => {
            require_participant(state, &by)?;
            // Once the plan has a coordinator, consent — renewed, widened to more actors or
            // topics — is the coordinator's unit's to obtain and record ("Inhämta patientens
            // samtycke och registrera i Lifecare", `002_e8f513fd830d8301.txt`): another unit
            // taking part cannot replace what the person agreed to. Before that, whoever
            // noticed the need asks (`003_b47277a6b8e59a80.txt`).
            if state.basis.is_some() {
                require_coordinators_unit(state, ctx, &by)?;
            }
            let person = facts.person()?;
            // A plan to be closed (protected identity, death, moving away) takes no new consent.
            require_person_active(person)?;
            let child = person.is_child_on(today);
            // In the weeks before the 18th birthday the young person may consent themselves, as
            // the coordinator is asked to have them do (`obligations`: renew_consent); their
            // consent counts from the birthday (`consent_cover`), the guardians' until then.
            // (From the day the to-do is listed: that many days before the guardians' consent's
            // last day, the eve of the birthday.)
            let of_age_soon = person.adult_on().is_some_and(|adult_on| {
                adult_on.pred_opt().unwrap_or(adult_on)
                    <= today
                        .checked_add_days(chrono::Days::new(u64::from(
                            facts.own_consent_days_before_18,
                        )))
                        .unwrap_or(today)
            });
            match &c.given_by {
                ConsentGiver::Person if child && !of_age_soon => {
                    return Err(DomainError::ChildCannotConsent)
                }
                ConsentGiver::Person => {}
                ConsentGiver::Guardian { relative_id } => {
                    if !child {
                        return Err(DomainError::GuardianConsentForAdult);
                    }
                    if check_relative(person, relative_id)? != RelativeKind::Guardian {
                        return Err(DomainError::NotAGuardian(relative_id.clone()));
                    }
                }
                ConsentGiver::Representative { relative_id } => {
                    if child {
                        return Err(DomainError::ChildCannotConsent);
                    }
                    // A god man or förvaltare represents the person by the court's decision;
                    // a närstående only as far as the person accepts it (as withdrawing asks).
                    let kind = check_relative(person, relative_id)?;
                    let legal = matches!(kind, RelativeKind::Trustee | RelativeKind::Administrator);
                    if !legal && !c.person_accepted_representative {
                        return Err(DomainError::RepresentativeNotAccepted);
                    }
                }
            }
            if c.valid_until < today {
                return Err(DomainError::InPast("samtyckets giltighet"));
            }
            if c.actors.is_empty() {
                return Err(DomainError::FieldMissing("actors"));
            }
            for a in &c.actors {
                facts.unit(a)?;
            }
            let topics: Vec<String> = c
                .topics
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if topics.is_empty() {
                return Err(DomainError::FieldMissing("topics"));
            }
            let mut actors = c.actors.clone();
            actors.sort();
            actors.dedup();
            // A renewal replaces what its giver agreed to; the coordinator's unit must stay in
            // it (change the coordinator first, `change-coordinator`). Before there is one, the
            // unit recording consent goes on with the plan basis: a consent leaving it out left
            // a plan nobody could move or see (an outside review).
            match &state.coordinator {
                Some(coordinator) if !actors.contains(&coordinator.unit_id) => {
                    return Err(DomainError::CoordinatorNotCoveredByConsent(
                        coordinator.unit_id.clone(),
                        unit_name(facts, &coordinator.unit_id),
                    ));
                }
                None if !actors.contains(&by.unit_id) => {
                    return Err(DomainError::RecorderNotCoveredByConsent(
                        by.unit_id.clone(),
                        unit_name(facts, &by.unit_id),
                    ));
                }
                _ => {}
            }
            let relatives = match &c.relatives {
                None => None,
                Some(ids) => {
                    let mut ids = ids.clone();
                    ids.sort();
                    ids.dedup();
                    for id in &ids {
                        check_relative(person, id)?;
                    }
                    Some(ids)
                }
            };
            SipEvent::ConsentGiven {
                given_by: c.given_by.clone(),
                actors,
                topics,
                valid_until: c.valid_until,
                relatives,
                guardians_required: if child {
                    person
                        .guardians()
                        .iter()
                        .map(|g| g.relative_id.clone())
                        .collect()
                } else {
                    Vec::new()
                },
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::DeclineConsent(c) => {
            require_participant(state, &by)?;
            // Complete as the guardians registered now see it: one registered since may decline.
            let mut observed = state.clone();
            observed.observe_person(facts.person()?);
            if state.basis.is_some() || observed.consent_complete() {
                return Err(DomainError::ConsentAlreadyGiven);
            }
            check_giver(state, facts.person()?, today, &c.declined_by)?;
            SipEvent::ConsentDeclined {
                declined_by: c.declined_by.clone(),
                note: optional(&c.note, "note")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::WithdrawConsent(c) => {
            require_participant(state, &by)?;
            if state.consents.is_empty() {
                return Err(DomainError::ConsentMissing);
            }
            check_giver(state, facts.person()?, today, &c.withdrawn_by)?;
            SipEvent::ConsentWithdrawn {
                withdrawn_by: c.withdrawn_by.clone(),
                note: optional(&c.note, "note")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::CreatePlanBasis(c) => {
            if state.basis.is_some() {
                return Err(DomainError::PlanBasisExists);
            }
            // A unit taking part starts the basis, and so coordinates: at first whoever noticed
            // the need ("den personen blir initialt samordningsansvarig", 002), who hands the
            // role on with `change-coordinator` or at the meeting (001). One exception: after a
            // discharge the fast vårdkontakt in the region's öppenvård calls to the SIP (lag
            // 2017:612), so a region unit the consent names takes up a plan the ward started.
            // Nobody else makes itself coordinator of a plan it is not in: an outside review had
            // a unit the consent named, reading nothing of the plan, take it over and record a
            // consent leaving out the unit that started it.
            let takes_up = !state.participates(&by.unit_id);
            let after_discharge = state
                .need
                .as_ref()
                .is_some_and(|n| n.context.kind == CareContextKind::Discharge);
            let region = facts
                .unit(&by.unit_id)
                .is_ok_and(|u| u.principal.kind == crate::unit::PrincipalKind::Region);
            if takes_up && !(after_discharge && region) {
                return Err(DomainError::UnitNotParticipating(by.unit_id.clone()));
            }
            let person = facts.person()?;
            require_person_active(person)?;
            let cover = consent_cover(state, person, today)?;
            if !cover.contains(&by.unit_id) {
                // The coordinator's unit is one the person agreed to (seed 003: consent "för
                // vilka aktörer som ska delta"), as `change-coordinator` asks of the next one.
                if takes_up {
                    return Err(DomainError::UnitNotParticipating(by.unit_id.clone()));
                }
                return Err(DomainError::CoordinatorNotCoveredByConsent(
                    by.unit_id.clone(),
                    unit_name(facts, &by.unit_id),
                ));
            }
            let mut contacts = Vec::new();
            for f in &c.fixed_care_contacts {
                if let Some(u) = &f.unit_id {
                    facts.unit(u)?;
                }
                contacts.push(FixedCareContact {
                    name: required(&crate::text::name(&f.name), "fixed_care_contacts.name")?,
                    unit_id: f.unit_id.clone(),
                    phone: optional(&f.phone, "phone")?,
                });
            }
            SipEvent::PlanBasisCreated {
                coordinator: by.clone(),
                initiated_by: optional(&c.initiated_by, "initiated_by")?,
                fixed_care_contacts: contacts,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::ChangeCoordinator(c) => {
            require_coordinators_unit(state, ctx, &by)?;
            let next = new_coordinator(state, facts, today, c)?;
            SipEvent::CoordinatorChanged {
                previous: state.coordinator.clone().unwrap_or_else(|| by.clone()),
                coordinator: next,
                reason: optional(&c.reason, "reason")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::DocumentMapping(c) => {
            require_coordinator(state, ctx)?;
            SipEvent::MappingDocumented {
                mapping_id: item_id(&c.mapping_id, "mapping_id")?,
                heading: heading(&c.heading)?,
                text: required(&c.text, "text")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::SendInvitation(c) => {
            require_coordinator(state, ctx)?;
            if c.purpose == InvitationPurpose::FollowUp && !state.meeting_held() {
                return Err(DomainError::MeetingNotHeld);
            }
            let invitation_id = item_id(&c.invitation_id, "invitation_id")?;
            if state.invitations.contains_key(&invitation_id) {
                return Err(DomainError::IdAlreadyUsed(invitation_id));
            }
            let reason = required(&c.reason, "reason")?;
            if c.recipients.is_empty() {
                return Err(DomainError::NoRecipients);
            }
            if c.scheduled_at <= now {
                return Err(DomainError::InPast("mötet"));
            }
            if c.purpose == InvitationPurpose::Meeting {
                before_going_home(state, c.scheduled_at, now)?;
            }
            let person = facts.person()?;
            require_person_active(person)?;
            let cover = consent_cover(state, person, today)?;
            let guardians: Vec<&str> = person
                .guardians()
                .iter()
                .map(|g| g.relative_id.as_str())
                .collect();
            let relatives = relatives_cover(state, person.is_child_on(today), &guardians, today);
            let mut recipients = Vec::new();
            let mut seen = BTreeSet::new();
            for r in &c.recipients {
                if !seen.insert(r.clone()) {
                    continue;
                }
                recipients.push(resolve_recipient(
                    r,
                    &cover,
                    relatives.as_ref(),
                    person,
                    facts,
                )?);
            }
            SipEvent::InvitationSent {
                invitation_id,
                purpose: c.purpose,
                scheduled_at: c.scheduled_at,
                form: c.form,
                place: optional(&c.place, "place")?,
                reason,
                recipients,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::SaveInvitationDraft(c) => {
            // A draft may be incomplete; everything `SendInvitation` requires is checked when it
            // is sent. What it names must exist, so that it can be shown and sent later.
            require_coordinator(state, ctx)?;
            if c.purpose == InvitationPurpose::FollowUp && !state.meeting_held() {
                return Err(DomainError::MeetingNotHeld);
            }
            let invitation_id = item_id(&c.invitation_id, "invitation_id")?;
            if state.invitations.contains_key(&invitation_id) {
                return Err(DomainError::IdAlreadyUsed(invitation_id));
            }
            let person = facts.person()?;
            require_person_active(person)?;
            let mut recipients: Vec<Recipient> = Vec::new();
            for r in &c.recipients {
                match r {
                    Recipient::Unit { unit_id } => {
                        facts.unit(unit_id)?;
                    }
                    Recipient::Relative { relative_id } => {
                        check_relative(person, relative_id)?;
                    }
                    Recipient::Person => {}
                }
                if !recipients.contains(r) {
                    recipients.push(r.clone());
                }
            }
            SipEvent::InvitationDraftSaved {
                invitation_id,
                purpose: c.purpose,
                scheduled_at: c.scheduled_at,
                form: c.form,
                place: optional(&c.place, "place")?,
                reason: optional(&c.reason, "reason")?,
                recipients,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::RespondToInvitation(c) => {
            let inv = state
                .invitations
                .get(&c.invitation_id)
                .ok_or_else(|| DomainError::InvitationNotFound(c.invitation_id.clone()))?;
            if !inv.is_active() {
                return Err(DomainError::InvitationNotActive);
            }
            if !inv.invited_units().any(|(u, _)| *u == by.unit_id) {
                return Err(DomainError::NotInvited(by.unit_id.clone()));
            }
            let r = &c.representative;
            let representative = Representative {
                name: required(&r.name, "representative.name")?,
                staff_id: r.staff_id.clone(),
                profession: optional(&r.profession, "profession")?,
                phone: optional(&r.phone, "phone")?,
            };
            // Naming the one already named (a second click) changes nothing and tells nobody.
            if inv.representatives.get(&by.unit_id) == Some(&representative) {
                return Ok(Vec::new());
            }
            SipEvent::RepresentativeAppointed {
                invitation_id: c.invitation_id.clone(),
                unit_id: by.unit_id.clone(),
                representative,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::CancelInvitation(c) => {
            require_coordinator(state, ctx)?;
            active_invitation(state, &c.invitation_id)?;
            SipEvent::InvitationCancelled {
                invitation_id: c.invitation_id.clone(),
                reason: optional(&c.reason, "reason")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::RescheduleMeeting(c) => {
            require_coordinator(state, ctx)?;
            let inv = active_invitation(state, &c.invitation_id)?;
            if c.scheduled_at <= now {
                return Err(DomainError::InPast("mötet"));
            }
            if inv.purpose == InvitationPurpose::Meeting {
                before_going_home(state, c.scheduled_at, now)?;
            }
            // A new time is sent to the same recipients, which still needs valid consent.
            consent_cover(state, facts.person()?, today)?;
            let form = c.form.unwrap_or(inv.form);
            let place = optional(&c.place, "place")?.or_else(|| inv.place.clone());
            // Moved to where it already is: every unit would be told of a new time, and a
            // letter owed, for nothing.
            if c.scheduled_at == inv.scheduled_at && form == inv.form && place == inv.place {
                return Err(DomainError::MeetingUnchanged);
            }
            SipEvent::MeetingRescheduled {
                invitation_id: c.invitation_id.clone(),
                scheduled_at: c.scheduled_at,
                form,
                place,
                reason: optional(&c.reason, "reason")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::RecordMeeting(c) => {
            require_coordinator(state, ctx)?;
            // A follow-up kallelse's meeting is recorded as the follow-up (RecordFollowUp names
            // it): as a meeting it would restart every unit's documentation and not count as
            // the plan's follow-up.
            let invitation = active_invitation(state, &c.invitation_id)?;
            if invitation.purpose == InvitationPurpose::FollowUp {
                return Err(DomainError::InvitationForFollowUp);
            }
            if c.held_at > now {
                return Err(DomainError::InFuture("mötet"));
            }
            // The meeting a kallelse calls to cannot have been held before the kallelse went
            // out (a kallelse is never sent for a time already passed): the reports count
            // working days from need to meeting, and meetings within the deadline, by it.
            // Times are entered to the minute: the minute the kallelse went out counts.
            let sent_minute = invitation
                .sent_at
                .duration_trunc(chrono::TimeDelta::minutes(1))
                .unwrap_or(invitation.sent_at);
            if c.held_at < sent_minute {
                return Err(DomainError::MeetingBeforeInvitation);
            }
            let chair = required(&c.chair, "chair")?;
            let secretary = required(&c.secretary, "secretary")?;
            if same_name(&chair, &secretary) && !facts.chair_may_be_secretary {
                return Err(DomainError::ChairIsSecretary);
            }
            let follow_up_on = c.follow_up_on.ok_or(DomainError::FollowUpDateMissing)?;
            if follow_up_on <= local_date(c.held_at) {
                return Err(DomainError::FollowUpDateTooEarly);
            }
            let coordinator = match &c.new_coordinator {
                Some(n) => match new_coordinator(state, facts, today, n) {
                    Err(DomainError::SameCoordinator) => {
                        state.coordinator.clone().unwrap_or_else(|| by.clone())
                    }
                    other => other?,
                },
                None => state.coordinator.clone().unwrap_or_else(|| by.clone()),
            };
            let mut attendees = Vec::new();
            for a in &c.attendees {
                // Staff attend for a unit the person let take part: a unit the consent leaves
                // out is not called, so it cannot have come (an outside review found one
                // recorded as present, and so taking part again).
                if let Some(unit_id) = &a.unit_id {
                    let unit = facts.unit(unit_id)?;
                    if !consent_lets_take_part(state, unit_id) {
                        return Err(DomainError::ActorNotCoveredByConsent(
                            unit_id.clone(),
                            unit.name.clone(),
                        ));
                    }
                }
                attendees.push(Attendee {
                    name: required(&a.name, "attendees.name")?,
                    role: a.role,
                    unit_id: a.unit_id.clone(),
                });
            }
            SipEvent::MeetingHeld {
                invitation_id: c.invitation_id.clone(),
                held_at: c.held_at,
                attendees,
                chair,
                secretary,
                coordinator,
                follow_up_on,
                sip_survey_offered: c.sip_survey_offered,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::DocumentMainGoal(c) => {
            require_meeting(state)?;
            require_coordinator(state, ctx)?;
            SipEvent::MainGoalDocumented {
                text: required(&c.text, "text")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::DocumentSubGoal(c) => {
            require_meeting(state)?;
            require_may_document(state, facts, &by, ctx, &c.responsible)?;
            let sub_goal_id = item_id(&c.sub_goal_id, "sub_goal_id")?;
            let existing = state.sub_goals.get(&sub_goal_id);
            require_not_others_draft(existing, &by)?;
            require_may_change(state, facts, &by, ctx, existing, |g| &g.responsible)?;
            SipEvent::SubGoalDocumented {
                sub_goal_id,
                heading: heading(&c.heading)?,
                text: required(&c.text, "text")?,
                responsible: c.responsible.clone(),
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::DocumentIntervention(c) => {
            require_meeting(state)?;
            require_may_document(state, facts, &by, ctx, &c.responsible)?;
            let intervention_id = item_id(&c.intervention_id, "intervention_id")?;
            let existing = state.interventions.get(&intervention_id);
            require_not_others_draft(existing, &by)?;
            require_may_change(state, facts, &by, ctx, existing, |i| &i.responsible)?;
            // Another unit's unpublished sub-goal is invisible to this unit, so it is unknown.
            let visible = state
                .sub_goals
                .get(&c.sub_goal_id)
                .is_some_and(|g| g.published.is_some() || g.author_unit == by.unit_id);
            if !visible {
                return Err(DomainError::UnknownSubGoal(c.sub_goal_id.clone()));
            }
            let contact = optional(&c.contact, "contact")?;
            if matches!(c.responsible, Responsible::Unit { .. }) && contact.is_none() {
                return Err(DomainError::FieldMissing("contact"));
            }
            if c.to.is_some_and(|to| to < c.from) {
                return Err(DomainError::InvalidPeriod);
            }
            SipEvent::InterventionDocumented {
                intervention_id,
                sub_goal_id: c.sub_goal_id.clone(),
                what: required(&c.what, "what")?,
                responsible: c.responsible.clone(),
                responsible_person: optional(&c.responsible_person, "responsible_person")?,
                performer: optional(&c.performer, "performer")?,
                contact,
                from: c.from,
                to: c.to,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::PublishContribution(_) => {
            // Goals and interventions are documented after the meeting, so before it there is
            // nothing a unit could publish.
            require_meeting(state)?;
            require_participant(state, &by)?;
            let mine = |author: &UnitId, has_draft: bool| has_draft && *author == by.unit_id;
            let main_goal = state
                .main_goal
                .as_ref()
                .is_some_and(|g| mine(&g.author_unit, g.draft.is_some()));
            let sub_goal_ids = state
                .sub_goals
                .iter()
                .filter(|(_, g)| mine(&g.author_unit, g.draft.is_some()))
                .map(|(id, _)| id.clone())
                .collect();
            let intervention_ids = state
                .interventions
                .iter()
                .filter(|(_, i)| mine(&i.author_unit, i.draft.is_some()))
                .map(|(id, _)| id.clone())
                .collect();
            SipEvent::ContributionPublished {
                unit_id: by.unit_id.clone(),
                main_goal,
                sub_goal_ids,
                intervention_ids,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::ScheduleFollowUp(c) => {
            require_meeting(state)?;
            require_coordinator(state, ctx)?;
            if c.follow_up_on < today {
                return Err(DomainError::InPast("uppföljningen"));
            }
            SipEvent::FollowUpScheduled {
                follow_up_on: c.follow_up_on,
                note: optional(&c.note, "note")?,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::RecordFollowUp(c) => record_follow_up(state, c, by, ctx)?,
        SipCommand::ClosePlan(c) => {
            let may = match &state.coordinator {
                Some(_) => is_coordinator(state, ctx),
                // Before anyone coordinates, the unit that noticed the need closes the case,
                // e.g. after consent was declined.
                None => state
                    .need
                    .as_ref()
                    .is_some_and(|n| n.recorded_by.unit_id == by.unit_id),
            };
            if !may {
                return Err(DomainError::NotCoordinator);
            }
            let follow_up_needed = match c.reason {
                CloseReason::GoalsMet => true,
                CloseReason::NoLongerNeeded => state.meeting_held(),
                _ => false,
            };
            if follow_up_needed && !state.followed_up() {
                return Err(DomainError::FollowUpMissing);
            }
            // "Planen avslutas när samtliga parter i samråd med den enskilde bedömer att målen
            // är uppnådda" (`001_981d6886037d185d.txt`): not while the latest judgement of a goal
            // still standing says it was not reached.
            if c.reason == CloseReason::GoalsMet {
                let not_met = goals_judged_not_reached(state);
                if not_met > 0 {
                    return Err(DomainError::GoalsNotMet(not_met));
                }
            }
            if c.replaced_by.is_some() && c.replaced_by == state.sip_id {
                return Err(DomainError::ReplacedBySelf);
            }
            // A meeting still ahead will not be held: it is called off with the plan, so every
            // unit summoned hears of it and whoever was told by letter is owed one again.
            let mut events: Vec<SipEvent> = state
                .invitations
                .values()
                .filter(|i| i.is_active() && i.scheduled_at > now)
                .map(|i| SipEvent::InvitationCancelled {
                    invitation_id: i.invitation_id.clone(),
                    reason: Some("Planen avslutas.".to_string()),
                    recorded_by: by.clone(),
                    recorded_at: now,
                })
                .collect();
            events.push(SipEvent::SipClosed {
                reason: c.reason,
                note: optional(&c.note, "note")?,
                replaced_by: c.replaced_by,
                recorded_by: by,
                recorded_at: now,
            });
            return Ok(events);
        }
        SipCommand::RecordDischarge(c) => {
            require_participant(state, &by)?;
            let Some(need) = state
                .need
                .as_ref()
                .filter(|n| n.context.kind == CareContextKind::Discharge)
            else {
                return Err(DomainError::NotADischarge);
            };
            // The ward that started the plan knows when the patient goes home; a municipality's
            // unit moving it moved everyone's deadlines in silence (an outside review). A ward
            // the consent no longer names hands it to the coordinator's unit, or nobody could
            // move it (a later review).
            let ward = &need.recorded_by.unit_id;
            let registers = if state.shared_with(ward) {
                Some(ward)
            } else {
                state.coordinator.as_ref().map(|c| &c.unit_id)
            };
            if registers != Some(&by.unit_id) {
                let name = registers.map_or_else(
                    || "den samordningsansvariga enheten".to_string(),
                    |u| unit_name(facts, u),
                );
                return Err(DomainError::NotTheDischargingUnit(name));
            }
            SipEvent::DischargeRecorded {
                discharged_at: c.discharged_at,
                recorded_by: by,
                recorded_at: now,
            }
        }
        SipCommand::RecordLettersPosted(c) => {
            // The coordinator sends the invitation, so the coordinator's unit posts its letters.
            if state.basis.is_none() {
                return Err(DomainError::PlanBasisMissing);
            }
            if state.coordinator.as_ref().map(|c| &c.unit_id) != Some(&by.unit_id) {
                return Err(DomainError::NotCoordinator);
            }
            let inv = state
                .invitations
                .get(&c.invitation_id)
                .ok_or_else(|| DomainError::InvitationNotFound(c.invitation_id.clone()))?;
            let owed: Vec<&Recipient> = inv
                .letters_owed()
                .into_iter()
                .map(|(r, _)| &r.recipient)
                .collect();
            let recipients: Vec<Recipient> = match &c.recipients {
                None => owed.into_iter().cloned().collect(),
                Some(named) => {
                    let mut chosen = Vec::new();
                    for r in named {
                        if !inv.letter_recipients().iter().any(|l| l.recipient == *r) {
                            return Err(DomainError::NotALetterRecipient(recipient_label(r)));
                        }
                        // Posting again what was already posted records nothing.
                        if owed.contains(&r) && !chosen.contains(r) {
                            chosen.push(r.clone());
                        }
                    }
                    chosen
                }
            };
            if recipients.is_empty() {
                return Ok(Vec::new());
            }
            SipEvent::LettersPosted {
                invitation_id: c.invitation_id.clone(),
                recipients,
                recorded_by: by,
                recorded_at: now,
            }
        }
    };
    Ok(vec![event])
}

/// A recipient as a person reads it in an error message.
fn recipient_label(r: &Recipient) -> String {
    match r {
        Recipient::Unit { unit_id } => format!("Enheten \u{201d}{unit_id}\u{201d}"),
        Recipient::Person => "Personen".to_string(),
        Recipient::Relative { relative_id } => format!("Närstående \u{201d}{relative_id}\u{201d}"),
    }
}

fn active_invitation<'a>(
    state: &'a SipState,
    invitation_id: &str,
) -> Result<&'a super::state::Invitation, DomainError> {
    let inv = state
        .invitations
        .get(invitation_id)
        .ok_or_else(|| DomainError::InvitationNotFound(invitation_id.to_string()))?;
    if inv.is_active() {
        Ok(inv)
    } else {
        Err(DomainError::InvitationNotActive)
    }
}

/// The coordinator `c` names: someone of a unit that uses samplan and that takes part in the plan
/// or is covered by valid consent today ("berörda parter … bestämmer vem som ska vara samordnare",
/// 003) — never a unit outside both, which would read the plan from then on.
fn new_coordinator(
    state: &SipState,
    facts: &SipFacts,
    today: NaiveDate,
    c: &ChangeCoordinator,
) -> Result<StaffRef, DomainError> {
    let unit = facts.unit(&c.unit_id)?;
    if !unit.uses_samplan {
        return Err(DomainError::CoordinatorUnitWithoutSamplan(
            c.unit_id.clone(),
            unit.name.clone(),
        ));
    }
    // The next coordinator's unit must be one the consent in force covers; while there is none
    // (expired, or a guardian's missing) a unit taking part may still take over, to renew it.
    let covered = match facts
        .person()
        .and_then(|person| consent_cover(state, person, today))
    {
        Ok(cover) => cover.contains(&c.unit_id),
        Err(_) => state.participates(&c.unit_id),
    };
    if !covered {
        return Err(DomainError::CoordinatorNotCoveredByConsent(
            c.unit_id.clone(),
            unit.name.clone(),
        ));
    }
    if state
        .coordinator
        .as_ref()
        .is_some_and(|cur| cur.staff_id == c.staff_id)
    {
        return Err(DomainError::SameCoordinator);
    }
    Ok(StaffRef {
        staff_id: c.staff_id.clone(),
        name: required(&c.name, "name")?,
        unit_id: c.unit_id.clone(),
    })
}

/// Whether the person let `unit` take part: it takes part already, or a consent on record names
/// it, and the consent that speaks now does not leave it out (ADR 0053).
fn consent_lets_take_part(state: &SipState, unit: &UnitId) -> bool {
    let named = state.consents.iter().any(|c| c.actors.contains(unit));
    (state.participates(unit) || named) && !state.left_out_by_consent(unit)
}

/// Works out how a recipient is reached: units using samplan digitally, everyone else by letter.
fn resolve_recipient(
    r: &Recipient,
    cover: &BTreeSet<UnitId>,
    relatives: Option<&BTreeSet<String>>,
    person: &PersonState,
    facts: &SipFacts,
) -> Result<InvitationRecipient, DomainError> {
    Ok(match r {
        Recipient::Unit { unit_id } => {
            let unit = facts.unit(unit_id)?;
            if !cover.contains(unit_id) {
                return Err(DomainError::ActorNotCoveredByConsent(
                    unit_id.clone(),
                    unit.name.clone(),
                ));
            }
            InvitationRecipient {
                recipient: r.clone(),
                delivery: if unit.uses_samplan {
                    Delivery::Digital
                } else {
                    Delivery::Letter
                },
                name: unit.name.clone(),
                address: if unit.uses_samplan {
                    None
                } else {
                    unit.address.clone()
                },
            }
        }
        Recipient::Person => InvitationRecipient {
            recipient: r.clone(),
            delivery: Delivery::Letter,
            name: person.name.clone(),
            address: person.address.clone(),
        },
        Recipient::Relative { relative_id } => {
            let rel = person
                .relative(relative_id)
                .ok_or_else(|| DomainError::UnknownRelative(relative_id.clone()))?;
            // A närstående is invited as far as the consent lets the meeting invite them; a
            // guardian, god man or förvaltare takes part in their own right.
            if rel.kind == RelativeKind::Relative
                && relatives.is_some_and(|allowed| !allowed.contains(relative_id))
            {
                return Err(DomainError::RelativeNotCoveredByConsent(rel.name.clone()));
            }
            InvitationRecipient {
                recipient: r.clone(),
                delivery: Delivery::Letter,
                name: rel.name.clone(),
                address: rel.address.clone(),
            }
        }
    })
}

fn record_follow_up(
    state: &SipState,
    c: &RecordFollowUp,
    by: StaffRef,
    ctx: &Context,
) -> Result<SipEvent, DomainError> {
    require_meeting(state)?;
    require_participant(state, &by)?;
    let coordinator = is_coordinator(state, ctx);
    let follow_up_id = item_id(&c.follow_up_id, "follow_up_id")?;
    if state
        .follow_ups
        .iter()
        .any(|f| f.follow_up_id == follow_up_id)
    {
        return Err(DomainError::IdAlreadyUsed(follow_up_id));
    }
    if c.held_on > ctx.today() {
        return Err(DomainError::InFuture("uppföljningen"));
    }
    // A plan is followed up after the meeting that made it (the reports count the follow-up
    // agreed there as kept by it).
    if state
        .meetings
        .first()
        .is_some_and(|m| c.held_on < crate::time::local_date(m.held_at))
    {
        return Err(DomainError::FollowUpBeforeMeeting);
    }
    // The meeting a follow-up kallelse summoned to is the coordinator's to record.
    if let Some(id) = &c.invitation_id {
        if active_invitation(state, id)?.purpose != InvitationPurpose::FollowUp {
            return Err(DomainError::InvitationNotForFollowUp);
        }
        if !coordinator {
            return Err(DomainError::NotCoordinator);
        }
    }
    if c.next_follow_up_on.is_some_and(|next| next <= c.held_on) {
        return Err(DomainError::FollowUpDateTooEarly);
    }
    let own =
        |r: &Responsible| matches!(r, Responsible::Unit { unit_id } if *unit_id == by.unit_id);
    for i in &c.interventions {
        let item = state
            .interventions
            .get(&i.intervention_id)
            .ok_or_else(|| DomainError::UnknownIntervention(i.intervention_id.clone()))?;
        let responsible = item
            .published
            .as_ref()
            .or(item.draft.as_ref())
            .map(|x| &x.responsible);
        if !coordinator && !responsible.is_some_and(own) {
            return Err(DomainError::NotResponsibleActor);
        }
    }
    for g in &c.goals {
        match &g.sub_goal_id {
            Some(id) => {
                let item = state
                    .sub_goals
                    .get(id)
                    .ok_or_else(|| DomainError::UnknownSubGoal(id.clone()))?;
                let responsible = item
                    .published
                    .as_ref()
                    .or(item.draft.as_ref())
                    .map(|x| &x.responsible);
                if !coordinator && !responsible.is_some_and(own) {
                    return Err(DomainError::NotResponsibleActor);
                }
            }
            // The main goal is the coordinator's to judge (an outside review got a message
            // about sub-goals for it).
            None if !coordinator => return Err(DomainError::NotCoordinator),
            None => {}
        }
    }
    // Only the coordinator follows up the whole plan and agrees the next date.
    if !coordinator
        && ((c.interventions.is_empty() && c.goals.is_empty()) || c.next_follow_up_on.is_some())
    {
        return Err(DomainError::NotCoordinator);
    }
    Ok(SipEvent::FollowUpRecorded {
        follow_up_id,
        held_on: c.held_on,
        invitation_id: c.invitation_id.clone(),
        by_coordinator: coordinator,
        interventions: c.interventions.clone(),
        goals: c.goals.clone(),
        next_follow_up_on: c.next_follow_up_on,
        note: optional(&c.note, "note")?,
        recorded_by: by,
        recorded_at: ctx.now,
    })
}
