//! The embedded PostgreSQL: initialised on first start under `$SAMPLAN_DATA_DIR/postgres`,
//! listening only on a Unix socket in that directory (no TCP port at all) that only its owner
//! may open, trust authentication for the local `postgres` role. When samplan runs as root, PostgreSQL runs as the `postgres`
//! system user, which owns the directory.

use super::{
    absolute, find_program, io_error, last_lines, process_is, run, try_install, EmbeddedError,
};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// The database the service uses inside the embedded cluster.
const DATABASE: &str = "samplan";
/// Port number: with no TCP listener it only names the socket file (`.s.PGSQL.5432`).
const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes; the socket file name takes 13 of them.
const SOCKET_DIR_BYTES_MAX: usize = 90;

/// A running embedded PostgreSQL.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    as_postgres_user: bool,
}

impl EmbeddedPostgres {
    /// Starts PostgreSQL for the samplan data directory `data_dir` (initialising it the first
    /// time), cleans up after a crashed previous run, and creates the `samplan` database.
    pub async fn start(
        data_dir: &Path,
        auto_install: bool,
    ) -> Result<EmbeddedPostgres, EmbeddedError> {
        let bin_dir = match pg_bin_dir() {
            Some(dir) => dir,
            None if try_install("postgresql", auto_install).await => {
                pg_bin_dir().ok_or_else(missing)?
            }
            None => return Err(missing()),
        };
        let root = absolute(&data_dir.join("postgres"))?;
        let as_postgres_user = super::running_as_root();
        let pg = EmbeddedPostgres {
            bin_dir,
            data_dir: root.join("data"),
            socket_dir: socket_dir(&root)?,
            as_postgres_user,
        };
        if as_postgres_user {
            pg.hand_over_to_postgres_user(&root).await?;
        }
        pg.initdb_if_new().await?;
        pg.recover_from_crash().await?;
        pg.pg_ctl_start(&root).await?;
        pg.create_database().await?;
        tracing::info!(
            socket_dir = %pg.socket_dir.display(),
            data_dir = %pg.data_dir.display(),
            "embedded PostgreSQL is running (Unix socket only)"
        );
        Ok(pg)
    }

    /// The connection string of the `samplan` database for the service: the `samplan_app` role
    /// that the migrations create, which may only INSERT and SELECT events, as in production.
    /// (tokio-postgres key=value form; the host is the socket directory.)
    pub fn database_url(&self) -> String {
        format!(
            "host={} port={PORT} user=samplan_app dbname={DATABASE}",
            self.socket_dir.display()
        )
    }

    /// The connection string for migrations: the cluster's owner role.
    pub fn admin_database_url(&self) -> String {
        format!(
            "host={} port={PORT} user=postgres dbname={DATABASE}",
            self.socket_dir.display()
        )
    }

    /// The owner role's connection string of the embedded PostgreSQL that `samplan serve` keeps
    /// for `data_dir`, for tools that run beside the service (`samplan bench load`).
    pub fn admin_url_for(data_dir: &Path) -> Result<String, EmbeddedError> {
        Ok(Self::urls_for(data_dir)?.1)
    }

    /// The service's and the owner's connection strings of the embedded PostgreSQL that
    /// another samplan keeps running for `data_dir`, for a command run beside it.
    pub fn urls_for(data_dir: &Path) -> Result<(String, String), EmbeddedError> {
        let root = absolute(&data_dir.join("postgres"))?;
        let socket = socket_dir(&root)?;
        Ok((
            format!(
                "host={} port={PORT} user=samplan_app dbname={DATABASE}",
                socket.display()
            ),
            format!(
                "host={} port={PORT} user=postgres dbname={DATABASE}",
                socket.display()
            ),
        ))
    }

    /// Starts PostgreSQL again if it has stopped (killed, crashed, stopped by hand): the
    /// service's pools reconnect by themselves, and answer 503 meanwhile. Called by the serving
    /// process's watch over its embedded services.
    pub async fn keep_running(&self) {
        let running = std::fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .next()
                    .and_then(|l| l.trim().parse::<u32>().ok())
            })
            .is_some_and(|pid| process_is(pid, "postgres"));
        if running {
            return;
        }
        tracing::warn!("the embedded PostgreSQL stopped; starting it again");
        let Some(root) = self.data_dir.parent() else {
            return;
        };
        let restarted = async {
            self.recover_from_crash().await?;
            self.pg_ctl_start(root).await
        };
        match restarted.await {
            Ok(()) => tracing::info!("embedded PostgreSQL is running again"),
            Err(e) => tracing::error!(error = %e, "starting the embedded PostgreSQL again failed"),
        }
    }

    /// Stops PostgreSQL (fast shutdown: open transactions are rolled back, data is safe).
    pub async fn stop(self) -> Result<(), EmbeddedError> {
        tracing::info!("stopping the embedded PostgreSQL");
        self.pg_ctl_stop().await
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The caller's working directory may not be readable by the postgres user.
        cmd.current_dir(self.data_dir.parent().unwrap_or(Path::new("/")));
        cmd
    }

    /// PostgreSQL refuses to run as root: the `postgres` user must own the directory and be able
    /// to reach it (every parent directory traversable).
    async fn hand_over_to_postgres_user(&self, root: &Path) -> Result<(), EmbeddedError> {
        if Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .await
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            tracing::warn!("creating the system user postgres for the embedded PostgreSQL");
            run(
                "useradd postgres",
                Command::new("useradd").args([
                    "--system",
                    "--home-dir",
                    "/var/lib/postgresql",
                    "--shell",
                    "/bin/sh",
                    "postgres",
                ]),
            )
            .await?;
        }
        run(
            "chown postgres",
            Command::new("chown").arg("-R").arg("postgres:").arg(root),
        )
        .await?;
        if self.socket_dir != root {
            run(
                "chown postgres",
                Command::new("chown").arg("postgres:").arg(&self.socket_dir),
            )
            .await?;
        }
        for dir in root.ancestors().skip(1) {
            make_traversable(dir)?;
        }
        Ok(())
    }

    async fn initdb_if_new(&self) -> Result<(), EmbeddedError> {
        if self.data_dir.join("PG_VERSION").exists() {
            return Ok(());
        }
        if self.data_dir.exists() {
            // An initdb that was interrupted leaves a directory without PG_VERSION; it holds no
            // data yet, and initdb refuses a non-empty directory.
            tracing::warn!(dir = %self.data_dir.display(), "removing an incomplete PostgreSQL data directory");
            std::fs::remove_dir_all(&self.data_dir)
                .map_err(io_error("removing an incomplete data directory"))?;
        }
        tracing::info!(dir = %self.data_dir.display(), "initialising the embedded PostgreSQL (first start)");
        run(
            "initdb",
            self.command("initdb").arg("-D").arg(&self.data_dir).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
            ]),
        )
        .await?;
        Ok(())
    }

    /// After a crash of samplan: a PostgreSQL of ours may still be running (it does not die
    /// with us), or a `postmaster.pid` may name a dead process.
    async fn recover_from_crash(&self) -> Result<(), EmbeddedError> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            return Ok(());
        };
        let pid = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok());
        match pid {
            Some(pid) if process_is(pid, "postgres") => {
                tracing::warn!(pid, "a PostgreSQL from an earlier run is still running on this data directory; stopping it");
                self.pg_ctl_stop().await?;
            }
            _ => {
                tracing::warn!("removing a stale postmaster.pid left by a crashed PostgreSQL");
                std::fs::remove_file(&pid_file).map_err(io_error("removing postmaster.pid"))?;
                for name in [format!(".s.PGSQL.{PORT}.lock"), format!(".s.PGSQL.{PORT}")] {
                    let _ = std::fs::remove_file(self.socket_dir.join(name));
                }
            }
        }
        Ok(())
    }

    async fn pg_ctl_start(&self, root: &Path) -> Result<(), EmbeddedError> {
        let log = root.join("postgresql.log");
        let socket = self.socket_dir.display().to_string();
        if socket.contains('\'') || socket.contains('"') {
            return Err(EmbeddedError::Timeout(format!(
                "the data directory path {socket} contains quotes, which PostgreSQL's options cannot carry"
            )));
        }
        // The socket is PostgreSQL's owner's alone (and root's, who passes every permission):
        // with trust authentication, any local user who could open it would be the superuser.
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{socket}' \
             -c unix_socket_permissions=0700 -p {PORT} -c max_connections=300"
        );
        let result = run(
            "pg_ctl start",
            self.command("pg_ctl")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "120", "-s", "-o", &options, "start"]),
        )
        .await;
        if let Err(e) = result {
            let log_tail = std::fs::read_to_string(&log)
                .map(|t| last_lines(&t, 15))
                .unwrap_or_default();
            tracing::error!(log = %log.display(), "PostgreSQL did not start:\n{log_tail}");
            return Err(e);
        }
        Ok(())
    }

    async fn pg_ctl_stop(&self) -> Result<(), EmbeddedError> {
        run(
            "pg_ctl stop",
            self.command("pg_ctl")
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "fast", "-w", "-t", "60", "-s", "stop"]),
        )
        .await
        .map(|_| ())
    }

    async fn create_database(&self) -> Result<(), EmbeddedError> {
        let url = format!(
            "host={} port={PORT} user=postgres dbname=postgres",
            self.socket_dir.display()
        );
        let mut attempts = 0;
        let (client, connection) = loop {
            match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                Ok(pair) => break pair,
                // pg_ctl -w returns when the server accepts connections; a retry or two covers
                // a slow first start of a fresh cluster.
                Err(_) if attempts < 20 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let driver = tokio::spawn(connection);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
            .await?
            .is_some();
        if !exists {
            tracing::info!("creating the database {DATABASE}");
            client
                .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
                .await?;
        }
        drop(client);
        let _ = driver.await;
        Ok(())
    }
}

fn missing() -> EmbeddedError {
    EmbeddedError::MissingProgram {
        program: "PostgreSQL (initdb, pg_ctl, postgres)",
        package: "postgresql",
        variable: "SAMPLAN_DATABASE_URL",
        looked: " and in /usr/lib/postgresql/*/bin".into(),
    }
}

/// The directory with initdb, pg_ctl and postgres: PATH first, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off PATH).
fn pg_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(initdb) = find_program("initdb", &[]) {
        // Follow symlinks (Debian's /usr/bin wrappers, /usr/local/bin links) to the real bin dir.
        let real = initdb.canonicalize().unwrap_or(initdb);
        if let Some(dir) = real.parent().filter(|d| complete(d)) {
            return Some(dir.to_path_buf());
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

/// The socket lives beside the data, unless that path is too long for a Unix socket; then in a
/// directory under /tmp named after the data directory.
fn socket_dir(root: &Path) -> Result<PathBuf, EmbeddedError> {
    if root.as_os_str().len() <= SOCKET_DIR_BYTES_MAX {
        return Ok(root.to_path_buf());
    }
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(root.as_os_str().as_encoded_bytes())[..6]);
    let dir = std::env::temp_dir().join(format!("samplan-pg-{hash}"));
    std::fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
    Ok(dir)
}

fn make_traversable(dir: &Path) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let mode = meta.permissions().mode();
    if mode & 0o001 == 0 {
        tracing::info!(dir = %dir.display(), "allowing the postgres user to traverse (o+x)");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o001))
            .map_err(io_error(format!("chmod o+x {}", dir.display())))?;
    }
    Ok(())
}
