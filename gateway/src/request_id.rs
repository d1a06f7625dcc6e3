//! The request id: taken from the client's (or a proxy's) `x-request-id` when it is short and
//! of the characters request and trace ids use (letters, digits, `-`, `_`, `.`, `:`), made
//! otherwise — it is written into every log line of the request, where `<`, `=` or `}` could
//! make a line say what the service did not (an outside review); put in the request's extensions (commands store it as their events'
//! correlation id), in the access log's scope, and echoed in the response.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The request id header, accepted from the client (or a proxy) and always echoed.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest client-supplied request id we keep; longer ones are replaced by our own.
const REQUEST_ID_LEN_MAX: usize = 64;

/// The id of the current request, in the request's extensions; also an extractor.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    /// The id the middleware set; a router used without the middleware (tests with `oneshot`)
    /// gets a fresh one.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(ulid::Ulid::generate().to_string())))
    }
}

/// Whether a request id from outside is kept: 1–64 of the characters ids are made of.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= REQUEST_ID_LEN_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The middleware that sets the request id (see the module documentation).
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = crate::access_log::with_request_id(id.clone(), next.run(req)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn ids_from_outside_are_kept_only_of_id_characters() {
        for id in [
            "abc-123",
            "01JGFJJZ000000006Y80004004",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "req_1.2:3",
        ] {
            assert!(acceptable(id), "{id}");
        }
        for id in [
            "",
            "<script>",
            "x}method=POST",
            "a b",
            "åäö",
            &"a".repeat(65),
        ] {
            assert!(!acceptable(id), "{id}");
        }
    }
}
