//! Load for the fault tests: writers that start plans (`POST /api/v1/sips`), each command under
//! its own `Idempotency-Key` and retried with the same key until it is acknowledged, as a careful
//! client does when an answer is lost or refused for a while. What every attempt was answered is
//! kept, so a test can check what clients saw during a fault; the acknowledged commands can be
//! compared with what the store holds ([`stored_plans`]).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one command may take to be acknowledged, retries included.
const ACK_WITHIN: Duration = Duration::from_secs(90);

/// One attempt's answer; `status` is `None` when no answer came (connection refused or cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub code: Option<String>,
}

/// Sends `request`, keeping what a fault test looks at, and the body.
pub async fn send(request: reqwest::RequestBuilder) -> (Answer, Value) {
    let Ok(response) = request.send().await else {
        let none = Answer {
            status: None,
            retry_after: None,
            content_type: None,
            code: None,
        };
        return (none, Value::Null);
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
    };
    let body: Value = response.json().await.unwrap_or(Value::Null);
    answer.code = body["code"].as_str().map(str::to_owned);
    (answer, body)
}

/// Writers running against one gateway URL (`…/api/v1`).
pub struct Writers {
    stop: Arc<AtomicBool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    answers: Arc<Mutex<Vec<Answer>>>,
    acknowledged: Arc<Mutex<BTreeMap<String, String>>>,
}

/// What the writers saw, once stopped.
pub struct Written {
    /// Every attempt's answer, in no particular order.
    pub answers: Vec<Answer>,
    /// Idempotency key → the plan id of its acknowledgement.
    pub acknowledged: BTreeMap<String, String>,
}

impl Writers {
    /// Starts `count` writers posting plans for `person_id` with staff `token` to `api`.
    pub fn start(count: usize, api: &str, token: &str, person_id: &str) -> Writers {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        let stop = Arc::new(AtomicBool::new(false));
        let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
        let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let handles = (0..count)
            .map(|w| {
                let (client, api, token, person) = (
                    client.clone(),
                    api.to_owned(),
                    token.to_owned(),
                    person_id.to_owned(),
                );
                let (stop, answers, acknowledged) =
                    (stop.clone(), answers.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("w{w}-{i}");
                        i += 1;
                        let deadline = Instant::now() + ACK_WITHIN;
                        loop {
                            let request = client
                                .post(format!("{api}/sips"))
                                .bearer_auth(&token)
                                .header("Idempotency-Key", &key)
                                .json(&json!({"person_id": person, "identified_by": "staff",
                                              "reason": "Behöver samordning.",
                                              "context": {"kind": "outpatient"}}));
                            let (answer, body) = send(request).await;
                            let done = answer.status == Some(201);
                            answers.lock().expect("lock").push(answer);
                            if done {
                                let id = body["id"].as_str().expect("plan id").to_owned();
                                acknowledged.lock().expect("lock").insert(key.clone(), id);
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
            answers,
            acknowledged,
        }
    }

    /// How many commands have been acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.lock().expect("lock").len()
    }

    /// Waits until `count` commands in all have been acknowledged, or `within` has passed.
    pub async fn wait_for(&self, count: usize, within: Duration) {
        let started = Instant::now();
        while self.acknowledged() < count && started.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the writers once each has its current command acknowledged.
    pub async fn stop(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.handles {
            handle.await.expect("a writer failed");
        }
        let answers = self.answers.lock().expect("lock").clone();
        let acknowledged = self.acknowledged.lock().expect("lock").clone();
        Written {
            answers,
            acknowledged,
        }
    }
}

/// How many times each plan was started in the database at `admin_url`: stream id → count of
/// `NeedIdentified`.
pub async fn stored_plans(admin_url: &str) -> BTreeMap<String, i64> {
    let (db, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
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

impl Written {
    /// Asserts the store holds exactly the acknowledged plans, each started once.
    pub fn assert_stored_exactly_once(&self, stored: &BTreeMap<String, i64>) {
        let ids: std::collections::BTreeSet<String> = self
            .acknowledged
            .values()
            .map(|id| format!("sip-{id}"))
            .collect();
        assert_eq!(ids.len(), self.acknowledged.len(), "two keys got one plan");
        assert!(stored.values().all(|&n| n == 1), "a plan started twice");
        let stored: std::collections::BTreeSet<String> = stored.keys().cloned().collect();
        assert_eq!(
            stored.len(),
            ids.len(),
            "{} plans stored, {} acknowledged",
            stored.len(),
            ids.len()
        );
        assert!(
            stored == ids,
            "the stored plans are not the acknowledged ones"
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
    let client = reqwest::Client::new();
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
