//! Everything the gateway takes out of an HTTP request, with failures as problem documents with
//! our codes instead of axum's plain-text defaults:
//!
//! - [`Caller`] from `Authorization: Bearer <JWT>` (401 with a `token_*` code);
//! - [`Command`]: a write's JSON body and its [`WriteMeta`] (`Idempotency-Key`, `If-Match`, the
//!   request's hash); [`ApiQuery`] for query strings.
//!
//! Malformed JSON, unknown fields, a key named twice in one object and wrong types are 400, an
//! oversized body is 413, text with control characters is 422 (`crate::text`). [`parse_json`] is
//! the one mapping from serde errors to problem codes, so a client sees the same codes for every
//! route.

use crate::auth::{token_error, Caller};
use crate::error::AppError;
use crate::pipeline::WriteMeta;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Longest `Idempotency-Key` accepted (API.md).
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 64;

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(token_error(
                "token_missing",
                "Inloggning krävs: skicka en token i Authorization: Bearer <token>.",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                token_error(
                    "token_malformed",
                    "Authorization-huvudet måste ha formen Bearer <token>.",
                )
            })?;
        state.verifier.verify(token)
    }
}

/// A command request: the parsed body and its [`WriteMeta`].
///
/// Reads and parses the body itself (rather than wrapping `Json`) because the idempotency hash
/// must cover the bytes the client sent. JSON errors map as in [`parse_json`]: 400
/// `malformed_json`, `unknown_field`, `missing_field`, `duplicate_key`, `invalid_body`; 422
/// `invalid_characters`; a body over `limits.body_bytes_max` is 413.
#[derive(Debug)]
pub struct Command<T> {
    pub body: T,
    pub meta: WriteMeta,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Command<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let headers = req.headers().clone();
        check_content_type(&headers)?;
        let limit = state.limits.body_bytes_max;
        if content_length(&headers).is_some_and(|len| len > limit) {
            return Err(AppError::PayloadTooLarge);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("invalid_body", "Begäran kunde inte läsas.")
            }
        })?;
        if bytes.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        let meta = WriteMeta {
            idempotency_key: idempotency_key(&headers)?,
            if_match: if_match(&headers)?,
            request_hash: request_hash(method.as_str(), &path, &bytes),
        };
        let body = parse_json(&bytes)?;
        Ok(Command { body, meta })
    }
}

/// SHA-256 over method, path and body, separated so that no two requests share the bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().to_vec()
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A body sent as something other than JSON is refused; no Content-Type is tolerated, since
/// several commands have no body at all.
fn check_content_type(headers: &HeaderMap) -> Result<(), AppError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
    let mime = mime.trim().to_ascii_lowercase();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "unsupported_media_type",
            "Begäran måste skickas som JSON (Content-Type: application/json).",
        ))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        AppError::bad_request(
            "invalid_idempotency_key",
            format!(
                "Idempotency-Key ska vara 1–{IDEMPOTENCY_KEY_CHARS_MAX} synliga tecken (ASCII)."
            ),
        )
    };
    let key = value.to_str().map_err(|_| bad())?.trim();
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_CHARS_MAX || !printable {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// `If-Match: "<version>"` (the quotes of an entity tag; a bare number is accepted too).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        AppError::bad_request(
            "invalid_if_match",
            "If-Match ska innehålla den version du läste, t.ex. If-Match: \"3\".",
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let version: i64 = text.parse().map_err(|_| bad())?;
    if version < 0 {
        return Err(bad());
    }
    Ok(Some(version))
}

/// A query string read as `T` (a struct with `deny_unknown_fields`), each parameter checked for
/// control characters first: 400 `unknown_parameter` / `invalid_parameter`, 422
/// `invalid_characters`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(query_error)?
            .0;
        for (name, value) in &pairs {
            crate::text::check_str(name, name)?;
            crate::text::check_str(name, value)?;
        }
        let Query(value) = Query::<T>::try_from_uri(&parts.uri).map_err(query_error)?;
        Ok(ApiQuery(value))
    }
}

fn query_error(rejection: QueryRejection) -> AppError {
    let text = rejection.body_text();
    let code = if text.contains("unknown field") {
        "unknown_parameter"
    } else {
        "invalid_parameter"
    };
    let hint: String = text
        .split(": ")
        .last()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    AppError::bad_request(code, format!("Felaktig parameter i adressen: {hint}"))
}

/// Parses a JSON request body with the problem mapping of this module. An empty body is read
/// as `{}`, so commands without fields need no body at all. Control characters in any string are
/// refused first (`crate::text`), then an object that names a key twice ([`check_unique_keys`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    crate::text::check_json(bytes)?;
    check_unique_keys(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| serde_rejection(&e))
}

/// Refuses (400 `duplicate_key`) a JSON text in which one object names the same key twice, at any
/// depth, escaped or not (`{"a": 1, "\u0061": 2}`). serde_json keeps the last value of such a key
/// in a `Value` and so in every body read as `Value` first, while a typed body refuses it as a
/// type error: which value counts would depend on the route, and a proxy or client library that
/// keeps the first would see another request than the one recorded. A text that is not JSON
/// passes here and is refused by the parser with its own code.
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), AppError> {
    use serde::de::DeserializeSeed;
    let duplicate = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = UniqueKeys(&duplicate)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    // Not JSON at all: the parser names what is wrong.
    let (Ok(()), Some(key)) = (parsed, duplicate.into_inner()) else {
        return Ok(());
    };
    let shown: String = key
        .chars()
        .filter(|c| crate::text::is_allowed(*c))
        .take(200)
        .collect();
    Err(AppError::bad_request(
        "duplicate_key",
        format!(
            "Fältet \u{201d}{shown}\u{201d} förekommer mer än en gång i samma objekt. Skicka \
             varje fält en gång."
        ),
    ))
}

/// Walks a JSON value without keeping it, noting the first key an object repeats (and reading on,
/// so that a text that is not JSON after all is still told as such). serde_json's recursion limit
/// bounds the depth.
#[derive(Clone, Copy)]
struct UniqueKeys<'a>(&'a std::cell::RefCell<Option<String>>);

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                self.0.borrow_mut().get_or_insert(key);
            } else {
                keys.insert(key);
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
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

/// serde's message names the field and position, e.g. "unknown field `foo`, expected one of … at
/// line 1 column 7"; that helps the client fix the request. It can quote what was sent (an unknown
/// enum variant), also from a body whose control characters `crate::text` could not see because
/// the body turns out not to be JSON further on: such characters are left out of the echo.
fn field_hint(text: &str) -> String {
    let cut = text.split(": ").last().unwrap_or(text);
    cut.chars()
        .filter(|c| crate::text::is_allowed(*c))
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    #[test]
    fn if_match_takes_the_entity_tag_form_and_refuses_anything_else() {
        assert_eq!(if_match(&headers(&[])).ok(), Some(None));
        assert_eq!(
            if_match(&headers(&[("if-match", "\"7\"")])).ok(),
            Some(Some(7))
        );
        assert_eq!(
            if_match(&headers(&[("if-match", "W/\"7\"")])).ok(),
            Some(Some(7))
        );
        assert_eq!(if_match(&headers(&[("if-match", "7")])).ok(), Some(Some(7)));
        for bad in ["\"sju\"", "*", "\"-1\"", "\"\""] {
            let err = if_match(&headers(&[("if-match", bad)])).expect_err(bad);
            assert_eq!(err.problem().code, "invalid_if_match", "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_short_and_printable() {
        assert_eq!(idempotency_key(&headers(&[])).ok(), Some(None));
        let ok = "a".repeat(IDEMPOTENCY_KEY_CHARS_MAX);
        assert_eq!(
            idempotency_key(&headers(&[("idempotency-key", &ok)])).ok(),
            Some(Some(ok.clone()))
        );
        for bad in [
            "a".repeat(IDEMPOTENCY_KEY_CHARS_MAX + 1),
            String::new(),
            "a b".into(),
        ] {
            let err = idempotency_key(&headers(&[("idempotency-key", &bad)])).expect_err(&bad);
            assert_eq!(err.problem().code, "invalid_idempotency_key");
        }
    }

    #[test]
    fn the_request_hash_covers_method_path_and_body() {
        let base = request_hash("POST", "/api/v1/sips/x/close-plan", b"{}");
        assert_eq!(
            base,
            request_hash("POST", "/api/v1/sips/x/close-plan", b"{}")
        );
        assert_ne!(
            base,
            request_hash("POST", "/api/v1/sips/y/close-plan", b"{}")
        );
        assert_ne!(
            base,
            request_hash("POST", "/api/v1/sips/x/close-plan", b"{ }")
        );
        assert_ne!(
            base,
            request_hash("PUT", "/api/v1/sips/x/close-plan", b"{}")
        );
        // The separator keeps path and body apart.
        assert_ne!(
            request_hash("POST", "/a", b"b"),
            request_hash("POST", "/ab", b"")
        );
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        assert!(check_content_type(&headers(&[])).is_ok());
        assert!(check_content_type(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )]))
        .is_ok());
        assert!(check_content_type(&headers(&[(
            "content-type",
            "application/merge-patch+json"
        )]))
        .is_ok());
        let err =
            check_content_type(&headers(&[("content-type", "text/plain")])).expect_err("text");
        assert_eq!(err.problem().code, "unsupported_media_type");
    }

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
        assert_eq!(code(br#"{"text": "x\u0000"}"#), "invalid_characters");
        assert_eq!(code(br#"{"text": "x", "text": "y"}"#), "duplicate_key");
    }

    #[test]
    fn what_serde_quotes_back_holds_no_control_characters() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)] // Only deserialised.
        enum Kind {
            Outpatient,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)] // Only deserialised.
        struct WithKind {
            kind: Kind,
        }
        // Not JSON after the variant (so the control-character scan lets it pass), but the
        // unknown variant is refused first, quoting what was sent.
        for body in [
            &b"{\"kind\": \"\x7fdis\"} trailing"[..],
            &b"{\"kind\": \"a\\u001b[31mb\", ]"[..],
            &b"{\"kind\": \"a\xc2\x85b\" x"[..],
        ] {
            let err = parse_json::<WithKind>(body).expect_err("refused");
            let problem = err.problem();
            assert_eq!(problem.code, "invalid_body", "{problem:?}");
            assert!(
                problem.detail.chars().all(crate::text::is_allowed),
                "{:?}",
                problem.detail
            );
        }
    }

    #[test]
    fn a_key_named_twice_in_one_object_is_refused_at_any_depth() {
        fn refused(json: &str) -> Option<String> {
            check_unique_keys(json.as_bytes())
                .err()
                .map(|e| format!("{} {}", e.problem().code, e.problem().detail))
        }
        for (json, key) in [
            (r#"{"a": 1, "a": 1}"#, "a"),
            (r#"{"a": 1, "b": 2, "a": 3}"#, "a"),
            (r#"{"a": 1, "\u0061": 2}"#, "a"),
            (r#"{"x": {"name": "A", "name": "B"}}"#, "name"),
            (r#"[1, {"ok": [{"k": null, "k": null}]}]"#, "k"),
            (r#"{"åäö": 1, "\u00e5äö": 2}"#, "åäö"),
        ] {
            let answer = refused(json).unwrap_or_else(|| panic!("{json} was accepted"));
            assert!(answer.starts_with("duplicate_key "), "{json}: {answer}");
            assert!(
                answer.contains(&format!("\u{201d}{key}\u{201d}")),
                "{json}: {answer}"
            );
        }
        for ok in [
            r#"{"a": {"a": {"a": 1}}}"#,
            r#"[{"a": 1}, {"a": 2}]"#,
            r#"{"a": 1, "A": 2, "a ": 3}"#,
            r#"{}"#,
            r#"[]"#,
            r#""text""#,
            // Not JSON: left to the parser, which answers malformed_json.
            r#"{"a": 1, "a""#,
            "not json",
        ] {
            assert_eq!(refused(ok), None, "{ok}");
        }
        // A body read as any JSON (the person commands) is refused like a typed one.
        let err = parse_json::<serde_json::Value>(br#"{"phone": "1", "phone": "2"}"#)
            .expect_err("duplicate");
        assert_eq!(err.problem().code, "duplicate_key");
        assert_eq!(err.problem().status, 400);
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
