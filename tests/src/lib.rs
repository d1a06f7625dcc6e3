//! Helpers for the end-to-end tests in `tests/`: finding (and if needed building) the `samplan`
//! binary, running it as a server process, free ports and temporary directories. No test logic
//! lives here.

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

/// A running `samplan` server process. Dropping it stops the process (SIGTERM, then waits), so a
/// failed assertion leaves nothing behind.
pub struct Samplan {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    log: PathBuf,
}

impl Samplan {
    /// Runs `cmd` (a `samplan serve …` command with its environment set), its output going to
    /// `log`, and waits until `/readyz` on `port` answers 200.
    pub async fn spawn(mut cmd: Command, port: u16, log: PathBuf) -> Samplan {
        let out = std::fs::File::create(&log).expect("log file");
        let child = cmd
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("starting samplan");
        let mut s = Samplan {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        };
        s.wait_ready().await;
        s
    }

    /// Waits until `/readyz` answers 200; panics with the log if the process exits first.
    pub async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
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

    /// What the process has written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (e.g. `TERM`, `KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
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
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let _ = self.child.wait();
        }
    }
}
