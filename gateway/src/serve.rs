//! The HTTP/1.1 server loop: what `axum::serve` does (accept, serve each connection on its own
//! task, stop accepting on shutdown and let open connections finish), plus the limits that
//! `axum::serve` cannot set on hyper:
//!
//! - **A time to send the headers** ([`Limits::header_read_timeout_ms`]): a client that opens a
//!   connection and dribbles its request line and headers (slowloris) is disconnected when the
//!   time is up, instead of holding a task and a socket for ever. The same time bounds how long a
//!   kept-alive connection may stay idle, so it is set above a load balancer's idle timeout
//!   (nginx and cloud load balancers: 60 s), which then always closes first.
//! - **More headers parsed than allowed** ([`HEADERS_PARSED_MAX`]), so that a request with too
//!   many reaches the router and is refused there with a problem document in Swedish
//!   (`app::headers_within_limits`), not with hyper's empty 431.
//!
//! [`Limits::header_read_timeout_ms`]: crate::state::Limits::header_read_timeout_ms

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Most header fields hyper parses; beyond this it answers 431 with an empty body itself. The
/// router refuses more than [`crate::app::HEADERS_MAX`] in words.
pub const HEADERS_PARSED_MAX: usize = 256;

/// Serves `app` on `listener` until `stop` fires; then accepts nothing more and returns when
/// every open connection has finished its request in flight (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: CancellationToken,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_headers(HEADERS_PARSED_MAX);
    let connections = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: the listener itself is fine; wait a
                    // moment for connections to close rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Answers go out at once: with Nagle's algorithm a small write that follows another may
        // wait for the client's delayed acknowledgement.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
        let service = TowerToHyperService::new(app.clone());
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // A client that went away, or took too long with its headers.
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}
