//! What the gateway reads from the inbox: the unit's messages, its to-dos, its ongoing plans,
//! what changed after a position (live pushes), and a plan's snapshot.
//!
//! The person in a list shows by name and birth year, never by personnummer; when the person has
//! protected identity, only units that took part in the plan before it was marked see the name
//! (and a letter's address to the person or a relative is never shown). Each row holds its person
//! as its unit may see them (migration 14, ADR 0029), so a list reads its own rows and joins no
//! person.

use chrono::{DateTime, Datelike, Utc};
use deadpool_postgres::{GenericClient, Pool};
use domain::obligations::Letter;
use domain::sip::{PersonStatus, Recipient, SipState};
use serde::Serialize;
use tokio_postgres::Row;

use crate::error::ProjectionError;

/// Most rows one list answers.
pub const ROWS_MAX: i64 = 500;

/// The person a row is about, as the reading unit may see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRef {
    pub person_id: String,
    /// `None` when the person has protected identity and the unit took part in the plan only
    /// after it was marked.
    pub name: Option<String>,
    pub birth_year: Option<i32>,
    /// Skyddade personuppgifter.
    pub protected_identity: bool,
}

/// Reads a row's person columns `person_name, person_birth_year, person_protected` from `at`.
fn person_ref(row: &Row, person_id: String, at: usize) -> PersonRef {
    PersonRef {
        person_id,
        name: row.get(at),
        birth_year: row.get(at + 1),
        protected_identity: row.get(at + 2),
    }
}

/// One message in a unit's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRow {
    pub message_id: String,
    /// `invitation`, `follow_up_invitation`, `meeting_rescheduled`, `invitation_cancelled`,
    /// `contribution_published`, `coordinator_changed`, `consent_withdrawn`, `plan_closed`.
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub sip_id: String,
    pub person: PersonRef,
    pub invitation_id: Option<String>,
    pub sender_unit_id: String,
    pub sender_unit_name: Option<String>,
    /// The staff member who did what the message tells.
    pub sender_name: String,
    pub sent_at: DateTime<Utc>,
    /// The global position of the event behind it; newest first is highest first.
    pub position: i64,
    /// When the reading user marked it read.
    pub read_at: Option<DateTime<Utc>>,
}

/// What to list of a unit's messages.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// `Some(true)`: only unread; `Some(false)`: only read (by the reading user).
    pub unread: Option<bool>,
    pub kind: Option<String>,
    pub person_id: Option<String>,
    /// Sent at or after.
    pub since: Option<DateTime<Utc>>,
    /// Only messages older than this position (the cursor of the previous page).
    pub before_position: Option<i64>,
    pub limit: i64,
}

const MESSAGE_COLUMNS: &str = "m.message_id, m.kind, m.subject, m.body, m.sip_id, m.person_id,
       m.invitation_id, m.sender_unit_id, su.name, m.sender_name, m.sent_at, m.position,
       r.read_at, m.person_name, m.person_birth_year, m.person_protected";

const MESSAGE_JOINS: &str = "
  LEFT JOIN inbox.units su ON su.unit_id = m.sender_unit_id
  LEFT JOIN inbox.message_reads r
         ON r.unit_id = m.unit_id AND r.message_id = m.message_id AND r.user_id = $2";

fn message_row(row: &Row) -> MessageRow {
    MessageRow {
        message_id: row.get(0),
        kind: row.get(1),
        subject: row.get(2),
        body: row.get(3),
        sip_id: row.get(4),
        person: person_ref(row, row.get(5), 13),
        invitation_id: row.get(6),
        sender_unit_id: row.get(7),
        sender_unit_name: row.get(8),
        sender_name: row.get(9),
        sent_at: row.get(10),
        position: row.get(11),
        read_at: row.get(12),
    }
}

/// The unit's messages, newest first, as `user` reads them.
pub async fn messages(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    filter: &MessageFilter,
) -> Result<Vec<MessageRow>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&messages_sql(filter)).await?;
    let limit = filter.limit.clamp(1, ROWS_MAX);
    let rows = client
        .query(&stmt, &message_params(&unit_id, &user, filter, &limit))
        .await?;
    Ok(rows.iter().map(message_row).collect())
}

/// A page of the unit's messages, how many of all its messages `user` has not read, and the
/// inbox's position, read in one snapshot: the count over a list, the list and the answer's
/// `X-Samplan-Position` describe the same moment while new messages arrive (each read in a
/// statement of its own, the count could include a message the list did not, or the other way).
#[derive(Debug, Clone)]
pub struct MessagesSnapshot {
    pub rows: Vec<MessageRow>,
    pub unread_count: i64,
    pub position: i64,
}

/// [`MessagesSnapshot`] of the unit's messages for `user`.
pub async fn messages_snapshot(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    filter: &MessageFilter,
) -> Result<MessagesSnapshot, ProjectionError> {
    let mut client = pool.get().await?;
    // The inbox commits each batch with its checkpoint, so one snapshot holds every change up
    // to the position it reads and none after it.
    let snapshot = read_snapshot(&mut client).await?;
    let messages = messages_in(&snapshot, unit_id, user, filter).await?;
    snapshot.commit().await?;
    Ok(messages)
}

/// [`MessagesSnapshot`] in a snapshot begun by [`read_snapshot`]: its statements are sent
/// together (one round trip).
async fn messages_in(
    snapshot: &deadpool_postgres::Transaction<'_>,
    unit_id: &str,
    user: &str,
    filter: &MessageFilter,
) -> Result<MessagesSnapshot, ProjectionError> {
    let sql = messages_sql(filter);
    let (list, count, at) = futures::try_join!(
        snapshot.prepare_cached(&sql),
        snapshot.prepare_cached(UNREAD_COUNT_SQL),
        snapshot.prepare_cached(CHECKPOINT_SQL),
    )?;
    let limit = filter.limit.clamp(1, ROWS_MAX);
    let params = message_params(&unit_id, &user, filter, &limit);
    let count_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&unit_id, &user];
    let at_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&super::PROJECTION];
    let (rows, unread, position) = futures::try_join!(
        snapshot.query(&list, &params),
        snapshot.query_one(&count, &count_params),
        snapshot.query_opt(&at, &at_params),
    )?;
    Ok(MessagesSnapshot {
        rows: rows.iter().map(message_row).collect(),
        unread_count: unread.get(0),
        position: position.map_or(0, |r| r.get(0)),
    })
}

/// What the start page lists of a unit for a user: a page of messages, a page of to-dos, a page
/// of ongoing plans.
#[derive(Debug, Clone, Copy)]
pub struct StartQuery<'a> {
    pub unit_id: &'a str,
    pub user: &'a str,
    pub messages: &'a MessageFilter,
    pub todos: TodoList,
    pub todos_after: Option<&'a TodoCursor>,
    pub todos_limit: i64,
    /// To-dos due by then are counted as urgent (the red clock).
    pub urgent_until: DateTime<Utc>,
    pub ongoing_after: Option<&'a OngoingCursor>,
    pub ongoing_limit: i64,
}

/// The start page's lists, their counts and the inbox's position, read in one snapshot: "3
/// brådskande" over Att göra counts the red clocks listed under it, and the live updates resume
/// from exactly the moment the lists show.
#[derive(Debug, Clone)]
pub struct StartSnapshot {
    /// The messages, their unread count and the inbox's position.
    pub messages: MessagesSnapshot,
    pub todos: Vec<TodoRow>,
    /// Every open to-do of the list (not only this page's), and how many of them are urgent.
    pub todo_count: i64,
    pub urgent_count: i64,
    /// The same counts for the whole unit, whatever the list's scope: "Mina" says what lies
    /// with colleagues.
    pub unit_todo_count: i64,
    pub unit_urgent_count: i64,
    pub ongoing: Vec<OngoingRow>,
    /// Every plan of the unit's Pågående SIP (not only this page's).
    pub ongoing_count: i64,
}

/// [`StartSnapshot`] of `query`: every statement sent together on one connection, in one
/// repeatable-read snapshot.
pub async fn start_snapshot(
    pool: &Pool,
    query: StartQuery<'_>,
) -> Result<StartSnapshot, ProjectionError> {
    let mut client = pool.get().await?;
    let snapshot = read_snapshot(&mut client).await?;
    let (
        messages,
        todos,
        (todo_count, urgent_count),
        (unit_todo_count, unit_urgent_count),
        ongoing,
        ongoing_count,
    ) = futures::try_join!(
        messages_in(&snapshot, query.unit_id, query.user, query.messages),
        open_todos_on(
            &snapshot,
            query.unit_id,
            query.user,
            query.todos,
            query.todos_after,
            query.todos_limit,
        ),
        todo_counts_on(
            &snapshot,
            query.unit_id,
            query.user,
            query.todos.scope,
            query.todos.now,
            query.urgent_until,
        ),
        todo_counts_on(
            &snapshot,
            query.unit_id,
            query.user,
            TodoScope::Unit,
            query.todos.now,
            query.urgent_until,
        ),
        ongoing_on(
            &snapshot,
            query.unit_id,
            false,
            query.ongoing_after,
            query.ongoing_limit,
        ),
        ongoing_count_on(&snapshot, query.unit_id),
    )?;
    snapshot.commit().await?;
    Ok(StartSnapshot {
        messages,
        todos,
        todo_count,
        urgent_count,
        unit_todo_count,
        unit_urgent_count,
        ongoing,
        ongoing_count,
    })
}

/// How many plans the unit's Pågående SIP holds (the open ones), for "Visar 50 av 57".
async fn ongoing_count_on(
    client: &impl GenericClient,
    unit_id: &str,
) -> Result<i64, ProjectionError> {
    let stmt = client
        .prepare_cached(
            "SELECT count(*)::bigint FROM inbox.ongoing o
              WHERE o.unit_id = $1 AND o.closed_at IS NULL",
        )
        .await?;
    Ok(client.query_one(&stmt, &[&unit_id]).await?.get(0))
}

/// A read-only repeatable-read transaction: every statement in it sees one snapshot.
async fn read_snapshot(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, ProjectionError> {
    Ok(client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// Where a read model stands (`projections.checkpoints`).
const CHECKPOINT_SQL: &str = "SELECT position FROM projections.checkpoints WHERE projection = $1";

/// The parameters of [`messages_sql`], in its order.
fn message_params<'a>(
    unit_id: &'a &'a str,
    user: &'a &'a str,
    filter: &'a MessageFilter,
    limit: &'a i64,
) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 8] {
    [
        unit_id,
        user,
        &filter.unread,
        &filter.kind,
        &filter.person_id,
        &filter.since,
        &filter.before_position,
        limit,
    ]
}

/// The query of a page of messages under `filter`.
fn messages_sql(filter: &MessageFilter) -> String {
    // Each filter is in the SQL only when it is asked for; an absent one is a condition on its
    // parameter alone (`$n IS NULL`), which the planner treats as a constant. With every
    // filter written as `$n IS NULL OR …` the generic plan expected one row, joined and sorted
    // every message of the unit and then kept 50. Newest first is the index
    // `messages_unit_position_idx` read backwards, so a page reads its own rows and stops: a
    // message is one event's, so no two of a unit's messages share a position.
    let only = |on: bool, condition: &'static str, absent: &'static str| {
        if on {
            condition
        } else {
            absent
        }
    };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM inbox.messages m {MESSAGE_JOINS}
          WHERE m.unit_id = $1
            {} {} {} {} {}
          ORDER BY m.position DESC
          LIMIT $8",
        only(
            filter.unread.is_some(),
            "AND (r.read_at IS NULL) = $3::boolean",
            "AND $3::boolean IS NULL"
        ),
        only(
            filter.kind.is_some(),
            "AND m.kind = $4::text",
            "AND $4::text IS NULL"
        ),
        only(
            filter.person_id.is_some(),
            "AND m.person_id = $5::text",
            "AND $5::text IS NULL"
        ),
        only(
            filter.since.is_some(),
            "AND m.sent_at >= $6::timestamptz",
            "AND $6::timestamptz IS NULL"
        ),
        only(
            filter.before_position.is_some(),
            "AND m.position < $7::bigint",
            "AND $7::bigint IS NULL"
        ),
    )
}

/// How many of the unit's messages `user` has not read: the unit's messages less the user's
/// reads, two counters the inbox keeps as it inserts the rows (migration 10, ADR 0025), so the
/// count costs two key look-ups however many messages the unit has.
pub async fn unread_count(pool: &Pool, unit_id: &str, user: &str) -> Result<i64, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(UNREAD_COUNT_SQL).await?;
    Ok(client.query_one(&stmt, &[&unit_id, &user]).await?.get(0))
}

const UNREAD_COUNT_SQL: &str =
    "SELECT coalesce((SELECT messages FROM inbox.message_counts WHERE unit_id = $1), 0)
          - coalesce((SELECT reads FROM inbox.read_counts
                       WHERE unit_id = $1 AND user_id = $2), 0)";

/// Whether the unit has a message with this id (a message cannot be marked read otherwise).
pub async fn message_exists(
    pool: &Pool,
    unit_id: &str,
    message_id: &str,
) -> Result<bool, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM inbox.messages WHERE unit_id = $1 AND message_id = $2)",
        )
        .await?;
    Ok(client
        .query_one(&stmt, &[&unit_id, &message_id])
        .await?
        .get(0))
}

/// One to-do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TodoRow {
    pub todo_id: String,
    /// `get_consent`, `create_plan_basis`, `send_invitation`, … (`domain::ObligationKind`).
    pub kind: String,
    /// What to do, in Swedish.
    pub title: String,
    pub sip_id: String,
    pub person: PersonRef,
    pub unit_id: String,
    /// The staff member who owes it; `None`: the whole unit.
    pub staff_id: Option<String>,
    /// Their name, as the plan recorded it (absent in rows from before migration 15 until
    /// their plan's next event or a rebuild).
    pub staff_name: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// A reminder ahead of its deadline is listed from this instant on.
    pub shown_from: Option<DateTime<Utc>>,
    /// For a letter to print: what to print and to whom.
    pub letter: Option<Letter>,
    pub opened_at: DateTime<Utc>,
    pub changed_position: i64,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_position: Option<i64>,
    /// The event type that settled it.
    pub ended_by: Option<String>,
}

const TODO_COLUMNS: &str = "t.todo_id, t.kind, t.title, t.sip_id, t.person_id, t.unit_id,
       t.staff_id, t.due_at, t.letter, t.opened_at, t.changed_position, t.ended_at,
       t.ended_position, t.ended_by, t.person_name, t.person_birth_year, t.person_protected,
       t.shown_from, t.staff_name";

fn todo_row(row: &Row) -> TodoRow {
    let person = person_ref(row, row.get(4), 14);
    let letter = row
        .get::<_, Option<&str>>(8)
        .and_then(|text| serde_json::from_str::<Letter>(text).ok())
        .map(|mut letter| {
            // The person's and their relatives' addresses could lead to the person.
            if person.protected_identity
                && matches!(
                    letter.recipient,
                    Recipient::Person | Recipient::Relative { .. }
                )
            {
                letter.address = None;
            }
            letter
        });
    TodoRow {
        todo_id: row.get(0),
        kind: row.get(1),
        title: row.get(2),
        sip_id: row.get(3),
        person,
        unit_id: row.get(5),
        staff_id: row.get(6),
        staff_name: row.get(18),
        due_at: row.get(7),
        shown_from: row.get(17),
        letter,
        opened_at: row.get(9),
        changed_position: row.get(10),
        ended_at: row.get(11),
        ended_position: row.get(12),
        ended_by: row.get(13),
    }
}

/// Whose to-dos of a unit to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TodoScope {
    /// The unit's own and the reading user's.
    Mine,
    /// Every to-do at the unit, colleagues' too.
    Unit,
}

/// Which of a unit's open to-dos to list, as of `now`: a reminder is listed from its
/// `shown_from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TodoList {
    pub scope: TodoScope,
    pub urgency: Urgency,
    pub now: DateTime<Utc>,
}

/// Which open to-dos to list by due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    All,
    /// Due at or before this instant (overdue included).
    DueBy(DateTime<Utc>),
    /// Due after this instant, or without a due time.
    NotDueBy(DateTime<Utc>),
}

/// Where the next page of to-dos starts: after this to-do, in the list's order (soonest due
/// first, those without a due time last, then by id). Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoCursor {
    due_at: Option<DateTime<Utc>>,
    todo_id: String,
}

impl TodoCursor {
    /// The cursor of the page that follows `row`.
    pub fn after(row: &TodoRow) -> TodoCursor {
        TodoCursor {
            due_at: row.due_at,
            todo_id: row.todo_id.clone(),
        }
    }

    /// `t<due, µs since 1970, or n>.<to-do id>`.
    pub fn encode(&self) -> String {
        format!("t{}.{}", micros_or_n(self.due_at), self.todo_id)
    }

    /// `None` when `raw` is not a cursor of this list.
    pub fn decode(raw: &str) -> Option<TodoCursor> {
        let (due, todo_id) = raw.strip_prefix('t')?.split_once('.')?;
        if todo_id.is_empty() || todo_id.len() > 200 {
            return None;
        }
        Some(TodoCursor {
            due_at: from_micros_or_n(due)?,
            todo_id: todo_id.to_owned(),
        })
    }
}

fn micros_or_n(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "n".to_owned(), |t| t.timestamp_micros().to_string())
}

/// `Some(None)` for `n`, `None` when neither a time nor `n`.
fn from_micros_or_n(raw: &str) -> Option<Option<DateTime<Utc>>> {
    if raw == "n" {
        return Some(None);
    }
    Some(Some(from_micros(raw)?))
}

/// A cursor's time, `None` outside [`crate::STORABLE_YEARS`]: a cursor is text the client sends
/// back, and only times the database can compare with make one.
fn from_micros(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(raw.parse().ok()?)
        .filter(|t| crate::STORABLE_YEARS.contains(&t.year()))
}

/// The unit's open to-dos, soonest due first (those without a due time last), at most `limit`
/// (up to [`ROWS_MAX`]) after `after`.
pub async fn open_todos(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    list: TodoList,
    after: Option<&TodoCursor>,
    limit: i64,
) -> Result<Vec<TodoRow>, ProjectionError> {
    let client = pool.get().await?;
    open_todos_on(&client, unit_id, user, list, after, limit).await
}

/// [`open_todos`] on a connection or in a transaction.
async fn open_todos_on(
    client: &impl GenericClient,
    unit_id: &str,
    user: &str,
    list: TodoList,
    after: Option<&TodoCursor>,
    limit: i64,
) -> Result<Vec<TodoRow>, ProjectionError> {
    let TodoList {
        scope,
        urgency,
        now,
    } = list;
    // A missing due time sorts as infinity: the same order as `due_at NULLS LAST`, and one
    // row value to compare a cursor with. The index of migration 9 has that order; a page after
    // a cursor starts its scan there (the condition is in the SQL only when there is a cursor,
    // so the planner can use it as the index condition).
    let after_cursor = match after {
        Some(_) => {
            "AND (coalesce(t.due_at, 'infinity'::timestamptz), t.todo_id)
                 > (coalesce($8::timestamptz, 'infinity'::timestamptz), $7::text)"
        }
        None => "AND $7::text IS NULL AND $8::timestamptz IS NULL",
    };
    let sql = format!(
        "SELECT {TODO_COLUMNS} FROM inbox.todos t
          WHERE t.unit_id = $1 AND t.ended_position IS NULL
            AND ($3::boolean OR t.staff_id IS NULL OR t.staff_id = $2)
            AND ($4::timestamptz IS NULL OR t.due_at <= $4::timestamptz)
            AND ($5::timestamptz IS NULL OR t.due_at IS NULL OR t.due_at > $5::timestamptz)
            AND (t.shown_from IS NULL OR t.shown_from <= $9)
            {after_cursor}
          ORDER BY coalesce(t.due_at, 'infinity'::timestamptz), t.todo_id
          LIMIT $6"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let (due_by, not_due_by) = match urgency {
        Urgency::All => (None, None),
        Urgency::DueBy(at) => (Some(at), None),
        Urgency::NotDueBy(at) => (None, Some(at)),
    };
    let rows = client
        .query(
            &stmt,
            &[
                &unit_id,
                &user,
                &(scope == TodoScope::Unit),
                &due_by,
                &not_due_by,
                &limit.clamp(1, ROWS_MAX),
                &after.map(|c| c.todo_id.as_str()),
                &after.and_then(|c| c.due_at),
                &now,
            ],
        )
        .await?;
    Ok(rows.iter().map(todo_row).collect())
}

/// How many open to-dos the list of [`open_todos`] holds in all, and how many of them are due
/// by `urgent_until` (the red clock), for a heading over a page of them.
pub async fn todo_counts(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    scope: TodoScope,
    now: DateTime<Utc>,
    urgent_until: DateTime<Utc>,
) -> Result<(i64, i64), ProjectionError> {
    let client = pool.get().await?;
    todo_counts_on(&client, unit_id, user, scope, now, urgent_until).await
}

/// [`todo_counts`] on a connection or in a transaction.
async fn todo_counts_on(
    client: &impl GenericClient,
    unit_id: &str,
    user: &str,
    scope: TodoScope,
    now: DateTime<Utc>,
    urgent_until: DateTime<Utc>,
) -> Result<(i64, i64), ProjectionError> {
    let stmt = client
        .prepare_cached(
            "SELECT count(*)::bigint, (count(*) FILTER (WHERE t.due_at <= $4))::bigint
               FROM inbox.todos t
              WHERE t.unit_id = $1 AND t.ended_position IS NULL
                AND ($3::boolean OR t.staff_id IS NULL OR t.staff_id = $2)
                AND (t.shown_from IS NULL OR t.shown_from <= $5)",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &unit_id,
                &user,
                &(scope == TodoScope::Unit),
                &urgent_until,
                &now,
            ],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// A plan the unit takes part in (Pågående SIP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OngoingRow {
    pub sip_id: String,
    pub person: PersonRef,
    /// `domain::sip::SipPhase` in snake_case.
    pub phase: String,
    pub coordinator_id: Option<String>,
    pub coordinator_name: Option<String>,
    pub coordinator_unit_id: Option<String>,
    /// The next meeting or follow-up meeting invited to.
    pub next_meeting_at: Option<DateTime<Utc>>,
    pub next_follow_up_on: Option<chrono::NaiveDate>,
    /// The unit has yet to document and publish its part after the meeting.
    pub owes_documentation: bool,
    pub started_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub changed_position: i64,
    /// Why the open plan is to be closed, in Swedish ("samtycket har återkallats", …); then
    /// neither a meeting nor a follow-up is next.
    pub to_be_closed: Option<String>,
    /// `outpatient` or `discharge` (from inpatient care); absent in rows from before it was kept.
    pub care_context: Option<String>,
    /// The discharge track: `green`, `yellow` or `red`.
    pub track: Option<String>,
    /// When the person was ready for discharge (utskrivningsklar).
    pub discharge_ready_at: Option<DateTime<Utc>>,
    /// When the person goes, or went, home, as the ward registered it.
    pub discharged_at: Option<DateTime<Utc>>,
}

const ONGOING_COLUMNS: &str = "o.sip_id, o.person_id, o.phase, o.coordinator_id,
       o.coordinator_name, o.coordinator_unit_id, o.next_meeting_at, o.next_follow_up_on,
       o.owes_documentation, o.started_at, o.closed_at, o.changed_position,
       o.person_name, o.person_birth_year, o.person_protected, o.to_be_closed,
       o.care_context, o.track, o.discharge_ready_at, o.discharged_at";

fn ongoing_row(row: &Row) -> OngoingRow {
    OngoingRow {
        sip_id: row.get(0),
        person: person_ref(row, row.get(1), 12),
        phase: row.get(2),
        coordinator_id: row.get(3),
        coordinator_name: row.get(4),
        coordinator_unit_id: row.get(5),
        next_meeting_at: row.get(6),
        next_follow_up_on: row.get(7),
        owes_documentation: row.get(8),
        started_at: row.get(9),
        closed_at: row.get(10),
        changed_position: row.get(11),
        to_be_closed: row.get(15),
        care_context: row.get(16),
        track: row.get(17),
        discharge_ready_at: row.get(18),
        discharged_at: row.get(19),
    }
}

/// Where the next page of ongoing plans starts: after this plan, in the list's order (open
/// first, the nearest meeting, then the nearest follow-up, then the oldest). Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingCursor {
    closed: bool,
    next_meeting_at: Option<DateTime<Utc>>,
    next_follow_up_on: Option<chrono::NaiveDate>,
    started_at: DateTime<Utc>,
    sip_id: String,
}

impl OngoingCursor {
    /// The cursor of the page that follows `row`.
    pub fn after(row: &OngoingRow) -> OngoingCursor {
        OngoingCursor {
            closed: row.closed_at.is_some(),
            next_meeting_at: row.next_meeting_at,
            next_follow_up_on: row.next_follow_up_on,
            started_at: row.started_at,
            sip_id: row.sip_id.clone(),
        }
    }

    /// `o<0|1>.<meeting µs or n>.<follow-up YYYYMMDD or n>.<started µs>.<plan id>`.
    pub fn encode(&self) -> String {
        format!(
            "o{}.{}.{}.{}.{}",
            u8::from(self.closed),
            micros_or_n(self.next_meeting_at),
            self.next_follow_up_on
                .map_or_else(|| "n".to_owned(), |d| d.format("%Y%m%d").to_string()),
            self.started_at.timestamp_micros(),
            self.sip_id
        )
    }

    /// `None` when `raw` is not a cursor of this list.
    pub fn decode(raw: &str) -> Option<OngoingCursor> {
        let mut parts = raw.strip_prefix('o')?.splitn(5, '.');
        let closed = match parts.next()? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let next_meeting_at = from_micros_or_n(parts.next()?)?;
        let next_follow_up_on = match parts.next()? {
            "n" => None,
            d => Some(
                chrono::NaiveDate::parse_from_str(d, "%Y%m%d")
                    .ok()
                    .filter(|d| crate::STORABLE_YEARS.contains(&d.year()))?,
            ),
        };
        let started_at = from_micros(parts.next()?)?;
        let sip_id = parts.next()?;
        if sip_id.is_empty() || sip_id.len() > 100 {
            return None;
        }
        Some(OngoingCursor {
            closed,
            next_meeting_at,
            next_follow_up_on,
            started_at,
            sip_id: sip_id.to_owned(),
        })
    }
}

/// The plans the unit takes part in, those with the nearest meeting first; closed ones only
/// when asked for. At most `limit` (up to [`ROWS_MAX`]) after `after`.
pub async fn ongoing(
    pool: &Pool,
    unit_id: &str,
    include_closed: bool,
    after: Option<&OngoingCursor>,
    limit: i64,
) -> Result<Vec<OngoingRow>, ProjectionError> {
    let client = pool.get().await?;
    ongoing_on(&client, unit_id, include_closed, after, limit).await
}

/// [`ongoing`] on a connection or in a transaction.
async fn ongoing_on(
    client: &impl GenericClient,
    unit_id: &str,
    include_closed: bool,
    after: Option<&OngoingCursor>,
    limit: i64,
) -> Result<Vec<OngoingRow>, ProjectionError> {
    // Missing times sort as infinity (as NULLS LAST would), so the order is one row value, the
    // order of migration 9's index; the cursor's condition is in the SQL only when there is one.
    let after_cursor = match after {
        Some(_) => {
            "AND (o.closed_at IS NOT NULL, coalesce(o.next_meeting_at, 'infinity'::timestamptz),
                  coalesce(o.next_follow_up_on, 'infinity'::date), o.started_at, o.sip_id)
                 > ($5::boolean, coalesce($6::timestamptz, 'infinity'::timestamptz),
                    coalesce($7::date, 'infinity'::date), $8::timestamptz, $4::text)"
        }
        None => {
            "AND $4::text IS NULL AND $5::boolean IS NULL AND $6::timestamptz IS NULL
             AND $7::date IS NULL AND $8::timestamptz IS NULL"
        }
    };
    let sql = format!(
        "SELECT {ONGOING_COLUMNS} FROM inbox.ongoing o
          WHERE o.unit_id = $1 AND ($2::boolean OR o.closed_at IS NULL)
            {after_cursor}
          ORDER BY o.closed_at IS NOT NULL, coalesce(o.next_meeting_at, 'infinity'::timestamptz),
                   coalesce(o.next_follow_up_on, 'infinity'::date), o.started_at, o.sip_id
          LIMIT $3"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client
        .query(
            &stmt,
            &[
                &unit_id,
                &include_closed,
                &limit.clamp(1, ROWS_MAX),
                &after.map(|c| c.sip_id.as_str()),
                &after.map(|c| c.closed),
                &after.and_then(|c| c.next_meeting_at),
                &after.and_then(|c| c.next_follow_up_on),
                &after.map(|c| c.started_at),
            ],
        )
        .await?;
    Ok(rows.iter().map(ongoing_row).collect())
}

/// One plan as the unit's Pågående SIP shows it, closed or not; `None` when the unit takes no
/// part in it.
pub async fn ongoing_plan(
    pool: &Pool,
    unit_id: &str,
    sip_id: &str,
) -> Result<Option<OngoingRow>, ProjectionError> {
    let client = pool.get().await?;
    let sql = format!(
        "SELECT {ONGOING_COLUMNS} FROM inbox.ongoing o
          WHERE o.unit_id = $1 AND o.sip_id = $2"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&unit_id, &sip_id]).await?;
    Ok(row.as_ref().map(ongoing_row))
}

/// One change to a unit's lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A message arrived.
    Message { message: MessageRow },
    /// A user marked a message read; pushed to that user's streams only (another tab, another
    /// device).
    MessageRead {
        message_id: String,
        read_at: DateTime<Utc>,
        user_id: String,
    },
    /// A to-do opened, changed (due time, title) or ended.
    Todo { todo: TodoRow },
    /// An ongoing plan changed.
    Ongoing { plan: OngoingRow },
}

/// When the next of the unit's open to-dos (anyone's: the stream carries the unit's, each saying
/// whose it is) is shown, after `now`: a reminder
/// listed from a later day (ADR 0033). No event marks that moment, so a live stream waits for it
/// ([`reminders_shown`]).
pub async fn next_reminder(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ProjectionError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(
            "SELECT min(t.shown_from) FROM inbox.todos t
              WHERE t.unit_id = $1 AND t.ended_at IS NULL
                AND $2::text IS NOT NULL
                AND t.shown_from > $3",
        )
        .await?;
    Ok(client
        .query_one(&statement, &[&unit_id, &user, &now])
        .await?
        .get(0))
}

/// The unit's open to-dos (anyone's) whose reminder is shown from a moment in
/// (`after`, `now`]: what a live stream pushes when that moment comes.
pub async fn reminders_shown(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<TodoRow>, ProjectionError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "SELECT {TODO_COLUMNS} FROM inbox.todos t
              WHERE t.unit_id = $1 AND t.ended_at IS NULL
                AND $2::text IS NOT NULL
                AND t.shown_from > $3 AND t.shown_from <= $4
              ORDER BY t.shown_from, t.todo_id LIMIT {ROWS_MAX}"
        ))
        .await?;
    Ok(client
        .query(&statement, &[&unit_id, &user, &after, &now])
        .await?
        .iter()
        .map(todo_row)
        .collect())
}

/// Everything that changed in the unit's lists, as `user` sees them, after position `after`, in
/// position order: at most `limit` positions' worth, every change of a position included, so a
/// client that resumes from the last position it was sent misses nothing.
///
/// All is read in one snapshot. The inbox commits its batches in position order, so a snapshot
/// holds every change up to some position and none after it: nothing read later can belong
/// before what was read now.
pub async fn changes_since(
    pool: &Pool,
    unit_id: &str,
    user: &str,
    after: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Change)>, ProjectionError> {
    Ok(read_changes(pool, unit_id, Some(user), after, limit, now)
        .await?
        .changes)
}

/// What changed in a unit's lists after a position, read in one snapshot ([`read_changes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UnitChanges {
    /// The changes, in position order.
    pub changes: Vec<(i64, Change)>,
    /// Set when a list was cut at the limit: the changes are complete up to this position only,
    /// and the rest is read after it. Unset, they are complete up to the snapshot, which holds
    /// every change the unit had when it was taken.
    pub complete_until: Option<i64>,
}

/// Everything that changed in the unit's lists after `after`, for every user of the unit
/// alike: the messages (none marked read), the to-dos shown by `now`, the ongoing plans, and
/// every user's marking of a message as read, each naming its user. One read serves every live
/// stream of the unit ([`super::live::Feed`]), each taking its user's part.
pub async fn unit_changes_since(
    pool: &Pool,
    unit_id: &str,
    after: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<UnitChanges, ProjectionError> {
    read_changes(pool, unit_id, None, after, limit, now).await
}

/// [`changes_since`] for `user`, or [`unit_changes_since`] for every user (`None`).
async fn read_changes(
    pool: &Pool,
    unit_id: &str,
    user: Option<&str>,
    after: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<UnitChanges, ProjectionError> {
    let mut client = pool.get().await?;
    let limit = limit.clamp(1, ROWS_MAX);
    // Without a user, the join to a user's reads finds nothing: no message shows as read.
    let messages_sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM inbox.messages m {MESSAGE_JOINS}
          WHERE m.unit_id = $1 AND m.position > $3
          ORDER BY m.position LIMIT $4"
    );
    let todos_sql = format!(
        "SELECT {TODO_COLUMNS} FROM inbox.todos t
          WHERE t.unit_id = $1 AND t.changed_position > $2
            AND (t.shown_from IS NULL OR t.shown_from <= coalesce(t.ended_at, $4))
          ORDER BY t.changed_position, t.todo_id LIMIT $3"
    );
    let ongoing_sql = format!(
        "SELECT {ONGOING_COLUMNS} FROM inbox.ongoing o
          WHERE o.unit_id = $1 AND o.changed_position > $2
          ORDER BY o.changed_position, o.sip_id LIMIT $3"
    );
    let reads_sql = "SELECT message_id, read_at, position, user_id FROM inbox.message_reads
          WHERE unit_id = $1 AND ($2::text IS NULL OR user_id = $2) AND position > $3
          ORDER BY position LIMIT $4";
    let (m, t, o, r) = futures::try_join!(
        client.prepare_cached(&messages_sql),
        client.prepare_cached(&todos_sql),
        client.prepare_cached(&ongoing_sql),
        client.prepare_cached(reads_sql),
    )?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&unit_id, &user, &after, &limit];
    // A reminder not yet shown is not pushed; one that ended unseen is not pushed either.
    let todo_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&unit_id, &after, &limit, &now];
    let ongoing_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&unit_id, &after, &limit];
    let snapshot = read_snapshot(&mut client).await?;
    let (messages, todos, ongoing, reads) = futures::try_join!(
        snapshot.query(&m, &params),
        snapshot.query(&t, &todo_params),
        snapshot.query(&o, &ongoing_params),
        snapshot.query(&r, &params),
    )?;
    snapshot.commit().await?;
    let mut changes: Vec<(i64, u8, Change)> = Vec::new();
    for row in &messages {
        let message = message_row(row);
        changes.push((message.position, 0, Change::Message { message }));
    }
    for row in &reads {
        changes.push((
            row.get(2),
            1,
            Change::MessageRead {
                message_id: row.get(0),
                read_at: row.get(1),
                user_id: row.get(3),
            },
        ));
    }
    for row in &todos {
        let todo = todo_row(row);
        changes.push((todo.changed_position, 2, Change::Todo { todo }));
    }
    for row in &ongoing {
        let plan = ongoing_row(row);
        changes.push((plan.changed_position, 3, Change::Ongoing { plan }));
    }
    changes.sort_by_key(|(position, order, _)| (*position, *order));
    // Each list was cut at `limit` rows; keep only positions every list has answered for in
    // full, so the last position sent is complete.
    let complete_until = [
        (messages.len(), messages.last().map(|r| r.get::<_, i64>(11))),
        (reads.len(), reads.last().map(|r| r.get::<_, i64>(2))),
        (todos.len(), todos.last().map(|r| r.get::<_, i64>(10))),
        (ongoing.len(), ongoing.last().map(|r| r.get::<_, i64>(11))),
    ]
    .into_iter()
    .filter(|(len, _)| *len as i64 >= limit)
    .filter_map(|(_, last)| last.map(|p| p - 1))
    .min();
    if let Some(cut) = complete_until {
        changes.retain(|(position, _, _)| *position <= cut);
    }
    Ok(UnitChanges {
        changes: changes
            .into_iter()
            .map(|(position, _, change)| (position, change))
            .collect(),
        complete_until,
    })
}

/// The position of each given unit's latest change (units without any are left out).
pub async fn unit_positions(
    pool: &Pool,
    unit_ids: &[String],
) -> Result<Vec<(String, i64)>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT unit_id, position FROM inbox.unit_positions WHERE unit_id = ANY($1)",
        )
        .await?;
    let rows = client.query(&stmt, &[&unit_ids]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A plan folded up to `version`, and what the inbox knows of its person.
#[derive(Debug, Clone)]
pub struct PlanSnapshot {
    pub state: SipState,
    /// The plan stream's version the state reflects.
    pub version: i64,
    /// The global position of that version's event.
    pub position: i64,
    pub person_id: String,
    /// The person's protected identity, death and moving out, at `person_version`.
    pub person_status: PersonStatus,
    /// The person stream's version the status reflects (0: unknown to the inbox).
    pub person_version: i64,
}

/// An event of a plan's stream, or of its person's, that the inbox's snapshot has not folded
/// yet: what a reader must fold on top of the snapshot to be as current as the store.
#[derive(Debug, Clone)]
pub struct TailEvent {
    pub stream_version: i64,
    pub global_position: i64,
    pub event_type: String,
    pub schema_version: i32,
    /// The payload as JSON text.
    pub data: String,
}

/// A plan's snapshot with the events of its stream and of its person's stream after it.
#[derive(Debug, Clone)]
pub struct CurrentPlan {
    /// `None` when the inbox has not seen the plan: `plan_tail` then holds the whole stream
    /// and `person_tail` nothing (the person is not known before the plan is folded).
    pub snapshot: Option<PlanSnapshot>,
    pub plan_tail: Vec<TailEvent>,
    pub person_tail: Vec<TailEvent>,
    /// The store's last position in the statement's snapshot: the plan read is as current as
    /// the store at this position (`X-Samplan-Position`).
    pub store_position: i64,
}

/// The inbox's snapshot of a plan and the events after it, in one statement (one round trip and one
/// snapshot of the database instead of three): the plan's stream `plan_stream` after the
/// snapshot's version, and its person's stream (`person_stream_prefix` + person id) after the
/// version of the person the snapshot holds.
pub async fn current_plan(
    pool: &Pool,
    sip_id: &str,
    plan_stream: &str,
    person_stream_prefix: &str,
) -> Result<CurrentPlan, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH s AS (
                 SELECT s.state, s.version, s.last_position, s.person_id, p.protected_identity,
                        p.deceased_on, p.moved_out_on, p.version AS person_version, p.adult_on,
                        p.guardians
                   FROM inbox.plans s LEFT JOIN inbox.persons p ON p.person_id = s.person_id
                  WHERE s.sip_id = $1)
             SELECT 0 AS part, s.state, s.version, s.last_position, s.person_id,
                    s.protected_identity, s.deceased_on, s.moved_out_on, s.person_version,
                    NULL::bigint, NULL::bigint, NULL::text, NULL::integer, NULL::text, s.adult_on,
                    s.guardians
               FROM s
             UNION ALL
             SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    e.stream_version, e.global_position, e.event_type, e.schema_version,
                    e.payload::text, NULL::date, NULL::text[]
               FROM events e
              WHERE e.stream_id = $2
                AND e.stream_version > coalesce((SELECT s.version FROM s), 0)
             UNION ALL
             SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    e.stream_version, e.global_position, e.event_type, e.schema_version,
                    e.payload::text, NULL::date, NULL::text[]
               FROM s JOIN events e
                 ON e.stream_id = $3 || s.person_id
                AND e.stream_version > coalesce(s.person_version, 0)
             UNION ALL
             SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, (SELECT coalesce(max(global_position), 0) FROM events), NULL, NULL,
                    NULL, NULL::date, NULL::text[]
              ORDER BY 1, 10",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&sip_id, &plan_stream, &person_stream_prefix])
        .await?;
    let mut current = CurrentPlan {
        snapshot: None,
        plan_tail: Vec::new(),
        person_tail: Vec::new(),
        store_position: 0,
    };
    for row in &rows {
        let part: i32 = row.get(0);
        if part == 0 {
            let state: SipState = serde_json::from_str(row.get::<_, &str>(1)).map_err(|e| {
                ProjectionError::Decode {
                    position: row.get(3),
                    event_type: "inbox.plans.state".into(),
                    reason: e.to_string(),
                }
            })?;
            current.snapshot = Some(PlanSnapshot {
                state,
                version: row.get(2),
                position: row.get(3),
                person_id: row.get(4),
                person_status: PersonStatus {
                    protected_identity: row.get::<_, Option<bool>>(5).unwrap_or(false),
                    deceased: row.get(6),
                    moved_out: row.get(7),
                    adult_on: row.get(14),
                    guardians: row.get(15),
                },
                person_version: row.get::<_, Option<i64>>(8).unwrap_or(0),
            });
            continue;
        }
        if part == 3 {
            current.store_position = row.get(10);
            continue;
        }
        let event = TailEvent {
            stream_version: row.get(9),
            global_position: row.get(10),
            event_type: row.get(11),
            schema_version: row.get(12),
            data: row.get(13),
        };
        if part == 1 {
            current.plan_tail.push(event);
        } else {
            current.person_tail.push(event);
        }
    }
    Ok(current)
}

/// The plans of person `person_id` that unit `unit_id` takes part in, as its Pågående SIP shows
/// them: open ones first (newest first), then closed ones (most recently closed first). A plan the
/// unit takes no part in is not among them, nor hinted at. At most [`ROWS_MAX`].
pub async fn person_plans(
    pool: &Pool,
    unit_id: &str,
    person_id: &str,
) -> Result<Vec<OngoingRow>, ProjectionError> {
    let client = pool.get().await?;
    let sql = format!(
        "SELECT {ONGOING_COLUMNS} FROM inbox.ongoing o
          WHERE o.unit_id = $1 AND o.person_id = $2
          ORDER BY o.closed_at IS NOT NULL, o.closed_at DESC, o.started_at DESC, o.sip_id
          LIMIT $3"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client
        .query(&stmt, &[&unit_id, &person_id, &ROWS_MAX])
        .await?;
    Ok(rows.iter().map(ongoing_row).collect())
}

#[cfg(test)]
mod tests {
    use super::{OngoingCursor, TodoCursor};
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn cursors_read_back_what_they_wrote() {
        let todo = TodoCursor {
            due_at: Some(Utc.with_ymd_and_hms(2026, 12, 24, 15, 0, 0).unwrap()),
            todo_id: "01JEVENT0000000000000000AB.2".into(),
        };
        assert_eq!(TodoCursor::decode(&todo.encode()), Some(todo));
        let undue = TodoCursor {
            due_at: None,
            todo_id: "01JEVENT0000000000000000AB.0".into(),
        };
        assert_eq!(TodoCursor::decode(&undue.encode()), Some(undue));
        let plan = OngoingCursor {
            closed: true,
            next_meeting_at: None,
            next_follow_up_on: NaiveDate::from_ymd_opt(2027, 6, 21),
            started_at: Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap(),
            sip_id: "01JSIP00000000000000000000".into(),
        };
        assert_eq!(OngoingCursor::decode(&plan.encode()), Some(plan));
        for bad in [
            "",
            "t",
            "tx.1",
            "t12",
            "p12",
            "o2.n.n.1.x",
            "o0.n.2027.1.x",
            "o0.n.n.1.",
            // Times no timestamptz holds (found by schemathesis as a 500 before).
            "o0.-80003322807549100.n.-7035167490369901949.0yuG",
            "o0.n.n.-7035167490369901949.x",
            "o0.n.-50000101.1.x",
            "t-7035167490369901949.x",
            "t9223372036854775807.x",
        ] {
            assert_eq!(TodoCursor::decode(bad), None, "{bad}");
            assert_eq!(OngoingCursor::decode(bad), None, "{bad}");
        }
    }
}
