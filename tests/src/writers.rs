//! Load for the fault tests: writers that start plans (`POST /api/v1/sips`), each command under
//! its own `Idempotency-Key` and retried with the same key until it is acknowledged, as a careful
//! client does when an answer is lost or refused for a while. Every attempt is kept — its key,
//! when it ended, and its answer or why none came (refused, cut in flight, timed out) — so a test
//! can check what clients saw during a fault; the acknowledged commands can be compared with
//! what the store holds ([`stored_plans`], [`stored_commands`]), and sent again to check that
//! the store answers them from their first outcome ([`Written::assert_replayed`]).

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one command may take to be acknowledged, retries included.
const ACK_WITHIN: Duration = Duration::from_secs(90);

/// Why an attempt got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection was refused: the request never reached a server.
    Refused,
    /// The request was sent, or being sent, and the connection ended before the whole answer
    /// came: the server may have carried the command out.
    Cut,
    /// No answer within the client's timeout.
    TimedOut,
}

/// One attempt's answer; `status` is `None` when no answer came, and `failure` says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub code: Option<String>,
    pub failure: Option<Failure>,
}

/// One attempt of a writer: its command's key, when the attempt ended, and its answer.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub key: String,
    pub at: Instant,
    pub answer: Answer,
}

/// Sends `request`, keeping what a fault test looks at, and the body. An answer whose body is
/// cut off counts as no answer ([`Failure::Cut`]).
pub async fn send(request: reqwest::RequestBuilder) -> (Answer, Value) {
    let failed = |e: &reqwest::Error| {
        let failure = if e.is_connect() {
            Failure::Refused
        } else if e.is_timeout() {
            Failure::TimedOut
        } else {
            Failure::Cut
        };
        Answer {
            status: None,
            retry_after: None,
            content_type: None,
            code: None,
            failure: Some(failure),
        }
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return (failed(&e), Value::Null),
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut answer = Answer {
        status: Some(response.status().as_u16()),
        retry_after: header("retry-after"),
        content_type: header("content-type"),
        code: None,
        failure: None,
    };
    let body: Value = match response.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(e) => return (failed(&e), Value::Null),
    };
    answer.code = body["code"].as_str().map(str::to_owned);
    (answer, body)
}

/// The body of every writer's command: a plan for `person_id`. The same for every key, so a key
/// sent again is the same request.
pub fn plan_body(person_id: &str) -> Value {
    json!({"person_id": person_id, "identified_by": "staff", "reason": "Behöver samordning.",
           "context": {"kind": "outpatient"}})
}

/// Writers running against one gateway URL (`…/api/v1`).
pub struct Writers {
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    acknowledged: Arc<Mutex<BTreeMap<String, String>>>,
}

/// What the writers saw, once stopped.
pub struct Written {
    /// Every attempt, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// Idempotency key → the plan id of its acknowledgement.
    pub acknowledged: BTreeMap<String, String>,
}

impl Writers {
    /// Starts `count` writers posting plans for `person_id` with staff `token` to `api`.
    pub fn start(count: usize, api: &str, token: &str, person_id: &str) -> Writers {
        Writers::start_with_prefix(count, api, token, person_id, "w")
    }

    /// [`Writers::start`] with keys `<prefix><writer>-<n>`, for more writers on one test's
    /// store.
    pub fn start_with_prefix(
        count: usize,
        api: &str,
        token: &str,
        person_id: &str,
        prefix: &str,
    ) -> Writers {
        let client = crate::http_client();
        let stop = Arc::new(AtomicBool::new(false));
        let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::default();
        let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let handles = (0..count)
            .map(|w| {
                let (client, api, token, body) = (
                    client.clone(),
                    api.to_owned(),
                    token.to_owned(),
                    plan_body(person_id),
                );
                let (stop, attempts, acknowledged) =
                    (stop.clone(), attempts.clone(), acknowledged.clone());
                let prefix = prefix.to_owned();
                tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("{prefix}{w}-{i}");
                        i += 1;
                        let deadline = Instant::now() + ACK_WITHIN;
                        loop {
                            let request = client
                                .post(format!("{api}/sips"))
                                .bearer_auth(&token)
                                .header("Idempotency-Key", &key)
                                .json(&body);
                            let (answer, body) = send(request).await;
                            let done = answer.status == Some(201);
                            // Acknowledged before the attempt is listed: a test that sees the
                            // attempt sees the acknowledgement.
                            if done {
                                let id = body["id"].as_str().expect("plan id").to_owned();
                                acknowledged.lock().expect("lock").insert(key.clone(), id);
                            }
                            attempts.lock().expect("lock").push(Attempt {
                                key: key.clone(),
                                at: Instant::now(),
                                answer,
                            });
                            if done {
                                break;
                            }
                            assert!(Instant::now() < deadline, "{key} never acknowledged");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
            })
            .collect();
        Writers {
            stop,
            handles,
            attempts,
            acknowledged,
        }
    }

    /// How many commands have been acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.lock().expect("lock").len()
    }

    /// How many attempts so far were answered with `status`.
    pub fn answered(&self, status: u16) -> usize {
        self.attempts
            .lock()
            .expect("lock")
            .iter()
            .filter(|a| a.answer.status == Some(status))
            .count()
    }

    /// Waits until `count` commands in all have been acknowledged, or `within` has passed;
    /// whether they were.
    pub async fn wait_for(&self, count: usize, within: Duration) -> bool {
        let started = Instant::now();
        while self.acknowledged() < count {
            if started.elapsed() >= within {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    /// Stops the writers once each has its current command acknowledged.
    pub async fn stop(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.handles {
            handle.await.expect("a writer failed");
        }
        let attempts = self.attempts.lock().expect("lock").clone();
        let acknowledged = self.acknowledged.lock().expect("lock").clone();
        Written {
            attempts,
            acknowledged,
        }
    }
}

/// How many times each plan was started in the database at `admin_url`: stream id → count of
/// `NeedIdentified`.
pub async fn stored_plans(admin_url: &str) -> BTreeMap<String, i64> {
    let db = crate::pg_connect(admin_url).await;
    db.query(
        "SELECT stream_id, count(*) FROM events WHERE event_type = 'NeedIdentified'
          GROUP BY stream_id",
        &[],
    )
    .await
    .expect("query")
    .iter()
    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
    .collect()
}

/// The plans started by [`STAFF`]'s commands with an `Idempotency-Key`, in the database at
/// `admin_url`: key → plan id (the stream id without `sip-`). The gateway stores a command under
/// `<caller>:<key>`.
pub async fn stored_commands(admin_url: &str) -> BTreeMap<String, String> {
    let db = crate::pg_connect(admin_url).await;
    db.query(
        "SELECT substr(command_id, length($1) + 2), substr(stream_id, 5) FROM events
          WHERE event_type = 'NeedIdentified' AND starts_with(command_id, $1 || ':')",
        &[&STAFF],
    )
    .await
    .expect("query")
    .iter()
    .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
    .collect()
}

/// How many events the database at `admin_url` holds.
pub async fn event_count(admin_url: &str) -> i64 {
    crate::pg_connect(admin_url)
        .await
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0)
}

impl Written {
    /// Every attempt's answer.
    pub fn answers(&self) -> impl Iterator<Item = &Answer> {
        self.attempts.iter().map(|a| &a.answer)
    }

    /// How many attempts got no answer, by why: (refused, cut, timed out).
    pub fn failures(&self) -> (usize, usize, usize) {
        let count = |f: Failure| self.answers().filter(|a| a.failure == Some(f)).count();
        (
            count(Failure::Refused),
            count(Failure::Cut),
            count(Failure::TimedOut),
        )
    }

    /// Says on stderr what the attempts were answered, for the test's log.
    pub fn report(&self, label: &str) {
        let (refused, cut, timed_out) = self.failures();
        let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
        for status in self.answers().filter_map(|a| a.status) {
            *statuses.entry(status).or_default() += 1;
        }
        eprintln!(
            "{label}: {} commands acknowledged in {} attempts; answered {statuses:?}; \
             no answer: {refused} refused, {cut} cut in flight, {timed_out} timed out",
            self.acknowledged.len(),
            self.attempts.len(),
        );
    }

    /// The keys with an attempt that was cut in flight.
    pub fn cut_keys(&self) -> BTreeSet<&str> {
        self.attempts
            .iter()
            .filter(|a| a.answer.failure == Some(Failure::Cut))
            .map(|a| a.key.as_str())
            .collect()
    }

    /// When `key` was acknowledged, if it was.
    pub fn acknowledged_at(&self, key: &str) -> Option<Instant> {
        self.attempts
            .iter()
            .find(|a| a.key == key && a.answer.status == Some(201))
            .map(|a| a.at)
    }

    /// Asserts the store holds exactly the acknowledged plans, each started once.
    pub fn assert_stored_exactly_once(&self, stored: &BTreeMap<String, i64>) {
        assert!(!self.acknowledged.is_empty(), "nothing was acknowledged");
        let ids: BTreeSet<String> = self
            .acknowledged
            .values()
            .map(|id| format!("sip-{id}"))
            .collect();
        assert_eq!(ids.len(), self.acknowledged.len(), "two keys got one plan");
        let twice: Vec<_> = stored.iter().filter(|(_, &n)| n != 1).collect();
        assert!(twice.is_empty(), "plans started twice: {twice:?}");
        let stored: BTreeSet<String> = stored.keys().cloned().collect();
        let lost: Vec<_> = ids.difference(&stored).take(5).collect();
        let unacknowledged: Vec<_> = stored.difference(&ids).take(5).collect();
        assert!(
            stored == ids,
            "{} plans stored, {} acknowledged; acknowledged, not stored: {lost:?}; stored, not \
             acknowledged: {unacknowledged:?}",
            stored.len(),
            ids.len(),
        );
    }

    /// Sends every acknowledged command again, with its key and body, to the gateway at `api`
    /// (`…/api/v1`) as `token`: each must be answered 201 with the plan id of its first
    /// acknowledgement, and the store at `admin_url` must gain no event.
    pub async fn assert_replayed(&self, api: &str, token: &str, person_id: &str, admin_url: &str) {
        let events = event_count(admin_url).await;
        let client = crate::http_client();
        let body = plan_body(person_id);
        let keys: Vec<(String, String)> = self
            .acknowledged
            .iter()
            .map(|(k, id)| (k.clone(), id.clone()))
            .collect();
        let mut tasks = Vec::new();
        for chunk in keys.chunks(keys.len().div_ceil(4).max(1)) {
            let (client, api, token, body, chunk) = (
                client.clone(),
                api.to_owned(),
                token.to_owned(),
                body.clone(),
                chunk.to_vec(),
            );
            tasks.push(tokio::spawn(async move {
                let mut differing = Vec::new();
                for (key, id) in chunk {
                    let (answer, answered) = send(
                        client
                            .post(format!("{api}/sips"))
                            .bearer_auth(&token)
                            .header("Idempotency-Key", &key)
                            .json(&body),
                    )
                    .await;
                    if answer.status != Some(201) || answered["id"].as_str() != Some(id.as_str()) {
                        differing.push(format!("{key} ({id}): {answer:?} {answered}"));
                    }
                }
                differing
            }));
        }
        let mut differing = Vec::new();
        for task in tasks {
            differing.extend(task.await.expect("a replay task failed"));
        }
        assert!(
            differing.is_empty(),
            "{} of {} acknowledged commands sent again were not answered with their first \
             outcome: {:?}",
            differing.len(),
            keys.len(),
            &differing[..differing.len().min(5)]
        );
        assert_eq!(
            event_count(admin_url).await,
            events,
            "commands sent again added events"
        );
    }
}

/// The staff member the writers act as: of unit `vc-centrum`, which [`register_world`] makes.
pub const STAFF: &str = "SE2321000016-VC01";
/// The unit of [`STAFF`].
pub const UNIT: &str = "vc-centrum";

/// Registers unit [`UNIT`] (with an admin token) and a person (with a staff token of the unit)
/// through the gateway at `api` (`…/api/v1`); returns the person's id.
pub async fn register_world(api: &str, admin: &str, staff: &str) -> String {
    let client = crate::http_client();
    let (answer, body) = send(
        client
            .post(format!("{api}/units"))
            .bearer_auth(admin)
            .json(&json!({"id": UNIT, "name": "Vårdcentralen Centrum",
                "principal": {"kind": "region", "name": "Region Testlän"}, "uses_samplan": true})),
    )
    .await;
    assert_eq!(answer.status, Some(201), "registering the unit: {body}");
    let (answer, body) = send(
        client
            .post(format!("{api}/persons"))
            .bearer_auth(staff)
            .json(
                &json!({"personal_identity_number": "19121212-1212", "name": "Tolvan Tolvansson"}),
            ),
    )
    .await;
    assert_eq!(answer.status, Some(201), "registering the person: {body}");
    body["id"].as_str().expect("person id").to_owned()
}
