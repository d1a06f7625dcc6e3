//! `EventStore`: the handle every component holds — connecting, the append entry point (which
//! hands appends to group commit, `group.rs`, whose transactions `append.rs` writes) and the read
//! paths. The SQL that does the real work (the append functions, the hash trigger) lives in
//! `migrations/`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::StreamExt;
use serde_json::value::RawValue;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::Row;
use ulid::Ulid;

use crate::append::{AppendRequest, Writer};
use crate::config::StoreConfig;
use crate::db::Db;
use crate::error::StoreError;
use crate::group::{GroupCommit, GroupCommitStats, Submitted};
use crate::migrate::{migrate, MIGRATIONS};
use crate::model::{
    AppendOutcome, BrokenLink, BrokenReason, BrokenSeal, CommandKey, ExpectedVersion, KeptSeal,
    Metadata, NewEvent, RecordedEvent, Seal, SealProblem, StoredCommand, VerifyReport,
};
use crate::wake::Wake;
use crate::writers::{beside_writers, still_running};
use crate::COMPONENT;

/// The columns every read returns, in the order [`decode_event`] expects.
pub(crate) const EVENT_COLUMNS: &str = "global_position, stream_id, stream_version, event_id, \
     event_type, schema_version, recorded_at, payload, actor, unit, role, command_id, \
     correlation_id, causation_id, hash";

/// Handle to the store. Cheap to clone; all clones share one pool and one wake-up channel.
#[derive(Clone)]
pub struct EventStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) wake: Arc<Wake>,
    pub(crate) writer: Writer,
    group_commit: GroupCommit,
    /// The run of settled events the tailers of this process share (`tail::SettledRun`).
    pub(crate) settled: std::sync::Mutex<crate::tail::SettledRun>,
    /// Taken by a tailer of this process for its database read: one read at a time.
    pub(crate) tail_read: tokio::sync::Mutex<()>,
}

impl EventStore {
    /// Builds the pool. Connections are opened lazily; the first call that needs one reports
    /// `Unavailable` if the server cannot be reached.
    pub async fn connect(cfg: StoreConfig) -> Result<EventStore, StoreError> {
        // The connection string's sslmode and the TLS files, read once: a CA file that cannot
        // be used stops the start here rather than failing every connection later.
        let (mut pg, tls) = crate::connect::pg_config(&cfg.database_url, &cfg.tls)?;
        if cfg.connect_timeout_ms > 0 {
            pg.connect_timeout(Duration::from_millis(cfg.connect_timeout_ms));
        }
        // Both settings are per connection: every pooled connection gets them at login.
        pg.options(format!(
            "-c statement_timeout={} -c TimeZone=UTC",
            cfg.statement_timeout_ms
        ));
        pg.application_name("samplan-eventstore");
        let manager = Manager::from_config(
            pg,
            tls,
            ManagerConfig {
                // `is_closed` is enough: a connection whose server went away is discarded
                // when it is returned or handed out, so a restart costs at most one error.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_size_max.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(timeout(cfg.wait_timeout_ms))
            .create_timeout(timeout(cfg.connect_timeout_ms))
            .recycle_timeout(timeout(cfg.connect_timeout_ms))
            .build()
            .map_err(|e| StoreError::InvalidInput(format!("anslutningspoolen: {e}")))?;
        let wake = Arc::new(Wake::new(pool.clone(), cfg.clone()));
        let db = Db { pool, config: cfg };
        let writer = Writer {
            db: db.clone(),
            wake: wake.clone(),
        };
        // The dispatcher ends when its queue closes, i.e. when the last handle is dropped.
        let group_commit = GroupCommit::start(writer.clone(), &db.config);
        let inner = Arc::new(Inner {
            db,
            wake,
            writer,
            group_commit,
            settled: Default::default(),
            tail_read: Default::default(),
        });
        Ok(EventStore { inner })
    }

    /// Applies the event store's migrations as the owner role, without TLS files.
    pub async fn migrate(admin_database_url: &str) -> Result<(), StoreError> {
        migrate(admin_database_url, COMPONENT, MIGRATIONS).await
    }

    /// Applies the event store's migrations as the owner role with the deployment's TLS files
    /// (`samplan migrate`, service start).
    pub async fn migrate_tls(
        admin_database_url: &str,
        tls: &crate::connect::DatabaseTls,
    ) -> Result<(), StoreError> {
        crate::migrate::migrate_tls(admin_database_url, tls, COMPONENT, MIGRATIONS).await
    }

    /// The pool, for other components' own tables in the same database.
    pub fn pool(&self) -> &Pool {
        &self.inner.db.pool
    }

    /// A connection of its own (not from the pool) to the store's database, with the store's TLS
    /// settings: a projection's lease, which must live exactly as long as its session.
    pub async fn connect_session(
        &self,
        application_name: &str,
    ) -> Result<tokio_postgres::Client, crate::connect::ConnectError> {
        let cfg = &self.inner.db.config;
        let timeout =
            (cfg.connect_timeout_ms > 0).then(|| Duration::from_millis(cfg.connect_timeout_ms));
        crate::connect::connect(&cfg.database_url, &cfg.tls, application_name, timeout).await
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.db.config
    }

    /// Appends `events` to `stream_id` atomically, if the stream is at `expected`.
    ///
    /// With a `command` key, a repeated command id returns the first outcome (`replayed: true`)
    /// and writes nothing; the same id with another request hash is
    /// [`StoreError::IdempotencyKeyReused`].
    ///
    /// Appends that arrive while others are being written share their transaction (group
    /// commit, ADR 0006); each is still judged, and answered, on its own, and only after the
    /// transaction that holds it has committed.
    #[tracing::instrument(
        name = "eventstore.append",
        skip(self, events, command),
        fields(stream_id = %stream_id, events = events.len(), global_position)
    )]
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: Option<CommandKey>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::InvalidInput(
                "en append måste innehålla minst en händelse".into(),
            ));
        }
        let max = self.inner.db.config.payload_bytes_max;
        let mut total = 0;
        for e in &events {
            // The limit is on the serialized JSON, which is what a client sent and what the
            // database stores (give or take jsonb's own layout).
            let bytes = serde_json::to_vec(&e.data)
                .map_err(|err| StoreError::InvalidInput(err.to_string()))?
                .len();
            if bytes > max {
                return Err(StoreError::PayloadTooLarge { bytes, max });
            }
            total += bytes;
        }
        let request = AppendRequest {
            stream_id: stream_id.to_owned(),
            expected,
            events,
            command,
            bytes: total,
        };
        let outcome = match self.inner.group_commit.submit(request).await {
            Submitted::Answered(result) => result?,
            Submitted::Direct(request) => self.inner.writer.append_one(&request).await?,
        };
        tracing::Span::current().record("global_position", outcome.global_position);
        Ok(outcome)
    }

    /// How much group commit has grouped since the store was connected.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.inner.group_commit.stats()
    }

    /// The stored command with this id, if any: lets the gateway answer a retry before deciding.
    pub async fn find_command(
        &self,
        command_id: &str,
    ) -> Result<Option<StoredCommand>, StoreError> {
        self.inner.writer.find_command(command_id).await
    }

    /// The stream's current version; 0 when it has no events.
    pub async fn stream_version(&self, stream_id: &str) -> Result<i64, StoreError> {
        self.inner.writer.stream_version(stream_id).await
    }

    /// Events of one stream with version >= `from_version`, ascending.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version"
        );
        self.query_events(&sql, &[&stream_id, &from_version], 0)
            .await
    }

    /// Every event of several streams in one query: grouped by stream (in the order of
    /// `stream_ids`' sorted ids), ascending versions within each. Loading the facts of a
    /// command (a person and a few units) costs one round trip instead of one per stream.
    pub async fn read_streams(
        &self,
        stream_ids: &[&str],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ANY($1) \
             ORDER BY stream_id, stream_version"
        );
        self.query_events(&sql, &[&stream_ids], 0).await
    }

    /// Every event of several streams up to global position `until` (inclusive), grouped by
    /// stream, ascending versions within each: what the streams held when the store stood at
    /// `until`, however much was appended since. A read model that folds streams while applying
    /// event `until` reads them this way, so a rebuild folds exactly what the live run did.
    pub async fn read_streams_until(
        &self,
        stream_ids: &[&str],
        until: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ANY($1) AND global_position <= $2 \
             ORDER BY stream_id, stream_version"
        );
        self.query_events(&sql, &[&stream_ids, &until], 0).await
    }

    /// The stream as it stood at `as_of`: its events recorded at or before that time.
    /// `recorded_at` never decreases within a stream, so this is always a prefix of the stream.
    pub async fn read_stream_as_of(
        &self,
        stream_id: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND recorded_at <= $2 \
             ORDER BY stream_version"
        );
        self.query_events(&sql, &[&stream_id, &as_of], 0).await
    }

    /// Up to `limit` committed events with position > `after_position`, ascending.
    ///
    /// This is what is committed now. A position that is missing may still appear later (its
    /// transaction was in flight); consumers that must see every event once use [`Self::tail`],
    /// or read only up to [`Self::head_position`].
    pub async fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_all_filtered(None, after_position, limit).await
    }

    /// Like [`Self::read_all`], restricted to one stream when `stream_id` is given (the audit
    /// API's `?stream=`).
    pub async fn read_all_filtered(
        &self,
        stream_id: Option<&str>,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // The limit is part of the statement text, not a parameter: a plan that knows it reads
        // a batch walks the index instead of sorting the table (see `tail`). Callers use a few
        // batch sizes, so only a few statements are prepared.
        let capacity = limit.min(10_000);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match stream_id {
            None => {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE global_position > $1 \
                     ORDER BY global_position LIMIT {limit}"
                );
                self.query_events(&sql, &[&after_position], capacity).await
            }
            Some(stream) => {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 \
                     AND global_position > $2 ORDER BY global_position LIMIT {limit}"
                );
                self.query_events(&sql, &[&stream, &after_position], 0)
                    .await
            }
        }
    }

    /// The stored hashes (lower-case hex) of the given links `(stream, version)`, those that
    /// exist: an auditor's view shows each event with its predecessor's hash.
    pub async fn hashes(
        &self,
        links: &[(String, i64)],
    ) -> Result<std::collections::HashMap<(String, i64), String>, StoreError> {
        if links.is_empty() {
            return Ok(Default::default());
        }
        let streams: Vec<&str> = links.iter().map(|(s, _)| s.as_str()).collect();
        let versions: Vec<i64> = links.iter().map(|(_, v)| *v).collect();
        let (streams, versions) = (&streams, &versions);
        let rows = self
            .inner
            .db
            .with_client(true, |client| async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT e.stream_id, e.stream_version, e.hash FROM events e
                           JOIN unnest($1::text[], $2::bigint[]) AS l(s, v)
                             ON e.stream_id = l.s AND e.stream_version = l.v",
                    )
                    .await?;
                client.query(&stmt, &[streams, versions]).await
            })
            .await?;
        rows.iter()
            .map(|r| {
                let hash: &[u8] = r.try_get(2)?;
                Ok(((r.try_get(0)?, r.try_get(1)?), to_hex(hash)?))
            })
            .collect()
    }

    /// The event id at each of `positions` that holds an event (a hole has none).
    pub async fn event_ids_at(
        &self,
        positions: &[i64],
    ) -> Result<std::collections::HashMap<i64, String>, StoreError> {
        let rows = self
            .inner
            .db
            .with_client(true, |client| async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT global_position, event_id FROM events \
                         WHERE global_position = ANY($1)",
                    )
                    .await?;
                client.query(&stmt, &[&positions]).await
            })
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The highest position committed now (0 in an empty store), without waiting for anything
    /// below it to settle: every position a write has answered is at or below it.
    pub async fn last_position(&self) -> Result<i64, StoreError> {
        let row = self
            .inner
            .db
            .with_client(true, |client| async move {
                let stmt = client
                    .prepare_cached("SELECT coalesce(max(global_position), 0) FROM events")
                    .await?;
                client.query_one(&stmt, &[]).await
            })
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The highest position up to which everything is settled: every position at or below it
    /// is either committed or will never exist. A tailer started at 0 delivers all events up to
    /// here without waiting. Waits for the transactions that were writing events when it was
    /// called (normally a millisecond or two; at most `statement_timeout_ms`, then
    /// `Unavailable`), and for nothing else (ADR 0045).
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        // The writers are read after the statement's snapshot was taken: whoever drew a position
        // at or below the max and had not committed then held the events lock from before it
        // drew it, so it is among them unless it has ended since.
        let (head, mut writers) = beside_writers(
            &self.inner.db,
            "(SELECT coalesce(max(global_position), 0) FROM events)",
        )
        .await?;
        // A forgotten open transaction would hold this forever; give up like a statement would.
        let wait_ms_max = match self.inner.db.config.statement_timeout_ms {
            0 => 30_000,
            ms => ms,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms_max);
        let mut pause = Duration::from_millis(1);
        loop {
            // A connection per look, given back while waiting: readers waiting here for a
            // forgotten transaction must not take the pool's connections from everyone else.
            if !writers.is_empty() {
                let client = self.inner.db.client().await?;
                writers = still_running(&client, &writers).await?;
            }
            if writers.is_empty() {
                return Ok(head);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "en transaktion som skriver händelser pågår fortfarande efter {wait_ms_max} \
                     ms (lagret står på position {head}; det som kommer efter väntar på den)"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Recomputes every hash chain and every seal in the database, and seals what came since the
    /// last seal when everything holds (ADR 0040). See [`EventStore::verify_against`].
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.verify_against(None).await
    }

    /// [`EventStore::verify`], also holding the seals to `kept`: a seal's number and digest as
    /// an earlier check printed them and the auditor kept outside the database. The seals are
    /// recomputed from the events alone, each chained to its predecessor's recomputed digest,
    /// so a kept digest vouches for every event up to its seal however the seals table was
    /// rewritten since.
    ///
    /// The check uses only PostgreSQL's own functions (`pg_catalog`, first on the search path
    /// for its statements), never one of samplan's: the database's owner may replace those, and
    /// a replaced hash function would vouch for anything.
    #[tracing::instrument(name = "eventstore.verify", skip(self))]
    pub async fn verify_against(
        &self,
        kept: Option<&KeptSeal>,
    ) -> Result<VerifyReport, StoreError> {
        let mut client = self.inner.db.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        tx.batch_execute("SET LOCAL search_path = pg_catalog, public")
            .await?;
        let rows = tx
            .query(
                "WITH chain AS (
                     SELECT stream_id, stream_version, event_id, hash,
                            lag(stream_version) OVER w AS prev_version,
                            pg_catalog.sha256(coalesce(lag(hash) OVER w, ''::bytea)
                                || pg_catalog.convert_to(pg_catalog.json_build_array(
                                       stream_id, stream_version, event_id, event_type,
                                       schema_version, payload, actor, unit, role, command_id,
                                       correlation_id, causation_id,
                                       (extract(epoch FROM recorded_at) * 1000000)::bigint
                                   )::text, 'UTF8')) AS computed
                       FROM events
                     WINDOW w AS (PARTITION BY stream_id ORDER BY stream_version)
                 ),
                 judged AS (
                     SELECT stream_id, stream_version, event_id,
                            CASE WHEN stream_version <> coalesce(prev_version, 0) + 1 THEN 'gap'
                                 WHEN computed <> hash THEN 'hash' END AS reason
                       FROM chain
                 )
                 SELECT stream_id, stream_version, event_id, reason,
                        (SELECT count(DISTINCT stream_id) FROM events),
                        (SELECT count(*) FROM events),
                        (SELECT count(*) FROM events WHERE global_position < 1)
                   FROM (SELECT DISTINCT ON (stream_id) * FROM judged
                          WHERE reason IS NOT NULL ORDER BY stream_id, stream_version) broken
                  RIGHT JOIN (SELECT 1) one ON true
                  ORDER BY stream_id",
                &[],
            )
            .await?;
        let mut report = VerifyReport {
            streams_checked: 0,
            events_checked: 0,
            broken: Vec::new(),
            events_before_the_first_position: 0,
            seals_checked: 0,
            broken_seals: Vec::new(),
            sealed: None,
            latest_seal: None,
        };
        for row in rows {
            report.streams_checked = row.try_get(4)?;
            report.events_checked = row.try_get(5)?;
            report.events_before_the_first_position = row.try_get(6)?;
            let Some(stream_id) = row.try_get::<_, Option<String>>(0)? else {
                continue;
            };
            let reason: String = row.try_get(3)?;
            report.broken.push(BrokenLink {
                stream_id,
                stream_version: row.try_get(1)?,
                event_id: row.try_get(2)?,
                reason: if reason == "gap" {
                    BrokenReason::VersionGap
                } else {
                    BrokenReason::HashMismatch
                },
            });
        }

        // Every seal recomputed from the events it covers: their number and the digest of their
        // hashes in position order, chained to the previous seal's recomputed digest. The seals
        // follow one another without a gap from position 1.
        let seals = tx
            .query(
                "SELECT s.seal_no, s.after_position, s.up_to_position, s.events, s.digest,
                        (SELECT count(*) FROM events e
                          WHERE e.global_position > s.after_position
                            AND e.global_position <= s.up_to_position),
                        (SELECT string_agg(e.hash, ''::bytea ORDER BY e.global_position)
                           FROM events e
                          WHERE e.global_position > s.after_position
                            AND e.global_position <= s.up_to_position)
                   FROM seals s ORDER BY s.seal_no",
                &[],
            )
            .await?;
        tx.commit().await?;
        // Two chains: the one recomputed from the events alone (what a kept digest is held to),
        // and each seal against its stored predecessor (so that a change is named at the seal
        // whose events changed, not at every seal after it).
        let mut chain = SealChain::default();
        let mut stored_before: Option<Vec<u8>> = None;
        let mut kept_found = false;
        for row in &seals {
            let seal = seal_of(row)?;
            let stored: Vec<u8> = row.try_get(4)?;
            let events_now: i64 = row.try_get(5)?;
            let hashes: &[u8] = row.try_get::<_, Option<&[u8]>>(6)?.unwrap_or_default();
            let follows = seal.seal_no == chain.next_no && seal.after_position == chain.up_to;
            let digest = chain.extend(&seal, hashes);
            let own = seal_digest(stored_before.as_deref(), hashes);
            stored_before = Some(stored.clone());
            report.seals_checked += 1;
            let problem = if !follows {
                Some(SealProblem::NotContiguous)
            } else if events_now != seal.events || own[..] != stored[..] {
                Some(SealProblem::Changed)
            } else {
                None
            };
            if let Some(k) = kept.filter(|k| k.seal_no == seal.seal_no) {
                kept_found = true;
                if hex::encode(digest) != k.digest.to_ascii_lowercase() {
                    report.broken_seals.push(BrokenSeal {
                        seal: seal.clone(),
                        events_now,
                        problem: SealProblem::NotAsKept,
                    });
                }
            }
            if let Some(problem) = problem {
                report.broken_seals.push(BrokenSeal {
                    seal: seal.clone(),
                    events_now,
                    problem,
                });
            }
            report.latest_seal = Some(seal);
        }
        if let Some(k) = kept.filter(|_| !kept_found) {
            report.broken_seals.push(BrokenSeal {
                seal: Seal {
                    seal_no: k.seal_no,
                    after_position: 0,
                    up_to_position: 0,
                    events: 0,
                    digest: k.digest.to_ascii_lowercase(),
                },
                events_now: 0,
                problem: SealProblem::NotAsKept,
            });
        }
        if report.is_intact() {
            // The check's connection goes back first: sealing waits for the settled head, and a
            // check waiting there must not hold a connection the service needs meanwhile.
            drop(client);
            report.sealed = self.seal(&chain).await?;
            if report.sealed.is_some() {
                report.latest_seal.clone_from(&report.sealed);
            }
        } else {
            tracing::warn!(
                broken = report.broken.len(),
                broken_seals = report.broken_seals.len(),
                before_the_first_position = report.events_before_the_first_position,
                "hash chain verification failed"
            );
        }
        Ok(report)
    }

    /// Seals the events after the last seal up to the settled head (`head_position`: no
    /// position at or below it can still commit), if there are any, chained to `chain`'s
    /// recomputed digest. Two checks at once make one seal; the other finds its number taken and
    /// seals nothing.
    async fn seal(&self, chain: &SealChain) -> Result<Option<Seal>, StoreError> {
        let head = self.head_position().await?;
        if head <= chain.up_to {
            return Ok(None);
        }
        let client = self.inner.db.client().await?;
        let row = client
            .query_one(
                "SELECT count(*), string_agg(e.hash, ''::bytea ORDER BY e.global_position)
                   FROM events e
                  WHERE e.global_position > $1 AND e.global_position <= $2",
                &[&chain.up_to, &head],
            )
            .await?;
        let events: i64 = row.try_get(0)?;
        let hashes: Option<&[u8]> = row.try_get(1)?;
        let mut next = chain.clone();
        let seal = Seal {
            seal_no: chain.next_no,
            after_position: chain.up_to,
            up_to_position: head,
            events,
            digest: String::new(),
        };
        let digest = next.extend(&seal, hashes.unwrap_or_default()).to_vec();
        let row = client
            .query_opt(
                "INSERT INTO seals (seal_no, after_position, up_to_position, events, digest)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (seal_no) DO NOTHING
                 RETURNING seal_no, after_position, up_to_position, events, digest",
                &[
                    &seal.seal_no,
                    &seal.after_position,
                    &seal.up_to_position,
                    &seal.events,
                    &digest,
                ],
            )
            .await?;
        row.as_ref().map(seal_of).transpose()
    }

    async fn query_events(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        expected_rows: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner
            .db
            .with_client(true, |client| async move {
                let stmt = client.prepare_cached(sql).await?;
                // Rows are decoded as they arrive, so the server produces the next rows while
                // this side turns the previous ones into values (both share two cores here).
                let rows = client.query_raw(&stmt, params.iter().copied()).await?;
                futures::pin_mut!(rows);
                // Sized for a full batch up front: growing a vector of large values copies them.
                let mut events = Vec::with_capacity(expected_rows);
                while let Some(row) = rows.next().await {
                    match decode_event(&row?) {
                        Ok(e) => events.push(e),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                Ok(Ok(events))
            })
            .await?
    }
}

/// The seals recomputed so far: the next seal's number, where it starts, and the digest it
/// chains to.
#[derive(Clone)]
struct SealChain {
    next_no: i64,
    up_to: i64,
    digest: Option<[u8; 32]>,
}

impl Default for SealChain {
    /// Before the first seal: number 1, from position 0, chained to nothing.
    fn default() -> Self {
        SealChain {
            next_no: 1,
            up_to: 0,
            digest: None,
        }
    }
}

impl SealChain {
    /// The digest of `seal` over `hashes` (its events' hashes in position order), chained to the
    /// last one; the chain then goes on after `seal`.
    fn extend(&mut self, seal: &Seal, hashes: &[u8]) -> [u8; 32] {
        let digest = seal_digest(self.digest.as_ref().map(|d| &d[..]), hashes);
        self.next_no = seal.seal_no + 1;
        self.up_to = seal.up_to_position;
        self.digest = Some(digest);
        digest
    }
}

/// A seal's digest: `sha256(previous seal's digest || its events' hashes in position order)`,
/// with nothing before the first seal.
fn seal_digest(previous: Option<&[u8]>, hashes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(previous.unwrap_or_default());
    hasher.update(hashes);
    hasher.finalize().into()
}

/// A seal from the columns `seal_no, after_position, up_to_position, events, digest`.
fn seal_of(row: &Row) -> Result<Seal, StoreError> {
    let digest: &[u8] = row.try_get(4)?;
    Ok(Seal {
        seal_no: row.try_get(0)?,
        after_position: row.try_get(1)?,
        up_to_position: row.try_get(2)?,
        events: row.try_get(3)?,
        digest: to_hex(digest)?,
    })
}

/// Turns a row of [`EVENT_COLUMNS`] (starting at column 0) into a `RecordedEvent`.
pub(crate) fn decode_event(row: &Row) -> Result<RecordedEvent, StoreError> {
    decode_event_at(row, 0)
}

/// Same as [`decode_event`] with the columns starting at `at`.
pub(crate) fn decode_event_at(row: &Row, at: usize) -> Result<RecordedEvent, StoreError> {
    // Borrowed where the value is only parsed or encoded: a read-all decodes hundreds of
    // thousands of rows a second, and every allocation saved shows.
    let event_id: &str = row.try_get(at + 3)?;
    let event_id = Ulid::from_string(event_id)
        .map_err(|e| StoreError::Decode(format!("händelse-id {event_id}: {e}")))?;
    let hash: &[u8] = row.try_get(at + 14)?;
    Ok(RecordedEvent {
        global_position: row.try_get(at)?,
        stream_id: row.try_get(at + 1)?,
        stream_version: row.try_get(at + 2)?,
        event_id,
        event_type: row.try_get(at + 4)?,
        schema_version: row.try_get(at + 5)?,
        recorded_at: row.try_get(at + 6)?,
        data: row.try_get::<_, Json<Box<RawValue>>>(at + 7)?.0,
        metadata: Metadata {
            actor: row.try_get(at + 8)?,
            unit: row.try_get(at + 9)?,
            role: row.try_get(at + 10)?,
            command_id: row.try_get(at + 11)?,
            correlation_id: row.try_get(at + 12)?,
            causation_id: row.try_get(at + 13)?,
        },
        hash: to_hex(hash)?,
    })
}

/// Lower-case hex of a SHA-256 hash, without the per-character iterator of `hex::encode`.
fn to_hex(hash: &[u8]) -> Result<String, StoreError> {
    let mut buf = [0u8; 64];
    let out = buf
        .get_mut(..hash.len() * 2)
        .ok_or_else(|| StoreError::Decode(format!("hash av {} byte", hash.len())))?;
    hex::encode_to_slice(hash, out).map_err(|e| StoreError::Decode(e.to_string()))?;
    let text = std::str::from_utf8(out).map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(text.to_owned())
}
