//! The `samplan` binary: everything happens in [`gateway::cli::run`].

fn main() -> std::process::ExitCode {
    gateway::cli::run()
}
