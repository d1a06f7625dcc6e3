//! `/persons`: registering the person a plan is for (den enskilde), changing what is known about
//! them, and finding them again ("Sök patient").
//!
//! Writes go through the command pipeline to the `person-<ulid>` stream. Reads come from the
//! directory read model (`projections::directory`) and are logged in the access log before they
//! are answered: a read that cannot be logged is not answered (Patientdatalagen).
//!
//! Persons with protected identity (skyddade personuppgifter) are found and shown with the flag
//! set, but their address and phone, and their relatives' phones, addresses and notes, are never
//! sent; a unit that may not see the person's name sees none of their relatives. A relative who
//! is a protected person themselves (a guardian, linked by personnummer) is shown as that person
//! is: no phone, address or note, and no name or personnummer where the unit may not see them.

use crate::access_log::{self, action};
use crate::auth::Caller;
use crate::commands::{
    self,
    persons::{
        AddRelativeRequest, ChangeContactDetailsRequest, MarkProtectedIdentityRequest,
        PersonCommandRequest, RegisterDeathRequest, RegisterMovedOutRequest, RegisterPersonRequest,
        RelativeKindDto, RemoveRelativeRequest,
    },
};
use crate::consistency::{self, ReadParams};
use crate::error::{problem_response, AppError, Problem};
use crate::extract::{ApiQuery, Command, Staff};
use crate::pipeline::{Created, Write, WriteResponse};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use domain::error::DomainError;
use domain::ids::{PersonId, UnitId};
use domain::personnummer::{parse_canonical, PersonalIdentityNumber};
use projections::directory::{self, PersonQuery, PersonRow, RelativeRow};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Most persons one search answers; a narrower search finds the rest. Keeps a careless search
/// from reading (and logging) half the register.
pub const SEARCH_RESULTS_MAX: i64 = 50;
/// Shortest name fragment searched for, for the same reason.
pub const NAME_QUERY_CHARS_MIN: usize = 2;
/// Longest query accepted.
const QUERY_CHARS_MAX: usize = 200;

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
                    (status = 403, description = "Not staff; `no_care_relation`: the caller's unit takes part in no plan of the person and did not register them", body = Problem),
                    (status = 404, description = "Unknown person", body = Problem),
                    (status = 409, description = "`version_conflict`, `person_deceased`, `relative_exists`", body = Problem),
                    (status = 422, description = "A rule is broken, e.g. a date in the future", body = Problem),
                ),
                security(("bearer" = []))
            )]
            pub async fn $handler(
                State(state): State<AppState>,
                Staff(caller): Staff,
                request_id: RequestId,
                Path(id): Path<String>,
                command: Command<serde_json::Value>,
            ) -> Result<Json<WriteResponse>, AppError> {
                // Read as any JSON first (as every person command has been: a body too deep
                // for any JSON is malformed whatever the command), then as the command.
                let body = body_as::<$dto>(&command.body)?;
                let write = Write {
                    caller: &caller,
                    meta: &command.meta,
                    correlation_id: Some(request_id.as_str()),
                };
                let written = commands::persons::run(&state, write, &id, body).await;
                Ok(Json(written.map_err(|e| e.for_role(caller.role))?))
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

/// Query of "Sök patient".
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// A personnummer in any accepted form (exact match), or a part of the name (at least 2
    /// characters, case-insensitive).
    #[param(required = true, min_length = 2, max_length = 200)]
    pub q: Option<String>,
    /// Wait (up to 5 s) until the directory has applied this global position.
    pub min_position: Option<i64>,
}

// ---- responses ----------------------------------------------------------------------------

/// What stands in for the name of a person with protected identity, for a unit that may not see
/// it.
pub const HIDDEN_NAME: &str = "Skyddade personuppgifter";

/// One person in a search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonSummary {
    pub id: String,
    /// `YYYYMMDD-NNNN`.
    pub personal_identity_number: String,
    /// "Skyddade personuppgifter" when the person has protected identity and the caller's unit
    /// took part in none of their plans before it was marked (then `name_hidden` is true).
    pub name: String,
    #[serde(default)]
    pub name_hidden: bool,
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
    /// Not shown when the person has protected identity.
    pub phone: Option<String>,
    /// Not shown when the person has protected identity.
    pub address: Option<String>,
    /// Not shown when the person has protected identity.
    pub note: Option<String>,
    /// The relative's own personnummer (`YYYYMMDD-NNNN`), when recorded; withheld when
    /// `name_hidden`.
    #[serde(default)]
    pub personal_identity_number: Option<String>,
    /// The relative is a registered person with protected identity: their phone, address and
    /// note are withheld.
    #[serde(default)]
    pub protected_identity: bool,
    /// The relative has protected identity and the caller's unit may not see their name:
    /// `name` is "Skyddade personuppgifter" and the personnummer is withheld.
    #[serde(default)]
    pub name_hidden: bool,
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
    /// "Skyddade personuppgifter" when the person has protected identity and the caller's unit
    /// took part in none of their plans before it was marked (then `name_hidden` is true).
    pub name: String,
    #[serde(default)]
    pub name_hidden: bool,
    /// Not shown when the person has protected identity.
    pub phone: Option<String>,
    /// Not shown when the person has protected identity.
    pub address: Option<String>,
    /// Skyddade personuppgifter: plans must be closed, contact details are withheld.
    pub protected_identity: bool,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out: Option<MovedOutView>,
    /// Empty when `name_hidden`.
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

fn shown_name(row: &PersonRow) -> String {
    if row.name_visible {
        row.name.clone()
    } else {
        HIDDEN_NAME.to_owned()
    }
}

impl PersonSummary {
    pub(crate) fn from_row(row: &PersonRow) -> Self {
        PersonSummary {
            id: row.person_id.clone(),
            personal_identity_number: formatted_pin(&row.personal_identity_number),
            name: shown_name(row),
            name_hidden: !row.name_visible,
            protected_identity: row.protected_identity,
            deceased_on: row.deceased_on,
            moved_out_on: row.moved_out_on,
        }
    }
}

impl PersonView {
    pub(crate) fn from_rows(row: PersonRow, relatives: Vec<RelativeRow>) -> Self {
        let protected = row.protected_identity;
        let name_visible = row.name_visible;
        let name = shown_name(&row);
        PersonView {
            id: row.person_id,
            personal_identity_number: formatted_pin(&row.personal_identity_number),
            name,
            name_hidden: !row.name_visible,
            phone: row.phone.filter(|_| !protected),
            address: row.address.filter(|_| !protected),
            protected_identity: protected,
            deceased_on: row.deceased_on,
            moved_out: row.moved_out_on.map(|moved_on| MovedOutView {
                moved_on,
                to_region: row.moved_to_region,
            }),
            // A relative leads to the person: with protected identity their phone, address and
            // note are withheld from everyone, and a unit that may not see the person's name
            // sees no relative at all (a guardian's name, number and personnummer would say who
            // the child is).
            relatives: relatives
                .into_iter()
                .filter(|_| name_visible)
                .map(|r| RelativeView {
                    relative_id: r.relative_id,
                    kind: relative_kind(&r.kind),
                    name: r.name,
                    phone: r.phone.filter(|_| !protected),
                    address: r.address.filter(|_| !protected),
                    note: r.note.filter(|_| !protected),
                    personal_identity_number: r
                        .personal_identity_number
                        .as_deref()
                        .map(formatted_pin),
                    protected_identity: r.protected_identity,
                    name_hidden: r.name_hidden,
                })
                .collect(),
            version: row.version,
            registered_at: row.registered_at,
        }
    }
}

/// Where the directory stands, after waiting (bounded) for `min_position`. Whether a unit may see
/// a protected person's name is read from the participation read model, so a read that asks to
/// see a position waits for that one too.
pub(crate) async fn directory_position(
    state: &AppState,
    min_position: Option<i64>,
) -> Result<i64, AppError> {
    if min_position.is_none() {
        return consistency::projection_position(state, directory::PROJECTION, None).await;
    }
    // Both at once: the wait is bounded once (`wait_ms_max`), not once per read model, so a
    // position that never comes cannot make the request outlast its timeout.
    let (position, participation) = tokio::try_join!(
        consistency::projection_position(state, directory::PROJECTION, min_position),
        consistency::projection_position(
            state,
            projections::participation::PROJECTION,
            min_position
        ),
    )?;
    Ok(position.min(participation))
}

/// Parses a person id from the path; an id that cannot exist is simply not found.
fn person_id(raw: &str) -> Result<PersonId, AppError> {
    PersonId::parse(raw).map_err(|_| AppError::NotFound)
}

// ---- handlers -----------------------------------------------------------------------------

/// Register a person (RegisterPerson). A personnummer that is already registered is refused
/// (409 `person_already_registered`).
#[utoipa::path(
    post,
    path = "/api/v1/persons",
    tag = "persons",
    request_body = RegisterPersonRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 64 characters")),
    responses(
        (status = 201, description = "Registered; `id` is the new person's id", body = WriteResponse,
            headers(("Location" = String, description = "The person's address, `/api/v1/persons/{id}`"))),
        (status = 400, description = "Malformed request", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 409, description = "`person_already_registered`", body = Problem),
        (status = 422, description = "`invalid_personal_identity_number`, missing name", body = Problem),
        (status = 503, description = "The database cannot be reached right now; try again", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn register_person(
    State(state): State<AppState>,
    Staff(caller): Staff,
    request_id: RequestId,
    command: Command<RegisterPersonRequest>,
) -> Result<Created, AppError> {
    let write = Write {
        caller: &caller,
        meta: &command.meta,
        correlation_id: Some(request_id.as_str()),
    };
    let person_id = PersonId::from_ulid(Ulid::generate());
    let response = commands::persons::register(&state, write, person_id, command.body).await?;
    Ok(Created {
        collection: "/api/v1/persons",
        response,
    })
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
    _caller: Staff,
    Path((_, name)): Path<(String, String)>,
    _command: Command<serde_json::Value>,
) -> Result<Response, AppError> {
    // Shown without control characters (a path may carry `%1B`).
    let shown: String = name
        .chars()
        .filter(|c| crate::text::is_allowed(*c))
        .take(64)
        .collect();
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
    Staff(caller): Staff,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Response, AppError> {
    let unit = caller.staff_unit()?.clone();
    let queries = person_queries(&state, params.q.as_deref().unwrap_or(""))?;
    let position = directory_position(&state, params.min_position).await?;
    let (rows, truncated) = search_and_log(&state, &caller, &unit, &queries).await?;
    let answer = PersonSearchResponse {
        persons: rows.iter().map(PersonSummary::from_row).collect(),
        truncated,
    };
    Ok(consistency::with_position(
        Json(answer).into_response(),
        position,
    ))
}

/// The persons `queries` find for `unit` (at most [`SEARCH_RESULTS_MAX`], sorted by name; each
/// once though two readings of a number find them both), whether more matched, and each listed
/// person logged as searched by `caller` (PDL): `GET /persons?q=` and Sök patient alike.
pub(crate) async fn search_and_log(
    state: &AppState,
    caller: &Caller,
    unit: &UnitId,
    queries: &[PersonQuery],
) -> Result<(Vec<PersonRow>, bool), AppError> {
    let mut rows: Vec<PersonRow> = Vec::new();
    for query in queries {
        let found = directory::search_persons(
            state.store.pool(),
            unit.as_str(),
            query,
            SEARCH_RESULTS_MAX + 1,
        )
        .await?;
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
    access_log::record_many(state, caller, &ids, action::SEARCH, None).await?;
    Ok((rows, truncated))
}

/// What the search text means: a personnummer when it parses as one, an error when it is
/// clearly meant as one but is wrong (so staff learn of the typo instead of "no match"), and a
/// name fragment otherwise.
///
/// A ten-digit number with a space where the separator goes is ambiguous: in a URL an unencoded
/// `+` (100 years or older) arrives as a space, and a typed space would mean `-`. Both readings
/// are searched, so the right person is listed (with the full year) rather than silently a
/// person born a century later or earlier.
pub(crate) fn person_queries(state: &AppState, q: &str) -> Result<Vec<PersonQuery>, AppError> {
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
            "Skriv minst två bokstäver av namnet.".to_string(),
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
        (status = 503, description = "`read_model_behind`: not found, but the read model had not reached `min_position` when the wait ended (header X-Samplan-Position says where it stood); try again. `service_unavailable`: the database cannot be reached", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn get_person(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> Result<Response, AppError> {
    let unit = caller.staff_unit()?.clone();
    let person_id = person_id(&id)?;
    let position = directory_position(&state, params.min_position).await?;
    let pool = state.store.pool();
    let key = person_id.to_string();
    let Some(row) = directory::person(pool, unit.as_str(), &key).await? else {
        return Err(consistency::not_found(
            &state,
            position,
            params.min_position,
            AppError::NotFoundFor(caller.role),
        )
        .await);
    };
    let relatives = directory::relatives(pool, unit.as_str(), &key).await?;
    access_log::record(&state, &caller, &person_id, action::READ_PERSON, None).await?;
    let view = PersonView::from_rows(row, relatives);
    let etag = format!("\"{}\"", view.version);
    let mut response = consistency::with_position(Json(view).into_response(), position);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}
