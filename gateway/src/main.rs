//! The `samplan` binary: everything happens in [`gateway::cli::run`].

/// mimalloc instead of the system allocator (ADR 0007): decoding events, JSON bodies and rows
/// allocates many small values, and glibc's malloc was a fifth of the cost of reading events.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gateway::cli::run()
}
