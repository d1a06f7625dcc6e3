//! The JSON of every event type, pinned: auditors and reporting jobs read stored events for
//! years, so a change here must be deliberate (a new schema version and an upcaster).
//!
//! Each snapshot is the stored form: `type`, `schema_version` and `data`.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::context::StaffRef;
use domain::event::DomainEvent;
use domain::heading::Heading;
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::inbox::InboxEvent;
use domain::person::{PersonEvent, RelativeKind};
use domain::personnummer::PersonalIdentityNumber;
use domain::policy::Track;
use domain::registry::RegistryEvent;
use domain::sip::*;
use domain::unit::{Principal, PrincipalKind, UnitEvent};
use ulid::Ulid;

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0)
        .single()
        .expect("valid time")
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).expect("valid date")
}

fn unit(id: &str) -> UnitId {
    UnitId::parse(id).expect("valid unit id")
}

fn nurse() -> StaffRef {
    StaffRef {
        staff_id: StaffId::parse("SE2321000016-VC01").expect("valid"),
        name: "Mötesledare A".to_string(),
        unit_id: unit("vc-haparanda"),
    }
}

fn home_care() -> StaffRef {
    StaffRef {
        staff_id: StaffId::parse("SE2120000016-HT01").expect("valid"),
        name: "Handläggare HT".to_string(),
        unit_id: unit("hemtjanst-haparanda"),
    }
}

fn sip_id(n: u128) -> SipId {
    SipId::from_ulid(Ulid::from_parts(1_772_438_400_000, n))
}

fn person_id() -> PersonId {
    PersonId::from_ulid(Ulid::from_parts(1_772_438_400_000, 7))
}

fn sip_samples() -> Vec<SipEvent> {
    let by = nurse;
    vec![
        SipEvent::NeedIdentified {
            sip_id: sip_id(1),
            person_id: person_id(),
            identified_by: IdentifiedBy::Staff,
            reason: "Behöver stöd i hemmet efter utskrivning".to_string(),
            known_since: at(7),
            context: NeedContext {
                kind: CareContextKind::Discharge,
                track: Some(Track::Red),
                discharge_ready_at: Some(at(6)),
            },
            recorded_by: by(),
            recorded_at: at(8),
        },
        SipEvent::ConsentGiven {
            given_by: ConsentGiver::Guardian {
                relative_id: "mother".to_string(),
            },
            actors: vec![unit("hemtjanst-haparanda"), unit("vc-haparanda")],
            topics: vec!["Stöd i hemmet".to_string()],
            valid_until: day(12, 31),
            guardians_required: vec!["father".to_string(), "mother".to_string()],
            relatives: Some(vec!["grandmother".to_string()]),
            recorded_by: by(),
            recorded_at: at(9),
        },
        SipEvent::ConsentDeclined {
            declined_by: ConsentGiver::Person,
            note: Some("Vill inte".to_string()),
            recorded_by: by(),
            recorded_at: at(9),
        },
        SipEvent::ConsentWithdrawn {
            withdrawn_by: ConsentGiver::Representative {
                relative_id: "daughter".to_string(),
            },
            note: None,
            recorded_by: by(),
            recorded_at: at(9),
        },
        SipEvent::PlanBasisCreated {
            coordinator: by(),
            initiated_by: Some("Vårdcentralen Haparanda".to_string()),
            fixed_care_contacts: vec![FixedCareContact {
                name: "Distriktssköterska VC".to_string(),
                unit_id: Some(unit("vc-haparanda")),
                phone: Some("0922-100 01".to_string()),
            }],
            recorded_by: by(),
            recorded_at: at(10),
        },
        SipEvent::CoordinatorChanged {
            previous: by(),
            coordinator: home_care(),
            reason: Some("Kommunen tar över".to_string()),
            recorded_by: by(),
            recorded_at: at(10),
        },
        SipEvent::MappingDocumented {
            mapping_id: "m-1".to_string(),
            heading: Heading::Housing,
            text: "Bor ensam".to_string(),
            recorded_by: by(),
            recorded_at: at(10),
        },
        SipEvent::InvitationSent {
            invitation_id: "inv-1".to_string(),
            purpose: InvitationPurpose::Meeting,
            scheduled_at: at(13),
            form: MeetingForm::InPerson,
            place: Some("Avdelning 3".to_string()),
            reason: "Planera hemgång".to_string(),
            recipients: vec![
                InvitationRecipient {
                    recipient: Recipient::Unit {
                        unit_id: unit("hemtjanst-haparanda"),
                    },
                    delivery: Delivery::Digital,
                    name: "Hemtjänsten Haparanda".to_string(),
                    address: None,
                },
                InvitationRecipient {
                    recipient: Recipient::Unit {
                        unit_id: unit("fk-lulea"),
                    },
                    delivery: Delivery::Letter,
                    name: "Försäkringskassan Luleå".to_string(),
                    address: Some("Box 1, 971 00 Luleå".to_string()),
                },
                InvitationRecipient {
                    recipient: Recipient::Person,
                    delivery: Delivery::Letter,
                    name: "Tolvan Tolvansson".to_string(),
                    address: Some("Storgatan 2, 953 31 Haparanda".to_string()),
                },
                InvitationRecipient {
                    recipient: Recipient::Relative {
                        relative_id: "daughter".to_string(),
                    },
                    delivery: Delivery::Letter,
                    name: "Närstående Tolvansson".to_string(),
                    address: None,
                },
            ],
            recorded_by: by(),
            recorded_at: at(10),
        },
        SipEvent::RepresentativeAppointed {
            invitation_id: "inv-1".to_string(),
            unit_id: unit("hemtjanst-haparanda"),
            representative: Representative {
                name: "Handläggare HT".to_string(),
                staff_id: Some(home_care().staff_id),
                profession: Some("biståndshandläggare".to_string()),
                phone: Some("0922-200 10".to_string()),
            },
            recorded_by: home_care(),
            recorded_at: at(11),
        },
        SipEvent::InvitationCancelled {
            invitation_id: "inv-1".to_string(),
            reason: Some("Sjuk".to_string()),
            recorded_by: by(),
            recorded_at: at(11),
        },
        SipEvent::MeetingRescheduled {
            invitation_id: "inv-1".to_string(),
            scheduled_at: at(14),
            form: MeetingForm::Video,
            place: None,
            reason: None,
            recorded_by: by(),
            recorded_at: at(11),
        },
        SipEvent::MeetingHeld {
            invitation_id: "inv-1".to_string(),
            held_at: at(14),
            attendees: vec![
                Attendee {
                    name: "Tolvan Tolvansson".to_string(),
                    role: AttendeeRole::Person,
                    unit_id: None,
                },
                Attendee {
                    name: "Handläggare HT".to_string(),
                    role: AttendeeRole::Staff,
                    unit_id: Some(unit("hemtjanst-haparanda")),
                },
            ],
            chair: "Mötesledare A".to_string(),
            secretary: "Handläggare HT".to_string(),
            coordinator: by(),
            follow_up_on: day(6, 1),
            sip_survey_offered: Some(true),
            recorded_by: by(),
            recorded_at: at(15),
        },
        SipEvent::MainGoalDocumented {
            text: "Att kunna bo kvar hemma".to_string(),
            recorded_by: by(),
            recorded_at: at(16),
        },
        SipEvent::SubGoalDocumented {
            sub_goal_id: "sg-1".to_string(),
            heading: Heading::DailyLiving,
            text: "Klara morgonrutinerna".to_string(),
            responsible: Responsible::Unit {
                unit_id: unit("hemtjanst-haparanda"),
            },
            recorded_by: home_care(),
            recorded_at: at(16),
        },
        SipEvent::InterventionDocumented {
            intervention_id: "in-1".to_string(),
            sub_goal_id: "sg-1".to_string(),
            what: "Stöd vid dusch".to_string(),
            responsible: Responsible::Person,
            responsible_person: Some("Enhetschef hemtjänst".to_string()),
            performer: Some("Hemtjänstpersonalen".to_string()),
            contact: Some("0922-200 00".to_string()),
            from: day(3, 10),
            to: Some(day(6, 1)),
            recorded_by: home_care(),
            recorded_at: at(16),
        },
        SipEvent::ContributionPublished {
            unit_id: unit("hemtjanst-haparanda"),
            main_goal: false,
            sub_goal_ids: vec!["sg-1".to_string()],
            intervention_ids: vec!["in-1".to_string()],
            recorded_by: home_care(),
            recorded_at: at(17),
        },
        SipEvent::FollowUpScheduled {
            follow_up_on: day(5, 4),
            note: None,
            recorded_by: by(),
            recorded_at: at(17),
        },
        SipEvent::FollowUpRecorded {
            follow_up_id: "fu-1".to_string(),
            held_on: day(5, 4),
            invitation_id: None,
            by_coordinator: true,
            interventions: vec![InterventionFollowUp {
                intervention_id: "in-1".to_string(),
                outcome: InterventionOutcome::Changed,
                comment: Some("En gång i veckan räcker".to_string()),
            }],
            goals: vec![GoalFollowUp {
                sub_goal_id: Some("sg-1".to_string()),
                reached: false,
                comment: None,
            }],
            next_follow_up_on: Some(day(9, 1)),
            note: None,
            recorded_by: by(),
            recorded_at: at(18),
        },
        SipEvent::SipClosed {
            reason: CloseReason::ReplacedByNewPlan,
            note: None,
            replaced_by: Some(sip_id(2)),
            recorded_by: by(),
            recorded_at: at(19),
        },
        SipEvent::DischargeRecorded {
            discharged_at: at(20),
            recorded_by: by(),
            recorded_at: at(12),
        },
        SipEvent::LettersPosted {
            invitation_id: "inv-1".to_string(),
            recipients: vec![
                Recipient::Person,
                Recipient::Relative {
                    relative_id: "daughter".to_string(),
                },
            ],
            recorded_by: by(),
            recorded_at: at(13),
        },
        SipEvent::InvitationDraftSaved {
            invitation_id: "inv-2".to_string(),
            purpose: InvitationPurpose::FollowUp,
            scheduled_at: None,
            form: MeetingForm::Video,
            place: None,
            reason: Some("Följa upp stödet i hemmet".to_string()),
            recipients: vec![
                Recipient::Unit {
                    unit_id: unit("hemtjanst-haparanda"),
                },
                Recipient::Person,
            ],
            recorded_by: by(),
            recorded_at: at(14),
        },
    ]
}

fn other_samples() -> Vec<DomainEvent> {
    let pin = PersonalIdentityNumber::parse("19460812-1234", day(3, 2)).expect("valid");
    let by = nurse;
    let person = vec![
        PersonEvent::PersonRegistered {
            person_id: person_id(),
            personal_identity_number: pin,
            name: "Tolvan Tolvansson".to_string(),
            phone: Some("070-123 45 67".to_string()),
            address: Some("Storgatan 2, 953 31 Haparanda".to_string()),
            recorded_by: by(),
            recorded_at: at(8),
        },
        PersonEvent::ContactDetailsChanged {
            phone: None,
            address: Some("Köpmansgatan 1, 953 31 Haparanda".to_string()),
            recorded_by: by(),
            recorded_at: at(8),
        },
        PersonEvent::RelativeAdded {
            relative_id: "daughter".to_string(),
            kind: RelativeKind::Trustee,
            name: "Närstående Tolvansson".to_string(),
            phone: Some("070-765 43 21".to_string()),
            address: None,
            note: Some("God man sedan 2024".to_string()),
            personal_identity_number: Some(
                PersonalIdentityNumber::parse("19720101-0001", day(3, 2)).expect("valid"),
            ),
            recorded_by: by(),
            recorded_at: at(8),
        },
        PersonEvent::RelativeRemoved {
            relative_id: "daughter".to_string(),
            recorded_by: by(),
            recorded_at: at(8),
        },
        PersonEvent::ProtectedIdentityMarked {
            recorded_by: by(),
            recorded_at: at(8),
        },
        PersonEvent::DeathRegistered {
            died_on: day(3, 1),
            recorded_by: by(),
            recorded_at: at(8),
        },
        PersonEvent::MovedOutOfRegion {
            moved_on: day(3, 1),
            to_region: Some("Region Västerbotten".to_string()),
            recorded_by: by(),
            recorded_at: at(8),
        },
    ];
    let unit_event = UnitEvent::UnitRegistered {
        id: unit("fk-lulea"),
        name: "Försäkringskassan Luleå".to_string(),
        principal: Principal {
            kind: PrincipalKind::External,
            name: "Försäkringskassan".to_string(),
        },
        uses_samplan: false,
        address: Some("Box 1, 971 00 Luleå".to_string()),
        phone: None,
        registered_by: "admin-1".to_string(),
        registered_at: at(7),
    };
    let claim = RegistryEvent::PersonalIdentityNumberClaimed {
        person_id: PersonId::parse("01JQ2V3W4X5Y6Z7A8B9C0D1E2F").expect("person id"),
        claimed_by: home_care().staff_id.as_str().to_string(),
        claimed_at: at(9),
    };
    let inbox = InboxEvent::MessageRead {
        message_id: "msg-1".to_string(),
        user: home_care().staff_id,
        read_at: at(9),
    };
    person
        .into_iter()
        .map(DomainEvent::from)
        .chain([
            DomainEvent::from(unit_event),
            DomainEvent::from(inbox),
            DomainEvent::from(claim),
        ])
        .collect()
}

fn all_samples() -> Vec<DomainEvent> {
    sip_samples()
        .into_iter()
        .map(DomainEvent::from)
        .chain(other_samples())
        .collect()
}

#[test]
fn every_event_type_has_a_pinned_json_form() {
    for event in all_samples() {
        let stored = serde_json::json!({
            "type": event.event_type(),
            "schema_version": event.schema_version(),
            "data": event.to_data(),
        });
        insta::assert_json_snapshot!(
            format!("{}_{}", event.category(), event.event_type()),
            stored
        );
    }
}

#[test]
fn the_samples_cover_every_event_type_of_every_stream() {
    let mut sampled: Vec<&str> = all_samples().iter().map(|e| e.event_type()).collect();
    sampled.sort();
    let mut all: Vec<&str> = SipEvent::TYPES
        .iter()
        .chain(PersonEvent::TYPES)
        .chain(UnitEvent::TYPES)
        .chain(InboxEvent::TYPES)
        .chain(RegistryEvent::TYPES)
        .copied()
        .collect();
    all.sort();
    assert_eq!(sampled, all);
}

#[test]
fn every_pinned_event_decodes_back_to_itself() {
    for event in all_samples() {
        let decoded =
            DomainEvent::decode(event.event_type(), event.schema_version(), event.to_data());
        assert_eq!(decoded.as_ref(), Ok(&event), "{}", event.event_type());
        // From the stored text too, the way read models and rebuilds read it.
        let text = event.to_data().to_string();
        let from_text = DomainEvent::decode_text(event.event_type(), event.schema_version(), &text);
        assert_eq!(from_text.as_ref(), Ok(&event), "{}", event.event_type());
    }
}

#[test]
fn old_schema_versions_are_upcast_from_text_as_well() {
    let v1 = r#"{"given_by":{"kind":"person"},"actors":["vc-test"],"valid_until":"2027-01-01",
        "recorded_by":{"staff_id":"SE2321000016-A1B2","name":"Vera","unit_id":"vc-test"},
        "recorded_at":"2026-03-02T09:00:00Z"}"#;
    let decoded = DomainEvent::decode_text("ConsentGiven", 1, v1).expect("upcast");
    let DomainEvent::Sip(SipEvent::ConsentGiven { topics, .. }) = decoded else {
        panic!("not a consent");
    };
    assert!(topics.is_empty());
    assert!(DomainEvent::decode_text("ConsentGiven", 9, v1).is_err());
    let relative_v1 = r#"{"relative_id":"r1","kind":"guardian","name":"Vh","phone":null,
        "address":null,"note":null,
        "recorded_by":{"staff_id":"SE2321000016-A1B2","name":"Vera","unit_id":"vc-test"},
        "recorded_at":"2026-03-02T09:00:00Z"}"#;
    let decoded = DomainEvent::decode_text("RelativeAdded", 1, relative_v1).expect("upcast");
    let DomainEvent::Person(PersonEvent::RelativeAdded {
        personal_identity_number,
        ..
    }) = decoded
    else {
        panic!("not a relative");
    };
    assert_eq!(personal_identity_number, None);
    assert!(DomainEvent::decode_text("NoSuchEvent", 1, "{}").is_err());
}
