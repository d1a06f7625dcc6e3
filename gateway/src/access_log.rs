//! The access log: every read of a person's data, by whom, for which unit and when
//! (Patientdatalagen 4 kap. 3 §; the person may ask for an extract, a "loggutdrag").
//!
//! A read is answered only after its log rows are committed: [`record`] is awaited by the
//! handler and a failure to log fails the read, so no read of personal data goes unlogged. The
//! table holds ids only (the actor's HSA-id, the person's id), never names or personnummer, and
//! the database refuses to change or delete a row (see `migrations/0001_access_log.sql`).

use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use domain::ids::{PersonId, SipId};
use serde::Serialize;

/// Longest request id we keep; the request-id layer makes far shorter ones.
const REQUEST_ID_LEN_MAX: usize = 128;

/// What a read was for, as stored in `action`. The set may grow; a value is never renamed, since
/// extracts from years back must still read the same.
pub mod action {
    /// The person appeared in a "Sök patient" result.
    pub const SEARCH: &str = "person.search";
    /// The person's record (contact details, relatives) was read.
    pub const READ_PERSON: &str = "person.read";
    /// A plan about the person was read.
    pub const READ_SIP: &str = "sip.read";
}

/// One row of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccessLogEntry {
    /// Order of recording.
    pub id: i64,
    /// When the data was read.
    pub at: DateTime<Utc>,
    /// Who read it: the staff member's HSA-id (or the subject of another role).
    pub actor: String,
    /// The unit the reader acted for.
    pub unit: Option<String>,
    /// The reader's role.
    pub role: String,
    /// Whose data was read.
    pub person_id: String,
    /// What was read, e.g. `person.read`, `person.search`, `sip.read`.
    pub action: String,
    /// The plan that was read, when the read was of a plan.
    pub sip_id: Option<String>,
    /// The request that did the read, to connect the log with the service's own logs.
    pub request_id: Option<String>,
}

tokio::task_local! {
    /// The current request's id, set by [`with_request_id`] around a handler so that log rows
    /// can name the request without every handler passing it down.
    static REQUEST_ID: String;
}

/// Runs `f` with `request_id` as the request id recorded by [`record`] inside it.
pub async fn with_request_id<F: std::future::Future>(request_id: String, f: F) -> F::Output {
    REQUEST_ID.scope(request_id, f).await
}

fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.chars().take(REQUEST_ID_LEN_MAX).collect())
        .ok()
}

/// Records that `caller` read `person_id`'s data. Awaited before the data is sent: when this
/// fails, the read must fail too.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    person_id: &PersonId,
    action: &str,
    sip_id: Option<&SipId>,
) -> Result<(), AppError> {
    record_many(
        state,
        caller,
        std::slice::from_ref(person_id),
        action,
        sip_id,
    )
    .await
}

/// Records one read per person in one statement (a search result lists many persons).
pub async fn record_many(
    state: &AppState,
    caller: &Caller,
    person_ids: &[PersonId],
    action: &str,
    sip_id: Option<&SipId>,
) -> Result<(), AppError> {
    if person_ids.is_empty() {
        return Ok(());
    }
    let persons: Vec<String> = person_ids.iter().map(ToString::to_string).collect();
    let at = state.clock.now();
    let unit = caller.unit.as_ref().map(|u| u.as_str().to_string());
    let sip = sip_id.map(ToString::to_string);
    let request_id = current_request_id();
    let client = state
        .store
        .pool()
        .get()
        .await
        .map_err(|e| AppError::Unavailable(format!("access log: no connection: {e}")))?;
    client
        .execute(
            "INSERT INTO access_log (at, actor, unit, role, person_id, action, sip_id, request_id)
             SELECT $1, $2, $3, $4, p, $6, $7, $8 FROM unnest($5::text[]) WITH ORDINALITY AS u(p, o)
             ORDER BY o",
            &[
                &at,
                &caller.sub,
                &unit,
                &caller.role.as_str(),
                &persons,
                &action,
                &sip,
                &request_id,
            ],
        )
        .await
        .map_err(|e| AppError::internal(format!("access log: insert failed: {e}")))?;
    Ok(())
}

/// Every recorded read of `person_id`'s data, oldest first: the extract (loggutdrag).
pub async fn for_person(
    state: &AppState,
    person_id: &PersonId,
) -> Result<Vec<AccessLogEntry>, AppError> {
    let client = state
        .store
        .pool()
        .get()
        .await
        .map_err(|e| AppError::Unavailable(format!("access log: no connection: {e}")))?;
    let rows = client
        .query(
            "SELECT id, at, actor, unit, role, person_id, action, sip_id, request_id
               FROM access_log WHERE person_id = $1 ORDER BY at, id",
            &[&person_id.to_string()],
        )
        .await
        .map_err(|e| AppError::internal(format!("access log: read failed: {e}")))?;
    Ok(rows
        .iter()
        .map(|r| AccessLogEntry {
            id: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            unit: r.get(3),
            role: r.get(4),
            person_id: r.get(5),
            action: r.get(6),
            sip_id: r.get(7),
            request_id: r.get(8),
        })
        .collect())
}
