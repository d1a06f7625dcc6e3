//! What is owed on a plan, by whom and by when: the "Att göra" list (DESIGN.md, "Read models").
//!
//! A pure function of the plan's state and the region's policy profile; the to-do read model only
//! stores what this returns after each event, so a to-do disappears exactly when the event that
//! settles it arrives. Facts about the person (protected identity, death, moving out) come in
//! through [`SipState::observe_person`].

use chrono::{DateTime, Datelike, Days, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::add_working_days;
use crate::context::StaffRef;
use crate::ids::{SipId, StaffId, UnitId};
use crate::policy::{PolicyProfile, Track};
use crate::sip::{
    CareContextKind, ConsentEnd, Delivery, InvitationPurpose, LetterKind, MeetingForm, Recipient,
    Responsible, SipState,
};
use crate::time::{end_of_local_day, local_date, start_of_local_day, weekday_name, written_date};

/// What kind of to-do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObligationKind {
    /// Inhämta samtycke.
    GetConsent,
    /// Consent declined: document it in the journal, inform the municipality, close the case.
    DocumentDeclinedConsent,
    /// Skapa SIP-underlag.
    CreatePlanBasis,
    /// Skicka kallelse.
    SendInvitation,
    /// An invited unit appoints its representative.
    AppointRepresentative,
    /// Genomför och registrera mötet.
    RecordMeeting,
    /// Dokumentera huvudmål.
    DocumentMainGoal,
    /// Each participating unit documents and publishes its sub-goals and interventions.
    DocumentContribution,
    /// The coordinator documents for an actor without samplan.
    DocumentForExternalActor,
    /// Boka uppföljning (or close the plan).
    ScheduleFollowUp,
    /// Genomför uppföljningen.
    HoldFollowUp,
    /// Avsluta planen (consent withdrawn, protected identity, moved, deceased).
    ClosePlan,
    /// Förnya samtycket before it runs out, or ask a child about to turn 18 for their own.
    RenewConsent,
    /// Print and post a letter about an invitation to a recipient without samplan: the person,
    /// a relative, or a unit that does not use samplan.
    SendLetter,
}

/// Who owes it: a whole unit or one staff member at a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObligationOwner {
    Unit(UnitId),
    User { unit: UnitId, staff_id: StaffId },
}

impl ObligationOwner {
    /// The unit whose to-do list shows it.
    pub fn unit(&self) -> &UnitId {
        match self {
            ObligationOwner::Unit(u) => u,
            ObligationOwner::User { unit, .. } => unit,
        }
    }

    fn user(s: &StaffRef) -> ObligationOwner {
        ObligationOwner::User {
            unit: s.unit_id.clone(),
            staff_id: s.staff_id.clone(),
        }
    }
}

/// One to-do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    pub sip_id: SipId,
    pub kind: ObligationKind,
    pub owner: ObligationOwner,
    /// The name of the staff member who owes it (for an owner that is one), as the plan
    /// recorded them, so that colleagues see whose it is.
    pub owner_name: Option<String>,
    /// `None` when the guidance sets no deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// Not shown before this instant (a reminder well ahead of its deadline); `None`: at once.
    /// Lists compare it with their clock when read, as they do `due_at` for urgency.
    pub shown_from: Option<DateTime<Utc>>,
    /// What to do, in Swedish.
    pub title: String,
    /// What it is about when a plan can owe several of a kind (an invitation id, a unit id).
    pub reference: Option<String>,
    /// For [`ObligationKind::SendLetter`]: the letter to print.
    pub letter: Option<Letter>,
}

/// A letter to print and post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    pub invitation_id: String,
    pub kind: LetterKind,
    pub recipient: Recipient,
    /// The name and address to print, as captured when the invitation was sent.
    pub name: String,
    pub address: Option<String>,
    /// The meeting the letter is about.
    pub purpose: InvitationPurpose,
    pub scheduled_at: DateTime<Utc>,
    pub form: MeetingForm,
    pub place: Option<String>,
}

/// A stable key for a recipient, for references: `person`, `relative:<id>`, `unit:<id>`.
pub fn recipient_key(r: &Recipient) -> String {
    match r {
        Recipient::Person => "person".to_string(),
        Recipient::Relative { relative_id } => format!("relative:{relative_id}"),
        Recipient::Unit { unit_id } => format!("unit:{unit_id}"),
    }
}

/// Everything owed on the plan now, in a fixed order (lifecycle order, then by unit/id).
pub fn obligations(state: &SipState, policy: &PolicyProfile) -> Vec<Obligation> {
    let mut out = owed(state, policy);
    for o in &mut out {
        if let ObligationOwner::User { staff_id, .. } = &o.owner {
            o.owner_name = state
                .coordinator
                .iter()
                .chain(state.need.as_ref().map(|n| &n.recorded_by))
                .find(|s| s.staff_id == *staff_id)
                .map(|s| s.name.clone());
        }
    }
    out
}

fn owed(state: &SipState, policy: &PolicyProfile) -> Vec<Obligation> {
    let (Some(sip_id), Some(need)) = (state.sip_id, state.need.as_ref()) else {
        return Vec::new();
    };
    if let Some(closure) = &state.closed {
        // Closed, nothing is owed but the letters telling of a meeting called off with it.
        return cancellation_letters(state, sip_id, ObligationOwner::user(&closure.recorded_by))
            .collect();
    }
    let mut out = Vec::new();
    let mut push = |kind, owner, due_at, title: String, reference: Option<String>| {
        out.push(Obligation {
            sip_id,
            kind,
            owner,
            owner_name: None,
            due_at,
            shown_from: None,
            title,
            reference,
            letter: None,
        })
    };
    let responsible = state.responsible_staff().unwrap_or(&need.recorded_by);
    let renewal = consent_renewal(state, sip_id, responsible, policy);

    // Reasons the plan must end come first and replace everything else: nothing more should be
    // planned for the person, but closing is never automatic.
    let close_reasons = close_reasons(state);
    if !close_reasons.is_empty() {
        push(
            ObligationKind::ClosePlan,
            ObligationOwner::user(responsible),
            None,
            format!("Avsluta planen: {}", close_reasons.join(", ")),
            None,
        );
        // A meeting called off meanwhile is still told by letter to whoever had one.
        out.extend(cancellation_letters(
            state,
            sip_id,
            ObligationOwner::user(responsible),
        ));
        return out;
    }

    let invitation_due = policy.invitation_due(
        need.known_since,
        need.context.track,
        need.context.discharge_ready_at,
        state.discharged_at,
    );
    if state.consent_declined.is_some() && !state.consent_complete() {
        push(
            ObligationKind::DocumentDeclinedConsent,
            ObligationOwner::user(&need.recorded_by),
            None,
            declined_consent_title(need.context.kind),
            None,
        );
        return out;
    }
    if !state.consent_complete() {
        push(
            ObligationKind::GetConsent,
            ObligationOwner::user(responsible),
            Some(invitation_due),
            "Inhämta samtycke till SIP".to_string(),
            None,
        );
        return out;
    }
    let Some(coordinator) = state.coordinator.as_ref().filter(|_| state.basis.is_some()) else {
        push(
            ObligationKind::CreatePlanBasis,
            ObligationOwner::user(responsible),
            Some(invitation_due),
            "Skapa SIP-underlag".to_string(),
            None,
        );
        out.extend(renewal);
        return out;
    };

    match state.last_meeting() {
        None => {
            let active: Vec<_> = state
                .invitations
                .values()
                .filter(|i| i.is_active() && i.purpose == InvitationPurpose::Meeting)
                .collect();
            if active.is_empty() {
                push(
                    ObligationKind::SendInvitation,
                    ObligationOwner::user(coordinator),
                    Some(invitation_due),
                    "Skicka kallelse till SIP-möte".to_string(),
                    None,
                );
            }
            let policy_due = policy.meeting_due(
                need.known_since,
                need.context.track,
                need.context.discharge_ready_at,
                state.discharged_at,
            );
            let meeting_due = policy_due.or_else(|| {
                active
                    .iter()
                    .map(|i| end_of_local_day(crate::time::local_date(i.scheduled_at)))
                    .min()
            });
            // On the red track a discharge recorded at or before the meeting booked (planned
            // home earlier than thought) leaves the meeting after going home: the to-do says to
            // move it, as a kallelse to that time would be refused now (001: "SIP- möte hållas
            // innan hemgång").
            let after_home = need.context.track == Some(Track::Red)
                && state
                    .discharged_at
                    .is_some_and(|home| active.iter().any(|i| i.scheduled_at >= home));
            if !active.is_empty() || policy_due.is_some() {
                push(
                    ObligationKind::RecordMeeting,
                    ObligationOwner::user(coordinator),
                    meeting_due,
                    match (after_home, state.discharged_at) {
                        (true, Some(home)) => format!(
                            "SIP-mötet är bokat efter utskrivningen {}: flytta det till före \
                             hemgången, eller håll det så snart det går om den enskilde redan \
                             har gått hem, och registrera deltagarna",
                            crate::time::written_moment(home)
                        ),
                        _ => "Genomför SIP-mötet och registrera deltagarna".to_string(),
                    },
                    None,
                );
            }
        }
        Some(meeting) => {
            let due = policy.documentation_due(meeting.held_at);
            let main_goal_published = state
                .main_goal
                .as_ref()
                .is_some_and(|g| g.published.is_some());
            if !main_goal_published {
                push(
                    ObligationKind::DocumentMainGoal,
                    ObligationOwner::user(coordinator),
                    Some(due),
                    "Dokumentera huvudmålet och dela ut det".to_string(),
                    None,
                );
            }
            // Every actor at the meeting that uses samplan documents its part — the unit that
            // called it and the one coordinating now among them, so a coordinator handed on to
            // another unit at or after the meeting still leaves its own unit's part owed; the
            // coordinator documents for the actors that do not use samplan.
            let mut digital = std::collections::BTreeSet::new();
            let mut external = std::collections::BTreeMap::new();
            digital.insert(coordinator.unit_id.clone());
            digital.insert(meeting.coordinator.unit_id.clone());
            if let Some(inv) = state.invitations.get(&meeting.invitation_id) {
                digital.insert(inv.sent_by.unit_id.clone());
                for r in &inv.recipients {
                    if let crate::sip::Recipient::Unit { unit_id } = &r.recipient {
                        match r.delivery {
                            Delivery::Digital => {
                                digital.insert(unit_id.clone());
                            }
                            Delivery::Letter => {
                                external.insert(unit_id.clone(), r.name.clone());
                            }
                        }
                    }
                }
            }
            // A unit the newest consent leaves out shares nothing more, so is owed nothing.
            digital.retain(|unit| !state.left_out_by_consent(unit));
            external.retain(|unit, _| !state.left_out_by_consent(unit));
            for unit in digital {
                let published = state
                    .publications
                    .iter()
                    .any(|p| p.unit_id == unit && p.recorded_at >= meeting.held_at);
                if !published {
                    push(
                        ObligationKind::DocumentContribution,
                        ObligationOwner::Unit(unit.clone()),
                        Some(due),
                        format!(
                            "Dokumentera och dela ut era delmål och insatser (inom {} dagar efter mötet)",
                            policy.documentation_days_after_meeting
                        ),
                        None,
                    );
                } else if let Some(goal_published) = goal_without_intervention(state, &unit) {
                    // Published, but a sub-goal of theirs has no intervention: say what is
                    // missing, due as many days after that goal was published as after the
                    // meeting — a goal added weeks later is not overdue the moment it is shared.
                    push(
                        ObligationKind::DocumentContribution,
                        ObligationOwner::Unit(unit.clone()),
                        Some(due.max(policy.documentation_due(goal_published))),
                        format!(
                            "Ett delmål ni ansvarar för saknar insats: dokumentera och dela ut insatsen (inom {} dagar)",
                            policy.documentation_days_after_meeting
                        ),
                        None,
                    );
                }
            }
            for (unit, name) in external {
                let documented = state.sub_goals.values().any(|g| {
                    g.published.as_ref().is_some_and(
                        |p| matches!(&p.responsible, Responsible::Unit { unit_id } if *unit_id == unit),
                    )
                });
                let lacking = goal_without_intervention(state, &unit);
                if !documented || lacking.is_some() {
                    let (title, due) = match lacking.filter(|_| documented) {
                        Some(goal_published) => (
                            format!(
                                "Ett delmål för {name} saknar insats: dokumentera insatsen (använder inte samplan)"
                            ),
                            due.max(policy.documentation_due(goal_published)),
                        ),
                        None => (
                            format!(
                                "Dokumentera delmål och insatser för {name} (använder inte samplan)"
                            ),
                            due,
                        ),
                    };
                    push(
                        ObligationKind::DocumentForExternalActor,
                        ObligationOwner::user(coordinator),
                        Some(due),
                        title,
                        Some(unit.to_string()),
                    );
                }
            }
            match state.next_follow_up_on {
                Some(date) => push(
                    ObligationKind::HoldFollowUp,
                    ObligationOwner::user(coordinator),
                    Some(end_of_local_day(date)),
                    format!(
                        "Genomför uppföljningen av planen ({} {})",
                        weekday_name(date.weekday()),
                        written_date(date)
                    ),
                    None,
                ),
                None => push(
                    ObligationKind::ScheduleFollowUp,
                    ObligationOwner::user(coordinator),
                    None,
                    "Boka nästa uppföljning eller avsluta planen".to_string(),
                    None,
                ),
            }
        }
    }
    // Every unit summoned digitally appoints its representative, to a SIP-möte or to a
    // follow-up, which is called "precis som vid en kallelse till SIP" (002).
    for inv in state.invitations.values().filter(|i| i.is_active()) {
        let to = match inv.purpose {
            InvitationPurpose::Meeting => "SIP-mötet",
            InvitationPurpose::FollowUp => "uppföljningen",
        };
        for (unit, delivery) in inv.invited_units() {
            if delivery == Delivery::Digital
                && !inv.representatives.contains_key(unit)
                && !state.left_out_by_consent(unit)
            {
                push(
                    ObligationKind::AppointRepresentative,
                    ObligationOwner::Unit(unit.clone()),
                    Some(inv.scheduled_at),
                    format!("Utse representant till {to}"),
                    Some(inv.invitation_id.clone()),
                );
            }
        }
    }
    out.extend(renewal);
    out.extend(letters(state, sip_id, ObligationOwner::user(coordinator)));
    out
}

/// Consent runs out ("Samtycket är tidsbegränsat", `003_b47277a6b8e59a80.txt`), and a child's
/// guardians stop consenting for them at 18: the one responsible for the plan is reminded
/// `consent_renewal_notice_days` before, and the to-do stays, overdue, until consent that holds
/// is recorded. Its reference is the last day the consent holds, so consent recorded anew ends
/// it and opens the next one.
fn consent_renewal(
    state: &SipState,
    sip_id: SipId,
    responsible: &StaffRef,
    policy: &PolicyProfile,
) -> Option<Obligation> {
    let (last_day, title) = match state.consent_ends()? {
        ConsentEnd::Expires(last_day) => (
            last_day,
            format!(
                "Förnya samtycket till SIP: det gäller till och med {}",
                written_date(last_day)
            ),
        ),
        ConsentEnd::ComesOfAge(adult_on) => (
            adult_on.pred_opt().unwrap_or(adult_on),
            format!(
                "Inhämta personens eget samtycke till SIP: vårdnadshavarnas gäller inte från \
                 18-årsdagen {}",
                written_date(adult_on)
            ),
        ),
    };
    let notice = last_day
        .checked_sub_days(Days::new(u64::from(policy.consent_renewal_notice_days)))
        .unwrap_or(last_day);
    Some(Obligation {
        sip_id,
        kind: ObligationKind::RenewConsent,
        owner: ObligationOwner::user(responsible),
        owner_name: None,
        due_at: Some(end_of_local_day(last_day)),
        shown_from: Some(start_of_local_day(notice)),
        title,
        reference: Some(last_day.to_string()),
        letter: None,
    })
}

/// Whether a published delmål that `unit` is responsible for has no published insats: "En SIP
/// ska innehålla: huvudmål, delmål, insats för varje delmål" (seed 001), so documenting the
/// unit's part is not done before each of its delmål has one.
/// When the latest of `unit`'s published sub-goals without a published intervention was
/// published; `None` when every one of them has an intervention.
fn goal_without_intervention(state: &SipState, unit: &UnitId) -> Option<DateTime<Utc>> {
    state
        .sub_goals
        .iter()
        .filter(|(id, g)| {
            g.published.as_ref().is_some_and(
                |p| matches!(&p.responsible, Responsible::Unit { unit_id } if unit_id == unit),
            ) && !state
                .interventions
                .values()
                .any(|i| i.published.as_ref().is_some_and(|p| p.sub_goal_id == **id))
        })
        .map(|(_, g)| g.published_at.unwrap_or(DateTime::<Utc>::MIN_UTC))
        .max()
}

/// Why an open plan must be closed, in Swedish, in a fixed order: consent withdrawn, protected
/// identity, moved out of the county, deceased ("Om samtycket tas tillbaka …, om den enskilde får
/// skyddade uppgifter, flyttar från länet eller avlider ska SIP avslutas", seed 000). Empty for a
/// plan that may go on, or one already closed.
pub fn close_reasons(state: &SipState) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if state.is_closed() {
        return reasons;
    }
    if state.consent_withdrawn.is_some() {
        reasons.push("samtycket har återkallats");
    }
    if state.person_status.protected_identity {
        reasons.push("personen har skyddade personuppgifter");
    }
    if state.person_status.moved_out.is_some() {
        reasons.push("personen har flyttat från länet");
    }
    if state.person_status.deceased.is_some() {
        reasons.push("personen har avlidit");
    }
    reasons
}

/// What the unit that noticed the need does when consent is declined. At discharge the
/// municipality waiting to take over is told ("information lämnas till kommunen",
/// `001_981d6886037d185d.txt`); otherwise the refusal is documented where the need was noticed
/// ("dokumenteras hos den som uppmärksammade behovet", `003_b47277a6b8e59a80.txt`).
fn declined_consent_title(kind: CareContextKind) -> String {
    match kind {
        CareContextKind::Discharge => {
            "Samtycke nekat: dokumentera i journalen, informera kommunen och avsluta ärendet"
        }
        CareContextKind::Outpatient => {
            "Samtycke nekat: dokumentera i journalen och avsluta ärendet"
        }
    }
    .to_string()
}

/// Of [`letters`], those telling that a meeting is called off: all a plan closed, or to be
/// closed, still owes.
fn cancellation_letters(
    state: &SipState,
    sip_id: SipId,
    owner: ObligationOwner,
) -> impl Iterator<Item = Obligation> + '_ {
    letters(state, sip_id, owner).filter(|o| {
        o.letter
            .as_ref()
            .is_some_and(|l| l.kind == LetterKind::Cancellation)
    })
}

/// The letters the coordinator still has to print and post: by the end of the next working day
/// after the invitation was sent, moved or cancelled, and before the meeting.
fn letters(
    state: &SipState,
    sip_id: SipId,
    owner: ObligationOwner,
) -> impl Iterator<Item = Obligation> + '_ {
    state.invitations.values().flat_map(move |inv| {
        let changed_at = match (&inv.cancelled, inv.rescheduled_at) {
            (Some(c), _) => c.recorded_at,
            (None, Some(at)) => at,
            (None, None) => inv.sent_at,
        };
        let next_working_day = end_of_local_day(add_working_days(local_date(changed_at), 1));
        let owner = owner.clone();
        inv.letters_owed().into_iter().map(move |(r, kind)| {
            let due = match kind {
                LetterKind::Cancellation => next_working_day,
                _ => next_working_day.min(inv.scheduled_at),
            };
            // Ett SIP-möte är inställt, en uppföljning inställd.
            let (what, cancelled) = match inv.purpose {
                InvitationPurpose::Meeting => ("SIP-mötet", "inställt"),
                InvitationPurpose::FollowUp => ("uppföljningen", "inställd"),
            };
            let title = match kind {
                LetterKind::Invitation => {
                    format!(
                        "Skriv ut och skicka kallelsen till {what} per brev till {}",
                        r.name
                    )
                }
                LetterKind::NewTime => {
                    format!("Skicka den nya tiden för {what} per brev till {}", r.name)
                }
                LetterKind::Cancellation => {
                    format!("Meddela {} per brev att {what} är {cancelled}", r.name)
                }
            };
            Obligation {
                sip_id,
                kind: ObligationKind::SendLetter,
                owner: owner.clone(),
                owner_name: None,
                due_at: Some(due),
                shown_from: None,
                title,
                reference: Some(format!(
                    "{}/{}",
                    inv.invitation_id,
                    recipient_key(&r.recipient)
                )),
                letter: Some(Letter {
                    invitation_id: inv.invitation_id.clone(),
                    kind,
                    recipient: r.recipient.clone(),
                    name: r.name.clone(),
                    address: r.address.clone(),
                    purpose: inv.purpose,
                    scheduled_at: inv.scheduled_at,
                    form: inv.form,
                    place: inv.place.clone(),
                }),
            }
        })
    })
}
