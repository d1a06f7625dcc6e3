//! An in-process cache of the fact streams, persons and units, that SIP commands consult.
//!
//! Every SIP command reads the person and the units it names to apply the rules that cross
//! streams (the person is registered and alive, the unit exists). Those streams change rarely
//! and are read constantly; measured with the HTTP benchmark, reading them was the largest part
//! of a command's cost at 64 connections. So the service keeps their folded state here, and a
//! follower on the store's tail keeps it current.
//!
//! Why it never answers with a state older than the store's as the tail has delivered it:
//! - the follower records the newest version of every fact stream it sees (`latest`); an entry
//!   older than that is a miss and is read again;
//! - an entry is only stored if it is at least as new as `latest` says, so a read that raced
//!   with the follower (the follower delivered a newer event before the read's result came
//!   back) is not kept;
//! - the follower folds each delivered event into a cached entry when it is the entry's next
//!   version, and drops the entry on any gap;
//! - this process's own appends bump `latest` at once (`note_appended`), so a command that
//!   follows a person's change in the same process reads the change;
//! - while the follower is not running nothing is served or stored, and every restart or
//!   overflow starts a new generation, which refuses results of reads begun before it.
//!
//! What remains is the tail's own delay for other processes' appends (milliseconds): the same
//! kind of window as between a fact read and the append that follows it, which no command could
//! close without a transaction over several streams.

use crate::aggregate::{self, Aggregate, PersonAggregate, UnitAggregate};
use crate::error::AppError;
use domain::ids::{PersonId, UnitId};
use domain::person::PersonState;
use domain::sip::SipFacts;
use domain::unit::UnitState;
use eventstore::{EventStore, RecordedEvent};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most streams remembered (entries and versions together); beyond it everything is dropped
/// and a new generation begins.
const STREAMS_MAX: usize = 200_000;

/// Pause before the follower starts again after the tail failed.
const RESTART_PAUSE_MS: u64 = 1_000;

/// What samplan knows of a staff caller's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitStanding {
    /// Not registered.
    Unknown,
    /// Registered as reached by letter (`uses_samplan: false`): it has no inbox, and the
    /// coordinator documents its part.
    OutsideSamplan,
    /// Registered and working in samplan.
    InSamplan,
}

impl UnitStanding {
    fn of(state: &UnitState) -> UnitStanding {
        match &state.unit {
            None => UnitStanding::Unknown,
            Some(unit) if !unit.uses_samplan => UnitStanding::OutsideSamplan,
            Some(_) => UnitStanding::InSamplan,
        }
    }
}

/// The cache; cheap to clone, clones share it.
#[derive(Clone, Default)]
pub struct FactCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    following: bool,
    generation: u64,
    /// The newest version of each fact stream seen since this generation began.
    latest: HashMap<String, i64>,
    persons: HashMap<String, (i64, PersonState)>,
    units: HashMap<String, (i64, UnitState)>,
}

impl Inner {
    fn reset(&mut self) {
        self.generation += 1;
        self.latest.clear();
        self.persons.clear();
        self.units.clear();
    }

    fn is_current(&self, stream: &str, version: i64) -> bool {
        self.following
            && self
                .latest
                .get(stream)
                .is_none_or(|latest| version >= *latest)
    }

    fn bump(&mut self, stream: &str, version: i64) {
        if self.latest.len() + self.persons.len() + self.units.len() >= STREAMS_MAX {
            self.reset();
        }
        let latest = self.latest.entry(stream.to_owned()).or_insert(version);
        *latest = (*latest).max(version);
    }
}

impl FactCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind, still consistent enough to
        // be dropped: start over rather than propagate the poison.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            inner.reset();
            inner
        })
    }

    /// The generation to pass to `put_*` for a read that starts now.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The person's state if it is cached and current.
    pub fn person(&self, stream: &str) -> Option<PersonState> {
        let inner = self.lock();
        let (version, state) = inner.persons.get(stream)?;
        inner.is_current(stream, *version).then(|| state.clone())
    }

    /// The unit's state if it is cached and current.
    pub fn unit(&self, stream: &str) -> Option<UnitState> {
        let inner = self.lock();
        let (version, state) = inner.units.get(stream)?;
        inner.is_current(stream, *version).then(|| state.clone())
    }

    /// Keeps a person read from the store at `version` by a read begun in `generation`.
    pub fn put_person(&self, stream: &str, version: i64, state: PersonState, generation: u64) {
        let mut inner = self.lock();
        if inner.generation == generation && inner.is_current(stream, version) {
            inner.bump(stream, version);
            inner.persons.insert(stream.to_owned(), (version, state));
        }
    }

    /// Keeps a unit read from the store at `version` by a read begun in `generation`.
    pub fn put_unit(&self, stream: &str, version: i64, state: UnitState, generation: u64) {
        let mut inner = self.lock();
        if inner.generation == generation && inner.is_current(stream, version) {
            inner.bump(stream, version);
            inner.units.insert(stream.to_owned(), (version, state));
        }
    }

    /// Whether `unit` is registered and works in samplan: from the cache where it holds the unit (registered or not),
    /// else from one read of its stream, which the cache keeps. On every staff request's path
    /// (`extract::check_staff_unit`), so a hit takes the lock once and copies nothing.
    pub async fn unit_standing(
        &self,
        store: &EventStore,
        unit: &UnitId,
    ) -> Result<UnitStanding, AppError> {
        let stream = unit.stream_id();
        let cached = {
            let inner = self.lock();
            inner
                .units
                .get(&stream)
                .filter(|(version, _)| inner.is_current(&stream, *version))
                .map(|(_, state)| UnitStanding::of(state))
        };
        if let Some(standing) = cached {
            return Ok(standing);
        }
        let facts = self.load(store, None, [unit.clone()]).await?;
        Ok(facts
            .units
            .get(unit)
            .map_or(UnitStanding::Unknown, UnitStanding::of))
    }

    /// What the SIP rules need from other streams: the person and the named units, from the cache
    /// where it holds them, the rest in one read of the store (which the cache keeps).
    pub async fn load(
        &self,
        store: &EventStore,
        person_id: Option<PersonId>,
        units: impl IntoIterator<Item = UnitId>,
    ) -> Result<SipFacts, AppError> {
        let generation = self.generation();
        let person_stream = person_id.map(|id| id.stream_id());
        let mut missing: Vec<String> = Vec::new();
        let mut person = None;
        if let Some(stream) = &person_stream {
            match self.person(stream) {
                Some(cached) => person = Some(cached),
                None => missing.push(stream.clone()),
            }
        }
        let mut loaded: BTreeMap<UnitId, UnitState> = BTreeMap::new();
        let mut wanted: BTreeMap<String, UnitId> = BTreeMap::new();
        for unit in units {
            let stream = unit.stream_id();
            match self.unit(&stream) {
                Some(cached) => {
                    loaded.insert(unit, cached);
                }
                None => {
                    if wanted.insert(stream.clone(), unit).is_none() {
                        missing.push(stream);
                    }
                }
            }
        }
        if !missing.is_empty() {
            let streams: Vec<&str> = missing.iter().map(String::as_str).collect();
            let events = store.read_streams(&streams).await?;
            // Events come grouped by stream; a stream without events folds to its empty state.
            let groups: BTreeMap<&str, &[RecordedEvent]> = events
                .chunk_by(|a, b| a.stream_id == b.stream_id)
                .map(|group| (group[0].stream_id.as_str(), group))
                .collect();
            for stream in &missing {
                let group = groups.get(stream.as_str()).copied().unwrap_or_default();
                if person_stream.as_ref() == Some(stream) {
                    let folded = aggregate::fold::<PersonAggregate>(group)?;
                    self.put_person(stream, folded.version, folded.state.clone(), generation);
                    person = Some(folded.state);
                } else if let Some(unit) = wanted.get(stream) {
                    let folded = aggregate::fold::<UnitAggregate>(group)?;
                    self.put_unit(stream, folded.version, folded.state.clone(), generation);
                    loaded.insert(unit.clone(), folded.state);
                }
            }
        }
        Ok(SipFacts {
            person,
            units: loaded,
            // Rules of the policy profile, not facts of the stores: `SipFacts::under` sets them.
            chair_may_be_secretary: false,
            discharge_needs_track: false,
            own_consent_days_before_18: 0,
        })
    }

    /// This process appended to `stream` up to `version`: older entries are stale from now.
    pub fn note_appended(&self, stream: &str, version: i64) {
        if domain::ids::is_person_or_unit_stream(stream) {
            self.lock().bump(stream, version);
        }
    }

    /// Folds one delivered event into the cache.
    fn observe(&self, event: &RecordedEvent) {
        if !domain::ids::is_person_or_unit_stream(&event.stream_id) {
            return;
        }
        let mut inner = self.lock();
        inner.bump(&event.stream_id, event.stream_version);
        if let Some((version, state)) = inner.persons.get(&event.stream_id) {
            let next = next_state::<PersonAggregate>(*version, state, event);
            apply(&mut inner.persons, event, next);
        } else if let Some((version, state)) = inner.units.get(&event.stream_id) {
            let next = next_state::<UnitAggregate>(*version, state, event);
            apply(&mut inner.units, event, next);
        }
    }

    fn set_following(&self, following: bool) {
        let mut inner = self.lock();
        inner.reset();
        inner.following = following;
    }

    /// Follows the store from its head until `cancel` fires, restarting (with an empty cache)
    /// if the tail fails. While it does not run, the cache serves nothing.
    pub async fn follow(self, store: EventStore, cancel: CancellationToken) {
        loop {
            let result = tokio::select! {
                () = cancel.cancelled() => break,
                result = self.follow_once(&store) => result,
            };
            self.set_following(false);
            if let Err(e) = result {
                tracing::warn!(error = %e, "fact cache paused; commands read facts from the store");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(Duration::from_millis(RESTART_PAUSE_MS)) => {}
            }
        }
        self.set_following(false);
    }

    async fn follow_once(&self, store: &EventStore) -> Result<(), eventstore::StoreError> {
        let head = store.head_position().await?;
        let mut events = Box::pin(store.tail(head));
        self.set_following(true);
        while let Some(event) = events.next().await {
            self.observe(&event?);
        }
        Ok(())
    }
}

/// What a cached entry at `version` becomes with `event`: `Some(Some(state))` folded,
/// `Some(None)` dropped (a gap, or an event that does not decode), `None` unchanged (an event
/// the entry already holds).
fn next_state<A: Aggregate>(
    version: i64,
    state: &A::State,
    event: &RecordedEvent,
) -> Option<Option<A::State>>
where
    A::State: Clone,
{
    if event.stream_version <= version {
        return None;
    }
    if event.stream_version != version + 1 {
        return Some(None);
    }
    Some(
        A::decode(event)
            .ok()
            .map(|decoded| A::evolve(state.clone(), &decoded)),
    )
}

fn apply<S>(
    entries: &mut HashMap<String, (i64, S)>,
    event: &RecordedEvent,
    next: Option<Option<S>>,
) {
    match next {
        None => {}
        Some(Some(state)) => {
            entries.insert(event.stream_id.clone(), (event.stream_version, state));
        }
        Some(None) => {
            entries.remove(&event.stream_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventstore::Metadata;

    const STREAM: &str = "person-01ARZ3NDEKTSV4RRFFQ69G5FAV";

    fn following() -> FactCache {
        let cache = FactCache::default();
        cache.set_following(true);
        cache
    }

    /// An event of the stream at `version` that does not decode as a person event.
    fn event(version: i64) -> RecordedEvent {
        RecordedEvent {
            event_id: ulid::Ulid::from_parts(1, version as u128),
            global_position: version,
            stream_id: STREAM.into(),
            stream_version: version,
            event_type: "NotAPersonEvent".into(),
            schema_version: 1,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
            data: serde_json::value::RawValue::from_string("{}".into()).expect("json"),
            metadata: Metadata {
                actor: "a".into(),
                unit: None,
                role: "staff".into(),
                command_id: None,
                correlation_id: None,
                causation_id: None,
            },
            hash: String::new(),
        }
    }

    #[test]
    fn nothing_is_kept_or_served_while_nobody_follows_the_store() {
        let cache = FactCache::default();
        let generation = cache.generation();
        cache.put_person(STREAM, 1, PersonState::default(), generation);
        assert!(cache.person(STREAM).is_none());
    }

    #[test]
    fn an_entry_is_served_until_a_newer_version_is_known() {
        let cache = following();
        let generation = cache.generation();
        cache.put_person(STREAM, 2, PersonState::default(), generation);
        assert!(cache.person(STREAM).is_some());
        // An event the entry already holds changes nothing.
        cache.observe(&event(2));
        assert!(cache.person(STREAM).is_some());
        // This process appended version 3: the entry is stale at once.
        cache.note_appended(STREAM, 3);
        assert!(cache.person(STREAM).is_none());
        // A read that saw only version 2 is not kept now; one that saw 3 is.
        cache.put_person(STREAM, 2, PersonState::default(), generation);
        assert!(cache.person(STREAM).is_none());
        cache.put_person(STREAM, 3, PersonState::default(), generation);
        assert!(cache.person(STREAM).is_some());
    }

    #[test]
    fn a_gap_or_an_unreadable_event_drops_the_entry() {
        let cache = following();
        let generation = cache.generation();
        cache.put_person(STREAM, 1, PersonState::default(), generation);
        cache.observe(&event(3));
        assert!(cache.person(STREAM).is_none(), "version 2 was never seen");

        cache.put_person(STREAM, 3, PersonState::default(), generation);
        cache.observe(&event(4));
        assert!(cache.person(STREAM).is_none(), "version 4 does not decode");
    }

    #[test]
    fn a_read_begun_before_a_restart_is_not_kept() {
        let cache = following();
        let before = cache.generation();
        cache.set_following(true);
        cache.put_person(STREAM, 1, PersonState::default(), before);
        assert!(cache.person(STREAM).is_none());
        cache.put_person(STREAM, 1, PersonState::default(), cache.generation());
        assert!(cache.person(STREAM).is_some());
    }
}
