//! What arrives in other units' inboxes ("Meddelanden") when something happens to a plan.
//!
//! A pure function of the plan before and after an event: the inbox read model stores what
//! [`messages`] returns, one message per unit the event concerns, never to the unit that did it.
//! Subjects and bodies are Swedish and hold no contact details or personnummer (the read model
//! shows the person's name and birth year beside them, as the unit may see them).

use serde::{Deserialize, Serialize};

use super::event::SipEvent;
use super::history::{close_reason, count, describe, time};
use super::state::{Invitation, SipState};
use super::types::*;
use crate::ids::UnitId;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Kallelse till SIP-möte: appoint a representative.
    Invitation,
    /// Kallelse till uppföljning.
    FollowUpInvitation,
    /// The meeting got a new time or place.
    MeetingRescheduled,
    /// The meeting will not be held.
    InvitationCancelled,
    /// A unit published ("Spara & dela ut") goals and interventions.
    ContributionPublished,
    /// Someone else coordinates the plan now.
    CoordinatorChanged,
    /// The person withdrew their consent; the coordinator is to close the plan.
    ConsentWithdrawn,
    /// The plan was closed.
    PlanClosed,
    /// Another unit registered or removed a guardian of the child: the plan needs the consent
    /// of every guardian registered, so its coordinator hears of it.
    GuardiansChanged,
    /// A newer consent no longer names the unit: the plan is not shared with it any more
    /// (ADR 0053).
    LeftOutByConsent,
    /// A newer consent names the unit again: the plan is shared with it again, with the
    /// kallelser it is called to now (ADR 0053).
    IncludedByConsent,
    /// The ward registered when the patient is discharged, or moved it: the red track's
    /// meeting is due before it, and the municipality plans the homecoming around it.
    DischargeRecorded,
    /// An invited unit named who represents it at the meeting, or named another: the
    /// coordinator, who follows the kallelse in the inbox (seed 002), sees who is coming.
    InvitationAnswered,
}

impl MessageKind {
    /// Every kind, as the API's `type` filter names them.
    pub const ALL: [MessageKind; 13] = [
        MessageKind::Invitation,
        MessageKind::FollowUpInvitation,
        MessageKind::MeetingRescheduled,
        MessageKind::InvitationCancelled,
        MessageKind::ContributionPublished,
        MessageKind::CoordinatorChanged,
        MessageKind::ConsentWithdrawn,
        MessageKind::PlanClosed,
        MessageKind::GuardiansChanged,
        MessageKind::LeftOutByConsent,
        MessageKind::IncludedByConsent,
        MessageKind::DischargeRecorded,
        MessageKind::InvitationAnswered,
    ];

    /// The stable name (`invitation`, `plan_closed`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageKind::Invitation => "invitation",
            MessageKind::FollowUpInvitation => "follow_up_invitation",
            MessageKind::MeetingRescheduled => "meeting_rescheduled",
            MessageKind::InvitationCancelled => "invitation_cancelled",
            MessageKind::ContributionPublished => "contribution_published",
            MessageKind::CoordinatorChanged => "coordinator_changed",
            MessageKind::ConsentWithdrawn => "consent_withdrawn",
            MessageKind::PlanClosed => "plan_closed",
            MessageKind::GuardiansChanged => "guardians_changed",
            MessageKind::LeftOutByConsent => "left_out_by_consent",
            MessageKind::IncludedByConsent => "included_by_consent",
            MessageKind::DischargeRecorded => "discharge_recorded",
            MessageKind::InvitationAnswered => "invitation_answered",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One message for one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The unit whose inbox gets it.
    pub to: UnitId,
    pub kind: MessageKind,
    /// The subject line, in Swedish.
    pub subject: String,
    /// A sentence or two more, in Swedish.
    pub body: String,
    /// The invitation it is about, if any.
    pub invitation_id: Option<String>,
}

fn form_words(form: MeetingForm, place: Option<&str>) -> String {
    let form = match form {
        MeetingForm::InPerson => "på plats",
        MeetingForm::Video => "via video",
        MeetingForm::Phone => "per telefon",
    };
    match place {
        Some(place) => format!("{form}, {place}"),
        None => form.to_string(),
    }
}

fn meeting_word(purpose: InvitationPurpose) -> &'static str {
    match purpose {
        InvitationPurpose::Meeting => "SIP-möte",
        InvitationPurpose::FollowUp => "uppföljning av SIP",
    }
}

/// The meeting in the definite form, as a sentence starts with it: "SIP-mötet" (ett SIP-möte),
/// "Uppföljningen av SIP" (en uppföljning).
fn the_meeting(purpose: InvitationPurpose) -> &'static str {
    match purpose {
        InvitationPurpose::Meeting => "SIP-mötet",
        InvitationPurpose::FollowUp => "Uppföljningen av SIP",
    }
}

/// "Flyttat" or "flyttad", "inställt" or "inställd", as the meeting's gender asks: ett SIP-möte,
/// en uppföljning.
fn agreeing(
    purpose: InvitationPurpose,
    neuter: &'static str,
    common: &'static str,
) -> &'static str {
    match purpose {
        InvitationPurpose::Meeting => neuter,
        InvitationPurpose::FollowUp => common,
    }
}

/// The units summoned by `inv` through their samplan inbox, except `except`.
fn summoned<'a>(inv: &'a Invitation, except: &'a UnitId) -> impl Iterator<Item = &'a UnitId> {
    inv.invited_units()
        .filter(move |(unit, delivery)| *delivery == Delivery::Digital && *unit != except)
        .map(|(unit, _)| unit)
}

/// The units the plan is shared with ([`SipState::shared_with`]) but `except`: a unit the
/// consent left out is told nothing more of the plan, not even that it closed.
fn everyone_but<'a>(state: &'a SipState, except: &'a UnitId) -> impl Iterator<Item = &'a UnitId> {
    state
        .participants
        .iter()
        .filter(move |u| *u != except && state.shared_with(u))
}

/// A guardian of the plan's person registered or removed, on the person's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardianChange<'a> {
    /// Registered under this name.
    Added(&'a str),
    Removed,
}

/// The message a guardian registered or removed by `by` sends about an open plan: to the unit
/// that coordinates it (before anyone does, the unit that noticed the need), unless that unit did
/// it. Who the guardians are decides whose consent a child's plan needs, and who reads it on Min
/// plan (ADR 0050); an outside review had a unit register a stranger, stopping the plan, and the
/// coordinator found out only from a refusal.
pub fn guardian_change_message(
    state: &SipState,
    change: GuardianChange<'_>,
    by: &crate::context::StaffRef,
) -> Option<Message> {
    if state.is_closed() {
        return None;
    }
    let to = match state.coordinator() {
        Some(c) => c.unit_id.clone(),
        None => state.need.as_ref()?.recorded_by.unit_id.clone(),
    };
    if to == by.unit_id {
        return None;
    }
    let (subject, body) = match change {
        GuardianChange::Added(name) => (
            "Vårdnadshavare registrerad".to_string(),
            format!(
                "{} registrerade {name} som vårdnadshavare. Planen behöver samtycke från varje \
                 registrerad vårdnadshavare: kontrollera med den enskilde att uppgiften stämmer.",
                by.name
            ),
        ),
        GuardianChange::Removed => (
            "Vårdnadshavare borttagen".to_string(),
            format!(
                "{} tog bort en vårdnadshavare. Kontrollera att uppgiften stämmer.",
                by.name
            ),
        ),
    };
    Some(Message {
        to,
        kind: MessageKind::GuardiansChanged,
        subject,
        body,
        invitation_id: None,
    })
}

/// The messages `event` sends, given the plan `before` and `after` it. Units that do not use
/// samplan are among the recipients when they take part; the read model, which knows the units,
/// leaves them out.
pub fn messages(before: &SipState, after: &SipState, event: &SipEvent) -> Vec<Message> {
    let (by, _) = event.recorded();
    let from = &by.unit_id;
    let to_all = |units: &mut dyn Iterator<Item = &UnitId>,
                  kind: MessageKind,
                  subject: String,
                  body: String,
                  invitation_id: Option<&String>| {
        units
            .map(|unit| Message {
                to: unit.clone(),
                kind,
                subject: subject.clone(),
                body: body.clone(),
                invitation_id: invitation_id.cloned(),
            })
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    match event {
        SipEvent::InvitationSent { invitation_id, .. } => {
            if let Some(inv) = after.invitations.get(invitation_id) {
                let (kind, ask) = match inv.purpose {
                    InvitationPurpose::Meeting => (
                        MessageKind::Invitation,
                        "Utse er representant och svara på kallelsen.",
                    ),
                    InvitationPurpose::FollowUp => (
                        MessageKind::FollowUpInvitation,
                        "Utse er representant och följ upp era insatser inför mötet.",
                    ),
                };
                let subject = format!(
                    "Kallelse till {} {}",
                    meeting_word(inv.purpose),
                    time(inv.scheduled_at)
                );
                let body = format!(
                    "Ni är kallade till {} {} ({}). Syfte: {} {ask}",
                    meeting_word(inv.purpose),
                    time(inv.scheduled_at),
                    form_words(inv.form, inv.place.as_deref()),
                    sentence(&inv.reason),
                );
                out = to_all(
                    &mut summoned(inv, from),
                    kind,
                    subject,
                    body,
                    Some(invitation_id),
                );
            }
        }
        SipEvent::MeetingRescheduled {
            invitation_id,
            reason,
            ..
        } => {
            if let Some(inv) = after.invitations.get(invitation_id) {
                let moved = before
                    .invitations
                    .get(invitation_id)
                    .is_none_or(|was| was.scheduled_at != inv.scheduled_at);
                // Only the form or the place changed: the time stands, and the message says so.
                let (subject, mut body) = if moved {
                    (
                        format!(
                            "Ny tid för {}: {}",
                            meeting_word(inv.purpose),
                            time(inv.scheduled_at)
                        ),
                        format!(
                            "{} är {} till {} ({}).",
                            the_meeting(inv.purpose),
                            agreeing(inv.purpose, "flyttat", "flyttad"),
                            time(inv.scheduled_at),
                            form_words(inv.form, inv.place.as_deref())
                        ),
                    )
                } else {
                    (
                        format!(
                            "Ny plats eller form för {}: {}",
                            meeting_word(inv.purpose),
                            time(inv.scheduled_at)
                        ),
                        format!(
                            "{} {} hålls som tidigare bestämt, men nu {}.",
                            the_meeting(inv.purpose),
                            time(inv.scheduled_at),
                            form_words(inv.form, inv.place.as_deref())
                        ),
                    )
                };
                if let Some(reason) = reason {
                    body.push_str(&format!(" Anledning: {}", sentence(reason)));
                }
                // A unit a renewed consent left out is called no more: the new time is not its
                // to know (a review found it told, with the person's name). It was told it is
                // not called when the consent left it out, so a cancellation skips it too.
                out = to_all(
                    &mut summoned(inv, from).filter(|u| after.shared_with(u)),
                    MessageKind::MeetingRescheduled,
                    subject,
                    body,
                    Some(invitation_id),
                );
            }
        }
        SipEvent::InvitationCancelled {
            invitation_id,
            reason,
            ..
        } => {
            if let Some(inv) = after.invitations.get(invitation_id) {
                let subject = format!(
                    "{} {} {}",
                    agreeing(inv.purpose, "Inställt", "Inställd"),
                    meeting_word(inv.purpose),
                    time(inv.scheduled_at)
                );
                let mut body = format!(
                    "{} {} blir inte av.",
                    the_meeting(inv.purpose),
                    time(inv.scheduled_at)
                );
                if let Some(reason) = reason {
                    body.push_str(&format!(" Anledning: {}", sentence(reason)));
                }
                out = to_all(
                    &mut summoned(inv, from).filter(|u| after.shared_with(u)),
                    MessageKind::InvitationCancelled,
                    subject,
                    body,
                    Some(invitation_id),
                );
            }
        }
        SipEvent::ContributionPublished {
            unit_id,
            main_goal,
            sub_goal_ids,
            intervention_ids,
            ..
        } if *main_goal || !sub_goal_ids.is_empty() || !intervention_ids.is_empty() => {
            let mut parts = Vec::new();
            if *main_goal {
                parts.push("huvudmålet".to_string());
            }
            if !sub_goal_ids.is_empty() {
                parts.push(count(sub_goal_ids.len(), "delmål", "delmål"));
            }
            if !intervention_ids.is_empty() {
                parts.push(count(intervention_ids.len(), "insats", "insatser"));
            }
            // "Huvudmålet, 2 delmål och 1 insats har delats ut …"; the message names the sender
            // and their unit beside it.
            let what = match parts.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} och {last}", rest.join(", ")),
                None => String::new(),
            };
            out = to_all(
                &mut everyone_but(after, unit_id),
                MessageKind::ContributionPublished,
                "Ny dokumentation utdelad".to_string(),
                format!(
                    "{} har delats ut till alla som deltar i planen.",
                    capitalised(&what)
                ),
                None,
            );
        }
        // A unit taking up a plan another started (the fast vårdkontakt after a discharge):
        // the ward, and whoever takes part, learn who coordinates now.
        SipEvent::PlanBasisCreated { coordinator, .. }
            if before
                .need
                .as_ref()
                .is_some_and(|n| n.recorded_by.unit_id != coordinator.unit_id) =>
        {
            out = to_all(
                &mut everyone_but(after, from),
                MessageKind::CoordinatorChanged,
                format!("Ny samordningsansvarig: {}", coordinator.name),
                format!(
                    "{} har tagit samordningsansvaret för planen och skapat SIP-underlaget.",
                    coordinator.name
                ),
                None,
            );
        }
        SipEvent::CoordinatorChanged { coordinator, .. } => {
            out = to_all(
                &mut everyone_but(after, from),
                MessageKind::CoordinatorChanged,
                format!("Ny samordningsansvarig: {}", coordinator.name),
                describe(event),
                None,
            );
        }
        // The meeting may choose a new coordinator too.
        SipEvent::MeetingHeld { coordinator, .. } => {
            if let Some(previous) = before.coordinator.as_ref().filter(|p| *p != coordinator) {
                out = to_all(
                    &mut everyone_but(after, from),
                    MessageKind::CoordinatorChanged,
                    format!("Ny samordningsansvarig: {}", coordinator.name),
                    format!(
                        "SIP-mötet valde ny samordningsansvarig: {} efterträder {}.",
                        coordinator.name, previous.name
                    ),
                    None,
                );
            }
        }
        SipEvent::RepresentativeAppointed {
            invitation_id,
            unit_id,
            representative,
            ..
        } => {
            let coordinating = after
                .coordinator()
                .map(|c| &c.unit_id)
                .filter(|c| *c != from && after.shared_with(c));
            if let (Some(to), Some(inv)) = (coordinating, after.invitations.get(invitation_id)) {
                let earlier = before
                    .invitations
                    .get(invitation_id)
                    .and_then(|i| i.representatives.get(unit_id));
                let who = match &representative.profession {
                    Some(p) => format!("{} ({p})", representative.name),
                    None => representative.name.clone(),
                };
                let (subject, body) = match earlier {
                    Some(was) => (
                        format!(
                            "Ny representant till {} {}",
                            meeting_word(inv.purpose),
                            time(inv.scheduled_at)
                        ),
                        format!(
                            "{who} företräder enheten vid {} {} i stället för {}.",
                            meeting_word(inv.purpose),
                            time(inv.scheduled_at),
                            was.name
                        ),
                    ),
                    None => (
                        format!("Kallelsen besvarad: {}", time(inv.scheduled_at)),
                        format!(
                            "{who} företräder enheten vid {} {}.",
                            meeting_word(inv.purpose),
                            time(inv.scheduled_at)
                        ),
                    ),
                };
                out.push(Message {
                    to: to.clone(),
                    kind: MessageKind::InvitationAnswered,
                    subject,
                    body,
                    invitation_id: Some(invitation_id.clone()),
                });
            }
        }
        SipEvent::DischargeRecorded { discharged_at, .. } => {
            let (subject, body) = match before.discharged_at {
                Some(was) if was == *discharged_at => (String::new(), String::new()),
                Some(was) => (
                    format!("Ny tid för utskrivning: {}", time(*discharged_at)),
                    format!(
                        "Utskrivningen från slutenvården är flyttad från {} till {}.",
                        time(was),
                        time(*discharged_at)
                    ),
                ),
                None => (
                    format!("Utskrivning: {}", time(*discharged_at)),
                    format!(
                        "Utskrivningen från slutenvården är registrerad till {}.",
                        time(*discharged_at)
                    ),
                ),
            };
            // On the red track the SIP-möte is held before the person goes home: one booked
            // after the discharge is said, so the municipality plans the homecoming now rather
            // than wait for the meeting (an outside review).
            let red = after
                .need
                .as_ref()
                .is_some_and(|n| n.context.track == Some(crate::policy::Track::Red));
            let late_meeting = after
                .invitations
                .values()
                .filter(|i| {
                    i.is_active()
                        && i.purpose == InvitationPurpose::Meeting
                        && i.scheduled_at > *discharged_at
                })
                .map(|i| i.scheduled_at)
                .min();
            let (_, recorded_at) = event.recorded();
            let body = match late_meeting {
                Some(at) if red && !subject.is_empty() && *discharged_at > recorded_at => format!(
                    "{body} SIP-mötet är bokat till {}, efter utskrivningen: planera hemgången \
                     redan nu, och räkna med att mötet flyttas till före utskrivningen.",
                    time(at)
                ),
                Some(at) if red && !subject.is_empty() => format!(
                    "{body} Den enskilde är redan utskriven och SIP-mötet är bokat till {}: \
                     hemgången behöver följas upp så snart det går.",
                    time(at)
                ),
                _ => body,
            };
            if !subject.is_empty() {
                out = to_all(
                    &mut everyone_but(after, from),
                    MessageKind::DischargeRecorded,
                    subject,
                    body,
                    None,
                );
            }
        }
        SipEvent::ConsentWithdrawn { .. } => {
            out = to_all(
                &mut everyone_but(after, from),
                MessageKind::ConsentWithdrawn,
                "Samtycket har återkallats".to_string(),
                "Samtycket till SIP är återkallat. Inga nya insatser planeras; den \
                 samordningsansvarige avslutar planen."
                    .to_string(),
                None,
            );
        }
        SipEvent::SipClosed { reason, .. } => {
            out = to_all(
                &mut everyone_but(after, from),
                MessageKind::PlanClosed,
                "Planen är avslutad".to_string(),
                format!("Planen avslutades: {}.", close_reason(*reason)),
                None,
            );
        }
        _ => {}
    }
    // Whatever the event, a unit the plan was shared with before it and is not after it (a
    // renewed consent that no longer names it) hears so once; from then on, nothing.
    out.extend(
        before
            .participants
            .iter()
            .filter(|u| *u != from && before.shared_with(u) && !after.shared_with(u))
            .map(|unit| Message {
                to: unit.clone(),
                kind: MessageKind::LeftOutByConsent,
                subject: "Samtycket omfattar inte längre er enhet".to_string(),
                body: "Det nya samtycket till planen omfattar inte er enhet. Planen delas inte \
                       längre med er: ni kallas inte till dess möten, skriver inte i den och \
                       får inga fler meddelanden om den. Det ni redan delat ut står kvar i \
                       planen."
                    .to_string(),
                invitation_id: None,
            }),
    );
    // A unit named again hears so, and the meetings it is called to as they stand now: what
    // moved while it was left out was not told to it (an outside review).
    for unit in before
        .participants
        .iter()
        .filter(|u| *u != from && !before.shared_with(u) && after.shared_with(u))
    {
        let mut body = "Ett nytt samtycke omfattar er enhet igen, och planen delas med er på \
                        nytt. Läs planen: det som hänt medan ni inte var med står där."
            .to_string();
        for inv in after
            .invitations
            .values()
            .filter(|i| i.is_active() && summoned(i, from).any(|u| u == unit))
        {
            body.push_str(&format!(
                " Ni är kallade till {} {} ({}).",
                meeting_word(inv.purpose),
                time(inv.scheduled_at),
                form_words(inv.form, inv.place.as_deref())
            ));
        }
        out.push(Message {
            to: unit.clone(),
            kind: MessageKind::IncludedByConsent,
            subject: "Samtycket omfattar er enhet igen".to_string(),
            body,
            invitation_id: None,
        });
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` as a sentence: with a full stop unless it ends a sentence already, so that the next
/// sentence of a message does not run on from a reason staff typed without one.
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?', '…']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}
