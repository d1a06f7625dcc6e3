//! What every request handler shares: the event store, the token verifier, the policy, the clock,
//! the limits, the fact cache and the streams' turns. Built once at start-up by `app`, cloned
//! cheaply into every request.

use crate::auth::Verifier;
use crate::clock::Clock;
use crate::facts::FactCache;
use crate::keys::Keys;
use crate::turns::StreamTurns;
use domain::policy::PolicySet;
use eventstore::EventStore;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// Limits on what one request may cost. Units are in the names.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub body_bytes_max: usize,
    /// Longest a request may run before it is answered 503.
    pub request_timeout_ms: u64,
    /// Longest a read waits for `min_position`.
    pub wait_ms_max: u64,
    /// How long a command may go on deciding again after losing append races to other
    /// processes (commands of one process take turns and never race each other).
    pub conflict_wait_ms_max: u64,
    /// Longest a client may take to send a request's line and headers (slowloris), which is
    /// also how long a kept-alive connection may stay idle: above a load balancer's idle
    /// timeout, so that the load balancer closes first.
    pub header_read_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes_max: 64 * 1024,
            request_timeout_ms: 10_000,
            wait_ms_max: 5_000,
            conflict_wait_ms_max: 5_000,
            header_read_timeout_ms: 75_000,
        }
    }
}

/// Shared state of the HTTP service.
#[derive(Clone)]
pub struct AppState {
    pub store: EventStore,
    pub verifier: Arc<Verifier>,
    pub policy: Arc<PolicySet>,
    pub clock: Clock,
    pub limits: Limits,
    /// Renders `/metrics`; one recorder per process (metrics are global by design).
    pub metrics: PrometheusHandle,
    /// Where NATS is (configured or embedded), for the relay and `/readyz`; `None` when the
    /// process runs without NATS (tests of the HTTP layer).
    pub nats_url: Option<String>,
    /// Persons and units as SIP commands consult them, kept current from the store's tail
    /// (serves nothing until its follower runs; see `facts`).
    pub facts: FactCache,
    /// Commands on one stream take their turn in this process (`crate::turns`).
    pub turns: StreamTurns,
    /// The deployment's keys (`crate::keys`).
    pub keys: Keys,
    /// `/readyz` answers 503 while a read model is further behind than this.
    pub ready_lag_ms_max: u64,
    /// Where each unit's inbox stands, for live pushes (`GET /inbox/events`).
    pub live: projections::inbox::live::Listener,
    /// The access log's queue and writer: reads of personal data share its INSERTs (ADR 0018).
    pub access_log: crate::access_log::Writer,
    /// Who reads the plans of a child of 13 to 15 on Min plan (`SAMPLAN_YOUNG_TEEN_ACCESS`).
    pub young_teens: domain::citizen::YoungTeenAccess,
    /// A stop was asked for: `/readyz` answers 503 while requests are still served
    /// (`SAMPLAN_SHUTDOWN_DELAY_MS`).
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}
