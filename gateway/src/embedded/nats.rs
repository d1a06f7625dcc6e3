//! The embedded nats-server with JetStream: store under `$SAMPLAN_DATA_DIR/nats`, listening on a
//! loopback port, with a pid file so that a server orphaned by a crash of samplan is stopped on
//! the next start. Loopback is every local user's: the server asks for a token, kept in a
//! configuration file only its owner can read, so no other process on the machine reads the
//! events (names, personnummer) or publishes among them.
//!
//! The port and the token are drawn at the first start and kept for the next ones (the port in
//! `nats-server.port`; the token in the configuration file, trusted only while no one else may
//! read or change it), so that a consumer outside the service, a reporting job, is set up once.
//! A port something else has taken meanwhile is replaced by a free one, and the log says so;
//! deleting the configuration file draws a new token (ADR 0039).

use super::{find_program, io_error, last_lines, process_is, signal, try_install, EmbeddedError};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const PID_FILE: &str = "nats-server.pid";
/// The port of the last start.
const PORT_FILE: &str = "nats-server.port";
/// The server's configuration: the token clients must present.
const CONFIG_FILE: &str = "nats-server.conf";

/// A running embedded nats-server.
pub struct EmbeddedNats {
    child: Child,
    url: String,
    token: String,
    dir: PathBuf,
    program: PathBuf,
    port: u16,
}

impl std::fmt::Debug for EmbeddedNats {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedNats")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedNats {
    /// Starts `nats-server -js` for the samplan data directory `data_dir`.
    pub async fn start(data_dir: &Path, auto_install: bool) -> Result<EmbeddedNats, EmbeddedError> {
        let extra = [
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/local/sbin"),
            PathBuf::from("/usr/local/bin"),
        ];
        let program = match find_program("nats-server", &extra) {
            Some(p) => p,
            None if try_install("nats-server", auto_install).await => {
                find_program("nats-server", &extra).ok_or_else(missing)?
            }
            None => return Err(missing()),
        };
        let dir = super::absolute(&data_dir.join("nats"))?;
        stop_orphan(&dir).await;

        let config = dir.join(CONFIG_FILE);
        let token = match remembered_token(&config) {
            Some(token) => token,
            None => {
                crate::auth::random_hex(32).map_err(io_error("drawing the nats-server's token"))?
            }
        };
        write_private(
            &config,
            &format!("authorization {{\n  token: \"{token}\"\n}}\n"),
        )?;

        let port = remembered_or_free_port(&dir)?;
        let child = spawn(&program, &dir, &config, port).await?;
        let url = format!("nats://127.0.0.1:{port}");
        tracing::info!(%url, store_dir = %dir.display(), "embedded nats-server (JetStream) is running");
        Ok(EmbeddedNats {
            child,
            url,
            token,
            dir,
            program,
            port,
        })
    }

    /// Starts the server again, on its port with its token, if it has stopped (killed, or
    /// crashed): the service's clients reconnect by themselves. Called by the serving process's
    /// watch over its embedded services.
    pub async fn keep_running(&mut self) {
        let Ok(Some(status)) = self.child.try_wait() else {
            return;
        };
        tracing::warn!(%status, "the embedded nats-server stopped; starting it again");
        let config = self.dir.join(CONFIG_FILE);
        match spawn(&self.program, &self.dir, &config, self.port).await {
            Ok(child) => {
                self.child = child;
                tracing::info!(url = %self.url, "embedded nats-server is running again");
            }
            Err(e) => tracing::error!(error = %e, "starting the embedded nats-server again failed"),
        }
    }

    /// Where clients connect.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token clients present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops the server: SIGTERM (JetStream flushes its store), SIGKILL after 10 s.
    pub async fn stop(mut self) {
        tracing::info!("stopping the embedded nats-server");
        if let Some(pid) = self.child.id() {
            signal(pid, "TERM").await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_err()
            {
                tracing::warn!("nats-server did not stop within 10 s; killing it");
                let _ = self.child.kill().await;
            }
        }
        let _ = std::fs::remove_file(self.dir.join(PID_FILE));
    }
}

/// A nats-server from a crashed earlier run still holds the store directory: stop it.
async fn stop_orphan(dir: &Path) {
    let pid_file = dir.join(PID_FILE);
    let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    if process_is(pid, "nats-server") {
        tracing::warn!(pid, "a nats-server from an earlier run is still running on this data directory; stopping it");
        signal(pid, "TERM").await;
        for _ in 0..100 {
            if !process_is(pid, "nats-server") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if process_is(pid, "nats-server") {
            signal(pid, "KILL").await;
        }
    } else {
        tracing::info!("removing a stale nats-server pid file");
    }
    let _ = std::fs::remove_file(&pid_file);
}

/// The token of the last start, if its configuration file holds one and no one but its owner
/// may read or change the file.
fn remembered_token(config: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(config).ok()?;
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %config.display(), "the nats-server's configuration was open to others; drawing a new token");
        return None;
    }
    token_in(&std::fs::read_to_string(config).ok()?)
}

/// The token of a configuration file as [`EmbeddedNats::start`] writes it.
fn token_in(text: &str) -> Option<String> {
    let start = text.find("token: \"")? + "token: \"".len();
    let rest = &text[start..];
    let token = &rest[..rest.find('"')?];
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.to_owned())
}

/// The port of the last start if it is still free, else a free one, remembered for the next.
fn remembered_or_free_port(dir: &Path) -> Result<u16, EmbeddedError> {
    let file = dir.join(PORT_FILE);
    let remembered = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok())
        .filter(|p| *p != 0);
    if let Some(port) = remembered {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
        tracing::warn!(
            port,
            "the embedded nats-server's port of the last start is taken; choosing another (consumers outside the service must be told)"
        );
    }
    let port = free_port()?;
    std::fs::write(&file, format!("{port}\n"))
        .map_err(io_error(format!("writing {}", file.display())))?;
    Ok(port)
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(io_error("finding a free port for nats-server"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io_error("finding a free port for nats-server"))
}

fn missing() -> EmbeddedError {
    EmbeddedError::MissingProgram {
        program: "nats-server",
        package: "nats-server",
        variable: "SAMPLAN_NATS_URL",
        looked: " and in /usr/sbin".into(),
    }
}

/// Writes `text` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), EmbeddedError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(format!("creating {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(io_error(format!("writing {}", path.display())))
}

/// Starts `program` (nats-server with JetStream, the configuration `config`, its store in `dir`)
/// on loopback port `port`, and waits until it takes connections.
async fn spawn(
    program: &Path,
    dir: &Path,
    config: &Path,
    port: u16,
) -> Result<Child, EmbeddedError> {
    let log_path = dir.join("nats-server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_error(format!("opening {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(io_error("duplicating the log handle"))?;
    let mut child = Command::new(program)
        .arg("-c")
        .arg(config)
        .arg("-js")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .arg("-sd")
        .arg(dir)
        .arg("-P")
        .arg(dir.join(PID_FILE))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own process group: a terminal's Ctrl-C goes to samplan, which stops NATS after
        // the gateway has drained.
        .process_group(0)
        .spawn()
        .map_err(io_error(format!("starting {}", program.display())))?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path)
                .map(|t| last_lines(&t, 10))
                .unwrap_or_default();
            return Err(EmbeddedError::CommandFailed {
                what: "nats-server".into(),
                status: status.to_string(),
                output: tail,
            });
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(EmbeddedError::Timeout(format!(
                "nats-server did not accept connections on 127.0.0.1:{port} within 20 s; see {}",
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_back_only_as_written() {
        let token = "ab".repeat(32);
        let text = format!("authorization {{\n  token: \"{token}\"\n}}\n");
        assert_eq!(token_in(&text), Some(token));
        assert_eq!(token_in("authorization {\n  token: \"short\"\n}\n"), None);
        assert_eq!(token_in(""), None);
    }

    #[test]
    fn a_token_in_a_file_others_may_read_is_not_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("samplan-nats-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).expect("dir");
        let config = dir.join(CONFIG_FILE);
        let token = "0f".repeat(32);
        write_private(
            &config,
            &format!("authorization {{\n  token: \"{token}\"\n}}\n"),
        )
        .expect("write");
        assert_eq!(remembered_token(&config), Some(token));
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(remembered_token(&config), None);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn the_port_of_the_last_start_is_kept_while_free() {
        let dir = std::env::temp_dir().join(format!("samplan-nats-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).expect("dir");
        let first = remembered_or_free_port(&dir).expect("port");
        assert_eq!(remembered_or_free_port(&dir).expect("port"), first);
        let taken = std::net::TcpListener::bind(("127.0.0.1", first)).expect("take it");
        let other = remembered_or_free_port(&dir).expect("port");
        assert_ne!(other, first);
        drop(taken);
        assert_eq!(remembered_or_free_port(&dir).expect("port"), other);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
