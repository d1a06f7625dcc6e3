//! Enheter, the administrator's page: the registered units by principal, and the form that
//! registers one. When a region brings a new municipality or care unit into samplan, this is
//! where the unit gets the id its staff's sign-in carries (runbook, "Adding a municipality or a
//! region"). The list is `GET /api/v1/units`' own query (`projections::directory::units`); the
//! form writes through `commands::units::register`, as `POST /api/v1/units` does, so the same
//! rules refuse the same input.

use super::form::{Choice, Field, FieldError, Fields, FormView, Refusal};
use super::session::Visitor;
use super::{Layout, WebError, WebQuery};
use crate::commands::units::{PrincipalDto, PrincipalKindDto, RegisterUnitRequest};
use crate::consistency;
use crate::error::AppError;
use crate::pipeline::Write;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use domain::error::DomainError;
use projections::directory::{self, UnitRow};
use serde::Deserialize;

/// Enheter.
#[derive(Template)]
#[template(path = "units.html")]
struct UnitsPage {
    layout: Layout,
    groups: Vec<PrincipalGroup>,
    form: FormView,
    /// The unit just registered, to confirm it.
    registered: Option<UnitItem>,
}

/// The units of one principal (a region, a municipality, another body).
struct PrincipalGroup {
    name: String,
    kind: &'static str,
    units: Vec<UnitItem>,
}

/// A unit as the list shows it.
struct UnitItem {
    id: String,
    name: String,
    uses_samplan: bool,
    address: String,
    phone: String,
    registered_on: String,
}

/// `?efter=&klart=` after registering: wait for the directory to have the unit, then name it.
#[derive(Debug, Deserialize)]
pub(crate) struct After {
    efter: Option<i64>,
    klart: Option<String>,
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "region" => "Region",
        "municipality" => "Kommun",
        _ => "Annan huvudman",
    }
}

fn item(row: &UnitRow) -> UnitItem {
    UnitItem {
        id: row.unit_id.clone(),
        name: row.name.clone(),
        uses_samplan: row.uses_samplan,
        address: row.address.clone().unwrap_or_default(),
        phone: row.phone.clone().unwrap_or_default(),
        registered_on: super::dates::date_with_year(domain::time::local_date(row.registered_at)),
    }
}

/// The units grouped by principal, in the directory's order (principal, then name): regions
/// first, then municipalities, then the rest, each principal's units together.
fn groups(rows: &[UnitRow]) -> Vec<PrincipalGroup> {
    let mut groups: Vec<PrincipalGroup> = Vec::new();
    for rank in ["region", "municipality", "external"] {
        for row in rows.iter().filter(|r| {
            r.principal_kind == rank || (rank == "external" && !is_known_kind(&r.principal_kind))
        }) {
            let kind = kind_label(&row.principal_kind);
            match groups
                .iter_mut()
                .find(|g| g.name == row.principal_name && g.kind == kind)
            {
                Some(group) => group.units.push(item(row)),
                None => groups.push(PrincipalGroup {
                    name: row.principal_name.clone(),
                    kind,
                    units: vec![item(row)],
                }),
            }
        }
    }
    groups
}

fn is_known_kind(kind: &str) -> bool {
    matches!(kind, "region" | "municipality" | "external")
}

fn register_form() -> FormView {
    FormView::new("ny-enhet", "/enheter", "Registrera en enhet")
        .intro(
            "En enhet registreras en gång. Dess id kan inte ändras efteråt: det är det id som \
             inloggningen anger för enhetens personal.",
        )
        .field(
            Field::text("unit_id", "Enhetens id")
                .required()
                .hint("1–64 tecken: bokstäverna a–z och A–Z, siffror, punkt, understreck och bindestreck, till exempel hc-kalix eller SE2321000016-ABC1."),
        )
        .field(
            Field::text("name", "Enhetens namn")
                .required()
                .hint("Som personal och invånare ser det, till exempel Hälsocentralen Kalix."),
        )
        .field(
            Field::radios(
                "principal.kind",
                "Huvudman",
                vec![
                    Choice::new("region", "Region"),
                    Choice::new("municipality", "Kommun"),
                    Choice::new("external", "Annan huvudman")
                        .note("till exempel Försäkringskassan eller en skola"),
                ],
            )
            .required(),
        )
        .field(
            Field::text("principal.name", "Huvudmannens namn")
                .required()
                .hint("Till exempel Region Norrbotten eller Kalix kommun."),
        )
        .field(
            Field::radios(
                "uses_samplan",
                "Arbetar enheten i samplan?",
                vec![
                    Choice::new("ja", "Ja, enhetens personal loggar in i samplan"),
                    Choice::new("nej", "Nej, enheten nås med brev")
                        .note("kallelser skrivs ut och skickas"),
                ],
            )
            .required(),
        )
        .field(
            Field::text("address", "Postadress")
                .hint("Står på brev till enheten. Behövs för en enhet som nås med brev."),
        )
        .field(Field::tel("phone", "Telefon"))
        .button("Registrera enheten")
        .open(true)
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    form: FormView,
    registered: Option<&str>,
) -> Result<UnitsPage, WebError> {
    let rows = directory::units(state.store.pool())
        .await
        .map_err(AppError::from)?;
    let registered = registered
        .and_then(|id| rows.iter().find(|r| r.unit_id == id))
        .map(item);
    Ok(UnitsPage {
        layout: visitor.layout("Enheter", None),
        groups: groups(&rows),
        form,
        registered,
    })
}

/// `GET /enheter`: the units, and the form to register one.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(after): WebQuery<After>,
) -> Result<Response, WebError> {
    visitor.admin()?;
    consistency::projection_position(&state, directory::PROJECTION, after.efter).await?;
    let form = register_form().guard(None);
    let page = render(&state, &visitor, form, after.klart.as_deref()).await?;
    visitor.page(&page)
}

/// What the form posted, as the API's request; a choice left empty is the field's to say.
fn request(fields: &Fields) -> Result<RegisterUnitRequest, FieldError> {
    let kind = match fields.get("principal.kind").as_str() {
        "region" => PrincipalKindDto::Region,
        "municipality" => PrincipalKindDto::Municipality,
        "external" => PrincipalKindDto::External,
        _ => return Err(FieldError::new("principal.kind", "Välj ett alternativ.")),
    };
    let uses_samplan = match fields.get("uses_samplan").as_str() {
        "ja" => true,
        "nej" => false,
        _ => return Err(FieldError::new("uses_samplan", "Välj ett alternativ.")),
    };
    Ok(RegisterUnitRequest {
        id: fields.get("unit_id"),
        name: fields.get("name"),
        principal: PrincipalDto {
            kind,
            name: fields.get("principal.name"),
        },
        uses_samplan,
        address: fields.opt("address"),
        phone: fields.opt("phone"),
    })
}

/// What the page asks beyond the API's rules, so that staff can tell units apart where they
/// pick them: a principal already registered keeps its spelling ("region norrbotten" is Region
/// Norrbotten), no two units of one principal share a name, and a unit reached by letter has the
/// address its letters go to.
fn fits_beside(
    mut body: RegisterUnitRequest,
    rows: &[UnitRow],
) -> Result<RegisterUnitRequest, FieldError> {
    let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    if let Some(known) = rows
        .iter()
        .find(|r| same(&r.principal_name, &body.principal.name))
    {
        body.principal.name = known.principal_name.clone();
    }
    if rows.iter().any(|r| r.unit_id == body.id) {
        // The id is taken: the command path says so, beside the id.
        return Ok(body);
    }
    if let Some(twin) = rows
        .iter()
        .find(|r| r.principal_name == body.principal.name && same(&r.name, &body.name))
    {
        return Err(FieldError::new(
            "name",
            format!(
                "{} har redan en enhet med det namnet ({}). Välj ett namn som skiljer dem åt, \
                 till exempel med orten.",
                twin.principal_name, twin.unit_id
            ),
        ));
    }
    if !body.uses_samplan && body.address.is_none() {
        return Err(FieldError::new(
            "address",
            "Ange postadressen: kallelser till en enhet som nås med brev skickas dit.",
        ));
    }
    Ok(body)
}

/// `POST /enheter`: registers a unit (`commands::units::register`, as `POST /api/v1/units`),
/// then the list with the new unit in it; a refusal comes back beside its field with what was
/// typed kept.
pub(crate) async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    let caller = visitor.admin()?;
    let meta = fields.write_meta("/enheter");
    let rows = directory::units(state.store.pool())
        .await
        .map_err(AppError::from)?;
    let refusal: Refusal = match request(&fields).and_then(|body| fits_beside(body, &rows)) {
        Err(e) => e.into(),
        Ok(body) => {
            let write = Write {
                caller,
                meta: &meta,
                correlation_id: None,
            };
            match crate::commands::units::register(&state, write, body).await {
                Ok(done) => {
                    return Ok(Redirect::to(&format!(
                        "/enheter?efter={}&klart={}#klart",
                        done.position,
                        super::path_segment(&done.id)
                    ))
                    .into_response())
                }
                Err(AppError::Domain(DomainError::UnitAlreadyRegistered)) => FieldError::new(
                    "unit_id",
                    "Det finns redan en enhet med det här id:t (se listan). Välj ett annat id.",
                )
                .into(),
                Err(e) => super::persons::refusal_or_page(e)?,
            }
        }
    };
    let mut form = register_form().guard(None);
    form.fill(&fields);
    form.refuse(&refusal);
    let page = render(&state, &visitor, form, None).await?;
    super::persons::refused(visitor.page(&page)?)
}
