//! The stylesheet and the script, compiled into the binary and served by samplan itself (no
//! other host is ever asked for anything). Their URLs carry a digest of their content, so they
//! are cached for a year and a new release is fetched at once.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("assets/samplan.css");
const JS: &str = include_str!("assets/samplan.js");

fn versioned(name: &str, content: &str) -> String {
    let digest = hex::encode(Sha256::digest(content.as_bytes()));
    format!("/assets/{name}?v={}", &digest[..12])
}

/// `/assets/samplan.css?v=<digest>`.
pub(crate) static CSS_URL: LazyLock<String> = LazyLock::new(|| versioned("samplan.css", CSS));
/// `/assets/samplan.js?v=<digest>`.
pub(crate) static JS_URL: LazyLock<String> = LazyLock::new(|| versioned("samplan.js", JS));

/// `GET /assets/{file}`.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (content, kind) = match file.as_str() {
        "samplan.css" => (CSS, "text/css; charset=utf-8"),
        "samplan.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return super::WebError::NotFound.into_response(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        content,
    )
        .into_response()
}
