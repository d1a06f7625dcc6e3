//! The one place where failures become HTTP responses: RFC 9457 problem details
//! (`application/problem+json`) with a Swedish `title`/`detail` and a stable `code`.
//!
//! Internals (database messages, cause chains) are logged here, once, and never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::context::Role;
use domain::error::{DomainError, ErrorKind};
use eventstore::StoreError;
use serde::Serialize;

/// The problem document sent to clients.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:samplan:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short Swedish summary of the kind of problem.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Swedish explanation of this occurrence.
    pub detail: String,
    /// Stable machine-readable code, e.g. `consent_missing`.
    pub code: String,
    /// For `version_conflict`: the stream's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A domain rule refused the command or input.
    #[error("domain: {0}")]
    Domain(#[from] DomainError),
    /// The event store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// No, malformed, expired or wrongly signed token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A token problem with its own code (`token_missing`, `token_expired`, …), answered 401.
    #[error("token refused ({code}): {detail}")]
    Token { code: &'static str, detail: String },
    /// The caller's role or unit may not do this.
    #[error("forbidden: {detail}")]
    Forbidden { code: &'static str, detail: String },
    /// Unknown, or not visible to the caller (we never reveal which).
    #[error("not found")]
    NotFound,
    /// The same, told in the words of the caller's role (a staff member's unit, a citizen's own
    /// plans): [`AppError::for_role`].
    #[error("not found")]
    NotFoundFor(Role),
    /// The request itself is malformed (JSON syntax, unknown field, wrong type, bad header).
    #[error("bad request ({code}): {detail}")]
    BadRequest { code: &'static str, detail: String },
    /// Valid JSON whose content breaks a rule checked at the edge.
    #[error("unprocessable ({code}): {detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// `If-Match` named a version the stream has moved past.
    #[error("version conflict: current version {current}")]
    VersionConflict { current: i64 },
    /// Not there at the moment asked about, with why in words (an auditor's `as_of` before a
    /// plan was recorded): 404 `not_found`.
    #[error("not found: {0}")]
    NotFoundBecause(String),
    /// The request body exceeds the configured limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A body sent as something other than JSON: 415 `unsupported_media_type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A `min_position` wait or a dependency did not answer in time.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A read asked (`?min_position`) for a position its read model had not reached when the
    /// wait ended, and what it looked for was not there: maybe written, not yet readable. 503
    /// `read_model_behind`, with where the read model stood.
    #[error("read model behind the position asked for, at {at}")]
    Behind { at: i64 },
    /// The client did not send its whole request body within the request's time.
    #[error("request timeout")]
    RequestTimeout,
    /// A write ran out of time after its body had arrived: it may still be committed.
    #[error("write outcome unknown: {0}")]
    WriteOutcomeUnknown(String),
    /// More header fields than [`crate::app::HEADERS_MAX`].
    #[error("too many headers: {0}")]
    TooManyHeaders(usize),
    /// Anything else; the message is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// Shorthand for a bad request.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// Shorthand for a forbidden request.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Forbidden {
            code,
            detail: detail.into(),
        }
    }

    /// A [`AppError::NotFound`] worded for a caller of `role`; any other error as it is.
    pub fn for_role(self, role: Role) -> Self {
        match self {
            AppError::NotFound => AppError::NotFoundFor(role),
            other => other,
        }
    }

    /// Shorthand for an internal error; the text is logged, never sent.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        AppError::Internal(what.to_string())
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (status, code, title, detail, current_version): (StatusCode, String, &str, String, Option<i64>) =
            match self {
                AppError::Domain(e) => {
                    let (status, title) = match e.kind() {
                        ErrorKind::Validation => (StatusCode::UNPROCESSABLE_ENTITY, "Uppgifterna bryter mot en regel"),
                        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "Åtgärden är inte tillåten för dig"),
                        ErrorKind::State => (StatusCode::CONFLICT, state_title(e)),
                        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "Hittades inte"),
                    };
                    (status, e.code().to_string(), title, e.message(), None)
                }
                AppError::Store(StoreError::Conflict { actual, .. }) => (
                    StatusCode::CONFLICT,
                    "version_conflict".into(),
                    "Någon annan hann före",
                    format!("Uppgifterna har ändrats av någon annan (nu version {actual}). Läs in dem igen och försök på nytt."),
                    Some(*actual),
                ),
                AppError::Store(StoreError::IdempotencyKeyReused { .. }) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused".into(),
                    "Idempotency-Key används redan",
                    "Samma Idempotency-Key har redan använts för en annan begäran. Använd en ny nyckel.".into(),
                    None,
                ),
                AppError::TooManyHeaders(n) => (
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "too_many_headers".into(),
                    "För många rubrikfält",
                    format!(
                        "Begäran har {n} rubrikfält (headers); högst {} tas emot.",
                        crate::app::HEADERS_MAX
                    ),
                    None,
                ),
                AppError::RequestTimeout => (
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout".into(),
                    "Begäran kom inte fram i tid",
                    "Innehållet i begäran kom för långsamt och hann inte fram inom tidsgränsen. Skicka den igen.".into(),
                    None,
                ),
                AppError::Store(StoreError::PayloadTooLarge { max, .. }) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large".into(),
                    "För mycket data",
                    format!("Händelsen är för stor (högst {max} byte)."),
                    None,
                ),
                AppError::Store(StoreError::InvalidInput(_)) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input".into(),
                    "Uppgifterna bryter mot en regel",
                    "Uppgifterna kunde inte sparas som de är. Kontrollera texten och försök igen.".into(),
                    None,
                ),
                AppError::Store(StoreError::Unavailable(_)) | AppError::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable".into(),
                    "Tjänsten är tillfälligt otillgänglig",
                    "Tjänsten kan inte svara just nu. Försök igen om en stund.".into(),
                    None,
                ),
                AppError::Behind { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "read_model_behind".into(),
                    "Uppgifterna är inte uppdaterade än",
                    "Det du frågar efter kan vara sparat men syns inte här än. Försök igen om en stund.".into(),
                    None,
                ),
                AppError::WriteOutcomeUnknown(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable".into(),
                    "Tjänsten hann inte svara",
                    "Tjänsten hann inte svara i tid, men ändringen kan ändå ha sparats. Skicka begäran igen med samma Idempotency-Key, så görs den högst en gång; utan nyckel, läs in uppgifterna igen innan du försöker på nytt.".into(),
                    None,
                ),
                AppError::Store(_) | AppError::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error".into(),
                    "Något gick fel hos oss",
                    "Ett oväntat fel inträffade. Felet är loggat; försök igen eller kontakta support.".into(),
                    None,
                ),
                AppError::Unauthorized(detail) => (
                    StatusCode::UNAUTHORIZED,
                    "unauthorized".into(),
                    "Inloggning krävs",
                    detail.clone(),
                    None,
                ),
                AppError::Token { code, detail } => (
                    StatusCode::UNAUTHORIZED,
                    (*code).into(),
                    "Inloggning krävs",
                    detail.clone(),
                    None,
                ),
                AppError::Forbidden { code, detail } => (
                    StatusCode::FORBIDDEN,
                    (*code).into(),
                    "Åtgärden är inte tillåten för dig",
                    detail.clone(),
                    None,
                ),
                AppError::NotFound => (
                    StatusCode::NOT_FOUND,
                    "not_found".into(),
                    "Hittades inte",
                    NOT_FOUND_DETAIL.into(),
                    None,
                ),
                AppError::NotFoundBecause(detail) => (
                    StatusCode::NOT_FOUND,
                    "not_found".into(),
                    "Hittades inte",
                    detail.clone(),
                    None,
                ),
                AppError::NotFoundFor(role) => (
                    StatusCode::NOT_FOUND,
                    "not_found".into(),
                    "Hittades inte",
                    not_found_detail(*role).into(),
                    None,
                ),
                AppError::BadRequest { code, detail } => (
                    StatusCode::BAD_REQUEST,
                    (*code).into(),
                    "Felaktig begäran",
                    detail.clone(),
                    None,
                ),
                AppError::Unprocessable { code, detail } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    (*code).into(),
                    "Uppgifterna bryter mot en regel",
                    detail.clone(),
                    None,
                ),
                AppError::VersionConflict { current } => (
                    StatusCode::CONFLICT,
                    "version_conflict".into(),
                    "Någon annan hann före",
                    format!("Uppgifterna har ändrats sedan du läste dem (nu version {current}). Läs in dem igen och försök på nytt."),
                    Some(*current),
                ),
                AppError::PayloadTooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large".into(),
                    "För mycket data",
                    "Begäran är för stor.".into(),
                    None,
                ),
                AppError::UnsupportedMediaType => (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type".into(),
                    "Fel innehållstyp",
                    UNSUPPORTED_MEDIA_TYPE_DETAIL.into(),
                    None,
                ),
            };
        Problem {
            kind: format!("urn:samplan:problem:{code}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            code,
            current_version,
        }
    }
}

/// What a body sent as something other than JSON is told, by the extractor and the router alike.
pub(crate) const UNSUPPORTED_MEDIA_TYPE_DETAIL: &str =
    "Begäran måste skickas som JSON (Content-Type: application/json).";

/// What a 404 says when the caller's role is not known where it was decided: true for every
/// role (citizens and auditors have no unit to blame).
pub(crate) const NOT_FOUND_DETAIL: &str =
    "Det du söker finns inte, eller så har du inte tillgång till det.";

/// What a 404 says to a caller of `role`: staff see what their unit takes part in, a citizen
/// their own (and their children's) published plans, an auditor everything.
fn not_found_detail(role: Role) -> &'static str {
    match role {
        Role::Staff => "Det du söker finns inte, eller så har din enhet inte tillgång till det.",
        Role::Citizen => {
            "Det du söker finns inte, eller så är det inte din plan att läsa (eller inte delat \
             med dig ännu)."
        }
        Role::Auditor => "Det du söker finns inte.",
        _ => NOT_FOUND_DETAIL,
    }
}

/// The title of a refusal by the state of what a command is about: a plan's, or a person's or a
/// unit's register entry, which has no plan to speak of.
fn state_title(e: &DomainError) -> &'static str {
    match e {
        DomainError::PersonAlreadyRegistered | DomainError::UnitAlreadyRegistered => {
            "Finns redan registrerad"
        }
        DomainError::ProtectedIdentity
        | DomainError::PersonDeceased
        | DomainError::PersonMovedOut => "Åtgärden går inte med personens nuvarande uppgifter",
        _ => "Åtgärden går inte i planens nuvarande läge",
    }
}

/// `Retry-After` of a 503: seconds.
pub const RETRY_AFTER_SECS: &str = "1";

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        // The cause chain is logged once, here; clients only see the problem document.
        if matches!(self, AppError::Behind { .. }) {
            // A read model behind is for the lag metrics and alerts; each read is no error.
            tracing::debug!(error = %self, code = %problem.code, "read model behind");
        } else if problem.status >= 500 {
            tracing::error!(error = %self, code = %problem.code, "request failed");
        } else {
            tracing::debug!(error = %self, code = %problem.code, "request refused");
        }
        let mut response = problem_response(&problem);
        if let AppError::Behind { at } = self {
            response
                .headers_mut()
                .insert(crate::consistency::POSITION_HEADER, HeaderValue::from(at));
        }
        if problem.status == 503 {
            // RFC 9110 §10.2.3: when to try again. The database or a read model is away or
            // behind; a second is long enough not to hammer it, short enough to recover fast.
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        if problem.status == 401 {
            // RFC 6750: tell the client which scheme to use.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<projections::ProjectionError> for AppError {
    /// A read model's database that is away is 503; anything else is our fault.
    fn from(e: projections::ProjectionError) -> Self {
        if e.is_transient() {
            AppError::Unavailable(format!("read model: {e}"))
        } else {
            AppError::internal(format!("read model: {e}"))
        }
    }
}

/// Renders a problem document as `application/problem+json`.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
