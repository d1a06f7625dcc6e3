//! Which transactions may still commit a position that has been drawn (ADR 0045).
//!
//! Every insert into `events` holds the table's ROW EXCLUSIVE lock from before it draws a
//! position (the lock is taken when the statement is parsed or its cached plan is locked; the
//! position is drawn when the row is built) until its transaction ends. So the transactions that
//! hold that lock at some moment include every one that drew a position before that moment and
//! may still commit it; once none of them is running, each position drawn before the moment is
//! settled: committed, or never to exist. `pg_locks` names them, and only in this database.
//!
//! The snapshot's xmin, the other proof (ADR 0001), is held back by every transaction with an
//! xid in *any* database of the cluster: a long migration or load job elsewhere, a `CREATE
//! DATABASE` copying a template. Waiting for it alone made reads that need a settled position
//! (`head_position`, a tailer past a rolled-back hole) wait for work that never touched events.

use deadpool_postgres::ClientWrapper;

use crate::db::Db;
use crate::error::StoreError;

/// The virtual transaction ids of the transactions holding `events` open for writing now (a
/// subquery, so that a statement can also read something else in the same snapshot).
const WRITERS_SUBQUERY: &str = "(SELECT coalesce(pg_catalog.array_agg(l.virtualtransaction), '{}')
       FROM pg_catalog.pg_locks l
      WHERE l.locktype = 'relation' AND l.mode = 'RowExclusiveLock'
        AND l.relation = 'events'::pg_catalog.regclass
        AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                           WHERE d.datname = pg_catalog.current_database()))";

/// Those of `$1` (virtual transaction ids) still running: a running transaction holds at least
/// the lock on its own virtual transaction id; an ended one holds nothing.
const STILL_RUNNING_SQL: &str =
    "SELECT coalesce(pg_catalog.array_agg(DISTINCT l.virtualtransaction), '{}')
       FROM pg_catalog.pg_locks l
      WHERE l.virtualtransaction = ANY($1::text[])";

/// Narrows `writers` to those still running; empty when all have ended.
pub(crate) async fn still_running(
    client: &ClientWrapper,
    writers: &[String],
) -> Result<Vec<String>, StoreError> {
    if writers.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client.prepare_cached(STILL_RUNNING_SQL).await?;
    let row = client.query_one(&stmt, &[&writers]).await?;
    Ok(row.try_get(0)?)
}

/// `number` (an SQL expression giving a bigint) and the transactions writing events, read in
/// one statement: the writers after the statement's snapshot, which `number` was read in.
pub(crate) async fn beside_writers(
    db: &Db,
    number: &str,
) -> Result<(i64, Vec<String>), StoreError> {
    let sql = format!("SELECT {number}, {WRITERS_SUBQUERY}");
    let sql = sql.as_str();
    let row = db
        .with_client(true, |client| async move {
            let stmt = client.prepare_cached(sql).await?;
            client.query_one(&stmt, &[]).await
        })
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
