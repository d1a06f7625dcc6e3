//! Demonstration data: a region, two municipalities and Försäkringskassan, their units and staff,
//! persons (a child with two guardians among them) and one SIP in every stage of its life, from
//! a need just noticed to a closed plan, and the two refusals (consent declined, withdrawn).
//!
//! Everything is written through the command pipeline with the same domain decisions as the HTTP
//! API, acting as the staff member who would do it, on a clock stepped through the plans' history
//! (weeks and months back from today), so deadlines, to-dos and the audit trail look real.
//!
//! Loading is idempotent: every command carries a fixed idempotency key and every id is fixed, so
//! a second run appends nothing, and a run that stopped half-way continues where it stopped.
//!
//! Personnummer are test numbers in the style of Skatteverket's test series (serial numbers
//! 980–999) with correct check digits; names are invented.

use crate::auth::Caller;
use crate::clock::Clock;
use crate::error::AppError;
use crate::pipeline::{self, PersonAggregate, SipAggregate, UnitAggregate, WriteMeta};
use crate::routes::sips::dto::{self, IntoSipCommand};
use crate::state::AppState;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use domain::context::Role;
use domain::error::DomainError;
use domain::ids::{PersonId, SipId, UnitId};
use domain::person::{self, AddRelative, PersonCommand, RegisterPerson, RelativeKind};
use domain::sip::{self as dsip, SipCommand, SipFacts};
use domain::time::{local_date, local_to_utc};
use domain::unit::{self, Principal, PrincipalKind, RegisterUnit, UnitCommand};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use ulid::Ulid;

/// The timestamp part of every demo id (2025-01-01T00:00:00Z): fixed, so ids are the same on
/// every run and every machine.
const DEMO_ID_MS: u64 = 1_735_689_600_000;

/// A unit of the demo and the staff member who acts for it (none for units without samplan).
struct UnitSpec {
    id: &'static str,
    name: &'static str,
    kind: PrincipalKind,
    principal: &'static str,
    uses_samplan: bool,
    address: &'static str,
    phone: &'static str,
    staff: Option<(&'static str, &'static str)>,
}

const HC_LULEA: &str = "nll-hc-centrum-lulea";
const PSYK_LULEA: &str = "nll-psykiatri-lulea";
const AVD_61: &str = "nll-sunderby-avd61";
const HC_BODEN: &str = "nll-hc-boden";
const HT_LULEA: &str = "lulea-hemtjanst-centrum";
const SOC_LULEA: &str = "lulea-socialtjanst-vuxen";
const HT_BODEN: &str = "boden-hemtjanst";
const SOC_BODEN: &str = "boden-socialtjanst-bou";
const FK_LULEA: &str = "fk-lulea";

const UNITS: &[UnitSpec] = &[
    UnitSpec {
        id: HC_LULEA,
        name: "Hälsocentralen Centrum, Luleå",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Storgatan 10, 972 31 Luleå",
        phone: "0920-28 40 00",
        staff: Some((
            "SE2321000016-DHC1",
            "Distriktssköterska, Hälsocentralen Centrum",
        )),
    },
    UnitSpec {
        id: PSYK_LULEA,
        name: "Psykiatriska mottagningen Luleå",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Köpmangatan 40, 972 33 Luleå",
        phone: "0920-28 45 00",
        staff: Some(("SE2321000016-DPS1", "Kurator, Psykiatriska mottagningen")),
    },
    UnitSpec {
        id: AVD_61,
        name: "Vårdavdelning 61 (medicin), Sunderby sjukhus",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Sunderby sjukhus, 971 80 Luleå",
        phone: "0920-28 20 61",
        staff: Some(("SE2321000016-DAV1", "Sjuksköterska, vårdavdelning 61")),
    },
    UnitSpec {
        id: HC_BODEN,
        name: "Hälsocentralen Boden",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Kungsgatan 5, 961 31 Boden",
        phone: "0921-28 30 00",
        staff: Some((
            "SE2321000016-DHB1",
            "Distriktssköterska, Hälsocentralen Boden",
        )),
    },
    UnitSpec {
        id: HT_LULEA,
        name: "Hemtjänst Centrum",
        kind: PrincipalKind::Municipality,
        principal: "Luleå kommun",
        uses_samplan: true,
        address: "Rådhusgatan 4, 972 31 Luleå",
        phone: "0920-45 30 00",
        staff: Some((
            "SE2120000001-DHT1",
            "Biståndshandläggare, hemtjänsten Luleå",
        )),
    },
    UnitSpec {
        id: SOC_LULEA,
        name: "Socialtjänsten Luleå, vuxenenheten",
        kind: PrincipalKind::Municipality,
        principal: "Luleå kommun",
        uses_samplan: true,
        address: "Rådhusgatan 6, 972 31 Luleå",
        phone: "0920-45 31 00",
        staff: Some(("SE2120000001-DSV1", "Socialsekreterare, vuxenenheten")),
    },
    UnitSpec {
        id: HT_BODEN,
        name: "Hemtjänsten Boden",
        kind: PrincipalKind::Municipality,
        principal: "Bodens kommun",
        uses_samplan: true,
        address: "Kyrkgatan 24, 961 35 Boden",
        phone: "0921-620 00",
        staff: Some((
            "SE2120000002-DHT2",
            "Biståndshandläggare, hemtjänsten Boden",
        )),
    },
    UnitSpec {
        id: SOC_BODEN,
        name: "Socialtjänsten Boden, barn och unga",
        kind: PrincipalKind::Municipality,
        principal: "Bodens kommun",
        uses_samplan: true,
        address: "Kyrkgatan 24, 961 35 Boden",
        phone: "0921-621 00",
        staff: Some(("SE2120000002-DBU1", "Socialsekreterare, barn och unga")),
    },
    UnitSpec {
        id: FK_LULEA,
        name: "Försäkringskassan, lokalkontor Luleå",
        kind: PrincipalKind::External,
        principal: "Försäkringskassan",
        uses_samplan: false,
        address: "Box 1164, 971 27 Luleå",
        phone: "0771-524 524",
        staff: None,
    },
];

/// A person of the demo.
struct PersonSpec {
    n: u8,
    pin: &'static str,
    name: &'static str,
    phone: &'static str,
    address: &'static str,
}

const PERSONS: &[PersonSpec] = &[
    PersonSpec {
        n: 1,
        pin: "19380614-9807",
        name: "Astrid Nilsson",
        phone: "0920-123 01",
        address: "Skeppsbrogatan 12, 972 31 Luleå",
    },
    PersonSpec {
        n: 2,
        pin: "19620923-9810",
        name: "Erik Lindqvist",
        phone: "070-123 02 02",
        address: "Hermelinsgatan 3, 972 34 Luleå",
    },
    PersonSpec {
        n: 3,
        pin: "20140302-9828",
        name: "Elsa Berg",
        phone: "070-123 03 03",
        address: "Stationsgatan 7, 961 32 Boden",
    },
    PersonSpec {
        n: 4,
        pin: "19751108-9836",
        name: "Karin Öberg",
        phone: "070-123 04 04",
        address: "Lulevägen 44, 973 31 Luleå",
    },
    PersonSpec {
        n: 5,
        pin: "19480221-9842",
        name: "Lars Holm",
        phone: "0921-123 05",
        address: "Drottninggatan 2, 961 33 Boden",
    },
    PersonSpec {
        n: 6,
        pin: "19900517-9859",
        name: "Sofia Åberg",
        phone: "070-123 06 06",
        address: "Smedjegatan 19, 972 32 Luleå",
    },
    PersonSpec {
        n: 7,
        pin: "19830730-9867",
        name: "Mikael Strand",
        phone: "070-123 07 07",
        address: "Garnisonsgatan 8, 961 36 Boden",
    },
    PersonSpec {
        n: 8,
        pin: "19440105-9870",
        name: "Gunnel Persson",
        phone: "0920-123 08",
        address: "Bergsgatan 21, 972 33 Luleå",
    },
    // A samordningsnummer: the day of birth plus 60.
    PersonSpec {
        n: 9,
        pin: "19700471-9881",
        name: "Ahmed Hassan",
        phone: "070-123 09 09",
        address: "Porsövägen 30, 977 52 Luleå",
    },
    PersonSpec {
        n: 10,
        pin: "19510919-9892",
        name: "Ingrid Lund",
        phone: "0920-123 10",
        address: "Kungsgatan 15, 972 41 Luleå",
    },
    PersonSpec {
        n: 11,
        pin: "19850312-9903",
        name: "Nora Sandberg",
        phone: "070-123 11 11",
        address: "Storgatan 60, 972 38 Luleå",
    },
];

/// One unit in the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUnit {
    pub id: String,
    pub name: String,
    pub principal: String,
    pub uses_samplan: bool,
}

/// A staff member of the demo, to get a token for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStaff {
    pub sub: String,
    pub unit: String,
    pub name: String,
}

/// One plan of the demo and the stage it stands in now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlan {
    pub sip_id: String,
    pub person_id: String,
    /// What the plan shows (Swedish), e.g. "kallelse skickad".
    pub stage: &'static str,
    /// The domain's phase, e.g. `Invited`.
    pub phase: String,
}

/// What [`load`] did, and how to start using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub units: Vec<DemoUnit>,
    pub staff: Vec<DemoStaff>,
    /// Person ids, in the order of the demo.
    pub persons: Vec<String>,
    pub plans: Vec<DemoPlan>,
    /// Events this run appended; 0 when the data was there already.
    pub events_appended: i64,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.events_appended == 0 {
            writeln!(f, "Demodata fanns redan; inget lades till.")?;
        } else {
            writeln!(f, "Demodata inläst: {} händelser.", self.events_appended)?;
        }
        writeln!(f, "\nEnheter:")?;
        for u in &self.units {
            let letter = if u.uses_samplan {
                ""
            } else {
                " (nås med brev)"
            };
            writeln!(f, "  {:<26} {} — {}{letter}", u.id, u.name, u.principal)?;
        }
        writeln!(f, "\nPlaner ({} personer):", self.persons.len())?;
        for p in &self.plans {
            writeln!(f, "  {}  {}", p.sip_id, p.stage)?;
        }
        writeln!(f, "\nToken (klistra in):")?;
        writeln!(
            f,
            "  samplan token --role admin --sub demo-admin --name \"Administratör\""
        )?;
        for s in &self.staff {
            writeln!(
                f,
                "  samplan token --role staff --sub {} --unit {} --name \"{}\"",
                s.sub, s.unit, s.name
            )?;
        }
        writeln!(
            f,
            "  samplan token --role auditor --sub demo-revisor --name \"Revisor\""
        )?;
        write!(
            f,
            "  samplan token --role reporting --sub demo-uppfoljning --name \"Uppföljning\""
        )
    }
}

/// The fixed id number `n` of kind `kind` (persons 1, plans 2).
fn demo_ulid(kind: u128, n: u8) -> Ulid {
    Ulid::from_parts(DEMO_ID_MS, (0xDE40 << 32) | (kind << 16) | u128::from(n))
}

/// The demo person number `n`.
pub fn person_id(n: u8) -> PersonId {
    PersonId::from_ulid(demo_ulid(1, n))
}

/// The demo plan number `n`.
pub fn sip_id(n: u8) -> SipId {
    SipId::from_ulid(demo_ulid(2, n))
}

fn spec(unit: &str) -> Result<&'static UnitSpec, AppError> {
    UNITS
        .iter()
        .find(|u| u.id == unit)
        .ok_or_else(|| AppError::internal(format!("demo: no unit {unit}")))
}

/// The staff member acting for `unit`.
fn staff(unit: &str) -> Result<Caller, AppError> {
    let spec = spec(unit)?;
    let (sub, name) = spec
        .staff
        .ok_or_else(|| AppError::internal(format!("demo: {unit} has no staff")))?;
    Ok(Caller {
        sub: sub.to_owned(),
        role: Role::Staff,
        unit: Some(UnitId::parse(unit)?),
        name: name.to_owned(),
    })
}

fn staff_name(unit: &str) -> String {
    spec(unit)
        .ok()
        .and_then(|s| s.staff)
        .map_or_else(|| unit.to_owned(), |(_, name)| name.to_owned())
}

/// Writes the demo commands on a clock of its own.
struct Loader {
    state: AppState,
    clock: Clock,
    today: NaiveDate,
}

impl Loader {
    /// `days` from today (negative: in the past) at `hh:mm` Swedish time.
    fn at(&self, days: i64, hh: u32, mm: u32) -> DateTime<Utc> {
        let time = NaiveTime::from_hms_opt(hh, mm, 0).unwrap_or(NaiveTime::MIN);
        local_to_utc(self.day(days), time)
    }

    fn day(&self, days: i64) -> NaiveDate {
        self.today + Duration::days(days)
    }

    /// Sets the demo clock: the next command happens at this time.
    fn when(&self, days: i64, hh: u32, mm: u32) {
        self.clock.set(self.at(days, hh, mm));
    }

    fn meta(key: &str) -> WriteMeta {
        // The hash covers the key only: the bodies depend on the day the demo is loaded, and a
        // second run on another day must still be recognised as the same command.
        WriteMeta {
            idempotency_key: Some(format!("demo:{key}")),
            if_match: None,
            request_hash: Sha256::digest(format!("samplan-demo\n{key}").as_bytes()).to_vec(),
        }
    }

    async fn unit(&self, u: &UnitSpec) -> Result<(), AppError> {
        let admin = Caller {
            sub: "demo-admin".into(),
            role: Role::Admin,
            unit: None,
            name: "Administratör".into(),
        };
        let id = UnitId::parse(u.id)?;
        let cmd = UnitCommand::RegisterUnit(RegisterUnit {
            id: id.clone(),
            name: u.name.into(),
            principal: Principal {
                kind: u.kind,
                name: u.principal.into(),
            },
            uses_samplan: u.uses_samplan,
            address: Some(u.address.into()),
            phone: Some(u.phone.into()),
        });
        let result = pipeline::execute::<UnitAggregate>(
            &self.state,
            &admin,
            &Self::meta(&format!("unit:{}", u.id)),
            &id.stream_id(),
            id.as_str(),
            |s, ctx| unit::decide(s, &cmd, ctx),
        )
        .await;
        match result {
            // Registered before, by an administrator: keep theirs.
            Ok(_) | Err(AppError::Domain(DomainError::UnitAlreadyRegistered)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn person_command(
        &self,
        by: &str,
        key: &str,
        person: PersonId,
        cmd: PersonCommand,
    ) -> Result<(), AppError> {
        let caller = staff(by)?;
        pipeline::execute::<PersonAggregate>(
            &self.state,
            &caller,
            &Self::meta(key),
            &person.stream_id(),
            &person.to_string(),
            |s, ctx| person::decide(s, &cmd, ctx),
        )
        .await
        .map(|_| ())
    }

    async fn person(&self, p: &PersonSpec, by: &str) -> Result<(), AppError> {
        let id = person_id(p.n);
        let cmd = PersonCommand::RegisterPerson(RegisterPerson {
            person_id: id,
            personal_identity_number: p.pin.into(),
            name: p.name.into(),
            phone: Some(p.phone.into()),
            address: Some(p.address.into()),
        });
        self.person_command(by, &format!("person:{}", p.n), id, cmd)
            .await
    }

    async fn relative(
        &self,
        by: &str,
        person: u8,
        relative_id: &str,
        kind: RelativeKind,
        name: &str,
        phone: &str,
    ) -> Result<(), AppError> {
        let cmd = PersonCommand::AddRelative(AddRelative {
            relative_id: relative_id.into(),
            kind,
            name: name.into(),
            phone: Some(phone.into()),
            address: None,
            note: None,
        });
        let key = format!("person:{person}:relative:{relative_id}");
        self.person_command(by, &key, person_id(person), cmd).await
    }

    /// What the SIP rules need besides the plan: the person and the units named.
    async fn facts(
        &self,
        person: PersonId,
        units: impl IntoIterator<Item = UnitId>,
    ) -> Result<SipFacts, AppError> {
        let (person_state, _) =
            pipeline::load::<PersonAggregate>(&self.state, &person.stream_id()).await?;
        let mut loaded = BTreeMap::new();
        for u in units {
            let stream_id = u.stream_id();
            if let std::collections::btree_map::Entry::Vacant(slot) = loaded.entry(u) {
                let (s, _) = pipeline::load::<UnitAggregate>(&self.state, &stream_id).await?;
                slot.insert(s);
            }
        }
        Ok(SipFacts {
            person: Some(person_state),
            units: loaded,
        })
    }

    async fn run_sip(
        &self,
        by: &str,
        plan: u8,
        key: &str,
        person: PersonId,
        cmd: SipCommand,
    ) -> Result<(), AppError> {
        let caller = staff(by)?;
        let mut units = cmd.referenced_units();
        units.extend(caller.unit.clone());
        let facts = self.facts(person, units).await?;
        let sip = sip_id(plan);
        pipeline::execute::<SipAggregate>(
            &self.state,
            &caller,
            &Self::meta(&format!("sip:{plan}:{key}")),
            &sip.stream_id(),
            &sip.to_string(),
            |s, ctx| dsip::decide(s, &cmd, &facts, ctx),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            // The demo's own data is wrong or the rules changed: name the step.
            tracing::error!(plan, step = key, error = %e, "a demo command was refused");
            e
        })
    }

    /// Starts plan `plan` for person `person` (IdentifyNeed), as a client would send it.
    async fn start(&self, by: &str, plan: u8, person: u8, body: Value) -> Result<(), AppError> {
        let request: dto::IdentifyNeedRequest = parse(body)?;
        let mut request = request;
        request.person_id = person_id(person).to_string();
        let need = request.into_command(sip_id(plan))?;
        self.run_sip(
            by,
            plan,
            "identify-need",
            person_id(person),
            SipCommand::IdentifyNeed(need),
        )
        .await
    }

    /// A lifecycle command on plan `plan`, with the JSON body a client would send.
    async fn sip<D: DeserializeOwned + IntoSipCommand>(
        &self,
        by: &str,
        plan: u8,
        person: u8,
        key: &str,
        body: Value,
    ) -> Result<(), AppError> {
        let request: D = parse(body)?;
        let cmd = request.into_command()?;
        self.run_sip(by, plan, key, person_id(person), cmd).await
    }
}

fn parse<T: DeserializeOwned>(body: Value) -> Result<T, AppError> {
    serde_json::from_value(body).map_err(|e| AppError::internal(format!("demo body: {e}")))
}

/// The invitation of a meeting to `recipients`, `days` from today.
fn invitation(
    l: &Loader,
    id: &str,
    days: i64,
    place: &str,
    reason: &str,
    recipients: Value,
) -> Value {
    json!({
        "invitation_id": id,
        "purpose": "meeting",
        "scheduled_at": l.at(days, 13, 0),
        "form": if place.is_empty() { "video" } else { "in_person" },
        "place": if place.is_empty() { Value::Null } else { json!(place) },
        "reason": reason,
        "recipients": recipients,
    })
}

fn consent(l: &Loader, actors: &[&str], topics: &[&str]) -> Value {
    json!({
        "given_by": {"kind": "person"},
        "actors": actors,
        "topics": topics,
        "valid_until": l.day(365),
    })
}

/// Loads the demonstration data through the command pipeline. See the module documentation.
pub async fn load(state: &AppState) -> Result<DemoSummary, AppError> {
    let head_before = state.store.head_position().await?;
    let now = state.clock.now();
    let clock = Clock::fixed(now);
    let loader = Loader {
        state: AppState {
            clock: clock.clone(),
            ..state.clone()
        },
        clock,
        today: local_date(now),
    };
    let l = &loader;

    l.when(-200, 8, 0);
    for u in UNITS {
        l.unit(u).await?;
    }
    // Persons are registered by the unit that first meets them.
    for (p, by) in PERSONS.iter().zip([
        AVD_61, PSYK_LULEA, SOC_BODEN, HC_LULEA, HC_BODEN, SOC_LULEA, HC_BODEN, HC_LULEA, HC_LULEA,
        HC_LULEA, HC_LULEA,
    ]) {
        l.person(p, by).await?;
    }
    l.relative(
        SOC_BODEN,
        3,
        "vh-mamma",
        RelativeKind::Guardian,
        "Maria Berg",
        "070-223 03 01",
    )
    .await?;
    l.relative(
        SOC_BODEN,
        3,
        "vh-pappa",
        RelativeKind::Guardian,
        "Johan Berg",
        "070-223 03 02",
    )
    .await?;
    l.relative(
        HC_LULEA,
        1,
        "dotter",
        RelativeKind::Relative,
        "Anna Nilsson",
        "070-223 01 01",
    )
    .await?;
    l.relative(
        HC_LULEA,
        8,
        "god-man",
        RelativeKind::Trustee,
        "Bengt Ek",
        "070-223 08 01",
    )
    .await?;
    l.when(-20, 9, 0);
    l.person_command(
        HC_LULEA,
        "person:11:protected",
        person_id(11),
        PersonCommand::MarkProtectedIdentity,
    )
    .await?;

    let mut plans = Vec::new();
    plan_closed(l).await?;
    plans.push((5, 5, "avslutad: målen nådda"));
    plan_followed_up(l).await?;
    plans.push((4, 4, "uppföljd, nästa uppföljning bokad"));
    plan_consent_withdrawn(l).await?;
    plans.push((6, 6, "samtycket återkallat: ska avslutas"));
    plan_published(l).await?;
    plans.push((2, 2, "dokumenterad och utdelad (Spara & dela ut)"));
    plan_meeting_held(l).await?;
    plans.push((3, 3, "SIP-möte hållet, barn med två vårdnadshavare"));
    plan_basis_created(l).await?;
    plans.push((10, 10, "SIP-underlag skapat, kartläggning pågår"));
    plan_consent_declined(l).await?;
    plans.push((7, 7, "samtycke nekat"));
    plan_consent_given(l).await?;
    plans.push((9, 9, "samtycke givet, underlag saknas"));
    plan_invited(l).await?;
    plans.push((1, 1, "kallelse skickad (utskrivning, gult spår)"));
    plan_need_identified(l).await?;
    plans.push((8, 8, "behov identifierat, samtycke saknas"));

    let mut summary_plans = Vec::new();
    for (plan, person, stage) in plans {
        let (sip, _) = pipeline::load::<SipAggregate>(state, &sip_id(plan).stream_id()).await?;
        summary_plans.push(DemoPlan {
            sip_id: sip_id(plan).to_string(),
            person_id: person_id(person).to_string(),
            stage,
            phase: format!("{:?}", sip.phase()),
        });
    }
    let head_after = state.store.head_position().await?;
    Ok(DemoSummary {
        units: UNITS
            .iter()
            .map(|u| DemoUnit {
                id: u.id.into(),
                name: u.name.into(),
                principal: u.principal.into(),
                uses_samplan: u.uses_samplan,
            })
            .collect(),
        staff: UNITS
            .iter()
            .filter_map(|u| {
                u.staff.map(|(sub, name)| DemoStaff {
                    sub: sub.into(),
                    unit: u.id.into(),
                    name: name.into(),
                })
            })
            .collect(),
        persons: PERSONS.iter().map(|p| person_id(p.n).to_string()).collect(),
        plans: summary_plans,
        events_appended: head_after - head_before,
    })
}

/// Plan 8: a need noticed yesterday; consent not yet asked.
async fn plan_need_identified(l: &Loader) -> Result<(), AppError> {
    l.when(-1, 10, 15);
    l.start(HC_LULEA, 8, 8, json!({
        "person_id": "", "identified_by": "relative",
        "reason": "Gunnel har fallit flera gånger i hemmet. God man och hemtjänsten behöver samordna stöd och rehabilitering med hälsocentralen.",
        "known_since": l.at(-1, 9, 0),
        "context": {"kind": "outpatient"},
    })).await
}

/// Plan 9: consent given to the hälsocentral, socialtjänsten and Försäkringskassan.
async fn plan_consent_given(l: &Loader) -> Result<(), AppError> {
    l.when(-4, 11, 0);
    l.start(HC_LULEA, 9, 9, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Långvarig smärta och sjukskrivning; behöver samordning kring ekonomi, arbete och vård.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-3, 10, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_LULEA,
        9,
        9,
        "consent",
        consent(
            l,
            &[HC_LULEA, SOC_LULEA, FK_LULEA],
            &["Fysisk hälsa", "Ekonomi", "Arbete och sysselsättning"],
        ),
    )
    .await
}

/// Plan 10: plan basis created, mapping begun.
async fn plan_basis_created(l: &Loader) -> Result<(), AppError> {
    l.when(-8, 9, 30);
    l.start(HC_LULEA, 10, 10, json!({
        "person_id": "", "identified_by": "person",
        "reason": "Ingrid vill klara sig hemma efter sin stroke och behöver stöd från både hälsocentral och hemtjänst.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-7, 10, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_LULEA,
        10,
        10,
        "consent",
        consent(
            l,
            &[HC_LULEA, HT_LULEA],
            &["Fysisk hälsa", "Hem och vardag"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(HC_LULEA, 10, 10, "basis", json!({
        "initiated_by": "Hälsocentralen Centrum",
        "fixed_care_contacts": [{"name": staff_name(HC_LULEA), "unit_id": HC_LULEA, "phone": "0920-28 40 00"}],
    })).await?;
    l.when(-6, 14, 0);
    l.sip::<dto::DocumentMappingRequest>(HC_LULEA, 10, 10, "mapping-1", json!({
        "mapping_id": "kartl-hem", "heading": "daily_living",
        "text": "Klarar av- och påklädning själv men inte matlagning. Dottern handlar en gång i veckan.",
    })).await
}

/// Plan 7: the person declined consent; no SIP can be held.
async fn plan_consent_declined(l: &Loader) -> Result<(), AppError> {
    l.when(-7, 13, 0);
    l.start(
        HC_BODEN,
        7,
        7,
        json!({
            "person_id": "", "identified_by": "staff",
            "reason": "Alkoholproblem och bostadslöshet; insatser från flera verksamheter behövs.",
            "context": {"kind": "outpatient"},
        }),
    )
    .await?;
    l.when(-6, 10, 30);
    l.sip::<dto::DeclineConsentRequest>(HC_BODEN, 7, 7, "decline", json!({
        "declined_by": {"kind": "person"},
        "note": "Vill inte att uppgifter delas med socialtjänsten just nu. Dokumenterat i journalen.",
    })).await
}

/// Plan 1: discharge from the ward on the yellow track; the invitation is out, the meeting in
/// three days (video); hemtjänsten has appointed its representative.
async fn plan_invited(l: &Loader) -> Result<(), AppError> {
    l.when(-3, 9, 30);
    l.start(AVD_61, 1, 1, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Utskrivningsklar efter höftfraktur; behöver hemtjänst och uppföljning av hälsocentralen.",
        "known_since": l.at(-3, 9, 0),
        "context": {"kind": "discharge", "track": "yellow", "discharge_ready_at": l.at(-3, 9, 0)},
    })).await?;
    l.when(-3, 11, 0);
    l.sip::<dto::RecordConsentRequest>(
        AVD_61,
        1,
        1,
        "consent",
        consent(
            l,
            &[AVD_61, HC_LULEA, HT_LULEA],
            &[
                "Fysisk hälsa",
                "Förflyttning och hjälpmedel",
                "Hem och vardag",
            ],
        ),
    )
    .await?;
    l.when(-2, 9, 0);
    l.sip::<dto::CreatePlanBasisRequest>(
        HC_LULEA,
        1,
        1,
        "basis",
        json!({
            "initiated_by": "Vårdavdelning 61, Sunderby sjukhus",
            "fixed_care_contacts": [{"name": staff_name(HC_LULEA), "unit_id": HC_LULEA}],
        }),
    )
    .await?;
    l.sip::<dto::DocumentMappingRequest>(HC_LULEA, 1, 1, "mapping-1", json!({
        "mapping_id": "kartl-rorlighet", "heading": "mobility",
        "text": "Går med rollator inomhus, behöver hjälp i trappor. Bor i lägenhet på andra våningen utan hiss.",
    })).await?;
    l.when(-2, 10, 0);
    l.sip::<dto::SendInvitationRequest>(
        HC_LULEA,
        1,
        1,
        "invite-1",
        invitation(
            l,
            "kallelse-1",
            3,
            "",
            "SIP-möte inför hemgång: hemtjänst, rehabilitering och uppföljning.",
            json!([{"kind": "unit", "unit_id": AVD_61}, {"kind": "unit", "unit_id": HT_LULEA},
               {"kind": "person"}, {"kind": "relative", "relative_id": "dotter"}]),
        ),
    )
    .await?;
    l.when(-1, 8, 30);
    l.sip::<dto::RespondToInvitationRequest>(HT_LULEA, 1, 1, "respond-ht", json!({
        "invitation_id": "kallelse-1",
        "representative": {"name": staff_name(HT_LULEA), "staff_id": "SE2120000001-DHT1", "profession": "biståndshandläggare"},
    })).await
}

/// Plan 3: a child in Boden; both guardians consented, the meeting was held five days ago.
async fn plan_meeting_held(l: &Loader) -> Result<(), AppError> {
    l.when(-16, 10, 0);
    l.start(SOC_BODEN, 3, 3, json!({
        "person_id": "", "identified_by": "relative",
        "reason": "Elsa har hög skolfrånvaro och oro i hemmet; vårdnadshavarna vill ha samordnat stöd.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-15, 9, 0);
    for (key, guardian) in [("consent-mamma", "vh-mamma"), ("consent-pappa", "vh-pappa")] {
        l.sip::<dto::RecordConsentRequest>(
            SOC_BODEN,
            3,
            3,
            key,
            json!({
                "given_by": {"kind": "guardian", "relative_id": guardian},
                "actors": [SOC_BODEN, HC_BODEN],
                "topics": ["Skola och utbildning", "Psykisk hälsa", "Relationer och nätverk"],
                "valid_until": l.day(365),
            }),
        )
        .await?;
    }
    l.sip::<dto::CreatePlanBasisRequest>(
        SOC_BODEN,
        3,
        3,
        "basis",
        json!({"initiated_by": "Vårdnadshavarna"}),
    )
    .await?;
    l.when(-14, 13, 0);
    l.sip::<dto::DocumentMappingRequest>(
        SOC_BODEN,
        3,
        3,
        "mapping-1",
        json!({
            "mapping_id": "kartl-skola", "heading": "education",
            "text": "Frånvaro omkring 40 procent senaste terminen. Trivs med sin mentor.",
        }),
    )
    .await?;
    l.sip::<dto::SendInvitationRequest>(SOC_BODEN, 3, 3, "invite-1", invitation(
        l, "kallelse-1", -5, "Socialtjänsten Boden, mötesrum Älven",
        "SIP-möte om stöd i skolan och hemma.",
        json!([{"kind": "unit", "unit_id": HC_BODEN}, {"kind": "person"},
               {"kind": "relative", "relative_id": "vh-mamma"}, {"kind": "relative", "relative_id": "vh-pappa"}]),
    )).await?;
    l.when(-13, 9, 0);
    l.sip::<dto::RespondToInvitationRequest>(
        HC_BODEN,
        3,
        3,
        "respond-hc",
        json!({
            "invitation_id": "kallelse-1",
            "representative": {"name": staff_name(HC_BODEN), "staff_id": "SE2321000016-DHB1"},
        }),
    )
    .await?;
    l.when(-5, 15, 30);
    l.sip::<dto::RecordMeetingRequest>(
        SOC_BODEN,
        3,
        3,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(-5, 13, 0),
            "attendees": [
                {"name": "Elsa Berg", "role": "person"},
                {"name": "Maria Berg", "role": "relative"},
                {"name": "Johan Berg", "role": "relative"},
                {"name": staff_name(HC_BODEN), "role": "staff", "unit_id": HC_BODEN},
                {"name": staff_name(SOC_BODEN), "role": "staff", "unit_id": SOC_BODEN},
            ],
            "chair": staff_name(SOC_BODEN),
            "secretary": staff_name(HC_BODEN),
            "follow_up_on": l.day(85),
            "sip_survey_offered": true,
        }),
    )
    .await
}

/// The meeting, goals, interventions and publishing of a plan coordinated by `coord` with one
/// other unit `other`; used by the older plans.
#[allow(clippy::too_many_arguments)]
async fn held_and_documented(
    l: &Loader,
    plan: u8,
    person: u8,
    coord: &str,
    other: &str,
    meeting_day: i64,
    follow_up_day: i64,
    texts: [&str; 5],
) -> Result<(), AppError> {
    let [main_goal, coord_goal, coord_intervention, other_goal, other_intervention] = texts;
    l.when(meeting_day - 9, 10, 0);
    l.sip::<dto::SendInvitationRequest>(
        coord,
        plan,
        person,
        "invite-1",
        invitation(
            l,
            "kallelse-1",
            meeting_day,
            "Hälsocentralen, konferensrummet",
            "SIP-möte: gemensam planering.",
            json!([{"kind": "unit", "unit_id": other}, {"kind": "person"}]),
        ),
    )
    .await?;
    l.when(meeting_day - 8, 9, 0);
    l.sip::<dto::RespondToInvitationRequest>(
        other,
        plan,
        person,
        "respond",
        json!({
            "invitation_id": "kallelse-1", "representative": {"name": staff_name(other)},
        }),
    )
    .await?;
    l.when(meeting_day, 15, 0);
    l.sip::<dto::RecordMeetingRequest>(
        coord,
        plan,
        person,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(meeting_day, 13, 0),
            "attendees": [
                {"name": "den enskilde", "role": "person"},
                {"name": staff_name(coord), "role": "staff", "unit_id": coord},
                {"name": staff_name(other), "role": "staff", "unit_id": other},
            ],
            "chair": staff_name(coord),
            "secretary": staff_name(other),
            "follow_up_on": l.day(follow_up_day),
            "sip_survey_offered": true,
        }),
    )
    .await?;
    l.when(meeting_day + 1, 10, 0);
    l.sip::<dto::DocumentMainGoalRequest>(
        coord,
        plan,
        person,
        "main-goal",
        json!({"text": main_goal}),
    )
    .await?;
    for (unit, goal, intervention, heading) in [
        (coord, coord_goal, coord_intervention, "physical_health"),
        (other, other_goal, other_intervention, "daily_living"),
    ] {
        let sg = format!("delmal-{unit}");
        l.sip::<dto::DocumentSubGoalRequest>(
            unit,
            plan,
            person,
            &format!("sub-goal-{unit}"),
            json!({
                "sub_goal_id": sg, "heading": heading, "text": goal,
                "responsible": {"kind": "unit", "unit_id": unit},
            }),
        )
        .await?;
        l.sip::<dto::DocumentInterventionRequest>(unit, plan, person, &format!("intervention-{unit}"), json!({
            "intervention_id": format!("insats-{unit}"), "sub_goal_id": sg, "what": intervention,
            "responsible": {"kind": "unit", "unit_id": unit}, "performer": staff_name(unit),
            "contact": spec(unit)?.phone, "from": l.day(meeting_day + 3),
        })).await?;
        l.sip::<dto::PublishContributionRequest>(
            unit,
            plan,
            person,
            &format!("publish-{unit}"),
            json!({}),
        )
        .await?;
    }
    l.sip::<dto::ScheduleFollowUpRequest>(
        coord,
        plan,
        person,
        "schedule-follow-up",
        json!({
            "follow_up_on": l.day(follow_up_day),
        }),
    )
    .await
}

/// Plan 5: held, followed up and closed with its goals met.
async fn plan_closed(l: &Loader) -> Result<(), AppError> {
    l.when(-160, 10, 0);
    l.start(
        HC_BODEN,
        5,
        5,
        json!({
            "person_id": "", "identified_by": "staff",
            "reason": "KOL och nedsatt ork; behöver hemtjänst och samordnad uppföljning.",
            "context": {"kind": "outpatient"},
        }),
    )
    .await?;
    l.when(-159, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_BODEN,
        5,
        5,
        "consent",
        consent(
            l,
            &[HC_BODEN, HT_BODEN],
            &["Fysisk hälsa", "Hem och vardag"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(HC_BODEN, 5, 5, "basis", json!({}))
        .await?;
    held_and_documented(
        l,
        5,
        5,
        HC_BODEN,
        HT_BODEN,
        -150,
        -60,
        [
            "Jag vill orka gå till affären själv.",
            "Bättre andning i vardagen.",
            "Inhalationsbehandling och andningsgymnastik, uppföljning var tredje månad.",
            "Trygg hemmiljö med stöd vid dusch.",
            "Hemtjänst två gånger i veckan för dusch och städning.",
        ],
    )
    .await?;
    l.when(-60, 14, 0);
    l.sip::<dto::RecordFollowUpRequest>(
        HC_BODEN,
        5,
        5,
        "follow-up-1",
        json!({
            "follow_up_id": "uppfoljning-1", "held_on": l.day(-60),
            "interventions": [
                {"intervention_id": format!("insats-{HC_BODEN}"), "outcome": "completed"},
                {"intervention_id": format!("insats-{HT_BODEN}"), "outcome": "completed"},
            ],
            "goals": [
                {"reached": true},
                {"sub_goal_id": format!("delmal-{HC_BODEN}"), "reached": true},
                {"sub_goal_id": format!("delmal-{HT_BODEN}"), "reached": true},
            ],
            "note": "Lars klarar sig nu med ordinarie hemtjänstinsatser.",
        }),
    )
    .await?;
    l.when(-59, 9, 0);
    l.sip::<dto::ClosePlanRequest>(
        HC_BODEN,
        5,
        5,
        "close",
        json!({
            "reason": "goals_met", "note": "Målen uppnådda vid uppföljningen.",
        }),
    )
    .await
}

/// Plan 4: followed up once; continues with the next follow-up booked.
async fn plan_followed_up(l: &Loader) -> Result<(), AppError> {
    l.when(-110, 10, 0);
    l.start(
        HC_LULEA,
        4,
        4,
        json!({
            "person_id": "", "identified_by": "staff",
            "reason": "Diabetes och depression; svårt att klara vardagen utan stöd.",
            "context": {"kind": "outpatient"},
        }),
    )
    .await?;
    l.when(-109, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_LULEA,
        4,
        4,
        "consent",
        consent(
            l,
            &[HC_LULEA, HT_LULEA],
            &["Fysisk hälsa", "Psykisk hälsa", "Hem och vardag"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(HC_LULEA, 4, 4, "basis", json!({}))
        .await?;
    held_and_documented(
        l,
        4,
        4,
        HC_LULEA,
        HT_LULEA,
        -98,
        -30,
        [
            "Jag vill kunna laga min egen mat och träffa vänner.",
            "Stabilt blodsocker.",
            "Diabetessköterska varje månad och översyn av läkemedel.",
            "Klara matlagning med stöd.",
            "Hemtjänst stöttar vid matlagning tre dagar i veckan.",
        ],
    )
    .await?;
    l.when(-30, 14, 0);
    l.sip::<dto::RecordFollowUpRequest>(HC_LULEA, 4, 4, "follow-up-1", json!({
        "follow_up_id": "uppfoljning-1", "held_on": l.day(-30),
        "interventions": [
            {"intervention_id": format!("insats-{HC_LULEA}"), "outcome": "continues"},
            {"intervention_id": format!("insats-{HT_LULEA}"), "outcome": "changed", "comment": "Minskas till två dagar i veckan."},
        ],
        "goals": [{"reached": false}, {"sub_goal_id": format!("delmal-{HT_LULEA}"), "reached": true}],
        "next_follow_up_on": l.day(60),
    })).await
}

/// Plan 6: held, then the person withdrew consent; the coordinator must close it.
async fn plan_consent_withdrawn(l: &Loader) -> Result<(), AppError> {
    l.when(-45, 10, 0);
    l.start(SOC_LULEA, 6, 6, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Missbruk och psykisk ohälsa; behöver samordnade insatser från socialtjänst och psykiatri.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-44, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        SOC_LULEA,
        6,
        6,
        "consent",
        consent(
            l,
            &[SOC_LULEA, PSYK_LULEA],
            &["Alkohol, narkotika och spel", "Psykisk hälsa", "Boende"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(SOC_LULEA, 6, 6, "basis", json!({}))
        .await?;
    l.when(-43, 10, 0);
    l.sip::<dto::SendInvitationRequest>(
        SOC_LULEA,
        6,
        6,
        "invite-1",
        invitation(
            l,
            "kallelse-1",
            -35,
            "Socialtjänsten Luleå, rum 2",
            "SIP-möte om behandling och boende.",
            json!([{"kind": "unit", "unit_id": PSYK_LULEA}, {"kind": "person"}]),
        ),
    )
    .await?;
    l.when(-35, 15, 0);
    l.sip::<dto::RecordMeetingRequest>(
        SOC_LULEA,
        6,
        6,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(-35, 13, 0),
            "attendees": [
                {"name": "Sofia Åberg", "role": "person"},
                {"name": staff_name(PSYK_LULEA), "role": "staff", "unit_id": PSYK_LULEA},
                {"name": staff_name(SOC_LULEA), "role": "staff", "unit_id": SOC_LULEA},
            ],
            "chair": staff_name(SOC_LULEA),
            "secretary": staff_name(PSYK_LULEA),
            "follow_up_on": l.day(55),
        }),
    )
    .await?;
    l.sip::<dto::DocumentMainGoalRequest>(
        SOC_LULEA,
        6,
        6,
        "main-goal",
        json!({
            "text": "Jag vill ha ett eget boende och en fungerande vardag.",
        }),
    )
    .await?;
    l.when(-6, 11, 0);
    l.sip::<dto::WithdrawConsentRequest>(
        SOC_LULEA,
        6,
        6,
        "withdraw",
        json!({
            "withdrawn_by": {"kind": "person"},
            "note": "Vill inte längre att uppgifter delas mellan verksamheterna.",
        }),
    )
    .await
}

/// Plan 2: psykiatrin coordinates with socialtjänsten and Försäkringskassan (reached by
/// letter, documented for by the coordinator); everything documented and published.
async fn plan_published(l: &Loader) -> Result<(), AppError> {
    l.when(-25, 10, 0);
    l.start(PSYK_LULEA, 2, 2, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Återkommande depression, skulder och lång sjukskrivning; behöver samordning mellan psykiatri, socialtjänst och Försäkringskassan.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-24, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        PSYK_LULEA,
        2,
        2,
        "consent",
        consent(
            l,
            &[PSYK_LULEA, SOC_LULEA, FK_LULEA],
            &["Psykisk hälsa", "Ekonomi", "Arbete och sysselsättning"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(PSYK_LULEA, 2, 2, "basis", json!({
        "fixed_care_contacts": [{"name": staff_name(PSYK_LULEA), "unit_id": PSYK_LULEA, "phone": "0920-28 45 00"}],
    })).await?;
    l.when(-23, 10, 0);
    l.sip::<dto::DocumentMappingRequest>(
        PSYK_LULEA,
        2,
        2,
        "mapping-1",
        json!({
            "mapping_id": "kartl-ekonomi", "heading": "finances",
            "text": "Skulder hos Kronofogden; ingen budget. Vill ha hjälp att få ordning.",
        }),
    )
    .await?;
    l.sip::<dto::SendInvitationRequest>(PSYK_LULEA, 2, 2, "invite-1", invitation(
        l, "kallelse-1", -12, "Psykiatriska mottagningen Luleå, rum 12",
        "SIP-möte om behandling, ekonomi och väg tillbaka till arbete.",
        json!([{"kind": "unit", "unit_id": SOC_LULEA}, {"kind": "unit", "unit_id": FK_LULEA}, {"kind": "person"}]),
    )).await?;
    l.when(-22, 9, 0);
    l.sip::<dto::RespondToInvitationRequest>(SOC_LULEA, 2, 2, "respond-soc", json!({
        "invitation_id": "kallelse-1",
        "representative": {"name": staff_name(SOC_LULEA), "staff_id": "SE2120000001-DSV1", "profession": "socialsekreterare"},
    })).await?;
    l.when(-12, 15, 0);
    l.sip::<dto::RecordMeetingRequest>(
        PSYK_LULEA,
        2,
        2,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(-12, 13, 0),
            "attendees": [
                {"name": "Erik Lindqvist", "role": "person"},
                {"name": staff_name(PSYK_LULEA), "role": "staff", "unit_id": PSYK_LULEA},
                {"name": staff_name(SOC_LULEA), "role": "staff", "unit_id": SOC_LULEA},
                {"name": "Handläggare, Försäkringskassan", "role": "other", "unit_id": FK_LULEA},
            ],
            "chair": staff_name(PSYK_LULEA),
            "secretary": staff_name(SOC_LULEA),
            "follow_up_on": l.day(78),
            "sip_survey_offered": true,
        }),
    )
    .await?;
    l.when(-11, 10, 0);
    l.sip::<dto::DocumentMainGoalRequest>(PSYK_LULEA, 2, 2, "main-goal", json!({
        "text": "Jag vill må bättre, ha koll på min ekonomi och börja arbeta några timmar i veckan.",
    })).await?;
    // Psykiatrin documents its own part, and Försäkringskassan's (no samplan) and the person's.
    for (key, sg, heading, text, responsible, intervention, performer, contact) in [
        (
            "psyk",
            "delmal-psyk",
            "mental_health",
            "Färre och kortare perioder av nedstämdhet.",
            json!({"kind": "unit", "unit_id": PSYK_LULEA}),
            "Samtalsbehandling (KBT) varannan vecka.",
            staff_name(PSYK_LULEA),
            "0920-28 45 00",
        ),
        (
            "fk",
            "delmal-fk",
            "occupation",
            "Arbetsträning på deltid inom ett halvår.",
            json!({"kind": "unit", "unit_id": FK_LULEA}),
            "Samordning av arbetslivsinriktad rehabilitering.",
            "Handläggare, Försäkringskassan".to_owned(),
            "0771-524 524",
        ),
        (
            "egen",
            "delmal-egen",
            "self_care",
            "Promenad tre gånger i veckan.",
            json!({"kind": "person"}),
            "Promenerar med en vän måndag, onsdag och fredag.",
            "Erik själv".to_owned(),
            "070-123 02 02",
        ),
    ] {
        l.sip::<dto::DocumentSubGoalRequest>(PSYK_LULEA, 2, 2, &format!("sub-goal-{key}"), json!({
            "sub_goal_id": sg, "heading": heading, "text": text, "responsible": responsible.clone(),
        })).await?;
        l.sip::<dto::DocumentInterventionRequest>(
            PSYK_LULEA,
            2,
            2,
            &format!("intervention-{key}"),
            json!({
                "intervention_id": format!("insats-{key}"), "sub_goal_id": sg, "what": intervention,
                "responsible": responsible, "performer": performer, "contact": contact,
                "from": l.day(-9), "to": l.day(170),
            }),
        )
        .await?;
    }
    l.when(-10, 11, 0);
    l.sip::<dto::DocumentSubGoalRequest>(SOC_LULEA, 2, 2, "sub-goal-soc", json!({
        "sub_goal_id": "delmal-soc", "heading": "finances", "text": "Räkningarna betalas i tid.",
        "responsible": {"kind": "unit", "unit_id": SOC_LULEA},
    })).await?;
    l.sip::<dto::DocumentInterventionRequest>(SOC_LULEA, 2, 2, "intervention-soc", json!({
        "intervention_id": "insats-soc", "sub_goal_id": "delmal-soc",
        "what": "Budget- och skuldrådgivning, ansökan om skuldsanering.",
        "responsible": {"kind": "unit", "unit_id": SOC_LULEA}, "performer": staff_name(SOC_LULEA),
        "contact": "0920-45 31 00", "from": l.day(-8),
    })).await?;
    l.sip::<dto::PublishContributionRequest>(PSYK_LULEA, 2, 2, "publish-psyk", json!({}))
        .await?;
    l.when(-9, 9, 0);
    l.sip::<dto::PublishContributionRequest>(SOC_LULEA, 2, 2, "publish-soc", json!({}))
        .await
}
