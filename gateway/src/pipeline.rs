//! The command pipeline: every write of the API runs through [`execute`], the same way.
//!
//! idempotency short-circuit → load the stream → fold → `If-Match` check → `decide` → append
//! with the expected version (and the idempotency key, in the same transaction) → on a lost race
//! reload and decide again, a bounded number of times → `{id, version, position, events}`.
//!
//! Deciding again after a lost race is safe because `decide` is a pure function of the state it
//! is given: the retry sees the other writer's events and may refuse where the first attempt
//! would have accepted. With `If-Match` the client asked for "only on this version", so a lost
//! race is its 409 and never retried.

use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::parse_json;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use domain::context::Context;
use domain::error::DomainError;
use eventstore::{
    AppendOutcome, CommandKey, ExpectedVersion, Metadata, NewEvent, RecordedEvent, StoreError,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ulid::Ulid;

/// Longest `Idempotency-Key` accepted (API.md).
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 64;

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

/// A command request: the parsed body and its [`WriteMeta`].
///
/// Reads and parses the body itself (rather than wrapping `Json`) because the idempotency hash
/// must cover the bytes the client sent. JSON errors map as in [`crate::extract`]: 400
/// `malformed_json`, `unknown_field`, `missing_field`, `invalid_body`; a body over
/// `limits.body_bytes_max` is 413.
#[derive(Debug)]
pub struct Command<T> {
    pub body: T,
    pub meta: WriteMeta,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Command<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let headers = req.headers().clone();
        check_content_type(&headers)?;
        let limit = state.limits.body_bytes_max;
        if content_length(&headers).is_some_and(|len| len > limit) {
            return Err(AppError::PayloadTooLarge);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("invalid_body", "Begäran kunde inte läsas.")
            }
        })?;
        if bytes.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        let meta = WriteMeta {
            idempotency_key: idempotency_key(&headers)?,
            if_match: if_match(&headers)?,
            request_hash: request_hash(method.as_str(), &path, &bytes),
        };
        let body = parse_json(&bytes)?;
        Ok(Command { body, meta })
    }
}

/// SHA-256 over method, path and body, separated so that no two requests share the bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().to_vec()
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A body sent as something other than JSON is refused; no Content-Type is tolerated, since
/// several commands have no body at all.
fn check_content_type(headers: &HeaderMap) -> Result<(), AppError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
    let mime = mime.trim().to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "unsupported_media_type",
            "Begäran måste skickas som JSON (Content-Type: application/json).",
        ))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        AppError::bad_request(
            "invalid_idempotency_key",
            format!(
                "Idempotency-Key ska vara 1–{IDEMPOTENCY_KEY_CHARS_MAX} synliga tecken (ASCII)."
            ),
        )
    };
    let key = value.to_str().map_err(|_| bad())?.trim();
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_CHARS_MAX || !printable {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// `If-Match: "<version>"` (the quotes of an entity tag; a bare number is accepted too).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        AppError::bad_request(
            "invalid_if_match",
            "If-Match ska innehålla den version du läste, t.ex. If-Match: \"3\".",
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let version: i64 = text.parse().map_err(|_| bad())?;
    if version < 0 {
        return Err(bad());
    }
    Ok(Some(version))
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

/// One kind of stream: how its events fold into state and travel to and from the store.
pub trait Aggregate {
    type State: Default + Send + Sync;
    type Event: Send + Sync;
    /// Folds one event into the state.
    fn evolve(state: Self::State, ev: &Self::Event) -> Self::State;
    /// Turns a stored event back into a domain event (upcasting old schema versions).
    fn decode(ev: &RecordedEvent) -> Result<Self::Event, AppError>;
    /// Event type, schema version and JSON data of a domain event.
    fn encode(ev: &Self::Event) -> (&'static str, i32, serde_json::Value);
}

/// Loads and folds a stream; returns its state and version (0: no stream yet).
pub async fn load<A: Aggregate>(
    state: &AppState,
    stream_id: &str,
) -> Result<(A::State, i64), AppError> {
    let loaded = load_full::<A>(state, stream_id).await?;
    Ok((loaded.state, loaded.version))
}

/// A folded stream with the position of its last event.
pub struct Loaded<S> {
    pub state: S,
    /// The stream's version; 0 when it has no events.
    pub version: i64,
    /// Global position of the stream's last event; 0 when it has none.
    pub position: i64,
}

/// Like [`load`], also telling where the stream's last event stands globally.
pub async fn load_full<A: Aggregate>(
    state: &AppState,
    stream_id: &str,
) -> Result<Loaded<A::State>, AppError> {
    let events = state.store.read_stream(stream_id, 1).await?;
    fold::<A>(&events)
}

impl<S: Default> Loaded<S> {
    /// A stream that has no events: what a stream whose id was just drawn holds.
    pub fn empty() -> Self {
        Loaded {
            state: S::default(),
            version: 0,
            position: 0,
        }
    }
}

/// Folds the events of one stream, read by any means, into its state.
pub fn fold<A: Aggregate>(events: &[RecordedEvent]) -> Result<Loaded<A::State>, AppError> {
    let mut loaded = Loaded::<A::State>::empty();
    for recorded in events {
        let ev = A::decode(recorded)?;
        loaded.state = A::evolve(loaded.state, &ev);
        loaded.version = recorded.stream_version;
        loaded.position = recorded.global_position;
    }
    Ok(loaded)
}

/// How a write is labelled in metrics and traced across events.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecOptions<'a> {
    /// The command's name, e.g. `RecordConsent`, for the `samplan_commands_total` metric.
    pub command: Option<&'a str>,
    /// The request id (`x-request-id`), stored as the events' correlation id.
    pub correlation_id: Option<&'a str>,
}

/// Runs a command through the pipeline. See the module documentation.
pub async fn execute<A: Aggregate>(
    state: &AppState,
    caller: &Caller,
    meta: &WriteMeta,
    stream_id: &str,
    response_id: &str,
    decide: impl Fn(&A::State, &Context) -> Result<Vec<A::Event>, DomainError> + Send + Sync,
) -> Result<WriteResponse, AppError> {
    execute_with::<A>(
        state,
        caller,
        meta,
        ExecOptions::default(),
        stream_id,
        response_id,
        decide,
    )
    .await
}

/// [`execute`] with a command name for metrics and a correlation id for the events.
pub async fn execute_with<A: Aggregate>(
    state: &AppState,
    caller: &Caller,
    meta: &WriteMeta,
    options: ExecOptions<'_>,
    stream_id: &str,
    response_id: &str,
    decide: impl Fn(&A::State, &Context) -> Result<Vec<A::Event>, DomainError> + Send + Sync,
) -> Result<WriteResponse, AppError> {
    execute_from::<A>(
        state,
        caller,
        meta,
        options,
        stream_id,
        response_id,
        None,
        decide,
    )
    .await
}

/// [`execute_with`] starting from a stream the caller has just loaded (or knows to be empty,
/// [`Loaded::empty`], because it drew the id itself), which saves reading it again. The first
/// attempt decides on it; if it was stale the append loses its race and the pipeline reloads
/// and decides again, as after any lost race.
#[allow(clippy::too_many_arguments)]
pub async fn execute_from<A: Aggregate>(
    state: &AppState,
    caller: &Caller,
    meta: &WriteMeta,
    options: ExecOptions<'_>,
    stream_id: &str,
    response_id: &str,
    first: Option<Loaded<A::State>>,
    decide: impl Fn(&A::State, &Context) -> Result<Vec<A::Event>, DomainError> + Send + Sync,
) -> Result<WriteResponse, AppError> {
    let command = options
        .command
        .unwrap_or_else(|| stream_id.split('-').next().unwrap_or("unknown"))
        .to_owned();
    let result = run::<A>(
        state,
        caller,
        meta,
        options,
        stream_id,
        response_id,
        first,
        decide,
    )
    .await;
    let outcome = match &result {
        Ok((_, true)) => "replayed",
        Ok((_, false)) => "appended",
        Err(AppError::Domain(_)) => "refused",
        Err(AppError::VersionConflict { .. })
        | Err(AppError::Store(StoreError::Conflict { .. })) => "conflict",
        Err(AppError::Store(StoreError::IdempotencyKeyReused { .. })) => "key_reused",
        Err(_) => "failed",
    };
    metrics::counter!("samplan_commands_total", "command" => command, "outcome" => outcome)
        .increment(1);
    result.map(|(response, _)| response)
}

/// The pipeline proper; the flag says whether the answer is a replay.
#[allow(clippy::too_many_arguments)]
async fn run<A: Aggregate>(
    state: &AppState,
    caller: &Caller,
    meta: &WriteMeta,
    options: ExecOptions<'_>,
    stream_id: &str,
    response_id: &str,
    mut first: Option<Loaded<A::State>>,
    decide: impl Fn(&A::State, &Context) -> Result<Vec<A::Event>, DomainError> + Send + Sync,
) -> Result<(WriteResponse, bool), AppError> {
    // The key is scoped to the caller: two users may pick the same key without colliding.
    let key = meta.idempotency_key.as_ref().map(|k| CommandKey {
        command_id: format!("{}:{}", caller.sub, k),
        request_hash: meta.request_hash.clone(),
    });
    let command_id = key
        .as_ref()
        .map(|k| k.command_id.clone())
        .unwrap_or_else(|| Ulid::generate().to_string());
    let metadata = Metadata {
        actor: caller.sub.clone(),
        unit: caller.unit.as_ref().map(|u| u.as_str().to_owned()),
        role: caller.role.as_str().to_owned(),
        command_id: Some(command_id.clone()),
        correlation_id: Some(
            options
                .correlation_id
                .map(str::to_owned)
                .unwrap_or_else(|| command_id.clone()),
        ),
        causation_id: None,
    };

    let mut retries = 0;
    loop {
        // A retry whose first attempt succeeded is answered from the stored outcome, before the
        // state is consulted: the state has moved on and might now refuse the command.
        if let Some(key) = &key {
            if let Some(stored) = state.store.find_command(&key.command_id).await? {
                if stored.request_hash != key.request_hash {
                    return Err(AppError::Store(StoreError::IdempotencyKeyReused {
                        command_id: key.command_id.clone(),
                    }));
                }
                return Ok((respond(&stored.outcome, stream_id, response_id), true));
            }
        }

        let loaded = match first.take() {
            Some(loaded) => loaded,
            None => load_full::<A>(state, stream_id).await?,
        };
        if let Some(expected) = meta.if_match {
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
            Err(StoreError::Conflict { actual, .. }) if meta.if_match.is_some() => {
                return Err(AppError::VersionConflict { current: actual });
            }
            Err(StoreError::Conflict { .. }) if retries < state.limits.conflict_retries_max => {
                retries += 1;
                tracing::debug!(stream_id, retries, "lost an append race; deciding again");
            }
            Err(e) => return Err(e.into()),
        }
    }
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

/// An [`Aggregate`] over one of the domain's streams. Events travel in the domain's stored form
/// (`domain::event`: type name, schema version, JSON; old versions upcast on decode).
macro_rules! domain_aggregate {
    ($(#[$meta:meta])* $name:ident, $state:ty, $event:ty, $evolve:path) => {
        $(#[$meta])*
        pub struct $name;

        impl Aggregate for $name {
            type State = $state;
            type Event = $event;

            fn evolve(state: Self::State, ev: &Self::Event) -> Self::State {
                $evolve(state, ev)
            }

            fn decode(ev: &RecordedEvent) -> Result<Self::Event, AppError> {
                // A stored event we cannot read is our bug or a missing upcaster, never the
                // client's: 500, with the event named in the log.
                let failed = |e: &dyn std::fmt::Display| {
                    AppError::internal(format!(
                        "cannot decode {} v{} at {}#{}: {e}",
                        ev.event_type, ev.schema_version, ev.stream_id, ev.stream_version
                    ))
                };
                let data = ev.data_as().map_err(|e| failed(&e))?;
                <$event>::decode(&ev.event_type, ev.schema_version, data).map_err(|e| failed(&e))
            }

            fn encode(ev: &Self::Event) -> (&'static str, i32, serde_json::Value) {
                ev.encode()
            }
        }
    };
}

domain_aggregate!(
    /// `sip-<ulid>`: one plan.
    SipAggregate,
    domain::sip::SipState,
    domain::sip::SipEvent,
    domain::sip::evolve
);
domain_aggregate!(
    /// `person-<ulid>`: the person.
    PersonAggregate,
    domain::person::PersonState,
    domain::person::PersonEvent,
    domain::person::evolve
);
domain_aggregate!(
    /// `unit-<id>`: a unit and its principal.
    UnitAggregate,
    domain::unit::UnitState,
    domain::unit::UnitEvent,
    domain::unit::evolve
);
domain_aggregate!(
    /// `inbox-<unit>`: read marks of a unit's inbox.
    InboxAggregate,
    domain::inbox::InboxState,
    domain::inbox::InboxEvent,
    domain::inbox::evolve
);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn code(err: AppError) -> String {
        err.problem().code
    }

    #[test]
    fn if_match_takes_the_entity_tag_form_and_refuses_anything_else() {
        assert_eq!(if_match(&headers(&[])).ok(), Some(None));
        assert_eq!(
            if_match(&headers(&[("if-match", "\"7\"")])).ok(),
            Some(Some(7))
        );
        assert_eq!(
            if_match(&headers(&[("if-match", "W/\"7\"")])).ok(),
            Some(Some(7))
        );
        assert_eq!(if_match(&headers(&[("if-match", "7")])).ok(), Some(Some(7)));
        for bad in ["\"sju\"", "*", "\"-1\"", "\"\""] {
            let err = if_match(&headers(&[("if-match", bad)])).expect_err(bad);
            assert_eq!(code(err), "invalid_if_match", "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_short_and_printable() {
        assert_eq!(idempotency_key(&headers(&[])).ok(), Some(None));
        let ok = "a".repeat(IDEMPOTENCY_KEY_CHARS_MAX);
        assert_eq!(
            idempotency_key(&headers(&[("idempotency-key", &ok)])).ok(),
            Some(Some(ok.clone()))
        );
        for bad in [
            "a".repeat(IDEMPOTENCY_KEY_CHARS_MAX + 1),
            String::new(),
            "a b".into(),
        ] {
            let err = idempotency_key(&headers(&[("idempotency-key", &bad)])).expect_err(&bad);
            assert_eq!(code(err), "invalid_idempotency_key");
        }
    }

    #[test]
    fn the_request_hash_covers_method_path_and_body() {
        let base = request_hash("POST", "/api/v1/sips/x/close-plan", b"{}");
        assert_eq!(
            base,
            request_hash("POST", "/api/v1/sips/x/close-plan", b"{}")
        );
        assert_ne!(
            base,
            request_hash("POST", "/api/v1/sips/y/close-plan", b"{}")
        );
        assert_ne!(
            base,
            request_hash("POST", "/api/v1/sips/x/close-plan", b"{ }")
        );
        assert_ne!(
            base,
            request_hash("PUT", "/api/v1/sips/x/close-plan", b"{}")
        );
        // The separator keeps path and body apart.
        assert_ne!(
            request_hash("POST", "/a", b"b"),
            request_hash("POST", "/ab", b"")
        );
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        assert!(check_content_type(&headers(&[])).is_ok());
        assert!(check_content_type(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )]))
        .is_ok());
        assert!(check_content_type(&headers(&[(
            "content-type",
            "application/merge-patch+json"
        )]))
        .is_ok());
        let err =
            check_content_type(&headers(&[("content-type", "text/plain")])).expect_err("text");
        assert_eq!(code(err), "unsupported_media_type");
    }

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
}
