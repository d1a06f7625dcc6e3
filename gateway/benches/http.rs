//! HTTP command throughput against the raw PostgreSQL INSERT baseline (being written).
fn main() {}
