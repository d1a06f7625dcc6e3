//! The demonstration data: it loads through the command pipeline into every stage of a plan's
//! life, a second load appends nothing, and what it made is usable over the API.

mod persons_support;

use persons_support::*;
use reqwest::StatusCode;
use std::collections::BTreeMap;

#[tokio::test]
async fn the_demo_covers_every_stage_and_loads_only_once() {
    let app = spawn().await;
    let first = gateway::demo::load(&app.state)
        .await
        .expect("loading the demo");
    assert!(first.events_appended > 50, "{first}");

    let phases: BTreeMap<String, String> = first
        .plans
        .iter()
        .map(|p| (p.sip_id.clone(), p.phase.clone()))
        .collect();
    let phase = |n: u8| phases[&gateway::demo::sip_id(n).to_string()].as_str();
    assert_eq!(phase(8), "AwaitingConsent", "need identified");
    assert_eq!(phase(9), "AwaitingPlanBasis", "consent given");
    assert_eq!(phase(10), "Preparing", "plan basis created");
    assert_eq!(phase(1), "Invited");
    assert_eq!(phase(3), "MeetingHeld");
    assert_eq!(phase(2), "MeetingHeld", "documented and published");
    assert_eq!(phase(4), "FollowedUp");
    assert_eq!(phase(5), "Closed");
    assert_eq!(phase(6), "ConsentWithdrawn");
    assert_eq!(phase(7), "ConsentDeclined");

    // Plan 2's contributions were published: every event of the kind is there.
    let stream = app
        .store
        .read_stream(&gateway::demo::sip_id(2).stream_id(), 1)
        .await
        .expect("stream");
    let published = stream
        .iter()
        .filter(|e| e.event_type == "ContributionPublished")
        .count();
    assert_eq!(published, 2);

    let head = app.store.head_position().await.expect("head");
    let second = gateway::demo::load(&app.state)
        .await
        .expect("loading again");
    assert_eq!(second.events_appended, 0, "{second}");
    assert_eq!(app.store.head_position().await.expect("head"), head);
    assert_eq!(second.plans, first.plans);

    let text = second.to_string();
    assert!(
        text.contains(
            "samplan token --role staff --sub SE2321000016-DHC1 --unit nll-hc-centrum-lulea"
        ),
        "{text}"
    );
    assert!(text.contains("fk-lulea"), "{text}");
    assert!(
        !second.staff.iter().any(|s| s.unit == "fk-lulea"),
        "no staff at a unit without samplan"
    );
}

#[tokio::test]
async fn the_demo_is_usable_over_the_api() {
    let app = spawn().await;
    let summary = gateway::demo::load(&app.state)
        .await
        .expect("loading the demo");
    let head = app.store.head_position().await.expect("head");
    projections::runner::applied(
        app.store.pool(),
        projections::directory::PROJECTION,
        head,
        10_000,
    )
    .await
    .expect("directory");
    let staff = |unit: &str| {
        let s = summary
            .staff
            .iter()
            .find(|s| s.unit == unit)
            .expect("staff of the unit");
        app.token("staff", &s.sub, Some(&s.unit), &s.name)
    };

    // The child with both guardians, found by name.
    let soc = staff("boden-socialtjanst-bou");
    let (status, _, found) = app.get("/api/v1/persons?q=elsa", &soc).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let elsa = found["persons"][0]["id"].as_str().expect("Elsa").to_owned();
    let (_, _, person) = app.get(&format!("/api/v1/persons/{elsa}"), &soc).await;
    let guardians = person["relatives"]
        .as_array()
        .expect("relatives")
        .iter()
        .filter(|r| r["kind"] == "guardian")
        .count();
    assert_eq!(guardians, 2, "{person}");

    // The samordningsnummer person, by number.
    let (_, _, found) = app.get("/api/v1/persons?q=19700471-9881", &soc).await;
    assert_eq!(
        found["persons"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );

    // Försäkringskassan is an actor reached by letter.
    let fk = projections::directory::unit(app.store.pool(), "fk-lulea")
        .await
        .expect("query")
        .expect("registered");
    assert!(!fk.uses_samplan);
    assert_eq!(fk.principal_kind, "external");

    // The discharge plan is seen by the invited hemtjänst, not by a unit outside it.
    let invited = gateway::demo::sip_id(1);
    let (status, _, body) = app
        .get(
            &format!("/api/v1/sips/{invited}"),
            &staff("lulea-hemtjanst-centrum"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = app
        .get(&format!("/api/v1/sips/{invited}"), &staff("nll-hc-boden"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Staff named in the summary may act: the coordinator of the new plan documents mapping.
    let (status, _, body) = app
        .post(
            &format!(
                "/api/v1/sips/{}/document-mapping",
                gateway::demo::sip_id(10)
            ),
            &staff("nll-hc-centrum-lulea"),
            &serde_json::json!({"heading": "housing", "text": "Bor i radhus med trappa."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Elsa is 12: her mother, signed in as herself with her own personnummer, reads the plan's
    // published parts on Min plan, and not the hälsocentral's draft.
    let now = app.clock.now().timestamp();
    let maria = gateway::auth::mint_token(
        app.secret(),
        &gateway::auth::Claims {
            sub: "guardian-maria".into(),
            role: "citizen".into(),
            unit: None,
            name: "Maria Berg".into(),
            personal_identity_number: Some("19850412-9829".into()),
            iat: now,
            exp: now + 3_600,
            nbf: None,
            iss: "samplan".into(),
            aud: "samplan".into(),
        },
    );
    let (status, _, plans) = app
        .get(&format!("/api/v1/me/plans?min_position={head}"), &maria)
        .await;
    assert_eq!(status, StatusCode::OK, "{plans}");
    assert_eq!(plans["plans"].as_array().map(Vec::len), Some(1), "{plans}");
    assert_eq!(
        plans["plans"][0]["id"],
        gateway::demo::sip_id(3).to_string()
    );
    assert_eq!(plans["plans"][0]["relation"], "guardian");
    let (_, _, plan) = app
        .get(
            &format!("/api/v1/me/plans/{}", gateway::demo::sip_id(3)),
            &maria,
        )
        .await;
    assert_eq!(
        plan["main_goal"],
        "Elsa vill trivas och gå i skolan varje dag."
    );
    assert_eq!(plan["headings"][0]["heading"], "education", "{plan}");
    assert!(
        !plan.to_string().contains("utkast"),
        "a draft shown: {plan}"
    );
}
