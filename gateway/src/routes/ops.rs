//! Operations endpoints, without authentication: `/healthz` (the process is up), `/readyz` (it
//! can serve: the database answers) and `/metrics` (Prometheus text).

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::time::Duration;

/// How long `/readyz` waits for the database before answering 503.
const READY_CHECK_MS_MAX: u64 = 2_000;

/// `/healthz`, `/readyz` and `/metrics`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when a pooled connection answers a query. NATS is deliberately not checked: while it
/// is down, commands are still safely stored and read models catch up later (DESIGN.md).
async fn readyz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    let check = async {
        let client = state.store.pool().get().await.map_err(|e| e.to_string())?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    };
    match tokio::time::timeout(Duration::from_millis(READY_CHECK_MS_MAX), check).await {
        Ok(Ok(())) => Ok("ready"),
        Ok(Err(e)) => Err(AppError::Unavailable(format!("readiness: database: {e}"))),
        Err(_) => Err(AppError::Unavailable(format!(
            "readiness: database did not answer within {READY_CHECK_MS_MAX} ms"
        ))),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Group commit (ADR 0006): appends per grouped transaction is the ratio of the first two;
    // appends written outside it (group commit turned off) are counted apart.
    let grouped = state.store.group_commit_stats();
    metrics::counter!("samplan_group_commit_transactions_total").absolute(grouped.transactions);
    metrics::counter!("samplan_group_commit_appends_total").absolute(grouped.appends);
    metrics::counter!("samplan_direct_appends_total").absolute(grouped.direct);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
