//! What both HTTP benchmarks read from wrk: its summary of one run. Included by `http.rs` and
//! `reads.rs` with `#[path]`, as benches share no library of their own.

/// What wrk measured: successful requests per second, latency percentiles and errors.
#[derive(Clone, Copy)]
pub struct WrkRun {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// Reads wrk's summary: "N requests in T", the latency distribution and the error lines.
pub fn parse_wrk(text: &str, seconds: u64) -> Option<WrkRun> {
    let duration_ms = |v: &str| -> Option<f64> {
        let v = v.trim();
        if let Some(n) = v.strip_suffix("us") {
            n.parse::<f64>().ok().map(|n| n / 1000.0)
        } else if let Some(n) = v.strip_suffix("ms") {
            n.parse().ok()
        } else if let Some(n) = v.strip_suffix('s') {
            n.parse::<f64>().ok().map(|n| n * 1000.0)
        } else {
            None
        }
    };
    let mut requests = None;
    let mut elapsed_s = seconds as f64;
    let (mut p50, mut p99, mut errors) = (None, None, 0u64);
    for line in text.lines().map(str::trim) {
        if let Some((count, rest)) = line.split_once(" requests in ") {
            requests = count.trim().parse::<u64>().ok();
            if let Some(t) = rest.split(',').next().and_then(duration_ms) {
                elapsed_s = t / 1000.0;
            }
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = duration_ms(v);
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_ms(v);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            errors += v
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    let requests = requests?;
    Some(WrkRun {
        per_second: requests.saturating_sub(errors) as f64 / elapsed_s,
        p50_ms: p50?,
        p99_ms: p99?,
        errors,
    })
}
