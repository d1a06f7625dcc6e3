//! `/inbox`: what a unit reads every morning and afternoon. Meddelanden (`GET /inbox/messages`,
//! marking one read), Att göra (`GET /inbox/todos`), Pågående SIP (`GET /inbox/sips`) and the
//! live pushes of all three (`GET /inbox/events`, server-sent events), all from the inbox read
//! model (`projections::inbox`).
//!
//! Every list shows persons by name and birth year, so every list is a read of their data: each
//! person shown is in the access log before the answer goes out (a push: before it is sent).

use crate::access_log::{self, action};
use crate::auth::Caller;
use crate::commands::inbox::{self as command, MarkMessageReadRequest};
use crate::consistency::{self, POSITION_HEADER};
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, Command, Staff};
use crate::pipeline::{Write, WriteResponse};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use domain::sip::messages::MessageKind;
use domain::sip::SipPhase;
use domain::PersonId;
use projections::inbox::{
    self, Change, MessageFilter, MessageRow, OngoingCursor, OngoingRow, PersonRef, TodoCursor,
    TodoList, TodoRow, TodoScope, Urgency,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Messages per page unless `limit` says otherwise, and at most.
const PAGE_DEFAULT: i64 = 50;
const PAGE_MAX: i64 = 200;
/// Positions' worth of changes read at a time for a live stream.
const PUSH_BATCH: i64 = 200;
/// How often a quiet live stream sends a comment, so proxies keep it open.
const KEEP_ALIVE_SECS: u64 = 15;

/// A client reconnects after `RETRY_MS_MIN` and up to `RETRY_MS_SPREAD` more (the `retry` of the
/// stream's first event).
const RETRY_MS_MIN: u64 = 2_000;
const RETRY_MS_SPREAD: u64 = 3_000;

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox/messages", get(list_messages))
        .route("/inbox/messages/{id}/read", post(mark_message_read))
        .route("/inbox/todos", get(list_todos))
        .route("/inbox/sips", get(list_ongoing))
        .route("/inbox/events", get(staff_events))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(
    paths(list_messages, mark_message_read, list_todos, list_ongoing, events),
    components(schemas(
        MarkMessageReadRequest,
        MessagesResponse,
        MessageView,
        InboxPersonView,
        SenderView,
        TodosResponse,
        TodoView,
        OngoingResponse,
        OngoingView,
        DischargeView,
        CoordinatorView,
    )),
    tags((name = "inbox", description = "Meddelanden, Att göra and Pågående SIP of the caller's unit, and their live pushes"))
)]
pub struct ApiDoc;

// ---- responses ----------------------------------------------------------------------------

/// The person a row is about, as the caller's unit may see them: never the personnummer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxPersonView {
    pub id: String,
    /// Absent when the person has protected identity and the unit took part only after it was
    /// marked.
    pub name: Option<String>,
    pub birth_year: Option<i32>,
    /// Skyddade personuppgifter: no address or phone is shown anywhere.
    pub protected_identity: bool,
}

impl From<PersonRef> for InboxPersonView {
    fn from(p: PersonRef) -> Self {
        InboxPersonView {
            id: p.person_id,
            name: p.name,
            birth_year: p.birth_year,
            protected_identity: p.protected_identity,
        }
    }
}

/// Who sent a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SenderView {
    pub unit_id: String,
    pub unit_name: Option<String>,
    /// The staff member who did what the message tells.
    pub name: String,
}

/// One message (Meddelanden).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    /// `invitation`, `follow_up_invitation`, `meeting_rescheduled`, `invitation_cancelled`,
    /// `contribution_published`, `coordinator_changed`, `consent_withdrawn`, `plan_closed`,
    /// `guardians_changed`, `left_out_by_consent`, `included_by_consent`, `discharge_recorded`,
    /// `invitation_answered`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The subject line, in Swedish.
    pub subject: String,
    pub body: String,
    pub sip_id: String,
    pub person: InboxPersonView,
    pub invitation_id: Option<String>,
    pub sender: SenderView,
    pub sent_at: DateTime<Utc>,
    /// Whether the caller has read it.
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    /// The global position of what the message tells.
    pub position: i64,
}

impl From<MessageRow> for MessageView {
    fn from(m: MessageRow) -> Self {
        MessageView {
            id: m.message_id,
            kind: m.kind,
            subject: m.subject,
            body: m.body,
            sip_id: m.sip_id,
            person: m.person.into(),
            invitation_id: m.invitation_id,
            sender: SenderView {
                unit_id: m.sender_unit_id,
                unit_name: m.sender_unit_name,
                name: m.sender_name,
            },
            sent_at: m.sent_at,
            read: m.read_at.is_some(),
            read_at: m.read_at,
            position: m.position,
        }
    }
}

/// `GET /inbox/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessagesResponse {
    /// Newest first.
    pub messages: Vec<MessageView>,
    /// Messages of the unit the caller has not read (all of them, not only this page's).
    pub unread_count: i64,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One to-do (Att göra).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TodoView {
    pub id: String,
    /// `get_consent`, `document_declined_consent`, `create_plan_basis`, `send_invitation`,
    /// `appoint_representative`, `record_meeting`, `document_main_goal`,
    /// `document_contribution`, `document_for_external_actor`, `schedule_follow_up`,
    /// `hold_follow_up`, `close_plan`, `renew_consent`, `send_letter`.
    pub kind: String,
    /// What to do, in Swedish.
    pub title: String,
    pub sip_id: String,
    pub person: InboxPersonView,
    pub unit_id: String,
    /// The staff member (HSA-id) who owes it; absent: the whole unit.
    pub assigned_to: Option<String>,
    /// Their name, as the plan recorded it (when it is one staff member's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to_name: Option<String>,
    /// By when; absent when the guidance sets no deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// A reminder ahead of its deadline (`renew_consent`) is listed from this instant on;
    /// absent for every other to-do, which is listed from the moment it is owed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_from: Option<DateTime<Utc>>,
    /// The red clock: overdue, or due by the end of the profile's warning window.
    pub urgent: bool,
    pub overdue: bool,
    /// For `send_letter`: what to print and to whom (no address of the person or their
    /// relatives when the person has protected identity).
    #[schema(value_type = Option<Object>)]
    pub letter: Option<domain::obligations::Letter>,
    pub opened_at: DateTime<Utc>,
    /// Set when a live push tells that the to-do ended: when, and the event that settled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
}

impl TodoView {
    fn new(t: TodoRow, urgent_until: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let open = t.ended_at.is_none();
        TodoView {
            id: t.todo_id,
            kind: t.kind,
            title: t.title,
            sip_id: t.sip_id,
            person: t.person.into(),
            unit_id: t.unit_id,
            assigned_to: t.staff_id,
            assigned_to_name: t.staff_name,
            due_at: t.due_at,
            shown_from: t.shown_from,
            urgent: open && t.due_at.is_some_and(|d| d <= urgent_until),
            overdue: open && t.due_at.is_some_and(|d| d < now),
            letter: t.letter,
            opened_at: t.opened_at,
            ended_at: t.ended_at,
            ended_by: t.ended_by,
        }
    }
}

/// `GET /inbox/todos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TodosResponse {
    /// Soonest due first; those without a due time last.
    pub todos: Vec<TodoView>,
    /// A to-do due at or before this instant is urgent now.
    pub urgent_until: DateTime<Utc>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The coordinator of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CoordinatorView {
    pub staff_id: String,
    pub name: String,
    pub unit_id: String,
}

/// One plan the unit takes part in (Pågående SIP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OngoingView {
    pub sip_id: String,
    pub person: InboxPersonView,
    /// `awaiting_consent`, `preparing`, `invited`, `meeting_held`, `followed_up`, `closed`, …
    pub phase: String,
    /// The phase in Swedish.
    pub phase_text: String,
    pub coordinator: Option<CoordinatorView>,
    /// The earliest meeting or follow-up meeting invited to and not yet registered; absent
    /// when the plan is to be closed.
    pub next_meeting_at: Option<DateTime<Utc>>,
    /// `next_meeting_at` has passed and the meeting is not registered yet.
    pub next_meeting_passed: bool,
    /// Absent when the plan is to be closed.
    pub next_follow_up_on: Option<NaiveDate>,
    /// The unit has yet to document and publish its part after the meeting.
    pub owes_documentation: bool,
    /// When the need became known.
    pub started_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Why the open plan is to be closed, in Swedish: "samtycket har återkallats", "personen
    /// har skyddade personuppgifter", "personen har flyttat från länet", "personen har avlidit"
    /// (comma-separated when several). The coordinator has the to-do to close it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_be_closed: Option<String>,
    /// A plan started at discharge from inpatient care: its track and dates. Absent for one
    /// started in outpatient care.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discharge: Option<DischargeView>,
}

/// A plan started at discharge from inpatient care, as Pågående SIP shows it: the municipality
/// plans the homecoming by it, and on the red track the meeting comes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DischargeView {
    /// `green`, `yellow` or `red`; absent when the plan named none.
    pub track: Option<String>,
    /// "Grönt spår", "Gult spår", "Rött spår – SIP-mötet före hemgång".
    pub track_text: Option<String>,
    /// When the person was ready for discharge (utskrivningsklarmeddelandet).
    pub ready_at: Option<DateTime<Utc>>,
    /// When the person goes, or went, home, as the ward registered it.
    pub discharged_at: Option<DateTime<Utc>>,
}

impl DischargeView {
    /// The discharge of a Pågående SIP row, if it started at one.
    pub fn of(o: &OngoingRow) -> Option<DischargeView> {
        (o.care_context.as_deref() == Some("discharge")).then(|| DischargeView {
            track: o.track.clone(),
            track_text: o.track.as_deref().and_then(track_text).map(str::to_owned),
            ready_at: o.discharge_ready_at,
            discharged_at: o.discharged_at,
        })
    }
}

/// A discharge track in Swedish, as staff name it.
pub fn track_text(track: &str) -> Option<&'static str> {
    match track {
        "green" => Some("Grönt spår"),
        "yellow" => Some("Gult spår"),
        "red" => Some("Rött spår – SIP-mötet före hemgång"),
        _ => None,
    }
}

impl OngoingView {
    fn new(o: OngoingRow, now: DateTime<Utc>) -> Self {
        let phase_text =
            serde_json::from_value::<SipPhase>(serde_json::Value::String(o.phase.clone()))
                .map(|p| p.label().to_string())
                .unwrap_or_else(|_| o.phase.clone());
        let discharge = DischargeView::of(&o);
        let coordinator = match (o.coordinator_id, o.coordinator_name, o.coordinator_unit_id) {
            (Some(staff_id), Some(name), Some(unit_id)) => Some(CoordinatorView {
                staff_id,
                name,
                unit_id,
            }),
            _ => None,
        };
        OngoingView {
            sip_id: o.sip_id,
            person: o.person.into(),
            phase: o.phase,
            phase_text,
            coordinator,
            next_meeting_at: o.next_meeting_at,
            next_meeting_passed: o.next_meeting_at.is_some_and(|at| at < now),
            next_follow_up_on: o.next_follow_up_on,
            owes_documentation: o.owes_documentation,
            started_at: o.started_at,
            closed_at: o.closed_at,
            to_be_closed: o.to_be_closed,
            discharge,
        }
    }
}

/// `GET /inbox/sips`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OngoingResponse {
    /// Open plans first, the nearest meeting first.
    pub sips: Vec<OngoingView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

// ---- queries ------------------------------------------------------------------------------

/// `GET /inbox/messages` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesParams {
    /// `true`: only those the caller has not read; `false`: only those read.
    pub unread: Option<bool>,
    /// One message type (see `MessageView.type`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only messages about this person.
    #[param(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub person_id: Option<String>,
    /// Only messages sent at or after this time (RFC 3339) or day (`YYYY-MM-DD`, Swedish time).
    pub since: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^p[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// Messages per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Wait (up to 5 s) until the inbox has seen this position.
    pub min_position: Option<i64>,
}

/// `GET /inbox/todos` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TodosParams {
    /// `true`: only urgent ones (the red clock); `false`: only the others.
    pub urgent: Option<bool>,
    /// `mine` (default): the unit's and the caller's own; `unit`: colleagues' too.
    #[param(pattern = "^(mine|unit)$")]
    pub scope: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^t(n|-?[0-9]{1,19})[.].{1,200}$")]
    pub cursor: Option<String>,
    /// To-dos per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Wait (up to 5 s) until the inbox has seen this position.
    pub min_position: Option<i64>,
}

/// `GET /inbox/sips` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OngoingParams {
    /// `true`: closed plans too.
    pub closed: Option<bool>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^o[01][.](n|-?[0-9]{1,19})[.](n|[0-9]{8})[.]-?[0-9]{1,19}[.].{1,100}$")]
    pub cursor: Option<String>,
    /// Plans per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Wait (up to 5 s) until the inbox has seen this position.
    pub min_position: Option<i64>,
}

/// `GET /inbox/events` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// Push what changed after this position (the `X-Samplan-Position` of the lists the client
    /// shows); without it, and without `Last-Event-ID`, pushes start from now.
    pub from_position: Option<i64>,
}

fn invalid(detail: impl Into<String>) -> AppError {
    AppError::bad_request("invalid_parameter", detail)
}

/// `limit`: rows per page, [`PAGE_DEFAULT`] unless given, at most [`PAGE_MAX`].
fn page_size(limit: Option<i64>) -> Result<i64, AppError> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(invalid(format!("limit ska vara mellan 1 och {PAGE_MAX}.")));
    }
    Ok(limit)
}

/// A list's `cursor`, read by `decode`; a bad one is refused rather than read as "from the
/// start", which would show the first page again as if it were the next.
fn list_cursor<C>(raw: Option<&str>, decode: fn(&str) -> Option<C>) -> Result<Option<C>, AppError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) => decode(c)
            .map(Some)
            .ok_or_else(|| invalid("cursor är ogiltig: använd next_cursor från föregående sida.")),
    }
}

/// Cuts a page fetched with one row more than `limit` and names where the next one starts.
fn cut_page<R>(rows: &mut Vec<R>, limit: i64, cursor: impl Fn(&R) -> String) -> Option<String> {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(cursor)
    } else {
        None
    }
}

/// `since`: a time, or a Swedish day (from its first instant).
fn parse_since(raw: &str) -> Result<DateTime<Utc>, AppError> {
    crate::moments::parse(raw, crate::moments::DayAs::Start)
        .map_err(|_| invalid("since ska vara en tidpunkt (RFC 3339) eller ett datum (ÅÅÅÅ-MM-DD)."))
}

fn parse_cursor(raw: &str) -> Result<i64, AppError> {
    raw.trim()
        .strip_prefix('p')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid("cursor ska vara next_cursor från föregående sida."))
}

/// The distinct persons of `rows`, for the access log.
fn persons_shown<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<PersonId> {
    let mut persons: Vec<PersonId> = ids.filter_map(|id| PersonId::parse(id).ok()).collect();
    persons.sort();
    persons.dedup();
    persons
}

// ---- handlers -----------------------------------------------------------------------------

/// Meddelanden: what arrived for the caller's unit, newest first, read or unread by the caller.
#[utoipa::path(
    get,
    path = "/api/v1/inbox/messages",
    tag = "inbox",
    params(MessagesParams),
    responses(
        (status = 200, description = "The unit's messages; header X-Samplan-Position", body = MessagesResponse),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list_messages(
    State(state): State<AppState>,
    Staff(caller): Staff,
    ApiQuery(params): ApiQuery<MessagesParams>,
) -> Result<Response, AppError> {
    let unit = caller.staff_unit()?.clone();
    let kind = match params.kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => Some(
            MessageKind::parse(k)
                .ok_or_else(|| {
                    let valid: Vec<&str> = MessageKind::ALL.iter().map(|k| k.as_str()).collect();
                    invalid(format!(
                        "Okänd meddelandetyp \u{201d}{k}\u{201d}. Giltiga typer: {}.",
                        valid.join(", ")
                    ))
                })?
                .as_str()
                .to_owned(),
        ),
    };
    let person_id = match params.person_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(
            PersonId::parse(p)
                .map_err(|_| invalid("person_id ska vara ett person-id (ULID)."))?
                .to_string(),
        ),
    };
    let limit = page_size(params.limit)?;
    let filter = MessageFilter {
        unread: params.unread,
        kind,
        person_id,
        since: params.since.as_deref().map(parse_since).transpose()?,
        before_position: params.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    if params.min_position.is_some() {
        consistency::projection_position(&state, inbox::PROJECTION, params.min_position).await?;
    }
    // The list, the count and the position from one snapshot: they agree while messages arrive.
    let inbox::MessagesSnapshot {
        mut rows,
        unread_count,
        position,
    } = inbox::messages_snapshot(state.store.pool(), unit.as_str(), &caller.sub, &filter).await?;
    let next_cursor = cut_page(&mut rows, limit, |m| format!("p{}", m.position));
    let persons = persons_shown(rows.iter().map(|m| m.person.person_id.as_str()));
    access_log::record_many(&state, &caller, &persons, action::INBOX, None).await?;
    let answer = MessagesResponse {
        messages: rows.into_iter().map(MessageView::from).collect(),
        unread_count,
        next_cursor,
    };
    Ok(consistency::with_position(
        Json(answer).into_response(),
        position,
    ))
}

/// Mark a message of the caller's unit as read by the caller.
#[utoipa::path(
    post,
    path = "/api/v1/inbox/messages/{id}/read",
    tag = "inbox",
    params(
        ("id" = String, Path, description = "The message id, as listed by GET /inbox/messages"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 64 characters"),
    ),
    request_body(content = MarkMessageReadRequest, description = "No fields: `{}`, or no body at all"),
    responses(
        (status = 200, description = "Marked read (`events` is empty if it already was); `id` is the message id", body = WriteResponse),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 400, description = "Malformed body or header", body = Problem),
        (status = 404, description = "No such message in the caller's unit's inbox", body = Problem),
        (status = 422, description = "`invalid_id`: not a message id; `invalid_characters`", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn mark_message_read(
    State(state): State<AppState>,
    Staff(caller): Staff,
    request_id: RequestId,
    Path(message_id): Path<String>,
    command: Command<MarkMessageReadRequest>,
) -> Result<Json<WriteResponse>, AppError> {
    let write = Write {
        caller: &caller,
        meta: &command.meta,
        correlation_id: Some(request_id.as_str()),
    };
    Ok(Json(command::mark_read(&state, write, &message_id).await?))
}

/// Att göra: the caller's and the unit's to-dos, with due times and the red clock.
#[utoipa::path(
    get,
    path = "/api/v1/inbox/todos",
    tag = "inbox",
    params(TodosParams),
    responses(
        (status = 200, description = "Open to-dos; header X-Samplan-Position", body = TodosResponse),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list_todos(
    State(state): State<AppState>,
    Staff(caller): Staff,
    ApiQuery(params): ApiQuery<TodosParams>,
) -> Result<Response, AppError> {
    let unit = caller.staff_unit()?.clone();
    let scope = match params.scope.as_deref().map(str::trim) {
        None | Some("") | Some("mine") => TodoScope::Mine,
        Some("unit") => TodoScope::Unit,
        Some(_) => return Err(invalid("scope ska vara mine eller unit.")),
    };
    let now = state.clock.now();
    let urgent_until = state.policy.for_municipality(None).urgent_until(now);
    let urgency = match params.urgent {
        None => Urgency::All,
        Some(true) => Urgency::DueBy(urgent_until),
        Some(false) => Urgency::NotDueBy(urgent_until),
    };
    let limit = page_size(params.limit)?;
    let after = list_cursor(params.cursor.as_deref(), TodoCursor::decode)?;
    let position =
        consistency::projection_position(&state, inbox::PROJECTION, params.min_position).await?;
    let mut rows = inbox::open_todos(
        state.store.pool(),
        unit.as_str(),
        &caller.sub,
        TodoList {
            scope,
            urgency,
            now,
        },
        after.as_ref(),
        limit + 1,
    )
    .await?;
    let next_cursor = cut_page(&mut rows, limit, |t| TodoCursor::after(t).encode());
    let persons = persons_shown(rows.iter().map(|t| t.person.person_id.as_str()));
    access_log::record_many(&state, &caller, &persons, action::INBOX, None).await?;
    let answer = TodosResponse {
        todos: rows
            .into_iter()
            .map(|t| TodoView::new(t, urgent_until, now))
            .collect(),
        urgent_until,
        next_cursor,
    };
    Ok(consistency::with_position(
        Json(answer).into_response(),
        position,
    ))
}

/// Pågående SIP: the plans the caller's unit takes part in.
#[utoipa::path(
    get,
    path = "/api/v1/inbox/sips",
    tag = "inbox",
    params(OngoingParams),
    responses(
        (status = 200, description = "The unit's plans; header X-Samplan-Position", body = OngoingResponse),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn list_ongoing(
    State(state): State<AppState>,
    Staff(caller): Staff,
    ApiQuery(params): ApiQuery<OngoingParams>,
) -> Result<Response, AppError> {
    let unit = caller.staff_unit()?.clone();
    let now = state.clock.now();
    let limit = page_size(params.limit)?;
    let after = list_cursor(params.cursor.as_deref(), OngoingCursor::decode)?;
    let position =
        consistency::projection_position(&state, inbox::PROJECTION, params.min_position).await?;
    let mut rows = inbox::ongoing(
        state.store.pool(),
        unit.as_str(),
        params.closed.unwrap_or(false),
        after.as_ref(),
        limit + 1,
    )
    .await?;
    let next_cursor = cut_page(&mut rows, limit, |o| OngoingCursor::after(o).encode());
    let persons = persons_shown(rows.iter().map(|o| o.person.person_id.as_str()));
    access_log::record_many(&state, &caller, &persons, action::INBOX, None).await?;
    let answer = OngoingResponse {
        sips: rows.into_iter().map(|o| OngoingView::new(o, now)).collect(),
        next_cursor,
    };
    Ok(consistency::with_position(
        Json(answer).into_response(),
        position,
    ))
}

/// Live pushes of the caller's unit's inbox, as server-sent events.
///
/// Events: `ready` (the stream is open; its id is where it starts), `message` (a message
/// arrived: a `MessageView`), `message_read` (the caller marked a message read elsewhere),
/// `todo` (a to-do of the unit opened, changed or ended: a `TodoView`, with `ended_at` when it
/// ended, and `assigned_to` naming the staff member it is for, so a client showing only the
/// caller's own — `GET /inbox/todos` without `scope=unit` — leaves the others out),
/// `ongoing` (a plan of the unit changed: an `OngoingView`). The `id` of an event is the global
/// position its change was made at; it is set on the last event of each position, so a client
/// that reconnects with `Last-Event-ID` misses nothing: it gets every message, to-do and plan
/// that changed after that id, each as it stands now (a to-do that opened and ended while the
/// client was away arrives once, ended). The first event carries `retry` (2–5 s, spread per
/// stream). The stream ends when the gateway stops, and with a `signed_out` event (`code`
/// `token_expired` or `token_revoked`, `detail` in Swedish) when its token expires or is
/// revoked: sign in again, then resume.
#[utoipa::path(
    get,
    path = "/api/v1/inbox/events",
    operation_id = "inbox_events",
    tag = "inbox",
    params(
        EventsParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (a position)"),
    ),
    responses(
        (status = 200, description = "text/event-stream of inbox changes", content_type = "text/event-stream", body = String),
        (status = 400, description = "`invalid_parameter`: Last-Event-ID is not a position; `position_unknown`: Last-Event-ID or from_position is beyond every position the store has (an id from another database), or names no event of the store (an id from before a point-in-time restore): read the lists again and open the stream without it", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    token: String,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<Response, AppError> {
    let unit = caller.staff_unit()?.as_str().to_owned();
    // The stream ends when its token does (expiry, sign-out): the token was checked when the
    // stream opened, and is checked again at its expiry and whenever a token is revoked.
    let revocations = state.verifier.revocations();
    let valid_until = state.verifier.valid_until(&token)?;
    let resume = match headers.get("last-event-id") {
        Some(value) => Some((
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|p| *p >= 0)
                .ok_or_else(|| invalid("Last-Event-ID ska vara ett id från strömmen."))?,
            "Last-Event-ID",
        )),
        None => match params.from_position {
            Some(p) if p < 0 => {
                return Err(invalid(
                    "from_position ska vara en position: 0 eller större.",
                ))
            }
            p => p.map(|p| (p, "from_position")),
        },
    };
    if let Some((after, named)) = resume {
        resumable(&state, after, named).await?;
    }
    let resume = resume.map(|(after, _)| after);
    // Watch before looking, so that no move between the look and the wait is missed.
    let moves = state.live.watch(&unit);
    let start = match resume {
        Some(after) => after,
        None => inbox::unit_positions(state.store.pool(), std::slice::from_ref(&unit))
            .await?
            .first()
            .map_or(0, |(_, p)| *p),
    };
    // Reminders have no position: a client resuming after a position may have missed those
    // shown since that event was recorded, so they are sent again (a to-do it has already is
    // only sent twice); a new client read its lists just now.
    let opened = state.clock.now();
    let reminders_after = match resume {
        Some(after) if after > 0 => state
            .store
            .read_all(after - 1, 1)
            .await?
            .first()
            .map(|e| e.recorded_at.min(opened))
            .unwrap_or(opened),
        _ => opened,
    };
    // How long a client waits before it reconnects (EventSource's `retry`), spread over a few
    // seconds so that the clients of a gateway that stops do not all come back at once.
    let retry = Duration::from_millis(
        RETRY_MS_MIN + u64::from(opened.timestamp_subsec_nanos()) % RETRY_MS_SPREAD,
    );
    let open = Open::new(&unit, &caller.sub);
    let stream = LiveStream {
        state: state.clone(),
        caller,
        token,
        valid_until,
        revocations,
        ended: false,
        feed: state.live.feed(&unit),
        open,
        unit,
        last: start,
        moves,
        reminders_after,
        next_reminder: None,
        queue: VecDeque::from([Event::default()
            .event("ready")
            .id(start.to_string())
            .retry(retry)
            .json_data(serde_json::json!({ "position": start }))
            .map_err(AppError::internal)?]),
    };
    let stream = futures::stream::unfold(stream, |mut s| async move {
        s.next()
            .await
            .map(|event| (Ok::<_, std::convert::Infallible>(event), s))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(KEEP_ALIVE_SECS)))
        .into_response();
    // Tell proxies not to buffer the stream.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    // An event stream is UTF-8 by definition; saying so keeps clients that read `text/*` as
    // Latin-1 without a charset (Python's requests) from garbling å, ä and ö.
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(POSITION_HEADER, axum::http::HeaderValue::from(start));
    Ok(response)
}

/// The route of [`events`]: the caller's role and unit are checked before the query is read.
/// [`events`] itself takes any caller, for the web's start page, which signs its visitors in
/// with a cookie instead.
async fn staff_events(
    state: State<AppState>,
    Staff(caller): Staff,
    headers: HeaderMap,
    params: ApiQuery<EventsParams>,
) -> Result<Response, AppError> {
    // `Staff` has read this very header.
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(crate::extract::bearer)
        .map(str::to_owned)
        .ok_or_else(|| AppError::internal("a staff caller without a bearer token"))?;
    events(state, caller, token, headers, params).await
}

/// Refuses (400 `position_unknown`) to resume after a position that is not one of this store's
/// events. Every id the stream sends (and every `X-Samplan-Position` a read answers) is the
/// position of an event the store holds, or 0. A larger one than the store has was issued by
/// another database (a restore, a re-deployment) or by nobody; accepted, the stream would wait
/// for that position and send nothing newer until the store got there. One that names no event
/// below the store's last is from another history of this database: after a point-in-time
/// restore the runbook moves the positions past the lost ones, which then lie in a hole, and
/// resuming from there would skip what the restored history holds below it (a redo of a restore
/// gets back events below the interim history's positions). Told, the client reads its lists
/// again and opens the stream anew. One look-up by primary key.
async fn resumable(state: &AppState, after: i64, named: &str) -> Result<(), AppError> {
    if after == 0
        || state
            .store
            .event_ids_at(&[after])
            .await?
            .contains_key(&after)
    {
        return Ok(());
    }
    let head = state.store.last_position().await?;
    let detail = if after > head {
        format!(
            "{named} {after} är en position som samplan inte har nått (nu {head}); den kommer \
             från en annan databas. Läs in listorna på nytt och öppna strömmen utan {named}."
        )
    } else {
        format!(
            "{named} {after} är ingen händelse i samplan (en position som aldrig sparades, eller \
             en från databasen innan den återställdes). Läs in listorna på nytt och öppna \
             strömmen utan {named}."
        )
    };
    Err(AppError::bad_request("position_unknown", detail))
}

/// An open live stream, as `samplan_live_streams` counts them: one more from the moment a stream
/// opens, one less when it ends (the client went, the token ended, the gateway stops). Its end is
/// logged with the unit, the user, how long it was open and why it ended, so that an operator
/// reading the gauge fall can tell clients leaving from streams closed by the service.
struct Open {
    unit: String,
    user: String,
    since: std::time::Instant,
    /// Why the stream ended, when the service ended it; a client that went leaves it `None`.
    ended_because: Option<&'static str>,
}

impl Open {
    fn new(unit: &str, user: &str) -> Open {
        metrics::gauge!("samplan_live_streams").increment(1.0);
        tracing::debug!(unit, user, "live stream opened");
        Open {
            unit: unit.to_owned(),
            user: user.to_owned(),
            since: std::time::Instant::now(),
            ended_because: None,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("samplan_live_streams").decrement(1.0);
        tracing::info!(
            unit = %self.unit,
            user = %self.user,
            open_seconds = self.since.elapsed().as_secs(),
            ended_because = self.ended_because.unwrap_or("the client went"),
            "live stream ended"
        );
    }
}

/// One client's live stream.
struct LiveStream {
    state: AppState,
    caller: Caller,
    /// The token the stream was opened with, and until when it is accepted.
    token: String,
    valid_until: DateTime<Utc>,
    /// Moves when any token is revoked: this one is then checked again.
    revocations: tokio::sync::watch::Receiver<u64>,
    /// The token is no longer accepted: the queue's last event says so, then the stream ends.
    ended: bool,
    unit: String,
    /// The unit's changes, read once for all its streams on this gateway.
    feed: std::sync::Arc<inbox::live::Feed>,
    /// Counts the stream in `samplan_live_streams` while it is open, and logs its end.
    open: Open,
    /// The last position whose changes were sent.
    last: i64,
    moves: tokio::sync::watch::Receiver<i64>,
    /// Reminders shown from this moment or before it are in what the client has (its lists read
    /// when the stream opened, or pushed since).
    reminders_after: DateTime<Utc>,
    /// When the next reminder is shown (ADR 0033), if any: `None` until looked up, and again
    /// once the unit moves.
    next_reminder: Option<Option<DateTime<Utc>>>,
    queue: VecDeque<Event>,
}

impl LiveStream {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.ended {
                return self.close("the sign-in ended");
            }
            match self.fetch().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    // The client reconnects and resumes from the last id it got.
                    tracing::warn!(error = %e, "live push failed; closing the stream");
                    return self.close("a read failed");
                }
            }
            if self.next_reminder.is_none() {
                match inbox::next_reminder(
                    self.state.store.pool(),
                    &self.unit,
                    &self.caller.sub,
                    self.reminders_after,
                )
                .await
                {
                    Ok(next) => self.next_reminder = Some(next),
                    Err(e) => {
                        tracing::warn!(error = %e, "live push failed; closing the stream");
                        return self.close("a read failed");
                    }
                }
            }
            // Wait until the unit moves past what was sent (or the server stops), or until a
            // reminder is shown: no event marks that moment (ADR 0033).
            let (clock, reminder) = (self.state.clock.clone(), self.next_reminder.flatten());
            let shown = async move {
                match reminder {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(shown);
            let (clock, until) = (self.state.clock.clone(), self.valid_until);
            let expired = async move { clock.sleep_until(until).await };
            tokio::pin!(expired);
            let (mut reminder_shown, mut expiry_passed) = (false, false);
            loop {
                if *self.moves.borrow_and_update() > self.last {
                    // Whatever moved the unit may owe a reminder, shown or not yet.
                    self.next_reminder = None;
                    break;
                }
                tokio::select! {
                    // The gateway stops (`Listener::run` ends): the stream ends at once, and
                    // the client resumes on another gateway.
                    changed = self.moves.changed() => if changed.is_err() {
                        return self.close("the gateway stops");
                    },
                    () = &mut shown => reminder_shown = true,
                    () = &mut expired, if !expiry_passed => expiry_passed = true,
                    revoked = self.revocations.changed() => if revoked.is_err() {
                        return self.close("the gateway stops");
                    },
                }
                if let Err(refused) = self.state.verifier.verify(&self.token) {
                    return self.end(refused);
                }
                if reminder_shown {
                    break;
                }
            }
            if reminder_shown {
                if let Err(e) = self.reminders().await {
                    tracing::warn!(error = %e, "live push failed; closing the stream");
                    return self.close("a read failed");
                }
            }
        }
    }

    /// Ends the stream, saying why in its log line.
    fn close(&mut self, why: &'static str) -> Option<Event> {
        self.open.ended_because = Some(why);
        None
    }

    /// The last event of a stream whose token is no longer accepted: `signed_out`, with the
    /// problem's code and words (`token_expired`, `token_revoked`). The client signs in again
    /// and resumes from the last id it got.
    fn end(&mut self, refused: AppError) -> Option<Event> {
        self.ended = true;
        let problem = refused.problem();
        Event::default()
            .event("signed_out")
            .json_data(serde_json::json!({ "code": problem.code, "detail": problem.detail }))
            .ok()
    }

    /// Queues the to-dos whose reminders were shown since the last look, as `todo` events
    /// without an id: they come with no position (a client that resumes gets those shown since
    /// the event it resumes after).
    async fn reminders(&mut self) -> Result<(), AppError> {
        let now = self.state.clock.now();
        let shown = inbox::reminders_shown(
            self.state.store.pool(),
            &self.unit,
            &self.caller.sub,
            self.reminders_after,
            now,
        )
        .await?;
        self.reminders_after = now;
        self.next_reminder = None;
        if shown.is_empty() {
            return Ok(());
        }
        let persons = persons_shown(shown.iter().map(|t| t.person.person_id.as_str()));
        access_log::record_many(&self.state, &self.caller, &persons, action::INBOX, None).await?;
        let urgent_until = self.state.policy.for_municipality(None).urgent_until(now);
        for todo in shown {
            let data = serde_json::to_value(TodoView::new(todo, urgent_until, now))
                .map_err(AppError::internal)?;
            self.queue.push_back(
                Event::default()
                    .event("todo")
                    .json_data(data)
                    .map_err(AppError::internal)?,
            );
        }
        Ok(())
    }

    /// Reads what changed after `last` into the queue; whether there was anything. The unit's
    /// feed answers for all its streams on this gateway with one read of the tables; a stream
    /// the feed has moved past reads for itself.
    async fn fetch(&mut self) -> Result<bool, AppError> {
        // Where the unit stood before the look: the inbox commits in position order, so the
        // look sees every change up to here. A change this caller may not see (a colleague's
        // marking read, a reminder not yet shown) moves the unit too; with nothing to send, the
        // stream has still caught up with it, and must not look again until the unit moves on.
        let known = *self.moves.borrow();
        let now = self.state.clock.now();
        let pool = self.state.store.pool();
        let taken = self
            .feed
            .since(pool, &self.caller.sub, self.last, known, PUSH_BATCH, now)
            .await?;
        let (changes, until) = match taken {
            Some(taken) => {
                if taken.read {
                    metrics::counter!("samplan_live_reads_total").increment(1);
                }
                (taken.changes, taken.until)
            }
            None => {
                metrics::counter!("samplan_live_reads_total").increment(1);
                let changes = inbox::changes_since(
                    pool,
                    &self.unit,
                    &self.caller.sub,
                    self.last,
                    PUSH_BATCH,
                    now,
                )
                .await?;
                let until = changes.last().map_or(known, |(position, _)| *position);
                (changes, until)
            }
        };
        if changes.is_empty() {
            self.last = self.last.max(until);
            return Ok(false);
        }
        let persons = persons_shown(changes.iter().filter_map(|(_, c)| match c {
            Change::Message { message } => Some(message.person.person_id.as_str()),
            Change::Todo { todo } => Some(todo.person.person_id.as_str()),
            Change::Ongoing { plan } => Some(plan.person.person_id.as_str()),
            Change::MessageRead { .. } => None,
        }));
        access_log::record_many(&self.state, &self.caller, &persons, action::INBOX, None).await?;
        let urgent_until = self.state.policy.for_municipality(None).urgent_until(now);
        let positions: Vec<i64> = changes.iter().map(|(p, _)| *p).collect();
        for (i, (position, change)) in changes.into_iter().enumerate() {
            let (name, data) = match change {
                Change::Message { message } => {
                    ("message", serde_json::to_value(MessageView::from(message)))
                }
                Change::MessageRead {
                    message_id,
                    read_at,
                    ..
                } => (
                    "message_read",
                    Ok(serde_json::json!({ "id": message_id, "read_at": read_at })),
                ),
                Change::Todo { todo } => (
                    "todo",
                    serde_json::to_value(TodoView::new(todo, urgent_until, now)),
                ),
                Change::Ongoing { plan } => {
                    ("ongoing", serde_json::to_value(OngoingView::new(plan, now)))
                }
            };
            let mut event = Event::default()
                .event(name)
                .json_data(data.map_err(AppError::internal)?)
                .map_err(AppError::internal)?;
            // The id says "everything up to here was sent": only on a position's last change.
            if positions.get(i + 1) != Some(&position) {
                event = event.id(position.to_string());
            }
            self.queue.push_back(event);
        }
        // Everything up to `until` was looked at; what of it this user may see is queued.
        self.last = self.last.max(until);
        Ok(true)
    }
}
