//! Everything the gateway takes out of an HTTP request, with failures as problem documents with
//! our codes instead of axum's plain-text defaults:
//!
//! - [`Caller`] from `Authorization: Bearer <JWT>` (401 with a `token_*` code), a staff caller
//!   only for a unit registered in samplan (403 `unit_unknown`);
//! - the role-checked callers [`Staff`], [`Admin`], [`Auditor`], [`Citizen`], [`Reporting`] and
//!   [`StaffOrAdmin`] (403 `role_not_allowed`): as parts of the request they are taken before the
//!   query string and the body, so a caller who may not use a route is told 403 whatever they
//!   sent, and learns nothing of what the route would accept;
//! - [`Command`]: a write's JSON body and its [`WriteMeta`] (`Idempotency-Key`, `If-Match`, the
//!   request's hash); [`ApiQuery`] for query strings.
//!
//! Malformed JSON, unknown fields, a key named twice in one object and wrong types are 400, an
//! oversized body is 413, text with control characters is 422 (`crate::text`). [`parse_json`] and
//! [`ApiQuery`] are the one mapping from serde errors to problem codes, so a client sees the same
//! codes for every route, with a Swedish detail that names the field or parameter ([`swedish`]).

use crate::auth::{token_error, Caller};
use crate::error::AppError;
use crate::facts::UnitStanding;
use crate::pipeline::WriteMeta;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use domain::context::Role;
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
        let token = bearer(value).ok_or_else(|| {
            token_error(
                "token_malformed",
                "Authorization-huvudet måste ha formen Bearer <token>.",
            )
        })?;
        let caller = state.verifier.verify(token)?;
        check_staff_unit(state, &caller).await?;
        Ok(caller)
    }
}

/// The token of an `Authorization: Bearer <token>` header, if it has that form.
pub fn bearer(value: &axum::http::HeaderValue) -> Option<&str> {
    value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
}

/// Refuses (403 `unit_unknown`) a staff caller whose token names a unit that is not registered
/// in samplan. A correctly signed token proves who issued it, not that the unit exists here: an
/// identity provider's typo or a unit not yet registered would otherwise start plans nobody
/// can find by unit, and log reads with no care provider (the loggutdrag must name one).
///
/// Refuses (403 `unit_outside_samplan`) one whose unit is registered as reached by letter: it
/// has no inbox, its part is documented by the coordinator ("för aktörer utan samplan"), and
/// staff acting for it in samplan would document it twice and read plans as a unit that only
/// gets letters.
///
/// On every staff request: the answer comes from the fact cache (a lock and a map look-up; an
/// unknown unit is remembered too), and only a miss reads the unit's stream. The web's session
/// should apply it as well (`web::session` verifies its cookie itself).
pub async fn check_staff_unit(state: &AppState, caller: &Caller) -> Result<(), AppError> {
    let (Role::Staff, Some(unit)) = (caller.role, &caller.unit) else {
        return Ok(());
    };
    let shown = || -> String {
        unit.as_str()
            .chars()
            .filter(|c| crate::text::is_allowed(*c))
            .take(64)
            .collect()
    };
    match state.facts.unit_standing(&state.store, unit).await? {
        UnitStanding::InSamplan => Ok(()),
        UnitStanding::Unknown => Err(AppError::forbidden(
            "unit_unknown",
            format!(
                "Enheten i inloggningen (\u{201d}{}\u{201d}) är inte registrerad i samplan. Logga \
                 in för en registrerad enhet, eller be en administratör registrera enheten.",
                shown()
            ),
        )),
        UnitStanding::OutsideSamplan => Err(AppError::forbidden(
            "unit_outside_samplan",
            format!(
                "Enheten i inloggningen (\u{201d}{}\u{201d}) är registrerad som en aktör som inte \
                 använder samplan: den nås med brev och samordnaren dokumenterar dess del. Logga \
                 in för en enhet som arbetar i samplan.",
                shown()
            ),
        )),
    }
}

/// Generates a caller that must have a role, checked as a part of the request: axum takes the
/// parts (path, query, this) in the handler's order before the body, so a handler that names
/// it before its `ApiQuery` and `Command` refuses a caller of another role (403) before reading
/// what they sent.
macro_rules! role_checked {
    ($($(#[$doc:meta])* $name:ident => |$caller:ident| $check:expr;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone)]
            pub struct $name(pub Caller);

            impl FromRequestParts<AppState> for $name {
                type Rejection = AppError;

                async fn from_request_parts(
                    parts: &mut Parts,
                    state: &AppState,
                ) -> Result<Self, Self::Rejection> {
                    let $caller = Caller::from_request_parts(parts, state).await?;
                    $check?;
                    Ok($name($caller))
                }
            }

            impl std::ops::Deref for $name {
                type Target = Caller;

                fn deref(&self) -> &Caller {
                    &self.0
                }
            }
        )+
    };
}

role_checked! {
    /// A staff member acting for a registered unit.
    Staff => |caller| caller.staff_unit();
    /// An administrator.
    Admin => |caller| caller.require_role(Role::Admin);
    /// An auditor.
    Auditor => |caller| caller.require_role(Role::Auditor);
    /// A citizen (Min plan).
    Citizen => |caller| caller.require_role(Role::Citizen);
    /// The reporting role.
    Reporting => |caller| caller.require_role(Role::Reporting);
    /// Staff or an administrator (the list of units).
    StaffOrAdmin => |caller| match caller.role {
        Role::Admin => Ok(()),
        _ => caller.require_role(Role::Staff),
    };
}

/// A command request: the parsed body and its [`WriteMeta`].
///
/// Reads and parses the body itself (rather than wrapping `Json`) because the idempotency hash
/// covers the body as the client meant it ([`canonical_json`]). JSON errors map as in
/// [`parse_json`]: 400
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
        let idempotency_key = idempotency_key(&headers)?;
        let if_match = if_match(&headers)?;
        let body = parse_json(&bytes)?;
        // The hash is compared only when a retry names the same key; without one it is stored
        // nowhere, and the body need not be read twice.
        let request_hash = if idempotency_key.is_some() {
            request_hash(method.as_str(), &path, &canonical_json(&bytes)?)
        } else {
            request_hash(method.as_str(), &path, &bytes)
        };
        let meta = WriteMeta {
            idempotency_key,
            if_match,
            request_hash,
        };
        Ok(Command { body, meta })
    }
}

/// The body as the client meant it, in one spelling: the JSON value written again without
/// whitespace, every object's keys sorted, strings and numbers as serde_json writes them. A
/// retry that a client library serialises anew (other spacing, key order or escapes) is then
/// the same request under its `Idempotency-Key`. The keys are sorted here rather than left to
/// `serde_json::Map`, whose order is insertion order if any crate of the build enables
/// serde_json's `preserve_order`. An empty body reads as `{}`, as [`parse_json`] reads it.
///
/// Only called on a body [`parse_json`] accepted, so it is JSON with no key named twice.
pub fn canonical_json(bytes: &[u8]) -> Result<Vec<u8>, AppError> {
    fn write(value: &serde_json::Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, key)?;
                    out.push(b':');
                    write(value, out)?;
                }
                out.push(b'}');
            }
            serde_json::Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out)?;
                }
                out.push(b']');
            }
            scalar => serde_json::to_writer(&mut *out, scalar)?,
        }
        Ok(())
    }
    let value: serde_json::Value = parse_json(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    write(&value, &mut out).map_err(AppError::internal)?;
    Ok(out)
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
        Err(AppError::UnsupportedMediaType)
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
    // RFC 9110 compares If-Match strongly, so a weak tag would never match; but a proxy that
    // compresses answers weakens the ETag it passes on (`W/"7"`), and a client echoing it means
    // the same version. Taken as that version rather than refused for ever.
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
/// `invalid_characters`, with a Swedish detail that names the parameter.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Reads a query string as `T`, with the problem mapping of [`ApiQuery`].
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        crate::text::check_str(&name, &name)?;
        crate::text::check_str(&name, &value)?;
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path().to_string();
        let (code, detail) = swedish(Place::Query, &path, &message);
        AppError::bad_request(code, detail)
    })
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
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // serde_json reports an enum given a number, `true` or a list ("expected value") as
        // a syntax error, though the text is JSON: the field has the wrong type.
        // (Only that: a nesting too deep is a syntax error too, and stays one.)
        let expected_value = matches!(e.inner().classify(), serde_json::error::Category::Syntax)
            && e.inner().to_string().starts_with("expected value");
        if expected_value && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            let path = shown_path(&e.path().to_string());
            AppError::bad_request(
                "invalid_body",
                format!("Fältet {path} har fel typ: se API-beskrivningen för vad det ska vara."),
            )
        } else {
            serde_rejection(&e)
        }
    })?;
    // Trailing characters after the value: not JSON.
    de.end()
        .map_err(|_| AppError::bad_request("malformed_json", "Begäran är inte giltig JSON."))?;
    Ok(value)
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

/// A field's or parameter's path as a refusal names it: the keys as sent (also an unknown one),
/// without the leading `.`, control characters or more than 200 characters.
fn shown_path(path: &str) -> String {
    path.trim_start_matches('.')
        .chars()
        .filter(|c| crate::text::is_allowed(*c))
        .take(200)
        .collect()
}

/// Where a serde error arose: the body's fields or the address's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Body,
    Query,
}

/// Maps a serde_json error onto our codes; syntax errors and truncated input are malformed JSON,
/// everything else is about the content, told in Swedish by [`swedish`].
fn serde_rejection(e: &serde_path_to_error::Error<serde_json::Error>) -> AppError {
    use serde_json::error::Category;
    match e.inner().classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            AppError::bad_request("malformed_json", "Begäran är inte giltig JSON.")
        }
        Category::Data => {
            let (code, detail) =
                swedish(Place::Body, &e.path().to_string(), &e.inner().to_string());
            AppError::bad_request(code, detail)
        }
    }
}

/// The code and a Swedish detail for serde's (English) message about `path` (a field such as
/// `context.kind`, or a query parameter; `.` for the whole body). serde's message texts are
/// stable: "unknown field `x`, expected one of `a`, `b`", "missing field `x`", "invalid type:
/// integer `5`, expected a string", "unknown variant …", chrono's and the integer and boolean
/// parsers' words. The detail names the field or parameter and what it should be, so the client
/// can fix the request; what was sent is echoed only as serde quotes it, without control
/// characters (a body that turns out not to be JSON further on was never scanned for them).
pub fn swedish(place: Place, path: &str, message: &str) -> (&'static str, String) {
    // serde_json adds where in the text it stopped; the field's name says more.
    let message = match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => &message[..i],
        _ => message,
    };
    let message: String = message
        .chars()
        .filter(|c| crate::text::is_allowed(*c))
        .take(300)
        .collect();
    let message = message.as_str();
    let path = shown_path(path);
    let path = path.as_str();
    let things = match place {
        Place::Body => "fält",
        Place::Query => "parametrar",
    };
    let (unknown_code, missing_code, invalid_code) = match place {
        Place::Body => ("unknown_field", "missing_field", "invalid_body"),
        Place::Query => (
            "unknown_parameter",
            "missing_parameter",
            "invalid_parameter",
        ),
    };
    // Where an unknown field was found when it is not at the top of the body.
    let within = if path.is_empty() || place == Place::Query {
        String::new()
    } else {
        format!(" (i `{path}`)")
    };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = split_expected(rest);
        let valid = match expected {
            Some(list) if !list.is_empty() => {
                format!(" Tillåtna {things}: {}.", swedish_list(list))
            }
            _ => format!(" Här finns inga {things}."),
        };
        let detail = match place {
            Place::Body => format!("Okänt fält i begäran{within}: {name}.{valid}"),
            Place::Query => format!("Okänd parameter i adressen: {name}.{valid}"),
        };
        return (unknown_code, detail);
    }
    if let Some(name) = message.strip_prefix("missing field ") {
        let name = name.trim();
        let detail = match place {
            Place::Body if path.is_empty() => {
                format!("Ett obligatoriskt fält saknas: {name}.")
            }
            Place::Body => format!("Ett obligatoriskt fält saknas i `{path}`: {name}."),
            Place::Query => format!("Parametern {name} saknas i adressen."),
        };
        return (missing_code, detail);
    }
    if let Some(name) = message.strip_prefix("duplicate field ") {
        let detail = match place {
            Place::Body => format!("Fältet {} förekommer mer än en gång.", name.trim()),
            Place::Query => format!("Parametern {} anges mer än en gång.", name.trim()),
        };
        return (invalid_code, detail);
    }
    let subject = if path.is_empty() {
        match place {
            Place::Body => "Begäran".to_owned(),
            Place::Query => "En parameter".to_owned(),
        }
    } else {
        let capitalised = match place {
            Place::Body => "Fältet",
            Place::Query => "Parametern",
        };
        format!("{capitalised} `{path}`")
    };
    (
        invalid_code,
        format!("{subject} {}", what_is_wrong(message)),
    )
}

/// "`x`, expected one of `a`, `b`" → ("`x`", Some("`a`, `b`")).
fn split_expected(rest: &str) -> (&str, Option<&str>) {
    if let Some((name, expected)) = rest.split_once(", expected one of ") {
        (name.trim(), Some(expected.trim()))
    } else if let Some((name, expected)) = rest.split_once(", expected ") {
        (name.trim(), Some(expected.trim()))
    } else if let Some((name, _)) = rest.split_once(", there are no ") {
        (name.trim(), None)
    } else {
        (rest.trim(), None)
    }
}

/// serde's list of what it expected, in Swedish: "`a` or `b`" is "`a` eller `b`" (a longer
/// list is only commas).
fn swedish_list(list: &str) -> String {
    list.replace("` or `", "` eller `")
}

/// The rest of a Swedish sentence about a value serde refused, from serde's `message`.
fn what_is_wrong(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (value, expected) = split_expected(rest);
        return match expected {
            Some(list) => format!(
                "har ett okänt värde, {value}. Tillåtna värden: {}.",
                swedish_list(list)
            ),
            None => format!("har ett okänt värde, {value}."),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return format!(
                "har fel typ: {} där {} väntades.",
                unexpected(got),
                expected_sv(expected)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return format!(
                "har ett otillåtet värde: {} (väntat: {}).",
                unexpected(got),
                expected_sv(expected)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return format!(
                "har fel längd ({}); väntat: {}.",
                got.trim(),
                expected_sv(expected)
            );
        }
    }
    let sentence = match message {
        // The integer parsers (query parameters and numbers in text).
        "invalid digit found in string" => "ska vara ett heltal.",
        "cannot parse integer from empty string" => "ska vara ett heltal, men är tom.",
        "number too large to fit in target type" => "är ett för stort tal.",
        "number too small to fit in target type" => "är ett för litet tal.",
        "invalid float literal" => "ska vara ett tal.",
        // The boolean parser.
        "provided string was not `true` or `false`" => "ska vara true eller false.",
        // chrono's parsers of dates and times.
        "premature end of input"
        | "input contains invalid characters"
        | "trailing input"
        | "input is out of range"
        | "input is not enough for unique date and time"
        | "no possible date and time matching input"
        | "bad or unsupported format string"
        | "input is not enough for unique date and time or is out of range" => {
            "ska vara ett giltigt datum (ÅÅÅÅ-MM-DD) eller en tidpunkt med tidszon (RFC 3339, \
             t.ex. 2026-03-10T09:00:00+01:00)."
        }
        _ => "har fel typ eller värde.",
    };
    sentence.to_owned()
}

/// serde's description of what was sent ("integer `5`", "string \"x\"", …), in Swedish.
fn unexpected(got: &str) -> String {
    let got = got.trim();
    let quoted = |prefix: &str| got.strip_prefix(prefix).map(str::trim);
    if let Some(v) = quoted("integer") {
        format!("heltalet {v}")
    } else if let Some(v) = quoted("floating point") {
        format!("talet {v}")
    } else if let Some(v) = quoted("boolean") {
        format!("sanningsvärdet {v}")
    } else if let Some(v) = quoted("string") {
        format!("texten {v}")
    } else if let Some(v) = quoted("character") {
        format!("tecknet {v}")
    } else {
        match got {
            "null" => "null".to_owned(),
            "sequence" => "en lista".to_owned(),
            "map" => "ett objekt".to_owned(),
            "unit value" | "unit" => "ett tomt värde".to_owned(),
            "newtype struct" | "enum" | "unit variant" | "newtype variant" | "tuple variant"
            | "struct variant" => "ett värde av fel slag".to_owned(),
            other => format!("\u{201d}{other}\u{201d}"),
        }
    }
}

/// serde's "expected …" (the type's own words), in Swedish where it is one of the common ones.
fn expected_sv(expected: &str) -> String {
    let expected = expected.trim();
    match expected {
        "a string" | "a borrowed string" | "string" => "en text".to_owned(),
        "a boolean" | "bool" => "true eller false".to_owned(),
        "a sequence" | "a list" => "en lista".to_owned(),
        "a map" | "an object" => "ett objekt".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
        | "an integer" | "integer" => "ett heltal".to_owned(),
        "f32" | "f64" | "a number" => "ett tal".to_owned(),
        "a character" | "char" => "ett tecken".to_owned(),
        "a formatted date and time string or a unix timestamp"
        | "a formatted date and time string"
        | "a formatted date string"
        | "a RFC 3339 formatted date and time string" => {
            "ett datum (ÅÅÅÅ-MM-DD) eller en tidpunkt med tidszon (RFC 3339)".to_owned()
        }
        other if other.starts_with("struct ") || other.starts_with("internally tagged enum") => {
            "ett objekt".to_owned()
        }
        other if other.starts_with("enum ") || other.starts_with("variant identifier") => {
            "ett av de tillåtna värdena".to_owned()
        }
        other if other.starts_with("a ULID") || other.contains("ULID") => {
            "ett id (ULID)".to_owned()
        }
        other if other.starts_with("a sequence") || other.starts_with("tuple") => {
            "en lista".to_owned()
        }
        other if other.starts_with("an array of length") || other.starts_with("a list of") => {
            "en lista".to_owned()
        }
        _ => "ett annat värde".to_owned(),
    }
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
    fn what_serde_expected_is_listed_in_swedish() {
        assert_eq!(
            swedish_list("`as_of` or `min_position`"),
            "`as_of` eller `min_position`"
        );
        assert_eq!(swedish_list("`a`, `b`, `c`"), "`a`, `b`, `c`");
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
        assert_eq!(err.problem().status, 415);
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
        // JSON whose field has the wrong type is not malformed, also where serde_json calls it
        // a syntax error (an enum given a number).
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        #[serde(rename_all = "snake_case")]
        enum Reason {
            GoalsMet,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Close {
            reason: Reason,
        }
        let refusal = parse_json::<Close>(br#"{"reason": 5}"#).expect_err("refused");
        let problem = refusal.problem();
        assert_eq!(problem.code, "invalid_body");
        assert!(problem.detail.contains("reason"), "{}", problem.detail);
        assert_eq!(
            parse_json::<Close>(br#"{"reason": 5"#)
                .expect_err("refused")
                .problem()
                .code,
            "malformed_json"
        );
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
