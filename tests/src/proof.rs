//! The checks the fault tests end with, in one place: every read model has caught up and equals
//! a fresh rebuild, and every event of the store is on the JetStream stream exactly once.

use std::collections::BTreeSet;

use async_nats::jetstream;
use eventstore::{EventStore, RecordedEvent};

/// Waits, up to a minute for each, until every read model has applied the store up to `head`.
pub async fn assert_read_models_applied(store: &EventStore, head: i64) {
    for name in projections::PROJECTIONS {
        projections::runner::applied(store.pool(), name, head, 60_000)
            .await
            .unwrap_or_else(|e| panic!("{name} did not catch up: {e}"));
    }
}

/// Every row of read model `name`, live and after a fresh rebuild, compared; the tables must
/// not be empty (an empty dump, say from a grant gone missing, would compare equal).
pub async fn assert_equals_rebuild(
    store: &EventStore,
    admin_url: &str,
    name: &str,
    settings: &projections::Settings,
) {
    let live = projections::runner::dump(store.pool(), name)
        .await
        .expect("dump");
    assert!(!live.is_empty(), "{name}: the live read model is empty");
    projections::rebuild(store, admin_url, name, settings)
        .await
        .expect("rebuild")
        .expect("a read model");
    let rebuilt = projections::runner::dump(store.pool(), name)
        .await
        .expect("dump");
    let only_live: Vec<&String> = live.iter().filter(|r| !rebuilt.contains(r)).collect();
    let only_rebuilt: Vec<&String> = rebuilt.iter().filter(|r| !live.contains(r)).collect();
    assert!(
        only_live.is_empty() && only_rebuilt.is_empty() && live.len() == rebuilt.len(),
        "{name}: live tables differ from a rebuild ({} and {} rows)\nonly live: {:?}\nonly rebuilt: {:?}",
        live.len(),
        rebuilt.len(),
        &only_live[..only_live.len().min(4)],
        &only_rebuilt[..only_rebuilt.len().min(4)],
    );
}

/// The stream holds one message per event of `events` (the whole store), each under its event's
/// id (`Nats-Msg-Id`), none twice, and in commit order (the relay's promise, DESIGN.md: a
/// consumer reading the stream from the start sees the store's order); `context` is added to a
/// failure's message.
pub async fn assert_each_event_once(
    stream: &mut jetstream::stream::Stream,
    events: &[RecordedEvent],
    context: &str,
) {
    let info = stream.info().await.expect("stream info").clone();
    assert_eq!(
        info.state.messages as usize,
        events.len(),
        "one message per event; stream state {:?}\n{context}",
        info.state
    );
    let mut published = BTreeSet::new();
    let mut previous: Option<i64> = None;
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let message = stream.get_raw_message(seq).await.expect("message");
        let position = serde_json::from_slice::<serde_json::Value>(&message.payload)
            .expect("an envelope")["global_position"]
            .as_i64()
            .expect("its position");
        assert!(
            previous.is_none_or(|p| p < position),
            "position {position} at stream sequence {seq} after position {previous:?}\n{context}"
        );
        previous = Some(position);
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str().to_owned())
            .expect("message id");
        assert!(
            published.insert(id.clone()),
            "event {id} published twice\n{context}"
        );
    }
    let ids: BTreeSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(
        published, ids,
        "the stream holds exactly the store's events\n{context}"
    );
}
