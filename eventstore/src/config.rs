//! Connection settings of the store, with defaults that suit one service instance.

/// The largest serialized `data` of one event the store takes by default: 1 MiB less 64 KiB, so
/// that the event as the relay publishes it — the envelope (ids, positions, metadata, hash) and
/// the headers around the data — fits NATS's default largest message (`max_payload`, 1 MiB). At
/// 1 MiB of data, an outside review had one command's event stop the relay for good: NATS
/// refused the message, and nothing after it reached the stream.
pub const EVENT_DATA_BYTES_MAX: usize = 1024 * 1024 - 64 * 1024;

/// How the store connects and what it accepts. Durations are in milliseconds (unit last in the
/// name); zero disables that timeout.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `postgres://` URL of the role that may only INSERT and SELECT on `events`.
    pub database_url: String,
    /// Most connections the pool opens.
    pub pool_size_max: usize,
    /// How long opening one connection may take.
    pub connect_timeout_ms: u64,
    /// How long a caller waits for a free pooled connection before `Unavailable`.
    pub wait_timeout_ms: u64,
    /// Server-side `statement_timeout` of every pooled connection.
    pub statement_timeout_ms: u64,
    /// Largest serialized `data` of one event, in bytes.
    pub payload_bytes_max: usize,
    /// How often an idle tailer looks for new events when no wake-up arrives (in this process
    /// from the append itself, from other processes by NOTIFY). Only a safety net: a wake-up
    /// normally comes within milliseconds.
    pub tail_idle_poll_ms: u64,
    /// Group commit (ADR 0006, ADR 0009, ADR 0012): the most append transactions in flight at
    /// once. The first starts at once; another starts beside it only when a full batch waits or
    /// the one in flight has taken 5 ms; whatever waits meanwhile goes together in the next one.
    /// Zero turns group commit off: every append is its own transaction on its caller's
    /// connection.
    pub append_concurrency: usize,
    /// Most appends written together in one transaction.
    pub append_batch_max: usize,
    /// The TLS files for every connection (the pool's, the listener's, the projections' leases
    /// and rebuilds, which use the owner's connection string with these same files); whether TLS
    /// is used at all is the connection string's `sslmode` (ADR 0024).
    pub tls: crate::connect::DatabaseTls,
}

impl StoreConfig {
    /// Defaults: 16 connections, 5 s to connect, 5 s to wait for a connection, 30 s per
    /// statement, [`EVENT_DATA_BYTES_MAX`] per event, an idle tailer's safety poll every 250 ms,
    /// group commit over two transactions in flight of at most 64 appends each, and no TLS files.
    pub fn new(database_url: impl Into<String>) -> Self {
        StoreConfig {
            database_url: database_url.into(),
            pool_size_max: 16,
            connect_timeout_ms: 5_000,
            wait_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
            payload_bytes_max: EVENT_DATA_BYTES_MAX,
            tail_idle_poll_ms: 250,
            append_concurrency: 2,
            append_batch_max: 64,
            tls: crate::connect::DatabaseTls::default(),
        }
    }
}
