//! `/units`: registering the units (enheter) that take part in plans. An administrator chooses
//! the unit's id, which staff tokens then carry in their `unit` claim.

use crate::auth::Caller;
use crate::error::AppError;
use crate::pipeline::{self, Command, UnitAggregate, WriteResponse};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use domain::context::Role;
use domain::ids::UnitId;
use domain::unit::{self, Principal, PrincipalKind, RegisterUnit, UnitCommand};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/units", post(register_unit))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(
    paths(register_unit),
    components(schemas(RegisterUnitRequest, PrincipalDto, PrincipalKindDto))
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
