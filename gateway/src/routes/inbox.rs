//! `/inbox`: the unit's messages (Meddelanden). This module holds the one inbox write, marking a
//! message read for the caller (`crate::commands::inbox`).

use crate::auth::Caller;
use crate::commands::inbox::{self as command, MarkMessageReadRequest};
use crate::error::{AppError, Problem};
use crate::extract::Command;
use crate::pipeline::{Write, WriteResponse};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use utoipa::OpenApi;

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/inbox/messages/{id}/read", post(mark_message_read))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(paths(mark_message_read), components(schemas(MarkMessageReadRequest)))]
pub struct ApiDoc;

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
        (status = 400, description = "Malformed body or header", body = Problem),
        (status = 422, description = "`invalid_id`: not a message id; `invalid_characters`", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn mark_message_read(
    State(state): State<AppState>,
    caller: Caller,
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
