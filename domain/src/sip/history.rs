//! A plan's history in Swedish words, as auditors and the plan's participants read it: for every
//! event, what happened, in a sentence (who did it and when travel beside it, from the event's
//! `recorded_by` and `recorded_at`). Words only: no contact details and no personnummer, so the
//! history may be shown wherever the plan may.

use chrono::{DateTime, NaiveDate, Utc};

use super::event::SipEvent;
use super::types::*;

/// What `event` did, in a Swedish sentence, as a participant of `unit` may read it: another
/// unit's draft is only said to exist, since what it is about — a heading such as "Psykisk hälsa"
/// or "Alkohol, narkotika och spel", a date — is part of the draft, which is its author's alone
/// until published (DESIGN). Auditors read [`describe`].
pub fn describe_for(event: &SipEvent, unit: &crate::ids::UnitId) -> String {
    let (by, _) = event.recorded();
    match event {
        SipEvent::SubGoalDocumented { .. } if by.unit_id != *unit => {
            "Delmål dokumenterat (utkast).".to_string()
        }
        SipEvent::InterventionDocumented { .. } if by.unit_id != *unit => {
            "Insats dokumenterad (utkast).".to_string()
        }
        _ => describe(event),
    }
}

/// What `event` did, in a Swedish sentence.
pub fn describe(event: &SipEvent) -> String {
    use SipEvent::*;
    match event {
        NeedIdentified {
            identified_by,
            context,
            ..
        } => {
            let by = match identified_by {
                IdentifiedBy::Staff => "personal",
                IdentifiedBy::Person => "den enskilde",
                IdentifiedBy::Relative => "en närstående",
            };
            let context = match context.kind {
                CareContextKind::Outpatient => "öppenvård".to_string(),
                CareContextKind::Discharge => match context.track {
                    Some(track) => {
                        format!("utskrivning från slutenvård, {} spår", track_word(track))
                    }
                    None => "utskrivning från slutenvård".to_string(),
                },
            };
            format!("Behov av SIP uppmärksammat av {by} ({context}).")
        }
        ConsentGiven {
            given_by,
            actors,
            valid_until,
            ..
        } => format!(
            "Samtycke givet av {} för {} aktör{}, giltigt till och med {}.",
            giver(given_by),
            actors.len(),
            if actors.len() == 1 { "" } else { "er" },
            date(*valid_until)
        ),
        ConsentDeclined { declined_by, .. } => {
            format!(
                "Samtycke nekat av {}. Ingen SIP kan hållas.",
                giver(declined_by)
            )
        }
        ConsentWithdrawn { withdrawn_by, .. } => format!(
            "Samtycket återkallat av {}. Planen ska avslutas.",
            giver(withdrawn_by)
        ),
        PlanBasisCreated { coordinator, .. } => format!(
            "SIP-underlag skapat; {} är samordningsansvarig.",
            coordinator.name
        ),
        CoordinatorChanged {
            previous,
            coordinator,
            ..
        } => format!(
            "Samordningsansvarig bytt från {} till {}.",
            previous.name, coordinator.name
        ),
        MappingDocumented { heading, .. } => {
            format!("Kartläggning dokumenterad under ”{}”.", heading.label())
        }
        InvitationSent {
            purpose,
            scheduled_at,
            recipients,
            ..
        } => {
            let letters = recipients
                .iter()
                .filter(|r| r.delivery == Delivery::Letter)
                .count();
            let what = match purpose {
                InvitationPurpose::Meeting => "SIP-möte",
                InvitationPurpose::FollowUp => "uppföljning",
            };
            let mut s = format!(
                "Kallelse till {what} {} skickad till {} mottagare",
                time(*scheduled_at),
                recipients.len()
            );
            if letters > 0 {
                s.push_str(&format!(" ({letters} med brev)"));
            }
            s.push('.');
            s
        }
        // Only that a draft exists, never what it says or whom it would summon.
        InvitationDraftSaved { .. } => "Kallelse sparad som utkast (inte skickad).".to_string(),
        RepresentativeAppointed { representative, .. } => format!(
            "Kallelsen besvarad: {} utsedd som representant.",
            representative.name
        ),
        InvitationCancelled { .. } => "Kallelsen ställd in.".to_string(),
        MeetingRescheduled { scheduled_at, .. } => {
            format!("Mötet flyttat till {}.", time(*scheduled_at))
        }
        MeetingHeld {
            held_at,
            attendees,
            follow_up_on,
            ..
        } => format!(
            "SIP-möte hållet {} med {} deltagare; uppföljning {}.",
            time(*held_at),
            attendees.len(),
            date(*follow_up_on)
        ),
        MainGoalDocumented { .. } => "Huvudmål dokumenterat (utkast).".to_string(),
        SubGoalDocumented { heading, .. } => {
            format!("Delmål dokumenterat under ”{}” (utkast).", heading.label())
        }
        InterventionDocumented { from, .. } => {
            format!("Insats dokumenterad från {} (utkast).", date(*from))
        }
        ContributionPublished {
            main_goal,
            sub_goal_ids,
            intervention_ids,
            ..
        } => {
            let mut parts = Vec::new();
            if *main_goal {
                parts.push("huvudmål".to_string());
            }
            if !sub_goal_ids.is_empty() {
                parts.push(count(sub_goal_ids.len(), "delmål", "delmål"));
            }
            if !intervention_ids.is_empty() {
                parts.push(count(intervention_ids.len(), "insats", "insatser"));
            }
            if parts.is_empty() {
                "Inga nya delmål eller insatser att dela ut.".to_string()
            } else {
                format!("Sparat och delat ut: {}.", parts.join(", "))
            }
        }
        FollowUpScheduled { follow_up_on, .. } => {
            format!("Uppföljning planerad {}.", date(*follow_up_on))
        }
        FollowUpRecorded {
            held_on,
            by_coordinator,
            next_follow_up_on,
            ..
        } => {
            let mut s = if *by_coordinator {
                format!("Uppföljning av planen genomförd {}", date(*held_on))
            } else {
                format!("Uppföljning av egna insatser genomförd {}", date(*held_on))
            };
            if let Some(next) = next_follow_up_on {
                s.push_str(&format!("; nästa {}", date(*next)));
            }
            s.push('.');
            s
        }
        SipClosed { reason, .. } => format!("Planen avslutad: {}.", close_reason(*reason)),
        DischargeRecorded { discharged_at, .. } => {
            format!("Utskrivning registrerad {}.", time(*discharged_at))
        }
        LettersPosted { recipients, .. } => match recipients.len() {
            1 => "Ett brev skickat per post.".to_string(),
            n => format!("{n} brev skickade per post."),
        },
    }
}

/// Why a plan was closed, in Swedish.
pub fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::GoalsMet => "målen är uppnådda",
        CloseReason::NoLongerNeeded => "behovet finns inte längre",
        CloseReason::ConsentWithdrawn => "samtycket är återkallat",
        CloseReason::ConsentDeclined => "samtycke nekades",
        CloseReason::ProtectedIdentity => "skyddade personuppgifter",
        CloseReason::MovedOutOfRegion => "den enskilde har flyttat från länet",
        CloseReason::Deceased => "den enskilde har avlidit",
        CloseReason::ReplacedByNewPlan => "ersatt av en ny plan",
    }
}

fn giver(giver: &ConsentGiver) -> &'static str {
    match giver {
        ConsentGiver::Person => "den enskilde",
        ConsentGiver::Guardian { .. } => "vårdnadshavare",
        ConsentGiver::Representative { .. } => "företrädare",
    }
}

fn track_word(track: crate::policy::Track) -> &'static str {
    match track {
        crate::policy::Track::Green => "grönt",
        crate::policy::Track::Yellow => "gult",
        crate::policy::Track::Red => "rött",
    }
}

pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A date in words, `10 mars 2026`.
pub(crate) fn date(d: NaiveDate) -> String {
    crate::time::written_date(d)
}

/// Swedish local time in words, `tisdag 10 mars 2026 kl. 09.00`.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    crate::time::written_moment(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::StaffRef;
    use crate::ids::{StaffId, UnitId};
    use chrono::TimeZone;

    fn staff(name: &str) -> StaffRef {
        StaffRef {
            staff_id: StaffId::parse("SE2321000016-A1B2").expect("staff id"),
            name: name.into(),
            unit_id: UnitId::parse("vc-test").expect("unit"),
        }
    }

    #[test]
    fn events_read_as_swedish_sentences_in_local_time() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 10, 8, 0, 0)
            .single()
            .expect("time");
        let closed = SipEvent::SipClosed {
            reason: CloseReason::GoalsMet,
            note: None,
            replaced_by: None,
            recorded_by: staff("Vera"),
            recorded_at: at,
        };
        assert_eq!(describe(&closed), "Planen avslutad: målen är uppnådda.");
        let changed = SipEvent::CoordinatorChanged {
            previous: staff("Vera"),
            coordinator: staff("Hugo"),
            reason: None,
            recorded_by: staff("Vera"),
            recorded_at: at,
        };
        assert_eq!(
            describe(&changed),
            "Samordningsansvarig bytt från Vera till Hugo."
        );
        let moved = SipEvent::MeetingRescheduled {
            invitation_id: "k".into(),
            scheduled_at: at,
            form: MeetingForm::Video,
            place: None,
            reason: None,
            recorded_by: staff("Vera"),
            recorded_at: at,
        };
        // 08:00 UTC is 09:00 in Stockholm in March.
        assert_eq!(
            describe(&moved),
            "Mötet flyttat till tisdag 10 mars 2026 kl. 09.00."
        );
    }
}
