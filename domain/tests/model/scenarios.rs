//! The seeds' flows, end to end through decide/evolve/obligations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::calendar::add_working_days;
use domain::obligations::{obligations, Obligation, ObligationKind, ObligationOwner};
use domain::person::{self, PersonCommand};
use domain::policy::{PolicyName, PolicyProfile, Track};
use domain::sip::*;
use domain::time::{end_of_local_day, local_date, start_of_local_day};
use domain::DomainError;

use crate::support::*;

fn kinds(obligations: &[Obligation]) -> Vec<(ObligationKind, String)> {
    obligations
        .iter()
        .map(|o| (o.kind, o.owner.unit().to_string()))
        .collect()
}

fn find(obligations: &[Obligation], kind: ObligationKind) -> &Obligation {
    obligations
        .iter()
        .find(|o| o.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} in {:?}", kinds(obligations)))
}

fn coordinator_owner() -> ObligationOwner {
    ObligationOwner::User {
        unit: unit(VC),
        staff_id: staff(NURSE),
    }
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
}

/// Örebro (001): red track — the SIP meeting is held at the hospital before the patient goes
/// home; the invitation goes out as soon as possible after the discharge-ready notice.
#[test]
fn orebro_red_track_discharge_meeting_is_due_before_discharge_and_held_in_time() {
    let policy = PolicyProfile::get(PolicyName::Orebro);
    let ready = t0() - Duration::hours(2);
    let discharge = NeedContext {
        kind: CareContextKind::Discharge,
        track: Some(Track::Red),
        discharge_ready_at: Some(ready),
    };
    let story = Story::new(adult())
        .run(Who::Nurse, identify_need(discharge))
        .run(Who::Nurse, consent(&[VC, HT]))
        .run(Who::Nurse, create_basis());
    let due = obligations(&story.state(), &policy);
    // Invitation: one working day after the discharge-ready notice (Örebro profile).
    let invitation = find(&due, ObligationKind::SendInvitation);
    assert_eq!(
        invitation.due_at,
        Some(end_of_local_day(add_working_days(local_date(ready), 1)))
    );
    assert_eq!(invitation.owner, coordinator_owner());
    // The ward plans discharge for Wednesday 10:00; the meeting is due before it.
    let planned_discharge = utc(2026, 3, 4, 9, 0);
    let story = story
        .run(
            Who::Nurse,
            SipCommand::RecordDischarge(RecordDischarge {
                discharged_at: planned_discharge,
            }),
        )
        .run(
            Who::Nurse,
            invite(
                "inv-red",
                utc(2026, 3, 3, 13, 0),
                vec![unit_recipient(HT), Recipient::Person],
            ),
        );
    let due = obligations(&story.state(), &policy);
    assert_eq!(
        find(&due, ObligationKind::RecordMeeting).due_at,
        Some(planned_discharge)
    );
    assert!(due.iter().all(|o| o.kind != ObligationKind::SendInvitation));
    let appoint = find(&due, ObligationKind::AppointRepresentative);
    assert_eq!(appoint.owner, ObligationOwner::Unit(unit(HT)));
    assert_eq!(appoint.reference.as_deref(), Some("inv-red"));
    // Meeting at the ward on Tuesday, before discharge.
    let mut story = story.run(Who::HomeCare, respond_with("inv-red"));
    story.now = utc(2026, 3, 3, 15, 0);
    let story = story.run(
        Who::Nurse,
        record_meeting("inv-red", utc(2026, 3, 3, 13, 0)),
    );
    let state = story.state();
    assert!(state.last_meeting().map(|m| m.held_at) < state.discharged_at);
    let due = obligations(&state, &policy);
    assert!(due.iter().all(|o| o.kind != ObligationKind::RecordMeeting));
    // Everyone documents within 3 days of the meeting.
    let documentation_due = end_of_local_day(date(2026, 3, 6));
    for o in due
        .iter()
        .filter(|o| o.kind == ObligationKind::DocumentContribution)
    {
        assert_eq!(o.due_at, Some(documentation_due));
    }
    let mut owners: Vec<_> = due
        .iter()
        .filter(|o| o.kind == ObligationKind::DocumentContribution)
        .map(|o| o.owner.clone())
        .collect();
    owners.sort();
    assert_eq!(
        owners,
        vec![
            ObligationOwner::Unit(unit(HT)),
            ObligationOwner::Unit(unit(VC))
        ]
    );
    assert_eq!(
        find(&due, ObligationKind::DocumentMainGoal).due_at,
        Some(documentation_due)
    );
}

fn respond_with(invitation_id: &str) -> SipCommand {
    SipCommand::RespondToInvitation(RespondToInvitation {
        invitation_id: invitation_id.to_string(),
        representative: Representative {
            name: "Biståndshandläggare HT".to_string(),
            staff_id: Some(staff(HOME_CARE)),
            profession: None,
            phone: None,
        },
    })
}

/// Norrbotten (002): outpatient SIP in the Lifecare screens, with Försäkringskassan as an
/// external actor that gets a letter and whose part the coordinator documents.
#[test]
fn norrbotten_outpatient_sip_with_an_external_actor_reached_by_letter() {
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let story = Story::need_identified();
    // Before consent: get it, by the invitation deadline (3 working days: Thursday).
    let due = obligations(&story.state(), &policy);
    assert_eq!(
        kinds(&due),
        vec![(ObligationKind::GetConsent, VC.to_string())]
    );
    assert_eq!(due[0].due_at, Some(end_of_local_day(date(2026, 3, 5))));
    let story = story
        .run(Who::Nurse, consent(&[VC, HT, FK]))
        .run(Who::Nurse, create_basis())
        .run(
            Who::Nurse,
            SipCommand::DocumentMapping(DocumentMapping {
                mapping_id: "m-1".to_string(),
                heading: "occupation".to_string(),
                text: "Sjukskriven sedan januari".to_string(),
            }),
        );
    let due = obligations(&story.state(), &policy);
    assert_eq!(
        find(&due, ObligationKind::SendInvitation).due_at,
        Some(end_of_local_day(date(2026, 3, 5)))
    );
    // Meeting 3–21 days after the need became known.
    assert_eq!(
        find(&due, ObligationKind::RecordMeeting).due_at,
        Some(end_of_local_day(date(2026, 3, 23)))
    );
    let story = story.run(
        Who::Nurse,
        invite(
            "inv-1",
            meeting_time(),
            vec![unit_recipient(HT), unit_recipient(FK), Recipient::Person],
        ),
    );
    let state = story.state();
    let letters: Vec<_> = state.invitations["inv-1"]
        .letter_recipients()
        .into_iter()
        .map(|r| r.recipient.clone())
        .collect();
    assert_eq!(letters, vec![unit_recipient(FK), Recipient::Person]);
    // Only hemtjänsten (samplan) is asked to appoint a representative in samplan.
    let due = obligations(&state, &policy);
    let appoint: Vec<_> = due
        .iter()
        .filter(|o| o.kind == ObligationKind::AppointRepresentative)
        .map(|o| o.owner.clone())
        .collect();
    assert_eq!(appoint, vec![ObligationOwner::Unit(unit(HT))]);
    let story = story.run(Who::HomeCare, respond_with("inv-1"));
    assert!(obligations(&story.state(), &policy)
        .iter()
        .all(|o| o.kind != ObligationKind::AppointRepresentative));

    let mut story = story;
    story.now = meeting_time() + Duration::hours(2);
    let story = story.run(Who::Nurse, record_meeting("inv-1", meeting_time()));
    let due = obligations(&story.state(), &policy);
    let external = find(&due, ObligationKind::DocumentForExternalActor);
    assert_eq!(external.owner, coordinator_owner());
    assert_eq!(external.reference.as_deref(), Some(FK));
    assert!(external.title.contains("Försäkringskassan Luleå"));
    assert_eq!(external.due_at, Some(end_of_local_day(date(2026, 3, 8))));

    // The coordinator documents the main goal, the person's own goal and FK's part …
    let story = story
        .run(
            Who::Nurse,
            SipCommand::DocumentMainGoal(DocumentMainGoal {
                text: "Att komma tillbaka till arbete".to_string(),
            }),
        )
        .run(Who::Nurse, sub_goal("sg-fk", responsible_unit(FK)))
        .run(
            Who::Nurse,
            intervention("in-fk", "sg-fk", responsible_unit(FK)),
        )
        .run(
            Who::Nurse,
            SipCommand::PublishContribution(PublishContribution {}),
        );
    let due = obligations(&story.state(), &policy);
    assert_eq!(
        kinds(&due),
        vec![
            (ObligationKind::DocumentContribution, HT.to_string()),
            (ObligationKind::HoldFollowUp, VC.to_string()),
            (ObligationKind::RenewConsent, VC.to_string()),
        ]
    );
    // … hemtjänsten its own; then only the follow-up remains
    let story = story
        .run(Who::HomeCare, sub_goal("sg-ht", responsible_unit(HT)))
        .run(
            Who::HomeCare,
            intervention("in-ht", "sg-ht", responsible_unit(HT)),
        )
        .run(
            Who::HomeCare,
            SipCommand::PublishContribution(PublishContribution {}),
        );
    let due = obligations(&story.state(), &policy);
    // (and, a month before consent runs out on 31 December, its renewal).
    assert_eq!(
        kinds(&due),
        vec![
            (ObligationKind::HoldFollowUp, VC.to_string()),
            (ObligationKind::RenewConsent, VC.to_string()),
        ]
    );
    assert_eq!(due[0].due_at, Some(end_of_local_day(date(2026, 6, 1))));
}

/// Örebro (001): "Oavsett barnets ålder är det alltid vårdnadshavarna som ska ge sitt samtycke".
#[test]
fn a_childs_sip_needs_consent_from_both_guardians() {
    let story = Story::new(child()).run(Who::Nurse, identify_need(outpatient()));
    let mother = ConsentGiver::Guardian {
        relative_id: "mother".to_string(),
    };
    let father = ConsentGiver::Guardian {
        relative_id: "father".to_string(),
    };
    // The child's own consent is not enough.
    given(&story)
        .when(consent(&[VC, HT]), Who::Nurse.at(story.now))
        .then_error(DomainError::ChildCannotConsent);
    // A rule the command breaks whatever the plan's state (422), under the same code as a plan
    // still missing a guardian's consent (409).
    assert_eq!(
        DomainError::ChildCannotConsent.kind(),
        domain::ErrorKind::Validation
    );
    assert_eq!(
        DomainError::ChildCannotConsent.code(),
        DomainError::ChildNeedsGuardianConsent.code()
    );
    let one = story
        .clone()
        .run(Who::Nurse, consent_by(mother.clone(), &[VC, HT, FK]));
    let state = one.state();
    assert_eq!(state.guardians_required, vec!["father", "mother"]);
    assert!(!state.consent_complete());
    // Consent from only one guardian is refused, naming the other.
    given(&one)
        .when(create_basis(), Who::Nurse.at(one.now))
        .then_error(DomainError::GuardianConsentMissing(
            "Vårdnadshavare Två".to_string(),
        ));
    assert!(
        DomainError::GuardianConsentMissing("Vårdnadshavare Två".to_string())
            .message()
            .contains("samtycke saknas från vårdnadshavaren Vårdnadshavare Två")
    );
    let policy = PolicyProfile::get(PolicyName::Stockholm);
    assert_eq!(
        obligations(&state, &policy)
            .iter()
            .map(|o| o.kind)
            .collect::<Vec<_>>(),
        vec![ObligationKind::GetConsent]
    );
    let both = one
        .run(Who::Nurse, consent_by(father, &[VC, HT]))
        .run(Who::Nurse, create_basis());
    assert!(both.state().consent_complete());
    // Only actors both guardians consented to may be invited.
    given(&both)
        .when(
            invite("inv-1", meeting_time(), vec![unit_recipient(FK)]),
            Who::Nurse.at(both.now),
        )
        .then_error(DomainError::ActorNotCoveredByConsent(
            unit(FK),
            "Försäkringskassan Luleå".to_string(),
        ));
    given(&both)
        .when(
            invite("inv-1", meeting_time(), vec![unit_recipient(HT)]),
            Who::Nurse.at(both.now),
        )
        .then_ok();
    // A person who is not a guardian cannot consent as one.
    given(&story)
        .with_facts(facts_for(person_with(
            "20150304-2382",
            &[PersonCommand::AddRelative(person::AddRelative {
                relative_id: "aunt".to_string(),
                kind: person::RelativeKind::Relative,
                name: "Moster".to_string(),
                phone: None,
                address: None,
                note: None,
                personal_identity_number: None,
            })],
        )))
        .when(
            consent_by(
                ConsentGiver::Guardian {
                    relative_id: "aunt".to_string(),
                },
                &[VC],
            ),
            Who::Nurse.at(story.now),
        )
        .then_error(DomainError::NotAGuardian("aunt".to_string()));
}

/// Örebro (000): withdrawn consent means the coordinator closes the plan; "Det sker alltså
/// inte med automatik".
#[test]
fn withdrawn_consent_gives_the_coordinator_a_to_do_to_close() {
    let policy = PolicyProfile::get(PolicyName::Orebro);
    let story = Story::meeting_held().run(
        Who::HomeCare,
        SipCommand::WithdrawConsent(WithdrawConsent {
            withdrawn_by: ConsentGiver::Person,
            note: Some("Meddelat hemtjänsten".to_string()),
        }),
    );
    let state = story.state();
    assert!(!state.is_closed(), "closing is never automatic");
    let due = obligations(&state, &policy);
    assert_eq!(due.len(), 1, "{:?}", kinds(&due));
    assert_eq!(due[0].kind, ObligationKind::ClosePlan);
    assert_eq!(due[0].owner, coordinator_owner());
    assert!(due[0].title.contains("samtycket har återkallats"));
    let closed = story.run(Who::Nurse, close(CloseReason::ConsentWithdrawn));
    assert!(obligations(&closed.state(), &policy).is_empty());
}

/// Örebro (000): protected identity means the plan must be closed.
#[test]
fn protected_identity_gives_the_coordinator_a_to_do_to_close() {
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let mut story = Story::invited();
    let protected = person_with("19460812-1234", &[PersonCommand::MarkProtectedIdentity]);
    assert!(protected.protected_identity);
    story.facts.person = Some(protected.clone());
    let mut state = story.state();
    state.observe_person(&protected);
    let due = obligations(&state, &policy);
    assert_eq!(due.len(), 1, "{:?}", kinds(&due));
    assert_eq!(due[0].kind, ObligationKind::ClosePlan);
    assert_eq!(due[0].owner, coordinator_owner());
    assert!(due[0].title.contains("skyddade personuppgifter"));
    // Nothing more is sent about the person.
    given(&story)
        .when(
            invite("inv-2", meeting_time(), vec![unit_recipient(HT)]),
            Who::Nurse.at(story.now),
        )
        .then_error(DomainError::ProtectedIdentity);
    let closed = story.run(Who::Nurse, close(CloseReason::ProtectedIdentity));
    let mut state = closed.state();
    state.observe_person(&protected);
    assert!(obligations(&state, &policy).is_empty());
}

/// Örebro (001): "Om den enskilde inte samtycker … dokumenteras i journalen och information
/// lämnas till kommunen. … kan ingen SIP hållas."
#[test]
fn declined_consent_asks_to_document_in_the_journal_and_at_discharge_inform_the_municipality() {
    let policy = PolicyProfile::get(PolicyName::Orebro);
    let story = Story::need_identified().run(
        Who::Nurse,
        SipCommand::DeclineConsent(DeclineConsent {
            declined_by: ConsentGiver::Person,
            note: None,
        }),
    );
    let due = obligations(&story.state(), &policy);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].kind, ObligationKind::DocumentDeclinedConsent);
    assert_eq!(due[0].owner, coordinator_owner());
    // Outpatient, the refusal is documented where the need was noticed (003); only at discharge
    // is there a municipality waiting to be told (001).
    assert_eq!(
        due[0].title,
        "Samtycke nekat: dokumentera i journalen och avsluta ärendet"
    );
    let at_discharge = Story::new(adult())
        .run(
            Who::Nurse,
            identify_need(NeedContext {
                kind: CareContextKind::Discharge,
                track: Some(Track::Green),
                discharge_ready_at: Some(t0()),
            }),
        )
        .run(
            Who::Nurse,
            SipCommand::DeclineConsent(DeclineConsent {
                declined_by: ConsentGiver::Person,
                note: None,
            }),
        );
    let due = obligations(&at_discharge.state(), &policy);
    assert_eq!(
        due[0].title,
        "Samtycke nekat: dokumentera i journalen, informera kommunen och avsluta ärendet"
    );
    // Nobody coordinates yet: the unit that noticed the need closes the case.
    given(&story)
        .when(
            close(CloseReason::ConsentDeclined),
            Who::Outsider.at(story.now),
        )
        .then_error(DomainError::NotCoordinator);
    let closed = story.run(Who::Colleague, close(CloseReason::ConsentDeclined));
    assert!(obligations(&closed.state(), &policy).is_empty());
}

/// Stockholm (003): SIP-kollen is offered at the end of the meeting.
#[test]
fn stockholm_view_reminds_to_offer_the_sip_survey_until_the_meeting() {
    let stockholm = PolicyProfile::get(PolicyName::Stockholm);
    let norrbotten = PolicyProfile::get(PolicyName::Norrbotten);
    let invited = Story::invited();
    let now = invited.now;
    assert!(view_for_unit(&invited.state(), &unit(VC), &stockholm, now).offer_sip_survey);
    assert!(!view_for_unit(&invited.state(), &unit(VC), &norrbotten, now).offer_sip_survey);
    let held = Story::meeting_held();
    assert!(!view_for_unit(&held.state(), &unit(VC), &stockholm, now).offer_sip_survey);
}

#[test]
fn view_marks_overdue_deadlines_and_shows_consent_status() {
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let story = Story::need_identified();
    let state = story.state();
    let early = view_for_unit(&state, &unit(VC), &policy, t0());
    assert_eq!(early.consent.status, ConsentStatus::Missing);
    assert!(!early.deadlines[0].overdue);
    let late = view_for_unit(&state, &unit(VC), &policy, t0() + Duration::days(10));
    assert!(late.deadlines[0].overdue);
    let consented = Story::consented().state();
    let view = view_for_unit(&consented, &unit(VC), &policy, t0());
    assert_eq!(view.consent.status, ConsentStatus::Given);
    assert_eq!(view.consent.actors, vec![unit(FK), unit(HT), unit(VC)]);
    let expired = view_for_unit(&consented, &unit(VC), &policy, utc(2027, 1, 2, 12, 0));
    assert_eq!(expired.consent.status, ConsentStatus::Expired);
    let json = serde_json::to_value(&view).expect("view serialises");
    assert_eq!(json["phase"], "awaiting_plan_basis");
    assert_eq!(json["deadlines"][0]["kind"], "create_plan_basis");
}

/// Örebro (000): moving out of the county or dying also means the coordinator closes the plan.
#[test]
fn death_or_moving_out_gives_the_coordinator_a_to_do_to_close() {
    let policy = PolicyProfile::get(PolicyName::Stockholm);
    let state = Story::documented().state();
    for (cmd, words, reason) in [
        (
            PersonCommand::RegisterDeath(person::RegisterDeath {
                died_on: date(2026, 1, 20),
            }),
            "avlidit",
            CloseReason::Deceased,
        ),
        (
            PersonCommand::RegisterMovedOut(person::RegisterMovedOut {
                moved_on: date(2026, 1, 20),
                to_region: Some("Region Västerbotten".to_string()),
            }),
            "flyttat",
            CloseReason::MovedOutOfRegion,
        ),
    ] {
        let person = person_with("19460812-1234", &[cmd]);
        let mut observed = state.clone();
        observed.observe_person(&person);
        let due = obligations(&observed, &policy);
        assert_eq!(
            kinds(&due),
            vec![(ObligationKind::ClosePlan, VC.to_string())]
        );
        assert!(due[0].title.contains(words), "{}", due[0].title);
        // Closing with that reason needs no follow-up first, and ends every to-do.
        let mut story = Story::documented();
        story.facts.person = Some(person.clone());
        let mut closed = story.run(Who::Nurse, close(reason)).state();
        closed.observe_person(&person);
        assert!(obligations(&closed, &policy).is_empty());
    }
}

/// Consent is time-limited ("Samtycket är tidsbegränsat", 003): the coordinator is reminded a
/// month before it runs out, the reminder stays, overdue, after it has, and consent recorded anew
/// settles it and starts the next one.
#[test]
fn consent_that_runs_out_is_renewed_after_a_reminder_a_month_ahead() {
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let story = Story::documented();
    let state = story.state();
    // The fixtures' consent holds through 31 December 2026.
    let renew = find(&obligations(&state, &policy), ObligationKind::RenewConsent).clone();
    assert_eq!(renew.owner, coordinator_owner());
    assert_eq!(renew.due_at, Some(end_of_local_day(date(2026, 12, 31))));
    assert_eq!(
        renew.shown_from,
        Some(start_of_local_day(date(2026, 12, 1)))
    );
    assert_eq!(renew.reference.as_deref(), Some("2026-12-31"));
    assert_eq!(
        renew.title,
        "Förnya samtycket till SIP: det gäller till och med 31 december 2026"
    );
    // Every other to-do is shown at once.
    assert!(obligations(&state, &policy)
        .iter()
        .filter(|o| o.kind != ObligationKind::RenewConsent)
        .all(|o| o.shown_from.is_none()));
    // The plan's page lists it from the first of December, overdue after New Year's Eve.
    let listed = |at| {
        view_for_unit(&state, &unit(VC), &policy, at)
            .deadlines
            .into_iter()
            .find(|d| d.obligation.kind == ObligationKind::RenewConsent)
    };
    assert!(listed(utc(2026, 11, 30, 22, 59)).is_none());
    assert!(listed(utc(2026, 11, 30, 23, 0)).is_some_and(|d| !d.overdue));
    assert!(listed(utc(2027, 1, 2, 9, 0)).is_some_and(|d| d.overdue));
    // Consent runs out: what needs it is refused until it is renewed.
    let mut lapsed = story.clone();
    lapsed.now = utc(2027, 1, 4, 9, 0);
    given(&lapsed)
        .when(
            invite("inv-2", utc(2027, 1, 20, 9, 0), vec![unit_recipient(HT)]),
            Who::Nurse.at(lapsed.now),
        )
        .then_error(DomainError::ConsentExpired);
    // Renewed in December for a year more: the reminder is settled and the next one waits.
    let mut renewed = story;
    renewed.now = utc(2026, 12, 10, 9, 0);
    let renewed = renewed.run(
        Who::Nurse,
        SipCommand::RecordConsent(RecordConsent {
            given_by: ConsentGiver::Person,
            actors: vec![unit(VC), unit(HT), unit(FK)],
            topics: vec!["Stöd i hemmet".to_string()],
            valid_until: date(2027, 12, 31),
            person_accepted_representative: false,
            relatives: None,
        }),
    );
    let next = find(
        &obligations(&renewed.state(), &policy),
        ObligationKind::RenewConsent,
    )
    .clone();
    assert_eq!(next.reference.as_deref(), Some("2027-12-31"));
    assert_eq!(next.shown_from, Some(start_of_local_day(date(2027, 12, 1))));
    // A closed plan owes nothing, consent included.
    assert!(obligations(&Story::closed().state(), &policy).is_empty());
}

/// A child's guardians consent for them until the child turns 18 (001: "barn under 18 år");
/// from the birthday the person consents themselves. The coordinator is asked ahead of the
/// birthday when the guardians' consent would outlast it.
#[test]
fn a_child_about_to_turn_18_is_asked_for_their_own_consent() {
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let mother = ConsentGiver::Guardian {
        relative_id: "mother".to_string(),
    };
    let father = ConsentGiver::Guardian {
        relative_id: "father".to_string(),
    };
    let consent_until = |given_by, valid_until| {
        SipCommand::RecordConsent(RecordConsent {
            given_by,
            actors: vec![unit(VC), unit(HT)],
            topics: vec!["Skolgång".to_string()],
            valid_until,
            person_accepted_representative: false,
            relatives: None,
        })
    };
    // The child was born on 4 March 2015: 18 on 4 March 2033.
    let person = child();
    assert_eq!(person.adult_on(), Some(date(2033, 3, 4)));
    let story = Story::new(person.clone())
        .run(Who::Nurse, identify_need(outpatient()))
        .run(Who::Nurse, consent_until(mother.clone(), date(2033, 6, 30)))
        .run(Who::Nurse, consent_until(father.clone(), date(2034, 1, 31)))
        .run(Who::Nurse, create_basis());
    let mut state = story.state();
    state.observe_person(&person);
    let ask = find(&obligations(&state, &policy), ObligationKind::RenewConsent).clone();
    assert_eq!(ask.due_at, Some(end_of_local_day(date(2033, 3, 3))));
    assert_eq!(ask.shown_from, Some(start_of_local_day(date(2033, 2, 1))));
    assert_eq!(
        ask.title,
        "Inhämta personens eget samtycke till SIP: vårdnadshavarnas gäller inte från \
         18-årsdagen 4 mars 2033"
    );
    // A guardian's consent that ends before the birthday is what is renewed first.
    let short = Story::new(person.clone())
        .run(Who::Nurse, identify_need(outpatient()))
        .run(Who::Nurse, consent_until(mother, date(2027, 2, 28)))
        .run(Who::Nurse, consent_until(father, date(2034, 1, 31)));
    let mut short_state = short.state();
    short_state.observe_person(&person);
    let renew = find(
        &obligations(&short_state, &policy),
        ObligationKind::RenewConsent,
    )
    .clone();
    assert_eq!(renew.reference.as_deref(), Some("2027-02-28"));
    assert!(renew.title.starts_with("Förnya samtycket"));
    // On the birthday the guardians' consent no longer counts; the person's own settles it.
    let mut adult = story;
    adult.now = utc(2033, 3, 4, 9, 0);
    given(&adult)
        .when(
            invite("inv-1", utc(2033, 3, 20, 9, 0), vec![unit_recipient(HT)]),
            Who::Nurse.at(adult.now),
        )
        .then_error(DomainError::ConsentMissing);
    let own = adult.run(
        Who::Nurse,
        consent_until(ConsentGiver::Person, date(2034, 3, 3)),
    );
    let mut own_state = own.state();
    own_state.observe_person(&person);
    let next = find(
        &obligations(&own_state, &policy),
        ObligationKind::RenewConsent,
    )
    .clone();
    assert_eq!(next.reference.as_deref(), Some("2034-03-03"));
    assert!(next.title.starts_with("Förnya samtycket"));
}

/// "En SIP ska innehålla: huvudmål, delmål, insats för varje delmål" (001): a unit's part is not
/// documented while one of its published delmål has no insats, for a unit in samplan and for
/// one the coordinator documents for alike.
#[test]
fn a_delmal_without_an_insats_leaves_the_documentation_owed() {
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let publish = || SipCommand::PublishContribution(PublishContribution {});
    let owes = |story: &Story, kind: ObligationKind, unit_id: &str| {
        obligations(&story.state(), &policy).iter().any(|o| {
            o.kind == kind
                && match kind {
                    ObligationKind::DocumentForExternalActor => {
                        o.reference.as_deref() == Some(unit_id)
                    }
                    _ => o.owner.unit().as_str() == unit_id,
                }
        })
    };
    let story = Story::meeting_held()
        .run(Who::Nurse, sub_goal("sg-fk", responsible_unit(FK)))
        .run(Who::Nurse, publish())
        .run(Who::HomeCare, sub_goal("sg-ht", responsible_unit(HT)))
        .run(Who::HomeCare, publish());
    assert!(owes(&story, ObligationKind::DocumentForExternalActor, FK));
    assert!(owes(&story, ObligationKind::DocumentContribution, HT));
    let story = story
        .run(
            Who::Nurse,
            intervention("in-fk", "sg-fk", responsible_unit(FK)),
        )
        .run(Who::Nurse, publish())
        .run(
            Who::HomeCare,
            intervention("in-ht", "sg-ht", responsible_unit(HT)),
        )
        .run(Who::HomeCare, publish());
    assert!(!owes(&story, ObligationKind::DocumentForExternalActor, FK));
    assert!(!owes(&story, ObligationKind::DocumentContribution, HT));
}
