//! Read-your-writes for every read route: `?min_position=N` (a `position` from an earlier write's
//! answer) waits, at most `limits.wait_ms_max`, until what the route reads from has seen position
//! N; the answer's `X-Samplan-Position` header tells where it stood when the read was answered, so
//! a client can tell a read that caught up from one that gave up waiting. A position the store has
//! not committed is answered at once: no write here answered it (it came from another database,
//! or from nobody), so waiting would only hold the read before answering the same.

use crate::error::AppError;
use crate::state::AppState;
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Deserialize;
use std::time::Duration;
use utoipa::IntoParams;

/// The header telling where the read model (or the store) stood when a read was answered.
pub const POSITION_HEADER: &str = "x-samplan-position";

/// The query of a read that takes nothing but `min_position`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Wait (up to 5 s) until this global position has been applied, to read one's own write.
    pub min_position: Option<i64>,
}

/// A position is 0 or more: a negative one is refused (400 `invalid_parameter`) rather than
/// read as "no wait", which would hide a client's mistake.
fn checked(min_position: Option<i64>) -> Result<Option<i64>, AppError> {
    match min_position {
        Some(n) if n < 0 => Err(AppError::bad_request(
            "invalid_parameter",
            "min_position ska vara en position: 0 eller större.",
        )),
        other => Ok(other),
    }
}

/// Where the read model `projection` stands, after waiting (bounded) for `min_position`.
pub async fn projection_position(
    state: &AppState,
    projection: &str,
    min_position: Option<i64>,
) -> Result<i64, AppError> {
    let min_position = checked(min_position)?;
    let pool = state.store.pool();
    let at = projections::runner::checkpoint(pool, projection).await?;
    match min_position {
        Some(n) if n > at && written_here(state, n).await? => {
            Ok(
                projections::runner::wait_for(pool, projection, n, state.limits.wait_ms_max)
                    .await?,
            )
        }
        _ => Ok(at),
    }
}

/// Whether a write here can have answered `position`: the store has committed it. A larger one
/// came from another database (a restore, another deployment) or from nobody, and waiting for it
/// would only hold the read for `wait_ms_max` before answering the same.
async fn written_here(state: &AppState, position: i64) -> Result<bool, AppError> {
    Ok(position <= state.store.last_position().await?)
}

/// Where the store stands, settled (`EventStore::head_position`), for reads that must not see a
/// position while one below it may still commit (the audit routes). One settled head covers
/// `min_position`: a position a write answered was committed before this call, so it is at or
/// below the head, and one never written here is not waited for. The wait for writers of events
/// is bounded by `wait_ms_max`: a transaction left open that wrote events answers 503 (its
/// reason in the log), not the request's time limit.
pub async fn store_position(state: &AppState, min_position: Option<i64>) -> Result<i64, AppError> {
    checked(min_position)?;
    let wait = Duration::from_millis(state.limits.wait_ms_max);
    match tokio::time::timeout(wait, state.store.head_position()).await {
        Ok(head) => Ok(head?),
        Err(_) => Err(AppError::Unavailable(format!(
            "en transaktion som skriver händelser har varit öppen längre än {} ms; \
             försök igen om en stund",
            wait.as_millis()
        ))),
    }
}

/// Checks `min_position` for a read straight from the streams (a plan as the caller's unit sees
/// it): such a read sees every committed write, so there is nothing to wait for.
pub fn stream_read(min_position: Option<i64>) -> Result<(), AppError> {
    checked(min_position).map(|_| ())
}

/// What a read that found nothing answers, the read model being at `at`: `missing` (404), unless
/// the caller asked to see `min_position`, the store has reached it, and the read model had not
/// when the wait ended — then 503 `read_model_behind`: what was asked for may be written but not
/// readable here yet, and a 404 would be a definite answer the client has no reason to try
/// again. A position the store has never committed was written by nobody: 404 stands.
pub async fn not_found(
    state: &AppState,
    at: i64,
    min_position: Option<i64>,
    missing: AppError,
) -> AppError {
    match min_position {
        Some(wanted) if wanted > at => match state.store.last_position().await {
            Ok(last) if wanted <= last => AppError::Behind { at },
            Ok(_) => missing,
            Err(e) => e.into(),
        },
        _ => missing,
    }
}

/// Adds `X-Samplan-Position: position` to `response`.
pub fn with_position(mut response: Response, position: i64) -> Response {
    response
        .headers_mut()
        .insert(POSITION_HEADER, HeaderValue::from(position));
    response
}
