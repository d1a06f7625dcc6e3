//! The embedded default, end to end, with the real `samplan` binary: with nothing configured it
//! starts its own PostgreSQL and nats-server under SAMPLAN_DATA_DIR, serves the API, stops them
//! on SIGTERM, keeps all data across a restart, and recovers after `kill -9`; a command run
//! beside it uses its database and leaves it running.
//!
//! Needs PostgreSQL's server binaries and nats-server on the machine (scripts/test puts them on
//! PATH); the first start runs initdb, hence the generous timeouts.

use samplan_tests::{free_port, unconfigured_command, Samplan, TempDir};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Starts `samplan serve` on `data_dir` and waits until `/readyz` answers 200.
async fn start(data_dir: &Path, port: u16, run: usize) -> Samplan {
    let log = data_dir
        .parent()
        .expect("parent")
        .join(format!("samplan-{run}.log"));
    let mut cmd = samplan_command(data_dir, port);
    cmd.arg("serve");
    Samplan::spawn(cmd, port, log).await
}

fn samplan_command(data_dir: &Path, port: u16) -> Command {
    // Nothing configured but where to keep data and where to listen.
    let mut cmd = unconfigured_command();
    cmd.env("SAMPLAN_DATA_DIR", data_dir)
        .env("SAMPLAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("SAMPLAN_LOG", "info");
    cmd
}

fn token(data_dir: &Path, args: &[&str]) -> String {
    let out = samplan_command(data_dir, 0)
        .arg("token")
        .args(args)
        .output()
        .expect("running samplan token");
    assert!(
        out.status.success(),
        "samplan token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// The pid recorded in a pid file, if the file exists.
fn pid_in(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` is a live (not zombie) process called `name`.
fn process_named(pid: u32, name: &str) -> bool {
    let named =
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name);
    // /proc/<pid>/stat: "pid (comm) S …"; a zombie has exited and only waits to be reaped.
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false);
    named && !zombie
}

/// Whether the process is gone within a few seconds: `pg_ctl stop` returns once the pid file
/// is removed, a moment before the last process exits.
async fn gone(pid: u32, name: &str) -> bool {
    for _ in 0..100 {
        if !process_named(pid, name) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = samplan_tests::http_client();
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_default_serves_stops_cleanly_restarts_with_data_and_recovers_from_kill() {
    let tmp = TempDir::new("embedded");
    let data_dir = tmp.path().join("data");
    let port = free_port();

    // First start: initdb, embedded NATS, migrations.
    let mut samplan = start(&data_dir, port, 1).await;
    let admin = token(
        &data_dir,
        &[
            "--role",
            "admin",
            "--sub",
            "admin",
            "--name",
            "Administratör",
        ],
    );
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/units", samplan.base_url),
        &admin,
        Some(json!({
            "id": "vc-e2e",
            "name": "Vårdcentralen Provet",
            "principal": { "kind": "region", "name": "Region Provet" },
            "uses_samplan": true
        })),
    )
    .await;
    assert!(
        status == 200 || status == 201,
        "registering a unit: {status} {body}"
    );

    let staff = token(
        &data_dir,
        &[
            "--role",
            "staff",
            "--sub",
            "SE2321000016-A1B2",
            "--unit",
            "vc-e2e",
            "--name",
            "Sköterska Test",
        ],
    );
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/persons", samplan.base_url),
        &staff,
        Some(json!({ "personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson" })),
    )
    .await;
    assert!(
        status == 200 || status == 201,
        "registering a person: {status} {body}"
    );
    let person_id = body["id"].as_str().expect("id").to_string();
    let position = body["position"].as_i64().expect("position");
    let person_url = format!(
        "{}/api/v1/persons/{person_id}?min_position={position}",
        samplan.base_url
    );
    let (status, before) = call(reqwest::Method::GET, person_url.clone(), &staff, None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["name"], "Tolvan Tolvansson");

    // SIGTERM: a clean stop that takes the embedded services with it.
    let pg_pid = pid_in(&data_dir.join("postgres/data/postmaster.pid"))
        .expect("postgres pid file while running");
    let nats_pid =
        pid_in(&data_dir.join("nats/nats-server.pid")).expect("nats pid file while running");
    assert!(process_named(pg_pid, "postgres") && process_named(nats_pid, "nats-server"));
    samplan.signal("TERM");
    assert!(
        samplan.wait_exit().await,
        "samplan did not exit 0 on SIGTERM:\n{}",
        samplan.log_text()
    );
    assert!(
        gone(pg_pid, "postgres").await,
        "PostgreSQL still runs after samplan stopped"
    );
    assert!(
        gone(nats_pid, "nats-server").await,
        "nats-server still runs after samplan stopped"
    );
    assert!(!data_dir.join("postgres/data/postmaster.pid").exists());
    drop(samplan);

    // Second start on the same data: everything is still there, and old tokens still work.
    let mut samplan = start(&data_dir, port, 2).await;
    let (status, after) = call(reqwest::Method::GET, person_url.clone(), &staff, None).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["name"], before["name"]);
    assert_eq!(after["id"], before["id"]);

    // Only samplan gets in: the PostgreSQL socket is its owner's alone (trust authentication
    // behind it), and the nats-server asks for the token in a file only its owner reads.
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data_dir.join("postgres/.s.PGSQL.5432")), 0o700);
    let conf = data_dir.join("nats/nats-server.conf");
    assert_eq!(mode(&conf), 0o600);
    let token = std::fs::read_to_string(&conf)
        .expect("nats config")
        .split('"')
        .nth(1)
        .expect("a token")
        .to_owned();
    let log = std::fs::read_to_string(data_dir.join("nats/nats-server.log")).expect("nats log");
    let address = log
        .lines()
        .filter_map(|l| l.split("Listening for client connections on ").nth(1))
        .next_back()
        .expect("nats address")
        .trim()
        .to_owned();
    let url = format!("nats://{address}");
    assert!(
        async_nats::connect(&url).await.is_err(),
        "the embedded nats-server let a client in without its token"
    );
    let nats = async_nats::ConnectOptions::with_token(token.clone())
        .connect(&url)
        .await
        .expect("with the token");
    // The relay got in with it: the events are on JetStream.
    let js = async_nats::jetstream::new(nats);
    let mut on_stream = 0;
    for _ in 0..100 {
        let mut stream = js.get_stream("SAMPLAN_EVENTS").await.expect("stream");
        on_stream = stream.info().await.expect("info").state.messages;
        if on_stream >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(on_stream >= 2, "{on_stream} events on JetStream");

    // The embedded services are watched: PostgreSQL stopped (a fast shutdown, as by hand) and
    // nats-server killed are started again, and the service answers and publishes as before.
    let pg_pid = pid_in(&data_dir.join("postgres/data/postmaster.pid")).expect("postgres pid");
    let nats_pid = pid_in(&data_dir.join("nats/nats-server.pid")).expect("nats pid");
    for (pid, signal) in [(pg_pid, "-INT"), (nats_pid, "-KILL")] {
        let sent = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    }
    assert!(gone(pg_pid, "postgres").await && gone(nats_pid, "nats-server").await);
    let mut back = false;
    for _ in 0..150 {
        let (status, _) = call(reqwest::Method::GET, person_url.clone(), &staff, None).await;
        if status == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        back,
        "PostgreSQL was not started again:\n{}",
        samplan.log_text()
    );
    // PostgreSQL can be back before nats-server is: each is watched and started again on its own.
    let mut nats_again = nats_pid;
    for _ in 0..150 {
        nats_again = pid_in(&data_dir.join("nats/nats-server.pid")).unwrap_or(nats_pid);
        if nats_again != nats_pid && process_named(nats_again, "nats-server") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(
        nats_again,
        nats_pid,
        "nats-server was not started again:\n{}",
        samplan.log_text()
    );
    assert!(process_named(nats_again, "nats-server"));

    // A command run beside the service uses its PostgreSQL and leaves it running.
    let pg_pid = pid_in(&data_dir.join("postgres/data/postmaster.pid")).expect("postgres pid");
    let verify = samplan_command(&data_dir, 0)
        .args(["audit", "verify"])
        .output()
        .expect("running samplan audit verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("intact"));
    assert!(
        process_named(pg_pid, "postgres"),
        "audit verify stopped the service's database"
    );
    let (status, still) = call(reqwest::Method::GET, person_url.clone(), &staff, None).await;
    assert_eq!(status, 200, "{still}");
    // A second `serve` on the same data directory is refused, and touches nothing.
    let second = samplan_command(&data_dir, free_port())
        .arg("serve")
        .output()
        .expect("running a second samplan serve");
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("another samplan"), "{said}");
    assert!(process_named(pg_pid, "postgres"));
    let (status, _) = call(reqwest::Method::GET, person_url.clone(), &staff, None).await;
    assert_eq!(status, 200);

    // kill -9: nothing gets to clean up; the next start must.
    samplan.signal("KILL");
    assert!(!samplan.wait_exit().await);
    drop(samplan);
    let mut samplan = start(&data_dir, port, 3).await;
    let (status, again) = call(reqwest::Method::GET, person_url, &staff, None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["name"], before["name"]);
    // A consumer outside the service is set up once: after the restart the nats-server is on the
    // port in nats-server.port, the one it had, and asks for the same token.
    let kept = std::fs::read_to_string(&conf)
        .expect("nats config")
        .split('"')
        .nth(1)
        .expect("a token")
        .to_owned();
    assert_eq!(kept, token, "a new token after the restart");
    let port_file = std::fs::read_to_string(data_dir.join("nats/nats-server.port"))
        .expect("port file")
        .trim()
        .to_owned();
    assert_eq!(format!("127.0.0.1:{port_file}"), address);
    async_nats::ConnectOptions::with_token(kept)
        .connect(&url)
        .await
        .expect("the same address and token after a restart");
    let pg_pid = pid_in(&data_dir.join("postgres/data/postmaster.pid")).expect("postgres pid file");
    samplan.signal("TERM");
    assert!(samplan.wait_exit().await, "{}", samplan.log_text());
    assert!(gone(pg_pid, "postgres").await);
}

#[test]
fn token_without_configuration_refuses_staff_without_unit() {
    let tmp = TempDir::new("token");
    let out = samplan_command(&tmp.path().join("data"), 0)
        .args(["token", "--role", "staff", "--sub", "SE2321000016-A1B2"])
        .output()
        .expect("running samplan token");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--unit"));
}

/// A token made on a data directory no service has used says its secret is new there: a
/// mistyped SAMPLAN_DATA_DIR otherwise gives a token the running service refuses, in silence.
#[test]
fn a_token_on_a_new_data_directory_says_its_secret_is_new() {
    let tmp = TempDir::new("newsecret");
    let data = tmp.path().join("data");
    let make = || {
        samplan_command(&data, 0)
            .args(["token", "--role", "admin", "--sub", "admin"])
            .output()
            .expect("running samplan token")
    };
    let first = make();
    assert!(first.status.success(), "{first:?}");
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("a new one was made"),
        "{first:?}"
    );
    let second = make();
    assert!(second.status.success(), "{second:?}");
    assert!(second.stderr.is_empty(), "{second:?}");
}

#[test]
fn an_external_database_without_a_key_refuses_to_start() {
    let tmp = TempDir::new("nokey");
    let out = samplan_command(&tmp.path().join("data"), free_port())
        .env(
            "SAMPLAN_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .arg("serve")
        .output()
        .expect("running samplan serve");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SAMPLAN_JWT_SECRET"));
}

/// Two public keys during a rotation, the second not a key: a setting that is not valid, exit
/// status 2 naming it, as for any other (docs/configuration.md), never a start that fails with 1.
#[test]
fn a_second_public_key_that_does_not_parse_is_a_configuration_error() {
    let tmp = TempDir::new("badkey");
    let (_, good) = gateway::testing::key_pair(gateway::testing::KeyKind::Es256);
    let broken = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n";
    let out = samplan_command(&tmp.path().join("data"), free_port())
        .env(
            "SAMPLAN_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env("SAMPLAN_JWT_PUBLIC_KEY", format!("{good}{broken}"))
        .arg("serve")
        .output()
        .expect("running samplan serve");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("configuration error"), "{said}");
}

/// A JWKS file that is not there stops every command with exit status 2 before anything is
/// set up (docs/configuration.md: every command parses the whole configuration). An operator
/// review had `migrate` succeed with it, and `serve` refuse it only after making a new data
/// directory and starting the embedded PostgreSQL.
#[test]
fn a_missing_jwks_file_stops_every_command_before_anything_starts() {
    let tmp = TempDir::new("nojwks");
    let data = tmp.path().join("data");
    for command in ["migrate", "serve"] {
        let out = samplan_command(&data, free_port())
            .env(
                "SAMPLAN_JWT_JWKS_FILE",
                tmp.path().join("no-such-jwks.json"),
            )
            .arg(command)
            .output()
            .expect("running samplan");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {said}");
        assert!(said.contains("no-such-jwks.json"), "{command}: {said}");
        assert!(!data.exists(), "{command} set up the embedded services");
    }
}

/// A listening address already taken is found before the embedded services are set up.
#[test]
fn a_taken_port_is_found_before_the_embedded_services_start() {
    let tmp = TempDir::new("taken");
    let data = tmp.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("address").port();
    let out = samplan_command(&data, port)
        .arg("serve")
        .output()
        .expect("running samplan serve");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert!(
        !data.join("postgres").exists(),
        "the embedded PostgreSQL was set up: {said}"
    );
}

#[tokio::test]
async fn migrating_an_external_database_needs_no_token_key() {
    let db = eventstore::testing::TestDatabase::create()
        .await
        .expect("test database");
    let tmp = TempDir::new("migrate");
    let out = samplan_command(&tmp.path().join("data"), 0)
        .env("SAMPLAN_DATABASE_URL", &db.app_url)
        .env("SAMPLAN_DATABASE_ADMIN_URL", &db.admin_url)
        .arg("migrate")
        .output()
        .expect("running samplan migrate");
    assert!(
        out.status.success(),
        "samplan migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The migrations are there: the store's table and the read models' checkpoints.
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('events', 'checkpoints', 'keys')",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(tables, 3);
}
