//! Granskning: the auditor's pages. A care provider's log follow-up is done by people who read
//! pages, not JSON: the extract (loggutdrag) a person asks for of who has read their data, the
//! systematic review of reads without a care relation and of unusual read volumes
//! (logguppföljning), a plan as it stood at a moment — as the unit that read it could see it, or
//! with every unit's drafts — with who did what in it, and the check of the hash chains with a
//! seal to keep outside the database.
//!
//! The pages answer with the functions of `/api/v1/audit/…` (`crate::routes::audit`,
//! `crate::access_log`) and log what those log: the extract's taking, each plan read. Names and
//! personnummer they show beside the log's ids are reads too, logged as an auditor's read. A
//! personnummer is typed into a form that posts, so that it stays out of the address bar and
//! every proxy's log; the pages link onwards by the person's id.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use domain::ids::{PersonId, SipId};
use domain::personnummer::PersonalIdentityNumber;
use projections::directory::{self, PersonQuery};
use std::collections::HashMap;

use super::form::{Field, FieldError, Fields, FormView, Refusal};
use super::persons::refused;
use super::session::Visitor;
use super::{Layout, WebError, WebQuery};
use crate::access_log::{self, action, AccessLogEntry};
use crate::auth::Caller;
use crate::error::AppError;
use crate::routes::audit as api;
use crate::routes::persons::PersonSummary;
use crate::state::AppState;

/// The auditor's start page: the four things they do, each a form.
#[derive(Template)]
#[template(path = "audit.html")]
struct StartPage {
    layout: Layout,
    forms: Vec<FormView>,
}

/// Most reads the extract's page lists; the file has them all. A person on a unit's start page
/// is read each time a colleague opens it, so a year's extract can hold many thousands of rows,
/// more than a page should carry.
const PAGE_ROWS_MAX: usize = 2_000;

/// Loggutdrag: who read one person's data in a period.
#[derive(Template)]
#[template(path = "audit_extract.html")]
struct ExtractPage {
    layout: Layout,
    person: PersonSummary,
    period: String,
    rows: Vec<ExtractRow>,
    /// Reads in the extract: more than `rows` when the page shows only the first
    /// [`PAGE_ROWS_MAX`].
    total: usize,
    /// The extract itself stopped at [`access_log::ROWS_MAX`] rows.
    truncated: bool,
    /// `/granskning/loggutdrag/{id}/csv?…`: the same extract as a file.
    csv: String,
}

/// One read in an extract, as the page shows it.
struct ExtractRow {
    /// `2026-12-07 09.30.15`, Swedish time.
    at: String,
    /// RFC 3339, for `<time datetime>`.
    at_iso: String,
    actor: String,
    actor_name: String,
    role: String,
    unit: String,
    care_provider: String,
    what: String,
    /// The plan read, as it stood at the moment of the read: `/granskning/sip?…`.
    plan_link: Option<String>,
}

/// Logguppföljning: what the systematic review found in a period.
#[derive(Template)]
#[template(path = "audit_review.html")]
struct ReviewPage {
    layout: Layout,
    period: String,
    /// "november 2026": months of the period whose log is not in the database.
    missing: Vec<String>,
    unrelated: Vec<UnrelatedRow>,
    heavy: Vec<HeavyRow>,
    form: FormView,
}

struct UnrelatedRow {
    unit: String,
    care_provider: String,
    actor: String,
    actor_name: String,
    person: PersonSummary,
    /// The person's extract for the same period.
    extract: String,
    what: String,
    reads: i64,
    first: String,
    last: String,
}

struct HeavyRow {
    actor: String,
    actor_name: String,
    unit: String,
    persons: i64,
    reads: i64,
    median: String,
}

/// A plan as it stood at a moment, and who did what in it until then.
#[derive(Template)]
#[template(path = "audit_plan.html")]
struct PlanPage {
    layout: Layout,
    sip_id: String,
    person: PersonSummary,
    /// "som den var 7 december 2026 kl. 09.30" or "som den är nu".
    when: String,
    phase: &'static str,
    version: i64,
    content: PlanContent,
    history: Vec<HistoryRow>,
    extract: String,
    form: FormView,
}

/// What the plan held at the moment: as one unit could see it (the unit of a read in an
/// extract), or everything, every unit's drafts marked as such.
struct PlanContent {
    /// "Hemtjänst Norr": shown as this unit saw it.
    seen_by: Option<String>,
    /// The unit asked for took no part in the plan then, so it could not read it at all.
    not_taking_part: Option<String>,
    coordinator: Option<String>,
    participants: Vec<String>,
    consent: &'static str,
    consent_until: Option<String>,
    items: Vec<ContentRow>,
    /// Shown as the unit printed it: what was shared only.
    printed: bool,
}

/// The status of an item every unit in the plan (and the person) could see.
const SHARED: &str = "delad";

/// A goal or intervention, with whose it is and whether it was shared.
struct ContentRow {
    kind: &'static str,
    text: String,
    unit: String,
    status: String,
}

struct HistoryRow {
    /// When it happened, as staff recorded it.
    at: String,
    at_iso: String,
    /// When samplan stored it: what the moment asked for is compared with.
    stored: String,
    actor: String,
    actor_name: String,
    unit: String,
    role: String,
    what: String,
}

/// What the check of the hash chains found.
#[derive(Template)]
#[template(path = "audit_verify.html")]
struct VerifyPage {
    layout: Layout,
    answer: api::VerifyAnswer,
    /// Whether a seal kept outside the database was given to hold the seals to.
    held_to_kept: bool,
    /// The log itself holds, and only the seal given does not match it: most often a number or
    /// digest copied wrong, which the page says before it speaks of tampering.
    only_the_kept_seal: Option<String>,
    form: FormView,
}

// ---- forms --------------------------------------------------------------------------------

fn extract_form() -> FormView {
    FormView::new(
        "loggutdrag",
        "/granskning/loggutdrag",
        "Loggutdrag för en person",
    )
    .intro(
        "Vilka som har läst personens uppgifter i samplan, när, från vilken enhet och \
             vårdgivare. Utdraget kan lämnas ut till personen.",
    )
    .field(
        Field::text("personnummer", "Personnummer eller samordningsnummer")
            .required()
            .hint("Till exempel 19121212-1212."),
    )
    .field(Field::date("fran", "Från och med").hint("Lämna tomt för allt från början."))
    .field(Field::date("till", "Till och med").hint("Lämna tomt för allt till i dag."))
    .button("Ta fram loggutdrag")
    .open(true)
}

fn review_form(today: NaiveDate) -> FormView {
    let first_of_month = today.with_day(1).unwrap_or(today);
    FormView::new(
        "logguppfoljning",
        "/granskning/logguppfoljning",
        "Logguppföljning",
    )
    .get()
    .intro(
        "Läsningar av personer som enheten inte har någon SIP med, och användare som har läst \
         betydligt fler personer än andra under perioden.",
    )
    .field(
        Field::date("fran", "Från och med")
            .required()
            .value(first_of_month.to_string()),
    )
    .field(
        Field::date("till", "Till och med")
            .required()
            .value(today.to_string()),
    )
    .button("Granska perioden")
    .open(true)
}

fn plan_form() -> FormView {
    FormView::new("sip", "/granskning/sip", "En SIP som den var")
        .get()
        .intro(
            "Planen som den stod vid en tidpunkt, med allt som hade hänt i den dittills: vem, \
             för vilken enhet, i vilken roll och när. Utkast visas också.",
        )
        .field(
            Field::text("sip", "Planens id")
                .required()
                .hint("26 tecken, som i loggutdraget eller i planens adress."),
        )
        .field(Field::datetime("tidpunkt", "Tidpunkt").hint("Lämna tomt för planen som den är nu."))
        .button("Visa planen")
        .open(true)
}

fn verify_form(latest: Option<&api::SealView>) -> FormView {
    FormView::new("kontroll", "/granskning/kontroll", "Kontrollera loggen")
        .intro(
            "Kontrollerar att ingen händelse har ändrats, tagits bort eller lagts till i \
             efterhand: varje hashkedja och varje försegling. Har du sparat en försegling utanför \
             samplan kontrolleras förseglingarna mot den.",
        )
        .field(
            Field::text("forsegling", "Sparad förseglings nummer")
                .hint("Lämna tomt om du inte har sparat någon.")
                .value(latest.map(|s| s.seal_no.to_string()).unwrap_or_default()),
        )
        .field(
            Field::text("kontrollsumma", "Sparad förseglings kontrollsumma")
                .hint("64 tecken 0–9 och a–f.")
                .value(latest.map(|s| s.digest.clone()).unwrap_or_default()),
        )
        .button("Kontrollera")
        .open(true)
}

fn start_forms(state: &AppState) -> Vec<FormView> {
    vec![
        extract_form(),
        review_form(domain::time::local_date(state.clock.now())),
        plan_form(),
        verify_form(None),
    ]
}

// ---- pages --------------------------------------------------------------------------------

/// `GET /granskning`: the auditor's start page.
pub(crate) async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, WebError> {
    visitor.auditor()?;
    visitor.page(&StartPage {
        layout: visitor.layout("Granskning", None),
        forms: start_forms(&state),
    })
}

/// The start page with `key`'s form filled with what was sent and refused beside its field, 422.
fn start_refused(
    state: &AppState,
    visitor: &Visitor,
    key: &str,
    fields: &Fields,
    refusal: &Refusal,
) -> Result<Response, WebError> {
    let mut forms = start_forms(state);
    for form in forms.iter_mut().filter(|f| f.key == key) {
        form.fill(fields);
        form.refuse(refusal);
    }
    refused(visitor.page(&StartPage {
        layout: visitor.layout("Granskning", None),
        forms,
    })?)
}

/// A period of whole Swedish days from the form's `fran` and `till`, either left open.
#[derive(Debug, Clone, Copy)]
struct Period {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Period {
    fn read(fields: &Fields) -> Result<Period, FieldError> {
        let from = fields.opt_date("fran")?;
        let to = fields.opt_date("till")?;
        for (name, day) in [("fran", from), ("till", to)] {
            if day.is_some_and(|d| !(1900..=9998).contains(&d.year())) {
                return Err(FieldError::new(
                    name,
                    "Ange ett datum mellan år 1900 och år 9998.",
                ));
            }
        }
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                return Err(FieldError::new(
                    "till",
                    "Till och med ska vara samma dag som från och med eller senare.",
                ));
            }
        }
        Ok(Period { from, to })
    }

    /// The period's first instant, on the Swedish clock.
    fn start(&self) -> Option<DateTime<Utc>> {
        self.from.map(domain::time::start_of_local_day)
    }

    /// The instant after its last day.
    fn end(&self) -> Option<DateTime<Utc>> {
        self.to
            .and_then(|d| d.checked_add_days(Days::new(1)))
            .map(domain::time::start_of_local_day)
    }

    fn words(&self) -> String {
        let day = |d: NaiveDate| super::dates::date_with_year(d);
        match (self.from, self.to) {
            (None, None) => "hela tiden".into(),
            (Some(f), None) => format!("från och med {}", day(f)),
            (None, Some(t)) => format!("till och med {}", day(t)),
            (Some(f), Some(t)) if f == t => day(f),
            (Some(f), Some(t)) => format!("{} – {}", day(f), day(t)),
        }
    }

    /// `fran=…&till=…` for a link to the same period.
    fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = self.from {
            parts.push(format!("fran={f}"));
        }
        if let Some(t) = self.to {
            parts.push(format!("till={t}"));
        }
        parts.join("&")
    }
}

/// `POST /granskning/loggutdrag`: the extract for the personnummer typed.
pub(crate) async fn extract_posted(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    visitor.auditor()?;
    let refuse = |e: FieldError| start_refused(&state, &visitor, "loggutdrag", &fields, &e.into());
    let period = match Period::read(&fields) {
        Ok(p) => p,
        Err(e) => return refuse(e),
    };
    let typed = fields.get("personnummer");
    if typed.is_empty() {
        return refuse(FieldError::new("personnummer", "Fyll i det här fältet."));
    }
    let today = domain::time::local_date(state.clock.now());
    let pin = match PersonalIdentityNumber::parse(&typed, today) {
        Ok(pin) => pin,
        Err(e) => return refuse(FieldError::new("personnummer", e.message())),
    };
    let found = directory::search_persons(
        state.store.pool(),
        "",
        &PersonQuery::PersonalIdentityNumber(pin.as_str().to_owned()),
        1,
    )
    .await
    .map_err(AppError::from)?;
    let Some(row) = found.first() else {
        return refuse(FieldError::new(
            "personnummer",
            "Ingen person med det personnumret finns i samplan.",
        ));
    };
    // To the extract's own address (Post/Redirect/Get): it names the person by id, never the
    // personnummer, and going back to it or reloading it shows it again without a form.
    Ok(visitor.finish(Redirect::to(&extract_link(&row.person_id, &period)).into_response()))
}

/// `/granskning/loggutdrag/{id}?fran=…&till=…`: a person's extract for a period.
fn extract_link(person_id: &str, period: &Period) -> String {
    let query = period.query();
    format!(
        "/granskning/loggutdrag/{}{}{query}",
        super::path_segment(person_id),
        if query.is_empty() { "" } else { "?" }
    )
}

/// The query of the extract's and the review's links.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PeriodQuery {
    fran: Option<String>,
    till: Option<String>,
}

impl PeriodQuery {
    fn fields(&self) -> Fields {
        Fields(vec![
            ("fran".into(), self.fran.clone().unwrap_or_default()),
            ("till".into(), self.till.clone().unwrap_or_default()),
        ])
    }
}

/// The person `id` as the directory knows them (a protected person's name withheld), or the
/// page's 404.
async fn person(state: &AppState, id: &str) -> Result<(PersonId, PersonSummary), WebError> {
    let person_id = PersonId::parse(id).map_err(|_| WebError::NotFound)?;
    let row = directory::person(state.store.pool(), "", id)
        .await
        .map_err(AppError::from)?
        .ok_or(WebError::NotFound)?;
    Ok((person_id, PersonSummary::from_row(&row)))
}

/// `GET /granskning/loggutdrag/{id}?fran=&till=`: the extract for a person by id (the review's
/// and the plan page's links).
pub(crate) async fn extract_by_id(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    WebQuery(query): WebQuery<PeriodQuery>,
) -> Result<Response, WebError> {
    let caller = visitor.auditor()?;
    let period = Period::read(&query.fields()).map_err(|e| bad_link(&e))?;
    let (_, summary) = person(&state, &id).await?;
    extract_page(&state, &visitor, caller, summary, period).await
}

/// A link whose query no form made: the error page, saying what was wrong.
fn bad_link(e: &FieldError) -> WebError {
    WebError::App(AppError::bad_request(
        "invalid_parameter",
        e.message.clone(),
    ))
}

async fn extract_page(
    state: &AppState,
    visitor: &Visitor,
    caller: &Caller,
    person: PersonSummary,
    period: Period,
) -> Result<Response, WebError> {
    let person_id = PersonId::parse(&person.id).map_err(AppError::internal)?;
    let entries = api::extract_for(state, caller, &person_id, period.start(), period.end()).await?;
    let truncated = entries.len() as i64 >= access_log::ROWS_MAX;
    let query = period.query();
    let csv = format!(
        "/granskning/loggutdrag/{}/csv{}{query}",
        super::path_segment(&person.id),
        if query.is_empty() { "" } else { "?" }
    );
    let rows = entries
        .iter()
        .take(PAGE_ROWS_MAX)
        .map(extract_row)
        .collect();
    visitor.page(&ExtractPage {
        layout: visitor.layout("Loggutdrag", None),
        person,
        period: period.words(),
        rows,
        total: entries.len(),
        truncated,
        csv,
    })
}

fn local_seconds(at: DateTime<Utc>) -> String {
    domain::time::to_local(at)
        .format("%Y-%m-%d %H.%M.%S")
        .to_string()
}

fn extract_row(e: &AccessLogEntry) -> ExtractRow {
    ExtractRow {
        at: local_seconds(e.at),
        at_iso: e.at.to_rfc3339(),
        actor: e.actor.clone(),
        actor_name: e.actor_name.clone().unwrap_or_default(),
        role: e.role_text.clone(),
        unit: e
            .unit_name
            .clone()
            .or_else(|| e.unit.clone())
            .unwrap_or_default(),
        care_provider: e.care_provider.clone().unwrap_or_default(),
        what: e.action_text.clone(),
        plan_link: e.sip_id.as_ref().map(|sip| {
            let mut link = format!(
                "/granskning/sip?sip={}&tidpunkt={}",
                super::path_segment(sip),
                moment_of_read(e.at)
            );
            // As the reader's unit saw it; a printout held what was shared only.
            if let Some(unit) = &e.unit {
                link.push_str(&format!("&enhet={}", super::path_segment(unit)));
            }
            if e.action == action::PRINT_SIP {
                link.push_str("&utskrift=ja");
            }
            link
        }),
    }
}

/// The moment of a read as a `tidpunkt` on the Swedish clock, to the millisecond (as far as
/// `<input type=datetime-local>` goes) and rounded up, so that the plan shown holds every change
/// stored before the read.
fn moment_of_read(at: DateTime<Utc>) -> String {
    let micros = at.timestamp_subsec_micros() % 1_000;
    let up = if micros == 0 {
        at
    } else {
        at + chrono::Duration::microseconds(i64::from(1_000 - micros))
    };
    domain::time::to_local(up)
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// `GET /granskning/loggutdrag/{id}/csv?fran=&till=`: the extract as a CSV file, the same file
/// `GET /api/v1/audit/access-log?format=csv` answers.
pub(crate) async fn extract_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    WebQuery(query): WebQuery<PeriodQuery>,
) -> Result<Response, WebError> {
    let caller = visitor.auditor()?;
    let period = Period::read(&query.fields()).map_err(|e| bad_link(&e))?;
    let (person_id, summary) = person(&state, &id).await?;
    let entries =
        api::extract_for(&state, caller, &person_id, period.start(), period.end()).await?;
    // Named for whom and when, so that an auditor with several extracts hands over the right one.
    let name = format!(
        "{}-taget-{}",
        summary.personal_identity_number,
        domain::time::local_date(state.clock.now())
    );
    Ok(visitor.finish(api::extract_file(&name, &entries)))
}

/// `GET /granskning/logguppfoljning?fran=&till=`: the systematic review of a period.
pub(crate) async fn review(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(query): WebQuery<PeriodQuery>,
) -> Result<Response, WebError> {
    let caller = visitor.auditor()?;
    let fields = query.fields();
    let today = domain::time::local_date(state.clock.now());
    let mut form = review_form(today);
    let period = match Period::read(&fields) {
        Ok(p) if p.from.is_some() && p.to.is_some() => p,
        Ok(p) => {
            let field = if p.from.is_none() { "fran" } else { "till" };
            return start_refused(
                &state,
                &visitor,
                "logguppfoljning",
                &fields,
                &FieldError::new(field, "Fyll i det här fältet.").into(),
            );
        }
        Err(e) => return start_refused(&state, &visitor, "logguppfoljning", &fields, &e.into()),
    };
    form.fill(&fields);
    let (Some(from), Some(to)) = (period.start(), period.end()) else {
        return Err(WebError::App(AppError::internal("a closed period")));
    };
    let found = access_log::review(&state, from, to).await?;

    // The persons and units by name, as the auditor follows them up.
    let mut persons: HashMap<String, PersonSummary> = HashMap::new();
    for read in &found.without_relation {
        if !persons.contains_key(&read.person_id) {
            match person(&state, &read.person_id).await {
                Ok((_, summary)) => {
                    persons.insert(read.person_id.clone(), summary);
                }
                // Not in the directory (yet): the row names the id.
                Err(WebError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let shown: Vec<PersonId> = persons
        .keys()
        .filter_map(|id| PersonId::parse(id).ok())
        .collect();
    access_log::record_many(&state, caller, &shown, action::AUDIT_REVIEW, None).await?;
    let names = unit_names(
        &state,
        found
            .without_relation
            .iter()
            .map(|r| r.unit.clone())
            .chain(found.heavy_readers.iter().filter_map(|h| h.unit.clone())),
    )
    .await?;
    let unit = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let query = period.query();
    let unrelated = found
        .without_relation
        .iter()
        .map(|r| UnrelatedRow {
            unit: unit(&r.unit),
            care_provider: r.care_provider.clone().unwrap_or_default(),
            actor: r.actor.clone(),
            actor_name: r.actor_name.clone().unwrap_or_default(),
            person: persons.get(&r.person_id).cloned().unwrap_or(PersonSummary {
                id: r.person_id.clone(),
                personal_identity_number: String::new(),
                name: r.person_id.clone(),
                name_hidden: false,
                protected_identity: false,
                deceased_on: None,
                moved_out_on: None,
            }),
            extract: format!(
                "/granskning/loggutdrag/{}?{query}",
                super::path_segment(&r.person_id)
            ),
            what: r
                .actions
                .iter()
                .map(|a| action::describe(a))
                .collect::<Vec<_>>()
                .join("; "),
            reads: r.reads,
            first: local_seconds(r.first_at),
            last: local_seconds(r.last_at),
        })
        .collect();
    let heavy = found
        .heavy_readers
        .iter()
        .map(|h| HeavyRow {
            actor: h.actor.clone(),
            actor_name: h.actor_name.clone().unwrap_or_default(),
            unit: h.unit.as_deref().map(unit).unwrap_or_default(),
            persons: h.persons,
            reads: h.reads,
            median: format!("{:.1}", h.median_persons).replace('.', ","),
        })
        .collect();
    let missing = found
        .missing_months
        .iter()
        .filter_map(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .map(|m| format!("{} {}", super::dates::month(m.month()), m.year()))
        .collect();
    visitor.page(&ReviewPage {
        layout: visitor.layout("Logguppföljning", None),
        period: period.words(),
        missing,
        unrelated,
        heavy,
        form,
    })
}

/// The names of these units, by id.
async fn unit_names(
    state: &AppState,
    ids: impl Iterator<Item = String>,
) -> Result<HashMap<String, String>, AppError> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(directory::units_by_id(state.store.pool(), &ids)
        .await?
        .into_iter()
        .map(|u| (u.unit_id, u.name))
        .collect())
}

/// The query of `GET /granskning/sip`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PlanQuery {
    sip: Option<String>,
    tidpunkt: Option<String>,
    /// Show the plan as this unit could see it.
    enhet: Option<String>,
    /// … as the unit printed it ("Skriv ut planen"): what was shared, without its drafts.
    utskrift: Option<String>,
}

/// `GET /granskning/sip?sip=&tidpunkt=`: a plan as it stood, and its history until then.
pub(crate) async fn plan(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(query): WebQuery<PlanQuery>,
) -> Result<Response, WebError> {
    let caller = visitor.auditor()?;
    let fields = Fields(vec![
        ("sip".into(), query.sip.clone().unwrap_or_default()),
        (
            "tidpunkt".into(),
            query.tidpunkt.clone().unwrap_or_default(),
        ),
    ]);
    let refuse = |e: FieldError| start_refused(&state, &visitor, "sip", &fields, &e.into());
    let typed = fields.get("sip");
    if typed.is_empty() {
        return refuse(FieldError::new("sip", "Fyll i det här fältet."));
    }
    let Ok(sip_id) = SipId::parse(&typed) else {
        return refuse(FieldError::new(
            "sip",
            "Ett id är 26 tecken, siffror och bokstäver, till exempel 01JD3Z6Q8X9P7R5T3V1W2Y4A6C.",
        ));
    };
    let as_of = if fields.get("tidpunkt").is_empty() {
        None
    } else {
        match fields.local_time("tidpunkt") {
            Ok(at) if (1900..=9998).contains(&at.year()) => Some(at),
            Ok(_) => {
                return refuse(FieldError::new(
                    "tidpunkt",
                    "Ange en tidpunkt mellan år 1900 och år 9998.",
                ))
            }
            Err(e) => return refuse(e),
        }
    };
    let found = match api::plan_as_of(&state, caller, &sip_id, as_of).await {
        Ok(found) => found,
        Err(AppError::NotFoundBecause(why)) => return refuse(FieldError::new("tidpunkt", why)),
        Err(AppError::NotFoundFor(_) | AppError::NotFound) => {
            return refuse(FieldError::new(
                "sip",
                "Ingen plan med det id:t finns i samplan.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    // The person was registered before the plan's events: once the directory has reached the
    // plan's position it knows them (a plan opened the moment it was made had found no person,
    // and answered 404, when the directory lagged).
    crate::consistency::projection_position(&state, directory::PROJECTION, Some(found.position))
        .await?;
    let (_, person) = person(&state, &found.person_id.to_string()).await?;
    let names = unit_names(
        &state,
        found
            .sip
            .history
            .iter()
            .map(|h| h.unit.clone())
            .chain(
                found
                    .state
                    .participants
                    .iter()
                    .map(|u| u.as_str().to_owned()),
            )
            .chain(query.enhet.clone()),
    )
    .await?;
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let viewer = query
        .enhet
        .as_deref()
        .and_then(|u| domain::ids::UnitId::parse(u.trim()).ok());
    let mut content = plan_content(
        &found.state,
        viewer.as_ref(),
        state.policy.for_municipality(None),
        as_of.unwrap_or_else(|| state.clock.now()),
        &name_of,
    );
    // A printout to hand to the person left the unit's drafts out (an auditor found the
    // extract's link to a print showing them).
    if query.utskrift.is_some() && content.seen_by.is_some() {
        content.items.retain(|i| i.status == SHARED);
        content.printed = true;
    }
    let history = found
        .sip
        .history
        .iter()
        .map(|h| HistoryRow {
            at: local_seconds(h.at),
            at_iso: h.at.to_rfc3339(),
            stored: local_seconds(h.stored_at),
            actor: h.actor.clone(),
            actor_name: h.actor_name.clone(),
            unit: names
                .get(&h.unit)
                .cloned()
                .unwrap_or_else(|| h.unit.clone()),
            role: access_log::role_text(&h.role).to_owned(),
            what: h.what.clone(),
        })
        .collect();
    let mut form = plan_form();
    if let Some(unit) = &viewer {
        form = form.field(Field::hidden("enhet", unit.as_str()));
    }
    if content.printed {
        form = form.field(Field::hidden("utskrift", "ja"));
    }
    form.fill(&fields);
    form.open = false;
    form.title = "Visa planen vid en annan tidpunkt".into();
    visitor.page(&PlanPage {
        layout: visitor.layout("SIP i granskning", None),
        extract: format!(
            "/granskning/loggutdrag/{}",
            super::path_segment(&found.person_id.to_string())
        ),
        sip_id: found.sip.sip_id.clone(),
        person,
        when: match as_of {
            Some(at) => format!(
                "som den var {} {}",
                super::dates::date_with_year(domain::time::local_date(at)),
                super::dates::clock(at)
            ),
            None => "som den är nu".into(),
        },
        phase: found.phase.label(),
        version: found.sip.version,
        content,
        history,
        form,
    })
}

/// The plan's content at `at`: as `viewer` could see it (the domain's own rule,
/// `view_for_unit`), or with every unit's drafts when no unit is asked for.
fn plan_content(
    plan: &domain::sip::SipState,
    viewer: Option<&domain::ids::UnitId>,
    policy: &domain::policy::PolicyProfile,
    at: DateTime<Utc>,
    name_of: &dyn Fn(&str) -> String,
) -> PlanContent {
    use domain::sip::{view_for_unit, ConsentStatus, Drafted, ItemView};
    let taking_part = viewer.filter(|u| plan.participates(u));
    // The consent does not depend on who looks.
    let anyone = domain::ids::UnitId::parse("granskning").expect("a unit id");
    let view = view_for_unit(plan, taking_part.unwrap_or(&anyone), policy, at);
    let consent = match view.consent.status {
        ConsentStatus::Missing if view.consent.history.is_empty() => "Samtycke saknas",
        ConsentStatus::Missing => "Samtycket är inte komplett",
        ConsentStatus::Given => "Samtycke finns",
        ConsentStatus::Expired => "Samtycket har gått ut",
        ConsentStatus::Declined => "Samtycke nekat",
        ConsentStatus::Withdrawn => "Samtycket återkallat",
    };
    let mut items = Vec::new();
    if taking_part.is_some() {
        fn seen<T>(
            kind: &'static str,
            text: String,
            item: &ItemView<T>,
            name_of: &dyn Fn(&str) -> String,
        ) -> ContentRow {
            ContentRow {
                kind,
                text,
                unit: name_of(item.author_unit.as_str()),
                status: if item.published {
                    SHARED.into()
                } else {
                    "enhetens eget utkast".into()
                },
            }
        }
        if let Some(g) = &view.main_goal {
            items.push(seen("Huvudmål", g.content.text.clone(), g, name_of));
        }
        for g in &view.sub_goals {
            let text = format!("{}: {}", g.content.heading.label(), g.content.text);
            items.push(seen("Delmål", text, g, name_of));
        }
        for i in &view.interventions {
            items.push(seen("Insats", i.content.what.clone(), i, name_of));
        }
    } else {
        fn both<T>(
            d: &Drafted<T>,
            kind: &'static str,
            text: impl Fn(&T) -> String,
            name_of: &dyn Fn(&str) -> String,
            items: &mut Vec<ContentRow>,
        ) {
            let unit = name_of(d.author_unit.as_str());
            if let Some(p) = &d.published {
                items.push(ContentRow {
                    kind,
                    text: text(p),
                    unit: unit.clone(),
                    status: SHARED.into(),
                });
            }
            if let Some(draft) = &d.draft {
                items.push(ContentRow {
                    kind,
                    text: text(draft),
                    status: format!("utkast, bara {unit} ser det"),
                    unit,
                });
            }
        }
        if let Some(g) = &plan.main_goal {
            both(g, "Huvudmål", |g| g.text.clone(), name_of, &mut items);
        }
        for g in plan.sub_goals.values() {
            both(
                g,
                "Delmål",
                |g| format!("{}: {}", g.heading.label(), g.text),
                name_of,
                &mut items,
            );
        }
        for i in plan.interventions.values() {
            both(i, "Insats", |i| i.what.clone(), name_of, &mut items);
        }
    }
    let participants: Vec<String> = match taking_part {
        Some(_) => view
            .participants
            .iter()
            .map(|u| name_of(u.as_str()))
            .collect(),
        None => plan
            .participants
            .iter()
            .map(|u| name_of(u.as_str()))
            .collect(),
    };
    PlanContent {
        seen_by: taking_part.map(|u| name_of(u.as_str())),
        not_taking_part: viewer
            .filter(|u| !plan.participates(u))
            .map(|u| name_of(u.as_str())),
        coordinator: plan
            .coordinator
            .as_ref()
            .map(|c| format!("{}, {}", c.name, name_of(c.unit_id.as_str()))),
        participants,
        consent,
        consent_until: view.consent.valid_until.map(super::dates::date_with_year),
        items,
        printed: false,
    }
}

/// `POST /granskning/kontroll`: checks every hash chain and seal, and shows what it found.
pub(crate) async fn verify(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    visitor.auditor()?;
    let refuse = |e: FieldError| start_refused(&state, &visitor, "kontroll", &fields, &e.into());
    let (number, digest) = (fields.get("forsegling"), fields.get("kontrollsumma"));
    let kept = match (number.is_empty(), digest.is_empty()) {
        (true, true) => None,
        (false, true) if number.parse::<i64>().is_err() => {
            return refuse(FieldError::new(
                "forsegling",
                "Numret är ett heltal från 1, som kontrollen skrev ut det.",
            ))
        }
        (false, true) => {
            return refuse(FieldError::new(
                "kontrollsumma",
                "Ange förseglingens kontrollsumma, eller töm båda fälten.",
            ))
        }
        (true, false) => {
            return refuse(FieldError::new(
                "forsegling",
                "Ange förseglingens nummer, eller töm båda fälten.",
            ))
        }
        (false, false) => {
            let Ok(seal_no) = number.parse::<i64>() else {
                return refuse(FieldError::new(
                    "forsegling",
                    "Numret är ett heltal från 1, som kontrollen skrev ut det.",
                ));
            };
            match api::kept_seal(seal_no, &digest) {
                Ok(kept) => Some(kept),
                Err(e) => {
                    let field = if seal_no < 1 {
                        "forsegling"
                    } else {
                        "kontrollsumma"
                    };
                    return refuse(FieldError::new(field, e.problem().detail));
                }
            }
        }
    };
    let answer = api::verify_answer(&state, kept.as_ref()).await?;
    let only_the_kept_seal = kept.as_ref().and_then(|k| {
        let log_holds = answer.broken.is_empty()
            && answer.events_before_the_first_position == 0
            && !answer.broken_seals.is_empty()
            && answer
                .broken_seals
                .iter()
                .all(|b| b.reason == "not_as_kept");
        let latest = answer.latest_seal.as_ref().map_or(0, |l| l.seal_no);
        if !log_holds {
            None
        } else if k.seal_no > latest {
            Some(format!(
                "Försegling {} finns inte: den senaste är {latest}. Kontrollera numret du \
                 sparade. Finns förseglingen på ditt papper men inte i samplan, har \
                 förseglingarna skrivits om eller en äldre säkerhetskopia lästs tillbaka.",
                k.seal_no
            ))
        } else {
            Some(format!(
                "Försegling {} har inte den kontrollsumma du angav. Kontrollera först att \
                 numret och alla 64 tecken är rätt avskrivna. Stämmer de, har händelserna fram \
                 till förseglingen eller förseglingarna skrivits om, eller en äldre \
                 säkerhetskopia lästs tillbaka.",
                k.seal_no
            ))
        }
    });
    let form = verify_form(answer.latest_seal.as_ref());
    visitor.page(&VerifyPage {
        layout: visitor.layout("Kontroll av loggen", None),
        held_to_kept: kept.is_some(),
        only_the_kept_seal,
        answer,
        form,
    })
}
