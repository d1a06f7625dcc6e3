//! The demo's people, to sign in as with one click in development (`samplan serve --demo`): the
//! staff member of each demo unit that uses samplan, a citizen with a published plan, a guardian
//! of a child, an auditor, someone who follows SIP up (role reporting) and an administrator, who
//! registers units. The list mirrors `crate::demo` (whose data is private to it); a test loads
//! the demo and checks that the two agree.

use domain::PersonId;
use ulid::Ulid;

/// One person to sign in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DemoUser {
    /// What the sign-in form posts.
    pub key: &'static str,
    /// `staff`, `citizen`, `auditor`, `reporting` or `admin`.
    pub role: &'static str,
    pub sub: String,
    pub unit: Option<&'static str>,
    pub name: &'static str,
    /// What the button says besides the name: the unit, or the role in words.
    pub description: &'static str,
    /// A citizen's personnummer, as 1177's sign-in would establish it.
    pub personal_identity_number: Option<&'static str>,
}

/// The demo's staff: unit id, unit name, HSA-id, name (as `crate::demo` registers them).
const STAFF: &[(&str, &str, &str, &str)] = &[
    (
        "nll-hc-centrum-lulea",
        "Hälsocentralen Centrum, Luleå",
        "SE2321000016-DHC1",
        "Distriktssköterska, Hälsocentralen Centrum",
    ),
    (
        "nll-psykiatri-lulea",
        "Psykiatriska mottagningen Luleå",
        "SE2321000016-DPS1",
        "Kurator, Psykiatriska mottagningen",
    ),
    (
        "nll-sunderby-avd61",
        "Vårdavdelning 61 (medicin), Sunderby sjukhus",
        "SE2321000016-DAV1",
        "Sjuksköterska, vårdavdelning 61",
    ),
    (
        "nll-hc-boden",
        "Hälsocentralen Boden",
        "SE2321000016-DHB1",
        "Distriktssköterska, Hälsocentralen Boden",
    ),
    (
        "lulea-hemtjanst-centrum",
        "Hemtjänst Centrum",
        "SE2120000001-DHT1",
        "Biståndshandläggare, hemtjänsten Luleå",
    ),
    (
        "lulea-socialtjanst-vuxen",
        "Socialtjänsten Luleå, vuxenenheten",
        "SE2120000001-DSV1",
        "Socialsekreterare, vuxenenheten",
    ),
    (
        "boden-hemtjanst",
        "Hemtjänsten Boden",
        "SE2120000002-DHT2",
        "Biståndshandläggare, hemtjänsten Boden",
    ),
    (
        "boden-socialtjanst-bou",
        "Socialtjänsten Boden, barn och unga",
        "SE2120000002-DBU1",
        "Socialsekreterare, barn och unga",
    ),
];

/// The timestamp part and layout of the demo's fixed ids (`crate::demo`): person `n` is
/// `Ulid::from_parts(DEMO_ID_MS, 0xDE40 << 32 | 1 << 16 | n)`.
const DEMO_ID_MS: u64 = 1_735_689_600_000;

/// The demo person number `n`.
fn demo_person(n: u8) -> PersonId {
    PersonId::from_ulid(Ulid::from_parts(
        DEMO_ID_MS,
        (0xDE40 << 32) | (1 << 16) | u128::from(n),
    ))
}

/// Everyone the demo sign-in offers, staff first in the order of the demo.
pub(crate) fn all() -> Vec<DemoUser> {
    let mut users: Vec<DemoUser> = STAFF
        .iter()
        .map(|(unit, unit_name, sub, name)| DemoUser {
            key: unit,
            role: "staff",
            sub: (*sub).to_string(),
            unit: Some(unit),
            name,
            description: unit_name,
            personal_identity_number: None,
        })
        .collect();
    // Person 2 of the demo, whose plan is documented and published.
    users.push(DemoUser {
        key: "invanare-erik",
        role: "citizen",
        sub: demo_person(2).to_string(),
        unit: None,
        name: "Erik Lindqvist",
        description: "Invånare (Min plan)",
        personal_identity_number: Some("19620923-9810"),
    });
    // A guardian of person 3 (Elsa Berg, a child), signed in as herself: 1177's rules decide
    // what she may read of her daughter's plan.
    users.push(DemoUser {
        key: "vardnadshavare-maria",
        role: "citizen",
        sub: "demo-vardnadshavare-maria".to_string(),
        unit: None,
        name: "Maria Berg",
        description: "Vårdnadshavare till Elsa Berg (Min plan)",
        personal_identity_number: Some("19850412-9829"),
    });
    users.push(DemoUser {
        key: "revisor",
        role: "auditor",
        sub: "demo-revisor".to_string(),
        unit: None,
        name: "Revisor",
        description: "Granskning",
        personal_identity_number: None,
    });
    users.push(DemoUser {
        key: "uppfoljare",
        role: "reporting",
        sub: "demo-uppfoljare".to_string(),
        unit: None,
        name: "Uppföljare",
        description: "Uppföljning",
        personal_identity_number: None,
    });
    users.push(DemoUser {
        key: "administrator",
        role: "admin",
        sub: "demo-administrator".to_string(),
        unit: None,
        name: "Systemadministratör",
        description: "Enheter",
        personal_identity_number: None,
    });
    users
}

/// The demo user with this key.
pub(crate) fn find(key: &str) -> Option<DemoUser> {
    all().into_iter().find(|u| u.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_staff_member_has_a_unit() {
        let users = all();
        let mut keys: Vec<&str> = users.iter().map(|u| u.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), users.len());
        assert!(users
            .iter()
            .filter(|u| u.role == "staff")
            .all(|u| u.unit.is_some()));
    }

    /// The list agrees with what the demo loads: the same staff for the same units, and the
    /// citizen is a person of the demo.
    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn the_list_matches_the_demo_data() {
        let app = crate::testing::TestApp::spawn().await;
        let summary = crate::demo::load(&app.state).await.expect("demo loads");
        let staff: Vec<(String, String, String)> = summary
            .staff
            .iter()
            .map(|s| (s.unit.clone(), s.sub.clone(), s.name.clone()))
            .collect();
        let ours: Vec<(String, String, String)> = all()
            .into_iter()
            .filter(|u| u.role == "staff")
            .map(|u| {
                (
                    u.unit.unwrap_or_default().to_string(),
                    u.sub,
                    u.name.to_string(),
                )
            })
            .collect();
        assert_eq!(ours, staff);
        for (unit, unit_name, _, _) in STAFF {
            let demo_unit = summary
                .units
                .iter()
                .find(|u| u.id == *unit)
                .expect("a demo unit");
            assert_eq!(demo_unit.name, *unit_name);
        }
        assert_eq!(
            summary.persons.get(1),
            find("invanare-erik").map(|u| u.sub).as_ref()
        );
    }
}
