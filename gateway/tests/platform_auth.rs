//! Authentication at the edge: every way a token can be wrong is a 401 problem document with a
//! stable code, and a good token becomes the caller the handlers see.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Duration;
use domain::context::Role;
use gateway::auth::{mint_token, Caller, Claims};
use gateway::testing::{key_pair, KeyKind, TestApp};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Registers the unit the tokens of these tests name, as an administrator would (straight
/// through the command path: some of these apps verify only tokens of a key pair). A staff
/// token for a unit samplan does not know is refused (403 `unit_unknown`, tests/api_contract.rs).
async fn register_unit(app: &TestApp) {
    let admin = Caller {
        sub: "admin".into(),
        role: Role::Admin,
        unit: None,
        name: "Administratör".into(),
        personal_identity_number: None,
    };
    let meta = gateway::pipeline::WriteMeta {
        idempotency_key: None,
        if_match: None,
        request_hash: Vec::new(),
    };
    let request = serde_json::from_value(json!({
        "id": "vc-norr", "name": "Vårdcentralen Norr",
        "principal": {"kind": "region", "name": "Region Testlän"},
        "uses_samplan": true,
    }))
    .expect("a unit");
    gateway::commands::units::register(
        &app.state,
        gateway::pipeline::Write {
            caller: &admin,
            meta: &meta,
            correlation_id: None,
        },
        request,
    )
    .await
    .expect("the unit is registered");
}

/// A tiny route behind the real `Caller` extractor and state, driven without a socket.
async fn whoami(app: &TestApp, authorization: Option<&str>) -> (StatusCode, Value) {
    async fn handler(caller: Caller) -> Json<Value> {
        Json(
            json!({ "sub": caller.sub, "role": caller.role.as_str(), "unit": caller.unit.map(|u| u.to_string()) }),
        )
    }
    let router = Router::new()
        .route("/whoami", get(handler))
        .with_state(app.state.clone());
    let mut request = axum::http::Request::get("/whoami");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = router
        .oneshot(request.body(axum::body::Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn claims(app: &TestApp) -> Claims {
    let now = app.clock.now().timestamp();
    Claims {
        sub: "SE2321000016-A1B2".into(),
        role: "staff".into(),
        unit: Some("vc-norr".into()),
        name: "Test Testsson".into(),
        personal_identity_number: None,
        exp: now + 600,
        iat: now,
        nbf: None,
        iss: "samplan".into(),
        aud: "samplan".into(),
    }
}

/// The claims of [`claims`], signed as an identity provider signs with `private` (RSA: RS256, EC:
/// ES256).
fn signed_with(private: &str, app: &TestApp) -> String {
    gateway::auth::Signer::private_key_pem(private, "samplan", "samplan")
        .expect("an RSA or EC private key")
        .sign(
            "SE2321000016-A1B2",
            "staff",
            Some("vc-norr"),
            "Test Testsson",
            app.clock.now(),
            Duration::minutes(10),
        )
}

fn assert_problem(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["status"], 401, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn a_valid_staff_token_names_the_caller_and_unit() {
    let app = TestApp::spawn().await;
    register_unit(&app).await;
    let token = app.staff_token("SE2321000016-A1B2", "vc-norr");
    let (status, body) = whoami(&app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "sub": "SE2321000016-A1B2", "role": "staff", "unit": "vc-norr" })
    );
}

#[tokio::test]
async fn an_api_request_without_token_is_401_problem_with_bearer_challenge() {
    let app = TestApp::spawn().await;
    let (status, headers, body) = app
        .send(app.client.post(app.url("/api/v1/units")).json(&json!({})))
        .await;
    assert_problem(status, &body, "token_missing");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn malformed_authorization_is_refused() {
    let app = TestApp::spawn().await;
    for header in [
        "Bearer",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwdw==",
        "Bearer a.b.c",
    ] {
        let (status, body) = whoami(&app, Some(header)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}: {body}");
        assert!(
            ["token_malformed", "token_claims_invalid"]
                .contains(&body["code"].as_str().unwrap_or("")),
            "{header}: {body}"
        );
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_by_the_service_clock() {
    let app = TestApp::spawn().await;
    register_unit(&app).await;
    let token = app.staff_token("SE2321000016-A1B2", "vc-norr");
    assert_eq!(
        whoami(&app, Some(&format!("Bearer {token}"))).await.0,
        StatusCode::OK
    );
    // Tokens from TestApp live 8 hours; move the service's clock past that.
    app.clock.set(app.clock.now() + Duration::hours(9));
    let (status, body) = whoami(&app, Some(&format!("Bearer {token}"))).await;
    assert_problem(status, &body, "token_expired");

    let mut old = claims(&app);
    old.iat -= 7200;
    old.exp = old.iat + 3600;
    let (status, body) = whoami(
        &app,
        Some(&format!("Bearer {}", mint_token(app.secret(), &old))),
    )
    .await;
    assert_problem(status, &body, "token_expired");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let app = TestApp::spawn().await;
    let forged = mint_token("an-entirely-different-secret-of-32-bytes", &claims(&app));
    let (status, body) = whoami(&app, Some(&format!("Bearer {forged}"))).await;
    assert_problem(status, &body, "token_bad_signature");
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_refused() {
    let app = TestApp::spawn().await;
    let mut c = claims(&app);
    c.iss = "someone-else".into();
    let (status, body) = whoami(
        &app,
        Some(&format!("Bearer {}", mint_token(app.secret(), &c))),
    )
    .await;
    assert_problem(status, &body, "token_wrong_issuer");

    let mut c = claims(&app);
    c.aud = "another-service".into();
    let (status, body) = whoami(
        &app,
        Some(&format!("Bearer {}", mint_token(app.secret(), &c))),
    )
    .await;
    assert_problem(status, &body, "token_wrong_audience");
}

#[tokio::test]
async fn staff_without_unit_and_unknown_roles_are_refused() {
    let app = TestApp::spawn().await;
    let mut c = claims(&app);
    c.unit = None;
    let (status, body) = whoami(
        &app,
        Some(&format!("Bearer {}", mint_token(app.secret(), &c))),
    )
    .await;
    assert_problem(status, &body, "token_unit_missing");

    let mut c = claims(&app);
    c.role = "root".into();
    let (status, body) = whoami(
        &app,
        Some(&format!("Bearer {}", mint_token(app.secret(), &c))),
    )
    .await;
    assert_problem(status, &body, "token_claims_invalid");
}

#[tokio::test]
async fn a_token_from_the_future_is_refused() {
    let app = TestApp::spawn().await;
    let mut c = claims(&app);
    c.iat += 3600;
    c.exp += 7200;
    let (status, body) = whoami(
        &app,
        Some(&format!("Bearer {}", mint_token(app.secret(), &c))),
    )
    .await;
    assert_problem(status, &body, "token_not_yet_valid");
}

#[tokio::test]
async fn require_role_is_403_role_not_allowed() {
    let app = TestApp::spawn().await;
    let caller = app
        .state
        .verifier
        .verify(&app.token("citizen", "01J0000000000000000000000A", None, "Medborgare"))
        .expect("valid citizen token");
    let err = caller.require_role(Role::Staff).unwrap_err();
    let problem = err.problem();
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (403, "role_not_allowed")
    );
    assert!(caller.staff_unit().is_err());
    assert!(caller.require_role(Role::Citizen).is_ok());
}

#[tokio::test]
async fn during_a_secret_rotation_both_secrets_are_accepted_and_afterwards_only_the_new() {
    let old = gateway::auth::random_hex(32).expect("old secret");
    let new = gateway::auth::random_hex(32).expect("new secret");
    let (old_key, new_key) = (old.clone(), new.clone());
    let rotating = TestApp::spawn_with(move |c| {
        c.jwt_key = gateway::config::JwtKey::Secret(new_key);
        c.jwt_secret_previous = Some(gateway::config::HiddenSecret(old_key));
    })
    .await;
    register_unit(&rotating).await;
    let old_token = mint_token(&old, &claims(&rotating));
    let new_token = mint_token(&new, &claims(&rotating));
    for token in [&old_token, &new_token] {
        let (status, body) = whoami(&rotating, Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sub"], "SE2321000016-A1B2", "{body}");
    }

    // The old secret removed: its tokens are refused, the new secret's still accepted.
    let new_key = new.clone();
    let rotated = TestApp::spawn_with(move |c| {
        c.jwt_key = gateway::config::JwtKey::Secret(new_key);
    })
    .await;
    register_unit(&rotated).await;
    let (status, body) = whoami(&rotated, Some(&format!("Bearer {old_token}"))).await;
    assert_problem(status, &body, "token_bad_signature");
    let (status, body) = whoami(&rotated, Some(&format!("Bearer {new_token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn during_a_public_key_rotation_both_keys_are_accepted_and_afterwards_only_the_new() {
    // From an RSA key to an EC key, so that each algorithm finds only its own key.
    let (old_private, old_public) = key_pair(KeyKind::Rs256);
    let (new_private, new_public) = key_pair(KeyKind::Es256);
    let both = format!("{new_public}{old_public}");
    let rotating = TestApp::spawn_with(move |c| {
        c.jwt_key = gateway::config::JwtKey::PublicKeyPem(both);
    })
    .await;
    register_unit(&rotating).await;
    let old_token = signed_with(&old_private, &rotating);
    let new_token = signed_with(&new_private, &rotating);
    for token in [&old_token, &new_token] {
        let (status, body) = whoami(&rotating, Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // An HS256 token keyed with either public key's bytes is still nothing.
    for public in [&old_public, &new_public] {
        let forged = mint_token(public, &claims(&rotating));
        let (status, body) = whoami(&rotating, Some(&format!("Bearer {forged}"))).await;
        assert_problem(status, &body, "token_bad_signature");
    }

    let rotated = TestApp::spawn_with(move |c| {
        c.jwt_key = gateway::config::JwtKey::PublicKeyPem(new_public);
    })
    .await;
    register_unit(&rotated).await;
    let (status, body) = whoami(&rotated, Some(&format!("Bearer {old_token}"))).await;
    assert_problem(status, &body, "token_bad_signature");
    let (status, body) = whoami(&rotated, Some(&format!("Bearer {new_token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_token_signed_with_a_key_pair_is_verified_once_and_then_remembered() {
    // As an identity provider signs: RS256 and ES256, whose signature checks cost far more CPU
    // than the rest of a read (ADR 0030).
    for kind in [KeyKind::Rs256, KeyKind::Es256] {
        let (private, public) = key_pair(kind);
        let app = TestApp::spawn_with(move |c| {
            c.jwt_key = gateway::config::JwtKey::PublicKeyPem(public);
        })
        .await;
        register_unit(&app).await;
        let token = signed_with(&private, &app);
        for _ in 0..3 {
            let (status, body) = whoami(&app, Some(&format!("Bearer {token}"))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["sub"], "SE2321000016-A1B2", "{body}");
        }
        let (status, _, body) = app.send(app.client.get(app.url("/metrics"))).await;
        assert_eq!(status, StatusCode::OK);
        let text = body.as_str().expect("text");
        let counter = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{name} in {text}"))
        };
        assert_eq!(
            counter("samplan_token_signature_checks_total"),
            1,
            "{kind:?}"
        );
        assert_eq!(counter("samplan_token_verified_hits_total"), 2, "{kind:?}");

        // Remembered, and still expired on time.
        app.clock.set(app.clock.now() + Duration::minutes(11));
        let (status, body) = whoami(&app, Some(&format!("Bearer {token}"))).await;
        assert_problem(status, &body, "token_expired");
    }
}
