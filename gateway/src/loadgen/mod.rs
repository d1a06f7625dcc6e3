//! `samplan bench load`: a load generator in a process of its own, sending HTTP to a running
//! gateway on loopback as a load balancer would, and measuring the raw database beside it in
//! the same run so that every figure is a ratio to a baseline of this machine at this moment.
//!
//! A run registers its own units, staff and persons (ids unique to the run), then goes through
//! phases, each bounded by `--seconds` and `--max-requests`:
//!
//! 1. **commands**: `POST /sips` at each connection count, then single-row INSERT transactions
//!    of a comparable JSON payload on the same database at the same concurrency;
//! 2. **reads**: each read route alone, then the same query through the read model's own query
//!    function at the same concurrency (an equivalent client of pgbench);
//! 3. **mixed**: 80 % reads (inbox, to-dos, ongoing, a plan, Min plan) and 20 % commands that
//!    walk plans through their life (`walk`), as fast as the connections go;
//! 4. **lag**: the mixed load paced at half the command rate of phase 1, while the projections'
//!    checkpoints are watched: each command's lag runs from its answer to the moment every read
//!    model had applied its position.
//!
//! `--phases mixed --seconds 600 --watch-pid …` is the soak: the mixed phase with a line per
//! `--interval`, and the resident memory of the watched processes from `/proc`.

mod baseline;
mod client;
mod stats;
mod walk;

pub use baseline::{raw_inserts, Database};
pub use client::Target;
pub use stats::{Latency, Route, Sample, Summary};

use crate::auth::Signer;
use bytes::Bytes;
use client::Conn;
use hyper::Method;
use serde_json::Value;
use stats::Recorder;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use walk::{Plan, Rng};

/// The phases of a run, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Phase {
    Commands,
    Reads,
    Mixed,
    Lag,
}

/// What to run; see the module documentation.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub target: Target,
    /// For the baselines and the checkpoints: the database's owner role, with the service's
    /// TLS settings.
    pub database: baseline::Database,
    pub signer: Signer,
    pub phases: Vec<Phase>,
    /// Connection counts of the commands phase; the last is used by the other phases.
    pub connections: Vec<usize>,
    pub seconds: u64,
    pub max_requests: u64,
    pub units: usize,
    pub persons: usize,
    pub read_share: f64,
    /// Commands per second of the lag phase; half of the commands phase's rate when absent.
    pub command_rate: Option<f64>,
    /// Length of the intervals of the mixed phase's table.
    pub interval: Duration,
    /// Processes whose resident memory is sampled every second.
    pub watch_pids: Vec<u32>,
    /// Refresh the planner's statistics (ANALYZE) before each phase and keep the tables as
    /// autovacuum keeps them on a database in service while the run lasts (see
    /// [`baseline::analyze`] and [`baseline::Upkeep`]).
    pub analyze: bool,
    pub seed: u64,
}

/// The people and units a run registered, with their tokens.
struct World {
    target: Target,
    units: Vec<String>,
    staff: Vec<(String, String)>,
    /// (person id, citizen token)
    persons: Vec<(String, String)>,
    surnames: Vec<String>,
}

/// Plans and what reads can name, shared by the workers of a phase.
struct Work {
    world: Arc<World>,
    /// Plans waiting for their next command, oldest first; a worker takes one out while it
    /// sends its command, so no two commands of one plan race.
    idle: Mutex<VecDeque<Plan>>,
    /// Plans started so far (sip id, coordinating unit, person), for reads.
    known: Mutex<Vec<(String, usize, usize)>>,
    /// Commands answered: (their position, when the answer came).
    answered: Mutex<Vec<(i64, Instant)>>,
    /// Plans in the air at once.
    active_target: usize,
    sent: AtomicU64,
    next_person: AtomicUsize,
}

/// Everything a run measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub commands: Vec<CommandRow>,
    pub reads: Vec<ReadRow>,
    pub mixed: Option<MixedRow>,
    pub lag: Option<MixedRow>,
    pub memory: Vec<MemoryRow>,
    pub text: String,
}

#[derive(Debug)]
pub struct CommandRow {
    pub connections: usize,
    pub http: Summary,
    pub raw_per_second: f64,
    pub raw: Latency,
}

#[derive(Debug)]
pub struct ReadRow {
    pub route: Route,
    pub connections: usize,
    pub http: Summary,
    pub select_per_second: f64,
    pub select: Latency,
}

#[derive(Debug)]
pub struct MixedRow {
    pub connections: usize,
    pub summary: Summary,
    /// Per projection (and the relay): the lag of each command, in ms.
    pub lag_by_projection: BTreeMap<String, Latency>,
    /// Per command, until every read model had it.
    pub lag: Latency,
    /// Commands whose position no read model reached before the phase's end (+2 s).
    pub lag_unapplied: usize,
    pub intervals: Vec<IntervalRow>,
    pub paced_rate: Option<f64>,
}

#[derive(Debug)]
pub struct IntervalRow {
    pub until_s: u64,
    pub commands_per_second: f64,
    pub reads_per_second: f64,
    pub read_p99_ms: f64,
    pub command_p99_ms: f64,
    pub errors: u64,
    pub lag_p99_ms: f64,
}

#[derive(Debug)]
pub struct MemoryRow {
    pub pid: u32,
    pub name: String,
    pub after_warm_up_kb: u64,
    pub end_kb: u64,
    pub max_kb: u64,
}

impl LoadReport {
    /// What a soak must not show: a failed request in any phase, a watched process whose memory
    /// grew more than 10 % after warm-up, a read model more than `lag_max_ms` behind (p99 of
    /// any interval) or a command no read model had applied by the end.
    pub fn soak_violations(&self, lag_max_ms: f64) -> Vec<String> {
        let mut found = Vec::new();
        let summaries = self
            .commands
            .iter()
            .map(|r| ("commands", &r.http))
            .chain(self.reads.iter().map(|r| ("reads", &r.http)))
            .chain(self.mixed.iter().map(|r| ("mixed", &r.summary)))
            .chain(self.lag.iter().map(|r| ("lag", &r.summary)));
        for (phase, summary) in summaries {
            if summary.error_count() > 0 {
                found.push(format!("{phase}: {}", errors_of(summary)));
            }
        }
        for row in self.mixed.iter().chain(&self.lag) {
            if row.lag_unapplied > 0 {
                found.push(format!(
                    "{} commands were not applied by every read model by the end",
                    row.lag_unapplied
                ));
            }
            for i in row.intervals.iter().filter(|i| i.lag_p99_ms > lag_max_ms) {
                found.push(format!(
                    "projection lag p99 {:.0} ms in the interval up to {} s (limit {lag_max_ms:.0} ms)",
                    i.lag_p99_ms, i.until_s
                ));
            }
        }
        for m in self.memory.iter().filter(|m| m.growth() > 0.10) {
            found.push(format!(
                "{} (pid {}) grew {:.1} % after warm-up ({:.1} → {:.1} MiB)",
                m.name,
                m.pid,
                m.growth() * 100.0,
                m.after_warm_up_kb as f64 / 1024.0,
                m.end_kb as f64 / 1024.0
            ));
        }
        found
    }
}

impl MemoryRow {
    /// Growth after warm-up, as a share of the warm-up figure.
    pub fn growth(&self) -> f64 {
        (self.end_kb as f64 - self.after_warm_up_kb as f64) / self.after_warm_up_kb.max(1) as f64
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Setup(String),
    #[error("the database: {}", database_detail(.0))]
    Database(#[from] tokio_postgres::Error),
}

/// The server's own message when there is one ("too many clients already", …).
fn database_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Runs the phases and returns the report (its `text` is Markdown, also printed as it goes).
pub async fn run(options: LoadOptions) -> Result<LoadReport, LoadError> {
    let mut report = LoadReport::default();
    if options
        .phases
        .iter()
        .any(|p| matches!(p, Phase::Commands | Phase::Reads))
    {
        let most = *options.connections.iter().max().unwrap_or(&64);
        baseline::require_connections(&options.database, most + 2).await?;
    }
    let started = Instant::now();
    let memory = MemoryWatch::start(&options.watch_pids);
    let world = Arc::new(setup(&options).await?);
    let wide = *options.connections.last().unwrap_or(&64);
    say(
        &mut report.text,
        &format!(
            "# samplan bench load\n\nTarget {}, {} units, {} persons, connections {:?}, {} s per \
             phase (at most {} requests each), reads {:.0} %. {}\n",
            options.target.addr,
            world.units.len(),
            world.persons.len(),
            options.connections,
            options.seconds,
            options.max_requests,
            options.read_share * 100.0,
            if options.analyze {
                "Statistics refreshed (ANALYZE) before each phase, and tables past autovacuum's \
                 thresholds analyzed (and vacuumed, where the server's autovacuum is off) as \
                 autovacuum would: each at most once a minute, the first look within a second."
            } else {
                "Statistics left as a fresh database has them (--no-analyze)."
            }
        ),
    );
    let upkeep = if options.analyze {
        Some(baseline::Upkeep::start(&options.database).await?)
    } else {
        None
    };
    let work = Arc::new(Work::new(world.clone(), wide));
    let duration = Duration::from_secs(options.seconds);

    if options.phases.contains(&Phase::Commands) {
        for &c in &options.connections {
            statistics(&options).await?;
            let only = Op::Only(Route::StartPlan);
            let http = drive(&work, c, duration, options.max_requests, None, only)
                .await
                .0;
            let raw = baseline::raw_inserts(&options.database, c, duration).await?;
            report.commands.push(CommandRow {
                connections: c,
                raw_per_second: raw.0,
                raw: raw.1,
                http,
            });
        }
        say(&mut report.text, &commands_table(&report.commands));
    }
    if options.phases.contains(&Phase::Reads) {
        // Reads need plans that have come some way: walk a few before measuring.
        warm_up(&work, wide, options.seconds.min(10)).await;
        statistics(&options).await?;
        for route in Route::READS {
            let http = drive(
                &work,
                wide,
                duration,
                options.max_requests,
                None,
                Op::Only(route),
            )
            .await
            .0;
            let (per_second, latency) =
                baseline::selects(&options.database, &world, &work, route, wide, duration).await?;
            report.reads.push(ReadRow {
                route,
                connections: wide,
                http,
                select_per_second: per_second,
                select: latency,
            });
        }
        say(&mut report.text, &reads_table(&report.reads));
    }
    if options.phases.contains(&Phase::Mixed) {
        statistics(&options).await?;
        let row = mixed(&options, &work, wide, None).await?;
        say(&mut report.text, &mixed_table("Mixed load", &row));
        report.mixed = Some(row);
    }
    if options.phases.contains(&Phase::Lag) {
        let rate = options.command_rate.or_else(|| {
            report
                .commands
                .iter()
                .find(|r| r.connections == wide)
                .map(|r| r.http.commands_per_second() / 2.0)
        });
        let Some(rate) = rate.filter(|r| *r > 0.0) else {
            return Err(LoadError::Setup(
                "the lag phase needs a command rate: run the commands phase too, or give \
                 --command-rate"
                    .into(),
            ));
        };
        statistics(&options).await?;
        let row = mixed(&options, &work, wide, Some(rate)).await?;
        say(
            &mut report.text,
            &mixed_table(
                &format!(
                    "Mixed load with commands paced at {rate:.0}/s at most (reached: {:.0}/s)",
                    row.summary.commands_per_second()
                ),
                &row,
            ),
        );
        report.lag = Some(row);
    }
    if let Some(upkeep) = upkeep {
        let server = if upkeep.server_autovacuum {
            "on"
        } else {
            "off"
        };
        let done = upkeep.finish().await;
        say(
            &mut report.text,
            &format!(
                "Upkeep beside the load (the server's autovacuum is {server}): {} ANALYZE, {} \
                 VACUUM of tables past autovacuum's thresholds.\n",
                done.analyzed, done.vacuumed
            ),
        );
    }
    report.memory = memory
        .finish(options.interval.min(Duration::from_secs(60)))
        .await;
    if !report.memory.is_empty() {
        say(&mut report.text, &memory_table(&report.memory));
    }
    say(
        &mut report.text,
        &format!("Run took {:.0} s.\n", started.elapsed().as_secs_f64()),
    );
    Ok(report)
}

/// Before a phase: the planner's statistics as a database in service has them, unless the run
/// was asked for a database's first minute (`--no-analyze`).
async fn statistics(options: &LoadOptions) -> Result<(), LoadError> {
    if options.analyze {
        baseline::analyze(&options.database).await?;
    }
    Ok(())
}

fn say(text: &mut String, part: &str) {
    println!("{part}");
    text.push_str(part);
    text.push('\n');
}

impl Work {
    fn new(world: Arc<World>, connections: usize) -> Work {
        Work {
            world,
            idle: Mutex::new(VecDeque::new()),
            known: Mutex::new(Vec::new()),
            answered: Mutex::new(Vec::new()),
            active_target: (connections * 2).max(8),
            sent: AtomicU64::new(0),
            next_person: AtomicUsize::new(0),
        }
    }
}

/// What one worker sends next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// One route only (the commands and reads phases).
    Only(Route),
    /// The mixed load: commands spread evenly among reads, `1 - read_share` of them.
    Mixed { read_share: f64 },
}

/// Sends `op` from `connections` workers for `duration` (or until `max_requests`); when `pace`
/// gives operations per second, the n-th operation is not sent before `n / pace` seconds.
/// Returns the summary and the raw samples.
async fn drive(
    work: &Arc<Work>,
    connections: usize,
    duration: Duration,
    max_requests: u64,
    pace: Option<f64>,
    op: Op,
) -> (Summary, Vec<Sample>) {
    let start = Instant::now();
    let deadline = start + duration;
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let work = work.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(work.world.target.clone());
            let mut rng =
                Rng::new(0x5EED ^ (worker as u64) << 20 ^ start.elapsed().as_nanos() as u64);
            let mut rec = Recorder::default();
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= max_requests {
                    break;
                }
                if let Some(rate) = pace {
                    let due = start + Duration::from_secs_f64(n as f64 / rate);
                    if due >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                }
                if Instant::now() >= deadline {
                    break;
                }
                let route = match op {
                    Op::Only(r) => r,
                    Op::Mixed { read_share } if is_command(n, read_share) => Route::PlanCommand,
                    // Shifted each round of five, so every read route gets its turn.
                    Op::Mixed { .. } => {
                        MIXED_READS[((n / 5 + n) % MIXED_READS.len() as u64) as usize]
                    }
                };
                one(&work, &mut conn, &mut rng, route, start, &mut rec).await;
            }
            rec.samples
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.unwrap_or_default());
    }
    let elapsed = start.elapsed().min(duration.max(Duration::from_millis(1)));
    (Summary::of(&samples, elapsed), samples)
}

/// The reads of the mixed load, in turn.
const MIXED_READS: [Route; 5] = [
    Route::Messages,
    Route::Todos,
    Route::Ongoing,
    Route::Plan,
    Route::MinPlan,
];

/// Whether the n-th operation of the mixed load is a command: spread evenly, so that a share
/// of `1 - read_share` of any run of operations are commands.
fn is_command(n: u64, read_share: f64) -> bool {
    // In thousandths, so that 1 − 0.8 is exactly one in five.
    let per_mille = ((1.0 - read_share) * 1000.0).round().clamp(0.0, 1000.0) as u64;
    (n + 1) * per_mille / 1000 > n * per_mille / 1000
}

/// Sends one request of `route` and records it.
async fn one(
    work: &Work,
    conn: &mut Conn,
    rng: &mut Rng,
    route: Route,
    phase_start: Instant,
    rec: &mut Recorder,
) {
    work.sent.fetch_add(1, Ordering::Relaxed);
    match route {
        Route::StartPlan | Route::PlanCommand => {
            let plan = if route == Route::PlanCommand {
                let mut idle = work.idle.lock().expect("idle plans");
                if idle.len() >= work.active_target {
                    idle.pop_front()
                } else {
                    None
                }
            } else {
                None
            };
            match plan {
                // Plans started by the commands phase are not walked: the walk keeps its own
                // set of plans in the air, so that some reach their end.
                None => {
                    let walk = route == Route::PlanCommand;
                    start_plan(work, conn, rng, phase_start, rec, walk).await
                }
                Some(plan) => step(work, conn, plan, phase_start, rec).await,
            }
        }
        read => {
            let Some((path, token)) = read_request(work, rng, read) else {
                return;
            };
            let sent = Instant::now();
            let status = send(conn, &Method::GET, &path, token, None).await.0;
            rec.record(phase_start, read, sent, status);
        }
    }
}

/// The path and token of a read of `route`: a random unit's lists or search, a known plan as
/// its coordinating unit reads it, or Min plan as that plan's person. `None` while no plan is
/// known yet.
fn read_request<'w>(work: &'w Work, rng: &mut Rng, route: Route) -> Option<(String, &'w str)> {
    let w = &work.world;
    let staff = |unit: usize| w.staff[unit].1.as_str();
    let unit = rng.below(w.units.len());
    Some(match route {
        Route::Messages => ("/api/v1/inbox/messages".to_owned(), staff(unit)),
        Route::Todos => ("/api/v1/inbox/todos".to_owned(), staff(unit)),
        Route::Ongoing => ("/api/v1/inbox/sips".to_owned(), staff(unit)),
        Route::PersonSearch => {
            let surname = &w.surnames[rng.below(w.surnames.len())];
            (format!("/api/v1/persons?q={surname}"), staff(unit))
        }
        Route::Plan | Route::MinPlan => {
            let (sip, coordinator, person) = {
                let known = work.known.lock().expect("known plans");
                (!known.is_empty()).then(|| known[rng.below(known.len())].clone())?
            };
            if route == Route::Plan {
                (format!("/api/v1/sips/{sip}"), staff(coordinator))
            } else {
                ("/api/v1/me/plans".to_owned(), w.persons[person].1.as_str())
            }
        }
        Route::StartPlan | Route::PlanCommand => return None,
    })
}

/// `POST /sips` for the next person, by a unit that then coordinates with another; `walk`: the
/// plan joins those walked through their life.
async fn start_plan(
    work: &Work,
    conn: &mut Conn,
    rng: &mut Rng,
    phase_start: Instant,
    rec: &mut Recorder,
    walk: bool,
) {
    let w = &work.world;
    let person = work.next_person.fetch_add(1, Ordering::Relaxed) % w.persons.len();
    let coordinator = rng.below(w.units.len());
    let partner = (coordinator + 1 + rng.below(w.units.len() - 1)) % w.units.len();
    let body = walk::start_body(&w.persons[person].0).to_string();
    let sent = Instant::now();
    let (status, answer) = send(
        conn,
        &Method::POST,
        "/api/v1/sips",
        &w.staff[coordinator].1,
        Some(body),
    )
    .await;
    rec.record(phase_start, Route::StartPlan, sent, status);
    let Some(answer) = answer.filter(|_| status == 201) else {
        return;
    };
    note_position(work, &answer);
    let Some(sip_id) = answer["id"].as_str() else {
        return;
    };
    {
        let mut known = work.known.lock().expect("known plans");
        // A bounded sample for reads: the newest half replaces at random once full.
        if known.len() < 20_000 {
            known.push((sip_id.to_owned(), coordinator, person));
        } else {
            let at = rng.below(known.len());
            known[at] = (sip_id.to_owned(), coordinator, person);
        }
    }
    if !walk {
        return;
    }
    work.idle.lock().expect("idle plans").push_back(Plan {
        sip_id: sip_id.to_owned(),
        coordinator,
        partner,
        done: 0,
    });
}

/// Sends a plan's next command; the plan goes back to wait for its next one unless it closed
/// or its command was refused.
async fn step(
    work: &Work,
    conn: &mut Conn,
    mut plan: Plan,
    phase_start: Instant,
    rec: &mut Recorder,
) {
    let w = &work.world;
    let (command, by_partner, body) = plan.next(&w.units, chrono::Utc::now());
    let unit = if by_partner {
        plan.partner
    } else {
        plan.coordinator
    };
    let sent = Instant::now();
    let (status, answer) = send(
        conn,
        &Method::POST,
        &format!("/api/v1/sips/{}/{command}", plan.sip_id),
        &w.staff[unit].1,
        Some(body.to_string()),
    )
    .await;
    rec.record(phase_start, Route::PlanCommand, sent, status);
    if let Some(answer) = answer.filter(|_| status == 200) {
        note_position(work, &answer);
        plan.done += 1;
        if !plan.is_closed() {
            work.idle.lock().expect("idle plans").push_back(plan);
        }
    } else if status == 0 || status >= 500 {
        // Not refused by the domain: the same command may be tried again later.
        work.idle.lock().expect("idle plans").push_back(plan);
    }
}

fn note_position(work: &Work, answer: &Value) {
    if let Some(p) = answer["position"].as_i64() {
        work.answered
            .lock()
            .expect("answered")
            .push((p, Instant::now()));
    }
}

/// One request; the status (0 without an answer) and, for a JSON answer, its body.
async fn send(
    conn: &mut Conn,
    method: &Method,
    path: &str,
    token: &str,
    body: Option<String>,
) -> (u16, Option<Value>) {
    match conn.send(method, path, token, body.map(Bytes::from)).await {
        Ok((status, bytes)) => (status, serde_json::from_slice(&bytes).ok()),
        Err(_) => (0, None),
    }
}

/// Walks plans for `seconds` so that the reads have messages, to-dos and plans to show.
async fn warm_up(work: &Arc<Work>, connections: usize, seconds: u64) {
    drive(
        work,
        connections,
        Duration::from_secs(seconds),
        u64::MAX,
        None,
        Op::Only(Route::PlanCommand),
    )
    .await;
}

/// The mixed load, free or paced, with the projections' checkpoints watched meanwhile.
async fn mixed(
    options: &LoadOptions,
    work: &Arc<Work>,
    connections: usize,
    command_rate: Option<f64>,
) -> Result<MixedRow, LoadError> {
    work.answered.lock().expect("answered").clear();
    let watcher = baseline::CheckpointWatch::start(&options.database).await?;
    let pace = command_rate.map(|r| r / (1.0 - options.read_share).max(0.01));
    let duration = Duration::from_secs(options.seconds);
    let progress = Progress::start(work, options.interval);
    let started = Instant::now();
    let (summary, samples) = drive(
        work,
        connections,
        duration,
        options.max_requests,
        pace,
        Op::Mixed {
            read_share: options.read_share,
        },
    )
    .await;
    progress.stop();
    // Let the projections catch up with the last commands before the watcher stops.
    let answered = std::mem::take(&mut *work.answered.lock().expect("answered"));
    let seen = watcher
        .finish_when_covered(answered.iter().map(|a| a.0).max().unwrap_or(0))
        .await;
    let lag = baseline::lags(&answered, &seen);
    let intervals = intervals(
        &samples,
        &answered,
        &lag.per_command,
        started,
        options.interval,
        summary.elapsed,
    );
    Ok(MixedRow {
        connections,
        summary,
        lag_by_projection: lag.by_projection,
        lag: Latency::of_millis(
            &lag.per_command
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>(),
        ),
        lag_unapplied: lag.per_command.iter().filter(|l| l.is_none()).count(),
        intervals,
        paced_rate: command_rate,
    })
}

/// The mixed phase cut into intervals (by the time each request ended).
fn intervals(
    samples: &[Sample],
    answered: &[(i64, Instant)],
    lags: &[Option<f64>],
    started: Instant,
    interval: Duration,
    elapsed: Duration,
) -> Vec<IntervalRow> {
    let width_ms = interval.as_millis().max(1) as u64;
    let elapsed_ms = elapsed.as_millis() as u64;
    let mut by: BTreeMap<u64, Vec<Sample>> = BTreeMap::new();
    // Requests still in flight at the end count in the last interval.
    let last = elapsed_ms.saturating_sub(1) / width_ms;
    for s in samples {
        let k = (u64::from(s.ended_ms) / width_ms).min(last);
        by.entry(k).or_default().push(*s);
    }
    let mut lag_by: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for ((_, at), lag) in answered.iter().zip(lags) {
        if let Some(l) = lag {
            let k = (at.saturating_duration_since(started).as_millis() as u64 / width_ms).min(last);
            lag_by.entry(k).or_default().push(*l);
        }
    }
    by.into_iter()
        .map(|(k, s)| {
            // The last interval may be shorter than the others.
            let width = (elapsed_ms - k * width_ms).min(width_ms);
            let summary = Summary::of(&s, Duration::from_millis(width.max(1)));
            let p99 = |command: bool| {
                let mut l: Vec<u32> = s
                    .iter()
                    .filter(|x| x.succeeded() && x.route.is_command() == command)
                    .map(|x| x.latency_us)
                    .collect();
                l.sort_unstable();
                stats::percentile_sorted(&l, 99.0).map_or(f64::NAN, |v| f64::from(v) / 1000.0)
            };
            IntervalRow {
                until_s: (k * width_ms + width).div_ceil(1000),
                commands_per_second: summary.commands_per_second(),
                reads_per_second: summary.reads_per_second(),
                read_p99_ms: p99(false),
                command_p99_ms: p99(true),
                errors: summary.error_count(),
                lag_p99_ms: Latency::of_millis(lag_by.get(&k).map_or(&[][..], |v| v)).p99_ms,
            }
        })
        .collect()
}

/// A line on standard error per interval while a phase runs, so a long soak shows it is alive.
struct Progress {
    stop: CancellationToken,
}

impl Progress {
    fn start(work: &Arc<Work>, every: Duration) -> Progress {
        let stop = CancellationToken::new();
        let (work, token) = (work.clone(), stop.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let mut last = work.sent.load(Ordering::Relaxed);
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let now = work.sent.load(Ordering::Relaxed);
                eprintln!(
                    "  {:>5.0} s: {:.0} requests/s",
                    started.elapsed().as_secs_f64(),
                    (now - last) as f64 / every.as_secs_f64()
                );
                last = now;
            }
        });
        Progress { stop }
    }

    fn stop(self) {
        self.stop.cancel();
    }
}

/// Registers the run's units (admin), persons (staff) and mints the tokens.
async fn setup(options: &LoadOptions) -> Result<World, LoadError> {
    if options.units < 2 {
        return Err(LoadError::Setup("--units must be at least 2".into()));
    }
    let now = chrono::Utc::now();
    let ttl = chrono::Duration::hours(24);
    let run = format!("{:06x}", options.seed & 0xFF_FFFF);
    let admin = options
        .signer
        .sign("bench-admin", "admin", None, "Belastningstest", now, ttl);
    let mut conn = Conn::new(options.target.clone());
    let mut units = Vec::new();
    let mut staff = Vec::new();
    for i in 0..options.units {
        let id = format!("bench-{run}-{i:03}");
        let (kind, principal) = if i % 2 == 0 {
            ("region", "Region Belastning")
        } else {
            ("municipality", "Belastnings kommun")
        };
        let body = serde_json::json!({
            "id": id, "name": format!("Belastningsenhet {i}"),
            "principal": {"kind": kind, "name": principal},
            "uses_samplan": true,
            "address": "Testvägen 1, 123 45 Belastning", "phone": "010-123 45 67",
        });
        let (status, answer) = send(
            &mut conn,
            &Method::POST,
            "/api/v1/units",
            &admin,
            Some(body.to_string()),
        )
        .await;
        if !(200..300).contains(&status) {
            return Err(LoadError::Setup(format!(
                "registering unit {id} answered {status}: {} (is the gateway at {} running, \
                 with the same token key?)",
                answer.unwrap_or_default(),
                options.target.addr
            )));
        }
        let sub = format!("SE2321000016-B{run}{i:03}");
        let token = options
            .signer
            .sign(&sub, "staff", Some(&id), "Belastning Personal", now, ttl);
        units.push(id);
        staff.push((sub, token));
    }
    let mut rng = Rng::new(options.seed);
    let mut persons = Vec::new();
    let mut surnames = Vec::new();
    let mut attempts = 0;
    while persons.len() < options.persons {
        attempts += 1;
        if attempts > options.persons * 3 + 10 {
            return Err(LoadError::Setup(
                "registering persons keeps failing; see the gateway's log".into(),
            ));
        }
        let (pin, name) = walk::person(&mut rng);
        let body = serde_json::json!({
            "personal_identity_number": pin, "name": name,
            "address": "Storgatan 1, 123 45 Belastning", "phone": "070-123 45 67",
        });
        let token = &staff[persons.len() % staff.len()].1;
        let (status, answer) = send(
            &mut conn,
            &Method::POST,
            "/api/v1/persons",
            token,
            Some(body.to_string()),
        )
        .await;
        // 409: the made-up personnummer exists already (an earlier run); draw another.
        let Some(id) = answer
            .filter(|_| (200..300).contains(&status))
            .and_then(|a| a["id"].as_str().map(str::to_owned))
        else {
            continue;
        };
        let citizen = options
            .signer
            .sign_citizen(&id, Some(&pin), &name, now, ttl);
        if let Some(s) = name.split(' ').nth(1) {
            if !surnames.iter().any(|x| x == s) {
                surnames.push(s.to_owned());
            }
        }
        persons.push((id, citizen));
    }
    Ok(World {
        target: options.target.clone(),
        units,
        staff,
        persons,
        surnames,
    })
}

/// Resident memory of watched processes, sampled every second.
struct MemoryWatch {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<Vec<(Instant, u32, u64)>>>,
    pids: Vec<u32>,
    started: Instant,
}

impl MemoryWatch {
    fn start(pids: &[u32]) -> MemoryWatch {
        let stop = CancellationToken::new();
        let started = Instant::now();
        let task = (!pids.is_empty()).then(|| {
            let (pids, token) = (pids.to_vec(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    for &pid in &pids {
                        if let Some(kb) = rss_kb(pid) {
                            seen.push((Instant::now(), pid, kb));
                        }
                    }
                    tokio::select! {
                        _ = token.cancelled() => return seen,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            })
        });
        MemoryWatch {
            stop,
            task,
            pids: pids.to_vec(),
            started,
        }
    }

    /// Per process: its memory after `warm_up`, at the end, and the most.
    async fn finish(self, warm_up: Duration) -> Vec<MemoryRow> {
        self.stop.cancel();
        let Some(task) = self.task else {
            return Vec::new();
        };
        let seen = task.await.unwrap_or_default();
        self.pids
            .iter()
            .filter_map(|&pid| {
                let mine: Vec<(Duration, u64)> = seen
                    .iter()
                    .filter(|s| s.1 == pid)
                    .map(|s| (s.0.duration_since(self.started), s.2))
                    .collect();
                let (after_warm_up_kb, end_kb, max_kb) = memory_levels(&mine, warm_up)?;
                Some(MemoryRow {
                    pid,
                    name: process_name(pid),
                    after_warm_up_kb,
                    end_kb,
                    max_kb,
                })
            })
            .collect()
    }
}

/// A process's resident memory after warm-up and at the end, each the median of the samples of
/// one `window` (the one after warm-up, the last one), and the most of any sample; `None` without
/// samples.
///
/// Levels, not single samples: under load a process's memory swings by several MiB from one
/// second to the next (buffers of the connections, the allocator returning pages), so one sample
/// against another judged the swing — a soak of an unchanged binary failed at +10.2 % with its
/// highest sample 20 % above its warm-up sample and its level unchanged. Memory that leaks raises
/// the last window's median, which is what the soak is to catch.
fn memory_levels(samples: &[(Duration, u64)], window: Duration) -> Option<(u64, u64, u64)> {
    let max = samples.iter().map(|s| s.1).max()?;
    let end = samples.last()?.0;
    // The last window holds the last sample, so it has a median; a run shorter than its warm-up
    // has no window after it and is judged from its first sample.
    let last = median_kb(samples, end.saturating_sub(window)..)?;
    let after = median_kb(samples, window..window * 2).unwrap_or(samples[0].1);
    Some((after, last, max))
}

/// The median of the samples taken in `during`, if any.
fn median_kb(samples: &[(Duration, u64)], during: impl RangeBounds<Duration>) -> Option<u64> {
    let mut kb: Vec<u64> = samples
        .iter()
        .filter(|s| during.contains(&s.0))
        .map(|s| s.1)
        .collect();
    kb.sort_unstable();
    kb.get(kb.len() / 2).copied()
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn process_name(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let parts: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let program = parts
        .first()
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or("?")
        .to_owned();
    match parts.iter().position(|p| p == "--role") {
        Some(i) => format!("{program} --role {}", parts.get(i + 1).map_or("", |s| s)),
        None => program,
    }
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.1}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

fn errors_of(s: &Summary) -> String {
    if s.errors.is_empty() {
        return "0".into();
    }
    s.errors
        .iter()
        .map(|((route, status), n)| {
            let status = if *status == 0 {
                "no answer".to_owned()
            } else {
                status.to_string()
            };
            format!("{n} × {status} on {}", route.name())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn commands_table(rows: &[CommandRow]) -> String {
    let mut t = String::from(
        "## Commands (`POST /sips`) beside raw INSERT transactions\n\n\
         | connections | commands/s | p50 ms | p95 ms | p99 ms | errors | raw INSERT tx/s | raw p99 ms | ratio |\n\
         |---:|---:|---:|---:|---:|---|---:|---:|---:|\n",
    );
    for r in rows {
        let l = r
            .http
            .per_route
            .get(&Route::StartPlan)
            .copied()
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "| {} | {:.0} | {} | {} | {} | {} | {:.0} | {} | {} |",
            r.connections,
            r.http.commands_per_second(),
            ms(l.p50_ms),
            ms(l.p95_ms),
            ms(l.p99_ms),
            errors_of(&r.http),
            r.raw_per_second,
            ms(r.raw.p99_ms),
            ratio(r.http.commands_per_second(), r.raw_per_second)
        );
    }
    t
}

fn reads_table(rows: &[ReadRow]) -> String {
    let mut t = String::from(
        "## Reads, each route alone, beside its query through the read model\n\n\
         | route | connections | reads/s | p50 ms | p95 ms | p99 ms | errors | query/s | query p99 ms | ratio |\n\
         |---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n",
    );
    for r in rows {
        let l = r.http.per_route.get(&r.route).copied().unwrap_or_default();
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {:.0} | {} | {} |",
            r.route.name(),
            r.connections,
            r.http.per_second(r.route),
            ms(l.p50_ms),
            ms(l.p95_ms),
            ms(l.p99_ms),
            errors_of(&r.http),
            r.select_per_second,
            ms(r.select.p99_ms),
            ratio(r.http.per_second(r.route), r.select_per_second)
        );
    }
    t
}

fn mixed_table(title: &str, row: &MixedRow) -> String {
    let s = &row.summary;
    let mut t = format!(
        "## {title}\n\n{} connections, {:.0} s: **{:.0} commands/s, {:.0} reads/s**, errors: {}.\n\n\
         | route | per second | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|\n",
        row.connections,
        s.elapsed.as_secs_f64(),
        s.commands_per_second(),
        s.reads_per_second(),
        errors_of(s)
    );
    for (route, l) in &s.per_route {
        let _ = writeln!(
            t,
            "| {} | {:.0} | {} | {} | {} |",
            route.name(),
            s.per_second(*route),
            ms(l.p50_ms),
            ms(l.p95_ms),
            ms(l.p99_ms)
        );
    }
    let _ = write!(
        t,
        "\nProjection lag, from a command's answer until every read model had applied it: \
         p50 {} ms, p99 {} ms, max {} ms over {} commands{}.\n\n\
         | projection | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|\n",
        ms(row.lag.p50_ms),
        ms(row.lag.p99_ms),
        ms(row.lag.max_ms),
        row.lag.count,
        if row.lag_unapplied > 0 {
            format!(" ({} not applied by the end)", row.lag_unapplied)
        } else {
            String::new()
        }
    );
    for (name, l) in &row.lag_by_projection {
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} |",
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.max_ms)
        );
    }
    if row.intervals.len() > 1 {
        t.push_str(
            "\n| until s | commands/s | reads/s | read p99 ms | command p99 ms | errors | lag p99 ms |\n\
             |---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for i in &row.intervals {
            let _ = writeln!(
                t,
                "| {} | {:.0} | {:.0} | {} | {} | {} | {} |",
                i.until_s,
                i.commands_per_second,
                i.reads_per_second,
                ms(i.read_p99_ms),
                ms(i.command_p99_ms),
                i.errors,
                ms(i.lag_p99_ms)
            );
        }
    }
    t
}

fn memory_table(rows: &[MemoryRow]) -> String {
    let mut t = String::from(
        "## Resident memory\n\nMedians of the samples (one a second) in the interval after warm-up \
         and in the last interval; the most of any sample.\n\n\
         | process | pid | after warm-up MiB | end MiB | most MiB | growth |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:+.1} % |",
            r.name,
            r.pid,
            r.after_warm_up_kb as f64 / 1024.0,
            r.end_kb as f64 / 1024.0,
            r.max_kb as f64 / 1024.0,
            r.growth() * 100.0
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::{is_command, memory_levels, MemoryRow};
    use std::time::Duration;

    /// One sample a second for `seconds`, in KiB.
    fn samples(seconds: u64, kb: impl Fn(u64) -> u64) -> Vec<(Duration, u64)> {
        (0..seconds)
            .map(|s| (Duration::from_secs(s), kb(s)))
            .collect()
    }

    /// The growth `--check` judges, for the levels `memory_levels` found.
    fn growth((after_warm_up_kb, end_kb, max_kb): (u64, u64, u64)) -> f64 {
        MemoryRow {
            pid: 0,
            name: String::new(),
            after_warm_up_kb,
            end_kb,
            max_kb,
        }
        .growth()
    }

    #[test]
    fn memory_that_swings_around_one_level_has_not_grown() {
        // 57 MiB with every third second 11 MiB higher, and the last sample high too: one sample
        // against another reads +19 %.
        let swinging = samples(600, |s| {
            if s % 3 == 2 || s == 599 {
                68 << 10
            } else {
                57 << 10
            }
        });
        let levels = memory_levels(&swinging, Duration::from_secs(60)).expect("samples");
        assert_eq!(levels, (57 << 10, 57 << 10, 68 << 10));
        assert!(growth(levels).abs() < 0.01);
    }

    #[test]
    fn memory_that_climbs_has_grown() {
        // A leak of 25 KiB a second: 57 MiB after warm-up, about 70 MiB at the end.
        let leaking = samples(600, |s| (57 << 10) + s * 25);
        let levels = memory_levels(&leaking, Duration::from_secs(60)).expect("samples");
        assert!(growth(levels) > 0.10, "{levels:?}");
    }

    #[test]
    fn a_run_shorter_than_its_windows_still_has_levels() {
        assert_eq!(memory_levels(&[], Duration::from_secs(60)), None);
        let short = samples(10, |s| 1_000 + s);
        assert_eq!(
            memory_levels(&short, Duration::from_secs(60)),
            Some((1_000, 1_005, 1_009))
        );
    }

    #[test]
    fn the_mixed_load_has_the_asked_share_of_commands() {
        let commands = (0..1000).filter(|n| is_command(*n, 0.8)).count();
        assert_eq!(commands, 200);
        assert_eq!((0..10).filter(|n| is_command(*n, 0.8)).count(), 2);
        assert_eq!((0..100).filter(|n| is_command(*n, 1.0)).count(), 0);
    }
}
