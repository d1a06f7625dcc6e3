//! Fuzzing the gateway's input handling on the stable toolchain: property tests (proptest) over
//! arbitrary bytes, strings, JSON and mutations of valid requests, through the code the handlers
//! use.
//!
//! - Command bodies: every command DTO read by `extract::parse_json` (the one place bodies are
//!   parsed) never panics and refuses garbage with a 400/422 problem and a stable code; control
//!   characters and duplicate keys are refused exactly when present. Then the same over HTTP for
//!   every write route: never a 5xx, and a refusal appends nothing.
//! - Tokens: `Verifier::verify` (HS256, RS256 and ES256) never panics on arbitrary text,
//!   dot-separated base64 garbage or well-formed tokens with arbitrary headers and claims;
//!   every refusal is 401 with a `token_*` code, and nothing not signed with the service's key is
//!   ever accepted.
//! - Problems: any `AppError` renders as `application/problem+json` with valid JSON, its status
//!   and `code`; a 5xx never carries the internal message.
//! - The HTML forms (`gateway::web`): every form POST of the pages, with arbitrary fields,
//!   cookies and form tokens, never answers 5xx; a form without the right token changes nothing.
//!
//! Cases per property: `PROPTEST_CASES` (default 256, so `scripts/test` stays fast; the HTTP ones
//! take a quarter of it). `scripts/fuzz` runs them with many more for a bounded time.

mod sips_support;

use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use gateway::auth::Verifier;
use gateway::clock::Clock;
use gateway::error::AppError;
use gateway::extract::parse_json;
use gateway::testing::{csrf_on_page, key_pair, KeyKind, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{json, Value};
use sips_support::*;

/// `PROPTEST_CASES`, or 256.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        max_shrink_time: 30_000,
        ..ProptestConfig::default()
    }
}

/// The codes a body may be refused with before any rule of the domain is asked.
const BODY_CODES: &[&str] = &[
    "malformed_json",
    "unknown_field",
    "missing_field",
    "invalid_body",
    "duplicate_key",
    "invalid_characters",
];

/// The codes of a refused token.
const TOKEN_CODES: &[&str] = &[
    "token_malformed",
    "token_bad_signature",
    "token_wrong_issuer",
    "token_wrong_audience",
    "token_claims_invalid",
    "token_expired",
    "token_not_yet_valid",
    "token_unit_missing",
];

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Field names of the command DTOs (and a few that are not), so that generated objects reach
/// past "unknown field".
const FIELDS: &[&str] = &[
    "id",
    "name",
    "principal",
    "kind",
    "uses_samplan",
    "address",
    "phone",
    "personal_identity_number",
    "relative_id",
    "note",
    "moved_on",
    "to_region",
    "died_on",
    "person_id",
    "identified_by",
    "reason",
    "known_since",
    "context",
    "track",
    "discharge_ready_at",
    "given_by",
    "actors",
    "topics",
    "valid_until",
    "declined_by",
    "withdrawn_by",
    "initiated_by",
    "fixed_care_contacts",
    "unit_id",
    "staff_id",
    "mapping_id",
    "heading",
    "text",
    "invitation_id",
    "purpose",
    "scheduled_at",
    "form",
    "place",
    "recipients",
    "representative",
    "profession",
    "held_at",
    "attendees",
    "role",
    "chair",
    "secretary",
    "new_coordinator",
    "follow_up_on",
    "sip_survey_offered",
    "sub_goal_id",
    "responsible",
    "intervention_id",
    "what",
    "responsible_person",
    "performer",
    "contact",
    "from",
    "to",
    "follow_up_id",
    "held_on",
    "interventions",
    "outcome",
    "comment",
    "goals",
    "reached",
    "next_follow_up_on",
    "replaced_by",
    "discharged_at",
    "letters",
    "__proto__",
    "",
];

/// String values that mean something somewhere: enumerations, dates, ids, and edge text.
const WORDS: &[&str] = &[
    "person",
    "relative",
    "guardian",
    "representative",
    "unit",
    "staff",
    "region",
    "municipality",
    "external",
    "outpatient",
    "discharge",
    "green",
    "yellow",
    "red",
    "meeting",
    "follow_up",
    "in_person",
    "video",
    "phone",
    "housing",
    "consent_withdrawn",
    "replaced_by_new_plan",
    "goals_met",
    "continues",
    "vc-centrum",
    "hemtjanst-norr",
    "19121212-1212",
    "121212-1212",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "2026-03-10",
    "2026-03-10T08:00:00Z",
    "2026-02-30",
    "9999-12-31T23:59:59Z",
    "-0001-01-01",
    "",
    " ",
    "\u{feff}",
    "🙂",
    "'; DROP TABLE events; --",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        proptest::sample::select(WORDS).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Arbitrary JSON, objects keyed mostly by the DTOs' field names.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((json_key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Valid bodies of several commands, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    [
        json!({"personal_identity_number": "19121212-1212", "name": "Tolvan", "phone": "070"}),
        json!({"person_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "identified_by": "staff",
               "reason": "Behov", "context": {"kind": "discharge", "track": "yellow",
               "discharge_ready_at": "2026-03-11T10:00:00Z"}}),
        json!({"given_by": {"kind": "guardian", "relative_id": "vh-1"},
               "actors": [VC, HT], "topics": ["Boende"], "valid_until": "2027-01-01"}),
        json!({"invitation_id": "inv-1", "purpose": "meeting",
               "scheduled_at": "2026-03-12T09:00:00Z", "form": "in_person", "place": "Rum 4",
               "recipients": [{"kind": "unit", "unit_id": HT}, {"kind": "person"}]}),
        json!({"follow_up_id": "f-1", "held_on": "2026-06-01",
               "interventions": [{"intervention_id": "i-1", "outcome": "continues"}],
               "goals": [{"sub_goal_id": "sg-1", "reached": true}]}),
        json!({"id": "vc-ny", "name": "Ny", "principal": {"kind": "region", "name": "R"},
               "uses_samplan": true}),
        json!({"heading": "housing", "text": "Bor ensam"}),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).expect("json"))
    .collect()
}

/// A valid body with a few bytes flipped, inserted, removed, or cut short.
fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    (
        0..seeds.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    )
        .prop_map(move |(i, edits)| {
            let mut bytes = seeds[i].clone();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    break;
                }
                let at = at.index(bytes.len());
                match op {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    2 => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at),
                }
            }
            bytes
        })
}

/// Any body: raw bytes, arbitrary JSON, or a mutated valid one.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| serde_json::to_vec(&v).expect("json")),
        mutated_body(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Command bodies, as the handlers read them
// ---------------------------------------------------------------------------------------------

type Decoder = (&'static str, fn(&[u8]) -> Result<(), AppError>);

macro_rules! decoders {
    ($($t:ty),+ $(,)?) => {
        vec![$((
            stringify!($t),
            (|b: &[u8]| parse_json::<$t>(b).map(|_| ())) as fn(&[u8]) -> Result<(), AppError>,
        )),+]
    };
}

/// Every command DTO of the API, and `Value` (what the person commands read first).
fn all_decoders() -> Vec<Decoder> {
    use gateway::commands::inbox::*;
    use gateway::commands::persons::*;
    use gateway::commands::sips::dto::*;
    use gateway::commands::units::*;
    decoders![
        Value,
        RegisterUnitRequest,
        RegisterPersonRequest,
        ChangeContactDetailsRequest,
        AddRelativeRequest,
        RemoveRelativeRequest,
        MarkProtectedIdentityRequest,
        RegisterDeathRequest,
        RegisterMovedOutRequest,
        IdentifyNeedRequest,
        RecordConsentRequest,
        DeclineConsentRequest,
        WithdrawConsentRequest,
        CreatePlanBasisRequest,
        ChangeCoordinatorRequest,
        DocumentMappingRequest,
        SendInvitationRequest,
        RespondToInvitationRequest,
        CancelInvitationRequest,
        RescheduleMeetingRequest,
        RecordMeetingRequest,
        DocumentMainGoalRequest,
        DocumentSubGoalRequest,
        DocumentInterventionRequest,
        PublishContributionRequest,
        ScheduleFollowUpRequest,
        RecordFollowUpRequest,
        ClosePlanRequest,
        RecordDischargeRequest,
        RecordLettersPostedRequest,
        SaveInvitationDraftRequest,
        MarkMessageReadRequest,
    ]
}

fn check_refusal(what: &str, e: &AppError) -> Result<(), TestCaseError> {
    let p = e.problem();
    prop_assert!(
        matches!(p.status, 400 | 422),
        "{}: {} {}",
        what,
        p.status,
        p.code
    );
    prop_assert!(
        BODY_CODES.contains(&p.code.as_str()),
        "{}: {}",
        what,
        p.code
    );
    prop_assert!(!p.detail.is_empty() && !p.title.is_empty());
    // What is echoed back is short and printable.
    prop_assert!(p.detail.chars().count() < 400, "{}: {}", what, p.detail);
    prop_assert!(
        p.detail.chars().all(gateway::text::is_allowed),
        "{}: {:?}",
        what,
        p.detail
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_command_body_decoder_refuses_garbage_with_a_stable_code(body in any_body()) {
        for (name, decode) in all_decoders() {
            if let Err(e) = decode(&body) {
                check_refusal(name, &e)?;
            }
        }
    }

    /// The byte scan of `text::check_json` agrees with the character rule: a string (key or
    /// value) is refused exactly when it holds a character `is_allowed` refuses.
    #[test]
    fn control_characters_are_refused_exactly_when_present(
        text in any::<String>(),
        as_key in any::<bool>(),
    ) {
        let body = if as_key { json!({ text.clone(): 1 }) } else { json!({ "text": text.clone() }) };
        let bytes = serde_json::to_vec(&body).expect("json");
        let answer = parse_json::<Value>(&bytes);
        if text.chars().all(gateway::text::is_allowed) {
            prop_assert!(answer.is_ok(), "{:?} refused: {:?}", text, answer.err());
        } else {
            let code = answer.expect_err("refused").problem().code;
            prop_assert_eq!(code, "invalid_characters", "{:?}", text);
        }
    }

    /// Any object with a key repeated (at any depth, as written or escaped) is refused with
    /// `duplicate_key`; the same document without the repetition is not.
    #[test]
    fn a_repeated_key_is_refused_wherever_it_is(
        value in json_value(),
        key in json_key(),
        escape in any::<bool>(),
        depth in 0usize..3,
    ) {
        let (value, key) = (printable(value), key.chars().filter(|c| gateway::text::is_allowed(*c)).collect::<String>());
        let inner = serde_json::to_string(&value).expect("json");
        let quoted = serde_json::to_string(&key).expect("json");
        let written = if escape {
            // Every UTF-16 unit as a \u escape: the same key to a JSON reader.
            key.encode_utf16().map(|u| format!("\\u{u:04x}")).collect::<String>()
        } else {
            quoted[1..quoted.len() - 1].to_owned()
        };
        let mut repeated = format!("{{{quoted}: {inner}, \"{written}\": null}}");
        let mut single = format!("{{{quoted}: {inner}}}");
        for _ in 0..depth {
            repeated = format!("{{\"x\": [{repeated}]}}");
            single = format!("{{\"x\": [{single}]}}");
        }
        let code = parse_json::<Value>(repeated.as_bytes()).err().map(|e| e.problem().code);
        prop_assert_eq!(code.as_deref(), Some("duplicate_key"), "{}", repeated);
        let answer = parse_json::<Value>(single.as_bytes());
        prop_assert!(answer.is_ok(), "{}: {:?}", single, answer.err());
    }
}

/// `value` with every character `text::is_allowed` refuses taken out of its strings and keys.
fn printable(value: Value) -> Value {
    let clean = |s: &str| {
        s.chars()
            .filter(|c| gateway::text::is_allowed(*c))
            .collect::<String>()
    };
    match value {
        Value::String(s) => Value::String(clean(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(printable).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (clean(&k), printable(v)))
                .collect(),
        ),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

const SECRET: &str = "0123456789abcdef0123456789abcdef-fuzz";

fn now() -> DateTime<Utc> {
    gateway::testing::TEST_NOW.parse().expect("time")
}

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

fn hmac256(key: &[u8], input: &str) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("key");
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Headers: mostly `alg` values people try, sometimes arbitrary JSON.
fn token_header() -> impl Strategy<Value = Value> {
    let alg = proptest::sample::select(vec![
        "HS256", "HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA", "none", "None", "NONE", "",
        "hs256",
    ]);
    prop_oneof![
        4 => (alg, proptest::option::of(proptest::sample::select(vec!["JWT", "jwt", ""])))
            .prop_map(|(alg, typ)| {
                let mut h = json!({"alg": alg});
                if let Some(t) = typ {
                    h["typ"] = json!(t);
                }
                h
            }),
        1 => json_value(),
    ]
}

/// Claims: around the valid ones, each field now and then replaced by something odd.
fn token_claims() -> impl Strategy<Value = Value> {
    let t = now().timestamp();
    let odd = prop_oneof![
        3 => Just(None),
        1 => Just(Some(Value::Null)),
        2 => json_leaf().prop_map(Some),
        1 => (-10_000i64..10_000).prop_map(move |d| Some(json!(t + d))),
    ];
    let role = proptest::sample::select(vec![
        "staff",
        "citizen",
        "auditor",
        "reporting",
        "admin",
        "superuser",
        "Staff",
        "",
    ]);
    (
        role,
        proptest::option::of(proptest::sample::select(vec![
            "vc-centrum",
            "",
            "VC CENTRUM",
            "a/b",
        ])),
        proptest::collection::vec(odd, 9),
    )
        .prop_map(move |(role, unit, odd)| {
            let mut c = json!({"sub": "SE2321000016-A1B2", "role": role, "name": "N",
                               "iat": t, "exp": t + 600, "iss": "samplan", "aud": "samplan"});
            if let Some(u) = unit {
                c["unit"] = json!(u);
            }
            let keys = [
                "sub",
                "role",
                "name",
                "iat",
                "exp",
                "iss",
                "aud",
                "unit",
                "personal_identity_number",
            ];
            for (key, value) in keys.iter().zip(odd) {
                if let Some(v) = value {
                    c[*key] = v;
                }
            }
            c
        })
}

/// (token, whether it carries a valid HS256 signature by the service's secret).
fn any_token() -> impl Strategy<Value = (String, bool)> {
    let segment = prop_oneof![
        "[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9+/=_-]{0,60}",
        any::<String>(),
        json_value().prop_map(|v| b64url(v.to_string().as_bytes())),
    ];
    prop_oneof![
        any::<String>().prop_map(|s| (s, false)),
        proptest::collection::vec(segment, 0..6).prop_map(|parts| (parts.join("."), false)),
        (token_header(), token_claims(), 0u8..3).prop_map(|(header, claims, key)| {
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let (signature, signed) = match key {
                0 => (hmac256(SECRET.as_bytes(), &input), true),
                1 => (hmac256(b"another secret entirely", &input), false),
                _ => (Vec::new(), false),
            };
            (format!("{input}.{}", b64url(&signature)), signed)
        }),
    ]
}

fn check_token_answer(
    verifier: &Verifier,
    token: &str,
    may_pass: bool,
) -> Result<(), TestCaseError> {
    match verifier.verify(token) {
        Ok(caller) => {
            prop_assert!(
                may_pass,
                "a token not signed by the service passed: {}",
                token
            );
            prop_assert!(!caller.sub.trim().is_empty());
        }
        Err(e) => {
            let p = e.problem();
            prop_assert_eq!(p.status, 401, "{}", token);
            prop_assert!(
                TOKEN_CODES.contains(&p.code.as_str()),
                "{}: {}",
                token,
                p.code
            );
        }
    }
    Ok(())
}

#[test]
fn token_verification_never_panics_and_accepts_only_the_service_signature() {
    let clock = Clock::fixed(now());
    let hs = Verifier::hs256(SECRET, "samplan", "samplan", clock.clone());
    let rs = Verifier::public_key_pem(
        &key_pair(KeyKind::Rs256).1,
        "samplan",
        "samplan",
        clock.clone(),
    )
    .expect("RSA key");
    let es = Verifier::public_key_pem(&key_pair(KeyKind::Es256).1, "samplan", "samplan", clock)
        .expect("EC key");
    let mut runner = TestRunner::new(RunnerConfig {
        cases: cases() * 4,
        ..RunnerConfig::default()
    });
    runner
        .run(&any_token(), |(token, signed)| {
            check_token_answer(&hs, &token, signed)?;
            // Nothing here is signed with the private keys: the public-key services accept none.
            check_token_answer(&rs, &token, false)?;
            check_token_answer(&es, &token, false)?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------------------
// Problem rendering
// ---------------------------------------------------------------------------------------------

/// Arbitrary errors, each carrying `secret` wherever an internal message would go.
fn any_error() -> impl Strategy<Value = (AppError, String)> {
    use domain::error::DomainError;
    let text = any::<String>();
    let code = prop_oneof![
        proptest::sample::select(vec!["invalid_body", "role_not_allowed", "x", ""]),
        any::<String>().prop_map(|s| &*Box::leak(s.into_boxed_str())),
    ];
    (0u8..20, text, code, any::<i64>(), "[a-zA-Z0-9]{12,24}").prop_map(
        |(kind, text, code, number, secret)| {
            let error = match kind {
                0 => AppError::Domain(DomainError::InvalidRole(text)),
                1 => AppError::Domain(DomainError::InvalidHeading(text)),
                2 => AppError::Domain(DomainError::UnknownRelative(text)),
                3 => AppError::Domain(DomainError::InvalidPersonalIdentityNumber { message: text }),
                4 => AppError::Store(eventstore::StoreError::Conflict {
                    stream_id: secret.clone(),
                    expected: eventstore::ExpectedVersion::Any,
                    actual: number,
                }),
                5 => AppError::Store(eventstore::StoreError::InvalidInput(secret.clone())),
                6 => AppError::Store(eventstore::StoreError::Unavailable(secret.clone())),
                7 => AppError::Store(eventstore::StoreError::Migration(secret.clone())),
                8 => AppError::Store(eventstore::StoreError::Decode(secret.clone())),
                9 => AppError::Store(eventstore::StoreError::IdempotencyKeyReused {
                    command_id: secret.clone(),
                }),
                10 => AppError::Unauthorized(text),
                11 => AppError::Token { code, detail: text },
                12 => AppError::Forbidden { code, detail: text },
                13 => AppError::NotFound,
                14 => AppError::BadRequest { code, detail: text },
                15 => AppError::Unprocessable { code, detail: text },
                16 => AppError::VersionConflict { current: number },
                17 => AppError::PayloadTooLarge,
                18 => AppError::Unavailable(secret.clone()),
                _ => AppError::Internal(secret.clone()),
            };
            (error, secret)
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_error_renders_as_a_problem_document((error, secret) in any_error()) {
        let expected = error.problem();
        let internal = matches!(
            error,
            AppError::Store(_) | AppError::Internal(_) | AppError::Unavailable(_)
        );
        let response = error.into_response();
        prop_assert_eq!(response.status().as_u16(), expected.status);
        prop_assert_eq!(
            response.headers()["content-type"].to_str().ok(),
            Some("application/problem+json")
        );
        let bytes = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        prop_assert_eq!(&body["code"], &json!(expected.code));
        prop_assert_eq!(&body["status"], &json!(expected.status));
        prop_assert_eq!(&body["type"], &json!(format!("urn:samplan:problem:{}", expected.code)));
        prop_assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
        prop_assert!(body["detail"].is_string());
        // What went wrong inside (a database message, a stream name) is logged, never sent.
        if internal {
            let text = String::from_utf8_lossy(&bytes);
            prop_assert!(!text.contains(&secret), "{} leaked: {}", secret, text);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Over HTTP: the write routes and the HTML forms
// ---------------------------------------------------------------------------------------------

/// A runtime for a running service that outlives each case.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn every_write_route_answers_arbitrary_bodies_without_a_5xx() {
    let rt = runtime();
    let (app, w, sip) = rt.block_on(async {
        let app = TestApp::spawn().await;
        let w = world(&app).await;
        let sip = prepared_plan(&app, &w).await;
        (app, w, sip)
    });
    let admin = app.admin_token();
    let mut routes: Vec<(String, &str)> = vec![
        ("/api/v1/units".into(), admin.as_str()),
        ("/api/v1/persons".into(), w.vc.as_str()),
        ("/api/v1/sips".into(), w.vc.as_str()),
        (
            "/api/v1/inbox/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/read".into(),
            w.vc.as_str(),
        ),
    ];
    for c in gateway::routes::persons::PERSON_COMMANDS {
        routes.push((
            format!("/api/v1/persons/{}/{c}", w.person_id),
            w.vc.as_str(),
        ));
    }
    // Every SIP command the OpenAPI document lists, so that a new one is fuzzed too.
    let document = serde_json::to_value(gateway::openapi::document()).expect("document");
    for path in document["paths"].as_object().expect("paths").keys() {
        if let Some(c) = path.strip_prefix("/api/v1/sips/{id}/") {
            routes.push((format!("/api/v1/sips/{sip}/{c}"), w.vc.as_str()));
        }
    }
    assert!(routes.len() > 25, "{routes:?}");
    let mut runner = TestRunner::new(RunnerConfig {
        cases: cases().div_ceil(4).max(16),
        ..RunnerConfig::default()
    });
    let strategy = (0..routes.len(), any_body());
    runner
        .run(&strategy, |(route, body)| {
            let (path, token) = &routes[route];
            rt.block_on(async {
                let before = app.store.head_position().await.expect("head");
                let (status, headers, answer) = app
                    .send(
                        app.client
                            .post(app.url(path))
                            .bearer_auth(token)
                            .header("content-type", "application/json")
                            .body(body.clone()),
                    )
                    .await;
                prop_assert!(
                    status.as_u16() < 500,
                    "{} {:?}: {} {}",
                    path,
                    String::from_utf8_lossy(&body),
                    status,
                    answer
                );
                if !status.is_success() {
                    prop_assert_eq!(
                        headers["content-type"].to_str().ok(),
                        Some("application/problem+json")
                    );
                    prop_assert!(answer["code"].as_str().is_some_and(|c| !c.is_empty()));
                    let after = app.store.head_position().await.expect("head");
                    prop_assert_eq!(after, before, "{} refused but appended", path);
                }
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Form field names of the pages, and what their values look like.
const FORM_FIELDS: &[&str] = &[
    "_csrf",
    "demo",
    "token",
    "q",
    "name",
    "phone",
    "address",
    "personal_identity_number",
    "kind",
    "relative_id",
    "note",
    "reason",
    "text",
    "heading",
    "given_by",
    "actors",
    "topics",
    "valid_until",
    "scheduled_at",
    "scheduled_at_date",
    "scheduled_at_time",
    "form",
    "place",
    "recipients",
    "invitation_id",
    "representative",
    "held_at",
    "chair",
    "secretary",
    "attendees",
    "follow_up_on",
    "sub_goal_id",
    "responsible",
    "what",
    "from",
    "to",
    "outcome",
    "reached",
    "staff_id",
    "unit_id",
    "identified_by",
    "context",
    "track",
    "replaced_by",
];

fn form_body() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9]{1,2}:[0-9]{2}",
        any::<String>(),
    ];
    let pair = (
        prop_oneof![
            4 => proptest::sample::select(FORM_FIELDS).prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        value,
    );
    prop_oneof![
        4 => proptest::collection::vec(pair, 0..10).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        }),
        1 => any::<String>(),
        1 => "[=&%+a-z0-9]{0,40}",
    ]
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_html_forms_never_answer_5xx_and_need_their_token() {
    let rt = runtime();
    let (app, w, sip) = rt.block_on(async {
        let app = TestApp::spawn().await;
        let w = world(&app).await;
        let sip = prepared_plan(&app, &w).await;
        // The page reads the read models: wait until they have the plan.
        let head = app.store.head_position().await.expect("head");
        for projection in [
            projections::directory::PROJECTION,
            projections::participation::PROJECTION,
            projections::inbox::PROJECTION,
        ] {
            projections::runner::applied(app.store.pool(), projection, head, 10_000)
                .await
                .expect("the read model caught up");
        }
        (app, w, sip)
    });
    // A signed-in browser: the session cookie, the form-token cookie, and the page's token.
    let csrf_key = "ab".repeat(32);
    let cookie = format!("samplan_session={}; samplan_csrf={csrf_key}", w.vc);
    let (page_status, token) = rt.block_on(async {
        let response = app
            .client
            .get(app.url(&format!("/sip/{sip}")))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("page");
        let status = response.status();
        (
            status,
            csrf_on_page(&response.text().await.unwrap_or_default()),
        )
    });
    assert!(page_status.is_success(), "the plan's page: {page_status}");
    let token = token.expect("the page carries a form token");
    let steps = [
        "samtycke",
        "underlag",
        "kartlaggning",
        "kallelse",
        "svar",
        "mote",
        "huvudmal",
        "delmal",
        "insats",
        "dela-ut",
        "uppfoljning",
        "uppfoljning-insatser",
        "boka-uppfoljning",
        "andra-delmal-sg-1",
        "andra-insats-in-1",
        "samordnare",
        "samtycke-nekat",
        "samtycke-aterkallat",
        "inga-insatser",
        "utskrivning",
        "spara",
        "flytta",
        "stall-in",
        "avslut",
        "okand",
    ];
    let mut paths: Vec<String> = steps.iter().map(|s| format!("/sip/{sip}/{s}")).collect();
    paths.extend([
        "/logga-in".to_owned(),
        "/logga-ut".to_owned(),
        "/patienter".to_owned(),
        format!("/patienter/{}/narstaende", w.person_id),
        format!("/patienter/{}/narstaende/dottern/ta-bort", w.person_id),
        format!("/patienter/{}/kontaktuppgifter", w.person_id),
        format!("/patienter/{}/sip", w.person_id),
        "/meddelanden/01ARZ3NDEKTSV4RRFFQ69G5FAV/las".to_owned(),
    ]);
    // 0: the browser's own token and cookies; 1: no token; 2: a token of another browser;
    // 3: arbitrary cookies; 4: cross-site.
    let variant =
        prop_oneof![4 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8), 1 => Just(4u8)];
    let strategy = (0..paths.len(), form_body(), variant, any::<String>());
    let mut runner = TestRunner::new(RunnerConfig {
        cases: cases().div_ceil(4).max(16),
        ..RunnerConfig::default()
    });
    runner
        .run(&strategy, |(path, body, variant, junk)| {
            let path = &paths[path];
            let with_token = if variant == 0 || variant == 4 {
                format!("_csrf={token}&{body}")
            } else if variant == 2 {
                format!("_csrf={}&{body}", "00".repeat(32))
            } else {
                body.clone()
            };
            let cookies = if variant == 3 {
                junk.chars()
                    .filter(|c| c.is_ascii_graphic() || *c == ' ')
                    .collect()
            } else {
                cookie.clone()
            };
            rt.block_on(async {
                let before = app.store.head_position().await.expect("head");
                let mut request = app
                    .client
                    .post(app.url(path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("cookie", cookies)
                    .body(with_token);
                if variant == 4 {
                    request = request
                        .header("sec-fetch-site", "cross-site")
                        .header("origin", "https://evil.example");
                }
                let (status, _, answer) = app.send(request).await;
                prop_assert!(
                    status.as_u16() < 500,
                    "{} {:?} (variant {}): {} {}",
                    path,
                    body,
                    variant,
                    status,
                    answer.to_string().chars().take(500).collect::<String>()
                );
                if variant != 0 {
                    let after = app.store.head_position().await.expect("head");
                    prop_assert_eq!(after, before, "{} without its form token appended", path);
                }
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
