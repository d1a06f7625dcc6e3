//! The SIP document to hand to the person, "Skriv ut planen" on the plan page:
//! `GET /sip/{id}/utskrift`. "SIP:en skall skrivas ut och lämnas till patienten snarast … Det är
//! den samordningsansvariga som skall delge patienten dokumentet" (seed 002); "Den enskilde får
//! originalet och övriga deltagare får kopior" (seed 003).
//!
//! The document is the plan as the person reads it on Min plan: published content only, never a
//! draft, not even the printing unit's own, since it is `domain::sip::patient::patient_plan` of
//! the plan (a type with no place for drafts) rendered by Min plan's own `plan_body.html`. Above
//! it the header staff print: whom the plan concerns (name and personnummer; address and phone
//! only without protected identity, as `routes::persons` shows them), the coordinator, and the day
//! it was printed. Read as the plan page reads the plan (`routes::sips::plan_of_unit`): a unit
//! taking no part gets the 404 page, as for a plan that does not exist, and the read is in the
//! access log as a read of the plan. Print CSS leaves only the document on paper.

use super::min_plan::{self, PlanText};
use super::session::Visitor;
use super::{dates, Layout, WebError};
use crate::access_log::{self, action};
use crate::error::AppError;
use crate::routes::me::Readable;
use crate::routes::persons::PersonView;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use domain::citizen::Relation;
use domain::sip::patient::patient_plan;
use domain::sip::SipState;
use domain::{SipId, UnitId};

/// The printable plan.
#[derive(Template)]
#[template(path = "sip_print.html")]
struct PrintPage {
    layout: Layout,
    /// The plan page, to go back to.
    back: String,
    /// Whom the plan concerns: their name, or "Skyddade personuppgifter" for a unit that may not
    /// see it.
    name: String,
    /// `YYYYMMDD-NNNN`.
    personal_identity_number: String,
    /// Not shown when the person has protected identity.
    address: Option<String>,
    /// Not shown when the person has protected identity.
    phone: Option<String>,
    /// "Anna Ek, Hälsocentralen Centrum".
    coordinator: Option<String>,
    /// "12 maj 2027".
    printed: String,
    /// Nothing is published yet: the printout has no goals to show.
    nothing_published: bool,
    /// The printing unit has drafts, which the printout leaves out.
    own_drafts: bool,
    /// The day of the SIP-möte the plan was drawn up at ("12 maj 2027"), once held.
    drawn_up: Option<String>,
    /// Who signs, a line each: the person, then every unit taking part ("samtliga deltagare
    /// skriver under SIP-planen", seed 003).
    signers: Vec<String>,
    p: PlanText,
}

/// Whether `unit` has drafts not yet published ("Spara & dela ut").
fn has_drafts(sip: &SipState, unit: &UnitId) -> bool {
    let main = sip
        .main_goal
        .iter()
        .any(|d| d.draft.is_some() && &d.author_unit == unit);
    let goals = sip
        .sub_goals
        .values()
        .any(|d| d.draft.is_some() && &d.author_unit == unit);
    let interventions = sip
        .interventions
        .values()
        .any(|d| d.draft.is_some() && &d.author_unit == unit);
    main || goals || interventions
}

/// `GET /sip/{id}/utskrift`.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let caller = visitor.staff()?;
    let unit = caller.staff_unit()?.clone();
    let sip_id = SipId::parse(&id).map_err(|_| WebError::NotFound)?;
    let pool = state.store.pool();
    let (_, _, sip, person_id) =
        crate::routes::sips::plan_of_unit(&state, caller, &unit, &sip_id).await?;
    let Some(mut plan) = patient_plan(&sip) else {
        return Err(WebError::NotFound);
    };
    access_log::record(&state, caller, &person_id, action::PRINT_SIP, Some(&sip_id)).await?;

    let now = state.clock.now();
    plan.next_meeting = plan.next_meeting_at(now).cloned();
    let person_key = person_id.to_string();
    let row = projections::directory::person(pool, unit.as_str(), &person_key)
        .await
        .map_err(AppError::from)?
        .ok_or(WebError::NotFound)?;
    let unit_row = projections::directory::unit(pool, unit.as_str())
        .await
        .map_err(AppError::from)?;
    // The person as `routes::persons` shows them to this unit: a hidden name, and no address or
    // phone with protected identity.
    let person = PersonView::from_rows(row.clone(), Vec::new());
    let units = min_plan::units_of(&state, &plan).await?;
    let nothing_published = !plan.visible();
    let readable = Readable {
        plan,
        // The document is the person's own ("Din plan", "Du själv").
        relation: Relation::Own,
        person: projections::patient::PersonRow {
            person_id: person.id.clone(),
            personal_identity_number: row.personal_identity_number.clone(),
            name: person.name.clone(),
            phone: None,
            address: None,
            protected_identity: person.protected_identity,
            died_on: row.deceased_on,
            changed_at: None,
            guardians: Vec::new(),
            reader_guardian_ids: Vec::new(),
        },
    };
    let p = min_plan::plan_for(&readable, &units, now);
    let coordinator = p
        .coordinator
        .as_ref()
        .map(|c| format!("{}, {}", c.name, c.unit.name));
    let drawn_up = sip
        .meetings
        .first()
        .map(|m| dates::date_with_year(domain::time::local_date(m.held_at)));
    // A child's guardians sign beside the child.
    let child = domain::personnummer::parse_canonical(&row.personal_identity_number)
        .is_ok_and(|pin| pin.is_child_on(domain::time::local_date(now)));
    let signers = std::iter::once(format!("{} (den enskilde)", person.name))
        .chain(child.then(|| "Vårdnadshavare".to_string()))
        .chain(p.units.iter().map(|u| u.name.clone()))
        .collect();
    let page = PrintPage {
        layout: visitor.layout("Utskrift av SIP", unit_row.map(|u| u.name)),
        back: format!("/sip/{sip_id}"),
        name: person.name,
        personal_identity_number: person.personal_identity_number,
        address: person.address,
        phone: person.phone,
        coordinator,
        printed: dates::date_with_year(domain::time::local_date(now)),
        nothing_published,
        own_drafts: has_drafts(&sip, &unit),
        drawn_up,
        signers,
        p,
    };
    visitor.page(&page)
}
