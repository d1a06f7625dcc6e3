//! The web client's defences against a hostile colleague, a shared computer and a hostile
//! network: ids that could steer a link are refused, signing out ends the session on every
//! gateway, over TLS only the `__Host-` cookies count and the browser is told to stay on HTTPS,
//! and every answer — a page, an error made outside the pages, the API — forbids storing it.

mod persons_support;

use gateway::testing::csrf_on_page;
use persons_support::*;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

/// A browser's client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET path` with `cookie`, and over TLS when `https` (as a proxy in front says).
async fn page(app: &App, path: &str, cookie: &str, https: bool) -> (StatusCode, HeaderMap, String) {
    let mut request = browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept", "text/html");
    if https {
        request = request.header("x-forwarded-proto", "https");
    }
    let response = request.send().await.expect("page");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.expect("body"))
}

fn redirect_to(headers: &HeaderMap) -> &str {
    headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// "Logga ut" with the page's form token: to the sign-in page.
async fn sign_out(app: &App, cookie: &str, csrf: &str) {
    let response = browser()
        .post(app.url("/logga-ut"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}"))
        .send()
        .await
        .expect("sign out");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect_to(response.headers()), "/logga-in?utloggad=ja");
}

#[tokio::test]
async fn a_relative_id_that_could_steer_a_link_is_refused_and_nothing_is_appended() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let person = register_person(&app, &nurse, "121212+1212", "Tolvan Tolvansson").await;
    let id = person["id"].as_str().expect("id");
    let head = app.store.head_position().await.expect("head");
    for bad in [
        "../../../sip/01ARZ3NDEKTSV4RRFFQ69G5FAV/samtycke-aterkallat?",
        "a/b",
        "..",
        "x\"><b>",
        "a b",
    ] {
        let (status, _, body) = app
            .post(
                &format!("/api/v1/persons/{id}/add-relative"),
                &nurse,
                &json!({"relative_id": bad, "kind": "relative", "name": "Bertil Berg"}),
            )
            .await;
        problem(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id",
        );
    }
    assert_eq!(app.store.head_position().await.expect("head"), head);
    let (status, _, body) = app
        .post(
            &format!("/api/v1/persons/{id}/add-relative"),
            &nurse,
            &json!({"relative_id": "mor-1.a_B", "kind": "guardian", "name": "Maria Berg"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn signing_out_ends_the_session_on_this_gateway_and_every_other() {
    let app = spawn().await;
    units(&app).await;
    let token = nurse(&app);
    let cookie = format!("samplan_session={token}; samplan_csrf={}", "ab".repeat(32));
    let (status, _, html) = page(&app, "/patienter", &cookie, false).await;
    assert_eq!(status, StatusCode::OK, "signed in");
    let csrf = csrf_on_page(&html).expect("a form token on the page");
    sign_out(&app, &cookie, &csrf).await;

    // The cookie kept (a shared computer, a copied profile) opens nothing any more: no page, no
    // form, and not the API either, where the same token would be a Bearer token.
    let (status, headers, _) = page(&app, "/patienter", &cookie, false).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(redirect_to(&headers), "/logga-in?till=%2Fpatienter");
    let posted = browser()
        .post(app.url("/patienter"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "_csrf={csrf}&personal_identity_number=19121212-1212&name=Tolvan+Tolvansson"
        ))
        .send()
        .await
        .expect("register");
    // Nothing is done; the page only holds what this very request carried, to send again.
    assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    let html = posted.text().await.expect("body");
    assert!(html.contains("Du är inte inloggad längre"), "{html}");
    assert!(!html.contains("action=\"/logga-ut\""), "{html}");
    let (status, _, body) = app.get("/api/v1/units", &token).await;
    problem(status, &body, StatusCode::UNAUTHORIZED, "token_revoked");
    assert_eq!(
        app.store.head_position().await.expect("head"),
        2,
        "only the two units"
    );

    // Recorded for the other gateways: the token's digest, never the token.
    let client = app.store.pool().get().await.expect("client");
    let digest: Vec<u8> = Sha256::digest(token.as_bytes()).to_vec();
    let rows: i64 = client
        .query_one(
            "SELECT count(*) FROM revoked_tokens WHERE token_sha256 = $1",
            &[&digest],
        )
        .await
        .expect("rows")
        .get(0);
    assert_eq!(rows, 1);

    // A session ended through another gateway is refused here within seconds.
    let other = app.token(
        "staff",
        "SE2321000016-VC12",
        Some(VC),
        "Annan Sjuksköterska",
    );
    let (status, _, _) = app.get("/api/v1/units", &other).await;
    assert_eq!(status, StatusCode::OK);
    let other_digest: Vec<u8> = Sha256::digest(other.as_bytes()).to_vec();
    let expires = app.clock.now() + chrono::Duration::hours(8);
    client
        .execute(
            "INSERT INTO revoked_tokens (token_sha256, expires_at) VALUES ($1, $2)",
            &[&other_digest, &expires],
        )
        .await
        .expect("another gateway's sign-out");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, _, body) = app.get("/api/v1/units", &other).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "token_revoked", "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other gateway's sign-out was not seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn over_tls_only_the_host_cookies_count_and_the_browser_is_told_to_stay() {
    let app = spawn().await;
    units(&app).await;
    let mine = app.token("staff", "SE2321000016-VC11", Some(VC), "Min Egen");
    let planted = app.token("staff", "SE2321000016-HT11", Some(HT), "Planterad Session");

    // A cookie without the prefix (set by a sibling host, or over plain HTTP) signs nobody in.
    let (status, headers, _) = page(
        &app,
        "/patienter",
        &format!("samplan_session={planted}"),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(redirect_to(&headers), "/logga-in?till=%2Fpatienter");

    // Beside the browser's own session it changes nothing, whichever comes first.
    let both = format!("samplan_session={planted}; __Host-samplan_session={mine}");
    let (status, headers, html) = page(&app, "/patienter", &both, true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Min Egen") && !html.contains("Planterad"));
    assert_eq!(
        headers
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );

    // Over plain HTTP the plain cookie is the session, and no HSTS is sent.
    let (status, headers, _) = page(
        &app,
        "/patienter",
        &format!("samplan_session={mine}"),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("strict-transport-security").is_none());
}

#[tokio::test]
async fn no_answer_may_be_stored_or_sniffed_pages_errors_and_api_alike() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let person = register_person(&app, &nurse, "121212+1212", "Tolvan Tolvansson").await;
    let id = person["id"].as_str().expect("id");
    let header = |h: &HeaderMap, name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };

    // The API's personal data, and its problem documents.
    let at = person["position"].as_i64().expect("position");
    let (status, headers, _) = app
        .get(&format!("/api/v1/persons/{id}?min_position={at}"), &nurse)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let (status, headers, _) = app.get("/api/v1/persons/nope", &nurse).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&headers, "cache-control"), "no-store");

    // A web error made outside the pages' handlers keeps the pages' headers.
    let response = app
        .client
        .get(app.url("/logga-ut"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("405");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert!(header(&headers, "content-security-policy").contains("frame-ancestors 'none'"));

    // Assets keep their own caching.
    let (status, headers, html) = page(
        &app,
        "/patienter",
        &format!("samplan_session={nurse}"),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    // Nothing typed about a patient stays in the browser's form history.
    let typed: Vec<&str> = html
        .split("<input ")
        .skip(1)
        .map(|tag| tag.split('>').next().unwrap_or(""))
        .filter(|tag| !tag.contains("type=\"hidden\"") && !tag.contains("type=\"checkbox\""))
        .collect();
    assert!(typed.len() >= 4, "the search box and the registration form");
    for tag in typed {
        assert!(tag.contains("autocomplete=\"off\""), "{tag}");
    }
    let css = html
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap_or(""))
        .find(|href| href.starts_with("/assets/samplan.css"))
        .expect("the style sheet's address")
        .to_owned();
    let response = app.client.get(app.url(&css)).send().await.expect("css");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(response.headers(), "cache-control").contains("immutable"));
}

/// `POST path` with `cookie` and the url-encoded `form`.
async fn post_form(app: &App, path: &str, cookie: &str, form: &str) -> (StatusCode, String) {
    let response = browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("post");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// Signed in again before the sign-in ended (each page warns five minutes before, WCAG 2.2.1),
/// a form of a page from before still goes through: its token is bound to the browser and the
/// user, not to one sign-in. A colleague signing in in the same browser has it refused.
#[tokio::test]
async fn a_form_from_before_signing_in_again_still_goes_through_for_the_same_user() {
    let app = spawn().await;
    units(&app).await;
    let key = "ab".repeat(32);
    let first = nurse(&app);
    let cookie = format!("samplan_session={first}; samplan_csrf={key}");
    let (status, _, html) = page(&app, "/patienter", &cookie, false).await;
    assert_eq!(status, StatusCode::OK);
    // The page says when the sign-in ends (8 hours and the 30 s leeway), for its warning.
    assert!(html.contains(r#"data-left="28830""#), "{html}");
    let csrf = csrf_on_page(&html).expect("a form token on the page");
    let search = format!("_csrf={csrf}&q=19121212-1212");

    app.clock
        .set(app.clock.now() + chrono::Duration::minutes(1));
    let again = nurse(&app);
    assert_ne!(again, first, "a new sign-in");
    let cookie = format!("samplan_session={again}; samplan_csrf={key}");
    let (status, html) = post_form(&app, "/patienter/sok", &cookie, &search).await;
    assert_eq!(status, StatusCode::OK, "{html}");

    let colleague = app.staff_token("SE2321000016-VC12", VC);
    let cookie = format!("samplan_session={colleague}; samplan_csrf={key}");
    let (status, html) = post_form(&app, "/patienter/sok", &cookie, &search).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
}

/// The hidden inputs of the first form on `html` posting to `action`, decoded.
fn hidden_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .expect("the form");
    let form = &html[start..start + html[start..].find("</form>").expect("its end")];
    let attribute = |tag: &str, name: &str| -> String {
        let at = tag.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        let raw = &tag[at..at + tag[at..].find('"').expect("quote")];
        raw.replace("&#39;", "'")
            .replace("&#34;", "\"")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
    };
    form.split("<input")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').expect("tag end")])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .map(|tag| (attribute(tag, "name"), attribute(tag, "value")))
        .collect()
}

/// A form sent after signing out in another tab (or after the sign-in ended) saves nothing and
/// loses nothing: the answer holds the form as it was sent, its text to copy, and, once signed in
/// again as the same user, "Skicka igen" saves it once. Another site's post gets none of that.
#[tokio::test]
async fn a_form_sent_while_signed_out_is_kept_to_send_again_once_signed_in() {
    let app = spawn().await;
    units(&app).await;
    let key = "cd".repeat(32);
    let first = nurse(&app);
    let cookie = format!("samplan_session={first}; samplan_csrf={key}");
    let (_, _, html) = page(&app, "/patienter", &cookie, false).await;
    let csrf = csrf_on_page(&html).expect("a form token on the page");
    sign_out(&app, &cookie, &csrf).await;
    let head = app.store.head_position().await.expect("head");

    let sent = format!(
        "_csrf={csrf}&personal_identity_number=19121212-1212&name=Tolvan+Tolvansson\
         &address=Storgatan+1+%3Cb%3E%26%22"
    );
    let (status, html) = post_form(&app, "/patienter", &cookie, &sent).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("Inget sparades"), "{html}");
    assert!(html.contains("Logga in igen i en ny flik"), "{html}");
    // The text to copy, escaped as every page's text is.
    assert!(
        html.contains(">Storgatan 1 &#60;b&#62;&#38;&#34;</textarea>"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "{html}");
    let again = hidden_fields(&html, "/patienter");
    assert_eq!(
        again,
        vec![
            ("_csrf".to_owned(), csrf.clone()),
            (
                "personal_identity_number".to_owned(),
                "19121212-1212".to_owned()
            ),
            ("name".to_owned(), "Tolvan Tolvansson".to_owned()),
            ("address".to_owned(), "Storgatan 1 <b>&\"".to_owned()),
        ]
    );
    assert_eq!(
        app.store.head_position().await.expect("head"),
        head,
        "nothing saved"
    );

    // Sent again before signing in: the same page, still nothing saved.
    let body = serde_urlencoded::to_string(&again).expect("form");
    let (status, _) = post_form(&app, "/patienter", &cookie, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.head_position().await.expect("head"), head);

    // Signed in again in another tab as the same user: "Skicka igen" registers the person.
    app.clock
        .set(app.clock.now() + chrono::Duration::minutes(1));
    let second = nurse(&app);
    let cookie = format!("samplan_session={second}; samplan_csrf={key}");
    let response = browser()
        .post(app.url("/patienter"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .expect("sent again");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(redirect_to(response.headers()).starts_with("/patienter/"));
    let saved = app.store.head_position().await.expect("head");
    assert!(saved > head, "registered");

    // Another site's post while signed out learns nothing and is shown nothing of it.
    let forged = browser()
        .post(app.url("/patienter"))
        .header("cookie", format!("samplan_csrf={key}"))
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(sent)
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect_to(forged.headers()), "/logga-in");
    assert_eq!(app.store.head_position().await.expect("head"), saved);
}

/// What a shared computer keeps of a visit — the addresses and titles in its history, and a
/// proxy's log of the addresses — names no patient: Sök patient posts its query, and no page's
/// title carries a name.
#[tokio::test]
async fn a_shared_computers_history_keeps_no_personnummer_and_no_name() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let person = register_person(&app, &nurse, "121212+1212", "Tolvan Tolvansson").await;
    let id = person["id"].as_str().expect("id");
    let at = person["position"].as_i64().expect("position");
    let cookie = format!("samplan_session={nurse}; samplan_csrf={}", "ab".repeat(32));

    // The person's page (read once the directory has the registration) names them in its
    // heading, not in its title.
    let (status, _, html) =
        page(&app, &format!("/patienter/{id}?efter={at}"), &cookie, false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title>Patient – samplan</title>"), "{html}");
    assert!(html.contains("<h1>Tolvan Tolvansson"), "{html}");

    let (status, _, html) = page(&app, "/patienter", &cookie, false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<form method="post" action="/patienter/sok" class="search""#),
        "Sök patient's form posts: {html}"
    );
    let csrf = csrf_on_page(&html).expect("a form token on the page");

    // The number, in any of its forms, finds the person; the answer is the page itself.
    let (status, html) = post_form(
        &app,
        "/patienter/sok",
        &cookie,
        &format!("_csrf={csrf}&q=19121212-1212"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&format!(
        r#"<a href="/patienter/{id}"><bdi>Tolvan Tolvansson</bdi></a>"#
    )));
    assert!(
        html.contains(r#"value="19121212-1212""#),
        "the query stays in the box"
    );

    // A query the search cannot take is refused beside the box; without the form's token (a
    // form another site posted) nothing is searched.
    let (status, html) = post_form(
        &app,
        "/patienter/sok",
        &cookie,
        &format!("_csrf={csrf}&q=x"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="sok-q-fel""#) && !html.contains("Tolvansson"));
    let (status, html) = post_form(
        &app,
        "/patienter/sok",
        &cookie,
        &format!("_csrf={csrf}&q=+"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("Skriv ett personnummer eller minst två bokstäver av namnet."),
        "an empty search says what to type: {html}"
    );
    let (status, html) = post_form(&app, "/patienter/sok", &cookie, "q=19121212-1212").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("Tolvansson"));
}

/// The person's page registers what ends their plans — a death, here — only when confirmed with a
/// tick (it cannot be taken back), and then says so; the unit that registered the person may.
#[tokio::test]
async fn a_death_is_registered_on_the_persons_page_once_confirmed() {
    let app = spawn().await;
    units(&app).await;
    let nurse = nurse(&app);
    let person = register_person(&app, &nurse, "121212+1212", "Tolvan Tolvansson").await;
    let id = person["id"].as_str().expect("id");
    let at = person["position"].as_i64().expect("position");
    let cookie = format!("samplan_session={nurse}; samplan_csrf={}", "ab".repeat(32));
    let (status, _, html) =
        page(&app, &format!("/patienter/{id}?efter={at}"), &cookie, false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!(r#"action="/patienter/{id}/status/avliden""#)),
        "{html}"
    );
    let csrf = csrf_on_page(&html).expect("a form token on the page");
    let stream = format!("person-{id}");
    let before = app.store.stream_version(&stream).await.expect("version");

    let (status, html) = post_form(
        &app,
        &format!("/patienter/{id}/status/avliden"),
        &cookie,
        &format!("_csrf={csrf}&died_on=2026-03-01"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Kryssa i att uppgiften stämmer"), "{html}");
    assert_eq!(app.store.stream_version(&stream).await.expect("v"), before);

    let response = browser()
        .post(app.url(&format!("/patienter/{id}/status/avliden")))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&died_on=2026-03-01&bekrafta=ja"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = redirect_to(response.headers()).to_owned();
    assert!(to.contains("klart=avliden"), "{to}");
    assert_eq!(
        app.store.stream_version(&stream).await.expect("v"),
        before + 1
    );
    let (_, _, html) = page(&app, &to, &cookie, false).await;
    assert!(
        html.contains("Dödsfallet är registrerat. Personens planer ska avslutas."),
        "{html}"
    );
}

/// An error page shows a signed-in visitor as every other page does — their name, "Logga ut"
/// (which works from there), and the way back to their own start: Min plan for the person, the
/// start page for staff — instead of a bare page that looks signed out while the session goes on.
/// A visitor not signed in gets the bare page, as before.
#[tokio::test]
async fn an_error_page_keeps_the_signed_in_visitor_and_their_way_home() {
    let app = spawn().await;
    units(&app).await;
    // The page names the unit from the directory read model: let it catch up.
    let head = app.store.head_position().await.expect("head");
    projections::runner::wait_for(app.store.pool(), "directory", head, 10_000)
        .await
        .expect("directory");
    let nurse = nurse(&app);
    let staff = format!("samplan_session={nurse}; samplan_csrf={}", "ab".repeat(32));
    for path in ["/sip/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/finns-inte"] {
        let (status, _, html) = page(&app, path, &staff, false).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("Sidan finns inte"), "{path}: {html}");
        assert!(html.contains("action=\"/logga-ut\""), "{path}: {html}");
        assert!(
            html.contains("<a href=\"/\">Till startsidan</a>"),
            "{path}: {html}"
        );
        assert!(
            html.contains(&format!("Enheten {VC}")),
            "where they act, by the unit's name: {html}"
        );
        assert!(html.contains("Sök patient"), "staff's menu: {html}");
    }

    // The person, on a plan that is not theirs (or not there): 404, signed in, back to Min plan.
    let now = app.clock.now().timestamp();
    let citizen = gateway::auth::mint_token(
        app.secret(),
        &gateway::auth::Claims {
            sub: ulid::Ulid::generate().to_string(),
            role: "citizen".into(),
            unit: None,
            name: "Medborgare".into(),
            personal_identity_number: Some("19750303-0004".into()),
            iat: now,
            exp: now + 3_600,
            nbf: None,
            iss: "samplan".into(),
            aud: "samplan".into(),
        },
    );
    let person = format!(
        "samplan_session={citizen}; samplan_csrf={}",
        "ab".repeat(32)
    );
    let (status, _, html) =
        page(&app, "/min-plan/01ARZ3NDEKTSV4RRFFQ69G5FAV", &person, false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<body class=\"citizen\">"), "{html}");
    assert!(
        html.contains("<a href=\"/min-plan\">Till Min plan</a>"),
        "{html}"
    );
    let csrf = csrf_on_page(&html).expect("the sign-out form's token");
    sign_out(&app, &person, &csrf).await;

    // Staff on the person's pages: 403, still signed in.
    let (status, _, html) = page(&app, "/min-plan", &staff, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("action=\"/logga-ut\""), "{html}");
    assert!(
        html.contains("Personal läser planen på SIP-sidan"),
        "{html}"
    );
    // An auditor: no staff menu (Sök patient is not theirs), and no word of the SIP page.
    let auditor = app.token("auditor", "revisor-1", None, "Revisor Ett");
    let auditor = format!(
        "samplan_session={auditor}; samplan_csrf={}",
        "ab".repeat(32)
    );
    let (status, _, html) = page(&app, "/min-plan", &auditor, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("action=\"/logga-ut\""), "{html}");
    assert!(!html.contains("Sök patient"), "{html}");
    assert!(!html.contains("SIP-sidan"), "{html}");
    assert!(
        html.contains("<a href=\"/granskning\">Till Granskning</a>"),
        "the way home is the auditor's own: {html}"
    );

    // Nobody signed in: the bare page.
    let (status, _, html) = page(&app, "/finns-inte", "", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("logga-ut"), "{html}");
    assert!(html.contains("<a href=\"/\">Till startsidan</a>"), "{html}");
}

/// A page asked for without a session (a link in a mail, a bookmark, a session that ended) leads
/// through sign-in and back to that page, not to the start page. Only a page of this site is
/// gone back to, and only one for the role signed in.
#[tokio::test]
async fn signing_in_goes_back_to_the_page_asked_for_and_only_to_this_site() {
    let app = spawn().await;
    units(&app).await;
    // A search's personnummer is not carried along into the sign-in page's address.
    let (status, headers, _) = page(&app, "/patienter?q=19121212-1212", "", false).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(redirect_to(&headers), "/logga-in?till=%2Fpatienter");
    let plan = "/sip/01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let (status, headers, _) = page(&app, plan, "", false).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        redirect_to(&headers),
        "/logga-in?till=%2Fsip%2F01ARZ3NDEKTSV4RRFFQ69G5FAV"
    );
    let csrf_key = "ab".repeat(32);
    let anonymous = format!("samplan_csrf={csrf_key}");
    let (status, _, html) = page(&app, redirect_to(&headers), &anonymous, false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("name=\"till\" value=\"{plan}\"")),
        "{html}"
    );
    // The page says why it is there (an accessibility review: a deep link landed here unsaid).
    assert!(
        html.contains("Logga in för att öppna sidan du valde."),
        "{html}"
    );
    let csrf = csrf_on_page(&html).expect("form token");
    let nurse = nurse(&app);
    let auditor = app.token("auditor", "revisor-1", None, "Revisor Ett");
    let sign_in_as = |token: &str, till: &str| {
        let body = format!(
            "_csrf={csrf}&token={token}&till={}",
            percent_encoding::utf8_percent_encode(till, percent_encoding::NON_ALPHANUMERIC)
        );
        let cookie = anonymous.clone();
        let url = app.url("/logga-in");
        async move {
            let response = browser()
                .post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("sign in");
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            redirect_to(response.headers()).to_owned()
        }
    };
    let sign_in = |till: &str| sign_in_as(&nurse, till);
    assert_eq!(sign_in(plan).await, plan);
    assert_eq!(sign_in("/patienter").await, "/patienter");
    // Never another host, nor the person's pages for staff: the start page instead.
    for elsewhere in [
        "//evil.example/sip",
        "https://evil.example/",
        "/\\evil.example",
        "/logga-ut",
        "/min-plan",
        "/granskning/logguppfoljning?fran=2026-03-01&till=2026-03-31",
        "sip/x",
    ] {
        assert_eq!(sign_in(elsewhere).await, "/", "{elsewhere}");
    }
    // An auditor goes back to Granskning's pages, and only to them.
    let review = "/granskning/logguppfoljning?fran=2026-03-01&till=2026-03-31";
    assert_eq!(sign_in_as(&auditor, review).await, review);
    assert_eq!(sign_in_as(&auditor, "/granskningar").await, "/granskning");
    assert_eq!(sign_in_as(&auditor, plan).await, "/granskning");
    // Nor does the sign-in page offer such an address to go back to.
    let (_, _, html) = page(&app, "/logga-in?till=%2F%2Fevil.example", &anonymous, false).await;
    assert!(!html.contains("name=\"till\""), "{html}");
}

/// A refusal made before any page ran — a form too large, of the wrong type, a query that does
/// not parse — reaches a browser as an HTML page with its status, not as the problem document an
/// API client gets; the API keeps its problem documents whatever the client accepts.
#[tokio::test]
async fn a_browser_gets_refusals_as_pages_and_the_api_keeps_its_documents() {
    let app = spawn().await;
    units(&app).await;
    let cookie = format!(
        "samplan_session={}; samplan_csrf={}",
        nurse(&app),
        "ab".repeat(32)
    );
    let send = |request: reqwest::RequestBuilder| {
        let cookie = cookie.clone();
        async move {
            let response = request
                .header("cookie", &cookie)
                .header("accept", "text/html")
                .send()
                .await
                .expect("answer");
            let status = response.status();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap_or("")
                .to_owned();
            (status, kind, response.text().await.expect("body"))
        }
    };
    let cases = [
        (
            "a form too large",
            browser()
                .post(app.url("/patienter/sok"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("q={}", "a".repeat(600 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a form of another type",
            browser()
                .post(app.url("/patienter/sok"))
                .header("content-type", "text/plain")
                .body("q=x"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "a query that does not parse",
            browser().get(app.url("/patienter/01ARZ3NDEKTSV4RRFFQ69G5FAV?efter=-x")),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, request, expected) in cases {
        let (status, kind, body) = send(request).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert!(kind.starts_with("text/html"), "{what}: {kind} {body}");
        assert!(body.contains("<h1>"), "{what}: {body}");
        if expected == StatusCode::PAYLOAD_TOO_LARGE {
            // Said to someone who typed too much: nothing saved, the text is a Back away.
            assert!(body.contains("<h1>Texten är för lång</h1>"), "{body}");
            assert!(body.contains("bakåtknapp"), "{body}");
        }
    }
    let (status, kind, body) = send(browser().get(app.url("/api/v1/persons/nope"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(kind.starts_with("application/problem+json"), "{kind}");
}
