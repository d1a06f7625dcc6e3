//! samplan reaches a PostgreSQL that accepts only TLS (`hostssl`, no `host` line) when the
//! connection strings ask for it (`sslmode=require`, `sslmode=verify-full`) and
//! `SAMPLAN_DATABASE_TLS_CA` names the CA of the server's certificate; with another CA it stops
//! at start with an error that says why, instead of hanging or falling back to plain text.
//!
//! The CA, the server's certificate (for 127.0.0.1 and localhost) and a second, unrelated CA are
//! made with the `openssl` command line tool for this run, in a temporary directory; no key is
//! kept.

use chrono::{Duration as Span, Utc};
use gateway::auth::{random_hex, Signer};
use samplan_tests::{free_port, own_stream, serve_command, PrivatePostgres, Samplan, TempDir};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `openssl` with `args` in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command line tool makes the test's certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA (P-256) as `<name>.crt` and `<name>.key` in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=samplan test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.crt"))
}

/// The server's key and a certificate for 127.0.0.1 and localhost signed by CA `ca`.
fn make_server_cert(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "server.ext",
        ],
    );
    (dir.join("server.crt"), dir.join("server.key"))
}

#[tokio::test(flavor = "multi_thread")]
async fn samplan_serves_over_tls_to_a_postgres_that_refuses_plain_text() {
    let dir = TempDir::new("pg-tls");
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs directory");
    let ca = make_ca(&certs, "ca");
    let wrong_ca = make_ca(&certs, "other-ca");
    let (server_cert, server_key) = make_server_cert(&certs, "ca");

    let pg = PrivatePostgres::start(dir.path());
    pg.require_tls(&server_cert, &server_key);

    // Without TLS the server turns the login away (pg_hba.conf has only hostssl lines).
    let plain = tokio_postgres::connect(&pg.admin_url(), tokio_postgres::NoTls).await;
    assert!(plain.is_err(), "the server let an unencrypted login in");

    // The service's role with `require`, the owner's with `verify-full`: the same check.
    let app_url = format!("{}?sslmode=require", pg.app_url());
    let admin_url = format!("{}?sslmode=verify-full", pg.admin_url());
    let secret = random_hex(32).expect("secret");
    let nats_url =
        std::env::var("SAMPLAN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let serve = |tag: &str, ca: &Path, port: u16| {
        let mut cmd = serve_command(
            &app_url,
            &admin_url,
            &nats_url,
            &secret,
            port,
            &dir.path().join(format!("samplan-{tag}")),
        );
        own_stream(&mut cmd, &format!("pgtls{tag}{port}"));
        cmd.env("SAMPLAN_DATABASE_TLS_CA", ca).arg("serve");
        cmd
    };

    // With another CA the server's certificate is not trusted: samplan stops at start, naming
    // the certificate as the reason, and does not hang.
    let port = free_port();
    let log = dir.path().join("wrong-ca.log");
    let mut child = serve("wrong", &wrong_ca, port)
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(std::fs::File::create(dir.path().join("wrong-ca.err")).expect("log"))
        .spawn()
        .expect("starting samplan");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("samplan with the wrong CA neither started nor stopped within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = format!(
        "{}{}",
        std::fs::read_to_string(&log).unwrap_or_default(),
        std::fs::read_to_string(dir.path().join("wrong-ca.err")).unwrap_or_default()
    );
    assert!(
        !status.success(),
        "samplan started with the wrong CA:\n{output}"
    );
    assert!(
        output.contains("certificate") && output.contains("TLS"),
        "the start-up error does not say that the certificate was refused:\n{output}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refusing the certificate took {:?}",
        started.elapsed()
    );

    // With the right CA it migrates, serves, and what it is told is read back.
    let port = free_port();
    let server = Samplan::spawn(
        serve("right", &ca, port),
        port,
        dir.path().join("right.log"),
    )
    .await;
    let signer = Signer::hs256(&secret, "samplan", "samplan");
    let admin = signer.sign("admin", "admin", None, "Admin", Utc::now(), Span::hours(1));
    let client = samplan_tests::http_client();
    let response = client
        .post(format!("{}/api/v1/units", server.base_url))
        .bearer_auth(&admin)
        .json(&json!({"id": "vc-tls", "name": "Vårdcentralen TLS",
                      "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true}))
        .send()
        .await
        .expect("registering a unit");
    assert_eq!(response.status(), 201, "{}", server.log_text());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let units: serde_json::Value = client
            .get(format!("{}/api/v1/units", server.base_url))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("listing units")
            .json()
            .await
            .expect("JSON");
        if units.to_string().contains("vc-tls") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unit was not read back: {units}\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every connection samplan holds is encrypted (pg_stat_ssl), the pool's, the listener's and
    // the projections' leases alike.
    let tls = eventstore::DatabaseTls {
        ca: Some(ca.clone()),
        ..Default::default()
    };
    let check = eventstore::connect(&admin_url, &tls, "samplan-test", None)
        .await
        .expect("the test connects with the CA too");
    let row = check
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl)::bigint, count(*) FILTER (WHERE NOT s.ssl)::bigint
               FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
              WHERE a.application_name LIKE 'samplan-%' AND a.application_name <> 'samplan-test'",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    let (encrypted, plain): (i64, i64) = (row.get(0), row.get(1));
    assert!(encrypted >= 2, "{encrypted} encrypted connections");
    assert_eq!(plain, 0, "unencrypted connections");
    drop(server);
}
