//! The database beside the HTTP figures, measured in the same run on the same server: raw
//! single-row INSERT transactions, each read route's query through the read model's own query
//! function (the SELECT the route answers from, without HTTP, tokens or the access log), and
//! the projections' checkpoints, watched to time how soon a command reaches every read model.

use super::stats::{Latency, Route};
use super::{LoadError, Work, World};
use chrono::Utc;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use domain::ids::PersonId;
use projections::directory::{self, PersonQuery};
use projections::inbox::{self, MessageFilter, TodoList, TodoScope, Urgency};
use projections::patient;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per page the inbox routes ask for (their default page and one more).
const PAGE: i64 = 51;

/// The database as the service reaches it: the same URL and TLS settings.
#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub tls: eventstore::DatabaseTls,
}

async fn connect(db: &Database) -> Result<tokio_postgres::Client, LoadError> {
    eventstore::connect(
        &db.url,
        &db.tls,
        "samplan-bench-load",
        Some(Duration::from_secs(10)),
    )
    .await
    .map_err(|e| match e {
        eventstore::ConnectError::Postgres(e) => LoadError::Database(e),
        other => LoadError::Setup(other.to_string()),
    })
}

/// Refreshes the planner's statistics of every table of the database (`ANALYZE`).
///
/// A run starts on a fresh database, and a connection keeps the plan it settled on for a
/// prepared statement (a generic plan, after five custom ones) until the statistics of its
/// tables change. Before autovacuum's first visit (up to `autovacuum_naptime`, a minute by
/// default) a table that grew from nothing still counts as tiny, so every plan cached in the
/// first seconds scans whole tables — the event store's tail read among them — and goes on
/// doing so as they grow. A database in service has statistics; this gives the run them too,
/// and invalidates the plans cached before. Tables the role does not own are skipped by
/// PostgreSQL with a warning.
pub async fn analyze(db: &Database) -> Result<(), LoadError> {
    connect(db).await?.batch_execute("ANALYZE").await?;
    Ok(())
}

/// How long a table is left alone after the run has analyzed or vacuumed it.
const UPKEEP_NAPTIME: Duration = Duration::from_secs(60);

/// Autovacuum's work, done by the run while it lasts: a table changed beyond autovacuum's
/// default thresholds is analyzed (more than 50 + 10 % of its rows changed since the last
/// ANALYZE) and, when the server's own autovacuum is off, vacuumed too (more than 50 + 20 % of
/// its rows dead, or 1 000 + 20 % inserted since the last VACUUM) — each table at most once per
/// [`UPKEEP_NAPTIME`], autovacuum's default naptime, but first looked at within a second.
///
/// Autovacuum looks at a database once a minute, and some servers run with it off (this
/// workplace's CI server does). Then a table that grew during a phase keeps the statistics of
/// its start, the plans cached on it keep scanning it whole, and dead rows pile up — a state a
/// database in service is not in, which made the soak's rate fall and its lag climb for that
/// reason and not the service's. The thresholds and the pace are autovacuum's defaults; only
/// the look is more frequent.
pub struct Upkeep {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<UpkeepCounts>,
    /// Whether the server's own autovacuum is on.
    pub server_autovacuum: bool,
}

/// What [`Upkeep`] did in a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpkeepCounts {
    pub analyzed: u64,
    pub vacuumed: u64,
}

impl Upkeep {
    pub async fn start(db: &Database) -> Result<Upkeep, LoadError> {
        let client = connect(db).await?;
        // Autovacuum's pace, not a manual VACUUM's: autovacuum pauses 2 ms after every 200 cost
        // units of pages read and dirtied (`autovacuum_vacuum_cost_delay`, `vacuum_cost_limit`),
        // where a manual VACUUM or ANALYZE by default never pauses. The upkeep stands in for
        // autovacuum, so it takes from the service what autovacuum would, not more: a round that
        // finds many tables due at once no longer runs flat out beside the load.
        client
            .batch_execute("SET vacuum_cost_delay = '2ms'; SET vacuum_cost_limit = 200")
            .await?;
        let server_autovacuum: bool = client
            .query_one("SELECT current_setting('autovacuum') = 'on'", &[])
            .await?
            .get(0);
        let due = client
            .prepare(
                "SELECT format('%I.%I', s.schemaname, s.relname),
                        s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0),
                        s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)
                          OR s.n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0)
                   FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid",
            )
            .await?;
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut counts = UpkeepCounts::default();
            let mut last: BTreeMap<String, Instant> = BTreeMap::new();
            while !token.is_cancelled() {
                if let Ok(rows) = client.query(&due, &[]).await {
                    for row in rows {
                        let (table, analyze, vacuum): (String, bool, bool) =
                            (row.get(0), row.get(1), row.get(2));
                        let vacuum = vacuum && !server_autovacuum;
                        if !(analyze || vacuum)
                            || last
                                .get(&table)
                                .is_some_and(|at| at.elapsed() < UPKEEP_NAPTIME)
                        {
                            continue;
                        }
                        last.insert(table.clone(), Instant::now());
                        let work = if vacuum {
                            "VACUUM (ANALYZE)"
                        } else {
                            "ANALYZE"
                        };
                        if client
                            .batch_execute(&format!("{work} {table}"))
                            .await
                            .is_ok()
                        {
                            counts.analyzed += 1;
                            counts.vacuumed += u64::from(vacuum);
                        }
                    }
                }
                tokio::select! {
                    () = token.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            counts
        });
        Ok(Upkeep {
            stop,
            task,
            server_autovacuum,
        })
    }

    pub async fn finish(self) -> UpkeepCounts {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

/// Refuses to start when the server cannot take the baselines' `needed` connections beside
/// those already open (the service's pools among them), rather than failing midway.
pub async fn require_connections(db: &Database, needed: usize) -> Result<(), LoadError> {
    let client = connect(db).await?;
    let row = client
        .query_one(
            "SELECT current_setting('max_connections')::bigint
                    - current_setting('superuser_reserved_connections')::bigint
                    - (SELECT count(*) FROM pg_stat_activity)::bigint",
            &[],
        )
        .await?;
    let free: i64 = row.get(0);
    if free < needed as i64 {
        return Err(LoadError::Setup(format!(
            "PostgreSQL has {free} connections free and the baselines need {needed}: raise \
             max_connections or give fewer --connections"
        )));
    }
    Ok(())
}

/// Runs `op` from `concurrency` tasks for `duration`: successes per second and their latency.
async fn timed<F, Fut>(concurrency: usize, duration: Duration, op: F) -> (f64, Latency)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker as u64;
            while Instant::now() < deadline {
                let sent = Instant::now();
                if op(worker, n).await {
                    latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                n += concurrency as u64;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    (all.len() as f64 / elapsed, Latency::of_micros(all))
}

/// Single-row INSERT transactions of a comparable JSON payload, one connection per client with
/// the statement prepared once: what the database does without samplan.
pub async fn raw_inserts(
    db: &Database,
    concurrency: usize,
    duration: Duration,
) -> Result<(f64, Latency), LoadError> {
    let table = format!("bench_raw_{}", std::process::id());
    let setup = connect(db).await?;
    setup
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                 id bigserial PRIMARY KEY,
                 stream_id text NOT NULL,
                 event_type text NOT NULL,
                 payload jsonb NOT NULL,
                 recorded_at timestamptz NOT NULL DEFAULT now())"
        ))
        .await?;
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let client = connect(db).await?;
        let insert = client
            .prepare(&format!(
                "INSERT INTO {table} (stream_id, event_type, payload) \
                 VALUES ($1, 'NeedIdentified', $2)"
            ))
            .await?;
        clients.push(Arc::new((client, insert)));
    }
    let payload = Arc::new(serde_json::json!({
        "sip_id": "01JBENCH0000000000000000000",
        "person_id": "01JBENCH0000000000000000001",
        "identified_by": "staff",
        "reason": "Behöver samordnade insatser från vård och omsorg.",
        "context": {"kind": "outpatient", "track": null, "discharge_ready_at": null},
        "known_since": "2026-03-10T08:00:00Z",
        "unit": "bench-unit", "actor": "SE2321000016-B001"
    }));
    let result = timed(concurrency, duration, move |worker, n| {
        let client = clients[worker].clone();
        let payload = payload.clone();
        async move {
            let (client, insert) = &*client;
            client
                .execute(insert, &[&format!("sip-{n}"), &*payload])
                .await
                .is_ok()
        }
    })
    .await;
    setup.batch_execute(&format!("DROP TABLE {table}")).await?;
    Ok(result)
}

fn pool(db: &Database, size: usize) -> Result<Pool, LoadError> {
    let (config, connector) = eventstore::pg_config(&db.url, &db.tls)
        .map_err(|e| LoadError::Setup(format!("the database URL: {e}")))?;
    let manager = Manager::from_config(
        config,
        connector,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| LoadError::Setup(format!("a connection pool: {e}")))
}

/// The query `route` answers from, at `concurrency`, for the run's units, plans and persons.
pub async fn selects(
    db: &Database,
    world: &Arc<World>,
    work: &Arc<Work>,
    route: Route,
    concurrency: usize,
    duration: Duration,
) -> Result<(f64, Latency), LoadError> {
    let pool = pool(db, concurrency)?;
    let known = work.known.lock().expect("known plans").clone();
    let pins = pins(&pool, world).await?;
    let (world, known, pins) = (world.clone(), Arc::new(known), Arc::new(pins));
    Ok(timed(concurrency, duration, move |_, n| {
        let (pool, world, known, pins) = (pool.clone(), world.clone(), known.clone(), pins.clone());
        async move {
            let i = n as usize;
            let unit = &world.units[i % world.units.len()];
            let user = &world.staff[i % world.units.len()].0;
            match route {
                Route::Messages => {
                    let filter = MessageFilter {
                        limit: PAGE,
                        ..MessageFilter::default()
                    };
                    futures::try_join!(
                        inbox::messages(&pool, unit, user, &filter),
                        inbox::unread_count(&pool, unit, user)
                    )
                    .is_ok()
                }
                Route::Todos => {
                    let list = TodoList {
                        scope: TodoScope::Mine,
                        urgency: Urgency::All,
                        now: Utc::now(),
                    };
                    inbox::open_todos(&pool, unit, user, list, None, PAGE)
                        .await
                        .is_ok()
                }
                Route::Ongoing => inbox::ongoing(&pool, unit, false, None, PAGE).await.is_ok(),
                Route::Plan => {
                    let Some((sip, _, _)) = known.get(i % known.len().max(1)) else {
                        return false;
                    };
                    inbox::current_plan(&pool, sip, &format!("sip-{sip}"), PersonId::STREAM_PREFIX)
                        .await
                        .is_ok()
                }
                Route::MinPlan => {
                    let Some((_, _, person)) = known.get(i % known.len().max(1)) else {
                        return false;
                    };
                    let id = &world.persons[*person].0;
                    let pin = pins.get(id).map(String::as_str);
                    match patient::candidates(&pool, Some(id), pin).await {
                        Ok(rows) => {
                            let ids: Vec<String> = rows.into_iter().map(|r| r.person_id).collect();
                            patient::plans_of(&pool, &ids).await.is_ok()
                        }
                        Err(_) => false,
                    }
                }
                Route::PersonSearch => {
                    let q = PersonQuery::Name(world.surnames[i % world.surnames.len()].clone());
                    directory::search_persons(&pool, unit, &q, 51).await.is_ok()
                }
                Route::StartPlan | Route::PlanCommand => false,
            }
        }
    })
    .await)
}

/// The run's persons' personnummer, as Min plan's look-up uses them.
async fn pins(pool: &Pool, world: &World) -> Result<BTreeMap<String, String>, LoadError> {
    let client = pool
        .get()
        .await
        .map_err(|e| LoadError::Setup(format!("a connection: {e}")))?;
    let ids: Vec<String> = world.persons.iter().map(|p| p.0.clone()).collect();
    let rows = client
        .query(
            "SELECT person_id, personal_identity_number FROM patient.persons WHERE person_id = ANY($1)",
            &[&ids],
        )
        .await
        .unwrap_or_default();
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Watches `projections.checkpoints` every millisecond on a connection of its own, keeping
/// each change of each projection's position with the moment it was seen.
pub struct CheckpointWatch {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<BTreeMap<String, Vec<(i64, Instant)>>>,
    last: Arc<std::sync::Mutex<BTreeMap<String, i64>>>,
}

impl CheckpointWatch {
    pub async fn start(db: &Database) -> Result<CheckpointWatch, LoadError> {
        let client = connect(db).await?;
        let mut watched: Vec<String> = projections::PROJECTIONS
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        watched.push(projections::relay::RELAY.to_owned());
        let query = client
            .prepare("SELECT projection, position FROM projections.checkpoints WHERE projection = ANY($1)")
            .await?;
        let stop = tokio_util::sync::CancellationToken::new();
        let last = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let (token, latest) = (stop.clone(), last.clone());
        let task = tokio::spawn(async move {
            let mut seen: BTreeMap<String, Vec<(i64, Instant)>> = BTreeMap::new();
            while !token.is_cancelled() {
                if let Ok(rows) = client.query(&query, &[&watched]).await {
                    let at = Instant::now();
                    let mut latest = latest.lock().expect("checkpoints");
                    for row in rows {
                        let (name, position): (String, i64) = (row.get(0), row.get(1));
                        let changes = seen.entry(name.clone()).or_default();
                        if changes.last().is_none_or(|(p, _)| *p < position) {
                            changes.push((position, at));
                        }
                        latest.insert(name, position);
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen
        });
        Ok(CheckpointWatch { stop, task, last })
    }

    /// Stops watching once every watched checkpoint has reached `position` (or after 10 s).
    pub async fn finish_when_covered(self, position: i64) -> BTreeMap<String, Vec<(i64, Instant)>> {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            let covered = {
                let last = self.last.lock().expect("checkpoints");
                !last.is_empty() && last.values().all(|p| *p >= position)
            };
            if covered {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

/// Each command's lag per projection, and until every read model (not the relay) had it.
pub struct Lags {
    pub by_projection: BTreeMap<String, Latency>,
    /// In the order of `answered`; `None` when some read model never reached it.
    pub per_command: Vec<Option<f64>>,
}

pub fn lags(answered: &[(i64, Instant)], seen: &BTreeMap<String, Vec<(i64, Instant)>>) -> Lags {
    let lag_to = |changes: &[(i64, Instant)], (position, at): &(i64, Instant)| -> Option<f64> {
        let i = changes.partition_point(|(p, _)| p < position);
        let (_, applied) = changes.get(i)?;
        Some(applied.saturating_duration_since(*at).as_secs_f64() * 1000.0)
    };
    let by_projection = seen
        .iter()
        .map(|(name, changes)| {
            let l: Vec<f64> = answered.iter().filter_map(|a| lag_to(changes, a)).collect();
            (name.clone(), Latency::of_millis(&l))
        })
        .collect();
    let per_command = answered
        .iter()
        .map(|a| {
            seen.iter()
                .filter(|(name, _)| name.as_str() != projections::relay::RELAY)
                .map(|(_, changes)| lag_to(changes, a))
                .try_fold(0.0f64, |most, l| Some(most.max(l?)))
        })
        .collect();
    Lags {
        by_projection,
        per_command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commands_lag_is_until_the_slowest_read_model_has_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut seen = BTreeMap::new();
        seen.insert("inbox".to_owned(), vec![(5, at(3)), (9, at(20))]);
        seen.insert("patient".to_owned(), vec![(9, at(8))]);
        seen.insert(projections::relay::RELAY.to_owned(), vec![(5, at(500))]);
        let answered = [(5, at(1)), (9, at(2)), (12, at(2))];
        let l = lags(&answered, &seen);
        assert_eq!(l.per_command[0], Some(7.0)); // patient saw 9 ≥ 5 at 8 ms
        assert_eq!(l.per_command[1], Some(18.0)); // inbox reached 9 at 20 ms
        assert_eq!(l.per_command[2], None); // nobody reached 12
        assert_eq!(l.by_projection["relay"].count, 1);
    }
}
