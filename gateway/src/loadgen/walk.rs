//! The plans the load walks through their life, one command at a time, as two units and the
//! person would: need, consent, plan basis, kallelse, the other unit's answer, the meeting, goals
//! and an intervention, publishing, follow-up, closing. Also the made-up people and units it
//! registers first.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};

/// The steps of a plan's life after `POST /sips`, in order: (command, by the partner unit?).
pub const STEPS: [(&str, bool); 13] = [
    ("record-consent", false),
    ("create-plan-basis", false),
    ("send-invitation", false),
    ("respond-to-invitation", true),
    ("record-meeting", false),
    ("document-main-goal", false),
    ("document-sub-goal", true),
    ("document-intervention", true),
    ("publish-contribution", true),
    ("publish-contribution", false),
    ("schedule-follow-up", false),
    ("record-follow-up", false),
    ("close-plan", false),
];

/// One plan under way: whose it is, which units take part, how far it has come.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sip_id: String,
    /// Index of the unit that noticed the need and coordinates.
    pub coordinator: usize,
    /// Index of the unit invited to take part.
    pub partner: usize,
    /// How many of [`STEPS`] are done.
    pub done: usize,
}

impl Plan {
    pub fn is_closed(&self) -> bool {
        self.done >= STEPS.len()
    }

    /// The next command: its name, whether the partner sends it, and its body.
    pub fn next(&self, units: &[String], now: DateTime<Utc>) -> (&'static str, bool, Value) {
        let (command, by_partner) = STEPS[self.done];
        let a = &units[self.coordinator];
        let b = &units[self.partner];
        let today = domain::time::local_date(now);
        let date = |days: i64| (today + Duration::days(days)).to_string();
        let body = match command {
            "record-consent" => json!({
                "given_by": {"kind": "person"},
                "actors": [a, b],
                "topics": ["Boende och stöd i hemmet", "Hälsa och vård"],
                "valid_until": date(365),
            }),
            "create-plan-basis" => json!({}),
            "send-invitation" => json!({
                "invitation_id": "inv-1",
                "purpose": "meeting",
                "scheduled_at": (now + Duration::hours(2)).to_rfc3339(),
                "form": "in_person",
                "place": "Mottagningen, rum 2",
                "reason": "Gemensam planering av stöd i hemmet och vård.",
                "recipients": [{"kind": "unit", "unit_id": b}, {"kind": "person"}],
            }),
            "respond-to-invitation" => json!({
                "invitation_id": "inv-1",
                "representative": {"name": "Företrädare Belastning", "profession": "sjuksköterska"},
            }),
            "record-meeting" => json!({
                "invitation_id": "inv-1",
                "held_at": now.to_rfc3339(),
                "attendees": [
                    {"name": "Personen själv", "role": "person"},
                    {"name": "Företrädare Belastning", "role": "staff", "unit_id": b},
                ],
                "chair": "Ordförande Samordnare",
                "secretary": "Sekreterare Antecknare",
                "follow_up_on": date(90),
                "sip_survey_offered": true,
            }),
            "document-main-goal" => json!({"text": "Jag vill kunna bo kvar hemma."}),
            "document-sub-goal" => json!({
                "sub_goal_id": "sg-1", "heading": "daily_living", "text": "Klarar vardagen med stöd.",
                "responsible": {"kind": "unit", "unit_id": b},
            }),
            "document-intervention" => json!({
                "intervention_id": "in-1", "sub_goal_id": "sg-1", "what": "Stöd i hemmet varje vecka.",
                "responsible": {"kind": "unit", "unit_id": b}, "performer": "Personalen på enheten",
                "contact": "Växeln, 010-123 45 67", "from": date(0),
            }),
            "publish-contribution" => json!({}),
            "schedule-follow-up" => json!({"follow_up_on": date(60)}),
            "record-follow-up" => json!({
                "follow_up_id": "fu-1", "held_on": date(0),
                "interventions": [{"intervention_id": "in-1", "outcome": "completed"}],
                "goals": [{"reached": true}, {"sub_goal_id": "sg-1", "reached": true}],
            }),
            "close-plan" => json!({"reason": "goals_met"}),
            other => unreachable!("no body for {other}"),
        };
        (command, by_partner, body)
    }
}

/// The body of `POST /sips` for a person.
pub fn start_body(person_id: &str) -> Value {
    json!({
        "person_id": person_id,
        "identified_by": "staff",
        "reason": "Behöver samordnade insatser från vård och omsorg.",
        "context": {"kind": "outpatient"},
    })
}

/// A small, seedable generator (SplitMix64): the load needs spread, not secrecy.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const FIRST_NAMES: [&str; 12] = [
    "Anna", "Karin", "Maria", "Eva", "Lena", "Sara", "Erik", "Lars", "Karl", "Per", "Nils", "Olof",
];
const SURNAMES: [&str; 12] = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Lindberg",
    "Holm",
];

/// A made-up adult: a valid personnummer (born 1940–1999, so consent is their own) and a name.
pub fn person(rng: &mut Rng) -> (String, String) {
    let born = NaiveDate::from_ymd_opt(1940, 1, 1).expect("a date")
        + Duration::days(rng.below(365 * 60) as i64);
    let serial = rng.below(1000);
    let ten = format!("{}{serial:03}", born.format("%y%m%d"));
    let digits: Vec<u8> = ten.bytes().map(|b| b - b'0').collect();
    let pin = format!(
        "{}-{serial:03}{}",
        born.format("%Y%m%d"),
        luhn_check_digit(&digits[..9])
    );
    let name = format!(
        "{} {}",
        FIRST_NAMES[rng.below(FIRST_NAMES.len())],
        SURNAMES[rng.below(SURNAMES.len())]
    );
    (pin, name)
}

fn luhn_check_digit(nine: &[u8]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = u32::from(*d) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_people_have_valid_personnummer() {
        let mut rng = Rng::new(7);
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).expect("a date");
        for _ in 0..1000 {
            let (pin, name) = person(&mut rng);
            let parsed = domain::personnummer::PersonalIdentityNumber::parse(&pin, today)
                .unwrap_or_else(|e| panic!("{pin}: {}", e.message()));
            assert!(parsed.age_on(today) >= 18, "{pin}");
            assert!(name.contains(' '));
        }
    }

    #[test]
    fn every_step_of_a_plan_has_a_body() {
        let units = vec!["lg-a".to_owned(), "lg-b".to_owned()];
        let mut plan = Plan {
            sip_id: "01J".into(),
            coordinator: 0,
            partner: 1,
            done: 0,
        };
        let mut by_partner = 0;
        while !plan.is_closed() {
            let (_, partner, body) = plan.next(&units, Utc::now());
            assert!(body.is_object());
            by_partner += usize::from(partner);
            plan.done += 1;
        }
        assert_eq!(by_partner, 4);
    }
}
