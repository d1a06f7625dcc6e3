//! The embedded default: with no `SAMPLAN_DATABASE_URL` (or `SAMPLAN_NATS_URL`) configured,
//! `samplan` starts and supervises its own PostgreSQL and nats-server from the machine's
//! binaries, keeping their data under `SAMPLAN_DATA_DIR`. Same code paths as production; nothing
//! is mocked: the gateway talks to a real PostgreSQL over a Unix socket and a real JetStream.
//!
//! Both services outlive a `kill -9` of samplan (PostgreSQL detaches from us on purpose so that a
//! terminal's Ctrl-C reaches samplan first); the next start finds them through their pid files
//! and stops them before starting afresh. Services a *live* samplan keeps are another matter
//! ([`Keeper`]): a command run beside `samplan serve` (`audit verify`, `rebuild`, `migrate`,
//! `demo`) uses its PostgreSQL and leaves it running, and a second `serve` on the same data
//! directory is refused — before, either stopped the running service's database as if it were
//! left over from a crash.

mod nats;
mod postgres;

pub use nats::EmbeddedNats;
pub use postgres::EmbeddedPostgres;

use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// Why an embedded service could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A program the embedded default needs is not installed.
    #[error("{program} was not found (looked on PATH{looked}). Install it, e.g. with `apt-get install {package}`, or configure {variable} to use an existing server")]
    MissingProgram {
        program: &'static str,
        package: &'static str,
        variable: &'static str,
        looked: String,
    },
    /// A file system operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A helper program ran but failed.
    #[error("{what} failed ({status}): {output}")]
    CommandFailed {
        what: String,
        status: String,
        output: String,
    },
    /// A service did not come up in time.
    #[error("{0}")]
    Timeout(String),
    /// The embedded PostgreSQL is up but could not be prepared.
    #[error("preparing the embedded database: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// Another samplan process keeps the embedded services of this data directory.
    #[error("another samplan (pid {pid}) keeps the embedded PostgreSQL and nats-server of {dir} running; stop it first, or give this one a data directory of its own (SAMPLAN_DATA_DIR)")]
    InUse { pid: u32, dir: String },
}

/// Which samplan process keeps the embedded services of a data directory running: the file
/// `samplan.pid` in it holds that process's id and command name, written when it started them
/// and removed when it stops them. A file naming a process that is gone (a `kill -9`) is left
/// over from a crash.
#[derive(Debug)]
pub struct Keeper {
    file: PathBuf,
}

impl Keeper {
    const FILE: &'static str = "samplan.pid";

    /// The live samplan process other than this one that keeps `data_dir`'s services, if any.
    pub fn other(data_dir: &Path) -> Option<u32> {
        let text = std::fs::read_to_string(data_dir.join(Self::FILE)).ok()?;
        let mut lines = text.lines();
        let pid: u32 = lines.next()?.trim().parse().ok()?;
        let name = lines.next()?.trim();
        (pid != std::process::id() && process_is(pid, name)).then_some(pid)
    }

    /// Records this process as the keeper of `data_dir`'s services.
    pub fn claim(data_dir: &Path) -> Result<Keeper, EmbeddedError> {
        let file = absolute(data_dir)?.join(Self::FILE);
        let name = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
        std::fs::write(&file, format!("{}\n{}\n", std::process::id(), name.trim()))
            .map_err(io_error(format!("writing {}", file.display())))?;
        Ok(Keeper { file })
    }

    fn release(self) {
        let _ = std::fs::remove_file(self.file);
    }
}

pub(crate) fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let what = what.into();
    move |source| EmbeddedError::Io { what, source }
}

/// The embedded services this process started; stop them on shutdown with [`Embedded::stop`].
#[derive(Debug, Default)]
pub struct Embedded {
    pub postgres: Option<EmbeddedPostgres>,
    pub nats: Option<EmbeddedNats>,
    /// This process's claim on the data directory, while it keeps the services there.
    pub keeper: Option<Keeper>,
}

impl Embedded {
    /// How often the serving process looks whether its embedded services still run.
    pub const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

    /// Starts again whichever embedded service has stopped (see `keep_running` of each): a
    /// PostgreSQL stopped by hand or a nats-server killed no longer leaves the service answering
    /// 503, or its events unpublished, until someone restarts samplan.
    pub async fn keep_running(&mut self) {
        if let Some(pg) = &self.postgres {
            pg.keep_running().await;
        }
        if let Some(nats) = &mut self.nats {
            nats.keep_running().await;
        }
    }

    /// Stops what was started, NATS first (nothing depends on it yet), then PostgreSQL. Errors
    /// are logged: stopping goes on regardless, so that nothing is left running.
    pub async fn stop(self) {
        if let Some(nats) = self.nats {
            nats.stop().await;
        }
        if let Some(pg) = self.postgres {
            if let Err(e) = pg.stop().await {
                tracing::error!(error = %e, "stopping the embedded PostgreSQL failed");
            }
        }
        if let Some(keeper) = self.keeper {
            keeper.release();
        }
    }
}

/// Whether this process runs as root (PostgreSQL then has to run as the `postgres` user).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// Finds `program` on PATH, then in `extra` directories.
pub(crate) fn find_program(program: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Installs Debian `package` with apt-get when allowed: root, apt-get present and
/// `SAMPLAN_AUTO_INSTALL` not `0`. Returns whether an installation was attempted and succeeded.
pub(crate) async fn try_install(package: &str, auto_install: bool) -> bool {
    if !auto_install || !running_as_root() || find_program("apt-get", &[]).is_none() {
        return false;
    }
    tracing::warn!(
        package,
        "installing a missing package with apt-get (set SAMPLAN_AUTO_INSTALL=0 to prevent this)"
    );
    let update = Command::new("apt-get")
        .args(["update", "-qq"])
        .output()
        .await;
    if let Ok(out) = &update {
        if !out.status.success() {
            tracing::warn!(output = %tail(out), "apt-get update failed");
        }
    }
    match Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .await
    {
        Ok(out) if out.status.success() => {
            tracing::info!(package, "installed");
            true
        }
        Ok(out) => {
            tracing::error!(package, output = %tail(&out), "apt-get install failed");
            false
        }
        Err(e) => {
            tracing::error!(package, error = %e, "apt-get could not be run");
            false
        }
    }
}

/// Runs a command to completion and turns a failure into an error that carries its output.
pub(crate) async fn run(what: &str, command: &mut Command) -> Result<Output, EmbeddedError> {
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(io_error(format!("running {what}")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(EmbeddedError::CommandFailed {
            what: what.to_string(),
            status: out.status.to_string(),
            output: tail(&out),
        })
    }
}

/// The last lines of a command's output, for error messages.
pub(crate) fn tail(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    last_lines(&text, 15)
}

pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether `pid` is a live process whose command name is `name` (so a recycled pid of some
/// unrelated process is never signalled). A zombie — exited, waiting for its parent to reap it —
/// is not live.
pub(crate) fn process_is(pid: u32, name: &str) -> bool {
    let named =
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name);
    // /proc/<pid>/stat: "pid (comm) S …", the state after the command's closing parenthesis.
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false);
    named && !zombie
}

/// Sends `signal` (e.g. `TERM`) to `pid` with the system's `kill`; the workspace forbids unsafe
/// code, so no libc.
pub(crate) async fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Makes `dir` absolute without requiring it to exist yet.
pub(crate) fn absolute(dir: &Path) -> Result<PathBuf, EmbeddedError> {
    std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
    dir.canonicalize()
        .map_err(io_error(format!("resolving {}", dir.display())))
}
