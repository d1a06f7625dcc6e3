//! `/units`: registering the units (enheter) that take part in plans, and listing them. An
//! administrator chooses the unit's id, which staff tokens then carry in their `unit` claim;
//! staff pick units from the list when they name the actors of a consent or an invitation.

use crate::commands::{
    self,
    units::{PrincipalDto, PrincipalKindDto, RegisterUnitRequest},
};
use crate::consistency::{self, ReadParams};
use crate::error::AppError;
use crate::extract::{Admin, ApiQuery, Command, StaffOrAdmin};
use crate::pipeline::{Write, WriteResponse};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use projections::directory;
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
    Admin(caller): Admin,
    request_id: RequestId,
    command: Command<RegisterUnitRequest>,
) -> Result<(StatusCode, Json<WriteResponse>), AppError> {
    let write = Write {
        caller: &caller,
        meta: &command.meta,
        correlation_id: Some(request_id.as_str()),
    };
    let response = commands::units::register(&state, write, command.body).await?;
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
    params(ReadParams),
    responses(
        (status = 200, description = "The units; header X-Samplan-Position", body = UnitList),
        (status = 401, description = "No or bad token", body = crate::error::Problem),
        (status = 403, description = "Neither staff nor administrator", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list_units(
    State(state): State<AppState>,
    _caller: StaffOrAdmin,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> Result<Response, AppError> {
    let position =
        consistency::projection_position(&state, directory::PROJECTION, params.min_position)
            .await?;
    let rows = directory::units(state.store.pool()).await?;
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
    Ok(consistency::with_position(
        Json(UnitList { units }).into_response(),
        position,
    ))
}
