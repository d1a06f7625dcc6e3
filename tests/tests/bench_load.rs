//! `samplan bench load` as an operator runs it (issue 15, Load): a gateway process, and the load
//! generator as a process of its own beside it, pointed at the gateway over loopback. A short
//! run of every phase must walk plans through their whole life without a single refused or
//! failed request, print each table with a ratio to the raw database, and measure the
//! projection lag and the gateway's memory; what it stored must be what it says it sent.

use eventstore::testing::TestDatabase;
use gateway::auth::random_hex;
use samplan_tests::{free_port, own_stream, serve_command, unconfigured_command, Samplan, TempDir};

/// `samplan serve` on the test's database with a JetStream stream of its own, the token key
/// `secret` unless `configure` changes it.
async fn gateway(
    db: &TestDatabase,
    dir: &TempDir,
    secret: &str,
    configure: impl FnOnce(&mut std::process::Command),
) -> Samplan {
    let nats =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let port = free_port();
    let mut cmd = serve_command(
        &db.app_url,
        &db.admin_url,
        &nats,
        secret,
        port,
        &dir.path().join("data"),
    );
    configure(&mut cmd);
    own_stream(&mut cmd, &ulid::Ulid::generate().to_string());
    cmd.arg("serve");
    Samplan::spawn(cmd, port, dir.path().join("gateway.log")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_load_run_walks_plans_to_their_end_and_reports_every_phase() {
    let db = TestDatabase::create().await.expect("test database");
    let secret = random_hex(32).expect("secret");
    let dir = TempDir::new("bench-load");
    let gateway = gateway(&db, &dir, &secret, |_| {}).await;

    let report = dir.path().join("report.md");
    let mut load = unconfigured_command();
    load.env("SAMPLAN_DATABASE_URL", &db.app_url)
        .env("SAMPLAN_DATABASE_ADMIN_URL", &db.admin_url)
        .env("SAMPLAN_JWT_SECRET", &secret)
        .env("SAMPLAN_LOG", "warn")
        .args(["bench", "load", "--url", &gateway.base_url])
        .args(["--seconds", "2", "--connections", "2,4", "--units", "3"])
        .args(["--persons", "12", "--interval", "1"])
        .args(["--watch-pid", &gateway.pid().to_string()])
        .arg("--report")
        .arg(&report);
    let output = tokio::task::spawn_blocking(move || load.output())
        .await
        .expect("join")
        .expect("running samplan bench load");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let written = std::fs::read_to_string(&report).expect("the report file");
    assert_eq!(
        written.trim(),
        stdout.trim(),
        "the file holds what was printed"
    );

    for heading in [
        "## Commands (`POST /sips`) beside raw INSERT transactions",
        "## Reads, each route alone",
        "## Mixed load\n",
        "## Mixed load with commands paced at",
        "## Resident memory",
    ] {
        assert!(stdout.contains(heading), "no {heading:?} in\n{stdout}");
    }
    // The tables were kept as autovacuum keeps them, and the report says what that took.
    let upkeep = stdout
        .lines()
        .find(|l| l.starts_with("Upkeep beside the load (the server's autovacuum is "))
        .unwrap_or_else(|| panic!("no upkeep line in\n{stdout}"));
    let analyzed: u64 = upkeep
        .split("): ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ANALYZE count in {upkeep:?}"));
    assert!(
        analyzed > 0,
        "tables grew past autovacuum's thresholds: {upkeep}"
    );
    // Every command and read was answered 2xx: no errors column says otherwise.
    for line in stdout.lines().filter(|l| l.contains("errors:")) {
        assert!(line.ends_with("errors: 0."), "{line}");
    }
    for route in [
        "GET /inbox/messages",
        "GET /inbox/todos",
        "GET /inbox/sips",
        "GET /sips/{id}",
        "GET /me/plans",
        "GET /persons?q=",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {route} | 4 |")))
            .unwrap_or_else(|| panic!("no reads row for {route} in\n{stdout}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[7], "0", "errors on {route}: {row}");
        let ratio: f64 = cells[10]
            .parse()
            .unwrap_or_else(|_| panic!("ratio of {row}"));
        assert!(ratio > 0.0, "{row}");
    }
    assert!(
        stdout.contains("Projection lag, from a command's answer"),
        "{stdout}"
    );

    // The plans were walked to their end: the store holds closed plans, and each step once.
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let count = |event_type: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(
                    "SELECT count(*)::bigint FROM events WHERE event_type = $1",
                    &[&event_type],
                )
                .await
                .expect("count");
            row.get::<_, i64>(0)
        }
    };
    let closed = count("SipClosed").await;
    assert!(closed > 0, "no plan was walked to its end");
    assert!(count("MeetingHeld").await >= closed);
    assert!(count("NeedIdentified").await > count("ConsentGiven").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_load_run_signs_its_tokens_with_a_key_pair_as_an_identity_provider_does() {
    let db = TestDatabase::create().await.expect("test database");
    let dir = TempDir::new("bench-load-es256");
    let (private, public) = gateway::testing::key_pair(gateway::testing::KeyKind::Es256);
    let key = dir.path().join("token-key.pem");
    std::fs::write(&key, &private).expect("private key file");
    let public_path = dir.path().join("public.pem");
    std::fs::write(&public_path, &public).expect("public key file");

    let gateway = gateway(&db, &dir, "unused", |cmd| {
        cmd.env_remove("SAMPLAN_JWT_SECRET")
            .env("SAMPLAN_JWT_PUBLIC_KEY", &public);
    })
    .await;

    let run = |signing_key: std::path::PathBuf| {
        let mut load = unconfigured_command();
        load.env("SAMPLAN_DATABASE_URL", &db.app_url)
            .env("SAMPLAN_DATABASE_ADMIN_URL", &db.admin_url)
            .env("SAMPLAN_JWT_PUBLIC_KEY", &public)
            .env("SAMPLAN_LOG", "warn")
            .args(["bench", "load", "--url", &gateway.base_url])
            .args([
                "--phases",
                "commands",
                "--seconds",
                "1",
                "--connections",
                "2",
            ])
            .args(["--units", "2", "--persons", "4"])
            .arg("--signing-key")
            .arg(signing_key);
        async move {
            tokio::task::spawn_blocking(move || load.output())
                .await
                .expect("join")
                .expect("running samplan bench load")
        }
    };

    // A public key cannot sign: a usage error before any request.
    let refused = run(public_path).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not an RSA or EC P-256 private key"),
        "{stderr}"
    );

    let output = run(key).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // Every command was accepted: the row at 2 connections has no errors.
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| 2 |"))
        .unwrap_or_else(|| panic!("no commands row in\n{stdout}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells[6], "0", "errors: {row}");
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let stored: i64 = client
        .query_one(
            "SELECT count(*)::bigint FROM events WHERE event_type = 'NeedIdentified'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert!(stored > 0, "the commands signed ES256 were accepted");
}
