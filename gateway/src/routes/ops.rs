//! Operations endpoints, without authentication: `/healthz` (the process is up), `/readyz` (it
//! can serve: the database answers and no read model is further behind than
//! `SAMPLAN_READY_LAG_MS_MAX`) and `/metrics` (Prometheus text, with each projection's and the
//! relay's checkpoint, lag, lease holder and whether it stopped on an event, read from the
//! database so that any process shows all of them).

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long `/readyz` waits for the database before answering 503.
const READY_CHECK_MS_MAX: u64 = 2_000;

/// `/healthz`, `/readyz` and `/metrics`. A process that serves reads (`serves_reads`, the API) is
/// ready while its read models are current; one that only relays or projects is ready while its
/// database answers: its readiness must not follow the lag it exists to work off, or a standby
/// (and a new version rolled out to mend a stopped read model) would never become ready.
pub fn router(serves_reads: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    if serves_reads {
        router.route("/readyz", get(readyz))
    } else {
        router.route("/readyz", get(readyz_worker))
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Runners whose lag `/readyz` leaves to `/metrics`: staff and the person read neither, so their
/// falling behind — or stopping on an event (ADR 0036) — must not take every gateway out of the
/// load balancer.
const READINESS_IGNORES: [&str; 2] = [
    projections::relay::RELAY,
    projections::reporting::PROJECTION,
];

/// Ready when the database answers and every read model staff and the person read is within
/// `ready_lag_ms_max` of the store: a gateway whose reads would be stale is taken out of the load
/// balancer until they catch up. NATS, the relay and the reporting tables are deliberately not
/// checked ([`READINESS_IGNORES`]): while NATS is down, commands are still safely stored and read
/// models stay current (they follow the store, ADR 0014); the relay's and reporting's lag are on
/// `/metrics` to alert on.
async fn readyz(State(state): State<AppState>) -> Response {
    if let Some(stopping) = stopping(&state) {
        return stopping;
    }
    let lags = match read_lags(&state).await {
        Ok(lags) => lags,
        Err(unready) => return unready,
    };
    let behind = lags
        .iter()
        .filter(|l| !READINESS_IGNORES.contains(&l.name.as_str()))
        .find(|l| l.ms > i64::try_from(state.ready_lag_ms_max).unwrap_or(i64::MAX));
    if let Some(lag) = behind {
        if lag.stopped.is_none() && held_by_an_open_writer(&state, &lag.name, lag.position).await {
            // Every read model of every gateway waits for the same transaction: taking them all
            // out of the load balancer would stop the writes that still work, and mend nothing.
            // Said once a minute, not at every probe of every load balancer.
            if warn_now() {
                tracing::warn!(
                projection = %lag.name,
                position = lag.position,
                lag_ms = lag.ms,
                    "read models wait for a transaction writing events that has not ended \
                     (runbook: Every read model stands still while writes go on)"
                );
            }
            return format!(
                "ready; the read models wait at position {} for a transaction writing events \
                 that has not ended\n",
                lag.position
            )
            .into_response();
        }
    }
    match behind {
        // Which read model, how far behind and why, for the operator behind the load balancer
        // (the same figures are on /metrics); no personal data is in it.
        Some(lag) => unready(
            "read_model_behind",
            format!(
                "Läsmodellen {} ligger {} ms ({} händelser) efter händelselagret{}.",
                lag.name,
                lag.ms,
                lag.events,
                match &lag.stopped {
                    Some((since, error)) => format!(
                        "; den stannade {} på en händelse den inte kan tillämpa: {error}",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    None => String::new(),
                }
            ),
        ),
        None => "ready".into_response(),
    }
}

/// Whether a minute has passed since `/readyz` last warned of an open writer of events.
fn warn_now() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// How long `/readyz` lets the settled head take before it takes a read model's standstill for an
/// open writer's.
const OPEN_WRITER_CHECK_MS: u64 = 300;

/// Whether read model `projection`, standing at `position`, waits for a transaction that wrote
/// events and has not ended (an operator's `BEGIN` at a console, ADR 0045): a runner holds its
/// lease (it is alive to apply; a projector down is behind for real, whatever else is open), no
/// event follows right after the position (its drawer has not committed), and the store's
/// settled head does not come within [`OPEN_WRITER_CHECK_MS`].
async fn held_by_an_open_writer(state: &AppState, projection: &str, position: i64) -> bool {
    match projections::runner::lease_held(state.store.pool(), projection).await {
        Ok(true) => {}
        _ => return false,
    }
    let next = position + 1;
    match state.store.event_ids_at(&[next]).await {
        Ok(found) if found.is_empty() => {}
        _ => return false,
    }
    let settle = state.store.head_position();
    tokio::time::timeout(Duration::from_millis(OPEN_WRITER_CHECK_MS), settle)
        .await
        .is_err()
}

/// `/readyz` of a relay or projector process: ready while the database answers.
async fn readyz_worker(State(state): State<AppState>) -> Response {
    if let Some(stopping) = stopping(&state) {
        return stopping;
    }
    match read_lags(&state).await {
        Ok(_) => "ready".into_response(),
        Err(unready) => unready,
    }
}

/// The 503 of a process asked to stop (`SAMPLAN_SHUTDOWN_DELAY_MS`), if it was.
fn stopping(state: &AppState) -> Option<Response> {
    state
        .stopping
        .load(std::sync::atomic::Ordering::Acquire)
        .then(|| {
            unready(
                "service_unavailable",
                "Tjänsten stängs av; en annan instans tar över.".to_string(),
            )
        })
}

/// Every runner's lag, or the 503 that says the database did not answer in time.
async fn read_lags(state: &AppState) -> Result<Vec<projections::runner::Lag>, Response> {
    let check = projections::runner::lags(state.store.pool());
    match tokio::time::timeout(Duration::from_millis(READY_CHECK_MS_MAX), check).await {
        Ok(Ok(lags)) => Ok(lags),
        Ok(Err(e)) => {
            // Its address and the like stay in the log.
            tracing::debug!(error = %e, "not ready: the database");
            Err(unready(
                "service_unavailable",
                "Databasen svarar inte.".to_string(),
            ))
        }
        Err(_) => Err(unready(
            "service_unavailable",
            format!("Databasen svarade inte inom {READY_CHECK_MS_MAX} ms."),
        )),
    }
}

/// 503 with `code`, saying why. Not logged as an error at each probe: a load balancer asks every
/// few seconds, and the lag and the database's absence have their own metrics and alerts.
fn unready(code: &str, detail: String) -> Response {
    let mut response = crate::error::problem_response(&crate::error::Problem {
        kind: format!("urn:samplan:problem:{code}"),
        title: "Tjänsten är inte redo".into(),
        status: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
        detail,
        code: code.into(),
        current_version: None,
    });
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(crate::error::RETRY_AFTER_SECS),
    );
    response
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Group commit (ADR 0006): appends per grouped transaction is the ratio of the first two;
    // appends written outside it (group commit turned off) are counted apart.
    let grouped = state.store.group_commit_stats();
    metrics::counter!("samplan_group_commit_transactions_total").absolute(grouped.transactions);
    metrics::counter!("samplan_group_commit_appends_total").absolute(grouped.appends);
    metrics::counter!("samplan_direct_appends_total").absolute(grouped.direct);
    // Token signatures checked, and requests whose token had been verified before (ADR 0030).
    let (checked, remembered) = state.verifier.verification_counts();
    metrics::counter!("samplan_token_signature_checks_total").absolute(checked);
    metrics::counter!("samplan_token_verified_hits_total").absolute(remembered);
    // Whether the process's NATS connection is up (a gateway's doorbell, a relay's stream).
    if let Some(connected) = projections::nats_connected() {
        metrics::gauge!("samplan_nats_connected").set(if connected { 1.0 } else { 0.0 });
    }
    // A relay process's events: published, found on the stream already at a start, and starts
    // that found the stream without events it had published (ERROR logged; sent again).
    let (published, already, behind) = projections::relay::counts();
    if published + already + behind > 0 {
        metrics::counter!("samplan_relay_published_total").absolute(published);
        metrics::counter!("samplan_relay_already_on_stream_total").absolute(already);
        metrics::counter!("samplan_relay_stream_behind_total").absolute(behind);
    }
    // Each projection's and the relay's position and lag, as the database has them.
    // Whether the gauges below were read in this scrape: while the database cannot be asked they
    // keep the values of the last scrape that could (a lag of 0 from before an outage is not "no
    // lag"), and this says so.
    let lags_read = metrics::gauge!("samplan_projection_lags_read");
    // Bounded as readiness is: a hung database must not make /metrics itself fail (a scrape
    // that times out loses every series, this one among them, just when it matters).
    let lags = tokio::time::timeout(
        std::time::Duration::from_millis(READY_CHECK_MS_MAX),
        projections::runner::lags(state.store.pool()),
    )
    .await
    .map_err(|_| format!("the database did not answer within {READY_CHECK_MS_MAX} ms"))
    .and_then(|read| read.map_err(|e| e.to_string()));
    match lags {
        Ok(lags) => {
            lags_read.set(1.0);
            for lag in lags {
                let name = lag.name.clone();
                metrics::gauge!("samplan_projection_checkpoint", "projection" => name.clone())
                    .set(lag.position as f64);
                metrics::gauge!("samplan_projection_lag_events", "projection" => name.clone())
                    .set(lag.events as f64);
                metrics::gauge!("samplan_projection_lag_ms", "projection" => name.clone())
                    .set(lag.ms as f64);
                // 1 while the read model is stopped on an event it cannot apply (ADR 0036).
                metrics::gauge!("samplan_projection_stopped", "projection" => name.clone())
                    .set(if lag.stopped.is_some() { 1.0 } else { 0.0 });
                show_holder(name, lag.holder);
            }
        }
        Err(e) => {
            lags_read.set(0.0);
            tracing::warn!(error = %e, "projection lags not read for /metrics");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The process that holds each lease, as this process last showed it on `/metrics`.
static HOLDERS_SHOWN: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// `samplan_projection_lease_holder{projection, holder} 1` for the process (`host:pid`) that last
/// took `projection`'s lease; the one shown before it, if another, drops to 0, so a query for
/// `== 1` names exactly one holder per lease.
fn show_holder(projection: String, holder: Option<String>) {
    let Some(holder) = holder else { return };
    let mut shown = HOLDERS_SHOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(before) = shown.insert(projection.clone(), holder.clone()) {
        if before != holder {
            metrics::gauge!("samplan_projection_lease_holder",
                "projection" => projection.clone(), "holder" => before)
            .set(0.0);
        }
    }
    metrics::gauge!("samplan_projection_lease_holder", "projection" => projection, "holder" => holder)
        .set(1.0);
}
