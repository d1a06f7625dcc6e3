//! Request extractors whose failures are problem documents with our codes instead of axum's
//! plain-text defaults: malformed JSON, unknown fields and wrong types are 400, an oversized body
//! is 413.

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

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            if text.contains("unknown field") {
                AppError::bad_request("unknown_field", format!("Okänt fält i begäran: {}", field_hint(&text)))
            } else if text.contains("missing field") {
                AppError::bad_request("missing_field", format!("Ett obligatoriskt fält saknas: {}", field_hint(&text)))
            } else {
                AppError::bad_request("invalid_body", format!("Ett fält har fel typ eller värde: {}", field_hint(&text)))
            }
        }
        JsonRejection::JsonSyntaxError(_) => {
            AppError::bad_request("malformed_json", "Begäran är inte giltig JSON.")
        }
        JsonRejection::MissingJsonContentType(_) => AppError::bad_request(
            "unsupported_media_type",
            "Begäran måste skickas som JSON (Content-Type: application/json).",
        ),
        JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge
        }
        other => AppError::bad_request("invalid_body", format!("Begäran kunde inte läsas ({}).", other.status())),
    }
}

/// serde's message names the field and position (no values), e.g. "unknown field `foo`, expected
/// one of … at line 1 column 7"; that is safe to echo and helps the client fix the request.
fn field_hint(text: &str) -> String {
    let cut = text.split(": ").last().unwrap_or(text);
    cut.chars().take(200).collect()
}
