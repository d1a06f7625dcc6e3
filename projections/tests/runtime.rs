//! The projection runtime against a real PostgreSQL: one process applies a projection at a time
//! and a standby takes over; a batch killed between applying and checkpointing is applied once;
//! an aborted transaction holds nothing up; a rebuild while the live runner and readers run shows
//! readers the old tables until an atomic swap, and the live runner goes on from there; the
//! tables a rebuild creates are those of the migrations; a read model built by other rules than
//! its runner's is rebuilt by the runner, beside the live tables, once.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{connect, setup, Setup};

use eventstore::testing::TestDatabase;
use eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent};
use projections::directory::Directory;
use projections::runner::Tx;
use projections::runner::{self, Activity, Mode, Projection};
use projections::ProjectionError;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use ulid::Ulid;

const WAIT_MS: u64 = 15_000;

async fn admin(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    client
}

fn event(stream: &str) -> NewEvent {
    NewEvent {
        event_id: Ulid::generate(),
        event_type: "Counted".into(),
        schema_version: 1,
        data: serde_json::json!({"stream": stream}),
        metadata: Metadata {
            actor: "test".into(),
            unit: None,
            role: "staff".into(),
            command_id: None,
            correlation_id: None,
            causation_id: None,
        },
    }
}

async fn append(store: &EventStore, stream: &str) -> i64 {
    store
        .append(stream, ExpectedVersion::Any, vec![event(stream)], None)
        .await
        .expect("append")
        .global_position
}

/// A test projection that records every position it applies in `<schema>.seen`, whose primary
/// key refuses a position applied twice. It may be told to kill its own connection in the middle
/// of a batch, once, after writing a row: a process dying between applying and checkpointing.
struct Counter {
    schema: &'static str,
    /// The rules it applies ([`Projection::built_by`]), written into every row it applies.
    rules: &'static str,
    kill_at_position: Option<i64>,
    killed: Arc<AtomicBool>,
    applied: Arc<AtomicUsize>,
}

impl Counter {
    fn new(schema: &'static str) -> Counter {
        Counter {
            schema,
            rules: "1",
            kill_at_position: None,
            killed: Arc::new(AtomicBool::new(false)),
            applied: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Projection for Counter {
    fn name(&self) -> &'static str {
        self.schema
    }

    fn schema(&self) -> &'static str {
        self.schema
    }

    fn built_by(&self) -> String {
        self.rules.to_owned()
    }

    fn tables_sql(&self) -> &'static str {
        "CREATE TABLE seen (position bigint PRIMARY KEY, stream text NOT NULL);"
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.event_type == "Counted"
    }

    async fn apply(
        &self,
        tx: &Tx<'_>,
        event: &RecordedEvent,
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        tx.execute(
            "INSERT INTO seen (position, stream) VALUES ($1, $2)",
            &[
                &event.global_position,
                &format!("{} by {}", event.stream_id, self.rules),
            ],
        )
        .await?;
        if Some(event.global_position) == self.kill_at_position
            && !self.killed.swap(true, Ordering::SeqCst)
        {
            // The row above is written, the checkpoint not: the process dies now.
            let _ = tx
                .execute("SELECT pg_terminate_backend(pg_backend_pid())", &[])
                .await;
            return Err(ProjectionError::Lease("killed by the test".into()));
        }
        self.applied.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Creates the counter's schema as a migration would.
async fn create_counter(db: &TestDatabase, schema: &str) {
    admin(db)
        .await
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema};
             CREATE TABLE seen (position bigint PRIMARY KEY, stream text NOT NULL);
             GRANT USAGE ON SCHEMA {schema} TO samplan_app;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO samplan_app;"
        ))
        .await
        .expect("counter schema");
}

async fn seen(store: &EventStore, schema: &str) -> Vec<i64> {
    let client = store.pool().get().await.expect("client");
    client
        .query(
            &format!("SELECT position FROM {schema}.seen ORDER BY position"),
            &[],
        )
        .await
        .expect("seen")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn caught_up(store: &EventStore, name: &str) -> i64 {
    let head = store.head_position().await.expect("head");
    let at = runner::wait_for(store.pool(), name, head, WAIT_MS)
        .await
        .expect("checkpoint");
    assert_eq!(at, head, "{name} did not catch up");
    at
}

async fn until(activity: &mut watch::Receiver<Activity>, wanted: Activity) {
    tokio::time::timeout(Duration::from_secs(10), activity.wait_for(|a| *a == wanted))
        .await
        .expect("in time")
        .expect("runner alive");
}

#[tokio::test]
async fn one_process_applies_a_projection_and_a_standby_takes_over_when_it_dies() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "lease_counter").await;
    let other = connect(&db).await;
    let (first_tx, mut first) = watch::channel(Activity::Standby);
    let (second_tx, second) = watch::channel(Activity::Standby);
    let first_cancel = CancellationToken::new();
    let second_cancel = CancellationToken::new();
    let first_counter = Counter::new("lease_counter");
    let second_counter = Counter::new("lease_counter");
    let (first_applied, second_applied) = (
        first_counter.applied.clone(),
        second_counter.applied.clone(),
    );
    let first_run = tokio::spawn(runner::run_with(
        store.clone(),
        first_counter,
        first_cancel.clone(),
        first_tx,
        None,
    ));
    until(&mut first, Activity::Active).await;
    let second_run = tokio::spawn(runner::run_with(
        other.clone(),
        second_counter,
        second_cancel.clone(),
        second_tx,
        None,
    ));
    for i in 0..20 {
        append(&store, &format!("count-{}", i % 3)).await;
    }
    caught_up(&store, "lease_counter").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        *second.borrow(),
        Activity::Standby,
        "only one holds the lease"
    );
    assert_eq!(first_applied.load(Ordering::SeqCst), 20);
    assert_eq!(
        second_applied.load(Ordering::SeqCst),
        0,
        "the standby applied nothing"
    );

    // The holder dies: its connections go, and with them the lease.
    first_cancel.cancel();
    first_run.await.expect("task").expect("first runner");
    let mut second = second;
    until(&mut second, Activity::Active).await;
    for i in 0..10 {
        append(&other, &format!("count-{i}")).await;
    }
    caught_up(&other, "lease_counter").await;
    assert_eq!(second_applied.load(Ordering::SeqCst), 10);
    let positions = seen(&store, "lease_counter").await;
    assert_eq!(positions.len(), 30, "every event applied once");
    second_cancel.cancel();
    second_run.await.expect("task").expect("second runner");
    drop(db);
}

#[tokio::test]
async fn a_runner_killed_between_applying_and_checkpointing_applies_nothing_twice_and_skips_nothing(
) {
    let Setup { db, store } = setup().await;
    create_counter(&db, "killed_counter").await;
    for i in 0..40 {
        append(&store, &format!("count-{}", i % 5)).await;
    }
    let mut counter = Counter::new("killed_counter");
    counter.kill_at_position = Some(17);
    let killed = counter.killed.clone();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(runner::run(store.clone(), counter, cancel.clone()));
    caught_up(&store, "killed_counter").await;
    assert!(killed.load(Ordering::SeqCst), "the batch was killed once");
    let positions = seen(&store, "killed_counter").await;
    let head = store.head_position().await.expect("head");
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());
    cancel.cancel();
    run.await.expect("task").expect("runner");
    drop(db);
}

/// The error a stopped read model logs names the server's reason and code, not only the
/// driver's "db error" (an operator review found the log without them; only the checkpoint
/// row had them).
#[tokio::test]
async fn a_database_error_says_what_the_server_said() {
    let Setup { db, store } = setup().await;
    let client = store.pool().get().await.expect("connection");
    let refused = client
        .batch_execute("INSERT INTO no_such_table VALUES (1)")
        .await
        .expect_err("no such table");
    let text = ProjectionError::Database(refused).to_string();
    assert!(
        text.contains("no_such_table") && text.contains("42P01"),
        "{text}"
    );
    drop(client);
    drop(db);
}

async fn lag_of(store: &EventStore, name: &str) -> runner::Lag {
    runner::lags(store.pool())
        .await
        .expect("lags")
        .into_iter()
        .find(|l| l.name == name)
        .expect("its checkpoint")
}

/// A row the read model's table refuses — a constraint, a grant, a bug — stops the read model on
/// that event (ADR 0036): nothing after it is applied out of order, the checkpoint stays below
/// it, the stop is recorded without the row's values, and once mended the runner applies the
/// event by itself.
#[tokio::test]
async fn an_event_that_cannot_be_applied_stops_the_read_model_there_until_it_is_mended() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "stop_counter").await;
    for i in 0..5 {
        append(&store, &format!("count-{i}")).await;
    }
    let (activity_tx, mut activity) = watch::channel(Activity::Standby);
    let cancel = CancellationToken::new();
    let run = tokio::spawn(runner::run_with(
        store.clone(),
        Counter::new("stop_counter"),
        cancel.clone(),
        activity_tx,
        None,
    ));
    let before = caught_up(&store, "stop_counter").await;
    admin(&db)
        .await
        .batch_execute(
            "ALTER TABLE stop_counter.seen
               ADD CONSTRAINT no_poison CHECK (stream NOT LIKE 'poison%')",
        )
        .await
        .expect("fault");
    let poisoned = append(&store, "poison-19121212-1212").await;
    for i in 0..3 {
        append(&store, &format!("count-after-{i}")).await;
    }
    until(&mut activity, Activity::Stopped).await;

    let lag = lag_of(&store, "stop_counter").await;
    assert_eq!(lag.position, before, "stopped just before the event");
    assert_eq!(lag.position, poisoned - 1);
    assert_eq!(lag.events, 4);
    let (_, error) = lag.stopped.expect("recorded as stopped");
    assert!(
        error.contains("no_poison") && error.contains("23514"),
        "{error}"
    );
    assert!(!error.contains("19121212"), "no value of the row: {error}");
    assert_eq!(
        seen(&store, "stop_counter").await,
        (1..=before).collect::<Vec<_>>()
    );

    admin(&db)
        .await
        .batch_execute("ALTER TABLE stop_counter.seen DROP CONSTRAINT no_poison")
        .await
        .expect("mend");
    let head = store.head_position().await.expect("head");
    let at = runner::wait_for(
        store.pool(),
        "stop_counter",
        head,
        runner::STOPPED_RETRY_MS + WAIT_MS,
    )
    .await
    .expect("checkpoint");
    assert_eq!(at, head, "resumed by itself");
    assert_eq!(
        seen(&store, "stop_counter").await,
        (1..=head).collect::<Vec<_>>()
    );
    let lag = lag_of(&store, "stop_counter").await;
    assert_eq!(lag.stopped, None);
    cancel.cancel();
    run.await.expect("task").expect("runner");
    drop(db);
}

#[tokio::test]
async fn a_transaction_that_aborts_after_taking_a_position_holds_nothing_up() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "abort_counter").await;
    let cancel = CancellationToken::new();
    let run = tokio::spawn(runner::run(
        store.clone(),
        Counter::new("abort_counter"),
        cancel.clone(),
    ));
    append(&store, "count-a").await;
    // A writer draws a position, others commit after it, then it rolls back.
    let mut client = admin(&db).await;
    let tx = client.transaction().await.expect("tx");
    tx.execute(
        "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
             payload, actor, role)
         VALUES ('count-aborted', 1, $1, 'Counted', 1, '{}'::jsonb, 'test', 'staff')",
        &[&Ulid::generate().to_string()],
    )
    .await
    .expect("insert");
    for _ in 0..5 {
        append(&store, "count-b").await;
    }
    tx.rollback().await.expect("rollback");
    let started = std::time::Instant::now();
    caught_up(&store, "abort_counter").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the hole left by the rollback held the runner up for {:?}",
        started.elapsed()
    );
    assert_eq!(seen(&store, "abort_counter").await.len(), 6);
    cancel.cancel();
    run.await.expect("task").expect("runner");
    drop(db);
}

/// The columns and indexes of `schema` as text, the schema name taken out.
async fn shape(client: &tokio_postgres::Client, schema: &str) -> Vec<String> {
    let mut out = Vec::new();
    for row in client
        .query(
            "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
               FROM information_schema.columns WHERE table_schema = $1
              ORDER BY table_name, ordinal_position",
            &[&schema],
        )
        .await
        .expect("columns")
    {
        let cols: Vec<String> = (0..5).map(|i| row.get::<_, String>(i)).collect();
        out.push(cols.join(" "));
    }
    for row in client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
            &[&schema],
        )
        .await
        .expect("indexes")
    {
        out.push(row.get::<_, String>(0).replace(&format!("{schema}."), ""));
    }
    for row in client
        .query(
            "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
               JOIN pg_namespace n ON n.oid = c.connamespace
              WHERE n.nspname = $1 ORDER BY conname",
            &[&schema],
        )
        .await
        .expect("constraints")
    {
        let def: String = row.get(1);
        out.push(format!(
            "{} {}",
            row.get::<_, String>(0),
            def.replace(&format!("{schema}."), "")
        ));
    }
    // How each column is stored: a snapshot compressed with lz4 by a migration must be so after
    // a rebuild too.
    for row in client
        .query(
            "SELECT c.relname, a.attname, a.attcompression::text, a.attstorage::text
               FROM pg_attribute a
               JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0
                AND NOT a.attisdropped
              ORDER BY c.relname, a.attnum",
            &[&schema],
        )
        .await
        .expect("storage")
    {
        let cols: Vec<String> = (0..4).map(|i| row.get::<_, String>(i)).collect();
        out.push(format!("storage {}", cols.join(" ")));
    }
    out
}

#[tokio::test]
async fn a_rebuild_creates_the_tables_the_migrations_create() {
    let Setup { db, store } = setup().await;
    let client = admin(&db).await;
    let inbox = projections::inbox::Inbox::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    for (schema, tables) in [
        ("directory", Directory.tables_sql()),
        (
            "participation",
            projections::participation::Participation.tables_sql(),
        ),
        ("inbox", inbox.tables_sql()),
        (
            "patient",
            projections::patient::Patient::new(store.clone()).tables_sql(),
        ),
        (
            "reporting",
            projections::reporting::Reporting::new(
                store.clone(),
                domain::policy::PolicyProfile::get(domain::policy::PolicyName::Stockholm),
            )
            .tables_sql(),
        ),
    ] {
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema}_shape; SET search_path TO {schema}_shape; {tables}; \
                 RESET search_path;"
            ))
            .await
            .expect("tables");
        let migrated = shape(&client, schema).await;
        assert!(!migrated.is_empty(), "{schema}");
        assert_eq!(
            shape(&client, &format!("{schema}_shape")).await,
            migrated,
            "{schema}"
        );
    }
    drop(db);
}

#[tokio::test]
async fn a_rebuild_while_writers_readers_and_the_live_runner_run_swaps_atomically() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "swap_counter").await;
    for i in 0..2_000 {
        append(&store, &format!("count-{}", i % 50)).await;
    }
    let cancel = CancellationToken::new();
    let run = tokio::spawn(runner::run(
        store.clone(),
        Counter::new("swap_counter"),
        cancel.clone(),
    ));
    caught_up(&store, "swap_counter").await;

    // Writers keep appending; a reader keeps counting rows: a half-built table would show
    // fewer rows than a moment before.
    let stop = CancellationToken::new();
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                append(&store, &format!("count-w{}", n % 7)).await;
                n += 1;
            }
            n
        })
    };
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let client = store.pool().get().await.expect("client");
            let mut last = 0_i64;
            let mut reads = 0;
            while !stop.is_cancelled() {
                let count: i64 = client
                    .query_one("SELECT count(*) FROM swap_counter.seen", &[])
                    .await
                    .expect("count")
                    .get(0);
                assert!(count >= last, "a reader saw {count} rows after {last}");
                last = count;
                reads += 1;
            }
            reads
        })
    };
    let rebuilt = runner::rebuild(&store, &db.admin_url, &Counter::new("swap_counter"))
        .await
        .expect("rebuild");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let written = writer.await.expect("writer");
    let reads = reader.await.expect("reader");
    assert!(written > 0 && reads > 0);
    assert!(rebuilt.position >= 2_000);
    assert!(rebuilt.events_applied >= 2_000);
    // The live runner went on from the rebuilt position, on the rebuilt tables.
    caught_up(&store, "swap_counter").await;
    let head = store.head_position().await.expect("head");
    assert_eq!(
        seen(&store, "swap_counter").await,
        (1..=head).collect::<Vec<_>>(),
        "every event once, none skipped, across the swap"
    );
    let client = admin(&db).await;
    let schemas: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'swap_counter%'",
            &[],
        )
        .await
        .expect("schemas")
        .get(0);
    assert_eq!(schemas, 1, "no rebuild or old schema is left behind");
    cancel.cancel();
    run.await.expect("task").expect("runner");
    drop(db);
}

/// The rules each row of `schema.seen` was written by, and how many rows each wrote.
async fn rows_by_rules(store: &EventStore, schema: &str) -> Vec<(String, i64)> {
    let client = store.pool().get().await.expect("client");
    client
        .query(
            &format!(
                "SELECT split_part(stream, ' by ', 2) AS rules, count(*) FROM {schema}.seen
                  GROUP BY rules ORDER BY rules"
            ),
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn built_by(store: &EventStore, name: &str) -> Option<String> {
    let client = store.pool().get().await.expect("client");
    client
        .query_one(
            "SELECT built_by FROM projections.checkpoints WHERE projection = $1",
            &[&name],
        )
        .await
        .expect("checkpoint")
        .get(0)
}

/// Waits until `name`'s rows are recorded as built by `rules`: a runner's rebuild has swapped.
async fn rebuilt_by(store: &EventStore, name: &str, rules: &str) {
    let deadline = std::time::Instant::now() + Duration::from_millis(WAIT_MS);
    while built_by(store, name).await.as_deref() != Some(rules) {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner did not rebuild {name} by rules {rules} in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The schema's identity: a rebuild swaps in a schema created anew.
async fn schema_oid(db: &TestDatabase, schema: &str) -> u32 {
    admin(db)
        .await
        .query_one(
            "SELECT oid FROM pg_namespace WHERE nspname = $1",
            &[&schema],
        )
        .await
        .expect("schema")
        .get(0)
}

/// A runner with `rules`, the owner role's URL when `rebuilds`, until `cancel`.
fn start(
    store: &EventStore,
    db: &TestDatabase,
    rules: &'static str,
    rebuilds: bool,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), ProjectionError>> {
    let mut counter = Counter::new("rules_counter");
    counter.rules = rules;
    tokio::spawn(runner::run_with(
        store.clone(),
        counter,
        cancel.clone(),
        watch::channel(Activity::Standby).0,
        rebuilds.then(|| db.admin_url.clone()),
    ))
}

#[tokio::test]
async fn a_read_model_built_by_other_rules_is_rebuilt_by_its_runner_while_it_goes_on() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "rules_counter").await;
    for i in 0..500 {
        append(&store, &format!("count-{}", i % 20)).await;
    }
    let created = schema_oid(&db, "rules_counter").await;

    // A read model nothing has reached yet is built by its first runner's rules: no rebuild.
    let cancel = CancellationToken::new();
    let first = start(&store, &db, "1", true, &cancel);
    caught_up(&store, "rules_counter").await;
    assert_eq!(
        built_by(&store, "rules_counter").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        rows_by_rules(&store, "rules_counter").await,
        vec![("1".to_owned(), 500)]
    );
    cancel.cancel();
    first.await.expect("task").expect("runner");
    assert_eq!(schema_oid(&db, "rules_counter").await, created);

    // A runner without the owner role's URL only says so: the rows stay as they are.
    let cancel = CancellationToken::new();
    let unable = start(&store, &db, "2", false, &cancel);
    append(&store, "count-x").await;
    caught_up(&store, "rules_counter").await;
    assert_eq!(
        built_by(&store, "rules_counter").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        rows_by_rules(&store, "rules_counter").await,
        vec![("1".to_owned(), 500), ("2".to_owned(), 1)]
    );
    cancel.cancel();
    unable.await.expect("task").expect("runner");
    assert_eq!(schema_oid(&db, "rules_counter").await, created);

    // With it, the runner rebuilds beside the live tables while events keep coming, and swaps
    // the rebuilt ones in: every row written by the new rules, every event once.
    let cancel = CancellationToken::new();
    let second = start(&store, &db, "2", true, &cancel);
    for i in 0..50 {
        append(&store, &format!("count-y{}", i % 5)).await;
    }
    rebuilt_by(&store, "rules_counter", "2").await;
    let head = caught_up(&store, "rules_counter").await;
    assert_ne!(schema_oid(&db, "rules_counter").await, created);
    assert_eq!(
        rows_by_rules(&store, "rules_counter").await,
        vec![("2".to_owned(), head)]
    );
    assert_eq!(
        seen(&store, "rules_counter").await,
        (1..=head).collect::<Vec<_>>()
    );

    // Once is enough: a restart with the same rules leaves the tables alone.
    cancel.cancel();
    second.await.expect("task").expect("runner");
    let rebuilt = schema_oid(&db, "rules_counter").await;
    let cancel = CancellationToken::new();
    let third = start(&store, &db, "2", true, &cancel);
    append(&store, "count-z").await;
    caught_up(&store, "rules_counter").await;
    assert_eq!(schema_oid(&db, "rules_counter").await, rebuilt);
    cancel.cancel();
    third.await.expect("task").expect("runner");

    // Rows from before the rules were recorded (projections migration 16) count as built by
    // unknown rules: rebuilt once.
    admin(&db)
        .await
        .execute(
            "UPDATE projections.checkpoints SET built_by = NULL WHERE projection = 'rules_counter'",
            &[],
        )
        .await
        .expect("forget the rules");
    let cancel = CancellationToken::new();
    let fourth = start(&store, &db, "2", true, &cancel);
    rebuilt_by(&store, "rules_counter", "2").await;
    assert_ne!(schema_oid(&db, "rules_counter").await, rebuilt);
    cancel.cancel();
    fourth.await.expect("task").expect("runner");
    drop(db);
}

#[tokio::test]
async fn two_rebuilds_of_one_read_model_do_not_run_at_once() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "twice_counter").await;
    for i in 0..3_000 {
        append(&store, &format!("count-{}", i % 50)).await;
    }
    let counter = Counter::new("twice_counter");
    let (a, b) = tokio::join!(
        runner::rebuild(&store, &db.admin_url, &counter),
        runner::rebuild(&store, &db.admin_url, &counter)
    );
    let refused = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(ProjectionError::RebuildUnderWay(_))))
        .count();
    let done = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!((done, refused), (1, 1), "{a:?} / {b:?}");
    assert_eq!(
        seen(&store, "twice_counter").await,
        (1..=3_000).collect::<Vec<_>>()
    );
    drop(db);
}

/// The lag is the age of the oldest event a read model has not applied: a read model that was
/// current through a quiet spell is not "behind by the quiet spell" the moment a new event
/// arrives (which made `/readyz` fail on every gateway after each quiet minute).
#[tokio::test]
async fn the_lag_is_the_age_of_the_oldest_event_not_applied() {
    let Setup { db, store } = setup().await;
    create_counter(&db, "lag_counter").await;
    append(&store, "count-1").await;
    let cancel = CancellationToken::new();
    let run = tokio::spawn(runner::run(
        store.clone(),
        Counter::new("lag_counter"),
        cancel.clone(),
    ));
    caught_up(&store, "lag_counter").await;
    cancel.cancel();
    run.await.expect("task").expect("runner");
    assert_eq!(lag_of(&store, "lag_counter").await.ms, 0, "caught up");

    // A quiet spell, then one event the (stopped) read model has not applied.
    tokio::time::sleep(Duration::from_secs(3)).await;
    append(&store, "count-2").await;
    let lag = lag_of(&store, "lag_counter").await;
    assert_eq!(lag.events, 1);
    assert!(
        lag.ms < 2_500,
        "{} ms: the quiet spell counted as lag",
        lag.ms
    );
    drop(db);
}
