//! `/units`: registering the units (enheter) that take part in plans, and listing them. An
//! administrator chooses the unit's id, which staff tokens then carry in their `unit` claim;
//! staff pick units from the list when they name the actors of a consent or an invitation.

use crate::auth::Caller;
use crate::error::AppError;
use crate::pipeline::{self, Command, UnitAggregate, WriteResponse};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::context::Role;
use domain::ids::UnitId;
use domain::unit::{self, Principal, PrincipalKind, RegisterUnit, UnitCommand};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/units", post(register_unit).get(list_units))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(
    paths(register_unit, list_units),
    components(schemas(
        RegisterUnitRequest,
        PrincipalDto,
        PrincipalKindDto,
        UnitView,
        UnitList
    ))
)]
pub struct ApiDoc;

/// What kind of body is responsible for the unit (huvudman).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKindDto {
    /// A region (hälso- och sjukvård).
    Region,
    /// A municipality (socialtjänst, hemtjänst, LSS).
    Municipality,
    /// Anyone else: Försäkringskassan, Arbetsförmedlingen, a school…
    External,
}

/// The responsible body, e.g. `{"kind": "region", "name": "Region Norrbotten"}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalDto {
    pub kind: PrincipalKindDto,
    pub name: String,
}

/// `POST /units`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterUnitRequest {
    /// The unit's id, chosen here: 1–64 characters of `A–Z a–z 0–9 . _ -`.
    #[schema(example = "vc-norrmalm")]
    pub id: String,
    pub name: String,
    pub principal: PrincipalDto,
    /// false: invitations to the unit are printed as letters.
    pub uses_samplan: bool,
    /// Postal address, used on letters.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl RegisterUnitRequest {
    fn into_command(self) -> Result<RegisterUnit, AppError> {
        Ok(RegisterUnit {
            id: UnitId::parse(&self.id)?,
            name: self.name,
            principal: Principal {
                kind: match self.principal.kind {
                    PrincipalKindDto::Region => PrincipalKind::Region,
                    PrincipalKindDto::Municipality => PrincipalKind::Municipality,
                    PrincipalKindDto::External => PrincipalKind::External,
                },
                name: self.principal.name,
            },
            uses_samplan: self.uses_samplan,
            address: self.address,
            phone: self.phone,
        })
    }
}

/// Register a unit (admin).
#[utoipa::path(
    post,
    path = "/api/v1/units",
    tag = "units",
    request_body = RegisterUnitRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 64 characters"),
    ),
    responses(
        (status = 201, description = "The unit is registered", body = WriteResponse),
        (status = 400, description = "Malformed request", body = crate::error::Problem),
        (status = 401, description = "No or bad token", body = crate::error::Problem),
        (status = 403, description = "Not an administrator", body = crate::error::Problem),
        (status = 409, description = "`unit_already_registered`", body = crate::error::Problem),
        (status = 422, description = "Invalid id or missing name", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
pub async fn register_unit(
    State(state): State<AppState>,
    caller: Caller,
    command: Command<RegisterUnitRequest>,
) -> Result<(StatusCode, Json<WriteResponse>), AppError> {
    caller.require_role(Role::Admin)?;
    let register = command.body.into_command()?;
    let unit_id = register.id.clone();
    let cmd = UnitCommand::RegisterUnit(register);
    let response = pipeline::execute::<UnitAggregate>(
        &state,
        &caller,
        &command.meta,
        &unit_id.stream_id(),
        unit_id.as_str(),
        |current, ctx| unit::decide(current, &cmd, ctx),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// A unit in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    pub name: String,
    pub principal: PrincipalView,
    /// false: reached by letter; the coordinator documents on its behalf.
    pub uses_samplan: bool,
    pub address: Option<String>,
    pub phone: Option<String>,
}

/// The responsible body of a listed unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrincipalView {
    /// `region`, `municipality` or `external`.
    pub kind: String,
    pub name: String,
}

/// `GET /units`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnitList {
    /// Every registered unit, by principal then name.
    pub units: Vec<UnitView>,
}

/// List the registered units (staff and administrators). Holds no personal data, so it is not
/// in the access log.
#[utoipa::path(
    get,
    path = "/api/v1/units",
    tag = "units",
    params(crate::routes::persons::ReadParams),
    responses(
        (status = 200, description = "The units; header X-Samplan-Position", body = UnitList),
        (status = 401, description = "No or bad token", body = crate::error::Problem),
        (status = 403, description = "Neither staff nor administrator", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list_units(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<crate::routes::persons::ReadParams>, QueryRejection>,
) -> Result<Response, AppError> {
    if caller.role != Role::Admin {
        caller.require_role(Role::Staff)?;
    }
    let Query(params) = params.map_err(crate::routes::persons::query_error)?;
    let position = crate::routes::persons::directory_position(&state, params.min_position).await?;
    let rows = projections::directory::units(state.store.pool())
        .await
        .map_err(crate::routes::persons::read_model_error)?;
    let units = rows
        .into_iter()
        .map(|u| UnitView {
            id: u.unit_id,
            name: u.name,
            principal: PrincipalView {
                kind: u.principal_kind,
                name: u.principal_name,
            },
            uses_samplan: u.uses_samplan,
            address: u.address,
            phone: u.phone,
        })
        .collect();
    let mut response = Json(UnitList { units }).into_response();
    if let Ok(v) = HeaderValue::from_str(&position.to_string()) {
        response
            .headers_mut()
            .insert(crate::routes::persons::POSITION_HEADER, v);
    }
    Ok(response)
}
