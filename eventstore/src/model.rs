//! The values that go into and come out of the store. `RecordedEvent`'s JSON is the event
//! envelope of API.md ("Events on NATS") plus the hash, so it is a contract: field names stay.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// What the writer believes the stream's version is. Versions start at 1; 0 means no stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the version is (still atomic, still no gaps).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(i64),
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("valfri"),
            ExpectedVersion::NoStream => f.write_str("ingen ström"),
            ExpectedVersion::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// Who did it and why: stored with every event, covered by its hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    pub actor: String,
    pub unit: Option<String>,
    pub role: String,
    pub command_id: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

/// An event about to be appended.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_id: Ulid,
    pub event_type: String,
    pub schema_version: i32,
    pub data: serde_json::Value,
    pub metadata: Metadata,
}

/// The idempotency key of an append: the command id and a hash of the request body, so a retry
/// is recognised and a reused id with another body is refused.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandKey {
    pub command_id: String,
    pub request_hash: Vec<u8>,
}

/// Where one appended event landed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AppendedEvent {
    pub event_id: Ulid,
    pub event_type: String,
    pub stream_version: i64,
    pub global_position: i64,
}

/// The result of an append; stored with the command id and returned again on a retry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AppendOutcome {
    pub stream_id: String,
    /// The stream's version after the append.
    pub stream_version: i64,
    /// Position of the last event written.
    pub global_position: i64,
    pub events: Vec<AppendedEvent>,
    /// True when this is the stored result of an earlier append with the same command id and
    /// nothing was written now.
    pub replayed: bool,
}

/// A stored command: what the idempotency check compares against.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCommand {
    pub request_hash: Vec<u8>,
    pub outcome: AppendOutcome,
}

/// An event as stored.
///
/// The payload stays the JSON text the database sent (checked to be JSON, not turned into
/// values): a tailer or a read of everything hands most events to consumers that look only at
/// the stream and type, and a reader that needs the payload asks for it with
/// [`RecordedEvent::data_as`]. Building a `serde_json::Value` per event was a third of a
/// read-all's CPU.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub event_id: Ulid,
    pub global_position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub recorded_at: DateTime<Utc>,
    /// The payload as JSON text (jsonb's text form).
    pub data: Box<serde_json::value::RawValue>,
    pub metadata: Metadata,
    /// SHA-256 (hex) over this event's content and the previous event's hash in its stream.
    pub hash: String,
}

impl RecordedEvent {
    /// The payload as `T` (a `serde_json::Value`, or a type of its own).
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.data.get())
    }
}

/// Equal when every field is; payloads compare as the JSON text stored (for events read from
/// the store, the same stored payload always reads as the same text).
impl PartialEq for RecordedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event_id == other.event_id
            && self.global_position == other.global_position
            && self.stream_id == other.stream_id
            && self.stream_version == other.stream_version
            && self.event_type == other.event_type
            && self.schema_version == other.schema_version
            && self.recorded_at == other.recorded_at
            && self.data.get() == other.data.get()
            && self.metadata == other.metadata
            && self.hash == other.hash
    }
}

/// What `verify` found: the first broken link of every damaged stream.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VerifyReport {
    pub streams_checked: i64,
    pub events_checked: i64,
    pub broken: Vec<BrokenLink>,
    /// Events at positions below 1, which no position the store draws can be: slipped in.
    pub events_before_the_first_position: i64,
    /// Seals recomputed (every seal made so far).
    pub seals_checked: i64,
    /// Seals the log no longer matches, or that do not follow one another, or whose digest is
    /// not the one kept outside the database.
    pub broken_seals: Vec<BrokenSeal>,
    /// The seal this check made over the events since the last one, when everything held and
    /// there were any: its number and digest are what the auditor keeps outside the database.
    pub sealed: Option<Seal>,
    /// The newest seal, made now or before.
    pub latest_seal: Option<Seal>,
}

impl VerifyReport {
    /// True when every chain and every seal is whole, and nothing lies before position 1.
    pub fn is_intact(&self) -> bool {
        self.broken.is_empty()
            && self.broken_seals.is_empty()
            && self.events_before_the_first_position == 0
    }
}

/// A seal over the whole log: the events after `after_position` up to `up_to_position`, their
/// number, and the digest of their hashes chained to the previous seal's (lower-case hex).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Seal {
    pub seal_no: i64,
    pub after_position: i64,
    pub up_to_position: i64,
    pub events: i64,
    pub digest: String,
}

/// A seal as an earlier check printed it and the auditor kept outside the database.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeptSeal {
    pub seal_no: i64,
    pub digest: String,
}

/// A seal that does not hold, how many events its positions hold now, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BrokenSeal {
    pub seal: Seal,
    pub events_now: i64,
    pub problem: SealProblem,
}

/// Why a seal does not hold.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SealProblem {
    /// Its positions no longer hold the events it sealed: one removed, changed or slipped in.
    Changed,
    /// It does not follow the seal before it (a seal removed, or positions left out).
    NotContiguous,
    /// Recomputed from the events, its digest is not the one kept outside the database (or it
    /// is gone): the events up to it, or the seals, were rewritten, or an older backup restored.
    NotAsKept,
}

/// The first event of a stream whose stored hash does not match its content and predecessor,
/// or whose version does not follow the previous one (an event is missing).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BrokenLink {
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: String,
    pub reason: BrokenReason,
}

/// Why a link is broken.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BrokenReason {
    /// The stored hash differs from the recomputed one: content or predecessor changed.
    HashMismatch,
    /// The version does not follow its predecessor's: an event was removed.
    VersionGap,
}
