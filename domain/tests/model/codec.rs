//! The stored form of events: decoding, upcasting old schema versions, and refusing what cannot
//! be read.

use domain::event::{current_schema_version, upcast, DecodeError, DomainEvent};
use domain::person::PersonEvent;
use domain::sip::{fold, ConsentGiver, SipEvent};
use serde_json::json;

use crate::support::*;

/// ConsentGiven as schema version 1 wrote it: no `topics`, no `guardians_required`.
fn consent_given_v1() -> serde_json::Value {
    json!({
        "given_by": { "kind": "person" },
        "actors": ["hemtjanst-haparanda", "vc-haparanda"],
        "valid_until": "2024-12-31",
        "recorded_by": {
            "staff_id": "SE2321000016-VC01",
            "name": "Mötesledare A",
            "unit_id": "vc-haparanda"
        },
        "recorded_at": "2024-05-02T08:00:00Z"
    })
}

#[test]
fn consent_given_version_1_is_upcast_to_the_current_version() {
    assert_eq!(current_schema_version("ConsentGiven"), Some(2));
    let upgraded = upcast("ConsentGiven", 1, consent_given_v1()).expect("v1 upcasts");
    assert_eq!(upgraded["topics"], json!([]));
    assert_eq!(upgraded["guardians_required"], json!([]));
    let event = SipEvent::decode("ConsentGiven", 1, consent_given_v1()).expect("v1 decodes");
    let SipEvent::ConsentGiven {
        given_by,
        actors,
        topics,
        valid_until,
        ..
    } = &event
    else {
        panic!("expected ConsentGiven, got {}", event.event_type());
    };
    assert_eq!(*given_by, ConsentGiver::Person);
    assert_eq!(actors, &vec![unit(HT), unit(VC)]);
    assert!(topics.is_empty());
    assert_eq!(*valid_until, date(2024, 12, 31));
    // An old consent still counts as consent when the plan is folded.
    let mut history = Story::need_identified().events;
    history.push(event);
    assert!(fold(&history).consent_complete());
    // Re-encoding writes the current version.
    let (t, v, data) = history[1].encode();
    assert_eq!((t, v), ("ConsentGiven", 2));
    assert_eq!(data["topics"], json!([]));
}

#[test]
fn current_version_data_must_be_complete_and_unknown_versions_are_refused() {
    // Version 2 without `topics` is not a valid v2 event: no silent defaults.
    let err = SipEvent::decode("ConsentGiven", 2, consent_given_v1()).expect_err("incomplete");
    assert!(matches!(err, DecodeError::Malformed { .. }), "{err:?}");
    for version in [0, 3, -1] {
        assert_eq!(
            DomainEvent::decode("ConsentGiven", version, consent_given_v1()),
            Err(DecodeError::UnsupportedSchemaVersion {
                event_type: "ConsentGiven".to_string(),
                version
            })
        );
    }
    assert_eq!(
        DomainEvent::decode("PlanEaten", 1, json!({})),
        Err(DecodeError::UnknownEventType("PlanEaten".to_string()))
    );
    assert!(matches!(
        DomainEvent::decode("ConsentGiven", 1, json!("not an object")),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn a_stream_refuses_events_of_another_category() {
    let person = adult();
    let registered = PersonEvent::PersonRegistered {
        person_id: person_id(),
        personal_identity_number: person.personal_identity_number.expect("registered"),
        name: person.name.clone(),
        phone: None,
        address: None,
        recorded_by: domain::context::StaffRef {
            staff_id: staff(NURSE),
            name: "Samordnare VC".to_string(),
            unit_id: unit(VC),
        },
        recorded_at: t0(),
    };
    let (t, v, data) = registered.encode();
    assert_eq!(
        SipEvent::decode(t, v, data.clone()),
        Err(DecodeError::WrongCategory {
            expected: "sip",
            event_type: "PersonRegistered".to_string()
        })
    );
    let decoded = DomainEvent::decode(t, v, data).expect("person event decodes");
    assert_eq!(decoded.category(), "person");
    assert_eq!(decoded, DomainEvent::Person(registered));
}

#[test]
fn stored_data_has_no_type_tag_and_uses_snake_case() {
    for ev in Story::closed().events {
        let stored = DomainEvent::from(ev.clone());
        let data = stored.to_data();
        let object = data.as_object().expect("data is an object");
        assert!(!object.contains_key(stored.event_type()));
        assert!(object.contains_key("recorded_at") && object.contains_key("recorded_by"));
        for key in object.keys() {
            assert_eq!(
                key,
                &key.to_lowercase(),
                "{} has key {key}",
                stored.event_type()
            );
        }
        assert_eq!(
            DomainEvent::decode(stored.event_type(), stored.schema_version(), data),
            Ok(stored)
        );
    }
}
