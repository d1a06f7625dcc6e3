//! Enheter, the administrator's page: the units by principal, and registering one through the
//! same rules as `POST /api/v1/units`. A refusal comes back beside its field with what was typed
//! kept and nothing appended; the new unit is at once in the list and open to its staff's
//! sign-in; no other role reaches the page.

mod persons_support;

use gateway::testing::csrf_on_page;
use persons_support::*;
use reqwest::StatusCode;

const KEY: &str = "cd";

fn cookie(token: &str) -> String {
    format!("samplan_session={token}; samplan_csrf={}", KEY.repeat(32))
}

async fn get(app: &App, path: &str, token: &str) -> (StatusCode, String, String) {
    let answer = app.browser_get(path, &cookie(token)).await;
    (answer.status, answer.location, answer.body)
}

async fn post(app: &App, token: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
    let answer = app.browser_post("/enheter", &cookie(token), form).await;
    (answer.status, answer.location, answer.body)
}

async fn event_count(app: &App) -> i64 {
    let client = app.store.pool().get().await.expect("connection");
    client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn an_administrator_registers_a_unit_on_the_page_and_its_staff_can_sign_in() {
    let app = spawn().await;
    register_unit(&app, VC, "region", true).await;
    let written = register_unit(&app, HT, "municipality", true).await;
    let admin = app.admin_token();

    // Signing in leads the administrator to Enheter; the units stand under their principal.
    let (status, location, _) = get(&app, "/", &admin).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/enheter");
    let listed = format!("/enheter?efter={}", written["position"]);
    let (status, _, html) = get(&app, &listed, &admin).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<h1>Enheter</h1>"), "{html}");
    assert!(html.contains("Region Testlän"), "{html}");
    assert!(html.contains("<code>vc-gardet</code>"), "{html}");
    let csrf = csrf_on_page(&html).expect("a form token");

    // Nothing chosen and nothing typed: every field to correct is named, nothing is written.
    let before = event_count(&app).await;
    let (status, _, html) = post(&app, &admin, &[("_csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Fyll i det här fältet."), "{html}");
    assert!(html.contains("Välj ett alternativ."), "{html}");
    assert_eq!(event_count(&app).await, before);

    // An id a sign-in could not carry is refused beside the id, with what was typed kept.
    let typed = [
        ("_csrf", csrf.as_str()),
        ("unit_id", "hc kalix/1"),
        ("name", "Hälsocentralen Kalix"),
        ("principal.kind", "region"),
        ("principal.name", "Region Norrbotten"),
        ("uses_samplan", "ja"),
        ("address", "Box 5, 952 00 Kalix"),
        ("phone", "0923-100 00"),
    ];
    let (status, _, html) = post(&app, &admin, &typed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="ny-enhet-unit-id-fel""#), "{html}");
    assert!(html.contains(r#"value="Hälsocentralen Kalix""#), "{html}");
    assert!(html.contains(r#"value="Box 5, 952 00 Kalix""#), "{html}");
    assert_eq!(event_count(&app).await, before);

    // Registered: back to the list, which names the unit at once.
    let mut good = typed;
    good[1] = ("unit_id", "hc-kalix");
    let (status, location, _) = post(&app, &admin, &good).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.starts_with("/enheter?efter=") && location.ends_with("&klart=hc-kalix#klart"),
        "{location}"
    );
    let (status, _, html) = get(&app, &location, &admin).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Enheten <bdi>Hälsocentralen Kalix</bdi> (hc-kalix) är registrerad."),
        "{html}"
    );
    assert!(html.contains("<code>hc-kalix</code>"), "{html}");
    assert!(html.contains("Region Norrbotten"), "{html}");
    assert_eq!(event_count(&app).await, before + 1);

    // The API lists it as registered, and its staff's tokens are taken.
    let (status, _, body) = app.get("/api/v1/units", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let unit = body["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["id"] == "hc-kalix")
        .expect("the new unit")
        .clone();
    assert_eq!(unit["principal"]["kind"], "region");
    assert_eq!(unit["uses_samplan"], true);
    assert_eq!(unit["phone"], "0923-100 00");
    let staff = app.staff_token("SE2321000016-KX01", "hc-kalix");
    let (status, _, _) = get(&app, "/", &staff).await;
    assert_eq!(status, StatusCode::OK);

    // The same id again: refused beside the id, nothing written.
    let (status, _, html) = post(&app, &admin, &good).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("Det finns redan en enhet med det här id:t"),
        "{html}"
    );
    assert!(html.contains(r#"value="hc-kalix""#), "{html}");
    assert_eq!(event_count(&app).await, before + 1);
}

#[tokio::test]
async fn only_an_administrator_reaches_enheter_and_a_form_needs_its_token() {
    let app = spawn().await;
    units(&app).await;
    let staff = nurse(&app);
    let (status, _, html) = get(&app, "/enheter", &staff).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("Sidan är till för administratörer"), "{html}");
    let auditor = app.token("auditor", "revisor-1", None, "Rut Revisor");
    let (status, _, _) = get(&app, "/enheter", &auditor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A staff member's own form token does not let them register a unit.
    let (_, _, html) = get(&app, "/patienter", &staff).await;
    let csrf = csrf_on_page(&html).expect("a form token");
    let before = event_count(&app).await;
    let form = [
        ("_csrf", csrf.as_str()),
        ("unit_id", "smuggled"),
        ("name", "Smugglad enhet"),
        ("principal.kind", "region"),
        ("principal.name", "Region Testlän"),
        ("uses_samplan", "ja"),
    ];
    let (status, _, _) = post(&app, &staff, &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nor does an administrator's form without a token, or with another's.
    let admin = app.admin_token();
    let (status, _, _) = post(&app, &admin, &form[1..]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(event_count(&app).await, before);

    // Signed out, the page asks for a sign-in and comes back to Enheter.
    let answer = app.browser_get("/enheter", "").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let location = answer.location;
    assert!(location.starts_with("/logga-in"), "{location}");
    assert!(location.contains("enheter"), "{location}");
}

/// Staff pick units by name: the page keeps a principal's spelling, refuses a second unit of the
/// same name under one principal, and asks a unit reached by letter for its address.
#[tokio::test]
async fn enheter_keeps_units_apart_where_staff_pick_them() {
    let app = spawn().await;
    register_unit(&app, VC, "region", true).await;
    let written = register_unit(&app, HT, "municipality", true).await;
    let admin = app.admin_token();
    let (_, _, html) = get(
        &app,
        &format!("/enheter?efter={}", written["position"]),
        &admin,
    )
    .await;
    let csrf = csrf_on_page(&html).expect("a form token");
    let before = event_count(&app).await;
    let unit =
        |id: &'static str, name: &'static str, principal: &'static str, samplan: &'static str| {
            vec![
                ("_csrf", csrf.clone()),
                ("unit_id", id.to_owned()),
                ("name", name.to_owned()),
                ("principal.kind", "region".to_owned()),
                ("principal.name", principal.to_owned()),
                ("uses_samplan", samplan.to_owned()),
            ]
        };
    let post = |form: Vec<(&'static str, String)>| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let answer = app.browser_post("/enheter", &cookie(&admin), &form).await;
            (answer.status, answer.location, answer.body)
        }
    };

    // The same name as a unit of the same principal, written in other case: refused.
    let (status, _, html) = post(unit("vc-2", "enheten VC-GARDET", "region testlän", "ja")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("Region Testlän har redan en enhet med det namnet (vc-gardet)"),
        "{html}"
    );
    // Reached by letter without an address: refused beside the address.
    let (status, _, html) = post(unit(
        "fk-1",
        "Försäkringskassan Testby",
        "Region Testlän",
        "nej",
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="ny-enhet-address-fel""#), "{html}");
    assert_eq!(event_count(&app).await, before);

    // A principal written in other case is the registered one.
    let (status, location, _) =
        post(unit("vc-ost", "Vårdcentralen Öst", "region testlän", "ja")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = get(&app, &location, &admin).await;
    assert!(!html.contains("region testlän"), "{html}");
    let (_, _, body) = app.get("/api/v1/units", &admin).await;
    let unit = body["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["id"] == "vc-ost")
        .expect("registered")
        .clone();
    assert_eq!(unit["principal"]["name"], "Region Testlän");
}
