//! Tracing in one place: the one subscriber factory for the binary, and a quiet one for tests.
//!
//! What may be logged: request id, method, matched route (never the raw URI, whose query may hold
//! a personnummer), status, latency, command names, stream ids and positions. Never bodies,
//! personnummer or names of people; handlers must keep to that too.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber for the `samplan` binary. `filter` is `SAMPLAN_LOG`; an
/// invalid filter was already refused by the configuration.
pub fn init(filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_new(with_quiet_libraries(filter)).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry().with(filter);
    // `try_init` so that a second call (tests, or the CLI calling twice) is harmless.
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

/// PostgreSQL's NOTICEs ("relation already exists, skipping") arrive at INFO through
/// tokio-postgres and say nothing to an operator; keep them out unless the filter names it.
fn with_quiet_libraries(filter: &str) -> String {
    if filter.contains("tokio_postgres") {
        filter.to_string()
    } else {
        format!("{filter},tokio_postgres=warn")
    }
}

/// For tests and benchmarks: silent unless `SAMPLAN_LOG` or `RUST_LOG` asks for output, and then
/// written through the test harness's capture.
pub fn init_for_tests() {
    let Some(filter) = std::env::var("SAMPLAN_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|f| !f.trim().is_empty())
    else {
        return;
    };
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_test_writer())
        .try_init();
}
