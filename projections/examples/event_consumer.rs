//! A small consumer of samplan's events, as a reporting job or another system would write one.
//!
//! ```sh
//! cargo run -p projections --example event_consumer -- [SUBJECT_FILTER]
//! # e.g. only closed plans:
//! cargo run -p projections --example event_consumer -- 'samplan.events.sip.SipClosed'
//! ```
//!
//! It reads the JetStream stream `SAMPLAN_EVENTS` (`SAMPLAN_NATS_URL`, default
//! `nats://127.0.0.1:4222`; the embedded default's nats-server listens on the port its log
//! names) through a durable pull consumer: JetStream remembers what it has acknowledged, so a
//! restarted consumer goes on where it stopped, and each event arrives in commit order. Every
//! message is the stored event's envelope (API.md, "Events on NATS"); `Nats-Msg-Id` is the event
//! id, so a consumer that must not apply an event twice can keep the ids (or the positions) it
//! has applied.

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use futures::StreamExt;
use serde::Deserialize;

/// The fields this example uses; the envelope has more (data, metadata, hash…).
#[derive(Debug, Deserialize)]
struct Envelope {
    global_position: i64,
    stream_id: String,
    event_type: String,
    recorded_at: String,
    metadata: Metadata,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    unit: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), async_nats::Error> {
    let url = std::env::var("SAMPLAN_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let stream_name =
        std::env::var("SAMPLAN_NATS_STREAM").unwrap_or_else(|_| "SAMPLAN_EVENTS".into());
    let filter = std::env::args().nth(1);
    // A NATS that asks for a token (the embedded default's is in data/nats/nats-server.conf).
    let client = match std::env::var("SAMPLAN_NATS_TOKEN") {
        Ok(token) => {
            async_nats::ConnectOptions::with_token(token)
                .connect(&url)
                .await?
        }
        Err(_) => async_nats::connect(&url).await?,
    };
    let js = jetstream::new(client);
    let stream = js.get_stream(&stream_name).await?;
    let name = "reporting-example";
    let consumer = stream
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.into()),
                ack_policy: AckPolicy::Explicit,
                filter_subject: filter.unwrap_or_default(),
                ..Default::default()
            },
        )
        .await?;
    println!("reading {stream_name} at {url} as durable consumer {name} (Ctrl-C stops)");
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        match serde_json::from_slice::<Envelope>(&message.payload) {
            Ok(e) => println!(
                "{:>8} {} {:<28} {} {}",
                e.global_position,
                e.recorded_at,
                e.event_type,
                e.stream_id,
                e.metadata.unit.unwrap_or_default()
            ),
            Err(err) => eprintln!("not an envelope on {}: {err}", message.subject),
        }
        // Acknowledged after it is handled: a crash before this redelivers it.
        message.ack().await?;
    }
    Ok(())
}
