//! Helpers for the end-to-end tests in `tests/`: finding (and if needed building) the `samplan`
//! binary, free ports and temporary directories. No test logic lives here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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
