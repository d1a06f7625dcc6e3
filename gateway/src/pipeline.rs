//! The command pipeline: every write runs through [`execute`], the same way, whether it came
//! over HTTP or from the demo loader. Nothing here knows HTTP.
//!
//! take the stream's turn → idempotency short-circuit → load the stream → `If-Match` check →
//! `decide` → append with the expected version (and the idempotency key, in the same
//! transaction) → `{id, version, position, events}`.
//!
//! Inside a process, commands on one stream take their turn (`crate::turns`), so they never race
//! each other. A race with another process (several gateways on one database) shows as a lost
//! append: the pipeline waits a short, jittered while, reloads and decides again, for as long as
//! `limits.conflict_wait_ms_max` allows. Deciding again is safe because `decide` is a pure
//! function of the state it is given: the retry sees the other writer's events and may refuse
//! where the first attempt would have accepted. With `If-Match` the client asked for "only on
//! this version", so a lost race is its 409 and never retried.

use crate::aggregate::{self, Aggregate, Loaded};
use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;
use crate::turns::Turn;
use domain::context::Context;
use domain::error::DomainError;
use eventstore::{AppendOutcome, CommandKey, ExpectedVersion, Metadata, NewEvent, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use ulid::Ulid;

/// The first pause after a lost race with another process; it doubles up to
/// [`CONFLICT_PAUSE_MS_MAX`], and each pause is drawn at random below its bound (full jitter), so
/// that two processes that lost to each other do not come back at the same moment again.
const CONFLICT_PAUSE_MS_MIN: u64 = 2;
const CONFLICT_PAUSE_MS_MAX: u64 = 100;

/// What the headers and the raw body of a write tell the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteMeta {
    /// The client's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
    /// The version named by `If-Match: "<version>"`.
    pub if_match: Option<i64>,
    /// SHA-256 over method, path and body: the same key with another request is refused.
    pub request_hash: Vec<u8>,
}

/// The answer to every successful write (API.md, "Writes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WriteResponse {
    /// The id of what was written to (the new SIP's id for `POST /sips`).
    pub id: String,
    /// The stream's version after the write; send it back as `If-Match`.
    pub version: i64,
    /// Global position of the last event written; reads accept it as `min_position`.
    pub position: i64,
    /// The event types written, in order.
    pub events: Vec<String>,
}

/// A write that created something readable at its own address: 201 with `Location` naming it
/// (`/api/v1/sips/{id}`, `/api/v1/persons/{id}`), so a client need not build the address itself.
pub struct Created {
    /// The collection the new id lives under, e.g. `/api/v1/sips`.
    pub collection: &'static str,
    pub response: WriteResponse,
}

impl axum::response::IntoResponse for Created {
    fn into_response(self) -> axum::response::Response {
        let location = format!("{}/{}", self.collection, self.response.id);
        (
            axum::http::StatusCode::CREATED,
            [(axum::http::header::LOCATION, location)],
            axum::Json(self.response),
        )
            .into_response()
    }
}

/// Who writes, and how the write is labelled: the same for every command of a request.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    pub caller: &'a Caller,
    pub meta: &'a WriteMeta,
    /// The request id (`x-request-id`), stored as the events' correlation id.
    pub correlation_id: Option<&'a str>,
}

/// Where a command starts from.
pub enum Start<S> {
    /// Take the stream's turn and read it.
    Load,
    /// A stream whose id was drawn for this request: nothing to read, nobody else can write it.
    New,
    /// The caller took the turn and read the stream itself (to check visibility before the body
    /// is interpreted); the first attempt decides on that.
    Loaded(Turn, Loaded<S>),
}

/// What a command writes to: its stream, the id its answer names, and where it starts.
pub struct Target<'a, S> {
    pub stream_id: &'a str,
    pub response_id: &'a str,
    pub start: Start<S>,
}

/// Runs one command: see the module documentation. `command` names it in the
/// `samplan_commands_total{command, outcome}` metric.
pub async fn execute<A: Aggregate>(
    state: &AppState,
    write: Write<'_>,
    command: &str,
    target: Target<'_, A::State>,
    decide: impl Fn(&A::State, &Context) -> Result<Vec<A::Event>, DomainError> + Send + Sync,
) -> Result<WriteResponse, AppError> {
    let result = run::<A>(state, write, target, decide).await;
    let outcome = match &result {
        Ok((_, true)) => "replayed",
        Ok((_, false)) => "appended",
        Err(AppError::Domain(_)) => "refused",
        Err(AppError::VersionConflict { .. })
        | Err(AppError::Store(StoreError::Conflict { .. })) => "conflict",
        Err(AppError::Store(StoreError::IdempotencyKeyReused { .. })) => "key_reused",
        Err(_) => "failed",
    };
    metrics::counter!("samplan_commands_total", "command" => command.to_owned(), "outcome" => outcome)
        .increment(1);
    result.map(|(response, _)| response)
}

/// The key a write's `Idempotency-Key` is stored under: scoped to the caller, so two users may
/// pick the same key without colliding.
fn command_key(write: &Write<'_>) -> Option<CommandKey> {
    write.meta.idempotency_key.as_ref().map(|k| CommandKey {
        command_id: format!("{}:{}", write.caller.sub, k),
        request_hash: write.meta.request_hash.clone(),
    })
}

/// The answer a retried write (same `Idempotency-Key`) gets from its first outcome, if there was
/// one: a command that reads other streams before its own (registering a person) asks this
/// first, before the state has moved on and might now refuse it.
pub async fn replayed(
    state: &AppState,
    write: Write<'_>,
    stream_id: &str,
    response_id: &str,
) -> Result<Option<WriteResponse>, AppError> {
    let Some(key) = command_key(&write) else {
        return Ok(None);
    };
    match state.store.find_command(&key.command_id).await? {
        None => Ok(None),
        Some(stored) if stored.request_hash != key.request_hash => {
            Err(AppError::Store(StoreError::IdempotencyKeyReused {
                command_id: key.command_id,
            }))
        }
        Some(stored) => Ok(Some(respond(&stored.outcome, stream_id, response_id))),
    }
}

/// The pipeline proper; the flag says whether the answer is a replay.
async fn run<A: Aggregate>(
    state: &AppState,
    write: Write<'_>,
    target: Target<'_, A::State>,
    decide: impl Fn(&A::State, &Context) -> Result<Vec<A::Event>, DomainError> + Send + Sync,
) -> Result<(WriteResponse, bool), AppError> {
    let Target {
        stream_id,
        response_id,
        start,
    } = target;
    let (_turn, mut first) = match start {
        Start::Load => (Some(state.turns.take(stream_id).await?), None),
        Start::New => (None, Some(Loaded::empty())),
        Start::Loaded(turn, loaded) => {
            debug_assert_eq!(turn.stream_id(), stream_id);
            (Some(turn), Some(loaded))
        }
    };
    let key = command_key(&write);
    let command_id = key
        .as_ref()
        .map(|k| k.command_id.clone())
        .unwrap_or_else(|| Ulid::generate().to_string());
    let caller = write.caller;
    let metadata = Metadata {
        actor: caller.sub.clone(),
        unit: caller.unit.as_ref().map(|u| u.as_str().to_owned()),
        role: caller.role.as_str().to_owned(),
        command_id: Some(command_id.clone()),
        correlation_id: Some(
            write
                .correlation_id
                .map(str::to_owned)
                .unwrap_or_else(|| command_id.clone()),
        ),
        causation_id: None,
    };

    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(state.limits.conflict_wait_ms_max);
    let mut pause_ms = CONFLICT_PAUSE_MS_MIN;
    loop {
        // A retry whose first attempt succeeded is answered from the stored outcome, before the
        // state is consulted: the state has moved on and might now refuse the command.
        if let Some(replay) = replayed(state, write, stream_id, response_id).await? {
            return Ok((replay, true));
        }
        let loaded = match first.take() {
            Some(loaded) => loaded,
            None => aggregate::load::<A>(&state.store, stream_id).await?,
        };
        if let Some(expected) = write.meta.if_match {
            if expected != loaded.version {
                return Err(AppError::VersionConflict {
                    current: loaded.version,
                });
            }
        }
        let ctx = Context {
            actor: caller.actor(),
            now: state.clock.now(),
        };
        let events = decide(&loaded.state, &ctx)?;
        if events.is_empty() {
            // Nothing to record (the command changed nothing); answer where the stream stands.
            return Ok((
                WriteResponse {
                    id: response_id.to_owned(),
                    version: loaded.version,
                    position: loaded.position,
                    events: Vec::new(),
                },
                false,
            ));
        }
        let new_events: Vec<NewEvent> = events
            .iter()
            .map(|ev| {
                let (event_type, schema_version, data) = A::encode(ev);
                NewEvent {
                    event_id: Ulid::generate(),
                    event_type: event_type.to_owned(),
                    schema_version,
                    data,
                    metadata: metadata.clone(),
                }
            })
            .collect();
        let expected = if loaded.version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(loaded.version)
        };
        match state
            .store
            .append(stream_id, expected, new_events, key.clone())
            .await
        {
            Ok(outcome) => {
                state.facts.note_appended(stream_id, outcome.stream_version);
                let replayed = outcome.replayed;
                return Ok((respond(&outcome, stream_id, response_id), replayed));
            }
            Err(StoreError::Conflict { actual, .. }) if write.meta.if_match.is_some() => {
                return Err(AppError::VersionConflict { current: actual });
            }
            Err(StoreError::Conflict { .. }) if tokio::time::Instant::now() < deadline => {
                // Another process appended first. Wait a random while below the bound, so that
                // processes that keep colliding spread out, then decide again on its events.
                let pause = Duration::from_millis(jitter(pause_ms));
                tracing::debug!(
                    stream_id,
                    pause_ms = pause.as_millis() as u64,
                    "lost an append race to another process; deciding again"
                );
                tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + pause)).await;
                pause_ms = (pause_ms * 2).min(CONFLICT_PAUSE_MS_MAX);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A random number of milliseconds from 1 to `bound_ms`, from the randomness of a fresh ULID (the
/// crate draws it from the operating system's generator).
fn jitter(bound_ms: u64) -> u64 {
    let random = Ulid::generate().random() as u64;
    1 + random % bound_ms.max(1)
}

/// The write answer for an outcome. A replay of a command that created its stream (a new SIP
/// id was drawn for this request) answers with the id written the first time.
fn respond(outcome: &AppendOutcome, stream_id: &str, response_id: &str) -> WriteResponse {
    let id = if outcome.stream_id == stream_id {
        response_id.to_owned()
    } else {
        outcome
            .stream_id
            .split_once('-')
            .map(|(_, id)| id.to_owned())
            .unwrap_or_else(|| outcome.stream_id.clone())
    };
    WriteResponse {
        id,
        version: outcome.stream_version,
        position: outcome.global_position,
        events: outcome
            .events
            .iter()
            .map(|e| e.event_type.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_start_answers_with_the_plan_written_the_first_time() {
        let outcome = AppendOutcome {
            stream_id: "sip-01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
            stream_version: 1,
            global_position: 42,
            events: vec![eventstore::AppendedEvent {
                event_id: Ulid::from_parts(1, 1),
                event_type: "NeedIdentified".into(),
                stream_version: 1,
                global_position: 42,
            }],
            replayed: true,
        };
        // The retry drew a new id; the answer names the first one.
        let answer = respond(
            &outcome,
            "sip-01BX5ZZKBKACTAV9WEVGEMMVRZ",
            "01BX5ZZKBKACTAV9WEVGEMMVRZ",
        );
        assert_eq!(
            answer,
            WriteResponse {
                id: "01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
                version: 1,
                position: 42,
                events: vec!["NeedIdentified".into()],
            }
        );
        // A command on an existing stream answers with the id it was given.
        let same = respond(&outcome, "sip-01ARZ3NDEKTSV4RRFFQ69G5FAV", "given-id");
        assert_eq!(same.id, "given-id");
    }

    #[test]
    fn jitter_stays_within_its_bound_and_varies() {
        let drawn: std::collections::BTreeSet<u64> = (0..200).map(|_| jitter(50)).collect();
        assert!(drawn.iter().all(|ms| (1..=50).contains(ms)));
        assert!(drawn.len() > 10, "{drawn:?}");
        assert_eq!(jitter(0), 1);
    }
}
