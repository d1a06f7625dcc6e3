//! HTTP command throughput and latency, beside the raw PostgreSQL baseline.
//!
//! `cargo bench -p gateway` starts the service in-process on a fresh database (as the tests do),
//! registers a unit and persons, then lets 8 and 64 concurrent clients post `IdentifyNeed`
//! (`POST /api/v1/sips`: authentication, JSON, decide, append with hash chain and idempotency
//! record) for a fixed time each. The baseline is the same database doing single-row INSERTs of
//! a comparable JSON payload, one transaction each, at the same concurrency. Targets: at least
//! half the baseline's transactions per second, and p99 under 50 ms at 64 clients.
//!
//! Before measuring, the store is filled with 100,000 earlier events and analyzed, as a store in
//! use would be. `SAMPLAN_BENCH_SECONDS` (default 10) sets the length of each run,
//! `SAMPLAN_BENCH_HISTORY` the number of earlier events, `SAMPLAN_BENCH_CONNECTIONS` the
//! connection counts (default `8,64`); `SAMPLAN_BENCH_REPORT` names a Markdown file to write the
//! figures to.
//!
//! Last, the projection lag: the same commands at half the highest rate measured, paced, while a
//! watcher polls the participation read model's checkpoint every millisecond; each command's lag
//! is from its answer (its events committed) to the moment the checkpoint covered its position.
//! Target: p99 under 100 ms.

#[path = "support/wrk.rs"]
mod wrk;
use wrk::{parse_wrk, WrkRun};

use bytes::Bytes;
use gateway::testing::TestApp;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: &[usize] = &[8, 64];

/// The allocator the `samplan` binary runs with (ADR 0007), so the figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
const PERSONS: usize = 64;

struct Run {
    ops: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Run {
    fn empty() -> Run {
        Run {
            ops: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latencies_us: Vec::new(),
        }
    }

    /// Counts one call that began at `sent`: its latency if it succeeded, an error if not.
    fn record(&mut self, sent: Instant, succeeded: bool) {
        if succeeded {
            self.ops += 1;
            self.latencies_us.push(sent.elapsed().as_micros() as u64);
        } else {
            self.errors += 1;
        }
    }

    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank] as f64 / 1000.0
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let seconds: u64 = std::env::var("SAMPLAN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let duration = Duration::from_secs(seconds);
    let concurrencies: Vec<usize> = std::env::var("SAMPLAN_BENCH_CONNECTIONS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| CONCURRENCY.to_vec());
    let max_concurrency = concurrencies.iter().copied().max().unwrap_or(1);
    // The pool is sized like the clients so that the service, not the pool, is measured.
    let append_concurrency = std::env::var("SAMPLAN_APPEND_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok());
    let app = TestApp::spawn_with(|c| {
        c.db_pool_size = max_concurrency;
        if let Some(n) = append_concurrency {
            c.append_concurrency = n;
        }
    })
    .await;
    let (token, persons) = prepare(&app).await;
    prefill(&app).await;
    // Request bodies, serialised once: the load generator shares the machine's two cores with
    // the service and PostgreSQL, so it does as little per request as it can.
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        persons
            .iter()
            .map(|person| {
                Bytes::from(
                    serde_json::to_vec(&json!({
                        "person_id": person,
                        "identified_by": "staff",
                        "reason": "Behov av samordning mellan vårdcentral och hemtjänst efter utskrivning.",
                        "context": { "kind": "outpatient" }
                    }))
                    .expect("body"),
                )
            })
            .collect(),
    );
    let authorization = Arc::new(format!("Bearer {token}"));

    let mut rows = Vec::new();
    let mut wrk_rows = Vec::new();
    for &concurrency in &concurrencies {
        let raw = raw_inserts(&app.db.admin_url, concurrency, duration).await;
        let grouped_before = app.store.group_commit_stats();
        let http = post_load(
            app.addr,
            "/api/v1/sips",
            authorization.clone(),
            bodies.clone(),
            concurrency,
            duration,
        )
        .await;
        let grouped_after = app.store.group_commit_stats();
        let per_transaction = (grouped_after.appends - grouped_before.appends) as f64
            / (grouped_after.transactions - grouped_before.transactions).max(1) as f64;
        println!(
            "{concurrency:>3} clients | HTTP IdentifyNeed {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms ({} errors, {per_transaction:.1} appends per transaction) | raw INSERT {:>8.0} tx/s p50 {:>6.2} ms p99 {:>6.2} ms | ratio {:.2}",
            http.per_second(),
            http.percentile_ms(50.0),
            http.percentile_ms(99.0),
            http.errors,
            raw.0,
            raw.1.p50_ms,
            raw.1.p99_ms,
            http.per_second() / raw.0,
        );
        // The same commands from wrk, a load generator in a process of its own (as the issue
        // suggests), so that the client's work is not done by the service's runtime.
        match wrk(&app, &token, &persons, concurrency, seconds) {
            Some(w) => {
                println!(
                    "{concurrency:>3} clients | wrk IdentifyNeed  {:>8.0}/s p50 {:>6.2} ms p99 {:>6.2} ms ({} errors) | ratio to the raw INSERT above {:.2}",
                    w.per_second,
                    w.p50_ms,
                    w.p99_ms,
                    w.errors,
                    w.per_second / raw.0,
                );
                wrk_rows.push((concurrency, w, raw.0));
            }
            None => {
                println!("{concurrency:>3} clients | wrk not found (apt-get install wrk): skipped")
            }
        }
        rows.push((concurrency, http, raw));
    }
    let best = rows
        .iter()
        .map(|(_, http, _)| http.per_second())
        .fold(0.0, f64::max);
    let rate = best / 2.0;
    // The relay runs during this phase only (on a stream of its own), so that the lag of the
    // read models (which follow the store) and of JetStream (which the relay feeds) are measured
    // side by side on the same commands.
    let events = gateway::testing::test_events_config();
    // From the head on: the history before it is not what is measured.
    let head = app.store.head_position().await.expect("head");
    app.store
        .pool()
        .get()
        .await
        .expect("client")
        .execute(
            "INSERT INTO projections.checkpoints (projection, position) VALUES ('relay', $1)
             ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
            &[&head],
        )
        .await
        .expect("relay checkpoint");
    let relay_stop = tokio_util::sync::CancellationToken::new();
    let relay = tokio::spawn(projections::relay::run(
        app.store.clone(),
        events.relay(&gateway::testing::test_nats_url()),
        relay_stop.clone(),
    ));
    let (projection_lags, relay_lags) = projection_lag(
        &app,
        authorization.clone(),
        bodies.clone(),
        max_concurrency,
        rate,
        duration,
    )
    .await;
    relay_stop.cancel();
    let _ = relay.await;
    for (what, lags) in [
        ("projection (participation) lag", &projection_lags),
        ("relay lag (published to JetStream)", &relay_lags),
    ] {
        println!(
            "{what} at {rate:.0} commands/s (half of {best:.0}), {} commands: p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
            lags.len(),
            percentile(lags, 50.0),
            percentile(lags, 99.0),
            percentile(lags, 100.0),
        );
    }
    if let Ok(js) = projections::relay::connect(&gateway::testing::test_nats_url()).await {
        let _ = js.delete_stream(&events.stream).await;
    }
    if let Ok(path) = std::env::var("SAMPLAN_BENCH_REPORT") {
        std::fs::write(&path, report(&rows, &wrk_rows, seconds)).expect("writing the report");
        println!("report written to {path}");
    }
}

/// A unit, a staff token for it and registered persons to open plans for.
async fn prepare(app: &TestApp) -> (String, Vec<String>) {
    let (status, _, body) = app
        .post(
            "/api/v1/units",
            &app.admin_token(),
            &json!({
                "id": "vc-bench",
                "name": "Vårdcentralen Bänk",
                "principal": { "kind": "region", "name": "Region Bänk" },
                "uses_samplan": true
            }),
        )
        .await;
    assert!(status.is_success(), "registering the unit: {status} {body}");
    let token = app.staff_token("SE2321000016-B001", "vc-bench");
    let mut persons = Vec::new();
    for serial in 0..PERSONS {
        let (status, _, body) = app
            .post(
                "/api/v1/persons",
                &token,
                &json!({ "personal_identity_number": personnummer(serial), "name": format!("Bänk Person {serial}") }),
            )
            .await;
        assert!(status.is_success(), "registering a person: {status} {body}");
        persons.push(body["id"].as_str().expect("id").to_string());
    }
    (token, persons)
}

/// Events already in the store (`SAMPLAN_BENCH_HISTORY`, default 100,000), written through the
/// store's own append, and statistics as a running service has them (autovacuum analyzes
/// within a minute). A store that is nearly empty is not what a region runs, and plans made
/// for an empty table scan it.
async fn prefill(app: &TestApp) {
    let events: usize = std::env::var("SAMPLAN_BENCH_HISTORY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let per_stream = 50;
    let streams = events / per_stream;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = app.store.clone();
            tokio::spawn(async move {
                for stream in (task..streams).step_by(8) {
                    let batch = (0..per_stream)
                        .map(|n| eventstore::NewEvent {
                            event_id: ulid::Ulid::generate(),
                            event_type: "Noted".into(),
                            schema_version: 1,
                            data: json!({ "n": n, "text": "Tidigare händelse i en annan plan." }),
                            metadata: eventstore::Metadata {
                                actor: "SE2321000016-B001".into(),
                                unit: Some("vc-bench".into()),
                                role: "staff".into(),
                                command_id: None,
                                correlation_id: None,
                                causation_id: None,
                            },
                        })
                        .collect();
                    store
                        .append(
                            &format!("history-{stream}"),
                            eventstore::ExpectedVersion::NoStream,
                            batch,
                            None,
                        )
                        .await
                        .expect("prefill");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("prefill task");
    }
    let (admin, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    admin.batch_execute("ANALYZE").await.expect("analyze");
}

/// A valid personnummer (Luhn check digit) born 1950-01-01 with serial `serial`.
fn personnummer(serial: usize) -> String {
    let base = format!("500101{:03}", 100 + serial);
    let sum: u32 = base
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            let v = if i % 2 == 0 { d * 2 } else { d };
            v / 10 + v % 10
        })
        .sum();
    let check = (10 - sum % 10) % 10;
    format!("19{}-{}{check}", &base[..6], &base[6..])
}

/// Posts the bodies (in turn) to `path` from `concurrency` clients for `duration`, each on a
/// keep-alive connection of its own, timing each request from send to the last byte of the
/// answer. A bare hyper HTTP/1.1 client rather than reqwest: on two cores every cycle the load
/// generator spends is taken from the service it measures, and reqwest's per-request URL
/// parsing, header maps and pool bookkeeping cost about a fifth of this process's CPU.
async fn post_load(
    addr: std::net::SocketAddr,
    path: &'static str,
    authorization: Arc<String>,
    bodies: Arc<Vec<Bytes>>,
    concurrency: usize,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let authorization = authorization.clone();
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let host = addr.to_string();
            let mut tally = Run::empty();
            let mut i = worker;
            while Instant::now() < deadline {
                let request = hyper::Request::post(path)
                    .header(hyper::header::HOST, host.as_str())
                    .header(hyper::header::AUTHORIZATION, authorization.as_str())
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(bodies[i % bodies.len()].clone()))
                    .expect("request");
                let t = Instant::now();
                let answered = match sender.send_request(request).await {
                    Ok(response) => {
                        let success = response.status().is_success();
                        // The whole answer, as a client would read it.
                        response.into_body().collect().await.is_ok() && success
                    }
                    Err(_) => false,
                };
                tally.record(t, answered);
                if !answered && sender.ready().await.is_err() {
                    break;
                }
                i += concurrency;
            }
            tally
        }));
    }
    gather(started, tasks).await
}

/// The p-th percentile of `values` (milliseconds).
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

/// Sends `IdentifyNeed` at `rate` per second for `duration` (paced, spread over `connections`)
/// while a watcher polls the participation projection's and the relay's checkpoints; returns
/// each command's lag to each, in milliseconds from its answer to the moment the checkpoint
/// covered its position.
async fn projection_lag(
    app: &TestApp,
    authorization: Arc<String>,
    bodies: Arc<Vec<Bytes>>,
    connections: usize,
    rate: f64,
    duration: Duration,
) -> (Vec<f64>, Vec<f64>) {
    let (client, connection) = tokio_postgres::connect(&app.db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("watcher connection");
    tokio::spawn(connection);
    let stop = tokio_util::sync::CancellationToken::new();
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let stmt = client
                .prepare(
                    "SELECT coalesce(max(position) FILTER (WHERE projection = 'participation'), 0),
                            coalesce(max(position) FILTER (WHERE projection = 'relay'), 0)
                       FROM projections.checkpoints",
                )
                .await
                .expect("prepare");
            let mut seen: [Vec<(i64, Instant)>; 2] = [Vec::new(), Vec::new()];
            while !stop.is_cancelled() {
                if let Ok(row) = client.query_one(&stmt, &[]).await {
                    let now = Instant::now();
                    for (i, list) in seen.iter_mut().enumerate() {
                        let position: i64 = row.get(i);
                        if list.last().is_none_or(|(p, _)| *p < position) {
                            list.push((position, now));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen
        })
    };
    let interval = Duration::from_secs_f64(connections as f64 / rate.max(1.0));
    let started = Instant::now();
    let deadline = started + duration;
    let addr = app.addr;
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (authorization, bodies) = (authorization.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let host = addr.to_string();
            let mut answered: Vec<(i64, Instant)> = Vec::new();
            // Workers start spread over one interval, so the commands arrive evenly.
            let mut next = started + interval.mul_f64(worker as f64 / connections as f64);
            let mut i = worker;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                next += interval;
                let request = hyper::Request::post("/api/v1/sips")
                    .header(hyper::header::HOST, host.as_str())
                    .header(hyper::header::AUTHORIZATION, authorization.as_str())
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(bodies[i % bodies.len()].clone()))
                    .expect("request");
                i += connections;
                let Ok(response) = sender.send_request(request).await else {
                    break;
                };
                let Ok(body) = response.into_body().collect().await else {
                    break;
                };
                let at = Instant::now();
                if let Ok(value) = serde_json::from_slice::<Value>(&body.to_bytes()) {
                    if let Some(position) = value["position"].as_i64() {
                        answered.push((position, at));
                    }
                }
            }
            answered
        }));
    }
    let mut answered = Vec::new();
    for task in tasks {
        answered.extend(task.await.expect("worker"));
    }
    // Let the projection finish the last commands, then stop watching.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let [projection, relay] = watcher.await.expect("watcher");
    let lags = |seen: &[(i64, Instant)]| -> Vec<f64> {
        answered
            .iter()
            .filter_map(|(position, at)| {
                let applied = seen.iter().find(|(p, _)| p >= position)?.1;
                Some(applied.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    (lags(&projection), lags(&relay))
}

/// Adds up the workers' tallies into one run that began at `started`.
async fn gather(started: Instant, tasks: Vec<tokio::task::JoinHandle<Run>>) -> Run {
    let mut run = Run::empty();
    for task in tasks {
        let tally = task.await.expect("worker");
        run.ops += tally.ops;
        run.errors += tally.errors;
        run.latencies_us.extend(tally.latencies_us);
    }
    run.elapsed = started.elapsed();
    run
}

/// The baseline: one-row INSERT transactions of a comparable JSON payload on the same database,
/// measured by the same code as `samplan bench load`'s: (transactions/s, latency).
async fn raw_inserts(
    admin_url: &str,
    concurrency: usize,
    duration: Duration,
) -> (f64, gateway::loadgen::Latency) {
    let database = gateway::loadgen::Database {
        url: admin_url.to_owned(),
        tls: eventstore::DatabaseTls::default(),
    };
    gateway::loadgen::raw_inserts(&database, concurrency, duration)
        .await
        .expect("the raw INSERT baseline")
}

fn report(
    rows: &[(usize, Run, (f64, gateway::loadgen::Latency))],
    wrk_rows: &[(usize, WrkRun, f64)],
    seconds: u64,
) -> String {
    let mut text = format!(
        "# HTTP command benchmark\n\n`cargo bench -p gateway --bench http` ({seconds} s per run, in-process service on a \
         fresh database of the local PostgreSQL, 2-core machine shared with other work). HTTP: \
         `POST /api/v1/sips` (IdentifyNeed) with a staff token; baseline: single-row INSERT per \
         transaction of a comparable JSON payload on the same database and concurrency.\n\n\
         | clients | HTTP commands/s | p50 ms | p99 ms | errors | raw INSERT tx/s | raw p50 ms | raw p99 ms | ratio |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (c, http, raw) in rows {
        text.push_str(&format!(
            "| {c} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.2} |\n",
            http.per_second(),
            http.percentile_ms(50.0),
            http.percentile_ms(99.0),
            http.errors,
            raw.0,
            raw.1.p50_ms,
            raw.1.p99_ms,
            http.per_second() / raw.0
        ));
    }
    if !wrk_rows.is_empty() {
        text.push_str(
            "\nThe same commands from wrk (its own process), against the same raw INSERT figure:\n\n\
             | clients | HTTP commands/s | p50 ms | p99 ms | errors | ratio |\n\
             |---:|---:|---:|---:|---:|---:|\n",
        );
        for (c, w, raw) in wrk_rows {
            text.push_str(&format!(
                "| {c} | {:.0} | {:.2} | {:.2} | {} | {:.2} |\n",
                w.per_second,
                w.p50_ms,
                w.p99_ms,
                w.errors,
                w.per_second / raw
            ));
        }
    }
    text.push_str("\nTargets: ratio ≥ 0.5, p99 < 50 ms at 64 clients.\n");
    text
}

/// Runs wrk (two threads, `concurrency` connections) posting IdentifyNeed for the bench's
/// persons in turn; `None` when wrk is not installed or its output cannot be read.
fn wrk(
    app: &TestApp,
    token: &str,
    persons: &[String],
    concurrency: usize,
    seconds: u64,
) -> Option<WrkRun> {
    let list = persons
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(",");
    let script = format!(
        r#"local persons = {{{list}}}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
request = function()
  i = i + 1
  local body = '{{"person_id":"' .. persons[(i % #persons) + 1] .. '","identified_by":"staff","reason":"Behov av samordning mellan vårdcentral och hemtjänst efter utskrivning.","context":{{"kind":"outpatient"}}}}'
  return wrk.format(nil, nil, nil, body)
end
"#
    );
    let path = std::env::temp_dir().join(format!("samplan-bench-{}.lua", std::process::id()));
    std::fs::write(&path, script).ok()?;
    let output = std::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{concurrency}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&path)
        .arg(app.url("/api/v1/sips"))
        .output();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8(output.ok()?.stdout).ok()?;
    parse_wrk(&text, seconds)
}
