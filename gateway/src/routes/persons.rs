//! `/persons`: registering the person a plan is for (den enskilde), changing what is known about
//! them, and finding them again ("Sök patient").
//!
//! Writes go through the command pipeline to the `person-<ulid>` stream. Reads come from the
//! directory read model (`projections::directory`) and are logged in the access log before they
//! are answered: a read that cannot be logged is not answered (Patientdatalagen).
//!
//! Persons with protected identity (skyddade personuppgifter) are found and shown with the flag
//! set, but their address and phone, and their relatives' addresses, are never sent.

use crate::access_log::{self, action};
use crate::auth::Caller;
use crate::error::{problem_response, AppError, Problem};
use crate::pipeline::{self, Command, PersonAggregate, WriteResponse};
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use domain::error::DomainError;
use domain::ids::PersonId;
use domain::person::{
    self, AddRelative, ChangeContactDetails, PersonCommand, RegisterDeath, RegisterMovedOut,
    RegisterPerson, RelativeKind, RemoveRelative,
};
use domain::personnummer::{parse_canonical, PersonalIdentityNumber};
use eventstore::StoreError;
use projections::directory::{self, PersonQuery, PersonRow, RelativeRow};
use projections::{runner, ProjectionError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ulid::Ulid;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Most persons one search answers; a narrower search finds the rest. Keeps a careless search
/// from reading (and logging) half the register.
pub const SEARCH_RESULTS_MAX: i64 = 50;
/// Shortest name fragment searched for, for the same reason.
pub const NAME_QUERY_CHARS_MIN: usize = 2;
/// Longest query accepted.
const QUERY_CHARS_MAX: usize = 200;

/// The header telling where the directory stood when a read was answered.
pub const POSITION_HEADER: &str = "x-samplan-position";

/// Generates one handler per person command, the list of command names, the routes and the
/// OpenAPI document, so a command cannot be routed without being documented or the other way
/// round.
macro_rules! person_commands {
    ($($handler:ident: $dto:ident => $path:literal, $summary:literal;)+) => {
        $(
            #[doc = $summary]
            #[utoipa::path(
                post,
                path = $path,
                tag = "persons",
                request_body = $dto,
                params(
                    ("id" = String, Path, description = "The person's id (ULID)"),
                    ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 64 characters"),
                    ("If-Match" = Option<String>, Header, description = "Only if the person is at this version, e.g. \"3\""),
                ),
                responses(
                    (status = 200, description = "Done (`events` is empty when nothing changed)", body = WriteResponse),
                    (status = 400, description = "Malformed request", body = Problem),
                    (status = 401, description = "No or bad token", body = Problem),
                    (status = 403, description = "Not staff", body = Problem),
                    (status = 404, description = "Unknown person", body = Problem),
                    (status = 409, description = "`version_conflict`, `person_deceased`, `relative_exists`", body = Problem),
                    (status = 422, description = "A rule is broken, e.g. a date in the future", body = Problem),
                ),
                security(("bearer" = []))
            )]
            pub async fn $handler(
                State(state): State<AppState>,
                caller: Caller,
                Path(id): Path<String>,
                command: Command<serde_json::Value>,
            ) -> Result<Json<WriteResponse>, AppError> {
                run_command::<$dto>(&state, &caller, &id, command).await
            }
        )+

        /// The commands of `POST /persons/{id}/{command}`.
        pub const PERSON_COMMANDS: &[&str] = &[$(<$dto as PersonCommandRequest>::SEGMENT),+];

        /// Routes of every person command.
        fn command_routes() -> Router<AppState> {
            Router::new()
                $(.route(
                    &format!("/persons/{{id}}/{}", <$dto as PersonCommandRequest>::SEGMENT),
                    post($handler),
                ))+
        }

        /// The OpenAPI description of this module.
        #[derive(OpenApi)]
        #[openapi(
            paths(register_person, search_persons, get_person, unknown_command, $($handler),+),
            components(schemas(
                RegisterPersonRequest,
                RelativeKindDto,
                PersonSearchResponse,
                PersonSummary,
                PersonView,
                MovedOutView,
                RelativeView,
                $($dto),+
            ))
        )]
        pub struct ApiDoc;
    };
}

person_commands! {
    change_contact_details: ChangeContactDetailsRequest => "/api/v1/persons/{id}/change-contact-details", "Change the person's phone and address (ChangeContactDetails).";
    add_relative: AddRelativeRequest => "/api/v1/persons/{id}/add-relative", "Add a närstående, god man, förvaltare or vårdnadshavare (AddRelative).";
    remove_relative: RemoveRelativeRequest => "/api/v1/persons/{id}/remove-relative", "Remove a relative (RemoveRelative).";
    mark_protected_identity: MarkProtectedIdentityRequest => "/api/v1/persons/{id}/mark-protected-identity", "Skyddade personuppgifter: contact details are withheld from now on (MarkProtectedIdentity).";
    register_death: RegisterDeathRequest => "/api/v1/persons/{id}/register-death", "The person has died (RegisterDeath).";
    register_moved_out: RegisterMovedOutRequest => "/api/v1/persons/{id}/register-moved-out", "The person moved out of the region (RegisterMovedOut).";
}

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/persons", post(register_person).get(search_persons))
        .route("/persons/{id}", get(get_person))
        .merge(command_routes())
        // Static segments win over this capture, so only unknown commands land here.
        .route("/persons/{id}/{command}", post(unknown_command))
}

// ---- requests -----------------------------------------------------------------------------

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

/// Query of the reads: `min_position` makes the read wait for the directory to reach it.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Wait (up to 5 s) until the directory has applied this global position.
    pub min_position: Option<i64>,
}

/// Query of "Sök patient".
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// A personnummer in any accepted form (exact match), or a part of the name (at least 2
    /// characters, case-insensitive).
    pub q: Option<String>,
    /// Wait (up to 5 s) until the directory has applied this global position.
    pub min_position: Option<i64>,
}

// ---- responses ----------------------------------------------------------------------------

/// One person in a search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonSummary {
    pub id: String,
    /// `YYYYMMDD-NNNN`.
    pub personal_identity_number: String,
    pub name: String,
    /// Skyddade personuppgifter: address and phone are not shown.
    pub protected_identity: bool,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
}

/// The answer of "Sök patient".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonSearchResponse {
    /// Matching persons by name, at most 50.
    pub persons: Vec<PersonSummary>,
    /// True when more persons matched than are listed: narrow the search.
    pub truncated: bool,
}

/// A relative, god man, förvaltare or vårdnadshavare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RelativeView {
    pub relative_id: String,
    pub kind: RelativeKindDto,
    pub name: String,
    pub phone: Option<String>,
    /// Not shown when the person has protected identity.
    pub address: Option<String>,
    pub note: Option<String>,
}

/// Where and when the person moved out of the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MovedOutView {
    pub moved_on: NaiveDate,
    pub to_region: Option<String>,
}

/// `GET /persons/{id}`: the person and their relatives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonView {
    pub id: String,
    /// `YYYYMMDD-NNNN`.
    pub personal_identity_number: String,
    pub name: String,
    /// Not shown when the person has protected identity.
    pub phone: Option<String>,
    /// Not shown when the person has protected identity.
    pub address: Option<String>,
    /// Skyddade personuppgifter: plans must be closed, contact details are withheld.
    pub protected_identity: bool,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out: Option<MovedOutView>,
    pub relatives: Vec<RelativeView>,
    /// The person stream's version: send it as `If-Match` with a change.
    pub version: i64,
    pub registered_at: DateTime<Utc>,
}

fn formatted_pin(canonical: &str) -> String {
    parse_canonical(canonical).map_or_else(|_| canonical.to_owned(), |p| p.formatted())
}

fn relative_kind(kind: &str) -> RelativeKindDto {
    match kind {
        "trustee" => RelativeKindDto::Trustee,
        "administrator" => RelativeKindDto::Administrator,
        "guardian" => RelativeKindDto::Guardian,
        _ => RelativeKindDto::Relative,
    }
}

impl PersonSummary {
    fn from_row(row: &PersonRow) -> Self {
        PersonSummary {
            id: row.person_id.clone(),
            personal_identity_number: formatted_pin(&row.personal_identity_number),
            name: row.name.clone(),
            protected_identity: row.protected_identity,
            deceased_on: row.deceased_on,
            moved_out_on: row.moved_out_on,
        }
    }
}

impl PersonView {
    fn from_rows(row: PersonRow, relatives: Vec<RelativeRow>) -> Self {
        let protected = row.protected_identity;
        PersonView {
            id: row.person_id,
            personal_identity_number: formatted_pin(&row.personal_identity_number),
            name: row.name,
            phone: row.phone.filter(|_| !protected),
            address: row.address.filter(|_| !protected),
            protected_identity: protected,
            deceased_on: row.deceased_on,
            moved_out: row.moved_out_on.map(|moved_on| MovedOutView {
                moved_on,
                to_region: row.moved_to_region,
            }),
            relatives: relatives
                .into_iter()
                .map(|r| RelativeView {
                    relative_id: r.relative_id,
                    kind: relative_kind(&r.kind),
                    name: r.name,
                    phone: r.phone,
                    address: r.address.filter(|_| !protected),
                    note: r.note,
                })
                .collect(),
            version: row.version,
            registered_at: row.registered_at,
        }
    }
}

// ---- read-model plumbing ------------------------------------------------------------------

/// Read-model failures: a database that is away is 503, anything else an internal error.
pub(crate) fn read_model_error(e: ProjectionError) -> AppError {
    if e.is_transient() {
        AppError::Unavailable(format!("directory: {e}"))
    } else {
        AppError::internal(format!("directory: {e}"))
    }
}

/// Where the directory stands, after waiting (bounded) for `min_position` when given.
pub(crate) async fn directory_position(
    state: &AppState,
    min_position: Option<i64>,
) -> Result<i64, AppError> {
    let pool = state.store.pool();
    match min_position {
        Some(n) if n > 0 => {
            runner::wait_for(pool, directory::PROJECTION, n, state.limits.wait_ms_max)
                .await
                .map_err(read_model_error)
        }
        _ => runner::checkpoint(pool, directory::PROJECTION)
            .await
            .map_err(read_model_error),
    }
}

fn with_position(mut response: Response, position: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&position.to_string()) {
        response.headers_mut().insert(POSITION_HEADER, v);
    }
    response
}

pub(crate) fn query_error(rejection: QueryRejection) -> AppError {
    let text = rejection.body_text();
    let code = if text.contains("unknown field") {
        "unknown_parameter"
    } else {
        "invalid_parameter"
    };
    let hint: String = text
        .split(": ")
        .last()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    AppError::bad_request(code, format!("Felaktig parameter i adressen: {hint}"))
}

/// Parses a person id from the path; an id that cannot exist is simply not found.
fn person_id(raw: &str) -> Result<PersonId, AppError> {
    PersonId::parse(raw).map_err(|_| AppError::NotFound)
}

// ---- handlers -----------------------------------------------------------------------------

/// Register a person (RegisterPerson).
///
/// A personnummer that is already registered is refused (409 `person_already_registered`). The
/// event store has no uniqueness on personnummer, so the check reads the directory after
/// waiting for it to catch up with the store, and registrations of one number are serialised
/// by an advisory lock so that two racing requests cannot both pass. What remains open is a
/// directory that cannot catch up within `wait_ms_max` (then 503, nothing written) and a
/// process that runs no directory projection at all (then the check is skipped, with a warning).
#[utoipa::path(
    post,
    path = "/api/v1/persons",
    tag = "persons",
    request_body = RegisterPersonRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 64 characters")),
    responses(
        (status = 201, description = "Registered; `id` is the new person's id", body = WriteResponse),
        (status = 400, description = "Malformed request", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 409, description = "`person_already_registered`", body = Problem),
        (status = 422, description = "`invalid_personal_identity_number`, missing name", body = Problem),
        (status = 503, description = "The directory is behind; try again", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn register_person(
    State(state): State<AppState>,
    caller: Caller,
    command: Command<RegisterPersonRequest>,
) -> Result<(StatusCode, Json<WriteResponse>), AppError> {
    caller.staff_unit()?;
    let body = command.body;
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
        Some(pin) => is_registered(&state, pin).await?,
        None => false,
    };
    let person_id = PersonId::from_ulid(Ulid::generate());
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
        &state,
        &caller,
        &command.meta,
        &person_id.stream_id(),
        &person_id.to_string(),
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
    Ok((StatusCode::CREATED, Json(response?)))
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
    if !runner::is_started(pool, directory::PROJECTION)
        .await
        .map_err(read_model_error)?
    {
        // Only a process that runs no directory projection at all gets here (the composition
        // root starts it beside the server); refusing every registration there would be worse
        // than the unchecked duplicate.
        tracing::warn!(
            "the directory projection has never run here: duplicate personnummer not checked"
        );
        return Ok(false);
    }
    let head = state.store.head_position().await?;
    let at = runner::wait_for(pool, directory::PROJECTION, head, state.limits.wait_ms_max)
        .await
        .map_err(read_model_error)?;
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
    .await
    .map_err(read_model_error)?;
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

/// Runs one command on a person. The body is taken as any JSON and read as `D` only after the
/// caller is checked, so a caller who may not change persons is told 403 whatever the body.
async fn run_command<D: PersonCommandRequest>(
    state: &AppState,
    caller: &Caller,
    id: &str,
    command: Command<serde_json::Value>,
) -> Result<Json<WriteResponse>, AppError> {
    caller.staff_unit()?;
    let cmd = body_as::<D>(&command.body)?.into_command();
    let person_id = person_id(id)?;
    let response = pipeline::execute::<PersonAggregate>(
        state,
        caller,
        &command.meta,
        &person_id.stream_id(),
        &person_id.to_string(),
        |current, ctx| person::decide(current, &cmd, ctx),
    )
    .await?;
    Ok(Json(response))
}

fn body_as<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, AppError> {
    let bytes = serde_json::to_vec(value).map_err(AppError::internal)?;
    crate::extract::parse_json(&bytes)
}

/// Any `POST /persons/{id}/{command}` that names no command: 404 with its own code, so a client
/// can tell a typo in the command from an unknown person. The caller is checked first, like on
/// every other route: no token is 401 and a role other than staff is 403. The body is still read
/// (and must be JSON), as it was when one route served every command.
#[utoipa::path(
    post,
    path = "/api/v1/persons/{id}/{command}",
    tag = "persons",
    params(
        ("id" = String, Path, description = "The person's id (ULID)"),
        ("command" = String, Path, description = "Any segment that names no person command; the commands have their own paths"),
    ),
    request_body(content = serde_json::Value, description = "Any JSON; not used"),
    responses(
        (status = 400, description = "Malformed request", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 404, description = "`unknown_command`; the detail lists the commands", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn unknown_command(
    caller: Caller,
    Path((_, name)): Path<(String, String)>,
    _command: Command<serde_json::Value>,
) -> Result<Response, AppError> {
    caller.staff_unit()?;
    let shown: String = name.chars().take(64).collect();
    Ok(problem_response(&Problem {
        kind: "urn:samplan:problem:unknown_command".into(),
        title: "Okänt kommando".into(),
        status: StatusCode::NOT_FOUND.as_u16(),
        detail: format!(
            "Kommandot \u{201d}{shown}\u{201d} finns inte för personer. Giltiga kommandon: {}.",
            PERSON_COMMANDS.join(", ")
        ),
        code: "unknown_command".into(),
        current_version: None,
    }))
}

/// Sök patient: find persons by personnummer (any accepted form, exact) or part of the name.
/// Every person in the answer is recorded in the access log.
#[utoipa::path(
    get,
    path = "/api/v1/persons",
    tag = "persons",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching persons; header X-Samplan-Position", body = PersonSearchResponse),
        (status = 400, description = "`query_missing`, `query_too_short`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 422, description = "`invalid_personal_identity_number`: digits that are no valid personnummer", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn search_persons(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, AppError> {
    caller.staff_unit()?;
    let Query(params) = params.map_err(query_error)?;
    let queries = person_queries(&state, params.q.as_deref().unwrap_or(""))?;
    let position = directory_position(&state, params.min_position).await?;
    let mut rows: Vec<PersonRow> = Vec::new();
    for query in &queries {
        let found = directory::search_persons(state.store.pool(), query, SEARCH_RESULTS_MAX + 1)
            .await
            .map_err(read_model_error)?;
        for row in found {
            if !rows.iter().any(|r| r.person_id == row.person_id) {
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| (&a.name, &a.person_id).cmp(&(&b.name, &b.person_id)));
    let truncated = rows.len() as i64 > SEARCH_RESULTS_MAX;
    rows.truncate(SEARCH_RESULTS_MAX as usize);
    let ids = rows
        .iter()
        .map(|r| PersonId::parse(&r.person_id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::internal(format!("directory holds a bad person id: {e}")))?;
    access_log::record_many(&state, &caller, &ids, action::SEARCH, None).await?;
    let answer = PersonSearchResponse {
        persons: rows.iter().map(PersonSummary::from_row).collect(),
        truncated,
    };
    Ok(with_position(Json(answer).into_response(), position))
}

/// What the search text means: a personnummer when it parses as one, an error when it is
/// clearly meant as one but is wrong (so staff learn of the typo instead of "no match"), and a
/// name fragment otherwise.
///
/// A ten-digit number with a space where the separator goes is ambiguous: in a URL an unencoded
/// `+` (100 years or older) arrives as a space, and a typed space would mean `-`. Both readings
/// are searched, so the right person is listed (with the full year) rather than silently a
/// person born a century later or earlier.
fn person_queries(state: &AppState, q: &str) -> Result<Vec<PersonQuery>, AppError> {
    let q = q.trim();
    if q.is_empty() {
        return Err(AppError::bad_request(
            "query_missing",
            "Ange personnummer eller namn att söka efter (q=…).",
        ));
    }
    if q.chars().count() > QUERY_CHARS_MAX {
        return Err(AppError::bad_request(
            "query_too_long",
            format!("Sökningen får vara högst {QUERY_CHARS_MAX} tecken."),
        ));
    }
    let today = domain::time::local_date(state.clock.now());
    let looks_like_number = q.chars().filter(char::is_ascii_digit).count() >= 6
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | ' '));
    if looks_like_number {
        let compact: String = q.chars().filter(|c| *c != ' ').collect();
        let mut readings = vec![compact.clone()];
        let spaced_short_form =
            compact.len() == 10 && compact.chars().all(|c| c.is_ascii_digit()) && q.contains(' ');
        if spaced_short_form {
            readings = vec![
                format!("{}-{}", &compact[..6], &compact[6..]),
                format!("{}+{}", &compact[..6], &compact[6..]),
            ];
        }
        let mut queries = Vec::new();
        let mut first_error = None;
        for reading in readings {
            match PersonalIdentityNumber::parse(&reading, today) {
                Ok(pin) => {
                    queries.push(PersonQuery::PersonalIdentityNumber(pin.as_str().to_owned()))
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        return match (queries.is_empty(), first_error) {
            (false, _) => Ok(queries),
            (true, Some(e)) => Err(DomainError::InvalidPersonalIdentityNumber {
                message: e.message(),
            }
            .into()),
            (true, None) => Err(AppError::internal("no reading of a number")),
        };
    }
    if q.chars().count() < NAME_QUERY_CHARS_MIN {
        return Err(AppError::bad_request(
            "query_too_short",
            format!("Ange minst {NAME_QUERY_CHARS_MIN} tecken av namnet."),
        ));
    }
    Ok(vec![PersonQuery::Name(q.to_owned())])
}

/// The person and their relatives. The read is recorded in the access log.
#[utoipa::path(
    get,
    path = "/api/v1/persons/{id}",
    tag = "persons",
    params(("id" = String, Path, description = "The person's id (ULID)"), ReadParams),
    responses(
        (status = 200, description = "The person; headers X-Samplan-Position and ETag (version)", body = PersonView),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 404, description = "Unknown person", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn get_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<ReadParams>, QueryRejection>,
) -> Result<Response, AppError> {
    caller.staff_unit()?;
    let Query(params) = params.map_err(query_error)?;
    let person_id = person_id(&id)?;
    let position = directory_position(&state, params.min_position).await?;
    let pool = state.store.pool();
    let key = person_id.to_string();
    let row = directory::person(pool, &key)
        .await
        .map_err(read_model_error)?
        .ok_or(AppError::NotFound)?;
    let relatives = directory::relatives(pool, &key)
        .await
        .map_err(read_model_error)?;
    access_log::record(&state, &caller, &person_id, action::READ_PERSON, None).await?;
    let view = PersonView::from_rows(row, relatives);
    let etag = format!("\"{}\"", view.version);
    let mut response = with_position(Json(view).into_response(), position);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}
