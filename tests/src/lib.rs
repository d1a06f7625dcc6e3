//! Helpers for the end-to-end tests in `tests/`: finding (and if needed building) the `samplan`
//! binary, running it as a server process, free ports and temporary directories, PostgreSQL and
//! nats-server processes a test may stop and start, and the writers the fault tests load the
//! service with ([`writers`]). No assertion about the service lives here but the shared check
//! that acknowledged commands are stored exactly once.

pub mod proof;
pub mod writers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `samplan` binary of this build. Test binaries live in `target/<profile>/deps/`; the
/// binary sits one level up.
///
/// A workspace test run (`scripts/test`: `cargo nextest run --workspace`) builds it already,
/// because the gateway's own integration tests need it, and with the same feature set as this
/// test; building it again with `cargo build -p gateway` would resolve features differently and
/// recompile half the dependency tree. So an existing binary is used as it is, and cargo is asked
/// only when there is none, or when `SAMPLAN_TEST_REBUILD=1` (running this crate's tests alone
/// after changing the gateway).
pub fn samplan_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test binaries live in target/<profile>/deps")
                .to_path_buf();
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace root");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .current_dir(workspace)
                .args(["build", "--quiet", "-p", "gateway", "--bin", "samplan"]);
            if release {
                build.arg("--release");
            }
            let binary = profile_dir.join("samplan");
            if binary.exists() && std::env::var_os("SAMPLAN_TEST_REBUILD").is_none() {
                return binary;
            }
            let status = build.status();
            match status {
                Ok(s) if s.success() => {}
                // Without cargo (a packaged test run) a binary built beforehand will do.
                _ if binary.exists() => {}
                other => panic!("building samplan failed: {other:?}"),
            }
            binary
        })
        .clone()
}

/// A connection to the database at `url` (no TLS), its connection driven in the background.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new(label: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("samplan-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `samplan` command that inherits no `SAMPLAN_*` variable from the test's environment, with
/// stdin closed: every setting it gets, the test gives it.
pub fn unconfigured_command() -> Command {
    let mut cmd = Command::new(samplan_binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("SAMPLAN_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// How long a server may take to answer `/readyz` (a first embedded start runs initdb).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to exit after a signal.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process being dropped may take to stop after SIGTERM before it gets SIGKILL.
const DROP_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one HTTP request of a test may take, answer included ([`http_client`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// An HTTP client whose every request gives up after [`REQUEST_TIMEOUT`]: a server that hangs
/// fails the test with a timeout instead of hanging it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// Sends `signal` (`TERM`, `KILL`, `STOP`, …) to process `pid`; whether it was delivered.
pub fn send_signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// Stops `child`: SIGTERM, and SIGKILL if it has not exited within `grace`; then reaps it. For
/// `Drop`, which must neither hang nor leave a process behind.
fn stop_child(child: &mut Child, grace: Duration) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    send_signal(child.id(), "TERM");
    let started = Instant::now();
    while started.elapsed() < grace {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running `samplan` server process. Dropping it stops the process (SIGTERM, then SIGKILL
/// after [`DROP_STOP_TIMEOUT`]), so a failed assertion leaves nothing behind.
pub struct Samplan {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    log: PathBuf,
    /// The stream [`own_stream`] gave the process, deleted when its last process is dropped.
    own_stream: Option<OwnStream>,
}

impl Samplan {
    /// Runs `cmd` (a `samplan serve …` command with its environment set), its output going to
    /// `log`, and waits until `/readyz` on `port` answers 200.
    pub async fn spawn(mut cmd: Command, port: u16, log: PathBuf) -> Samplan {
        let out = std::fs::File::create(&log).expect("log file");
        let own_stream = OwnStream::of(&cmd);
        let child = cmd
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("starting samplan");
        let mut s = Samplan {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
            own_stream,
        };
        s.wait_ready().await;
        s
    }

    /// Waits until `/readyz` answers 200; panics with the log if the process exits first.
    pub async fn wait_ready(&mut self) {
        // Each poll gives up on its own, so a hung server fails the deadline below.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "samplan exited ({status}) before it was ready:\n{}",
                    self.log_text()
                );
            }
            if let Ok(r) = client.get(format!("{}/readyz", self.base_url)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "samplan not ready in time:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process has written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (e.g. `TERM`, `KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        assert!(
            send_signal(self.child.id(), signal),
            "kill -{signal} {}",
            self.child.id()
        );
    }

    /// Waits for the process to end and returns whether it exited with status 0.
    pub async fn wait_exit(&mut self) -> bool {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                started.elapsed() < STOP_TIMEOUT,
                "samplan did not stop in time:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Samplan {
    fn drop(&mut self) {
        stop_child(&mut self.child, DROP_STOP_TIMEOUT);
        if let Some(stream) = self.own_stream.take() {
            stream.release();
        }
    }
}

/// A JetStream stream of a test's own ([`own_stream`], or named with [`ROLES_STREAM_PREFIX`]) on
/// the shared NATS server, counted by the processes using it: the last one dropped deletes it,
/// also when the test failed, so test runs leave no streams behind on a server that outlives
/// them.
struct OwnStream {
    nats_url: String,
    name: String,
}

/// How many live [`Samplan`] processes use each stream of [`own_stream`].
static OWN_STREAM_USERS: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

impl OwnStream {
    /// The stream `cmd` was given by [`own_stream`] (or a name with [`ROLES_STREAM_PREFIX`]),
    /// counted as used by one more process.
    fn of(cmd: &Command) -> Option<OwnStream> {
        let env = |key: &str| {
            cmd.get_envs()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v)
                .map(|v| v.to_string_lossy().into_owned())
        };
        let name = env("SAMPLAN_NATS_STREAM").filter(|n| {
            OWN_STREAM_PREFIXES
                .iter()
                .any(|prefix| n.starts_with(prefix))
        })?;
        let nats_url = env("SAMPLAN_NATS_URL")?;
        let mut users = OWN_STREAM_USERS.lock().unwrap_or_else(|e| e.into_inner());
        match users.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => users.push((name.clone(), 1)),
        }
        Some(OwnStream { nats_url, name })
    }

    /// One process fewer; the last deletes the stream (on a thread of its own, as this runs in
    /// `Drop`, possibly inside the test's runtime).
    fn release(self) {
        {
            let mut users = OWN_STREAM_USERS.lock().unwrap_or_else(|e| e.into_inner());
            let Some(at) = users.iter().position(|(n, _)| *n == self.name) else {
                return;
            };
            users[at].1 -= 1;
            if users[at].1 > 0 {
                return;
            }
            users.remove(at);
        }
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let connect = async_nats::connect(self.nats_url.as_str());
                if let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(5), connect).await
                {
                    let js = async_nats::jetstream::new(client);
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), js.delete_stream(&self.name))
                            .await;
                }
            });
        })
        .join();
    }
}

/// A PostgreSQL cluster of a test's own, on a loopback TCP port, that the test may stop and
/// start again (the shared server of the other tests must never be restarted). Runs as the
/// `postgres` system user when the test runs as root, as PostgreSQL requires. Stopped (fast)
/// when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    /// The TCP port it listens on.
    pub port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Initialises a cluster under `dir` and starts it.
    pub fn start(dir: &Path) -> PrivatePostgres {
        let bin = postgres_bin_dir().expect("PostgreSQL's server binaries (initdb, pg_ctl)");
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).expect("data directory");
        if as_postgres {
            // The postgres user must reach the directory and own the data directory.
            let mut up = Some(dir);
            while let Some(d) = up {
                let _ = Command::new("chmod").arg("o+x").arg(d).status();
                up = d.parent();
            }
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown to postgres failed");
        }
        let pg = PrivatePostgres {
            bin,
            data,
            port: free_port(),
            as_postgres,
        };
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.start_again();
        pg
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.current_dir(self.data.parent().unwrap_or(Path::new("/")));
        cmd.stdin(Stdio::null());
        cmd
    }

    /// The owner's connection string (migrations).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The service's connection string: the role the migrations create.
    pub fn app_url(&self) -> String {
        format!("postgres://samplan_app@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the cluster (again) and waits until it accepts connections.
    pub fn start_again(&self) {
        let socket_dir = self.data.parent().unwrap_or(Path::new("/tmp"));
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(socket_dir.join("postgres.log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                self.port,
                socket_dir.display()
            ))
            .arg("start")
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restarts the cluster with TLS on, serving `cert_pem` (the server's certificate, PEM) with
    /// `key_pem` (its key), and accepting TCP connections only over TLS: `pg_hba.conf` gets
    /// `hostssl` lines and no `host` line, so an unencrypted login is refused. The files are
    /// copied into the data directory, owned by the server's user with mode 0600 as PostgreSQL
    /// requires of a key.
    pub fn require_tls(&self, cert_pem: &Path, key_pem: &Path) {
        self.stop("fast");
        for (from, name) in [(cert_pem, "server.crt"), (key_pem, "server.key")] {
            let to = self.data.join(name);
            std::fs::copy(from, &to).expect("copying the server's certificate or key");
            let _ = Command::new("chmod").arg("600").arg(&to).status();
            if self.as_postgres {
                let _ = Command::new("chown").arg("postgres").arg(&to).status();
            }
        }
        let conf = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).expect("postgresql.conf");
        std::fs::write(
            self.data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .expect("pg_hba.conf");
        self.start_again();
    }

    /// Stops the cluster: `fast` (connections cut, open transactions rolled back) or
    /// `immediate` (as a crash: recovery from the WAL on the next start).
    pub fn stop(&self, mode: &str) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "stop"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The directory of PostgreSQL's server binaries: where `initdb` on PATH lives, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    for dir in on_path {
        let initdb = dir.join("initdb");
        if initdb.is_file() {
            let real = initdb.canonicalize().unwrap_or(initdb);
            if let Some(d) = real.parent().filter(|d| complete(d)) {
                return Some(d.to_path_buf());
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A nats-server with JetStream of a test's own, on a loopback port, that the test may stop and
/// start again on the same port and storage (the shared server must never be stopped). Killed
/// when dropped.
pub struct PrivateNats {
    child: Option<Child>,
    dir: PathBuf,
    args: Vec<String>,
    /// The client port.
    pub port: u16,
}

impl PrivateNats {
    /// Starts a server keeping its JetStream files under `dir`.
    pub async fn start(dir: &Path) -> PrivateNats {
        PrivateNats::start_with(dir, &[]).await
    }

    /// Starts a server with more command-line arguments (e.g. `--user`, `--pass`).
    pub async fn start_with(dir: &Path, args: &[&str]) -> PrivateNats {
        let mut nats = PrivateNats {
            child: None,
            dir: dir.join("nats"),
            args: args.iter().map(|a| a.to_string()).collect(),
            port: free_port(),
        };
        nats.start_again().await;
        nats
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id (to freeze it with SIGSTOP, say).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("the nats-server runs")
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub async fn start_again(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("nats directory");
        let binary = [
            "nats-server",
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
        ]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("nats-server on the machine");
        let log = std::fs::File::create(self.dir.join("nats.log")).expect("log");
        let child = Command::new(binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("starting nats-server");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (SIGTERM, a graceful shutdown) and waits for it to exit; SIGKILL if it
    /// has not within [`STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, STOP_TIMEOUT);
        }
    }

    /// Kills the server (SIGKILL: no shutdown, no hand-over of leadership) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `samplan serve …` for a test: the database (`database_url` as the service, `admin_url` for
/// the migrations), NATS, the token secret, the port, a data directory, and warnings only in the
/// log. The caller adds the arguments (`serve`, a role) and any other setting.
pub fn serve_command(
    database_url: &str,
    admin_url: &str,
    nats_url: &str,
    secret: &str,
    port: u16,
    data_dir: &Path,
) -> Command {
    let mut cmd = unconfigured_command();
    cmd.env("SAMPLAN_DATABASE_URL", database_url)
        .env("SAMPLAN_DATABASE_ADMIN_URL", admin_url)
        .env("SAMPLAN_NATS_URL", nats_url)
        .env("SAMPLAN_JWT_SECRET", secret)
        .env("SAMPLAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("SAMPLAN_DATA_DIR", data_dir)
        .env("SAMPLAN_LOG", "warn");
    cmd
}

/// The name every stream of [`own_stream`] begins with.
const OWN_STREAM_PREFIX: &str = "TEST_";
/// The streams a [`Samplan`] deletes when the last process using one is dropped: those of
/// [`own_stream`], and those a test names itself with [`ROLES_STREAM_PREFIX`].
const OWN_STREAM_PREFIXES: [&str; 2] = [OWN_STREAM_PREFIX, ROLES_STREAM_PREFIX];
/// The prefix of the streams `tests/roles.rs` names itself (`ROLES_TEST_<ulid>`).
pub const ROLES_STREAM_PREFIX: &str = "ROLES_TEST_";

/// Gives `cmd` a JetStream stream, subjects and doorbell of its own, kept in memory, so that
/// tests sharing one NATS server do not see each other's events.
///
/// The stream is deleted when the last [`Samplan`] process started with it is dropped.
pub fn own_stream(cmd: &mut Command, tag: &str) {
    let tag = tag.to_lowercase();
    cmd.env(
        "SAMPLAN_NATS_STREAM",
        format!("{OWN_STREAM_PREFIX}{tag}").to_uppercase(),
    )
    .env("SAMPLAN_NATS_SUBJECT_PREFIX", format!("test-events.{tag}"))
    .env(
        "SAMPLAN_NATS_DOORBELL_SUBJECT",
        format!("test-doorbell.{tag}"),
    )
    .env("SAMPLAN_NATS_STORAGE", "memory");
}
