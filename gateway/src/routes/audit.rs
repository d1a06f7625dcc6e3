//! `/audit`: what auditors need (role `auditor` only; staff get 403).
//!
//! - `GET /audit/events`: raw events in commit order with their hash and their predecessor's,
//!   paged, to replay history and check links by hand;
//! - `GET /audit/sips/{id}?as_of=`: a plan as it stood at that moment, folded from the store with
//!   the domain's `evolve`, and its history in Swedish words (who, which unit, which role, when,
//!   what);
//! - `POST /audit/verify`: every hash chain checked, each broken link named;
//! - `GET /audit/access-log`: the extract (loggutdrag) of who read a person's data, JSON or CSV;
//! - `GET /audit/access-review`: the systematic review of reads without a care relation and of
//!   unusual read volumes.
//!
//! Auditors read personal data too, so their reads are in the access log like anyone's.

use crate::access_log::{self, action, AccessLogEntry, Review};
use crate::aggregate::{self, SipAggregate};
use crate::auth::Caller;
use crate::consistency;
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, Auditor, Command};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, Utc};
use domain::ids::{PersonId, SipId};
use domain::sip::{history, SipEvent};
use eventstore::{BrokenReason, Metadata, RecordedEvent, SealProblem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Most events one page of `/audit/events` answers.
pub const EVENTS_PAGE_MAX: i64 = 1_000;

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit/events", get(events))
        .route("/audit/sips/{id}", get(sip_as_of))
        .route("/audit/verify", post(verify))
        .route("/audit/access-log", get(access_log_extract))
        .route("/audit/access-review", get(access_review))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(
    paths(events, sip_as_of, verify, access_log_extract, access_review),
    components(schemas(
        AuditEvents,
        AuditEvent,
        AuditSip,
        HistoryEntry,
        VerifyAnswer,
        BrokenLinkView,
        AccessLogExtract,
        AccessLogEntry,
        VerifyRequest,
        Review,
        access_log::UnrelatedRead,
        access_log::HeavyReader
    )),
    tags((name = "audit", description = "Auditors: raw events, a plan as it stood, hash chains, the access log and its review"))
)]
pub struct ApiDoc;

/// The query of `GET /audit/events`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// Only this stream, e.g. `sip-01…`.
    pub stream: Option<String>,
    /// The first global position to answer (default 1).
    pub from_position: Option<i64>,
    /// Events per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Wait (up to 5 s) until the store has reached this position, to read one's own write.
    pub min_position: Option<i64>,
}

/// One stored event as it is, with its place in its stream's hash chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    pub global_position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: i32,
    pub recorded_at: DateTime<Utc>,
    /// The event's data as stored.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// actor, unit, role, command_id, correlation_id, causation_id.
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// This event's hash (hex SHA-256 over its canonical bytes and its predecessor's hash).
    pub hash: String,
    /// The hash of the stream's previous event; none for a stream's first event.
    pub previous_hash: Option<String>,
}

/// A page of events in commit order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvents {
    pub events: Vec<AuditEvent>,
    /// Where the next page starts; none when this page reached the end.
    pub next_from_position: Option<i64>,
}

/// Raw events in commit order with their hashes, paged (auditor).
#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    operation_id = "audit_events",
    tag = "audit",
    params(EventsParams),
    responses(
        (status = 200, description = "A page of events; header X-Samplan-Position", body = AuditEvents),
        (status = 400, description = "`invalid_parameter`, `unknown_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not an auditor", body = Problem),
        (status = 422, description = "`invalid_characters`", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<Response, AppError> {
    let head = consistency::store_position(&state, params.min_position).await?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=EVENTS_PAGE_MAX).contains(&limit) {
        return Err(AppError::bad_request(
            "invalid_parameter",
            format!("limit ska vara 1–{EVENTS_PAGE_MAX}."),
        ));
    }
    let from = match params.from_position {
        Some(p) if p < 0 => {
            return Err(AppError::bad_request(
                "invalid_parameter",
                "from_position ska vara en position: 0 eller större.",
            ))
        }
        p => p.unwrap_or(1).max(1),
    };
    let stream = params
        .stream
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    // One more than asked, to know whether a next page exists.
    let mut recorded = state
        .store
        .read_all_filtered(stream, from - 1, (limit + 1) as usize)
        .await?;
    let next_from_position = (recorded.len() as i64 > limit)
        .then(|| recorded.pop().map(|e| e.global_position))
        .flatten();
    let links: Vec<(String, i64)> = recorded
        .iter()
        .filter(|e| e.stream_version > 1)
        .map(|e| (e.stream_id.clone(), e.stream_version - 1))
        .collect();
    let previous = state.store.hashes(&links).await?;
    log_persons_of(&state, &caller, &recorded).await?;
    let events = recorded
        .into_iter()
        .map(|e| {
            let previous_hash = previous
                .get(&(e.stream_id.clone(), e.stream_version - 1))
                .cloned();
            let data = e.data_as::<serde_json::Value>().unwrap_or_default();
            AuditEvent {
                global_position: e.global_position,
                event_id: e.event_id.to_string(),
                event_type: e.event_type,
                schema_version: e.schema_version,
                recorded_at: e.recorded_at,
                stream_version: e.stream_version,
                stream_id: e.stream_id,
                data,
                metadata: e.metadata,
                hash: e.hash,
                previous_hash,
            }
        })
        .collect();
    Ok(consistency::with_position(
        Json(AuditEvents {
            events,
            next_from_position,
        })
        .into_response(),
        head,
    ))
}

/// Logs a read of every person whose data is among `events`: person streams, and the persons
/// of plans (from the participation read model, or the plan's first event).
async fn log_persons_of(
    state: &AppState,
    caller: &Caller,
    events: &[RecordedEvent],
) -> Result<(), AppError> {
    let mut persons: Vec<PersonId> = Vec::new();
    let mut plans: Vec<String> = Vec::new();
    for e in events {
        if let Some(id) = e.stream_id.strip_prefix("person-") {
            if let Ok(p) = PersonId::parse(id) {
                persons.push(p);
            }
        } else if let Some(id) = e.stream_id.strip_prefix("sip-") {
            plans.push(id.to_owned());
        }
    }
    plans.sort();
    plans.dedup();
    for sip in plans {
        if let Some(person) = person_of_plan(state, &sip).await? {
            persons.push(person);
        }
    }
    persons.sort();
    persons.dedup();
    access_log::record_many(state, caller, &persons, action::AUDIT_EVENTS, None).await
}

async fn person_of_plan(state: &AppState, sip: &str) -> Result<Option<PersonId>, AppError> {
    let client = state
        .store
        .pool()
        .get()
        .await
        .map_err(|e| AppError::Unavailable(format!("participation: {e}")))?;
    let row = client
        .query_opt(
            "SELECT person_id FROM participation.plans WHERE sip_id = $1",
            &[&sip],
        )
        .await
        .map_err(|e| AppError::internal(format!("participation: {e}")))?;
    if let Some(row) = row {
        return Ok(PersonId::parse(row.get::<_, &str>(0)).ok());
    }
    // Not projected yet: the plan's own first event names the person.
    let first = state.store.read_stream(&format!("sip-{sip}"), 1).await?;
    Ok(first.first().and_then(|e| {
        e.data_as::<serde_json::Value>().ok().and_then(|d| {
            d["person_id"]
                .as_str()
                .and_then(|p| PersonId::parse(p).ok())
        })
    }))
}

/// The query of `GET /audit/sips/{id}`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfParams {
    /// The moment to show the plan at (RFC 3339), compared with the time the store recorded each
    /// event (`recorded_at` of `/audit/events`); a day (`YYYY-MM-DD`) at its end; now when left
    /// out.
    #[serde(default, deserialize_with = "crate::moments::at_opt")]
    pub as_of: Option<DateTime<Utc>>,
    /// Wait (up to 5 s) until the store has reached this position, to read one's own write.
    pub min_position: Option<i64>,
}

/// One step of a plan's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub global_position: i64,
    pub stream_version: i64,
    /// When it happened, by the service's clock when the command was decided.
    pub at: DateTime<Utc>,
    /// When the store committed it (its own clock, as `/audit/events` shows): what `as_of` is
    /// compared with, so `as_of` set to this time includes the event.
    pub stored_at: DateTime<Utc>,
    /// Who: the staff member's HSA-id and name.
    pub actor: String,
    pub actor_name: String,
    /// For which unit.
    pub unit: String,
    /// In which role.
    pub role: String,
    /// The event, e.g. `ConsentGiven`.
    pub event_type: String,
    /// What happened, in Swedish.
    pub what: String,
}

/// A plan as it stood at a moment, and its history up to then.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditSip {
    pub sip_id: String,
    /// The moment asked for (compared with each event's `recorded_at` in the store); none: now.
    pub as_of: Option<DateTime<Utc>>,
    /// The plan's version at that moment.
    pub version: i64,
    /// Where the plan stood (e.g. `meeting_held`).
    pub phase: String,
    /// The whole plan as folded from its events up to `as_of`, drafts included.
    #[schema(value_type = Object)]
    pub plan: serde_json::Value,
    pub history: Vec<HistoryEntry>,
}

/// "6 december 2026 kl. 18.30", on the Swedish clock.
fn swedish_moment(at: DateTime<Utc>) -> String {
    format!(
        "{} {}",
        domain::time::written_date(domain::time::local_date(at)),
        domain::time::written_clock(at)
    )
}

/// A plan as it stood at `as_of`, with its history in Swedish (auditor).
#[utoipa::path(
    get,
    path = "/api/v1/audit/sips/{id}",
    tag = "audit",
    params(("id" = String, Path, description = "The plan's id (ULID)"), AsOfParams),
    responses(
        (status = 200, description = "The plan as it stood, and its history; header X-Samplan-Position", body = AuditSip),
        (status = 400, description = "`invalid_parameter` (as_of is not an RFC 3339 time)", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not an auditor", body = Problem),
        (status = 404, description = "No such plan, or none yet at that time (then the detail says from when it is there, on the store's clock)", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn sip_as_of(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<AsOfParams>,
) -> Result<Response, AppError> {
    storable("as_of", params.as_of)?;
    let sip_id = SipId::parse(&id).map_err(|_| AppError::NotFoundFor(caller.role))?;
    let head = consistency::store_position(&state, params.min_position).await?;
    let found = plan_as_of(&state, &caller, &sip_id, params.as_of).await?;
    Ok(consistency::with_position(
        Json(found.sip).into_response(),
        head.max(found.position),
    ))
}

/// A plan as it stood at a moment, as [`plan_as_of`] found it.
#[derive(Debug, Clone)]
pub struct PlanAsOf {
    /// What `GET /audit/sips/{id}` answers.
    pub sip: AuditSip,
    /// The position of the plan's last event then.
    pub position: i64,
    pub phase: domain::sip::SipPhase,
    /// Whose plan it is.
    pub person_id: PersonId,
    /// The plan folded, drafts and all, for a page to show as a unit saw it.
    pub state: domain::sip::SipState,
}

/// The plan `sip_id` as it stood at `as_of` (now when `None`), folded from its events with the
/// domain's `evolve`, with its history in Swedish; the read is logged. 404 for no such plan, or
/// none yet at `as_of` (then saying from when it is there). `GET /audit/sips/{id}` and the
/// auditor's page alike.
pub async fn plan_as_of(
    state: &AppState,
    caller: &Caller,
    sip_id: &SipId,
    as_of: Option<DateTime<Utc>>,
) -> Result<PlanAsOf, AppError> {
    // `as_of` is compared with the time the store recorded each event (its own clock, the one
    // `/audit/events` shows); without it, the plan as it stands.
    let recorded = match as_of {
        Some(as_of) => {
            state
                .store
                .read_stream_as_of(&sip_id.stream_id(), as_of)
                .await?
        }
        None => state.store.read_stream(&sip_id.stream_id(), 1).await?,
    };
    let folded = aggregate::fold::<SipAggregate>(&recorded)?;
    let Some(person_id) = folded.state.person_id() else {
        // A plan recorded only after `as_of`: say from when it is there, on the store's clock
        // (a history may tell of earlier days, as a plan entered afterwards does).
        if let Some(as_of) = as_of {
            if let Some(first) = state
                .store
                .read_stream(&sip_id.stream_id(), 1)
                .await?
                .first()
            {
                return Err(AppError::NotFoundBecause(format!(
                    "Planen fanns inte i samplan vid {}: den registrerades {} (tidpunkten jämförs med när händelserna registrerades i samplan). Ange en senare tidpunkt.",
                    swedish_moment(as_of),
                    swedish_moment(first.recorded_at)
                )));
            }
        }
        return Err(AppError::NotFoundFor(caller.role));
    };
    access_log::record(
        state,
        caller,
        &person_id,
        action::AUDIT_PLAN_AS_OF,
        Some(sip_id),
    )
    .await?;
    let mut history = Vec::with_capacity(recorded.len());
    for e in &recorded {
        let event: SipEvent = <SipAggregate as aggregate::Aggregate>::decode(e)?;
        let (by, at) = event.recorded();
        history.push(HistoryEntry {
            global_position: e.global_position,
            stream_version: e.stream_version,
            at,
            stored_at: e.recorded_at,
            actor: by.staff_id.as_str().to_owned(),
            actor_name: by.name.clone(),
            unit: by.unit_id.as_str().to_owned(),
            role: e.metadata.role.clone(),
            event_type: e.event_type.clone(),
            what: history::describe(&event),
        });
    }
    let phase = folded.state.phase();
    let sip = AuditSip {
        sip_id: sip_id.to_string(),
        as_of,
        version: folded.version,
        phase: serde_json::to_value(phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        plan: serde_json::to_value(&folded.state).map_err(AppError::internal)?,
        history,
    };
    Ok(PlanAsOf {
        sip,
        position: folded.position,
        phase,
        person_id,
        state: folded.state,
    })
}

/// The body of `POST /audit/verify`: `{}` (or none), or the seal an earlier check answered and
/// the auditor kept outside the database, to hold the seals to. Unknown fields are refused (400).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[serde(default)]
    pub expect: Option<KeptSealRequest>,
}

/// A seal as an earlier check answered it (`latest_seal`): its number and digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptSealRequest {
    pub seal_no: i64,
    pub digest: String,
}

/// An object with one optional property, `expect`, and none other allowed.
impl utoipa::PartialSchema for VerifyRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        let closed =
            || Some(AdditionalProperties::<utoipa::openapi::schema::Schema>::FreeForm(false));
        let kept = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "seal_no",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .description(Some("The seal's number")),
            )
            .property(
                "digest",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9a-fA-F]{64}$"))
                    .description(Some("Its digest, SHA-256 in hex, as the check printed it")),
            )
            .required("seal_no")
            .required("digest")
            .additional_properties(closed())
            .description(Some(
                "A seal an earlier check answered (`latest_seal`), kept outside the database: \
                 the check recomputes it from the events and says whether its digest is this one",
            ));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("expect", kept)
            .additional_properties(closed())
            .description(Some("`{}`, or the seal kept outside the database"))
            .into()
    }
}

impl utoipa::ToSchema for VerifyRequest {}

/// A broken link of a hash chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokenLinkView {
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: String,
    /// `hash_mismatch` or `version_gap`.
    pub reason: String,
    /// What it means, in Swedish.
    pub explanation: String,
}

/// A seal over the whole log (ADR 0040): the events after `after_position` up to
/// `up_to_position`, how many, and the digest of their hashes chained to the previous seal's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SealView {
    pub seal_no: i64,
    pub after_position: i64,
    pub up_to_position: i64,
    pub events: i64,
    /// SHA-256, lower-case hex: what an auditor keeps outside the database.
    pub digest: String,
}

impl From<eventstore::Seal> for SealView {
    fn from(s: eventstore::Seal) -> Self {
        SealView {
            seal_no: s.seal_no,
            after_position: s.after_position,
            up_to_position: s.up_to_position,
            events: s.events,
            digest: s.digest,
        }
    }
}

/// A seal that does not hold.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokenSealView {
    pub seal: SealView,
    /// How many events its positions hold now.
    pub events_now: i64,
    /// `changed` (its positions no longer hold the events it sealed), `not_contiguous` (it does
    /// not follow the seal before it) or `not_as_kept` (its digest, recomputed from the events,
    /// is not the one given in `expect`, or the seal is gone).
    pub reason: String,
    /// What it means, in Swedish.
    pub explanation: String,
}

impl From<eventstore::BrokenSeal> for BrokenSealView {
    fn from(b: eventstore::BrokenSeal) -> Self {
        let (first, last) = (b.seal.after_position + 1, b.seal.up_to_position);
        let (reason, explanation) = match b.problem {
            SealProblem::Changed => (
                "changed",
                format!(
                    "Positionerna {first}–{last} höll {} händelser när de förseglades och håller {} \
                     nu{}: en händelse har tagits bort, ändrats eller lagts till i efterhand.",
                    b.seal.events,
                    b.events_now,
                    if b.events_now == b.seal.events {
                        ", men deras hashar har ändrats"
                    } else {
                        ""
                    }
                ),
            ),
            SealProblem::NotContiguous => (
                "not_contiguous",
                format!(
                    "Försegling {} följer inte på den före: en försegling har tagits bort, eller \
                     positioner har lämnats utanför.",
                    b.seal.seal_no
                ),
            ),
            SealProblem::NotAsKept => (
                "not_as_kept",
                format!(
                    "Försegling {} har, räknad från händelserna, inte den kontrollsumma som \
                     sparades utanför databasen (eller finns inte): händelserna fram till den, \
                     eller förseglingarna, har skrivits om, eller en äldre säkerhetskopia har \
                     lästs tillbaka.",
                    b.seal.seal_no
                ),
            ),
        };
        BrokenSealView {
            seal: b.seal.into(),
            events_now: b.events_now,
            reason: reason.into(),
            explanation,
        }
    }
}

/// What `POST /audit/verify` found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyAnswer {
    /// True when every chain and every seal is whole, and nothing lies before position 1.
    pub intact: bool,
    pub streams_checked: i64,
    pub events_checked: i64,
    /// Events at positions below 1, which the store never draws: slipped in.
    pub events_before_the_first_position: i64,
    /// The first broken link of every damaged stream.
    pub broken: Vec<BrokenLinkView>,
    /// Seals recomputed: every seal made so far.
    pub seals_checked: i64,
    /// Seals whose positions no longer hold the events they sealed: an event removed (also the
    /// newest of a stream, or a whole stream), changed or slipped in since.
    pub broken_seals: Vec<BrokenSealView>,
    /// The seal this check made over the events since the last one (made only when everything
    /// held), if there were any.
    pub sealed: Option<SealView>,
    /// The newest seal, made now or before: keep its digest outside the database, and a seal
    /// rewritten inside it shows.
    pub latest_seal: Option<SealView>,
}

/// Checks every stream's hash chain (auditor).
#[utoipa::path(
    post,
    path = "/api/v1/audit/verify",
    tag = "audit",
    request_body(content = VerifyRequest, description = "`{}` or no body at all; or `{\"expect\": {\"seal_no\": …, \"digest\": …}}`, a seal an earlier check answered, kept outside the database"),
    responses(
        (status = 200, description = "What the check found; `intact` false names each broken link and seal. When everything holds, the check seals the events since the last seal (`sealed`)", body = VerifyAnswer),
        (status = 400, description = "Malformed JSON or an unknown field", body = Problem),
        (status = 422, description = "`invalid_seal`: `expect` is not a seal number and 64 hex digits", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not an auditor", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    _caller: Auditor,
    command: Command<VerifyRequest>,
) -> Result<Json<VerifyAnswer>, AppError> {
    let kept = match command.body.expect {
        Some(k) => Some(kept_seal(k.seal_no, &k.digest)?),
        None => None,
    };
    Ok(Json(verify_answer(&state, kept.as_ref()).await?))
}

/// Checks every hash chain and seal (held to `kept`, a seal kept outside the database), and
/// seals what is new when everything holds: `POST /audit/verify` and the auditor's page alike.
pub async fn verify_answer(
    state: &AppState,
    kept: Option<&eventstore::KeptSeal>,
) -> Result<VerifyAnswer, AppError> {
    // A transaction writing events that stays open would hold the sealing: refused (503) after
    // `wait_ms_max` here rather than at the request's time limit with a connection held.
    consistency::store_position(state, None).await?;
    let report = state.store.verify_against(kept).await?;
    Ok(VerifyAnswer {
        intact: report.is_intact(),
        streams_checked: report.streams_checked,
        events_checked: report.events_checked,
        seals_checked: report.seals_checked,
        events_before_the_first_position: report.events_before_the_first_position,
        broken_seals: report
            .broken_seals
            .into_iter()
            .map(BrokenSealView::from)
            .collect(),
        sealed: report.sealed.map(SealView::from),
        latest_seal: report.latest_seal.map(SealView::from),
        broken: report
            .broken
            .into_iter()
            .map(|b| {
                let (reason, explanation) = match b.reason {
                    BrokenReason::HashMismatch => (
                        "hash_mismatch",
                        "Händelsens hash stämmer inte med dess innehåll och föregående länk: \
                         händelsen eller en tidigare har ändrats.",
                    ),
                    BrokenReason::VersionGap => (
                        "version_gap",
                        "En version saknas före händelsen: en händelse har tagits bort.",
                    ),
                };
                BrokenLinkView {
                    stream_id: b.stream_id,
                    stream_version: b.stream_version,
                    event_id: b.event_id,
                    reason: reason.into(),
                    explanation: explanation.into(),
                }
            })
            .collect(),
    })
}

/// A seal kept outside the database, as an auditor gives it: a number from 1 and 64 hex digits
/// (422 `invalid_seal` otherwise).
pub fn kept_seal(seal_no: i64, digest: &str) -> Result<eventstore::KeptSeal, AppError> {
    let digest = digest.trim();
    if seal_no < 1 || digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::Unprocessable {
            code: "invalid_seal",
            detail: "En sparad försegling anges med sitt nummer (från 1) och sin kontrollsumma: \
                     64 hexadecimala tecken, som kontrollen skrev ut dem."
                .into(),
        });
    }
    Ok(eventstore::KeptSeal {
        seal_no,
        digest: digest.to_ascii_lowercase(),
    })
}

/// The query of `GET /audit/access-log`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExtractParams {
    /// Whose reads (the person's id).
    #[param(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub person_id: String,
    /// From this moment (RFC 3339), inclusive; a day (`YYYY-MM-DD`) from its first instant.
    #[serde(default, deserialize_with = "crate::moments::start_opt")]
    pub from: Option<DateTime<Utc>>,
    /// Until this moment, exclusive; a day (`YYYY-MM-DD`) includes all of it.
    #[serde(default, deserialize_with = "crate::moments::end_opt")]
    pub to: Option<DateTime<Utc>>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// Wait (up to 5 s) until the store has reached this position, to read one's own write. The
    /// access log itself is written before every read is answered, so it never lags.
    pub min_position: Option<i64>,
}

/// The extract: who read a person's data, when, from which unit and care provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessLogExtract {
    pub person_id: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub entries: Vec<AccessLogEntry>,
}

/// The access-log extract (loggutdrag) for a person, JSON or CSV (auditor).
#[utoipa::path(
    get,
    path = "/api/v1/audit/access-log",
    tag = "audit",
    params(ExtractParams),
    responses(
        (status = 200, description = "The extract; with format=csv a CSV file (UTF-8, semicolons). Header X-Samplan-Position (the store's)",
            content((AccessLogExtract = "application/json"), (String = "text/csv")),
            headers(("X-Samplan-Position" = i64, description = "The store's position when the extract was read"))),
        (status = 400, description = "`invalid_parameter`, `missing_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not an auditor", body = Problem),
        (status = 404, description = "Not a person id, or the id of no person", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn access_log_extract(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    ApiQuery(params): ApiQuery<ExtractParams>,
) -> Result<Response, AppError> {
    storable("from", params.from)?;
    storable("to", params.to)?;
    if let (Some(from), Some(to)) = (params.from, params.to) {
        if to <= from {
            return Err(AppError::bad_request(
                "invalid_parameter",
                "to ska vara senare än from.",
            ));
        }
    }
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_parameter",
                "format ska vara json eller csv.",
            ))
        }
    };
    if params.person_id.trim().is_empty() {
        return Err(AppError::bad_request(
            "missing_parameter",
            "person_id saknas: ange id för den person utdraget gäller.",
        ));
    }
    let person_id =
        PersonId::parse(&params.person_id).map_err(|_| AppError::NotFoundFor(caller.role))?;
    // Like /audit/events: the store's position, after waiting for `min_position`; the log rows
    // of every read answered by then are in.
    let position = consistency::store_position(&state, params.min_position).await?;
    let entries = extract_for(&state, &caller, &person_id, params.from, params.to).await?;
    if csv {
        return Ok(consistency::with_position(
            extract_file(&person_id.to_string(), &entries),
            position,
        ));
    }
    Ok(consistency::with_position(
        Json(AccessLogExtract {
            person_id: person_id.to_string(),
            from: params.from,
            to: params.to,
            entries,
        })
        .into_response(),
        position,
    ))
}

/// The extract (loggutdrag) of who read `person_id`'s data in `[from, to)`, oldest first; the
/// taking of it logged. 404 for an id of nobody: a mistyped id would otherwise read as "nobody
/// has read this person's data", and could be handed to the person as such.
pub async fn extract_for(
    state: &AppState,
    caller: &Caller,
    person_id: &PersonId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<AccessLogEntry>, AppError> {
    if state.store.stream_version(&person_id.stream_id()).await? == 0 {
        return Err(AppError::NotFoundFor(caller.role));
    }
    let entries = access_log::extract(state, person_id, from, to).await?;
    // Taking the extract reads who read the person: logged too (after the extract, so it does
    // not list itself).
    access_log::record(state, caller, person_id, action::AUDIT_EXTRACT, None).await?;
    Ok(entries)
}

/// The extract as a CSV file (UTF-8, `;`, CRLF), for the person as much as for the auditor:
/// Swedish time, the unit's name, the role and the action in words; the codes after them for
/// whoever follows a row further.
pub fn extract_csv(entries: &[AccessLogEntry]) -> String {
    let mut body = String::from(
        "tid (svensk tid);användare;namn;roll;enhet;vårdgivare;vad som lästes;enhetens id;\
         åtgärdskod;plan\r\n",
    );
    for e in entries {
        let row = [
            domain::time::to_local(e.at)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            e.actor.clone(),
            e.actor_name.clone().unwrap_or_default(),
            e.role_text.clone(),
            e.unit_name
                .clone()
                .or_else(|| e.unit.clone())
                .unwrap_or_default(),
            e.care_provider.clone().unwrap_or_default(),
            e.action_text.clone(),
            e.unit.clone().unwrap_or_default(),
            e.action.clone(),
            e.sip_id.clone().unwrap_or_default(),
        ];
        let fields: Vec<String> = row.iter().map(|f| crate::text::csv_field(f)).collect();
        body.push_str(&fields.join(";"));
        body.push_str("\r\n");
    }
    body
}

/// The extract as a file to download, named `loggutdrag-<name>.csv`. It begins with UTF-8's
/// byte order mark: a spreadsheet program opening the saved file otherwise guesses the
/// Windows code page and garbles å, ä and ö.
pub fn extract_file(name: &str, entries: &[AccessLogEntry]) -> Response {
    let mut response = format!("\u{feff}{}", extract_csv(entries)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"loggutdrag-{name}.csv\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The query of `GET /audit/access-review`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewParams {
    /// From this moment (RFC 3339), inclusive; a day (`YYYY-MM-DD`) from its first instant.
    #[serde(deserialize_with = "crate::moments::start")]
    pub from: DateTime<Utc>,
    /// Until this moment, exclusive; a day (`YYYY-MM-DD`) includes all of it.
    #[serde(deserialize_with = "crate::moments::end")]
    pub to: DateTime<Utc>,
    /// Wait (up to 5 s) until the participation read model has applied this position.
    pub min_position: Option<i64>,
}

/// The systematic review of reads in a period (auditor): reads without a care relation and users
/// whose read volume stands out.
#[utoipa::path(
    get,
    path = "/api/v1/audit/access-review",
    tag = "audit",
    params(ReviewParams),
    responses(
        (status = 200, description = "What the review found; header X-Samplan-Position (the participation read model's)", body = Review),
        (status = 400, description = "`invalid_parameter`, `missing_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not an auditor", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn access_review(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    ApiQuery(params): ApiQuery<ReviewParams>,
) -> Result<Response, AppError> {
    storable("from", Some(params.from))?;
    storable("to", Some(params.to))?;
    if params.to <= params.from {
        return Err(AppError::bad_request(
            "invalid_parameter",
            "to ska vara senare än from.",
        ));
    }
    let position = consistency::projection_position(
        &state,
        projections::participation::PROJECTION,
        params.min_position,
    )
    .await?;
    let review = access_log::review(&state, params.from, params.to).await?;
    // Who was read without a care relation is itself about those persons: logged as the page
    // logs it (an outside review found the page's review in the extract, the API's not).
    let mut listed: Vec<PersonId> = review
        .without_relation
        .iter()
        .filter_map(|r| PersonId::parse(&r.person_id).ok())
        .collect();
    listed.sort();
    listed.dedup();
    access_log::record_many(&state, &caller, &listed, action::AUDIT_REVIEW, None).await?;
    Ok(consistency::with_position(
        Json(review).into_response(),
        position,
    ))
}

/// Refuses (400 `invalid_parameter`) a time outside [`projections::STORABLE_YEARS`], which the
/// store cannot compare with (the database's refusal would be a 500).
fn storable(name: &str, time: Option<DateTime<Utc>>) -> Result<(), AppError> {
    match time {
        Some(t) if !projections::STORABLE_YEARS.contains(&t.year()) => Err(AppError::bad_request(
            "invalid_parameter",
            format!("{name} ska ligga mellan år 1 och år 9999."),
        )),
        _ => Ok(()),
    }
}
