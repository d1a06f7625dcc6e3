//! Registering a unit (enhet): an administrator chooses its id, which staff tokens then carry in
//! their `unit` claim.

use crate::aggregate::UnitAggregate;
use crate::error::AppError;
use crate::pipeline::{self, Start, Target, Write, WriteResponse};
use crate::state::AppState;
use domain::context::Role;
use domain::ids::UnitId;
use domain::unit::{self, Principal, PrincipalKind, RegisterUnit, UnitCommand};
use serde::Deserialize;
use utoipa::ToSchema;

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
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// `POST /units`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterUnitRequest {
    /// The unit's id, chosen here: 1–64 characters of `A–Z a–z 0–9 . _ -`.
    #[schema(example = "vc-norrmalm")]
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub principal: PrincipalDto,
    /// false: invitations to the unit are printed as letters.
    pub uses_samplan: bool,
    /// Postal address, used on letters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
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

/// Registers a unit; administrators only.
pub async fn register(
    state: &AppState,
    write: Write<'_>,
    request: RegisterUnitRequest,
) -> Result<WriteResponse, AppError> {
    write.caller.require_role(Role::Admin)?;
    let register = request.into_command()?;
    let unit_id = register.id.clone();
    let cmd = UnitCommand::RegisterUnit(register);
    pipeline::execute::<UnitAggregate>(
        state,
        write,
        "RegisterUnit",
        Target {
            stream_id: &unit_id.stream_id(),
            response_id: unit_id.as_str(),
            start: Start::Load,
        },
        |current, ctx| unit::decide(current, &cmd, ctx),
    )
    .await
}
