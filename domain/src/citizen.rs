//! Who may read a person's plan on Min plan, the 1177 mirror: the rules 1177 applies to its
//! journal, which samplan applies to its plans (REFERENCES.md, "Who may read a plan on 1177").
//!
//! - The person reads their own plans from the age of 16.
//! - Every guardian (vårdnadshavare) reads a child's plans until the child turns 13.
//! - From 13 to 15 neither reads by default; a deployment may choose otherwise
//!   ([`YoungTeenAccess`]), as a head of unit may grant exceptions on 1177.
//! - No guardian reads while the child or the guardian has protected identity.
//!
//! A guardian signs in as themselves (their own personnummer, as a 1177/BankID sign-in yields
//! it); the link to the child is the personnummer staff recorded on the child's guardian.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::PersonId;
use crate::personnummer::PersonalIdentityNumber;

/// Age from which a person reads their own plans.
pub const OWN_ACCESS_FROM_AGE: u32 = 16;
/// Age until which (exclusive) guardians read a child's plans.
pub const GUARDIAN_ACCESS_UNTIL_AGE: u32 = 13;

/// Who reads the plans of a young person aged 13 to 15.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YoungTeenAccess {
    /// Neither the young person nor the guardians (1177's rule).
    #[default]
    Neither,
    /// The guardians, as for a younger child.
    Guardians,
    /// The young person, as from 16.
    Child,
    /// Both.
    Both,
}

impl YoungTeenAccess {
    /// Every choice, as configured.
    pub const ALL: [YoungTeenAccess; 4] = [
        YoungTeenAccess::Neither,
        YoungTeenAccess::Guardians,
        YoungTeenAccess::Child,
        YoungTeenAccess::Both,
    ];

    /// The configured name.
    pub fn as_str(&self) -> &'static str {
        match self {
            YoungTeenAccess::Neither => "neither",
            YoungTeenAccess::Guardians => "guardians",
            YoungTeenAccess::Child => "child",
            YoungTeenAccess::Both => "both",
        }
    }

    /// Parses a configured name.
    pub fn parse(s: &str) -> Option<YoungTeenAccess> {
        let wanted = s.trim().to_lowercase();
        YoungTeenAccess::ALL
            .into_iter()
            .find(|a| a.as_str() == wanted)
    }

    /// Whether the young person reads their own plans from 13.
    pub fn child_reads(&self) -> bool {
        matches!(self, YoungTeenAccess::Child | YoungTeenAccess::Both)
    }

    fn guardians_read(&self) -> bool {
        matches!(self, YoungTeenAccess::Guardians | YoungTeenAccess::Both)
    }
}

/// The signed-in citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// The token's subject when it names a registered person.
    pub person_id: Option<PersonId>,
    /// The personnummer the sign-in carried, when it carried one.
    pub personal_identity_number: Option<PersonalIdentityNumber>,
    /// Whether the reader, as a registered person, has protected identity.
    pub protected_identity: bool,
}

/// The person whose plans are to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub person_id: PersonId,
    pub personal_identity_number: PersonalIdentityNumber,
    pub protected_identity: bool,
    /// The personnummer recorded on the person's guardians.
    pub guardians: Vec<PersonalIdentityNumber>,
}

/// Why the reader may read the subject's plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The reader's own plans.
    Own,
    /// The plans of the reader's child.
    Guardian,
}

/// Whether `reader` may read `subject`'s plans on `today` (a Swedish date), and as whom.
pub fn relation(
    reader: &Reader,
    subject: &Subject,
    today: NaiveDate,
    young_teens: YoungTeenAccess,
) -> Option<Relation> {
    let age = subject.personal_identity_number.age_on(today);
    let is_self = reader.person_id == Some(subject.person_id)
        || reader.personal_identity_number == Some(subject.personal_identity_number);
    if is_self {
        let may = age >= OWN_ACCESS_FROM_AGE
            || (age >= GUARDIAN_ACCESS_UNTIL_AGE && young_teens.child_reads());
        return may.then_some(Relation::Own);
    }
    let reader_pin = reader.personal_identity_number?;
    if !subject.guardians.contains(&reader_pin)
        || subject.protected_identity
        || reader.protected_identity
    {
        return None;
    }
    let may = age < GUARDIAN_ACCESS_UNTIL_AGE
        || (age < OWN_ACCESS_FROM_AGE && young_teens.guardians_read());
    may.then_some(Relation::Guardian)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn pin(s: &str) -> PersonalIdentityNumber {
        PersonalIdentityNumber::parse(s, day(2026, 3, 10)).expect("valid personnummer")
    }

    fn person(n: u128) -> PersonId {
        PersonId::from_ulid(Ulid::from_parts(1_772_438_400_000, n))
    }

    const PARENT: &str = "19800101-0001";

    fn child(born: &str) -> Subject {
        Subject {
            person_id: person(1),
            personal_identity_number: pin(born),
            protected_identity: false,
            guardians: vec![pin(PARENT)],
        }
    }

    fn parent() -> Reader {
        Reader {
            person_id: Some(person(2)),
            personal_identity_number: Some(pin(PARENT)),
            protected_identity: false,
        }
    }

    fn the_child_itself(s: &Subject) -> Reader {
        Reader {
            person_id: Some(s.person_id),
            personal_identity_number: None,
            protected_identity: false,
        }
    }

    #[test]
    fn the_ages_of_1177() {
        let today = day(2026, 3, 10);
        // 12 years old (turns 13 tomorrow).
        let twelve = child("20130311-0009");
        // 13 today.
        let thirteen = child("20130310-0000");
        // 15, turns 16 tomorrow.
        let fifteen = child("20100311-0002");
        // 16 today.
        let sixteen = child("20100310-0003");
        let neither = YoungTeenAccess::Neither;
        assert_eq!(
            relation(&parent(), &twelve, today, neither),
            Some(Relation::Guardian)
        );
        assert_eq!(
            relation(&the_child_itself(&twelve), &twelve, today, neither),
            None
        );
        assert_eq!(relation(&parent(), &thirteen, today, neither), None);
        assert_eq!(
            relation(&the_child_itself(&thirteen), &thirteen, today, neither),
            None
        );
        assert_eq!(relation(&parent(), &fifteen, today, neither), None);
        assert_eq!(relation(&parent(), &sixteen, today, neither), None);
        assert_eq!(
            relation(&the_child_itself(&sixteen), &sixteen, today, neither),
            Some(Relation::Own)
        );
        // The deployment may open 13–15 to either side, never 16–17 to guardians.
        assert_eq!(
            relation(&parent(), &fifteen, today, YoungTeenAccess::Guardians),
            Some(Relation::Guardian)
        );
        assert_eq!(
            relation(
                &the_child_itself(&fifteen),
                &fifteen,
                today,
                YoungTeenAccess::Child
            ),
            Some(Relation::Own)
        );
        assert_eq!(
            relation(&parent(), &fifteen, today, YoungTeenAccess::Child),
            None
        );
        assert_eq!(
            relation(&parent(), &sixteen, today, YoungTeenAccess::Both),
            None
        );
    }

    #[test]
    fn protected_identity_on_either_side_shuts_the_guardian_out() {
        let today = day(2026, 3, 10);
        let mut young = child("20200101-0004");
        assert_eq!(
            relation(&parent(), &young, today, YoungTeenAccess::Neither),
            Some(Relation::Guardian)
        );
        let mut protected_parent = parent();
        protected_parent.protected_identity = true;
        assert_eq!(
            relation(&protected_parent, &young, today, YoungTeenAccess::Neither),
            None
        );
        young.protected_identity = true;
        assert_eq!(
            relation(&parent(), &young, today, YoungTeenAccess::Neither),
            None
        );
    }

    #[test]
    fn a_stranger_and_a_sign_in_without_personnummer_read_nothing() {
        let today = day(2026, 3, 10);
        let young = child("20200101-0004");
        let stranger = Reader {
            person_id: Some(person(9)),
            personal_identity_number: Some(pin("19750505-0000")),
            protected_identity: false,
        };
        assert_eq!(
            relation(&stranger, &young, today, YoungTeenAccess::Both),
            None
        );
        let anonymous = Reader {
            person_id: Some(person(2)),
            personal_identity_number: None,
            protected_identity: false,
        };
        assert_eq!(
            relation(&anonymous, &young, today, YoungTeenAccess::Both),
            None
        );
        // An adult is read by themselves through the personnummer of the sign-in as well.
        let adult = Subject {
            person_id: person(3),
            personal_identity_number: pin("19750505-0000"),
            protected_identity: true,
            guardians: Vec::new(),
        };
        assert_eq!(
            relation(&stranger, &adult, today, YoungTeenAccess::Neither),
            Some(Relation::Own)
        );
    }
}
