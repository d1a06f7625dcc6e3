//! Property tests: random command sequences from random actors never panic, the fold is the
//! same however events are applied (and after a trip through the stored form), the to-do list
//! is empty exactly when nothing can be done, and a closed plan accepts nothing.

use chrono::{DateTime, Duration, Utc};
use domain::event::DomainEvent;
use domain::obligations::obligations;
use domain::policy::{PolicyName, PolicyProfile, Track};
use domain::sip::*;
use domain::DomainError;
use proptest::prelude::*;

use crate::support::*;

const UNITS: [&str; 6] = [VC, HT, FK, PSY, OTHER, "okand-enhet"];
const WHO: [Who; 6] = [
    Who::Nurse,
    Who::Colleague,
    Who::HomeCare,
    Who::Psychiatrist,
    Who::Outsider,
    Who::Citizen,
];

fn pick<T: Clone>(items: &[T], p: u8) -> T {
    items[usize::from(p) % items.len()].clone()
}

fn id(prefix: &str, p: u8) -> String {
    format!("{prefix}-{}", p % 3)
}

/// A command of kind `k` with parameters drawn from `p`, around `now`.
fn command(k: u8, p: u8, now: DateTime<Utc>) -> SipCommand {
    let later = now + Duration::hours(i64::from(p % 50) - 10);
    let day = domain::time::local_date(now) + Duration::days(i64::from(p % 40) - 5);
    let giver = match p % 4 {
        0 | 1 => ConsentGiver::Person,
        2 => ConsentGiver::Guardian {
            relative_id: pick(&["mother", "father"], p / 4).to_string(),
        },
        _ => ConsentGiver::Representative {
            relative_id: "daughter".to_string(),
        },
    };
    let responsible = if p % 5 == 0 {
        Responsible::Person
    } else {
        responsible_unit(pick(&UNITS, p))
    };
    match k % 21 {
        0 => identify_need(if p % 2 == 0 {
            outpatient()
        } else {
            NeedContext {
                kind: CareContextKind::Discharge,
                track: Some(pick(&[Track::Green, Track::Yellow, Track::Red], p)),
                discharge_ready_at: Some(now),
            }
        }),
        1 | 2 => {
            let actors: Vec<&str> = UNITS
                .iter()
                .enumerate()
                .filter(|(i, _)| p & (1 << i) != 0 || *i < 2)
                .map(|(_, u)| *u)
                .take(if p % 7 == 0 { 6 } else { 3 })
                .collect();
            let mut cmd = consent_by(giver, &actors);
            if let SipCommand::RecordConsent(c) = &mut cmd {
                c.person_accepted_representative = p % 2 == 0;
                c.valid_until = day + Duration::days(30);
            }
            cmd
        }
        3 => SipCommand::DeclineConsent(DeclineConsent {
            declined_by: giver,
            note: None,
        }),
        4 => SipCommand::WithdrawConsent(WithdrawConsent {
            withdrawn_by: giver,
            note: None,
        }),
        5 => create_basis(),
        6 => SipCommand::ChangeCoordinator(ChangeCoordinator {
            staff_id: staff(pick(&[NURSE, NURSE_2, HOME_CARE, PSYCHIATRIST], p)),
            name: "Ny samordnare".to_string(),
            unit_id: unit(pick(&UNITS, p)),
            reason: None,
        }),
        7 => SipCommand::DocumentMapping(DocumentMapping {
            mapping_id: id("m", p),
            heading: pick(&["housing", "mental_health", "bogus"], p).to_string(),
            text: "Text".to_string(),
        }),
        8 | 9 => {
            let mut recipients: Vec<Recipient> = UNITS
                .iter()
                .enumerate()
                .filter(|(i, _)| p & (1 << i) != 0)
                .map(|(_, u)| unit_recipient(u))
                .collect();
            if p % 3 == 0 {
                recipients.push(Recipient::Person);
            }
            let mut cmd = invite(&id("inv", p), later, recipients);
            if let SipCommand::SendInvitation(c) = &mut cmd {
                if p % 4 == 0 {
                    c.purpose = InvitationPurpose::FollowUp;
                }
            }
            cmd
        }
        10 => SipCommand::RespondToInvitation(RespondToInvitation {
            invitation_id: id("inv", p),
            representative: Representative {
                name: "Representant".to_string(),
                staff_id: None,
                profession: None,
                phone: None,
            },
        }),
        11 => SipCommand::CancelInvitation(CancelInvitation {
            invitation_id: id("inv", p),
            reason: None,
        }),
        12 => SipCommand::RescheduleMeeting(RescheduleMeeting {
            invitation_id: id("inv", p),
            scheduled_at: later,
            form: None,
            place: None,
            reason: None,
        }),
        13 => {
            let mut cmd = record_meeting(&id("inv", p), now - Duration::hours(i64::from(p % 3)));
            if let SipCommand::RecordMeeting(c) = &mut cmd {
                c.follow_up_on = Some(day + Duration::days(10));
                if p % 6 == 0 {
                    c.secretary = c.chair.clone();
                }
            }
            cmd
        }
        14 => SipCommand::DocumentMainGoal(DocumentMainGoal {
            text: "Huvudmål".to_string(),
        }),
        15 => sub_goal(&id("g", p), responsible),
        16 => intervention(&id("i", p), &id("g", p / 3), responsible),
        17 => SipCommand::PublishContribution(PublishContribution {}),
        18 => SipCommand::ScheduleFollowUp(ScheduleFollowUp {
            follow_up_on: day,
            note: None,
        }),
        19 => {
            let mut cmd = follow_up(&id("fu", p), day - Duration::days(10), None);
            if let SipCommand::RecordFollowUp(c) = &mut cmd {
                if p % 2 == 0 {
                    c.goals.clear();
                    c.interventions.push(InterventionFollowUp {
                        intervention_id: id("i", p / 2),
                        outcome: InterventionOutcome::Completed,
                        comment: None,
                    });
                }
            }
            cmd
        }
        _ => {
            if p % 9 == 0 {
                SipCommand::RecordDischarge(RecordDischarge {
                    discharged_at: later,
                })
            } else {
                close(pick(
                    &[
                        CloseReason::GoalsMet,
                        CloseReason::NoLongerNeeded,
                        CloseReason::ConsentWithdrawn,
                        CloseReason::ConsentDeclined,
                        CloseReason::ProtectedIdentity,
                        CloseReason::MovedOutOfRegion,
                        CloseReason::Deceased,
                        CloseReason::ReplacedByNewPlan,
                    ],
                    p,
                ))
            }
        }
    }
}

/// Who coordinates now, as a test actor.
fn coordinator(state: &SipState) -> Who {
    let id = state.coordinator().map(|c| c.staff_id.to_string());
    [
        Who::Nurse,
        Who::Colleague,
        Who::HomeCare,
        Who::Psychiatrist,
        Who::Outsider,
    ]
    .into_iter()
    .find(|w| Some(&w.actor().id) == id.as_ref())
    .unwrap_or(Who::Nurse)
}

/// The next step of the happy path from where the plan stands, so that random runs also reach
/// meetings, documentation, follow-ups and closing.
fn advance(state: &SipState, child_person: bool, p: u8, now: DateTime<Utc>) -> (Who, SipCommand) {
    let coord = coordinator(state);
    let today = domain::time::local_date(now);
    match state.phase() {
        SipPhase::NotStarted => (Who::Nurse, identify_need(outpatient())),
        SipPhase::AwaitingConsent | SipPhase::ConsentDeclined => {
            let giver = if child_person {
                ConsentGiver::Guardian {
                    relative_id: pick(&["mother", "father"], p).to_string(),
                }
            } else {
                ConsentGiver::Person
            };
            (Who::Nurse, consent_by(giver, &[VC, HT, FK]))
        }
        SipPhase::AwaitingPlanBasis => (Who::Nurse, create_basis()),
        SipPhase::Preparing => (
            coord,
            invite(
                &id("inv", p),
                now + Duration::days(2),
                vec![unit_recipient(HT), unit_recipient(FK), Recipient::Person],
            ),
        ),
        SipPhase::Invited => {
            let active = state
                .invitations
                .values()
                .find(|i| i.is_active())
                .map(|i| i.invitation_id.clone())
                .unwrap_or_default();
            if p % 3 == 0 {
                (
                    Who::HomeCare,
                    SipCommand::RespondToInvitation(RespondToInvitation {
                        invitation_id: active,
                        representative: Representative {
                            name: "Representant".to_string(),
                            staff_id: None,
                            profession: None,
                            phone: None,
                        },
                    }),
                )
            } else {
                let mut cmd = record_meeting(&active, now - Duration::hours(1));
                if let SipCommand::RecordMeeting(c) = &mut cmd {
                    c.follow_up_on = Some(today + Duration::days(20));
                }
                (coord, cmd)
            }
        }
        SipPhase::MeetingHeld => match p % 6 {
            0 => (
                coord,
                SipCommand::DocumentMainGoal(DocumentMainGoal {
                    text: "Huvudmål".to_string(),
                }),
            ),
            1 => (Who::HomeCare, sub_goal(&id("g", p), responsible_unit(HT))),
            2 => (
                Who::HomeCare,
                intervention(&id("i", p), &id("g", p / 6), responsible_unit(HT)),
            ),
            3 => (
                Who::HomeCare,
                SipCommand::PublishContribution(PublishContribution {}),
            ),
            4 => (
                coord,
                SipCommand::PublishContribution(PublishContribution {}),
            ),
            _ => (coord, follow_up(&id("fu", p), today, None)),
        },
        SipPhase::FollowedUp | SipPhase::ConsentWithdrawn => (
            coord,
            close(pick(
                &[CloseReason::GoalsMet, CloseReason::ConsentWithdrawn],
                p,
            )),
        ),
        SipPhase::Closed => (coord, close(CloseReason::GoalsMet)),
    }
}

/// (who, command kind, parameter, minutes to advance first); kinds below 90 take the next
/// happy-path step instead of a random command.
type Step = (u8, u8, u8, u16);

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), 0u16..3000), 0..60)
}

struct Run {
    /// The state as kept while deciding: each decision's events applied at once.
    state: SipState,
    events: Vec<SipEvent>,
    facts: SipFacts,
    now: DateTime<Utc>,
}

fn run(child_person: bool, steps: &[Step]) -> Run {
    let facts = facts_for(if child_person { child() } else { adult() });
    let policy = PolicyProfile::get(PolicyName::Norrbotten);
    let mut run = Run {
        state: SipState::default(),
        events: Vec::new(),
        facts,
        now: t0(),
    };
    // Always start the plan, so that the random steps reach past step 1.
    let start = identify_need(outpatient());
    let started = decide(&run.state, &start, &run.facts, &Who::Nurse.at(run.now));
    for ev in started.expect("the plan starts") {
        run.state = evolve(run.state, &ev);
        run.events.push(ev);
    }
    for &(who, kind, p, minutes) in steps {
        run.now += Duration::minutes(i64::from(minutes));
        let (who, cmd) = if kind < 90 {
            advance(&run.state, child_person, p, run.now)
        } else {
            (pick(&WHO, who), command(kind, p, run.now))
        };
        let ctx = who.at(run.now);
        let first = decide(&run.state, &cmd, &run.facts, &ctx);
        assert_eq!(
            first,
            decide(&run.state, &cmd, &run.facts, &ctx),
            "decide is deterministic"
        );
        if let Ok(events) = first {
            for ev in events {
                run.state = evolve(run.state, &ev);
                run.events.push(ev);
            }
        }
        // Reading the plan never fails, whatever state it is in.
        let due = obligations(&run.state, &policy);
        assert_eq!(
            due.is_empty(),
            run.state.is_closed(),
            "open plans always owe something"
        );
        let _ = view_for_unit(&run.state, &unit(VC), &policy, run.now);
    }
    run
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_never_panic_and_keep_invariants(child_person in any::<bool>(), steps in steps()) {
        let run = run(child_person, &steps);
        prop_assert!(run.state.exists());
        prop_assert!(run.state.participates(&unit(VC)), "the unit that noticed the need always takes part");
    }

    #[test]
    fn folding_all_events_at_once_equals_folding_them_one_by_one(child_person in any::<bool>(), steps in steps(), split in any::<prop::sample::Index>()) {
        let run = run(child_person, &steps);
        let all_at_once = fold(&run.events);
        prop_assert_eq!(&all_at_once, &run.state);
        let k = split.index(run.events.len() + 1);
        let resumed = run.events[k..].iter().fold(fold(&run.events[..k]), evolve);
        prop_assert_eq!(&resumed, &run.state);
        // The same after a trip through the stored form (type, schema version, JSON).
        let decoded: Vec<SipEvent> = run
            .events
            .iter()
            .map(|e| {
                let (t, v, data) = e.encode();
                SipEvent::decode(t, v, data).expect("own events decode")
            })
            .collect();
        prop_assert_eq!(&decoded, &run.events);
        let stored: Vec<DomainEvent> = run.events.iter().cloned().map(DomainEvent::from).collect();
        prop_assert!(stored.iter().all(|e| e.category() == "sip"));
    }

    #[test]
    fn a_closed_plan_accepts_nothing(kind in any::<u8>(), p in any::<u8>(), who in any::<u8>(), steps in steps()) {
        let story = Story::closed();
        let state = story.state();
        let cmd = command(kind, p, story.now);
        let result = decide(&state, &cmd, &story.facts, &pick(&WHO, who).at(story.now));
        prop_assert_eq!(result, Err(DomainError::PlanClosed));
        // Also for plans closed at random points of a random history.
        let run = run(false, &steps);
        if run.state.is_closed() {
            let result = decide(&run.state, &cmd, &run.facts, &pick(&WHO, who).at(run.now));
            prop_assert_eq!(result, Err(DomainError::PlanClosed));
        }
    }
}

/// The generator must reach every phase, or the properties above would say little about the
/// later steps (a closed plan, for one).
#[test]
fn random_sequences_reach_every_phase() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;

    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..400 {
        let steps = steps()
            .new_tree(&mut runner)
            .expect("generate steps")
            .current();
        let r = run(i % 4 == 0, &steps);
        let mut state = SipState::default();
        for ev in &r.events {
            state = evolve(state, ev);
            let phase = serde_json::to_value(state.phase()).expect("phase serialises");
            *seen
                .entry(phase.as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
    }
    for phase in [
        "awaiting_consent",
        "consent_declined",
        "consent_withdrawn",
        "awaiting_plan_basis",
        "preparing",
        "invited",
        "meeting_held",
        "followed_up",
        "closed",
    ] {
        assert!(seen.contains_key(phase), "never reached {phase}: {seen:?}");
    }
}
