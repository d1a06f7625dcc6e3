//! What the read side derives from a plan, pure: letters to post, messages to other units, the
//! plan as the person reads it, the facts reporting counts, and when a to-do is urgent.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::obligations::{obligations, ObligationKind, ObligationOwner};
use domain::policy::{PolicyName, PolicyProfile};
use domain::reporting::plan_facts;
use domain::sip::messages::{messages, MessageKind};
use domain::sip::patient::{patient_plan, PatientPlanStatus};
use domain::sip::*;
use domain::DomainError;

use crate::support::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

fn stockholm() -> PolicyProfile {
    PolicyProfile::get(PolicyName::Stockholm)
}

fn letters(state: &SipState) -> Vec<(String, Option<DateTime<Utc>>, String)> {
    obligations(state, &stockholm())
        .into_iter()
        .filter(|o| o.kind == ObligationKind::SendLetter)
        .map(|o| (o.reference.unwrap_or_default(), o.due_at, o.title))
        .collect()
}

fn post(recipients: Option<Vec<Recipient>>) -> SipCommand {
    SipCommand::RecordLettersPosted(RecordLettersPosted {
        invitation_id: "inv-1".to_string(),
        recipients,
    })
}

#[test]
fn every_letter_recipient_is_a_to_do_until_the_letter_is_posted() {
    let story = Story::invited();
    // Sent Monday 2 March 11:00 UTC: the letters are due by the end of Tuesday (Swedish time),
    // which is before the meeting on Thursday.
    let due = Some(utc("2026-03-03T22:59:59Z"));
    assert_eq!(
        letters(&story.state()),
        vec![
            (
                format!("inv-1/unit:{FK}"),
                due,
                "Skriv ut och skicka kallelsen till SIP-mötet per brev till Försäkringskassan Luleå"
                    .to_string()
            ),
            (
                "inv-1/person".to_string(),
                due,
                "Skriv ut och skicka kallelsen till SIP-mötet per brev till Tolvan Tolvansson"
                    .to_string()
            ),
        ]
    );
    let owner = obligations(&story.state(), &stockholm())
        .into_iter()
        .find(|o| o.kind == ObligationKind::SendLetter)
        .map(|o| o.owner);
    assert_eq!(
        owner,
        Some(ObligationOwner::User {
            unit: unit(VC),
            staff_id: staff(NURSE)
        })
    );

    // A colleague at the coordinator's unit posts the person's letter; the other remains.
    let story = story.run(Who::Colleague, post(Some(vec![Recipient::Person])));
    assert_eq!(
        letters(&story.state())
            .into_iter()
            .map(|l| l.0)
            .collect::<Vec<_>>(),
        vec![format!("inv-1/unit:{FK}")]
    );
    // Posting it again records nothing; a unit reached digitally gets no letter; another unit
    // does not post the coordinator's letters.
    assert_eq!(
        story.attempt(Who::Nurse, &post(Some(vec![Recipient::Person]))),
        Ok(Vec::new())
    );
    given(&story)
        .when(
            post(Some(vec![unit_recipient(HT)])),
            Who::Nurse.at(story.now),
        )
        .then_code("not_a_letter_recipient");
    given(&story)
        .when(post(None), Who::HomeCare.at(story.now))
        .then_code("not_coordinator");
    let story = story.run(Who::Nurse, post(None));
    assert!(letters(&story.state()).is_empty());

    // A new time is news to everyone reached by letter; a cancellation too, later.
    let story = story.advance(Duration::hours(1)).run(
        Who::Nurse,
        SipCommand::RescheduleMeeting(RescheduleMeeting {
            invitation_id: "inv-1".to_string(),
            scheduled_at: meeting_time() + Duration::days(1),
            form: None,
            place: None,
            reason: None,
        }),
    );
    let owed = letters(&story.state());
    assert_eq!(owed.len(), 2);
    assert!(owed[0].2.starts_with("Skicka den nya tiden för SIP-mötet"));
    let story = story.run(Who::Nurse, post(Some(vec![Recipient::Person])));
    let story = story.run(
        Who::Nurse,
        SipCommand::CancelInvitation(CancelInvitation {
            invitation_id: "inv-1".to_string(),
            reason: None,
        }),
    );
    let owed = letters(&story.state());
    assert_eq!(owed.len(), 2, "both were told of the meeting: {owed:?}");
    assert!(owed
        .iter()
        .all(|l| l.2.starts_with("Meddela") && l.2.ends_with("att SIP-mötet är inställt")));
}

/// Moved before any letter was posted: nobody was told of the old time, so each letter is the
/// kallelse itself at the new time; a "new time" only to whom the kallelse had reached.
#[test]
fn a_meeting_moved_before_its_letters_were_posted_is_still_announced_by_kallelse() {
    let reschedule = |days| {
        SipCommand::RescheduleMeeting(RescheduleMeeting {
            invitation_id: "inv-1".to_string(),
            scheduled_at: meeting_time() + Duration::days(days),
            form: None,
            place: None,
            reason: None,
        })
    };
    let story = Story::invited().run(Who::Nurse, reschedule(1));
    let owed = letters(&story.state());
    assert_eq!(owed.len(), 2, "{owed:?}");
    assert!(
        owed.iter().all(|l| l
            .2
            .starts_with("Skriv ut och skicka kallelsen till SIP-mötet")),
        "{owed:?}"
    );
    // Posted to the person only; moved again: the person gets the new time, FK still the
    // kallelse.
    let story = story
        .run(Who::Nurse, post(Some(vec![Recipient::Person])))
        .run(Who::Nurse, reschedule(2));
    let owed = letters(&story.state());
    assert_eq!(
        owed.iter()
            .map(|l| l.2.split(" per brev").next().unwrap_or(""))
            .collect::<Vec<_>>(),
        vec![
            "Skriv ut och skicka kallelsen till SIP-mötet",
            "Skicka den nya tiden för SIP-mötet",
        ],
        "{owed:?}"
    );
    assert!(owed[0].0.ends_with(&format!("unit:{FK}")) && owed[1].0.ends_with("person"));
}

/// "Ett SIP-möte är inställt", but "en uppföljning är inställd".
#[test]
fn a_cancelled_follow_up_is_inställd() {
    let story = Story::meeting_held().run(
        Who::Nurse,
        SipCommand::SendInvitation(SendInvitation {
            invitation_id: "f-1".to_string(),
            purpose: InvitationPurpose::FollowUp,
            scheduled_at: meeting_time() + Duration::days(60),
            form: MeetingForm::InPerson,
            place: Some("Vårdcentralen, rum 3".to_string()),
            reason: "Följa upp planen".to_string(),
            recipients: vec![Recipient::Person],
        }),
    );
    let story = story
        .run(
            Who::Nurse,
            SipCommand::RecordLettersPosted(RecordLettersPosted {
                invitation_id: "f-1".to_string(),
                recipients: None,
            }),
        )
        .run(
            Who::Nurse,
            SipCommand::CancelInvitation(CancelInvitation {
                invitation_id: "f-1".to_string(),
                reason: None,
            }),
        );
    let owed = letters(&story.state());
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert!(
        owed[0].2.ends_with("att uppföljningen är inställd"),
        "{owed:?}"
    );
}

#[test]
fn a_held_meeting_owes_no_more_letters() {
    let state = Story::meeting_held().state();
    assert!(letters(&state).is_empty());
}

#[test]
fn messages_go_to_the_units_concerned_never_to_the_sender() {
    let story = Story::with_basis();
    let before = story.state();
    let story = Story::invited();
    let after = story.state();
    let event = story.events.last().expect("invitation");
    let sent = messages(&before, &after, event);
    // Hemtjänsten is summoned in samplan; Försäkringskassan and the person get letters instead.
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, unit(HT));
    assert_eq!(sent[0].kind, MessageKind::Invitation);
    assert_eq!(
        sent[0].subject,
        "Kallelse till SIP-möte torsdag 5 mars 2026 kl. 10.00"
    );
    assert_eq!(sent[0].invitation_id.as_deref(), Some("inv-1"));

    // Hemtjänsten publishes: everyone else taking part hears of it.
    let story = Story::documented();
    let n = story.events.len();
    let before = fold(&story.events[..n - 1]);
    let after = story.state();
    let sent = messages(&before, &after, &story.events[n - 1]);
    let mut to: Vec<_> = sent.iter().map(|m| m.to.as_str().to_string()).collect();
    to.sort();
    assert_eq!(to, vec![FK.to_string(), VC.to_string()]);
    assert!(sent
        .iter()
        .all(|m| m.kind == MessageKind::ContributionPublished));

    // Closing tells everyone but the coordinator's own unit.
    let story = Story::closed();
    let n = story.events.len();
    let sent = messages(
        &fold(&story.events[..n - 1]),
        &story.state(),
        &story.events[n - 1],
    );
    let mut to: Vec<_> = sent.iter().map(|m| m.to.as_str().to_string()).collect();
    to.sort();
    assert_eq!(to, vec![FK.to_string(), HT.to_string()]);
    assert_eq!(sent[0].body, "Planen avslutades: målen är uppnådda.");
}

#[test]
fn messages_say_what_was_shared_and_agree_with_the_meetings_gender() {
    // "Spara & dela ut": what was published, in a sentence (the sender and unit show beside it).
    let story = Story::documented();
    let n = story.events.len();
    let publish = |i: usize| {
        messages(
            &fold(&story.events[..i]),
            &fold(&story.events[..=i]),
            &story.events[i],
        )
    };
    let coordinator = publish(n - 2);
    assert_eq!(coordinator[0].subject, "Ny dokumentation utdelad");
    assert_eq!(
        coordinator[0].body,
        "Huvudmålet och 1 delmål har delats ut till alla som deltar i planen."
    );
    let home_care = publish(n - 1);
    assert_eq!(home_care[0].subject, "Ny dokumentation utdelad");
    assert_eq!(
        home_care[0].body,
        "1 delmål och 1 insats har delats ut till alla som deltar i planen."
    );

    // A cancelled SIP-möte is "inställt"; a follow-up, "en uppföljning", is "inställd" and
    // "flyttad".
    let story = Story::invited();
    let before = story.state();
    let story = story.run(
        Who::Nurse,
        SipCommand::CancelInvitation(CancelInvitation {
            invitation_id: "inv-1".to_string(),
            reason: None,
        }),
    );
    let sent = messages(&before, &story.state(), story.events.last().expect("event"));
    assert_eq!(sent[0].kind, MessageKind::InvitationCancelled);
    assert_eq!(
        sent[0].subject,
        "Inställt SIP-möte torsdag 5 mars 2026 kl. 10.00"
    );
    assert_eq!(
        sent[0].body,
        "SIP-mötet torsdag 5 mars 2026 kl. 10.00 blir inte av."
    );

    let story = Story::meeting_held().run(
        Who::Nurse,
        SipCommand::SendInvitation(SendInvitation {
            invitation_id: "fu-inv".to_string(),
            purpose: InvitationPurpose::FollowUp,
            scheduled_at: utc("2026-06-01T08:00:00Z"),
            form: MeetingForm::InPerson,
            place: None,
            reason: "Uppföljning av planen".to_string(),
            recipients: vec![unit_recipient(HT)],
        }),
    );
    // The reason typed without a full stop is not run into the next sentence.
    let sent = messages(
        &Story::meeting_held().state(),
        &story.state(),
        story.events.last().expect("event"),
    );
    assert_eq!(
        sent[0].body,
        "Ni är kallade till uppföljning av SIP måndag 1 juni 2026 kl. 10.00 (på plats). \
         Syfte: Uppföljning av planen. Utse er representant och följ upp era insatser inför \
         mötet."
    );
    let before = story.state();
    let story = story.run(
        Who::Nurse,
        SipCommand::RescheduleMeeting(RescheduleMeeting {
            invitation_id: "fu-inv".to_string(),
            scheduled_at: utc("2026-06-02T08:00:00Z"),
            form: None,
            place: None,
            reason: None,
        }),
    );
    let sent = messages(&before, &story.state(), story.events.last().expect("event"));
    assert_eq!(
        sent[0].subject,
        "Ny tid för uppföljning av SIP: tisdag 2 juni 2026 kl. 10.00"
    );
    assert_eq!(
        sent[0].body,
        "Uppföljningen av SIP är flyttad till tisdag 2 juni 2026 kl. 10.00 (på plats)."
    );
    let before = story.state();
    let story = story.run(
        Who::Nurse,
        SipCommand::CancelInvitation(CancelInvitation {
            invitation_id: "fu-inv".to_string(),
            reason: Some("Samordnaren är sjuk.".to_string()),
        }),
    );
    let sent = messages(&before, &story.state(), story.events.last().expect("event"));
    assert_eq!(
        sent[0].subject,
        "Inställd uppföljning av SIP tisdag 2 juni 2026 kl. 10.00"
    );
    assert_eq!(
        sent[0].body,
        "Uppföljningen av SIP tisdag 2 juni 2026 kl. 10.00 blir inte av. Anledning: Samordnaren är sjuk."
    );
}

#[test]
fn a_person_who_moved_away_moved_from_the_county() {
    assert_eq!(
        history::close_reason(CloseReason::MovedOutOfRegion),
        "den enskilde har flyttat från länet"
    );
}

#[test]
fn the_person_sees_published_content_only() {
    // Before anything is published the plan is not shown to the person at all.
    let plan = patient_plan(&Story::meeting_held().state()).expect("plan");
    assert!(!plan.visible());

    // Hemtjänsten drafts a second sub-goal after publishing: the person never sees it.
    let story = Story::documented().run(Who::HomeCare, sub_goal("sg-draft", responsible_unit(HT)));
    let plan = patient_plan(&story.state()).expect("plan");
    assert!(plan.visible());
    assert_eq!(plan.status, PatientPlanStatus::Active);
    assert_eq!(plan.main_goal.as_deref(), Some("Att kunna bo kvar hemma"));
    let mut ids: Vec<_> = plan.sub_goals.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec!["sg-ht", "sg-self"]);
    assert_eq!(plan.interventions.len(), 1);
    assert_eq!(
        plan.interventions[0].contact.as_deref(),
        Some("0922-200 00")
    );
    assert_eq!(
        plan.coordinator.as_ref().map(|c| c.unit_id.clone()),
        Some(unit(VC))
    );
    assert_eq!(plan.next_follow_up_on, Some(date(2026, 6, 1)));
    assert_eq!(plan.units, vec![unit(HT), unit(VC)]);

    // A published goal revised as a draft shows its published text until published again.
    let story = story.run(
        Who::Nurse,
        SipCommand::DocumentMainGoal(DocumentMainGoal {
            text: "Utkast som inte är klart".to_string(),
        }),
    );
    let plan = patient_plan(&story.state()).expect("plan");
    assert_eq!(plan.main_goal.as_deref(), Some("Att kunna bo kvar hemma"));

    let plan = patient_plan(&Story::closed().state()).expect("plan");
    assert_eq!(plan.status, PatientPlanStatus::Closed);
    assert_eq!(plan.status_text, "Avslutad: målen är uppnådda");
    assert_eq!(
        plan.sub_goals
            .iter()
            .find(|g| g.id == "sg-ht")
            .and_then(|g| g.reached),
        None
    );
    assert_eq!(plan.next_follow_up_on, None);
}

/// 002: a follow-up is called "precis som vid en kallelse till SIP": the units summoned appoint
/// their representatives to it, as to the SIP-möte, and the to-do ends when they have.
#[test]
fn units_summoned_to_a_follow_up_appoint_their_representatives() {
    let policy = stockholm();
    let story = Story::documented().advance(Duration::days(30));
    let mut kallelse = invite(
        "inv-fu",
        story.now + Duration::days(5),
        vec![unit_recipient(HT)],
    );
    if let SipCommand::SendInvitation(c) = &mut kallelse {
        c.purpose = InvitationPurpose::FollowUp;
    }
    let story = story.run(Who::Nurse, kallelse);
    let appoint: Vec<_> = obligations(&story.state(), &policy)
        .into_iter()
        .filter(|o| o.kind == ObligationKind::AppointRepresentative)
        .collect();
    assert_eq!(appoint.len(), 1, "{appoint:?}");
    assert_eq!(appoint[0].owner, ObligationOwner::Unit(unit(HT)));
    assert_eq!(appoint[0].title, "Utse representant till uppföljningen");
    assert_eq!(appoint[0].due_at, Some(story.now + Duration::days(5)));
    let responded = story.run(Who::HomeCare, respond("inv-fu"));
    assert!(obligations(&responded.state(), &policy)
        .iter()
        .all(|o| o.kind != ObligationKind::AppointRepresentative));
}

/// A kallelse whose time passed without its meeting being recorded must not hide the one booked
/// after it: the person is shown the next meeting still ahead, or none.
#[test]
fn the_next_meeting_is_the_first_one_still_ahead() {
    let story = Story::documented().advance(Duration::days(30));
    let first = story.now + Duration::days(2);
    let second = story.now + Duration::days(9);
    let staff_only = story.now + Duration::days(1);
    let follow_up = |id: &str, at: DateTime<Utc>| {
        let mut cmd = invite(id, at, vec![unit_recipient(HT), Recipient::Person]);
        if let SipCommand::SendInvitation(c) = &mut cmd {
            c.purpose = InvitationPurpose::FollowUp;
        }
        cmd
    };
    // Booked in the other order: the document keeps them earliest first. A meeting of the units
    // alone, before both, is not the person's to be told of.
    let story = story
        .run(Who::Nurse, follow_up("inv-b", second))
        .run(Who::Nurse, follow_up("inv-a", first))
        .run(
            Who::Nurse,
            invite("inv-staff", staff_only, vec![unit_recipient(HT)]),
        );
    let plan = patient_plan(&story.state()).expect("plan");
    assert_eq!(
        plan.next_meeting.as_ref().map(|m| m.scheduled_at),
        Some(first)
    );
    let next = |now: DateTime<Utc>| plan.next_meeting_at(now).map(|m| m.scheduled_at);
    assert_eq!(next(story.now), Some(first));
    assert_eq!(
        next(first),
        Some(second),
        "a meeting whose time has come is not next"
    );
    assert_eq!(next(second + Duration::hours(1)), None);
    // A document written before the list existed still answers from its one meeting.
    let mut old = plan.clone();
    old.meetings.clear();
    assert_eq!(old.next_meeting_at(story.now), Some(&plan.meetings[0]));
    assert_eq!(old.next_meeting_at(first), None);
}

#[test]
fn reporting_facts_count_working_days_and_deadlines() {
    let story = Story::followed_up();
    let facts =
        plan_facts(&story.events, &PolicyProfile::get(PolicyName::Norrbotten)).expect("facts");
    // Need known Monday 2 March; invited the same day; met Thursday 5 March.
    assert_eq!(facts.working_days_to_invitation, Some(0));
    assert_eq!(facts.working_days_to_meeting, Some(3));
    // Norrbotten: the meeting within 21 days of the need.
    assert_eq!(facts.meeting_due_at, Some(utc("2026-03-23T22:59:59Z")));
    let documented: Vec<_> = facts
        .contributions
        .iter()
        .map(|c| (c.unit_id.as_str().to_string(), c.documented_at.is_some()))
        .collect();
    assert_eq!(
        documented,
        vec![(HT.to_string(), true), (VC.to_string(), true)]
    );
    assert!(facts
        .contributions
        .iter()
        .all(|c| c.due_at == utc("2026-03-08T22:59:59Z")));
    assert_eq!(facts.follow_up_agreed_on, Some(date(2026, 6, 1)));
    assert_eq!(facts.followed_up_on, Some(date(2026, 6, 1)));
    assert_eq!(facts.close_reason, None);
    // Stockholm sets no meeting deadline.
    let facts = plan_facts(&story.events, &stockholm()).expect("facts");
    assert_eq!(facts.meeting_due_at, None);
}

#[test]
fn a_to_do_is_urgent_when_due_by_the_end_of_the_next_working_day() {
    let p = stockholm();
    // Thursday 2 April 2026, before Easter: the next working day is Tuesday 7 April
    // (Långfredag, the weekend and Annandag påsk come between).
    let now = Utc
        .with_ymd_and_hms(2026, 4, 2, 10, 0, 0)
        .single()
        .expect("time");
    assert_eq!(p.urgent_until(now), utc("2026-04-07T21:59:59Z"));
    assert!(p.is_urgent(utc("2026-04-07T21:59:59Z"), now));
    assert!(!p.is_urgent(utc("2026-04-07T22:00:00Z"), now));
    // Overdue is urgent.
    assert!(p.is_urgent(utc("2026-03-01T00:00:00Z"), now));
    // Friday 19 June 2026 is midsommarafton; from Thursday the next working day is Monday.
    let now = utc("2026-06-18T08:00:00Z");
    assert_eq!(p.urgent_until(now), utc("2026-06-22T21:59:59Z"));
}

/// ADR 0053: the plan is shared only with the units the consent that speaks names. Hemtjänsten,
/// left out by a renewal after it published, is told so once and then nothing more; it is not
/// said to take part, though what it published still names it; it records nothing more, not even
/// a withdrawal; named again, the plan is shared with it again.
#[test]
fn a_unit_the_consent_leaves_out_is_told_once_and_then_nothing() {
    let documented = Story::documented();
    let left_out = documented.clone().run(Who::Nurse, consent(&[VC, FK]));
    let told = |before: &Story, after: &Story| -> Vec<(String, MessageKind)> {
        messages(
            &before.state(),
            &after.state(),
            after.events.last().expect("event"),
        )
        .into_iter()
        .map(|m| (m.to.to_string(), m.kind))
        .collect()
    };
    assert!(documented.state().shared_with(&unit(HT)));
    assert!(left_out.state().participates(&unit(HT)));
    assert!(!left_out.state().shared_with(&unit(HT)));
    assert_eq!(
        told(&documented, &left_out),
        vec![(HT.to_string(), MessageKind::LeftOutByConsent)]
    );

    // Neither the units nor the person are told it takes part; its sub-goal still names it.
    assert!(documented.state().shown_participants().contains(&unit(HT)));
    assert!(!left_out.state().shown_participants().contains(&unit(HT)));
    let mine = patient_plan(&left_out.state()).expect("plan");
    assert!(!mine.participants.contains(&unit(HT)), "{mine:?}");
    assert!(mine.units.contains(&unit(HT)), "{mine:?}");
    assert!(!mine.taking_part().contains(&&unit(HT)), "{mine:?}");
    assert!(mine
        .sub_goals
        .iter()
        .any(|g| g.responsible == Responsible::Unit { unit_id: unit(HT) }));

    // Nothing more reaches it: not what the coordinator shares next.
    let publish = |story: &Story, id: &str| {
        let drafted = story
            .clone()
            .run(Who::Nurse, sub_goal(id, Responsible::Person));
        let published = drafted.clone().run(
            Who::Nurse,
            SipCommand::PublishContribution(PublishContribution {}),
        );
        told(&drafted, &published)
    };
    let shared = publish(&left_out, "sg-more");
    assert!(
        shared.iter().all(|(to, _)| to != HT) && !shared.is_empty(),
        "{shared:?}"
    );
    // It records nothing more on the plan, not even the person's withdrawal.
    given(&left_out)
        .when(
            SipCommand::WithdrawConsent(WithdrawConsent {
                withdrawn_by: ConsentGiver::Person,
                note: None,
            }),
            Who::HomeCare.at(left_out.now),
        )
        .then_error(DomainError::UnitLeftOutByConsent(
            unit(HT),
            "Hemtjänsten Haparanda".to_string(),
            "Namn SE2321000016-VC01, Vårdcentralen Haparanda".to_string(),
        ));

    // Named again, it reads and is told again.
    let back = left_out.clone().run(Who::Nurse, consent(&[VC, HT, FK]));
    assert!(back.state().shared_with(&unit(HT)));
    assert!(back.state().shown_participants().contains(&unit(HT)));
    assert!(publish(&back, "sg-more")
        .iter()
        .any(|(to, kind)| to == HT && *kind == MessageKind::ContributionPublished));
}

/// The person's page words a closed plan's reason for them or their guardian, not in the
/// staff's "den enskilde" (a review found "den enskilde har avlidit" on a parent's page).
#[test]
fn a_closed_plans_reason_is_worded_for_the_person() {
    let closed = Story::followed_up().run(Who::Nurse, close(CloseReason::NoLongerNeeded));
    let plan = patient_plan(&closed.state()).expect("plan");
    assert_eq!(
        plan.status_text,
        "Avslutad: samordningen behövs inte längre"
    );
    for reason in [
        CloseReason::GoalsMet,
        CloseReason::NoLongerNeeded,
        CloseReason::ConsentWithdrawn,
        CloseReason::ConsentDeclined,
        CloseReason::ProtectedIdentity,
        CloseReason::MovedOutOfRegion,
        CloseReason::Deceased,
        CloseReason::ReplacedByNewPlan,
    ] {
        let words = domain::sip::patient::closed_because(reason);
        assert!(!words.contains("enskilde"), "{reason:?}: {words}");
    }
}

/// A unit a later consent names again is told so, with the meetings it is called to as they
/// stand now: a review found it with only the old kallelse's time after the meeting had moved
/// while it was left out.
#[test]
fn a_unit_named_again_is_told_so_with_the_meeting_as_it_stands() {
    let invited = Story::invited();
    let out = invited.clone().run(Who::Nurse, consent(&[VC]));
    let moved = out.clone().run(
        Who::Nurse,
        SipCommand::RescheduleMeeting(RescheduleMeeting {
            invitation_id: "inv-1".to_string(),
            scheduled_at: meeting_time() + Duration::days(1),
            form: Some(MeetingForm::Video),
            place: None,
            reason: None,
        }),
    );
    let back = moved.clone().run(Who::Nurse, consent(&[VC, HT]));
    let sent = messages(
        &moved.state(),
        &back.state(),
        back.events.last().expect("event"),
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].to, unit(HT));
    assert_eq!(sent[0].kind, MessageKind::IncludedByConsent);
    assert!(
        sent[0]
            .body
            .contains("Ni är kallade till SIP-möte fredag 6 mars 2026 kl. 10.00 (via video"),
        "{}",
        sent[0].body
    );
}

/// When what the person reads last changed: every change they can see moves it — a new
/// coordinator and a follow-up date among them (a review found neither did) — and a draft does
/// not.
#[test]
fn the_person_is_told_when_their_plan_last_changed_and_not_of_a_draft() {
    let changed = |story: &Story| {
        domain::sip::patient::patient_plan_of(&story.events)
            .expect("plan")
            .changed_at
            .expect("a time")
    };
    let documented = Story::documented().advance(Duration::hours(1));
    let before = changed(&documented);
    let drafted = documented
        .clone()
        .run(Who::HomeCare, sub_goal("sg-draft", responsible_unit(HT)))
        .advance(Duration::hours(1));
    assert_eq!(changed(&drafted), before, "a draft is not the person's");
    let handed_over = drafted.clone().run(
        Who::Nurse,
        SipCommand::ChangeCoordinator(ChangeCoordinator {
            staff_id: staff(HOME_CARE),
            name: "Biståndshandläggare HT".to_string(),
            unit_id: unit(HT),
            reason: None,
        }),
    );
    assert_eq!(changed(&handed_over), handed_over.now);
    assert!(handed_over.now > before);
}

/// The coordinator follows the kallelse in the inbox (seed 002): an invited unit naming its
/// representative, or another one, is told there — an outside review found it only on the
/// plan's page.
#[test]
fn the_coordinator_hears_who_represents_an_invited_unit() {
    let story = Story::invited();
    let before = story.state();
    let answered = story.run(Who::HomeCare, respond("inv-1"));
    let told = messages(
        &before,
        &answered.state(),
        answered.events.last().expect("event"),
    );
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].to, unit(VC));
    assert_eq!(told[0].kind, MessageKind::InvitationAnswered);
    assert_eq!(told[0].invitation_id.as_deref(), Some("inv-1"));
    assert!(
        told[0].subject.starts_with("Kallelsen besvarad: "),
        "{told:?}"
    );
    assert!(
        told[0]
            .body
            .starts_with("Undersköterska HT (undersköterska) företräder enheten vid SIP-möte "),
        "{told:?}"
    );

    // Another representative: named as the one who replaces the first.
    let before = answered.state();
    let other = SipCommand::RespondToInvitation(RespondToInvitation {
        invitation_id: "inv-1".to_string(),
        representative: Representative {
            name: "Hanna Hemtjänst".to_string(),
            staff_id: None,
            profession: None,
            phone: None,
        },
    });
    let changed = answered.run(Who::HomeCare, other);
    let told = messages(
        &before,
        &changed.state(),
        changed.events.last().expect("event"),
    );
    assert!(
        told[0]
            .subject
            .starts_with("Ny representant till SIP-möte "),
        "{told:?}"
    );
    assert!(
        told[0]
            .body
            .starts_with("Hanna Hemtjänst företräder enheten vid SIP-möte ")
            && told[0].body.ends_with(" i stället för Undersköterska HT."),
        "{told:?}"
    );
}

/// On the red track the meeting is held before going home; a discharge registered earlier than
/// the meeting already booked tells every unit so, not only the coordinator's to-do (an outside
/// review: the municipality learnt of it too late to plan the homecoming).
#[test]
fn a_red_track_discharge_before_the_booked_meeting_is_said_to_everyone() {
    let discharge = |track| NeedContext {
        kind: CareContextKind::Discharge,
        track: Some(track),
        discharge_ready_at: Some(t0()),
    };
    let booked = |track| {
        Story::new(adult())
            .run(Who::Nurse, identify_need(discharge(track)))
            .advance(Duration::hours(1))
            .run(Who::Nurse, consent(&[VC, HT, FK]))
            .run(Who::Nurse, create_basis())
            .run(
                Who::Nurse,
                invite("inv-1", meeting_time(), vec![unit_recipient(HT)]),
            )
    };
    let home = meeting_time() - Duration::days(1);
    let record = SipCommand::RecordDischarge(RecordDischarge {
        discharged_at: home,
    });
    let told = |story: Story| {
        let before = story.state();
        let after = story.run(Who::Nurse, record.clone());
        messages(&before, &after.state(), after.events.last().expect("event"))
    };
    let red = told(booked(domain::policy::Track::Red));
    let to_home_care: Vec<_> = red.iter().filter(|m| m.to == unit(HT)).collect();
    assert_eq!(to_home_care.len(), 1, "{red:?}");
    assert_eq!(to_home_care[0].kind, MessageKind::DischargeRecorded);
    assert!(
        to_home_care[0].body.contains("SIP-mötet är bokat till ")
            && to_home_care[0]
                .body
                .contains("efter utskrivningen: planera hemgången"),
        "{red:?}"
    );
    // On the yellow track the meeting comes after going home, as it should: nothing more said.
    let yellow = told(booked(domain::policy::Track::Yellow));
    assert!(
        yellow
            .iter()
            .all(|m| !m.body.contains("SIP-mötet är bokat")),
        "{yellow:?}"
    );
}
