//! Granskning, the auditor's pages: a loggutdrag taken by personnummer (typed into a form that
//! posts) and downloaded as the same CSV the API gives, the log review naming a unit that read a
//! person it has no plan with, a plan as it stood before a change, and the check of the log with
//! a seal kept outside the database. Every refusal stands beside its field and changes nothing;
//! staff get the 403 page.

mod sips_support;

use gateway::testing::{csrf_on_page, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use sips_support::*;

fn auditor(app: &TestApp) -> String {
    app.token("auditor", "revisor-1", None, "Rut Revisor")
}

fn cookie_of(token: &str) -> String {
    format!("samplan_session={token}; samplan_csrf={}", "ab".repeat(32))
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET path` as a browser with `cookie`: status, content type and body.
async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String, String) {
    let response = browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, response.text().await.expect("body"))
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("accept", "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .expect("post");
    (response.status(), response.text().await.expect("body"))
}

async fn wait_for_projections(app: &TestApp) {
    let head = app.store.head_position().await.expect("head");
    for name in projections::PROJECTIONS {
        projections::runner::wait_for(app.store.pool(), name, head, 10_000)
            .await
            .expect("checkpoint");
    }
}

/// The `href` of the first link whose address starts with `prefix`, as the browser reads it.
fn link(html: &str, prefix: &str) -> String {
    let start = html
        .find(&format!("href=\"{prefix}"))
        .unwrap_or_else(|| panic!("a link to {prefix}: {html}"))
        + 6;
    let end = start + html[start..].find('"').expect("end of link");
    html[start..end].replace("&amp;", "&").replace("&#38;", "&")
}

#[tokio::test]
async fn an_auditor_takes_a_loggutdrag_by_personnummer_and_downloads_it_as_csv() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    wait_for_projections(&app).await;
    // The hemtjänst reads the person; the vårdcentral reads the plan.
    let (status, _, _) = app
        .get(&format!("/api/v1/persons/{}", w.person_id), &w.ht)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.vc).await;
    assert_eq!(status, StatusCode::OK);
    wait_for_projections(&app).await;

    let cookie = cookie_of(&auditor(&app));
    // Signed in as an auditor, the start page is Granskning.
    let response = browser()
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/granskning");
    let (status, _, start) = page(&app, "/granskning", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert!(start.contains(r#"<form method="post" action="/granskning/loggutdrag""#));
    assert!(start.contains(r#"<form method="get" action="/granskning/logguppfoljning""#));
    let csrf = csrf_on_page(&start).expect("a form token");

    // A personnummer that is none, one of nobody, and a period that ends before it starts: each
    // said beside its field, 422, and no extract taken.
    let head = app.store.head_position().await.expect("head");
    for (form, field, says) in [
        (
            vec![("personnummer", "19121212-1213")],
            "loggutdrag-personnummer-fel",
            "Kontrollsiffran stämmer inte",
        ),
        (
            vec![("personnummer", "19800101-0001")],
            "loggutdrag-personnummer-fel",
            "Ingen person med det personnumret finns i samplan.",
        ),
        (
            vec![
                ("personnummer", "19121212-1212"),
                ("fran", "2026-03-10"),
                ("till", "2026-03-09"),
            ],
            "loggutdrag-till-fel",
            "Till och med ska vara samma dag som från och med eller senare.",
        ),
        (
            vec![("personnummer", "19121212-1212"), ("fran", "10/3")],
            "loggutdrag-fran-fel",
            "ÅÅÅÅ-MM-DD",
        ),
    ] {
        let mut fields = form.clone();
        fields.push(("_csrf", &csrf));
        let (status, html) = post_form(&app, "/granskning/loggutdrag", &cookie, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {html}");
        let at = html
            .find(&format!("id=\"{field}\""))
            .unwrap_or_else(|| panic!("{field}: {html}"));
        assert!(html[at..].contains(says), "{form:?} says {says}: {html}");
        assert!(!html.contains("<h1>Loggutdrag"), "{html}");
    }
    // Without the form's token (another site posting), nothing is looked up.
    let (status, html) = post_form(
        &app,
        "/granskning/loggutdrag",
        &cookie,
        &[("personnummer", "19121212-1212")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("Tolvansson"));
    let (_, _, log) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={}", w.person_id),
            &auditor(&app),
        )
        .await;
    assert!(
        log["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["action"] != "audit.access_log"),
        "no extract was taken by the refused forms: {log}"
    );
    assert_eq!(
        app.store.head_position().await.expect("head"),
        head,
        "nothing appended"
    );

    // The number without its hyphen finds the person, and the form goes on to the extract's own
    // address (by the person's id), which shows both reads by unit name.
    let response = browser()
        .post(app.url("/granskning/loggutdrag"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&personnummer=191212121212"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let extract = format!("/granskning/loggutdrag/{}", w.person_id);
    assert_eq!(response.headers()["location"], extract.as_str());
    let (status, _, html) = page(&app, &extract, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<h1>Loggutdrag för <bdi>Tolvan Tolvansson</bdi></h1>"),
        "{html}"
    );
    assert!(html.contains("19121212-1212"));
    assert!(html.contains("<dd>hela tiden</dd>"), "{html}");
    assert!(html.contains("Hemtjänst Norr") && html.contains("Vårdcentralen Centrum"));
    assert!(html.contains("personuppgifter lästes") && html.contains("en SIP lästes"));
    assert!(
        html.replace("&#38;", "&amp;").contains(&format!(
            "/granskning/sip?sip={sip}&amp;tidpunkt=2026-03-10T09:00:00.000&amp;enhet={VC}"
        )),
        "the plan read links to it as it stood then, as the reader's unit saw it: {html}"
    );
    assert!(
        html.contains("<title>Loggutdrag – samplan</title>"),
        "the title, kept in the browser's history, names nobody"
    );

    // The file: the same CSV the API gives, with the person's id, never the personnummer, in
    // its address.
    let csv_link = link(&html, "/granskning/loggutdrag/");
    assert_eq!(
        csv_link,
        format!("/granskning/loggutdrag/{}/csv", w.person_id)
    );
    let response = browser()
        .get(app.url(&csv_link))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("file");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    // Named for whom and when it was taken, as the auditor hands it over.
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"loggutdrag-19121212-1212-taget-2026-03-10.csv\""
    );
    let csv = response.text().await.expect("csv");
    assert!(
        csv.starts_with("\u{feff}tid (svensk tid);användare;namn;roll;enhet;"),
        "a byte order mark, then the header: {csv}"
    );
    assert!(
        csv.contains(";Hemtjänst Norr;Testby kommun;personuppgifter lästes;"),
        "{csv}"
    );
    // The extract was taken through the API once above, then as the page and as the file: each
    // taking is itself in the log.
    let (_, _, log) = app
        .get(
            &format!("/api/v1/audit/access-log?person_id={}", w.person_id),
            &auditor(&app),
        )
        .await;
    let taken = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "audit.access_log" && e["actor"] == "revisor-1")
        .count();
    assert_eq!(taken, 3, "{log}");

    // A period: only the days asked for (the reads were on 10 March).
    let (status, _, html) = page(
        &app,
        &format!(
            "/granskning/loggutdrag/{}?fran=2026-03-11&till=2026-03-31",
            w.person_id
        ),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("11 mars 2026 – 31 mars 2026"), "{html}");
    assert!(html.contains("Ingen har läst personens uppgifter under perioden."));

    // The form's address opened from the address bar: a page that says so, not a problem
    // document.
    let (status, kind, html) = page(&app, "/granskning/loggutdrag", &cookie).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains("Sidan kan inte öppnas så"), "{html}");
    assert!(
        html.contains("<a href=\"/granskning\">Till Granskning</a>"),
        "{html}"
    );

    // Staff do not audit.
    let (status, _, html) = page(&app, "/granskning", &cookie_of(&w.vc)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    let (status, _, _) = page(&app, &csv_link, &cookie_of(&w.vc)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_log_review_names_a_unit_that_read_a_person_it_has_no_plan_with() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    wait_for_projections(&app).await;
    // Another vårdcentral, with no plan for Tolvan, tries his plan's id (answered as if there
    // were no such plan) and searches for him by number.
    let (status, _, _) = app.get(&format!("/api/v1/sips/{sip}"), &w.other).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, found) = app.get("/api/v1/persons?q=19121212-1212", &w.other).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found["persons"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    wait_for_projections(&app).await;
    let cookie = cookie_of(&auditor(&app));

    // The attempt is logged beside its answer: the review shows it as soon as it is in.
    let mut html = String::new();
    for _ in 0..50 {
        let (status, _, body) = page(
            &app,
            "/granskning/logguppfoljning?fran=2026-03-01&till=2026-03-31",
            &cookie,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        html = body;
        if html.contains("försök att läsa eller ändra en SIP") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(html.contains("1 mars 2026 – 31 mars 2026"), "{html}");
    let table = &html[html.find("rubrik-utan-relation").expect("section")..];
    let table = &table[..table.find("</table>").expect("a table")];
    assert!(table.contains("Vårdcentralen Annan"), "{table}");
    assert!(table.contains("<bdi>Tolvan Tolvansson</bdi>"), "{table}");
    assert!(
        table.contains(
            "försök att läsa eller ändra en SIP som inte delas med enheten (nekades, inget visades)"
        ),
        "the attempt on the plan is a finding too: {table}"
    );
    assert!(
        !table.contains("Vårdcentralen Centrum"),
        "the plan's own unit is no finding: {table}"
    );
    assert_eq!(
        link(table, "/granskning/loggutdrag/"),
        format!(
            "/granskning/loggutdrag/{}?fran=2026-03-01&till=2026-03-31",
            w.person_id
        )
    );

    // A period left half open is said beside its field.
    let (status, _, html) = page(
        &app,
        "/granskning/logguppfoljning?fran=2026-03-01&till=",
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="logguppfoljning-till-fel""#), "{html}");
}

#[tokio::test]
async fn a_plan_as_it_stood_before_a_change_and_the_check_of_the_log() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = start_plan(&app, &w).await;
    ok(command(&app, &w.vc, &sip, "record-consent", &consent()).await);
    // Apart on the store's clock by more than the page's millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    ok(command(&app, &w.vc, &sip, "create-plan-basis", &json!({})).await);
    let audit = auditor(&app);
    let cookie = cookie_of(&audit);

    let (status, _, html) = page(&app, &format!("/granskning/sip?sip={sip}"), &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("SIP för <bdi>Tolvan Tolvansson</bdi>, som den är nu"),
        "{html}"
    );
    assert!(
        html.contains("<dd>Förberedelse och kartläggning</dd>"),
        "{html}"
    );
    assert!(html.contains("SIP-underlag skapat"), "{html}");
    assert!(html.contains("Vårdcentralen Centrum"));
    // What the plan held: the coordinator, who takes part, the consent.
    assert!(
        html.contains("<dd>Testperson Personal, Vårdcentralen Centrum</dd>"),
        "{html}"
    );
    assert!(
        html.contains("<dd>Samtycke finns, gäller till och med"),
        "{html}"
    );
    assert!(html.contains("Planen, med alla enheters utkast"), "{html}");
    // As a unit taking part saw it, and as one that took no part could not.
    let (_, _, html) = page(
        &app,
        &format!("/granskning/sip?sip={sip}&enhet={VC}"),
        &cookie,
    )
    .await;
    assert!(
        html.contains("Planen som Vårdcentralen Centrum kunde se den"),
        "{html}"
    );
    let (_, _, html) = page(
        &app,
        &format!("/granskning/sip?sip={sip}&enhet={OTHER}"),
        &cookie,
    )
    .await;
    assert!(
        html.contains(
            "Vårdcentralen Annan deltog inte i planen vid tidpunkten och kunde inte läsa den."
        ),
        "{html}"
    );

    // As it stood when consent was stored: before the plan basis. The moment is the store's
    // clock, to the millisecond, rounded up as the extract's links round it.
    let (_, _, events) = app
        .get(&format!("/api/v1/audit/events?stream=sip-{sip}"), &audit)
        .await;
    let stored: chrono::DateTime<chrono::Utc> = events["events"][1]["recorded_at"]
        .as_str()
        .expect("time")
        .parse()
        .expect("RFC 3339");
    let next: chrono::DateTime<chrono::Utc> = events["events"][2]["recorded_at"]
        .as_str()
        .expect("time")
        .parse()
        .expect("RFC 3339");
    let ms = chrono::Duration::milliseconds(1);
    let at = stored + ms
        - chrono::Duration::microseconds(i64::from(stored.timestamp_subsec_micros() % 1000));
    assert!(at < next, "the plan basis was stored after {at}");
    let tidpunkt = domain::time::to_local(at)
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string();
    let (status, _, html) = page(
        &app,
        &format!("/granskning/sip?sip={sip}&tidpunkt={tidpunkt}"),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<dd>Inväntar SIP-underlag</dd>"), "{html}");
    assert!(!html.contains("SIP-underlag skapat"), "{html}");
    // An id that is none, and a plan that does not exist: beside the field.
    for (bad, says) in [
        ("plan-1", "Ett id är 26 tecken"),
        (
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "Ingen plan med det id:t finns i samplan.",
        ),
    ] {
        let (status, _, html) = page(&app, &format!("/granskning/sip?sip={bad}"), &cookie).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        let at = html
            .find(r#"id="sip-sip-fel""#)
            .expect("the error beside the field");
        assert!(html[at..].contains(says), "{html}");
    }

    // The check: whole, sealed, and the seal to keep shown; held to it next time.
    let (_, _, start) = page(&app, "/granskning", &cookie).await;
    let csrf = csrf_on_page(&start).expect("form token");
    let (status, html) =
        post_form(&app, "/granskning/kontroll", &cookie, &[("_csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Loggen är hel"), "{html}");
    let (_, _, api) = app.post("/api/v1/audit/verify", &audit, &json!({})).await;
    let seal = &api["latest_seal"];
    let (no, digest) = (
        seal["seal_no"].as_i64().expect("seal").to_string(),
        seal["digest"].as_str().expect("digest").to_owned(),
    );
    // "Kontrollera" with a kept seal's number and digest.
    let check_with = |number: String, digest: String| {
        let (app, cookie, csrf) = (&app, &cookie, &csrf);
        async move {
            post_form(
                app,
                "/granskning/kontroll",
                cookie,
                &[
                    ("_csrf", csrf.as_str()),
                    ("forsegling", &number),
                    ("kontrollsumma", &digest),
                ],
            )
            .await
        }
    };
    let (status, html) = check_with(no.clone(), digest.clone()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("förseglingarna stämmer med den du sparade"),
        "{html}"
    );
    assert!(html.contains(&digest), "the seal to keep is shown: {html}");
    // A kept seal whose digest is another: the seals do not hold.
    let other = "0".repeat(64);
    let (status, html) = check_with(no.clone(), other).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // The log holds: the page asks first whether the seal was copied right.
    assert!(
        html.contains("förseglingen du angav stämmer inte")
            && html.contains("Kontrollera först att numret och alla 64 tecken är rätt avskrivna"),
        "{html}"
    );
    assert!(!html.contains("Loggen är inte hel"), "{html}");
    // A seal number beyond the newest: said as such.
    let beyond = (no.parse::<i64>().expect("number") + 5).to_string();
    let (status, html) = check_with(beyond.clone(), digest.clone()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(&format!(
            "Försegling {beyond} finns inte: den senaste är {no}."
        )),
        "{html}"
    );
    // Half a seal, or a digest that is none: beside the field.
    for (form, field) in [
        (vec![("forsegling", "1")], "kontroll-kontrollsumma-fel"),
        (
            vec![("forsegling", "ett"), ("kontrollsumma", "ab")],
            "kontroll-forsegling-fel",
        ),
        (
            vec![("forsegling", "1"), ("kontrollsumma", "abc")],
            "kontroll-kontrollsumma-fel",
        ),
    ] {
        let mut fields = form.clone();
        fields.push(("_csrf", &csrf));
        let (status, html) = post_form(&app, "/granskning/kontroll", &cookie, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {html}");
        assert!(
            html.contains(&format!("id=\"{field}\"")),
            "{form:?}: {html}"
        );
    }
}

/// A person on a unit's start page is read each time a colleague opens it: a year's extract can
/// hold thousands of reads. The page lists the first 2 000 and says so; the file has them all.
#[tokio::test]
async fn a_long_extract_lists_its_first_reads_and_the_file_has_them_all() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (owner, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("owner");
    tokio::spawn(connection);
    owner
        .execute(
            "INSERT INTO access_log (at, actor, actor_name, unit, role, person_id, action)
             SELECT '2026-03-10 06:00:00+00'::timestamptz + n * interval '1 second',
                    'SE2321000016-VC01', 'Testperson Personal', $2, 'staff', $1, 'person.read'
               FROM generate_series(1, 2500) AS n",
            &[&w.person_id, &VC],
        )
        .await
        .expect("2 500 reads");
    // The page finds the person in the directory read model: under a loaded test run it may not
    // have applied the registration yet (a 404 then, not what this test is about).
    let head = app.store.head_position().await.expect("head");
    let at = projections::runner::wait_for(
        app.store.pool(),
        projections::directory::PROJECTION,
        head,
        30_000,
    )
    .await
    .expect("the directory's checkpoint");
    assert!(at >= head, "the directory did not catch up: {at} < {head}");
    let cookie = cookie_of(&auditor(&app));
    let path = format!("/granskning/loggutdrag/{}", w.person_id);
    let (status, _, html) = page(&app, &path, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<dd>2500</dd>"), "every read counted: {html}");
    assert!(
        html.contains("Sidan visar de 2000 första läsningarna. CSV-filen har alla 2500."),
        "{html}"
    );
    assert_eq!(html.matches("<tr><td><time").count(), 2000);
    let (status, _, csv) = page(&app, &format!("{path}/csv"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        csv.lines().count(),
        1 + 2500 + 1,
        "a header, every read, and the page's own taking of the extract"
    );
}

/// A printout held what was shared, never a unit's drafts ("Skriv ut planen" is handed to the
/// person): the extract's link for a print shows the plan so, not as the unit's own page showed
/// it (an auditor found a draft there).
#[tokio::test]
async fn a_print_in_the_extract_shows_the_plan_as_it_was_printed() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (sip, _) = invited_plan(&app, &w, "2026-03-12T09:00:00+01:00").await;
    hold_the_meeting(&app, &w, &sip).await;
    for (id, text) in [
        ("sg-delat", "Delat delmål."),
        ("sg-utkast", "Hemligt utkast."),
    ] {
        ok(command(
            &app,
            &w.vc,
            &sip,
            "document-sub-goal",
            &json!({"sub_goal_id": id, "heading": "housing", "text": text,
                    "responsible": {"kind": "unit", "unit_id": VC}}),
        )
        .await);
        if id == "sg-delat" {
            ok(command(&app, &w.vc, &sip, "publish-contribution", &json!({})).await);
        }
    }
    let (status, _, printed) = page(&app, &format!("/sip/{sip}/utskrift"), &cookie_of(&w.vc)).await;
    assert_eq!(status, StatusCode::OK, "{printed}");
    assert!(printed.contains("Delat delmål.") && !printed.contains("Hemligt utkast."));

    let cookie = cookie_of(&auditor(&app));
    let (status, _, extract) = page(
        &app,
        &format!("/granskning/loggutdrag/{}", w.person_id),
        &cookie,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{extract}");
    let print_row = extract
        .split("<tr>")
        .find(|row| row.contains("en SIP skrevs ut"))
        .unwrap_or_else(|| panic!("a print in the extract: {extract}"));
    let link = link(print_row, "/granskning/sip?");
    assert!(link.ends_with("&utskrift=ja"), "{link}");
    // The test's clock stands still while the store stamps events with the real one, so the
    // plan is read as it is now, which is how it was printed.
    let link: String = link
        .split('&')
        .filter(|p| !p.starts_with("tidpunkt="))
        .collect::<Vec<_>>()
        .join("&");
    let (status, _, html) = page(&app, &link, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Planen som Vårdcentralen Centrum skrev ut den: det som var delat"),
        "{html}"
    );
    assert!(html.contains("Delat delmål."), "{html}");
    assert!(!html.contains("Hemligt utkast."), "{html}");
    // The same unit's view, not a print, shows its draft as its own.
    let (_, _, own) = page(&app, &link.replace("&utskrift=ja", ""), &cookie).await;
    assert!(own.contains("Hemligt utkast."), "{own}");
}
