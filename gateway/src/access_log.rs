//! The access log: every read of a person's data, through any route, by staff, citizens and
//! auditors — the action, the user's id and name, their unit and care provider, the person and
//! the time (Patientdatalagen, HSLF-FS 2016:40 4 kap. 9 §). The person may ask for an extract
//! (loggutdrag, [`extract`]); auditors review it systematically ([`review`]).
//!
//! The gateway owns it (ADR 0016): a read is answered only after its log rows are committed —
//! [`record`] is awaited by the handler, and a failure to log fails the read — so no read of
//! personal data goes unlogged, which a log fed asynchronously could not promise. The table holds
//! no personnummer; the database refuses to change or delete a row, on every monthly partition
//! (gateway migrations 1 and 3). [`keep_partitions`] keeps the months ahead created. A read is one
//! row: a read of one person's data names them in `person_id`, a list that showed several names
//! them all in `person_ids` (gateway migration 4, ADR 0027); the extract and the review look in
//! both.

use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::ids::{PersonId, SipId};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// Longest request id we keep; the request-id layer makes far shorter ones.
const REQUEST_ID_LEN_MAX: usize = 128;
/// Months of partitions kept ready ahead of the current one.
const PARTITION_MONTHS_AHEAD: i32 = 2;
/// How often the partitions ahead are checked.
const PARTITION_CHECK_INTERVAL: Duration = Duration::from_secs(6 * 3_600);
/// Most rows one extract or review answers.
pub const ROWS_MAX: i64 = 100_000;

/// What a read was for, as stored in `action`. The set may grow; a value is never renamed, since
/// extracts from years back must still read the same.
pub mod action {
    /// The person appeared in a "Sök patient" result.
    pub const SEARCH: &str = "person.search";
    /// The person's record (contact details, relatives) was read.
    pub const READ_PERSON: &str = "person.read";
    /// A plan about the person was read.
    pub const READ_SIP: &str = "sip.read";
    /// A unit the plan is not shared with (taking no part, or left out by the consent) tried to
    /// read it or write to it, and was refused: nothing was shown or changed.
    pub const REFUSED_SIP: &str = "sip.refused";
    /// A citizen not the person, nor a guardian who may read it, asked for the person's plan on
    /// Min plan, and was answered as if there were no such plan: nothing was shown.
    pub const REFUSED_PATIENT_PLAN: &str = "patient_plan.refused";
    /// An auditor read the person's events, a plan about them as it stood, or the log review
    /// listing them: what rows from before the three were told apart say.
    pub const AUDIT_READ: &str = "audit.read";
    /// An auditor read events about the person.
    pub const AUDIT_EVENTS: &str = "audit.events";
    /// An auditor read a plan about the person as it stood at some time.
    pub const AUDIT_PLAN_AS_OF: &str = "audit.sip_as_of";
    /// The log review (logguppföljning) listed the person as read without a care relation.
    pub const AUDIT_REVIEW: &str = "audit.review";
    /// An auditor read who has read the person's data (the extract itself).
    pub const AUDIT_EXTRACT: &str = "audit.access_log";
    /// The person was shown in a unit's inbox: Meddelanden, Att göra, Pågående SIP, or a live
    /// push of them.
    pub const INBOX: &str = "inbox.read";
    /// A plan was read on Min plan (by the person or a guardian).
    pub const PATIENT_PLAN: &str = "patient_plan.read";
    /// A plan was exported as FHIR from Min plan.
    pub const PATIENT_FHIR: &str = "patient_plan.fhir";
    /// [`PATIENT_PLAN`] by a guardian of the person, not the person.
    pub const GUARDIAN_PATIENT_PLAN: &str = "patient_plan.read_by_guardian";
    /// [`PATIENT_FHIR`] by a guardian of the person, not the person.
    pub const GUARDIAN_PATIENT_FHIR: &str = "patient_plan.fhir_by_guardian";

    /// What a citizen's read of a plan on Min plan is logged as, by whether the reader is the
    /// person or their guardian: the extract says which (an outside review could tell only from
    /// the reader's name).
    pub fn by_guardian(action: &'static str, guardian: bool) -> &'static str {
        match (action, guardian) {
            (PATIENT_PLAN, true) => GUARDIAN_PATIENT_PLAN,
            (PATIENT_FHIR, true) => GUARDIAN_PATIENT_FHIR,
            (other, _) => other,
        }
    }
    /// A plan about the person was printed ("Skriv ut planen").
    pub const PRINT_SIP: &str = "sip.print";
    /// A letter of a plan about the person (a kallelse, an invitation, a cancellation) was read
    /// or printed.
    pub const READ_LETTER: &str = "sip.letter";
    /// A registration of the person's personnummer was refused because it is registered: the
    /// answer tells that the person is in samplan.
    pub const REGISTRATION_REFUSED: &str = "person.already_registered";

    /// The action in Swedish words, for extracts.
    pub fn describe(action: &str) -> &'static str {
        match action {
            SEARCH => "visades i en sökning (Sök patient)",
            READ_PERSON => "personuppgifter lästes",
            READ_SIP => "en SIP lästes",
            REFUSED_SIP => {
                "försök att läsa eller ändra en SIP som inte delas med enheten (nekades, inget \
                 visades)"
            }
            AUDIT_READ => "granskning: logguppföljning, händelser eller en SIP som den var",
            AUDIT_EVENTS => "granskning: händelser om personen lästes",
            AUDIT_PLAN_AS_OF => "granskning: en SIP lästes som den var vid en tidpunkt",
            AUDIT_REVIEW => "granskning: personen fanns med i logguppföljningen",
            AUDIT_EXTRACT => "loggutdrag togs fram",
            INBOX => "visades i inkorgen (Meddelanden, Att göra, Pågående SIP)",
            PATIENT_PLAN => "planen lästes på Min plan",
            REFUSED_PATIENT_PLAN => {
                "försök att läsa planen på Min plan av någon som inte får (nekades, inget visades)"
            }
            PATIENT_FHIR => "planen hämtades som FHIR från Min plan",
            GUARDIAN_PATIENT_PLAN => "planen lästes på Min plan av en vårdnadshavare",
            GUARDIAN_PATIENT_FHIR => "planen hämtades som FHIR från Min plan av en vårdnadshavare",
            PRINT_SIP => "en SIP skrevs ut",
            READ_LETTER => "ett brev i en SIP lästes eller skrevs ut",
            REGISTRATION_REFUSED => "registrering nekades: personnumret finns redan",
            _ => "annan läsning",
        }
    }
}

/// One row of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccessLogEntry {
    /// Order of recording.
    pub id: i64,
    /// When the data was read.
    pub at: DateTime<Utc>,
    /// Who read it: the staff member's HSA-id (or the subject of another role).
    pub actor: String,
    /// The reader's name, as their login carried it.
    pub actor_name: Option<String>,
    /// The unit the reader acted for.
    pub unit: Option<String>,
    /// The unit's name, as the directory knows it.
    pub unit_name: Option<String>,
    /// The care provider (vårdgivare) the unit belongs to: its principal.
    pub care_provider: Option<String>,
    /// The reader's role.
    pub role: String,
    /// The reader's role in Swedish words, for extracts.
    pub role_text: String,
    /// Whose data was read.
    pub person_id: String,
    /// What was read, e.g. `person.read`, `person.search`, `sip.read`.
    pub action: String,
    /// What was read, in Swedish.
    pub action_text: String,
    /// The plan that was read, when the read was of a plan.
    pub sip_id: Option<String>,
    /// The request that did the read, to connect the log with the service's own logs.
    pub request_id: Option<String>,
}

tokio::task_local! {
    /// The current request's id, set by [`with_request_id`] around a handler so that log rows
    /// can name the request without every handler passing it down.
    static REQUEST_ID: String;
}

/// Runs `f` with `request_id` as the request id recorded by [`record`] inside it.
pub async fn with_request_id<F: std::future::Future>(request_id: String, f: F) -> F::Output {
    REQUEST_ID.scope(request_id, f).await
}

fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.chars().take(REQUEST_ID_LEN_MAX).collect())
        .ok()
}

/// Records that `caller` read `person_id`'s data. Awaited before the data is sent: when this
/// fails, the read must fail too.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    person_id: &PersonId,
    action: &str,
    sip_id: Option<&SipId>,
) -> Result<(), AppError> {
    record_many(
        state,
        caller,
        std::slice::from_ref(person_id),
        action,
        sip_id,
    )
    .await
}

/// Records a refused attempt on `person_id`'s plan beside the answer, not before it: a 404 that
/// waited for a log row would take longer than one for a plan that does not exist, and tell the
/// two apart. A failure to log is warned of; nothing was shown.
pub fn record_refused(
    state: &AppState,
    caller: &Caller,
    person_id: PersonId,
    action: &'static str,
    sip_id: SipId,
) {
    let (state, caller) = (state.clone(), caller.clone());
    // The request's id goes along into the task, so the row names the request as any other.
    let request_id = current_request_id().unwrap_or_default();
    tokio::spawn(with_request_id(request_id, async move {
        if let Err(e) = record(&state, &caller, &person_id, action, Some(&sip_id)).await {
            tracing::warn!(error = %e, action, "an attempt on a plan could not be logged");
        }
    }));
}

/// The care provider (vårdgivare) of a staff caller's unit: its principal's name, from the fact
/// cache (or the store).
async fn care_provider(state: &AppState, caller: &Caller) -> Result<Option<String>, AppError> {
    let Some(unit) = &caller.unit else {
        return Ok(None);
    };
    let facts = state.facts.load(&state.store, None, [unit.clone()]).await?;
    Ok(facts
        .units
        .get(unit)
        .and_then(|u| u.unit.as_ref())
        .map(|u| u.principal.name.clone()))
}

/// Records a read that showed every person of `person_ids` (a search result or an inbox list
/// shows many): one row naming them all (ADR 0027). Awaited before the data is sent, like
/// [`record`]; the row goes in with those of the reads that wait at the same moment ([`group`],
/// ADR 0018).
pub async fn record_many(
    state: &AppState,
    caller: &Caller,
    person_ids: &[PersonId],
    action: &str,
    sip_id: Option<&SipId>,
) -> Result<(), AppError> {
    if person_ids.is_empty() {
        return Ok(());
    }
    let read = group::Read {
        at: state.clock.now(),
        actor: caller.sub.clone(),
        actor_name: (!caller.name.is_empty())
            .then(|| caller.name.chars().take(300).collect::<String>()),
        unit: caller.unit.as_ref().map(|u| u.as_str().to_string()),
        care_provider: care_provider(state, caller).await?,
        role: caller.role.as_str().to_string(),
        persons: person_ids.iter().map(ToString::to_string).collect(),
        action: action.to_string(),
        sip_id: sip_id.map(ToString::to_string),
        request_id: current_request_id(),
    };
    state.access_log.record(read).await
}

/// Group commit of the access log (ADR 0018): the reads that wait to be logged at the same
/// moment share one INSERT and one commit, as appends share them in the event store (ADR 0006,
/// 0009, 0012). Every read still waits for its own rows to be committed, and learns if they were
/// not, so a read that cannot be logged still fails (ADR 0016).
///
/// One queue and one writer task per database pool. The writer takes everything waiting (at most
/// [`BATCH_PERSONS_MAX`] persons named), yields a few times to let reads that are about to
/// arrive join (no timer: it stops after two yields that brought nothing), and writes the batch
/// in one statement, a row per read, in arrival order, then answers every read in it. While it
/// writes, the next batch gathers. A batch that fails as a whole is written again one read at a
/// time, so one bad row (an actor id too long for the column) fails only its own read; a month
/// without a partition is made on the spot, as before.
pub use group::Writer;

mod group {
    use super::AppError;
    use chrono::{DateTime, NaiveDate, Utc};
    use deadpool_postgres::{Pool, PoolError};
    use std::collections::BTreeSet;
    use tokio::sync::{mpsc, oneshot};

    /// Reads the queue holds before further reads wait to enter it: bounds memory under
    /// overload and pushes back on the handlers instead.
    const QUEUE_DEPTH: usize = 1024;
    /// Most persons named in one INSERT (its size); a single larger read still goes, alone.
    pub(super) const BATCH_PERSONS_MAX: usize = 5_000;
    /// Most yields one linger takes, and yields in a row without a new read that end it (as the
    /// event store's group commit, ADR 0009).
    const LINGER_YIELDS_MAX: usize = 16;
    const LINGER_IDLE_YIELDS: usize = 2;

    /// One read: one row, naming every person it showed.
    pub(super) struct Read {
        pub at: DateTime<Utc>,
        pub actor: String,
        pub actor_name: Option<String>,
        pub unit: Option<String>,
        pub care_provider: Option<String>,
        pub role: String,
        pub persons: Vec<String>,
        pub action: String,
        pub sip_id: Option<String>,
        pub request_id: Option<String>,
    }

    /// Why rows were not logged.
    #[derive(Clone, Debug)]
    enum Failure {
        Unavailable(String),
        Internal(String),
    }

    impl From<Failure> for AppError {
        fn from(f: Failure) -> AppError {
            match f {
                Failure::Unavailable(m) => AppError::Unavailable(m),
                Failure::Internal(m) => AppError::Internal(m),
            }
        }
    }

    struct Pending {
        read: Read,
        reply: oneshot::Sender<Result<(), Failure>>,
    }

    /// The queue of a service's access log and its one writer, started with the service
    /// (`AppState::access_log`). The writer holds the pool only weakly and ends when the queue
    /// closes, that is when the last clone of this handle is dropped.
    #[derive(Clone)]
    pub struct Writer {
        sender: mpsc::Sender<Pending>,
    }

    impl std::fmt::Debug for Writer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("access_log::Writer")
        }
    }

    impl Writer {
        /// Starts the writer of `pool`'s access log on the current runtime.
        pub fn start(pool: &Pool) -> Writer {
            let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
            tokio::spawn(write(pool.weak(), receiver));
            Writer { sender }
        }

        /// Queues `read` and waits until its rows are committed.
        pub(super) async fn record(&self, read: Read) -> Result<(), AppError> {
            let (reply, answer) = oneshot::channel();
            if self.sender.send(Pending { read, reply }).await.is_err() {
                return Err(AppError::Unavailable(
                    "access log: the writer has stopped".into(),
                ));
            }
            match answer.await {
                Ok(result) => result.map_err(AppError::from),
                // The writer ended mid-batch: whether the rows were committed is unknown.
                Err(_) => Err(AppError::Unavailable(
                    "access log: the writer stopped; the read was not answered".into(),
                )),
            }
        }
    }

    /// The writer of one pool's queue: takes what waits, lingers by yielding, writes, answers.
    async fn write(pool: deadpool_postgres::WeakPool, mut queue: mpsc::Receiver<Pending>) {
        let mut waiting: Vec<Pending> = Vec::new();
        let mut carried: Option<Pending> = None;
        loop {
            if let Some(first) = carried.take() {
                waiting.push(first);
            } else {
                match queue.recv().await {
                    Some(first) => waiting.push(first),
                    None => return,
                }
            }
            let mut persons: usize = waiting.iter().map(|p| p.read.persons.len()).sum();
            let mut idle = 0;
            let mut yields = 0;
            loop {
                match queue.try_recv() {
                    Ok(next) => {
                        if persons + next.read.persons.len() > BATCH_PERSONS_MAX {
                            carried = Some(next);
                            break;
                        }
                        persons += next.read.persons.len();
                        waiting.push(next);
                        idle = 0;
                    }
                    Err(_) => {
                        // Linger without a timer: handlers woken a moment ago are about to log.
                        if yields >= LINGER_YIELDS_MAX || idle >= LINGER_IDLE_YIELDS {
                            break;
                        }
                        tokio::task::yield_now().await;
                        yields += 1;
                        idle += 1;
                    }
                }
            }
            let batch = std::mem::take(&mut waiting);
            let Some(pool) = pool.upgrade() else {
                for p in batch {
                    let _ = p.reply.send(Err(Failure::Unavailable(
                        "access log: the database pool is closed".into(),
                    )));
                }
                return;
            };
            write_batch(&pool, batch).await;
        }
    }

    /// Writes `batch` in one statement and answers every read in it; when the batch fails as a
    /// whole (other than by a lost connection), writes each read alone.
    async fn write_batch(pool: &Pool, batch: Vec<Pending>) {
        let reads: Vec<&Read> = batch.iter().map(|p| &p.read).collect();
        let result = insert(pool, &reads).await;
        let per_read = match result {
            Ok(()) => vec![Ok(()); batch.len()],
            Err(Error::Other(e)) if batch.len() > 1 => {
                tracing::debug!(error = %e, reads = batch.len(), "access log batch failed; writing its reads one by one");
                let mut results = Vec::with_capacity(batch.len());
                for read in &reads {
                    results.push(
                        insert(pool, std::slice::from_ref(read))
                            .await
                            .map_err(Error::failure),
                    );
                }
                results
            }
            Err(e) => vec![Err(e.failure()); batch.len()],
        };
        for (pending, result) in batch.into_iter().zip(per_read) {
            let _ = pending.reply.send(result);
        }
    }

    enum Error {
        /// No connection, or it broke: whether the rows were committed is unknown.
        Unavailable(String),
        /// The statement failed and nothing was written.
        Other(String),
    }

    impl Error {
        fn failure(self) -> Failure {
            match self {
                Error::Unavailable(m) => Failure::Unavailable(m),
                Error::Other(m) => Failure::Internal(m),
            }
        }
    }

    /// One row per read (ADR 0027): `$7` carries each read's persons joined by commas (ids are
    /// ULIDs, which hold no comma); one person fills `person_id`, several `person_ids`.
    const INSERT_SQL: &str = "INSERT INTO access_log (at, actor, actor_name, unit, care_provider,
             role, person_id, person_ids, action, sip_id, request_id)
         SELECT at, actor, actor_name, unit, care_provider, role,
                CASE WHEN strpos(persons, ',') = 0 THEN persons END,
                CASE WHEN strpos(persons, ',') > 0 THEN string_to_array(persons, ',') END,
                action, sip_id, request_id
           FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                WITH ORDINALITY AS u(at, actor, actor_name, unit, care_provider, role, persons,
                                     action, sip_id, request_id, o)
          ORDER BY o";

    /// One INSERT of every row of `reads`, in order; a month without a partition is made and
    /// the INSERT tried once more.
    async fn insert(pool: &Pool, reads: &[&Read]) -> Result<(), Error> {
        // The pool's own text for a refused connection is "db error"; the store's says why
        // ("too many clients", a password, the server gone).
        let client = pool.get().await.map_err(|e: PoolError| {
            Error::Unavailable(format!("access log: {}", eventstore::StoreError::from(e)))
        })?;
        let failed = |e: tokio_postgres::Error| {
            if e.is_closed() || e.as_db_error().is_none() {
                Error::Unavailable(format!("access log: {e}"))
            } else {
                Error::Other(format!("access log: insert failed: {e}"))
            }
        };
        let stmt = client.prepare_cached(INSERT_SQL).await.map_err(failed)?;
        let rows = reads.len();
        let mut at = Vec::with_capacity(rows);
        let mut actor = Vec::with_capacity(rows);
        let mut actor_name = Vec::with_capacity(rows);
        let mut unit = Vec::with_capacity(rows);
        let mut care_provider = Vec::with_capacity(rows);
        let mut role = Vec::with_capacity(rows);
        let mut person = Vec::with_capacity(rows);
        let mut action = Vec::with_capacity(rows);
        let mut sip = Vec::with_capacity(rows);
        let mut request = Vec::with_capacity(rows);
        for read in reads {
            at.push(read.at);
            actor.push(read.actor.as_str());
            actor_name.push(read.actor_name.as_deref());
            unit.push(read.unit.as_deref());
            care_provider.push(read.care_provider.as_deref());
            role.push(read.role.as_str());
            person.push(read.persons.join(","));
            action.push(read.action.as_str());
            sip.push(read.sip_id.as_deref());
            request.push(read.request_id.as_deref());
        }
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
            &at,
            &actor,
            &actor_name,
            &unit,
            &care_provider,
            &role,
            &person,
            &action,
            &sip,
            &request,
        ];
        let inserted = client.execute(&stmt, &params).await;
        let no_partition = matches!(&inserted, Err(e)
            if e.code() == Some(&tokio_postgres::error::SqlState::CHECK_VIOLATION));
        if !no_partition {
            return inserted.map(|_| ()).map_err(failed);
        }
        // A month has no partition yet (the upkeep fell behind, or the clock moved): make it,
        // then log the reads.
        let months: BTreeSet<NaiveDate> = at.iter().map(|t| super::first_of_month(*t)).collect();
        for month in months {
            client
                .execute("SELECT samplan_access_log_partitions($1, 0)", &[&month])
                .await
                .map_err(|e| Error::Other(format!("access log: partition: {e}")))?;
        }
        client
            .execute(&stmt, &params)
            .await
            .map(|_| ())
            .map_err(failed)
    }
}

/// The columns of an extract's entry: the person is the one asked about, whether the read named
/// them alone (`person_id`) or among others (`person_ids`, ADR 0027).
const EXTRACT_COLUMNS: &str =
    "id, at, actor, actor_name, unit, care_provider, role, $1::text, action, sip_id, request_id,
     (SELECT u.name FROM directory.units u WHERE u.unit_id = access_log.unit)";

fn entry(r: &tokio_postgres::Row) -> AccessLogEntry {
    let action: String = r.get(8);
    let role: String = r.get(6);
    AccessLogEntry {
        id: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        actor_name: r.get(3),
        unit: r.get(4),
        unit_name: r.get(11),
        care_provider: r.get(5),
        role_text: role_text(&role).to_owned(),
        role,
        person_id: r.get(7),
        action_text: action::describe(&action).to_owned(),
        action,
        sip_id: r.get(9),
        request_id: r.get(10),
    }
}

/// A role in Swedish words, for extracts.
pub fn role_text(role: &str) -> &'static str {
    match role {
        "staff" => "personal",
        "citizen" => "invånare (själv eller som vårdnadshavare)",
        "auditor" => "granskare",
        "reporting" => "uppföljning och statistik",
        "admin" => "administratör",
        _ => "annan roll",
    }
}

async fn client(state: &AppState) -> Result<deadpool_postgres::Object, AppError> {
    state.store.pool().get().await.map_err(|e| {
        AppError::Unavailable(format!("access log: {}", eventstore::StoreError::from(e)))
    })
}

/// Every recorded read of `person_id`'s data, oldest first.
pub async fn for_person(
    state: &AppState,
    person_id: &PersonId,
) -> Result<Vec<AccessLogEntry>, AppError> {
    extract(state, person_id, None, None).await
}

/// The extract (loggutdrag): every recorded read of `person_id`'s data in `[from, to)`, oldest
/// first, at most [`ROWS_MAX`] rows.
pub async fn extract(
    state: &AppState,
    person_id: &PersonId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<AccessLogEntry>, AppError> {
    let client = client(state).await?;
    let rows = client
        .query(
            &format!(
                "SELECT {EXTRACT_COLUMNS} FROM access_log
                  WHERE (person_id = $1 OR person_ids @> ARRAY[$1::text])
                    AND at >= coalesce($2, '-infinity'::timestamptz)
                    AND at < coalesce($3, 'infinity'::timestamptz)
                  ORDER BY at, id LIMIT $4"
            ),
            &[&person_id.to_string(), &from, &to, &ROWS_MAX],
        )
        .await
        .map_err(|e| AppError::internal(format!("access log: read failed: {e}")))?;
    Ok(rows.iter().map(entry).collect())
}

/// A read of a person by a unit that took part in none of that person's plans at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UnrelatedRead {
    pub unit: String,
    pub care_provider: Option<String>,
    pub actor: String,
    pub actor_name: Option<String>,
    pub person_id: String,
    /// The actions, e.g. `person.read`, and how many reads of each.
    pub actions: Vec<String>,
    pub reads: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

/// A user who read many more persons than users usually do in the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HeavyReader {
    pub actor: String,
    pub actor_name: Option<String>,
    pub unit: Option<String>,
    /// Distinct persons read in the period.
    pub persons: i64,
    /// Reads in the period, counted per person shown (a list of ten persons counts ten).
    pub reads: i64,
    /// The median of distinct persons per user in the period, for comparison.
    pub median_persons: f64,
}

/// What a systematic log review finds in `[from, to)` (docs/access-review.md explains the rules).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Review {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Reads of a person by a unit that took part in none of that person's plans at the time,
    /// grouped by unit, user and person. Searches are included: a unit that finds a person
    /// before starting a plan shows here, and the reviewer judges.
    pub without_relation: Vec<UnrelatedRead>,
    /// Users whose number of distinct persons read stands out: at least
    /// `HEAVY_READER_FACTOR` times the median of all users and at least `HEAVY_READER_MIN`.
    pub heavy_readers: Vec<HeavyReader>,
    /// Months of the period (`YYYY-MM`, UTC) whose part of the log is not in the database: a
    /// month between the first and the last month the database holds, whose partition is gone
    /// (detached or dropped). The review cannot speak for them; empty when the log is whole.
    pub missing_months: Vec<String>,
}

/// A user stands out with at least this many times the median of distinct persons read…
pub const HEAVY_READER_FACTOR: f64 = 3.0;
/// …and at least this many distinct persons.
pub const HEAVY_READER_MIN: i64 = 20;

/// The systematic review of staff reads in `[from, to)`.
pub async fn review(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Review, AppError> {
    let client = client(state).await?;
    let failed = |e: tokio_postgres::Error| AppError::internal(format!("access review: {e}"));
    let unrelated = client
        .query(
            "SELECT l.unit, max(l.care_provider), l.actor, max(l.actor_name), r.person_id,
                    array_agg(DISTINCT l.action ORDER BY l.action), count(*), min(l.at), max(l.at)
               FROM access_log l
              CROSS JOIN LATERAL unnest(coalesce(l.person_ids, ARRAY[l.person_id]))
                    AS r(person_id)
              WHERE l.at >= $1 AND l.at < $2 AND l.role = 'staff' AND l.unit IS NOT NULL
                AND NOT EXISTS (
                    SELECT 1 FROM participation.plan_units p
                     WHERE p.person_id = r.person_id AND p.unit_id = l.unit
                       AND p.since <= l.at)
              GROUP BY l.unit, l.actor, r.person_id
              ORDER BY l.unit, l.actor, min(l.at)
              LIMIT $3",
            &[&from, &to, &ROWS_MAX],
        )
        .await
        .map_err(failed)?;
    let without_relation = unrelated
        .iter()
        .map(|r| UnrelatedRead {
            unit: r.get(0),
            care_provider: r.get(1),
            actor: r.get(2),
            actor_name: r.get(3),
            person_id: r.get(4),
            actions: r.get(5),
            reads: r.get(6),
            first_at: r.get(7),
            last_at: r.get(8),
        })
        .collect();
    let heavy = client
        .query(
            "WITH per_user AS (
                 SELECT actor, max(actor_name) AS actor_name, max(unit) AS unit,
                        count(DISTINCT r.person_id) AS persons, count(*) AS reads
                   FROM access_log
                  CROSS JOIN LATERAL unnest(coalesce(person_ids, ARRAY[person_id]))
                        AS r(person_id)
                  WHERE at >= $1 AND at < $2 AND role = 'staff'
                  GROUP BY actor),
             median AS (
                 SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY persons) AS m FROM per_user)
             SELECT u.actor, u.actor_name, u.unit, u.persons, u.reads, median.m
               FROM per_user u, median
              WHERE u.persons >= $3 AND u.persons >= $4 * median.m
              ORDER BY u.persons DESC, u.actor",
            &[&from, &to, &HEAVY_READER_MIN, &HEAVY_READER_FACTOR],
        )
        .await
        .map_err(failed)?;
    let heavy_readers = heavy
        .iter()
        .map(|r| HeavyReader {
            actor: r.get(0),
            actor_name: r.get(1),
            unit: r.get(2),
            persons: r.get(3),
            reads: r.get(4),
            median_persons: r.get(5),
        })
        .collect();
    let missing_months = missing_months(&client, from, to, state.clock.now())
        .await?
        .iter()
        .map(|m| m.format("%Y-%m").to_string())
        .collect();
    Ok(Review {
        from,
        to,
        without_relation,
        heavy_readers,
        missing_months,
    })
}

/// The months of `[from, to)` (UTC) the log should hold but the database does not: every month
/// from the first partition the database holds to the later of its last and this month, less
/// those it holds. An auditor detached a month and the review answered for it, empty, without a
/// word. (A month before the first held — before samplan ran, or archived after five years as the
/// runbook says — is not counted; nor can this see a month archived from the start.)
async fn missing_months(
    client: &deadpool_postgres::Object,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<NaiveDate>, AppError> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_catalog.pg_inherits i
               JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'access_log'::regclass",
            &[],
        )
        .await
        .map_err(|e| AppError::internal(format!("access log: partitions: {e}")))?;
    let held: BTreeSet<NaiveDate> = rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            NaiveDate::parse_from_str(
                &format!("{}_01", name.strip_prefix("access_log_")?),
                "%Y_%m_%d",
            )
            .ok()
        })
        .collect();
    Ok(months_missing(&held, from, to, now))
}

/// The first day of `at`'s month (UTC), as the access log's partitions are named.
fn first_of_month(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day)
}

/// [`missing_months`] without the database: `held` are the months whose partitions exist.
fn months_missing(
    held: &BTreeSet<NaiveDate>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<NaiveDate> {
    let (Some(first), Some(last)) = (held.first(), held.last()) else {
        return Vec::new();
    };
    let last = (*last).max(first_of_month(now));
    let mut month = first_of_month(from).max(*first);
    let end = first_of_month(to - chrono::Duration::microseconds(1)).min(last);
    let mut missing = Vec::new();
    while month <= end {
        if !held.contains(&month) {
            missing.push(month);
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    missing
}

/// Makes sure this month's and the next months' partitions exist.
pub async fn ensure_partitions(state: &AppState) -> Result<i32, AppError> {
    let first = first_of_month(state.clock.now());
    let client = client(state).await?;
    let made: i32 = client
        .query_one(
            "SELECT samplan_access_log_partitions($1, $2)",
            &[&first, &PARTITION_MONTHS_AHEAD],
        )
        .await
        .map_err(|e| AppError::internal(format!("access log partitions: {e}")))?
        .get(0);
    Ok(made)
}

/// Keeps the partitions ahead created while the service runs: at start and every few hours.
/// A month without a partition would make reads of personal data fail (they cannot be logged),
/// so a failure here is logged loudly and tried again.
pub async fn keep_partitions(state: AppState, cancel: tokio_util::sync::CancellationToken) {
    loop {
        match ensure_partitions(&state).await {
            Ok(0) => {}
            Ok(made) => tracing::info!(made, "access log partitions created"),
            Err(e) => tracing::error!(error = %e, "access log partitions could not be created"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(PARTITION_CHECK_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod month_tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    fn month(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).expect("a month")
    }

    #[test]
    fn a_month_gone_between_those_held_is_missing_and_one_before_them_is_not() {
        let held: BTreeSet<NaiveDate> = [month(2026, 10), month(2026, 12), month(2027, 1)].into();
        let now = at("2026-12-07T12:00:00Z");
        // November was detached: the review of the autumn says so.
        assert_eq!(
            months_missing(
                &held,
                at("2026-09-01T00:00:00Z"),
                at("2027-01-01T00:00:00Z"),
                now
            ),
            vec![month(2026, 11)]
        );
        // A period within the months held, or before the first (before samplan, or archived).
        assert!(months_missing(
            &held,
            at("2026-12-01T00:00:00Z"),
            at("2027-01-01T00:00:00Z"),
            now
        )
        .is_empty());
        assert!(months_missing(
            &held,
            at("2025-01-01T00:00:00Z"),
            at("2026-10-01T00:00:00Z"),
            now
        )
        .is_empty());
        // This month's own partition detached too.
        let held: BTreeSet<NaiveDate> = [month(2026, 10), month(2026, 11)].into();
        assert_eq!(
            months_missing(
                &held,
                at("2026-10-01T00:00:00Z"),
                at("2027-01-01T00:00:00Z"),
                now
            ),
            vec![month(2026, 12)]
        );
    }
}
