//! Registering the person a plan is for (den enskilde) and changing what is known about them:
//! the request bodies of `/persons` and their commands on the `person-<ulid>` stream.

use crate::aggregate::PersonAggregate;
use crate::error::AppError;
use crate::pipeline::{self, Start, Target, Write, WriteResponse};
use crate::state::AppState;
use chrono::NaiveDate;
use domain::error::DomainError;
use domain::ids::PersonId;
use domain::person::{
    self, AddRelative, ChangeContactDetails, PersonCommand, RegisterDeath, RegisterMovedOut,
    RegisterPerson, RelativeKind, RemoveRelative,
};
use domain::personnummer::PersonalIdentityNumber;
use eventstore::StoreError;
use projections::directory::{self, PersonQuery};
use projections::runner;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ulid::Ulid;
use utoipa::ToSchema;

/// `POST /persons` (RegisterPerson).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPersonRequest {
    /// Personnummer or samordningsnummer in any usual form: `YYYYMMDD-NNNN`, `YYYYMMDDNNNN`,
    /// `YYMMDD-NNNN`, `YYMMDD+NNNN` (100 years or older).
    #[schema(example = "19121212-1212")]
    pub personal_identity_number: String,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// `change-contact-details`: the new phone and address (absent: none known).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeContactDetailsRequest {
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// How a relative stands to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelativeKindDto {
    /// Närstående.
    Relative,
    /// God man.
    Trustee,
    /// Förvaltare.
    Administrator,
    /// Vårdnadshavare: gives consent for a child.
    Guardian,
}

impl From<RelativeKindDto> for RelativeKind {
    fn from(k: RelativeKindDto) -> Self {
        match k {
            RelativeKindDto::Relative => RelativeKind::Relative,
            RelativeKindDto::Trustee => RelativeKind::Trustee,
            RelativeKindDto::Administrator => RelativeKind::Administrator,
            RelativeKindDto::Guardian => RelativeKind::Guardian,
        }
    }
}

/// `add-relative`: a närstående, god man, förvaltare or vårdnadshavare.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRelativeRequest {
    /// Chosen by the client so it can refer to the relative later; a new ULID when absent.
    #[serde(default)]
    pub relative_id: Option<String>,
    pub kind: RelativeKindDto,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `remove-relative`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRelativeRequest {
    pub relative_id: String,
}

/// `mark-protected-identity`: no fields (an empty body is accepted).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkProtectedIdentityRequest {}

/// `register-death`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeathRequest {
    /// The day of death (not in the future).
    pub died_on: NaiveDate,
}

/// `register-moved-out`: the person moved out of the region.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterMovedOutRequest {
    pub moved_on: NaiveDate,
    #[serde(default)]
    pub to_region: Option<String>,
}

/// Register a person (RegisterPerson).
///
/// A personnummer that is already registered is refused (409 `person_already_registered`). The
/// event store has no uniqueness on personnummer, so the check reads the directory after
/// waiting for it to catch up with the store, and registrations of one number are serialised
/// by an advisory lock so that two racing requests cannot both pass. What remains open is a
/// directory that cannot catch up within `wait_ms_max` (then 503, nothing written) and a
/// process that runs no directory projection at all (then the check is skipped, with a warning).
pub async fn register(
    state: &AppState,
    write: Write<'_>,
    person_id: PersonId,
    body: RegisterPersonRequest,
) -> Result<WriteResponse, AppError> {
    write.caller.staff_unit()?;
    let today = domain::time::local_date(state.clock.now());
    // A number that does not parse is refused by `decide` with the precise reason; only a valid
    // one can be a duplicate.
    let pin = PersonalIdentityNumber::parse(&body.personal_identity_number, today).ok();
    // Registrations of one number take turns: a transaction-scoped advisory lock, held until
    // the append below is done and released when the transaction ends (also when this request
    // is dropped half-way, as the dropped transaction rolls back). The second registration
    // waits, then finds the first in the directory, which `is_registered` lets catch up first.
    let mut lock_client = match pin {
        Some(_) => Some(state.store.pool().get().await.map_err(StoreError::from)?),
        None => None,
    };
    let lock = match (lock_client.as_mut(), &pin) {
        (Some(client), Some(pin)) => {
            let tx = client.transaction().await.map_err(StoreError::from)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&registration_lock_key(pin)],
            )
            .await
            .map_err(StoreError::from)?;
            Some(tx)
        }
        _ => None,
    };
    let duplicate = match &pin {
        Some(pin) => is_registered(state, pin).await?,
        None => false,
    };
    let cmd = PersonCommand::RegisterPerson(RegisterPerson {
        person_id,
        personal_identity_number: body.personal_identity_number,
        name: body.name,
        phone: body.phone,
        address: body.address,
    });
    // The duplicate refusal sits inside `decide` so that a retry of a request that succeeded
    // (same Idempotency-Key) is still answered with its first response, not with 409.
    let response = pipeline::execute::<PersonAggregate>(
        state,
        write,
        cmd.name(),
        Target {
            stream_id: &person_id.stream_id(),
            response_id: &person_id.to_string(),
            start: Start::New,
        },
        |current, ctx| {
            if duplicate {
                return Err(DomainError::PersonAlreadyRegistered);
            }
            person::decide(current, &cmd, ctx)
        },
    )
    .await;
    if let Some(tx) = lock {
        // Ends the transaction and with it the lock; nothing was written in it.
        if let Err(e) = tx.rollback().await {
            tracing::warn!(error = %e, "releasing the registration lock failed; the connection drops it");
        }
    }
    response
}

/// The advisory-lock key of registering `pin`: 64 bits of a hash, so the number itself never
/// reaches the database's lock table (or its logs).
fn registration_lock_key(pin: &PersonalIdentityNumber) -> i64 {
    let digest = Sha256::digest(format!("samplan:register-person:{}", pin.as_str()).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Whether the directory, caught up with every event committed so far, knows `pin`.
async fn is_registered(state: &AppState, pin: &PersonalIdentityNumber) -> Result<bool, AppError> {
    let pool = state.store.pool();
    if !runner::is_started(pool, directory::PROJECTION).await? {
        // Only a process that runs no directory projection at all gets here (the composition
        // root starts it beside the server); refusing every registration there would be worse
        // than the unchecked duplicate.
        tracing::warn!(
            "the directory projection has never run here: duplicate personnummer not checked"
        );
        return Ok(false);
    }
    let head = state.store.head_position().await?;
    let at = runner::wait_for(pool, directory::PROJECTION, head, state.limits.wait_ms_max).await?;
    if at < head {
        // Without an up-to-date directory a duplicate cannot be ruled out; better to ask the
        // client to retry than to register the person twice.
        return Err(AppError::Unavailable(format!(
            "directory at {at}, store at {head}: cannot check for duplicates"
        )));
    }
    let found = directory::search_persons(
        pool,
        &PersonQuery::PersonalIdentityNumber(pin.as_str().to_owned()),
        1,
    )
    .await?;
    Ok(!found.is_empty())
}

/// A request body of one person command: the path segment naming it and the domain command it
/// becomes.
pub trait PersonCommandRequest: DeserializeOwned {
    /// The last segment of `POST /persons/{id}/{command}`.
    const SEGMENT: &'static str;
    /// The domain command the request asks for.
    fn into_command(self) -> PersonCommand;
}

impl PersonCommandRequest for ChangeContactDetailsRequest {
    const SEGMENT: &'static str = "change-contact-details";
    fn into_command(self) -> PersonCommand {
        PersonCommand::ChangeContactDetails(ChangeContactDetails {
            phone: self.phone,
            address: self.address,
        })
    }
}

impl PersonCommandRequest for AddRelativeRequest {
    const SEGMENT: &'static str = "add-relative";
    fn into_command(self) -> PersonCommand {
        PersonCommand::AddRelative(AddRelative {
            relative_id: self
                .relative_id
                .unwrap_or_else(|| Ulid::generate().to_string()),
            kind: self.kind.into(),
            name: self.name,
            phone: self.phone,
            address: self.address,
            note: self.note,
        })
    }
}

impl PersonCommandRequest for RemoveRelativeRequest {
    const SEGMENT: &'static str = "remove-relative";
    fn into_command(self) -> PersonCommand {
        PersonCommand::RemoveRelative(RemoveRelative {
            relative_id: self.relative_id,
        })
    }
}

impl PersonCommandRequest for MarkProtectedIdentityRequest {
    const SEGMENT: &'static str = "mark-protected-identity";
    fn into_command(self) -> PersonCommand {
        PersonCommand::MarkProtectedIdentity
    }
}

impl PersonCommandRequest for RegisterDeathRequest {
    const SEGMENT: &'static str = "register-death";
    fn into_command(self) -> PersonCommand {
        PersonCommand::RegisterDeath(RegisterDeath {
            died_on: self.died_on,
        })
    }
}

impl PersonCommandRequest for RegisterMovedOutRequest {
    const SEGMENT: &'static str = "register-moved-out";
    fn into_command(self) -> PersonCommand {
        PersonCommand::RegisterMovedOut(RegisterMovedOut {
            moved_on: self.moved_on,
            to_region: self.to_region,
        })
    }
}

/// Runs one command of `D` on the person `id` (staff only); an id that cannot exist is simply not
/// found.
pub async fn run<D: PersonCommandRequest>(
    state: &AppState,
    write: Write<'_>,
    id: &str,
    body: D,
) -> Result<WriteResponse, AppError> {
    write.caller.staff_unit()?;
    let cmd = body.into_command();
    let person_id = PersonId::parse(id).map_err(|_| AppError::NotFound)?;
    pipeline::execute::<PersonAggregate>(
        state,
        write,
        cmd.name(),
        Target {
            stream_id: &person_id.stream_id(),
            response_id: &person_id.to_string(),
            start: Start::Load,
        },
        |current, ctx| person::decide(current, &cmd, ctx),
    )
    .await
}
