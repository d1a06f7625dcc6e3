//! Sök patient, the person's page (details, relatives and the plans the caller's unit takes part
//! in) and its forms: register a person, change the contact details, add and remove a relative,
//! start a SIP (the need). Reads are the API's own (`routes::persons`: the same directory queries,
//! the same protected-identity rules, the same access log; the plans from the inbox's Pågående
//! SIP, so a plan of other units is never shown or hinted at); writes are the same `commands::`
//! functions as `POST /persons`, `/persons/{id}/change-contact-details`, `/add-relative`,
//! `/remove-relative` and `POST /sips`.

use super::form::{local_input, Choice, Field, Fields, FormView, Refusal};
use super::session::Visitor;
use super::{Layout, WebError, WebQuery};
use crate::access_log::{self, action};
use crate::commands::persons::{
    AddRelativeRequest, ChangeContactDetailsRequest, MarkProtectedIdentityRequest,
    RegisterDeathRequest, RegisterMovedOutRequest, RegisterPersonRequest, RelativeKindDto,
    RemoveRelativeRequest,
};
use crate::commands::sips::dto::{
    CareContextKind, DischargeTrack, IdentifiedBy, IdentifyNeedRequest, NeedContext,
};
use crate::error::AppError;
use crate::pipeline::{Write, WriteMeta};
use crate::routes::persons::{
    directory_position, person_queries, search_and_log, PersonSummary, PersonView,
};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use domain::error::DomainError;
use domain::ids::{PersonId, SipId};
use domain::sip::SipPhase;
use projections::directory::{self, PersonQuery, PersonRow};
use projections::inbox::{self, OngoingRow};
use serde::Deserialize;
use ulid::Ulid;

/// `?q=` of a link to Sök patient (the page's own form posts, see [`search_posted`]).
#[derive(Debug, Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

/// Sök patient.
#[derive(Template)]
#[template(path = "persons.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    searched: bool,
    error: Option<String>,
    persons: Vec<PersonSummary>,
    truncated: bool,
    forms: Vec<FormView>,
    /// After registering a number that is already registered: that person, to open instead.
    existing: Option<PersonSummary>,
}

fn register_form() -> FormView {
    FormView::new("registrera", "/patienter", "Registrera en ny person")
        .intro("Finns personen inte? Registrera personnummer och namn. Telefon och adress kan fyllas i senare.")
        .field(
            Field::text("personal_identity_number", "Personnummer eller samordningsnummer")
                .required()
                .hint("Till exempel 19121212-1212."),
        )
        .field(Field::text("name", "Namn").required())
        .field(Field::tel("phone", "Telefon"))
        .field(Field::text("address", "Adress"))
        .button("Registrera")
        .open(true)
}

pub(crate) async fn unit_name(state: &AppState, caller: &crate::auth::Caller) -> Option<String> {
    let unit = caller.unit.as_ref()?;
    directory::unit(state.store.pool(), unit.as_str())
        .await
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// `GET /patienter`: Sök patient, empty. A link's `?q=` is searched as the form's is, so an
/// address some other system builds still works; the page's own form posts (below).
pub(crate) async fn search(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(query): WebQuery<SearchQuery>,
) -> Result<Response, WebError> {
    let q = query.q.unwrap_or_default();
    let (page, _) = search_page(&state, &visitor, q.trim()).await?;
    visitor.page(&page)
}

/// `POST /patienter/sok`: Sök patient's form. It posts so that a personnummer typed into it
/// stays out of the address bar, the browser's history and the access logs of every proxy on
/// the way (a GET's query string is kept by all three). Searches as `GET /api/v1/persons?q=`
/// does, logging every person listed; a query the search refuses is answered 422 beside the field.
pub(crate) async fn search_posted(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    let q = fields.get("q");
    let (mut page, mut valid) = search_page(&state, &visitor, &q).await?;
    if q.is_empty() {
        // "Sök" on an empty box: say what to type, beside the box.
        page.searched = true;
        page.error = Some("Skriv ett personnummer eller minst två bokstäver av namnet.".into());
        valid = false;
    }
    let response = visitor.page(&page)?;
    if valid {
        Ok(response)
    } else {
        refused(response)
    }
}

/// Sök patient with the results for `q` (none when empty), and whether `q` was a query the search
/// takes.
async fn search_page(
    state: &AppState,
    visitor: &Visitor,
    q: &str,
) -> Result<(SearchPage, bool), WebError> {
    let caller = visitor.staff()?;
    let unit = caller.staff_unit()?.clone();
    let mut page = SearchPage {
        layout: visitor.layout("Sök patient", unit_name(state, caller).await),
        searched: !q.is_empty(),
        q: q.to_owned(),
        error: None,
        persons: Vec::new(),
        truncated: false,
        forms: vec![register_form().guard(None)],
        existing: None,
    };
    if q.is_empty() {
        return Ok((page, true));
    }
    let queries = match person_queries(state, q) {
        Ok(queries) => queries,
        Err(e) => {
            page.error = Some(e.problem().detail);
            return Ok((page, false));
        }
    };
    let (rows, truncated) = search_and_log(state, caller, &unit, &queries).await?;
    page.truncated = truncated;
    page.persons = rows.iter().map(summary).collect();
    Ok((page, true))
}

fn summary(row: &PersonRow) -> PersonSummary {
    let view = PersonView::from_rows(row.clone(), Vec::new());
    PersonSummary {
        id: view.id,
        personal_identity_number: view.personal_identity_number,
        name: view.name,
        name_hidden: view.name_hidden,
        protected_identity: view.protected_identity,
        deceased_on: view.deceased_on,
        moved_out_on: view.moved_out.map(|m| m.moved_on),
    }
}

/// `POST /patienter`: registers a person (`commands::persons::register`, as `POST /persons`).
pub(crate) async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    let meta = fields.write_meta("/patienter");
    let write = staff_write(&visitor, &fields, &meta)?;
    let caller = write.caller;
    let body = RegisterPersonRequest {
        personal_identity_number: fields.get("personal_identity_number"),
        name: fields.get("name"),
        phone: fields.opt("phone"),
        address: fields.opt("address"),
    };
    let person_id = PersonId::from_ulid(Ulid::generate());
    match crate::commands::persons::register(&state, write, person_id, body).await {
        Ok(done) => Ok(Redirect::to(&format!(
            "/patienter/{}?efter={}&klart=registrerad#klart",
            done.id, done.position
        ))
        .into_response()),
        Err(e) => {
            let duplicate =
                matches!(&e, AppError::Domain(d) if d.code() == "person_already_registered");
            let refusal = refusal_or_page(e)?;
            let existing = if duplicate {
                registered_person(&state, caller, &fields.get("personal_identity_number")).await?
            } else {
                None
            };
            let mut form = register_form().guard(None);
            form.fill(&fields);
            form.refuse(&refusal);
            let page = SearchPage {
                layout: visitor.layout("Sök patient", unit_name(&state, caller).await),
                q: String::new(),
                searched: false,
                error: None,
                persons: Vec::new(),
                truncated: false,
                forms: vec![form],
                existing,
            };
            refused(visitor.page(&page)?)
        }
    }
}

/// The person a number that is already registered belongs to, as Sök patient would list them for
/// the number (`GET /persons?q=`): found by anyone who knows the number, the name only where the
/// unit may see it. Only after the refusal, which logged the read of that person
/// (`person.already_registered`): one view, one row (an outside review counted two). `None`
/// when the directory does not show them (yet): the refusal then stands alone, as the API's
/// `person_already_registered` does.
async fn registered_person(
    state: &AppState,
    caller: &crate::auth::Caller,
    number: &str,
) -> Result<Option<PersonSummary>, WebError> {
    let unit = caller.staff_unit()?.clone();
    let Ok(queries) = person_queries(state, number) else {
        return Ok(None);
    };
    let Some(query @ PersonQuery::PersonalIdentityNumber(_)) = queries.first() else {
        return Ok(None);
    };
    let found = directory::search_persons(state.store.pool(), unit.as_str(), query, 1)
        .await
        .map_err(AppError::from)?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    Ok(Some(summary(row)))
}

/// A refusal the form shows, or a failure that is a page of its own (404, sign-in, 500).
pub(crate) fn refusal_or_page(e: AppError) -> Result<Refusal, WebError> {
    match e {
        AppError::NotFound
        | AppError::Token { .. }
        | AppError::Unauthorized(_)
        | AppError::Internal(_)
        | AppError::Unavailable(_) => Err(e.into()),
        AppError::Domain(ref d)
            if d.code() == "person_not_found" || d.code() == "sip_not_found" =>
        {
            Err(WebError::NotFound)
        }
        other => Ok(Refusal::App(other)),
    }
}

/// A re-rendered form is answered 422, so a script or test can tell it from success.
pub(crate) fn refused(mut response: Response) -> Result<Response, WebError> {
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}

/// The person's page.
#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    layout: Layout,
    person: PersonView,
    relatives: Vec<RelativeItem>,
    /// Why removing a relative was refused.
    relatives_error: Option<String>,
    /// The person's open plans the caller's unit takes part in, newest first.
    open_plans: Vec<PlanItem>,
    /// Their closed plans the unit took part in, most recently closed first.
    closed_plans: Vec<PlanItem>,
    forms: Vec<FormView>,
    /// The unit has a care relation and may change what is known about the person
    /// (`commands::persons::care_relation`); otherwise the page says who may.
    may_change: bool,
    /// A plan the ward started at discharge waits for the unit to take it up (ADR 0054).
    offers_take_up: bool,
    /// What was just done, said at the top (`?klart=`).
    done: Option<&'static str>,
}

/// "Ta upp planen": a region unit the consent of a plan started at discharge names, while the
/// plan has no basis, finds it here — after the ward's call or its discharge notice, by searching
/// the person — and creates the basis, becoming coordinator (ADR 0054). An outside review found
/// no page leading there: the rule allowed it, nothing showed it.
async fn take_up_forms(
    state: &AppState,
    unit: &domain::UnitId,
    person_id: &PersonId,
    now: DateTime<Utc>,
) -> Result<Vec<FormView>, WebError> {
    let pool = state.store.pool();
    let units = directory::units(pool).await.map_err(AppError::from)?;
    let unit_name = |id: &str| {
        units
            .iter()
            .find(|u| u.unit_id == id)
            .map_or_else(|| id.to_owned(), |u| u.name.clone())
    };
    let region = units
        .iter()
        .any(|u| u.unit_id == unit.as_str() && u.principal_kind == "region");
    if !region {
        return Ok(Vec::new());
    }
    let sips = projections::participation::plans_of_person(pool, &person_id.to_string())
        .await
        .map_err(AppError::from)?;
    let mut forms = Vec::new();
    for sip in sips {
        let Ok(sip_id) = SipId::parse(&sip) else {
            continue;
        };
        let plan = crate::aggregate::load::<crate::aggregate::SipAggregate>(
            &state.store,
            &sip_id.stream_id(),
        )
        .await?
        .state;
        let Some(need) = plan.need.as_ref() else {
            continue;
        };
        let open = plan.basis.is_none()
            && !plan.is_closed()
            && plan.consent_withdrawn.is_none()
            && need.context.kind == domain::sip::CareContextKind::Discharge;
        let named = plan.consents.iter().any(|c| c.actors.contains(unit))
            && !plan.left_out_by_consent(unit);
        if !open || !named || plan.participates(unit) {
            continue;
        }
        let track = need
            .context
            .track
            .map(|t| format!(", {}", super::sip::track_word(t)))
            .unwrap_or_default();
        let ready = need
            .context
            .discharge_ready_at
            .map(|at| format!(" Utskrivningsklar {}.", super::dates::moment(at, now)))
            .unwrap_or_default();
        let ward = unit_name(need.recorded_by.unit_id.as_str());
        forms.push(
            super::sip_forms::basis_fields(
                FormView::new(
                    format!("ta-upp-{sip}"),
                    format!("/sip/{sip}/underlag"),
                    "Ta upp planen – SIP vid utskrivning",
                )
                .intro(format!(
                    "{ward} startade en SIP vid utskrivning från slutenvården{track}, och \
                     samtycket omfattar er enhet.{ready} Som fast vårdkontakt i öppenvården \
                     kallar ni till SIP-mötet: den som skapar SIP-underlaget blir \
                     samordningsansvarig, och avdelningen får veta det."
                )),
                &ward,
            )
            .button("Ta upp planen")
            .open(true),
        );
    }
    Ok(forms)
}

/// One plan of the person that the caller's unit takes part in.
struct PlanItem {
    sip_id: String,
    /// `SipPhase::label`: "Kallelse skickad", "Avslutad".
    phase: String,
    coordinator: Option<String>,
    coordinator_here: bool,
    /// "onsdag 14 maj".
    started: String,
    /// When it was closed, as `started`.
    closed: Option<String>,
}

impl PlanItem {
    fn from_row(row: OngoingRow, unit: &str, today: chrono::NaiveDate) -> PlanItem {
        let phase =
            serde_json::from_value::<SipPhase>(serde_json::Value::String(row.phase.clone()))
                .map(|p| p.label().to_string())
                .unwrap_or(row.phase);
        PlanItem {
            coordinator_here: row.coordinator_unit_id.as_deref() == Some(unit),
            coordinator: row.coordinator_name,
            started: super::dates::day(domain::time::local_date(row.started_at), today),
            closed: row
                .closed_at
                .map(|at| super::dates::day(domain::time::local_date(at), today)),
            phase,
            sip_id: row.sip_id,
        }
    }
}

/// The plans of the person that `unit` takes part in (Pågående SIP's rows: a plan of other units
/// only is not among them). Read after the person's page is logged, as part of that read.
async fn unit_plans(
    state: &AppState,
    unit: &str,
    person_id: &PersonId,
) -> Result<Vec<OngoingRow>, WebError> {
    Ok(
        inbox::person_plans(state.store.pool(), unit, &person_id.to_string())
            .await
            .map_err(AppError::from)?,
    )
}

struct RelativeItem {
    /// The id as one segment of the removal form's address (`super::path_segment`).
    id_segment: String,
    kind: &'static str,
    name: String,
    phone: Option<String>,
    address: Option<String>,
    note: Option<String>,
    /// A registered person with protected identity (their contact details are withheld).
    protected_identity: bool,
}

pub(crate) fn relative_kind_label(kind: RelativeKindDto) -> &'static str {
    match kind {
        RelativeKindDto::Relative => "Närstående",
        RelativeKindDto::Trustee => "God man",
        RelativeKindDto::Administrator => "Förvaltare",
        RelativeKindDto::Guardian => "Vårdnadshavare",
    }
}

/// "Starta SIP": the need, since when it is known (deadlines count from then), and for a plan
/// started at discharge from inpatient care its track and when the patient was ready for
/// discharge (Örebro, 001).
fn need_form(person_id: &str, now: DateTime<Utc>, has_open_plan: bool) -> FormView {
    let form = FormView::new(
        "behov",
        format!("/patienter/{person_id}/sip"),
        "Starta SIP – behov av SIP",
    )
    .intro("Behovet av en samordnad individuell plan är känt. Nästa steg är samtycke.")
    .field(
        Field::radios(
            "identified_by",
            "Vem uppmärksammade behovet?",
            vec![
                Choice::new("staff", "Personal"),
                Choice::new("person", "Den enskilde"),
                Choice::new("relative", "En närstående"),
            ],
        )
        .value("staff")
        .required(),
    )
    .field(Field::textarea("reason", "Varför behövs en SIP?").required())
    .field(
        Field::datetime("known_since", "Behovet känt sedan")
            .required()
            .value(local_input(now))
            .hint("När behovet blev känt, inte senare än nu. Tidsgränserna räknas härifrån."),
    )
    .field(
        Field::radios(
            "kind",
            "Sammanhang",
            vec![
                Choice::new("outpatient", "Öppenvård"),
                Choice::new("discharge", "Utskrivning från slutenvården"),
            ],
        )
        .value("outpatient")
        .required(),
    )
    .field(
        Field::radios(
            "track",
            "Spår",
            vec![
                Choice::new("", "Inget spår"),
                Choice::new("green", "Grönt spår"),
                Choice::new("yellow", "Gult spår"),
                Choice::new("red", "Rött spår – SIP-mötet hålls före hemgång"),
            ],
        )
        .value("")
        .hint("Bara vid utskrivning från slutenvård."),
    )
    .field(
        Field::datetime("discharge_ready_at", "Utskrivningsklar")
            .hint("När utskrivningsklarmeddelandet skickades. Bara vid utskrivning från slutenvård; lämna tomt om det inte är skickat ännu."),
    );
    let form = if has_open_plan {
        form.field(
            Field::checkbox(START_ANYWAY, "Starta ändå en ny plan").hint(
                "Personen har redan en pågående SIP. Fortsätt i den, eller kryssa i rutan om en ny plan ändå behövs, till exempel när den pågående ska ersättas.",
            ),
        )
    } else {
        form
    };
    // Open when it is the next step; with a plan already under way, that plan is.
    form.button("Starta SIP").open(!has_open_plan)
}

/// The check box that confirms a new plan for a person who already has one under way.
const START_ANYWAY: &str = "start_anyway";

/// Beside the check box when a new plan was asked for without it.
const START_ANYWAY_MISSING: &str = "Personen har redan en pågående SIP. Kryssa i \u{201d}Starta ändå en ny plan\u{201d} om en ny plan ska startas, annars fortsätt i den pågående.";

/// "Ändra kontaktuppgifter" (Pennan/redigera in Lifecare SP): phone and address, as they are now.
/// Not offered for a person with protected identity, whose phone and address are not shown.
fn contact_form(person: &PersonView) -> FormView {
    FormView::new(
        "kontaktuppgifter",
        format!("/patienter/{}/kontaktuppgifter", person.id),
        "Ändra kontaktuppgifter",
    )
    .intro("Telefon och adress som vården och kommunen når personen på. Lämna fältet tomt om uppgiften inte är känd.")
    .field(
        Field::tel("phone", "Telefon")
            .value(person.phone.clone().unwrap_or_default())
            .hint("Telefon- eller mobilnummer."),
    )
    .field(Field::text("address", "Adress").value(person.address.clone().unwrap_or_default()))
    .button("Spara")
}

/// What the population register (Skatteverket) says of the person and staff register here, each
/// ending the person's plans (seed 000: "Om … den enskilde får skyddade uppgifter, flyttar från
/// länet eller avlider ska SIP avslutas"): protected identity, death, moving out of the county.
/// None can be taken back, so each asks for a tick.
fn status_forms(person: &PersonView) -> Vec<FormView> {
    let id = &person.id;
    let confirm = || {
        Field::checkbox(
            "bekrafta",
            "Uppgiften är kontrollerad mot folkbokföringen (Skatteverket). Den går inte att ta bort.",
        )
    };
    let mut forms = Vec::new();
    if !person.protected_identity {
        forms.push(
            FormView::new(
                "skyddad",
                format!("/patienter/{id}/status/skyddad"),
                "Skyddade personuppgifter",
            )
            .intro(
                "När personen har fått skyddade personuppgifter: adress och telefon döljs då \
                 överallt, och den som samordnar personens planer ombeds avsluta dem.",
            )
            .field(confirm())
            .button("Registrera skyddade personuppgifter"),
        );
    }
    if person.deceased_on.is_none() {
        forms.push(
            FormView::new(
                "avliden",
                format!("/patienter/{id}/status/avliden"),
                "Dödsfall",
            )
            .field(Field::date("died_on", "Dödsdag").required())
            .field(confirm())
            .button("Registrera dödsfall"),
        );
    }
    if person.moved_out.is_none() {
        forms.push(
            FormView::new(
                "flyttat",
                format!("/patienter/{id}/status/flyttat"),
                "Flytt från länet",
            )
            .field(Field::date("moved_on", "Flyttdag").required())
            .field(Field::text("to_region", "Till region, om den är känd"))
            .field(confirm())
            .button("Registrera flytt"),
        );
    }
    forms
}

/// The need as posted: its context (a track or discharge readiness only at discharge) and
/// since when it is known.
fn need_context(
    fields: &Fields,
) -> Result<(NeedContext, Option<DateTime<Utc>>), super::form::FieldError> {
    let discharge = fields.get("kind") == "discharge";
    let track = match fields.get("track").as_str() {
        "green" => Some(DischargeTrack::Green),
        "yellow" => Some(DischargeTrack::Yellow),
        "red" => Some(DischargeTrack::Red),
        _ => None,
    };
    let discharge_ready_at = match fields.opt("discharge_ready_at") {
        Some(_) if !discharge => {
            return Err(super::form::FieldError::new(
                "discharge_ready_at",
                "Utskrivningsklar gäller bara vid utskrivning från slutenvård.",
            ))
        }
        Some(_) => Some(fields.local_time("discharge_ready_at")?),
        None => None,
    };
    let known_since = match fields.opt("known_since") {
        Some(_) => Some(fields.local_time("known_since")?),
        None => None,
    };
    let context = NeedContext {
        kind: if discharge {
            CareContextKind::Discharge
        } else {
            CareContextKind::Outpatient
        },
        track,
        discharge_ready_at,
    };
    Ok((context, known_since))
}

fn relative_form(person_id: &str) -> FormView {
    FormView::new(
        "narstaende",
        format!("/patienter/{person_id}/narstaende"),
        "Lägg till närstående",
    )
    .field(
        Field::select(
            "kind",
            "Relation",
            vec![
                Choice::new("relative", "Närstående"),
                Choice::new("guardian", "Vårdnadshavare"),
                Choice::new("trustee", "God man"),
                Choice::new("administrator", "Förvaltare"),
            ],
        )
        .required(),
    )
    .field(Field::text("name", "Namn").required())
    .field(
        Field::text("personal_identity_number", "Personnummer")
            .hint("För en vårdnadshavare: låter hen läsa barnets plan i Min plan."),
    )
    .field(Field::tel("phone", "Telefon"))
    .field(Field::text("address", "Adress"))
    .field(Field::text("note", "Anteckning"))
    .button("Lägg till")
}

#[derive(Debug, Deserialize)]
pub(crate) struct After {
    efter: Option<i64>,
    /// What was just done, to confirm it (`web::sip::done_text`).
    klart: Option<String>,
}

/// `GET /patienter/{id}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    WebQuery(after): WebQuery<After>,
) -> Result<Response, WebError> {
    directory_position(&state, after.efter).await?;
    let done = after.klart.as_deref().and_then(super::sip::done_text);
    render_person(&state, &visitor, &id, None, done).await
}

async fn render_person(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    failed: Option<(&'static str, &Fields, Refusal)>,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let caller = visitor.staff()?;
    let unit = caller.staff_unit()?.clone();
    let person_id = PersonId::parse(id).map_err(|_| WebError::NotFound)?;
    let pool = state.store.pool();
    let key = person_id.to_string();
    let row = directory::person(pool, unit.as_str(), &key)
        .await
        .map_err(AppError::from)?
        .ok_or(WebError::NotFound)?;
    let relatives = directory::relatives(pool, unit.as_str(), &key)
        .await
        .map_err(AppError::from)?;
    access_log::record(state, caller, &person_id, action::READ_PERSON, None).await?;
    let person = PersonView::from_rows(row, relatives);
    let now = state.clock.now();
    let today = domain::time::local_date(now);
    let (open_plans, closed_plans): (Vec<PlanItem>, Vec<PlanItem>) =
        unit_plans(state, unit.as_str(), &person_id)
            .await?
            .into_iter()
            .map(|row| PlanItem::from_row(row, unit.as_str(), today))
            .partition(|p| p.closed.is_none());
    let may_change = !open_plans.is_empty()
        || !closed_plans.is_empty()
        || crate::commands::persons::care_relation(state, &unit, &person_id, false).await?;
    let mut forms = Vec::new();
    let active =
        !person.protected_identity && person.deceased_on.is_none() && person.moved_out.is_none();
    if active {
        forms.push(need_form(&person.id, now, !open_plans.is_empty()));
    }
    if may_change {
        if !person.protected_identity {
            forms.push(contact_form(&person));
        }
        forms.push(relative_form(&person.id));
        forms.extend(status_forms(&person));
    }
    let take_up = take_up_forms(state, &unit, &person_id, now).await?;
    let offers_take_up = !take_up.is_empty();
    forms.splice(0..0, take_up);
    // Each form a key of its own: a second submit (a double click, Back and Spara) writes
    // nothing (ADR 0049). No version: the person's facts are not edited as a whole.
    let mut forms: Vec<FormView> = forms.into_iter().map(|f| f.guard(None)).collect();
    let failed_is_error = failed.is_some();
    let mut relatives_error = None;
    if let Some((key, fields, refusal)) = failed {
        if let Some(form) = forms.iter_mut().find(|f| f.key == key) {
            form.fill(fields);
            form.refuse(&refusal);
        } else if key == "ta-bort" {
            relatives_error = Some(match refusal {
                Refusal::App(AppError::Domain(DomainError::UnknownRelative(_))) => {
                    "Den närstående är redan borttagen.".to_string()
                }
                Refusal::Field(e) => e.message,
                Refusal::App(e) => e.problem().detail,
            });
        }
    }
    let page = PersonPage {
        layout: visitor.layout("Patient", unit_name(state, caller).await),
        relatives_error,
        open_plans,
        closed_plans,
        relatives: person
            .relatives
            .iter()
            .map(|r| RelativeItem {
                id_segment: super::path_segment(&r.relative_id),
                kind: relative_kind_label(r.kind),
                name: r.name.clone(),
                phone: r.phone.clone(),
                address: r.address.clone(),
                note: r.note.clone(),
                // The name says it already where it is hidden.
                protected_identity: r.protected_identity && !r.name_hidden,
            })
            .collect(),
        person,
        forms,
        may_change,
        offers_take_up,
        done,
    };
    let response = visitor.page(&page)?;
    if failed_is_error {
        refused(response)
    } else {
        Ok(response)
    }
}

/// `POST /patienter/{id}/narstaende`: "Lägg till närstående" (`AddRelativeRequest`).
pub(crate) async fn add_relative(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    let meta = fields.write_meta(&format!("/patienter/{id}/narstaende"));
    let write = staff_write(&visitor, &fields, &meta)?;
    let written = add(&state, write, &id, &fields).await;
    after_write(&state, &visitor, &id, "narstaende", &fields, written).await
}

/// `POST /patienter/{id}/kontaktuppgifter`: "Ändra kontaktuppgifter"
/// (`ChangeContactDetailsRequest`).
pub(crate) async fn change_contact_details(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    let meta = fields.write_meta(&format!("/patienter/{id}/kontaktuppgifter"));
    let write = staff_write(&visitor, &fields, &meta)?;
    let body = ChangeContactDetailsRequest {
        phone: fields.opt("phone"),
        address: fields.opt("address"),
    };
    let written = crate::commands::persons::run(&state, write, &id, body).await;
    after_write(&state, &visitor, &id, "kontaktuppgifter", &fields, written).await
}

/// `POST /patienter/{id}/status/{steg}`: protected identity (`skyddad`), death (`avliden`) or
/// moving out of the county (`flyttat`), each confirmed with a tick.
pub(crate) async fn person_status(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, step)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    let meta = fields.write_meta(&format!("/patienter/{id}/status/{step}"));
    let write = staff_write(&visitor, &fields, &meta)?;
    let key: &'static str = match step.as_str() {
        "skyddad" => "skyddad",
        "avliden" => "avliden",
        "flyttat" => "flyttat",
        _ => return Err(WebError::NotFound),
    };
    let refused = |e: super::form::FieldError| Some((key, &fields, Refusal::Field(e)));
    if fields.get("bekrafta") != "ja" {
        let e = super::form::FieldError::new(
            "bekrafta",
            "Kryssa i att uppgiften stämmer: den går inte att ta bort.",
        );
        return render_person(&state, &visitor, &id, refused(e), None).await;
    }
    let written = match key {
        "skyddad" => {
            crate::commands::persons::run(&state, write, &id, MarkProtectedIdentityRequest {}).await
        }
        "avliden" => match fields.date("died_on") {
            Ok(died_on) => {
                crate::commands::persons::run(&state, write, &id, RegisterDeathRequest { died_on })
                    .await
            }
            Err(e) => return render_person(&state, &visitor, &id, refused(e), None).await,
        },
        _ => match fields.date("moved_on") {
            Ok(moved_on) => {
                crate::commands::persons::run(
                    &state,
                    write,
                    &id,
                    RegisterMovedOutRequest {
                        moved_on,
                        to_region: fields.opt("to_region"),
                    },
                )
                .await
            }
            Err(e) => return render_person(&state, &visitor, &id, refused(e), None).await,
        },
    };
    after_write(&state, &visitor, &id, key, &fields, written).await
}

/// `POST /patienter/{id}/narstaende/{relative_id}/ta-bort`: a relative's "Ta bort"
/// (`RemoveRelativeRequest`).
pub(crate) async fn remove_relative(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, relative_id)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    let meta = fields.write_meta(&format!("/patienter/{id}/narstaende/{relative_id}/ta-bort"));
    let write = staff_write(&visitor, &fields, &meta)?;
    let body = RemoveRelativeRequest { relative_id };
    let written = crate::commands::persons::run(&state, write, &id, body).await;
    after_write(&state, &visitor, &id, "ta-bort", &fields, written).await
}

/// A write of the person page by its signed-in staff member, once the form's token is checked.
fn staff_write<'a>(
    visitor: &'a Visitor,
    fields: &Fields,
    meta: &'a WriteMeta,
) -> Result<Write<'a>, WebError> {
    visitor.check_posted(fields)?;
    Ok(Write {
        caller: visitor.staff()?,
        meta,
        correlation_id: None,
    })
}

/// After a write of the person page: the page again (`?efter=` the write's position), or with
/// the refusal beside form `key`.
async fn after_write(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    key: &'static str,
    fields: &Fields,
    written: Result<crate::pipeline::WriteResponse, AppError>,
) -> Result<Response, WebError> {
    match written {
        Ok(done) => Ok(Redirect::to(&format!(
            "/patienter/{id}?efter={}&klart={key}#klart",
            done.position
        ))
        .into_response()),
        Err(e) => {
            let refusal = refusal_or_page(e)?;
            render_person(state, visitor, id, Some((key, fields, refusal)), None).await
        }
    }
}

/// "Lägg till närstående".
async fn add(
    state: &AppState,
    write: Write<'_>,
    id: &str,
    fields: &Fields,
) -> Result<crate::pipeline::WriteResponse, AppError> {
    let kind = match fields.get("kind").as_str() {
        "guardian" => RelativeKindDto::Guardian,
        "trustee" => RelativeKindDto::Trustee,
        "administrator" => RelativeKindDto::Administrator,
        _ => RelativeKindDto::Relative,
    };
    let body = AddRelativeRequest {
        relative_id: None,
        kind,
        name: fields.get("name"),
        phone: fields.opt("phone"),
        address: fields.opt("address"),
        note: fields.opt("note"),
        personal_identity_number: fields.opt("personal_identity_number"),
    };
    crate::commands::persons::run(state, write, id, body).await
}

/// `POST /patienter/{id}/sip`: starts a plan (`commands::sips::start`, as `POST /sips`). When the
/// person already has an open plan the caller's unit takes part in, only with "Starta ändå en ny
/// plan" ticked; without it the form is refused beside the box and nothing is written. Plans of
/// other units are not consulted, so the answer tells nothing of them.
pub(crate) async fn start_sip(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    let caller = visitor.staff()?;
    let (context, known_since) = match need_context(&fields) {
        Ok(parsed) => parsed,
        Err(e) => {
            return render_person(
                &state,
                &visitor,
                &id,
                Some(("behov", &fields, Refusal::Field(e))),
                None,
            )
            .await
        }
    };
    if fields.get(START_ANYWAY).is_empty() && has_open_plan(&state, caller, &id).await? {
        return render_person(
            &state,
            &visitor,
            &id,
            Some((
                "behov",
                &fields,
                Refusal::Field(super::form::FieldError::new(
                    START_ANYWAY,
                    START_ANYWAY_MISSING,
                )),
            )),
            None,
        )
        .await;
    }
    let body = IdentifyNeedRequest {
        person_id: id.clone(),
        identified_by: match fields.get("identified_by").as_str() {
            "person" => IdentifiedBy::Person,
            "relative" => IdentifiedBy::Relative,
            _ => IdentifiedBy::Staff,
        },
        reason: fields.get("reason"),
        known_since,
        context,
    };
    let meta = fields.write_meta(&format!("/patienter/{id}/sip"));
    let write = Write {
        caller,
        meta: &meta,
        correlation_id: None,
    };
    let sip_id = SipId::from_ulid(Ulid::generate());
    match crate::commands::sips::start(&state, write, sip_id, body).await {
        Ok(done) => Ok(Redirect::to(&format!(
            "/sip/{}?efter={}&klart=behov#klart",
            done.id, done.position
        ))
        .into_response()),
        Err(e) => {
            let refusal = refusal_or_page(e)?;
            render_person(
                &state,
                &visitor,
                &id,
                Some(("behov", &fields, refusal)),
                None,
            )
            .await
        }
    }
}

/// Whether the person `id` has an open plan the caller's unit takes part in, after the inbox has
/// caught up with the store (bounded wait), so a plan started a moment ago counts.
async fn has_open_plan(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: &str,
) -> Result<bool, WebError> {
    let unit = caller.staff_unit()?.clone();
    let Ok(person_id) = PersonId::parse(id) else {
        return Ok(false);
    };
    let head = state.store.head_position().await.map_err(AppError::from)?;
    crate::consistency::projection_position(state, inbox::PROJECTION, Some(head)).await?;
    Ok(unit_plans(state, unit.as_str(), &person_id)
        .await?
        .iter()
        .any(|p| p.closed_at.is_none()))
}
