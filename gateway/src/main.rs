//! The `samplan` binary.
fn main() {}
