//! The security test list of issue 15: hostile requests, each refused with its status and problem
//! `code` (or, for text, stored exactly as sent), with nothing appended to the store and, for
//! reads, nothing of a person or plan in the answer or the access log.
//!
//! Covered elsewhere, and not repeated here:
//! - `platform_auth.rs`: tokens missing, malformed, signed with another secret, expired by the
//!   service clock, wrong `iss`/`aud`, staff without unit, an unknown role, `iat` an hour ahead,
//!   all through the `Caller` extractor; `require_role` is 403 `role_not_allowed`.
//! - `authz_matrix.rs`: every route of API.md × staff of the plan, staff of another unit, citizen,
//!   auditor, reporting, admin and no token, with the code of each refusal, nothing appended and
//!   no read logged.
//! - `hostile_text.rs`: control characters in every text field of every write, in query and path
//!   parameters (422 `invalid_characters`).
//! - `platform_http.rs`, `sips_writes.rs`: an oversized body is 413 `payload_too_large`, also
//!   without Content-Length (through the router, without a socket).
//!
//! What this file adds, one test (or a few) per family:
//! - SQL injection text in every text field of several commands, stored verbatim as text or
//!   refused with a code, and in query parameters (Sök patient, inbox filters, audit filters):
//!   never a 5xx, no row matched that the text does not name, the tables and hash chains intact.
//! - Bodies: oversized (with and without length, nothing appended), nested 10,000 deep, a key
//!   named twice (400 `duplicate_key`: before, a body read as any JSON, as the person commands
//!   are, kept the last value silently), a content type other than JSON, bytes that are not
//!   UTF-8.
//! - Header smuggling over a raw socket: `Content-Length` with `Transfer-Encoding: chunked`, two
//!   different `Content-Length`s, and malformed transfer codings; the smuggled request behind
//!   them never runs.
//! - Path traversal on the web client's static files (`/assets/{file}`), raw, percent-encoded,
//!   double-encoded and with backslashes: 404 or 400, never a file.
//! - Tokens through the real server on a write and a read: `alg: none`, an HMAC token with the
//!   wrong algorithm name, wrong `aud`/`iss`, expiry and `iat` just past the leeway (and just
//!   inside it, accepted), HS256 signed with the RS256 or ES256 public key's PEM as the secret
//!   (key pairs made by `openssl` for the test, in a temporary directory), role `superuser`,
//!   staff without unit.
//! - Guessing ids: for every SIP command in the OpenAPI document, another unit's answer for a
//!   real plan is byte for byte the answer for a plan that does not exist; a citizen guessing
//!   another person's plan alike. Every operation in the OpenAPI document is refused (403) to
//!   the roles it is not for (citizen, reporting, auditor, admin), so a route added later is
//!   covered without a new row.

mod sips_support;

use chrono::Duration;
use gateway::auth::{mint_token, Claims};
use gateway::testing::{KeyKind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sips_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn head(app: &TestApp) -> i64 {
    app.store.head_position().await.expect("head")
}

/// Asserts a problem document with this status and code.
#[track_caller]
fn assert_problem(what: &str, status: StatusCode, body: &Value, expected: u16, code: &str) {
    assert_eq!(status.as_u16(), expected, "{what}: {body}");
    assert_eq!(body["status"], expected, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}: {body}"
    );
}

/// A valid personnummer born 1960-01-01 with serial `n` (Luhn computed here).
fn pin(n: u32) -> String {
    let nine = format!("600101{:03}", n % 1000);
    let sum: u32 = nine
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 2 } else { d })
        .map(|p| p / 10 + p % 10)
        .sum();
    format!("19{}-{}{}", &nine[..6], &nine[6..], (10 - sum % 10) % 10)
}

/// Percent-encodes `text` for a query string: every byte but the unreserved ones.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `value` holds the string `text` anywhere, exactly.
fn holds(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        Value::Array(items) => items.iter().any(|v| holds(v, text)),
        Value::Object(map) => map.values().any(|v| holds(v, text)),
        _ => false,
    }
}

/// The payloads of the events appended after `after`.
async fn appended_since(app: &TestApp, after: i64) -> Vec<Value> {
    app.store
        .read_all(after, 1_000)
        .await
        .expect("read_all")
        .iter()
        .map(|e| e.data_as::<Value>().expect("payload"))
        .collect()
}

/// Waits until every read model has caught up with the store.
async fn settle(app: &TestApp) {
    let head = head(app).await;
    for projection in [
        projections::directory::PROJECTION,
        projections::participation::PROJECTION,
        projections::inbox::PROJECTION,
    ] {
        projections::runner::applied(app.store.pool(), projection, head, 10_000)
            .await
            .expect("the read model caught up");
    }
}

/// What a raw socket got back: every status line's code, the text, and whether the server closed
/// the connection (rather than keeping it open until our timeout).
struct RawAnswer {
    statuses: Vec<u16>,
    text: String,
    closed: bool,
}

/// Writes `request` as bytes to the server and reads until it closes the connection or has said
/// nothing for two seconds.
async fn raw(app: &TestApp, request: &[u8]) -> RawAnswer {
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&out).into_owned();
    let statuses = text
        .match_indices("HTTP/1.1 ")
        .filter(|(at, _)| *at == 0 || text[..*at].ends_with('\n'))
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect();
    RawAnswer {
        statuses,
        text,
        closed,
    }
}

/// Base64url without padding (JWT segments), written here so that tokens can be forged by hand.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A token with this header and these claims, signed with HMAC-SHA256 over `key` (or unsigned
/// when `key` is `None`: an empty signature).
fn forge(header: &Value, claims: &Value, key: Option<&[u8]>) -> String {
    use hmac::{KeyInit, Mac};
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = match key {
        None => String::new(),
        Some(key) => {
            let mut mac =
                <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
            mac.update(signing_input.as_bytes());
            b64url(&mac.finalize().into_bytes())
        }
    };
    format!("{signing_input}.{signature}")
}

/// Claims of a staff member of `unit`, issued now by the app's clock, as JSON.
fn staff_claims(app: &TestApp, unit: &str) -> Value {
    let now = app.clock.now().timestamp();
    json!({"sub": "SE2321000016-VC01", "role": "staff", "unit": unit, "name": "Test Testsson",
           "iat": now, "exp": now + 600, "iss": "samplan", "aud": "samplan"})
}

// ---------------------------------------------------------------------------------------------
// SQL injection text
// ---------------------------------------------------------------------------------------------

/// Text an attacker would try on a service that builds SQL from strings: quotes that close a
/// literal, comments, dollar quoting, backslash escapes (`standard_conforming_strings` off, `E''`
/// strings), quotes from other alphabets that some databases fold to `'`, LIKE wildcards.
const SQL: &[&str] = &[
    "'; DROP TABLE events; --",
    "' OR '1'='1",
    "1' OR 1=1 --",
    "x'); DELETE FROM directory.persons; --",
    "$$; TRUNCATE events; $$",
    "$tag$ DROP SCHEMA directory CASCADE $tag$",
    "\\'; DROP TABLE events; -- \\",
    "C:\\temp\\'\\\"\\\\",
    "E'\\x27' || pg_sleep(5) || '",
    "ʼ OR ʼ1ʼ=ʼ1",
    "’; DROP TABLE events; --",
    "＇ OR ＇1＇=＇1",
    "\"; DROP TABLE \"events\"; --",
    "%' OR name LIKE '%",
    "_%\\%_",
];

/// The write bodies SQL text is put into, one text field at a time. `n` makes the ids a
/// repeated command needs unique.
/// Who sends a write, its path, and its body for request number `n`.
type Target = (&'static str, String, fn(u32) -> Value);

fn sql_targets(sip: &str, person: &str) -> Vec<Target> {
    fn unit(n: u32) -> Value {
        json!({"id": format!("sql-{n}"), "name": "Enheten",
               "principal": {"kind": "region", "name": "Region Testlän"},
               "uses_samplan": true, "address": "Vägen 1", "phone": "010-1"})
    }
    fn person_body(n: u32) -> Value {
        json!({"personal_identity_number": pin(n), "name": "Nils Nilsson",
               "phone": "070-1", "address": "Gatan 2"})
    }
    fn contact(_: u32) -> Value {
        json!({"phone": "070-2", "address": "Gatan 3"})
    }
    fn relative(n: u32) -> Value {
        json!({"relative_id": format!("r-{n}"), "kind": "relative", "name": "Anna",
               "phone": "070-3", "address": "Gatan 4", "note": "dotter"})
    }
    fn mapping(n: u32) -> Value {
        json!({"mapping_id": format!("m-{n}"), "heading": "housing", "text": "Bor ensam"})
    }
    fn invitation(n: u32) -> Value {
        json!({"invitation_id": format!("inv-{n}"), "purpose": "meeting",
               "scheduled_at": "2026-03-12T09:00:00Z", "form": "in_person",
               "place": "Rum 4", "reason": "SIP-möte",
               "recipients": [{"kind": "unit", "unit_id": HT}]})
    }
    let s = |c: &str| format!("/api/v1/sips/{sip}/{c}");
    let p = |c: &str| format!("/api/v1/persons/{person}/{c}");
    vec![
        ("admin", "/api/v1/units".into(), unit),
        ("staff", "/api/v1/persons".into(), person_body),
        ("staff", p("change-contact-details"), contact),
        ("staff", p("add-relative"), relative),
        ("staff", s("document-mapping"), mapping),
        ("staff", s("send-invitation"), invitation),
    ]
}

/// Free text a person types: SQL text there is just text and must be stored as sent.
const FREE_TEXT: &[&str] = &[
    "name", "phone", "address", "note", "text", "place", "reason",
];

#[tokio::test]
async fn sql_text_in_every_text_field_is_stored_verbatim_or_refused_with_a_code() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let admin = app.admin_token();
    let mut n = 0;
    let (mut stored, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for (who, path, body) in sql_targets(&sip, &w.person_id) {
        let token = if who == "admin" { &admin } else { &w.vc };
        // Every string leaf of the body, by JSON pointer.
        let mut leaves = Vec::new();
        fn walk(value: &Value, path: String, out: &mut Vec<String>) {
            match value {
                Value::String(_) => out.push(path),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, format!("{path}/{i}"), out);
                    }
                }
                Value::Object(map) => {
                    for (key, item) in map {
                        walk(item, format!("{path}/{key}"), out);
                    }
                }
                _ => {}
            }
        }
        walk(&body(0), String::new(), &mut leaves);
        for field in &leaves {
            for text in SQL {
                n += 1;
                let mut hostile = body(n);
                *hostile.pointer_mut(field).expect("leaf") = Value::String((*text).into());
                let before = head(&app).await;
                let (status, _, answer) = app.post(&path, token, &hostile).await;
                let what = format!("{path} {field} = {text:?}");
                if status.is_success() {
                    let appended = appended_since(&app, before).await;
                    if !appended.iter().any(|data| holds(data, text)) {
                        failures.push(format!("{what}: not stored verbatim: {appended:?}"));
                    }
                    stored += 1;
                } else {
                    refused += 1;
                    let code = answer["code"].as_str().unwrap_or("");
                    let free = FREE_TEXT.iter().any(|f| field.ends_with(&format!("/{f}")));
                    if free
                        || ![400, 409, 422].contains(&status.as_u16())
                        || code.is_empty()
                        || !code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        failures.push(format!("{what}: {status} {answer}"));
                    }
                    if head(&app).await != before {
                        failures.push(format!("{what}: refused but appended"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Most fields are free text; ids and enumerations may be refused (with a code).
    assert!(
        stored > 200 && refused > 0,
        "stored {stored}, refused {refused}"
    );
    assert_tables_intact(&app).await;
}

/// The events table, its hash chains and the read models are all there and answer.
async fn assert_tables_intact(app: &TestApp) {
    let client = app.store.pool().get().await.expect("connection");
    for (table, shown) in [
        ("public.events", "events"),
        ("public.commands", "commands"),
        ("directory.persons", "directory.persons"),
        ("directory.relatives", "directory.relatives"),
        ("directory.units", "directory.units"),
    ] {
        let row = client
            .query_one("SELECT to_regclass($1)::text", &[&table])
            .await
            .expect("query");
        assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(shown));
    }
    let count: i64 = client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0);
    let all = app.store.read_all(0, 100_000).await.expect("read_all");
    assert_eq!(count as usize, all.len());
    assert!(count > 0);
    let report = app.store.verify().await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events_checked, count);
}

#[tokio::test]
async fn sql_text_in_query_parameters_matches_nothing_it_does_not_name() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    // Two more persons, one of them named with SQL, so that "everyone" would show.
    let named = "Robert'); DROP TABLE directory.persons; --";
    for (n, name) in [(1, "Maja Persson"), (2, named)] {
        let (status, _, body) = app
            .post(
                "/api/v1/persons",
                &w.vc,
                &json!({"personal_identity_number": pin(n), "name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    settle(&app).await;
    let auditor = app.token("auditor", "SE2321000016-RE01", None, "Revisor");
    let before = head(&app).await;
    let mut failures = Vec::new();
    let mut texts: Vec<&str> = SQL.to_vec();
    texts.extend(["%", "%%", "_", "__", "\\", "*", "'", "' OR ''='"]);
    for text in texts {
        // Sök patient: every person listed has the text in their name (or is the number).
        let request = app
            .client
            .get(app.url(&format!("/api/v1/persons?q={}", encode(text))))
            .bearer_auth(&w.vc);
        let (status, _, body) = app.send(request).await;
        match status.as_u16() {
            200 => {
                let persons = body["persons"].as_array().expect("persons");
                for p in persons {
                    let name = p["name"].as_str().unwrap_or("").to_lowercase();
                    if !name.contains(&text.trim().to_lowercase()) {
                        failures.push(format!("q={text:?} found {p}"));
                    }
                }
            }
            400 | 422 if body["code"].is_string() => {}
            _ => failures.push(format!("q={text:?}: {status} {body}")),
        }
        // Inbox and audit filters: a value of the wrong kind is refused with a code; a stream
        // name that names nothing lists nothing.
        for (token, path, key) in [
            (&w.vc, "/api/v1/inbox/messages", "type"),
            (&w.vc, "/api/v1/inbox/messages", "person_id"),
            (&w.vc, "/api/v1/inbox/messages", "since"),
            (&w.vc, "/api/v1/inbox/messages", "cursor"),
            (&w.vc, "/api/v1/inbox/todos", "scope"),
            (&auditor, "/api/v1/audit/events", "stream"),
            (&auditor, "/api/v1/audit/access-log", "person_id"),
        ] {
            let request = app
                .client
                .get(app.url(&format!("{path}?{key}={}", encode(text))))
                .bearer_auth(token);
            let (status, _, body) = app.send(request).await;
            match status.as_u16() {
                200 if path == "/api/v1/audit/events" => {
                    if body["events"].as_array().is_none_or(|e| !e.is_empty()) {
                        failures.push(format!("{path}?{key}={text:?}: {body}"));
                    }
                }
                400 | 422 if body["code"].is_string() => {}
                // An auditor asking for a person who does not exist.
                404 if path == "/api/v1/audit/access-log" && body["code"] == "not_found" => {}
                _ => failures.push(format!("{path}?{key}={text:?}: {status} {body}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The person named with SQL is found by that name, and only they are.
    let request = app
        .client
        .get(app.url("/api/v1/persons?q=drop%20table"))
        .bearer_auth(&w.vc);
    let (status, _, body) = app.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["persons"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["persons"][0]["name"], named, "{body}");
    // Reads append nothing; the plan still reads.
    assert_eq!(head(&app).await, before);
    let (status, _, body) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_tables_intact(&app).await;
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// `POST path` with raw bytes as the body and this content type.
async fn post_bytes(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let (status, _, body) = app
        .send(
            app.client
                .post(app.url(path))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body),
        )
        .await;
    (status, body)
}

#[tokio::test]
async fn hostile_bodies_are_refused_with_their_codes_and_nothing_is_appended() {
    let app = TestApp::spawn_with(|c| c.limits.body_bytes_max = 32 * 1024).await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let mapping = format!("/api/v1/sips/{sip}/document-mapping");
    let contact = format!("/api/v1/persons/{}/change-contact-details", w.person_id);
    let consent = format!("/api/v1/sips/{sip}/record-consent");
    let follow_up = format!("/api/v1/sips/{sip}/schedule-follow-up");
    let json = "application/json";
    let before = head(&app).await;

    let deep = |open: &str, close: &str, depth: usize| {
        format!(
            "{{\"heading\": \"housing\", \"text\": {}1{}}}",
            open.repeat(depth),
            close.repeat(depth)
        )
        .into_bytes()
    };
    // (what, path, content type, body, status, code)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        // Over the limit, with Content-Length: refused before it is read.
        (
            "oversized",
            &mapping,
            json,
            format!(
                "{{\"heading\": \"housing\", \"text\": \"{}\"}}",
                "x".repeat(33 * 1024)
            )
            .into_bytes(),
            413,
            "payload_too_large",
        ),
        // Nested far beyond serde_json's recursion limit (128): a typed body refuses the first
        // value of the wrong type without descending; a body read as any JSON stops at the
        // limit. Neither overflows the stack.
        (
            "10,000 [ in a text field",
            &mapping,
            json,
            deep("[", "]", 10_000),
            400,
            "invalid_body",
        ),
        (
            "4,000 {\"a\": in a text field",
            &mapping,
            json,
            deep("{\"a\":", "}", 4_000),
            400,
            "invalid_body",
        ),
        (
            "10,000 [ in a body read as any JSON",
            &contact,
            json,
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            400,
            "malformed_json",
        ),
        (
            "4,000 {\"a\": in a body read as any JSON",
            &contact,
            json,
            format!("{}1{}", "{\"a\":".repeat(4_000), "}".repeat(4_000)).into_bytes(),
            400,
            "malformed_json",
        ),
        (
            "10,000 [ never closed",
            &contact,
            json,
            "[".repeat(10_000).into_bytes(),
            400,
            "malformed_json",
        ),
        // A key twice: which one counts must not depend on the route or a proxy.
        (
            "duplicate key (typed body)",
            &mapping,
            json,
            br#"{"heading": "housing", "text": "Ett", "text": "Tva"}"#.to_vec(),
            400,
            "duplicate_key",
        ),
        (
            "duplicate key (body read as any JSON)",
            &contact,
            json,
            br#"{"phone": "070-1", "phone": "070-2"}"#.to_vec(),
            400,
            "duplicate_key",
        ),
        (
            "duplicate key, escaped",
            &contact,
            json,
            br#"{"phone": "070-1", "ph\u006fne": "070-2"}"#.to_vec(),
            400,
            "duplicate_key",
        ),
        (
            "duplicate key, nested",
            &consent,
            json,
            br#"{"given_by": {"kind": "person", "kind": "guardian", "relative_id": "x"},
                 "actors": ["vc-centrum"], "topics": ["Boende"], "valid_until": "2027-01-01"}"#
                .to_vec(),
            400,
            "duplicate_key",
        ),
        (
            "duplicate key, registering a person",
            "/api/v1/persons",
            json,
            format!(
                r#"{{"personal_identity_number": "{}", "name": "A", "personal_identity_number": "{}"}}"#,
                pin(7),
                pin(8)
            )
            .into_bytes(),
            400,
            "duplicate_key",
        ),
        // Not JSON.
        (
            "text/plain",
            &mapping,
            "text/plain",
            br#"{"heading": "housing", "text": "x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "a browser form",
            &contact,
            "application/x-www-form-urlencoded",
            b"phone=070-9".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "multipart",
            &contact,
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n070\r\n--x--\r\n"
                .to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "xml",
            &mapping,
            "application/xml",
            b"<text>x</text>".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "text/json",
            &mapping,
            "text/json",
            br#"{"heading": "housing", "text": "x"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "not UTF-8",
            &mapping,
            json,
            b"{\"heading\": \"housing\", \"text\": \"\xff\xfe\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "a byte order mark",
            &mapping,
            json,
            b"\xef\xbb\xbf{\"heading\": \"housing\", \"text\": \"x\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "two documents",
            &mapping,
            json,
            br#"{"heading": "housing", "text": "x"} {"text": "y"}"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "a number beyond any type",
            &follow_up,
            json,
            br#"{"follow_up_on": 1e999999}"#.to_vec(),
            400,
            "malformed_json",
        ),
    ];
    for (what, path, content_type, body, status, code) in cases {
        let (got, answer) = post_bytes(&app, path, &w.vc, content_type, body).await;
        assert_problem(what, got, &answer, status, code);
        assert_eq!(head(&app).await, before, "{what} appended");
    }

    // Over the limit without Content-Length (chunked), on a raw socket.
    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, " ".repeat(16 * 1024));
    let request = format!(
        "POST {mapping} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {}0\r\n\r\n",
        w.vc,
        chunk.repeat(3)
    );
    let answer = raw(&app, request.as_bytes()).await;
    assert_eq!(answer.statuses, vec![413], "{}", answer.text);
    assert!(answer.text.contains("payload_too_large"), "{}", answer.text);
    assert_eq!(head(&app).await, before, "chunked oversized appended");

    // What a refusal quotes back (an unknown enum value, an unknown command) never carries a
    // control character, even from a body the control-character scan could not read as JSON.
    for (path, body) in [
        (
            &mapping,
            b"{\"heading\": \"\x7f\x1b\", \"text\": \"x\"} trailing".to_vec(),
        ),
        (&mapping, b"{\"heading\": \"a\\u001b[31mb\", ]".to_vec()),
        (
            &format!("/api/v1/sips/{sip}/%1B%5B31mx%C2%85"),
            b"{}".to_vec(),
        ),
        (
            &format!("/api/v1/persons/{}/%1B%5B31mx%7F", w.person_id),
            b"{}".to_vec(),
        ),
    ] {
        let (status, answer) = post_bytes(&app, path, &w.vc, json, body).await;
        assert!(status.is_client_error(), "{path}: {status} {answer}");
        let detail = answer["detail"].as_str().expect("detail");
        assert!(
            detail.chars().all(gateway::text::is_allowed),
            "{path}: {detail:?}"
        );
    }
    assert_eq!(head(&app).await, before);

    // The same writes, well-formed, are accepted: the refusals above were about the form.
    let (status, answer) = post_bytes(
        &app,
        &contact,
        &w.vc,
        json,
        br#"{"phone": "070-1"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

// ---------------------------------------------------------------------------------------------
// Header smuggling
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn smuggled_requests_are_refused_and_never_run() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    // The request hidden behind each framing trick: registering a unit, which would append.
    let unit = r#"{"id":"smuggled","name":"Smugglad","principal":{"kind":"region","name":"R"},"uses_samplan":true}"#;
    let smuggled = format!(
        "POST /api/v1/units HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{unit}",
        unit.len()
    );
    let front = |headers: &str, body: &str| {
        format!(
            "POST /api/v1/units HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\n{headers}\r\n{body}"
        )
    };
    // The helper sees what a client sees: a well-formed request is answered, and with
    // `Connection: close` the connection is then closed.
    let control = raw(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(control.statuses, vec![200], "{}", control.text);
    assert!(control.closed);

    let before = head(&app).await;
    let cases = [
        (
            "Content-Length and Transfer-Encoding: chunked (CL.TE)",
            front(
                "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
        ),
        (
            "Transfer-Encoding: chunked and Content-Length (TE.CL)",
            front(
                &format!(
                    "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
                    smuggled.len() + 5
                ),
                &format!("0\r\n\r\n{smuggled}"),
            ),
        ),
        (
            "two different Content-Lengths",
            front(
                &format!(
                    "Content-Length: 0\r\nContent-Length: {}\r\n",
                    smuggled.len()
                ),
                &smuggled,
            ),
        ),
        (
            "Content-Length with two values",
            front(
                &format!("Content-Length: 0, {}\r\n", smuggled.len()),
                &smuggled,
            ),
        ),
        (
            "chunked not last",
            front(
                "Transfer-Encoding: chunked, identity\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
        ),
        (
            "an unknown transfer coding",
            front(
                "Transfer-Encoding: xchunked\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
        ),
        (
            "whitespace before the colon",
            front(
                "Transfer-Encoding : chunked\r\nContent-Length: 4\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
        ),
        (
            "a folded header",
            front(
                "Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 4\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
        ),
        (
            "a negative Content-Length",
            front("Content-Length: -1\r\n", &smuggled),
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            front(
                "Transfer-Encoding: chunked\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            )
            .replacen("HTTP/1.1", "HTTP/1.0", 1),
        ),
    ];
    let mut failures = Vec::new();
    for (what, request) in &cases {
        let answer = raw(&app, request.as_bytes()).await;
        // A 400, or the connection closed without a word; never an answer to the smuggled
        // request, and never a connection left open to send it on.
        let refused = answer.statuses.iter().all(|s| *s == 400)
            || (answer.statuses.is_empty() && answer.closed);
        if !refused || !answer.closed {
            failures.push(format!(
                "{what}: statuses {:?}, closed {}:\n{}",
                answer.statuses, answer.closed, answer.text
            ));
        }
        if head(&app).await != before {
            failures.push(format!("{what}: the smuggled request ran"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let (status, _, units) = app.get("/api/v1/units", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!units.to_string().contains("smuggled"), "{units}");
    // Sent on its own, the hidden request is an ordinary write that does append: had any trick
    // above let it through, the store would have moved.
    let alone = raw(
        &app,
        smuggled
            .replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
            .as_bytes(),
    )
    .await;
    assert_eq!(alone.statuses, vec![201], "{}", alone.text);
    assert!(head(&app).await > before);
}

// ---------------------------------------------------------------------------------------------
// Path traversal on static files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn path_traversal_on_static_files_finds_nothing() {
    let app = TestApp::spawn().await;
    // The real asset is served (so the route exists and the probes below reach it).
    let css = raw(
        &app,
        b"GET /assets/samplan.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(css.statuses, vec![200], "{}", css.text);
    assert!(css
        .text
        .to_ascii_lowercase()
        .contains("content-type: text/css"));
    let before = head(&app).await;
    let probes = [
        "/assets/../../Cargo.toml",
        "/assets/../Cargo.toml",
        "/assets/../../../../../../etc/passwd",
        "/assets/%2e%2e/%2e%2e/Cargo.toml",
        "/assets/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/assets/%2E%2E%2F%2E%2E%2FCargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/assets/%252e%252e%252f%252e%252e%252fCargo.toml",
        "/assets/%c0%ae%c0%ae%c0%afCargo.toml",
        "/assets/..%5c..%5cCargo.toml",
        "/assets/..\\..\\Cargo.toml",
        "/assets/%2fetc%2fpasswd",
        "/assets//etc/passwd",
        "/assets/samplan.css/../../../Cargo.toml",
        "/assets/samplan.css%00.txt",
        "/assets/samplan.css;/../../Cargo.toml",
        "/assets/web/assets.rs",
        "/assets/SAMPLAN.CSS",
        "/assets/",
        "/assets/..",
        "/assets/.",
        "/..%2f..%2fCargo.toml",
        "/%2e%2e/%2e%2e/Cargo.toml",
        "/api/v1/../../Cargo.toml",
        "/gateway/src/web/assets/samplan.css",
        "/Cargo.toml",
        "/.git/config",
    ];
    let mut failures = Vec::new();
    for probe in probes {
        for accept in ["*/*", "text/html"] {
            let request = format!(
                "GET {probe} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
            );
            let answer = raw(&app, request.as_bytes()).await;
            let leaked = [
                "[package]",
                "[workspace]",
                "root:x:0",
                "[core]",
                "include_str",
            ]
            .iter()
            .any(|s| answer.text.contains(s))
                || answer
                    .text
                    .to_ascii_lowercase()
                    .contains("content-type: text/css")
                || answer
                    .text
                    .to_ascii_lowercase()
                    .contains("content-type: text/javascript");
            let refused = matches!(answer.statuses.as_slice(), [400] | [404]);
            if leaked || !refused {
                failures.push(format!(
                    "{probe} ({accept}): {:?}\n{}",
                    answer.statuses,
                    answer.text.chars().take(300).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(head(&app).await, before);
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// Sends a write (document-mapping) and a read (the plan) with `token`; both must be 401 with
/// `code`, nothing appended, nothing of the plan in the answer.
async fn assert_token_refused(app: &TestApp, sip: &str, what: &str, token: &str, code: &str) {
    let before = head(app).await;
    let (status, _, body) = app
        .post(
            &format!("/api/v1/sips/{sip}/document-mapping"),
            token,
            &json!({"heading": "housing", "text": "Med en falsk token."}),
        )
        .await;
    assert_problem(&format!("{what} (write)"), status, &body, 401, code);
    let (status, headers, body) = app.get(&format!("/api/v1/sips/{sip}"), token).await;
    assert_problem(&format!("{what} (read)"), status, &body, 401, code);
    assert_eq!(headers["www-authenticate"], "Bearer", "{what}");
    assert!(!body.to_string().contains("Tolvan"), "{what}: {body}");
    assert_eq!(head(app).await, before, "{what} appended");
}

#[tokio::test]
async fn forged_and_stale_tokens_are_401_with_their_codes() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let secret = app.secret().as_bytes().to_vec();
    let claims = staff_claims(&app, VC);
    let now = app.clock.now().timestamp();
    let with = |changes: &[(&str, Value)]| {
        let mut c = claims.clone();
        for (k, v) in changes {
            c[*k] = v.clone();
        }
        c
    };
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});

    // The forging works: these exact claims, signed as the service expects, are accepted.
    let good = forge(&hs256, &claims, Some(&secret));
    let (status, _, body) = app.get(&format!("/api/v1/sips/{sip}"), &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Within the leeway (30 s) of expiry and issue time the service still accepts.
    for (what, c) in [
        (
            "expired 29 s ago",
            with(&[("exp", json!(now - 29)), ("iat", json!(now - 600))]),
        ),
        ("issued 29 s ahead", with(&[("iat", json!(now + 29))])),
        (
            "valid from 29 s ahead (nbf)",
            with(&[("nbf", json!(now + 29))]),
        ),
        (
            "valid from a minute ago (nbf)",
            with(&[("nbf", json!(now - 60))]),
        ),
    ] {
        let token = forge(&hs256, &c, Some(&secret));
        let (status, _, body) = app.get(&format!("/api/v1/sips/{sip}"), &token).await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
    }

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none, no signature",
            forge(&json!({"alg": "none", "typ": "JWT"}), &claims, None),
            "token_malformed",
        ),
        (
            "alg None, no signature",
            forge(&json!({"alg": "None"}), &claims, None),
            "token_malformed",
        ),
        (
            "alg none with the real signature kept",
            {
                let real = forge(&hs256, &claims, Some(&secret));
                let signature = real.rsplit('.').next().expect("signature").to_owned();
                let unsigned = forge(&json!({"alg": "none"}), &claims, None);
                format!("{unsigned}{signature}")
            },
            "token_malformed",
        ),
        (
            "HS256 token without its signature",
            {
                let real = forge(&hs256, &claims, Some(&secret));
                format!("{}.", real.rsplit_once('.').expect("dots").0)
            },
            "token_bad_signature",
        ),
        (
            "HS512 with the right secret",
            {
                use hmac::{KeyInit, Mac};
                let input = format!(
                    "{}.{}",
                    b64url(json!({"alg": "HS512"}).to_string().as_bytes()),
                    b64url(claims.to_string().as_bytes())
                );
                let mut mac =
                    <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice(&secret).expect("key");
                mac.update(input.as_bytes());
                format!("{input}.{}", b64url(&mac.finalize().into_bytes()))
            },
            "token_bad_signature",
        ),
        (
            "RS256 named, HMAC signed",
            forge(&json!({"alg": "RS256"}), &claims, Some(&secret)),
            "token_bad_signature",
        ),
        (
            "wrong audience",
            forge(
                &hs256,
                &with(&[("aud", json!("another-service"))]),
                Some(&secret),
            ),
            "token_wrong_audience",
        ),
        (
            // A list of audiences is allowed (RFC 7519); one that does not name us is refused.
            "audience list without samplan",
            forge(&hs256, &with(&[("aud", json!(["x", "y"]))]), Some(&secret)),
            "token_wrong_audience",
        ),
        (
            "wrong issuer",
            forge(
                &hs256,
                &with(&[("iss", json!("https://evil.example"))]),
                Some(&secret),
            ),
            "token_wrong_issuer",
        ),
        (
            "expired 31 s ago (beyond the leeway)",
            forge(
                &hs256,
                &with(&[("exp", json!(now - 31)), ("iat", json!(now - 600))]),
                Some(&secret),
            ),
            "token_expired",
        ),
        (
            "issued 31 s ahead (beyond the leeway)",
            forge(&hs256, &with(&[("iat", json!(now + 31))]), Some(&secret)),
            "token_not_yet_valid",
        ),
        (
            "not before an hour from now (nbf)",
            forge(&hs256, &with(&[("nbf", json!(now + 3_600))]), Some(&secret)),
            "token_not_yet_valid",
        ),
        (
            "no exp",
            forge(
                &hs256,
                &{
                    let mut c = claims.clone();
                    c.as_object_mut().expect("object").remove("exp");
                    c
                },
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        (
            "role superuser",
            forge(
                &hs256,
                &with(&[("role", json!("superuser"))]),
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        (
            "role Staff in capitals",
            forge(&hs256, &with(&[("role", json!("Staff"))]), Some(&secret)),
            "token_claims_invalid",
        ),
        (
            "staff without unit",
            forge(
                &hs256,
                &{
                    let mut c = claims.clone();
                    c.as_object_mut().expect("object").remove("unit");
                    c
                },
                Some(&secret),
            ),
            "token_unit_missing",
        ),
        (
            "staff with an empty unit",
            forge(&hs256, &with(&[("unit", json!(""))]), Some(&secret)),
            "token_unit_missing",
        ),
        (
            "a unit id with SQL",
            forge(
                &hs256,
                &with(&[("unit", json!("vc-centrum' OR '1'='1"))]),
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        // Claims the access log could not hold, or that would turn the text after a name around
        // wherever it is shown: refused at the door, never a failed read later.
        (
            "a sub longer than the access log holds",
            forge(
                &hs256,
                &with(&[("sub", json!("S".repeat(201)))]),
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        (
            "a name longer than the access log holds",
            forge(
                &hs256,
                &with(&[("name", json!("N".repeat(301)))]),
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        (
            "a name with a right-to-left override",
            forge(
                &hs256,
                &with(&[("name", json!("Test \u{202e}nossseT"))]),
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        (
            "a name across lines",
            forge(
                &hs256,
                &with(&[("name", json!("Test\nTestsson"))]),
                Some(&secret),
            ),
            "token_claims_invalid",
        ),
        (
            "signed with another secret",
            mint_token(
                "an-entirely-different-secret-of-32-bytes",
                &serde_json::from_value::<Claims>(claims.clone()).expect("claims"),
            ),
            "token_bad_signature",
        ),
    ];
    for (what, token, code) in cases {
        assert_token_refused(&app, &sip, what, &token, code).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused_by_a_public_key_service() {
    for algorithm in ["RS256", "ES256"] {
        let (private, public) = gateway::testing::key_pair(match algorithm {
            "RS256" => KeyKind::Rs256,
            _ => KeyKind::Es256,
        });
        let pem = public.clone();
        let app = TestApp::spawn_with(move |c| {
            c.jwt_key = gateway::config::JwtKey::PublicKeyPem(pem);
        })
        .await;
        let w = world_signed(&app, &private).await;
        let sip = prepared_plan(&app, &w).await;
        let claims = staff_claims(&app, VC);
        let hs256 = json!({"alg": "HS256", "typ": "JWT"});
        // The public key's bytes, as an attacker would find them, in every plausible shape.
        let der_base64: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
        let cases = [
            ("the PEM", public.clone()),
            ("the PEM, trimmed", public.trim().to_owned()),
            ("the PEM with CRLF", public.replace('\n', "\r\n")),
            ("the base64 of the DER", der_base64),
        ];
        for (what, key) in cases {
            let token = forge(&hs256, &claims, Some(key.as_bytes()));
            assert_token_refused(
                &app,
                &sip,
                &format!("{algorithm} service, HS256 over {what}"),
                &token,
                "token_bad_signature",
            )
            .await;
        }
        // And an app token of the shared-secret kind means nothing here.
        assert_token_refused(
            &app,
            &sip,
            &format!("{algorithm} service, the test secret"),
            &app.staff_token("SE2321000016-VC01", VC),
            "token_bad_signature",
        )
        .await;
        assert_token_refused(
            &app,
            &sip,
            &format!("{algorithm} service, alg none"),
            &forge(&json!({"alg": "none"}), &claims, None),
            "token_malformed",
        )
        .await;
    }
}

/// `world` for a service that verifies public-key signatures: the units, staff tokens and the
/// person, with every token signed by `private`.
async fn world_signed(app: &TestApp, private: &str) -> World {
    let signer = gateway::auth::Signer::private_key_pem(private, "samplan", "samplan")
        .expect("an RSA or EC private key");
    let now = app.clock.now();
    let sign = |role: &str, sub: &str, unit: Option<&str>| {
        signer.sign(sub, role, unit, "Test", now, Duration::hours(1))
    };
    let admin = sign("admin", "admin", None);
    for id in [VC, HT, PSYK, OTHER] {
        let (status, _, body) = app
            .post(
                "/api/v1/units",
                &admin,
                &json!({"id": id, "name": id, "principal": {"kind": "region", "name": "R"},
                        "uses_samplan": true}),
            )
            .await;
        assert!(status.is_success(), "a properly signed token works: {body}");
    }
    let vc = sign("staff", "SE2321000016-VC01", Some(VC));
    let (status, _, body) = app
        .post(
            "/api/v1/persons",
            &vc,
            &json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    World {
        ht: sign("staff", "SE2120000001-HT01", Some(HT)),
        psyk: sign("staff", "SE2321000016-PS01", Some(PSYK)),
        other: sign("staff", "SE2321000016-AN01", Some(OTHER)),
        vc_colleague: sign("staff", "SE2321000016-VC02", Some(VC)),
        vc,
        person_id: body["id"].as_str().expect("id").to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Guessing ids, and roles on routes not theirs
// ---------------------------------------------------------------------------------------------

/// Every operation of the OpenAPI document: (method, path template).
fn operations() -> Vec<(Method, String)> {
    let document = serde_json::to_value(gateway::openapi::document()).expect("document");
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                    path.clone(),
                ));
            }
        }
    }
    assert!(out.len() > 30, "{out:?}");
    out
}

/// A body every SIP command accepts as to its form (so that the answer is about who asks).
fn sip_body(command: &str) -> Value {
    match command {
        "record-consent" => json!({"given_by": {"kind": "person"}, "actors": [VC],
                                    "topics": ["Boende"], "valid_until": "2027-01-01"}),
        "decline-consent" => json!({"declined_by": {"kind": "person"}}),
        "withdraw-consent" => json!({"withdrawn_by": {"kind": "person"}}),
        "change-coordinator" => json!({"staff_id": "SE2321000016-AN01", "name": "X",
                                        "unit_id": OTHER, "reason": "Tar över"}),
        "document-mapping" => json!({"heading": "housing", "text": "Gissat id."}),
        "send-invitation" => json!({"invitation_id": "g", "purpose": "meeting",
                                     "scheduled_at": "2026-03-12T09:00:00Z", "form": "video",
                                     "reason": "Gissning",
                                     "recipients": [{"kind": "unit", "unit_id": OTHER}]}),
        "save-invitation-draft" => json!({"purpose": "meeting", "form": "video"}),
        "respond-to-invitation" => json!({"invitation_id": "g",
                                           "representative": {"name": "X"}}),
        "cancel-invitation" => json!({"invitation_id": "g", "reason": "x"}),
        "reschedule-meeting" => json!({"invitation_id": "g",
                                        "scheduled_at": "2026-03-13T09:00:00Z", "form": "video"}),
        "record-meeting" => json!({"invitation_id": "g", "held_at": "2026-03-10T08:00:00Z",
                                    "attendees": [{"name": "X", "role": "person"}],
                                    "chair": "X", "secretary": "Y", "follow_up_on": "2026-06-01"}),
        "document-main-goal" => json!({"text": "x"}),
        "document-sub-goal" => json!({"heading": "housing", "text": "x",
                                       "responsible": {"kind": "unit", "unit_id": OTHER}}),
        "document-intervention" => json!({"sub_goal_id": "g", "what": "x",
                                           "responsible": {"kind": "unit", "unit_id": OTHER},
                                           "from": "2026-03-15"}),
        "schedule-follow-up" => json!({"follow_up_on": "2026-06-01"}),
        "record-follow-up" => json!({"held_on": "2026-03-10", "interventions": [], "goals": []}),
        "close-plan" => json!({"reason": "consent_withdrawn"}),
        "record-discharge" => json!({"discharged_at": "2026-03-09T10:00:00Z"}),
        "record-letters-posted" => json!({"invitation_id": "g"}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn another_units_guess_of_a_plan_id_learns_nothing_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    ok(command(
        &app,
        &w.vc,
        &sip,
        "document-mapping",
        &json!({"heading": "housing", "text": "Hemligt innehåll."}),
    )
    .await);
    settle(&app).await;
    let missing = ulid::Ulid::generate().to_string();
    let person = domain::ids::PersonId::parse(&w.person_id).expect("person id");
    let logged = gateway::access_log::for_person(&app.state, &person)
        .await
        .expect("log")
        .len();
    let before = head(&app).await;
    let mut commands = Vec::new();
    for (method, path) in operations() {
        if method != Method::POST {
            continue;
        }
        if let Some(command) = path.strip_prefix("/api/v1/sips/{id}/") {
            if command != "{command}" {
                commands.push(command.to_owned());
            }
        }
    }
    assert!(commands.len() >= 19, "{commands:?}");
    let mut failures = Vec::new();
    let mut compare = |what: String, real: (StatusCode, Value), guess: (StatusCode, Value)| {
        // The same answer for the real plan and for one that does not exist, with nothing of
        // the plan in it.
        let leaked = ["Tolvan", "Hemligt", "19121212", &w.person_id]
            .iter()
            .any(|s| real.1.to_string().contains(s));
        if real.0 != StatusCode::NOT_FOUND
            || real.1["code"] != "not_found"
            || real != guess
            || leaked
        {
            failures.push(format!(
                "{what}: real {} {} / missing {} {}",
                real.0, real.1, guess.0, guess.1
            ));
        }
    };
    for c in &commands {
        let body = sip_body(c);
        let real = command(&app, &w.other, &sip, c, &body).await;
        let guess = command(&app, &w.other, &missing, c, &body).await;
        compare(format!("POST {c}"), real, guess);
    }
    let read = |id: String, token: String| {
        let app = &app;
        async move {
            let (s, _, b) = app.get(&format!("/api/v1/sips/{id}"), &token).await;
            (s, b)
        }
    };
    compare(
        "GET /sips/{id}".into(),
        read(sip.clone(), w.other.clone()).await,
        read(missing.clone(), w.other.clone()).await,
    );
    // A citizen guessing another person's plan, and an auditor's view of it as the plan's
    // citizen would, are 404 alike.
    let stranger = app.token(
        "citizen",
        &ulid::Ulid::generate().to_string(),
        None,
        "Främling",
    );
    for suffix in ["", "/fhir"] {
        let (s1, _, b1) = app
            .get(&format!("/api/v1/me/plans/{sip}{suffix}"), &stranger)
            .await;
        let (s2, _, b2) = app
            .get(&format!("/api/v1/me/plans/{missing}{suffix}"), &stranger)
            .await;
        compare(format!("GET /me/plans/{{id}}{suffix}"), (s1, b1), (s2, b2));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(head(&app).await, before, "a guess appended");
    // A refused read is no read: what the log gained are attempts, for a review on suspicion.
    let after = gateway::access_log::for_person(&app.state, &person)
        .await
        .expect("log");
    assert!(
        after[logged..]
            .iter()
            .all(|e| e.action == gateway::access_log::action::REFUSED_SIP),
        "a refused read was logged as a read: {:?}",
        &after[logged..]
    );
}

#[tokio::test]
async fn every_operation_refuses_the_roles_it_is_not_for() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    settle(&app).await;
    let person = domain::ids::PersonId::parse(&w.person_id).expect("person id");
    let callers = [
        (
            "citizen",
            app.token("citizen", &w.person_id, None, "Tolvan Tolvansson"),
        ),
        (
            "reporting",
            app.token("reporting", "uppfoljning", None, "Uppföljning"),
        ),
        (
            "auditor",
            app.token("auditor", "SE2321000016-RE01", None, "Revisor"),
        ),
        ("admin", app.admin_token()),
    ];
    // Who may use an operation at all; every other role must be refused 403 before anything
    // is read or written.
    let allowed = |role: &str, path: &str| -> bool {
        if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
            true
        } else if path.starts_with("/api/v1/me/") {
            role == "citizen"
        } else if path.starts_with("/api/v1/reports/") {
            role == "reporting"
        } else if path.starts_with("/api/v1/audit/") {
            role == "auditor"
        } else if path == "/api/v1/units" {
            // Administrators keep the register (staff list it too).
            role == "admin"
        } else {
            // Persons, plans and inboxes: staff only.
            false
        }
    };
    let queries = |path: &str| -> &'static str {
        match path {
            "/api/v1/persons" => "?q=Tolvan",
            "/api/v1/audit/access-log" => "?person_id=01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "/api/v1/audit/access-review" => "?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z",
            "/api/v1/reports/kpis" => "?from=2026-01&to=2026-12&group_by=region",
            _ => "",
        }
    };
    let logged = gateway::access_log::for_person(&app.state, &person)
        .await
        .expect("log")
        .len();
    let before = head(&app).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, template) in operations() {
        let path = template
            .replace("/persons/{id}", &format!("/persons/{}", w.person_id))
            .replace("{id}", &sip)
            .replace("{command}", "paint-the-house");
        let command = template.rsplit('/').next().unwrap_or("");
        let body = if template.starts_with("/api/v1/sips/{id}/") {
            sip_body(command)
        } else if template == "/api/v1/sips" {
            json!({"person_id": w.person_id, "identified_by": "staff", "reason": "x",
                   "context": {"kind": "outpatient"}})
        } else if template == "/api/v1/persons" {
            json!({"personal_identity_number": pin(9), "name": "X"})
        } else if template == "/api/v1/units" {
            json!({"id": "x", "name": "X", "principal": {"kind": "region", "name": "R"},
                   "uses_samplan": true})
        } else {
            json!({})
        };
        for (role, token) in &callers {
            if allowed(role, &template) {
                continue;
            }
            let url = format!("{}{}", app.url(&path), queries(&template));
            let mut request = app.client.request(method.clone(), url).bearer_auth(token);
            if method == Method::POST {
                request = request.json(&body);
            }
            let (status, _, answer) = app.send(request).await;
            checked += 1;
            if status != StatusCode::FORBIDDEN
                || answer["code"] != "role_not_allowed"
                || answer.to_string().contains("Tolvan")
            {
                failures.push(format!("{method} {template} as {role}: {status} {answer}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 100, "only {checked} cells");
    assert_eq!(head(&app).await, before, "a refused caller appended");
    let logged_after = gateway::access_log::for_person(&app.state, &person)
        .await
        .expect("log")
        .len();
    assert_eq!(logged_after, logged, "a refused read was logged");
}

/// A unit's name and its principal's are a line, not a paragraph: longer ones are refused when
/// the unit is registered (the access log names the care provider of every read, in a column of
/// 300 characters), and a name at the limit leaves the unit's staff reading as any other.
#[tokio::test]
async fn a_unit_name_too_long_is_refused_and_one_at_the_limit_works() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let admin = app.admin_token();
    let before = head(&app).await;
    for (what, name, principal) in [
        ("unit name", "U".repeat(201), "Region Testlän".to_owned()),
        ("principal name", "Enheten".to_owned(), "R".repeat(301)),
    ] {
        let (status, _, body) = app
            .post(
                "/api/v1/units",
                &admin,
                &json!({"id": "vc-lang", "name": name, "uses_samplan": true,
                        "principal": {"kind": "region", "name": principal}}),
            )
            .await;
        assert_problem(what, status, &body, 422, "field_too_long");
    }
    assert_eq!(head(&app).await, before, "nothing appended");
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &admin,
            &json!({"id": "vc-lang", "name": "U".repeat(200), "uses_samplan": true,
                    "principal": {"kind": "region", "name": "R".repeat(200)}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let staff = app.staff_token("SE2321000016-LA01", "vc-lang");
    let (status, _, body) = app
        .get(&format!("/api/v1/persons/{}", w.person_id), &staff)
        .await;
    assert!(
        status == StatusCode::OK || status == StatusCode::NOT_FOUND,
        "a read by the unit is answered, not a 500: {status} {body}"
    );
    let (status, _, body) = app.get("/api/v1/persons?q=19121212-1212", &staff).await;
    assert_eq!(status, StatusCode::OK, "a logged read: {body}");
}
