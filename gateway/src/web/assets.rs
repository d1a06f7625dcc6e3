//! The stylesheet, the script and the icon, compiled into the binary and served by samplan itself (no
//! other host is ever asked for anything). Their URLs carry a digest of their content, so they
//! are cached for a year and a new release is fetched at once.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("assets/samplan.css");
const JS: &str = include_str!("assets/samplan.js");
const ICON: &str = include_str!("assets/samplan.svg");

fn versioned(name: &str, content: &str) -> String {
    let digest = hex::encode(Sha256::digest(content.as_bytes()));
    format!("/assets/{name}?v={}", &digest[..12])
}

/// `/assets/samplan.css?v=<digest>`.
pub(crate) static CSS_URL: LazyLock<String> = LazyLock::new(|| versioned("samplan.css", CSS));
/// `/assets/samplan.js?v=<digest>`.
pub(crate) static JS_URL: LazyLock<String> = LazyLock::new(|| versioned("samplan.js", JS));
/// `/assets/samplan.svg?v=<digest>`: the tab's icon (without it every page asked for a
/// `/favicon.ico` that does not exist).
pub(crate) static ICON_URL: LazyLock<String> = LazyLock::new(|| versioned("samplan.svg", ICON));

/// `GET /assets/{file}`.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (content, kind) = match file.as_str() {
        "samplan.css" => (CSS, "text/css; charset=utf-8"),
        "samplan.js" => (JS, "text/javascript; charset=utf-8"),
        "samplan.svg" => (ICON, "image/svg+xml"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_asset_a_page_links_is_served_with_its_type() {
        for (url, kind) in [
            (CSS_URL.as_str(), "text/css; charset=utf-8"),
            (JS_URL.as_str(), "text/javascript; charset=utf-8"),
            (ICON_URL.as_str(), "image/svg+xml"),
        ] {
            let file = url
                .trim_start_matches("/assets/")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            let answer = serve(Path(file)).await;
            assert_eq!(answer.status(), StatusCode::OK, "{url}");
            assert_eq!(answer.headers()[header::CONTENT_TYPE], kind, "{url}");
        }
        assert_eq!(
            serve(Path("favicon.ico".to_owned())).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
