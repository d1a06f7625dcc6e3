//! The history of each plan a batch touches, as the store held it at the plan's last event in
//! the batch: what the patient and reporting read models fold, since they keep no state of
//! their own with drafts in it (ADR 0020).
//!
//! A plan whose every event up to then is in the batch itself — one started within the batch,
//! as every `POST /sips` is — is taken from the batch; only the others are read from the store,
//! all in one statement. Events never change, so both ways give the same history.

use std::collections::BTreeMap;

use domain::sip::SipEvent;
use eventstore::{EventStore, RecordedEvent};

use crate::error::ProjectionError;
use crate::runner::{decode, out_of_order};

/// Each plan of `last_of_plan` (stream → its last event in the batch) with its events from the
/// first up to that one, decoded. A stream that does not hold what its last event says came
/// before it is [`out_of_order`].
pub(crate) async fn plan_histories<'a>(
    store: &EventStore,
    events: &[&RecordedEvent],
    last_of_plan: &BTreeMap<&'a str, &RecordedEvent>,
) -> Result<BTreeMap<&'a str, Vec<SipEvent>>, ProjectionError> {
    let mut in_batch: BTreeMap<&str, Vec<&RecordedEvent>> = BTreeMap::new();
    for event in events {
        if last_of_plan.contains_key(event.stream_id.as_str()) {
            in_batch
                .entry(event.stream_id.as_str())
                .or_default()
                .push(event);
        }
    }
    let mut histories = BTreeMap::new();
    let mut missing: Vec<&'a str> = Vec::new();
    for (&stream, last) in last_of_plan {
        let here = in_batch.remove(stream).unwrap_or_default();
        let whole = here.len() as i64 == last.stream_version
            && here
                .iter()
                .zip(1..)
                .all(|(event, version)| event.stream_version == version);
        if whole {
            let decoded = here
                .into_iter()
                .map(|event| decode(event, SipEvent::decode_text))
                .collect::<Result<Vec<_>, _>>()?;
            histories.insert(stream, decoded);
        } else {
            missing.push(stream);
        }
    }
    let Some(until) = missing
        .iter()
        .filter_map(|stream| last_of_plan.get(stream))
        .map(|event| event.global_position)
        .max()
    else {
        return Ok(histories);
    };
    for recorded in store.read_streams_until(&missing, until).await? {
        let Some((&stream, last)) = last_of_plan.get_key_value(recorded.stream_id.as_str()) else {
            continue;
        };
        if recorded.stream_version <= last.stream_version {
            histories
                .entry(stream)
                .or_insert_with(Vec::new)
                .push(decode(&recorded, SipEvent::decode_text)?);
        }
    }
    for (&stream, last) in last_of_plan {
        let held = histories.get(stream).map_or(0, Vec::len);
        if held as i64 != last.stream_version {
            return Err(out_of_order(last));
        }
    }
    Ok(histories)
}
