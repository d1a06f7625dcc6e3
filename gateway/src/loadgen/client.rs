//! A bare HTTP/1.1 client over one kept-alive loopback connection, as a load balancer holds
//! them: hyper's own client connection (axum's HTTP stack), no pool, reconnecting after an error.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long one request may take before it counts as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the gateway listens: a loopback address only.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    host: String,
}

impl Target {
    /// Parses `http://<loopback>:<port>`; anything that is not loopback is refused, so the
    /// generator cannot be pointed at a service somebody else runs.
    pub fn parse(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("--url {url:?} is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "--url {url:?}: only http:// on loopback is supported"
            ));
        }
        let host = uri.host().unwrap_or_default();
        let ip: IpAddr = match host {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            h => h
                .trim_matches(|c| c == '[' || c == ']')
                .parse()
                .map_err(|_| format!("--url {url:?}: the host must be a loopback address"))?,
        };
        if !ip.is_loopback() {
            return Err(format!(
                "--url {url:?}: the load generator sends only to loopback (127.0.0.0/8, ::1)"
            ));
        }
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(format!(
                "--url {url:?}: give the service's root, e.g. http://127.0.0.1:8080"
            ));
        }
        let port = uri.port_u16().unwrap_or(80);
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host: format!("{host}:{port}"),
        })
    }
}

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connecting: {0}")]
    Connect(std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
}

/// One connection to the gateway, opened on first use and again after a failure.
pub struct Conn {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(target: Target) -> Conn {
        Conn {
            target,
            sender: None,
        }
    }

    /// Sends one request with a bearer token (and a JSON body when given); the status and body.
    pub async fn send(
        &mut self,
        method: &hyper::Method,
        path: &str,
        token: &str,
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), ClientError> {
        let outcome =
            tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, token, body))
                .await
                .unwrap_or(Err(ClientError::Timeout));
        if outcome.is_err() {
            // A connection that failed once is not trusted again.
            self.sender = None;
        }
        outcome
    }

    async fn exchange(
        &mut self,
        method: &hyper::Method,
        path: &str,
        token: &str,
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), ClientError> {
        let sender = match &mut self.sender {
            Some(s) if !s.is_closed() => s,
            slot => slot.insert(connect(&self.target).await?),
        };
        sender.ready().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.target.host)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .expect("a request of valid parts");
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, ClientError> {
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .map_err(ClientError::Connect)?;
    stream.set_nodelay(true).map_err(ClientError::Connect)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors show on the next send.
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(Target::parse("http://127.0.0.1:8080").is_ok());
        assert!(Target::parse("http://localhost:8080/").is_ok());
        assert!(Target::parse("http://[::1]:8080").is_ok());
        for refused in [
            "http://10.0.0.1:8080",
            "http://example.org",
            "https://127.0.0.1:8443",
            "http://127.0.0.1:8080/api/v1",
            "127.0.0.1:8080",
        ] {
            assert!(Target::parse(refused).is_err(), "{refused} was accepted");
        }
    }
}
