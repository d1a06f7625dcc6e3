//! The person, unit and inbox streams.

use domain::context::Role;
use domain::inbox::{self, InboxCommand, InboxEvent, InboxState};
use domain::person::{self, PersonCommand, PersonEvent, PersonState, RelativeKind};
use domain::unit::{self, Principal, PrincipalKind, RegisterUnit, UnitCommand, UnitState};
use domain::{DomainError, ErrorKind};

use crate::support::*;

fn register(pin: &str) -> PersonCommand {
    PersonCommand::RegisterPerson(person::RegisterPerson {
        person_id: person_id(),
        personal_identity_number: pin.to_string(),
        name: "Tolvan Tolvansson".to_string(),
        phone: None,
        address: None,
    })
}

#[test]
fn register_person_parses_the_personnummer_and_explains_a_typo_in_swedish() {
    let ctx = Who::Nurse.at(t0());
    let events = person::decide(&PersonState::default(), &register("460812-1234"), &ctx)
        .expect("valid personnummer");
    let PersonEvent::PersonRegistered {
        personal_identity_number,
        ..
    } = &events[0]
    else {
        panic!("expected PersonRegistered");
    };
    assert_eq!(personal_identity_number.as_str(), "194608121234");
    let err = person::decide(&PersonState::default(), &register("460812-1235"), &ctx)
        .expect_err("wrong check digit");
    assert_eq!(err.code(), "invalid_personal_identity_number");
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(
        err.message().contains("Kontrollsiffran"),
        "{}",
        err.message()
    );
    let state = adult();
    assert_eq!(
        person::decide(&state, &register("19460812-1234"), &ctx),
        Err(DomainError::PersonAlreadyRegistered)
    );
    assert_eq!(
        person::decide(
            &PersonState::default(),
            &register("19460812-1234"),
            &Who::Citizen.at(t0())
        ),
        Err(DomainError::RoleNotAllowed {
            role: Role::Citizen
        })
    );
    assert_eq!(
        person::decide(
            &PersonState::default(),
            &PersonCommand::MarkProtectedIdentity,
            &ctx
        ),
        Err(DomainError::PersonNotFound)
    );
}

#[test]
fn relatives_guardians_and_age_come_from_the_person_stream() {
    let ctx = Who::Nurse.at(t0());
    let kid = child();
    assert!(kid.is_child_on(date(2026, 3, 2)));
    assert!(!kid.is_child_on(date(2033, 3, 4)), "18 on the birthday");
    assert_eq!(
        kid.guardians()
            .iter()
            .map(|g| g.relative_id.as_str())
            .collect::<Vec<_>>(),
        vec!["father", "mother"]
    );
    assert_eq!(
        person::decide(&kid, &guardian("mother", "Vårdnadshavare"), &ctx),
        Err(DomainError::RelativeExists("mother".to_string()))
    );
    let remove = PersonCommand::RemoveRelative(person::RemoveRelative {
        relative_id: "father".to_string(),
    });
    let events = person::decide(&kid, &remove, &ctx).expect("known relative");
    let after = events.iter().fold(kid.clone(), person::evolve);
    assert_eq!(after.guardians().len(), 1);
    assert_eq!(
        person::decide(&after, &remove, &ctx),
        Err(DomainError::UnknownRelative("father".to_string()))
    );
    let adult = adult();
    assert!(!adult.is_child_on(date(2026, 3, 2)));
    assert_eq!(
        adult.relative("daughter").map(|r| r.kind),
        Some(RelativeKind::Relative)
    );
}

#[test]
fn protected_identity_is_idempotent_and_death_cannot_be_in_the_future() {
    let ctx = Who::Nurse.at(t0());
    let state = adult();
    let events = person::decide(&state, &PersonCommand::MarkProtectedIdentity, &ctx)
        .expect("mark protected");
    let state = events.iter().fold(state, person::evolve);
    assert!(state.protected_identity);
    assert_eq!(
        person::decide(&state, &PersonCommand::MarkProtectedIdentity, &ctx),
        Ok(Vec::new())
    );
    let death = |d| PersonCommand::RegisterDeath(person::RegisterDeath { died_on: d });
    assert_eq!(
        person::decide(&state, &death(date(2026, 3, 3)), &ctx).map_err(|e| e.code()),
        Err("date_in_future")
    );
    let events = person::decide(&state, &death(date(2026, 3, 1)), &ctx).expect("death");
    let state = events.iter().fold(state, person::evolve);
    assert_eq!(state.deceased, Some(date(2026, 3, 1)));
    assert_eq!(
        person::decide(&state, &death(date(2026, 3, 1)), &ctx),
        Err(DomainError::PersonDeceased)
    );
}

fn register_unit(id: &str) -> UnitCommand {
    UnitCommand::RegisterUnit(RegisterUnit {
        id: unit(id),
        name: "Försäkringskassan Luleå".to_string(),
        principal: Principal {
            kind: PrincipalKind::External,
            name: "Försäkringskassan".to_string(),
        },
        uses_samplan: false,
        address: Some("Box 1, 971 00 Luleå".to_string()),
        phone: None,
    })
}

#[test]
fn only_an_admin_registers_a_unit_and_only_once() {
    let admin = Who::Admin.at(t0());
    let events =
        unit::decide(&UnitState::default(), &register_unit(FK), &admin).expect("admin may");
    let state = events.iter().fold(UnitState::default(), unit::evolve);
    assert!(state.is_registered());
    assert!(
        !state.uses_samplan(),
        "Försäkringskassan is reached by letter"
    );
    assert_eq!(
        unit::decide(&state, &register_unit(FK), &admin),
        Err(DomainError::UnitAlreadyRegistered)
    );
    assert_eq!(
        unit::decide(
            &UnitState::default(),
            &register_unit(FK),
            &Who::Nurse.at(t0())
        ),
        Err(DomainError::RoleNotAllowed { role: Role::Staff })
    );
}

#[test]
fn marking_a_message_read_is_per_user_and_idempotent() {
    let ctx = Who::HomeCare.at(t0());
    let read = InboxCommand::MarkMessageRead {
        message_id: "msg-1".to_string(),
        user: staff(HOME_CARE),
    };
    let events = inbox::decide(&InboxState::default(), &read, &ctx).expect("own message");
    assert_eq!(
        events,
        vec![InboxEvent::MessageRead {
            message_id: "msg-1".to_string(),
            user: staff(HOME_CARE),
            read_at: t0(),
        }]
    );
    let state = events.iter().fold(InboxState::default(), inbox::evolve);
    assert_eq!(inbox::decide(&state, &read, &ctx), Ok(Vec::new()));
    // A colleague has not read it yet.
    let colleague = InboxCommand::MarkMessageRead {
        message_id: "msg-1".to_string(),
        user: staff(NURSE),
    };
    assert_eq!(
        inbox::decide(&state, &colleague, &ctx),
        Err(DomainError::NotSameUser)
    );
    assert_eq!(
        inbox::decide(&state, &colleague, &Who::Nurse.at(t0())).map(|e| e.len()),
        Ok(1)
    );
}

#[test]
fn roles_parse_from_token_claims() {
    assert_eq!(Role::parse("staff"), Ok(Role::Staff));
    assert_eq!(Role::parse("admin"), Ok(Role::Admin));
    assert_eq!(
        Role::parse("root").map_err(|e| e.code()),
        Err("invalid_role")
    );
}
