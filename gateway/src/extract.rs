//! Request extractors whose failures are problem documents with our codes instead of axum's
//! plain-text defaults: malformed JSON, unknown fields and wrong types are 400, an oversized body
//! is 413.
//!
//! [`parse_json`] is the one mapping from serde errors to problem codes; both [`ApiJson`] and the
//! command extractor (`crate::pipeline::Command`) use it, so a client sees the same codes for
//! every route.

use crate::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// `Json<T>` with problem-document rejections. Request DTOs use `#[serde(deny_unknown_fields)]`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Parses a JSON request body with the problem mapping of this module. An empty body is read
/// as `{}`, so commands without fields need no body at all.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| serde_rejection(&e))
}

/// Maps a serde_json error onto our codes; syntax errors and truncated input are malformed JSON,
/// everything else is about the content.
fn serde_rejection(e: &serde_json::Error) -> AppError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            AppError::bad_request("malformed_json", "Begäran är inte giltig JSON.")
        }
        Category::Data => data_rejection(&e.to_string()),
    }
}

/// Tells unknown and missing fields from wrong types by serde's (stable) message prefixes.
fn data_rejection(text: &str) -> AppError {
    if text.contains("unknown field") {
        AppError::bad_request(
            "unknown_field",
            format!("Okänt fält i begäran: {}", field_hint(text)),
        )
    } else if text.contains("missing field") {
        AppError::bad_request(
            "missing_field",
            format!("Ett obligatoriskt fält saknas: {}", field_hint(text)),
        )
    } else {
        AppError::bad_request(
            "invalid_body",
            format!("Ett fält har fel typ eller värde: {}", field_hint(text)),
        )
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => data_rejection(&e.body_text()),
        JsonRejection::JsonSyntaxError(_) => {
            AppError::bad_request("malformed_json", "Begäran är inte giltig JSON.")
        }
        JsonRejection::MissingJsonContentType(_) => AppError::bad_request(
            "unsupported_media_type",
            "Begäran måste skickas som JSON (Content-Type: application/json).",
        ),
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            AppError::PayloadTooLarge
        }
        other => AppError::bad_request(
            "invalid_body",
            format!("Begäran kunde inte läsas ({}).", other.status()),
        ),
    }
}

/// serde's message names the field and position (no values), e.g. "unknown field `foo`, expected
/// one of … at line 1 column 7"; that is safe to echo and helps the client fix the request.
fn field_hint(text: &str) -> String {
    let cut = text.split(": ").last().unwrap_or(text);
    cut.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // Only deserialised.
    struct Body {
        text: String,
        #[serde(default)]
        count: Option<u32>,
    }

    fn code(bytes: &[u8]) -> String {
        parse_json::<Body>(bytes)
            .expect_err("refused")
            .problem()
            .code
    }

    #[test]
    fn serde_errors_map_to_stable_codes() {
        assert!(parse_json::<Body>(br#"{"text": "x"}"#).is_ok());
        assert_eq!(code(br#"{"text": "x""#), "malformed_json");
        assert_eq!(code(b"not json"), "malformed_json");
        assert_eq!(code(br#"{"text": "x", "other": 1}"#), "unknown_field");
        assert_eq!(code(br#"{"count": 1}"#), "missing_field");
        assert_eq!(code(br#"{"text": 5}"#), "invalid_body");
        assert_eq!(code(br#"{"text": "x", "count": -1}"#), "invalid_body");
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Empty {}
        assert!(parse_json::<Empty>(b"").is_ok());
        assert!(parse_json::<Empty>(b"  \n").is_ok());
        assert_eq!(code(b""), "missing_field");
    }
}
