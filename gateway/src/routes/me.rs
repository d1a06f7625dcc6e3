//! `/me`: Min plan, the person's own view of their plans — the 1177 mirror. `GET /me/plans`
//! lists the plans the signed-in citizen may read (their own, and their children's as far as
//! 1177's rules allow), `GET /me/plans/{id}` shows one, `GET /me/plans/{id}/fhir` gives it as an
//! HL7 FHIR R4 Bundle (`crate::fhir`).
//!
//! Everything here comes from the patient read model (`projections::patient`), which holds
//! published content only: a draft cannot reach the person because it is never stored where they
//! read. Who may read which person's plans is `domain::citizen::relation`, applied to every plan
//! on every read; a plan the caller may not read answers 404, as an unknown one does. Each read is
//! in the access log before the answer goes out, as a read by staff is.
//!
//! The web page Min plan uses [`readable_plans`] and [`readable_plan`], so the page and the JSON
//! can never disagree on who sees what.

use crate::access_log::{self, action};
use crate::auth::Caller;
use crate::consistency::{self, ReadParams};
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, Citizen};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use domain::citizen::{relation, Reader, Relation, Subject};
use domain::context::Role;
use domain::personnummer::PersonalIdentityNumber;
use domain::sip::patient::{PatientPlan, PatientPlanStatus};
use domain::sip::{InterventionOutcome, InvitationPurpose, MeetingForm, Responsible};
use domain::time::local_date;
use domain::{PersonId, SipId};
use projections::directory::UnitRow;
use projections::patient::{self, PersonRow};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/plans", get(list_plans))
        .route("/me/plans/{id}", get(get_plan))
        .route("/me/plans/{id}/fhir", get(get_plan_fhir))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(
    paths(list_plans, get_plan, get_plan_fhir),
    components(schemas(
        MyPlansResponse,
        MyPlanSummary,
        MyPlanView,
        MyPersonView,
        PlanUnitView,
        ContactView,
        CareContactView,
        HeadingView,
        SubGoalView,
        InterventionView,
        ResponsibleView,
        MeetingView,
        ClosureView,
        FhirBundle,
    )),
    tags((name = "me", description = "Min plan: the signed-in person's published plans, and their children's as 1177's rules allow"))
)]
pub struct ApiDoc;

// ---- responses ----------------------------------------------------------------------------

/// `GET /me/plans`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyPlansResponse {
    /// Newest publication first.
    pub plans: Vec<MyPlanSummary>,
}

/// Whose plan it is: the reader's own or their child's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyPersonView {
    pub id: String,
    pub name: String,
    pub birth_year: i32,
}

/// A unit taking part, with how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanUnitView {
    pub id: String,
    pub name: String,
    /// The region or municipality the unit belongs to.
    pub principal_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// The coordinator (samordningsansvarig) and how to reach them: through their unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContactView {
    pub name: String,
    pub unit: PlanUnitView,
}

/// A fixed care contact (fast vårdkontakt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CareContactView {
    pub name: String,
    pub phone: Option<String>,
    pub unit: Option<PlanUnitView>,
}

/// Who is responsible: a unit, or the person themselves (egenvård).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResponsibleView {
    /// `unit` or `person`.
    pub kind: String,
    pub unit: Option<PlanUnitView>,
    /// In words: the unit's name, or "Du själv" / "Personen själv".
    pub text: String,
}

/// An intervention (insats) as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InterventionView {
    pub id: String,
    pub what: String,
    pub responsible: ResponsibleView,
    pub responsible_person: Option<String>,
    pub performer: Option<String>,
    /// How to reach whoever does it.
    pub contact: Option<String>,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    /// `continues`, `changed` or `completed`, as judged at the latest follow-up.
    pub outcome: Option<String>,
    pub outcome_text: Option<String>,
    /// The responsible unit is no longer in the plan: the person's consent no longer names it
    /// (ADR 0053). What it published stands, as the plan's history.
    pub outside_consent: bool,
}

/// A sub-goal (delmål) with the interventions that serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubGoalView {
    pub id: String,
    pub text: String,
    pub responsible: ResponsibleView,
    /// As judged at the latest follow-up.
    pub reached: Option<bool>,
    /// The responsible unit is no longer in the plan: the person's consent no longer names it.
    pub outside_consent: bool,
    pub interventions: Vec<InterventionView>,
}

/// The sub-goals under one heading of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeadingView {
    /// Stable code, e.g. `housing`.
    pub heading: String,
    /// The heading in Swedish, e.g. "Boende".
    pub heading_text: String,
    pub sub_goals: Vec<SubGoalView>,
}

/// The next meeting the person is invited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeetingView {
    /// `meeting` or `follow_up`.
    pub purpose: String,
    /// "SIP-möte" or "Uppföljning".
    pub purpose_text: String,
    pub scheduled_at: DateTime<Utc>,
    /// `in_person`, `video` or `phone`.
    pub form: String,
    pub form_text: String,
    pub place: Option<String>,
}

/// How the plan ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClosureView {
    pub reason: String,
    pub reason_text: String,
    pub closed_at: DateTime<Utc>,
}

/// One plan in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyPlanSummary {
    pub id: String,
    /// `own` or `guardian` (the plan of the reader's child).
    pub relation: String,
    pub person: MyPersonView,
    /// `active`, `consent_withdrawn` or `closed`.
    pub status: String,
    pub status_text: String,
    pub started_at: DateTime<Utc>,
    pub last_published_at: Option<DateTime<Utc>>,
    pub main_goal: Option<String>,
    pub coordinator: Option<ContactView>,
    pub next_follow_up_on: Option<NaiveDate>,
    pub next_meeting: Option<MeetingView>,
}

/// One plan, in full, as the person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyPlanView {
    pub id: String,
    /// `own` or `guardian`.
    pub relation: String,
    pub person: MyPersonView,
    pub status: String,
    pub status_text: String,
    pub started_at: DateTime<Utc>,
    pub first_published_at: Option<DateTime<Utc>>,
    pub last_published_at: Option<DateTime<Utc>>,
    /// When what this plan shows its person last changed: the time of the latest event that
    /// changed it (a publication, a follow-up, a new coordinator, a meeting they are called to,
    /// a consent, the closing; never a draft). The FHIR export's `meta.lastUpdated` also counts
    /// the person's own record.
    pub updated_at: DateTime<Utc>,
    /// Samordningsansvarig, first: whom to call.
    pub coordinator: Option<ContactView>,
    pub fixed_care_contacts: Vec<CareContactView>,
    /// Huvudmål: the person's own goal.
    pub main_goal: Option<String>,
    pub main_goal_reached: Option<bool>,
    /// Sub-goals under their headings, in the headings' order.
    pub headings: Vec<HeadingView>,
    /// Published interventions whose sub-goal is not published (rare).
    pub other_interventions: Vec<InterventionView>,
    pub next_follow_up_on: Option<NaiveDate>,
    pub next_meeting: Option<MeetingView>,
    /// The units taking part.
    pub units: Vec<PlanUnitView>,
    pub closed: Option<ClosureView>,
}

// ---- what the caller may read -------------------------------------------------------------

/// A plan the caller may read, with whose it is and why they may read it.
#[derive(Debug, Clone)]
pub struct Readable {
    pub plan: PatientPlan,
    pub relation: Relation,
    pub person: PersonRow,
}

/// The persons whose plans the caller may read today, and as whom.
async fn readable_persons(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<(PersonRow, Relation)>, AppError> {
    caller.require_role(Role::Citizen)?;
    let (rows, reader) = candidates_for(state, caller).await?;
    let today = local_date(state.clock.now());
    let mut readable = Vec::new();
    for row in rows {
        let Some(subject) = subject_of(&row, today) else {
            continue;
        };
        if let Some(rel) = relation(&reader, &subject, today, state.young_teens) {
            readable.push((row, rel));
        }
    }
    Ok(readable)
}

/// The persons whose plans the caller might read (themselves, and children naming them as
/// guardian), and the caller as a reader of them; none when the token names no person.
async fn candidates_for(
    state: &AppState,
    caller: &Caller,
) -> Result<(Vec<PersonRow>, Reader), AppError> {
    let own_id = PersonId::parse(&caller.sub).ok();
    let own_key = own_id.map(|id| id.to_string());
    let pin = caller
        .personal_identity_number
        .map(|p| p.as_str().to_owned());
    let rows = if own_key.is_none() && pin.is_none() {
        Vec::new()
    } else {
        patient::candidates(state.store.pool(), own_key.as_deref(), pin.as_deref()).await?
    };
    let is_self = |row: &PersonRow| {
        own_key.as_deref() == Some(row.person_id.as_str())
            || pin.as_deref() == Some(row.personal_identity_number.as_str())
    };
    let reader = Reader {
        person_id: own_id,
        personal_identity_number: caller.personal_identity_number,
        protected_identity: rows.iter().any(|r| is_self(r) && r.protected_identity),
    };
    Ok((rows, reader))
}

/// The age from which the caller may read their own plans, when they are kept from them for
/// their age now (13–15, unless the deployment
/// lets the young person read them): Min plan then says why it shows none, instead of "no plan".
/// Says nothing of whether such a plan exists.
pub async fn own_plans_wait_for_age(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<u32>, AppError> {
    caller.require_role(Role::Citizen)?;
    let today = local_date(state.clock.now());
    let (rows, reader) = candidates_for(state, caller).await?;
    let waits = rows
        .iter()
        .filter_map(|row| subject_of(row, today))
        .any(|own| {
            let is_self = reader.person_id == Some(own.person_id)
                || reader.personal_identity_number == Some(own.personal_identity_number);
            is_self
                && own.personal_identity_number.age_on(today) < domain::citizen::OWN_ACCESS_FROM_AGE
                && relation(&reader, &own, today, state.young_teens).is_none()
        });
    // The age from which they read: 13 where the deployment lets young people read their own.
    let from = if state.young_teens.child_reads() {
        domain::citizen::GUARDIAN_ACCESS_UNTIL_AGE
    } else {
        domain::citizen::OWN_ACCESS_FROM_AGE
    };
    Ok(waits.then_some(from))
}

fn subject_of(row: &PersonRow, today: NaiveDate) -> Option<Subject> {
    let parse = |pin: &str| PersonalIdentityNumber::parse(pin, today).ok();
    Some(Subject {
        person_id: PersonId::parse(&row.person_id).ok()?,
        personal_identity_number: parse(&row.personal_identity_number)?,
        protected_identity: row.protected_identity,
        guardians: row.guardians.iter().filter_map(|p| parse(p)).collect(),
    })
}

/// The plans the caller may read, newest publication first, after the patient read model has
/// seen `min_position`; logged as read. Returns the read model's position too.
pub async fn readable_plans(
    state: &AppState,
    caller: &Caller,
    min_position: Option<i64>,
) -> Result<(Vec<Readable>, i64), AppError> {
    caller.require_role(Role::Citizen)?;
    let position =
        consistency::projection_position(state, patient::PROJECTION, min_position).await?;
    let persons = readable_persons(state, caller).await?;
    let ids: Vec<String> = persons.iter().map(|(p, _)| p.person_id.clone()).collect();
    let now = state.clock.now();
    let plans = patient::plans_of(state.store.pool(), &ids).await?;
    let by_id: BTreeMap<&str, &(PersonRow, Relation)> = persons
        .iter()
        .map(|p| (p.0.person_id.as_str(), p))
        .collect();
    let readable: Vec<Readable> = plans
        .into_iter()
        .filter_map(|plan| {
            let (person, relation) = by_id.get(plan.person_id.to_string().as_str())?;
            if !may_read(&plan, person, *relation) {
                return None;
            }
            Some(Readable {
                plan: as_of(plan, now),
                relation: *relation,
                person: person.clone(),
            })
        })
        .collect();
    // A row per plan shown, naming it: an auditor looking into a complaint sees which plan was
    // read, not only whose (an outside review found the list's reads logged without the plan).
    // The rows share one commit (the access log's group commit).
    futures::future::try_join_all(readable.iter().map(|r| {
        access_log::record(
            state,
            caller,
            &r.plan.person_id,
            action::by_guardian(action::PATIENT_PLAN, r.relation == Relation::Guardian),
            Some(&r.plan.sip_id),
        )
    }))
    .await?;
    Ok((readable, position))
}

/// One plan the caller may read, logged as read with `action`; 404 when it is unknown, not yet
/// published, or not the caller's to read.
pub async fn readable_plan(
    state: &AppState,
    caller: &Caller,
    id: &str,
    min_position: Option<i64>,
    log_action: &'static str,
) -> Result<(Readable, i64), AppError> {
    caller.require_role(Role::Citizen)?;
    let sip_id = SipId::parse(id).map_err(|_| AppError::NotFound)?;
    let position =
        consistency::projection_position(state, patient::PROJECTION, min_position).await?;
    let Some(plan) = patient::plan(state.store.pool(), &sip_id.to_string()).await? else {
        return Err(
            consistency::not_found(state, position, min_position, AppError::NotFound).await,
        );
    };
    let persons = readable_persons(state, caller).await?;
    let key = plan.person_id.to_string();
    let Some((person, relation)) = persons
        .into_iter()
        .find(|(p, relation)| p.person_id == key && may_read(&plan, p, *relation))
    else {
        // The person's extract shows that someone tried (a review found a citizen guessing
        // plan ids left no trace, while a unit's attempt did).
        let attempt = access_log::action::REFUSED_PATIENT_PLAN;
        access_log::record_refused(state, caller, plan.person_id, attempt, sip_id);
        return Err(AppError::NotFound);
    };
    let log_action = action::by_guardian(log_action, relation == Relation::Guardian);
    access_log::record(state, caller, &plan.person_id, log_action, Some(&sip_id)).await?;
    Ok((
        Readable {
            plan: as_of(plan, state.clock.now()),
            relation,
            person,
        },
        position,
    ))
}

/// Whether a reader related to the plan's person as `relation` may read this plan: their own,
/// yes; a child's, only when the reader gave consent to it as the child's guardian (ADR 0050).
/// Who is recorded as a guardian is staff's entry, which any unit with a plan for the child may
/// make; the plans of other units stay with the guardians who agreed to them.
fn may_read(plan: &PatientPlan, person: &PersonRow, relation: Relation) -> bool {
    match relation {
        Relation::Own => true,
        Relation::Guardian => plan.consented_by_guardian(&person.reader_guardian_ids),
    }
}

/// The plan as it reads at `now`: a meeting whose time has come is no longer the next one, and
/// hides no later one. The read model keeps every kallelse still active, whatever the time (a
/// fold of the events, equal on every rebuild), so the clock is applied here, on every read: Min
/// plan, the JSON and the FHIR export alike.
fn as_of(mut plan: PatientPlan, now: DateTime<Utc>) -> PatientPlan {
    plan.next_meeting = plan.next_meeting_at(now).cloned();
    plan
}

/// The units the plans name, from the directory, in one look-up for all of them.
pub async fn units_of<'a>(
    state: &AppState,
    plans: impl IntoIterator<Item = &'a PatientPlan>,
) -> Result<BTreeMap<String, UnitRow>, AppError> {
    let mut wanted: Vec<String> = Vec::new();
    for plan in plans {
        // Those taking part, and those the published items name (one the consent no longer
        // names among them, ADR 0053).
        wanted.extend(plan.taking_part().iter().map(|u| u.as_str().to_owned()));
        wanted.extend(plan.units.iter().map(|u| u.as_str().to_owned()));
        wanted.extend(
            plan.fixed_care_contacts
                .iter()
                .filter_map(|c| c.unit_id.as_ref().map(|u| u.as_str().to_owned())),
        );
    }
    wanted.sort();
    wanted.dedup();
    Ok(
        projections::directory::units_by_id(state.store.pool(), &wanted)
            .await?
            .into_iter()
            .map(|u| (u.unit_id.clone(), u))
            .collect(),
    )
}

// ---- views --------------------------------------------------------------------------------

fn person_view(person: &PersonRow) -> MyPersonView {
    MyPersonView {
        id: person.person_id.clone(),
        name: person.name.clone(),
        birth_year: birth_year(&person.personal_identity_number).unwrap_or_default(),
    }
}

fn unit_view(units: &BTreeMap<String, UnitRow>, id: &str) -> PlanUnitView {
    match units.get(id) {
        Some(u) => PlanUnitView {
            id: u.unit_id.clone(),
            name: u.name.clone(),
            principal_name: Some(u.principal_name.clone()),
            phone: u.phone.clone(),
            address: u.address.clone(),
        },
        None => PlanUnitView {
            id: id.to_owned(),
            name: id.to_owned(),
            principal_name: None,
            phone: None,
            address: None,
        },
    }
}

fn relation_code(relation: Relation) -> &'static str {
    match relation {
        Relation::Own => "own",
        Relation::Guardian => "guardian",
    }
}

/// The status's stable code.
pub fn status_code(status: PatientPlanStatus) -> &'static str {
    match status {
        PatientPlanStatus::Active => "active",
        PatientPlanStatus::ConsentWithdrawn => "consent_withdrawn",
        PatientPlanStatus::Closed => "closed",
    }
}

fn responsible_view(
    units: &BTreeMap<String, UnitRow>,
    responsible: &Responsible,
    relation: Relation,
) -> ResponsibleView {
    match responsible {
        Responsible::Unit { unit_id } => {
            let unit = unit_view(units, unit_id.as_str());
            ResponsibleView {
                kind: "unit".into(),
                text: unit.name.clone(),
                unit: Some(unit),
            }
        }
        Responsible::Person => ResponsibleView {
            kind: "person".into(),
            unit: None,
            text: match relation {
                Relation::Own => "Du själv",
                Relation::Guardian => "Barnet själv, med stöd av dig",
            }
            .into(),
        },
    }
}

/// An outcome's stable code and its Swedish words.
pub fn outcome_text(outcome: InterventionOutcome) -> (&'static str, &'static str) {
    match outcome {
        InterventionOutcome::Continues => ("continues", "Fortsätter"),
        InterventionOutcome::Changed => ("changed", "Ändrad"),
        InterventionOutcome::Completed => ("completed", "Avslutad"),
    }
}

fn meeting_view(plan: &PatientPlan) -> Option<MeetingView> {
    plan.next_meeting.as_ref().map(|m| {
        let (purpose, purpose_text) = match m.purpose {
            InvitationPurpose::Meeting => ("meeting", "SIP-möte"),
            InvitationPurpose::FollowUp => ("follow_up", "Uppföljning"),
        };
        let (form, form_text) = match m.form {
            MeetingForm::InPerson => ("in_person", "Fysiskt möte"),
            MeetingForm::Video => ("video", "Videomöte"),
            MeetingForm::Phone => ("phone", "Telefonmöte"),
        };
        MeetingView {
            purpose: purpose.into(),
            purpose_text: purpose_text.into(),
            scheduled_at: m.scheduled_at,
            form: form.into(),
            form_text: form_text.into(),
            place: m.place.clone(),
        }
    })
}

fn coordinator_view(plan: &PatientPlan, units: &BTreeMap<String, UnitRow>) -> Option<ContactView> {
    plan.coordinator.as_ref().map(|c| ContactView {
        name: c.name.clone(),
        unit: unit_view(units, c.unit_id.as_str()),
    })
}

fn summary(r: &Readable, units: &BTreeMap<String, UnitRow>) -> MyPlanSummary {
    let plan = &r.plan;
    MyPlanSummary {
        id: plan.sip_id.to_string(),
        relation: relation_code(r.relation).into(),
        person: person_view(&r.person),
        status: status_code(plan.status).into(),
        status_text: plan.status_text.clone(),
        started_at: plan.started_at,
        last_published_at: plan.last_published_at,
        main_goal: plan.main_goal.clone(),
        coordinator: coordinator_view(plan, units),
        next_follow_up_on: plan.next_follow_up_on,
        next_meeting: meeting_view(plan),
    }
}

/// The whole plan as the person reads it, units named.
pub fn plan_view(r: &Readable, units: &BTreeMap<String, UnitRow>) -> MyPlanView {
    let plan = &r.plan;
    let intervention = |i: &domain::sip::patient::PatientIntervention| {
        let outcome = i.outcome.map(outcome_text);
        InterventionView {
            id: i.id.clone(),
            what: i.what.clone(),
            responsible: responsible_view(units, &i.responsible, r.relation),
            responsible_person: i.responsible_person.clone(),
            performer: i.performer.clone(),
            contact: i.contact.clone(),
            from: i.from,
            to: i.to,
            outcome: outcome.map(|o| o.0.into()),
            outcome_text: outcome.map(|o| o.1.into()),
            outside_consent: plan.outside_consent(&i.responsible),
        }
    };
    let mut headings: Vec<HeadingView> = Vec::new();
    for heading in domain::heading::Heading::ALL {
        let heading = *heading;
        let sub_goals: Vec<SubGoalView> = plan
            .sub_goals
            .iter()
            .filter(|g| g.heading == heading)
            .map(|g| SubGoalView {
                id: g.id.clone(),
                text: g.text.clone(),
                responsible: responsible_view(units, &g.responsible, r.relation),
                reached: g.reached,
                outside_consent: plan.outside_consent(&g.responsible),
                interventions: plan
                    .interventions
                    .iter()
                    .filter(|i| i.sub_goal_id == g.id)
                    .map(intervention)
                    .collect(),
            })
            .collect();
        if !sub_goals.is_empty() {
            headings.push(HeadingView {
                heading: heading.code().into(),
                heading_text: heading.label().into(),
                sub_goals,
            });
        }
    }
    let other_interventions = plan
        .interventions
        .iter()
        .filter(|i| !plan.sub_goals.iter().any(|g| g.id == i.sub_goal_id))
        .map(intervention)
        .collect();
    MyPlanView {
        id: plan.sip_id.to_string(),
        relation: relation_code(r.relation).into(),
        person: person_view(&r.person),
        status: status_code(plan.status).into(),
        status_text: plan.status_text.clone(),
        started_at: plan.started_at,
        first_published_at: plan.first_published_at,
        last_published_at: plan.last_published_at,
        updated_at: plan.updated_at(),
        coordinator: coordinator_view(plan, units),
        fixed_care_contacts: plan
            .fixed_care_contacts
            .iter()
            .map(|c| CareContactView {
                name: c.name.clone(),
                phone: c.phone.clone(),
                unit: c.unit_id.as_ref().map(|u| unit_view(units, u.as_str())),
            })
            .collect(),
        main_goal: plan.main_goal.clone(),
        main_goal_reached: plan.main_goal_reached,
        headings,
        other_interventions,
        next_follow_up_on: plan.next_follow_up_on,
        next_meeting: meeting_view(plan),
        units: plan
            .taking_part()
            .iter()
            .map(|u| unit_view(units, u.as_str()))
            .collect(),
        closed: plan.closed.as_ref().map(|c| ClosureView {
            reason: serde_json::to_value(c.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            reason_text: c.reason_text.clone(),
            closed_at: c.closed_at,
        }),
    }
}

/// The schema of `GET /me/plans/{id}/fhir`: a FHIR R4 `Bundle` of type `collection` (built by
/// `crate::fhir::bundle`), described to the depth a client needs to find its resources; the
/// resources themselves are FHIR's (hl7.org/fhir/R4), validated against FHIR by the tests with
/// `fhir.resources`.
pub struct FhirBundle;

impl utoipa::PartialSchema for FhirBundle {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let resource = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A FHIR R4 resource: CarePlan, Goal, CareTeam, Organization, Practitioner or Patient",
            ))
            .property(
                "resourceType",
                string("The resource's type").enum_values(Some([
                    "CarePlan",
                    "Goal",
                    "CareTeam",
                    "Organization",
                    "Practitioner",
                    "Patient",
                ])),
            )
            .property("id", string("The resource's id (a UUID, stable for the plan)"))
            .required("resourceType");
        let entry = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("fullUrl", string("urn:uuid:… of the resource"))
            .property("resource", resource)
            .required("fullUrl")
            .required("resource");
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("A FHIR R4 Bundle of type collection: the plan as a CarePlan with its Goals, CareTeam, Organizations, Practitioners and the Patient"))
            .property("resourceType", string("Always Bundle").enum_values(Some(["Bundle"])))
            .property("id", string("The bundle's id"))
            .property("type", string("Always collection").enum_values(Some(["collection"])))
            .property("timestamp", string("When the bundle was assembled (RFC 3339)"))
            .property(
                "entry",
                ArrayBuilder::new()
                    .items(entry)
                    .min_items(Some(1))
                    .description(Some("The resources")),
            )
            .required("resourceType")
            .required("type")
            .required("entry")
            .into()
    }
}

impl utoipa::ToSchema for FhirBundle {}

/// The birth year of a canonical personnummer (its first four digits).
pub fn birth_year(pin: &str) -> Option<i32> {
    pin.get(..4)?.parse().ok()
}

/// Today in Sweden, by the service's clock.
pub fn today(state: &AppState) -> NaiveDate {
    local_date(state.clock.now())
}

// ---- handlers -----------------------------------------------------------------------------

/// The published plans the signed-in citizen may read: their own from 16 (13–15 as the
/// deployment allows), and their children's while 1177's rules let a guardian read them.
#[utoipa::path(
    get,
    path = "/api/v1/me/plans",
    tag = "me",
    params(ReadParams),
    responses(
        (status = 200, description = "The plans, newest publication first", body = MyPlansResponse),
        (status = 400, description = "`invalid_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not a citizen", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list_plans(
    State(state): State<AppState>,
    Citizen(caller): Citizen,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> Result<Response, AppError> {
    let (readable, position) = readable_plans(&state, &caller, params.min_position).await?;
    let units = units_of(&state, readable.iter().map(|r| &r.plan)).await?;
    let plans = readable.iter().map(|r| summary(r, &units)).collect();
    Ok(consistency::with_position(
        Json(MyPlansResponse { plans }).into_response(),
        position,
    ))
}

/// One published plan, in full: the coordinator and how to reach them, the main goal, the
/// sub-goals under their headings with their interventions, the next follow-up.
#[utoipa::path(
    get,
    path = "/api/v1/me/plans/{id}",
    tag = "me",
    params(("id" = String, Path, description = "The plan's id"), ReadParams),
    responses(
        (status = 200, description = "The plan", body = MyPlanView),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not a citizen", body = Problem),
        (status = 404, description = "Unknown, not published, or not the caller's to read", body = Problem),
        (status = 503, description = "`read_model_behind`: not found, but the read model had not reached `min_position` when the wait ended (header X-Samplan-Position says where it stood); try again. `service_unavailable`: the database cannot be reached", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn get_plan(
    State(state): State<AppState>,
    Citizen(caller): Citizen,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> Result<Response, AppError> {
    let (readable, position) = readable_plan(
        &state,
        &caller,
        &id,
        params.min_position,
        action::PATIENT_PLAN,
    )
    .await
    .map_err(|e| e.for_role(caller.role))?;
    let units = units_of(&state, [&readable.plan]).await?;
    Ok(consistency::with_position(
        Json(plan_view(&readable, &units)).into_response(),
        position,
    ))
}

/// The same plan as an HL7 FHIR R4 `Bundle` (type `collection`): `CarePlan`, `Goal`s,
/// `CareTeam`, `Organization`s, `Practitioner`s and the `Patient`.
#[utoipa::path(
    get,
    path = "/api/v1/me/plans/{id}/fhir",
    tag = "me",
    params(("id" = String, Path, description = "The plan's id"), ReadParams),
    responses(
        (status = 200, description = "A FHIR R4 Bundle", content_type = "application/fhir+json", body = FhirBundle),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not a citizen", body = Problem),
        (status = 404, description = "Unknown, not published, or not the caller's to read", body = Problem),
        (status = 503, description = "`read_model_behind`: not found, but the read model had not reached `min_position` when the wait ended (header X-Samplan-Position says where it stood); try again. `service_unavailable`: the database cannot be reached", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn get_plan_fhir(
    State(state): State<AppState>,
    Citizen(caller): Citizen,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> Result<Response, AppError> {
    let (readable, position) = readable_plan(
        &state,
        &caller,
        &id,
        params.min_position,
        action::PATIENT_FHIR,
    )
    .await
    .map_err(|e| e.for_role(caller.role))?;
    let units = units_of(&state, [&readable.plan]).await?;
    let bundle = crate::fhir::bundle(&readable.plan, &readable.person, &units, today(&state));
    let mut response = Json(bundle).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    Ok(consistency::with_position(response, position))
}
