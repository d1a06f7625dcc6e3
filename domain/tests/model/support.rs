//! Fixtures and a given/when/then harness for SIP decisions, without any database.
//!
//! Histories are produced by running real commands through `decide` and `evolve`, so a "given"
//! is always a history the domain itself could have written.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use domain::context::{Actor, Context, Role};
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::person::{self, PersonCommand, PersonState, RelativeKind};
use domain::sip::*;
use domain::unit::{Principal, PrincipalKind, Unit, UnitState};
use domain::DomainError;
use ulid::Ulid;

/// Monday 2 March 2026, 08:00 UTC (09:00 in Sweden), a working day.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0)
        .single()
        .expect("valid time")
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub fn unit(id: &str) -> UnitId {
    UnitId::parse(id).expect("valid unit id")
}

pub fn staff(id: &str) -> StaffId {
    StaffId::parse(id).expect("valid staff id")
}

/// Vårdcentral (region); its nurse starts the plans and coordinates.
pub const VC: &str = "vc-haparanda";
/// Hemtjänst (municipality).
pub const HT: &str = "hemtjanst-haparanda";
/// Försäkringskassan: external, no samplan, reached by letter.
pub const FK: &str = "fk-lulea";
/// Psychiatry (region), not covered by consent in most tests.
pub const PSY: &str = "psykiatri-lulea";
/// A unit with nothing to do with the plan.
pub const OTHER: &str = "vc-kiruna";

pub const NURSE: &str = "SE2321000016-VC01";
pub const NURSE_2: &str = "SE2321000016-VC02";
pub const HOME_CARE: &str = "SE2120000016-HT01";
pub const PSYCHIATRIST: &str = "SE2321000016-PS01";
pub const OUTSIDER: &str = "SE2321000016-KI01";

pub fn sip_id() -> SipId {
    SipId::from_ulid(Ulid::from_parts(1_700_000_000_000, 1))
}

pub fn person_id() -> PersonId {
    PersonId::from_ulid(Ulid::from_parts(1_700_000_000_000, 2))
}

pub fn actor(id: &str, unit_id: &str, role: Role) -> Actor {
    Actor {
        id: id.to_string(),
        name: format!("Namn {id}"),
        unit: Some(unit(unit_id)),
        role,
    }
}

/// Who acts in the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The nurse at the vårdcentral who notices the need and coordinates.
    Nurse,
    /// A second nurse at the same vårdcentral (not the coordinator).
    Colleague,
    /// Staff at hemtjänsten.
    HomeCare,
    /// Staff at psychiatry.
    Psychiatrist,
    /// Staff at a unit that takes no part.
    Outsider,
    /// The person, logged in as a citizen.
    Citizen,
    Admin,
}

impl Who {
    pub fn actor(self) -> Actor {
        match self {
            Who::Nurse => actor(NURSE, VC, Role::Staff),
            Who::Colleague => actor(NURSE_2, VC, Role::Staff),
            Who::HomeCare => actor(HOME_CARE, HT, Role::Staff),
            Who::Psychiatrist => actor(PSYCHIATRIST, PSY, Role::Staff),
            Who::Outsider => actor(OUTSIDER, OTHER, Role::Staff),
            Who::Citizen => Actor {
                id: person_id().to_string(),
                name: "Den enskilde".to_string(),
                unit: None,
                role: Role::Citizen,
            },
            Who::Admin => Actor {
                id: "admin-1".to_string(),
                name: "Administratör".to_string(),
                unit: None,
                role: Role::Admin,
            },
        }
    }

    pub fn at(self, now: DateTime<Utc>) -> Context {
        Context {
            actor: self.actor(),
            now,
        }
    }
}

fn registered_unit(id: &str, name: &str, kind: PrincipalKind, uses_samplan: bool) -> UnitState {
    UnitState::registered(Unit {
        id: unit(id),
        name: name.to_string(),
        principal: Principal {
            kind,
            name: match kind {
                PrincipalKind::Region => "Region Norrbotten".to_string(),
                PrincipalKind::Municipality => "Haparanda kommun".to_string(),
                PrincipalKind::External => "Försäkringskassan".to_string(),
            },
        },
        uses_samplan,
        address: Some(format!("{name}, Storgatan 1, 953 31 Haparanda")),
        phone: Some("0922-100 00".to_string()),
    })
}

pub fn units() -> BTreeMap<UnitId, UnitState> {
    [
        registered_unit(VC, "Vårdcentralen Haparanda", PrincipalKind::Region, true),
        registered_unit(
            HT,
            "Hemtjänsten Haparanda",
            PrincipalKind::Municipality,
            true,
        ),
        registered_unit(
            FK,
            "Försäkringskassan Luleå",
            PrincipalKind::External,
            false,
        ),
        registered_unit(
            PSY,
            "Psykiatriska mottagningen Luleå",
            PrincipalKind::Region,
            true,
        ),
        registered_unit(OTHER, "Vårdcentralen Kiruna", PrincipalKind::Region, true),
    ]
    .into_iter()
    .map(|u| (u.unit.as_ref().expect("registered").id.clone(), u))
    .collect()
}

/// Runs person commands through the person stream's own decide/evolve.
pub fn person_with(pin: &str, steps: &[PersonCommand]) -> PersonState {
    let ctx = Who::Nurse.at(t0() - Duration::days(30));
    let mut cmds = vec![PersonCommand::RegisterPerson(person::RegisterPerson {
        person_id: person_id(),
        personal_identity_number: pin.to_string(),
        name: "Tolvan Tolvansson".to_string(),
        phone: Some("070-123 45 67".to_string()),
        address: Some("Storgatan 2, 953 31 Haparanda".to_string()),
    })];
    cmds.extend(steps.iter().cloned());
    let mut state = PersonState::default();
    for cmd in &cmds {
        for ev in person::decide(&state, cmd, &ctx).expect("person command accepted") {
            state = person::evolve(state, &ev);
        }
    }
    state
}

/// An adult (born 1946) with a närstående (daughter).
pub fn adult() -> PersonState {
    person_with(
        "19460812-1234",
        &[PersonCommand::AddRelative(person::AddRelative {
            relative_id: "daughter".to_string(),
            kind: RelativeKind::Relative,
            name: "Närstående Tolvansson".to_string(),
            phone: Some("070-765 43 21".to_string()),
            address: Some("Köpmansgatan 3, 972 31 Luleå".to_string()),
            note: None,
            personal_identity_number: None,
        })],
    )
}

/// An adult with a god man ("god-man"), who represents them by the court's decision.
pub fn adult_with_god_man() -> PersonState {
    person_with(
        "19460812-1234",
        &[PersonCommand::AddRelative(person::AddRelative {
            relative_id: "god-man".to_string(),
            kind: RelativeKind::Trustee,
            name: "God man Gustafsson".to_string(),
            phone: None,
            address: None,
            note: None,
            personal_identity_number: None,
        })],
    )
}

pub fn guardian(id: &str, name: &str) -> PersonCommand {
    PersonCommand::AddRelative(person::AddRelative {
        relative_id: id.to_string(),
        kind: RelativeKind::Guardian,
        name: name.to_string(),
        phone: Some("070-000 00 00".to_string()),
        address: None,
        note: None,
        personal_identity_number: None,
    })
}

/// A child born 2015 with two registered guardians, "mother" and "father".
pub fn child() -> PersonState {
    person_with(
        "20150304-2382",
        &[
            guardian("mother", "Vårdnadshavare Ett"),
            guardian("father", "Vårdnadshavare Två"),
        ],
    )
}

pub fn facts_for(person: PersonState) -> SipFacts {
    SipFacts {
        person: Some(person),
        units: units(),
        chair_may_be_secretary: false,
        discharge_needs_track: false,
        own_consent_days_before_18: 0,
    }
}

// ---------------------------------------------------------------- commands with good defaults

pub fn identify_need(context: NeedContext) -> SipCommand {
    SipCommand::IdentifyNeed(IdentifyNeed {
        sip_id: sip_id(),
        person_id: person_id(),
        identified_by: IdentifiedBy::Staff,
        reason: "Behöver samordnade insatser från vårdcentral och hemtjänst".to_string(),
        known_since: None,
        context,
    })
}

pub fn outpatient() -> NeedContext {
    NeedContext {
        kind: CareContextKind::Outpatient,
        track: None,
        discharge_ready_at: None,
    }
}

pub fn consent_by(given_by: ConsentGiver, actors: &[&str]) -> SipCommand {
    SipCommand::RecordConsent(RecordConsent {
        given_by,
        actors: actors.iter().map(|a| unit(a)).collect(),
        topics: vec!["Stöd i hemmet".to_string(), "Läkemedel".to_string()],
        valid_until: date(2026, 12, 31),
        person_accepted_representative: false,
        relatives: None,
    })
}

pub fn consent(actors: &[&str]) -> SipCommand {
    consent_by(ConsentGiver::Person, actors)
}

pub fn create_basis() -> SipCommand {
    SipCommand::CreatePlanBasis(CreatePlanBasis {
        initiated_by: Some("Vårdcentralen Haparanda".to_string()),
        fixed_care_contacts: vec![FixedCareContact {
            name: "Distriktssköterska VC".to_string(),
            unit_id: Some(unit(VC)),
            phone: Some("0922-100 01".to_string()),
        }],
    })
}

pub fn invite(id: &str, at: DateTime<Utc>, recipients: Vec<Recipient>) -> SipCommand {
    SipCommand::SendInvitation(SendInvitation {
        invitation_id: id.to_string(),
        purpose: InvitationPurpose::Meeting,
        scheduled_at: at,
        form: MeetingForm::InPerson,
        place: Some("Vårdcentralen, rum 3".to_string()),
        reason: "Planera stöd i hemmet efter fallolycka".to_string(),
        recipients,
    })
}

/// Hemtjänsten appoints its representative to kallelse `invitation_id`.
pub fn respond(invitation_id: &str) -> SipCommand {
    SipCommand::RespondToInvitation(RespondToInvitation {
        invitation_id: invitation_id.to_string(),
        representative: Representative {
            name: "Undersköterska HT".to_string(),
            staff_id: None,
            profession: Some("undersköterska".to_string()),
            phone: Some("0922-200 10".to_string()),
        },
    })
}

pub fn unit_recipient(id: &str) -> Recipient {
    Recipient::Unit { unit_id: unit(id) }
}

pub fn record_meeting(invitation_id: &str, held_at: DateTime<Utc>) -> SipCommand {
    SipCommand::RecordMeeting(RecordMeeting {
        invitation_id: invitation_id.to_string(),
        held_at,
        attendees: vec![
            Attendee {
                name: "Tolvan Tolvansson".to_string(),
                role: AttendeeRole::Person,
                unit_id: None,
            },
            Attendee {
                name: "Namn SE2120000016-HT01".to_string(),
                role: AttendeeRole::Staff,
                unit_id: Some(unit(HT)),
            },
        ],
        chair: "Mötesledare A".to_string(),
        secretary: "Sekreterare B".to_string(),
        new_coordinator: None,
        follow_up_on: Some(date(2026, 6, 1)),
        sip_survey_offered: None,
    })
}

pub fn sub_goal(id: &str, responsible: Responsible) -> SipCommand {
    SipCommand::DocumentSubGoal(DocumentSubGoal {
        sub_goal_id: id.to_string(),
        heading: "daily_living".to_string(),
        text: "Klara morgonrutinerna själv".to_string(),
        responsible,
    })
}

pub fn intervention(id: &str, sub_goal_id: &str, responsible: Responsible) -> SipCommand {
    SipCommand::DocumentIntervention(DocumentIntervention {
        intervention_id: id.to_string(),
        sub_goal_id: sub_goal_id.to_string(),
        what: "Stöd vid dusch två gånger i veckan".to_string(),
        responsible,
        responsible_person: Some("Enhetschef hemtjänst".to_string()),
        performer: Some("Hemtjänstpersonalen".to_string()),
        contact: Some("0922-200 00".to_string()),
        from: date(2026, 3, 10),
        to: Some(date(2026, 6, 1)),
    })
}

pub fn responsible_unit(id: &str) -> Responsible {
    Responsible::Unit { unit_id: unit(id) }
}

pub fn close(reason: CloseReason) -> SipCommand {
    SipCommand::ClosePlan(ClosePlan {
        reason,
        note: None,
        replaced_by: None,
    })
}

pub fn follow_up(id: &str, held_on: NaiveDate, next: Option<NaiveDate>) -> SipCommand {
    SipCommand::RecordFollowUp(RecordFollowUp {
        follow_up_id: id.to_string(),
        held_on,
        invitation_id: None,
        interventions: Vec::new(),
        goals: vec![GoalFollowUp {
            sub_goal_id: None,
            reached: true,
            comment: None,
        }],
        next_follow_up_on: next,
        note: Some("Uppföljning per telefon".to_string()),
    })
}

// ---------------------------------------------------------------- stories (histories)

/// A plan's history built by running commands; each step must be accepted.
#[derive(Debug, Clone)]
pub struct Story {
    pub events: Vec<SipEvent>,
    pub facts: SipFacts,
    pub now: DateTime<Utc>,
}

impl Story {
    pub fn new(person: PersonState) -> Story {
        Story {
            events: Vec::new(),
            facts: facts_for(person),
            now: t0(),
        }
    }

    pub fn state(&self) -> SipState {
        fold(&self.events)
    }

    pub fn advance(mut self, d: Duration) -> Story {
        self.now += d;
        self
    }

    pub fn attempt(&self, who: Who, cmd: &SipCommand) -> Result<Vec<SipEvent>, DomainError> {
        decide(&self.state(), cmd, &self.facts, &who.at(self.now))
    }

    /// Runs a command that must be accepted, and keeps its events.
    pub fn run(mut self, who: Who, cmd: SipCommand) -> Story {
        match self.attempt(who, &cmd) {
            Ok(events) => self.events.extend(events),
            Err(e) => panic!(
                "{} by {who:?} refused: {} ({})",
                cmd.name(),
                e.code(),
                e.message()
            ),
        }
        self
    }

    /// Outpatient need noticed by the nurse at t0.
    pub fn need_identified() -> Story {
        Story::new(adult()).run(Who::Nurse, identify_need(outpatient()))
    }

    /// … and the person consented to VC, HT and FK.
    pub fn consented() -> Story {
        Story::need_identified()
            .advance(Duration::hours(1))
            .run(Who::Nurse, consent(&[VC, HT, FK]))
    }

    /// … and the nurse created the basis (and so coordinates).
    pub fn with_basis() -> Story {
        Story::consented()
            .advance(Duration::hours(1))
            .run(Who::Nurse, create_basis())
    }

    /// … and invited hemtjänsten (digital), Försäkringskassan and the person (letters) to a
    /// meeting on Thursday 5 March 09:00 UTC, invitation "inv-1".
    pub fn invited() -> Story {
        Story::with_basis().advance(Duration::hours(1)).run(
            Who::Nurse,
            invite(
                "inv-1",
                meeting_time(),
                vec![unit_recipient(HT), unit_recipient(FK), Recipient::Person],
            ),
        )
    }

    /// … and the meeting was held and recorded an hour after it started.
    pub fn meeting_held() -> Story {
        let mut s = Story::invited();
        s.now = meeting_time() + Duration::hours(1);
        s.run(Who::Nurse, record_meeting("inv-1", meeting_time()))
    }

    /// … and the coordinator documented a main goal and a self-care sub-goal, hemtjänsten its
    /// sub-goal and intervention, and both published.
    pub fn documented() -> Story {
        Story::meeting_held()
            .run(
                Who::Nurse,
                SipCommand::DocumentMainGoal(DocumentMainGoal {
                    text: "Att kunna bo kvar hemma".to_string(),
                }),
            )
            .run(Who::HomeCare, sub_goal("sg-ht", responsible_unit(HT)))
            .run(
                Who::HomeCare,
                intervention("in-ht", "sg-ht", responsible_unit(HT)),
            )
            .run(Who::Nurse, sub_goal("sg-self", Responsible::Person))
            .run(
                Who::Nurse,
                SipCommand::PublishContribution(PublishContribution {}),
            )
            .run(
                Who::HomeCare,
                SipCommand::PublishContribution(PublishContribution {}),
            )
    }

    /// … and the coordinator followed the plan up on 1 June with no further date.
    pub fn followed_up() -> Story {
        let mut s = Story::documented();
        s.now = Utc
            .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
            .single()
            .expect("valid time");
        s.run(Who::Nurse, follow_up("fu-1", date(2026, 6, 1), None))
    }

    pub fn closed() -> Story {
        Story::followed_up().run(Who::Nurse, close(CloseReason::GoalsMet))
    }
}

/// Thursday 5 March 2026, 09:00 UTC.
pub fn meeting_time() -> DateTime<Utc> {
    t0() + Duration::days(3) + Duration::hours(1)
}

// ---------------------------------------------------------------- given / when / then

pub struct Given {
    events: Vec<SipEvent>,
    facts: SipFacts,
}

pub struct When {
    state: SipState,
    result: Result<Vec<SipEvent>, DomainError>,
    command: &'static str,
}

/// Past events in …
pub fn given(story: &Story) -> Given {
    Given {
        events: story.events.clone(),
        facts: story.facts.clone(),
    }
}

impl Given {
    pub fn with_facts(mut self, facts: SipFacts) -> Given {
        self.facts = facts;
        self
    }

    /// … a command …
    pub fn when(self, cmd: SipCommand, ctx: Context) -> When {
        let state = fold(&self.events);
        let result = decide(&state, &cmd, &self.facts, &ctx);
        When {
            state,
            result,
            command: cmd.name(),
        }
    }
}

impl When {
    /// … expected events out.
    pub fn then_events(self, expected: Vec<SipEvent>) -> SipState {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "{} gave other events", self.command);
                events.iter().fold(self.state, evolve)
            }
            Err(e) => panic!(
                "{} refused with {} ({}), expected events",
                self.command,
                e.code(),
                e.message()
            ),
        }
    }

    /// … accepted; returns the events and the new state for further checks.
    pub fn then_ok(self) -> (Vec<SipEvent>, SipState) {
        match self.result {
            Ok(events) => {
                let state = events.iter().fold(self.state, evolve);
                (events, state)
            }
            Err(e) => panic!(
                "{} refused with {} ({})",
                self.command,
                e.code(),
                e.message()
            ),
        }
    }

    /// … or the expected refusal out.
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Err(e) => assert_eq!(e, expected, "{} refused with another error", self.command),
            Ok(events) => panic!(
                "{} was accepted with {:?}, expected {}",
                self.command,
                events.iter().map(|e| e.event_type()).collect::<Vec<_>>(),
                expected.code()
            ),
        }
    }

    /// … or a refusal with this code.
    pub fn then_code(self, code: &str) {
        match self.result {
            Err(e) => assert_eq!(e.code(), code, "{}: {}", self.command, e.message()),
            Ok(events) => panic!(
                "{} was accepted with {:?}, expected {code}",
                self.command,
                events.iter().map(|e| e.event_type()).collect::<Vec<_>>()
            ),
        }
    }
}

/// The event types of a decision, for compact assertions.
pub fn types(events: &[SipEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event_type()).collect()
}
