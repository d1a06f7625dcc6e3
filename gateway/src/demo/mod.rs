//! Demonstration data: a region, two municipalities and Försäkringskassan, their units and staff,
//! persons (a child with two guardians among them) and one SIP in every stage of its life, from
//! a need just noticed to a closed plan, and the two refusals (consent declined, withdrawn).
//!
//! Everything goes through the command path of the HTTP API (`crate::commands`), with the JSON
//! bodies a client would send, acting as the staff member who would do it: the same roles,
//! visibility checks, facts and domain rules. The loader steps its own clock through the plans'
//! history (weeks and months back from today), so deadlines, to-dos and the audit trail look
//! real.
//!
//! Loading is idempotent: every command carries a fixed idempotency key and every id is fixed, so
//! a second run appends nothing, and a run that stopped half-way continues where it stopped.
//!
//! - `data`: the units, their staff and the persons;
//! - `plans`: one function per plan, in the order staff would work;
//! - this module: the loader and the summary printed for the operator.

mod data;
mod plans;

use crate::aggregate::{self, SipAggregate};
use crate::auth::Caller;
use crate::clock::Clock;
use crate::commands::persons::{
    AddRelativeRequest, MarkProtectedIdentityRequest, PersonCommandRequest,
};
use crate::commands::sips::dto::{IdentifyNeedRequest, IntoSipCommand};
use crate::commands::{self};
use crate::error::AppError;
use crate::pipeline::{Write, WriteMeta};
use crate::state::AppState;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use data::*;
use domain::context::Role;
use domain::error::DomainError;
use domain::time::{local_date, local_to_utc};
use domain::unit::PrincipalKind;
use plans::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;

pub use data::sip_id;

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
            personal_identity_number: None,
        };
        let kind = match u.kind {
            PrincipalKind::Region => "region",
            PrincipalKind::Municipality => "municipality",
            PrincipalKind::External => "external",
        };
        let request = parse(json!({
            "id": u.id, "name": u.name,
            "principal": {"kind": kind, "name": u.principal},
            "uses_samplan": u.uses_samplan, "address": u.address, "phone": u.phone,
        }))?;
        let meta = Self::meta(&format!("unit:{}", u.id));
        match commands::units::register(&self.state, write(&admin, &meta), request).await {
            // Registered before, by an administrator: keep theirs.
            Ok(_) | Err(AppError::Domain(DomainError::UnitAlreadyRegistered)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Registers person `p`, as staff of `by` who first meets them.
    async fn person(&self, p: &PersonSpec, by: &str) -> Result<(), AppError> {
        let caller = staff(by)?;
        let meta = Self::meta(&format!("person:{}", p.n));
        let request = parse(json!({
            "personal_identity_number": p.pin, "name": p.name,
            "phone": p.phone, "address": p.address,
        }))?;
        commands::persons::register(&self.state, write(&caller, &meta), person_id(p.n), request)
            .await
            .map(|_| ())
    }

    /// A command of `D` on person number `person`, with the body a client would send.
    async fn person_command<D: PersonCommandRequest>(
        &self,
        by: &str,
        key: &str,
        person: u8,
        body: Value,
    ) -> Result<(), AppError> {
        let caller = staff(by)?;
        let meta = Self::meta(key);
        let id = person_id(person).to_string();
        commands::persons::run::<D>(&self.state, write(&caller, &meta), &id, parse(body)?)
            .await
            .map(|_| ())
    }

    /// Starts plan `plan` for person `person` (IdentifyNeed), as a client would send it.
    async fn start(&self, by: &str, plan: u8, person: u8, body: Value) -> Result<(), AppError> {
        let mut request: IdentifyNeedRequest = parse(body)?;
        request.person_id = person_id(person).to_string();
        let caller = staff(by)?;
        let meta = Self::meta(&format!("sip:{plan}:identify-need"));
        let result =
            commands::sips::start(&self.state, write(&caller, &meta), sip_id(plan), request).await;
        named(plan, "identify-need", result)
    }

    /// A lifecycle command of `D` on plan `plan`, with the JSON body a client would send.
    async fn sip<D: DeserializeOwned + IntoSipCommand>(
        &self,
        by: &str,
        plan: u8,
        key: &str,
        body: Value,
    ) -> Result<(), AppError> {
        let caller = staff(by)?;
        let meta = Self::meta(&format!("sip:{plan}:{key}"));
        let id = sip_id(plan).to_string();
        let result =
            commands::sips::run::<D>(&self.state, write(&caller, &meta), &id, parse(body)?).await;
        named(plan, key, result)
    }
}

/// A write of the demo: no request, so no correlation id beyond the command's own.
fn write<'a>(caller: &'a Caller, meta: &'a WriteMeta) -> Write<'a> {
    Write {
        caller,
        meta,
        correlation_id: None,
    }
}

/// A refused demo command means the demo's own data is wrong or the rules changed: name the step.
fn named<T>(plan: u8, step: &str, result: Result<T, AppError>) -> Result<(), AppError> {
    result.map(|_| ()).map_err(|e| {
        tracing::error!(plan, step, error = %e, "a demo command was refused");
        e
    })
}

fn parse<T: DeserializeOwned>(body: Value) -> Result<T, AppError> {
    serde_json::from_value(body).map_err(|e| AppError::internal(format!("demo body: {e}")))
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
    l.person_command::<AddRelativeRequest>(
        SOC_BODEN,
        "person:3:relative:vh-mamma",
        3,
        json!({"relative_id": "vh-mamma", "kind": "guardian", "name": "Maria Berg", "phone": "070-223 03 01", "personal_identity_number": "19850412-9829"}),
    )
    .await?;
    l.person_command::<AddRelativeRequest>(
        SOC_BODEN,
        "person:3:relative:vh-pappa",
        3,
        json!({"relative_id": "vh-pappa", "kind": "guardian", "name": "Johan Berg", "phone": "070-223 03 02", "personal_identity_number": "19830119-9835"}),
    )
    .await?;
    l.person_command::<AddRelativeRequest>(
        AVD_61,
        "person:1:relative:dotter",
        1,
        json!({"relative_id": "dotter", "kind": "relative", "name": "Anna Nilsson", "phone": "070-223 01 01"}),
    )
    .await?;
    l.person_command::<AddRelativeRequest>(
        HC_LULEA,
        "person:8:relative:god-man",
        8,
        json!({"relative_id": "god-man", "kind": "trustee", "name": "Bengt Ek", "phone": "070-223 08 01"}),
    )
    .await?;
    l.when(-20, 9, 0);
    l.person_command::<MarkProtectedIdentityRequest>(
        HC_LULEA,
        "person:11:protected",
        11,
        json!({}),
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
        let sip = aggregate::load::<SipAggregate>(&state.store, &sip_id(plan).stream_id())
            .await?
            .state;
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
