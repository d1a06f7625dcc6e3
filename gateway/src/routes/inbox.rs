//! `/inbox`: the unit's messages (Meddelanden). This module holds the one inbox write, marking a
//! message read for the caller, which appends `MessageRead` to the stream `inbox-<caller's unit>`.
//! Marking a message read twice records nothing the second time.

use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::pipeline::{self, Command, InboxAggregate, WriteResponse};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use domain::ids::StaffId;
use domain::inbox::{self, InboxCommand};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/inbox/messages/{id}/read", post(mark_message_read))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(paths(mark_message_read), components(schemas(MarkMessageReadRequest)))]
pub struct ApiDoc;

/// `POST /inbox/messages/{id}/read`: no fields (an empty body is accepted).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkMessageReadRequest {}

/// Mark a message of the caller's unit as read by the caller.
#[utoipa::path(
    post,
    path = "/api/v1/inbox/messages/{id}/read",
    tag = "inbox",
    params(
        ("id" = String, Path, description = "The message id, as listed by GET /inbox/messages"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 64 characters"),
    ),
    request_body(content = Option<MarkMessageReadRequest>, description = "Empty"),
    responses(
        (status = 200, description = "Marked read (`events` is empty if it already was); `id` is the message id", body = WriteResponse),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not staff", body = Problem),
        (status = 422, description = "`invalid_id`: not a message id", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn mark_message_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(message_id): Path<String>,
    command: Command<MarkMessageReadRequest>,
) -> Result<Json<WriteResponse>, AppError> {
    let unit = caller.staff_unit()?.clone();
    let user = StaffId::parse(&caller.sub)?;
    let cmd = InboxCommand::MarkMessageRead {
        message_id: message_id.clone(),
        user,
    };
    let response = pipeline::execute::<InboxAggregate>(
        &state,
        &caller,
        &command.meta,
        &unit.inbox_stream_id(),
        message_id.trim(),
        |current, ctx| inbox::decide(current, &cmd, ctx),
    )
    .await?;
    Ok(Json(response))
}
