//! The access log's group commit (ADR 0018): reads that are logged at the same moment share an
//! INSERT, yet each is answered only after its own rows are committed, and a read whose rows
//! cannot be written fails alone.

mod sips_support;

use gateway::testing::TestApp;
use reqwest::StatusCode;
use sips_support::*;

const READS: usize = 40;

/// The rows of the plan's `sip.read` entries, with the transaction that wrote each.
async fn logged(app: &TestApp, sip: &str) -> Vec<(String, String)> {
    let client = app.store.pool().get().await.expect("client");
    client
        .query(
            "SELECT actor, xmin::text FROM access_log WHERE sip_id = $1 AND action = 'sip.read'",
            &[&sip],
        )
        .await
        .expect("access log")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_are_each_logged_once_before_they_are_answered() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let path = format!("/api/v1/sips/{sip}");
    let tokens: Vec<String> = (0..READS)
        .map(|i| app.staff_token(&format!("SE2321000016-VC{i:02}"), VC))
        .collect();
    let reads = tokens.iter().map(|t| app.get(&path, t));
    for (status, _, body) in futures::future::join_all(reads).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Every read answered is in the log, once, with its own user.
    let mut actors: Vec<String> = logged(&app, &sip).await.into_iter().map(|r| r.0).collect();
    actors.sort();
    let mut expected: Vec<String> = (0..READS)
        .map(|i| format!("SE2321000016-VC{i:02}"))
        .collect();
    expected.sort();
    assert_eq!(actors, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_rows_cannot_be_written_fails_alone() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let sip = prepared_plan(&app, &w).await;
    let path = format!("/api/v1/sips/{sip}");
    // A row the database refuses: tokens whose claims the log cannot hold are refused at the
    // door now (401), so the test's own database is given a check that refuses one user's rows.
    let refused = "SE2321000016-REFUSED".to_owned();
    let (owner, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("owner");
    tokio::spawn(connection);
    owner
        .batch_execute(&format!(
            "ALTER TABLE access_log ADD CONSTRAINT refuses_one_user CHECK (actor <> '{refused}')"
        ))
        .await
        .expect("a check that refuses one user's rows");
    let bad = app.staff_token(&refused, VC);
    let good: Vec<String> = (0..READS)
        .map(|i| app.staff_token(&format!("SE2321000016-VC{i:02}"), VC))
        .collect();
    let reads = good
        .iter()
        .chain(std::iter::once(&bad))
        .chain(good.iter())
        .map(|t| app.get(&path, t));
    let answers = futures::future::join_all(reads).await;
    for (i, (status, _, body)) in answers.iter().enumerate() {
        if i == READS {
            assert!(
                status.is_server_error(),
                "the unlogged read failed: {status} {body}"
            );
        } else {
            assert_eq!(*status, StatusCode::OK, "{body}");
        }
    }
    let rows = logged(&app, &sip).await;
    assert_eq!(
        rows.len(),
        2 * READS,
        "every good read logged, the bad one not"
    );
    assert!(rows.iter().all(|(actor, _)| actor != &refused));
}
